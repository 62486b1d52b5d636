//! Next hops: which MAC each probe's frame goes to. The target's own on its link, the
//! gateway's beyond it, none on loopback and on links without a link layer. Taken from the
//! kernel's neighbour table, else asked with our own ARP requests (IPv4) or Neighbor
//! Solicitations (IPv6) on the scan's channels, in bounded rounds. On-link hosts that never
//! answer are reported `no-arp` / `no-ndp`.

use crate::error::{Error, Result};
use crate::link::{Framing, LinkRx, LinkTx};
use crate::route::{self, LinkKind, Path};
use crate::wire::{Network, Transport, arp, icmpv6, parse_ethernet};
use pnet::util::MacAddr;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most on-link hosts resolved one by one; beyond this (huge on-link sweeps) the rest are
/// reported as never answering.
const MAX_PER_HOST: usize = 1 << 20;
/// How long to wait for answers after each round of requests.
const WAIT: Duration = Duration::from_millis(800);
/// Rounds of requests.
const ROUNDS: usize = 2;

/// Where a probe's frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// Send to this MAC.
    Mac(MacAddr),
    /// An on-link host that did not answer ARP or Neighbor Solicitation.
    Silent,
    /// The engine does not serve this destination.
    None,
}

/// A run of served targets: first and last address (as numbers) and their gateway, if the
/// run is not on-link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First address.
    pub first: u128,
    /// Last address (inclusive).
    pub last: u128,
    /// The gateway, or `None` for on-link targets.
    pub gateway: Option<IpAddr>,
}

/// The next-hop MAC of every target one engine serves.
#[derive(Debug, Clone)]
pub struct NextHops {
    v6: bool,
    /// Every frame goes to this MAC (loopback, raw IP links: zero; `--router-mac`).
    fixed: Option<MacAddr>,
    runs: Vec<Run>,
    macs: HashMap<IpAddr, MacAddr>,
}

impl NextHops {
    /// The runs this engine serves (sorted by address, of the path's family).
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    fn run_of(&self, ip: IpAddr) -> Option<&Run> {
        if ip.is_ipv6() != self.v6 {
            return None;
        }
        let x = route::to_u128(ip);
        let i = self.runs.partition_point(|r| r.last < x);
        self.runs.get(i).filter(|r| r.first <= x)
    }

    /// True when this engine probes `ip`.
    #[inline]
    pub fn serves(&self, ip: IpAddr) -> bool {
        self.run_of(ip).is_some()
    }

    /// The MAC for a probe to `ip`.
    #[inline]
    pub fn hop(&self, ip: IpAddr) -> Hop {
        let Some(run) = self.run_of(ip) else {
            return Hop::None;
        };
        if let Some(m) = self.fixed {
            return Hop::Mac(m);
        }
        let key = run.gateway.unwrap_or(ip);
        match self.macs.get(&key) {
            Some(m) => Hop::Mac(*m),
            None => Hop::Silent,
        }
    }

    /// Next hops with no resolution at all: every frame to `mac` (tests, `--router-mac`).
    pub fn fixed(v6: bool, runs: Vec<Run>, mac: MacAddr) -> NextHops {
        NextHops {
            v6,
            fixed: Some(mac),
            runs,
            macs: HashMap::new(),
        }
    }

