//! Scan orchestration: chooses the technique (raw SYN when raw channels can be opened, else
//! connect with a one-line notice), runs the raw engines ([`raw`]) and then the connect
//! engine for whatever is left, wires results to the reporter, the progress line and the
//! resume file ([`sink`]), and finishes the report (also after Ctrl-C or `--host-timeout`).

pub mod config;
mod discovery;
pub mod identity;
mod raw;
mod sink;
pub mod source_port;

use crate::connect;
use crate::engine;
use crate::error::{Error, Result};
use crate::event::{PortResult, Proto, Reason, ResultSink, ScanStats};
use crate::output::progress::Progress;
use crate::output::{self, Report, Reporter, RunInfo};
use crate::privilege;
use crate::resume::{Checkpoint, Finished};
use crate::target::ScanOrder;
pub use config::{ScanConfig, ScanType};
use sink::Sink;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

/// What a finished (or interrupted) scan leaves.
pub struct Outcome {
    /// The counters.
    pub stats: ScanStats,
    /// The per-host report (`None` for dry runs).
    pub report: Option<Report>,
}

/// Whether the raw engines can run: `Ok(true)` raw, `Ok(false)` connect (after the notice
/// when the user did not ask for connect), `Err` when `-sS` was asked for without privilege.
fn technique(config: &ScanConfig) -> Result<bool> {
    let explicit_syn = config.scan_type == Some(ScanType::Syn);
    if config.scan_type == Some(ScanType::Connect) {
        return Ok(false);
    }
    if privilege::raw_permitted() {
        return Ok(true);
    }
    if explicit_syn {
        return Err(Error::input(format!(
            "cannot run -sS: {}",
            privilege::HOW_TO_ENABLE
        )));
    }
    let instead = match (config.scans_tcp(), config.scans_udp()) {
        (true, true) => "a connect() scan for TCP and connected UDP sockets for UDP",
        (false, true) => "a scan with connected UDP sockets",
        _ => "a connect() scan",
    };
    eprintln!(
        "synscan: no raw-socket privilege, falling back to {instead} ({})",
        privilege::HOW_TO_ENABLE
    );
    Ok(false)
}

