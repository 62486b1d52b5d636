//! The TCP SYN probe, over IPv4 or IPv6: a half-open scan. The cookie is the SYN's sequence
//! number. A SYN-ACK must acknowledge cookie+1 (open), a RST the cookie or cookie+1 (closed);
//! an ICMP or ICMPv6 error must quote our probe, cookie included (filtered, with nmap's
//! reason). A SYN-ACK is answered with a RST so the target drops the half-open connection.
//!
//! The frame is a template built once; per probe only the destination MAC and address, the
//! ports, sequence number, IPv4 id, timestamp and the checksums are written, the checksums
//! finished from sums precomputed over the constant fields: no allocation and no full re-sum
//! per packet.

use super::{Probe, ProbeSpec, Reply, Validate};
use crate::event::{PortState, Proto, Reason};
use crate::wire::checksum::{finish, pseudo, sum};
use crate::wire::ethernet::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire::{
    self, IcmpRepr, Icmpv6Repr, Network, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, TcpRepr, Transport,
    icmpv6, ipv4, ipv6, tcp, tcp_flags,
};
use pnet::util::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TCP header of the SYN with its options: 20 + 20 bytes.
const TCP_LEN: usize = 40;
/// Frame length of an IPv4 SYN.
pub const LEN_V4: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN + TCP_LEN;
/// Frame length of an IPv6 SYN.
pub const LEN_V6: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN + TCP_LEN;

const IP: usize = ethernet::HEADER_LEN;

/// The SYN probe for one source address.
#[derive(Debug, Clone)]
pub struct TcpSyn {
    frame: Vec<u8>,
    /// Offset of the TCP header.
    tcp: usize,
    src: IpAddr,
    src_mac: MacAddr,
    ttl: u8,
    /// Sum of the IPv4 header's constant words (everything but id, destination, checksum).
    ip_sum: u64,
    /// Sum of the TCP header's constant words plus the constant pseudo-header part.
    tcp_sum: u64,
}

/// Sum of an address's 16-bit words.
fn addr_sum(a: IpAddr) -> u64 {
    match a {
        IpAddr::V4(a) => sum(&a.octets(), 0),
        IpAddr::V6(a) => sum(&a.octets(), 0),
    }
}

