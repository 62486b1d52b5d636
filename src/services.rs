//! TCP service names by port, from the IANA registry copy shipped in `data/tcp-services.tsv`
//! (provenance: docs/data-sources.md). Parsed once, on first use.

use std::sync::OnceLock;

const TABLE: &str = include_str!("../data/tcp-services.tsv");

fn table() -> &'static [(u16, &'static str)] {
    static PARSED: OnceLock<Vec<(u16, &'static str)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let mut v: Vec<(u16, &'static str)> = TABLE
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
    })
}

/// The service name for a TCP port, if the table has one.
pub fn service_name(port: u16) -> Option<&'static str> {
    let t = table();
    t.binary_search_by_key(&port, |&(p, _)| p)
        .ok()
        .map(|i| t[i].1)
}

/// Every port whose service name is `name` (case-insensitive).
pub fn ports_for_name(name: &str) -> Vec<u16> {
    table()
        .iter()
        .filter(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|&(p, _)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_names() {
        assert_eq!(service_name(22), Some("ssh"));
        assert_eq!(service_name(80), Some("http"));
        assert_eq!(service_name(443), Some("https"));
        assert_eq!(ports_for_name("SSH"), vec![22]);
    }
}
