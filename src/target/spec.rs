//! Parsing of one target token as the user typed it (`10.0.0.1`, `10.0.0.0/24`,
//! `10.0.0.1-50`, `10.0.0.1-10.0.0.9`, `::1`, `2001:db8::/120`, `host.example`).
//! No I/O here: hostnames are returned unresolved and resolved by [`super::resolve`].

use crate::error::{Error, Result};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The largest IPv6 network accepted in one token: a /88 (2^40 addresses, the most hosts one
/// scan may hold; a /64 sweep is not a sensible scan).
pub const MAX_V6_PREFIX_HOST_BITS: u8 = 40;

/// One parsed target token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// Inclusive IPv4 range, as integers.
    V4(u32, u32),
    /// Inclusive IPv6 range, as integers.
    V6(u128, u128),
    /// A name to resolve once.
    Host(String),
}

/// Parses one target token; a CIDR covers every address in it (as exclusions need).
pub fn parse_target(token: &str) -> Result<TargetSpec> {
    parse_target_opts(token, true)
}

/// Parses one target token. Without `include_broadcast`, an IPv4 CIDR of /30 or wider leaves
/// out its network and broadcast addresses (`10.0.0.0/24` is `10.0.0.1-254`); ranges and
/// single addresses are taken as written.
pub fn parse_target_opts(token: &str, include_broadcast: bool) -> Result<TargetSpec> {
    match parse_target_all(token)? {
        TargetSpec::V4(s, e) if !include_broadcast && token.contains('/') && e - s >= 3 => {
            Ok(TargetSpec::V4(s + 1, e - 1))
        }
        other => Ok(other),
    }
}

fn parse_target_all(token: &str) -> Result<TargetSpec> {
    let t = token.trim();
    if t.is_empty() {
        return Err(Error::input("empty target"));
    }
    if t.contains(':') {
        return parse_v6(t);
    }
    if t.bytes()
        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'/' || b == b'-')
    {
        return parse_v4_form(t);
    }
    if t.contains('/') {
        return Err(Error::input(format!(
            "invalid target '{t}': a CIDR prefix needs an IP address, not a name"
        )));
    }
    validate_hostname(t)?;
    Ok(TargetSpec::Host(t.trim_end_matches('.').to_string()))
}

/// Parses a dotted quad strictly: four decimal octets, each 0-255.
pub fn parse_v4_addr(s: &str, whole: &str) -> Result<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() != 4 {
        return Err(Error::input(format!(
            "invalid IPv4 address '{s}' in target '{whole}': expected four octets"
        )));
    }
    let mut v: u32 = 0;
    for p in parts {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::input(format!(
                "invalid IPv4 address '{s}' in target '{whole}': bad octet '{p}'"
            )));
        }
        let o: u32 = p
            .parse()
            .map_err(|_| Error::input(format!("invalid octet '{p}' in target '{whole}'")))?;
        if o > 255 {
            return Err(Error::input(format!(
                "invalid IPv4 address '{s}' in target '{whole}': octet {o} is over 255"
            )));
        }
        v = (v << 8) | o;
    }
    Ok(v)
}

fn parse_v4_form(t: &str) -> Result<TargetSpec> {
    if let Some((addr, prefix)) = t.split_once('/') {
        let a = parse_v4_addr(addr, t)?;
        let n: u8 = match prefix.parse() {
            Ok(n) if n <= 32 && !prefix.starts_with('+') => n,
            _ => {
                return Err(Error::input(format!(
                    "invalid CIDR prefix '/{prefix}' in target '{t}' (expected 0-32)"
                )));
            }
        };
        let mask: u32 = if n == 0 { 0 } else { u32::MAX << (32 - n) };
        let start = a & mask;
        return Ok(TargetSpec::V4(start, start | !mask));
    }
    if let Some((from, to)) = t.split_once('-') {
        let start = parse_v4_addr(from, t)?;
        let end = if to.contains('.') {
            parse_v4_addr(to, t)?
        } else {
            if to.is_empty() || to.len() > 3 || !to.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::input(format!(
                    "invalid range end '{to}' in target '{t}'"
                )));
            }
            let last: u32 = to
                .parse()
                .map_err(|_| Error::input(format!("invalid range end '{to}' in target '{t}'")))?;
            if last > 255 {
                return Err(Error::input(format!(
                    "invalid range end '{to}' in target '{t}': octet {last} is over 255"
                )));
            }
            (start & 0xffff_ff00) | last
        };
        if end < start {
            return Err(Error::input(format!(
                "reversed range '{t}': {} is after {}",
                Ipv4Addr::from(start),
                Ipv4Addr::from(end)
            )));
        }
        return Ok(TargetSpec::V4(start, end));
    }
    let a = parse_v4_addr(t, t)?;
    Ok(TargetSpec::V4(a, a))
}

