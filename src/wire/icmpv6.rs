//! ICMPv6 (RFC 4443) with Neighbor Discovery's solicitations and advertisements (RFC 4861):
//! errors quoting a packet (parsed into the shared [`Quoted`]), echo, and NS/NA with their
//! link-layer address options.
//!
//! After [`Packet::new_checked`] (4 bytes) no accessor can panic.

use super::icmp::{Quoted, parse_quoted};
use super::{Error, Result, checksum, ethernet, ipv6};
use pnet::util::MacAddr;
use std::net::Ipv6Addr;

/// Header length (type, code, checksum, rest of header).
pub const HEADER_LEN: usize = 8;
/// IPv6 next-header number of ICMPv6.
pub const PROTOCOL: u8 = 58;
/// Destination unreachable.
pub const DEST_UNREACH: u8 = 1;
/// Packet too big.
pub const PACKET_TOO_BIG: u8 = 2;
/// Time exceeded.
pub const TIME_EXCEEDED: u8 = 3;
/// Parameter problem.
pub const PARAM_PROBLEM: u8 = 4;
/// Echo request.
pub const ECHO_REQUEST: u8 = 128;
/// Echo reply.
pub const ECHO_REPLY: u8 = 129;
/// Neighbor solicitation.
pub const NEIGHBOR_SOLICIT: u8 = 135;
/// Neighbor advertisement.
pub const NEIGHBOR_ADVERT: u8 = 136;

/// Length of a neighbor solicitation frame with its source link-layer address option.
pub const NS_FRAME_LEN: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN + 32;

/// A view of an ICMPv6 message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with no check.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose type, code and checksum are known to be there.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the length.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < 4 {
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
    /// The rest-of-header word (0 when the message is shorter than 8 bytes).
    pub fn rest(&self) -> u32 {
        self.buffer
            .as_ref()
            .get(4..8)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// The body past the 8-byte header.
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }
    /// True when the checksum over the whole buffer is right.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        checksum::verify(b, checksum::pseudo_v6(src, dst, PROTOCOL, b.len() as u32))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Computes and writes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        let b = self.buffer.as_mut();
        b[2] = 0;
        b[3] = 0;
        let c = checksum::finish(checksum::sum(
            b,
            checksum::pseudo_v6(src, dst, PROTOCOL, b.len() as u32),
        ));
        b[2..4].copy_from_slice(&c.to_be_bytes());
    }
}

/// A neighbor solicitation or advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ndp {
    /// The target address.
    pub target: Ipv6Addr,
    /// The link-layer address option (source for NS, target for NA), if present.
    pub lladdr: Option<MacAddr>,
    /// NA flags: router (0x80), solicited (0x40), override (0x20); 0 for NS.
    pub flags: u8,
}

fn parse_ndp(t: u8, body: &[u8]) -> Result<Ndp> {
    let target = body.get(..16).ok_or(Error::Truncated)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(target);
    let want = if t == NEIGHBOR_SOLICIT { 1 } else { 2 };
    let mut lladdr = None;
    let mut opts = &body[16..];
    while opts.len() >= 2 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            return Err(Error::Malformed);
        }
        if opts[0] == want && len >= 8 {
            lladdr = Some(MacAddr::new(
                opts[2], opts[3], opts[4], opts[5], opts[6], opts[7],
            ));
        }
        opts = &opts[len..];
    }
    Ok(Ndp {
        target: Ipv6Addr::from(a),
        lladdr,
        flags: 0,
    })
}

/// An ICMPv6 message, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Checksum field.
    pub checksum: u16,
    /// The rest-of-header word (echo identifier and sequence, NA flags ...).
    pub rest: u32,
    /// For errors: the quoted packet, when it parses.
    pub quoted: Option<Quoted>,
    /// For NS and NA: target and link-layer address.
    pub ndp: Option<Ndp>,
}

impl Repr {
    /// Parses a checked message; a neighbor message whose options overrun it is malformed.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        let t = p.msg_type();
        let mut r = Repr {
            icmp_type: t,
            code: p.code(),
            checksum: p.checksum(),
            rest: p.rest(),
            quoted: None,
            ndp: None,
        };
        if matches!(
            t,
            DEST_UNREACH | PACKET_TOO_BIG | TIME_EXCEEDED | PARAM_PROBLEM
        ) {
            r.quoted = parse_quoted(p.data()).ok();
        }
        if matches!(t, NEIGHBOR_SOLICIT | NEIGHBOR_ADVERT) {
            let mut ndp = parse_ndp(t, p.data())?;
            if t == NEIGHBOR_ADVERT {
                ndp.flags = (r.rest >> 24) as u8;
            }
            r.ndp = Some(ndp);
        }
        Ok(r)
    }

    /// Bytes [`Repr::emit`] writes (the 8-byte header).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (checksum zero: [`Packet::fill_checksum`] covers the body too).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.icmp_type;
        buf[1] = self.code;
        buf[2..4].copy_from_slice(&[0, 0]);
        buf[4..8].copy_from_slice(&self.rest.to_be_bytes());
    }
}

