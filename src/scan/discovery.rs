//! Host discovery before the port scan (nmap's ping scan), on the same engine as the port
//! scan: each host is one (host, port 0) pair of a probe module, so discovery is stateless,
//! seeded, sharded and paced like any scan, and retries go only to hosts still silent.
//!
//! - Targets on our own Ethernet link get ARP (IPv4) or Neighbor Solicitation (IPv6), as
//!   nmap does: a host that answers is up whatever its firewall does to IP.
//! - Other targets (and on-link ones with `--disable-arp-ping`) get the IP pings
//!   (`probe::Ping`): those asked for, else echo, SYN to 443, ACK to 80 and timestamp.
//! - Without raw privilege, connect() to 80 and 443 (or the `-PS`/`-PA` ports): a
//!   connection or a refusal proves the host up.
//!
//! Each host found streams to the reporter as a host record at once; the port scan then
//! runs over the live hosts only ([`Found::live`]).

use super::config::ScanConfig;
use super::{raw, source_port};
use crate::connect;
use crate::engine::{Job, Run, Scan};
use crate::error::Result;
use crate::event::{HostResult, PortResult, PortState, Proto, Reason, ResultSink};
use crate::output::Reporter;
use crate::output::progress::Progress;
use crate::probe::{ArpPing, NdpPing, Ping, Probe};
use crate::route::{LinkKind, Path};
use crate::target::{HostSet, PortList};
use pnet::util::MacAddr;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// Fewest hosts per group: discovery walks its order a group at a time, and each group's
/// live hosts go to the port scan as soon as the group is finished, while discovery goes on
/// with the next.
pub const GROUP: u64 = 4096;

/// Most groups a sweep is cut into: each costs discovery its cool-downs, so a huge sweep
/// has larger groups.
const MAX_GROUPS: u64 = 64;

/// Hosts per group of this scan: between [`GROUP`] and an engine segment, at most
/// [`MAX_GROUPS`] groups; a ping scan (`-sn`), which feeds no port scan, walks whole
/// segments.
pub fn group_size(config: &ScanConfig) -> u64 {
    if config.discovery.only {
        return crate::engine::SEGMENT;
    }
    let hosts = config.order(&config.hosts, &ports()).len();
    hosts
        .div_ceil(MAX_GROUPS)
        .clamp(GROUP, crate::engine::SEGMENT)
}

/// Hosts discovery has decided on so far, for the progress line and the counts.
#[derive(Debug, Default)]
pub struct Tally {
    /// Hosts reported, up or down.
    pub resolved: std::sync::atomic::AtomicU64,
    /// Hosts reported down.
    pub down: std::sync::atomic::AtomicU64,
}

/// What discovery's thread tells the port scan.
pub enum Feed {
    /// A host record (down ones only when they are listed), with the group of the walk it
    /// belongs to, as (engine, group).
    Host(HostResult, (u32, u64)),
    /// Group `(engine, group)` is finished: the hosts found up since the last group are its.
    Group(u32, u64),
}

/// The pseudo-port every discovery probe is keyed by.
pub fn ports() -> PortList {
    PortList::from_ports(vec![0])
}

/// Discovery's counters: probes sent, and whether Ctrl-C or `--host-timeout` stopped it.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ran {
    pub probes_sent: u64,
    pub interrupted: bool,
    pub timed_out: bool,
}

/// A discovery engine: its index, the group it starts at, the scan and its source ports.
pub struct Engine {
    index: u32,
    first_group: u64,
    scan: Scan,
    _held: Vec<source_port::Held>,
}

/// Runs the raw discovery `engines` one after another (on a thread of its own beside the
/// port scan), sending host records and group ends to `feed`; `tally` counts the hosts
/// decided.
pub fn run_engines(
    engines: Vec<Engine>,
    config: &ScanConfig,
    notes: &Progress,
    list_down: bool,
    feed: &std::sync::mpsc::Sender<Feed>,
    tally: &Tally,
    stop: &AtomicBool,
) -> Result<Ran> {
    let mut ran = Ran::default();
    let order = config.order(&config.hosts, &ports());
    let group = group_size(config);
    for e in engines {
        if ran.interrupted || ran.timed_out {
            break;
        }
        let mut sink = FeedSink {
            feed,
            hosts: &config.hosts,
            order: &order,
            group,
            notes,
            list_down,
            engine: e.index,
            first_group: e.first_group,
            tally,
        };
        let s = e.scan.run(&mut sink, stop)?;
        ran.probes_sent += s.probes_sent;
        ran.interrupted |= s.interrupted;
        ran.timed_out |= s.timed_out;
    }
    Ok(ran)
}

