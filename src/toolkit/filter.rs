//! Capture filters: a subset of tcpdump's expression language compiled to classic BPF.
//! The same program is attached to the socket by `sniff` (the kernel runs it) and run by the
//! small interpreter here for `read --filter`, so both commands agree by construction.
//!
//! Supported (Ethernet framing): `ip`, `ip6`, `arp`, `tcp`, `udp` (both IP versions), `icmp`,
//! `icmp6`; `[src|dst] host ADDR`, `[src|dst] net ADDR/LEN` (IPv4 or IPv6),
//! `[src|dst] port N`, `[src|dst] portrange A-B`, each optionally after a protocol
//! (`tcp port 80`, `ip6 host fd00::1`); a bare address means `host ADDR`; `and`/`&&`,
//! `or`/`||`, `not`/`!`, parentheses. As in tcpdump, IPv6 ports and protocols are read right
//! after the fixed header (no extension headers followed).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::link::bpf::{
    ACCEPT, ALU_AND_K, Insn, JEQ_K, JGE_K, JGT_K, LD_B_ABS, LD_H_ABS, LD_H_IND, LD_W_ABS,
    LDX_B_MSH, RET_K, run,
};

/// A filter error with the offending word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid filter: {}", self.0)
    }
}

impl std::error::Error for FilterError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    Either,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    B(u32),
    H(u32),
    W(u32),
    /// Half-word at `k` past the IPv4 header (Ethernet + IHL).
    HAfterIp(u32),
}

/// The expression tree; leaves are single comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Eq(Load, u32, u32),
    Ge(Load, u32),
    Gt(Load, u32),
}

fn and(a: Expr, b: Expr) -> Expr {
    Expr::And(Box::new(a), Box::new(b))
}
fn or(a: Expr, b: Expr) -> Expr {
    Expr::Or(Box::new(a), Box::new(b))
}
fn not(a: Expr) -> Expr {
    Expr::Not(Box::new(a))
}
fn is_ip() -> Expr {
    Expr::Eq(Load::H(12), u32::MAX, 0x0800)
}
fn is_ip6() -> Expr {
    Expr::Eq(Load::H(12), u32::MAX, 0x86dd)
}
fn is_arp() -> Expr {
    Expr::Eq(Load::H(12), u32::MAX, 0x0806)
}
/// IPv4 protocol `p`.
fn proto4(p: u32) -> Expr {
    and(is_ip(), Expr::Eq(Load::B(23), u32::MAX, p))
}
/// IPv6 next header `p`.
fn proto6(p: u32) -> Expr {
    and(is_ip6(), Expr::Eq(Load::B(20), u32::MAX, p))
}
/// Protocol `p` over either IP version.
fn proto(p: u32) -> Expr {
    or(proto4(p), proto6(p))
}
fn first_fragment() -> Expr {
    Expr::Eq(Load::H(20), 0x1fff, 0)
}

fn dir_either(dir: Dir, src: Expr, dst: Expr) -> Expr {
    match dir {
        Dir::Src => src,
        Dir::Dst => dst,
        Dir::Either => or(src, dst),
    }
}

/// IPv6 address `a` under prefix `len`: the masked words of the source (offset 22) or
/// destination (38).
fn host6(dir: Dir, a: Ipv6Addr, len: u32) -> Expr {
    let words = |base: u32| {
        let o = a.octets();
        (0..4u32)
            .filter_map(|i| {
                let bits = len.saturating_sub(i * 32).min(32);
                if bits == 0 {
                    return None;
                }
                let mask = if bits == 32 {
                    u32::MAX
                } else {
                    u32::MAX << (32 - bits)
                };
                let i = i as usize;
                let w = u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]);
                Some(Expr::Eq(Load::W(base + 4 * i as u32), mask, w & mask))
            })
            .reduce(and)
            .unwrap_or_else(is_ip6)
    };
    and(is_ip6(), dir_either(dir, words(22), words(38)))
}

