//! The resume file: parsing, the window check, and loading the finished positions of a file
//! that passes it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(state) = synscan::resume::ResumeState::parse(text) else {
        return;
    };
    if state.check_window(1 << 20, 1 << 16).is_ok() {
        let mut f = synscan::resume::Finished::new(state.position, &state.done);
        f.advance(1 << 20, None);
        let _ = f.ranges();
    }
});