/// The host record of a discovery engine's (host, 0) result.
fn host_of(r: &PortResult) -> HostResult {
    let up = matches!(r.state, PortState::Open | PortState::Closed) && r.reason.host_answered();
    let on_link = matches!(r.reason, Reason::ArpResponse | Reason::NdResponse);
    let mac = r
        .data
        .as_ref()
        .filter(|_| on_link && up)
        .and_then(|d| <[u8; 6]>::try_from(&d.head[..]).ok())
        .map(|o| MacAddr::new(o[0], o[1], o[2], o[3], o[4], o[5]));
    HostResult {
        ip: r.ip,
        up,
        reason: r.reason,
        ttl: if on_link || !up { None } else { r.ttl },
        rtt: r.rtt,
        mac,
    }
}

/// A discovery engine's results, as host records and group ends for the port scan.
struct FeedSink<'a> {
    feed: &'a std::sync::mpsc::Sender<Feed>,
    /// The walk, to place each host in its group.
    hosts: &'a HostSet,
    order: &'a crate::target::ScanOrder,
    /// Hosts per group (the engine's segment).
    group: u64,
    notes: &'a Progress,
    list_down: bool,
    engine: u32,
    first_group: u64,
    tally: &'a Tally,
}

impl ResultSink for FeedSink<'_> {
    fn result(&mut self, r: PortResult) -> io::Result<()> {
        let h = host_of(&r);
        use std::sync::atomic::Ordering::Relaxed;
        self.tally.resolved.fetch_add(1, Relaxed);
        if !h.up {
            self.tally.down.fetch_add(1, Relaxed);
        }
        if h.up || self.list_down {
            // Its group by its place in the walk: results of the next group may come before
            // this group's end is announced.
            let group = self
                .hosts
                .index_of(r.ip)
                .and_then(|i| self.order.position_of(i, 0))
                .map_or(u64::MAX, |pos| pos / self.group);
            self.feed
                .send(Feed::Host(h, (self.engine, group)))
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "port scan gone"))?;
        }
        Ok(())
    }

    fn note(&mut self, text: &str) {
        self.notes.println(&format!("synscan: discovery: {text}"));
    }

    fn segments_done(&mut self, segments: u64) {
        let _ = self.feed.send(Feed::Group(
            self.engine,
            self.first_group + segments.saturating_sub(1),
        ));
    }

    fn tick(&mut self, _done: u64, _sent: u64, _found: u64) -> io::Result<()> {
        Ok(())
    }
}

/// What connect() discovery found.
pub struct Found {
    /// The hosts that are up (with the names the user gave them).
    pub live: HostSet,
    /// Probes sent, and how it ended.
    pub ran: Ran,
    /// Hosts found up.
    pub up: u64,
    /// Hosts found down.
    pub down: u64,
}

