//! Where the engines' results go during a scan: the reporter (every output format), the
//! progress line, `-v` notes, the positions of the order reported, and the resume file kept
//! in step with what was written.

use super::ScanConfig;
use crate::engine::Coverage;
use crate::event::{PortResult, PortState, Proto, ResultSink};
use crate::output::Reporter;
use crate::output::progress::Progress;
use crate::resume::{Checkpoint, Finished, ResumeState};
use crate::target::ScanOrder;
use std::io;

/// The engines' view of the reporter, the progress line and the resume file.
pub struct Sink<'a> {
    /// The hosts the port scan walks (the live ones, after discovery).
    pub hosts: crate::target::HostSet,
    pub reporter: &'a mut Reporter,
    pub progress: &'a Progress,
    /// Progress of earlier engines in this run.
    pub done_before: u64,
    pub open_before: u64,
    /// The running engine's reported positions (by this run, or the run it resumes).
    pub finished: Finished,
    /// Whether results are counted in `finished` (not for the unroutable targets reported
    /// before any engine runs).
    pub tracking: bool,
    /// The positions the running engine probes (`None`: all of them).
    pub coverage: Option<Coverage>,
    /// The running pass's order.
    pub order: ScanOrder,
    /// The running pass's ports.
    pub ports: crate::target::PortList,
    pub config: &'a ScanConfig,
    pub checkpoint: Checkpoint,
    /// The scan id, saved in the resume file.
    pub scan_id: String,
    /// `--pcap`: flushed before each checkpoint, so every pair the resume file counts as
    /// done has its probe in the capture even after `kill -9`.
    pub recorder: Option<crate::capture::Recorder>,
    /// The engine running now.
    pub stage: u32,
    /// With discovery: the group of live hosts being scanned (or the next one), as
    /// (discovery engine, group).
    pub group: Option<(u32, u64)>,
    /// The fingerprint of the live hosts being scanned (`None`: every target).
    pub live: Option<[u64; 2]>,
    /// The progress line counts port pairs (not while discovery counts hosts).
    pub pairs_progress: bool,
    /// `--banners`: open TCP ports wait here for their banner before they are reported.
    pub banners: Option<crate::banner::grabber::Grabber>,
    /// Set by Ctrl-C.
    pub stop: &'a std::sync::atomic::AtomicBool,
}

impl Sink<'_> {
    /// Starts tracking engine `stage`, which probes `coverage` from position `finished`.
    /// Between groups of live hosts: nothing of the next group is done yet.
    pub fn between_groups(&mut self, next: (u32, u64)) -> io::Result<()> {
        self.settle()?;
        self.group = Some(next);
        self.stage = 0;
        self.finished = Finished::default();
        self.coverage = None;
        self.tracking = false;
        self.live = None;
        Ok(())
    }

    /// Reports every banner still being grabbed (a stage's positions are marked done before
    /// the next stage begins).
    /// Ctrl-C while waiting stops new grabs (those running end within their timeout).
    pub fn settle(&mut self) -> io::Result<()> {
        // Bounded: every pending grab ends within its timeout, and each pass either takes one
        // or waits 200 ms.
        while self.banners.as_ref().is_some_and(|g| g.pending() > 0) {
            if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
                self.cancel_banners();
            }
            if let Some(job) = self
                .banners
                .as_mut()
                .and_then(|g| g.wait_next(std::time::Duration::from_millis(200)))
            {
                self.deliver(job)?;
            }
        }
        Ok(())
    }

    /// Stops grabbing: ports not yet started are reported with the table's name.
    pub fn cancel_banners(&mut self) {
        if let Some(g) = &self.banners {
            g.cancel();
        }
    }

    /// Reports the banners grabbed so far, without waiting.
    fn pump(&mut self) -> io::Result<()> {
        while let Some(job) = self.banners.as_mut().and_then(|g| g.try_next()) {
            self.deliver(job)?;
        }
        Ok(())
    }

    fn deliver(&mut self, job: crate::banner::grabber::Job) -> io::Result<()> {
        if let Some(pos) = job.tag
            && self.tracking
            && !job.cancelled
        {
            self.finished.mark(pos);
        }
        self.reporter.result(job.result)
    }

    pub fn begin_stage(
        &mut self,
        stage: u32,
        finished: Finished,
        coverage: Option<Coverage>,
    ) -> io::Result<()> {
        self.settle()?;
        self.stage = stage;
        self.finished = finished;
        self.coverage = coverage;
        self.tracking = true;
        Ok(())
    }

    /// Moves the resume position over what the running engine has reported.
    fn advance(&mut self) {
        if !self.tracking {
            return;
        }
        let end = self.order.len();
        match &self.coverage {
            Some(c) => {
                let skip = |pos: u64| !c.probes(pos);
                self.finished.advance(end, Some(&skip));
            }
            None => self.finished.advance(end, None),
        }
    }

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
            ports: c.ports_expr(),
            cookie_key: Some(c.cookie.key()),
            live: self.live,
            group: self.group,
            scan_id: Some(self.scan_id.clone()),
            stage: self.stage,
            position: self.finished.start(),
            done: self.finished.ranges(),
        }
    }

    /// Flushes the streamed outputs, then saves the resume state: a pair is listed as done
    /// only once its result is written.
    pub fn save(&mut self, periodic: bool) -> io::Result<()> {
        self.reporter.flush()?;
        if let Some(r) = &self.recorder {
            r.flush()?;
        }
        self.advance();
        let state = self.state();
        self.checkpoint.write(&state, periodic)
    }
}

impl ResultSink for Sink<'_> {
    fn result(&mut self, mut r: PortResult) -> io::Result<()> {
        let pos = if self.tracking
            && let (Some(h), Some(p)) = (self.hosts.index_of(r.ip), self.ports.index_of(r.port))
        {
            self.order.position_of(h, p)
        } else {
            None
        };
        if self.config.verbose > 0 && r.state == PortState::Open {
            // nmap's -v line, on stderr so that stdout stays one format.
            self.progress.println(&format!(
                "Discovered open port {}/{} on {}",
                r.port, r.proto, r.ip
            ));
        }
        if self.banners.is_some() && r.state == PortState::Open {
            match r.proto {
                Proto::Tcp => {
                    if let Some(g) = &mut self.banners {
                        g.submit(crate::banner::grabber::Job {
                            result: r,
                            tag: pos,
                            cancelled: false,
                        });
                    }
                    return self.pump();
                }
                Proto::Udp => {
                    if let Some(d) = &r.data {
                        r.service = Some(Box::new(crate::banner::udp::identify(r.port, &d.head)));
                    }
                }
            }
        }
        if let Some(pos) = pos {
            self.finished.mark(pos);
        }
        self.reporter.result(r)?;
        self.pump()
    }

    fn note(&mut self, text: &str) {
        self.progress.println(&format!("synscan: {text}"));
    }

    fn tick(&mut self, done: u64, _sent: u64, open: u64) -> io::Result<()> {
        self.pump()?;
        if self.pairs_progress {
            self.progress
                .update(self.done_before + done, self.open_before + open);
        }
        self.reporter.flush()?;
        self.advance();
        if self.checkpoint.due() {
            self.save(true)?;
        }
        Ok(())
    }
}
