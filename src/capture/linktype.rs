//! Link layers a capture may hold, and how to find the network packet inside each: Ethernet,
//! Linux cooked captures (SLL from `tcpdump -i any -y LINUX_SLL`, SLL2 by default), raw IP
//! (tun devices, some tools) and BSD loopback. Every accessor checks lengths first: records
//! are untrusted input.

use std::borrow::Cow;

/// Ethernet header length.
const ETH_LEN: usize = 14;
/// Linux cooked capture v1 header length.
pub const SLL_LEN: usize = 16;
/// Linux cooked capture v2 header length.
pub const SLL2_LEN: usize = 20;

/// A capture's link-layer type (tcpdump's LINKTYPE_ values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// 1: Ethernet.
    Ethernet,
    /// 101 (and DLT_RAW's 12 and 14): a bare IPv4 or IPv6 packet.
    Raw,
    /// 228: a bare IPv4 packet.
    Ipv4,
    /// 229: a bare IPv6 packet.
    Ipv6,
    /// 113: Linux cooked capture v1.
    LinuxSll,
    /// 276: Linux cooked capture v2.
    LinuxSll2,
    /// 0: BSD loopback, a 4-byte address family in the capturing host's byte order.
    Null,
    /// Anything else: shown as raw bytes.
    Other(u32),
}

impl LinkType {
    /// The type for a LINKTYPE_ number.
    pub fn from_u32(n: u32) -> LinkType {
        match n {
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            0 => LinkType::Null,
            n => LinkType::Other(n),
        }
    }

    /// tcpdump's name for it.
    pub fn name(self) -> String {
        match self {
            LinkType::Ethernet => "EN10MB".into(),
            LinkType::Raw => "RAW".into(),
            LinkType::Ipv4 => "IPV4".into(),
            LinkType::Ipv6 => "IPV6".into(),
            LinkType::LinuxSll => "LINUX_SLL".into(),
            LinkType::LinuxSll2 => "LINUX_SLL2".into(),
            LinkType::Null => "NULL".into(),
            LinkType::Other(n) => format!("link type {n}"),
        }
    }
}

/// What the link layer says about the packet it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encapsulated<'a> {
    /// The EtherType of the payload (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP ...).
    pub ethertype: u16,
    /// The payload: the network-layer packet.
    pub payload: &'a [u8],
}

/// The EtherType of a bare IP packet, from its version nibble.
fn ip_ethertype(p: &[u8]) -> Option<u16> {
    match p.first().map(|b| b >> 4) {
        Some(4) => Some(0x0800),
        Some(6) => Some(0x86dd),
        _ => None,
    }
}

/// The network packet inside `data`, or `None` when the link header is truncated or the
/// type is unknown.
pub fn encapsulated(link: LinkType, data: &[u8]) -> Option<Encapsulated<'_>> {
    let be16 = |i: usize| Some(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
    let (ethertype, offset) = match link {
        LinkType::Ethernet => (be16(12)?, ETH_LEN),
        LinkType::LinuxSll => (be16(14)?, SLL_LEN),
        LinkType::LinuxSll2 => (be16(0)?, SLL2_LEN),
        LinkType::Raw => (ip_ethertype(data)?, 0),
        LinkType::Ipv4 => (0x0800, 0),
        LinkType::Ipv6 => (0x86dd, 0),
        LinkType::Null => {
            let fam = data.get(..4)?;
            // Written in the capturing host's byte order: either reading is tried.
            let le = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let be = u32::from_be_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let et = match (le, be) {
                (2, _) | (_, 2) => 0x0800,
                (24 | 28 | 30, _) | (_, 24 | 28 | 30) => 0x86dd,
                _ => return None,
            };
            (et, 4)
        }
        LinkType::Other(_) => return None,
    };
    Some(Encapsulated {
        ethertype,
        payload: data.get(offset..)?,
    })
}

