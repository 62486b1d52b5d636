//! Port lists: `-p 22,80,1000-2000`, `-p-`, `-p -100`, `-p 8000-`, `-p T:80`, service names
//! (`-p http,ssh`), and `--top-ports N` from the ranked list shipped in `data/`.

use crate::error::{Error, Result};
use crate::services;

/// The ranked list of common TCP ports, most common first (provenance: docs/data-sources.md).
const TOP_PORTS: &str = include_str!("../../data/top-tcp-ports.txt");
const TOP_UDP_PORTS: &str = include_str!("../../data/top-udp-ports.txt");

/// A de-duplicated, ascending list of TCP ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortList {
    ports: Vec<u16>,
}

impl PortList {
    /// Builds a list from any ports (sorted and de-duplicated here).
    pub fn from_ports(mut ports: Vec<u16>) -> PortList {
        ports.sort_unstable();
        ports.dedup();
        PortList { ports }
    }

    /// Parses an nmap-style port expression (service names from the TCP table).
    pub fn parse(expr: &str) -> Result<PortList> {
        PortList::parse_names(expr, crate::event::Proto::Tcp)
    }

    /// Parses an nmap-style port expression, service names from `proto`'s table.
    pub fn parse_names(expr: &str, proto: crate::event::Proto) -> Result<PortList> {
        let whole = expr;
        let expr = expr.trim();
        if expr.is_empty() {
            return Err(Error::input("empty port list"));
        }
        let mut ports = Vec::new();
        for item in expr.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(Error::input(format!("empty item in port list '{whole}'")));
            }
            let item = match item.split_once(':') {
                Some(("T" | "t", rest)) => rest,
                Some((proto, _)) => {
                    return Err(Error::input(format!(
                        "unexpected protocol '{proto}:' in port list '{whole}'"
                    )));
                }
                None => item,
            };
            if item.bytes().any(|b| b.is_ascii_alphabetic()) {
                let found = services::ports_for_name(item, proto);
                if found.is_empty() {
                    return Err(Error::input(format!(
                        "unknown port or service name '{item}' in port list '{whole}'"
                    )));
                }
                ports.extend(found);
                continue;
            }
            let (lo, hi) = match item.split_once('-') {
                None => {
                    let p = parse_port(item, whole)?;
                    (p, p)
                }
                Some((a, b)) => {
                    let lo = if a.is_empty() {
                        1
                    } else {
                        parse_port(a, whole)?
                    };
                    let hi = if b.is_empty() {
                        65535
                    } else {
                        parse_port(b, whole)?
                    };
                    if hi < lo {
                        return Err(Error::input(format!(
                            "reversed port range '{item}' in port list '{whole}'"
                        )));
                    }
                    (lo, hi)
                }
            };
            ports.extend(lo..=hi);
        }
        Ok(PortList::from_ports(ports))
    }

    /// Parses nmap's per-protocol form, `-p U:53,161,T:22,80`: a `T:` or `U:` prefix applies
    /// to its item and those after it up to the next prefix; items before any prefix apply
    /// to both. Returns the TCP and the UDP items (`None`: no item for that protocol).
    pub fn parse_by_proto(expr: &str) -> Result<(Option<PortList>, Option<PortList>)> {
        let whole = expr;
        let (mut tcp, mut udp) = (Vec::new(), Vec::new());
        let mut current: Option<char> = None;
        let raw_item_prefixed = |i: &str| i.contains(':');
        for raw in expr.trim().split(',') {
            let raw = raw.trim();
            let item = match raw.split_once(':') {
                Some((p, rest)) if p.eq_ignore_ascii_case("t") => {
                    current = Some('T');
                    rest
                }
                Some((p, rest)) if p.eq_ignore_ascii_case("u") => {
                    current = Some('U');
                    rest
                }
                Some((p, _)) => {
                    return Err(Error::input(format!(
                        "unsupported protocol '{p}:' in port list '{whole}' (T: for TCP, U: for UDP)"
                    )));
                }
                None => raw,
            };
            if item.is_empty() {
                return Err(Error::input(match current {
                    Some(p) if raw_item_prefixed(raw) => {
                        format!("no port after '{p}:' in port list '{whole}'")
                    }
                    _ => format!("empty item in port list '{whole}'"),
                }));
            }
            match current {
                Some('T') => tcp.push(item),
                Some(_) => udp.push(item),
                None => {
                    tcp.push(item);
                    udp.push(item);
                }
            }
        }
        let list = |items: Vec<&str>, proto| -> Result<Option<PortList>> {
            if items.is_empty() {
                return Ok(None);
            }
            let joined = items.join(",");
            // The messages quote the list they parsed: quote the user's instead.
            PortList::parse_names(&joined, proto)
                .map(Some)
                .map_err(|e| {
                    Error::input(
                        e.to_string()
                            .replace(&format!("'{joined}'"), &format!("'{whole}'")),
                    )
                })
        };
        Ok((
            list(tcp, crate::event::Proto::Tcp)?,
            list(udp, crate::event::Proto::Udp)?,
        ))
    }

    /// Number of ports.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// The port at `index` in ascending order.
    pub fn get(&self, index: usize) -> Option<u16> {
        self.ports.get(index).copied()
    }

    /// The ports, ascending.
    pub fn as_slice(&self) -> &[u16] {
        &self.ports
    }

    /// The index of `port` (the inverse of [`PortList::get`]).
    pub fn index_of(&self, port: u16) -> Option<usize> {
        self.ports.binary_search(&port).ok()
    }

    /// True when `port` is in the list.
    pub fn contains(&self, port: u16) -> bool {
        self.ports.binary_search(&port).is_ok()
    }

    /// The list written back compactly (`1-1024,8080`), as nmap's `scaninfo` shows it.
    pub fn compact(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < self.ports.len() {
            let start = self.ports[i];
            let mut j = i;
            while j + 1 < self.ports.len() && self.ports[j + 1] == self.ports[j] + 1 {
                j += 1;
            }
            if !out.is_empty() {
                out.push(',');
            }
            if j == i {
                out.push_str(&start.to_string());
            } else {
                out.push_str(&format!("{start}-{}", self.ports[j]));
            }
            i = j + 1;
        }
        out
    }
}

