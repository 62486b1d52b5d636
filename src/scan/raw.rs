//! The raw side of a scan: targets grouped by the path the kernel routes them through (one
//! engine per interface and source address, IPv4 and IPv6 alike), channels opened with
//! CAP_NET_RAW raised and every capability dropped right after, source ports reserved, and
//! the targets the kernel will not route at all set aside with its reason.

use super::config::{Pass, ScanConfig, SynArgs};
use super::source_port;
use crate::engine::{Job, Options, Run, Scan};
use crate::error::{Error, Result};
use crate::event::Proto;
use crate::event::Reason;
use crate::privilege;
use crate::probe::{Probe, TcpSyn, Udp};
use crate::route::{self, Path, Piece};
use crate::target::HostSet;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Instant;

/// Paths and their runs, in a stable order (by family, interface, source).
pub(super) type Groups = BTreeMap<(bool, u32, IpAddr), (Path, Vec<Run>)>;

/// Groups `hosts` by the path the kernel routes them through; `-e`/`-S` put every target of
/// their family on the path they name.
pub(super) fn group(
    hosts: &HostSet,
    a: &SynArgs,
    all: &[pnet::datalink::NetworkInterface],
) -> Result<(Groups, Vec<(Piece, Reason)>)> {
    let pieces = route::pieces(hosts)?;
    let mut groups: Groups = BTreeMap::new();
    let mut unroutable = Vec::new();
    let mut forced: [Option<Path>; 2] = [None, None];
    if a.interface.is_some() || a.source_ip.is_some() {
        for v6 in [false, true] {
            if a.source_ip.is_some_and(|s| s.is_ipv6() != v6) {
                continue;
            }
            if hosts.ranges(v6).is_empty() {
                continue;
            }
            forced[usize::from(v6)] =
                Some(Path::given(all, a.interface.as_deref(), a.source_ip, v6)?);
        }
    }
    for p in pieces {
        let v6 = p.first.is_ipv6();
        let d = match (&p.route, &forced[usize::from(v6)]) {
            (_, Some(path)) => {
                // The named path; the kernel's gateway when it would use that interface too.
                let gateway = p
                    .route
                    .as_ref()
                    .ok()
                    .filter(|d| d.oif == path.iface.index)
                    .and_then(|d| d.gateway);
                let key = (v6, path.iface.index, path.src);
                let entry = groups
                    .entry(key)
                    .or_insert_with(|| (path.clone(), Vec::new()));
                entry.1.push(run_of(&p, gateway));
                continue;
            }
            (Ok(d), None) => *d,
            (Err(reason), None) => {
                unroutable.push((p.clone(), *reason));
                continue;
            }
        };
        let key = (v6, d.oif, d.src);
        let g = match groups.entry(key) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert((Path::new(all, d.oif, d.src)?, Vec::new()))
            }
        };
        // Our own addresses are reached over loopback, with no gateway.
        let gateway = if d.local { None } else { d.gateway };
        g.1.push(run_of(&p, gateway));
    }
    Ok((groups, unroutable))
}

fn run_of(p: &Piece, gateway: Option<IpAddr>) -> Run {
    Run {
        first: route::to_u128(p.first),
        last: route::to_u128(p.last),
        gateway,
    }
}

/// The probe module of `proto` for `path`.
fn probe_for(config: &ScanConfig, proto: Proto, path: &Path) -> Box<dyn Probe> {
    let a = &config.syn;
    match proto {
        Proto::Tcp => {
            let overhead = if path.src.is_ipv6() { 60 } else { 40 };
            let mss = (path.mtu.clamp(1280, 65535) - overhead) as u16;
            Box::new(TcpSyn::new(path.src_mac, path.src, a.ttl, mss, 64240))
        }
        Proto::Udp => Box::new(Udp::new(
            path.src_mac,
            path.src,
            a.ttl,
            std::sync::Arc::clone(&config.udp_payloads),
        )),
    }
}

/// A discovery engine to be: path, runs, probe module and its channels.
pub type DiscoveryLink = (
    Path,
    Vec<Run>,
    Box<dyn Probe>,
    Result<crate::link::Channels>,
);

