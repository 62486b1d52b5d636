//! Scan orchestration: picks the engine, wires its results to the reporter and the progress
//! line, and finishes the report (also after Ctrl-C).

use crate::cli::args::ScanType;
use crate::cli::config::ScanConfig;
use crate::connect::ConnectEngine;
use crate::error::{Error, Result};
use crate::event::{PortResult, ResultSink, ScanStats};
use crate::output::progress::Progress;
use crate::output::{self, Report, Reporter, RunInfo};
use crate::target::ScanOrder;
use std::io;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

/// What a finished (or interrupted) scan leaves.
pub struct Outcome {
    /// The counters.
    pub stats: ScanStats,
    /// The per-host report.
    pub report: Report,
}

/// The engine's view of the reporter and the progress line.
struct Sink<'a> {
    reporter: &'a mut Reporter,
    progress: &'a Progress,
}

impl ResultSink for Sink<'_> {
    fn result(&mut self, r: PortResult) -> io::Result<()> {
        self.reporter.result(r)
    }

    fn tick(&mut self, done: u64, _sent: u64, open: u64) -> io::Result<()> {
        self.progress.update(done, open);
        self.reporter.flush()
    }
}

/// Runs the scan `config` describes until it ends or `stop` is set.
pub fn run(config: ScanConfig, stop: &AtomicBool) -> Result<Outcome> {
    let scan_type = match config.scan_type {
        Some(ScanType::Syn) => {
            return Err(Error::input(
                "SYN scans (-sS) are not available in this build yet; use -sT",
            ));
        }
        _ => ScanType::Connect,
    };
    let order = ScanOrder::new(&config.hosts, &config.ports, config.seed, config.shard);
    let run = RunInfo {
        args: config.command_line.clone(),
        start: SystemTime::now(),
        scan_type: scan_type.as_str(),
        ports_expr: config.ports.compact(),
        ports_per_host: config.ports.len() as u64,
        hosts_total: config.hosts.len(),
    };
    let writers = config
        .outputs
        .into_iter()
        .map(|(format, dest)| output::writer(format, dest.into_writer()))
        .collect();
    let mut reporter = Reporter::new(writers, run, config.states, config.hosts.names().clone());
    let progress = Progress::new(order.len(), config.progress);
    let write_err = |e| Error::io("write results", e);
    reporter.begin().map_err(write_err)?;
    let mut sink = Sink {
        reporter: &mut reporter,
        progress: &progress,
    };
    let probes = order.iter(&config.hosts, &config.ports, 0);
    let mut stats = ConnectEngine::new(config.connect.clone(), probes, &mut sink, stop)?.run()?;
    progress.finish();
    stats.hosts_total = config.hosts.len();
    stats.ports_total = order.len();
    let report = reporter.finish(stats.clone()).map_err(write_err)?;
    Ok(Outcome { stats, report })
}
