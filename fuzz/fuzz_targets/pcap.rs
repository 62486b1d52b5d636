//! The capture reader (pcap and pcapng, every link type) and the dissector on hostile files:
//! errors, never panics, hangs or huge allocations.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = synscan::capture::CaptureReader::new(data) {
        for _ in 0..10_000 {
            match r.next_record() {
                Ok(Some(rec)) => {
                    let _ = synscan::toolkit::dissect::dissect_record(rec.link, &rec.data);
                    let _ = synscan::capture::as_ethernet(rec.link, &rec.data);
                }
                _ => break,
            }
        }
    }
});
