//! What a service says first, unprompted: SSH, SMTP, FTP, POP3, IMAP, MySQL, VNC, Telnet.
//! Every parser takes untrusted bytes and never panics (fuzzed by `fuzz_targets/banner.rs`).

/// A recognised greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// `SSH-protoversion-softwareversion [comments]`.
    Ssh(SshIdent),
    Smtp,
    Ftp,
    Pop3,
    Imap,
    /// MySQL or MariaDB's initial handshake: the server version string.
    Mysql(String),
    /// VNC's `RFB 003.008`: (major, minor).
    Vnc(u16, u16),
    /// Telnet option negotiation (IAC first).
    Telnet,
    /// Something else, unrecognised.
    Other,
}

/// An SSH identification line (RFC 4253 section 4.2), fields as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshIdent {
    /// The whole line, without CR LF.
    pub line: String,
    pub proto: String,
    pub software: String,
    pub comments: Option<String>,
}

/// The first line of `b` (without CR LF), if one ends within it.
pub fn first_line(b: &[u8]) -> Option<&[u8]> {
    let end = b.iter().position(|&c| c == b'\n')?;
    let line = &b[..end];
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// The SSH identification line in `b`: servers may send other lines first (RFC 4253).
pub fn ssh_ident(b: &[u8]) -> Option<SshIdent> {
    let mut rest = b;
    for _ in 0..16 {
        let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
        let raw = &rest[..end];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Some(body) = line.strip_prefix(b"SSH-") {
            let text = std::str::from_utf8(body).ok()?;
            if text.len() > 253 || text.chars().any(|c| !(' '..='~').contains(&c)) {
                return None;
            }
            let (proto, after) = text.split_once('-')?;
            let (software, comments) = match after.split_once(' ') {
                Some((s, c)) => (s, Some(c.to_string())),
                None => (after, None),
            };
            if proto.is_empty() || software.is_empty() {
                return None;
            }
            return Some(SshIdent {
                line: format!("SSH-{text}"),
                proto: proto.to_string(),
                software: software.to_string(),
                comments,
            });
        }
        if end >= rest.len() {
            return None;
        }
        rest = &rest[end + 1..];
    }
    None
}

/// MySQL's initial handshake packet (protocol 10): the server version.
pub fn mysql_version(b: &[u8]) -> Option<String> {
    // 3-byte length, sequence id 0, protocol version 10, NUL-terminated version.
    if b.len() < 6 {
        return None;
    }
    let len = usize::from(b[0]) | usize::from(b[1]) << 8 | usize::from(b[2]) << 16;
    if b[3] != 0 || b[4] != 10 || !(10..=1024).contains(&len) {
        return None;
    }
    let body = &b[5..];
    let nul = body.iter().take(64).position(|&c| c == 0)?;
    let v = std::str::from_utf8(&body[..nul]).ok()?;
    (!v.is_empty() && v.chars().all(|c| c.is_ascii_graphic())).then(|| v.to_string())
}

/// VNC's protocol version message, `RFB xxx.yyy\n`.
pub fn vnc_version(b: &[u8]) -> Option<(u16, u16)> {
    let m = b.get(..12)?;
    if &m[..4] != b"RFB " || m[7] != b'.' || m[11] != b'\n' {
        return None;
    }
    let num = |s: &[u8]| std::str::from_utf8(s).ok()?.parse::<u16>().ok();
    Some((num(&m[4..7])?, num(&m[8..11])?))
}

/// Names what `b`, the first bytes a service sent, is.
pub fn classify(b: &[u8]) -> Greeting {
    if let Some(id) = ssh_ident(b) {
        return Greeting::Ssh(id);
    }
    if let Some(v) = mysql_version(b) {
        return Greeting::Mysql(v);
    }
    if let Some((maj, min)) = vnc_version(b) {
        return Greeting::Vnc(maj, min);
    }
    if b.first() == Some(&0xff) && b.get(1).is_some_and(|c| (0xfb..=0xfe).contains(c)) {
        return Greeting::Telnet;
    }
    let Some(line) = first_line(b) else {
        return Greeting::Other;
    };
    if line.starts_with(b"+OK") {
        return Greeting::Pop3;
    }
    if line.starts_with(b"* OK") || line.starts_with(b"* PREAUTH") {
        return Greeting::Imap;
    }
    if line.len() >= 4 && line.starts_with(b"220") && matches!(line[3], b' ' | b'-') {
        // FTP and SMTP both greet with 220: SMTP says so (RFC 5321 asks for the name and
        // most servers add "ESMTP"/"SMTP"), FTP servers say FTP or nothing of the kind.
        let upper = line.to_ascii_uppercase();
        let has = |w: &[u8]| upper.windows(w.len()).any(|x| x == w);
        if has(b"SMTP") || has(b"MAIL") || has(b"POSTFIX") || has(b"EXIM") {
            return Greeting::Smtp;
        }
        return Greeting::Ftp;
    }
    Greeting::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_are_named() {
        let Greeting::Ssh(id) = classify(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n") else {
            panic!("not ssh");
        };
        assert_eq!(id.proto, "2.0");
        assert_eq!(id.software, "OpenSSH_9.2p1");
        assert_eq!(id.comments.as_deref(), Some("Debian-2+deb12u3"));
        assert!(matches!(
            classify(b"hello\r\nSSH-1.99-Cisco-1.25\r\n"),
            Greeting::Ssh(_)
        ));
        assert_eq!(classify(b"220 (vsFTPd 3.0.3)\r\n"), Greeting::Ftp);
        assert_eq!(
            classify(b"220 mx.example ESMTP Postfix\r\n"),
            Greeting::Smtp
        );
        assert_eq!(classify(b"+OK Dovecot ready.\r\n"), Greeting::Pop3);
        assert_eq!(
            classify(b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
            Greeting::Imap
        );
        assert_eq!(classify(b"RFB 003.008\n"), Greeting::Vnc(3, 8));
        assert_eq!(classify(b"\xff\xfd\x18\xff\xfd\x20"), Greeting::Telnet);
        let mut my = vec![0x4a, 0, 0, 0, 10];
        my.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0rest");
        assert_eq!(
            classify(&my),
            Greeting::Mysql("5.5.5-10.11.6-MariaDB-0+deb12u1".into())
        );
        assert_eq!(classify(b"\x00\x01garbage"), Greeting::Other);
        assert_eq!(classify(b"SSH-2.0-\r\n"), Greeting::Other);
    }
}
