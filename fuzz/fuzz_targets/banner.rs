//! What services say, through every banner parser: greetings (SSH, SMTP, FTP, POP3, IMAP,
//! MySQL, VNC, Telnet), HTTP response heads and titles, Server headers, X.509 certificates,
//! UDP answers (DNS, SNMP, NTP), escaping, and a TLS handshake whose server sends these
//! bytes: no panic and no endless loop on any input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use synscan::banner::{escape, greeting, http, identify, tls, udp};

/// A server that sends `data`, then closes; what the client writes is dropped.
struct Server<'a>(&'a [u8]);

impl Read for Server<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Short reads, as a trickling server gives them.
        let n = buf.len().min(self.0.len()).min(7);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

impl Write for Server<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let g = greeting::classify(data);
    let _ = identify::from_greeting(&g, data);
    let _ = greeting::ssh_ident(data);
    let _ = greeting::mysql_version(data);
    let _ = greeting::vnc_version(data);
    if let Some(h) = http::parse(data) {
        let _ = identify::from_http(&h);
    }
    let _ = http::title(data);
    let _ = http::server_product(&String::from_utf8_lossy(data));
    let _ = http::head_complete(data);
    let _ = escape::escape(data, 64);
    let _ = escape::field(data, 64);
    let _ = tls::is_record(data);
    let _ = tls::cert_info(data);
    for port in [53, 123, 161, 9] {
        let _ = udp::identify(port, data);
    }
    if let Ok(c) = tls::Configs::new() {
        let mut s = Server(data);
        if let Ok(conn) = tls::handshake(c.probe, "192.0.2.1".parse().expect("ip"), &mut s) {
            let _ = tls::info(&conn, false);
        }
    }
});