fn host(dir: Dir, a: u32, mask: u32) -> Expr {
    let a = a & mask;
    let ip = dir_either(
        dir,
        Expr::Eq(Load::W(26), mask, a),
        Expr::Eq(Load::W(30), mask, a),
    );
    let arp = dir_either(
        dir,
        Expr::Eq(Load::W(28), mask, a),
        Expr::Eq(Load::W(38), mask, a),
    );
    or(and(is_ip(), ip), and(is_arp(), arp))
}

fn port(dir: Dir, lo: u16, hi: u16, protos: &[u32]) -> Expr {
    let cmp = |off: u32| {
        if lo == hi {
            Expr::Eq(Load::HAfterIp(off), u32::MAX, lo as u32)
        } else {
            and(
                Expr::Ge(Load::HAfterIp(off), lo as u32),
                not(Expr::Gt(Load::HAfterIp(off), hi as u32)),
            )
        }
    };
    let any_of = |off: u32| {
        protos
            .iter()
            .map(|&p| Expr::Eq(Load::B(off), u32::MAX, p))
            .reduce(or)
            .unwrap_or(Expr::Eq(Load::B(off), u32::MAX, 6))
    };
    let v4 = and(
        and(and(is_ip(), any_of(23)), first_fragment()),
        dir_either(dir, cmp(0), cmp(2)),
    );
    let cmp6 = |off: u32| {
        let at = Load::H(54 + off);
        if lo == hi {
            Expr::Eq(at, u32::MAX, lo as u32)
        } else {
            and(Expr::Ge(at, lo as u32), not(Expr::Gt(at, hi as u32)))
        }
    };
    let v6 = and(and(is_ip6(), any_of(20)), dir_either(dir, cmp6(0), cmp6(2)));
    or(v4, v6)
}

/// A compiled filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The expression as given.
    pub text: String,
    /// The BPF program.
    pub program: Vec<Insn>,
}

impl Filter {
    /// Compiles `text`; an empty text accepts everything.
    pub fn compile(text: &str) -> Result<Filter, FilterError> {
        let toks = tokenize(text)?;
        let program = if toks.is_empty() {
            vec![Insn {
                code: RET_K,
                jt: 0,
                jf: 0,
                k: ACCEPT,
            }]
        } else {
            let mut p = Parser { toks: &toks, i: 0 };
            let e = p.expr()?;
            if let Some(t) = p.toks.get(p.i) {
                return Err(FilterError(format!("unexpected '{t}'")));
            }
            codegen(&e)?
        };
        Ok(Filter {
            text: text.to_string(),
            program,
        })
    }

    /// The program in the form the kernel takes (SO_ATTACH_FILTER).
    pub fn socket_program(&self) -> Vec<socket2::SockFilter> {
        crate::link::bpf::to_socket(&self.program)
    }

    /// Runs the program on a frame, as the kernel would: true when it matches.
    pub fn matches(&self, pkt: &[u8]) -> bool {
        run(&self.program, pkt) != 0
    }
}

fn tokenize(s: &str) -> Result<Vec<String>, FilterError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            '(' | ')' | '!' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            '&' | '|' => {
                if chars.peek() != Some(&c) {
                    return Err(FilterError(format!("'{c}' must be doubled ('{c}{c}')")));
                }
                chars.next();
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(if c == '&' { "and".into() } else { "or".into() });
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | ':') => cur.push(c),
            c => return Err(FilterError(format!("unexpected character '{c}'"))),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out
        .into_iter()
        .map(|t| if t == "!" { "not".into() } else { t })
        .collect())
}