/// Channels opened under one raise of CAP_NET_RAW, for host discovery and every protocol
/// pass, before any engine runs: every capability is dropped for good right after.
pub struct Opened {
    groups: Groups,
    /// Targets the kernel will not route, with its reason.
    pub unroutable: Vec<(Piece, Reason)>,
    /// Per pass, per path.
    passes: Vec<Vec<Result<crate::link::Channels>>>,
    /// Discovery's engines to be: path, runs, probe module and channels.
    pub discovery: Vec<DiscoveryLink>,
}

/// Finds each target's path, raises CAP_NET_RAW, opens the channels of discovery (when it
/// runs) and of every pass (unless `-sn`) on every path, and drops every capability.
pub fn open(config: &ScanConfig) -> Result<Opened> {
    let a = &config.syn;
    let all = pnet::datalink::interfaces();
    let (groups, unroutable) = group(&config.hosts, a, &all)?;
    let plans = if config.discovery.enabled {
        super::discovery::plans(config, &groups)
    } else {
        Vec::new()
    };
    let scan_passes: &[Pass] = if config.discovery.only {
        &[]
    } else {
        &config.passes
    };
    privilege::raise_raw()?;
    let passes: Vec<Vec<Result<crate::link::Channels>>> = scan_passes
        .iter()
        .map(|pass| {
            groups
                .values()
                .map(|(path, _)| {
                    let probe = probe_for(config, pass.proto, path);
                    crate::link::open(path, probe.reply_protocols(), a.send_path)
                })
                .collect()
        })
        .collect();
    let discovery = plans
        .into_iter()
        .map(|(path, runs, probe)| {
            let ch = crate::link::open(&path, probe.reply_protocols(), a.send_path);
            (path, runs, probe, ch)
        })
        .collect();
    privilege::drop_all()?;
    Ok(Opened {
        groups,
        unroutable,
        passes,
        discovery,
    })
}

/// The parts of `runs` holding hosts of `hosts` (the live ones discovery found).
fn narrow(runs: &[Run], hosts: &HostSet, v6: bool) -> Vec<Run> {
    let live = hosts.ranges(v6);
    let mut out = Vec::new();
    for r in runs {
        let i = live.partition_point(|&(_, b)| b < r.first);
        for &(a, b) in &live[i..] {
            if a > r.last {
                break;
            }
            out.push(Run {
                first: a.max(r.first),
                last: b.min(r.last),
                gateway: r.gateway,
            });
        }
    }
    out
}

/// The port scan's channels, per pass and path, kept across the groups of hosts discovery
/// hands on: each group's engines run on them in turn.
pub struct PortSide {
    groups: Groups,
    /// Targets the kernel will not route, with its reason.
    pub unroutable: Vec<(Piece, Reason)>,
    /// Per pass, per path (`None` while an engine holds them, or after it failed).
    channels: Vec<Vec<Option<Result<crate::link::Channels>>>>,
}

