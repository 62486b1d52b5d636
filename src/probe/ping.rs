//! IP host-discovery pings (nmap's -PE, -PP, -PS, -PA, -PU), sent together as one probe of
//! several frames per host: ICMP echo (ICMPv6 echo), ICMP timestamp (IPv4 only), TCP SYN and
//! TCP ACK to chosen ports, UDP to chosen ports. Any answer from the host itself proves it
//! up; the engine marks (host, port 0) answered, so retries go only to silent hosts.
//!
//! Every frame carries the host's cookie where the answer echoes it: echo id = our source
//! port, sequence = the cookie's low half and the cookie again in the data; timestamp id and
//! sequence the same, the cookie in the originate field; SYN sequence = cookie (a SYN-ACK or
//! RST acknowledges cookie+1); ACK acknowledgment = cookie (the RST's sequence); UDP as the
//! UDP module writes it. ICMP errors from routers prove nothing and are ignored.

use super::{Probe, ProbeSpec, Reply, TcpSyn, Udp, Validate};
use crate::event::{PortState, Proto, Reason};
use crate::wire::ethernet::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire::{
    self, IcmpRepr, Icmpv6Repr, Network, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, TcpRepr,
    Transport, icmp, icmpv6, ipv4, ipv6, tcp, tcp_flags,
};
use pnet::util::MacAddr;
use std::net::IpAddr;
use std::sync::Arc;

/// One kind of ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PingKind {
    /// ICMP echo request (ICMPv6 on IPv6).
    Echo,
    /// ICMP timestamp request (IPv4 only).
    Timestamp,
    /// TCP SYN to a port: SYN-ACK or RST proves the host up.
    Syn(u16),
    /// TCP ACK to a port: a RST proves the host up.
    Ack(u16),
    /// UDP to a port: a reply or a port unreachable from the host proves it up.
    Udp(u16),
}

impl PingKind {
    /// nmap's flag for the kind (`-PS443`).
    pub fn flag(self) -> String {
        match self {
            PingKind::Echo => "-PE".into(),
            PingKind::Timestamp => "-PP".into(),
            PingKind::Syn(p) => format!("-PS{p}"),
            PingKind::Ack(p) => format!("-PA{p}"),
            PingKind::Udp(p) => format!("-PU{p}"),
        }
    }
}

/// Bytes of echo data: the cookie and our send time.
const ECHO_DATA: usize = 8;
/// Bytes of a timestamp message: header and three timestamps.
const TIMESTAMP_LEN: usize = icmp::HEADER_LEN + 12;
const IP: usize = ethernet::HEADER_LEN;

/// The IP ping probe for one source address.
pub struct Ping {
    kinds: Vec<PingKind>,
    /// The UDP ports pinged (for the UDP module's checks, without a list built per packet).
    udp_ports: Vec<u16>,
    src: IpAddr,
    src_mac: MacAddr,
    ttl: u8,
    syn: TcpSyn,
    udp: Udp,
}

impl Ping {
    /// Pings of `kinds` from `src_mac`/`src` (timestamp dropped on IPv6, which has none;
    /// duplicates dropped). `payloads` are what UDP pings carry.
    pub fn new(
        src_mac: MacAddr,
        src: IpAddr,
        ttl: u8,
        mss: u16,
        kinds: &[PingKind],
        payloads: Arc<super::Payloads>,
    ) -> Ping {
        let mut list: Vec<PingKind> = Vec::new();
        for &k in kinds {
            if (k == PingKind::Timestamp && src.is_ipv6()) || list.contains(&k) {
                continue;
            }
            list.push(k);
        }
        if list.is_empty() {
            list.push(PingKind::Echo);
        }
        let udp_ports = list
            .iter()
            .filter_map(|k| match k {
                PingKind::Udp(p) => Some(*p),
                _ => None,
            })
            .collect();
        Ping {
            kinds: list,
            udp_ports,
            src,
            src_mac,
            ttl,
            syn: TcpSyn::new(src_mac, src, ttl, mss, 64240),
            udp: Udp::new(src_mac, src, ttl, payloads),
        }
    }

