//! The layer SPEC language of `synscan send|sr|sr1`, after Scapy:
//! `IP(dst=127.0.0.1,ttl=64)/TCP(dport=80,flags=S,options=[mss:1460])/Raw(load="hi")`.
//!
//! Parsing is two steps: [`parse`] turns the text into layers of fields whose values may be
//! lists or ranges (`dport=[22,80]`, `ttl=1-30`), checking every name and value against the
//! layer's fields; [`Spec::expand`] yields one [`Stack`] per combination. Every error carries
//! the 0-based byte offset of the offending character.

use pnet::util::MacAddr;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Most packets one SPEC may expand to.
pub const MAX_PACKETS: usize = 1 << 20;

/// A SPEC error: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// 0-based offset in the SPEC, in characters.
    pub pos: usize,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid SPEC at character {}: {}",
            self.pos + 1,
            self.msg
        )
    }
}

impl std::error::Error for SpecError {}

fn err<T>(pos: usize, msg: impl Into<String>) -> Result<T, SpecError> {
    Err(SpecError {
        pos,
        msg: msg.into(),
    })
}

/// A protocol layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Ethernet II.
    Ether,
    /// IPv4.
    Ip,
    /// IPv6.
    Ipv6,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP.
    Icmp,
    /// ICMPv6 echo request.
    Icmpv6Echo,
    /// ICMPv6 neighbor solicitation (with our link-layer address option).
    NdNs,
    /// ARP (IPv4 over Ethernet).
    Arp,
    /// Payload bytes.
    Raw,
}

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    U8,
    U16,
    U32,
    /// 20 bits (IPv6 flow label).
    U20,
    Ip,
    Ip6,
    Mac,
    Bytes,
    TcpFlags,
    IpFlags,
    ArpOp,
    TcpOptions,
}

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "Ether" => Kind::Ether,
            "IP" => Kind::Ip,
            "IPv6" => Kind::Ipv6,
            "TCP" => Kind::Tcp,
            "UDP" => Kind::Udp,
            "ICMP" => Kind::Icmp,
            "ICMPv6EchoRequest" => Kind::Icmpv6Echo,
            "ICMPv6ND_NS" => Kind::NdNs,
            "ARP" => Kind::Arp,
            "Raw" => Kind::Raw,
            _ => return None,
        })
    }

    /// The layer's name in a SPEC.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ether => "Ether",
            Kind::Ip => "IP",
            Kind::Ipv6 => "IPv6",
            Kind::Tcp => "TCP",
            Kind::Udp => "UDP",
            Kind::Icmp => "ICMP",
            Kind::Icmpv6Echo => "ICMPv6EchoRequest",
            Kind::NdNs => "ICMPv6ND_NS",
            Kind::Arp => "ARP",
            Kind::Raw => "Raw",
        }
    }

    fn fields(self) -> &'static [(&'static str, Ty)] {
        match self {
            Kind::Ether => &[("dst", Ty::Mac), ("src", Ty::Mac), ("type", Ty::U16)],
            Kind::Ip => &[
                ("src", Ty::Ip),
                ("dst", Ty::Ip),
                ("ttl", Ty::U8),
                ("id", Ty::U16),
                ("tos", Ty::U8),
                ("flags", Ty::IpFlags),
                ("frag", Ty::U16),
                ("proto", Ty::U8),
            ],
            Kind::Ipv6 => &[
                ("src", Ty::Ip6),
                ("dst", Ty::Ip6),
                ("hlim", Ty::U8),
                ("tc", Ty::U8),
                ("fl", Ty::U20),
                ("nh", Ty::U8),
            ],
            Kind::Tcp => &[
                ("sport", Ty::U16),
                ("dport", Ty::U16),
                ("seq", Ty::U32),
                ("ack", Ty::U32),
                ("flags", Ty::TcpFlags),
                ("window", Ty::U16),
                ("urgptr", Ty::U16),
                ("options", Ty::TcpOptions),
            ],
            Kind::Udp => &[("sport", Ty::U16), ("dport", Ty::U16)],
            Kind::Icmp => &[
                ("type", Ty::U8),
                ("code", Ty::U8),
                ("id", Ty::U16),
                ("seq", Ty::U16),
            ],
            Kind::Icmpv6Echo => &[("id", Ty::U16), ("seq", Ty::U16), ("code", Ty::U8)],
            Kind::NdNs => &[("tgt", Ty::Ip6), ("lladdr", Ty::Mac)],
            Kind::Arp => &[
                ("op", Ty::ArpOp),
                ("hwsrc", Ty::Mac),
                ("psrc", Ty::Ip),
                ("hwdst", Ty::Mac),
                ("pdst", Ty::Ip),
            ],
            Kind::Raw => &[("load", Ty::Bytes)],
        }
    }
}

