//! Wire formats: checked parsing of received frames into small `Repr` structs, and emitting
//! the frames synscan sends (SYN, RST, ARP request).
//!
//! Contract (after smoltcp): every parser checks lengths before it reads, so no function here
//! can panic on any input; a frame that is too short or whose length fields disagree with the
//! buffer is an [`Error`], a tiny `Copy` value cheap enough for the receive hot path.
//! pnet's `TcpPacket::new` checks only the minimum size, not the data offset: we check both.

pub mod checksum;
mod emit;
pub mod parse;

pub use emit::{ArpRequest, SYN_LEN, SynTemplate, build_arp_request, build_rst};
pub use parse::{
    ArpRepr, EthernetRepr, IPV6_LEN, IcmpRepr, Ipv4Repr, Ipv6Repr, Packet, Quoted, TcpRepr,
    Transport, UdpRepr, parse_ethernet, parse_ipv4, parse_ipv6,
};

pub use pnet::util::MacAddr;
use std::fmt;

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

/// Ethernet header length.
pub const ETH_LEN: usize = 14;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// IP protocol numbers.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
}

#[inline]
pub(crate) fn be16(b: &[u8], off: usize) -> Result<u16, Error> {
    match b.get(off..off + 2) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => Err(Error::Truncated),
    }
}

#[inline]
pub(crate) fn be32(b: &[u8], off: usize) -> Result<u32, Error> {
    match b.get(off..off + 4) {
        Some(s) => Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]])),
        None => Err(Error::Truncated),
    }
}

#[inline]
pub(crate) fn byte(b: &[u8], off: usize) -> Result<u8, Error> {
    b.get(off).copied().ok_or(Error::Truncated)
}