    /// The pings each host gets, in sending order.
    pub fn kinds(&self) -> &[PingKind] {
        &self.kinds
    }

    fn ip_len(&self) -> usize {
        if self.src.is_ipv4() {
            ipv4::HEADER_LEN
        } else {
            ipv6::HEADER_LEN
        }
    }

    fn len_of(&self, kind: PingKind) -> usize {
        match kind {
            PingKind::Echo => IP + self.ip_len() + icmp::HEADER_LEN + ECHO_DATA,
            PingKind::Timestamp => IP + self.ip_len() + TIMESTAMP_LEN,
            PingKind::Syn(_) => self.syn.frame_len(),
            PingKind::Ack(_) => IP + self.ip_len() + tcp::HEADER_LEN,
            PingKind::Udp(p) => self.udp.frame_len_of(p, 0),
        }
    }

    /// Ethernet and IP headers of a frame of `len` bytes carrying `proto` to `dst`.
    fn headers(&self, out: &mut [u8], dst_mac: MacAddr, dst: IpAddr, proto: u8, id: u16) {
        let payload = out.len() - IP - self.ip_len();
        ethernet::Repr {
            dst: dst_mac,
            src: self.src_mac,
            ethertype: if self.src.is_ipv4() {
                ETHERTYPE_IPV4
            } else {
                ETHERTYPE_IPV6
            },
            vlan: None,
        }
        .emit(out);
        match (self.src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut r = ipv4::Repr::new(s, d, proto, self.ttl, payload);
                r.id = id;
                r.emit(&mut out[IP..]);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                ipv6::Repr::new(s, d, proto, self.ttl, payload).emit(&mut out[IP..])
            }
            _ => {}
        }
    }

    /// An echo or timestamp request: `rest` is id and sequence, `data` follows.
    fn icmp_request(&self, out: &mut [u8], p: &ProbeSpec, icmp_type: u8, data: &[u8]) {
        let v6 = self.src.is_ipv6();
        let proto = if v6 { PROTO_ICMPV6 } else { PROTO_ICMP };
        self.headers(out, p.dst_mac, p.dst, proto, super::udp::ip_id(p.cookie));
        let m = &mut out[IP + self.ip_len()..];
        m[0] = icmp_type;
        m[1] = 0;
        m[2..4].copy_from_slice(&[0, 0]);
        m[4..6].copy_from_slice(&p.sport.to_be_bytes());
        m[6..8].copy_from_slice(&((p.cookie & 0xffff) as u16).to_be_bytes());
        m[8..8 + data.len()].copy_from_slice(data);
        match (self.src, p.dst) {
            (IpAddr::V6(s), IpAddr::V6(d)) => icmpv6::Packet::new_unchecked(m).fill_checksum(s, d),
            _ => icmp::Packet::new_unchecked(m).fill_checksum(),
        }
    }

    /// An echo or timestamp reply to one of our requests: `data` is the message after its
    /// header, `echoed` says whether it carries the cookie (echo) or the originate field
    /// does (timestamp).
    #[allow(clippy::too_many_arguments)]
    fn icmp_answer(
        &self,
        from: IpAddr,
        ttl: u8,
        rest: u32,
        msg: &[u8],
        reason: Reason,
        v: &dyn Validate,
    ) -> Option<Reply> {
        let (id, seq) = ((rest >> 16) as u16, (rest & 0xffff) as u16);
        if !v.ours(id) || !v.probed(from, 0) {
            return None;
        }
        let cookie = v.cookie(from, id, 0);
        if seq != (cookie & 0xffff) as u16 {
            return None;
        }
        let word = |at: usize| -> Option<u32> {
            let b = msg.get(at..at + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        if word(icmp::HEADER_LEN)? != cookie {
            return None;
        }
        let mut r = Reply::new(from, 0, id, cookie, ttl);
        r.state = PortState::Open;
        r.reason = reason;
        if reason == Reason::EchoReply {
            r.tsecr = word(icmp::HEADER_LEN + 4).filter(|&t| t != 0);
        }
        Some(r)
    }

    fn tcp_answer(&self, from: IpAddr, ttl: u8, t: &TcpRepr, v: &dyn Validate) -> Option<Reply> {
        let port = t.src_port;
        let syn = self.kinds.contains(&PingKind::Syn(port));
        let ack = self.kinds.contains(&PingKind::Ack(port));
        if !(syn || ack) || !v.ours(t.dst_port) || !v.probed(from, 0) {
            return None;
        }
        let cookie = v.cookie(from, t.dst_port, 0);
        let rst = t.flags & tcp_flags::RST != 0;
        let syn_ack =
            t.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK;
        let reason = if syn && syn_ack && !rst && t.ack == cookie.wrapping_add(1) {
            Reason::SynAck
        } else if rst && ((syn && t.ack == cookie.wrapping_add(1)) || (ack && t.seq == cookie)) {
            Reason::Reset
        } else {
            return None;
        };
        let mut r = Reply::new(from, 0, t.dst_port, cookie, ttl);
        r.state = PortState::Open;
        r.reason = reason;
        r.via = port;
        r.tsecr = t.timestamps.map(|(_, ecr)| ecr).filter(|&e| e != 0);
        Some(r)
    }

    /// A UDP answer or a port unreachable, as the UDP module validates it against the ports
    /// we pinged; only the host's own answers count.
    fn udp_answer(&self, net: &Network, ip: &[u8], v: &dyn Validate) -> Option<Reply> {
        if self.udp_ports.is_empty() {
            return None;
        }
        let scope = PortScope {
            inner: v,
            ports: &self.udp_ports,
        };
        let mut r = self.udp.classify(net, ip, &scope)?;
        if !matches!(r.state, PortState::Open | PortState::Closed) {
            return None;
        }
        r.via = r.port;
        r.port = 0;
        r.state = PortState::Open;
        r.data = None;
        r.data_len = 0;
        Some(r)
    }
}

/// The scan's validation with pinged ports standing for port 0, the pseudo-port every
/// ping probe is keyed by.
struct PortScope<'a> {
    inner: &'a dyn Validate,
    ports: &'a [u16],
}

