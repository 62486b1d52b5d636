//! The pcap reader on hostile files: errors, never panics or huge allocations.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = synscan::toolkit::pcap::PcapReader::new(data) {
        for _ in 0..10_000 {
            match r.next_record() {
                Ok(Some(rec)) => {
                    let _ = synscan::toolkit::dissect::dissect_frame(&rec.data);
                }
                _ => break,
            }
        }
    }
});
