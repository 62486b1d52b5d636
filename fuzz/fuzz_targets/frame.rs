//! Ethernet frames (and everything inside: IPv4, IPv6, TCP, UDP, ICMP and ICMPv6 with quotes
//! and neighbor discovery, ARP, VLAN tags) through the parser, the TCP SYN, UDP and discovery
//! (IP ping, ARP, NDP) probe modules' reply classification, the follow-ups, and the
//! dissector: no panic on any input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use synscan::probe::{
    ArpPing, Cookie, NdpPing, Payloads, Ping, PingKind, Probe, TcpSyn, Udp, Validate,
};
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

static PAYLOADS: std::sync::OnceLock<std::sync::Arc<Payloads>> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if let Ok((eth, net)) = parse_ethernet(data) {
        let dst = match net {
            Network::Ipv4(ip, _) => Some(IpAddr::V4(ip.dst)),
            Network::Ipv6(ip, _) => Some(IpAddr::V6(ip.dst)),
            _ => None,
        };
        if let Some(dst) = dst {
            let ip = data.get(14 + 4 * usize::from(eth.vlan.is_some())..).unwrap_or(&[]);
            let m = TcpSyn::new(eth.dst, dst, 64, 1460, 64240);
            if let Some(r) = m.classify(&net, ip, &Everything(dst)) {
                let mut out = Vec::new();
                let _ = m.follow_up(&r, eth.src, &mut out);
            }
            // The UDP module: payload checks on whatever the datagram carries.
            let payloads = PAYLOADS.get_or_init(|| std::sync::Arc::new(Payloads::shipped()));
            let u = Udp::new(eth.dst, dst, 64, std::sync::Arc::clone(payloads));
            let _ = u.classify(&net, ip, &Everything(dst));
            // Discovery's IP pings, every kind at once, and the follow-up of a SYN ping.
            let kinds = [
                PingKind::Echo,
                PingKind::Timestamp,
                PingKind::Syn(443),
                PingKind::Ack(80),
                PingKind::Udp(53),
                PingKind::Udp(40125),
            ];
            let p = Ping::new(eth.dst, dst, 64, 1460, &kinds, std::sync::Arc::clone(payloads));
            if let Some(r) = p.classify(&net, ip, &Everything(dst)) {
                let mut out = Vec::new();
                let _ = p.follow_up(&r, eth.src, &mut out);
            }
            if let IpAddr::V6(d) = dst {
                let _ = NdpPing::new(eth.dst, d).classify(&net, ip, &Everything(dst));
            }
        }
        if let Network::Arp(a) = net {
            let m = ArpPing::new(eth.dst, a.target_ip);
            let _ = m.classify(&net, &[], &Everything(IpAddr::V4(a.target_ip)));
        }
    }
    let _ = synscan::toolkit::dissect::dissect_frame(data).show();
});
