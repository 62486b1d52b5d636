//! TCP segments (RFC 9293) and their options (MSS, window scale, SACK, timestamps).
//!
//! [`Packet::new_checked`] checks the data offset against both the minimum header and the
//! buffer (pnet's view checks only the minimum); after it no accessor can panic. Options are
//! read with [`options`], which stops with an error at the first one that runs past the header.

use super::checksum;
use super::{Error, Result};
use std::net::IpAddr;

/// Header length without options.
pub const HEADER_LEN: usize = 20;
/// IP protocol number of TCP.
pub const PROTOCOL: u8 = 6;

/// TCP flag bits.
pub mod flags {
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
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;
}

/// Header field offsets.
pub mod field {
    pub type Field = std::ops::Range<usize>;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ: Field = 4..8;
    pub const ACK: Field = 8..12;
    pub const OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// A view of a TCP segment.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view with no check.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view whose header, options included, is known to be there.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the data offset against the minimum header and the buffer.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        let Some(&off) = b.get(field::OFFSET) else {
            return Err(Error::Truncated);
        };
        let hl = usize::from(off >> 4) * 4;
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if b.len() < hl.max(HEADER_LEN) {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    fn u16_at(&self, f: field::Field) -> u16 {
        let b = &self.buffer.as_ref()[f];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn u32_at(&self, f: field::Field) -> u32 {
        let b = &self.buffer.as_ref()[f];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        self.u16_at(field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        self.u16_at(field::DST_PORT)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        self.u32_at(field::SEQ)
    }
    /// Acknowledgement number.
    pub fn ack(&self) -> u32 {
        self.u32_at(field::ACK)
    }
    /// Header length in bytes, options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::OFFSET] >> 4) * 4
    }
    /// The flag bits (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
    /// Window.
    pub fn window(&self) -> u16 {
        self.u16_at(field::WINDOW)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        self.u16_at(field::CHECKSUM)
    }
    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        self.u16_at(field::URGENT)
    }
    /// The options' bytes.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }
    /// The data.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
    /// True when the checksum over the whole buffer (the complete segment) is right.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let b = self.buffer.as_ref();
        checksum::verify(b, checksum::pseudo(src, dst, PROTOCOL, b.len()))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the checksum field as given.
    pub fn set_checksum(&mut self, c: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
    /// Computes and writes the checksum over the whole buffer (header, options and data).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let c = checksum::finish(checksum::sum(
            b,
            checksum::pseudo(src, dst, PROTOCOL, b.len()),
        ));
        self.set_checksum(c);
    }
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// End of the option list.
    EndOfList,
    /// Padding.
    NoOperation,
    /// Maximum segment size.
    MaxSegmentSize(u16),
    /// Window scale shift.
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// SACK blocks (left, right edges), at most four.
    Sack([Option<(u32, u32)>; 4]),
    /// Timestamps (TSval, TSecr).
    Timestamps(u32, u32),
    /// Any other kind, with its data.
    Unknown {
        /// Option kind.
        kind: u8,
        /// Option data (without kind and length).
        data: &'a [u8],
    },
}

/// The options in `b` (a header's option bytes), in order; after an error, nothing more.
pub fn options(b: &[u8]) -> Options<'_> {
    Options {
        rest: b,
        done: false,
    }
}

/// Iterator over TCP options.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let kind = self.rest[0];
        match kind {
            0 => {
                self.done = true;
                Some(Ok(TcpOption::EndOfList))
            }
            1 => {
                self.rest = &self.rest[1..];
                Some(Ok(TcpOption::NoOperation))
            }
            _ => {
                let len = match self.rest.get(1) {
                    Some(&l) if l >= 2 && usize::from(l) <= self.rest.len() => usize::from(l),
                    _ => {
                        self.done = true;
                        return Some(Err(Error::Malformed));
                    }
                };
                let data = &self.rest[2..len];
                self.rest = &self.rest[len..];
                let be32 = |d: &[u8]| u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
                Some(Ok(match (kind, data.len()) {
                    (2, 2) => TcpOption::MaxSegmentSize(u16::from_be_bytes([data[0], data[1]])),
                    (3, 1) => TcpOption::WindowScale(data[0]),
                    (4, 0) => TcpOption::SackPermitted,
                    (5, n) if n % 8 == 0 && n <= 32 => {
                        let mut blocks = [None; 4];
                        for (i, c) in data.chunks_exact(8).enumerate() {
                            blocks[i] = Some((be32(&c[0..4]), be32(&c[4..8])));
                        }
                        TcpOption::Sack(blocks)
                    }
                    (8, 8) => TcpOption::Timestamps(be32(&data[0..4]), be32(&data[4..8])),
                    _ => TcpOption::Unknown { kind, data },
                }))
            }
        }
    }
}