impl TcpSyn {
    /// A SYN from `src_mac`/`src` with the given TTL (hop limit), MSS and window; its options
    /// are Linux's (MSS, SACK-permitted, timestamps, NOP, window scale 7).
    pub fn new(src_mac: MacAddr, src: IpAddr, ttl: u8, mss: u16, window: u16) -> TcpSyn {
        let (ip_len, ethertype) = match src {
            IpAddr::V4(_) => (ipv4::HEADER_LEN, ETHERTYPE_IPV4),
            IpAddr::V6(_) => (ipv6::HEADER_LEN, ETHERTYPE_IPV6),
        };
        let tcp_at = IP + ip_len;
        let mut f = vec![0u8; tcp_at + TCP_LEN];
        ethernet::Repr {
            dst: MacAddr::zero(),
            src: src_mac,
            ethertype,
            vlan: None,
        }
        .emit(&mut f);
        let mut ip_sum = 0;
        match src {
            IpAddr::V4(s) => {
                ipv4::Repr::new(s, Ipv4Addr::UNSPECIFIED, PROTO_TCP, ttl, TCP_LEN)
                    .emit(&mut f[IP..]);
                // The checksum is computed per probe: keep the field zero in the template.
                f[IP + 10..IP + 12].copy_from_slice(&[0, 0]);
                ip_sum = sum(&f[IP..IP + ipv4::HEADER_LEN], 0);
            }
            IpAddr::V6(s) => {
                ipv6::Repr::new(s, Ipv6Addr::UNSPECIFIED, PROTO_TCP, ttl, TCP_LEN)
                    .emit(&mut f[IP..]);
            }
        }
        let mut syn = TcpRepr::new(0, 0, 0, 0, tcp_flags::SYN);
        syn.window = window;
        syn.mss = Some(mss);
        syn.sack_perm = true;
        syn.timestamps = Some((0, 0));
        syn.wscale = Some(7);
        debug_assert_eq!(syn.buffer_len(), TCP_LEN);
        syn.emit(&mut f[tcp_at..]);
        let unspecified = match src {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let tcp_sum = sum(&f[tcp_at..], pseudo(src, unspecified, PROTO_TCP, TCP_LEN));
        TcpSyn {
            frame: f,
            tcp: tcp_at,
            src,
            src_mac,
            ttl,
            ip_sum,
            tcp_sum,
        }
    }

    /// The template bytes (per-probe fields zero).
    pub fn template(&self) -> &[u8] {
        &self.frame
    }
}

/// The TSval's offset in the SYN's options (after MSS and SACK-permitted, past kind/len).
const TSVAL: usize = 20 + 4 + 2 + 2;

/// State and reason for an ICMP error about a TCP probe, as nmap -sS reads them; `None` for
/// messages that say nothing about the port.
pub fn icmp_reason(icmp_type: u8, code: u8) -> Option<Reason> {
    match (icmp_type, code) {
        (3, 0) => Some(Reason::NetUnreach),
        (3, 1) => Some(Reason::HostUnreach),
        (3, 2) => Some(Reason::ProtoUnreach),
        (3, 3) => Some(Reason::PortUnreach),
        (3, 9) => Some(Reason::NetProhibited),
        (3, 10) => Some(Reason::HostProhibited),
        (3, 13) => Some(Reason::AdminProhibited),
        (11, _) => Some(Reason::TimeExceeded),
        _ => None,
    }
}

/// The same for ICMPv6, as nmap -6 -sS reads it: destination unreachable (codes 0-6) and
/// time exceeded.
pub fn icmpv6_reason(icmp_type: u8, code: u8) -> Option<Reason> {
    match (icmp_type, code) {
        (icmpv6::DEST_UNREACH, 0) => Some(Reason::NoRoute),
        (icmpv6::DEST_UNREACH, 1) => Some(Reason::AdminProhibited),
        (icmpv6::DEST_UNREACH, 2) => Some(Reason::BeyondScope),
        (icmpv6::DEST_UNREACH, 3) => Some(Reason::AddrUnreach),
        (icmpv6::DEST_UNREACH, 4) => Some(Reason::PortUnreach),
        // Source address failed ingress/egress policy: a firewall's doing.
        (icmpv6::DEST_UNREACH, 5) => Some(Reason::AdminProhibited),
        (icmpv6::DEST_UNREACH, 6) => Some(Reason::RejectRoute),
        (icmpv6::TIME_EXCEEDED, _) => Some(Reason::TimeExceeded),
        _ => None,
    }
}

impl TcpSyn {
    fn tcp_answer(&self, from: IpAddr, ttl: u8, t: &TcpRepr, v: &dyn Validate) -> Option<Reply> {
        if !v.ours(t.dst_port) || !v.probed(from, t.src_port) {
            return None;
        }
        let cookie = v.cookie(from, t.dst_port, t.src_port);
        let syn_ack = tcp_flags::SYN | tcp_flags::ACK;
        let (state, reason) = if t.flags & tcp_flags::RST != 0 {
            if t.ack != cookie && t.ack != cookie.wrapping_add(1) {
                return None;
            }
            (PortState::Closed, Reason::Reset)
        } else if t.flags & syn_ack == syn_ack {
            if t.ack != cookie.wrapping_add(1) {
                return None;
            }
            (PortState::Open, Reason::SynAck)
        } else {
            return None;
        };
        Some(Reply {
            target: from,
            port: t.src_port,
            sport: t.dst_port,
            cookie,
            state,
            reason,
            ttl,
            tsecr: t.timestamps.map(|(_, ecr)| ecr).filter(|&e| e != 0),
            data: None,
            data_len: 0,
            via: t.src_port,
        })
    }

    fn error_answer(
        &self,
        reason: Reason,
        q: &wire::Quoted,
        ttl: u8,
        v: &dyn Validate,
    ) -> Option<Reply> {
        let cookie = super::quoted_cookie(q, PROTO_TCP, v)?;
        if q.seq != Some(cookie) {
            return None;
        }
        Some(Reply {
            target: q.dst,
            port: q.dst_port,
            sport: q.src_port,
            cookie,
            state: PortState::Filtered,
            reason,
            ttl,
            tsecr: None,
            data: None,
            data_len: 0,
            via: q.dst_port,
        })
    }
}

impl Probe for TcpSyn {
    fn name(&self) -> &'static str {
        "tcp-syn"
    }