    /// Resolves every next hop `runs` need on `path`, asking with ARP or Neighbor
    /// Solicitation over `tx`/`rx` what the kernel's neighbour table does not know. A
    /// gateway that never answers is an error (no probe could reach anything behind it).
    pub fn resolve(
        path: &Path,
        runs: Vec<Run>,
        router_mac: Option<MacAddr>,
        tx: &mut dyn LinkTx,
        rx: &mut dyn LinkRx,
        framing: Framing,
    ) -> Result<NextHops> {
        let v6 = path.src.is_ipv6();
        if path.kind != LinkKind::Ethernet || framing != Framing::Ethernet {
            return Ok(NextHops::fixed(v6, runs, MacAddr::zero()));
        }
        if let Some(m) = router_mac {
            return Ok(NextHops::fixed(v6, runs, m));
        }
        let mut hops = NextHops {
            v6,
            fixed: None,
            runs,
            macs: HashMap::new(),
        };
        let mut wanted: Vec<IpAddr> = Vec::new();
        let mut seen: HashSet<IpAddr> = HashSet::new();
        let mut gateways: Vec<IpAddr> = Vec::new();
        let like = path.src;
        'runs: for r in &hops.runs {
            match r.gateway {
                Some(g) => {
                    if seen.insert(g) {
                        wanted.push(g);
                        gateways.push(g);
                    }
                }
                None => {
                    let mut x = r.first;
                    loop {
                        if wanted.len() >= MAX_PER_HOST {
                            break 'runs;
                        }
                        let ip = route::from_u128(x, like);
                        if seen.insert(ip) {
                            wanted.push(ip);
                        }
                        if x >= r.last {
                            break;
                        }
                        x += 1;
                    }
                }
            }
        }
        if let Ok(known) = route::neighbours() {
            for n in known {
                if n.ifindex == path.iface.index && seen.contains(&n.ip) {
                    hops.macs.insert(n.ip, n.mac);
                }
            }
        }
        let mut missing: Vec<IpAddr> = wanted
            .into_iter()
            .filter(|ip| !hops.macs.contains_key(ip))
            .collect();
        for _ in 0..ROUNDS {
            if missing.is_empty() {
                break;
            }
            ask(path, &missing, tx, rx, &mut hops.macs)?;
            missing.retain(|ip| !hops.macs.contains_key(ip));
        }
        if let Some(g) = gateways.iter().find(|g| !hops.macs.contains_key(g)) {
            return Err(Error::Runtime(format!(
                "gateway {g} did not answer {} on {}: give its MAC with --router-mac",
                if v6 { "neighbor solicitation" } else { "ARP" },
                path.iface.name
            )));
        }
        Ok(hops)
    }
}

/// Sends one request per address and collects answers for [`WAIT`] after the last.
fn ask(
    path: &Path,
    ips: &[IpAddr],
    tx: &mut dyn LinkTx,
    rx: &mut dyn LinkRx,
    macs: &mut HashMap<IpAddr, MacAddr>,
) -> Result<()> {
    let want: HashSet<IpAddr> = ips.iter().copied().collect();
    let mut deadline = Instant::now() + WAIT;
    for (i, ip) in ips.iter().enumerate() {
        let sent = match (path.src, ip) {
            (IpAddr::V4(src), IpAddr::V4(t)) => tx.send(&arp::request_frame(path.src_mac, src, *t)),
            (IpAddr::V6(src), IpAddr::V6(t)) => {
                tx.send(&icmpv6::neighbor_solicitation_frame(path.src_mac, src, *t))
            }
            _ => Ok(()),
        };
        sent.map_err(|e| Error::io(format!("send neighbour request on {}", path.iface.name), e))?;
        if i % 64 == 63 {
            drain(rx, &want, macs, Instant::now())?;
            deadline = Instant::now() + WAIT;
        }
    }
    drain(rx, &want, macs, deadline.max(Instant::now() + WAIT))
}

/// Reads ARP replies and neighbor advertisements until all of `want` answered or `until`.
fn drain(
    rx: &mut dyn LinkRx,
    want: &HashSet<IpAddr>,
    macs: &mut HashMap<IpAddr, MacAddr>,
    until: Instant,
) -> Result<()> {
    loop {
        if want.iter().all(|ip| macs.contains_key(ip)) {
            return Ok(());
        }
        match rx.recv() {
            Ok(Some(frame)) => match parse_ethernet(frame) {
                Ok((_, Network::Arp(a)))
                    if a.op == arp::OP_REPLY && want.contains(&IpAddr::V4(a.sender_ip)) =>
                {
                    macs.insert(IpAddr::V4(a.sender_ip), a.sender_mac);
                }
                Ok((eth, Network::Ipv6(_, Transport::Icmpv6(m))))
                    if m.icmp_type == icmpv6::NEIGHBOR_ADVERT =>
                {
                    if let Some(n) = m.ndp
                        && want.contains(&IpAddr::V6(n.target))
                    {
                        macs.insert(IpAddr::V6(n.target), n.lladdr.unwrap_or(eth.src));
                    }
                }
                _ => {}
            },
            Ok(None) => {}
            Err(e) => return Err(Error::io("receive neighbour answer", e)),
        }
        if Instant::now() >= until {
            return Ok(());
        }
    }
}
