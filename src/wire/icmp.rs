//! ICMP for IPv4 (RFC 792): echo and the error messages that quote a packet, whose quoted
//! header is parsed into a [`Quoted`] shared with ICMPv6.
//!
//! After [`Packet::new_checked`] (8 bytes) no accessor can panic.

use super::{Error, Result, checksum, ipv4, ipv6};
use std::net::IpAddr;

/// Header length (type, code, checksum, rest of header).
pub const HEADER_LEN: usize = 8;
/// IP protocol number of ICMP.
pub const PROTOCOL: u8 = 1;
/// Echo reply.
pub const ECHO_REPLY: u8 = 0;
/// Destination unreachable.
pub const DEST_UNREACH: u8 = 3;
/// Echo request.
pub const ECHO_REQUEST: u8 = 8;
/// Time exceeded.
pub const TIME_EXCEEDED: u8 = 11;

/// A view of an ICMP message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with no check.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose 8-byte header is known to be there.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the header's length.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    /// Code.
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }
    /// The "rest of header" word (identifier and sequence of echo messages).
    pub fn rest(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }
    /// The data past the header (the quoted packet of an error).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
    /// True when the checksum over the whole buffer (the complete message) is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(self.buffer.as_ref(), 0)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Computes and writes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        let b = self.buffer.as_mut();
        b[2] = 0;
        b[3] = 0;
        let c = checksum::finish(checksum::sum(b, 0));
        b[2..4].copy_from_slice(&c.to_be_bytes());
    }
}

/// The packet an ICMP or ICMPv6 error quotes: its addresses and the first 8 bytes of its
/// transport header (ports and, for TCP, the sequence number; for ICMP, type, code,
/// identifier and sequence). RFC 792 quotes only 8 bytes past the IP header, and a short
/// probe is quoted with less: the missing fields are then 0 or `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// Source of the quoted packet.
    pub src: IpAddr,
    /// Destination of the quoted packet.
    pub dst: IpAddr,
    /// Its protocol (the upper layer past IPv6 extension headers).
    pub proto: u8,
    /// Its TTL or hop limit as it reached the reporting node.
    pub ttl: u8,
    /// Its IPv4 identification, or the low 16 bits of its IPv6 flow label.
    pub id: u16,
    /// Quoted source port (TCP, UDP).
    pub src_port: u16,
    /// Quoted destination port (TCP, UDP).
    pub dst_port: u16,
    /// Quoted TCP sequence number.
    pub seq: Option<u32>,
    /// A quoted ICMP or ICMPv6 message: type, code and its rest-of-header word.
    pub icmp: Option<(u8, u8, u32)>,
}

/// Parses the packet quoted in an ICMP or ICMPv6 error: an IPv4 or IPv6 header (whichever
/// its version nibble says) and what follows of the transport header.
pub fn parse_quoted(b: &[u8]) -> Result<Quoted> {
    let (src, dst, proto, ttl, id, rest): (IpAddr, IpAddr, u8, u8, u16, &[u8]) =
        match b.first().map(|v| v >> 4) {
            Some(4) => {
                let p = ipv4::Packet::new_checked(b)?;
                let end = usize::from(p.total_len()).min(b.len());
                let rest: &[u8] = if p.frag_offset() == 0 {
                    &b[p.header_len()..end]
                } else {
                    &[]
                };
                let (s, d) = (p.src().into(), p.dst().into());
                (s, d, p.protocol(), p.ttl(), p.ident(), rest)
            }
            Some(6) => {
                let p = ipv6::Packet::new_checked(b)?;
                let end = (ipv6::HEADER_LEN + usize::from(p.payload_len())).min(b.len());
                let (nh, rest) = ipv6::skip_extensions(p.next_header(), &b[ipv6::HEADER_LEN..end])
                    .unwrap_or((p.next_header(), &[]));
                let flow = p.flow_label() as u16;
                (
                    p.src().into(),
                    p.dst().into(),
                    nh,
                    p.hop_limit(),
                    flow,
                    rest,
                )
            }
            Some(_) => return Err(Error::Malformed),
            None => return Err(Error::Truncated),
        };
    let be16 = |i: usize| rest.get(i..i + 2).map(|s| u16::from_be_bytes([s[0], s[1]]));
    let be32 = |i: usize| {
        rest.get(i..i + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    };
    let is_icmp = proto == PROTOCOL || proto == super::icmpv6::PROTOCOL;
    let mut q = Quoted {
        src,
        dst,
        proto,
        ttl,
        id,
        src_port: 0,
        dst_port: 0,
        seq: None,
        icmp: None,
    };
    if is_icmp {
        if let (Some(&t), Some(&c)) = (rest.first(), rest.get(1)) {
            q.icmp = Some((t, c, be32(4).unwrap_or(0)));
        }
    } else {
        q.src_port = be16(0).unwrap_or(0);
        q.dst_port = be16(2).unwrap_or(0);
        if proto == super::tcp::PROTOCOL {
            q.seq = be32(4);
        }
    }
    Ok(q)
}

/// An ICMP message, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Checksum field.
    pub checksum: u16,
    /// Identifier and sequence of echo messages (the "rest of header" word).
    pub rest: u32,
    /// For errors (unreachable, time exceeded, ...): the quoted packet, when it parses.
    pub quoted: Option<Quoted>,
}