/// A TCP option in a SPEC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpOpt {
    /// `mss:N`.
    Mss(u16),
    /// `wscale:N`.
    WScale(u8),
    /// `sackok`.
    SackOk,
    /// `ts:VAL:ECR`.
    Timestamp(u32, u32),
    /// `nop`.
    Nop,
    /// `eol`.
    Eol,
}

/// One value of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A number (ports, TTL, flags as bits, ...).
    Num(u32),
    /// An IPv4 address.
    Ip(Ipv4Addr),
    /// An IPv6 address.
    Ip6(Ipv6Addr),
    /// A MAC address.
    Mac(MacAddr),
    /// Bytes (`Raw(load=...)`).
    Bytes(Vec<u8>),
    /// TCP options.
    Options(Vec<TcpOpt>),
}

/// One field as written, with every value it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Field name.
    pub name: &'static str,
    /// Where the name starts.
    pub pos: usize,
    /// The values (more than one: one packet each).
    pub values: Vec<Value>,
}

/// One layer as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Protocol.
    pub kind: Kind,
    /// Where the layer name starts.
    pub pos: usize,
    /// Fields given.
    pub fields: Vec<Field>,
}

/// A parsed SPEC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Layers, outermost first.
    pub layers: Vec<Layer>,
}

/// One concrete packet's layers: every field has one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// Layers, outermost first, with (field name, value).
    pub layers: Vec<(Kind, Vec<(&'static str, Value)>)>,
}

impl Stack {
    /// The value of `field` in the first layer of `kind`.
    pub fn get(&self, kind: Kind, field: &str) -> Option<&Value> {
        self.layers
            .iter()
            .find(|(k, _)| *k == kind)?
            .1
            .iter()
            .find(|(n, _)| *n == field)
            .map(|(_, v)| v)
    }

    /// True when the stack has a layer of `kind`.
    pub fn has(&self, kind: Kind) -> bool {
        self.layers.iter().any(|(k, _)| *k == kind)
    }
}

impl Spec {
    /// Number of packets the SPEC describes.
    pub fn count(&self) -> usize {
        self.layers
            .iter()
            .flat_map(|l| &l.fields)
            .fold(1usize, |n, f| n.saturating_mul(f.values.len().max(1)))
    }

    /// Every combination of field values, the last field varying fastest.
    pub fn expand(&self) -> Vec<Stack> {
        let fields: Vec<(usize, &Field)> = self
            .layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.fields.iter().map(move |f| (i, f)))
            .collect();
        let total = self.count();
        let mut out = Vec::with_capacity(total.min(MAX_PACKETS));
        for n in 0..total.min(MAX_PACKETS) {
            let mut layers: Vec<(Kind, Vec<(&'static str, Value)>)> =
                self.layers.iter().map(|l| (l.kind, Vec::new())).collect();
            let mut rest = n;
            for (li, f) in fields.iter().rev() {
                let k = f.values.len().max(1);
                layers[*li].1.push((f.name, f.values[rest % k].clone()));
                rest /= k;
            }
            for l in &mut layers {
                l.1.reverse();
            }
            out.push(Stack { layers });
        }
        out
    }
}

/// A cursor over the SPEC text.
struct P<'a> {
    s: &'a str,
    i: usize,
}

impl P<'_> {
    /// The character at the cursor (for messages).
    fn here(&self) -> char {
        self.s
            .get(self.i..)
            .and_then(|r| r.chars().next())
            .unwrap_or('?')
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c == b' ' || c == b'\t') {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), SpecError> {
        self.skip_ws();
        match self.peek() {
            Some(x) if x == c => {
                self.i += 1;
                Ok(())
            }
            Some(x) => err(
                self.i,
                format!("expected '{}', found '{}'", c as char, x as char),
            ),
            None => err(self.i, format!("expected '{}' before the end", c as char)),
        }
    }

    fn ident(&mut self) -> Result<(usize, &str), SpecError> {
        self.skip_ws();
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        if start == self.i {
            return match self.peek() {
                Some(_) => err(start, format!("expected a name, found '{}'", self.here())),
                None => err(start, "expected a name before the end"),
            };
        }
        Ok((start, &self.s[start..self.i]))
    }

    /// A raw value token: up to `,`, `)` or `]` outside quotes.
    fn token(&mut self) -> Result<(usize, String), SpecError> {
        self.skip_ws();
        let start = self.i;
        if self.peek() == Some(b'"') {
            self.i += 1;
            let mut out = String::from("\"");
            loop {
                match self.peek() {
                    None => return err(start, "unterminated string"),
                    Some(b'"') => {
                        self.i += 1;
                        out.push('"');
                        return Ok((start, out));
                    }
                    Some(b'\\') => {
                        let c = self.s[self.i + 1..].chars().next();
                        match c {
                            Some(c) => {
                                out.push('\\');
                                out.push(c);
                                self.i += 1 + c.len_utf8();
                            }
                            None => return err(self.i, "unterminated escape"),
                        }
                    }
                    Some(_) => {
                        let c = self.s[self.i..].chars().next().unwrap_or('?');
                        out.push(c);
                        self.i += c.len_utf8();
                    }
                }
            }
        }
        while self
            .peek()
            .is_some_and(|c| !matches!(c, b',' | b')' | b']' | b'[' | b'(' | b' ' | b'\t' | b'/'))
        {
            self.i += 1;
        }
        if start == self.i {
            return match self.peek() {
                Some(_) => err(start, format!("expected a value, found '{}'", self.here())),
                None => err(start, "expected a value before the end"),
            };
        }
        Ok((start, self.s[start..self.i].to_string()))
    }
}