fn parse_v6(t: &str) -> Result<TargetSpec> {
    let v6 = |addr: &str| -> Result<u128> {
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        addr.parse::<Ipv6Addr>()
            .map(u128::from)
            .map_err(|_| Error::input(format!("invalid IPv6 address '{addr}' in target '{t}'")))
    };
    // A range of full addresses, as masscan writes it: fd00::1-fd00::ff.
    if let Some((a, b)) = t.split_once('-') {
        let (start, end) = (v6(a)?, v6(b)?);
        if end < start {
            return Err(Error::input(format!(
                "reversed IPv6 range '{t}' (the first address must come first)"
            )));
        }
        if end - start >= 1u128 << MAX_V6_PREFIX_HOST_BITS {
            return Err(Error::input(format!(
                "IPv6 range '{t}' holds more than 2^{MAX_V6_PREFIX_HOST_BITS} addresses, the most one scan may hold"
            )));
        }
        return Ok(TargetSpec::V6(start, end));
    }
    let (addr, prefix) = match t.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (t, None),
    };
    let a = v6(addr)?;
    let Some(prefix) = prefix else {
        return Ok(TargetSpec::V6(a, a));
    };
    let n: u8 = match prefix.parse() {
        Ok(n) if n <= 128 && !prefix.starts_with('+') => n,
        _ => {
            return Err(Error::input(format!(
                "invalid CIDR prefix '/{prefix}' in target '{t}' (expected 0-128)"
            )));
        }
    };
    if 128 - n > MAX_V6_PREFIX_HOST_BITS {
        return Err(Error::input(format!(
            "IPv6 network '{t}' is too large to scan: 2^{} addresses, more than the 2^{MAX_V6_PREFIX_HOST_BITS} one scan may hold (at most /{})",
            128 - n,
            128 - MAX_V6_PREFIX_HOST_BITS
        )));
    }
    let mask: u128 = if n == 0 { 0 } else { u128::MAX << (128 - n) };
    let start = a & mask;
    Ok(TargetSpec::V6(start, start | !mask))
}