/// The source addresses the kernel picks for `hosts` (a `connect()` scan's), at most a few;
/// empty when the routes cannot be read.
fn kernel_sources(hosts: &crate::target::HostSet) -> Vec<std::net::IpAddr> {
    // The first few ranges of each family: one route lookup each, however long the list.
    let first = |v6: bool| hosts.ranges(v6).iter().take(8).copied().collect::<Vec<_>>();
    let Ok(some) = crate::target::HostSet::new(first(false), first(true), vec![], vec![]) else {
        return Vec::new();
    };
    let mut v: Vec<std::net::IpAddr> = crate::route::pieces(&some)
        .map(|pieces| {
            pieces
                .into_iter()
                .filter_map(|p| p.route.ok().map(|d| d.src))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.dedup();
    v.truncate(8);
    v
}

/// Resume stages per protocol pass: pass `p`'s engine `k` is stage `p × PASS_STAGES + k`.
const PASS_STAGES: u32 = 1 << 16;

/// Runs the scan `config` describes until it ends or `stop` is set.
pub fn run(mut config: ScanConfig, stop: &AtomicBool) -> Result<Outcome> {
    let started = std::time::Instant::now();
    // Every host starts with the scan, so --host-timeout is one deadline for all of them.
    let deadline = config.host_timeout.map(|d| started + d);
    config.connect.deadline = deadline;
    if config.dry_run {
        return dry_run(&config);
    }
    if config.pcap.is_some() && config.scan_type == Some(ScanType::Connect) {
        return Err(Error::input(
            "--pcap records the raw probes of a SYN scan: it cannot record a connect() scan (-sT)",
        ));
    }
    if config.pcap.is_some() && !privilege::raw_permitted() {
        return Err(Error::input(format!(
            "--pcap records raw probes: {}",
            privilege::HOW_TO_ENABLE
        )));
    }
    let raw = technique(&config)?;
    let resumed = config.resume.as_ref().map(|(_, state)| state.clone());
    if let Some(state) = &resumed
        && config
            .passes
            .get((state.stage / PASS_STAGES) as usize)
            .is_none()
    {
        return Err(Error::input(
            "resume file: its stage is past the scan's protocols",
        ));
    }
    let opened = if raw { Some(raw::open(&config)?) } else { None };
    let recorder = if raw { raw::recorder(&config)? } else { None };
    let only = config.discovery.only;
    let run = RunInfo {
        args: config.command_line.clone(),
        start: SystemTime::now(),
        scans: if only {
            Vec::new()
        } else {
            config
                .passes
                .iter()
                .map(|p| output::ScanInfo {
                    scan_type: match (p.proto, raw) {
                        (Proto::Udp, _) => "udp",
                        (Proto::Tcp, true) => ScanType::Syn.as_str(),
                        (Proto::Tcp, false) => ScanType::Connect.as_str(),
                    },
                    proto: p.proto,
                    ports_expr: p.ports.compact(),
                    count: p.ports.len() as u64,
                })
                .collect()
        },
        ports_per_host: if only { 0 } else { config.ports_per_host() },
        hosts_total: config.hosts.len(),
        resumed: config.resume.is_some(),
        verbose: config.verbose,
        debug: config.debug,
        open_only: config.open_only,
        discovery: config.discovery.enabled,
        ping_only: only,
        banners: config.banners.is_some(),
        identity: identity::identity(
            &config,
            match &opened {
                Some(o) => o.sources(),
                None => kernel_sources(&config.hosts),
            },
        ),
        merged: false,
    };
    let run_scan_id = run.identity.scan_id.clone();
    let outputs = std::mem::take(&mut config.outputs);
    let writers = outputs
        .into_iter()
        .map(|(format, dest)| output::writer(format, dest.into_writer()))
        .collect();
    let mut reporter = Reporter::new(writers, run, config.states, config.hosts.clone());
    let write_err = |e| Error::io("write results", e);
    reporter.begin().map_err(write_err)?;
    let progress = Progress::new(0, config.progress);
    let config = &config;
    let discovery_order_len = config.order(&config.hosts, &discovery::ports()).len();
    let mut walk = Walk {
        sink: Sink {
            hosts: crate::target::HostSet::default(),
            reporter: &mut reporter,
            progress: &progress,
            done_before: 0,
            open_before: 0,
            finished: Finished::default(),
            tracking: false,
            coverage: None,
            order: config.port_order(&crate::target::HostSet::default(), &config.passes[0].ports),
            ports: config.passes[0].ports.clone(),
            config,
            checkpoint: Checkpoint::new(config.resume_file.clone(), config.checkpoint_every),
            recorder: recorder.clone(),
            scan_id: run_scan_id.clone(),
            stage: 0,
            group: None,
            live: None,
            pairs_progress: !config.discovery.enabled,
            stop,
            banners: match &config.banners {
                Some(o) => {
                    Some(crate::banner::grabber::Grabber::new(o.clone()).map_err(Error::input)?)
                }
                None => None,
            },
        },
        ports: None,
        stats: ScanStats::default(),
        coverages: Vec::new(),
        deadline,
        recorder: recorder.clone(),
        pace: None,
        last_order: None,
        unfinished: 0,
        ports_total: 0,
        stop,
    };
    let mut discovered = crate::event::DiscoveryStats {
        probed: discovery_order_len,
        ..Default::default()
    };
    if !config.discovery.enabled {
        // Every target, as given.
        let hosts = config.hosts.clone();
        if let Some(state) = &resumed {
            check_resume_window(config, state, &hosts)?;
        }
        walk.ports = opened.map(raw::Opened::ports);
        walk.scan(&hosts, false, resumed.as_ref())?;
    } else if let Some(mut opened) = opened {
        // Raw discovery on a thread of its own; each finished group of hosts goes to the
        // port scan as discovery walks on.
        let pace = config.connect.rate.map(crate::rate::SharedLimiter::new);
        walk.pace = pace.clone();
        let from = resumed.as_ref().and_then(|s| s.group).unwrap_or((0, 0));
        let engines = discovery::engines(
            config,
            &mut opened,
            recorder,
            deadline,
            pace,
            from,
            walk.sink.reporter,
        )?;
        walk.ports = (!only).then(|| opened.ports());
        progress.restart(discovery_order_len);
        streamed(
            config,
            engines,
            &mut walk,
            &mut discovered,
            resumed.as_ref(),
            from,
        )?;
    } else {
        // connect(): discovery first, then the port scan of the hosts found up.
        progress.restart(discovery_order_len);
        let found = discovery::run_connect(config, walk.sink.reporter, &progress, stop)?;
        discovered.up = found.up;
        discovered.down = found.down;
        discovered.probes_sent = found.ran.probes_sent;
        walk.stats.probes_sent += found.ran.probes_sent;
        walk.stats.interrupted |= found.ran.interrupted;
        walk.stats.timed_out |= found.ran.timed_out;
        if let Some(state) = &resumed {
            if state
                .live
                .is_some_and(|l| l != crate::resume::fingerprint(&found.live))
            {
                return Err(lost_place(config));
            }
            check_resume_window(config, state, &found.live)?;
        }
        if !only && !walk.stats.interrupted && !walk.stats.timed_out {
            progress.restart(
                config
                    .passes
                    .iter()
                    .map(|p| config.port_order(&found.live, &p.ports).len())
                    .sum(),
            );
            walk.sink.pairs_progress = true;
            walk.scan(&found.live, true, resumed.as_ref())?;
        }
    }
    let Walk {
        mut sink,
        mut stats,
        coverages,
        last_order,
        unfinished,
        ports_total,
        ..
    } = walk;
    stats.ports_total = ports_total;
    // Banners still being grabbed are reported before the resume state is saved; an
    // interrupted run does not start new grabs.
    if stats.interrupted {
        sink.cancel_banners();
    }
    sink.settle().map_err(write_err)?;
    if config.discovery.enabled {
        discovered.ping_only = only;
        discovered.spared = if only {
            0
        } else {
            discovered.down * config.ports_per_host()
        };
        stats.discovery = Some(discovered);
    }
    progress.finish();
    // A finished scan's resume file goes only once its outputs are complete: a run killed in
    // between is resumed (with nothing left to probe), not started over.
    let mut finished_checkpoint = None;
    if stats.interrupted && only {
        eprintln!("synscan: interrupted");
    } else if stats.interrupted {
        let path = sink.checkpoint.path().display().to_string();
        match sink.save(false) {
            Ok(()) => eprintln!(
                "synscan: interrupted; finish the scan with: synscan --resume {}",
                shell_word(&path)
            ),
            Err(e) => eprintln!("synscan: interrupted; cannot write resume file '{path}': {e}"),
        }
    } else {
        finished_checkpoint = Some(sink.checkpoint.clone());
    }
    stats.elapsed = started.elapsed();
    stats.hosts_total = config.hosts.len();
    stats.ports_source = config.ports_source.clone().filter(|_| !only);
    if stats.timed_out {
        stats.hosts_timed_out = if config.discovery.enabled {
            unfinished
        } else {
            // The engine that timed out and those after it.
            let engines = raw.then_some(coverages.as_slice());
            let order = last_order.unwrap_or_else(|| sink.order.clone());
            let mut n = unfinished_hosts(&sink.hosts, &order, &sink.finished, engines);
            // A later protocol's pass never ran: every host with a pair in it is unfinished.
            let pass = (sink.stage / PASS_STAGES) as usize;
            if let Some(next) = config.passes.get(pass + 1) {
                let next = config.port_order(&sink.hosts, &next.ports);
                let all = if config.shard.count == 1 {
                    sink.hosts.len()
                } else {
                    unfinished_hosts(&sink.hosts, &next, &Finished::default(), None)
                };
                n = n.max(all);
            }
            n
        };
        eprintln!(
            "synscan: --host-timeout reached: {} of {} hosts not finished (their results so far are kept)",
            stats.hosts_timed_out, stats.hosts_total
        );
    }
    drop(sink);
    if config.verbose > 0 && !stats.interrupted && !config.open_only && !config.discovery.enabled {
        reporter.show_silent(true);
    }
    let report = reporter.finish(stats.clone()).map_err(write_err)?;
    if let Some(c) = finished_checkpoint {
        c.remove(config.resume.as_ref().map(|(f, _)| f.as_path()));
    }
    if stats.rate_limited > 0 {
        eprintln!(
            "synscan: note: {}",
            output::limit_note(&stats).trim_start_matches("; ")
        );
    }
    let proxies = report.syn_proxies();
    if !proxies.is_empty() {
        let list: Vec<String> = proxies.iter().map(|ip| ip.to_string()).collect();
        eprintln!(
            "synscan: warning: SYN proxy suspected at {}: nearly every port answered SYN-ACK",
            list.join(", ")
        );
    }
    Ok(Outcome {
        stats,
        report: Some(report),
    })
}

/// A resume file whose place is in a group of live hosts discovery no longer finds.
fn lost_place(config: &ScanConfig) -> Error {
    Error::input(format!(
        "resume file '{}': host discovery found other hosts up than the interrupted run did, so its place in the scan is lost: run the scan again",
        config
            .resume
            .as_ref()
            .map_or(String::new(), |(f, _)| f.display().to_string())
    ))
}

/// The resumed position must lie inside the order of the hosts it walks (with a segment in
/// flight, four times over for slack).
fn check_resume_window(
    config: &ScanConfig,
    state: &crate::resume::ResumeState,
    hosts: &crate::target::HostSet,
) -> Result<()> {
    let pass = config
        .passes
        .get((state.stage / PASS_STAGES) as usize)
        .ok_or_else(|| Error::input("resume file: its stage is past the scan's protocols"))?;
    state
        .check_window(
            config.port_order(hosts, &pass.ports).len(),
            4 * engine::SEGMENT,
        )
        .map_err(Error::input)
}

/// The port scan's state across the host sets it walks (every target, or each group of live
/// hosts discovery finds).
struct Walk<'a, 'r> {
    sink: Sink<'r>,
    /// The raw engines' channels (`None`: connect).
    ports: Option<raw::PortSide>,
    stats: ScanStats,
    /// The coverage of the running pass's engines not yet finished (for `--host-timeout`'s
    /// count).
    coverages: Vec<engine::Coverage>,
    deadline: Option<std::time::Instant>,
    recorder: Option<crate::capture::Recorder>,
    /// The `--rate` budget shared with discovery.
    pace: Option<crate::rate::SharedLimiter>,
    /// The order of the pass that ran last.
    last_order: Option<ScanOrder>,
    /// With discovery, after `--host-timeout`: hosts left unfinished.
    unfinished: u64,
    /// Pairs of the host sets walked.
    ports_total: u64,
    stop: &'a AtomicBool,
}

impl Walk<'_, '_> {
    /// Scans every pass's ports on `hosts` (all targets, or live hosts when `narrowed`),
    /// from where `resumed` says when it is this walk's state.
    fn scan(
        &mut self,
        hosts: &crate::target::HostSet,
        narrowed: bool,
        resumed: Option<&crate::resume::ResumeState>,
    ) -> Result<()> {
        let config = self.sink.config;
        let write_err = |e| Error::io("write results", e);
        self.sink.hosts = hosts.clone();
        self.sink.live = narrowed.then(|| crate::resume::fingerprint(hosts));
        let finished_for = |k: u32| match resumed {
            Some(state) if state.stage == k => Finished::new(state.position, &state.done),
            _ => Finished::default(),
        };
        for (p, pass) in config.passes.iter().enumerate() {
            let base = p as u32 * PASS_STAGES;
            if self.stats.interrupted || self.stats.timed_out {
                break;
            }
            // Passes an interrupted run finished are not run again.
            if resumed.is_some_and(|state| state.stage >= base + PASS_STAGES) {
                continue;
            }
            let order = config.port_order(hosts, &pass.ports);
            self.ports_total += order.len();
            self.sink.order = order.clone();
            self.sink.ports = pass.ports.clone();
            self.last_order = Some(order.clone());
            let fresh = resumed.is_none_or(|state| state.stage < base);
            if let Some(side) = &mut self.ports {
                let at = |k: usize| -> Option<raw::ResumeAt> {
                    let stage = base + k as u32;
                    match resumed {
                        // Engines an interrupted run finished are not run again.
                        Some(state) if stage < state.stage => None,
                        Some(state) if state.stage == stage => {
                            Some((state.position, state.done.clone()))
                        }
                        _ => Some((0, Vec::new())),
                    }
                };
                let engines = side.engines(
                    config,
                    p,
                    hosts,
                    narrowed,
                    self.deadline,
                    self.recorder.as_ref(),
                    self.pace.as_ref(),
                    &at,
                )?;
                self.coverages = engines.iter().map(|e| e.scan.coverage()).collect();
                // Reported before the pass's first checkpoint: a resumed run has them all.
                if fresh && !narrowed {
                    let unroutable = side.unroutable.clone();
                    report_unroutable(
                        config,
                        hosts,
                        pass,
                        &unroutable,
                        &mut self.sink,
                        &mut self.stats,
                    )
                    .map_err(write_err)?;
                }
                for e in engines {
                    let k = base + e.index as u32;
                    if self.stats.interrupted || self.stats.timed_out {
                        break;
                    }
                    self.sink
                        .begin_stage(k, finished_for(k), Some(e.scan.coverage()))
                        .map_err(write_err)?;
                    let group = e.group;
                    let (s, channels) = e.scan.run_keep(&mut self.sink, self.stop)?;
                    side.give_back(p, group, channels);
                    add(&mut self.stats, &s);
                    if !s.timed_out && !self.coverages.is_empty() {
                        self.coverages.remove(0);
                    }
                    self.sink.done_before = self.stats.ports_done;
                    self.sink.open_before = self.stats.open;
                }
            } else {
                let ports = &pass.ports;
                // Pairs an interrupted run reported are skipped (the order is the same).
                let before = finished_for(base);
                let from = before.start();
                self.sink
                    .begin_stage(base, before.clone(), None)
                    .map_err(write_err)?;
                let pair_at = |k: u64| {
                    let pos = from + k;
                    if before.contains(pos) {
                        return None;
                    }
                    let (h, p) = order.pair_at_position(pos);
                    Some((hosts.get(h)?, ports.get(p)?))
                };
                let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
                let count = order.len().saturating_sub(from);
                let s = match pass.proto {
                    Proto::Tcp => connect::run_parallel(
                        &config.connect,
                        count,
                        pair_at,
                        workers,
                        &mut self.sink,
                        self.stop,
                    )?,
                    Proto::Udp => connect::udp::run(
                        &config.connect,
                        &config.udp_payloads,
                        count,
                        pair_at,
                        &mut self.sink,
                        self.stop,
                    )?,
                };
                add(&mut self.stats, &s);
                self.sink.done_before = self.stats.ports_done;
                self.sink.open_before = self.stats.open;
            }
        }
        Ok(())
    }
}

/// Raw discovery on a thread beside the port scan: host records go to the reporter as they
/// come, and each finished group's live hosts are port-scanned while discovery walks the
/// next groups. A resumed run starts at the group `from` that was being scanned.
fn streamed(
    config: &ScanConfig,
    engines: Vec<discovery::Engine>,
    walk: &mut Walk,
    discovered: &mut crate::event::DiscoveryStats,
    resumed: Option<&crate::resume::ResumeState>,
    from: (u32, u64),
) -> Result<()> {
    use std::collections::{BTreeMap, BTreeSet, VecDeque};
    use std::sync::atomic::Ordering;
    use std::sync::mpsc;
    let only = config.discovery.only;
    let list_down = config.verbose > 0;
    let tally = discovery::Tally::default();
    let progress = walk.sink.progress;
    let (feed_tx, feed) = mpsc::channel::<discovery::Feed>();
    // Stops discovery: on Ctrl-C, at the end of a failed port scan, or on an error here.
    let halt = AtomicBool::new(false);
    // Live hosts of each group not yet finished, groups finished and waiting for the port
    // scan, the groups closed, and hosts that came after their group closed (none should:
    // the engine hands a segment's results over before announcing its end).
    let mut pending: BTreeMap<(u32, u64), Vec<IpAddr>> = BTreeMap::new();
    let mut queue: VecDeque<((u32, u64), Vec<IpAddr>)> = VecDeque::new();
    let mut closed: BTreeSet<(u32, u64)> = BTreeSet::new();
    let mut late: Vec<IpAddr> = Vec::new();
    let ran = std::thread::scope(|scope| -> Result<discovery::Ran> {
        let (stop, counted) = (&halt, &tally);
        let thread = std::thread::Builder::new()
            .name("synscan-discovery".into())
            .spawn_scoped(scope, move || {
                discovery::run_engines(
                    engines, config, progress, list_down, &feed_tx, counted, stop,
                )
            })
            .map_err(|e| Error::io("spawn discovery thread", e))?;
        let mut first = true;
        let write_err = |e| Error::io("write results", e);
        let result = (|| -> Result<()> {
            loop {
                if walk.stop.load(Ordering::Relaxed) {
                    // Ctrl-C: no group starts; the resume file names the first not scanned.
                    walk.stats.interrupted = true;
                }
                if walk.stats.interrupted || walk.stats.timed_out {
                    halt.store(true, Ordering::Relaxed);
                }
                let ended = match feed.recv_timeout(std::time::Duration::from_millis(50)) {
                    Ok(discovery::Feed::Host(h, group)) => {
                        if h.up {
                            discovered.up += 1;
                            if list_down {
                                progress.println(&format!(
                                    "Discovered host {} up ({})",
                                    h.ip, h.reason
                                ));
                            }
                            if !only {
                                if closed.contains(&group) {
                                    late.push(h.ip);
                                } else {
                                    pending.entry(group).or_default().push(h.ip);
                                }
                            }
                        }
                        walk.sink.reporter.host(h, list_down).map_err(write_err)?;
                        false
                    }
                    Ok(discovery::Feed::Group(e, g)) => {
                        closed.insert((e, g));
                        let mut ips = pending.remove(&(e, g)).unwrap_or_default();
                        ips.append(&mut late);
                        queue.push_back(((e, g), ips));
                        false
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        walk.sink.reporter.flush().map_err(write_err)?;
                        false
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => true,
                };
                progress.update(
                    tally.resolved.load(Ordering::Relaxed),
                    walk.stats.open + discovered.up,
                );
                while let Some(((e, g), ips)) = queue.pop_front() {
                    // The group a resumed run was scanning continues where it stopped.
                    let resume_here = if first && (e, g) == from {
                        resumed
                    } else {
                        None
                    };
                    first = false;
                    if walk.stats.interrupted || walk.stats.timed_out {
                        walk.unfinished += ips.len() as u64;
                        continue;
                    }
                    if only || ips.is_empty() {
                        walk.sink.between_groups((e, g + 1)).map_err(write_err)?;
                        continue;
                    }
                    let live = discovery::live_set(config, ips);
                    if let Some(state) = resume_here {
                        if state
                            .live
                            .is_some_and(|l| l != crate::resume::fingerprint(&live))
                        {
                            return Err(lost_place(config));
                        }
                        check_resume_window(config, state, &live)?;
                    }
                    walk.sink.group = Some((e, g));
                    let n = live.len();
                    walk.scan(&live, true, resume_here)?;
                    if walk.stats.timed_out {
                        walk.unfinished += n;
                    } else if !walk.stats.interrupted {
                        walk.sink.between_groups((e, g + 1)).map_err(write_err)?;
                    }
                }
                if ended {
                    return Ok(());
                }
            }
        })();
        if result.is_err() {
            halt.store(true, Ordering::Relaxed);
        }
        let joined = thread.join();
        result?;
        joined.map_err(|_| Error::Runtime("discovery thread panicked".into()))?
    })?;
    // Hosts found up after the last group closed (an engine stopped early, or a late
    // answer): scanned unless the scan is stopping.
    if !only && !late.is_empty() && !walk.stats.interrupted && !walk.stats.timed_out {
        let live = discovery::live_set(config, std::mem::take(&mut late));
        walk.scan(&live, true, None)?;
    }
    discovered.probes_sent = ran.probes_sent;
    discovered.down = tally.down.load(Ordering::Relaxed);
    walk.stats.probes_sent += ran.probes_sent;
    walk.stats.interrupted |= ran.interrupted && !ran.timed_out;
    walk.stats.timed_out |= ran.timed_out;
    if walk.stats.timed_out {
        // Hosts discovery never decided on, and hosts up whose group never closed.
        walk.unfinished += discovered
            .probed
            .saturating_sub(tally.resolved.load(Ordering::Relaxed));
        walk.unfinished += pending.values().map(|v| v.len() as u64).sum::<u64>();
        walk.unfinished += late.len() as u64;
    }
    Ok(())
}

/// Reports every pair of the targets the kernel will not route (this shard's, not yet
/// reported) as filtered with the kernel's reason.
fn report_unroutable(
    config: &ScanConfig,
    hosts: &crate::target::HostSet,
    pass: &config::Pass,
    unroutable: &[(crate::route::Piece, Reason)],
    sink: &mut Sink,
    stats: &mut ScanStats,
) -> io::Result<()> {
    if unroutable.is_empty() {
        return Ok(());
    }
    let reason_of = |ip: IpAddr| {
        let x = crate::route::to_u128(ip);
        unroutable.iter().find_map(|(p, r)| {
            (p.first.is_ipv6() == ip.is_ipv6()
                && crate::route::to_u128(p.first) <= x
                && x <= crate::route::to_u128(p.last))
            .then_some(*r)
        })
    };
    sink.tracking = false;
    let mut report = |ip: IpAddr, port: u16, reason: Reason| -> io::Result<()> {
        stats.ports_done += 1;
        let mut r = PortResult::filtered(ip, port, reason);
        r.proto = pass.proto;
        sink.result(r)
    };
    if config.shard.count == 1 {
        for (p, reason) in unroutable {
            let (first, last) = (
                crate::route::to_u128(p.first),
                crate::route::to_u128(p.last),
            );
            let mut x = first;
            loop {
                let ip = crate::route::from_u128(x, p.first);
                for &port in pass.ports.as_slice() {
                    report(ip, port, *reason)?;
                }
                if x >= last {
                    break;
                }
                x += 1;
            }
        }
    } else {
        // Only this shard's pairs: walk its part of the order.
        let order = config.port_order(hosts, &pass.ports);
        for (ip, port) in order.iter(hosts, &pass.ports, 0) {
            if let Some(reason) = reason_of(ip) {
                report(ip, port, reason)?;
            }
        }
    }
    Ok(())
}

/// Hosts of this shard with a pair not reported: what `--host-timeout` left unfinished.
/// Positions before `finished`'s start, or in it, are reported; the others are unfinished
/// when the engine that timed out or a later one probes them (`engines`: `None` for
/// connect, which probes them all).
fn unfinished_hosts(
    hosts: &crate::target::HostSet,
    order: &ScanOrder,
    finished: &Finished,
    engines: Option<&[crate::engine::Coverage]>,
) -> u64 {
    let mut seen = crate::bitmap::Bitmap::new(hosts.len());
    let mut count = 0;
    for pos in finished.start()..order.len() {
        if finished.contains(pos) {
            continue;
        }
        if let Some(e) = engines
            && !e.iter().any(|c| c.probes(pos))
        {
            continue;
        }
        let (h, _) = order.pair_at_position(pos);
        if seen.set(h) {
            count += 1;
        }
    }
    count
}

/// `s` quoted for a shell when it needs it.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn add(total: &mut ScanStats, s: &ScanStats) {
    total.ports_done += s.ports_done;
    total.probes_sent += s.probes_sent;
    total.open += s.open;
    total.elapsed += s.elapsed;
    total.interrupted |= s.interrupted;
    total.timed_out |= s.timed_out;
    total.slowed_to = match (total.slowed_to, s.slowed_to) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    total.rate_limited += s.rate_limited;
    total.limited_rate = match (total.limited_rate, s.limited_rate) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    total.kernel_drops = match (total.kernel_drops, s.kernel_drops) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
}

/// `--dry-run`: prints the probes a SYN scan would send and sends nothing.
fn dry_run(config: &ScanConfig) -> Result<Outcome> {
    let a = &config.syn;
    let hosts = &config.hosts;
    // The source address of each family: -S, the named interface's first, or the kernel's
    // decision for each run of targets.
    let all = pnet::datalink::interfaces();
    let given = |v6: bool| -> Result<Option<IpAddr>> {
        if let Some(s) = a.source_ip.filter(|s| s.is_ipv6() == v6) {
            return Ok(Some(s));
        }
        match &a.interface {
            Some(_) if a.source_ip.is_none() => Ok(Some(
                crate::route::Path::given(&all, a.interface.as_deref(), None, v6)?.src,
            )),
            _ => Ok(None),
        }
    };
    // Only for the families that have targets: `-e` names an interface that need not have
    // an address of the other family.
    let mut forced = [None, None];
    for v6 in [false, true] {
        if !hosts.ranges(v6).is_empty() {
            forced[usize::from(v6)] = given(v6)?;
        }
    }
    let need_routes = [false, true]
        .into_iter()
        .any(|v6| !hosts.ranges(v6).is_empty() && forced[usize::from(v6)].is_none());
    let pieces = if need_routes {
        crate::route::pieces(hosts)?
    } else {
        Vec::new()
    };
    let src_of = |ip: IpAddr| -> Option<IpAddr> {
        if let Some(s) = forced[usize::from(ip.is_ipv6())] {
            return Some(s);
        }
        let x = crate::route::to_u128(ip);
        pieces.iter().find_map(|p| {
            (p.first.is_ipv6() == ip.is_ipv6()
                && crate::route::to_u128(p.first) <= x
                && x <= crate::route::to_u128(p.last))
            .then(|| p.route.as_ref().ok().map(|d| d.src))
            .flatten()
        })
    };
    let routable = forced.iter().any(Option::is_some) || pieces.iter().any(|p| p.route.is_ok());
    if !routable {
        return Err(Error::input(
            "no route to any target: give the source address with -S",
        ));
    }
    let sport = a
        .source_port
        .unwrap_or_else(|| source_port::default_sport(config.seed));
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut n = 0;
    if config.discovery.only {
        // -sn: the pings, one line per host (the cookie keys every ping of the host).
        let ports = discovery::ports();
        let order = config.order(hosts, &ports);
        for (dst, _) in order.iter(hosts, &ports, 0) {
            let Some(s) = src_of(dst) else {
                continue;
            };
            let c = config.cookie.value(s, dst, sport, 0);
            writeln!(out, "{dst} ping sport={sport} cookie={c}")
                .map_err(|e| Error::io("write dry run", e))?;
            n += 1;
        }
    }
    for pass in config.passes.iter().filter(|_| !config.discovery.only) {
        let order = config.order(hosts, &pass.ports);
        n += engine::dry_run(
            hosts,
            &pass.ports,
            &order,
            &src_of,
            sport,
            &config.cookie,
            pass.proto,
            &mut out,
        )
        .map_err(|e| Error::io("write dry run", e))?;
    }
    Ok(Outcome {
        stats: ScanStats {
            probes_sent: 0,
            ports_total: n,
            ..ScanStats::default()
        },
        report: None,
    })
}