/// Parses a SPEC. Error positions count characters, not bytes.
pub fn parse(s: &str) -> Result<Spec, SpecError> {
    parse_bytes(s).map_err(|mut e| {
        e.pos = s.get(..e.pos).map_or(e.pos, |head| head.chars().count());
        e
    })
}

fn parse_bytes(s: &str) -> Result<Spec, SpecError> {
    let mut p = P { s, i: 0 };
    let mut layers = Vec::new();
    loop {
        let (pos, name) = p.ident()?;
        let kind = Kind::from_name(name).ok_or_else(|| SpecError {
            pos,
            msg: format!(
                "unknown layer '{name}' (Ether, IP, IPv6, TCP, UDP, ICMP, ICMPv6EchoRequest, \
                 ICMPv6ND_NS, ARP, Raw)"
            ),
        })?;
        let mut layer = Layer {
            kind,
            pos,
            fields: Vec::new(),
        };
        p.skip_ws();
        if p.peek() == Some(b'(') {
            p.i += 1;
            p.skip_ws();
            if p.peek() == Some(b')') {
                p.i += 1;
            } else {
                loop {
                    let f = field(&mut p, kind)?;
                    if layer.fields.iter().any(|g| g.name == f.name) {
                        return err(f.pos, format!("field '{}' given twice", f.name));
                    }
                    layer.fields.push(f);
                    p.skip_ws();
                    match p.peek() {
                        Some(b',') => p.i += 1,
                        Some(b')') => {
                            p.i += 1;
                            break;
                        }
                        Some(_) => {
                            return err(p.i, format!("expected ',' or ')', found '{}'", p.here()));
                        }
                        None => return err(p.i, "expected ')' before the end"),
                    }
                }
            }
        }
        layers.push(layer);
        p.skip_ws();
        match p.peek() {
            None => break,
            Some(b'/') => p.i += 1,
            Some(_) => {
                return err(
                    p.i,
                    format!("expected '/' between layers, found '{}'", p.here()),
                );
            }
        }
    }
    check_order(&layers)?;
    let spec = Spec { layers };
    if spec.count() > MAX_PACKETS {
        return err(
            0,
            format!("describes {} packets (at most {MAX_PACKETS})", spec.count()),
        );
    }
    Ok(spec)
}

