//! The capture-filter compiler, and running what compiles on the remaining bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let Ok(text) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    if let Ok(f) = synscan::toolkit::filter::Filter::compile(text) {
        let _ = f.matches(data.get(split + 1..).unwrap_or(&[]));
    }
});
