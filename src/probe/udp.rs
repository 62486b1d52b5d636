//! The UDP probe, over IPv4 or IPv6, as nmap -sU reads the answers: a datagram back from
//! the probed (address, port) to our source port is `open` (udp-response), an ICMP port
//! unreachable is `closed`, other unreachables are `filtered`, and silence is
//! `open|filtered`.
//!
//! Each port gets the payloads of [`Payloads`] (one datagram each, the cookie patched into
//! the field the protocol echoes), or an empty datagram. The cookie also rides in the IPv4
//! identification or the low 16 bits of the IPv6 flow label, which ICMP errors quote, so an
//! error counts only when it quotes one of our probes.

use super::udp_payloads::Payloads;
use super::{Probe, ProbeSpec, Reply, Validate};
use crate::event::{PortState, Proto, Reason};
use crate::wire::checksum::{finish, pseudo, sum};
use crate::wire::ethernet::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire::{
    self, IcmpRepr, Icmpv6Repr, Network, PROTO_ICMP, PROTO_ICMPV6, PROTO_UDP, Transport, ipv4,
    ipv6, udp,
};
use pnet::util::MacAddr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

const IP: usize = ethernet::HEADER_LEN;

/// Bytes of a reply's data kept for the outputs (`--banners` reads SNMP sysDescr from them).
pub const KEEP: usize = 512;

/// The UDP probe for one source address.
#[derive(Debug, Clone)]
pub struct Udp {
    /// Ethernet and IP headers, per-probe fields zero.
    head: Vec<u8>,
    src: IpAddr,
    payloads: Arc<Payloads>,
}

/// The identification (IPv4) or flow label bits (IPv6) a probe with `cookie` carries.
#[inline]
pub fn ip_id(cookie: u32) -> u16 {
    (cookie ^ (cookie >> 16)) as u16
}

impl Udp {
    /// Probes from `src_mac`/`src` with the given TTL (hop limit), carrying `payloads`.
    pub fn new(src_mac: MacAddr, src: IpAddr, ttl: u8, payloads: Arc<Payloads>) -> Udp {
        let (ip_len, ethertype) = match src {
            IpAddr::V4(_) => (ipv4::HEADER_LEN, ETHERTYPE_IPV4),
            IpAddr::V6(_) => (ipv6::HEADER_LEN, ETHERTYPE_IPV6),
        };
        let mut head = vec![0u8; IP + ip_len];
        ethernet::Repr {
            dst: MacAddr::zero(),
            src: src_mac,
            ethertype,
            vlan: None,
        }
        .emit(&mut head);
        match src {
            IpAddr::V4(s) => {
                ipv4::Repr::new(s, Ipv4Addr::UNSPECIFIED, PROTO_UDP, ttl, 0).emit(&mut head[IP..])
            }
            IpAddr::V6(s) => {
                ipv6::Repr::new(s, Ipv6Addr::UNSPECIFIED, PROTO_UDP, ttl, 0).emit(&mut head[IP..])
            }
        }
        Udp {
            head,
            src,
            payloads,
        }
    }

    fn udp_at(&self) -> usize {
        self.head.len()
    }

    /// A datagram from a probed (address, port) to one of our source ports, carrying the
    /// cookie where its protocol echoes one.
    fn datagram(
        &self,
        from: IpAddr,
        ttl: u8,
        t: &wire::UdpRepr,
        ip: &[u8],
        v: &dyn Validate,
    ) -> Option<Reply> {
        if !v.ours(t.dst_port) || !v.probed(from, t.src_port) {
            return None;
        }
        let cookie = v.cookie(from, t.dst_port, t.src_port);
        // The datagram's data, borrowed: only a matching answer's first bytes are copied.
        let data: &[u8] = wire::upper_layer(ip)
            .and_then(|seg| {
                let len = usize::from(udp::Packet::new_checked(seg).ok()?.len());
                seg.get(udp::HEADER_LEN..len.min(seg.len()))
            })
            .unwrap_or(&[]);
        if !self.payloads.answered_by(t.src_port, cookie, data) {
            return None;
        }
        let mut reply = Reply::new(from, t.src_port, t.dst_port, cookie, ttl);
        reply.state = PortState::Open;
        reply.reason = Reason::UdpResponse;
        reply.data_len = data.len() as u32;
        let keep = data.len().min(KEEP);
        reply.data = Some(data[..keep].into());
        Some(reply)
    }

