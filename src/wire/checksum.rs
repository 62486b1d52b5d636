//! The Internet checksum (RFC 1071), written for the send hot path: sum 16-bit words into a
//! wide accumulator, fold once at the end.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Adds the bytes of `data` (big-endian 16-bit words, odd byte padded) to `acc`.
#[inline]
pub fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

/// Folds an accumulator into the one's-complement checksum field value.
#[inline]
pub fn finish(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The IPv4 pseudo-header sum for a transport checksum.
#[inline]
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u64 {
    let s = src.octets();
    let d = dst.octets();
    u16::from_be_bytes([s[0], s[1]]) as u64
        + u16::from_be_bytes([s[2], s[3]]) as u64
        + u16::from_be_bytes([d[0], d[1]]) as u64
        + u16::from_be_bytes([d[2], d[3]]) as u64
        + proto as u64
        + len as u64
}

/// The IPv6 pseudo-header sum (RFC 8200 §8.1) for an upper-layer checksum.
#[inline]
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u64 {
    sum(&src.octets(), 0)
        + sum(&dst.octets(), 0)
        + u64::from(len >> 16)
        + u64::from(len & 0xffff)
        + u64::from(next_header)
}

/// The pseudo-header sum for either family (mixed families sum as IPv6 with mapped
/// addresses, which no real packet has).
pub fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_v4(s, d, proto, len as u16),
        (s, d) => pseudo_v6(v6(s), v6(d), proto, len as u32),
    }
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// True when `data` (a header including its checksum field) sums to zero.
pub fn verify(data: &[u8], init: u64) -> bool {
    finish(sum(data, init)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // Example words from RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(finish(sum(&data, 0)), !0xddf2);
    }

    #[test]
    fn known_ipv4_header() {
        // A captured header with checksum 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(verify(&h, 0));
        let mut z = h;
        z[10] = 0;
        z[11] = 0;
        assert_eq!(finish(sum(&z, 0)), 0xb861);
    }

    #[test]
    fn odd_length() {
        assert_eq!(sum(&[0xab], 0), 0xab00);
    }
}
