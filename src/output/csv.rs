//! `--format csv`: a header line, then one row per listed port result. Fields never contain
//! commas or quotes (addresses, validated host names, fixed words), so no quoting is needed.

use super::{FormatWriter, Report, RunInfo};
use crate::event::{HostResult, PortResult};
use crate::services::service_name;
use std::io::{self, Write};
use std::time::SystemTime;

pub struct Csv<W: Write> {
    out: W,
}

impl<W: Write> Csv<W> {
    pub fn new(out: W) -> Self {
        Csv { out }
    }
}

impl<W: Write> FormatWriter for Csv<W> {
    fn begin(&mut self, _run: &RunInfo) -> io::Result<()> {
        self.out
            .write_all(b"ip,hostname,port,proto,state,reason,service,ttl,rtt_ms\n")
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
            service_name(r.port, r.proto).unwrap_or(""),
        )?;
        if let Some(t) = r.ttl {
            write!(self.out, "{t}")?;
        }
        self.out.write_all(b",")?;
        if let Some(ms) = r.rtt_ms() {
            write!(self.out, "{ms}")?;
        }
        self.out.write_all(b"\n")
    }

    fn end(&mut self, _run: &RunInfo, _report: &Report) -> io::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
