//! Ethernet II frames, with at most one 802.1Q tag (which [`Repr`] records and skips).
//!
//! After [`Frame::new_checked`] succeeds no accessor can panic.

use super::{Error, Result};
use pnet::util::MacAddr;

/// Ethernet header length (untagged).
pub const HEADER_LEN: usize = 14;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;

mod field {
    pub type Field = std::ops::Range<usize>;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const TCI: Field = 14..16;
    pub const INNER_TYPE: Field = 16..18;
}

/// A view of an Ethernet frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

fn mac(b: &[u8]) -> MacAddr {
    MacAddr::new(b[0], b[1], b[2], b[3], b[4], b[5])
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view with no length check.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// A view whose header (and tag, if any) is known to be there.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let f = Frame::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks that the header, and a VLAN tag it announces, fit in the buffer.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.outer_type() == ETHERTYPE_VLAN && b.len() < HEADER_LEN + 4 {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    pub fn dst(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::DST])
    }

    /// Source MAC.
    pub fn src(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::SRC])
    }

    /// The EtherType field right after the addresses (0x8100 for a tagged frame).
    pub fn outer_type(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// The 802.1Q tag control field (priority, DEI, VLAN id), if tagged.
    pub fn vlan_tci(&self) -> Option<u16> {
        (self.outer_type() == ETHERTYPE_VLAN).then(|| {
            let b = &self.buffer.as_ref()[field::TCI];
            u16::from_be_bytes([b[0], b[1]])
        })
    }

    /// The payload's EtherType (past a VLAN tag).
    pub fn ethertype(&self) -> u16 {
        if self.outer_type() == ETHERTYPE_VLAN {
            let b = &self.buffer.as_ref()[field::INNER_TYPE];
            u16::from_be_bytes([b[0], b[1]])
        } else {
            self.outer_type()
        }
    }

    /// Header length: 14, or 18 with a VLAN tag.
    pub fn header_len(&self) -> usize {
        if self.outer_type() == ETHERTYPE_VLAN {
            HEADER_LEN + 4
        } else {
            HEADER_LEN
        }
    }

    /// The payload (the network-layer packet and any padding).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination MAC.
    pub fn set_dst(&mut self, m: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&m.octets());
    }

    /// Sets the source MAC.
    pub fn set_src(&mut self, m: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&m.octets());
    }

    /// Sets the EtherType (untagged frames).
    pub fn set_ethertype(&mut self, t: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&t.to_be_bytes());
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.buffer.as_mut()[h..]
    }
}

/// An Ethernet header, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Destination MAC.
    pub dst: MacAddr,
    /// Source MAC.
    pub src: MacAddr,
    /// EtherType of the payload.
    pub ethertype: u16,
    /// 802.1Q tag control field, when the frame was tagged.
    pub vlan: Option<u16>,
}

impl Repr {
    /// Parses a checked frame.
    pub fn parse<T: AsRef<[u8]>>(f: &Frame<T>) -> Repr {
        Repr {
            dst: f.dst(),
            src: f.src(),
            ethertype: f.ethertype(),
            vlan: f.vlan_tci(),
        }
    }

    /// Header length this repr emits.
    pub fn buffer_len(&self) -> usize {
        if self.vlan.is_some() {
            HEADER_LEN + 4
        } else {
            HEADER_LEN
        }
    }

    /// Writes the header into `buf` (at least [`Repr::buffer_len`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::DST].copy_from_slice(&self.dst.octets());
        buf[field::SRC].copy_from_slice(&self.src.octets());
        match self.vlan {
            Some(tci) => {
                buf[field::ETHERTYPE].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
                buf[field::TCI].copy_from_slice(&tci.to_be_bytes());
                buf[field::INNER_TYPE].copy_from_slice(&self.ethertype.to_be_bytes());
            }
            None => buf[field::ETHERTYPE].copy_from_slice(&self.ethertype.to_be_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAGGED: [u8; 22] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x20, 0x05, 0x08, 0x06,
        0, 1, 8, 0,
    ];

    #[test]
    fn deconstruct_and_construct_a_tagged_frame() {
        let f = Frame::new_checked(&TAGGED[..]).unwrap();
        let r = Repr::parse(&f);
        assert_eq!(r.ethertype, ETHERTYPE_ARP);
        assert_eq!(r.vlan, Some(0x2005));
        assert_eq!(f.payload(), &[0, 1, 8, 0]);
        let mut out = [0u8; 18];
        r.emit(&mut out);
        assert_eq!(&out[..], &TAGGED[..18]);
    }

    #[test]
    fn truncated() {
        for n in 0..18 {
            assert_eq!(
                Frame::new_checked(&TAGGED[..n]).err(),
                Some(Error::Truncated),
                "{n}"
            );
        }
    }
}