impl Validate for PortScope<'_> {
    fn src(&self) -> IpAddr {
        self.inner.src()
    }

    fn ours(&self, sport: u16) -> bool {
        self.inner.ours(sport)
    }

    fn probed(&self, target: IpAddr, port: u16) -> bool {
        self.ports.contains(&port) && self.inner.probed(target, 0)
    }

    fn cookie(&self, target: IpAddr, sport: u16, _dport: u16) -> u32 {
        self.inner.cookie(target, sport, 0)
    }
}

impl Probe for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }

    fn proto(&self) -> Proto {
        Proto::Tcp
    }

    fn frame_len(&self) -> usize {
        self.kinds
            .iter()
            .map(|&k| self.len_of(k))
            .max()
            .unwrap_or(0)
    }

    fn frames_per_probe(&self, _port: u16) -> usize {
        self.kinds.len()
    }

    fn frame_len_of(&self, _port: u16, k: usize) -> usize {
        self.kinds.get(k).map_or(0, |&kind| self.len_of(kind))
    }

    fn reply_protocols(&self) -> &'static [u8] {
        match self.src {
            IpAddr::V4(_) => &[PROTO_ICMP, PROTO_TCP, PROTO_UDP],
            IpAddr::V6(_) => &[PROTO_ICMPV6, PROTO_TCP, PROTO_UDP],
        }
    }

    fn write(&self, buf: &mut [u8], p: &ProbeSpec) {
        let Some(&kind) = self.kinds.get(usize::from(p.k)) else {
            return;
        };
        let out = &mut buf[..self.len_of(kind)];
        match kind {
            PingKind::Echo => {
                let mut data = [0u8; ECHO_DATA];
                data[..4].copy_from_slice(&p.cookie.to_be_bytes());
                data[4..].copy_from_slice(&p.tsval.to_be_bytes());
                let t = if self.src.is_ipv6() {
                    icmpv6::ECHO_REQUEST
                } else {
                    icmp::ECHO_REQUEST
                };
                self.icmp_request(out, p, t, &data);
            }
            PingKind::Timestamp => {
                let mut data = [0u8; 12];
                data[..4].copy_from_slice(&p.cookie.to_be_bytes());
                self.icmp_request(out, p, ICMP_TIMESTAMP, &data);
            }
            PingKind::Syn(port) => {
                let spec = ProbeSpec { dport: port, ..*p };
                self.syn.write(out, &spec);
            }
            PingKind::Ack(port) => {
                self.headers(
                    out,
                    p.dst_mac,
                    p.dst,
                    PROTO_TCP,
                    super::udp::ip_id(p.cookie),
                );
                let t = IP + self.ip_len();
                let mut r = TcpRepr::new(p.sport, port, p.cookie.rotate_left(16), p.cookie, 0);
                r.flags = tcp_flags::ACK;
                r.window = 1024;
                r.emit(&mut out[t..]);
                tcp::Packet::new_unchecked(&mut out[t..]).fill_checksum(self.src, p.dst);
            }
            PingKind::Udp(port) => {
                let spec = ProbeSpec {
                    dport: port,
                    k: 0,
                    ..*p
                };
                self.udp.write(out, &spec);
            }
        }
    }

    fn classify(&self, net: &Network, ip: &[u8], v: &dyn Validate) -> Option<Reply> {
        let msg = || wire::upper_layer(ip).unwrap_or(&[]);
        match net {
            Network::Ipv4(h, t) if IpAddr::V4(h.dst) == v.src() => match t {
                Transport::Icmp(IcmpRepr {
                    icmp_type, rest, ..
                }) => {
                    let from = IpAddr::V4(h.src);
                    match *icmp_type {
                        icmp::ECHO_REPLY if self.kinds.contains(&PingKind::Echo) => {
                            self.icmp_answer(from, h.ttl, *rest, msg(), Reason::EchoReply, v)
                        }
                        ICMP_TIMESTAMP_REPLY if self.kinds.contains(&PingKind::Timestamp) => {
                            self.icmp_answer(from, h.ttl, *rest, msg(), Reason::TimestampReply, v)
                        }
                        _ => self.udp_answer(net, ip, v),
                    }
                }
                Transport::Tcp(tcp) => self.tcp_answer(IpAddr::V4(h.src), h.ttl, tcp, v),
                Transport::Udp(_) => self.udp_answer(net, ip, v),
                _ => None,
            },
            Network::Ipv6(h, t) if IpAddr::V6(h.dst) == v.src() => match t {
                Transport::Icmpv6(Icmpv6Repr {
                    icmp_type, rest, ..
                }) => {
                    if *icmp_type == icmpv6::ECHO_REPLY && self.kinds.contains(&PingKind::Echo) {
                        let from = IpAddr::V6(h.src);
                        self.icmp_answer(from, h.hop_limit, *rest, msg(), Reason::EchoReply, v)
                    } else {
                        self.udp_answer(net, ip, v)
                    }
                }
                Transport::Tcp(tcp) => self.tcp_answer(IpAddr::V6(h.src), h.hop_limit, tcp, v),
                Transport::Udp(_) => self.udp_answer(net, ip, v),
                _ => None,
            },
            _ => None,
        }
    }

    fn follow_up(&self, r: &Reply, dst_mac: MacAddr, out: &mut Vec<u8>) -> bool {
        if r.reason != Reason::SynAck {
            return false;
        }
        // The RST for the half-open connection, to the port that answered.
        let mut at_port = r.clone();
        at_port.port = r.via;
        self.syn.follow_up(&at_port, dst_mac, out)
    }
}