/// The shipped ranking, most common first.
pub(super) fn top_ranking(proto: crate::event::Proto) -> impl Iterator<Item = u16> {
    let text = match proto {
        crate::event::Proto::Tcp => TOP_PORTS,
        crate::event::Proto::Udp => TOP_UDP_PORTS,
    };
    text.lines().filter_map(|l| l.trim().parse().ok())
}

fn parse_port(s: &str, whole: &str) -> Result<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::input(format!(
            "invalid port '{s}' in port list '{whole}'"
        )));
    }
    match s.parse::<u32>() {
        Ok(p) if p <= 65535 => Ok(p as u16),
        _ => Err(Error::input(format!(
            "port {s} out of range (0-65535) in port list '{whole}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<u16> {
        PortList::parse(s).unwrap().as_slice().to_vec()
    }

    #[test]
    fn forms() {
        assert_eq!(p("22"), vec![22]);
        assert_eq!(p("22,80,443"), vec![22, 80, 443]);
        assert_eq!(p("80,22,80"), vec![22, 80]);
        assert_eq!(p("1000-1003"), vec![1000, 1001, 1002, 1003]);
        assert_eq!(p("-").len(), 65535);
        assert_eq!(p("-")[0], 1);
        assert_eq!(p("-3"), vec![1, 2, 3]);
        assert_eq!(p("65534-"), vec![65534, 65535]);
        assert_eq!(p("0"), vec![0]);
        assert_eq!(p("0-2"), vec![0, 1, 2]);
        assert_eq!(p("T:80, 22"), vec![22, 80]);
        assert_eq!(p("ssh"), vec![22]);
        assert_eq!(p("http,22"), vec![22, 80]);
        assert_eq!(p("1-65535").len(), 65535);
    }

    #[test]
    fn compact() {
        assert_eq!(PortList::parse("1-3,5,7-8").unwrap().compact(), "1-3,5,7-8");
        assert_eq!(PortList::parse("80").unwrap().compact(), "80");
    }

    #[test]
    fn malformed() {
        let cases = [
            ("70000", "70000"),
            ("5-1", "5-1"),
            (",", "empty item"),
            ("", "empty"),
            ("22,", "empty item"),
            ("1-2-3", "2-3"),
            ("99999999999999999999", "99999999999999999999"),
            ("U:53", "U:"),
            ("notaservice", "notaservice"),
            ("+5", "+5"),
            ("65536-", "65536"),
            ("--", "invalid port '-'"),
        ];
        for (input, needle) in cases {
            let err = PortList::parse(input).expect_err(input).to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
