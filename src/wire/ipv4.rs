//! IPv4 headers (RFC 791).
//!
//! [`Packet::new_checked`] checks the version, that the header length is at least 20 and fits
//! in the buffer, and that the total length covers the header; after it no accessor can
//! panic. The buffer may hold less than the total length (a capture cut by its snapshot
//! length): [`Packet::payload`] is then what was captured, and [`Packet::is_truncated`] says so.

use super::checksum;
use super::{Error, Result};
use std::net::Ipv4Addr;

/// Header length without options.
pub const HEADER_LEN: usize = 20;

mod field {
    pub type Field = std::ops::Range<usize>;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC: Field = 12..16;
    pub const DST: Field = 16..20;
}

/// A view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with no check.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose header is known to be whole and consistent.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks version, header length and total length against each other and the buffer.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        let Some(&vihl) = b.first() else {
            return Err(Error::Truncated);
        };
        if vihl >> 4 != 4 {
            return Err(Error::Malformed);
        }
        let hl = usize::from(vihl & 0x0f) * 4;
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if b.len() < hl.max(HEADER_LEN) {
            return Err(Error::Truncated);
        }
        if usize::from(self.total_len()) < hl {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, f: field::Field) -> u16 {
        let b = &self.buffer.as_ref()[f];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    /// Type of service byte (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }
    /// Total length field.
    pub fn total_len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }
    /// Identification.
    pub fn ident(&self) -> u16 {
        self.u16_at(field::IDENT)
    }
    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.u16_at(field::FLG_OFF) & 0x4000 != 0
    }
    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.u16_at(field::FLG_OFF) & 0x2000 != 0
    }
    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.u16_at(field::FLG_OFF) & 0x1fff
    }
    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    /// Protocol number.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// Source address.
    pub fn src(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    /// Destination address.
    pub fn dst(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    /// True when the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(&self.buffer.as_ref()[..self.header_len()], 0)
    }
    /// True when the buffer holds less than the total length.
    pub fn is_truncated(&self) -> bool {
        self.buffer.as_ref().len() < usize::from(self.total_len())
    }
    /// The payload: up to the total length, or what the buffer holds of it.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(b.len());
        &b[self.header_len()..end]
    }
    /// Bytes past the total length (Ethernet padding).
    pub fn padding(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[usize::from(self.total_len()).min(b.len())..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the destination address.
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }
    /// Sets the identification.
    pub fn set_ident(&mut self, id: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&id.to_be_bytes());
    }
    /// Sets the checksum field as given.
    pub fn set_checksum(&mut self, c: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
    /// Computes and writes the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len();
        let c = checksum::finish(checksum::sum(&self.buffer.as_ref()[..hl], 0));
        self.set_checksum(c);
    }
}

/// An IPv4 header, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
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

impl Repr {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src: p.src(),
            dst: p.dst(),
            ttl: p.ttl(),
            proto: p.protocol(),
            id: p.ident(),
            header_len: p.header_len(),
            total_len: usize::from(p.total_len()),
            checksum: p.checksum(),
            frag_offset: p.frag_offset(),
            more_fragments: p.more_frags(),
            dont_fragment: p.dont_frag(),
            tos: p.tos(),
        }
    }

    /// A plain header (no options, don't-fragment set) for `payload_len` bytes of `proto`.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ttl: u8, payload_len: usize) -> Repr {
        Repr {
            src,
            dst,
            ttl,
            proto,
            id: 0,
            header_len: HEADER_LEN,
            total_len: HEADER_LEN + payload_len,
            checksum: 0,
            frag_offset: 0,
            more_fragments: false,
            dont_fragment: true,
            tos: 0,
        }
    }

    /// Bytes [`Repr::emit`] writes (the header; options are not emitted).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into `buf` (at least 20 bytes) and fills its checksum.
    pub fn emit(&self, buf: &mut [u8]) {
        let b = &mut buf[..HEADER_LEN];
        b[field::VER_IHL] = 0x45;
        b[field::TOS] = self.tos;
        b[field::LENGTH].copy_from_slice(&(self.total_len as u16).to_be_bytes());
        b[field::IDENT].copy_from_slice(&self.id.to_be_bytes());
        let mut fo = self.frag_offset & 0x1fff;
        if self.dont_fragment {
            fo |= 0x4000;
        }
        if self.more_fragments {
            fo |= 0x2000;
        }
        b[field::FLG_OFF].copy_from_slice(&fo.to_be_bytes());
        b[field::TTL] = self.ttl;
        b[field::PROTOCOL] = self.proto;
        b[field::SRC].copy_from_slice(&self.src.octets());
        b[field::DST].copy_from_slice(&self.dst.octets());
        Packet::new_unchecked(b).fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x3c, 0xba, 127, 0, 0, 1, 127,
        0, 0, 1,
    ];

    #[test]
    fn deconstruct_construct() {
        let p = Packet::new_checked(&HDR[..]).unwrap();
        assert!(p.verify_checksum());
        assert!(p.is_truncated(), "20 of 60 bytes");
        let r = Repr::parse(&p);
        assert_eq!(
            (r.src, r.ttl, r.proto, r.total_len),
            (Ipv4Addr::LOCALHOST, 64, 6, 60)
        );
        let mut out = [0u8; 20];
        r.emit(&mut out);
        assert_eq!(out, HDR);
    }

    #[test]
    fn truncated_and_impossible() {
        for n in 0..20 {
            assert_eq!(
                Packet::new_checked(&HDR[..n]).err(),
                Some(Error::Truncated),
                "{n}"
            );
        }
        let mut h = HDR;
        h[0] = 0x44;
        assert_eq!(Packet::new_checked(&h[..]).err(), Some(Error::Malformed));
        h[0] = 0x65;
        assert_eq!(Packet::new_checked(&h[..]).err(), Some(Error::Malformed));
        h[0] = 0x46; // 24-byte header in a 20-byte buffer
        assert_eq!(Packet::new_checked(&h[..]).err(), Some(Error::Truncated));
        let mut h = HDR;
        h[3] = 10;
        assert_eq!(Packet::new_checked(&h[..]).err(), Some(Error::Malformed));
    }
}
