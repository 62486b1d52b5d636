//! Target tokens, port lists, durations and the whole CLI front end's parsers (no name
//! resolution: tokens that would resolve are parsed only).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = synscan::target::parse_target(text);
    let _ = synscan::target::PortList::parse(text);
    let _ = synscan::cli::args::parse_duration(text);
    let _ = synscan::target::tokens_from_text(text);
});
