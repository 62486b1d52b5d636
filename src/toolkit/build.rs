//! Builds packets from an expanded SPEC [`Stack`]: omitted fields get sensible values (source
//! address from the kernel's route, a random source port and sequence number, lengths and
//! checksums computed), as Scapy fills them in. Every header is written by the same
//! [`crate::wire`] `Repr`s the scanner's probe templates use.

use super::spec::{Kind, Stack, TcpOpt, Value};
use crate::route;
use crate::wire::{
    self, ArpRepr, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetRepr, IcmpRepr,
    Icmpv6Repr, Ipv4Repr, Ipv6Repr, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, TcpRepr,
    UdpRepr, icmpv6, tcp::TcpOption,
};
use pnet::util::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A packet ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The bytes: an Ethernet frame when `l2`, else an IPv4 or IPv6 packet.
    pub bytes: Vec<u8>,
    /// True when the SPEC has an Ethernet or ARP layer (sent on a datalink channel).
    pub l2: bool,
}

impl Built {
    /// The IP packet inside (IPv4 or IPv6), if any.
    pub fn ip(&self) -> Option<&[u8]> {
        if !self.l2 {
            return Some(&self.bytes);
        }
        let et = u16::from_be_bytes([*self.bytes.get(12)?, *self.bytes.get(13)?]);
        matches!(et, ETHERTYPE_IPV4 | ETHERTYPE_IPV6).then(|| &self.bytes[14..])
    }

    /// True when the packet is IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.ip()
            .and_then(|ip| ip.first())
            .is_some_and(|b| b >> 4 == 6)
    }
}

/// Defaults that depend on the machine, looked up once per run.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Our MAC on the sending interface (zero on loopback).
    pub src_mac: MacAddr,
    /// Random per run: first source port, ICMP id, first sequence number.
    pub sport: u16,
    /// ICMP identifier.
    pub icmp_id: u16,
    /// Base of TCP sequence numbers.
    pub seq: u32,
}

impl Defaults {
    /// Fresh random defaults.
    pub fn random(src_mac: MacAddr) -> Defaults {
        Defaults {
            src_mac,
            sport: 40000 + rand::random::<u16>() % 20000,
            icmp_id: rand::random(),
            seq: rand::random(),
        }
    }
}

fn num(st: &Stack, k: Kind, f: &str) -> Option<u32> {
    match st.get(k, f) {
        Some(Value::Num(n)) => Some(*n),
        _ => None,
    }
}

fn ip_of(st: &Stack, k: Kind, f: &str) -> Option<Ipv4Addr> {
    match st.get(k, f) {
        Some(Value::Ip(a)) => Some(*a),
        _ => None,
    }
}

fn ip6_of(st: &Stack, k: Kind, f: &str) -> Option<Ipv6Addr> {
    match st.get(k, f) {
        Some(Value::Ip6(a)) => Some(*a),
        _ => None,
    }
}

fn mac_of(st: &Stack, k: Kind, f: &str) -> Option<MacAddr> {
    match st.get(k, f) {
        Some(Value::Mac(m)) => Some(*m),
        _ => None,
    }
}

/// The destination address of a stack: IPv6 dst (for a neighbor solicitation without one,
/// the target's solicited-node address), IP dst, or ARP pdst; loopback when not given.
pub fn destination(st: &Stack) -> IpAddr {
    if st.has(Kind::Ipv6) {
        let dst = ip6_of(st, Kind::Ipv6, "dst").or_else(|| {
            ip6_of(st, Kind::NdNs, "tgt")
                .filter(|_| st.has(Kind::NdNs))
                .map(icmpv6::solicited_node)
        });
        return IpAddr::V6(dst.unwrap_or(Ipv6Addr::LOCALHOST));
    }
    IpAddr::V4(
        ip_of(st, Kind::Ip, "dst")
            .or_else(|| ip_of(st, Kind::Arp, "pdst"))
            .unwrap_or(Ipv4Addr::LOCALHOST),
    )
}

