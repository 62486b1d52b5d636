//! The path to each target, as the kernel takes it, asked over rtnetlink (IPv4 and IPv6):
//! the kernel's route decision per destination (as `ip route get` does, so policy rules, every
//! table, and blackhole, unreachable and prohibit routes are honoured), the neighbour table,
//! and how to cut a target set into pieces that share one decision without asking per host.
//!
//! The cut: every route prefix of every table, and every destination prefix of a policy rule,
//! starts or ends somewhere; between two consecutive such boundaries the longest-prefix match
//! cannot change, so one `ip route get` answers for the whole piece.

use crate::error::{Error, Result};
use crate::event::Reason;
use crate::target::HostSet;
use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
};
use netlink_packet_route::rule::RuleMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use pnet::datalink::NetworkInterface;
use pnet::util::MacAddr;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// What kind of link layer an interface has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Ethernet (ARPHRD_ETHER): frames need next-hop MACs.
    Ethernet,
    /// Loopback (ARPHRD_LOOPBACK): Ethernet framing with zero MACs, no neighbour discovery.
    Loopback,
    /// No link layer (tun, WireGuard ...): bare IP packets, sent through a raw IP socket.
    None(u32),
}

/// The kernel's route decision for one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Outgoing interface index.
    pub oif: u32,
    /// The source address the kernel would use.
    pub src: IpAddr,
    /// The gateway, when the destination is not on-link.
    pub gateway: Option<IpAddr>,
    /// The destination is one of this host's own addresses (local table).
    pub local: bool,
}

/// Why the kernel will not route to a target.
#[derive(Debug)]
pub enum RouteError {
    /// The routing table rejects it: the reason a probe would get.
    Unroutable(Reason),
    /// Something else failed.
    Other(Error),
}

/// How long one netlink exchange may take: the kernel answers at once; this only bounds a
/// broken socket.
const NETLINK_TIMEOUT: Duration = Duration::from_secs(5);
/// Most messages read for one request (a dump of a very large routing table stops here).
const MAX_MESSAGES: usize = 1 << 20;

/// A connected rtnetlink socket with a receive timeout.
struct Netlink {
    sock: Socket,
    seq: u32,
}

impl Netlink {
    fn open() -> Result<Netlink> {
        let mut sock =
            Socket::new(NETLINK_ROUTE).map_err(|e| Error::io("open netlink socket", e))?;
        sock.bind_auto()
            .map_err(|e| Error::io("bind netlink socket", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| Error::io("connect netlink socket", e))?;
        socket2::SockRef::from(&sock)
            .set_read_timeout(Some(NETLINK_TIMEOUT))
            .map_err(|e| Error::io("set netlink timeout", e))?;
        Ok(Netlink { sock, seq: 0 })
    }

    /// Sends `msg` and collects the inner messages of the answer (until Done for a dump);
    /// a netlink error comes back as `Err(errno)`.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        dump: bool,
    ) -> Result<std::result::Result<Vec<RouteNetlinkMessage>, i32>> {
        self.seq = self.seq.wrapping_add(1);
        let mut packet = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(msg));
        packet.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
        packet.header.sequence_number = self.seq;
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf[..]);
        self.sock
            .send(&buf, 0)
            .map_err(|e| Error::io("send netlink request", e))?;
        let mut out = Vec::new();
        let mut rbuf = vec![0u8; 1 << 16];
        for _ in 0..MAX_MESSAGES {
            let n = self
                .sock
                .recv(&mut &mut rbuf[..], 0)
                .map_err(|e| Error::io("receive netlink answer", e))?;
            let mut off = 0;
            while off < n.min(rbuf.len()) {
                let m: NetlinkMessage<RouteNetlinkMessage> =
                    NetlinkMessage::deserialize(&rbuf[off..n.min(rbuf.len())])
                        .map_err(|e| Error::Runtime(format!("bad netlink answer: {e}")))?;
                let len = m.header.length as usize;
                if m.header.sequence_number == self.seq {
                    match m.payload {
                        NetlinkPayload::Done(_) => return Ok(Ok(out)),
                        NetlinkPayload::Error(e) => match e.code {
                            Some(code) => return Ok(Err(-code.get())),
                            None => return Ok(Ok(out)),
                        },
                        NetlinkPayload::InnerMessage(inner) => {
                            out.push(inner);
                            if !dump {
                                return Ok(Ok(out));
                            }
                        }
                        _ => {}
                    }
                }
                if len == 0 {
                    break;
                }
                off += len;
            }
        }
        Err(Error::Runtime("netlink answer too long".into()))
    }
}

fn family_of(a: IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v) => Some(IpAddr::V4(*v)),
        RouteAddress::Inet6(v) => Some(IpAddr::V6(*v)),
        _ => None,
    }
}

