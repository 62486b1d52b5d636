//! The path to each target, as the kernel would take it: outgoing interface and source address
//! (asked of the kernel by connecting a UDP socket, which sends nothing), on-link versus
//! gateway next hops (from /proc/net/route), and the neighbour table (/proc/net/arp).

use crate::error::{Error, Result};
use pnet::datalink::{self, NetworkInterface};
use pnet::util::MacAddr;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// What kind of link layer an interface has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Ethernet (ARPHRD_ETHER): frames need next-hop MACs.
    Ethernet,
    /// Loopback (ARPHRD_LOOPBACK): Ethernet framing with zero MACs, no ARP.
    Loopback,
    /// No link layer (tun, WireGuard, ...): a datalink channel cannot frame for it.
    None(u32),
}

/// The interface and source address a scan sends from.
#[derive(Debug, Clone)]
pub struct Path {
    /// The interface.
    pub iface: NetworkInterface,
    /// Its link kind.
    pub kind: LinkKind,
    /// Our source address.
    pub src: Ipv4Addr,
    /// Our MAC (zero on loopback).
    pub src_mac: MacAddr,
    /// Interface MTU.
    pub mtu: u32,
}

/// One line of /proc/net/route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// Destination network.
    pub dst: u32,
    /// Netmask.
    pub mask: u32,
    /// Gateway (0: on-link).
    pub gateway: u32,
    /// Route flags (RTF_*).
    pub flags: u32,
    /// Metric.
    pub metric: u32,
    /// Interface index in the list read.
    pub iface: usize,
}

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;

/// The routing table, interface names indexed by `Route::iface`.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// Interface names.
    pub ifaces: Vec<String>,
    /// Routes.
    pub routes: Vec<Route>,
}

impl Routes {
    /// Reads /proc/net/route (main table).
    pub fn read() -> Routes {
        std::fs::read_to_string("/proc/net/route")
            .map(|t| Routes::parse(&t))
            .unwrap_or_default()
    }

    /// Parses /proc/net/route text (addresses are little-endian hex).
    pub fn parse(text: &str) -> Routes {
        let mut r = Routes::default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                continue;
            }
            // The kernel prints the network-order address as a host-order (little-endian) word.
            let hex = |s: &str| {
                u32::from_str_radix(s, 16)
                    .ok()
                    .map(|v| u32::from_be_bytes(v.to_le_bytes()))
            };
            let (Some(dst), Some(gw), Some(mask)) = (hex(f[1]), hex(f[2]), hex(f[7])) else {
                continue;
            };
            let (Ok(flags), Ok(metric)) = (u32::from_str_radix(f[3], 16), f[6].parse::<u32>())
            else {
                continue;
            };
            let iface = match r.ifaces.iter().position(|n| n == f[0]) {
                Some(i) => i,
                None => {
                    r.ifaces.push(f[0].to_string());
                    r.ifaces.len() - 1
                }
            };
            r.routes.push(Route {
                dst,
                mask,
                gateway: gw,
                flags,
                metric,
                iface,
            });
        }
        r
    }

    /// The most specific usable route to `ip` via interface `iface` (any interface: `None`).
    pub fn lookup(&self, ip: Ipv4Addr, iface: Option<&str>) -> Option<&Route> {
        let x = u32::from(ip);
        self.routes
            .iter()
            .filter(|r| r.flags & RTF_UP != 0 && x & r.mask == r.dst)
            .filter(|r| {
                iface.is_none_or(|n| self.ifaces.get(r.iface).map(String::as_str) == Some(n))
            })
            .max_by(|a, b| {
                a.mask
                    .count_ones()
                    .cmp(&b.mask.count_ones())
                    .then(b.metric.cmp(&a.metric))
            })
    }
}

/// Where frames to one target go next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHop {
    /// Loopback: no MAC needed.
    Loopback,
    /// The target is on the local link: its own MAC.
    OnLink,
    /// Through a gateway: the gateway's MAC.
    Gateway(Ipv4Addr),
    /// The table says this destination is rejected (unreachable or prohibit route).
    Reject,
}