/// Discovery without raw privilege: connect() to each host's ports (80 and 443, or the
/// `-PS`/`-PA` ports) over this shard's hosts; host records go to `reporter` as they come,
/// and the port scan then walks the live hosts.
pub fn run_connect(
    config: &ScanConfig,
    reporter: &mut Reporter,
    progress: &Progress,
    stop: &AtomicBool,
) -> Result<Found> {
    let ports = PortList::from_ports(config.discovery.connect_ports.clone());
    let per_host = ports.len().max(1) as u64;
    let mut sink = HostSink {
        reporter,
        progress,
        list_down: config.verbose > 0,
        live: Vec::new(),
        seen: HashMap::new(),
        per_host: per_host as u8,
        down: 0,
    };
    let hosts = &config.hosts;
    // The walk (and the shard) is over hosts, as a raw discovery's: each host's pings are
    // all this shard's.
    let order = config.order(hosts, &self::ports());
    let pair_at = |k: u64| {
        let (h, _) = order.pair_at_position(k / per_host);
        Some((hosts.get(h)?, ports.get((k % per_host) as usize)?))
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let s = connect::run_parallel(
        &config.connect,
        order.len() * per_host,
        pair_at,
        workers,
        &mut sink,
        stop,
    )?;
    let up = sink.live.len() as u64;
    let down = sink.down;
    let live = live_set(config, std::mem::take(&mut sink.live));
    Ok(Found {
        live,
        ran: Ran {
            probes_sent: s.probes_sent,
            interrupted: s.interrupted,
            timed_out: s.timed_out,
        },
        up,
        down,
    })
}

/// The hosts found up, as a set the port scan walks (names kept).
pub fn live_set(config: &ScanConfig, mut ips: Vec<IpAddr>) -> HostSet {
    ips.sort_unstable();
    ips.dedup();
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for ip in &ips {
        let x = crate::route::to_u128(*ip);
        if ip.is_ipv4() { &mut v4 } else { &mut v6 }.push((x, x));
    }
    let mut set = HostSet::new(v4, v6, vec![], vec![]).unwrap_or_default();
    for (ip, name) in config.hosts.names() {
        if set.contains(*ip) {
            set.set_name(*ip, name.clone());
        }
    }
    set
}

/// Discovery's engines, one per path and kind of probe: ARP/NDP for the path's on-link
/// runs, IP pings for the rest (channels opened by [`raw::open`]).
pub fn plans(config: &ScanConfig, groups: &raw::Groups) -> Vec<(Path, Vec<Run>, Box<dyn Probe>)> {
    let a = &config.syn;
    let mut plans: Vec<(Path, Vec<Run>, Box<dyn Probe>)> = Vec::new();
    for (path, runs) in groups.values() {
        let arp_link = path.kind == LinkKind::Ethernet && !config.discovery.no_arp;
        let (on_link, beyond): (Vec<Run>, Vec<Run>) =
            runs.iter().partition(|r| arp_link && r.gateway.is_none());
        if !on_link.is_empty() {
            let probe: Box<dyn Probe> = match path.src {
                IpAddr::V4(s) => Box::new(ArpPing::new(path.src_mac, s)),
                IpAddr::V6(s) => Box::new(NdpPing::new(path.src_mac, s)),
            };
            plans.push((path.clone(), on_link, probe));
        }
        if !beyond.is_empty() {
            let overhead = if path.src.is_ipv6() { 60 } else { 40 };
            let mss = (path.mtu.clamp(1280, 65535) - overhead) as u16;
            let probe = Box::new(Ping::new(
                path.src_mac,
                path.src,
                a.ttl,
                mss,
                &config.discovery.ip_pings(),
                std::sync::Arc::clone(&config.udp_payloads),
            ));
            plans.push((path.clone(), beyond, probe));
        }
    }
    plans
}

/// Builds discovery's engines on their opened channels, from group `from` (engine, group)
/// on (a resumed scan's); reports the targets the kernel will not route down with its
/// reason (listed with `-v`).
pub fn engines(
    config: &ScanConfig,
    opened: &mut raw::Opened,
    recorder: Option<crate::capture::Recorder>,
    deadline: Option<Instant>,
    pace: Option<crate::rate::SharedLimiter>,
    from: (u32, u64),
    reporter: &mut Reporter,
) -> Result<Vec<Engine>> {
    let a = &config.syn;
    let order = config.order(&config.hosts, &ports());
    if config.verbose > 0 && from == (0, 0) {
        for (piece, reason) in &opened.unroutable {
            let (first, last) = (
                crate::route::to_u128(piece.first),
                crate::route::to_u128(piece.last),
            );
            let mut x = first;
            loop {
                let ip = crate::route::from_u128(x, piece.first);
                // Only this shard's hosts.
                let ours = config
                    .hosts
                    .index_of(ip)
                    .is_some_and(|i| order.position_of(i, 0).is_some());
                if ours {
                    let h = HostResult {
                        ip,
                        up: false,
                        reason: *reason,
                        ttl: None,
                        rtt: None,
                        mac: None,
                    };
                    reporter.host(h, true).map_err(write_err)?;
                }
                if x >= last {
                    break;
                }
                x += 1;
            }
        }
    }
    let group = group_size(config);
    let mut out = Vec::new();
    for (i, (path, runs, probe, channels)) in std::mem::take(&mut opened.discovery)
        .into_iter()
        .enumerate()
    {
        let index = i as u32;
        if index < from.0 {
            continue;
        }
        let first_group = if index == from.0 { from.1 } else { 0 };
        let retries = a.max_retries.min(crate::engine::SPORT_SPAN - 1);
        let (sport, mut held) =
            source_port::reserve(path.src, Proto::Tcp, a.source_port, retries, config.seed);
        if config
            .discovery
            .ip_pings()
            .iter()
            .any(|k| matches!(k, crate::probe::PingKind::Udp(_)))
        {
            held.extend(source_port::hold_udp(path.src, sport, retries));
        }
        let ports = ports();
        let mut opts = raw::options(config, deadline, sport, false);
        // Groups hand live hosts on to the port scan; a ping scan walks in whole segments,
        // as a port scan does, sparing each group's cool-downs.
        opts.segment = group;
        opts.pace = pace.clone();
        let job = Job {
            hosts: config.hosts.clone(),
            runs,
            order: config.order(&config.hosts, &ports),
            ports,
            probe,
            path,
            router_mac: a.router_mac,
            cookie: config.cookie,
            opts,
            recorder: recorder.clone(),
            start: first_group.saturating_mul(group),
            done: Vec::new(),
        };
        out.push(Engine {
            index,
            first_group,
            scan: Scan::new(job, channels?)?,
            _held: held,
        });
    }
    Ok(out)
}

fn write_err(e: io::Error) -> crate::error::Error {
    crate::error::Error::io("write results", e)
}

/// Turns connect() discovery's results into host records.
struct HostSink<'a> {
    reporter: &'a mut Reporter,
    progress: &'a Progress,
    /// `-v`: down hosts are listed too.
    list_down: bool,
    live: Vec<IpAddr>,
    /// Hosts with some pings answered so far: found up yet, and how many answered.
    seen: HashMap<IpAddr, (bool, u8)>,
    /// Pings per host.
    per_host: u8,
    /// Hosts found down.
    down: u64,
}

