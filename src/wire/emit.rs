//! Frames synscan sends. The SYN is a template built once; per probe only the destination MAC
//! and address, ports, sequence number, IP id, timestamp and the two checksums are written,
//! with checksums finished from sums precomputed over the constant fields: no allocation and
//! no full re-sum per packet.

use super::checksum::{finish, pseudo_v4, sum};
use super::{ETH_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, PROTO_TCP, tcp_flags};
use pnet::util::MacAddr;
use std::net::Ipv4Addr;

const IP: usize = ETH_LEN;
const TCP: usize = ETH_LEN + 20;
/// TCP options of the SYN, as Linux orders them: MSS, SACK-permitted, timestamps, NOP,
/// window scale. The MSS value and TSval are filled in.
const SYN_OPTIONS: [u8; 20] = [
    2, 4, 0, 0, // MSS
    4, 2, // SACK permitted
    8, 10, 0, 0, 0, 0, 0, 0, 0, 0, // timestamps: TSval, TSecr
    1, // NOP
    3, 3, 7, // window scale 7
];
const TSVAL: usize = TCP + 20 + 8;
/// Frame length of the SYN: Ethernet, IPv4 (20), TCP (20 + 20 of options).
pub const SYN_LEN: usize = ETH_LEN + 20 + 40;

/// The SYN probe frame, prepared once per scan.
#[derive(Debug, Clone)]
pub struct SynTemplate {
    frame: [u8; SYN_LEN],
    /// Sum of the IPv4 header's constant words (everything but id, destination, checksum).
    ip_sum: u64,
    /// Sum of the TCP header's constant words plus the constant pseudo-header part.
    tcp_sum: u64,
}

impl SynTemplate {
    /// A template from `src_mac`/`src_ip`, with the given TTL, MSS and window.
    pub fn new(src_mac: MacAddr, src_ip: Ipv4Addr, ttl: u8, mss: u16, window: u16) -> Self {
        let mut f = [0u8; SYN_LEN];
        f[6..12].copy_from_slice(&src_mac.octets());
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[IP] = 0x45;
        f[IP + 2..IP + 4].copy_from_slice(&((SYN_LEN - ETH_LEN) as u16).to_be_bytes());
        f[IP + 6] = 0x40; // don't fragment
        f[IP + 8] = ttl;
        f[IP + 9] = PROTO_TCP;
        f[IP + 12..IP + 16].copy_from_slice(&src_ip.octets());
        f[TCP + 12] = 10 << 4; // data offset: 40 bytes
        f[TCP + 13] = tcp_flags::SYN;
        f[TCP + 14..TCP + 16].copy_from_slice(&window.to_be_bytes());
        f[TCP + 20..TCP + 40].copy_from_slice(&SYN_OPTIONS);
        f[TCP + 22..TCP + 24].copy_from_slice(&mss.to_be_bytes());
        let ip_sum = sum(&f[IP..IP + 20], 0);
        let tcp_sum = sum(
            &f[TCP..SYN_LEN],
            pseudo_v4(src_ip, Ipv4Addr::UNSPECIFIED, PROTO_TCP, 40),
        );
        SynTemplate {
            frame: f,
            ip_sum,
            tcp_sum,
        }
    }

    /// Frame length.
    pub const fn len(&self) -> usize {
        SYN_LEN
    }

    /// Never empty.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The template bytes (per-probe fields zero).
    pub fn bytes(&self) -> &[u8] {
        &self.frame
    }

    /// Writes the probe for one target into `out` (at least [`SYN_LEN`] bytes, which must
    /// hold a copy of [`Self::bytes`] or a previous probe from this template).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn write(
        &self,
        out: &mut [u8],
        dst_mac: MacAddr,
        dst: Ipv4Addr,
        sport: u16,
        dport: u16,
        seq: u32,
        ip_id: u16,
        tsval: u32,
    ) {
        let out = &mut out[..SYN_LEN];
        out.copy_from_slice(&self.frame);
        out[0..6].copy_from_slice(&dst_mac.octets());
        let d = dst.octets();
        let dwords =
            u16::from_be_bytes([d[0], d[1]]) as u64 + u16::from_be_bytes([d[2], d[3]]) as u64;
        out[IP + 4..IP + 6].copy_from_slice(&ip_id.to_be_bytes());
        out[IP + 16..IP + 20].copy_from_slice(&d);
        let ip_ck = finish(self.ip_sum + ip_id as u64 + dwords);
        out[IP + 10..IP + 12].copy_from_slice(&ip_ck.to_be_bytes());
        out[TCP..TCP + 2].copy_from_slice(&sport.to_be_bytes());
        out[TCP + 2..TCP + 4].copy_from_slice(&dport.to_be_bytes());
        out[TCP + 4..TCP + 8].copy_from_slice(&seq.to_be_bytes());
        out[TSVAL..TSVAL + 4].copy_from_slice(&tsval.to_be_bytes());
        let var = sport as u64
            + dport as u64
            + (seq >> 16) as u64
            + (seq & 0xffff) as u64
            + (tsval >> 16) as u64
            + (tsval & 0xffff) as u64
            + dwords;
        let tcp_ck = finish(self.tcp_sum + var);
        out[TCP + 16..TCP + 18].copy_from_slice(&tcp_ck.to_be_bytes());
    }
}