struct Parser<'a> {
    toks: &'a [String],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.i).map(String::as_str)
    }

    fn next(&mut self) -> Option<&str> {
        let t = self.toks.get(self.i).map(String::as_str);
        self.i += 1;
        t
    }

    fn expr(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.conj()?;
        while self.peek() == Some("or") {
            self.i += 1;
            e = or(e, self.conj()?);
        }
        Ok(e)
    }

    fn conj(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.unary()?;
        while self.peek() == Some("and") {
            self.i += 1;
            e = and(e, self.unary()?);
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        match self.peek() {
            Some("not") => {
                self.i += 1;
                Ok(not(self.unary()?))
            }
            Some("(") => {
                self.i += 1;
                let e = self.expr()?;
                match self.next() {
                    Some(")") => Ok(e),
                    Some(t) => Err(FilterError(format!("expected ')', found '{t}'"))),
                    None => Err(FilterError("missing ')'".into())),
                }
            }
            Some(_) => self.primitive(),
            None => Err(FilterError("expression ends too early".into())),
        }
    }

    fn primitive(&mut self) -> Result<Expr, FilterError> {
        let mut protos: Vec<u32> = Vec::new();
        let mut proto_expr: Option<Expr> = None;
        // The family a protocol word allows (`ip`, `icmp`: IPv4; `ip6`, `icmp6`: IPv6).
        let mut family: Option<bool> = None;
        let word = self.peek().unwrap_or("").to_string();
        match self.peek() {
            Some("ip") => {
                self.i += 1;
                proto_expr = Some(is_ip());
                family = Some(false);
            }
            Some("ip6") => {
                self.i += 1;
                proto_expr = Some(is_ip6());
                family = Some(true);
            }
            Some("icmp6") => {
                self.i += 1;
                proto_expr = Some(proto6(58));
                family = Some(true);
            }
            Some("arp") => {
                self.i += 1;
                proto_expr = Some(is_arp());
                family = Some(false);
            }
            Some("tcp") => {
                self.i += 1;
                protos = vec![6];
                proto_expr = Some(proto(6));
            }
            Some("udp") => {
                self.i += 1;
                protos = vec![17];
                proto_expr = Some(proto(17));
            }
            Some("icmp") => {
                self.i += 1;
                proto_expr = Some(proto4(1));
                family = Some(false);
            }
            _ => {}
        }
        let dir = match self.peek() {
            Some("src") => {
                self.i += 1;
                Dir::Src
            }
            Some("dst") => {
                self.i += 1;
                Dir::Dst
            }
            _ => Dir::Either,
        };
        let qualifier = match self.peek() {
            Some(k @ ("host" | "net" | "port" | "portrange")) => {
                let k = k.to_string();
                self.i += 1;
                Some(k)
            }
            _ => None,
        };
        if qualifier.is_none() && dir == Dir::Either {
            // `tcp` alone, or a bare address.
            if let Some(p) = proto_expr {
                return Ok(p);
            }
        }
        let value = self
            .next()
            .ok_or_else(|| FilterError("a value is missing at the end".into()))?
            .to_string();
        if matches!(qualifier.as_deref(), Some("port" | "portrange"))
            && proto_expr.is_some()
            && protos.is_empty()
        {
            return Err(FilterError("'port' goes only with tcp or udp".into()));
        }
        let prim = match qualifier.as_deref() {
            Some("port") => {
                let p = parse_port(&value)?;
                port(
                    dir,
                    p,
                    p,
                    if protos.is_empty() { &[6, 17] } else { &protos },
                )
            }
            Some("portrange") => {
                let (a, b) = value
                    .split_once('-')
                    .ok_or_else(|| FilterError(format!("'{value}' is not a port range A-B")))?;
                let (lo, hi) = (parse_port(a)?, parse_port(b)?);
                if hi < lo {
                    return Err(FilterError(format!("reversed port range '{value}'")));
                }
                port(
                    dir,
                    lo,
                    hi,
                    if protos.is_empty() { &[6, 17] } else { &protos },
                )
            }
            Some("net") => {
                let (a, len) = value
                    .split_once('/')
                    .ok_or_else(|| FilterError(format!("'{value}' is not a network ADDR/LEN")))?;
                if let Ok(a6) = a.parse::<Ipv6Addr>() {
                    check_family(family, true, &word, &value)?;
                    let len: u32 = len.parse().ok().filter(|l| *l <= 128).ok_or_else(|| {
                        FilterError(format!("'/{len}' is not a prefix length (0-128)"))
                    })?;
                    let host_bits = u128::MAX.checked_shr(len).unwrap_or(0);
                    if u128::from(a6) & host_bits != 0 {
                        return Err(FilterError(format!(
                            "'{value}' has host bits set (non-network bits)"
                        )));
                    }
                    host6(dir, a6, len)
                } else {
                    check_family(family, false, &word, &value)?;
                    let a: Ipv4Addr = a.parse().map_err(|_| {
                        FilterError(format!("'{a}' is not an IPv4 or IPv6 address"))
                    })?;
                    let len: u32 = len.parse().ok().filter(|l| *l <= 32).ok_or_else(|| {
                        FilterError(format!("'/{len}' is not a prefix length (0-32)"))
                    })?;
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                    if u32::from(a) & !mask != 0 {
                        return Err(FilterError(format!(
                            "'{value}' has host bits set (non-network bits)"
                        )));
                    }
                    host(dir, u32::from(a), mask)
                }
            }
            _ => {
                let a: IpAddr = value.parse().map_err(|_| {
                    FilterError(format!("'{value}' is not an IP address or a known word"))
                })?;
                check_family(family, a.is_ipv6(), &word, &value)?;
                match a {
                    IpAddr::V4(a) => host(dir, u32::from(a), u32::MAX),
                    IpAddr::V6(a) => host6(dir, a, 128),
                }
            }
        };
        Ok(match (proto_expr, qualifier.as_deref()) {
            (Some(p), Some("host" | "net") | None) => and(p, prim),
            _ => prim,
        })
    }
}