impl HostSink<'_> {
    fn down(&mut self, ip: IpAddr, reason: Reason) -> io::Result<()> {
        self.down += 1;
        let h = HostResult {
            ip,
            up: false,
            reason,
            ttl: None,
            rtt: None,
            mac: None,
        };
        self.reporter.host(h, self.list_down)
    }

    fn up(&mut self, h: HostResult) -> io::Result<()> {
        self.live.push(h.ip);
        if self.list_down {
            self.progress
                .println(&format!("Discovered host {} up ({})", h.ip, h.reason));
        }
        self.reporter.host(h, self.list_down)
    }
}

impl ResultSink for HostSink<'_> {
    /// A host is up at its first answer, down when every ping failed; it is forgotten once
    /// all its pings are in.
    fn result(&mut self, r: PortResult) -> io::Result<()> {
        let answered = matches!(r.state, PortState::Open | PortState::Closed)
            && (r.reason.host_answered() || r.reason == Reason::ConnRefused);
        let (was_up, n) = self.seen.get(&r.ip).copied().unwrap_or((false, 0));
        let n = n + 1;
        if n >= self.per_host {
            self.seen.remove(&r.ip);
        } else {
            self.seen.insert(r.ip, (was_up || answered, n));
        }
        if answered && !was_up {
            return self.up(HostResult {
                ip: r.ip,
                up: true,
                reason: r.reason,
                ttl: None,
                rtt: r.rtt,
                mac: None,
            });
        }
        if !answered && !was_up && n >= self.per_host {
            return self.down(r.ip, r.reason);
        }
        Ok(())
    }

    fn note(&mut self, text: &str) {
        self.progress
            .println(&format!("synscan: discovery: {text}"));
    }

    fn tick(&mut self, done: u64, _sent: u64, _found: u64) -> io::Result<()> {
        self.progress.update(done, self.live.len() as u64);
        self.reporter.flush()
    }
}