fn validate_hostname(t: &str) -> Result<()> {
    let name = t.trim_end_matches('.');
    let bad = |why: &str| Err(Error::input(format!("invalid target '{t}': {why}")));
    if name.is_empty() || name.len() > 253 {
        return bad("not an address and not a valid host name");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return bad("host name has an empty or over-long label");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad("host name has a character that is not a letter, digit or '-'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("host name label starts or ends with '-'");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: &str) -> u32 {
        u32::from(a.parse::<Ipv4Addr>().unwrap())
    }

    #[test]
    fn ipv4_forms() {
        assert_eq!(
            parse_target("10.0.0.1").unwrap(),
            TargetSpec::V4(v4("10.0.0.1"), v4("10.0.0.1"))
        );
        assert_eq!(
            parse_target("10.0.0.0/24").unwrap(),
            TargetSpec::V4(v4("10.0.0.0"), v4("10.0.0.255"))
        );
        assert_eq!(
            parse_target("10.0.0.77/24").unwrap(),
            TargetSpec::V4(v4("10.0.0.0"), v4("10.0.0.255"))
        );
        assert_eq!(
            parse_target("0.0.0.0/0").unwrap(),
            TargetSpec::V4(0, u32::MAX)
        );
        assert_eq!(
            parse_target("10.0.0.5/32").unwrap(),
            TargetSpec::V4(v4("10.0.0.5"), v4("10.0.0.5"))
        );
        assert_eq!(
            parse_target("10.0.0.1-10.0.0.50").unwrap(),
            TargetSpec::V4(v4("10.0.0.1"), v4("10.0.0.50"))
        );
        assert_eq!(
            parse_target("10.0.0.1-50").unwrap(),
            TargetSpec::V4(v4("10.0.0.1"), v4("10.0.0.50"))
        );
        assert_eq!(
            parse_target("10.0.0.255-10.0.1.2").unwrap(),
            TargetSpec::V4(v4("10.0.0.255"), v4("10.0.1.2"))
        );
    }

    #[test]
    fn broadcast_and_network_addresses_of_a_cidr() {
        assert_eq!(
            parse_target_opts("10.0.0.0/24", false).unwrap(),
            TargetSpec::V4(v4("10.0.0.1"), v4("10.0.0.254"))
        );
        assert_eq!(
            parse_target_opts("10.0.0.0/24", true).unwrap(),
            TargetSpec::V4(v4("10.0.0.0"), v4("10.0.0.255"))
        );
        assert_eq!(
            parse_target_opts("10.0.0.0/31", false).unwrap(),
            TargetSpec::V4(v4("10.0.0.0"), v4("10.0.0.1"))
        );
        assert_eq!(
            parse_target_opts("10.0.0.0-10.0.0.255", false).unwrap(),
            TargetSpec::V4(v4("10.0.0.0"), v4("10.0.0.255"))
        );
    }

    #[test]
    fn ipv6_and_names() {
        assert_eq!(parse_target("::1").unwrap(), TargetSpec::V6(1, 1));
        assert_eq!(parse_target("[::1]").unwrap(), TargetSpec::V6(1, 1));
        let TargetSpec::V6(s, e) = parse_target("2001:db8::/120").unwrap() else {
            panic!("not v6")
        };
        assert_eq!(e - s, 255);
        assert_eq!(
            parse_target("fd00::1-fd00::ff").unwrap(),
            TargetSpec::V6(0xfd00 << 112 | 1, 0xfd00 << 112 | 0xff)
        );
        assert!(
            parse_target("fd00::/104").is_ok(),
            "a /104 is a sensible sweep"
        );
        assert_eq!(
            parse_target("localhost").unwrap(),
            TargetSpec::Host("localhost".into())
        );
        assert_eq!(
            parse_target("scanme.example.org.").unwrap(),
            TargetSpec::Host("scanme.example.org".into())
        );
    }

    #[test]
    fn malformed_targets_name_the_problem() {
        let cases = [
            ("10.0.0.0/33", "/33"),
            ("1.2.3", "1.2.3"),
            ("300.1.1.1", "300"),
            ("10.0.0.9-3", "10.0.0.9-3"),
            ("10.0.0.1-256", "256"),
            ("10.0.0.1-", "''"),
            ("1.2.3.4.5", "1.2.3.4.5"),
            ("1..2.3", "''"),
            ("10.0.0.0/", "'/'"),
            ("10.0.0.0/-1", "10.0.0.0/-1"),
            ("10.0.0.5-10.0.0.1", "10.0.0.5-10.0.0.1"),
            ("::g", "::g"),
            ("2001:db8::/64", "2^64 addresses, more than the 2^40"),
            ("fd00::9-fd00::1", "reversed"),
            ("fd00::1-fd01::", "more than 2^40"),
            ("fd00::1-zz", "'zz'"),
            ("::1/129", "/129"),
            ("host name", "host name"),
            ("bad_-.example", "bad_-.example"),
            ("-foo", "-foo"),
            ("name.example/24", "name.example/24"),
            ("", "empty"),
        ];
        for (input, needle) in cases {
            let err = parse_target(input).expect_err(input).to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
