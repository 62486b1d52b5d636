//! ARP ping (nmap's -PR) for IPv4 hosts on our own link: a broadcast who-has per address.
//! A host that answers is up, whatever its firewall does to IP, and its MAC comes with the
//! answer. ARP carries no field a reply echoes, so validation is by address alone: the
//! reply must be for our address, from an address we asked about (a forged reply for an
//! address we never asked about changes nothing).

use super::{Probe, ProbeSpec, Reply, Validate};
use crate::event::{PortState, Proto, Reason};
use crate::wire::{Network, arp};
use pnet::util::MacAddr;
use std::net::{IpAddr, Ipv4Addr};

/// The ARP ping from one source address.
pub struct ArpPing {
    src_mac: MacAddr,
    src: Ipv4Addr,
}

impl ArpPing {
    /// Requests from `src_mac`/`src`.
    pub fn new(src_mac: MacAddr, src: Ipv4Addr) -> ArpPing {
        ArpPing { src_mac, src }
    }
}

impl Probe for ArpPing {
    fn name(&self) -> &'static str {
        "arp"
    }

    fn proto(&self) -> Proto {
        Proto::Tcp
    }

    fn frame_len(&self) -> usize {
        arp::FRAME_LEN
    }

    /// The receive filter passes ARP on IPv4 Ethernet paths by itself.
    fn reply_protocols(&self) -> &'static [u8] {
        &[]
    }

    fn write(&self, buf: &mut [u8], p: &ProbeSpec) {
        if let IpAddr::V4(t) = p.dst {
            buf[..arp::FRAME_LEN].copy_from_slice(&arp::request_frame(self.src_mac, self.src, t));
        }
    }

    fn classify(&self, net: &Network, _ip: &[u8], v: &dyn Validate) -> Option<Reply> {
        let Network::Arp(a) = net else {
            return None;
        };
        let from = IpAddr::V4(a.sender_ip);
        if a.op != arp::OP_REPLY || a.target_ip != self.src || !v.probed(from, 0) {
            return None;
        }
        let mut r = Reply::new(from, 0, 0, 0, 0);
        r.state = PortState::Open;
        r.reason = Reason::ArpResponse;
        r.data = Some(Box::new(a.sender_mac.octets()));
        r.data_len = 6;
        Some(r)
    }

    fn follow_up(&self, _reply: &Reply, _dst_mac: MacAddr, _out: &mut Vec<u8>) -> bool {
        false
    }

    fn on_link(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Cookie;
    use crate::probe::testing::Scope;
    use crate::wire::{ArpRepr, ETHERTYPE_ARP, EthernetRepr, parse_ethernet};

    fn reply(sender: Ipv4Addr, target: Ipv4Addr, op: u16) -> Vec<u8> {
        let mut f = vec![0u8; arp::FRAME_LEN];
        EthernetRepr {
            dst: MacAddr::new(2, 0, 0, 0, 0, 1),
            src: MacAddr::new(2, 0, 0, 0, 0, 9),
            ethertype: ETHERTYPE_ARP,
            vlan: None,
        }
        .emit(&mut f);
        ArpRepr {
            op,
            sender_mac: MacAddr::new(2, 0, 0, 0, 0, 9),
            sender_ip: sender,
            target_mac: MacAddr::new(2, 0, 0, 0, 0, 1),
            target_ip: target,
        }
        .emit(&mut f[14..]);
        f
    }

    #[test]
    fn only_replies_for_us_from_asked_addresses() {
        let us = Ipv4Addr::new(10, 0, 0, 1);
        let them = Ipv4Addr::new(10, 0, 0, 9);
        let m = ArpPing::new(MacAddr::new(2, 0, 0, 0, 0, 1), us);
        let v = Scope {
            src: IpAddr::V4(us),
            them: IpAddr::V4(them),
            cookie: Cookie::random(),
            sports: 40000..40001,
            ports: &[0],
        };
        let mut req = [0u8; arp::FRAME_LEN];
        m.write(
            &mut req,
            &ProbeSpec {
                dst_mac: MacAddr::broadcast(),
                dst: IpAddr::V4(them),
                sport: 0,
                dport: 0,
                cookie: 0,
                tsval: 0,
                k: 0,
            },
        );
        let (eth, Network::Arp(a)) = parse_ethernet(&req).unwrap() else {
            panic!("not ARP");
        };
        assert_eq!(
            (eth.dst, a.op, a.target_ip),
            (MacAddr::broadcast(), 1, them)
        );
        let classify = |f: &[u8]| m.classify(&parse_ethernet(f).unwrap().1, &[], &v);
        let r = classify(&reply(them, us, arp::OP_REPLY)).unwrap();
        assert_eq!(
            (r.target, r.reason),
            (IpAddr::V4(them), Reason::ArpResponse)
        );
        assert_eq!(r.data.as_deref(), Some(&[2, 0, 0, 0, 0, 9][..]));
        let other = Ipv4Addr::new(10, 0, 0, 10);
        assert!(classify(&reply(other, us, arp::OP_REPLY)).is_none());
        assert!(classify(&reply(them, other, arp::OP_REPLY)).is_none());
        assert!(classify(&reply(them, us, arp::OP_REQUEST)).is_none());
    }
}