/// ICMP timestamp request and reply types.
const ICMP_TIMESTAMP: u8 = 13;
const ICMP_TIMESTAMP_REPLY: u8 = 14;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Cookie;
    use crate::probe::testing::Scope;
    use crate::wire::{parse_ethernet, udp};
    use std::net::Ipv4Addr;

    fn scope(src: IpAddr, dst: IpAddr) -> Scope {
        Scope {
            src,
            them: dst,
            cookie: Cookie::random(),
            sports: 40000..40001,
            ports: &[0],
        }
    }

    /// Every checksum of the IP packet `b` holds.
    fn checksums_ok(b: &[u8]) -> bool {
        let (src, dst, proto, l4) = match b[0] >> 4 {
            4 => {
                let h = ipv4::Packet::new_checked(b).unwrap();
                if !h.verify_checksum() {
                    return false;
                }
                let r = ipv4::Repr::parse(&h);
                (IpAddr::V4(r.src), IpAddr::V4(r.dst), r.proto, &b[20..])
            }
            _ => {
                let r = ipv6::Repr::parse(&ipv6::Packet::new_checked(b).unwrap());
                (
                    IpAddr::V6(r.src),
                    IpAddr::V6(r.dst),
                    r.next_header,
                    &b[40..],
                )
            }
        };
        match (proto, src, dst) {
            (PROTO_TCP, _, _) => tcp::Packet::new_checked(l4)
                .unwrap()
                .verify_checksum(src, dst),
            (PROTO_UDP, _, _) => udp::Packet::new_checked(l4)
                .unwrap()
                .verify_checksum(src, dst),
            (PROTO_ICMP, _, _) => icmp::Packet::new_checked(l4).unwrap().verify_checksum(),
            (PROTO_ICMPV6, IpAddr::V6(s), IpAddr::V6(d)) => icmpv6::Packet::new_checked(l4)
                .unwrap()
                .verify_checksum(s, d),
            _ => false,
        }
    }

    fn ping(src: IpAddr) -> Ping {
        Ping::new(
            MacAddr::new(2, 0, 0, 0, 0, 1),
            src,
            64,
            1460,
            &[
                PingKind::Echo,
                PingKind::Timestamp,
                PingKind::Syn(443),
                PingKind::Ack(80),
                PingKind::Udp(40125),
            ],
            Arc::new(crate::probe::Payloads::default()),
        )
    }

    fn frame(p: &Ping, k: u8, dst: IpAddr, cookie: u32) -> Vec<u8> {
        let mut f = vec![0u8; p.frame_len_of(0, usize::from(k))];
        p.write(
            &mut f,
            &ProbeSpec {
                dst_mac: MacAddr::new(2, 0, 0, 0, 0, 2),
                dst,
                sport: 40000,
                dport: 0,
                cookie,
                tsval: 777,
                k,
            },
        );
        f
    }

    #[test]
    fn every_ping_parses_with_good_checksums() {
        for src in [
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            "fd00::1".parse().unwrap(),
        ] {
            let dst = if src.is_ipv4() {
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9))
            } else {
                "fd00::9".parse().unwrap()
            };
            let p = ping(src);
            assert_eq!(p.frames_per_probe(0), if src.is_ipv4() { 5 } else { 4 });
            for k in 0..p.frames_per_probe(0) as u8 {
                let f = frame(&p, k, dst, 0xdead_beef);
                let (_, net) = parse_ethernet(&f).unwrap();
                assert!(
                    checksums_ok(&f[IP..]),
                    "kind {:?} of {src}",
                    p.kinds()[usize::from(k)]
                );
                match (p.kinds()[usize::from(k)], net) {
                    (PingKind::Ack(80), Network::Ipv4(_, Transport::Tcp(t)))
                    | (PingKind::Ack(80), Network::Ipv6(_, Transport::Tcp(t))) => {
                        assert_eq!(
                            (t.dst_port, t.ack, t.flags),
                            (80, 0xdead_beef, tcp_flags::ACK)
                        );
                    }
                    (PingKind::Syn(443), Network::Ipv4(_, Transport::Tcp(t)))
                    | (PingKind::Syn(443), Network::Ipv6(_, Transport::Tcp(t))) => {
                        assert_eq!((t.dst_port, t.seq), (443, 0xdead_beef));
                    }
                    (PingKind::Echo, Network::Ipv4(_, Transport::Icmp(m))) => {
                        assert_eq!((m.icmp_type, m.rest), (8, 40000 << 16 | 0xbeef));
                    }
                    (PingKind::Echo, Network::Ipv6(_, Transport::Icmpv6(m))) => {
                        assert_eq!((m.icmp_type, m.rest), (128, 40000 << 16 | 0xbeef));
                    }
                    (PingKind::Timestamp, Network::Ipv4(_, Transport::Icmp(m))) => {
                        assert_eq!(m.icmp_type, 13);
                    }
                    (PingKind::Udp(40125), Network::Ipv4(_, Transport::Udp(u)))
                    | (PingKind::Udp(40125), Network::Ipv6(_, Transport::Udp(u))) => {
                        assert_eq!(u.dst_port, 40125);
                    }
                    (k, n) => panic!("kind {k:?} wrote {n:?}"),
                }
            }
        }
    }

    /// Turns a request frame into the reply a host sends: addresses swapped, type changed.
    fn echo_reply_of(req: &[u8], reply_type: u8, tweak: impl Fn(&mut [u8])) -> Vec<u8> {
        let mut f = req.to_vec();
        let v6 = f[12] == 0x86;
        if v6 {
            let (a, b) = (f[IP + 8..IP + 24].to_vec(), f[IP + 24..IP + 40].to_vec());
            f[IP + 8..IP + 24].copy_from_slice(&b);
            f[IP + 24..IP + 40].copy_from_slice(&a);
        } else {
            let (a, b) = (f[IP + 12..IP + 16].to_vec(), f[IP + 16..IP + 20].to_vec());
            f[IP + 12..IP + 16].copy_from_slice(&b);
            f[IP + 16..IP + 20].copy_from_slice(&a);
        }
        let m = IP + if v6 { 40 } else { 20 };
        f[m] = reply_type;
        tweak(&mut f[m..]);
        if v6 {
            let s: std::net::Ipv6Addr = "fd00::9".parse().unwrap();
            let d: std::net::Ipv6Addr = "fd00::1".parse().unwrap();
            icmpv6::Packet::new_unchecked(&mut f[m..]).fill_checksum(s, d);
        } else {
            icmp::Packet::new_unchecked(&mut f[m..]).fill_checksum();
        }
        f
    }

    #[test]
    fn echo_and_timestamp_replies_must_carry_the_cookie() {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let dst = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        let p = ping(src);
        let scope = scope(src, dst);
        let cookie = scope.cookie(dst, 40000, 0);
        let classify = |f: &[u8]| {
            let (_, net) = parse_ethernet(f).unwrap();
            p.classify(&net, &f[IP..], &scope)
        };
        let echo = frame(&p, 0, dst, cookie);
        let good = classify(&echo_reply_of(&echo, 0, |_| {})).unwrap();
        assert_eq!(
            (good.target, good.port, good.state, good.reason, good.tsecr),
            (dst, 0, PortState::Open, Reason::EchoReply, Some(777))
        );
        // Another sequence, another cookie in the data, another id: nothing.
        assert!(classify(&echo_reply_of(&echo, 0, |m| m[7] ^= 1)).is_none());
        assert!(classify(&echo_reply_of(&echo, 0, |m| m[9] ^= 1)).is_none());
        assert!(classify(&echo_reply_of(&echo, 0, |m| m[4] ^= 0x40)).is_none());
        let ts = frame(&p, 1, dst, cookie);
        let good = classify(&echo_reply_of(&ts, 14, |_| {})).unwrap();
        assert_eq!(good.reason, Reason::TimestampReply);
        assert!(classify(&echo_reply_of(&ts, 14, |m| m[10] ^= 1)).is_none());
        // A request is no answer.
        assert!(classify(&echo_reply_of(&echo, 8, |_| {})).is_none());
    }

    #[test]
    fn ipv6_echo_reply() {
        let src: IpAddr = "fd00::1".parse().unwrap();
        let dst: IpAddr = "fd00::9".parse().unwrap();
        let p = ping(src);
        let scope = scope(src, dst);
        let cookie = scope.cookie(dst, 40000, 0);
        let echo = frame(&p, 0, dst, cookie);
        let f = echo_reply_of(&echo, 129, |_| {});
        let (_, net) = parse_ethernet(&f).unwrap();
        let r = p.classify(&net, &f[IP..], &scope).unwrap();
        assert_eq!((r.target, r.reason), (dst, Reason::EchoReply));
        let f = echo_reply_of(&echo, 129, |m| m[8] ^= 1);
        let (_, net) = parse_ethernet(&f).unwrap();
        assert!(p.classify(&net, &f[IP..], &scope).is_none());
    }

    fn tcp_reply(src: IpAddr, dst: IpAddr, t: TcpRepr) -> Vec<u8> {
        let mut f = vec![0u8; IP + 20 + 20];
        ethernet::Repr {
            dst: MacAddr::new(2, 0, 0, 0, 0, 1),
            src: MacAddr::new(2, 0, 0, 0, 0, 2),
            ethertype: ETHERTYPE_IPV4,
            vlan: None,
        }
        .emit(&mut f);
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (dst, src) {
            ipv4::Repr::new(s, d, PROTO_TCP, 64, 20).emit(&mut f[IP..]);
        }
        t.emit(&mut f[IP + 20..]);
        tcp::Packet::new_unchecked(&mut f[IP + 20..]).fill_checksum(dst, src);
        f
    }

    #[test]
    fn tcp_pings_check_ack_or_sequence() {
        let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let dst = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        let p = ping(src);
        let scope = scope(src, dst);
        let c = scope.cookie(dst, 40000, 0);
        let classify = |t: TcpRepr| {
            let f = tcp_reply(src, dst, t);
            let (_, net) = parse_ethernet(&f).unwrap();
            p.classify(&net, &f[IP..], &scope)
        };
        let sa = classify(TcpRepr::new(
            443,
            40000,
            5,
            c.wrapping_add(1),
            tcp_flags::SYN | tcp_flags::ACK,
        ))
        .unwrap();
        assert_eq!((sa.reason, sa.port, sa.via), (Reason::SynAck, 0, 443));
        let mut rst = Vec::new();
        assert!(p.follow_up(&sa, MacAddr::new(2, 0, 0, 0, 0, 2), &mut rst));
        let (_, Network::Ipv4(_, Transport::Tcp(t))) = parse_ethernet(&rst).unwrap() else {
            panic!("no RST");
        };
        assert_eq!(
            (t.dst_port, t.flags, t.seq),
            (443, tcp_flags::RST, c.wrapping_add(1))
        );
        // The RST an ACK ping draws: its sequence is our acknowledgment.
        let r = classify(TcpRepr::new(80, 40000, c, 0, tcp_flags::RST)).unwrap();
        assert_eq!(r.reason, Reason::Reset);
        assert!(classify(TcpRepr::new(80, 40000, c ^ 1, 0, tcp_flags::RST)).is_none());
        // A RST to the SYN ping acknowledges cookie+1.
        assert!(
            classify(TcpRepr::new(
                443,
                40000,
                0,
                c.wrapping_add(1),
                tcp_flags::RST
            ))
            .is_some()
        );
        assert!(classify(TcpRepr::new(443, 40000, c, 0, tcp_flags::RST)).is_none());
        // A port we never pinged, a source port not ours.
        assert!(classify(TcpRepr::new(22, 40000, c, 0, tcp_flags::RST)).is_none());
        assert!(classify(TcpRepr::new(80, 41000, c, 0, tcp_flags::RST)).is_none());
    }
}
