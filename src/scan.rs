//! Scan orchestration: chooses the technique (SYN when raw channels can be opened, else
//! connect with a one-line notice), takes and drops privileges around opening the channels,
//! wires the engine's results to the reporter and the progress line, and finishes the report
//! (also after Ctrl-C). IPv6 targets always go through connect().

use crate::cli::args::ScanType;
use crate::cli::config::ScanConfig;
use crate::cli::config::SynArgs;
use crate::connect;
use crate::engine::{self, SynJob, SynOptions, SynScan};
use crate::error::{Error, Result};
use crate::event::{PortResult, Reason, ResultSink, ScanStats};
use crate::output::progress::Progress;
use crate::output::{self, Report, Reporter, RunInfo};
use crate::privilege;
use crate::resume::{Checkpoint, DoneSet, ResumeState};
use crate::route::{LinkKind, Path, Route, RouteError, kernel_route};
use crate::target::{HostSet, ScanOrder, splitmix64};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

/// What a finished (or interrupted) scan leaves.
pub struct Outcome {
    /// The counters.
    pub stats: ScanStats,
    /// The per-host report (`None` for dry runs).
    pub report: Option<Report>,
}

/// The engine's view of the reporter, the progress line and the resume file.
struct Sink<'a> {
    reporter: &'a mut Reporter,
    progress: &'a Progress,
    /// Progress of earlier engines in this run (IPv4 SYN, then IPv6 connect).
    done_before: u64,
    open_before: u64,
    /// Every pair reported so far (by this run, or the run it resumes).
    done: &'a DoneSet,
    config: &'a ScanConfig,
    checkpoint: Checkpoint,
    /// The engine running now, and its first pass's position.
    stage: u32,
    position: u64,
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
    fn save(&mut self, periodic: bool) -> io::Result<()> {
        self.reporter.flush()?;
        let state = self.state();
        self.checkpoint.write(&state, periodic)
    }
}