impl Opened {
    /// Our source addresses, one per path, as the outputs record them.
    pub fn sources(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self.groups.keys().map(|k| k.2).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The port scan's part.
    pub fn ports(self) -> PortSide {
        PortSide {
            groups: self.groups,
            unroutable: self.unroutable,
            channels: self
                .passes
                .into_iter()
                .map(|p| p.into_iter().map(Some).collect())
                .collect(),
        }
    }
}

/// Where an engine starts: the position before which all is reported, and the reported
/// ranges past it.
pub type ResumeAt = (u64, Vec<(u64, u64)>);

/// A port-scan engine of one pass over one path, and the source ports it holds.
pub struct Engine {
    pub scan: Scan,
    /// The path's index, to hand the channels back.
    pub group: usize,
    /// The engine's index among the pass's engines (its resume stage within the pass).
    pub index: usize,
    /// Sockets bound to our source ports so the kernel hands them to nobody else.
    pub _reserved: Vec<source_port::Held>,
}

impl PortSide {
    /// Pass `p`'s engines over `hosts`, one per path serving some of them: reserves the
    /// source ports and resolves next hops. With `narrowed`, each path serves only the parts
    /// of its targets in `hosts` (a group of live hosts). Engine `k` (in path order) starts
    /// where `resume_at(k)` says, and is not built when it says `None` (finished before).
    #[allow(clippy::too_many_arguments)]
    pub fn engines(
        &mut self,
        config: &ScanConfig,
        p: usize,
        hosts: &HostSet,
        narrowed: bool,
        deadline: Option<Instant>,
        recorder: Option<&crate::capture::Recorder>,
        pace: Option<&crate::rate::SharedLimiter>,
        resume_at: &dyn Fn(usize) -> Option<ResumeAt>,
    ) -> Result<Vec<Engine>> {
        let Some(pass) = config.passes.get(p) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut index = 0;
        for (g, (path, runs)) in self.groups.values().enumerate() {
            let runs = if narrowed {
                narrow(runs, hosts, path.src.is_ipv6())
            } else {
                runs.clone()
            };
            if runs.is_empty() {
                continue;
            }
            let k = index;
            index += 1;
            // An engine the interrupted run finished is not built: its channels stay here.
            let Some((start, done)) = resume_at(k) else {
                continue;
            };
            let channels = self
                .channels
                .get_mut(p)
                .and_then(|c| c.get_mut(g))
                .and_then(Option::take)
                .ok_or_else(|| {
                    Error::Runtime(format!("no channels left on {}", path.iface.name))
                })??;
            let mut e = engine_for(
                config,
                hosts,
                pass,
                path.clone(),
                runs,
                channels,
                deadline,
                (start, done),
                recorder.cloned(),
                pace.cloned(),
            )?;
            e.group = g;
            e.index = k;
            out.push(e);
        }
        Ok(out)
    }

    /// Takes back the channels an engine of pass `p` ran on.
    pub fn give_back(&mut self, p: usize, group: usize, channels: crate::link::Channels) {
        if let Some(slot) = self.channels.get_mut(p).and_then(|c| c.get_mut(group)) {
            *slot = Some(Ok(channels));
        }
    }
}

/// The `--pcap` recorder, its file created (one for discovery and the port scan).
pub fn recorder(config: &ScanConfig) -> Result<Option<crate::capture::Recorder>> {
    match &config.pcap {
        Some(path) => {
            let f = crate::files::create_file(path)?;
            Ok(Some(crate::capture::Recorder::create(f).map_err(|e| {
                Error::io(format!("--pcap {}", path.display()), e)
            })?))
        }
        None => Ok(None),
    }
}

/// The engine's tuning from the command line, for engines sending from `sport`.
pub fn options(
    config: &ScanConfig,
    deadline: Option<Instant>,
    sport: u16,
    patient: bool,
) -> Options {
    let a = &config.syn;
    Options {
        rate: config.connect.rate,
        min_rate: a.min_rate,
        retries: a.retries,
        max_retries: a.max_retries,
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
        segment: crate::engine::SEGMENT,
        patient,
        pace: None,
    }
}

/// One engine: pass `pass` over the targets `runs` of `path`.
#[allow(clippy::too_many_arguments)]
fn engine_for(
    config: &ScanConfig,
    hosts: &HostSet,
    pass: &Pass,
    path: Path,
    runs: Vec<Run>,
    channels: crate::link::Channels,
    deadline: Option<Instant>,
    (start, done): (u64, Vec<(u64, u64)>),
    recorder: Option<crate::capture::Recorder>,
    pace: Option<crate::rate::SharedLimiter>,
) -> Result<Engine> {
    let a = &config.syn;
    let (sport, reserved) = source_port::reserve(
        path.src,
        pass.proto,
        a.source_port,
        a.max_retries.min(crate::engine::SPORT_SPAN - 1),
        config.seed,
    );
    let mut opts = options(
        config,
        deadline,
        sport,
        a.udp_patient && pass.proto == Proto::Udp,
    );
    opts.pace = pace;
    let job = Job {
        hosts: hosts.clone(),
        runs,
        ports: pass.ports.clone(),
        order: config.port_order(hosts, &pass.ports),
        probe: probe_for(config, pass.proto, &path),
        path,
        router_mac: a.router_mac,
        cookie: config.cookie,
        opts,
        recorder,
        start,
        done,
    };
    Ok(Engine {
        scan: Scan::new(job, channels)?,
        group: 0,
        index: 0,
        _reserved: reserved,
    })
}