fn check_order(layers: &[Layer]) -> Result<(), SpecError> {
    let rank = |k: Kind| match k {
        Kind::Ether => 0,
        Kind::Ip | Kind::Ipv6 | Kind::Arp => 1,
        Kind::Tcp | Kind::Udp | Kind::Icmp | Kind::Icmpv6Echo | Kind::NdNs => 2,
        Kind::Raw => 3,
    };
    for w in layers.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let ok = rank(b.kind) > rank(a.kind)
            && !(a.kind == Kind::Arp && b.kind != Kind::Raw)
            && !(a.kind == Kind::Ether && rank(b.kind) == 2);
        if !ok {
            return err(
                b.pos,
                format!("{} cannot follow {}", b.kind.name(), a.kind.name()),
            );
        }
    }
    if let Some(first) = layers.first()
        && first.kind == Kind::Raw
    {
        return err(
            first.pos,
            "Raw needs a layer before it (Ether, IP, IPv6 or ARP)",
        );
    }
    let has = |k: Kind| layers.iter().any(|x| x.kind == k);
    for l in layers {
        let needs = match l.kind {
            Kind::Tcp | Kind::Udp if !has(Kind::Ip) && !has(Kind::Ipv6) => "an IP or IPv6",
            Kind::Icmp if !has(Kind::Ip) => "an IP",
            Kind::Icmpv6Echo | Kind::NdNs if !has(Kind::Ipv6) => "an IPv6",
            _ => continue,
        };
        return err(
            l.pos,
            format!("{} needs {needs} layer before it", l.kind.name()),
        );
    }
    Ok(())
}

fn field(p: &mut P, kind: Kind) -> Result<Field, SpecError> {
    let (pos, name) = p.ident()?;
    let Some(&(name, ty)) = kind.fields().iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = kind.fields().iter().map(|(n, _)| *n).collect();
        return err(
            pos,
            format!(
                "unknown {} field '{name}' (fields: {})",
                kind.name(),
                known.join(", ")
            ),
        );
    };
    p.expect(b'=')?;
    p.skip_ws();
    let mut values = Vec::new();
    if p.peek() == Some(b'[') {
        let open = p.i;
        p.i += 1;
        if ty == Ty::TcpOptions {
            let opts = options(p)?;
            let bytes: usize = opts
                .iter()
                .map(|o| match o {
                    TcpOpt::Mss(_) => 4,
                    TcpOpt::WScale(_) => 3,
                    TcpOpt::SackOk => 2,
                    TcpOpt::Timestamp(..) => 10,
                    TcpOpt::Nop | TcpOpt::Eol => 1,
                })
                .sum();
            if bytes > 40 {
                return err(open, format!("TCP options take {bytes} bytes (at most 40)"));
            }
            values.push(Value::Options(opts));
            return Ok(Field { name, pos, values });
        }
        loop {
            let (vpos, tok) = p.token()?;
            values.extend(values_of(ty, vpos, &tok)?);
            p.skip_ws();
            match p.peek() {
                Some(b',') => p.i += 1,
                Some(b']') => {
                    p.i += 1;
                    break;
                }
                Some(_) => return err(p.i, format!("expected ',' or ']', found '{}'", p.here())),
                None => return err(open, "unclosed '['"),
            }
        }
    } else {
        if ty == Ty::TcpOptions {
            return err(p.i, "options take a list, e.g. options=[mss:1460,sackok]");
        }
        let (vpos, tok) = p.token()?;
        values = values_of(ty, vpos, &tok)?;
    }
    Ok(Field { name, pos, values })
}

