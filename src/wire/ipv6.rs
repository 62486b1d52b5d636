//! IPv6 headers (RFC 8200): the fixed header, and a walk over the common extension headers
//! to the upper layer.
//!
//! [`Packet::new_checked`] checks the version and that the 40-byte header is there; after it
//! no accessor can panic. As for IPv4, the buffer may hold less than the payload length.

use super::{Error, Result};
use std::net::Ipv6Addr;

/// Fixed header length.
pub const HEADER_LEN: usize = 40;
/// Next header: hop-by-hop options.
pub const NH_HOP_BY_HOP: u8 = 0;
/// Next header: routing.
pub const NH_ROUTING: u8 = 43;
/// Next header: fragment.
pub const NH_FRAGMENT: u8 = 44;
/// Next header: destination options.
pub const NH_DEST_OPTS: u8 = 60;
/// Next header: no next header.
pub const NH_NONE: u8 = 59;

mod field {
    pub type Field = std::ops::Range<usize>;
    pub const VER_TC_FL: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
}

/// A view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ipv6Addr::from(a)
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with no check.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose fixed header is known to be there.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the version and the fixed header's length.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        let Some(&v) = b.first() else {
            return Err(Error::Truncated);
        };
        if v >> 4 != 6 {
            return Err(Error::Malformed);
        }
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    fn word0(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FL];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }
    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }
    /// Payload length field.
    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::LENGTH];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }
    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    /// Source address.
    pub fn src(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC])
    }
    /// Destination address.
    pub fn dst(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST])
    }
    /// True when the buffer holds less than the payload length says.
    pub fn is_truncated(&self) -> bool {
        self.buffer.as_ref().len() < HEADER_LEN + usize::from(self.payload_len())
    }
    /// The payload: up to the payload length, or what the buffer holds of it.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(b.len());
        &b[HEADER_LEN..end]
    }
    /// Bytes past the payload length (Ethernet padding).
    pub fn padding(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[(HEADER_LEN + usize::from(self.payload_len())).min(b.len())..]
    }
    /// The upper-layer protocol and its bytes, past hop-by-hop, routing, destination-options
    /// and first-fragment headers; `None` when an extension header is cut short or the
    /// packet is a later fragment.
    pub fn upper_layer(&self) -> Option<(u8, &[u8])> {
        skip_extensions(self.next_header(), self.payload())
    }
}

/// Walks extension headers from `nh` over `b`; returns the upper-layer protocol and payload.
pub fn skip_extensions(mut nh: u8, mut b: &[u8]) -> Option<(u8, &[u8])> {
    for _ in 0..8 {
        match nh {
            NH_HOP_BY_HOP | NH_ROUTING | NH_DEST_OPTS => {
                let len = (usize::from(*b.get(1)?) + 1) * 8;
                nh = *b.first()?;
                b = b.get(len..)?;
            }
            NH_FRAGMENT => {
                let off = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) >> 3;
                if off != 0 {
                    return None;
                }
                nh = *b.first()?;
                b = b.get(8..)?;
            }
            _ => return Some((nh, b)),
        }
    }
    None
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the destination address.
    pub fn set_dst(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }
}

/// An IPv6 fixed header, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
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

impl Repr {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src: p.src(),
            dst: p.dst(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
            payload_len: usize::from(p.payload_len()),
            next_header: p.next_header(),
            hop_limit: p.hop_limit(),
        }
    }

    /// A header for `payload_len` bytes of `next_header`.
    pub fn new(
        src: Ipv6Addr,
        dst: Ipv6Addr,
        next_header: u8,
        hop_limit: u8,
        payload_len: usize,
    ) -> Repr {
        Repr {
            src,
            dst,
            traffic_class: 0,
            flow_label: 0,
            payload_len,
            next_header,
            hop_limit,
        }
    }

    /// Bytes [`Repr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header into `buf` (at least 40 bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        let w0 = (6u32 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0xfffff);
        buf[field::VER_TC_FL].copy_from_slice(&w0.to_be_bytes());
        buf[field::LENGTH].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
        buf[field::NXT_HDR] = self.next_header;
        buf[field::HOP_LIMIT] = self.hop_limit;
        buf[field::SRC].copy_from_slice(&self.src.octets());
        buf[field::DST].copy_from_slice(&self.dst.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet() -> Vec<u8> {
        let mut p = vec![0x60u8, 0x12, 0x34, 0x56, 0, 4, 6, 64];
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        p
    }

    #[test]
    fn deconstruct_construct_truncated() {
        let p = packet();
        let v = Packet::new_checked(&p[..]).unwrap();
        let h = Repr::parse(&v);
        assert_eq!(h.src, Ipv6Addr::LOCALHOST);
        assert_eq!((h.traffic_class, h.flow_label), (0x01, 0x23456));
        assert_eq!((h.next_header, h.hop_limit, h.payload_len), (6, 64, 4));
        assert_eq!(v.payload(), &[1, 2, 3, 4]);
        assert_eq!(v.padding(), &[5, 6]);
        let mut out = [0u8; 40];
        h.emit(&mut out);
        assert_eq!(&out[..], &p[..40]);
        for cut in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&p[..cut]).err(), Some(Error::Truncated));
        }
        let mut bad = p.clone();
        bad[0] = 0x45;
        assert_eq!(Packet::new_checked(&bad[..]).err(), Some(Error::Malformed));
    }

    #[test]
    fn extension_headers_are_walked() {
        // Hop-by-hop (8 bytes) then destination options (16 bytes) then TCP.
        let mut ext = vec![NH_DEST_OPTS, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[6, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        ext.extend_from_slice(&[0xaa, 0xbb]);
        assert_eq!(
            skip_extensions(NH_HOP_BY_HOP, &ext),
            Some((6, &[0xaa, 0xbb][..]))
        );
        assert_eq!(skip_extensions(NH_HOP_BY_HOP, &ext[..10]), None);
        // A later fragment has no upper-layer header.
        let frag = [6u8, 0, 0x00, 0x08, 0, 0, 0, 1];
        assert_eq!(skip_extensions(NH_FRAGMENT, &frag), None);
    }
}
