//! Neighbor Solicitation ping (nmap's -PR on IPv6) for hosts on our own link: one solicitation
//! per address, to its solicited-node multicast group. A solicited advertisement for the
//! address, with the hop limit 255 only a neighbour can send, proves the host up and gives
//! its MAC. Like ARP, NDP echoes nothing of ours: validation is by address.

use super::{Probe, ProbeSpec, Reply, Validate};
use crate::event::{PortState, Proto, Reason};
use crate::wire::{Network, PROTO_ICMPV6, Transport, icmpv6};
use pnet::util::MacAddr;
use std::net::{IpAddr, Ipv6Addr};

/// The NDP ping from one source address.
pub struct NdpPing {
    src_mac: MacAddr,
    src: Ipv6Addr,
}

impl NdpPing {
    /// Solicitations from `src_mac`/`src`.
    pub fn new(src_mac: MacAddr, src: Ipv6Addr) -> NdpPing {
        NdpPing { src_mac, src }
    }
}

/// Set in a solicited advertisement's flags.
const SOLICITED: u8 = 0x40;

impl Probe for NdpPing {
    fn name(&self) -> &'static str {
        "ndp"
    }

    fn proto(&self) -> Proto {
        Proto::Tcp
    }

    fn frame_len(&self) -> usize {
        icmpv6::NS_FRAME_LEN
    }

    fn reply_protocols(&self) -> &'static [u8] {
        &[PROTO_ICMPV6]
    }

    fn write(&self, buf: &mut [u8], p: &ProbeSpec) {
        if let IpAddr::V6(t) = p.dst {
            buf[..icmpv6::NS_FRAME_LEN].copy_from_slice(&icmpv6::neighbor_solicitation_frame(
                self.src_mac,
                self.src,
                t,
            ));
        }
    }

    fn classify(&self, net: &Network, _ip: &[u8], v: &dyn Validate) -> Option<Reply> {
        let Network::Ipv6(h, Transport::Icmpv6(m)) = net else {
            return None;
        };
        if m.icmp_type != icmpv6::NEIGHBOR_ADVERT || h.hop_limit != 255 || h.dst != self.src {
            return None;
        }
        let n = m.ndp?;
        let from = IpAddr::V6(n.target);
        if n.flags & SOLICITED == 0 || !v.probed(from, 0) {
            return None;
        }
        let mut r = Reply::new(from, 0, 0, 0, 255);
        r.state = PortState::Open;
        r.reason = Reason::NdResponse;
        if let Some(mac) = n.lladdr {
            r.data = Some(Box::new(mac.octets()));
            r.data_len = 6;
        }
        Some(r)
    }

    fn follow_up(&self, _reply: &Reply, _dst_mac: MacAddr, _out: &mut Vec<u8>) -> bool {
        false
    }

    fn on_link(&self) -> bool {
        true
    }
}
