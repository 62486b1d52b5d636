//! Service names by port and protocol, from the IANA registry copies shipped in
//! `data/tcp-services.tsv` and `data/udp-services.tsv` (provenance: docs/data-sources.md).
//! Parsed once, on first use. A UDP port missing from the UDP table takes the TCP name: IANA
//! assigns most ports to both protocols under one name.

use crate::event::Proto;
use std::sync::OnceLock;

const TCP: &str = include_str!("../data/tcp-services.tsv");
const UDP: &str = include_str!("../data/udp-services.tsv");

fn table() -> &'static [(u16, &'static str)] {
    static PARSED: OnceLock<Vec<(u16, &'static str)>> = OnceLock::new();
    PARSED.get_or_init(|| parse(TCP))
}

fn udp_table() -> &'static [(u16, &'static str)] {
    static PARSED: OnceLock<Vec<(u16, &'static str)>> = OnceLock::new();
    PARSED.get_or_init(|| parse(UDP))
}

fn parse(text: &'static str) -> Vec<(u16, &'static str)> {
    {
        let mut v: Vec<(u16, &'static str)> = text
            .lines()
            .filter_map(|line| {
                let (port, name) = line.split_once('\t')?;
                Some((port.trim().parse().ok()?, name.trim()))
            })
            .filter(|(_, name)| !name.is_empty())
            .collect();
        v.sort_by_key(|&(p, _)| p);
        v.dedup_by_key(|&mut (p, _)| p);
        v
    }
}

fn lookup(t: &'static [(u16, &'static str)], port: u16) -> Option<&'static str> {
    t.binary_search_by_key(&port, |&(p, _)| p)
        .ok()
        .map(|i| t[i].1)
}

/// The service name for a port, if the tables have one.
pub fn service_name(port: u16, proto: Proto) -> Option<&'static str> {
    match proto {
        Proto::Tcp => lookup(table(), port),
        Proto::Udp => lookup(udp_table(), port).or_else(|| lookup(table(), port)),
    }
}

/// Every port whose `proto` service name is `name` (case-insensitive): for UDP, the ports
/// [`service_name`] names so.
pub fn ports_for_name(name: &str, proto: Proto) -> Vec<u16> {
    let named = |t: &'static [(u16, &'static str)]| {
        t.iter()
            .filter(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|&(p, _)| p)
            .collect::<Vec<u16>>()
    };
    match proto {
        Proto::Tcp => named(table()),
        Proto::Udp => {
            let mut ports = named(udp_table());
            ports.extend(
                named(table())
                    .into_iter()
                    .filter(|&p| lookup(udp_table(), p).is_none()),
            );
            ports.sort_unstable();
            ports
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_names() {
        assert_eq!(service_name(22, Proto::Tcp), Some("ssh"));
        assert_eq!(service_name(80, Proto::Tcp), Some("http"));
        assert_eq!(service_name(443, Proto::Tcp), Some("https"));
        assert_eq!(service_name(53, Proto::Udp), Some("domain"));
        assert_eq!(service_name(161, Proto::Udp), Some("snmp"));
        assert_eq!(service_name(5353, Proto::Udp), Some("mdns"));
        assert_eq!(ports_for_name("SSH", Proto::Tcp), vec![22]);
        assert_eq!(ports_for_name("snmp", Proto::Udp), vec![161]);
        assert_eq!(ports_for_name("ssdp", Proto::Udp), vec![1900]);
    }
}
