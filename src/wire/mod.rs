//! Wire formats, one module per protocol (after smoltcp's `wire`): a checked view over bytes
//! (`Packet<T: AsRef<[u8]>>`, getters under `AsRef`, setters under `AsMut`) and a parsed
//! `Repr` with `parse`, `buffer_len` and `emit`. The scanner's probe templates, the toolkit's
//! builder and its dissector are all written with these.
//!
//! Contract: `new_checked` checks every length field against the buffer; after it succeeds no
//! accessor can panic, on any input. A frame that is too short or whose length fields
//! disagree is an [`Error`], a tiny `Copy` value cheap enough for the receive hot path.
//! Views are written here rather than taken from a crate because of that contract, measured
//! by `examples/wire_compare` (docs/benchmarks.md, "wire"): on every length field at every
//! value and every cut, pnet_packet returned fields for thousands of headers whose lengths
//! do not fit the buffer (its views check only minimum sizes) and etherparse for a few; these
//! views for none. Neither panicked. Both crates parse faster (pnet_packet about twice as
//! fast), which a receiver at link speed does not need; one `Repr` per header also writes the
//! scanner's templates and the toolkit's packets, and the dissector shows cut captures, which
//! smoltcp's whole-packet views refuse.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

pub use arp::Repr as ArpRepr;
pub use ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, Repr as EthernetRepr};
pub use icmp::{Quoted, Repr as IcmpRepr};
pub use icmpv6::Repr as Icmpv6Repr;
pub use ipv4::Repr as Ipv4Repr;
pub use ipv6::Repr as Ipv6Repr;
pub use tcp::{Repr as TcpRepr, flags as tcp_flags};
pub use udp::Repr as UdpRepr;

pub use pnet::util::MacAddr;
use std::fmt;

/// Ethernet header length (untagged).
pub const ETH_LEN: usize = ethernet::HEADER_LEN;
/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = icmp::PROTOCOL;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = tcp::PROTOCOL;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = udp::PROTOCOL;
/// IPv6 next-header number of ICMPv6.
pub const PROTO_ICMPV6: u8 = icmpv6::PROTOCOL;

/// Why a frame could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The buffer ends before a header does.
    Truncated,
    /// A length or version field is impossible.
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated packet",
            Error::Malformed => "malformed packet",
        })
    }
}

impl std::error::Error for Error {}

/// Results of parsing.
pub type Result<T> = std::result::Result<T, Error>;

/// The transport layer of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP.
    Tcp(TcpRepr),
    /// UDP.
    Udp(UdpRepr),
    /// ICMP (over IPv4).
    Icmp(IcmpRepr),
    /// ICMPv6.
    Icmpv6(Icmpv6Repr),
    /// Another protocol, or a non-first fragment.
    Other,
}

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// IPv4.
    Ipv4(Ipv4Repr, Transport),
    /// IPv6.
    Ipv6(Ipv6Repr, Transport),
    /// ARP.
    Arp(ArpRepr),
    /// Another EtherType.
    Other,
}

/// The transport header of `proto` in `payload`.
fn transport(proto: u8, payload: &[u8]) -> Result<Transport> {
    Ok(match proto {
        PROTO_TCP => Transport::Tcp(TcpRepr::parse(&tcp::Packet::new_checked(payload)?)?),
        PROTO_UDP => Transport::Udp(UdpRepr::parse(&udp::Packet::new_checked(payload)?)),
        PROTO_ICMP => Transport::Icmp(IcmpRepr::parse(&icmp::Packet::new_checked(payload)?)),
        PROTO_ICMPV6 => {
            Transport::Icmpv6(Icmpv6Repr::parse(&icmpv6::Packet::new_checked(payload)?)?)
        }
        _ => Transport::Other,
    })
}

/// The transport segment of the IP packet `b` (IPv4, or IPv6 past extension headers), up
/// to the length its header gives; `None` when it cannot be found.
pub fn upper_layer(b: &[u8]) -> Option<&[u8]> {
    match b.first()? >> 4 {
        4 => {
            let p = ipv4::Packet::new_checked(b).ok()?;
            let end = usize::from(p.total_len()).min(b.len());
            b.get(p.header_len()..end)
        }
        6 => {
            let p = ipv6::Packet::new_checked(b).ok()?;
            let end = (ipv6::HEADER_LEN + usize::from(p.payload_len())).min(b.len());
            ipv6::skip_extensions(p.next_header(), b.get(ipv6::HEADER_LEN..end)?).map(|(_, s)| s)
        }
        _ => None,
    }
}

/// Parses an IPv4 packet and its transport header. The buffer must hold the whole packet
/// (total length), else it is [`Error::Truncated`].
pub fn parse_ipv4(b: &[u8]) -> Result<(Ipv4Repr, Transport)> {
    let p = ipv4::Packet::new_checked(b)?;
    if p.is_truncated() {
        return Err(Error::Truncated);
    }
    let repr = Ipv4Repr::parse(&p);
    if repr.frag_offset != 0 {
        return Ok((repr, Transport::Other));
    }
    Ok((repr, transport(repr.proto, p.payload())?))
}

/// Parses an IPv6 packet and its transport header (past extension headers). The buffer must
/// hold the whole packet (payload length), else it is [`Error::Truncated`].
pub fn parse_ipv6(b: &[u8]) -> Result<(Ipv6Repr, Transport)> {
    let p = ipv6::Packet::new_checked(b)?;
    if p.is_truncated() {
        return Err(Error::Truncated);
    }
    let repr = Ipv6Repr::parse(&p);
    let t = match p.upper_layer() {
        Some((nh, payload)) => transport(nh, payload)?,
        None => Transport::Other,
    };
    Ok((repr, t))
}

