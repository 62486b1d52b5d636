//! `--format list` / `-oL`: masscan's list format, `STATE PROTO PORT IP UNIXTIME` per listed
//! result between a `#synscan` header and a `# end` trailer, so masscan -oL parsers read it.

use super::{FormatWriter, Report, RunInfo, unix_secs};
use crate::event::{HostResult, PortResult};
use std::io::{self, Write};
use std::time::SystemTime;

pub struct List<W: Write> {
    out: W,
}

impl<W: Write> List<W> {
    pub fn new(out: W) -> Self {
        List { out }
    }
}

impl<W: Write> FormatWriter for List<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        writeln!(self.out, "#synscan\n# {}", super::identity_line(run))
    }

    /// A host found up, as masscan --ping lists one: `open icmp 0 IP TIMESTAMP` (whatever
    /// answered; down hosts are not listed).
    fn host_status(
        &mut self,
        h: &HostResult,
        _hostname: Option<&str>,
        at: SystemTime,
    ) -> io::Result<()> {
        if !h.up {
            return Ok(());
        }
        writeln!(self.out, "open icmp 0 {} {}", h.ip, unix_secs(at))
    }

    fn result(
        &mut self,
        r: &PortResult,
        _hostname: Option<&str>,
        at: SystemTime,
    ) -> io::Result<()> {
        writeln!(
            self.out,
            "{} {} {} {} {}",
            r.state,
            r.proto,
            r.port,
            r.ip,
            unix_secs(at)
        )
    }

    fn end(&mut self, _run: &RunInfo, _report: &Report) -> io::Result<()> {
        self.out.write_all(b"# end\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