impl ResultSink for Sink<'_> {
    fn result(&mut self, r: PortResult) -> io::Result<()> {
        self.done
            .mark(&self.config.hosts, &self.config.ports, r.ip, r.port);
        if self.config.verbose > 0 && r.state == crate::event::PortState::Open {
            // nmap's -v line, on stderr so that stdout stays one format.
            self.progress
                .println(&format!("Discovered open port {}/tcp on {}", r.port, r.ip));
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

/// A SYN scan ready to run, its privileges already dropped.
struct PreparedSyn {
    scan: SynScan,
    /// Sockets bound to our source ports so the kernel hands them to nobody else.
    _reserved: Vec<TcpListener>,
}

/// Runs the scan `config` describes until it ends or `stop` is set.
pub fn run(mut config: ScanConfig, stop: &AtomicBool) -> Result<Outcome> {
    let started = std::time::Instant::now();
    // Every host starts with the scan, so --host-timeout is one deadline for all of them.
    let deadline = config.host_timeout.map(|d| started + d);
    config.connect.deadline = deadline;
    let (v4, v6) = config.hosts.split_families();
    let explicit_syn = config.scan_type == Some(ScanType::Syn);
    let want_syn = config.scan_type != Some(ScanType::Connect) && !v4.is_empty();
    if config.dry_run {
        return dry_run(&config, &v4);
    }
    if config.pcap.is_some() && !want_syn {
        return Err(Error::input(
            "--pcap records the raw probes of a SYN scan: it cannot record a connect() scan (-sT) or IPv6 targets",
        ));
    }
    if config.pcap.is_some() && !privilege::raw_permitted() {
        return Err(Error::input(format!(
            "--pcap records raw probes: {}",
            privilege::HOW_TO_ENABLE
        )));
    }
    if explicit_syn && !v6.is_empty() {
        eprintln!("synscan: IPv6 targets are scanned with connect() (SYN scans are IPv4 only)");
    }
    let mut syn: Option<SynSide> = None;
    if want_syn {
        if !privilege::raw_permitted() {
            if explicit_syn {
                return Err(Error::input(format!(
                    "cannot run -sS: {}",
                    privilege::HOW_TO_ENABLE
                )));
            }
            eprintln!(
                "synscan: no raw-socket privilege, falling back to a connect() scan ({})",
                privilege::HOW_TO_ENABLE
            );
        } else {
            syn = prepare_syn(&config, &v4, explicit_syn, deadline)?;
        }
    }
    let scan_type = if syn.is_some() {
        ScanType::Syn
    } else {
        ScanType::Connect
    };
    let order_all = config.order(&config.hosts);
    let run = RunInfo {
        args: config.command_line.clone(),
        start: SystemTime::now(),
        scan_type: scan_type.as_str(),
        ports_expr: config.ports.compact(),
        ports_per_host: config.ports.len() as u64,
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
    let mut reporter = Reporter::new(writers, run, config.states, config.hosts.names().clone());
    let progress = Progress::new(order_all.len(), config.progress);
    let write_err = |e| Error::io("write results", e);
    reporter.begin().map_err(write_err)?;
    let done = match &config.resume {
        Some((_, state)) => DoneSet::from_ranges(&config.hosts, &config.ports, &state.done)?,
        None => DoneSet::new(&config.hosts, &config.ports),
    };
    let config = &config;
    let mut sink = Sink {
        reporter: &mut reporter,
        progress: &progress,
        done_before: 0,
        open_before: 0,
        done: &done,
        config,
        checkpoint: Checkpoint::new(config.resume_file.clone(), config.checkpoint_every),
        stage: 0,
        position: 0,
    };
    let mut stats = ScanStats::default();
    // Connect scans cover every host; after a SYN scan, only the IPv6 ones are left.
    let connect_hosts: Option<&HostSet> = match &syn {
        Some(_) => (!v6.is_empty()).then_some(&v6),
        None => Some(&config.hosts),
    };
    if let Some(side) = syn {
        let report = |sink: &mut Sink, ip: Ipv4Addr, port: u16, reason: Reason| {
            sink.result(PortResult::filtered(IpAddr::V4(ip), port, reason))
        };
        let fresh = |ip: Ipv4Addr, port: u16| {
            !done.contains(&config.hosts, &config.ports, IpAddr::V4(ip), port)
        };
        if config.shard.count == 1 {
            for &(ip, reason) in &side.unroutable {
                for &port in config.ports.as_slice() {
                    if fresh(ip, port) {
                        stats.ports_done += 1;
                        report(&mut sink, ip, port, reason).map_err(write_err)?;
                    }
                }
            }
        } else if !side.unroutable.is_empty() {
            // Only this shard's pairs: walk its part of the order.
            let reasons: std::collections::HashMap<Ipv4Addr, Reason> =
                side.unroutable.iter().copied().collect();
            let order = config.order(&v4);
            for (ip, port) in order.iter(&v4, &config.ports, 0) {
                if let IpAddr::V4(a) = ip
                    && let Some(&reason) = reasons.get(&a)
                    && fresh(a, port)
                {
                    stats.ports_done += 1;
                    report(&mut sink, a, port, reason).map_err(write_err)?;
                }
            }
        }
        for prepared in side.engines {
            if stats.interrupted || stats.timed_out {
                break;
            }
            for (ip, port) in done.pairs(&config.hosts, &config.ports) {
                prepared.scan.mark_done(ip, port);
            }
            sink.position = resume_start(config, sink.stage);
            let s = prepared.scan.run(&mut sink, stop)?;
            if !s.interrupted {
                sink.stage += 1;
            }
            add(&mut stats, &s);
            sink.done_before = stats.ports_done;
            sink.open_before = stats.open;
        }
    }
    if let Some(hosts) = connect_hosts
        && !stats.interrupted
        && !stats.timed_out
    {
        let order = config.order(hosts);
        let ports = &config.ports;
        // Pairs an interrupted run reported are skipped (the order is the same).
        sink.position = 0;
        let pair_at = |pos: u64| {
            let (h, p) = order.pair_at_position(pos);
            let (ip, port) = (hosts.get(h)?, ports.get(p)?);
            (!done.contains(&config.hosts, ports, ip, port)).then_some((ip, port))
        };
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let s = connect::run_parallel(
            &config.connect,
            order.len(),
            pair_at,
            workers,
            &mut sink,
            stop,
        )?;
        add(&mut stats, &s);
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
    stats.ports_total = order_all.len();
    stats.ports_source = config.ports_source.clone();
    if stats.timed_out {
        stats.hosts_timed_out = unfinished_hosts(config, &order_all, &done);
        eprintln!(
            "synscan: --host-timeout reached: {} of {} hosts not finished (their results so far are kept)",
            stats.hosts_timed_out, stats.hosts_total
        );
    }
    if config.verbose > 0 && !stats.interrupted && !config.open_only {
        reporter.set_silent(silent_runs(&config.hosts, &reporter));
    }
    let report = reporter.finish(stats.clone()).map_err(write_err)?;
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

/// Runs of consecutive hosts (first, how many) the reporter never heard of: no answer and
/// nothing listed. Listed by `-v`, as nmap lists down hosts.
fn silent_runs(hosts: &HostSet, reporter: &Reporter) -> Vec<(IpAddr, u64)> {
    let mut runs: Vec<(IpAddr, u64)> = Vec::new();
    let mut prev: Option<IpAddr> = None;
    for ip in (0..hosts.len()).filter_map(|i| hosts.get(i)) {
        if reporter.knows(ip) {
            prev = None;
            continue;
        }
        let next_of_prev = match (prev, ip) {
            (Some(IpAddr::V4(p)), IpAddr::V4(a)) => u32::from(p).checked_add(1) == Some(a.into()),
            (Some(IpAddr::V6(p)), IpAddr::V6(a)) => u128::from(p).checked_add(1) == Some(a.into()),
            _ => false,
        };
        match runs.last_mut() {
            Some((_, n)) if next_of_prev => *n += 1,
            _ => runs.push((ip, 1)),
        }
        prev = Some(ip);
    }
    runs
}

/// Hosts of this shard with a pair not reported: what `--host-timeout` left unfinished.
fn unfinished_hosts(config: &ScanConfig, order: &ScanOrder, done: &DoneSet) -> u64 {
    let seen = crate::engine::Bitmap::new(config.hosts.len());
    let mut count = 0;
    for (ip, port) in order.iter(&config.hosts, &config.ports, 0) {
        if !done.contains(&config.hosts, &config.ports, ip, port)
            && let Some(h) = config.hosts.index_of(ip)
            && !seen.get(h)
        {
            seen.set(h);
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
    total.kernel_drops = match (total.kernel_drops, s.kernel_drops) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
}

fn first_v4(hosts: &HostSet) -> Result<Ipv4Addr> {
    match hosts.get(0) {
        Some(IpAddr::V4(a)) => Ok(a),
        _ => Err(Error::input("a SYN scan needs an IPv4 target")),
    }
}

/// Targets examined one by one for their route; beyond this every target takes the first
/// target's path (huge sweeps go through one gateway).
const MAX_ROUTED_ONE_BY_ONE: u64 = 1 << 16;

/// The SYN side of a scan: one engine per outgoing path, and the targets the kernel will not
/// route to at all (reported with the kernel's reason, never probed).
struct SynSide {
    engines: Vec<PreparedSyn>,
    unroutable: Vec<(Ipv4Addr, Reason)>,
}

/// Targets grouped by outgoing path (`None`: the path serves every target), and the
/// targets the kernel will not route, with its reason.
type Grouped = (Vec<(Path, Option<HostSet>)>, Vec<(Ipv4Addr, Reason)>);

/// Groups the IPv4 targets by the path the kernel routes them through.
fn group_by_path(v4: &HostSet, a: &SynArgs) -> Result<Grouped> {
    let ifaces = pnet::datalink::interfaces();
    if a.interface.is_some() || a.source_ip.is_some() || v4.len() > MAX_ROUTED_ONE_BY_ONE {
        let path = Path::discover_in(&ifaces, first_v4(v4)?, a.interface.as_deref(), a.source_ip)?;
        return Ok((vec![(path, None)], Vec::new()));
    }
    let mut groups: Vec<(Path, Vec<Ipv4Addr>)> = Vec::new();
    let mut unroutable = Vec::new();
    // The kernel is asked once per main-table route, with that route's first target: a
    // connect() per target costs more than the scan of a large sweep. Our own and broadcast
    // addresses (local-table routes) are asked one by one.
    let routes = crate::route::Routes::read();
    let special = special_addresses(&ifaces);
    let mut by_route: std::collections::HashMap<Route, std::result::Result<Ipv4Addr, Reason>> =
        std::collections::HashMap::new();
    for i in 0..v4.len() {
        let Some(IpAddr::V4(ip)) = v4.get(i) else {
            continue;
        };
        let route = routes
            .lookup(ip, None)
            .filter(|_| !special.contains(&ip))
            .copied();
        let answer = match route.and_then(|r| by_route.get(&r)) {
            Some(cached) => *cached,
            None => {
                let asked = match kernel_route(ip) {
                    Ok(src) => Ok(src),
                    Err(RouteError::Unroutable(reason)) => Err(reason),
                    Err(RouteError::Other(e)) => return Err(e),
                };
                if let Some(r) = route {
                    by_route.insert(r, asked);
                }
                asked
            }
        };
        match answer {
            Ok(src) => match groups.iter_mut().find(|(p, _)| p.src == src) {
                Some((_, members)) => members.push(ip),
                None => {
                    let path = Path::discover_in(&ifaces, ip, None, Some(src))?;
                    groups.push((path, vec![ip]));
                }
            },
            Err(reason) => unroutable.push((ip, reason)),
        }
    }
    if groups.len() == 1 && unroutable.is_empty() {
        return Ok((
            groups.into_iter().map(|(p, _)| (p, None)).collect(),
            unroutable,
        ));
    }
    let groups = groups
        .into_iter()
        .map(|(path, members)| {
            let ranges = members
                .iter()
                .map(|&ip| (u32::from(ip) as u128, u32::from(ip) as u128))
                .collect();
            HostSet::new(ranges, vec![], vec![], vec![]).map(|h| (path, Some(h)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((groups, unroutable))
}

/// This host's IPv4 addresses and its subnets' broadcast addresses: the kernel routes these
/// through its local table, which /proc/net/route does not show.
fn special_addresses(
    ifaces: &[pnet::datalink::NetworkInterface],
) -> std::collections::HashSet<Ipv4Addr> {
    let mut set = std::collections::HashSet::new();
    for net in ifaces.iter().flat_map(|i| i.ips.iter()) {
        if let pnet::ipnetwork::IpNetwork::V4(n) = net {
            set.insert(n.ip());
            set.insert(n.broadcast());
            set.insert(n.network());
        }
    }
    set
}

/// Finds each target's path, raises CAP_NET_RAW, opens every path's channels, drops every
/// capability, reserves the source ports and resolves next hops. `None`: fall back to
/// connect() (an interface without a link layer).
fn prepare_syn(
    config: &ScanConfig,
    v4: &HostSet,
    explicit: bool,
    deadline: Option<std::time::Instant>,
) -> Result<Option<SynSide>> {
    let a = &config.syn;
    let (groups, unroutable) = group_by_path(v4, a)?;
    if let Some((path, _)) = groups
        .iter()
        .find(|(p, _)| matches!(p.kind, LinkKind::None(_)))
    {
        let why = format!(
            "interface {} has no link layer for raw frames",
            path.iface.name
        );
        if explicit {
            return Err(Error::input(format!("cannot run -sS: {why}; use -sT")));
        }
        eprintln!("synscan: {why}: using a connect() scan");
        return Ok(None);
    }
    privilege::raise_raw()?;
    let opened: Vec<Result<crate::link::Channels>> = groups
        .iter()
        .map(|(path, _)| {
            let loopback = path.kind == LinkKind::Loopback;
            crate::link::open(&path.iface, path.src, loopback, a.send_path)
        })
        .collect();
    privilege::drop_all()?;
    let (retries, max_retries) = (a.retries, a.max_retries);
    let recorder = match &config.pcap {
        Some(path) => {
            let f = crate::cli::config::create_file(path)?;
            Some(
                crate::capture::Recorder::create(f)
                    .map_err(|e| Error::io(format!("--pcap {}", path.display()), e))?,
            )
        }
        None => None,
    };
    let mut engines = Vec::new();
    for ((path, group), channels) in groups.into_iter().zip(opened) {
        let channels = channels?;
        let (sport, reserved) = source_ports(path.src, a.source_port, max_retries, config.seed);
        let opts = SynOptions {
            rate: config.connect.rate,
            min_rate: a.min_rate,
            retries,
            max_retries,
            wait: a.wait,
            timeout: a.max_rtt,
            min_rtt: a.min_rtt,
            initial_rtt: a.initial_rtt,
            deadline,
            detail: if config.debug > 0 {
                2
            } else {
                config.verbose.min(1)
            },
            sport,
            fixed_sport: a.source_port.is_some(),
            reset: a.reset,
            ttl: a.ttl,
        };
        let job = SynJob {
            hosts: v4.clone(),
            group,
            ports: config.ports.clone(),
            order: config.order(v4),
            path,
            router_mac: a.router_mac,
            cookie: config.cookie,
            opts,
            recorder: recorder.clone(),
            start: resume_start(config, engines.len() as u32),
        };
        engines.push(PreparedSyn {
            scan: SynScan::new(job, channels)?,
            _reserved: reserved,
        });
    }
    Ok(Some(SynSide {
        engines,
        unroutable,
    }))
}

/// Where the first pass of SYN engine `stage` starts: a resumed run's saved position for the
/// engine that was running, else 0.
fn resume_start(config: &ScanConfig, stage: u32) -> u64 {
    match &config.resume {
        Some((_, state)) if state.stage == stage => state.position,
        _ => 0,
    }
}

/// The first source port, from `--source-port` or the seed, and listening-free sockets bound
/// to every port the attempts use, so no local connection takes them during the scan.
fn source_ports(
    src: Ipv4Addr,
    fixed: Option<u16>,
    retries: u32,
    seed: u64,
) -> (u16, Vec<TcpListener>) {
    if let Some(p) = fixed {
        return (p, Vec::new());
    }
    let mut s = seed;
    for _ in 0..64 {
        let base = default_sport(&mut s);
        let held: Vec<TcpListener> = (0..=retries as u16)
            .filter_map(|k| reserve(src, base.wrapping_add(k)))
            .collect();
        if held.len() == retries as usize + 1 {
            return (base, held);
        }
    }
    (default_sport(&mut seed.clone()), Vec::new())
}

/// A source port in 40000-59999 drawn from the seed.
fn default_sport(state: &mut u64) -> u16 {
    40000 + (splitmix64(state) % 20000) as u16
}

/// Binds (without listening) a TCP socket to `src:port`. A bound socket that does not
/// listen takes no connections: the kernel still answers stray SYN-ACKs with RST.
fn reserve(src: Ipv4Addr, port: u16) -> Option<TcpListener> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    sock.bind(&SocketAddr::new(IpAddr::V4(src), port).into())
        .ok()?;
    // A TcpListener is only a holder here: listen() is never called.
    Some(TcpListener::from(sock))
}

/// `--dry-run`: prints the frames a SYN scan would send and sends nothing.
fn dry_run(config: &ScanConfig, v4: &HostSet) -> Result<Outcome> {
    let a = &config.syn;
    let src = match (a.source_ip, &a.interface) {
        (Some(s), _) => s,
        (None, Some(iface)) => Path::discover(first_v4(v4)?, Some(iface), None)?.src,
        (None, None) => (0..v4.len().min(256))
            .filter_map(|i| match v4.get(i) {
                Some(IpAddr::V4(ip)) => kernel_route(ip).ok(),
                _ => None,
            })
            .next()
            .ok_or_else(|| {
                Error::input("no route to any target: give the source address with -S")
            })?,
    };
    let sport = a
        .source_port
        .unwrap_or_else(|| default_sport(&mut config.seed.clone()));
    let order = config.order(v4);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let n = engine::dry_run(
        v4,
        &config.ports,
        &order,
        src,
        sport,
        &config.cookie,
        &mut out,
    )
    .map_err(|e| Error::io("write dry run", e))?;
    Ok(Outcome {
        stats: ScanStats {
            probes_sent: 0,
            ports_total: n,
            ..ScanStats::default()
        },
        report: None,
    })
}
