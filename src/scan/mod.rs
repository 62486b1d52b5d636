//! Scan orchestration: chooses the technique (raw SYN when raw channels can be opened, else
//! connect with a one-line notice), runs the raw engines ([`raw`]) and then the connect
//! engine for whatever is left, wires results to the reporter, the progress line and the
//! resume file ([`sink`]), and finishes the report (also after Ctrl-C or `--host-timeout`).

pub mod config;
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
use std::io;
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
    if let Some((_, state)) = &config.resume {
        let pass = config
            .passes
            .get((state.stage / PASS_STAGES) as usize)
            .ok_or_else(|| Error::input("resume file: its stage is past the scan's protocols"))?;
        // A segment in flight, four times over for slack.
        state
            .check_window(
                config.order(&config.hosts, &pass.ports).len(),
                4 * engine::SEGMENT,
            )
            .map_err(Error::input)?;
    }
    let raw_side = if technique(&config)? {
        Some(raw::prepare(&config, &config.hosts, deadline, PASS_STAGES)?)
    } else {
        None
    };
    let raw = raw_side.is_some();
    let orders: Vec<ScanOrder> = config
        .passes
        .iter()
        .map(|p| config.order(&config.hosts, &p.ports))
        .collect();
    let total: u64 = orders.iter().map(ScanOrder::len).sum();
    let run = RunInfo {
        args: config.command_line.clone(),
        start: SystemTime::now(),
        scans: config
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
            .collect(),
        ports_per_host: config.ports_per_host(),
        hosts_total: config.hosts.len(),
        resumed: config.resume.is_some(),
        verbose: config.verbose,
        debug: config.debug,
        open_only: config.open_only,
    };
    let outputs = std::mem::take(&mut config.outputs);
    let writers = outputs
        .into_iter()
        .map(|(format, dest)| output::writer(format, dest.into_writer()))
        .collect();
    let mut reporter = Reporter::new(writers, run, config.states, config.hosts.clone());
    let progress = Progress::new(total, config.progress);
    let write_err = |e| Error::io("write results", e);
    reporter.begin().map_err(write_err)?;
    let resumed = config.resume.as_ref().map(|(_, state)| state);
    let config = &config;
    let mut sink = Sink {
        reporter: &mut reporter,
        progress: &progress,
        done_before: 0,
        open_before: 0,
        finished: Finished::default(),
        tracking: false,
        coverage: None,
        order: orders[0].clone(),
        ports: config.passes[0].ports.clone(),
        config,
        checkpoint: Checkpoint::new(config.resume_file.clone(), config.checkpoint_every),
        stage: 0,
    };
    // Where stage `k` starts: a resumed run's saved position for the stage that was running.
    let finished_for = |k: u32| match resumed {
        Some(state) if state.stage == k => Finished::new(state.position, &state.done),
        _ => Finished::default(),
    };
    let mut stats = ScanStats::default();
    let mut coverages = Vec::new();
    let (mut engine_passes, unroutable) = match raw_side {
        Some(side) => (side.passes, side.unroutable),
        None => (Vec::new(), Vec::new()),
    };
    for (p, pass) in config.passes.iter().enumerate() {
        let base = p as u32 * PASS_STAGES;
        if stats.interrupted || stats.timed_out {
            break;
        }
        let engines = if raw {
            std::mem::take(&mut engine_passes[p])
        } else {
            Vec::new()
        };
        // Passes an interrupted run finished are not run again.
        if resumed.is_some_and(|state| state.stage >= base + PASS_STAGES) {
            continue;
        }
        sink.order = orders[p].clone();
        sink.ports = pass.ports.clone();
        let fresh = resumed.is_none_or(|state| state.stage < base);
        if raw {
            coverages = engines.iter().map(|e| e.scan.coverage()).collect();
            // Reported before the pass's first checkpoint: a resumed run has them all.
            if fresh {
                report_unroutable(config, pass, &unroutable, &mut sink, &mut stats)
                    .map_err(write_err)?;
            }
            for (k, prepared) in engines.into_iter().enumerate() {
                let k = base + k as u32;
                if stats.interrupted || stats.timed_out {
                    break;
                }
                // Engines an interrupted run finished are not run again.
                if resumed.is_some_and(|state| k < state.stage) {
                    continue;
                }
                sink.begin_stage(k, finished_for(k), Some(prepared.scan.coverage()));
                let s = prepared.scan.run(&mut sink, stop)?;
                add(&mut stats, &s);
                sink.done_before = stats.ports_done;
                sink.open_before = stats.open;
            }
        } else {
            let hosts = &config.hosts;
            let order = &orders[p];
            let ports = &pass.ports;
            // Pairs an interrupted run reported are skipped (the order is the same).
            let before = finished_for(base);
            let from = before.start();
            sink.begin_stage(base, before.clone(), None);
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
                    &mut sink,
                    stop,
                )?,
                Proto::Udp => connect::udp::run(
                    &config.connect,
                    &config.udp_payloads,
                    count,
                    pair_at,
                    &mut sink,
                    stop,
                )?,
            };
            add(&mut stats, &s);
            sink.done_before = stats.ports_done;
            sink.open_before = stats.open;
        }
    }
    progress.finish();
    if stats.interrupted {
        let path = sink.checkpoint.path().display().to_string();
        match sink.save(false) {
            Ok(()) => eprintln!(
                "synscan: interrupted; finish the scan with: synscan --resume {}",
                shell_word(&path)
            ),
            Err(e) => eprintln!("synscan: interrupted; cannot write resume file '{path}': {e}"),
        }
    } else {
        sink.checkpoint
            .remove(config.resume.as_ref().map(|(f, _)| f.as_path()));
    }
    stats.elapsed = started.elapsed();
    stats.hosts_total = config.hosts.len();
    stats.ports_total = total;
    stats.ports_source = config.ports_source.clone();
    if stats.timed_out {
        // The connect engine probes every position; raw engines from the one that stopped on.
        let k = (sink.stage % PASS_STAGES) as usize;
        let engines = raw.then(|| coverages.get(k..).unwrap_or(&[]));
        stats.hosts_timed_out = unfinished_hosts(config, &sink.order, &sink.finished, engines);
        // A later protocol's pass never ran: every host with a pair in it is unfinished.
        let pass = (sink.stage / PASS_STAGES) as usize;
        if let Some(next) = orders.get(pass + 1) {
            let all = if config.shard.count == 1 {
                config.hosts.len()
            } else {
                unfinished_hosts(config, next, &Finished::default(), None)
            };
            stats.hosts_timed_out = stats.hosts_timed_out.max(all);
        }
        eprintln!(
            "synscan: --host-timeout reached: {} of {} hosts not finished (their results so far are kept)",
            stats.hosts_timed_out, stats.hosts_total
        );
    }
    if config.verbose > 0 && !stats.interrupted && !config.open_only {
        reporter.show_silent(true);
    }
    let report = reporter.finish(stats.clone()).map_err(write_err)?;
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

/// Reports every pair of the targets the kernel will not route (this shard's, not yet
/// reported) as filtered with the kernel's reason.
fn report_unroutable(
    config: &ScanConfig,
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
        let order = config.order(&config.hosts, &pass.ports);
        for (ip, port) in order.iter(&config.hosts, &pass.ports, 0) {
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
    config: &ScanConfig,
    order: &ScanOrder,
    finished: &Finished,
    engines: Option<&[crate::engine::Coverage]>,
) -> u64 {
    let mut seen = crate::bitmap::Bitmap::new(config.hosts.len());
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

/// Where raw engine `stage` starts, and what past it is done: a resumed run's saved state for
/// the engine that was running, else nothing.
fn resume_start(config: &ScanConfig, stage: u32) -> (u64, Vec<(u64, u64)>) {
    match &config.resume {
        Some((_, state)) if state.stage == stage => (state.position, state.done.clone()),
        _ => (0, Vec::new()),
    }
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
    for pass in &config.passes {
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
