//! `--format ndjson` / `-oJ`: exactly one JSON object per listed port result, one per line;
//! with host discovery, one per listed host too (`"status":"up"`), before its ports.

use super::{FormatWriter, Report, RunInfo};
use crate::event::{HostResult, PortResult};
use std::io::{self, Write};
use std::time::SystemTime;

pub struct Ndjson<W: Write> {
    out: W,
}

impl<W: Write> Ndjson<W> {
    pub fn new(out: W) -> Self {
        Ndjson { out }
    }
}

impl<W: Write> FormatWriter for Ndjson<W> {
    fn host_status(
        &mut self,
        h: &HostResult,
        hostname: Option<&str>,
        _at: SystemTime,
    ) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &h.json(hostname))?;
        self.out.write_all(b"\n")
    }

    fn result(
        &mut self,
        r: &PortResult,
        hostname: Option<&str>,
        _at: SystemTime,
    ) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &r.json(hostname))?;
        self.out.write_all(b"\n")
    }

    fn end(&mut self, _run: &RunInfo, _report: &Report) -> io::Result<()> {
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
