//! TCP SYN traceroute over IPv4 or IPv6: one SYN per TTL or hop limit (1..=max), all sent at
//! once; routers answer with ICMP or ICMPv6 time-exceeded quoting our probe, the target with a
//! SYN-ACK or RST. Hops are listed up to the first TTL the target itself answered.

use super::build::{Defaults, build, destination};
use super::dissect::flag_letters;
use super::spec::parse;
use super::sr::{Io, SrOptions, interface_for};
use crate::error::{Error, Result};
use crate::wire::{self, Network, Transport, icmp, icmpv6};
use std::net::IpAddr;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// One hop of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// TTL of the probe.
    pub ttl: u8,
    /// Who answered (`None`: nobody within the timeout).
    pub from: Option<IpAddr>,
    /// Round-trip time.
    pub rtt: Option<Duration>,
    /// What the answer was: `time-exceeded`, `SA`, `RA`, an ICMP error name.
    pub what: String,
}

/// Traces the path to `dst:port`.
pub fn trace(
    dst: IpAddr,
    port: u16,
    max_ttl: u8,
    timeout: Duration,
    iface: Option<&str>,
    stop: &AtomicBool,
) -> Result<Vec<Hop>> {
    let ip = match dst {
        IpAddr::V4(_) => format!("IP(dst={dst},ttl=1-{max_ttl})"),
        IpAddr::V6(_) => format!("IPv6(dst={dst},hlim=1-{max_ttl})"),
    };
    let spec = parse(&format!("{ip}/TCP(dport={port},flags=S)"))
        .map_err(|e| Error::input(e.to_string()))?;
    let stacks = spec.expand();
    let ifc = interface_for(destination(&stacks[0]), iface)?;
    let d = Defaults::random(ifc.mac.unwrap_or(pnet::util::MacAddr::zero()));
    let probes: Vec<_> = stacks
        .iter()
        .enumerate()
        .map(|(n, s)| build(s, &d, n))
        .collect();
    let mut io = Io::open(&probes, ifc, true)?;
    let opts = SrOptions {
        timeout,
        retry: 0,
        inter: Duration::ZERO,
        first_only: false,
    };
    let res = io.sr(&probes, &opts, stop)?;
    let mut hops: Vec<Hop> = (1..=max_ttl)
        .map(|ttl| Hop {
            ttl,
            from: None,
            rtt: None,
            what: "*".into(),
        })
        .collect();
    for a in &res.answered {
        let (from, t) = match wire::parse_ethernet(&a.reply) {
            Ok((_, Network::Ipv4(ip, t))) => (IpAddr::V4(ip.src), t),
            Ok((_, Network::Ipv6(ip, t))) => (IpAddr::V6(ip.src), t),
            _ => continue,
        };
        let what = match t {
            Transport::Tcp(tcp) => flag_letters(tcp.flags),
            Transport::Icmp(m) if m.icmp_type == icmp::TIME_EXCEEDED => "time-exceeded".into(),
            Transport::Icmp(m) => format!("icmp {}/{}", m.icmp_type, m.code),
            Transport::Icmpv6(m) if m.icmp_type == icmpv6::TIME_EXCEEDED => "time-exceeded".into(),
            Transport::Icmpv6(m) => format!("icmp6 {}/{}", m.icmp_type, m.code),
            _ => "?".into(),
        };
        if let Some(h) = hops.get_mut(a.probe) {
            h.from = Some(from);
            h.rtt = Some(a.rtt);
            h.what = what;
        }
    }
    if let Some(end) = hops.iter().position(|h| h.from == Some(dst)) {
        hops.truncate(end + 1);
    } else if let Some(last) = hops.iter().rposition(|h| h.from.is_some()) {
        hops.truncate((last + 2).min(hops.len()));
    }
    Ok(hops)
}
