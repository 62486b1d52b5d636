//! Network text made safe for every output: printable ASCII kept, everything else escaped.

use std::fmt::Write;

/// `b` as text: printable ASCII as is, `\r \n \t \\` as escapes, every other byte (control
/// bytes, Telnet IAC, UTF-8, garbage) as `\xNN`; at most `cap` input bytes, then `...`.
pub fn escape(b: &[u8], cap: usize) -> String {
    let take = b.len().min(cap);
    let mut s = String::with_capacity(take + 8);
    for &c in &b[..take] {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    if b.len() > take {
        s.push_str("...");
    }
    s
}

/// One header value or title: surrounding space trimmed, inner runs of space collapsed,
/// then escaped and capped.
pub fn field(b: &[u8], cap: usize) -> String {
    let mut out = Vec::with_capacity(b.len().min(cap));
    let mut space = false;
    for &c in b {
        if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(b' ');
            space = false;
        }
        out.push(c);
        if out.len() > cap {
            break;
        }
    }
    escape(&out, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_and_iac_are_escaped() {
        assert_eq!(
            escape(b"a\r\n\xff\xfd\x18\\\x00", 64),
            "a\\r\\n\\xff\\xfd\\x18\\\\\\x00"
        );
        assert_eq!(escape(b"abcdef", 3), "abc...");
        assert_eq!(field(b"  Hello \r\n  World\x07 ", 64), "Hello World\\x07");
    }
}
