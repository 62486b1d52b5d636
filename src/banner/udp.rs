//! UDP answers into the same service and banner fields: the DNS server's `version.bind`,
//! SNMP's sysDescr, NTP's version and stratum. The answers were already matched to our
//! probes by the UDP module; these parsers only read them (untrusted, fuzzed).

use super::escape::escape;
use super::{Banner, Identified, Service};
use crate::event::Proto;

/// The service a UDP answer from `port` shows.
pub fn identify(port: u16, data: &[u8]) -> Identified {
    let found = match port {
        53 | 5353 => dns_txt(data).map(|txt| {
            let mut s = Service::probed("domain");
            // dnsmasq-2.89, or BIND's "9.18.28-1~deb12u2-Debian".
            if let Some(v) = txt.strip_prefix("dnsmasq-") {
                s.product = Some("dnsmasq".into());
                s.version = Some(v.to_string());
            } else if txt.starts_with(|c: char| c.is_ascii_digit()) {
                s.product = Some("ISC BIND".into());
                s.version = Some(txt.clone());
            }
            (s, txt)
        }),
        161 => snmp_sys_descr(data).map(|d| (Service::probed("snmp"), d)),
        123 => ntp(data).map(|(v, stratum)| {
            let mut s = Service::probed("ntp");
            s.product = Some("NTP".into());
            s.version = Some(format!("v{v}"));
            s.extrainfo = Some(format!("stratum {stratum}"));
            (s, format!("NTP v{v}, stratum {stratum}"))
        }),
        _ => None,
    };
    match found {
        Some((s, text)) => Identified::new(
            s,
            Banner {
                udp: Some(text),
                ..Banner::default()
            },
        ),
        None => {
            let mut id = Identified::table(port, Proto::Udp);
            if !data.is_empty() {
                id.banner = Some(Banner {
                    raw: Some(escape(data, 256)),
                    ..Banner::default()
                });
            }
            id
        }
    }
}

/// The first TXT answer of a DNS response (escaped).
pub fn dns_txt(b: &[u8]) -> Option<String> {
    if b.len() < 12 || b[2] & 0x80 == 0 {
        return None;
    }
    let qd = u16::from_be_bytes([b[4], b[5]]);
    let an = u16::from_be_bytes([b[6], b[7]]);
    let mut at = 12;
    for _ in 0..qd.min(8) {
        at = skip_name(b, at)? + 4;
    }
    for _ in 0..an.min(16) {
        at = skip_name(b, at)?;
        let rr = b.get(at..at + 10)?;
        let rtype = u16::from_be_bytes([rr[0], rr[1]]);
        let len = usize::from(u16::from_be_bytes([rr[8], rr[9]]));
        let data = b.get(at + 10..at + 10 + len)?;
        at += 10 + len;
        if rtype == 16 {
            let n = usize::from(*data.first()?);
            let text = data.get(1..1 + n)?;
            return Some(escape(text, 255));
        }
    }
    None
}

/// The offset after a (possibly compressed) name at `at`.
fn skip_name(b: &[u8], mut at: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *b.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2).filter(|&e| e <= b.len()),
            l if l & 0xc0 == 0 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
    None
}

/// One BER TLV at the start of `b`: (tag, value, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)?;
    let (len, head) = if first & 0x80 == 0 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = len << 8 | usize::from(*b.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let value = b.get(head..head.checked_add(len)?)?;
    Some((tag, value, &b[head + len..]))
}

/// sysDescr.0 (1.3.6.1.2.1.1.1.0) from an SNMP GetResponse (v1 or v2c).
pub fn snmp_sys_descr(b: &[u8]) -> Option<String> {
    const OID: &[u8] = &[0x2b, 6, 1, 2, 1, 1, 1, 0];
    // Message: SEQUENCE { version, community, GetResponse-PDU }.
    let (0x30, msg, _) = tlv(b)? else { return None };
    let (0x02, _, rest) = tlv(msg)? else {
        return None;
    };
    let (0x04, _, rest) = tlv(rest)? else {
        return None;
    };
    let (0xa2, pdu, _) = tlv(rest)? else {
        return None;
    };
    // request-id, error-status, error-index, varbinds.
    let (_, _, rest) = tlv(pdu)?;
    let (_, _, rest) = tlv(rest)?;
    let (_, _, rest) = tlv(rest)?;
    let (0x30, mut binds, _) = tlv(rest)? else {
        return None;
    };
    for _ in 0..16 {
        let (0x30, bind, next) = tlv(binds)? else {
            return None;
        };
        let (0x06, oid, value) = tlv(bind)? else {
            return None;
        };
        if oid == OID
            && let Some((0x04, text, _)) = tlv(value)
        {
            return Some(escape(text, 255));
        }
        binds = next;
    }
    None
}

/// (version, stratum) of an NTP server's answer (mode 4).
pub fn ntp(b: &[u8]) -> Option<(u8, u8)> {
    if b.len() < 48 || b[0] & 7 != 4 {
        return None;
    }
    Some(((b[0] >> 3) & 7, b[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read() {
        let mut dns = vec![0x12, 0x34, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        dns.extend_from_slice(b"\x07version\x04bind\x00\x00\x10\x00\x03");
        dns.extend_from_slice(b"\xc0\x0c\x00\x10\x00\x03\x00\x00\x00\x00\x00\x0d\x0cdnsmasq-2.89");
        let id = identify(53, &dns);
        assert_eq!(id.service.version_line(), "dnsmasq 2.89");
        assert_eq!(
            id.banner.and_then(|b| b.udp).as_deref(),
            Some("dnsmasq-2.89")
        );
        let mut snmp = vec![0x30, 0x29, 0x02, 0x01, 0x00, 0x04, 0x06];
        snmp.extend_from_slice(b"public");
        snmp.extend_from_slice(&[
            0xa2, 0x1c, 2, 1, 1, 2, 1, 0, 2, 1, 0, 0x30, 0x11, 0x30, 0x0f,
        ]);
        snmp.extend_from_slice(&[6, 8, 0x2b, 6, 1, 2, 1, 1, 1, 0, 4, 3]);
        snmp.extend_from_slice(b"box");
        assert_eq!(snmp_sys_descr(&snmp).as_deref(), Some("box"));
        let mut n = vec![0u8; 48];
        n[0] = 0x24;
        n[1] = 8;
        assert_eq!(ntp(&n), Some((4, 8)));
        assert_eq!(dns_txt(&[0xff; 40]), None);
        assert_eq!(
            identify(9, b"\x01").service.method,
            crate::banner::Method::Table
        );
    }
}