/// The reason a probe to a target behind a rejecting route gets, by errno or route type.
/// The kernel refuses an IPv4 `unreachable` route with EHOSTUNREACH (ICMP host-unreachable
/// from a router), an IPv6 one with EHOSTUNREACH too, which a router would send as ICMPv6
/// no-route (type 1 code 0).
fn reject_reason(v6: bool, errno: i32, kind: Option<RouteType>) -> Option<Reason> {
    let r = match (kind, errno) {
        (Some(RouteType::Unreachable), _) | (_, libc::ENETUNREACH | libc::EHOSTUNREACH) if v6 => {
            Reason::NoRoute
        }
        (Some(RouteType::Unreachable), _) | (_, libc::ENETUNREACH) => Reason::NetUnreach,
        (_, libc::EHOSTUNREACH) => Reason::HostUnreach,
        (Some(RouteType::Prohibit), _) | (_, libc::EACCES) | (_, libc::EPERM) => {
            Reason::AdminProhibited
        }
        // A blackhole route: the kernel discards silently, as a probe would see it.
        (Some(RouteType::BlackHole), _) | (_, libc::EINVAL) => Reason::NoResponse,
        _ => return None,
    };
    Some(r)
}

/// The kernel's decision for `dst` (`ip route get DST`).
pub fn get(dst: IpAddr) -> std::result::Result<Decision, RouteError> {
    let mut nl = Netlink::open().map_err(RouteError::Other)?;
    get_with(&mut nl, dst)
}

fn get_with(nl: &mut Netlink, dst: IpAddr) -> std::result::Result<Decision, RouteError> {
    let mut msg = RouteMessage::default();
    msg.header.address_family = family_of(dst);
    msg.header.destination_prefix_length = if dst.is_ipv4() { 32 } else { 128 };
    msg.attributes
        .push(RouteAttribute::Destination(RouteAddress::from(dst)));
    let answer = nl
        .request(RouteNetlinkMessage::GetRoute(msg), false)
        .map_err(RouteError::Other)?;
    let routes = match answer {
        Ok(r) => r,
        Err(errno) => {
            return Err(match reject_reason(dst.is_ipv6(), errno, None) {
                Some(r) => RouteError::Unroutable(r),
                None => RouteError::Other(Error::io(
                    format!("route lookup for {dst}"),
                    std::io::Error::from_raw_os_error(errno),
                )),
            });
        }
    };
    let Some(RouteNetlinkMessage::NewRoute(r)) = routes.into_iter().next() else {
        return Err(RouteError::Other(Error::Runtime(format!(
            "no route answer for {dst}"
        ))));
    };
    if let Some(reason) = reject_reason(dst.is_ipv6(), 0, Some(r.header.kind)) {
        return Err(RouteError::Unroutable(reason));
    }
    let mut d = Decision {
        oif: 0,
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        gateway: None,
        local: r.header.kind == RouteType::Local,
    };
    let mut have_src = false;
    for a in &r.attributes {
        match a {
            RouteAttribute::Oif(i) => d.oif = *i,
            RouteAttribute::PrefSource(s) => {
                if let Some(ip) = route_ip(s) {
                    d.src = ip;
                    have_src = true;
                }
            }
            RouteAttribute::Gateway(g) => d.gateway = route_ip(g),
            _ => {}
        }
    }
    if !have_src {
        // The kernel names no preferred source for some routes (IPv6 on-link): the address it
        // would pick is asked the classic way, a UDP connect() that sends nothing.
        d.src = connect_source(dst).map_err(RouteError::Other)?;
    }
    Ok(d)
}

/// The source address the kernel picks for `dst`: connect() a UDP socket (nothing is sent)
/// and read its local address.
fn connect_source(dst: IpAddr) -> Result<IpAddr> {
    let bind: std::net::SocketAddr = match dst {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = std::net::UdpSocket::bind(bind).map_err(|e| Error::io("bind UDP socket", e))?;
    sock.connect((dst, 9))
        .map_err(|e| Error::io(format!("route lookup for {dst}"), e))?;
    sock.local_addr()
        .map(|a| a.ip())
        .map_err(|e| Error::io("getsockname", e))
}

/// An address as a number in its family's space.
pub fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    }
}

/// The address for a number in `like`'s family.
pub fn from_u128(x: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(x as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(x)),
    }
}

/// The first address and the address past the last of `a/len` (the end saturates).
fn prefix_span(a: u128, len: u8, bits: u32) -> (u128, u128) {
    let len = u32::from(len).min(bits);
    let host_bits = bits - len;
    let size: u128 = if host_bits >= 128 {
        u128::MAX
    } else {
        1u128 << host_bits
    };
    let start = if host_bits >= 128 { 0 } else { a & !(size - 1) };
    (start, start.saturating_add(size))
}