/// The record as an Ethernet frame, for filters written for Ethernet framing: Ethernet
/// frames as they are, other link layers behind a synthetic header with zero addresses and
/// the payload's EtherType. `None` when there is no network packet to find.
pub fn as_ethernet(link: LinkType, data: &[u8]) -> Option<Cow<'_, [u8]>> {
    if link == LinkType::Ethernet {
        return Some(Cow::Borrowed(data));
    }
    let e = encapsulated(link, data)?;
    let mut frame = Vec::with_capacity(ETH_LEN + e.payload.len());
    frame.extend_from_slice(&[0u8; 12]);
    frame.extend_from_slice(&e.ethertype.to_be_bytes());
    frame.extend_from_slice(e.payload);
    Some(Cow::Owned(frame))
}

/// The fields of a Linux cooked header (v1 or v2), for dissection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cooked {
    /// Packet type: 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us.
    pub pkttype: u16,
    /// ARPHRD_ type of the device.
    pub hatype: u16,
    /// The link-layer source address (as many bytes as the header says, at most 8).
    pub addr: Vec<u8>,
    /// EtherType of the payload.
    pub protocol: u16,
    /// Interface index (v2 only).
    pub ifindex: Option<u32>,
}

/// Parses a Linux cooked header of either version.
pub fn cooked(link: LinkType, data: &[u8]) -> Option<Cooked> {
    let be16 = |i: usize| Some(u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]));
    match link {
        LinkType::LinuxSll => {
            let h = data.get(..SLL_LEN)?;
            let alen = usize::from(be16(4)?).min(8);
            Some(Cooked {
                pkttype: be16(0)?,
                hatype: be16(2)?,
                addr: h[6..6 + alen].to_vec(),
                protocol: be16(14)?,
                ifindex: None,
            })
        }
        LinkType::LinuxSll2 => {
            let h = data.get(..SLL2_LEN)?;
            let alen = usize::from(h[11]).min(8);
            Some(Cooked {
                pkttype: u16::from(h[10]),
                hatype: be16(8)?,
                addr: h[12..12 + alen].to_vec(),
                protocol: be16(0)?,
                ifindex: Some(u32::from_be_bytes([h[4], h[5], h[6], h[7]])),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SLL2 header (outgoing, Ethernet device, ifindex 1) before a 20-byte IPv4 header.
    const SLL2_IPV4: [u8; 40] = [
        0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0, // SLL2
        0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, // IPv4
    ];

    #[test]
    fn payloads_of_every_link_type() {
        let e = encapsulated(LinkType::LinuxSll2, &SLL2_IPV4).unwrap();
        assert_eq!((e.ethertype, e.payload.len()), (0x0800, 20));
        let c = cooked(LinkType::LinuxSll2, &SLL2_IPV4).unwrap();
        assert_eq!((c.pkttype, c.hatype, c.ifindex), (4, 1, Some(1)));
        assert_eq!(c.addr, vec![2, 0, 0, 0, 0, 1]);
        let raw6 = [0x60u8, 0, 0, 0];
        assert_eq!(
            encapsulated(LinkType::Raw, &raw6).unwrap().ethertype,
            0x86dd
        );
        let eth = as_ethernet(LinkType::Raw, &SLL2_IPV4[20..]).unwrap();
        assert_eq!(&eth[12..14], &[0x08, 0x00]);
        assert_eq!(&eth[14..], &SLL2_IPV4[20..]);
    }

    #[test]
    fn truncated_headers_give_nothing() {
        for cut in 0..SLL2_LEN {
            assert!(encapsulated(LinkType::LinuxSll2, &SLL2_IPV4[..cut]).is_none());
            assert!(cooked(LinkType::LinuxSll2, &SLL2_IPV4[..cut]).is_none());
        }
        for cut in 0..SLL_LEN {
            assert!(encapsulated(LinkType::LinuxSll, &[0u8; 16][..cut]).is_none());
            assert!(cooked(LinkType::LinuxSll, &[0u8; 16][..cut]).is_none());
        }
        assert!(encapsulated(LinkType::Raw, &[]).is_none());
        assert!(encapsulated(LinkType::Raw, &[0x50]).is_none());
        assert!(encapsulated(LinkType::Other(147), &[0; 40]).is_none());
        assert!(encapsulated(LinkType::Null, &[2, 0, 0]).is_none());
    }
}
