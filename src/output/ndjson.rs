//! `--format ndjson` / `-oJ`: one JSON object per line. The first is the run's header
//! (`"type":"scan"`: scan id, seed, shard, start, source addresses), then one per listed
//! port result and, with host discovery, one per listed host (`"status":"up"`), and last
//! the end record (`"type":"end"`: end time and counters). Records without `type` are
//! results, so `jq 'select(.port)'` keeps the ports.

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
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &super::header_json(run))?;
        self.out.write_all(b"\n")
    }

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

    fn end(&mut self, run: &RunInfo, report: &Report) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &super::end_json(run, report))?;
        self.out.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