/// The destination of the first packet (where the toolkit's traffic goes).
pub fn destination_of(packets: &[Built]) -> IpAddr {
    let Some(p) = packets.first() else {
        return IpAddr::V4(Ipv4Addr::LOCALHOST);
    };
    if let Some(ip) = p.ip()
        && let Ok(net) = wire::parse_ip(ip)
    {
        match net {
            wire::Network::Ipv4(h, _) => return IpAddr::V4(h.dst),
            wire::Network::Ipv6(h, _) => return IpAddr::V6(h.dst),
            _ => {}
        }
    }
    match wire::parse_ethernet(&p.bytes) {
        Ok((_, wire::Network::Arp(a))) => IpAddr::V4(a.target_ip),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// The source address for `dst`: the kernel's choice, or the unspecified address of its
/// family without a route.
pub fn source_for(dst: IpAddr) -> IpAddr {
    match route::get(dst) {
        Ok(route::Decision { src, .. }) if src.is_ipv4() == dst.is_ipv4() => src,
        _ if dst.is_ipv4() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Builds packet number `n` of a run (`n` varies default ports and sequence numbers so that
/// answers can be told apart).
pub fn build(st: &Stack, d: &Defaults, n: usize) -> Built {
    build_from(st, d, n, &source_for)
}

/// [`build`] with fixed default source addresses, one per family (no route lookup: tests
/// and fuzzing).
pub fn build_with_source(st: &Stack, d: &Defaults, n: usize, v4: Ipv4Addr, v6: Ipv6Addr) -> Built {
    build_from(st, d, n, &|dst| {
        if dst.is_ipv4() {
            IpAddr::V4(v4)
        } else {
            IpAddr::V6(v6)
        }
    })
}

fn build_from(st: &Stack, d: &Defaults, n: usize, source_for: &dyn Fn(IpAddr) -> IpAddr) -> Built {
    let payload = match st.get(Kind::Raw, "load") {
        Some(Value::Bytes(b)) => b.clone(),
        _ => Vec::new(),
    };
    if st.has(Kind::Arp) {
        let arp = build_arp(st, d, &payload, source_for);
        let dst = mac_of(st, Kind::Ether, "dst").unwrap_or(MacAddr::broadcast());
        return Built {
            bytes: ether(st, d, dst, ETHERTYPE_ARP, &arp),
            l2: true,
        };
    }
    if !st.has(Kind::Ip) && !st.has(Kind::Ipv6) {
        // Ether()/Raw(): a bare frame.
        let dst = mac_of(st, Kind::Ether, "dst").unwrap_or(MacAddr::broadcast());
        let et = num(st, Kind::Ether, "type").unwrap_or(0x88b5) as u16;
        return Built {
            bytes: ether(st, d, dst, et, &payload),
            l2: true,
        };
    }
    let dst = destination(st);
    let given_src = match dst {
        IpAddr::V4(_) => ip_of(st, Kind::Ip, "src").map(IpAddr::V4),
        IpAddr::V6(_) => ip6_of(st, Kind::Ipv6, "src").map(IpAddr::V6),
    };
    let src = given_src.unwrap_or_else(|| source_for(dst));
    let (proto, l4) = if st.has(Kind::Tcp) {
        (PROTO_TCP, tcp(st, d, n, src, dst, &payload))
    } else if st.has(Kind::Udp) {
        (PROTO_UDP, udp(st, d, src, dst, &payload))
    } else if st.has(Kind::Icmp) {
        (PROTO_ICMP, icmp(st, d, n, &payload))
    } else if st.has(Kind::Icmpv6Echo) {
        (PROTO_ICMPV6, echo6(st, d, n, src, dst, &payload))
    } else if st.has(Kind::NdNs) {
        (PROTO_ICMPV6, solicitation(st, d, src, dst, &payload))
    } else {
        // No transport layer: IPv4 protocol 0 unless given; IPv6 "no next header" (59), as
        // Scapy sends.
        match dst {
            IpAddr::V4(_) => (num(st, Kind::Ip, "proto").unwrap_or(0) as u8, payload),
            IpAddr::V6(_) => (num(st, Kind::Ipv6, "nh").unwrap_or(59) as u8, payload),
        }
    };
    let ip = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(t)) => ipv4(st, n, s, t, proto, &l4),
        (IpAddr::V6(s), IpAddr::V6(t)) => ipv6(st, s, t, proto, &l4),
        _ => unreachable!("the source is of the destination's family"),
    };
    if st.has(Kind::Ether) {
        let dmac = mac_of(st, Kind::Ether, "dst").unwrap_or(match dst {
            IpAddr::V6(a) if a.is_multicast() => icmpv6::multicast_mac(a),
            _ => MacAddr::broadcast(),
        });
        let et = if dst.is_ipv4() {
            ETHERTYPE_IPV4
        } else {
            ETHERTYPE_IPV6
        };
        Built {
            bytes: ether(st, d, dmac, et, &ip),
            l2: true,
        }
    } else {
        Built {
            bytes: ip,
            l2: false,
        }
    }
}

fn ether(st: &Stack, d: &Defaults, dst: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let repr = EthernetRepr {
        dst,
        src: mac_of(st, Kind::Ether, "src").unwrap_or(d.src_mac),
        ethertype: num(st, Kind::Ether, "type")
            .map(|t| t as u16)
            .unwrap_or(ethertype),
        vlan: None,
    };
    let hl = repr.buffer_len();
    let mut f = vec![0u8; hl + payload.len()];
    repr.emit(&mut f);
    f[hl..].copy_from_slice(payload);
    f
}

fn build_arp(
    st: &Stack,
    d: &Defaults,
    payload: &[u8],
    source_for: &dyn Fn(IpAddr) -> IpAddr,
) -> Vec<u8> {
    let pdst = ip_of(st, Kind::Arp, "pdst").unwrap_or(Ipv4Addr::UNSPECIFIED);
    let psrc = ip_of(st, Kind::Arp, "psrc").unwrap_or_else(|| match source_for(IpAddr::V4(pdst)) {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    });
    let repr = ArpRepr {
        op: num(st, Kind::Arp, "op").unwrap_or(1) as u16,
        sender_mac: mac_of(st, Kind::Arp, "hwsrc").unwrap_or(d.src_mac),
        sender_ip: psrc,
        target_mac: mac_of(st, Kind::Arp, "hwdst").unwrap_or(MacAddr::zero()),
        target_ip: pdst,
    };
    let mut a = vec![0u8; wire::arp::PACKET_LEN + payload.len()];
    repr.emit(&mut a);
    a[wire::arp::PACKET_LEN..].copy_from_slice(payload);
    a
}

fn ipv4(st: &Stack, n: usize, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let flags = num(st, Kind::Ip, "flags").unwrap_or(0);
    let mut h = Ipv4Repr::new(
        src,
        dst,
        num(st, Kind::Ip, "proto").map_or(proto, |p| p as u8),
        num(st, Kind::Ip, "ttl").unwrap_or(64) as u8,
        payload.len().min(65535 - 20),
    );
    h.id = num(st, Kind::Ip, "id").map_or(1u16.wrapping_add(n as u16), |v| v as u16);
    h.tos = num(st, Kind::Ip, "tos").unwrap_or(0) as u8;
    h.dont_fragment = flags & 2 != 0;
    h.more_fragments = flags & 1 != 0;
    h.frag_offset = num(st, Kind::Ip, "frag").unwrap_or(0) as u16 & 0x1fff;
    let mut p = vec![0u8; h.buffer_len() + payload.len()];
    h.emit(&mut p);
    if flags & 4 != 0 {
        // The reserved ("evil") bit, which the Repr does not model.
        p[6] |= 0x80;
        wire::ipv4::Packet::new_unchecked(&mut p[..]).fill_checksum();
    }
    p[h.buffer_len()..].copy_from_slice(payload);
    p
}

fn ipv6(st: &Stack, src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
    // Neighbor discovery is only accepted with hop limit 255 (RFC 4861).
    let hlim = if st.has(Kind::NdNs) { 255 } else { 64 };
    let mut h = Ipv6Repr::new(
        src,
        dst,
        num(st, Kind::Ipv6, "nh").map_or(next, |v| v as u8),
        num(st, Kind::Ipv6, "hlim").map_or(hlim, |v| v as u8),
        payload.len().min(65535),
    );
    h.traffic_class = num(st, Kind::Ipv6, "tc").unwrap_or(0) as u8;
    h.flow_label = num(st, Kind::Ipv6, "fl").unwrap_or(0);
    let mut p = vec![0u8; h.buffer_len() + payload.len()];
    h.emit(&mut p);
    p[h.buffer_len()..].copy_from_slice(payload);
    p
}

fn tcp_options(opts: &[TcpOpt]) -> Vec<u8> {
    let list: Vec<TcpOption> = opts
        .iter()
        .map(|o| match *o {
            TcpOpt::Mss(v) => TcpOption::MaxSegmentSize(v),
            TcpOpt::WScale(v) => TcpOption::WindowScale(v),
            TcpOpt::SackOk => TcpOption::SackPermitted,
            TcpOpt::Timestamp(v, e) => TcpOption::Timestamps(v, e),
            TcpOpt::Nop => TcpOption::NoOperation,
            TcpOpt::Eol => TcpOption::EndOfList,
        })
        .collect();
    let mut o = Vec::new();
    wire::tcp::emit_options(&list, &mut o);
    o
}

fn tcp(st: &Stack, d: &Defaults, n: usize, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
    let opts = match st.get(Kind::Tcp, "options") {
        Some(Value::Options(o)) => tcp_options(o),
        _ => Vec::new(),
    };
    let mut h = TcpRepr::new(
        num(st, Kind::Tcp, "sport").map_or(d.sport, |v| v as u16),
        num(st, Kind::Tcp, "dport").unwrap_or(80) as u16,
        num(st, Kind::Tcp, "seq").unwrap_or(d.seq.wrapping_add((n as u32).wrapping_mul(0x10000))),
        num(st, Kind::Tcp, "ack").unwrap_or(0),
        num(st, Kind::Tcp, "flags").unwrap_or(0x02) as u8,
    );
    h.window = num(st, Kind::Tcp, "window").unwrap_or(64240) as u16;
    h.urgent = num(st, Kind::Tcp, "urgptr").unwrap_or(0) as u16;
    let base = h.buffer_len();
    let hl = base + opts.len();
    let mut t = vec![0u8; hl + payload.len()];
    h.emit(&mut t);
    // Options as written, in their order (the Repr knows only the usual four).
    t[wire::tcp::field::OFFSET] = ((hl / 4) as u8) << 4;
    t[base..hl].copy_from_slice(&opts);
    t[hl..].copy_from_slice(payload);
    wire::tcp::Packet::new_unchecked(&mut t[..]).fill_checksum(src, dst);
    t
}

fn udp(st: &Stack, d: &Defaults, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
    let h = UdpRepr {
        src_port: num(st, Kind::Udp, "sport").map_or(d.sport, |v| v as u16),
        dst_port: num(st, Kind::Udp, "dport").unwrap_or(53) as u16,
        len: (wire::udp::HEADER_LEN + payload.len()).min(65535) as u16,
        checksum: 0,
    };
    let mut u = vec![0u8; h.buffer_len() + payload.len()];
    h.emit(&mut u);
    u[h.buffer_len()..].copy_from_slice(payload);
    wire::udp::Packet::new_unchecked(&mut u[..]).fill_checksum(src, dst);
    u
}

fn icmp(st: &Stack, d: &Defaults, n: usize, payload: &[u8]) -> Vec<u8> {
    let id = num(st, Kind::Icmp, "id").map_or(d.icmp_id, |v| v as u16);
    let seq = num(st, Kind::Icmp, "seq").map_or(1u16.wrapping_add(n as u16), |v| v as u16);
    let h = IcmpRepr {
        icmp_type: num(st, Kind::Icmp, "type").unwrap_or(8) as u8,
        code: num(st, Kind::Icmp, "code").unwrap_or(0) as u8,
        checksum: 0,
        rest: (u32::from(id) << 16) | u32::from(seq),
        quoted: None,
    };
    let mut m = vec![0u8; wire::icmp::HEADER_LEN + payload.len()];
    h.emit(&mut m);
    m[wire::icmp::HEADER_LEN..].copy_from_slice(payload);
    wire::icmp::Packet::new_unchecked(&mut m[..]).fill_checksum();
    m
}

fn icmpv6_message(
    icmp_type: u8,
    code: u8,
    rest: u32,
    body: &[u8],
    src: IpAddr,
    dst: IpAddr,
) -> Vec<u8> {
    let h = Icmpv6Repr {
        icmp_type,
        code,
        checksum: 0,
        rest,
        quoted: None,
        ndp: None,
    };
    let mut m = vec![0u8; h.buffer_len() + body.len()];
    h.emit(&mut m);
    m[h.buffer_len()..].copy_from_slice(body);
    if let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) {
        icmpv6::Packet::new_unchecked(&mut m[..]).fill_checksum(s, d);
    }
    m
}

fn echo6(st: &Stack, d: &Defaults, n: usize, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
    let id = num(st, Kind::Icmpv6Echo, "id").map_or(d.icmp_id, |v| v as u16);
    let seq = num(st, Kind::Icmpv6Echo, "seq").map_or(1u16.wrapping_add(n as u16), |v| v as u16);
    let code = num(st, Kind::Icmpv6Echo, "code").unwrap_or(0) as u8;
    let rest = (u32::from(id) << 16) | u32::from(seq);
    icmpv6_message(icmpv6::ECHO_REQUEST, code, rest, payload, src, dst)
}

/// A neighbor solicitation for `tgt`, with a source link-layer address option (`lladdr`, or
/// our MAC) unless the source is unspecified (duplicate address detection) or there is no
/// MAC to give (loopback).
fn solicitation(st: &Stack, d: &Defaults, src: IpAddr, dst: IpAddr, payload: &[u8]) -> Vec<u8> {
    let tgt = ip6_of(st, Kind::NdNs, "tgt").unwrap_or(Ipv6Addr::UNSPECIFIED);
    let mut body = tgt.octets().to_vec();
    let mac =
        mac_of(st, Kind::NdNs, "lladdr").or(Some(d.src_mac).filter(|m| *m != MacAddr::zero()));
    if let Some(m) = mac.filter(|_| !src.is_unspecified()) {
        body.extend_from_slice(&[1, 1]);
        body.extend_from_slice(&m.octets());
    }
    body.extend_from_slice(payload);
    icmpv6_message(icmpv6::NEIGHBOR_SOLICIT, 0, 0, &body, src, dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::spec::parse;
    use crate::wire::checksum::{pseudo_v4, verify};
    use crate::wire::{Network as Packet, Transport, parse_ethernet, parse_ipv4};

    fn defaults() -> Defaults {
        Defaults {
            src_mac: MacAddr::new(2, 0, 0, 0, 0, 1),
            sport: 40000,
            icmp_id: 7,
            seq: 1000,
        }
    }

    #[test]
    fn tcp_with_options_and_payload() {
        let st = &parse(r#"IP(src=10.0.0.1,dst=10.0.0.2,ttl=9)/TCP(dport=80,flags=S,seq=1000,options=[mss:1460])/Raw(load="hi")"#)
            .unwrap()
            .expand()[0];
        let b = build(st, &defaults(), 0);
        assert!(!b.l2);
        let (ip, t) = parse_ipv4(&b.bytes).unwrap();
        assert_eq!((ip.ttl, ip.total_len), (9, 20 + 24 + 2));
        assert!(verify(&b.bytes[..20], 0));
        let Transport::Tcp(tcp) = t else { panic!() };
        assert_eq!(
            (
                tcp.src_port,
                tcp.dst_port,
                tcp.seq,
                tcp.mss,
                tcp.payload_len
            ),
            (40000, 80, 1000, Some(1460), 2)
        );
        let seg = &b.bytes[20..];
        assert!(verify(
            seg,
            pseudo_v4(ip.src, ip.dst, PROTO_TCP, seg.len() as u16)
        ));
    }

    #[test]
    fn udp_icmp_arp_and_ether() {
        let d = defaults();
        let st = &parse("IP(src=10.0.0.1,dst=10.0.0.2)/UDP(dport=53)")
            .unwrap()
            .expand()[0];
        let b = build(st, &d, 0);
        let seg = &b.bytes[20..];
        assert!(verify(
            seg,
            pseudo_v4(
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 0, 0, 2),
                PROTO_UDP,
                8
            )
        ));
        let st = &parse("IP(src=10.0.0.1,dst=10.0.0.2)/ICMP")
            .unwrap()
            .expand()[0];
        let b = build(st, &d, 0);
        assert!(verify(&b.bytes[20..], 0));
        assert_eq!(b.bytes[20], 8);
        let st = &parse("ARP(pdst=10.0.0.2,psrc=10.0.0.1)").unwrap().expand()[0];
        let b = build(st, &d, 0);
        assert!(b.l2);
        let (eth, p) = parse_ethernet(&b.bytes).unwrap();
        assert_eq!(eth.dst, MacAddr::broadcast());
        let Packet::Arp(a) = p else { panic!() };
        assert_eq!((a.op, a.target_ip), (1, Ipv4Addr::new(10, 0, 0, 2)));
        let st = &parse("Ether(dst=02:00:00:00:00:09)/IP(src=10.0.0.1,dst=10.0.0.2)/TCP")
            .unwrap()
            .expand()[0];
        let b = build(st, &d, 0);
        let (eth, p) = parse_ethernet(&b.bytes).unwrap();
        assert_eq!(eth.dst, MacAddr::new(2, 0, 0, 0, 0, 9));
        assert!(matches!(p, Packet::Ipv4(_, Transport::Tcp(_))));
        assert_eq!(b.ip().map(<[u8]>::len), Some(40));
    }

    #[test]
    fn ipv6_tcp_udp_echo_and_solicitation() {
        let d = defaults();
        let src: IpAddr = "fd00::1".parse().unwrap();
        let dst: IpAddr = "fd00::2".parse().unwrap();
        let one = |spec: &str| build(&parse(spec).unwrap().expand()[0], &d, 0);
        // TCP with options, hop limit, class and flow label.
        let b = one(
            "IPv6(src=fd00::1,dst=fd00::2,hlim=7,tc=0x20,fl=0x12345)/TCP(dport=443,flags=S,options=[mss:1440,nop,wscale:7])/Raw(load=\"x\")",
        );
        assert!(!b.l2 && b.is_ipv6());
        let Ok(Packet::Ipv6(ip, Transport::Tcp(t))) = crate::wire::parse_ip(&b.bytes) else {
            panic!("not IPv6/TCP");
        };
        assert_eq!(
            (ip.hop_limit, ip.traffic_class, ip.flow_label),
            (7, 0x20, 0x12345)
        );
        assert_eq!(ip.payload_len, 20 + 8 + 1);
        assert_eq!(
            (t.dst_port, t.mss, t.wscale, t.payload_len),
            (443, Some(1440), Some(7), 1)
        );
        assert!(
            crate::wire::tcp::Packet::new_checked(&b.bytes[40..])
                .unwrap()
                .verify_checksum(src, dst)
        );
        // UDP.
        let b = one("IPv6(src=fd00::1,dst=fd00::2)/UDP(dport=53)/Raw(load=\"q\")");
        assert!(
            crate::wire::udp::Packet::new_checked(&b.bytes[40..])
                .unwrap()
                .verify_checksum(src, dst)
        );
        // Echo request: type 128, id and seq, checksum over the pseudo-header.
        let b = one("IPv6(src=fd00::1,dst=fd00::2)/ICMPv6EchoRequest(id=9,seq=3)");
        let Ok(Packet::Ipv6(ip, Transport::Icmpv6(m))) = crate::wire::parse_ip(&b.bytes) else {
            panic!("not ICMPv6");
        };
        assert_eq!(
            (ip.hop_limit, m.icmp_type, m.rest),
            (64, 128, (9 << 16) | 3)
        );
        let (s6, d6) = (ip.src, ip.dst);
        assert!(
            crate::wire::icmpv6::Packet::new_checked(&b.bytes[40..])
                .unwrap()
                .verify_checksum(s6, d6)
        );
        // A solicitation on Ethernet: to the solicited-node group and its multicast MAC, hop
        // limit 255, with our link-layer address.
        let b = one("Ether()/IPv6(src=fd00::1)/ICMPv6ND_NS(tgt=fd00::1:2)");
        let (eth, net) = parse_ethernet(&b.bytes).unwrap();
        assert_eq!(eth.dst, MacAddr::new(0x33, 0x33, 0xff, 0x01, 0, 2));
        let Packet::Ipv6(ip, Transport::Icmpv6(m)) = net else {
            panic!("not ICMPv6");
        };
        assert_eq!(ip.dst, "ff02::1:ff01:2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ip.hop_limit, 255);
        let nd = m.ndp.unwrap();
        assert_eq!(nd.target, "fd00::1:2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(nd.lladdr, Some(d.src_mac));
        assert!(
            crate::wire::icmpv6::Packet::new_checked(&b.bytes[54..])
                .unwrap()
                .verify_checksum(ip.src, ip.dst)
        );
        // Duplicate address detection: from ::, no link-layer option.
        let b = one("IPv6(src=::)/ICMPv6ND_NS(tgt=fd00::5)");
        let Ok(Packet::Ipv6(_, Transport::Icmpv6(m))) = crate::wire::parse_ip(&b.bytes) else {
            panic!("not ICMPv6");
        };
        assert_eq!(m.ndp.unwrap().lladdr, None);
    }

    #[test]
    fn ipv4_reserved_bit_and_raw_protocol() {
        let st = &parse("IP(src=10.0.0.1,dst=10.0.0.2,flags=7,frag=5,proto=99)/Raw(load=\"z\")")
            .unwrap()
            .expand()[0];
        let b = build(st, &defaults(), 0);
        assert_eq!(b.bytes[6] >> 5, 7);
        assert!(verify(&b.bytes[..20], 0));
        assert_eq!(b.bytes[9], 99);
        assert_eq!(&b.bytes[20..], b"z");
    }
}
