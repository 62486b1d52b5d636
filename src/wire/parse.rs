//! Checked parsing of Ethernet frames into reprs. Every read goes through a bounds check.

use super::{
    ETH_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, Error, PROTO_ICMP, PROTO_TCP, PROTO_UDP, be16, be32,
    byte,
};
use pnet::util::MacAddr;
use std::net::Ipv4Addr;

/// Ethernet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC.
    pub src: MacAddr,
    /// EtherType.
    pub ethertype: u16,
}

/// IPv4 header fields synscan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// Protocol number.
    pub proto: u8,
    /// Identification.
    pub id: u16,
    /// Header length in bytes.
    pub header_len: usize,
    /// Total length in bytes (header and payload).
    pub total_len: usize,
    /// Header checksum field.
    pub checksum: u16,
    /// Fragment offset in 8-byte units (non-zero: not a first fragment).
    pub frag_offset: u16,
    /// More-fragments flag.
    pub more_fragments: bool,
    /// Don't-fragment flag.
    pub dont_fragment: bool,
    /// Type of service byte.
    pub tos: u8,
}

/// TCP header fields synscan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits (see [`super::tcp_flags`]).
    pub flags: u8,
    /// Window.
    pub window: u16,
    /// Header length in bytes (options included).
    pub header_len: usize,
    /// Checksum field.
    pub checksum: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// MSS option, if present.
    pub mss: Option<u16>,
    /// Window-scale option, if present.
    pub wscale: Option<u8>,
    /// SACK-permitted option present.
    pub sack_perm: bool,
    /// Timestamps option (TSval, TSecr), if present.
    pub timestamps: Option<(u32, u32)>,
    /// Payload length in bytes.
    pub payload_len: usize,
}

/// UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Length field.
    pub len: u16,
    /// Checksum field.
    pub checksum: u16,
}

/// The probe header quoted inside an ICMP error (IP header plus the first 8 bytes of TCP or
/// UDP: ports and, for TCP, the sequence number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// The quoted IPv4 header.
    pub ip: Ipv4Repr,
    /// Quoted source port.
    pub src_port: u16,
    /// Quoted destination port.
    pub dst_port: u16,
    /// Quoted TCP sequence number (TCP only).
    pub seq: Option<u32>,
}

/// ICMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRepr {
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Checksum field.
    pub checksum: u16,
    /// Identifier and sequence of echo messages (the "rest of header" word).
    pub rest: u32,
    /// For errors (unreachable, time exceeded, ...): the quoted probe, when it parses.
    pub quoted: Option<Quoted>,
}

/// ARP for IPv4 over Ethernet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// 1 request, 2 reply.
    pub op: u16,
    /// Sender MAC.
    pub sender_mac: MacAddr,
    /// Sender IPv4.
    pub sender_ip: Ipv4Addr,
    /// Target MAC.
    pub target_mac: MacAddr,
    /// Target IPv4.
    pub target_ip: Ipv4Addr,
}

/// The transport layer of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP.
    Tcp(TcpRepr),
    /// UDP.
    Udp(UdpRepr),
    /// ICMP.
    Icmp(IcmpRepr),
    /// Another protocol, or a non-first fragment.
    Other,
}

/// What an Ethernet frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet {
    /// IPv4.
    Ipv4(Ipv4Repr, Transport),
    /// ARP.
    Arp(ArpRepr),
    /// Another EtherType.
    Other,
}

fn mac(b: &[u8], off: usize) -> Result<MacAddr, Error> {
    let s = b.get(off..off + 6).ok_or(Error::Truncated)?;
    Ok(MacAddr::new(s[0], s[1], s[2], s[3], s[4], s[5]))
}

fn ip(b: &[u8], off: usize) -> Result<Ipv4Addr, Error> {
    Ok(Ipv4Addr::from(be32(b, off)?))
}

