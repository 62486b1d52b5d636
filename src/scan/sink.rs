//! Where the engines' results go during a scan: the reporter (every output format), the
//! progress line, `-v` notes, the set of pairs reported, and the resume file kept in step
//! with what was written.

use super::ScanConfig;
use crate::event::{PortResult, PortState, ResultSink};
use crate::output::Reporter;
use crate::output::progress::Progress;
use crate::resume::{Checkpoint, DoneSet, ResumeState};
use std::io;

/// The engines' view of the reporter, the progress line and the resume file.
pub struct Sink<'a> {
    pub reporter: &'a mut Reporter,
    pub progress: &'a Progress,
    /// Progress of earlier engines in this run.
    pub done_before: u64,
    pub open_before: u64,
    /// Every pair reported so far (by this run, or the run it resumes).
    pub done: &'a DoneSet,
    pub config: &'a ScanConfig,
    pub checkpoint: Checkpoint,
    /// The engine running now, and its first pass's position.
    pub stage: u32,
    pub position: u64,
}

impl Sink<'_> {
    /// The resume state as of now: everything marked done has been handed to the writers.
    fn state(&self) -> ResumeState {
        let c = self.config;
        ResumeState {
            synscan_resume: crate::resume::VERSION,
            argv: c.scan_argv.clone(),
            names: c
                .hosts
                .names()
                .iter()
                .map(|(ip, n)| (*ip, n.clone()))
                .collect(),
            hosts: c.hosts.len(),
            ports: c.ports.compact(),
            cookie_key: Some(c.cookie.key()),
            stage: self.stage,
            position: self.position,
            done: self.done.ranges(),
        }
    }

    /// Flushes the streamed outputs, then saves the resume state: a pair is listed as done
    /// only once its result is written.
    pub fn save(&mut self, periodic: bool) -> io::Result<()> {
        self.reporter.flush()?;
        let state = self.state();
        self.checkpoint.write(&state, periodic)
    }
}

impl ResultSink for Sink<'_> {
    fn result(&mut self, r: PortResult) -> io::Result<()> {
        self.done
            .mark(&self.config.hosts, &self.config.ports, r.ip, r.port);
        if self.config.verbose > 0 && r.state == PortState::Open {
            // nmap's -v line, on stderr so that stdout stays one format.
            self.progress.println(&format!(
                "Discovered open port {}/{} on {}",
                r.port, r.proto, r.ip
            ));
        }
        self.reporter.result(r)
    }

    fn note(&mut self, text: &str) {
        self.progress.println(&format!("synscan: {text}"));
    }

    fn tick(&mut self, done: u64, _sent: u64, open: u64) -> io::Result<()> {
        self.progress
            .update(self.done_before + done, self.open_before + open);
        self.reporter.flush()?;
        if self.checkpoint.due() {
            self.save(true)?;
        }
        Ok(())
    }

    fn position(&mut self, pos: u64) {
        self.position = pos;
    }
}
