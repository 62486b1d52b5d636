//! Dissection for humans and scripts: a one-line summary per packet and a layer-by-layer view
//! (like Scapy's `summary()` and `show()`), a JSON form of the same layers, and a hex dump.
//! Built on the per-protocol views of [`crate::wire`]. It works on untrusted bytes and shows
//! what is there: a frame cut short by the snapshot length keeps every complete header (with
//! a note of what is missing), a header that does not parse becomes a `Malformed` layer
//! holding the rest, and nothing panics. Checksums are verified wherever the packet they
//! cover was captured whole, and a wrong one is flagged.

use crate::capture::{self, LinkType};
use crate::wire::ethernet::{self, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use crate::wire::tcp::TcpOption;
use crate::wire::{
    ArpRepr, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, Quoted, arp, icmp, icmpv6, ipv4, ipv6,
    tcp, tcp_flags, udp,
};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

/// One decoded layer: its name and (field, value) rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Layer name (Ethernet, 802.1Q, IP, IPv6, TCP, UDP, ICMP, ICMPv6, ARP, Raw, Padding,
    /// Malformed ...).
    pub name: &'static str,
    /// Fields in wire order.
    pub fields: Vec<(&'static str, String)>,
}

impl Serialize for Layer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("layer", self.name)?;
        m.serialize_entry("fields", &Fields(&self.fields))?;
        m.end()
    }
}

/// Fields as a JSON object in wire order.
struct Fields<'a>(&'a [(&'static str, String)]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dissection {
    /// Layers, outermost first.
    pub layers: Vec<Layer>,
    /// The one-line summary.
    pub summary: String,
}

impl Dissection {
    fn new() -> Dissection {
        Dissection {
            layers: Vec::new(),
            summary: String::new(),
        }
    }

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

    fn push(&mut self, name: &'static str, fields: Vec<(&'static str, String)>) {
        self.layers.push(Layer { name, fields });
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
        (tcp_flags::ECE, 'E'),
        (tcp_flags::CWR, 'C'),
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
        (3, 4) => "dest-unreach fragmentation-needed".into(),
        (3, 9) => "dest-unreach network-prohibited".into(),
        (3, 10) => "dest-unreach host-prohibited".into(),
        (3, 13) => "dest-unreach communication-prohibited".into(),
        (3, c) => format!("dest-unreach code {c}"),
        (5, _) => "redirect".into(),
        (11, _) => "time-exceeded".into(),
        (12, _) => "parameter-problem".into(),
        (13, _) => "timestamp-request".into(),
        (14, _) => "timestamp-reply".into(),
        (t, c) => format!("type {t} code {c}"),
    }
}

