//! Classic BPF programs attached to our AF_PACKET sockets, so the kernel discards frames we
//! would ignore before they are copied to user space.

use socket2::SockFilter;
use std::net::Ipv4Addr;

const LD_H_ABS: u16 = 0x28;
const LD_W_ABS: u16 = 0x20;
const LD_B_ABS: u16 = 0x30;
const JEQ_K: u16 = 0x15;
const RET_K: u16 = 0x06;

/// Accepts nothing: for the send-only socket.
pub fn drop_all() -> Vec<SockFilter> {
    vec![SockFilter::new(RET_K, 0, 0, 0)]
}

/// Accepts ARP, and IPv4 TCP or ICMP addressed to `src` (Ethernet framing).
pub fn replies_to(src: Ipv4Addr) -> Vec<SockFilter> {
    vec![
        SockFilter::new(LD_H_ABS, 0, 0, 12),          // 0: A = ethertype
        SockFilter::new(JEQ_K, 6, 0, 0x0806),         // 1: ARP -> accept (8)
        SockFilter::new(JEQ_K, 0, 6, 0x0800),         // 2: not IPv4 -> drop (9)
        SockFilter::new(LD_W_ABS, 0, 0, 30),          // 3: A = IPv4 destination
        SockFilter::new(JEQ_K, 0, 4, u32::from(src)), // 4: not us -> drop (9)
        SockFilter::new(LD_B_ABS, 0, 0, 23),          // 5: A = protocol
        SockFilter::new(JEQ_K, 1, 0, 6),              // 6: TCP -> accept (8)
        SockFilter::new(JEQ_K, 0, 1, 1),              // 7: not ICMP -> drop (9)
        SockFilter::new(RET_K, 0, 0, 0x0004_0000),    // 8: accept
        SockFilter::new(RET_K, 0, 0, 0),              // 9: drop
    ]
}
