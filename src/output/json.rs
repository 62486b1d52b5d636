//! `--format json`: the ndjson objects (header, results, end record) in one JSON array, streamed element by element so the
//! array is complete (and valid) as soon as the scan ends or is interrupted.

use super::{FormatWriter, Report, RunInfo};
use crate::event::{HostResult, PortResult};
use std::io::{self, Write};
use std::time::SystemTime;

pub struct Json<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> Json<W> {
    pub fn new(out: W) -> Self {
        Json { out, first: true }
    }

    /// One element of the array.
    fn element(&mut self, v: &impl serde::Serialize) -> io::Result<()> {
        self.out
            .write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut self.out, v)?;
        Ok(())
    }
}

impl<W: Write> FormatWriter for Json<W> {
    fn host_status(
        &mut self,
        h: &HostResult,
        hostname: Option<&str>,
        _at: SystemTime,
    ) -> io::Result<()> {
        self.element(&h.json(hostname))
    }

    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.out.write_all(b"[")?;
        self.element(&super::header_json(run))
    }

    fn result(
        &mut self,
        r: &PortResult,
        hostname: Option<&str>,
        _at: SystemTime,
    ) -> io::Result<()> {
        self.element(&r.json(hostname))
    }

    fn end(&mut self, run: &RunInfo, report: &Report) -> io::Result<()> {
        self.element(&super::end_json(run, report))?;
        self.out.write_all(b"\n]\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