/// Parses an Ethernet frame (untagged; one 802.1Q tag is skipped).
pub fn parse_ethernet(frame: &[u8]) -> Result<(EthernetRepr, Packet), Error> {
    let mut eth = EthernetRepr {
        dst: mac(frame, 0)?,
        src: mac(frame, 6)?,
        ethertype: be16(frame, 12)?,
    };
    let mut off = ETH_LEN;
    if eth.ethertype == 0x8100 {
        eth.ethertype = be16(frame, 16)?;
        off += 4;
    }
    let payload = &frame[off.min(frame.len())..];
    let packet = match eth.ethertype {
        ETHERTYPE_IPV4 => {
            let (ip, t) = parse_ipv4(payload)?;
            Packet::Ipv4(ip, t)
        }
        ETHERTYPE_ARP => Packet::Arp(parse_arp(payload)?),
        _ => Packet::Other,
    };
    Ok((eth, packet))
}

/// Parses only the IPv4 header, checking version, header length and total length against
/// the buffer. Returns the repr and the payload (cut to the total length).
fn ipv4_header(b: &[u8]) -> Result<(Ipv4Repr, &[u8]), Error> {
    let vihl = byte(b, 0)?;
    if vihl >> 4 != 4 {
        return Err(Error::Malformed);
    }
    let header_len = ((vihl & 0x0f) as usize) * 4;
    if header_len < 20 {
        return Err(Error::Malformed);
    }
    if b.len() < header_len {
        return Err(Error::Truncated);
    }
    let total_len = be16(b, 2)? as usize;
    if total_len < header_len {
        return Err(Error::Malformed);
    }
    let frag = be16(b, 6)?;
    let repr = Ipv4Repr {
        tos: byte(b, 1)?,
        id: be16(b, 4)?,
        dont_fragment: frag & 0x4000 != 0,
        more_fragments: frag & 0x2000 != 0,
        frag_offset: frag & 0x1fff,
        ttl: byte(b, 8)?,
        proto: byte(b, 9)?,
        checksum: be16(b, 10)?,
        src: ip(b, 12)?,
        dst: ip(b, 16)?,
        header_len,
        total_len,
    };
    // Frames may carry Ethernet padding past the IP total length; a capture may also be cut
    // short of it (quoted headers in ICMP are): take what is there, up to the total length.
    let end = total_len.min(b.len());
    Ok((repr, &b[header_len..end]))
}

/// IPv6 fixed header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: std::net::Ipv6Addr,
    /// Destination address.
    pub dst: std::net::Ipv6Addr,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Payload length field.
    pub payload_len: usize,
    /// Next header (the transport protocol when no extension header follows).
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
}

/// IPv6 fixed header length.
pub const IPV6_LEN: usize = 40;

/// Parses an IPv6 fixed header; returns it and the payload (up to the payload length, or
/// what the buffer holds of it).
pub fn parse_ipv6(b: &[u8]) -> Result<(Ipv6Repr, &[u8]), Error> {
    let h = b.get(..IPV6_LEN).ok_or(Error::Truncated)?;
    if h[0] >> 4 != 6 {
        return Err(Error::Malformed);
    }
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&h[at..at + 16]);
        std::net::Ipv6Addr::from(a)
    };
    let repr = Ipv6Repr {
        src: addr(8),
        dst: addr(24),
        traffic_class: (h[0] << 4) | (h[1] >> 4),
        flow_label: u32::from_be_bytes([0, h[1] & 0x0f, h[2], h[3]]),
        payload_len: usize::from(u16::from_be_bytes([h[4], h[5]])),
        next_header: h[6],
        hop_limit: h[7],
    };
    let end = (IPV6_LEN + repr.payload_len).min(b.len());
    Ok((repr, &b[IPV6_LEN..end]))
}

/// Parses an IPv4 packet and its transport header. The buffer must hold the whole packet
/// (total length), else it is [`Error::Truncated`].
pub fn parse_ipv4(b: &[u8]) -> Result<(Ipv4Repr, Transport), Error> {
    let (repr, payload) = ipv4_header(b)?;
    if b.len() < repr.total_len {
        return Err(Error::Truncated);
    }
    if repr.frag_offset != 0 {
        return Ok((repr, Transport::Other));
    }
    let t = match repr.proto {
        PROTO_TCP => Transport::Tcp(parse_tcp(payload)?),
        PROTO_UDP => Transport::Udp(parse_udp(payload)?),
        PROTO_ICMP => Transport::Icmp(parse_icmp(payload)?),
        _ => Transport::Other,
    };
    Ok((repr, t))
}

