//! `--format csv`: a header line, then one row per listed port result. Fields are addresses,
//! validated host names and fixed words, except `--banners`' columns (text from the network,
//! already escaped), which are quoted as RFC 4180 says. Every row ends with the run's scan id,
//! shard, seed, start time and source addresses, so rows from several shards stay apart.

use super::{FormatWriter, Report, RunInfo};
use crate::event::{HostResult, PortResult};
use crate::services::service_name;
use std::io::{self, Write};
use std::time::SystemTime;

pub struct Csv<W: Write> {
    out: W,
    /// `--banners`: the service columns follow.
    banners: bool,
    /// The run's identity columns, written at the end of every row.
    identity: String,
}

impl<W: Write> Csv<W> {
    pub fn new(out: W) -> Self {
        Csv {
            out,
            banners: false,
            identity: String::new(),
        }
    }
}

impl<W: Write> FormatWriter for Csv<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.banners = run.banners;
        let id = &run.identity;
        let sources = id.sources_str();
        self.identity = format!(
            ",{},{},{},{},{}",
            id.scan_id,
            id.shard_str(),
            id.seed,
            super::rfc3339(run.start),
            if sources.contains(',') {
                format!("\"{sources}\"")
            } else {
                sources
            }
        );
        self.out
            .write_all(b"ip,hostname,port,proto,state,reason,service,ttl,rtt_ms")?;
        if self.banners {
            self.out
                .write_all(b",method,product,version,extrainfo,tunnel,banner")?;
        }
        self.out
            .write_all(b",scan_id,shard,seed,scan_start,source\n")
    }

    /// A host record: no port or protocol, the state `up` or `down`.
    fn host_status(
        &mut self,
        h: &HostResult,
        hostname: Option<&str>,
        _at: SystemTime,
    ) -> io::Result<()> {
        write!(
            self.out,
            "{},{},,,{},{},,",
            h.ip,
            hostname.unwrap_or(""),
            h.status(),
            h.reason
        )?;
        if let Some(t) = h.ttl {
            write!(self.out, "{t}")?;
        }
        self.out.write_all(b",")?;
        if let Some(ms) = h.rtt_ms() {
            write!(self.out, "{ms}")?;
        }
        if self.banners {
            self.out.write_all(b",,,,,,")?;
        }
        self.out.write_all(self.identity.as_bytes())?;
        self.out.write_all(b"\n")
    }

    fn result(
        &mut self,
        r: &PortResult,
        hostname: Option<&str>,
        _at: SystemTime,
    ) -> io::Result<()> {
        // Written field by field: no allocation per result.
        write!(
            self.out,
            "{},{},{},{},{},{},{},",
            r.ip,
            hostname.unwrap_or(""),
            r.port,
            r.proto,
            r.state,
            r.reason,
            match &r.service {
                Some(id) => quoted(&id.service.name),
                None => service_name(r.port, r.proto).unwrap_or("").into(),
            },
        )?;
        if let Some(t) = r.ttl {
            write!(self.out, "{t}")?;
        }
        self.out.write_all(b",")?;
        if let Some(ms) = r.rtt_ms() {
            write!(self.out, "{ms}")?;
        }
        if self.banners {
            match &r.service {
                Some(id) => {
                    let s = &id.service;
                    let opt = |v: &Option<String>| {
                        v.as_deref()
                            .map(|v| quoted(v).into_owned())
                            .unwrap_or_default()
                    };
                    write!(
                        self.out,
                        ",{},{},{},{},{},{}",
                        match s.method {
                            crate::banner::Method::Probed => "probed",
                            crate::banner::Method::Table => "table",
                        },
                        opt(&s.product),
                        opt(&s.version),
                        opt(&s.extrainfo),
                        s.tunnel.unwrap_or(""),
                        id.banner
                            .as_ref()
                            .map(|b| quoted(&summary(b)).into_owned())
                            .unwrap_or_default()
                    )?;
                }
                None => self.out.write_all(b",,,,,,")?,
            }
        }
        self.out.write_all(self.identity.as_bytes())?;
        self.out.write_all(b"\n")
    }

    fn end(&mut self, _run: &RunInfo, _report: &Report) -> io::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A field quoted when it holds a comma, a quote or a space at its ends.
fn quoted(v: &str) -> std::borrow::Cow<'_, str> {
    // Text a spreadsheet would run as a formula is made plain text.
    if v.starts_with(['=', '+', '-', '@']) {
        return format!("\"'{}\"", v.replace('"', "\"\"")).into();
    }
    if v.contains([',', '"']) || v.trim() != v {
        format!("\"{}\"", v.replace('"', "\"\"")).into()
    } else {
        v.into()
    }
}

/// The most telling line of a banner: the SSH identification, the HTTP status and title,
/// the certificate's subject, the UDP answer, or the raw greeting.
fn summary(b: &crate::banner::Banner) -> String {
    if let Some(s) = &b.ssh {
        return s.clone();
    }
    if let Some(h) = &b.http {
        return match &h.title {
            Some(t) => format!("{} | {t}", h.status_line),
            None => h.status_line.clone(),
        };
    }
    if let Some(c) = b.tls.as_ref().and_then(|t| t.cert.as_ref()) {
        return c.subject.clone();
    }
    b.udp.clone().or_else(|| b.raw.clone()).unwrap_or_default()
}
