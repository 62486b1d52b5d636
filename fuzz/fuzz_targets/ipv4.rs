//! Bare IPv4 packets and each transport parser on raw bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = synscan::wire::parse_ipv4(data);
    let _ = synscan::wire::parse::parse_tcp(data);
    let _ = synscan::wire::parse::parse_udp(data);
    let _ = synscan::wire::parse::parse_icmp(data);
    let _ = synscan::wire::parse::parse_arp(data);
    let _ = synscan::toolkit::dissect::dissect_ip(data).show();
});
