//! `synscan merge` over hostile shard files: two files cut from the input (headers, end
//! records, results, host records in any mix), merged with and without --allow-partial into
//! ndjson: no panic, and every problem an error value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::BufRead;
use std::path::PathBuf;
use synscan::merge::{Options, merge_readers};
use synscan::output::{Format, writer};

/// The corpus's headers name scan 0000000000000000 over 127.0.0.0/30.
fn hosts_of(_: &[String]) -> synscan::Result<(synscan::target::HostSet, String)> {
    let hosts = synscan::target::build_hosts(&["127.0.0.0/30".to_string()], &[])?;
    Ok((hosts, "0000000000000000".to_string()))
}

fuzz_target!(|data: &[u8]| {
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (a, b) = (&data[..cut], data.get(cut + 1..).unwrap_or(&[]));
    for allow_partial in [false, true] {
        let files = [PathBuf::from("a.ndjson"), PathBuf::from("b.ndjson")];
        let open = |i: usize| -> synscan::Result<Box<dyn BufRead + '_>> {
            Ok(Box::new(if i == 0 { a } else { b }))
        };
        let out = writer(Format::Ndjson, Box::new(std::io::sink()));
        let _ = merge_readers(&files, &open, &Options { allow_partial }, &hosts_of, vec![out]);
    }
});