fn icmpv6_name(t: u8, c: u8) -> String {
    match (t, c) {
        (1, 0) => "dest-unreach no-route".into(),
        (1, 1) => "dest-unreach admin-prohibited".into(),
        (1, 2) => "dest-unreach beyond-scope".into(),
        (1, 3) => "dest-unreach address-unreachable".into(),
        (1, 4) => "dest-unreach port-unreachable".into(),
        (1, c) => format!("dest-unreach code {c}"),
        (2, _) => "packet-too-big".into(),
        (3, _) => "time-exceeded".into(),
        (4, _) => "param-problem".into(),
        (128, _) => "echo-request".into(),
        (129, _) => "echo-reply".into(),
        (133, _) => "router-solicitation".into(),
        (134, _) => "router-advertisement".into(),
        (135, _) => "neighbor-solicitation".into(),
        (136, _) => "neighbor-advertisement".into(),
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

fn malformed(d: &mut Dissection, rest: &[u8], why: &str) {
    d.push(
        "Malformed",
        vec![("error", why.into()), ("load", quote(rest))],
    );
}

fn raw(d: &mut Dissection, name: &'static str, b: &[u8]) {
    if !b.is_empty() {
        d.push(name, vec![("load", quote(b))]);
    }
}

fn mac_text(a: &[u8]) -> String {
    a.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ethertype_text(et: u16) -> String {
    match et {
        ETHERTYPE_IPV4 => "IPv4 (0x0800)".into(),
        ETHERTYPE_IPV6 => "IPv6 (0x86dd)".into(),
        ETHERTYPE_ARP => "ARP (0x0806)".into(),
        other => format!("0x{other:04x}"),
    }
}

/// Dissects an Ethernet frame.
pub fn dissect_frame(frame: &[u8]) -> Dissection {
    let mut d = Dissection::new();
    let f = match ethernet::Frame::new_checked(frame) {
        Ok(f) => f,
        Err(_) => {
            malformed(&mut d, frame, "truncated Ethernet header");
            d.summary = "Malformed".into();
            return d;
        }
    };
    d.push(
        "Ethernet",
        vec![
            ("dst", mac_text(&f.dst().octets())),
            ("src", mac_text(&f.src().octets())),
            ("type", ethertype_text(f.outer_type())),
        ],
    );
    let mut prefix = "Ether / ".to_string();
    if let Some(tci) = f.vlan_tci() {
        d.push(
            "802.1Q",
            vec![
                ("prio", (tci >> 13).to_string()),
                ("dei", ((tci >> 12) & 1).to_string()),
                ("vlan", (tci & 0x0fff).to_string()),
                ("type", ethertype_text(f.ethertype())),
            ],
        );
        prefix.push_str(&format!("Dot1Q vlan {} / ", tci & 0x0fff));
    }
    let inner = network_layers(&mut d, f.ethertype(), f.payload());
    d.summary = format!("{prefix}{inner}");
    d
}

/// Dissects a bare IP packet (version 4 or 6).
pub fn dissect_ip(packet: &[u8]) -> Dissection {
    let mut d = Dissection::new();
    d.summary = match packet.first().map(|v| v >> 4) {
        Some(6) => ipv6_layers(&mut d, packet),
        _ => ip_layers(&mut d, packet),
    };
    d
}

/// Dissects one captured record of link type `link`: Ethernet, Linux cooked (v1, v2), raw
/// IPv4/IPv6 or BSD loopback; other link types show their bytes raw.
pub fn dissect_record(link: LinkType, data: &[u8]) -> Dissection {
    let mut d = Dissection::new();
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
                ("src", mac_text(&c.addr)),
                ("proto", format!("0x{:04x}", c.protocol)),
            ];
            if let Some(i) = c.ifindex {
                fields.push(("ifindex", i.to_string()));
            }
            d.push(name, fields);
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
                d.push("Loopback", vec![("type", format!("0x{:04x}", e.ethertype))]);
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

fn arp_layer(d: &mut Dissection, b: &[u8]) -> String {
    let parsed = arp::Packet::new_checked(b).and_then(|p| ArpRepr::parse(&p));
    match parsed {
        Ok(a) => {
            d.push(
                "ARP",
                vec![
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
            );
            raw(d, "Padding", b.get(arp::PACKET_LEN..).unwrap_or(&[]));
            match a.op {
                1 => format!("ARP who has {} says {}", a.target_ip, a.sender_ip),
                2 => format!("ARP is at {} says {}", a.sender_mac, a.sender_ip),
                op => format!("ARP op {op} {} > {}", a.target_ip, a.sender_ip),
            }
        }
        Err(e) => {
            malformed(d, b, &e.to_string());
            "ARP (malformed)".into()
        }
    }
}

/// How a checksum reads: its value, and whether it is right (when the whole packet it
/// covers was captured).
fn checksum_text(value: u16, ok: Option<bool>) -> String {
    match ok {
        Some(true) | None => format!("0x{value:04x}"),
        Some(false) => format!("0x{value:04x} (bad)"),
    }
}

fn ip_layers(d: &mut Dissection, b: &[u8]) -> String {
    let p = match ipv4::Packet::new_checked(b) {
        Ok(p) => p,
        Err(e) => {
            malformed(d, b, &e.to_string());
            return "IP (malformed)".into();
        }
    };
    let (src, dst) = (p.src(), p.dst());
    let mut flags = Vec::new();
    if p.dont_frag() {
        flags.push("DF");
    }
    if p.more_frags() {
        flags.push("MF");
    }
    let mut fields = vec![
        ("version", "4".into()),
        ("ihl", (p.header_len() / 4).to_string()),
        ("tos", format!("0x{:02x}", p.tos())),
        ("len", p.total_len().to_string()),
        ("id", p.ident().to_string()),
        ("flags", flags.join("+")),
        ("frag", p.frag_offset().to_string()),
        ("ttl", p.ttl().to_string()),
        (
            "proto",
            match p.protocol() {
                PROTO_TCP => "tcp (6)".into(),
                PROTO_UDP => "udp (17)".into(),
                PROTO_ICMP => "icmp (1)".into(),
                n => n.to_string(),
            },
        ),
        (
            "chksum",
            checksum_text(p.checksum(), Some(p.verify_checksum())),
        ),
        ("src", src.to_string()),
        ("dst", dst.to_string()),
    ];
    if p.header_len() > ipv4::HEADER_LEN {
        fields.push(("options", quote(&b[ipv4::HEADER_LEN..p.header_len()])));
    }
    let whole = !p.is_truncated();
    if !whole {
        fields.push((
            "captured",
            format!("{} of {} bytes", b.len(), p.total_len()),
        ));
    }
    d.push("IP", fields);
    let payload = p.payload();
    let (s, dd) = (IpAddr::V4(src), IpAddr::V4(dst));
    let summary = if p.frag_offset() != 0 {
        raw(d, "Raw", payload);
        format!("IP {src} > {dst} fragment")
    } else {
        // A first fragment's checksum covers data it does not hold.
        transport_layers(
            d,
            "IP",
            p.protocol(),
            payload,
            s,
            dd,
            (whole && !p.more_frags()).then_some(dd),
        )
    };
    raw(d, "Padding", p.padding());
    summary
}

fn ipv6_layers(d: &mut Dissection, b: &[u8]) -> String {
    let p = match ipv6::Packet::new_checked(b) {
        Ok(p) => p,
        Err(e) => {
            malformed(d, b, &e.to_string());
            return "IPv6 (malformed)".into();
        }
    };
    let (src, dst) = (p.src(), p.dst());
    let mut fields = vec![
        ("version", "6".into()),
        ("tc", p.traffic_class().to_string()),
        ("fl", p.flow_label().to_string()),
        ("plen", p.payload_len().to_string()),
        ("nh", nh_text(p.next_header())),
        ("hlim", p.hop_limit().to_string()),
        ("src", src.to_string()),
        ("dst", dst.to_string()),
    ];
    let whole = !p.is_truncated();
    if !whole {
        fields.push((
            "captured",
            format!(
                "{} of {} bytes",
                b.len(),
                ipv6::HEADER_LEN + usize::from(p.payload_len())
            ),
        ));
    }
    d.push("IPv6", fields);
    let summary = match p.upper_layer() {
        Some((nh, payload)) => {
            let ext = p.payload().len() - payload.len();
            if ext > 0 {
                d.push(
                    "IPv6 extension headers",
                    vec![("len", ext.to_string()), ("upper", nh_text(nh))],
                );
            }
            let check = whole.then(|| final_destination(p.next_header(), p.payload(), dst));
            transport_layers(
                d,
                "IPv6",
                nh,
                payload,
                src.into(),
                dst.into(),
                check.map(IpAddr::V6),
            )
        }
        None => {
            raw(d, "Raw", p.payload());
            format!("IPv6 {src} > {dst} nh {}", p.next_header())
        }
    };
    raw(d, "Padding", p.padding());
    summary
}

/// The destination an upper-layer checksum covers (RFC 8200, 8.1): past a routing header
/// with segments left, the final one (the last address of a type 0 or type 2 header, the
/// first of a segment routing header's list); otherwise the header's `dst`.
fn final_destination(mut nh: u8, mut b: &[u8], dst: Ipv6Addr) -> Ipv6Addr {
    for _ in 0..8 {
        let len = match nh {
            ipv6::NH_HOP_BY_HOP | ipv6::NH_ROUTING | ipv6::NH_DEST_OPTS => match b.get(1) {
                Some(&l) => (usize::from(l) + 1) * 8,
                None => break,
            },
            ipv6::NH_FRAGMENT => 8,
            _ => break,
        };
        let Some(h) = b.get(..len) else { break };
        if nh == ipv6::NH_ROUTING && h[3] > 0 {
            let mut addrs = h[8..].chunks_exact(16);
            let last = match h[2] {
                0 | 2 => addrs.next_back(),
                4 => addrs.next(),
                _ => None,
            };
            if let Some(a) = last.and_then(|a| <[u8; 16]>::try_from(a).ok()) {
                return Ipv6Addr::from(a);
            }
        }
        nh = h[0];
        b = &b[len..];
    }
    dst
}

fn nh_text(nh: u8) -> String {
    match nh {
        PROTO_TCP => "tcp (6)".into(),
        PROTO_UDP => "udp (17)".into(),
        PROTO_ICMPV6 => "icmpv6 (58)".into(),
        ipv6::NH_HOP_BY_HOP => "hop-by-hop (0)".into(),
        ipv6::NH_ROUTING => "routing (43)".into(),
        ipv6::NH_FRAGMENT => "fragment (44)".into(),
        ipv6::NH_DEST_OPTS => "dest-opts (60)".into(),
        n => n.to_string(),
    }
}

/// `a:p` for IPv4, `[a]:p` for IPv6.
fn endpoint(a: IpAddr, port: u16) -> String {
    match a {
        IpAddr::V4(v) => format!("{v}:{port}"),
        IpAddr::V6(v) => format!("[{v}]:{port}"),
    }
}

/// The transport layers of `payload`; `check` when the packet was captured in full (its
/// checksum can be verified): the destination address its pseudo-header covers. `ip` is "IP"
/// or "IPv6", for the summary.
fn transport_layers(
    d: &mut Dissection,
    ip: &str,
    proto: u8,
    payload: &[u8],
    src: IpAddr,
    dst: IpAddr,
    check: Option<IpAddr>,
) -> String {
    match proto {
        PROTO_TCP => match tcp::Packet::new_checked(payload) {
            Ok(t) => {
                let ok = check.map(|to| t.verify_checksum(src, to));
                push_tcp(d, &t, ok);
                raw(d, "Raw", t.payload());
                let mut s = format!(
                    "{ip} / TCP {} > {} {}",
                    endpoint(src, t.src_port()),
                    endpoint(dst, t.dst_port()),
                    flag_letters(t.flags())
                );
                s.truncate(s.trim_end().len());
                if !t.payload().is_empty() {
                    s.push_str(" / Raw");
                }
                s
            }
            Err(e) => {
                malformed(d, payload, &e.to_string());
                format!("{ip} / TCP {src} > {dst} (malformed)")
            }
        },
        PROTO_UDP => match udp::Packet::new_checked(payload) {
            Ok(u) => {
                let ok = check
                    .filter(|_| !u.is_truncated())
                    .map(|to| u.verify_checksum(src, to));
                d.push(
                    "UDP",
                    vec![
                        ("sport", u.src_port().to_string()),
                        ("dport", u.dst_port().to_string()),
                        ("len", u.len().to_string()),
                        ("chksum", checksum_text(u.checksum(), ok)),
                    ],
                );
                raw(d, "Raw", u.payload());
                format!(
                    "{ip} / UDP {} > {}",
                    endpoint(src, u.src_port()),
                    endpoint(dst, u.dst_port())
                )
            }
            Err(e) => {
                malformed(d, payload, &e.to_string());
                format!("{ip} / UDP {src} > {dst} (malformed)")
            }
        },
        PROTO_ICMP => match icmp::Packet::new_checked(payload) {
            Ok(m) => {
                let r = icmp::Repr::parse(&m);
                let ok = check.map(|_| m.verify_checksum());
                d.push(
                    "ICMP",
                    vec![
                        (
                            "type",
                            format!("{} ({})", icmp_name(r.icmp_type, r.code), r.icmp_type),
                        ),
                        ("code", r.code.to_string()),
                        ("chksum", checksum_text(r.checksum, ok)),
                        ("id", (r.rest >> 16).to_string()),
                        ("seq", (r.rest & 0xffff).to_string()),
                    ],
                );
                match r.quoted {
                    Some(q) => push_quoted(d, "IP in ICMP", &q),
                    None => raw(d, "Raw", m.data()),
                }
                format!(
                    "{ip} / ICMP {src} > {dst} {}",
                    icmp_name(r.icmp_type, r.code)
                )
            }
            Err(e) => {
                malformed(d, payload, &e.to_string());
                format!("{ip} / ICMP {src} > {dst} (malformed)")
            }
        },
        PROTO_ICMPV6 => {
            let parsed = icmpv6::Packet::new_checked(payload)
                .and_then(|m| icmpv6::Repr::parse(&m).map(|r| (m, r)));
            match parsed {
                Ok((m, r)) => {
                    let ok = match (src, check) {
                        (IpAddr::V6(s), Some(IpAddr::V6(t))) => Some(m.verify_checksum(s, t)),
                        _ => None,
                    };
                    let mut fields = vec![
                        (
                            "type",
                            format!("{} ({})", icmpv6_name(r.icmp_type, r.code), r.icmp_type),
                        ),
                        ("code", r.code.to_string()),
                        ("chksum", checksum_text(r.checksum, ok)),
                    ];
                    if matches!(r.icmp_type, icmpv6::ECHO_REQUEST | icmpv6::ECHO_REPLY) {
                        fields.push(("id", (r.rest >> 16).to_string()));
                        fields.push(("seq", (r.rest & 0xffff).to_string()));
                    }
                    if let Some(n) = r.ndp {
                        fields.push(("tgt", n.target.to_string()));
                        if let Some(l) = n.lladdr {
                            fields.push(("lladdr", l.to_string()));
                        }
                        if r.icmp_type == icmpv6::NEIGHBOR_ADVERT {
                            fields.push(("flags", format!("0x{:02x}", n.flags)));
                        }
                    }
                    d.push("ICMPv6", fields);
                    match r.quoted {
                        Some(q) => push_quoted(d, "IPv6 in ICMPv6", &q),
                        None if r.ndp.is_none() => raw(d, "Raw", m.data()),
                        None => {}
                    }
                    let mut s = format!(
                        "{ip} / ICMPv6 {src} > {dst} {}",
                        icmpv6_name(r.icmp_type, r.code)
                    );
                    if let Some(n) = r.ndp {
                        s.push_str(&format!(" tgt {}", n.target));
                    }
                    s
                }
                Err(e) => {
                    malformed(d, payload, &e.to_string());
                    format!("{ip} / ICMPv6 {src} > {dst} (malformed)")
                }
            }
        }
        p => {
            raw(d, "Raw", payload);
            format!("{ip} {src} > {dst} proto {p}")
        }
    }
}

/// The packet an ICMP error quotes: addresses and, for TCP and UDP, ports (and sequence);
/// for a quoted ICMP message, its type and identifiers (no made-up ports).
fn push_quoted(d: &mut Dissection, name: &'static str, q: &Quoted) {
    let mut fields = vec![
        ("src", q.src.to_string()),
        ("dst", q.dst.to_string()),
        ("proto", q.proto.to_string()),
        ("ttl", q.ttl.to_string()),
    ];
    match q.icmp {
        Some((t, c, rest)) => {
            let name = if q.proto == PROTO_ICMPV6 {
                icmpv6_name(t, c)
            } else {
                icmp_name(t, c)
            };
            fields.push(("type", format!("{name} ({t})")));
            fields.push(("id", (rest >> 16).to_string()));
            fields.push(("seq", (rest & 0xffff).to_string()));
        }
        None if q.proto == PROTO_TCP || q.proto == PROTO_UDP => {
            fields.push(("sport", q.src_port.to_string()));
            fields.push(("dport", q.dst_port.to_string()));
            if let Some(s) = q.seq {
                fields.push(("seq", s.to_string()));
            }
        }
        None => {}
    }
    d.push(name, fields);
}

fn push_tcp<T: AsRef<[u8]>>(d: &mut Dissection, t: &tcp::Packet<T>, ok: Option<bool>) {
    let mut opts = Vec::new();
    for o in tcp::options(t.options()) {
        match o {
            Ok(TcpOption::MaxSegmentSize(m)) => opts.push(format!("mss:{m}")),
            Ok(TcpOption::SackPermitted) => opts.push("sackok".into()),
            Ok(TcpOption::Timestamps(v, e)) => opts.push(format!("ts:{v}:{e}")),
            Ok(TcpOption::WindowScale(w)) => opts.push(format!("wscale:{w}")),
            Ok(TcpOption::Sack(blocks)) => {
                let b: Vec<String> = blocks
                    .iter()
                    .flatten()
                    .map(|(l, r)| format!("{l}-{r}"))
                    .collect();
                opts.push(format!("sack:{}", b.join(",")));
            }
            Ok(TcpOption::Unknown { kind, data }) => {
                let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
                opts.push(format!("opt{kind}:{hex}"));
            }
            Ok(TcpOption::NoOperation) | Ok(TcpOption::EndOfList) => {}
            Err(_) => opts.push("malformed".into()),
        }
    }
    d.push(
        "TCP",
        vec![
            ("sport", t.src_port().to_string()),
            ("dport", t.dst_port().to_string()),
            ("seq", t.seq().to_string()),
            ("ack", t.ack().to_string()),
            ("dataofs", (t.header_len() / 4).to_string()),
            ("flags", flag_letters(t.flags())),
            ("window", t.window().to_string()),
            ("chksum", checksum_text(t.checksum(), ok)),
            ("urgptr", t.urgent().to_string()),
            ("options", format!("[{}]", opts.join(", "))),
        ],
    );
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
        // The fixture's TCP checksum is zero: flagged.
        assert!(show.contains("chksum    = 0x0000 (bad)"), "{show}");
    }

    #[test]
    fn a_cut_frame_keeps_its_complete_headers() {
        // 34 bytes of Ethernet and IPv4 and the first 20 bytes of TCP... plus options: cut
        // inside the options, the TCP header is malformed; cut in a later payload, it is not.
        let mut f = SYN_ACK.to_vec();
        f[14 + 3] = 100; // the IP packet claims 100 bytes: 40 more than captured
        ipv4::Packet::new_unchecked(&mut f[14..34]).fill_checksum();
        let d = dissect_frame(&f);
        let show = d.show();
        assert!(show.contains("captured  = 60 of 100 bytes"), "{show}");
        assert!(show.contains("###[ TCP ]###"), "{show}");
        assert!(!show.contains("Malformed"), "{show}");
        // Its TCP checksum cannot be judged: no "(bad)".
        assert!(!show.contains("(bad)"), "{show}");
    }

    #[test]
    fn vlan_sack_unknown_options_and_quoted_icmp() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        f.extend_from_slice(&SYN_ACK[12..34]);
        let mut tcp_hdr = SYN_ACK[34..54].to_vec();
        let mut opts = Vec::new();
        tcp::emit_options(
            &[
                TcpOption::Sack([Some((1, 2)), None, None, None]),
                TcpOption::Unknown {
                    kind: 30,
                    data: &[9],
                },
            ],
            &mut opts,
        );
        tcp_hdr[12] = (((20 + opts.len()) / 4) as u8) << 4;
        tcp_hdr.extend_from_slice(&opts);
        f.extend_from_slice(&tcp_hdr);
        let total = (20 + tcp_hdr.len()) as u16;
        f[20..22].copy_from_slice(&total.to_be_bytes());
        let d = dissect_frame(&f);
        assert!(
            d.summary.starts_with("Ether / Dot1Q vlan 5 / IP / TCP"),
            "{}",
            d.summary
        );
        let show = d.show();
        assert!(show.contains("sack:1-2"), "{show}");
        assert!(show.contains("opt30:09"), "{show}");
        // An ICMP error quoting an ICMP echo shows its type, not ports.
        let mut ip = vec![
            0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0, 10, 0, 0, 254, 10, 0, 0, 1,
        ];
        ip.extend_from_slice(&[11, 0, 0, 0, 0, 0, 0, 0]);
        ip.extend_from_slice(&[
            0x45, 0, 0, 28, 0, 1, 0, 0, 1, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9, 8, 0, 0, 0, 0x12,
            0x34, 0, 1,
        ]);
        let d = dissect_ip(&ip);
        let show = d.show();
        assert!(show.contains("type      = echo-request (8)"), "{show}");
        assert!(!show.contains("sport"), "{show}");
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
            let _ = serde_json::to_string(&dissect_frame(&buf));
        }
    }

    #[test]
    fn json_keeps_wire_order() {
        let j = serde_json::to_string(&dissect_frame(&SYN_ACK)).unwrap();
        let sport = j.find("\"sport\"").unwrap();
        let dport = j.find("\"dport\"").unwrap();
        assert!(sport < dport, "{j}");
        assert!(j.starts_with("{\"layers\":[{\"layer\":\"Ethernet\""), "{j}");
    }

    #[test]
    fn hexdump_lines() {
        let h = hexdump(b"hello, world, 0123456789");
        assert_eq!(h.lines().count(), 2);
        assert!(h.starts_with("0000  68 65 6c 6c 6f"), "{h}");
        assert!(h.contains("hello, world, 01"), "{h}");
    }
}