/// Parses a TCP header with its options; checks the data offset against the buffer.
pub fn parse_tcp(b: &[u8]) -> Result<TcpRepr, Error> {
    let offset_byte = byte(b, 12)?;
    let header_len = ((offset_byte >> 4) as usize) * 4;
    if header_len < 20 {
        return Err(Error::Malformed);
    }
    if b.len() < header_len {
        return Err(Error::Truncated);
    }
    let mut t = TcpRepr {
        src_port: be16(b, 0)?,
        dst_port: be16(b, 2)?,
        seq: be32(b, 4)?,
        ack: be32(b, 8)?,
        flags: byte(b, 13)?,
        window: be16(b, 14)?,
        checksum: be16(b, 16)?,
        urgent: be16(b, 18)?,
        header_len,
        mss: None,
        wscale: None,
        sack_perm: false,
        timestamps: None,
        payload_len: b.len() - header_len,
    };
    let opts = &b[20..header_len];
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = *opts.get(i + 1).ok_or(Error::Malformed)? as usize;
                if len < 2 || i + len > opts.len() {
                    return Err(Error::Malformed);
                }
                let body = &opts[i + 2..i + len];
                match (kind, body.len()) {
                    (2, 2) => t.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                    (3, 1) => t.wscale = Some(body[0]),
                    (4, 0) => t.sack_perm = true,
                    (8, 8) => {
                        t.timestamps = Some((be32(body, 0)?, be32(body, 4)?));
                    }
                    _ => {}
                }
                i += len;
            }
        }
    }
    Ok(t)
}

/// Parses a UDP header.
pub fn parse_udp(b: &[u8]) -> Result<UdpRepr, Error> {
    let u = UdpRepr {
        src_port: be16(b, 0)?,
        dst_port: be16(b, 2)?,
        len: be16(b, 4)?,
        checksum: be16(b, 6)?,
    };
    if (u.len as usize) < 8 {
        return Err(Error::Malformed);
    }
    Ok(u)
}

/// Parses an ICMP message; for error types, also the quoted probe header.
pub fn parse_icmp(b: &[u8]) -> Result<IcmpRepr, Error> {
    let icmp_type = byte(b, 0)?;
    let mut r = IcmpRepr {
        icmp_type,
        code: byte(b, 1)?,
        checksum: be16(b, 2)?,
        rest: be32(b, 4)?,
        quoted: None,
    };
    // Destination unreachable, source quench, redirect, time exceeded, parameter problem.
    if matches!(icmp_type, 3 | 4 | 5 | 11 | 12) {
        r.quoted = parse_quoted(&b[8..]).ok();
    }
    Ok(r)
}

/// The quoted probe. RFC 792 quotes 8 bytes past the IP header, but a probe with less
/// payload is quoted with less: ports and sequence are then absent (0 and `None`).
fn parse_quoted(b: &[u8]) -> Result<Quoted, Error> {
    let (ip, rest) = ipv4_header(b)?;
    let seq = if ip.proto == PROTO_TCP {
        be32(rest, 4).ok()
    } else {
        None
    };
    Ok(Quoted {
        ip,
        src_port: be16(rest, 0).unwrap_or(0),
        dst_port: be16(rest, 2).unwrap_or(0),
        seq,
    })
}

