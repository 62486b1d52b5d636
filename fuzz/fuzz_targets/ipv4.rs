//! Bare IP packets (either version) and each protocol's checked view and repr on raw bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use synscan::wire::{arp, icmp, icmpv6, tcp, udp};

fuzz_target!(|data: &[u8]| {
    let _ = synscan::wire::parse_ip(data);
    if let Ok(p) = tcp::Packet::new_checked(data) {
        let _ = tcp::Repr::parse(&p);
        for o in tcp::options(p.options()) {
            let _ = o;
        }
    }
    if let Ok(p) = udp::Packet::new_checked(data) {
        let _ = udp::Repr::parse(&p);
        let _ = p.payload();
    }
    if let Ok(p) = icmp::Packet::new_checked(data) {
        let _ = icmp::Repr::parse(&p);
    }
    if let Ok(p) = icmpv6::Packet::new_checked(data) {
        let _ = icmpv6::Repr::parse(&p);
    }
    if let Ok(p) = arp::Packet::new_checked(data) {
        let _ = arp::Repr::parse(&p);
    }
    let _ = icmp::parse_quoted(data);
    let _ = synscan::toolkit::dissect::dissect_ip(data).show();
    let _ = serde_json::to_string(&synscan::toolkit::dissect::dissect_ip(data));
});