    fn proto(&self) -> Proto {
        Proto::Tcp
    }

    fn frame_len(&self) -> usize {
        self.frame.len()
    }

    fn reply_protocols(&self) -> &'static [u8] {
        match self.src {
            IpAddr::V4(_) => &[PROTO_TCP, PROTO_ICMP],
            IpAddr::V6(_) => &[PROTO_TCP, PROTO_ICMPV6],
        }
    }

    #[inline]
    fn write(&self, buf: &mut [u8], p: &ProbeSpec) {
        let n = self.frame.len();
        let out = &mut buf[..n];
        out.copy_from_slice(&self.frame);
        out[0..6].copy_from_slice(&p.dst_mac.octets());
        let dwords = addr_sum(p.dst);
        match p.dst {
            IpAddr::V4(d) => {
                // The IP id varies per probe, from the cookie.
                let id = (p.cookie ^ (p.cookie >> 16)) as u16;
                out[IP + 4..IP + 6].copy_from_slice(&id.to_be_bytes());
                out[IP + 16..IP + 20].copy_from_slice(&d.octets());
                let ck = finish(self.ip_sum + u64::from(id) + dwords);
                out[IP + 10..IP + 12].copy_from_slice(&ck.to_be_bytes());
            }
            IpAddr::V6(d) => out[IP + 24..IP + 40].copy_from_slice(&d.octets()),
        }
        let t = self.tcp;
        out[t..t + 2].copy_from_slice(&p.sport.to_be_bytes());
        out[t + 2..t + 4].copy_from_slice(&p.dport.to_be_bytes());
        out[t + 4..t + 8].copy_from_slice(&p.cookie.to_be_bytes());
        out[t + TSVAL..t + TSVAL + 4].copy_from_slice(&p.tsval.to_be_bytes());
        let var = u64::from(p.sport)
            + u64::from(p.dport)
            + u64::from(p.cookie >> 16)
            + u64::from(p.cookie & 0xffff)
            + u64::from(p.tsval >> 16)
            + u64::from(p.tsval & 0xffff)
            + dwords;
        let ck = finish(self.tcp_sum + var);
        out[t + 16..t + 18].copy_from_slice(&ck.to_be_bytes());
    }

    fn classify(&self, net: &Network, _ip: &[u8], v: &dyn Validate) -> Option<Reply> {
        match net {
            Network::Ipv4(ip, t) if IpAddr::V4(ip.dst) == v.src() => match t {
                Transport::Tcp(tcp) => self.tcp_answer(IpAddr::V4(ip.src), ip.ttl, tcp, v),
                Transport::Icmp(IcmpRepr {
                    icmp_type,
                    code,
                    quoted: Some(q),
                    ..
                }) => self.error_answer(icmp_reason(*icmp_type, *code)?, q, ip.ttl, v),
                _ => None,
            },
            Network::Ipv6(ip, t) if IpAddr::V6(ip.dst) == v.src() => match t {
                Transport::Tcp(tcp) => self.tcp_answer(IpAddr::V6(ip.src), ip.hop_limit, tcp, v),
                Transport::Icmpv6(Icmpv6Repr {
                    icmp_type,
                    code,
                    quoted: Some(q),
                    ..
                }) => self.error_answer(icmpv6_reason(*icmp_type, *code)?, q, ip.hop_limit, v),
                _ => None,
            },
            _ => None,
        }
    }

    fn follow_up(&self, r: &Reply, dst_mac: MacAddr, out: &mut Vec<u8>) -> bool {
        if r.state != PortState::Open {
            return false;
        }
        // A bare RST (no ACK) for the SYN's seq + 1.
        let ip_len = match self.src {
            IpAddr::V4(_) => ipv4::HEADER_LEN,
            IpAddr::V6(_) => ipv6::HEADER_LEN,
        };
        out.clear();
        out.resize(IP + ip_len + tcp::HEADER_LEN, 0);
        let ethertype = if self.src.is_ipv4() {
            ETHERTYPE_IPV4
        } else {
            ETHERTYPE_IPV6
        };
        ethernet::Repr {
            dst: dst_mac,
            src: self.src_mac,
            ethertype,
            vlan: None,
        }
        .emit(out);
        match (self.src, r.target) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                ipv4::Repr::new(s, d, PROTO_TCP, self.ttl, tcp::HEADER_LEN).emit(&mut out[IP..])
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                ipv6::Repr::new(s, d, PROTO_TCP, self.ttl, tcp::HEADER_LEN).emit(&mut out[IP..])
            }
            _ => return false,
        }
        let t = IP + ip_len;
        TcpRepr::new(r.sport, r.port, r.cookie.wrapping_add(1), 0, tcp_flags::RST)
            .emit(&mut out[t..]);
        tcp::Packet::new_unchecked(&mut out[t..]).fill_checksum(self.src, r.target);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Cookie;
    use crate::probe::testing::{Scope, families};
    use crate::wire::{Ipv4Repr, Ipv6Repr, Quoted, icmp, parse_ethernet};

    #[test]
    fn probes_have_valid_checksums_and_the_cookie_as_seq() {
        for (src, dst) in families() {
            let m = TcpSyn::new(MacAddr::new(2, 0, 0, 0, 0, 1), src, 64, 1460, 64240);
            let mut buf = vec![0u8; m.frame_len()];
            let spec = ProbeSpec {
                dst_mac: MacAddr::new(2, 0, 0, 0, 0, 9),
                dst,
                sport: 40000,
                dport: 65535,
                cookie: 0xdead_beef,
                tsval: 0xffff_fff0,
                k: 0,
            };
            m.write(&mut buf, &spec);
            let (eth, net) = parse_ethernet(&buf).unwrap();
            assert_eq!(eth.dst, spec.dst_mac);
            let seg = &buf[m.tcp..];
            assert!(
                tcp::Packet::new_checked(seg)
                    .unwrap()
                    .verify_checksum(src, dst)
            );
            let t = match net {
                Network::Ipv4(ip, Transport::Tcp(t)) => {
                    assert!(
                        ipv4::Packet::new_checked(&buf[IP..])
                            .unwrap()
                            .verify_checksum()
                    );
                    assert_eq!((ip.dst, ip.ttl), (Ipv4Addr::new(10, 0, 0, 9), 64));
                    t
                }
                Network::Ipv6(ip, Transport::Tcp(t)) => {
                    assert_eq!((IpAddr::V6(ip.dst), ip.hop_limit), (dst, 64));
                    t
                }
                n => panic!("{n:?}"),
            };
            assert_eq!((t.src_port, t.dst_port, t.seq), (40000, 65535, 0xdead_beef));
            assert_eq!((t.flags, t.mss), (tcp_flags::SYN, Some(1460)));
            assert_eq!(t.timestamps, Some((0xffff_fff0, 0)));
        }
    }

    fn tcp_reply(sport: u16, dport: u16, flags: u8, ack: u32) -> Transport {
        let mut t = TcpRepr::new(sport, dport, 1, ack, flags);
        t.header_len = 20;
        Transport::Tcp(t)
    }

    fn net(from: IpAddr, to: IpAddr, t: Transport) -> Network {
        match (from, to) {
            (IpAddr::V4(f), IpAddr::V4(d)) => {
                let mut ip = Ipv4Repr::new(f, d, PROTO_TCP, 61, 20);
                if matches!(t, Transport::Icmp(_)) {
                    ip.proto = PROTO_ICMP;
                }
                Network::Ipv4(ip, t)
            }
            (IpAddr::V6(f), IpAddr::V6(d)) => {
                Network::Ipv6(Ipv6Repr::new(f, d, PROTO_TCP, 61, 20), t)
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn accepts_only_what_matches_the_cookie() {
        for (us, them) in families() {
            let v = Scope {
                src: us,
                them,
                cookie: Cookie::from_key([1, 2]),
                sports: 40000..40002,
                ports: &[80],
            };
            let m = TcpSyn::new(MacAddr::zero(), us, 64, 1460, 64240);
            let seq = v.cookie(them, 40000, 80);
            let sa = tcp_flags::SYN | tcp_flags::ACK;
            let rst = tcp_flags::RST | tcp_flags::ACK;
            let check = |from, to, t| m.classify(&net(from, to, t), &[], &v);
            let ok = check(them, us, tcp_reply(80, 40000, sa, seq.wrapping_add(1))).unwrap();
            assert_eq!(
                (ok.state, ok.reason, ok.ttl),
                (PortState::Open, Reason::SynAck, 61)
            );
            assert!(
                check(them, us, tcp_reply(80, 40000, sa, seq)).is_none(),
                "ack = seq"
            );
            for ack in [seq, seq.wrapping_add(1)] {
                let r = check(them, us, tcp_reply(80, 40000, rst, ack)).unwrap();
                assert_eq!(r.state, PortState::Closed);
            }
            assert!(check(them, us, tcp_reply(80, 40000, rst, seq.wrapping_add(2))).is_none());
            // Unprobed port, unprobed host, a source port not ours, not addressed to us, a plain
            // SYN or ACK.
            assert!(check(them, us, tcp_reply(81, 40000, sa, seq.wrapping_add(1))).is_none());
            assert!(check(us, us, tcp_reply(80, 40000, sa, seq.wrapping_add(1))).is_none());
            assert!(check(them, us, tcp_reply(80, 40002, sa, seq.wrapping_add(1))).is_none());
            assert!(check(them, them, tcp_reply(80, 40000, sa, seq.wrapping_add(1))).is_none());
            for f in [tcp_flags::SYN, tcp_flags::ACK] {
                assert!(check(them, us, tcp_reply(80, 40000, f, seq.wrapping_add(1))).is_none());
            }
            // ICMP errors must quote our probe, cookie included.
            let seq1 = v.cookie(them, 40001, 80);
            let quote = |s: u32| Quoted {
                src: us,
                dst: them,
                proto: PROTO_TCP,
                ttl: 1,
                id: 0,
                src_port: 40001,
                dst_port: 80,
                seq: Some(s),
                icmp: None,
            };
            let error = |s: u32, code: u8| match us {
                IpAddr::V4(_) => Transport::Icmp(IcmpRepr {
                    icmp_type: icmp::DEST_UNREACH,
                    code,
                    checksum: 0,
                    rest: 0,
                    quoted: Some(quote(s)),
                }),
                IpAddr::V6(_) => Transport::Icmpv6(Icmpv6Repr {
                    icmp_type: icmpv6::DEST_UNREACH,
                    code,
                    checksum: 0,
                    rest: 0,
                    quoted: Some(quote(s)),
                    ndp: None,
                }),
            };
            let (code, want) = if us.is_ipv4() {
                (13, Reason::AdminProhibited)
            } else {
                (3, Reason::AddrUnreach)
            };
            let r = check(them, us, error(seq1, code)).unwrap();
            assert_eq!((r.target, r.port, r.reason), (them, 80, want));
            assert!(
                check(them, us, error(seq1 ^ 1, code)).is_none(),
                "foreign quote"
            );
            if us.is_ipv4() {
                assert!(check(them, us, error(seq1, 4)).is_none(), "frag needed");
            }
        }
    }

    #[test]
    fn a_syn_ack_is_followed_by_a_valid_rst() {
        for (us, them) in families() {
            let m = TcpSyn::new(MacAddr::new(2, 0, 0, 0, 0, 1), us, 64, 1460, 64240);
            let r = Reply {
                target: them,
                port: 80,
                sport: 40000,
                cookie: 7,
                state: PortState::Open,
                reason: Reason::SynAck,
                ttl: 64,
                tsecr: None,
                data: None,
                data_len: 0,
                via: 80,
            };
            let mut out = Vec::new();
            assert!(m.follow_up(&r, MacAddr::new(2, 0, 0, 0, 0, 9), &mut out));
            let (_, n) = parse_ethernet(&out).unwrap();
            let t = match n {
                Network::Ipv4(_, Transport::Tcp(t)) | Network::Ipv6(_, Transport::Tcp(t)) => t,
                n => panic!("{n:?}"),
            };
            assert_eq!(
                (t.flags, t.seq, t.src_port, t.dst_port),
                (tcp_flags::RST, 8, 40000, 80)
            );
            let ip_len = if us.is_ipv4() { 20 } else { 40 };
            assert!(
                tcp::Packet::new_checked(&out[14 + ip_len..])
                    .unwrap()
                    .verify_checksum(us, them)
            );
            let closed = Reply {
                state: PortState::Closed,
                ..r.clone()
            };
            assert!(!m.follow_up(&closed, MacAddr::zero(), &mut out));
        }
    }
}