impl Repr {
    /// Parses a checked message; for error types, also the quoted packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        let t = p.msg_type();
        Repr {
            icmp_type: t,
            code: p.code(),
            checksum: p.checksum(),
            rest: p.rest(),
            // Destination unreachable, source quench, redirect, time exceeded, parameter
            // problem.
            quoted: matches!(t, 3 | 4 | 5 | 11 | 12)
                .then(|| parse_quoted(p.data()).ok())
                .flatten(),
        }
    }

    /// Bytes [`Repr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (checksum zero: [`Packet::fill_checksum`] covers the data too).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.icmp_type;
        buf[1] = self.code;
        buf[2..4].copy_from_slice(&[0, 0]);
        buf[4..8].copy_from_slice(&self.rest.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn unreachable_quoting(quoted: &[u8]) -> Vec<u8> {
        let mut m = vec![3u8, 13, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(quoted);
        Packet::new_unchecked(&mut m[..]).fill_checksum();
        m
    }

    #[test]
    fn an_error_quoting_a_tcp_probe() {
        let m = unreachable_quoting(&[
            0x45, 0, 0, 44, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9, 0x9c, 0x40, 0, 80,
            0xde, 0xad, 0xbe, 0xef,
        ]);
        let p = Packet::new_checked(&m[..]).unwrap();
        assert!(p.verify_checksum());
        let r = Repr::parse(&p);
        assert_eq!((r.icmp_type, r.code), (3, 13));
        let q = r.quoted.unwrap();
        assert_eq!(q.dst, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!(
            (q.src_port, q.dst_port, q.seq),
            (40000, 80, Some(0xdeadbeef))
        );
        assert_eq!(q.icmp, None);
        for n in 0..8 {
            assert!(Packet::new_checked(&m[..n]).is_err());
        }
    }

    #[test]
    fn an_error_quoting_an_icmp_echo_shows_no_ports() {
        let m = unreachable_quoting(&[
            0x45, 0, 0, 28, 0, 1, 0, 0, 1, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9, 8, 0, 0xf7, 0xfe,
            0x12, 0x34, 0, 1,
        ]);
        let q = Repr::parse(&Packet::new_checked(&m[..]).unwrap())
            .quoted
            .unwrap();
        assert_eq!(q.icmp, Some((8, 0, 0x1234_0001)));
        assert_eq!((q.src_port, q.dst_port, q.seq), (0, 0, None));
        assert_eq!(q.ttl, 1);
    }

    #[test]
    fn short_quotes() {
        // Header only: no ports.
        let q = parse_quoted(&[
            0x45, 0, 0, 20, 0, 1, 0, 0, 64, 200, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9,
        ])
        .unwrap();
        assert_eq!((q.proto, q.src_port, q.seq), (200, 0, None));
        assert!(parse_quoted(&[0x45, 0]).is_err());
        assert!(parse_quoted(&[]).is_err());
    }
}
