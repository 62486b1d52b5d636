//! Ethernet frames (and everything inside: IPv4, IPv6, TCP, UDP, ICMP and ICMPv6 with quotes
//! and neighbor discovery, ARP, VLAN tags) through the parser, the TCP SYN probe module's
//! reply classification, its follow-up, and the dissector: no panic on any input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use synscan::probe::{Cookie, Probe, TcpSyn, Validate};
use synscan::wire::{Network, parse_ethernet};

/// A scan of every address and port from the packet's destination.
struct Everything(IpAddr);

impl Validate for Everything {
    fn src(&self) -> IpAddr {
        self.0
    }
    fn ours(&self, _: u16) -> bool {
        true
    }
    fn probed(&self, _: IpAddr, _: u16) -> bool {
        true
    }
    fn cookie(&self, target: IpAddr, sport: u16, dport: u16) -> u32 {
        Cookie::from_key([1, 2]).value(self.0, target, sport, dport)
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok((eth, net)) = parse_ethernet(data) {
        let dst = match net {
            Network::Ipv4(ip, _) => Some(IpAddr::V4(ip.dst)),
            Network::Ipv6(ip, _) => Some(IpAddr::V6(ip.dst)),
            _ => None,
        };
        if let Some(dst) = dst {
            let m = TcpSyn::new(eth.dst, dst, 64, 1460, 64240);
            if let Some(r) = m.classify(&net, &Everything(dst)) {
                let mut out = Vec::new();
                let _ = m.follow_up(&r, eth.src, &mut out);
            }
        }
    }
    let _ = synscan::toolkit::dissect::dissect_frame(data).show();
});
