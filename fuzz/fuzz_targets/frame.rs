//! Ethernet frames (and everything inside: IPv4, TCP, UDP, ICMP with quotes, ARP) through the
//! parser, the reply validator and the dissector: no panic on any input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use synscan::target::{HostSet, PortList};
use synscan::wire::{Packet, parse_ethernet};

fn everything() -> &'static (HostSet, PortList) {
    static ALL: OnceLock<(HostSet, PortList)> = OnceLock::new();
    ALL.get_or_init(|| {
        (
            synscan::target::build_hosts(&["0.0.0.0/0".to_string()], &[]).unwrap(),
            PortList::parse("0-65535").unwrap(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok((_, Packet::Ipv4(ip, t))) = parse_ethernet(data) {
        let (hosts, ports) = everything();
        let v = synscan::probe::Validator {
            cookie: synscan::probe::Cookie::from_key([1, 2]),
            src: ip.dst,
            sport_base: 0,
            sport_count: u16::MAX,
            hosts,
            ports,
        };
        let _ = v.check(&ip, &t);
    }
    let _ = synscan::toolkit::dissect::dissect_frame(data).show();
});