/// Appends the encoding of `opts` to `out`, padded with zeros to a multiple of 4 and cut at
/// 40 bytes (the most a header holds).
pub fn emit_options(opts: &[TcpOption], out: &mut Vec<u8>) {
    let start = out.len();
    for o in opts {
        match *o {
            TcpOption::EndOfList => out.push(0),
            TcpOption::NoOperation => out.push(1),
            TcpOption::MaxSegmentSize(v) => {
                out.extend_from_slice(&[2, 4]);
                out.extend_from_slice(&v.to_be_bytes());
            }
            TcpOption::WindowScale(v) => out.extend_from_slice(&[3, 3, v]),
            TcpOption::SackPermitted => out.extend_from_slice(&[4, 2]),
            TcpOption::Sack(blocks) => {
                let n = blocks.iter().flatten().count();
                out.extend_from_slice(&[5, (2 + 8 * n) as u8]);
                for (l, r) in blocks.iter().flatten() {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
            TcpOption::Timestamps(v, e) => {
                out.extend_from_slice(&[8, 10]);
                out.extend_from_slice(&v.to_be_bytes());
                out.extend_from_slice(&e.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                out.push(kind);
                out.push((data.len() + 2).min(255) as u8);
                out.extend_from_slice(&data[..data.len().min(253)]);
            }
        }
    }
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
    out.truncate(start + 40);
}

/// A TCP header, parsed: the fields synscan reads and the options it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flag bits (see [`flags`]).
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
    /// Payload length in bytes (what the buffer holds past the header).
    pub payload_len: usize,
}

impl Repr {
    /// Parses a checked segment; an option running past the header is malformed.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr> {
        let mut r = Repr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq(),
            ack: p.ack(),
            flags: p.flags(),
            window: p.window(),
            header_len: p.header_len(),
            checksum: p.checksum(),
            urgent: p.urgent(),
            mss: None,
            wscale: None,
            sack_perm: false,
            timestamps: None,
            payload_len: p.payload().len(),
        };
        for o in options(p.options()) {
            match o? {
                TcpOption::MaxSegmentSize(v) => r.mss = Some(v),
                TcpOption::WindowScale(v) => r.wscale = Some(v),
                TcpOption::SackPermitted => r.sack_perm = true,
                TcpOption::Timestamps(v, e) => r.timestamps = Some((v, e)),
                _ => {}
            }
        }
        Ok(r)
    }

    /// A bare header (no options) with these ports, numbers and flags.
    pub fn new(src_port: u16, dst_port: u16, seq: u32, ack: u32, flags: u8) -> Repr {
        Repr {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window: 0,
            header_len: HEADER_LEN,
            checksum: 0,
            urgent: 0,
            mss: None,
            wscale: None,
            sack_perm: false,
            timestamps: None,
            payload_len: 0,
        }
    }

    /// The options this repr carries, in the order Linux puts them in a SYN: MSS,
    /// SACK-permitted, timestamps, NOP, window scale.
    fn option_list(&self) -> Vec<TcpOption<'static>> {
        let mut v = Vec::new();
        if let Some(m) = self.mss {
            v.push(TcpOption::MaxSegmentSize(m));
        }
        if self.sack_perm {
            v.push(TcpOption::SackPermitted);
        }
        if let Some((a, b)) = self.timestamps {
            v.push(TcpOption::Timestamps(a, b));
        }
        if let Some(w) = self.wscale {
            v.push(TcpOption::NoOperation);
            v.push(TcpOption::WindowScale(w));
        }
        v
    }

    /// Header length [`Repr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let mut o = Vec::new();
        emit_options(&self.option_list(), &mut o);
        HEADER_LEN + o.len()
    }

    /// Writes the header and options into `buf` (at least [`Repr::buffer_len`] bytes). The
    /// checksum is left zero: it covers the data and the IP addresses
    /// ([`Packet::fill_checksum`]).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut o = Vec::new();
        emit_options(&self.option_list(), &mut o);
        let hl = HEADER_LEN + o.len();
        buf[field::SRC_PORT].copy_from_slice(&self.src_port.to_be_bytes());
        buf[field::DST_PORT].copy_from_slice(&self.dst_port.to_be_bytes());
        buf[field::SEQ].copy_from_slice(&self.seq.to_be_bytes());
        buf[field::ACK].copy_from_slice(&self.ack.to_be_bytes());
        buf[field::OFFSET] = ((hl / 4) as u8) << 4;
        buf[field::FLAGS] = self.flags;
        buf[field::WINDOW].copy_from_slice(&self.window.to_be_bytes());
        buf[field::CHECKSUM].copy_from_slice(&[0, 0]);
        buf[field::URGENT].copy_from_slice(&self.urgent.to_be_bytes());
        buf[HEADER_LEN..hl].copy_from_slice(&o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A SYN-ACK 22 → 40000 with MSS, SACK-permitted, timestamps and window scale.
    const SYN_ACK: [u8; 40] = [
        0x00, 0x16, 0x9c, 0x40, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x03, 0xe9, 0xa0, 0x12, 0xff,
        0xd7, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
        0x00, 0x07, 0x00, 0x00, 0x00, 0x05, 0x01, 0x03, 0x03, 0x07,
    ];

    #[test]
    fn deconstruct_construct() {
        let p = Packet::new_checked(&SYN_ACK[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(
            (r.src_port, r.dst_port, r.seq, r.ack),
            (22, 40000, 0x11223344, 1001)
        );
        assert_eq!(r.flags, flags::SYN | flags::ACK);
        assert_eq!(
            (r.mss, r.sack_perm, r.timestamps, r.wscale, r.header_len),
            (Some(65495), true, Some((7, 5)), Some(7), 40)
        );
        let mut out = [0u8; 40];
        assert_eq!(r.buffer_len(), 40);
        r.emit(&mut out);
        out[16..18].copy_from_slice(&SYN_ACK[16..18]);
        assert_eq!(out, SYN_ACK);
    }

    #[test]
    fn truncated_and_impossible() {
        for n in 0..40 {
            assert!(Packet::new_checked(&SYN_ACK[..n]).is_err(), "{n}");
        }
        let mut s = SYN_ACK;
        s[12] = 0x40;
        assert_eq!(Packet::new_checked(&s[..]).err(), Some(Error::Malformed));
        let mut s = SYN_ACK;
        s[12] = 0xf0;
        assert_eq!(Packet::new_checked(&s[..]).err(), Some(Error::Truncated));
        let mut s = SYN_ACK;
        s[21] = 40; // an option running past the header
        let p = Packet::new_checked(&s[..]).unwrap();
        assert_eq!(Repr::parse(&p), Err(Error::Malformed));
        s[21] = 0; // length 0
        assert_eq!(
            Repr::parse(&Packet::new_checked(&s[..]).unwrap()),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn sack_blocks_and_unknown_options() {
        let mut o = Vec::new();
        emit_options(
            &[
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::Sack([Some((1, 2)), Some((3, 4)), None, None]),
                TcpOption::Unknown {
                    kind: 30,
                    data: &[9, 9],
                },
            ],
            &mut o,
        );
        let got: Vec<TcpOption> = options(&o).map(|x| x.unwrap()).collect();
        assert_eq!(
            got[2],
            TcpOption::Sack([Some((1, 2)), Some((3, 4)), None, None])
        );
        assert_eq!(
            got[3],
            TcpOption::Unknown {
                kind: 30,
                data: &[9, 9]
            }
        );
    }

    #[test]
    fn checksum_over_ipv4_and_ipv6() {
        for (s, d) in [
            (
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            ),
            ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap()),
        ] {
            let mut seg = SYN_ACK.to_vec();
            seg.extend_from_slice(b"data");
            let mut p = Packet::new_unchecked(&mut seg[..]);
            p.fill_checksum(s, d);
            assert!(Packet::new_unchecked(&seg[..]).verify_checksum(s, d));
            seg[43] ^= 1;
            assert!(!Packet::new_unchecked(&seg[..]).verify_checksum(s, d));
        }
    }
}