fn options(p: &mut P) -> Result<Vec<TcpOpt>, SpecError> {
    let mut out = Vec::new();
    p.skip_ws();
    if p.peek() == Some(b']') {
        p.i += 1;
        return Ok(out);
    }
    loop {
        let (pos, tok) = p.token()?;
        let parts: Vec<&str> = tok.split(':').collect();
        let num = |i: usize, max: u64| -> Result<u64, SpecError> {
            let off = pos + parts[..i].iter().map(|s| s.len() + 1).sum::<usize>();
            match parts.get(i).map(|s| parse_num(s)) {
                Some(Some(v)) if v <= max => Ok(v),
                Some(_) => err(off, format!("bad number in option '{tok}' (at most {max})")),
                None => err(pos + tok.len(), format!("option '{tok}' needs a value")),
            }
        };
        let opt = match parts[0] {
            "mss" if parts.len() == 2 => TcpOpt::Mss(num(1, 65535)? as u16),
            "wscale" if parts.len() == 2 => TcpOpt::WScale(num(1, 14)? as u8),
            "ts" if parts.len() == 3 => TcpOpt::Timestamp(
                num(1, u32::MAX as u64)? as u32,
                num(2, u32::MAX as u64)? as u32,
            ),
            "sackok" if parts.len() == 1 => TcpOpt::SackOk,
            "nop" if parts.len() == 1 => TcpOpt::Nop,
            "eol" if parts.len() == 1 => TcpOpt::Eol,
            _ => {
                return err(
                    pos,
                    format!(
                        "unknown TCP option '{tok}' (mss:N, wscale:N, sackok, ts:VAL:ECR, nop, eol)"
                    ),
                );
            }
        };
        out.push(opt);
        p.skip_ws();
        match p.peek() {
            Some(b',') => p.i += 1,
            Some(b']') => {
                p.i += 1;
                return Ok(out);
            }
            Some(_) => return err(p.i, format!("expected ',' or ']', found '{}'", p.here())),
            None => return err(p.i, "unclosed '['"),
        }
    }
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

fn max_of(ty: Ty) -> u64 {
    match ty {
        Ty::U8 => 0xff,
        Ty::U16 => 0xffff,
        Ty::U20 => 0xf_ffff,
        _ => 0xffff_ffff,
    }
}

/// The values one token stands for (a range gives several).
fn values_of(ty: Ty, pos: usize, tok: &str) -> Result<Vec<Value>, SpecError> {
    match ty {
        Ty::U8 | Ty::U16 | Ty::U20 | Ty::U32 => {
            let max = max_of(ty);
            let one = |s: &str, at: usize| -> Result<u64, SpecError> {
                match parse_num(s) {
                    Some(v) if v <= max => Ok(v),
                    Some(_) => err(at, format!("{s} is out of range (0-{max})")),
                    None => err(at, format!("'{s}' is not a number")),
                }
            };
            if let Some((a, b)) = tok.split_once('-') {
                let lo = one(a, pos)?;
                let hi = one(b, pos + a.len() + 1)?;
                if hi < lo {
                    return err(pos, format!("reversed range '{tok}'"));
                }
                if (hi - lo) as usize >= MAX_PACKETS {
                    return err(pos, format!("range '{tok}' is too long"));
                }
                Ok((lo..=hi).map(|v| Value::Num(v as u32)).collect())
            } else {
                Ok(vec![Value::Num(one(tok, pos)? as u32)])
            }
        }
        Ty::Ip => tok
            .parse::<Ipv4Addr>()
            .map(|a| vec![Value::Ip(a)])
            .or_else(|_| err(pos, format!("'{tok}' is not an IPv4 address"))),
        Ty::Ip6 => tok
            .parse::<Ipv6Addr>()
            .map(|a| vec![Value::Ip6(a)])
            .or_else(|_| err(pos, format!("'{tok}' is not an IPv6 address"))),
        Ty::Mac => tok
            .parse::<MacAddr>()
            .map(|m| vec![Value::Mac(m)])
            .or_else(|_| err(pos, format!("'{tok}' is not a MAC address"))),
        Ty::Bytes => string(pos, tok).map(|b| vec![Value::Bytes(b)]),
        Ty::TcpFlags => {
            if let Some(v) = parse_num(tok) {
                return if v <= 0xff {
                    Ok(vec![Value::Num(v as u32)])
                } else {
                    err(pos, format!("TCP flags {v} out of range (0-255)"))
                };
            }
            let mut bits = 0u32;
            for (i, c) in tok.char_indices() {
                bits |= match c {
                    'F' => 0x01,
                    'S' => 0x02,
                    'R' => 0x04,
                    'P' => 0x08,
                    'A' => 0x10,
                    'U' => 0x20,
                    'E' => 0x40,
                    'C' => 0x80,
                    _ => return err(pos + i, format!("unknown TCP flag '{c}' (F S R P A U E C)")),
                };
            }
            Ok(vec![Value::Num(bits)])
        }
        Ty::IpFlags => {
            if let Some(v) = parse_num(tok) {
                return if v <= 7 {
                    Ok(vec![Value::Num(v as u32)])
                } else {
                    err(pos, "IP flags out of range (0-7)")
                };
            }
            let mut bits = 0;
            for part in tok.split('+') {
                bits |= match part {
                    "DF" => 2,
                    "MF" => 1,
                    _ => return err(pos, format!("unknown IP flag '{part}' (DF, MF, DF+MF)")),
                };
            }
            Ok(vec![Value::Num(bits)])
        }
        Ty::ArpOp => match tok {
            "who-has" | "1" => Ok(vec![Value::Num(1)]),
            "is-at" | "2" => Ok(vec![Value::Num(2)]),
            _ => err(
                pos,
                format!("unknown ARP op '{tok}' (who-has, is-at, 1, 2)"),
            ),
        },
        Ty::TcpOptions => err(pos, "options take a list"),
    }
}

/// Decodes a quoted string with `\n`, `\t`, `\\`, `\"` and `\xHH` escapes.
fn string(pos: usize, tok: &str) -> Result<Vec<u8>, SpecError> {
    let Some(inner) = tok.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return err(pos, "a load is a quoted string, e.g. load=\"hi\"");
    };
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let at = pos + 1 + i;
        match b.get(i + 1) {
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'"') => out.push(b'"'),
            Some(b'x') => {
                let hex = inner
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => out.push(v),
                    None => return err(at, "\\x needs two hex digits"),
                }
                i += 2;
            }
            _ => return err(at, "unknown escape (\\n \\t \\r \\0 \\\\ \\\" \\xHH)"),
        }
        i += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_example() {
        let s = parse(r#"IP(dst=127.0.0.1,ttl=64)/TCP(dport=80,flags=S,seq=1000,options=[mss:1460])/Raw(load="hi")"#).unwrap();
        assert_eq!(s.layers.len(), 3);
        assert_eq!(s.count(), 1);
        let st = &s.expand()[0];
        assert_eq!(
            st.get(Kind::Ip, "dst"),
            Some(&Value::Ip(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(st.get(Kind::Tcp, "flags"), Some(&Value::Num(2)));
        assert_eq!(
            st.get(Kind::Tcp, "options"),
            Some(&Value::Options(vec![TcpOpt::Mss(1460)]))
        );
        assert_eq!(
            st.get(Kind::Raw, "load"),
            Some(&Value::Bytes(b"hi".to_vec()))
        );
    }

    #[test]
    fn lists_and_ranges_expand() {
        let s = parse("IP(dst=127.0.0.1,ttl=1-3)/TCP(dport=[22,80],flags=SA)").unwrap();
        assert_eq!(s.count(), 6);
        let e = s.expand();
        let pairs: Vec<(Value, Value)> = e
            .iter()
            .map(|st| {
                (
                    st.get(Kind::Ip, "ttl").unwrap().clone(),
                    st.get(Kind::Tcp, "dport").unwrap().clone(),
                )
            })
            .collect();
        assert_eq!(pairs[0], (Value::Num(1), Value::Num(22)));
        assert_eq!(pairs[1], (Value::Num(1), Value::Num(80)));
        assert_eq!(pairs[5], (Value::Num(3), Value::Num(80)));
        assert_eq!(
            parse("IP(dst=127.0.0.1)/TCP(dport=1-1024)")
                .unwrap()
                .count(),
            1024
        );
        assert_eq!(
            parse("IP(dst=[10.0.0.1, 10.0.0.2])/ICMP").unwrap().count(),
            2
        );
        assert!(parse("Ether()/ARP(pdst=10.0.0.1)").is_ok());
        assert!(parse("IP(dst=127.0.0.1)/ICMP(type=8)").is_ok());
        assert!(parse("IP(dst=127.0.0.1)/UDP(dport=53)/Raw(load=\"\\x00\\n\")").is_ok());
    }

    #[test]
    fn malformed_specs_point_at_the_character() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "expected a name"),
            ("IPX(dst=1.2.3.4)", 0, "unknown layer 'IPX'"),
            (
                "IP(dst=1.2.3.4)/TCP(dprt=80)",
                20,
                "unknown TCP field 'dprt'",
            ),
            ("IP(dst=1.2.3.4)/TCP(dport=80", 28, "expected ')'"),
            ("IP(dst=1.2.3.4)/TCP(dport=70000)", 26, "out of range"),
            ("IP(dst=1.2.3.4)/TCP(dport=9-1)", 26, "reversed range"),
            ("IP(dst=1.2.3.4)/TCP(dport=1-x)", 28, "'x' is not a number"),
            ("IP(dst=1.2.3)", 7, "not an IPv4 address"),
            ("IP(dst=1.2.3.4,ttl=256)", 19, "out of range"),
            ("IP(dst=1.2.3.4)/TCP(flags=SX)", 27, "unknown TCP flag 'X'"),
            (
                "IP(dst=1.2.3.4)/TCP(options=[mss])",
                29,
                "unknown TCP option",
            ),
            ("IP(dst=1.2.3.4)/TCP(options=[mss:99999])", 33, "bad number"),
            ("IP(dst=1.2.3.4)/TCP(options=mss:1)", 28, "take a list"),
            (
                "IP(dst=1.2.3.4)/TCP(dport=[22,80)",
                32,
                "expected ',' or ']'",
            ),
            ("IP(dst=1.2.3.4)/Raw(load=hi)", 25, "quoted string"),
            ("IP(dst=1.2.3.4)/Raw(load=\"hi)", 25, "unterminated string"),
            ("IP(dst=1.2.3.4)/Raw(load=\"\\q\")", 26, "unknown escape"),
            ("IP(dst=1.2.3.4) TCP()", 16, "expected '/'"),
            ("TCP(dport=80)", 0, "needs an IP or IPv6 layer"),
            ("IP(dst=1.2.3.4)/IP()", 16, "IP cannot follow IP"),
            ("Raw()/IP()", 6, "IP cannot follow Raw"),
            ("IP(dst=1.2.3.4,dst=1.2.3.5)", 15, "given twice"),
            ("IPv6(dst=fd00::zz)", 9, "not an IPv6 address"),
            ("IPv6(dst=1.2.3.4)", 9, "not an IPv6 address"),
            ("IP(dst=fd00::1)", 7, "not an IPv4 address"),
            ("IPv6(fl=0x100000)", 8, "out of range (0-1048575)"),
            ("IPv6()/ICMP()", 7, "ICMP needs an IP layer"),
            ("IP()/ICMPv6EchoRequest()", 5, "needs an IPv6 layer"),
            ("Ether()/ICMPv6ND_NS(tgt=fd00::1)", 8, "cannot follow Ether"),
            ("IP()/IPv6()", 5, "IPv6 cannot follow IP"),
            (
                "IPv6()/ICMPv6ND_NS(tgt=::1,lladdr=1)",
                34,
                "not a MAC address",
            ),
            ("IP(dst=1.2.3.4)/TCP(dport=)", 26, "expected a value"),
            ("IP(dst)", 6, "expected '='"),
            ("Ether(src=zz:00:00:00:00:00)", 10, "not a MAC"),
            ("ARP(op=ask)", 7, "unknown ARP op"),
            (
                "IP(dst=1.2.3.4,ttl=1-255)/TCP(dport=1-65535)",
                0,
                "packets (at most",
            ),
            ("IP(flags=XF)", 9, "unknown IP flag"),
            ("IP(dst=1.2.3.4)/", 16, "expected a name before the end"),
            ("Raw(load=\"x\")", 0, "Raw needs a layer before it"),
            (
                "IP(dst=1.2.3.4)/TCP(options=[ts:1:2,ts:1:2,ts:1:2,ts:1:2,ts:1:2])",
                28,
                "at most 40",
            ),
            ("IP(dst=é)", 7, "'é' is not an IPv4 address"),
            (
                "IP(dst=1.2.3.4)/Raw(load=\"é\")/é",
                30,
                "expected a name, found 'é'",
            ),
        ];
        for (spec, pos, needle) in cases {
            let e = parse(spec).expect_err(spec);
            assert!(e.msg.contains(needle), "{spec}: {e}");
            assert_eq!(e.pos, *pos, "{spec}: {e}");
        }
    }
}