/// Every point where some route or policy rule's destination prefix starts or ends, in one
/// family: between two of them every destination gets the same decision.
fn boundaries(nl: &mut Netlink, v6: bool) -> Result<BTreeSet<u128>> {
    let bits = if v6 { 128 } else { 32 };
    let mut set = BTreeSet::new();
    let mut msg = RouteMessage::default();
    msg.header.address_family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    msg.header.table = RouteHeader::RT_TABLE_UNSPEC;
    if let Ok(routes) = nl.request(RouteNetlinkMessage::GetRoute(msg), true)? {
        for m in routes {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            let dst = r
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Destination(d) => route_ip(d),
                    _ => None,
                })
                .map_or(0, to_u128);
            let (s, e) = prefix_span(dst, r.header.destination_prefix_length, bits);
            set.insert(s);
            set.insert(e);
        }
    }
    let mut rule = RuleMessage::default();
    rule.header.family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    if let Ok(rules) = nl.request(RouteNetlinkMessage::GetRule(rule), true)? {
        for m in rules {
            let RouteNetlinkMessage::NewRule(r) = m else {
                continue;
            };
            if r.header.dst_len == 0 {
                continue;
            }
            let dst = r.attributes.iter().find_map(|a| match a {
                netlink_packet_route::rule::RuleAttribute::Destination(d) => Some(to_u128(*d)),
                _ => None,
            });
            if let Some(dst) = dst {
                let (s, e) = prefix_span(dst, r.header.dst_len, bits);
                set.insert(s);
                set.insert(e);
            }
        }
    }
    Ok(set)
}

/// A run of targets that share one route decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// First address.
    pub first: IpAddr,
    /// Last address (inclusive).
    pub last: IpAddr,
    /// The decision, or why the kernel will not route there.
    pub route: std::result::Result<Decision, Reason>,
}

/// Cuts `hosts` into pieces that share one route decision, asking the kernel once per piece
/// (see the module doc).
pub fn pieces(hosts: &HostSet) -> Result<Vec<Piece>> {
    let mut nl = Netlink::open()?;
    let mut out = Vec::new();
    for v6 in [false, true] {
        let ranges = hosts.ranges(v6);
        if ranges.is_empty() {
            continue;
        }
        let cuts = boundaries(&mut nl, v6)?;
        let like = if v6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        for &(start, end) in ranges {
            let mut at = start;
            loop {
                // The next boundary past `at` ends this piece.
                let stop = match at.checked_add(1) {
                    Some(next) => cuts.range(next..).next().map_or(end, |&b| (b - 1).min(end)),
                    None => end,
                };
                let first = from_u128(at, like);
                let route = match get_with(&mut nl, first) {
                    Ok(d) => Ok(d),
                    Err(RouteError::Unroutable(r)) => Err(r),
                    Err(RouteError::Other(e)) => return Err(e),
                };
                out.push(Piece {
                    first,
                    last: from_u128(stop, like),
                    route,
                });
                if stop >= end {
                    break;
                }
                at = stop + 1;
            }
        }
    }
    Ok(out)
}

/// One usable entry of the kernel's neighbour table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    /// Interface index.
    pub ifindex: u32,
    /// The neighbour's address.
    pub ip: IpAddr,
    /// Its MAC.
    pub mac: MacAddr,
}

/// The kernel's neighbour entries (ARP and NDP) that hold a usable MAC: reachable, stale,
/// delayed, being probed or permanent.
pub fn neighbours() -> Result<Vec<Neighbour>> {
    let mut nl = Netlink::open()?;
    let mut out = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut msg = NeighbourMessage::default();
        msg.header.family = family;
        let Ok(list) = nl.request(RouteNetlinkMessage::GetNeighbour(msg), true)? else {
            continue;
        };
        for m in list {
            let RouteNetlinkMessage::NewNeighbour(n) = m else {
                continue;
            };
            if !matches!(
                n.header.state,
                NeighbourState::Reachable
                    | NeighbourState::Stale
                    | NeighbourState::Delay
                    | NeighbourState::Probe
                    | NeighbourState::Permanent
            ) {
                continue;
            }
            let mut ip = None;
            let mut mac = None;
            for a in &n.attributes {
                match a {
                    NeighbourAttribute::Destination(NeighbourAddress::Inet(v)) => {
                        ip = Some(IpAddr::V4(*v))
                    }
                    NeighbourAttribute::Destination(NeighbourAddress::Inet6(v)) => {
                        ip = Some(IpAddr::V6(*v))
                    }
                    NeighbourAttribute::LinkLayerAddress(l) if l.len() == 6 => {
                        mac = Some(MacAddr::new(l[0], l[1], l[2], l[3], l[4], l[5]))
                    }
                    _ => {}
                }
            }
            if let (Some(ip), Some(mac)) = (ip, mac)
                && mac != MacAddr::zero()
            {
                out.push(Neighbour {
                    ifindex: n.header.ifindex,
                    ip,
                    mac,
                });
            }
        }
    }
    Ok(out)
}

