//! ARP for IPv4 over Ethernet (RFC 826): the only kind synscan sends or reads.
//!
//! After [`Packet::new_checked`] succeeds no accessor can panic.

use super::ethernet::{self, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use super::{Error, Result};
use pnet::util::MacAddr;
use std::net::Ipv4Addr;

/// Length of an ARP packet for IPv4 over Ethernet.
pub const PACKET_LEN: usize = 28;
/// Length of a request frame (without Ethernet padding).
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + PACKET_LEN;
/// Operation: request.
pub const OP_REQUEST: u16 = 1;
/// Operation: reply.
pub const OP_REPLY: u16 = 2;

mod field {
    pub type Field = std::ops::Range<usize>;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// A view of an ARP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with no length check.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose 28 bytes are known to be there.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the length.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    fn u16_at(&self, f: field::Field) -> u16 {
        let b = &self.buffer.as_ref()[f];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn mac_at(&self, f: field::Field) -> MacAddr {
        let b = &self.buffer.as_ref()[f];
        MacAddr::new(b[0], b[1], b[2], b[3], b[4], b[5])
    }

    fn ip_at(&self, f: field::Field) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[f];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Hardware type (1: Ethernet).
    pub fn htype(&self) -> u16 {
        self.u16_at(field::HTYPE)
    }
    /// Protocol type (0x0800: IPv4).
    pub fn ptype(&self) -> u16 {
        self.u16_at(field::PTYPE)
    }
    /// Hardware address length.
    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    /// Protocol address length.
    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    /// Operation.
    pub fn oper(&self) -> u16 {
        self.u16_at(field::OPER)
    }
    /// Sender hardware address.
    pub fn sha(&self) -> MacAddr {
        self.mac_at(field::SHA)
    }
    /// Sender protocol address.
    pub fn spa(&self) -> Ipv4Addr {
        self.ip_at(field::SPA)
    }
    /// Target hardware address.
    pub fn tha(&self) -> MacAddr {
        self.mac_at(field::THA)
    }
    /// Target protocol address.
    pub fn tpa(&self) -> Ipv4Addr {
        self.ip_at(field::TPA)
    }
}

/// ARP for IPv4 over Ethernet, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
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

impl Repr {
    /// Parses a checked packet; anything but IPv4 over Ethernet is malformed here.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        if p.htype() != 1 || p.ptype() != ETHERTYPE_IPV4 || p.hlen() != 6 || p.plen() != 4 {
            return Err(Error::Malformed);
        }
        Ok(Repr {
            op: p.oper(),
            sender_mac: p.sha(),
            sender_ip: p.spa(),
            target_mac: p.tha(),
            target_ip: p.tpa(),
        })
    }

    /// Bytes [`Repr::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet into `buf` (at least 28 bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::HTYPE].copy_from_slice(&1u16.to_be_bytes());
        buf[field::PTYPE].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        buf[field::HLEN] = 6;
        buf[field::PLEN] = 4;
        buf[field::OPER].copy_from_slice(&self.op.to_be_bytes());
        buf[field::SHA].copy_from_slice(&self.sender_mac.octets());
        buf[field::SPA].copy_from_slice(&self.sender_ip.octets());
        buf[field::THA].copy_from_slice(&self.target_mac.octets());
        buf[field::TPA].copy_from_slice(&self.target_ip.octets());
    }
}

/// A broadcast who-has `target` frame from `src_mac`/`src`.
pub fn request_frame(src_mac: MacAddr, src: Ipv4Addr, target: Ipv4Addr) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    ethernet::Repr {
        dst: MacAddr::broadcast(),
        src: src_mac,
        ethertype: ETHERTYPE_ARP,
        vlan: None,
    }
    .emit(&mut f);
    Repr {
        op: OP_REQUEST,
        sender_mac: src_mac,
        sender_ip: src,
        target_mac: MacAddr::zero(),
        target_ip: target,
    }
    .emit(&mut f[ethernet::HEADER_LEN..]);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: [u8; 28] = [
        0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 1, 10, 0, 0, 2, 2, 0, 0, 0, 0, 9, 10, 0, 0, 1,
    ];

    #[test]
    fn deconstruct_construct_truncated() {
        let r = Repr::parse(&Packet::new_checked(&REPLY[..]).unwrap()).unwrap();
        assert_eq!(r.op, OP_REPLY);
        assert_eq!(r.sender_ip, Ipv4Addr::new(10, 0, 0, 2));
        let mut out = [0u8; 28];
        r.emit(&mut out);
        assert_eq!(out, REPLY);
        for n in 0..28 {
            assert!(Packet::new_checked(&REPLY[..n]).is_err(), "{n}");
        }
        let mut bad = REPLY;
        bad[5] = 16;
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bad[..]).unwrap()),
            Err(Error::Malformed)
        );
        let f = request_frame(
            MacAddr::new(2, 0, 0, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
        );
        let req = Repr::parse(&Packet::new_checked(&f[14..]).unwrap()).unwrap();
        assert_eq!(
            (req.op, req.target_ip),
            (OP_REQUEST, Ipv4Addr::new(10, 0, 0, 2))
        );
        assert_eq!(&f[0..6], &[0xff; 6]);
    }
}