/// Writes a bare RST (no ACK) for `seq` into a new frame: sent after a SYN-ACK so the target
/// frees its half-open connection.
#[allow(clippy::too_many_arguments)]
pub fn build_rst(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ttl: u8,
) -> [u8; ETH_LEN + 40] {
    let mut f = [0u8; ETH_LEN + 40];
    f[0..6].copy_from_slice(&dst_mac.octets());
    f[6..12].copy_from_slice(&src_mac.octets());
    f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    f[IP] = 0x45;
    f[IP + 2..IP + 4].copy_from_slice(&40u16.to_be_bytes());
    f[IP + 6] = 0x40;
    f[IP + 8] = ttl;
    f[IP + 9] = PROTO_TCP;
    f[IP + 12..IP + 16].copy_from_slice(&src.octets());
    f[IP + 16..IP + 20].copy_from_slice(&dst.octets());
    let ck = finish(sum(&f[IP..IP + 20], 0));
    f[IP + 10..IP + 12].copy_from_slice(&ck.to_be_bytes());
    f[TCP..TCP + 2].copy_from_slice(&sport.to_be_bytes());
    f[TCP + 2..TCP + 4].copy_from_slice(&dport.to_be_bytes());
    f[TCP + 4..TCP + 8].copy_from_slice(&seq.to_be_bytes());
    f[TCP + 12] = 5 << 4;
    f[TCP + 13] = tcp_flags::RST;
    let ck = finish(sum(&f[TCP..TCP + 20], pseudo_v4(src, dst, PROTO_TCP, 20)));
    f[TCP + 16..TCP + 18].copy_from_slice(&ck.to_be_bytes());
    f
}

/// Length of an ARP request frame (without Ethernet padding).
pub const ARP_LEN: usize = ETH_LEN + 28;

/// An ARP who-has request frame.
pub type ArpRequest = [u8; ARP_LEN];

/// Builds a broadcast ARP request asking who has `target`.
pub fn build_arp_request(src_mac: MacAddr, src: Ipv4Addr, target: Ipv4Addr) -> ArpRequest {
    let mut f = [0u8; ARP_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&src_mac.octets());
    f[12..14].copy_from_slice(&ETHERTYPE_ARP.to_be_bytes());
    let a = &mut f[ETH_LEN..];
    a[0..2].copy_from_slice(&1u16.to_be_bytes());
    a[2..4].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    a[4] = 6;
    a[5] = 4;
    a[6..8].copy_from_slice(&1u16.to_be_bytes());
    a[8..14].copy_from_slice(&src_mac.octets());
    a[14..18].copy_from_slice(&src.octets());
    a[24..28].copy_from_slice(&target.octets());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::checksum::verify;
    use crate::wire::{Packet, Transport, parse_ethernet};

    fn tcp_ok(frame: &[u8], src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let tcp = &frame[TCP..];
        verify(tcp, pseudo_v4(src, dst, PROTO_TCP, tcp.len() as u16))
    }

    #[test]
    fn syn_round_trips_with_valid_checksums() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let t = SynTemplate::new(MacAddr::new(2, 0, 0, 0, 0, 1), src, 64, 1460, 64240);
        let mut buf = [0u8; SYN_LEN];
        for (i, dst) in [
            Ipv4Addr::new(10, 0, 0, 9),
            Ipv4Addr::new(192, 168, 255, 254),
        ]
        .into_iter()
        .enumerate()
        {
            let seq = 0xdead_beef ^ i as u32;
            t.write(
                &mut buf,
                MacAddr::new(2, 0, 0, 0, 0, 9),
                dst,
                40000 + i as u16,
                65535,
                seq,
                0xffff,
                0xffff_fff0,
            );
            assert!(verify(&buf[IP..IP + 20], 0), "ip checksum");
            assert!(tcp_ok(&buf, src, dst), "tcp checksum");
            let (eth, p) = parse_ethernet(&buf).unwrap();
            assert_eq!(eth.dst, MacAddr::new(2, 0, 0, 0, 0, 9));
            let Packet::Ipv4(ip, Transport::Tcp(tcp)) = p else {
                panic!()
            };
            assert_eq!((ip.src, ip.dst, ip.ttl, ip.id), (src, dst, 64, 0xffff));
            assert_eq!(
                (tcp.src_port, tcp.dst_port, tcp.seq),
                (40000 + i as u16, 65535, seq)
            );
            assert_eq!(tcp.flags, tcp_flags::SYN);
            assert_eq!(tcp.mss, Some(1460));
            assert_eq!(tcp.timestamps, Some((0xffff_fff0, 0)));
        }
    }

    #[test]
    fn rst_and_arp_are_valid() {
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let f = build_rst(MacAddr::zero(), MacAddr::zero(), s, d, 1, 2, 3, 64);
        assert!(verify(&f[IP..IP + 20], 0));
        assert!(tcp_ok(&f, s, d));
        let a = build_arp_request(MacAddr::new(2, 0, 0, 0, 0, 1), s, d);
        let (_, p) = parse_ethernet(&a).unwrap();
        let Packet::Arp(arp) = p else { panic!() };
        assert_eq!((arp.op, arp.sender_ip, arp.target_ip), (1, s, d));
    }
}
