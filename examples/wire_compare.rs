//! Why `src/wire` is our own: the receiver's work on every frame (Ethernet, IPv4 or IPv6, TCP
//! with options: the fields a SYN scan's validation reads) done by our views, by etherparse
//! and by pnet_packet, timed over the same frames; then each parser run on a million hostile
//! inputs (truncations and random byte flips of real frames), counting panics, which our
//! checked-length contract forbids. scripts/bench.sh runs it (`wire`).
//! Usage: wire_compare [ROUNDS]

use std::hint::black_box;
use std::panic;
use std::time::Instant;
use synscan::toolkit::{build, spec};

/// The fields a SYN scan's validator needs, from one frame.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Seen {
    v6: bool,
    src_last: u8,
    ttl: u8,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    tsecr: u32,
}

fn ours(f: &[u8]) -> Option<Seen> {
    use synscan::wire::{Network, Transport, parse_ethernet};
    let (_, net) = parse_ethernet(f).ok()?;
    let (v6, src_last, ttl, t) = match net {
        Network::Ipv4(ip, Transport::Tcp(t)) => (false, ip.src.octets()[3], ip.ttl, t),
        Network::Ipv6(ip, Transport::Tcp(t)) => (true, ip.src.octets()[15], ip.hop_limit, t),
        _ => return None,
    };
    Some(Seen {
        v6,
        src_last,
        ttl,
        sport: t.src_port,
        dport: t.dst_port,
        seq: t.seq,
        ack: t.ack,
        flags: t.flags,
        tsecr: t.timestamps.map_or(0, |(_, e)| e),
    })
}

fn ether(f: &[u8]) -> Option<Seen> {
    use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};
    let p = SlicedPacket::from_ethernet(f).ok()?;
    let (v6, src_last, ttl) = match p.net? {
        NetSlice::Ipv4(ip) => (false, ip.header().source()[3], ip.header().ttl()),
        NetSlice::Ipv6(ip) => (true, ip.header().source()[15], ip.header().hop_limit()),
    };
    let TransportSlice::Tcp(t) = p.transport? else {
        return None;
    };
    let mut tsecr = 0;
    for o in t.options_iterator() {
        if let Ok(TcpOptionElement::Timestamp(_, e)) = o {
            tsecr = e;
        }
    }
    let b = t.slice();
    Some(Seen {
        v6,
        src_last,
        ttl,
        sport: t.source_port(),
        dport: t.destination_port(),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        flags: b[13],
        tsecr,
    })
}

fn pnet(f: &[u8]) -> Option<Seen> {
    use pnet_packet::Packet;
    use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
    use pnet_packet::ipv4::Ipv4Packet;
    use pnet_packet::ipv6::Ipv6Packet;
    use pnet_packet::tcp::{TcpOptionNumbers, TcpPacket};
    let e = EthernetPacket::new(f)?;
    let (v6, src_last, ttl, payload) = match e.get_ethertype() {
        EtherTypes::Ipv4 => {
            let ip = Ipv4Packet::new(e.payload())?;
            (
                false,
                ip.get_source().octets()[3],
                ip.get_ttl(),
                ip.payload().to_vec(),
            )
        }
        EtherTypes::Ipv6 => {
            let ip = Ipv6Packet::new(e.payload())?;
            (
                true,
                ip.get_source().octets()[15],
                ip.get_hop_limit(),
                ip.payload().to_vec(),
            )
        }
        _ => return None,
    };
    let t = TcpPacket::new(&payload)?;
    let mut tsecr = 0;
    for o in t.get_options_iter() {
        if o.get_number() == TcpOptionNumbers::TIMESTAMPS {
            let d = o.payload();
            if d.len() >= 8 {
                tsecr = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
            }
        }
    }
    Some(Seen {
        v6,
        src_last,
        ttl,
        sport: t.get_source(),
        dport: t.get_destination(),
        seq: t.get_sequence(),
        ack: t.get_acknowledgement(),
        flags: t.get_flags(),
        tsecr,
    })
}

/// SYN-ACKs and RSTs as a target sends them, IPv4 and IPv6, with Linux's SYN-ACK options.
fn frames() -> Vec<Vec<u8>> {
    let d = build::Defaults {
        src_mac: synscan::wire::MacAddr::new(2, 0, 0, 0, 0, 1),
        sport: 40000,
        icmp_id: 1,
        seq: 1,
    };
    let specs = [
        "Ether()/IP(src=10.0.0.2,dst=10.0.0.1)/TCP(sport=[22,80,443],dport=40000,flags=SA,ack=77,options=[mss:1460,sackok,ts:5:6,nop,wscale:7])",
        "Ether()/IP(src=10.0.0.2,dst=10.0.0.1)/TCP(sport=[23,81],dport=40000,flags=RA,ack=78)",
        "Ether()/IPv6(src=fd00::2,dst=fd00::1)/TCP(sport=[22,80,443],dport=40000,flags=SA,ack=77,options=[mss:1440,sackok,ts:5:6,nop,wscale:7])",
        "Ether()/IPv6(src=fd00::2,dst=fd00::1)/TCP(sport=[23,81],dport=40000,flags=RA,ack=78)",
    ];
    let mut out = Vec::new();
    for s in specs {
        let parsed = spec::parse(s).expect("valid spec");
        for (n, st) in parsed.expand().iter().enumerate() {
            out.push(
                build::build_with_source(
                    st,
                    &d,
                    n,
                    "10.0.0.2".parse().expect("literal"),
                    "fd00::2".parse().expect("literal"),
                )
                .bytes,
            );
        }
    }
    out
}

