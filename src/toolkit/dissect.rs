//! Dissection for humans: a one-line summary per packet and a layer-by-layer view (like
//! Scapy's `summary()` and `show()`), plus a hex dump. Works on untrusted bytes: what does not
//! parse is shown as a `Malformed` layer holding the rest, never a panic.

use crate::capture::{self, LinkType};
use crate::wire::{
    self, ArpRepr, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, IcmpRepr, Ipv4Repr, Ipv6Repr,
    PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, TcpRepr, UdpRepr, tcp_flags,
};
use std::fmt::Write as _;

/// One decoded layer: its name and (field, value) rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Layer name (Ethernet, IP, TCP, UDP, ICMP, ARP, Raw, Padding, Malformed).
    pub name: &'static str,
    /// Fields in wire order.
    pub fields: Vec<(&'static str, String)>,
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dissection {
    /// Layers, outermost first.
    pub layers: Vec<Layer>,
    /// The one-line summary.
    pub summary: String,
}

impl Dissection {
    /// Scapy-style multi-line view.
    pub fn show(&self) -> String {
        let mut s = String::new();
        for l in &self.layers {
            let _ = writeln!(s, "###[ {} ]###", l.name);
            for (k, v) in &l.fields {
                let _ = writeln!(s, "  {k:<10}= {v}");
            }
        }
        s
    }
}

/// TCP flags as letters (FSRPAUEC order as Scapy prints them).
pub fn flag_letters(f: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (tcp_flags::FIN, 'F'),
        (tcp_flags::SYN, 'S'),
        (tcp_flags::RST, 'R'),
        (tcp_flags::PSH, 'P'),
        (tcp_flags::ACK, 'A'),
        (tcp_flags::URG, 'U'),
        (0x40, 'E'),
        (0x80, 'C'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

fn icmp_name(t: u8, c: u8) -> String {
    match (t, c) {
        (0, _) => "echo-reply".into(),
        (8, _) => "echo-request".into(),
        (3, 0) => "dest-unreach net-unreachable".into(),
        (3, 1) => "dest-unreach host-unreachable".into(),
        (3, 2) => "dest-unreach protocol-unreachable".into(),
        (3, 3) => "dest-unreach port-unreachable".into(),
        (3, 13) => "dest-unreach communication-prohibited".into(),
        (3, c) => format!("dest-unreach code {c}"),
        (11, _) => "time-exceeded".into(),
        (t, c) => format!("type {t} code {c}"),
    }
}

fn quote(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(256) {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    if b.len() > 256 {
        s.push_str("...");
    }
    s.push('"');
    s
}

/// Dissects an Ethernet frame.
pub fn dissect_frame(frame: &[u8]) -> Dissection {
    let mut d = Dissection {
        layers: Vec::new(),
        summary: String::new(),
    };
    if frame.len() < wire::ETH_LEN {
        malformed(&mut d, frame, "truncated Ethernet header");
        d.summary = "Malformed".into();
        return d;
    }
    let (dst, src) = (&frame[0..6], &frame[6..12]);
    let et = u16::from_be_bytes([frame[12], frame[13]]);
    let mac = |m: &[u8]| {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    d.layers.push(Layer {
        name: "Ethernet",
        fields: vec![
            ("dst", mac(dst)),
            ("src", mac(src)),
            (
                "type",
                match et {
                    ETHERTYPE_IPV4 => "IPv4 (0x0800)".into(),
                    ETHERTYPE_IPV6 => "IPv6 (0x86dd)".into(),
                    ETHERTYPE_ARP => "ARP (0x0806)".into(),
                    other => format!("0x{other:04x}"),
                },
            ),
        ],
    });
    let rest = &frame[wire::ETH_LEN..];
    let inner = network_layers(&mut d, et, rest);
    d.summary = format!("Ether / {inner}");
    d
}

/// Dissects one captured record of link type `link`: Ethernet, Linux cooked (v1, v2), raw
/// IPv4/IPv6 or BSD loopback; other link types show their bytes raw.
pub fn dissect_record(link: LinkType, data: &[u8]) -> Dissection {
    let mut d = Dissection {
        layers: Vec::new(),
        summary: String::new(),
    };
    match link {
        LinkType::Ethernet => return dissect_frame(data),
        LinkType::LinuxSll | LinkType::LinuxSll2 => {
            let (name, short) = if link == LinkType::LinuxSll {
                ("cooked linux", "SLL")
            } else {
                ("cooked linux v2", "SLL2")
            };
            let (Some(c), Some(e)) = (
                capture::cooked(link, data),
                capture::encapsulated(link, data),
            ) else {
                malformed(&mut d, data, "truncated Linux cooked header");
                d.summary = format!("{short} (malformed)");
                return d;
            };
            let mut fields = vec![
                ("pkttype", pkttype(c.pkttype)),
                ("lladdrtype", format!("0x{:04x}", c.hatype)),
                ("src", mac_like(&c.addr)),
                ("proto", format!("0x{:04x}", c.protocol)),
            ];
            if let Some(i) = c.ifindex {
                fields.push(("ifindex", i.to_string()));
            }
            d.layers.push(Layer { name, fields });
            let inner = network_layers(&mut d, e.ethertype, e.payload);
            d.summary = format!("{short} / {inner}");
        }
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 | LinkType::Null => {
            let Some(e) = capture::encapsulated(link, data) else {
                malformed(&mut d, data, "not an IP packet");
                d.summary = "Malformed".into();
                return d;
            };
            if link == LinkType::Null {
                d.layers.push(Layer {
                    name: "Loopback",
                    fields: vec![("type", format!("0x{:04x}", e.ethertype))],
                });
            }
            d.summary = network_layers(&mut d, e.ethertype, e.payload);
        }
        LinkType::Other(n) => {
            raw(&mut d, "Raw", data);
            d.summary = format!("link type {n}, {} bytes", data.len());
        }
    }
    d
}

/// The layers of a network packet of EtherType `et`; returns its summary.
fn network_layers(d: &mut Dissection, et: u16, b: &[u8]) -> String {
    match et {
        ETHERTYPE_IPV4 => ip_layers(d, b),
        ETHERTYPE_IPV6 => ipv6_layers(d, b),
        ETHERTYPE_ARP => arp_layer(d, b),
        _ => {
            raw(d, "Raw", b);
            format!("Ether type 0x{et:04x}")
        }
    }
}

fn pkttype(t: u16) -> String {
    let name = match t {
        0 => "unicast to us",
        1 => "broadcast",
        2 => "multicast",
        3 => "to another host",
        4 => "sent by us",
        _ => "other",
    };
    format!("{name} ({t})")
}

fn mac_like(a: &[u8]) -> String {
    a.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ipv6_layers(d: &mut Dissection, b: &[u8]) -> String {
    let (ip, payload) = match wire::parse_ipv6(b) {
        Ok(x) => x,
        Err(e) => {
            malformed(d, b, &e.to_string());
            return "IPv6 (malformed)".into();
        }
    };
    push_ipv6(d, &ip);
    let padding = b.get(wire::IPV6_LEN + ip.payload_len..).unwrap_or(&[]);
    let s = match ip.next_header {
        PROTO_TCP => match wire::parse::parse_tcp(payload) {
            Ok(t) => {
                push_tcp(d, &t, payload);
                raw(d, "Raw", payload.get(t.header_len..).unwrap_or(&[]));
                let mut s = format!(
                    "IPv6 / TCP [{}]:{} > [{}]:{} {}",
                    ip.src,
                    t.src_port,
                    ip.dst,
                    t.dst_port,
                    flag_letters(t.flags)
                );
                s.truncate(s.trim_end().len());
                s
            }
            Err(e) => {
                malformed(d, payload, &e.to_string());
                format!("IPv6 / TCP {} > {} (malformed)", ip.src, ip.dst)
            }
        },
        PROTO_UDP => match wire::parse::parse_udp(payload) {
            Ok(u) => {
                push_udp(d, &u);
                raw(d, "Raw", payload.get(8..).unwrap_or(&[]));
                format!(
                    "IPv6 / UDP [{}]:{} > [{}]:{}",
                    ip.src, u.src_port, ip.dst, u.dst_port
                )
            }
            Err(e) => {
                malformed(d, payload, &e.to_string());
                format!("IPv6 / UDP {} > {} (malformed)", ip.src, ip.dst)
            }
        },
        PROTO_ICMPV6 if payload.len() >= 4 => {
            let (t, c) = (payload[0], payload[1]);
            d.layers.push(Layer {
                name: "ICMPv6",
                fields: vec![
                    ("type", format!("{} ({t})", icmpv6_name(t))),
                    ("code", c.to_string()),
                    (
                        "chksum",
                        format!("0x{:04x}", u16::from_be_bytes([payload[2], payload[3]])),
                    ),
                ],
            });
            raw(d, "Raw", &payload[4..]);
            format!("IPv6 / ICMPv6 {} > {} {}", ip.src, ip.dst, icmpv6_name(t))
        }
        nh => {
            raw(d, "Raw", payload);
            format!("IPv6 {} > {} nh {nh}", ip.src, ip.dst)
        }
    };
    raw(d, "Padding", padding);
    s
}

fn icmpv6_name(t: u8) -> String {
    match t {
        1 => "dest-unreach".into(),
        2 => "packet-too-big".into(),
        3 => "time-exceeded".into(),
        4 => "param-problem".into(),
        128 => "echo-request".into(),
        129 => "echo-reply".into(),
        133 => "router-solicitation".into(),
        134 => "router-advertisement".into(),
        135 => "neighbor-solicitation".into(),
        136 => "neighbor-advertisement".into(),
        t => format!("type {t}"),
    }
}

fn push_ipv6(d: &mut Dissection, ip: &Ipv6Repr) {
    d.layers.push(Layer {
        name: "IPv6",
        fields: vec![
            ("version", "6".into()),
            ("tc", ip.traffic_class.to_string()),
            ("fl", ip.flow_label.to_string()),
            ("plen", ip.payload_len.to_string()),
            (
                "nh",
                match ip.next_header {
                    PROTO_TCP => "tcp (6)".into(),
                    PROTO_UDP => "udp (17)".into(),
                    PROTO_ICMPV6 => "icmpv6 (58)".into(),
                    n => n.to_string(),
                },
            ),
            ("hlim", ip.hop_limit.to_string()),
            ("src", ip.src.to_string()),
            ("dst", ip.dst.to_string()),
        ],
    });
}

/// Dissects a bare IPv4 packet.
pub fn dissect_ip(packet: &[u8]) -> Dissection {
    let mut d = Dissection {
        layers: Vec::new(),
        summary: String::new(),
    };
    d.summary = ip_layers(&mut d, packet);
    d
}

fn malformed(d: &mut Dissection, rest: &[u8], why: &str) {
    d.layers.push(Layer {
        name: "Malformed",
        fields: vec![("error", why.into()), ("load", quote(rest))],
    });
}

fn raw(d: &mut Dissection, name: &'static str, b: &[u8]) {
    if !b.is_empty() {
        d.layers.push(Layer {
            name,
            fields: vec![("load", quote(b))],
        });
    }
}

fn arp_layer(d: &mut Dissection, b: &[u8]) -> String {
    match wire::parse::parse_arp(b) {
        Ok(a) => {
            push_arp(d, &a);
            raw(d, "Padding", b.get(28..).unwrap_or(&[]));
            match a.op {
                1 => format!("ARP who has {} says {}", a.target_ip, a.sender_ip),
                2 => format!("ARP is at {} says {}", a.sender_mac, a.sender_ip),
                op => format!("ARP op {op} {} > {}", a.sender_ip, a.target_ip),
            }
        }
        Err(e) => {
            malformed(d, b, &e.to_string());
            "ARP (malformed)".into()
        }
    }
}

fn push_arp(d: &mut Dissection, a: &ArpRepr) {
    d.layers.push(Layer {
        name: "ARP",
        fields: vec![
            (
                "op",
                match a.op {
                    1 => "who-has (1)".into(),
                    2 => "is-at (2)".into(),
                    o => o.to_string(),
                },
            ),
            ("hwsrc", a.sender_mac.to_string()),
            ("psrc", a.sender_ip.to_string()),
            ("hwdst", a.target_mac.to_string()),
            ("pdst", a.target_ip.to_string()),
        ],
    });
}

fn ip_layers(d: &mut Dissection, b: &[u8]) -> String {
    let (ip, _) = match wire::parse_ipv4(b) {
        Ok(x) => x,
        Err(e) => {
            malformed(d, b, &e.to_string());
            return "IP (malformed)".into();
        }
    };
    push_ip(d, &ip, b);
    let end = ip.total_len.min(b.len());
    let payload = &b[ip.header_len..end];
    let padding = &b[end..];
    let s = if ip.frag_offset != 0 {
        raw(d, "Raw", payload);
        format!("IP {} > {} fragment", ip.src, ip.dst)
    } else {
        match ip.proto {
            PROTO_TCP => match wire::parse::parse_tcp(payload) {
                Ok(t) => {
                    push_tcp(d, &t, payload);
                    raw(d, "Raw", &payload[t.header_len..]);
                    let mut s = format!(
                        "IP / TCP {}:{} > {}:{} {}",
                        ip.src,
                        t.src_port,
                        ip.dst,
                        t.dst_port,
                        flag_letters(t.flags)
                    );
                    s.truncate(s.trim_end().len());
                    if t.payload_len > 0 {
                        s.push_str(" / Raw");
                    }
                    s
                }
                Err(e) => {
                    malformed(d, payload, &e.to_string());
                    format!("IP / TCP {} > {} (malformed)", ip.src, ip.dst)
                }
            },
            PROTO_UDP => match wire::parse::parse_udp(payload) {
                Ok(u) => {
                    push_udp(d, &u);
                    raw(d, "Raw", payload.get(8..).unwrap_or(&[]));
                    format!(
                        "IP / UDP {}:{} > {}:{}",
                        ip.src, u.src_port, ip.dst, u.dst_port
                    )
                }
                Err(e) => {
                    malformed(d, payload, &e.to_string());
                    format!("IP / UDP {} > {} (malformed)", ip.src, ip.dst)
                }
            },
            PROTO_ICMP => match wire::parse::parse_icmp(payload) {
                Ok(i) => {
                    push_icmp(d, &i);
                    if i.quoted.is_some() {
                        d.layers.push(Layer {
                            name: "IP in ICMP",
                            fields: vec![("quoted", summarize_quote(&i))],
                        });
                    } else {
                        raw(d, "Raw", payload.get(8..).unwrap_or(&[]));
                    }
                    format!(
                        "IP / ICMP {} > {} {}",
                        ip.src,
                        ip.dst,
                        icmp_name(i.icmp_type, i.code)
                    )
                }
                Err(e) => {
                    malformed(d, payload, &e.to_string());
                    format!("IP / ICMP {} > {} (malformed)", ip.src, ip.dst)
                }
            },
            p => {
                raw(d, "Raw", payload);
                format!("IP {} > {} proto {p}", ip.src, ip.dst)
            }
        }
    };
    raw(d, "Padding", padding);
    s
}

fn summarize_quote(i: &IcmpRepr) -> String {
    match i.quoted {
        Some(q) => format!(
            "{}:{} > {}:{} proto {}{}",
            q.ip.src,
            q.src_port,
            q.ip.dst,
            q.dst_port,
            q.ip.proto,
            q.seq.map(|s| format!(" seq {s}")).unwrap_or_default()
        ),
        None => String::new(),
    }
}

fn push_ip(d: &mut Dissection, ip: &Ipv4Repr, b: &[u8]) {
    let ok = wire::checksum::verify(&b[..ip.header_len], 0);
    let mut flags = Vec::new();
    if ip.dont_fragment {
        flags.push("DF");
    }
    if ip.more_fragments {
        flags.push("MF");
    }
    d.layers.push(Layer {
        name: "IP",
        fields: vec![
            ("version", "4".into()),
            ("ihl", (ip.header_len / 4).to_string()),
            ("tos", format!("0x{:02x}", ip.tos)),
            ("len", ip.total_len.to_string()),
            ("id", ip.id.to_string()),
            ("flags", flags.join("+")),
            ("frag", ip.frag_offset.to_string()),
            ("ttl", ip.ttl.to_string()),
            (
                "proto",
                match ip.proto {
                    PROTO_TCP => "tcp (6)".into(),
                    PROTO_UDP => "udp (17)".into(),
                    PROTO_ICMP => "icmp (1)".into(),
                    p => p.to_string(),
                },
            ),
            (
                "chksum",
                format!("0x{:04x}{}", ip.checksum, if ok { "" } else { " (bad)" }),
            ),
            ("src", ip.src.to_string()),
            ("dst", ip.dst.to_string()),
        ],
    });
}

fn push_tcp(d: &mut Dissection, t: &TcpRepr, _seg: &[u8]) {
    let mut opts = Vec::new();
    if let Some(m) = t.mss {
        opts.push(format!("mss:{m}"));
    }
    if t.sack_perm {
        opts.push("sackok".into());
    }
    if let Some((v, e)) = t.timestamps {
        opts.push(format!("ts:{v}:{e}"));
    }
    if let Some(w) = t.wscale {
        opts.push(format!("wscale:{w}"));
    }
    d.layers.push(Layer {
        name: "TCP",
        fields: vec![
            ("sport", t.src_port.to_string()),
            ("dport", t.dst_port.to_string()),
            ("seq", t.seq.to_string()),
            ("ack", t.ack.to_string()),
            ("dataofs", (t.header_len / 4).to_string()),
            ("flags", flag_letters(t.flags)),
            ("window", t.window.to_string()),
            ("chksum", format!("0x{:04x}", t.checksum)),
            ("urgptr", t.urgent.to_string()),
            ("options", format!("[{}]", opts.join(", "))),
        ],
    });
}

fn push_udp(d: &mut Dissection, u: &UdpRepr) {
    d.layers.push(Layer {
        name: "UDP",
        fields: vec![
            ("sport", u.src_port.to_string()),
            ("dport", u.dst_port.to_string()),
            ("len", u.len.to_string()),
            ("chksum", format!("0x{:04x}", u.checksum)),
        ],
    });
}

fn push_icmp(d: &mut Dissection, i: &IcmpRepr) {
    d.layers.push(Layer {
        name: "ICMP",
        fields: vec![
            (
                "type",
                format!("{} ({})", icmp_name(i.icmp_type, i.code), i.icmp_type),
            ),
            ("code", i.code.to_string()),
            ("chksum", format!("0x{:04x}", i.checksum)),
            ("id", (i.rest >> 16).to_string()),
            ("seq", (i.rest & 0xffff).to_string()),
        ],
    });
}

/// A hex dump, 16 bytes a line, with offsets and printable characters.
pub fn hexdump(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, chunk) in b.chunks(16).enumerate() {
        let _ = write!(s, "{:04x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(c) => {
                    let _ = write!(s, "{c:02x} ");
                }
                None => s.push_str("   "),
            }
        }
        s.push(' ');
        for &c in chunk {
            s.push(if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '.'
            });
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN_ACK: [u8; 74] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40,
        0x00, 0x40, 0x06, 0x3c, 0xba, 127, 0, 0, 1, 127, 0, 0, 1, 0x00, 0x16, 0x9c, 0x40, 0x11,
        0x22, 0x33, 0x44, 0x00, 0x00, 0x03, 0xe9, 0xa0, 0x12, 0xff, 0xd7, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
        0x05, 0x01, 0x03, 0x03, 0x07,
    ];

    #[test]
    fn summary_and_show() {
        let d = dissect_frame(&SYN_ACK);
        assert_eq!(
            d.summary,
            "Ether / IP / TCP 127.0.0.1:22 > 127.0.0.1:40000 SA"
        );
        let show = d.show();
        assert!(show.contains("###[ TCP ]###"), "{show}");
        assert!(show.contains("flags     = SA"), "{show}");
        assert!(
            show.contains("options   = [mss:65495, sackok, ts:7:5, wscale:7]"),
            "{show}"
        );
    }

    #[test]
    fn truncations_are_shown_not_panicked() {
        for n in 0..SYN_ACK.len() {
            let d = dissect_frame(&SYN_ACK[..n]);
            assert!(!d.summary.is_empty());
            assert!(
                d.layers.iter().any(|l| l.name == "Malformed"),
                "{n}: {:?}",
                d.layers
            );
        }
        let mut x: u32 = 99;
        for len in 0..120 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = dissect_frame(&buf);
            let _ = dissect_ip(&buf);
        }
    }

    #[test]
    fn hexdump_lines() {
        let h = hexdump(b"hello, world, 0123456789");
        assert_eq!(h.lines().count(), 2);
        assert!(h.starts_with("0000  68 65 6c 6c 6f"), "{h}");
        assert!(h.contains("hello, world, 01"), "{h}");
    }
}
