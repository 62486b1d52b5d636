//! Reply validation: which received packets answer one of our probes, and what they mean.
//! A SYN-ACK must acknowledge seq+1, a RST seq or seq+1, and an ICMP error must quote our
//! probe's header (addresses, ports and the cookie sequence number). Everything else is
//! ignored — including replies from hosts or ports that were never probed.

use super::Cookie;
use crate::event::{PortState, Reason};
use crate::target::{HostSet, PortList};
use crate::wire::{Ipv4Repr, PROTO_TCP, Transport, tcp_flags};
use std::net::{IpAddr, Ipv4Addr};

/// A validated answer to one of our probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// The probed host.
    pub target: Ipv4Addr,
    /// The probed port.
    pub port: u16,
    /// Our source port of the answered probe.
    pub sport: u16,
    /// The answered probe's sequence number.
    pub seq: u32,
    /// State.
    pub state: PortState,
    /// Reason.
    pub reason: Reason,
    /// TTL of the reply.
    pub ttl: u8,
    /// TSecr echoed by a SYN-ACK (our send timestamp), when present.
    pub tsecr: Option<u32>,
}

/// Validates replies for one scan.
#[derive(Debug, Clone)]
pub struct Validator<'a> {
    /// The cookie keying sequence numbers.
    pub cookie: Cookie,
    /// Our source address.
    pub src: Ipv4Addr,
    /// First source port used.
    pub sport_base: u16,
    /// Number of source ports used (one per attempt).
    pub sport_count: u16,
    /// Probed hosts.
    pub hosts: &'a HostSet,
    /// Probed ports.
    pub ports: &'a PortList,
}

/// State and reason for an ICMP error about a TCP probe, as nmap -sS reads them; `None`
/// for messages that say nothing about the port.
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