fn time(name: &str, f: fn(&[u8]) -> Option<Seen>, frames: &[Vec<u8>], rounds: usize) -> f64 {
    let t0 = Instant::now();
    let mut n = 0u64;
    for _ in 0..rounds {
        for fr in frames {
            if black_box(f(black_box(fr))).is_some() {
                n += 1;
            }
        }
    }
    let ns = t0.elapsed().as_nanos() as f64 / (rounds * frames.len()) as f64;
    println!("{name:12} {ns:7.1} ns/frame ({n} parsed)");
    ns
}

/// A small xorshift generator: the same hostile inputs every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn hostile(name: &str, f: fn(&[u8]) -> Option<Seen>, frames: &[Vec<u8>], count: usize) -> usize {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut panics = 0;
    for i in 0..count {
        let mut fr = frames[i % frames.len()].clone();
        for _ in 0..(rng.next() % 4) {
            let at = (rng.next() as usize) % fr.len();
            fr[at] = rng.next() as u8;
        }
        let cut = (rng.next() as usize) % (fr.len() + 1);
        fr.truncate(cut);
        if panic::catch_unwind(|| black_box(f(&fr))).is_err() {
            panics += 1;
        }
    }
    println!("{name:12} {panics} panics in {count} hostile inputs");
    panics
}

/// True when every length field of an Ethernet/IP/TCP frame fits what the buffer holds: the
/// IP header and the packet its length field announces, and the TCP header its data offset
/// announces.
fn consistent(h: &[u8]) -> bool {
    let Some(ip) = h.get(14..) else {
        return false;
    };
    let seg = match h.get(12) {
        Some(0x08) => {
            let Some(&vihl) = ip.first() else {
                return false;
            };
            let ihl = usize::from(vihl & 15) * 4;
            let Some(tl) = ip
                .get(2..4)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            else {
                return false;
            };
            if ihl < 20 || tl < ihl || tl > ip.len() {
                return false;
            }
            &ip[ihl..tl]
        }
        Some(0x86) => {
            let Some(pl) = ip
                .get(4..6)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            else {
                return false;
            };
            if ip.len() < 40 + pl {
                return false;
            }
            &ip[40..40 + pl]
        }
        _ => return false,
    };
    let Some(&off) = seg.get(12) else {
        return false;
    };
    let doff = usize::from(off >> 4) * 4;
    doff >= 20 && doff <= seg.len()
}

/// Every length field at every value, at every cut: IPv4 IHL and total length, IPv6 payload
/// length, the TCP data offset. Counts panics, and inputs whose length fields do not fit the
/// buffer that a parser still returned fields for.
fn targeted(name: &str, f: fn(&[u8]) -> Option<Seen>, frames: &[Vec<u8>]) -> (usize, usize) {
    let (mut panics, mut cases, mut accepted_bad) = (0, 0, 0);
    for fr in frames {
        let v6 = fr[12] == 0x86;
        let tcp = if v6 { 54 } else { 34 };
        let mut variants = Vec::new();
        for off in 0..16u8 {
            let mut g = fr.clone();
            g[tcp + 12] = off << 4;
            variants.push(g);
        }
        for v in [0u16, 1, 19, 20, 21, 39, 40, 41, 60, 1500, 65535] {
            let mut g = fr.clone();
            if v6 {
                g[18..20].copy_from_slice(&v.to_be_bytes());
            } else {
                g[16..18].copy_from_slice(&v.to_be_bytes());
            }
            variants.push(g);
        }
        if !v6 {
            for ihl in 0..16u8 {
                let mut g = fr.clone();
                g[14] = 0x40 | ihl;
                variants.push(g);
            }
        }
        for g in variants {
            for cut in 0..=g.len() {
                cases += 1;
                let h = &g[..cut];
                match panic::catch_unwind(|| black_box(f(h))) {
                    Err(_) => panics += 1,
                    Ok(Some(_)) if !consistent(h) => accepted_bad += 1,
                    Ok(_) => {}
                }
            }
        }
    }
    println!(
        "{name:12} {panics} panics, {accepted_bad} inconsistent headers accepted, in {cases} \
         length-field cases"
    );
    (panics, cases)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let frames = frames();
    // All three read the same fields from every frame.
    for fr in &frames {
        let a = ours(fr);
        assert!(a.is_some());
        assert_eq!(a, ether(fr), "etherparse disagrees");
        assert_eq!(a, pnet(fr), "pnet_packet disagrees");
    }
    println!(
        "parse {} frames x {rounds} (IPv4 and IPv6 SYN-ACKs with options, RSTs):",
        frames.len()
    );
    time("synscan", ours, &frames, rounds);
    time("etherparse", ether, &frames, rounds);
    time("pnet_packet", pnet, &frames, rounds);
    panic::set_hook(Box::new(|_| {}));
    println!("hostile inputs (truncated, bytes flipped):");
    hostile("synscan", ours, &frames, 1_000_000);
    hostile("etherparse", ether, &frames, 1_000_000);
    hostile("pnet_packet", pnet, &frames, 1_000_000);
    targeted("synscan", ours, &frames);
    targeted("etherparse", ether, &frames);
    targeted("pnet_packet", pnet, &frames);
}
