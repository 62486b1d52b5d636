//! Next-hop MACs: the target's own on the local link, the gateway's beyond it, zero on
//! loopback. Taken from the kernel's neighbour table, else asked with our own ARP requests
//! on the channel (bounded waits). Local hosts that never answer are reported `no-arp`.

use crate::error::{Error, Result};
use crate::link;
use crate::route::{LinkKind, NextHop, Path, Routes};
use crate::target::HostSet;
use crate::wire::{Packet, build_arp_request, parse_ethernet};
use pnet::datalink::{DataLinkReceiver, DataLinkSender};
use pnet::util::MacAddr;
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

/// Most hosts examined one by one for their next hop; beyond this (huge sweeps) every host
/// takes the first host's route.
const MAX_PER_HOST: u64 = 1 << 20;
/// How long to wait for ARP replies after each round of requests.
const ARP_WAIT: Duration = Duration::from_millis(800);
/// Rounds of ARP requests.
const ARP_ROUNDS: usize = 2;

/// Where a probe's frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// Send to this MAC.
    Mac(MacAddr),
    /// A local host that did not answer ARP.
    NoArp,
    /// The routing table rejects this destination.
    Unreachable,
}

/// The next-hop MAC for every target of a scan.
#[derive(Debug, Clone)]
pub struct MacTable {
    kind: LinkKind,
    routes: Routes,
    path: Path,
    router_mac: Option<MacAddr>,
    macs: HashMap<Ipv4Addr, MacAddr>,
    uniform: Option<NextHop>,
}

impl MacTable {
    /// The MAC for a probe to `ip`.
    #[inline]
    pub fn hop(&self, ip: Ipv4Addr) -> Hop {
        if self.kind == LinkKind::Loopback {
            return Hop::Mac(MacAddr::zero());
        }
        if let Some(m) = self.router_mac {
            return Hop::Mac(m);
        }
        let nh = match self.uniform {
            Some(nh) => nh,
            None => self.path.next_hop(&self.routes, ip),
        };
        let key = match nh {
            NextHop::Loopback => return Hop::Mac(MacAddr::zero()),
            NextHop::Reject => return Hop::Unreachable,
            NextHop::OnLink => ip,
            NextHop::Gateway(g) => g,
        };
        match self.macs.get(&key) {
            Some(m) => Hop::Mac(*m),
            None => Hop::NoArp,
        }
    }

    /// Resolves every next hop `hosts` need, asking with ARP over `tx`/`rx` what the
    /// neighbour table does not know.
    pub fn resolve(
        path: &Path,
        hosts: &HostSet,
        router_mac: Option<MacAddr>,
        tx: &mut dyn DataLinkSender,
        rx: &mut dyn DataLinkReceiver,
    ) -> Result<MacTable> {
        let routes = Routes::read();
        let mut table = MacTable {
            kind: path.kind,
            routes,
            path: path.clone(),
            router_mac,
            macs: HashMap::new(),
            uniform: None,
        };
        if path.kind == LinkKind::Loopback || router_mac.is_some() {
            return Ok(table);
        }
        let mut wanted: HashSet<Ipv4Addr> = HashSet::new();
        let mut gateways: HashSet<Ipv4Addr> = HashSet::new();
        let n = hosts.len_v4();
        for i in 0..n.min(MAX_PER_HOST) {
            let Some(IpAddr::V4(ip)) = hosts.get(i) else {
                continue;
            };
            match path.next_hop(&table.routes, ip) {
                NextHop::OnLink => {
                    wanted.insert(ip);
                }
                NextHop::Gateway(g) => {
                    wanted.insert(g);
                    gateways.insert(g);
                }
                _ => {}
            }
        }
        if n > MAX_PER_HOST
            && let Some(IpAddr::V4(first)) = hosts.get(0)
        {
            table.uniform = Some(path.next_hop(&table.routes, first));
        }
        let known = crate::route::neighbours(&path.iface.name);
        for ip in &wanted {
            if let Some(m) = known.get(ip) {
                table.macs.insert(*ip, *m);
            }
        }
        let mut missing: Vec<Ipv4Addr> = wanted
            .into_iter()
            .filter(|ip| !table.macs.contains_key(ip))
            .collect();
        missing.sort();
        for _ in 0..ARP_ROUNDS {
            if missing.is_empty() {
                break;
            }
            arp_round(path, &missing, tx, rx, &mut table.macs)?;
            missing.retain(|ip| !table.macs.contains_key(ip));
        }
        if let Some(g) = gateways.iter().find(|g| !table.macs.contains_key(g)) {
            return Err(Error::Runtime(format!(
                "gateway {g} did not answer ARP on {}: give its MAC with --router-mac",
                path.iface.name
            )));
        }
        Ok(table)
    }
}

/// Sends one ARP request per address and collects replies for [`ARP_WAIT`] after the last.
fn arp_round(
    path: &Path,
    ips: &[Ipv4Addr],
    tx: &mut dyn DataLinkSender,
    rx: &mut dyn DataLinkReceiver,
    macs: &mut HashMap<Ipv4Addr, MacAddr>,
) -> Result<()> {
    let want: HashSet<Ipv4Addr> = ips.iter().copied().collect();
    let mut deadline = Instant::now() + ARP_WAIT;
    for (i, ip) in ips.iter().enumerate() {
        let frame = build_arp_request(path.src_mac, path.src, *ip);
        send_retrying(tx, &frame)?;
        if i % 64 == 63 {
            drain(rx, &want, macs, Instant::now())?;
            deadline = Instant::now() + ARP_WAIT;
        }
    }
    drain(rx, &want, macs, deadline.max(Instant::now() + ARP_WAIT))?;
    Ok(())
}

fn drain(
    rx: &mut dyn DataLinkReceiver,
    want: &HashSet<Ipv4Addr>,
    macs: &mut HashMap<Ipv4Addr, MacAddr>,
    until: Instant,
) -> Result<()> {
    loop {
        if want.iter().all(|ip| macs.contains_key(ip)) {
            return Ok(());
        }
        match rx.next() {
            Ok(frame) => {
                if let Ok((_, Packet::Arp(a))) = parse_ethernet(frame)
                    && a.op == 2
                    && want.contains(&a.sender_ip)
                {
                    macs.insert(a.sender_ip, a.sender_mac);
                }
            }
            Err(e) if link::is_idle(&e) => {}
            Err(e) => return Err(Error::io("receive ARP reply", e)),
        }
        if Instant::now() >= until {
            return Ok(());
        }
    }
}

/// Sends one frame, waiting briefly while the socket's queue is full.
pub fn send_retrying(tx: &mut dyn DataLinkSender, frame: &[u8]) -> Result<()> {
    for _ in 0..1000 {
        match tx.send_to(frame, None) {
            None | Some(Ok(())) => return Ok(()),
            Some(Err(e)) if is_transient(&e) => std::thread::sleep(Duration::from_micros(100)),
            Some(Err(e)) => return Err(Error::io("send frame", e)),
        }
    }
    Err(Error::Runtime("send queue stayed full for 100 ms".into()))
}

/// Errors that mean "try again shortly": the send queue is full.
pub fn is_transient(e: &io::Error) -> bool {
    link::is_queue_full(e) || e.kind() == io::ErrorKind::TimedOut
}