/// An address of the other family than the protocol word's (`ip host fd00::1`) would never
/// match: an error instead.
fn check_family(
    family: Option<bool>,
    v6: bool,
    word: &str,
    value: &str,
) -> Result<(), FilterError> {
    match family {
        Some(f) if f != v6 => Err(FilterError(format!(
            "'{word}' cannot match the {} address '{value}'",
            if v6 { "IPv6" } else { "IPv4" }
        ))),
        _ => Ok(()),
    }
}

fn parse_port(s: &str) -> Result<u16, FilterError> {
    s.parse()
        .map_err(|_| FilterError(format!("'{s}' is not a port (0-65535)")))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Label(usize),
}

struct Gen {
    insns: Vec<(u16, Option<Target>, Option<Target>, u32)>,
    labels: Vec<Option<usize>>,
}

impl Gen {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn place(&mut self, l: usize) {
        self.labels[l] = Some(self.insns.len());
    }

    fn load(&mut self, l: Load) {
        match l {
            Load::B(k) => self.insns.push((LD_B_ABS, None, None, k)),
            Load::H(k) => self.insns.push((LD_H_ABS, None, None, k)),
            Load::W(k) => self.insns.push((LD_W_ABS, None, None, k)),
            Load::HAfterIp(k) => {
                self.insns.push((LDX_B_MSH, None, None, 14));
                self.insns.push((LD_H_IND, None, None, 14 + k));
            }
        }
    }

    fn emit(&mut self, e: &Expr, t: usize, f: usize) {
        match e {
            Expr::And(a, b) => {
                let m = self.label();
                self.emit(a, m, f);
                self.place(m);
                self.emit(b, t, f);
            }
            Expr::Or(a, b) => {
                let m = self.label();
                self.emit(a, t, m);
                self.place(m);
                self.emit(b, t, f);
            }
            Expr::Not(a) => self.emit(a, f, t),
            Expr::Eq(l, mask, v) => {
                self.load(*l);
                if *mask != u32::MAX {
                    self.insns.push((ALU_AND_K, None, None, *mask));
                }
                self.insns
                    .push((JEQ_K, Some(Target::Label(t)), Some(Target::Label(f)), *v));
            }
            Expr::Ge(l, v) => {
                self.load(*l);
                self.insns
                    .push((JGE_K, Some(Target::Label(t)), Some(Target::Label(f)), *v));
            }
            Expr::Gt(l, v) => {
                self.load(*l);
                self.insns
                    .push((JGT_K, Some(Target::Label(t)), Some(Target::Label(f)), *v));
            }
        }
    }
}