/// Parses a bare IP packet of either version (links without a link layer).
pub fn parse_ip(b: &[u8]) -> Result<Network> {
    match b.first().map(|v| v >> 4) {
        Some(4) => parse_ipv4(b).map(|(r, t)| Network::Ipv4(r, t)),
        Some(6) => parse_ipv6(b).map(|(r, t)| Network::Ipv6(r, t)),
        Some(_) => Err(Error::Malformed),
        None => Err(Error::Truncated),
    }
}

/// Parses an Ethernet frame (one 802.1Q tag is skipped) down to its transport header.
pub fn parse_ethernet(frame: &[u8]) -> Result<(EthernetRepr, Network)> {
    let f = ethernet::Frame::new_checked(frame)?;
    let eth = EthernetRepr::parse(&f);
    let payload = f.payload();
    let net = match eth.ethertype {
        ETHERTYPE_IPV4 => {
            let (ip, t) = parse_ipv4(payload)?;
            Network::Ipv4(ip, t)
        }
        ETHERTYPE_IPV6 => {
            let (ip, t) = parse_ipv6(payload)?;
            Network::Ipv6(ip, t)
        }
        ETHERTYPE_ARP => Network::Arp(ArpRepr::parse(&arp::Packet::new_checked(payload)?)?),
        _ => Network::Other,
    };
    Ok((eth, net))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A SYN-ACK from 127.0.0.1:22 to 127.0.0.1:40000 on loopback (zero MACs), with MSS,
    /// SACK-permitted, timestamps and window scale.
    pub const SYN_ACK: [u8; 74] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, // ethernet
        0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x3c, 0xba, 127, 0, 0, 1, 127,
        0, 0, 1, // ipv4
        0x00, 0x16, 0x9c, 0x40, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x03, 0xe9, 0xa0, 0x12, 0xff,
        0xd7, 0x00, 0x00, 0x00, 0x00, // tcp
        0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
        0x05, 0x01, 0x03, 0x03, 0x07, // options
    ];

    #[test]
    fn deconstruct_syn_ack() {
        let (eth, p) = parse_ethernet(&SYN_ACK).unwrap();
        assert_eq!(eth.ethertype, ETHERTYPE_IPV4);
        let Network::Ipv4(ip, Transport::Tcp(t)) = p else {
            panic!("{p:?}")
        };
        assert_eq!((ip.src, ip.ttl), (Ipv4Addr::LOCALHOST, 64));
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack),
            (22, 40000, 0x11223344, 1001)
        );
        assert_eq!(t.flags, tcp_flags::SYN | tcp_flags::ACK);
        assert_eq!(
            (t.mss, t.sack_perm, t.timestamps),
            (Some(65495), true, Some((7, 5)))
        );
        assert_eq!((t.wscale, t.header_len), (Some(7), 40));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for n in 0..SYN_ACK.len() {
            let r = parse_ethernet(&SYN_ACK[..n]);
            assert!(r.is_err(), "prefix of {n} bytes parsed: {r:?}");
        }
    }

    #[test]
    fn impossible_lengths() {
        let mut f = SYN_ACK;
        f[14] = 0x44; // IHL 4 words < 5
        assert_eq!(parse_ethernet(&f), Err(Error::Malformed));
        let mut f = SYN_ACK;
        f[14] = 0x65; // version 6 in an IPv4 frame
        assert_eq!(parse_ethernet(&f), Err(Error::Malformed));
        let mut f = SYN_ACK;
        f[16] = 0;
        f[17] = 10; // total length below header length
        assert_eq!(parse_ethernet(&f), Err(Error::Malformed));
        let mut f = SYN_ACK;
        f[34 + 12] = 0x40; // data offset 4 words < 5
        assert_eq!(parse_ethernet(&f), Err(Error::Malformed));
        let mut f = SYN_ACK;
        f[34 + 12] = 0xf0; // data offset 60 bytes > what is there
        assert_eq!(parse_ethernet(&f), Err(Error::Truncated));
        let mut f = SYN_ACK;
        f[54 + 1] = 40; // an option running past the header
        assert_eq!(parse_ethernet(&f), Err(Error::Malformed));
        let mut f = SYN_ACK;
        f[54 + 1] = 0; // an option of length 0
        assert_eq!(parse_ethernet(&f), Err(Error::Malformed));
    }

    #[test]
    fn ipv6_tcp_and_bare_ip() {
        let src: std::net::Ipv6Addr = "fd93::1".parse().unwrap();
        let dst: std::net::Ipv6Addr = "fd93::2".parse().unwrap();
        let mut p = vec![0u8; 40];
        ipv6::Repr::new(src, dst, PROTO_TCP, 64, 40).emit(&mut p);
        p.extend_from_slice(&SYN_ACK[34..]);
        let Ok(Network::Ipv6(h, Transport::Tcp(t))) = parse_ip(&p) else {
            panic!()
        };
        assert_eq!((h.src, t.src_port), (src, 22));
        assert_eq!(parse_ip(&p[..60]), Err(Error::Truncated));
        assert_eq!(parse_ip(&[]), Err(Error::Truncated));
        assert_eq!(parse_ip(&[0x50]), Err(Error::Malformed));
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x1234_5678;
        for len in 0..200usize {
            for _ in 0..50 {
                let buf: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let _ = parse_ethernet(&buf);
                let _ = parse_ip(&buf);
            }
        }
    }
}