/// Parses an ARP packet for IPv4 over Ethernet.
pub fn parse_arp(b: &[u8]) -> Result<ArpRepr, Error> {
    if be16(b, 0)? != 1 || be16(b, 2)? != super::ETHERTYPE_IPV4 {
        return Err(Error::Malformed);
    }
    if byte(b, 4)? != 6 || byte(b, 5)? != 4 {
        return Err(Error::Malformed);
    }
    Ok(ArpRepr {
        op: be16(b, 6)?,
        sender_mac: mac(b, 8)?,
        sender_ip: ip(b, 14)?,
        target_mac: mac(b, 18)?,
        target_ip: ip(b, 24)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tcp_flags;

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
        let Packet::Ipv4(ip, Transport::Tcp(t)) = p else {
            panic!("{p:?}")
        };
        assert_eq!(ip.src, Ipv4Addr::LOCALHOST);
        assert_eq!(ip.ttl, 64);
        assert_eq!(t.src_port, 22);
        assert_eq!(t.dst_port, 40000);
        assert_eq!(t.seq, 0x11223344);
        assert_eq!(t.ack, 1001);
        assert_eq!(t.flags, tcp_flags::SYN | tcp_flags::ACK);
        assert_eq!(t.mss, Some(65495));
        assert!(t.sack_perm);
        assert_eq!(t.timestamps, Some((7, 5)));
        assert_eq!(t.wscale, Some(7));
        assert_eq!(t.header_len, 40);
    }

    #[test]
    fn ipv6_header() {
        let mut p = vec![0x60u8, 0x12, 0x34, 0x56, 0, 4, 6, 64];
        p.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&"fd00::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let (h, payload) = parse_ipv6(&p).unwrap();
        assert_eq!(h.src, std::net::Ipv6Addr::LOCALHOST);
        assert_eq!((h.traffic_class, h.flow_label), (0x01, 0x23456));
        assert_eq!((h.next_header, h.hop_limit, h.payload_len), (6, 64, 4));
        assert_eq!(payload, &[1, 2, 3, 4]);
        for cut in 0..IPV6_LEN {
            assert_eq!(parse_ipv6(&p[..cut]), Err(Error::Truncated));
        }
        p[0] = 0x45;
        assert_eq!(parse_ipv6(&p), Err(Error::Malformed));
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
    fn icmp_unreachable_quotes_a_probe() {
        let mut f = vec![0u8; 14];
        f[12] = 0x08;
        let mut ip = vec![
            0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 254, 10, 0, 0, 1,
        ];
        let icmp = [3u8, 13, 0, 0, 0, 0, 0, 0];
        let quoted = [
            0x45, 0, 0, 44, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9, 0x9c, 0x40, 0, 80,
            0xde, 0xad, 0xbe, 0xef,
        ];
        ip.extend_from_slice(&icmp);
        ip.extend_from_slice(&quoted);
        ip[3] = ip.len() as u8;
        f.extend_from_slice(&ip);
        let (_, p) = parse_ethernet(&f).unwrap();
        let Packet::Ipv4(_, Transport::Icmp(i)) = p else {
            panic!()
        };
        assert_eq!((i.icmp_type, i.code), (3, 13));
        let q = i.quoted.unwrap();
        assert_eq!(q.ip.dst, Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(
            (q.src_port, q.dst_port, q.seq),
            (40000, 80, Some(0xdeadbeef))
        );
    }

    #[test]
    fn arp_reply() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 9, 10, 0, 0, 1]);
        let (_, p) = parse_ethernet(&f).unwrap();
        let Packet::Arp(a) = p else { panic!() };
        assert_eq!(a.op, 2);
        assert_eq!(a.sender_ip, Ipv4Addr::new(10, 0, 0, 2));
        assert!(parse_ethernet(&f[..f.len() - 1]).is_err());
    }

    #[test]
    fn udp_truncated_and_impossible() {
        let udp = [0x00, 0x35, 0x9c, 0x40, 0x00, 0x0a, 0x12, 0x34, b'h', b'i'];
        let u = parse_udp(&udp).unwrap();
        assert_eq!((u.src_port, u.dst_port, u.len), (53, 40000, 10));
        for n in 0..8 {
            assert_eq!(parse_udp(&udp[..n]), Err(Error::Truncated), "{n}");
        }
        let mut bad = udp;
        bad[5] = 4; // length below the header
        assert_eq!(parse_udp(&bad), Err(Error::Malformed));
        for n in 0..8 {
            assert!(
                parse_icmp(&[3, 3, 0, 0, 0, 0, 0, 0][..n]).is_err(),
                "icmp {n}"
            );
        }
        for n in 0..28 {
            assert!(parse_arp(&[0u8; 28][..n]).is_err(), "arp {n}");
        }
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
                let _ = parse_ipv4(&buf);
            }
        }
    }
}