fn codegen(e: &Expr) -> Result<Vec<Insn>, FilterError> {
    let mut g = Gen {
        insns: Vec::new(),
        labels: Vec::new(),
    };
    let (acc, rej) = (g.label(), g.label());
    g.emit(e, acc, rej);
    g.place(acc);
    g.insns.push((RET_K, None, None, ACCEPT));
    g.place(rej);
    g.insns.push((RET_K, None, None, 0));
    let mut out = Vec::with_capacity(g.insns.len());
    for (i, (code, jt, jf, k)) in g.insns.iter().enumerate() {
        let off = |t: Option<Target>| -> Result<u8, FilterError> {
            match t {
                None => Ok(0),
                Some(Target::Label(l)) => {
                    let at = g.labels[l].unwrap_or(i + 1);
                    u8::try_from(at - (i + 1))
                        .map_err(|_| FilterError("expression too long for a BPF jump".into()))
                }
            }
        };
        out.push(Insn {
            code: *code,
            jt: off(*jt)?,
            jf: off(*jf)?,
            k: *k,
        });
    }
    if out.len() > 4096 {
        return Err(FilterError("expression too long".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SYN-ACK 127.0.0.1:22 > 127.0.0.1:40000.
    const TCP: [u8; 54] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0,
        127, 0, 0, 1, 127, 0, 0, 1, 0, 22, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12, 0, 0, 0,
        0, 0, 0,
    ];

    fn udp_from_10() -> Vec<u8> {
        let mut f = TCP.to_vec();
        f[23] = 17;
        f[26..30].copy_from_slice(&[10, 1, 2, 3]);
        f[34..36].copy_from_slice(&53u16.to_be_bytes());
        f
    }

    fn arp() -> Vec<u8> {
        let mut f = vec![0xffu8; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        f
    }

    #[test]
    fn table() {
        let cases: &[(&str, bool, bool, bool)] = &[
            // (filter, matches TCP, matches UDP from 10.1.2.3, matches ARP 10.0.0.1 > 10.0.0.2)
            ("", true, true, true),
            ("tcp", true, false, false),
            ("udp", false, true, false),
            ("arp", false, false, true),
            ("ip", true, true, false),
            ("icmp", false, false, false),
            ("port 22", true, false, false),
            ("tcp port 22", true, false, false),
            ("udp port 22", false, false, false),
            ("src port 22", true, false, false),
            ("dst port 22", false, false, false),
            ("port 40000", true, true, false),
            ("portrange 20-30", true, false, false),
            ("portrange 50-60", false, true, false),
            ("host 127.0.0.1", true, true, false),
            ("src host 10.1.2.3", false, true, false),
            ("host 10.0.0.2", false, false, true),
            ("dst host 10.0.0.1", false, false, false),
            ("net 10.0.0.0/8", false, true, true),
            ("src net 127.0.0.0/8", true, false, false),
            ("10.1.2.3", false, true, false),
            ("tcp and port 22", true, false, false),
            ("tcp && !port 22", false, false, false),
            ("not tcp", false, true, true),
            ("(udp or arp) and not host 10.0.0.2", false, true, false),
            ("tcp or udp", true, true, false),
            ("ip and (port 53 or port 22)", true, true, false),
        ];
        for (f, t, u, a) in cases {
            let filt = Filter::compile(f).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(filt.matches(&TCP), *t, "{f} on TCP");
            assert_eq!(filt.matches(&udp_from_10()), *u, "{f} on UDP");
            assert_eq!(filt.matches(&arp()), *a, "{f} on ARP");
        }
    }

    /// A SYN-ACK fd00::2:443 > fd00::1:40000 (IPv6), and an ICMPv6 echo request.
    fn tcp6() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 20, 6, 64]);
        f.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(&"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(&[1, 0xbb, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x50, 0x12]);
        f.extend_from_slice(&[0; 6]);
        f
    }

    fn echo6() -> Vec<u8> {
        let mut f = tcp6();
        f[20] = 58;
        f.truncate(54);
        f.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
        f
    }

    #[test]
    fn ipv6_table() {
        let cases: &[(&str, bool, bool, bool)] = &[
            // (filter, matches TCP6, matches echo6, matches IPv4 TCP)
            ("ip6", true, true, false),
            ("ip", false, false, true),
            ("tcp", true, false, true),
            ("icmp6", false, true, false),
            ("icmp", false, false, false),
            ("port 443", true, false, false),
            ("tcp src port 443", true, false, false),
            ("dst port 40000", true, false, true),
            ("portrange 400-500", true, false, false),
            ("host fd00::1", true, true, false),
            ("src host fd00::1", false, false, false),
            ("ip6 src host fd00::2", true, true, false),
            ("net fd00::/16", true, true, false),
            ("dst net fd00::/127", true, true, false),
            ("dst net fd00::2/127", false, false, false),
            ("net fe80::/10", false, false, false),
            ("net ::/0", true, true, false),
            ("net fd00::1/128", true, true, false),
            ("src net fd00::1/128", false, false, false),
            ("fd00::2 and tcp", true, false, false),
            ("ip6 and not tcp", false, true, false),
            ("host 127.0.0.1 or host fd00::1", true, true, true),
        ];
        for (f, t, e, t4) in cases {
            let filt = Filter::compile(f).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(filt.matches(&tcp6()), *t, "{f} on TCP6");
            assert_eq!(filt.matches(&echo6()), *e, "{f} on echo6");
            assert_eq!(filt.matches(&TCP), *t4, "{f} on TCP");
        }
    }

    #[test]
    fn errors_name_the_word() {
        for (f, needle) in [
            ("tcp port", "missing"),
            ("port 70000", "70000"),
            ("host 1.2.3", "1.2.3"),
            ("net 10.0.0.0/33", "/33"),
            ("net 10.0.0.0", "ADDR/LEN"),
            ("portrange 9-1", "reversed"),
            ("tcp and", "ends too early"),
            ("(tcp", "missing ')'"),
            ("tcp )", "unexpected ')'"),
            ("tcp & udp", "doubled"),
            ("ether host 1", "'ether'"),
            ("tcp # x", "'#'"),
            ("icmp port 80", "only with tcp or udp"),
            ("arp port 80", "only with tcp or udp"),
            ("net 127.0.0.1/8", "host bits"),
            ("net fd00::1/64", "host bits"),
            ("net fd00::/129", "/129"),
            ("net fd00::1/127", "host bits"),
            ("ip host fd00::1", "'ip' cannot match the IPv6 address"),
            ("ip6 host 10.0.0.1", "'ip6' cannot match the IPv4 address"),
            ("icmp6 net 10.0.0.0/8", "'icmp6' cannot match"),
            ("arp host fd00::1", "'arp' cannot match the IPv6 address"),
            ("host fd00::zz", "'fd00::zz'"),
        ] {
            let e = Filter::compile(f).expect_err(f).to_string();
            assert!(e.contains(needle), "{f}: {e}");
        }
    }

    #[test]
    fn short_frames_never_match_port_filters() {
        let f = Filter::compile("port 22").unwrap();
        for n in 0..TCP.len() - 19 {
            assert!(!f.matches(&TCP[..n]), "{n}");
        }
    }
}
