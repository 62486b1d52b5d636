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

/// A raw engine ready to run, its privileges already dropped.
pub struct Prepared {
    pub scan: Scan,
    /// Sockets bound to our source ports so the kernel hands them to nobody else.
    pub _reserved: Vec<source_port::Held>,
}

/// The raw side of a scan: per protocol pass, one engine per path; and the runs of targets
/// the kernel will not route at all (reported with its reason, never probed).
pub struct RawSide {
    pub passes: Vec<Vec<Prepared>>,
    pub unroutable: Vec<(Piece, Reason)>,
}

/// Paths and their runs, in a stable order (by family, interface, source).
type Groups = BTreeMap<(bool, u32, IpAddr), (Path, Vec<Run>)>;

/// Groups `hosts` by the path the kernel routes them through; `-e`/`-S` put every target of
/// their family on the path they name.
fn group(
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

/// Finds each target's path, raises CAP_NET_RAW, opens every path's channels for every
/// pass, drops every capability, reserves the source ports and resolves next hops. Pass
/// `p`'s engine `k` is resume stage `p × stride + k`.
pub fn prepare(
    config: &ScanConfig,
    hosts: &HostSet,
    deadline: Option<Instant>,
    stride: u32,
) -> Result<RawSide> {
    let a = &config.syn;
    let all = pnet::datalink::interfaces();
    let (groups, unroutable) = group(hosts, a, &all)?;
    privilege::raise_raw()?;
    let opened: Vec<Vec<Result<crate::link::Channels>>> = config
        .passes
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
    privilege::drop_all()?;
    let recorder = match &config.pcap {
        Some(path) => {
            let f = crate::files::create_file(path)?;
            Some(
                crate::capture::Recorder::create(f)
                    .map_err(|e| Error::io(format!("--pcap {}", path.display()), e))?,
            )
        }
        None => None,
    };
    let mut passes = Vec::new();
    for ((p, pass), opened) in config.passes.iter().enumerate().zip(opened) {
        let mut engines = Vec::new();
        for ((path, runs), channels) in groups.values().zip(opened) {
            let stage = p as u32 * stride + engines.len() as u32;
            engines.push(engine_for(
                config,
                hosts,
                pass,
                path.clone(),
                runs.clone(),
                channels?,
                deadline,
                stage,
                recorder.clone(),
            )?);
        }
        passes.push(engines);
    }
    Ok(RawSide { passes, unroutable })
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
    stage: u32,
    recorder: Option<crate::capture::Recorder>,
) -> Result<Prepared> {
    let a = &config.syn;
    let (sport, reserved) = source_port::reserve(
        path.src,
        pass.proto,
        a.source_port,
        a.max_retries.min(crate::engine::SPORT_SPAN - 1),
        config.seed,
    );
    let opts = Options {
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
        patient: a.udp_patient && pass.proto == Proto::Udp,
    };
    let (start, done) = super::resume_start(config, stage);
    let job = Job {
        hosts: hosts.clone(),
        runs,
        ports: pass.ports.clone(),
        order: config.order(hosts, &pass.ports),
        probe: probe_for(config, pass.proto, &path),
        path,
        router_mac: a.router_mac,
        cookie: config.cookie,
        opts,
        recorder,
        start,
        done,
    };
    Ok(Prepared {
        scan: Scan::new(job, channels)?,
        _reserved: reserved,
    })
}
