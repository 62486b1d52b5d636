//! UDP datagrams (RFC 768).
//!
//! After [`Packet::new_checked`] (8 header bytes, a length field of at least 8) no accessor
//! can panic; the buffer may hold less than the length field says (a cut capture).

use super::checksum;
use super::{Error, Result};
use std::net::IpAddr;

/// Header length.
pub const HEADER_LEN: usize = 8;
/// IP protocol number of UDP.
pub const PROTOCOL: u8 = 17;

mod field {
    pub type Field = std::ops::Range<usize>;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// A view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with no check.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose header is known to be there and sane.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the header's presence and its length field.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if usize::from(self.len()) < HEADER_LEN {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    fn u16_at(&self, f: field::Field) -> u16 {
        let b = &self.buffer.as_ref()[f];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }
    /// Length field (header and data).
    pub fn len(&self) -> u16 {
        self.u16_at(field::LENGTH)
    }
    /// True when the length field says there is no data.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }
    /// Checksum field (0: none, over IPv4).
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// The data, up to the length field or what the buffer holds.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[HEADER_LEN..usize::from(self.len()).clamp(HEADER_LEN, b.len())]
    }
    /// True when the buffer holds less than the length field says.
    pub fn is_truncated(&self) -> bool {
        self.buffer.as_ref().len() < usize::from(self.len())
    }
    /// True when the checksum is right, or absent (0) over IPv4.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 && src.is_ipv4() {
            return true;
        }
        let b = &self.buffer.as_ref()[..usize::from(self.len()).min(self.buffer.as_ref().len())];
        checksum::verify(b, checksum::pseudo(src, dst, PROTOCOL, b.len()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Computes and writes the checksum over the datagram (a zero result is sent as 0xffff).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let n = usize::from(self.len()).min(self.buffer.as_ref().len());
        let b = &self.buffer.as_ref()[..n];
        let mut c = checksum::finish(checksum::sum(b, checksum::pseudo(src, dst, PROTOCOL, n)));
        if c == 0 {
            c = 0xffff;
        }
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// A UDP header, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Length field.
    pub len: u16,
    /// Checksum field.
    pub checksum: u16,
}

impl Repr {
    /// Parses a checked datagram.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Repr {
        Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            len: p.len(),
            checksum: p.checksum(),
        }
    }

    /// Bytes [`Repr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (checksum as given) into `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        buf[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        buf[field::LENGTH].copy_from_slice(&self.len.to_be_bytes());
        buf[field::CHECKSUM].copy_from_slice(&self.checksum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const DGRAM: [u8; 10] = [0x00, 0x35, 0x9c, 0x40, 0x00, 0x0a, 0x12, 0x34, b'h', b'i'];

    #[test]
    fn deconstruct_construct_truncated_impossible() {
        let p = Packet::new_checked(&DGRAM[..]).unwrap();
        let r = Repr::parse(&p);
        assert_eq!((r.src_port, r.dst_port, r.len), (53, 40000, 10));
        assert_eq!(p.payload(), b"hi");
        let mut out = [0u8; 8];
        r.emit(&mut out);
        assert_eq!(out, DGRAM[..8]);
        for n in 0..8 {
            assert_eq!(
                Packet::new_checked(&DGRAM[..n]).err(),
                Some(Error::Truncated),
                "{n}"
            );
        }
        let mut bad = DGRAM;
        bad[5] = 4;
        assert_eq!(Packet::new_checked(&bad[..]).err(), Some(Error::Malformed));
        let cut = Packet::new_checked(&DGRAM[..9]).unwrap();
        assert!(cut.is_truncated());
        assert_eq!(cut.payload(), b"h");
    }

    #[test]
    fn checksum() {
        let (s, d) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let mut b = DGRAM;
        Packet::new_unchecked(&mut b[..]).fill_checksum(s, d);
        assert!(Packet::new_unchecked(&b[..]).verify_checksum(s, d));
        b[9] ^= 1;
        assert!(!Packet::new_unchecked(&b[..]).verify_checksum(s, d));
    }
}