impl Validator<'_> {
    fn ours(&self, sport: u16) -> bool {
        sport.wrapping_sub(self.sport_base) < self.sport_count
    }

    fn probed(&self, target: Ipv4Addr, port: u16) -> bool {
        self.ports.contains(port) && self.hosts.contains(IpAddr::V4(target))
    }

    /// The reply this packet is, if it answers one of our probes.
    pub fn check(&self, ip: &Ipv4Repr, t: &Transport) -> Option<Reply> {
        if ip.dst != self.src {
            return None;
        }
        match t {
            Transport::Tcp(tcp) => {
                if !self.ours(tcp.dst_port) || !self.probed(ip.src, tcp.src_port) {
                    return None;
                }
                let seq = self
                    .cookie
                    .seq(self.src, ip.src, tcp.dst_port, tcp.src_port);
                let syn_ack = tcp_flags::SYN | tcp_flags::ACK;
                let (state, reason) = if tcp.flags & tcp_flags::RST != 0 {
                    if tcp.ack != seq && tcp.ack != seq.wrapping_add(1) {
                        return None;
                    }
                    (PortState::Closed, Reason::Reset)
                } else if tcp.flags & syn_ack == syn_ack {
                    if tcp.ack != seq.wrapping_add(1) {
                        return None;
                    }
                    (PortState::Open, Reason::SynAck)
                } else {
                    return None;
                };
                Some(Reply {
                    target: ip.src,
                    port: tcp.src_port,
                    sport: tcp.dst_port,
                    seq,
                    state,
                    reason,
                    ttl: ip.ttl,
                    tsecr: tcp.timestamps.map(|(_, ecr)| ecr).filter(|&e| e != 0),
                })
            }
            Transport::Icmp(icmp) => {
                let reason = icmp_reason(icmp.icmp_type, icmp.code)?;
                let q = icmp.quoted?;
                if q.ip.proto != PROTO_TCP || q.ip.src != self.src || !self.ours(q.src_port) {
                    return None;
                }
                let target = q.ip.dst;
                if !self.probed(target, q.dst_port) {
                    return None;
                }
                let seq = self.cookie.seq(self.src, target, q.src_port, q.dst_port);
                if q.seq != Some(seq) {
                    return None;
                }
                Some(Reply {
                    target,
                    port: q.dst_port,
                    sport: q.src_port,
                    seq,
                    state: PortState::Filtered,
                    reason,
                    ttl: ip.ttl,
                    tsecr: None,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{PortList, build_hosts};
    use crate::wire::{IcmpRepr, Quoted, TcpRepr};

    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const THEM: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

    fn ip(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> Ipv4Repr {
        Ipv4Repr {
            src,
            dst,
            ttl: 61,
            proto,
            id: 0,
            header_len: 20,
            total_len: 40,
            checksum: 0,
            frag_offset: 0,
            more_fragments: false,
            dont_fragment: false,
            tos: 0,
        }
    }

    fn tcp(sport: u16, dport: u16, flags: u8, ack: u32) -> Transport {
        Transport::Tcp(TcpRepr {
            src_port: sport,
            dst_port: dport,
            seq: 1,
            ack,
            flags,
            window: 0,
            header_len: 20,
            checksum: 0,
            urgent: 0,
            mss: None,
            wscale: None,
            sack_perm: false,
            timestamps: None,
            payload_len: 0,
        })
    }

    #[test]
    fn accepts_only_what_matches_the_cookie() {
        let hosts = build_hosts(&["10.0.0.9".into()], &[]).unwrap();
        let ports = PortList::parse("80").unwrap();
        let v = Validator {
            cookie: Cookie::from_key([1, 2]),
            src: US,
            sport_base: 40000,
            sport_count: 2,
            hosts: &hosts,
            ports: &ports,
        };
        let seq = v.cookie.seq(US, THEM, 40000, 80);
        let sa = tcp_flags::SYN | tcp_flags::ACK;
        let rst = tcp_flags::RST | tcp_flags::ACK;
        let ok = v
            .check(&ip(THEM, US, 6), &tcp(80, 40000, sa, seq.wrapping_add(1)))
            .unwrap();
        assert_eq!(
            (ok.state, ok.reason, ok.ttl),
            (PortState::Open, Reason::SynAck, 61)
        );
        assert!(
            v.check(&ip(THEM, US, 6), &tcp(80, 40000, sa, seq))
                .is_none(),
            "ack = seq"
        );
        assert!(
            v.check(&ip(THEM, US, 6), &tcp(80, 40000, sa, seq ^ 0x100))
                .is_none()
        );
        for ack in [seq, seq.wrapping_add(1)] {
            let r = v
                .check(&ip(THEM, US, 6), &tcp(80, 40000, rst, ack))
                .unwrap();
            assert_eq!(r.state, PortState::Closed);
        }
        assert!(
            v.check(&ip(THEM, US, 6), &tcp(80, 40000, rst, seq.wrapping_add(2)))
                .is_none()
        );
        // Unprobed port, unprobed host, a source port not ours, not addressed to us.
        assert!(
            v.check(&ip(THEM, US, 6), &tcp(81, 40000, sa, seq.wrapping_add(1)))
                .is_none()
        );
        let other = Ipv4Addr::new(10, 0, 0, 8);
        assert!(
            v.check(&ip(other, US, 6), &tcp(80, 40000, sa, seq.wrapping_add(1)))
                .is_none()
        );
        assert!(
            v.check(&ip(THEM, US, 6), &tcp(80, 40002, sa, seq.wrapping_add(1)))
                .is_none()
        );
        assert!(
            v.check(
                &ip(THEM, other, 6),
                &tcp(80, 40000, sa, seq.wrapping_add(1))
            )
            .is_none()
        );
        // A plain SYN or ACK is not an answer.
        assert!(
            v.check(
                &ip(THEM, US, 6),
                &tcp(80, 40000, tcp_flags::SYN, seq.wrapping_add(1))
            )
            .is_none()
        );
        assert!(
            v.check(
                &ip(THEM, US, 6),
                &tcp(80, 40000, tcp_flags::ACK, seq.wrapping_add(1))
            )
            .is_none()
        );

        let icmp = |quoted_seq, code| {
            Transport::Icmp(IcmpRepr {
                icmp_type: 3,
                code,
                checksum: 0,
                rest: 0,
                quoted: Some(Quoted {
                    ip: ip(US, THEM, 6),
                    src_port: 40001,
                    dst_port: 80,
                    seq: Some(quoted_seq),
                }),
            })
        };
        let seq1 = v.cookie.seq(US, THEM, 40001, 80);
        let router = Ipv4Addr::new(10, 0, 0, 254);
        let r = v.check(&ip(router, US, 1), &icmp(seq1, 13)).unwrap();
        assert_eq!(
            (r.target, r.port, r.reason),
            (THEM, 80, Reason::AdminProhibited)
        );
        assert!(
            v.check(&ip(router, US, 1), &icmp(seq1 ^ 1, 13)).is_none(),
            "foreign quote"
        );
        assert!(
            v.check(&ip(router, US, 1), &icmp(seq1, 4)).is_none(),
            "frag needed"
        );
    }
}