/// The solicited-node multicast address of `a` (ff02::1:ffXX:XXXX).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet multicast address for IPv6 multicast `a` (33:33 and its last 32 bits).
pub fn multicast_mac(a: Ipv6Addr) -> MacAddr {
    let o = a.octets();
    MacAddr::new(0x33, 0x33, o[12], o[13], o[14], o[15])
}

/// A neighbor solicitation for `target` from `src_mac`/`src`, to its solicited-node address,
/// with our link-layer address (hop limit 255, as RFC 4861 requires).
pub fn neighbor_solicitation_frame(
    src_mac: MacAddr,
    src: Ipv6Addr,
    target: Ipv6Addr,
) -> [u8; NS_FRAME_LEN] {
    let mut f = [0u8; NS_FRAME_LEN];
    let dst = solicited_node(target);
    ethernet::Repr {
        dst: multicast_mac(dst),
        src: src_mac,
        ethertype: ethernet::ETHERTYPE_IPV6,
        vlan: None,
    }
    .emit(&mut f);
    let ip = ethernet::HEADER_LEN;
    ipv6::Repr::new(src, dst, PROTOCOL, 255, 32).emit(&mut f[ip..]);
    let m = &mut f[ip + ipv6::HEADER_LEN..];
    Repr {
        icmp_type: NEIGHBOR_SOLICIT,
        code: 0,
        checksum: 0,
        rest: 0,
        quoted: None,
        ndp: None,
    }
    .emit(m);
    m[8..24].copy_from_slice(&target.octets());
    m[24] = 1;
    m[25] = 1;
    m[26..32].copy_from_slice(&src_mac.octets());
    Packet::new_unchecked(m).fill_checksum(src, dst);
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn neighbor_solicitation_round_trip() {
        let src: Ipv6Addr = "fd93::1".parse().unwrap();
        let tgt: Ipv6Addr = "fd93::2:abcd".parse().unwrap();
        let mac = MacAddr::new(2, 0, 0, 0, 0, 1);
        let f = neighbor_solicitation_frame(mac, src, tgt);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0xff, 0x02, 0xab, 0xcd]);
        let ip = ipv6::Packet::new_checked(&f[14..]).unwrap();
        assert_eq!(ip.dst(), "ff02::1:ff02:abcd".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ip.hop_limit(), 255);
        let m = Packet::new_checked(ip.payload()).unwrap();
        assert!(m.verify_checksum(src, ip.dst()));
        let r = Repr::parse(&m).unwrap();
        assert_eq!(
            r.ndp,
            Some(Ndp {
                target: tgt,
                lladdr: Some(mac),
                flags: 0
            })
        );
    }

    #[test]
    fn advertisement_and_bad_options() {
        let mut na = vec![NEIGHBOR_ADVERT, 0, 0, 0, 0x60, 0, 0, 0];
        na.extend_from_slice(&"fd93::2".parse::<Ipv6Addr>().unwrap().octets());
        na.extend_from_slice(&[2, 1, 2, 0, 0, 0, 0, 9]);
        let r = Repr::parse(&Packet::new_checked(&na[..]).unwrap()).unwrap();
        let n = r.ndp.unwrap();
        assert_eq!(
            (n.lladdr, n.flags),
            (Some(MacAddr::new(2, 0, 0, 0, 0, 9)), 0x60)
        );
        let mut bad = na.clone();
        bad[25] = 0; // an option of length 0
        assert_eq!(
            Repr::parse(&Packet::new_checked(&bad[..]).unwrap()),
            Err(Error::Malformed)
        );
        for n in 0..24 {
            let r = Packet::new_checked(&na[..n]).map(|p| Repr::parse(&p));
            assert!(matches!(r, Err(_) | Ok(Err(_))), "{n}");
        }
    }

    #[test]
    fn an_error_quoting_a_tcp_probe() {
        let mut m = vec![DEST_UNREACH, 1, 0, 0, 0, 0, 0, 0];
        let src: Ipv6Addr = "fd93::1".parse().unwrap();
        let dst: Ipv6Addr = "fd93::9".parse().unwrap();
        let mut quoted = [0u8; 48];
        ipv6::Repr::new(src, dst, 6, 64, 40).emit(&mut quoted);
        quoted[40..48].copy_from_slice(&[0x9c, 0x40, 0, 80, 0xde, 0xad, 0xbe, 0xef]);
        m.extend_from_slice(&quoted);
        let r = Repr::parse(&Packet::new_checked(&m[..]).unwrap()).unwrap();
        let q = r.quoted.unwrap();
        assert_eq!(q.dst, IpAddr::V6(dst));
        assert_eq!(
            (q.src_port, q.dst_port, q.seq),
            (40000, 80, Some(0xdeadbeef))
        );
        assert_eq!((r.icmp_type, r.code), (DEST_UNREACH, 1));
    }
}
