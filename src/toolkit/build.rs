//! Builds packets from an expanded SPEC [`Stack`]: omitted fields get sensible values (source
//! address from the kernel's route, a random source port and sequence number, lengths and
//! checksums computed), as Scapy fills them in.

use super::spec::{Kind, Stack, TcpOpt, Value};
use crate::route;
use crate::wire::checksum::{finish, pseudo_v4, sum};
use crate::wire::{ETHERTYPE_ARP, ETHERTYPE_IPV4, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use pnet::util::MacAddr;
use std::net::Ipv4Addr;

/// A packet ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The bytes: an Ethernet frame when `l2`, else an IPv4 packet.
    pub bytes: Vec<u8>,
    /// True when the SPEC has an Ethernet or ARP layer (sent on a datalink channel).
    pub l2: bool,
}

impl Built {
    /// The IPv4 packet inside, if any.
    pub fn ip(&self) -> Option<&[u8]> {
        if !self.l2 {
            return Some(&self.bytes);
        }
        let et = u16::from_be_bytes([*self.bytes.get(12)?, *self.bytes.get(13)?]);
        (et == ETHERTYPE_IPV4).then(|| &self.bytes[14..])
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

fn mac_of(st: &Stack, k: Kind, f: &str) -> Option<MacAddr> {
    match st.get(k, f) {
        Some(Value::Mac(m)) => Some(*m),
        _ => None,
    }
}

/// The destination address of a stack (IP dst, or ARP pdst).
pub fn destination(st: &Stack) -> Ipv4Addr {
    ip_of(st, Kind::Ip, "dst")
        .or_else(|| ip_of(st, Kind::Arp, "pdst"))
        .unwrap_or(Ipv4Addr::LOCALHOST)
}

/// The destination of the first packet (where the toolkit's traffic goes).
pub fn destination_of(packets: &[Built]) -> Ipv4Addr {
    let Some(p) = packets.first() else {
        return Ipv4Addr::LOCALHOST;
    };
    if let Some(ip) = p.ip().filter(|ip| ip.len() >= 20) {
        return Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    }
    match crate::wire::parse_ethernet(&p.bytes) {
        Ok((_, crate::wire::Network::Arp(a))) => a.target_ip,
        _ => Ipv4Addr::LOCALHOST,
    }
}

/// The source address for `dst`: the kernel's choice, or 0.0.0.0 without a route.
pub fn source_for(dst: Ipv4Addr) -> Ipv4Addr {
    match route::get(std::net::IpAddr::V4(dst)) {
        Ok(route::Decision {
            src: std::net::IpAddr::V4(s),
            ..
        }) => s,
        _ => Ipv4Addr::UNSPECIFIED,
    }
}

/// Builds packet number `n` of a run (`n` varies default ports and sequence numbers so that
/// answers can be told apart).
pub fn build(st: &Stack, d: &Defaults, n: usize) -> Built {
    build_from(st, d, n, &source_for)
}

/// [`build`] with a fixed default source address (no route lookup: tests and fuzzing).
pub fn build_with_source(st: &Stack, d: &Defaults, n: usize, src: Ipv4Addr) -> Built {
    build_from(st, d, n, &|_| src)
}

fn build_from(
    st: &Stack,
    d: &Defaults,
    n: usize,
    source_for: &dyn Fn(Ipv4Addr) -> Ipv4Addr,
) -> Built {
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
    if !st.has(Kind::Ip) {
        // Ether()/Raw(): a bare frame.
        let dst = mac_of(st, Kind::Ether, "dst").unwrap_or(MacAddr::broadcast());
        let et = num(st, Kind::Ether, "type").unwrap_or(0x88b5) as u16;
        return Built {
            bytes: ether(st, d, dst, et, &payload),
            l2: true,
        };
    }
    let dst = destination(st);
    let src = ip_of(st, Kind::Ip, "src").unwrap_or_else(|| source_for(dst));
    let (proto, l4) = if st.has(Kind::Tcp) {
        (PROTO_TCP, tcp(st, d, n, src, dst, &payload))
    } else if st.has(Kind::Udp) {
        (PROTO_UDP, udp(st, d, n, src, dst, &payload))
    } else if st.has(Kind::Icmp) {
        (PROTO_ICMP, icmp(st, d, n, &payload))
    } else {
        (num(st, Kind::Ip, "proto").unwrap_or(0) as u8, payload)
    };
    let ip = ipv4(st, n, src, dst, proto, &l4);
    if st.has(Kind::Ether) {
        let dmac = mac_of(st, Kind::Ether, "dst").unwrap_or(MacAddr::broadcast());
        Built {
            bytes: ether(st, d, dmac, ETHERTYPE_IPV4, &ip),
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
    let src = mac_of(st, Kind::Ether, "src").unwrap_or(d.src_mac);
    let et = num(st, Kind::Ether, "type")
        .map(|t| t as u16)
        .unwrap_or(ethertype);
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&et.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn build_arp(
    st: &Stack,
    d: &Defaults,
    payload: &[u8],
    source_for: &dyn Fn(Ipv4Addr) -> Ipv4Addr,
) -> Vec<u8> {
    let pdst = ip_of(st, Kind::Arp, "pdst").unwrap_or(Ipv4Addr::UNSPECIFIED);
    let psrc = ip_of(st, Kind::Arp, "psrc").unwrap_or_else(|| source_for(pdst));
    let mut a = Vec::with_capacity(28 + payload.len());
    a.extend_from_slice(&1u16.to_be_bytes());
    a.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    a.extend_from_slice(&[6, 4]);
    a.extend_from_slice(&(num(st, Kind::Arp, "op").unwrap_or(1) as u16).to_be_bytes());
    a.extend_from_slice(&mac_of(st, Kind::Arp, "hwsrc").unwrap_or(d.src_mac).octets());
    a.extend_from_slice(&psrc.octets());
    a.extend_from_slice(
        &mac_of(st, Kind::Arp, "hwdst")
            .unwrap_or(MacAddr::zero())
            .octets(),
    );
    a.extend_from_slice(&pdst.octets());
    a.extend_from_slice(payload);
    a
}

fn ipv4(st: &Stack, n: usize, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()).min(65535) as u16;
    let flags = num(st, Kind::Ip, "flags").unwrap_or(0) as u16;
    let frag = num(st, Kind::Ip, "frag").unwrap_or(0) as u16 & 0x1fff;
    let id = num(st, Kind::Ip, "id")
        .map(|v| v as u16)
        .unwrap_or(1u16.wrapping_add(n as u16));
    let mut h = vec![0u8; 20];
    h[0] = 0x45;
    h[1] = num(st, Kind::Ip, "tos").unwrap_or(0) as u8;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&((flags << 13) | frag).to_be_bytes());
    h[8] = num(st, Kind::Ip, "ttl").unwrap_or(64) as u8;
    h[9] = num(st, Kind::Ip, "proto").map(|p| p as u8).unwrap_or(proto);
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let ck = finish(sum(&h, 0));
    h[10..12].copy_from_slice(&ck.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn tcp_options(opts: &[TcpOpt]) -> Vec<u8> {
    let mut o = Vec::new();
    for opt in opts {
        match opt {
            TcpOpt::Mss(v) => {
                o.extend_from_slice(&[2, 4]);
                o.extend_from_slice(&v.to_be_bytes());
            }
            TcpOpt::WScale(v) => o.extend_from_slice(&[3, 3, *v]),
            TcpOpt::SackOk => o.extend_from_slice(&[4, 2]),
            TcpOpt::Timestamp(v, e) => {
                o.extend_from_slice(&[8, 10]);
                o.extend_from_slice(&v.to_be_bytes());
                o.extend_from_slice(&e.to_be_bytes());
            }
            TcpOpt::Nop => o.push(1),
            TcpOpt::Eol => o.push(0),
        }
    }
    while o.len() % 4 != 0 {
        o.push(0);
    }
    o.truncate(40);
    o
}

fn tcp(
    st: &Stack,
    d: &Defaults,
    n: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload: &[u8],
) -> Vec<u8> {
    let opts = match st.get(Kind::Tcp, "options") {
        Some(Value::Options(o)) => tcp_options(o),
        _ => Vec::new(),
    };
    let hl = 20 + opts.len();
    let mut t = vec![0u8; hl];
    let sport = num(st, Kind::Tcp, "sport")
        .map(|v| v as u16)
        .unwrap_or(d.sport);
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&(num(st, Kind::Tcp, "dport").unwrap_or(80) as u16).to_be_bytes());
    let seq =
        num(st, Kind::Tcp, "seq").unwrap_or(d.seq.wrapping_add((n as u32).wrapping_mul(0x10000)));
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&num(st, Kind::Tcp, "ack").unwrap_or(0).to_be_bytes());
    t[12] = ((hl / 4) as u8) << 4;
    t[13] = num(st, Kind::Tcp, "flags").unwrap_or(0x02) as u8;
    t[14..16]
        .copy_from_slice(&(num(st, Kind::Tcp, "window").unwrap_or(64240) as u16).to_be_bytes());
    t[18..20].copy_from_slice(&(num(st, Kind::Tcp, "urgptr").unwrap_or(0) as u16).to_be_bytes());
    t[20..].copy_from_slice(&opts);
    t.extend_from_slice(payload);
    let len = t.len().min(65515) as u16;
    let ck = finish(sum(&t, pseudo_v4(src, dst, PROTO_TCP, len)));
    t[16..18].copy_from_slice(&ck.to_be_bytes());
    t
}

fn udp(
    st: &Stack,
    d: &Defaults,
    _n: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload: &[u8],
) -> Vec<u8> {
    let mut u = vec![0u8; 8];
    let sport = num(st, Kind::Udp, "sport")
        .map(|v| v as u16)
        .unwrap_or(d.sport);
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&(num(st, Kind::Udp, "dport").unwrap_or(53) as u16).to_be_bytes());
    let len = (8 + payload.len()).min(65507) as u16;
    u[4..6].copy_from_slice(&len.to_be_bytes());
    u.extend_from_slice(payload);
    let mut ck = finish(sum(&u, pseudo_v4(src, dst, PROTO_UDP, len)));
    if ck == 0 {
        ck = 0xffff;
    }
    u[6..8].copy_from_slice(&ck.to_be_bytes());
    u
}

fn icmp(st: &Stack, d: &Defaults, n: usize, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 8];
    m[0] = num(st, Kind::Icmp, "type").unwrap_or(8) as u8;
    m[1] = num(st, Kind::Icmp, "code").unwrap_or(0) as u8;
    let id = num(st, Kind::Icmp, "id")
        .map(|v| v as u16)
        .unwrap_or(d.icmp_id);
    let seq = num(st, Kind::Icmp, "seq")
        .map(|v| v as u16)
        .unwrap_or(1u16.wrapping_add(n as u16));
    m[4..6].copy_from_slice(&id.to_be_bytes());
    m[6..8].copy_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(payload);
    let ck = finish(sum(&m, 0));
    m[2..4].copy_from_slice(&ck.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::spec::parse;
    use crate::wire::checksum::verify;
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
}