    /// An ICMP or ICMPv6 error from `from` quoting one of our probes. Port unreachable means
    /// closed only from the target itself, as nmap reads it: from a router or firewall on
    /// the path it says nothing about the port's own state (filtered).
    fn error(
        &self,
        from: IpAddr,
        reason: Reason,
        q: &wire::Quoted,
        ttl: u8,
        v: &dyn Validate,
    ) -> Option<Reply> {
        let cookie = super::quoted_cookie(q, PROTO_UDP, v)?;
        if q.id != ip_id(cookie) {
            return None;
        }
        let mut reply = Reply::new(q.dst, q.dst_port, q.src_port, cookie, ttl);
        reply.reason = reason;
        reply.state = if reason == Reason::PortUnreach && from == q.dst {
            PortState::Closed
        } else {
            PortState::Filtered
        };
        Some(reply)
    }
}

impl Probe for Udp {
    fn name(&self) -> &'static str {
        "udp"
    }

    fn proto(&self) -> Proto {
        Proto::Udp
    }

    fn frame_len(&self) -> usize {
        self.udp_at() + udp::HEADER_LEN + self.payloads.max_len()
    }

    fn frames_per_probe(&self, port: u16) -> usize {
        self.payloads.count(port)
    }

    fn frame_len_of(&self, port: u16, k: usize) -> usize {
        self.udp_at() + udp::HEADER_LEN + self.payloads.len_of(port, k)
    }

    fn reply_protocols(&self) -> &'static [u8] {
        match self.src {
            IpAddr::V4(_) => &[PROTO_UDP, PROTO_ICMP],
            IpAddr::V6(_) => &[PROTO_UDP, PROTO_ICMPV6],
        }
    }

    fn write(&self, buf: &mut [u8], p: &ProbeSpec) {
        let k = usize::from(p.k);
        let data_len = self.payloads.len_of(p.dport, k);
        let u = self.udp_at();
        let udp_len = udp::HEADER_LEN + data_len;
        let out = &mut buf[..u + udp_len];
        out[..u].copy_from_slice(&self.head);
        out[0..6].copy_from_slice(&p.dst_mac.octets());
        let id = ip_id(p.cookie);
        match p.dst {
            IpAddr::V4(d) => {
                let total = (ipv4::HEADER_LEN + udp_len) as u16;
                out[IP + 2..IP + 4].copy_from_slice(&total.to_be_bytes());
                out[IP + 4..IP + 6].copy_from_slice(&id.to_be_bytes());
                out[IP + 16..IP + 20].copy_from_slice(&d.octets());
                out[IP + 10..IP + 12].copy_from_slice(&[0, 0]);
                let ck = finish(sum(&out[IP..IP + ipv4::HEADER_LEN], 0));
                out[IP + 10..IP + 12].copy_from_slice(&ck.to_be_bytes());
            }
            IpAddr::V6(d) => {
                out[IP + 2..IP + 4].copy_from_slice(&id.to_be_bytes());
                out[IP + 4..IP + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
                out[IP + 24..IP + 40].copy_from_slice(&d.octets());
            }
        }
        out[u..u + 2].copy_from_slice(&p.sport.to_be_bytes());
        out[u + 2..u + 4].copy_from_slice(&p.dport.to_be_bytes());
        out[u + 4..u + 6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        out[u + 6..u + 8].copy_from_slice(&[0, 0]);
        if let Some(payload) = self.payloads.of(p.dport).get(k) {
            payload.write(p.cookie, &mut out[u + udp::HEADER_LEN..]);
        }
        let mut ck = finish(sum(&out[u..], pseudo(self.src, p.dst, PROTO_UDP, udp_len)));
        if ck == 0 {
            ck = 0xffff;
        }
        out[u + 6..u + 8].copy_from_slice(&ck.to_be_bytes());
    }

    fn classify(&self, net: &Network, ip: &[u8], v: &dyn Validate) -> Option<Reply> {
        match net {
            Network::Ipv4(h, t) if IpAddr::V4(h.dst) == v.src() => match t {
                Transport::Udp(u) => self.datagram(IpAddr::V4(h.src), h.ttl, u, ip, v),
                Transport::Icmp(IcmpRepr {
                    icmp_type,
                    code,
                    quoted: Some(q),
                    ..
                }) => self.error(
                    IpAddr::V4(h.src),
                    super::tcp_syn::icmp_reason(*icmp_type, *code)?,
                    q,
                    h.ttl,
                    v,
                ),
                _ => None,
            },
            Network::Ipv6(h, t) if IpAddr::V6(h.dst) == v.src() => match t {
                Transport::Udp(u) => self.datagram(IpAddr::V6(h.src), h.hop_limit, u, ip, v),
                Transport::Icmpv6(Icmpv6Repr {
                    icmp_type,
                    code,
                    quoted: Some(q),
                    ..
                }) => self.error(
                    IpAddr::V6(h.src),
                    super::tcp_syn::icmpv6_reason(*icmp_type, *code)?,
                    q,
                    h.hop_limit,
                    v,
                ),
                _ => None,
            },
            _ => None,
        }
    }

    fn follow_up(&self, _reply: &Reply, _dst_mac: MacAddr, _out: &mut Vec<u8>) -> bool {
        false
    }

    fn unanswered(&self) -> PortState {
        PortState::OpenFiltered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Cookie;
    use crate::probe::testing::{Scope, families};
    use crate::wire::{Ipv4Repr, Ipv6Repr, UdpRepr, parse_ethernet};

    fn probe(src: IpAddr) -> Udp {
        Udp::new(
            MacAddr::new(2, 0, 0, 0, 0, 1),
            src,
            64,
            Arc::new(Payloads::shipped()),
        )
    }

    fn spec(dst: IpAddr, dport: u16, cookie: u32) -> ProbeSpec {
        ProbeSpec {
            dst_mac: MacAddr::new(2, 0, 0, 0, 0, 9),
            dst,
            sport: 40000,
            dport,
            cookie,
            tsval: 0,
            k: 0,
        }
    }

    /// A frame from `from` to `to` carrying `ip_payload` in `proto`.
    fn frame(from: IpAddr, to: IpAddr, proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14];
        match (from, to) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                f[12..14].copy_from_slice(&[8, 0]);
                let mut h = vec![0u8; 20];
                Ipv4Repr::new(s, d, proto, 60, l4.len()).emit(&mut h);
                f.extend_from_slice(&h);
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                f[12..14].copy_from_slice(&[0x86, 0xdd]);
                let mut h = vec![0u8; 40];
                Ipv6Repr::new(s, d, proto, 60, l4.len()).emit(&mut h);
                f.extend_from_slice(&h);
            }
            _ => unreachable!(),
        }
        f.extend_from_slice(l4);
        f
    }

    fn classify(m: &Udp, f: &[u8], v: &Scope) -> Option<Reply> {
        let (_, net) = parse_ethernet(f).ok()?;
        m.classify(&net, &f[14..], v)
    }

    #[test]
    fn probes_carry_the_payload_the_cookie_and_valid_checksums() {
        for (src, dst) in families() {
            let m = probe(src);
            let cookie = 0x1234_abcd;
            for (port, data_len) in [(53, 30), (9999, 0)] {
                let s = spec(dst, port, cookie);
                let mut buf = vec![0u8; m.frame_len_of(port, 0)];
                m.write(&mut buf, &s);
                let (_, net) = parse_ethernet(&buf).unwrap();
                let (u, id) = match net {
                    Network::Ipv4(ip, Transport::Udp(u)) => {
                        assert!(
                            ipv4::Packet::new_checked(&buf[IP..])
                                .unwrap()
                                .verify_checksum()
                        );
                        (u, ip.id)
                    }
                    Network::Ipv6(ip, Transport::Udp(u)) => (u, ip.flow_label as u16),
                    other => panic!("{other:?}"),
                };
                assert_eq!((u.src_port, u.dst_port), (40000, port));
                assert_eq!(usize::from(u.len), 8 + data_len);
                assert_eq!(id, ip_id(cookie));
                let seg = wire::upper_layer(&buf[IP..]).unwrap();
                let p = udp::Packet::new_checked(seg).unwrap();
                assert!(p.verify_checksum(src, dst));
                if port == 53 {
                    assert_eq!(&p.payload()[..2], &(cookie as u16).to_be_bytes());
                }
            }
        }
    }

    #[test]
    fn answers_count_only_from_probed_pairs_with_the_cookie() {
        for (src, dst) in families() {
            let m = probe(src);
            let v = Scope {
                src,
                them: dst,
                cookie: Cookie::random(),
                sports: 40000..40001,
                ports: &[53, 9999],
            };
            let c = v.cookie(dst, 40000, 53);
            let dns = |id: u16, sport: u16, dport: u16| {
                let mut d = vec![0u8; 8];
                d.extend_from_slice(&id.to_be_bytes());
                d.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
                UdpRepr {
                    src_port: sport,
                    dst_port: dport,
                    len: d.len() as u16,
                    checksum: 0,
                }
                .emit(&mut d);
                d
            };
            let good = frame(dst, src, PROTO_UDP, &dns(c as u16, 53, 40000));
            let r = classify(&m, &good, &v).expect("the answer");
            assert_eq!(
                (r.state, r.reason, r.port),
                (PortState::Open, Reason::UdpResponse, 53)
            );
            assert_eq!(r.data.as_deref().map(<[u8]>::len), Some(12));
            // Wrong DNS ID, wrong source port, not our port, unprobed source.
            for f in [
                frame(dst, src, PROTO_UDP, &dns(c as u16 ^ 1, 53, 40000)),
                frame(dst, src, PROTO_UDP, &dns(c as u16, 54, 40000)),
                frame(dst, src, PROTO_UDP, &dns(c as u16, 53, 40001)),
                frame(
                    families()[usize::from(src.is_ipv6())].0,
                    src,
                    PROTO_UDP,
                    &dns(c as u16, 53, 40000),
                ),
            ] {
                assert_eq!(classify(&m, &f, &v), None);
            }
            // An empty-payload port: any datagram from it.
            let c9 = v.cookie(dst, 40000, 9999);
            let any = frame(dst, src, PROTO_UDP, &dns(0, 9999, 40000));
            assert_eq!(
                classify(&m, &any, &v).map(|r| r.state),
                Some(PortState::Open)
            );
            // Port unreachable quoting our probe: closed; with another id: nothing.
            let mut probe_frame = vec![0u8; m.frame_len_of(9999, 0)];
            m.write(&mut probe_frame, &spec(dst, 9999, c9));
            let quoted = &probe_frame[IP..];
            let icmp_err = |q: &[u8]| {
                let (t, code, proto) = if src.is_ipv6() {
                    (1, 4, PROTO_ICMPV6)
                } else {
                    (3, 3, PROTO_ICMP)
                };
                let mut m = vec![t, code, 0, 0, 0, 0, 0, 0];
                m.extend_from_slice(q);
                frame(dst, src, proto, &m)
            };
            let r = classify(&m, &icmp_err(quoted), &v).expect("closed");
            assert_eq!(
                (r.state, r.reason),
                (PortState::Closed, Reason::PortUnreach)
            );
            // The same error from a router on the path says nothing of the port: filtered.
            let mut routed = icmp_err(quoted);
            let src_at = if src.is_ipv6() { 14 + 8 } else { 14 + 12 };
            routed[src_at + 1] ^= 0x40;
            let r = classify(&m, &routed, &v).expect("filtered");
            assert_eq!(
                (r.state, r.reason),
                (PortState::Filtered, Reason::PortUnreach)
            );
            let mut other = quoted.to_vec();
            other[if src.is_ipv6() { 3 } else { 5 }] ^= 1;
            assert_eq!(classify(&m, &icmp_err(&other), &v), None);
        }
    }
}
