//! Service names, products and versions from what a service said. A few well-known forms
//! are read by hand; everything else is named by protocol only.

use super::Service;
use super::greeting::{Greeting, SshIdent};

/// The service a greeting shows (`None`: it shows nothing known).
pub fn from_greeting(g: &Greeting, first: &[u8]) -> Option<Service> {
    let line = super::greeting::first_line(first).unwrap_or(first);
    let text = String::from_utf8_lossy(line);
    let s = match g {
        Greeting::Ssh(id) => ssh(id),
        Greeting::Ftp => {
            let mut s = Service::probed("ftp");
            // vsftpd: `220 (vsFTPd 3.0.3)`.
            if let Some(v) = after_word(&text, "vsFTPd ") {
                s.product = Some("vsftpd".into());
                s.version = Some(v);
            } else if text.contains("ProFTPD") {
                s.product = Some("ProFTPD".into());
                s.version = after_word(&text, "ProFTPD ");
            } else if text.contains("Pure-FTPd") {
                s.product = Some("Pure-FTPd".into());
            }
            s
        }
        Greeting::Smtp => {
            let mut s = Service::probed("smtp");
            if text.contains("Postfix") {
                s.product = Some("Postfix smtpd".into());
            } else if let Some(v) = after_word(&text, "Exim ") {
                s.product = Some("Exim smtpd".into());
                s.version = Some(v);
            } else if let Some(v) = after_word(&text, "Python SMTP ") {
                s.product = Some("aiosmtpd".into());
                s.version = Some(v);
            }
            s
        }
        Greeting::Pop3 => {
            let mut s = Service::probed("pop3");
            if text.contains("Dovecot") {
                s.product = Some("Dovecot pop3d".into());
            }
            s
        }
        Greeting::Imap => {
            let mut s = Service::probed("imap");
            if text.contains("Dovecot") {
                s.product = Some("Dovecot imapd".into());
            }
            s
        }
        Greeting::Mysql(v) => {
            let mut s = Service::probed("mysql");
            // MariaDB prefixes `5.5.5-` for old clients.
            let v = v.strip_prefix("5.5.5-").unwrap_or(v);
            if let Some(i) = v.find("-MariaDB") {
                s.product = Some("MariaDB".into());
                s.version = Some(v[..i].to_string());
            } else {
                s.product = Some("MySQL".into());
                s.version = Some(v.to_string());
            }
            s
        }
        Greeting::Vnc(maj, min) => {
            let mut s = Service::probed("vnc");
            s.extrainfo = Some(format!("protocol {maj}.{min}"));
            s
        }
        Greeting::Telnet => Service::probed("telnet"),
        Greeting::Other => return None,
    };
    Some(s)
}

/// `OpenSSH_9.2p1 Debian-2+deb12u3` as nmap writes it: product OpenSSH, version
/// `9.2p1 Debian 2+deb12u3`, extra `protocol 2.0`.
fn ssh(id: &SshIdent) -> Service {
    let mut s = Service::probed("ssh");
    let (product, version) = match id.software.split_once('_') {
        Some((p, v)) => (p.to_string(), Some(v.to_string())),
        None => (id.software.clone(), None),
    };
    s.product = Some(product);
    s.version = match (version, &id.comments) {
        (Some(v), Some(c)) if c.starts_with("Debian-") || c.starts_with("Ubuntu-") => {
            Some(format!("{v} {}", c.replacen('-', " ", 1)))
        }
        (v, _) => v,
    };
    let proto = if id.proto == "1.99" { "2.0" } else { &id.proto };
    s.extrainfo = Some(format!("protocol {proto}"));
    s
}

/// The word after `w` in `text`, up to a space or a closing parenthesis.
fn after_word(text: &str, w: &str) -> Option<String> {
    let i = text.find(w)? + w.len();
    let v: String = text[i..]
        .chars()
        .take_while(|c| c.is_ascii_graphic() && *c != ')' && *c != '(')
        .take(64)
        .collect();
    (!v.is_empty()).then_some(v)
}

/// The service an HTTP answer shows, with its Server header's product.
pub fn from_http(info: &super::HttpInfo) -> Service {
    let mut s = Service::probed("http");
    if let Some(server) = &info.server {
        let (p, v, e) = super::http::server_product(server);
        s.product = p;
        s.version = v;
        s.extrainfo = e;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::banner::greeting::classify;

    #[test]
    fn products_and_versions() {
        let b = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
        let s = from_greeting(&classify(b), b).expect("ssh");
        assert_eq!(s.name, "ssh");
        assert_eq!(
            s.version_line(),
            "OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)"
        );
        let b = b"220 (vsFTPd 3.0.3)\r\n";
        let s = from_greeting(&classify(b), b).expect("ftp");
        assert_eq!(s.version_line(), "vsftpd 3.0.3");
        assert_eq!(from_greeting(&classify(b"zzz\n"), b"zzz\n"), None);
    }
}
