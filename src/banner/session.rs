//! One port's conversation over the kernel's TCP stack: wait for a greeting; else try TLS,
//! then HTTP; STARTTLS where a mail service offers it. Every read and write is bounded by
//! one deadline and one byte cap, so trickling, endless or garbage servers end in time.

use super::escape::escape;
use super::greeting::{self, Greeting};
use super::tls::{self, Configs};
use super::{Banner, Identified, Options, Service, http, identify};
use crate::event::Proto;
use rustls::ClientConnection;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Most bytes of a greeting read.
const GREETING_CAP: usize = 4096;
/// Most bytes of an HTTP answer read (head and enough body for the title).
const HTTP_CAP: usize = 32 * 1024;
/// Quiet time after data that ends a read (the service has said its piece).
const SETTLE: Duration = Duration::from_millis(300);
/// Bytes of what the server sent first, kept to classify a failed TLS handshake.
const TAP: usize = 1024;

/// Ports where clients speak first (HTTP, HTTPS): no wait for a greeting there. A service
/// that greets anyway is still recognised from its first bytes.
fn client_first(port: u16) -> bool {
    matches!(port, 80 | 443 | 8000 | 8008 | 8080 | 8443 | 8888)
}

/// A TCP connection whose reads and writes share one deadline and one byte cap.
pub struct Conn {
    sock: TcpStream,
    deadline: Instant,
    /// The current read's own, earlier deadline.
    phase: Option<Instant>,
    read: usize,
    max: usize,
    tap: Vec<u8>,
}

impl Conn {
    fn connect(addr: SocketAddr, deadline: Instant, max: usize) -> io::Result<Conn> {
        let left = left(deadline)?;
        let sock = TcpStream::connect_timeout(&addr, left)?;
        sock.set_nodelay(true)?;
        Ok(Conn {
            sock,
            deadline,
            phase: None,
            read: 0,
            max,
            tap: Vec::new(),
        })
    }
}

/// Time left before `deadline`, or a timeout error.
fn left(deadline: Instant) -> io::Result<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out"))
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let until = self.phase.map_or(self.deadline, |p| p.min(self.deadline));
        let wait = left(until)?;
        if self.read >= self.max {
            return Err(io::Error::other("byte cap reached"));
        }
        self.sock.set_read_timeout(Some(wait))?;
        let room = buf.len().min(self.max - self.read);
        let n = self.sock.read(&mut buf[..room])?;
        self.read += n;
        if self.tap.len() < TAP {
            let k = n.min(TAP - self.tap.len());
            self.tap.extend_from_slice(&buf[..k]);
        }
        Ok(n)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.set_write_timeout(Some(left(self.deadline)?))?;
        self.sock.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How a read ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// The reader was satisfied.
    Done,
    /// Nothing more came within the wait.
    Quiet,
    /// The peer closed.
    Closed,
    /// The cap or the deadline was reached, or the connection failed.
    Cut(String),
}