/// The interface and source address a scan sends from.
#[derive(Debug, Clone)]
pub struct Path {
    /// The interface.
    pub iface: NetworkInterface,
    /// Its link kind.
    pub kind: LinkKind,
    /// Our source address.
    pub src: IpAddr,
    /// Our MAC (zero on loopback and links without one).
    pub src_mac: MacAddr,
    /// Interface MTU.
    pub mtu: u32,
}

impl Path {
    /// The path out of interface `oif` from `src`.
    pub fn new(all: &[NetworkInterface], oif: u32, src: IpAddr) -> Result<Path> {
        let iface = all
            .iter()
            .find(|i| i.index == oif)
            .cloned()
            .ok_or_else(|| Error::Runtime(format!("no interface with index {oif}")))?;
        Ok(Path::on(iface, src))
    }

    /// The path out of `iface` from `src`.
    pub fn on(iface: NetworkInterface, src: IpAddr) -> Path {
        Path {
            kind: link_kind(&iface),
            mtu: mtu(&iface),
            src_mac: iface.mac.unwrap_or(MacAddr::zero()),
            iface,
            src,
        }
    }

    /// The path `-e IFACE` and `-S ADDR` name for a target of `family`'s kind: the given
    /// interface (its first address of that family unless `-S`), or the interface holding
    /// the given source address.
    pub fn given(
        all: &[NetworkInterface],
        iface: Option<&str>,
        src: Option<IpAddr>,
        v6: bool,
    ) -> Result<Path> {
        let found = match (iface, src) {
            (Some(name), _) => all
                .iter()
                .find(|i| i.name == name)
                .ok_or_else(|| Error::input(format!("no interface named '{name}'")))?,
            (None, Some(s)) => all
                .iter()
                .find(|i| i.ips.iter().any(|n| n.ip() == s))
                .or_else(|| {
                    s.is_loopback()
                        .then(|| all.iter().find(|i| i.is_loopback()))
                        .flatten()
                })
                .ok_or_else(|| {
                    Error::input(format!(
                        "cannot find the interface for source address {s} (give one with -e)"
                    ))
                })?,
            (None, None) => return Err(Error::input("no interface or source address given")),
        };
        let src = match src {
            Some(s) => s,
            None => found
                .ips
                .iter()
                .map(|n| n.ip())
                .find(|a| a.is_ipv6() == v6 && !is_link_local(*a))
                .ok_or_else(|| {
                    Error::input(format!(
                        "interface '{}' has no {} address: give one with -S",
                        found.name,
                        if v6 { "IPv6" } else { "IPv4" }
                    ))
                })?,
        };
        Ok(Path::on(found.clone(), src))
    }

    /// A one-line description for notices.
    pub fn describe(&self) -> String {
        format!("{} ({}) from {}", self.iface.name, self.src_mac, self.src)
    }
}

/// True for IPv6 link-local addresses (fe80::/10).
pub fn is_link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v) if (v.segments()[0] & 0xffc0) == 0xfe80)
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

/// An interface's MTU (1500 when unknown).
pub fn mtu(iface: &NetworkInterface) -> u32 {
    std::fs::read_to_string(format!("/sys/class/net/{}/mtu", iface.name))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_spans() {
        assert_eq!(prefix_span(0x0a00_0005, 24, 32), (0x0a00_0000, 0x0a00_0100));
        assert_eq!(prefix_span(0, 0, 32), (0, 1 << 32));
        assert_eq!(prefix_span(5, 32, 32), (5, 6));
        assert_eq!(prefix_span(7, 0, 128), (0, u128::MAX));
        assert_eq!(prefix_span(u128::MAX, 128, 128), (u128::MAX, u128::MAX));
    }

    #[test]
    fn reasons_of_rejecting_routes() {
        assert_eq!(
            reject_reason(false, libc::ENETUNREACH, None),
            Some(Reason::NetUnreach)
        );
        assert_eq!(
            reject_reason(true, 0, Some(RouteType::Unreachable)),
            Some(Reason::NoRoute)
        );
        assert_eq!(
            reject_reason(true, libc::EHOSTUNREACH, None),
            Some(Reason::NoRoute)
        );
        assert_eq!(
            reject_reason(false, libc::EHOSTUNREACH, None),
            Some(Reason::HostUnreach)
        );
        assert_eq!(
            reject_reason(true, 0, Some(RouteType::Prohibit)),
            Some(Reason::AdminProhibited)
        );
        assert_eq!(
            reject_reason(false, libc::EINVAL, None),
            Some(Reason::NoResponse)
        );
        assert_eq!(reject_reason(false, 0, Some(RouteType::Unicast)), None);
    }
}