impl Path {
    /// Finds the path to `target`, honouring `-e IFACE` and `-S ADDR`.
    pub fn discover(target: Ipv4Addr, iface: Option<&str>, src: Option<Ipv4Addr>) -> Result<Path> {
        Path::discover_in(&datalink::interfaces(), target, iface, src)
    }

    /// [`Path::discover`] over an interface list read once.
    pub fn discover_in(
        all: &[NetworkInterface],
        target: Ipv4Addr,
        iface: Option<&str>,
        src: Option<Ipv4Addr>,
    ) -> Result<Path> {
        let src = match src {
            Some(s) => s,
            None => match iface {
                Some(name) => {
                    let i = all
                        .iter()
                        .find(|i| i.name == name)
                        .ok_or_else(|| Error::input(format!("no interface named '{name}'")))?;
                    first_v4(i).ok_or_else(|| {
                        Error::input(format!(
                            "interface '{name}' has no IPv4 address: give one with -S"
                        ))
                    })?
                }
                None => kernel_source(target)?,
            },
        };
        let found = match iface {
            Some(name) => all.iter().find(|i| i.name == name),
            None => all
                .iter()
                .find(|i| i.ips.iter().any(|n| n.ip() == IpAddr::V4(src)))
                .or_else(|| {
                    src.is_loopback()
                        .then(|| all.iter().find(|i| i.is_loopback()))
                        .flatten()
                }),
        };
        let iface = found.cloned().ok_or_else(|| {
            Error::input(format!(
                "cannot find the interface for source address {src} (give one with -e)"
            ))
        })?;
        let kind = link_kind(&iface);
        let mtu = std::fs::read_to_string(format!("/sys/class/net/{}/mtu", iface.name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1500);
        Ok(Path {
            src_mac: iface.mac.unwrap_or(MacAddr::zero()),
            iface,
            kind,
            src,
            mtu,
        })
    }

    /// The next hop for `target` on this path.
    pub fn next_hop(&self, routes: &Routes, target: Ipv4Addr) -> NextHop {
        if self.kind == LinkKind::Loopback {
            return NextHop::Loopback;
        }
        let on_iface_subnet = self.iface.ips.iter().any(|n| match n {
            pnet::ipnetwork::IpNetwork::V4(v4) => v4.contains(target) && v4.prefix() < 32,
            _ => false,
        });
        match routes.lookup(target, Some(&self.iface.name)) {
            Some(r) if r.flags & RTF_REJECT != 0 => NextHop::Reject,
            Some(r) if r.flags & RTF_GATEWAY != 0 && !on_iface_subnet => {
                NextHop::Gateway(Ipv4Addr::from(r.gateway))
            }
            Some(_) => NextHop::OnLink,
            None if on_iface_subnet => NextHop::OnLink,
            None => match routes.lookup(target, None) {
                Some(r) if r.flags & RTF_REJECT != 0 => NextHop::Reject,
                _ => NextHop::Reject,
            },
        }
    }

    /// A one-line description for notices.
    pub fn describe(&self) -> String {
        format!("{} ({}) from {}", self.iface.name, self.src_mac, self.src)
    }
}

fn first_v4(i: &NetworkInterface) -> Option<Ipv4Addr> {
    i.ips.iter().find_map(|n| match n.ip() {
        IpAddr::V4(a) => Some(a),
        _ => None,
    })
}

/// The source address the kernel would use for `target`: connect() a UDP socket (no packet is
/// sent) and read its local address.
pub fn kernel_source(target: Ipv4Addr) -> Result<Ipv4Addr> {
    kernel_route(target).map_err(|e| match e {
        RouteError::Unroutable(reason) => {
            Error::input(format!("no route to {target} ({})", reason.as_str()))
        }
        RouteError::Other(e) => e,
    })
}

/// Why the kernel will not route to a target.
#[derive(Debug)]
pub enum RouteError {
    /// The routing table rejects it: the reason a probe would get.
    Unroutable(crate::event::Reason),
    /// Something else failed.
    Other(Error),
}

/// The kernel's source address for `target`, or why it has no route.
pub fn kernel_route(target: Ipv4Addr) -> std::result::Result<Ipv4Addr, RouteError> {
    use crate::event::Reason;
    let sock = UdpSocket::bind("0.0.0.0:0")
        .map_err(|e| RouteError::Other(Error::io("bind UDP socket", e)))?;
    if let Err(e) = sock.connect(SocketAddr::new(IpAddr::V4(target), 9)) {
        return Err(match e.raw_os_error() {
            Some(libc::ENETUNREACH) => RouteError::Unroutable(Reason::NetUnreach),
            Some(libc::EHOSTUNREACH) => RouteError::Unroutable(Reason::HostUnreach),
            Some(libc::EACCES) | Some(libc::EPERM) => {
                RouteError::Unroutable(Reason::AdminProhibited)
            }
            // A blackhole route: the kernel discards silently, as a probe would see it.
            Some(libc::EINVAL) => RouteError::Unroutable(Reason::NoResponse),
            _ => RouteError::Other(Error::io(format!("route lookup for {target}"), e)),
        });
    }
    match sock.local_addr() {
        Ok(SocketAddr::V4(a)) => Ok(*a.ip()),
        Ok(_) => Err(RouteError::Other(Error::Runtime(format!(
            "no IPv4 source address for {target}"
        )))),
        Err(e) => Err(RouteError::Other(Error::io("getsockname", e))),
    }
}

/// The link kind from /sys/class/net/IFACE/type (ARPHRD_*).
pub fn link_kind(iface: &NetworkInterface) -> LinkKind {
    let t: u32 = std::fs::read_to_string(format!("/sys/class/net/{}/type", iface.name))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(if iface.is_loopback() { 772 } else { 1 });
    match t {
        1 => LinkKind::Ethernet,
        772 => LinkKind::Loopback,
        other => LinkKind::None(other),
    }
}

/// Complete entries of the kernel's neighbour table for `iface` (/proc/net/arp).
pub fn neighbours(iface: &str) -> HashMap<Ipv4Addr, MacAddr> {
    let text = std::fs::read_to_string("/proc/net/arp").unwrap_or_default();
    parse_neighbours(&text, iface)
}

fn parse_neighbours(text: &str, iface: &str) -> HashMap<Ipv4Addr, MacAddr> {
    let mut m = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || f[5] != iface || f[2] != "0x2" {
            continue;
        }
        if let (Ok(ip), Ok(mac)) = (f[0].parse::<Ipv4Addr>(), f[3].parse::<MacAddr>())
            && mac != MacAddr::zero()
        {
            m.insert(ip, mac);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
        eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
        eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
        *\t0000580A\t00000000\t0201\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    #[test]
    fn longest_prefix_wins() {
        let r = Routes::parse(TABLE);
        assert_eq!(r.routes.len(), 3);
        let d = r.lookup(Ipv4Addr::new(8, 8, 8, 8), None).unwrap();
        assert_eq!(Ipv4Addr::from(d.gateway), Ipv4Addr::new(192, 0, 2, 1));
        let l = r.lookup(Ipv4Addr::new(192, 0, 2, 77), None).unwrap();
        assert_eq!(l.gateway, 0);
        let rej = r.lookup(Ipv4Addr::new(10, 88, 0, 5), None).unwrap();
        assert!(rej.flags & RTF_REJECT != 0);
    }

    #[test]
    fn neighbour_table() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
                 192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n\
                 192.0.2.9        0x1         0x0         00:00:00:00:00:00     *        eth0\n";
        let m = parse_neighbours(t, "eth0");
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[&Ipv4Addr::new(192, 0, 2, 1)],
            MacAddr::new(2, 0xfc, 0, 0, 0, 5)
        );
        assert!(parse_neighbours(t, "eth1").is_empty());
    }
}