/// Reads into `out` (over TLS when `tls`) until `done(out)`, `first` passes with nothing
/// read, `SETTLE` passes quiet after data, the peer closes, or `cap` bytes.
fn read_until(
    conn: &mut Conn,
    mut tls: Option<&mut ClientConnection>,
    out: &mut Vec<u8>,
    first: Duration,
    cap: usize,
    done: &dyn Fn(&[u8]) -> bool,
) -> End {
    let mut chunk = [0u8; 4096];
    let mut wait = first;
    // Bounded: each pass reads bytes (at most `cap` in all) or ends.
    loop {
        if out.len() >= cap {
            return End::Cut("byte cap reached".into());
        }
        conn.phase = Some(Instant::now() + wait);
        let room = chunk.len().min(cap - out.len());
        let got = match tls.as_deref_mut() {
            None => conn.read(&mut chunk[..room]),
            Some(t) => rustls::Stream::new(t, &mut *conn).read(&mut chunk[..room]),
        };
        conn.phase = None;
        match got {
            Ok(0) => return End::Closed,
            Ok(n) => {
                out.extend_from_slice(&chunk[..n]);
                if done(out) {
                    return End::Done;
                }
                wait = SETTLE;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if Instant::now() >= conn.deadline {
                    return End::Cut("timed out".into());
                }
                return End::Quiet;
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return End::Closed,
            Err(e) => return End::Cut(e.to_string()),
        }
    }
}

/// Writes `data` (over TLS when `tls`).
fn send(conn: &mut Conn, tls: Option<&mut ClientConnection>, data: &[u8]) -> io::Result<()> {
    match tls {
        None => conn.write_all(data),
        Some(t) => {
            let mut s = rustls::Stream::new(t, conn);
            s.write_all(data)?;
            s.flush()
        }
    }
}

/// A greeting has fully arrived: a final text line (not an SMTP/FTP `220-` continuation),
/// or a complete binary handshake.
fn greeting_done(b: &[u8]) -> bool {
    if greeting::mysql_version(b).is_some() || greeting::vnc_version(b).is_some() {
        return true;
    }
    if !b.ends_with(b"\n") {
        return false;
    }
    let body = &b[..b.len() - 1];
    let last = body
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(body, |i| &body[i + 1..]);
    !(last.len() >= 4 && last[..3].iter().all(u8::is_ascii_digit) && last[3] == b'-')
}

/// Grabs the banner of `ip:port` and names its service.
pub fn grab(ip: IpAddr, port: u16, opts: &Options, configs: &Configs) -> Identified {
    let deadline = Instant::now() + opts.timeout;
    let addr = SocketAddr::new(ip, port);
    let table = || Service::from_table(port, Proto::Tcp);
    let mut banner = Banner::default();
    let mut conn = match Conn::connect(addr, deadline, opts.max_bytes) {
        Ok(c) => c,
        Err(e) => {
            banner.error = Some(format!("connect: {e}"));
            return Identified::new(table(), banner);
        }
    };
    let mut first = Vec::new();
    let wait = if client_first(port) {
        Duration::ZERO
    } else {
        opts.greet_wait
    };
    let end = if wait.is_zero() {
        End::Quiet
    } else {
        read_until(
            &mut conn,
            None,
            &mut first,
            wait,
            GREETING_CAP,
            &greeting_done,
        )
    };
    if !first.is_empty() {
        return greeted(&mut conn, ip, port, &first, end, opts, configs);
    }
    match end {
        End::Closed => {
            // Closed before a word was said: a TCP wrapper, as nmap calls it.
            let mut s = Service::probed("tcpwrapped");
            s.conf = 8;
            return Identified::new(s, banner);
        }
        End::Cut(e) => {
            banner.error = Some(e);
            return Identified::new(table(), banner);
        }
        End::Quiet | End::Done => {}
    }
    // Silent: the client speaks first. TLS? A server silent to the ClientHello too gets
    // the greeting's wait, leaving time for HTTP.
    conn.phase = Some(Instant::now() + opts.greet_wait);
    let shaken = tls::handshake(configs.probe.clone(), ip, &mut conn);
    conn.phase = None;
    match shaken {
        Ok(mut tc) => {
            let info = tls::info(&tc, false);
            let h2 = tc.alpn_protocol() == Some(b"h2");
            let (answer, end) = if h2 {
                // Inside, speak HTTP/1.1 on a second connection that offers only it.
                drop(tc);
                match Conn::connect(addr, deadline, opts.max_bytes).and_then(|mut c| {
                    let tc = tls::handshake(configs.http1.clone(), ip, &mut c)
                        .map_err(io::Error::other)?;
                    Ok((c, tc))
                }) {
                    Ok((mut c, mut tc)) => http_exchange(&mut c, Some(&mut tc), ip, port, opts),
                    Err(e) => (Vec::new(), End::Cut(e.to_string())),
                }
            } else {
                http_exchange(&mut conn, Some(&mut tc), ip, port, opts)
            };
            banner.tls = Some(info);
            let mut service = answered(&answer, &mut banner, end, opts);
            if service.is_none() {
                service = Some(Service::probed("ssl"));
            }
            let mut s = service.unwrap_or_else(table);
            if s.name != "ssl" {
                s.tunnel = Some("ssl");
            }
            Identified::new(s, banner)
        }
        Err(e) => {
            let tap = std::mem::take(&mut conn.tap);
            drop(conn);
            if tls::is_record(&tap) {
                // It speaks TLS, but not a handshake we could finish.
                banner.raw = Some(escape(&tap, opts.raw_cap));
                banner.error = Some(e);
                return Identified::new(Service::probed("ssl"), banner);
            }
            if !http::looks_like(&tap)
                && identify::from_greeting(&greeting::classify(&tap), &tap).is_some()
            {
                // A service on a client-first port that greets after all: hear it again.
                let mut conn = match Conn::connect(addr, deadline, opts.max_bytes) {
                    Ok(c) => c,
                    Err(e) => {
                        banner.error = Some(format!("connect: {e}"));
                        return Identified::new(table(), banner);
                    }
                };
                let mut again = Vec::new();
                let end = read_until(
                    &mut conn,
                    None,
                    &mut again,
                    opts.greet_wait,
                    GREETING_CAP,
                    &greeting_done,
                );
                if again.is_empty() {
                    // Late again: what it said the first time names it.
                    return greeted(
                        &mut conn,
                        ip,
                        port,
                        &tap,
                        End::Cut("greeting came late".into()),
                        opts,
                        configs,
                    );
                }
                return greeted(&mut conn, ip, port, &again, end, opts, configs);
            }
            if left(deadline).is_err() {
                banner.error = Some("timed out".into());
                return Identified::new(table(), banner);
            }
            // Plain HTTP, on a new connection.
            let (answer, end) = match Conn::connect(addr, deadline, opts.max_bytes) {
                Ok(mut c) => http_exchange(&mut c, None, ip, port, opts),
                Err(e) => (Vec::new(), End::Cut(format!("connect: {e}"))),
            };
            let s = answered(&answer, &mut banner, end, opts).unwrap_or_else(table);
            Identified::new(s, banner)
        }
    }
}

/// Sends `GET /` and reads the answer.
fn http_exchange(
    conn: &mut Conn,
    mut tls: Option<&mut ClientConnection>,
    ip: IpAddr,
    port: u16,
    opts: &Options,
) -> (Vec<u8>, End) {
    let req = http::request(&http::host_header(ip, port, tls.is_some()));
    if let Err(e) = send(conn, tls.as_deref_mut(), &req) {
        return (Vec::new(), End::Cut(format!("send: {e}")));
    }
    let mut out = Vec::new();
    // Only the newest bytes are searched (a read brings at most 4096), so a trickle costs
    // linear time.
    let done = |b: &[u8]| {
        b[b.len().saturating_sub(4096 + 8)..]
            .windows(8)
            .any(|w| w.eq_ignore_ascii_case(b"</title>"))
    };
    let end = read_until(conn, tls, &mut out, opts.greet_wait, HTTP_CAP, &done);
    (out, end)
}

/// The service an answer to our request shows; fills the banner's `http` or `raw`.
fn answered(answer: &[u8], banner: &mut Banner, end: End, opts: &Options) -> Option<Service> {
    if let End::Cut(e) = &end
        && answer.is_empty()
    {
        banner.error = Some(e.clone());
    }
    if let Some(h) = http::parse(answer) {
        let s = identify::from_http(&h);
        banner.http = Some(h);
        return Some(s);
    }
    if answer.is_empty() {
        return None;
    }
    banner.raw = Some(escape(answer, opts.raw_cap));
    let g = greeting::classify(answer);
    identify::from_greeting(&g, answer)
}

/// A service that spoke first: name it, and upgrade mail services that offer STARTTLS.
fn greeted(
    conn: &mut Conn,
    ip: IpAddr,
    port: u16,
    first: &[u8],
    end: End,
    opts: &Options,
    configs: &Configs,
) -> Identified {
    let mut banner = Banner {
        raw: Some(escape(first, opts.raw_cap)),
        ..Banner::default()
    };
    if let End::Cut(e) = &end {
        banner.error = Some(e.clone());
    }
    let g = greeting::classify(first);
    if let Greeting::Ssh(id) = &g {
        banner.ssh = Some(escape(id.line.as_bytes(), 256));
    }
    let service =
        identify::from_greeting(&g, first).unwrap_or_else(|| Service::from_table(port, Proto::Tcp));
    if matches!(end, End::Done | End::Quiet)
        && matches!(g, Greeting::Smtp | Greeting::Imap | Greeting::Pop3)
    {
        match starttls(conn, &g, first, ip, configs) {
            Ok(Some(info)) => banner.tls = Some(info),
            Ok(None) => {}
            Err(e) => banner.error = Some(e),
        }
    }
    Identified::new(service, banner)
}

/// Asks a mail service for its capabilities and, when it offers STARTTLS, upgrades.
fn starttls(
    conn: &mut Conn,
    g: &Greeting,
    first: &[u8],
    ip: IpAddr,
    configs: &Configs,
) -> Result<Option<super::TlsInfo>, String> {
    let wait = Duration::from_secs(3);
    let mut reply = Vec::new();
    let offered = |reply: &[u8], word: &[u8]| {
        reply
            .to_ascii_uppercase()
            .windows(word.len())
            .any(|w| w == word)
    };
    // (capability request, end of its answer, the offer's word, the upgrade command,
    // the upgrade's acceptance)
    type Done = fn(&[u8]) -> bool;
    let (ask, ask_done, word, upgrade, ok): (&[u8], Done, &[u8], &[u8], &[u8]) = match g {
        Greeting::Smtp => (
            b"EHLO synscan.invalid\r\n",
            |b| greeting_done(b) && b.len() >= 4,
            b"STARTTLS",
            b"STARTTLS\r\n",
            b"220",
        ),
        Greeting::Imap => (
            b"a1 CAPABILITY\r\n",
            |b| {
                b.ends_with(b"\n") && (b.starts_with(b"a1 ") || b.windows(5).any(|w| w == b"\na1 "))
            },
            b"STARTTLS",
            b"a2 STARTTLS\r\n",
            b"a2 OK",
        ),
        Greeting::Pop3 => (
            b"CAPA\r\n",
            |b| b.ends_with(b"\n.\r\n") || b.starts_with(b"-ERR") && b.ends_with(b"\n"),
            b"STLS",
            b"STLS\r\n",
            b"+OK",
        ),
        _ => return Ok(None),
    };
    send(conn, None, ask).map_err(|e| format!("send: {e}"))?;
    let end = read_until(conn, None, &mut reply, wait, GREETING_CAP, &ask_done);
    if matches!(end, End::Cut(_)) || !(offered(&reply, word) || offered(first, word)) {
        return Ok(None);
    }
    send(conn, None, upgrade).map_err(|e| format!("send: {e}"))?;
    let mut answer = Vec::new();
    read_until(
        conn,
        None,
        &mut answer,
        wait,
        GREETING_CAP,
        &|b: &[u8]| b.ends_with(b"\n"),
    );
    if !answer.starts_with(ok) {
        return Err(format!(
            "STARTTLS refused: {}",
            escape(greeting::first_line(&answer).unwrap_or(&answer), 128)
        ));
    }
    let tc = tls::handshake(configs.plain.clone(), ip, conn)?;
    Ok(Some(tls::info(&tc, true)))
}
