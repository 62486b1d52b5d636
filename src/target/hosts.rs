//! The set of hosts to scan: merged, de-duplicated intervals of IPv4 and IPv6 addresses minus
//! the exclusions, indexable in O(log ranges) so the permutation can walk it without ever
//! materialising a list of addresses.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The most hosts one scan may hold (2^40); keeps `hosts × ports` inside a `u64`.
pub const MAX_HOSTS: u64 = 1 << 40;

/// The most (host, port) pairs one scan may hold (2^40, about 10^12): the order is a
/// permutation of these in O(1) memory, and the engine keeps marks only for the segment it
/// probes.
/// A /104 × 1 port (2^24) or a /16 × all ports (2^32) is a sensible scan; beyond 2^40 the
/// targets or the ports must be narrowed.
pub const MAX_PAIRS: u64 = 1 << 40;

/// Sorted, disjoint, inclusive address intervals of one family.
type Ranges = Vec<(u128, u128)>;

/// Hosts to scan, after duplicates and exclusions are removed.
#[derive(Debug, Clone, Default)]
pub struct HostSet {
    v4: Ranges,
    v6: Ranges,
    /// Running total of addresses at the end of each range (v4 ranges first, then v6).
    ends: Vec<u64>,
    /// Names the user gave for addresses (resolved hostnames).
    names: BTreeMap<IpAddr, String>,
}

impl HostSet {
    /// Builds the set from included and excluded intervals of each family.
    pub fn new(
        include_v4: Ranges,
        include_v6: Ranges,
        exclude_v4: Ranges,
        exclude_v6: Ranges,
    ) -> Result<HostSet> {
        let v4 = subtract(normalize(include_v4), &normalize(exclude_v4));
        let v6 = subtract(normalize(include_v6), &normalize(exclude_v6));
        let mut ends = Vec::with_capacity(v4.len() + v6.len());
        let mut total: u128 = 0;
        for (s, e) in v4.iter().chain(v6.iter()) {
            total += e - s + 1;
            if total > MAX_HOSTS as u128 {
                return Err(Error::input(format!(
                    "too many target addresses: more than 2^40 ({MAX_HOSTS}), the most one scan may hold"
                )));
            }
            ends.push(total as u64);
        }
        Ok(HostSet {
            v4,
            v6,
            ends,
            names: BTreeMap::new(),
        })
    }

    /// The address ranges (first, last, inclusive) of one family, ascending.
    pub fn ranges(&self, v6: bool) -> &[(u128, u128)] {
        if v6 { &self.v6 } else { &self.v4 }
    }

    /// Number of hosts.
    pub fn len(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// True when no host is left.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of IPv4 hosts (they come first in index order).
    pub fn len_v4(&self) -> u64 {
        self.v4.iter().map(|(s, e)| (e - s + 1) as u64).sum()
    }

    /// The host at `index` (0 ≤ index < len), in ascending address order, IPv4 first.
    pub fn get(&self, index: u64) -> Option<IpAddr> {
        let r = self.ends.partition_point(|&end| end <= index);
        if r >= self.ends.len() {
            return None;
        }
        let start_index = if r == 0 { 0 } else { self.ends[r - 1] };
        let offset = (index - start_index) as u128;
        if r < self.v4.len() {
            let a = self.v4[r].0 + offset;
            Some(IpAddr::V4(Ipv4Addr::from(a as u32)))
        } else {
            let a = self.v6[r - self.v4.len()].0 + offset;
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
    }

    /// True when `ip` is one of the hosts.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (ranges, x) = match ip {
            IpAddr::V4(a) => (&self.v4, u32::from(a) as u128),
            IpAddr::V6(a) => (&self.v6, u128::from(a)),
        };
        let i = ranges.partition_point(|&(_, e)| e < x);
        ranges.get(i).is_some_and(|&(s, _)| s <= x)
    }

    /// The index of `ip` in the set (the inverse of [`HostSet::get`]).
    pub fn index_of(&self, ip: IpAddr) -> Option<u64> {
        let (ranges, x, first) = match ip {
            IpAddr::V4(a) => (&self.v4, u32::from(a) as u128, 0),
            IpAddr::V6(a) => (&self.v6, u128::from(a), self.v4.len()),
        };
        let i = ranges.partition_point(|&(_, e)| e < x);
        let &(s, _) = ranges.get(i).filter(|&&(s, _)| s <= x)?;
        let r = first + i;
        let before = if r == 0 { 0 } else { self.ends[r - 1] };
        Some(before + (x - s) as u64)
    }

    /// Splits the set into its IPv4 and IPv6 parts (names kept with each).
    pub fn split_families(&self) -> (HostSet, HostSet) {
        let part = |v4: Ranges, v6: Ranges| {
            let mut h = HostSet::new(v4, v6, vec![], vec![]).unwrap_or_default();
            for (ip, n) in &self.names {
                if h.contains(*ip) {
                    h.set_name(*ip, n.clone());
                }
            }
            h
        };
        (part(self.v4.clone(), vec![]), part(vec![], self.v6.clone()))
    }

    /// Records the name the user gave for an address.
    pub fn set_name(&mut self, ip: IpAddr, name: String) {
        self.names.insert(ip, name);
    }

    /// The name the user gave for an address, if any.
    pub fn name(&self, ip: IpAddr) -> Option<&str> {
        self.names.get(&ip).map(String::as_str)
    }

    /// The names the user gave, for reporting.
    pub fn names(&self) -> &BTreeMap<IpAddr, String> {
        &self.names
    }

    /// The IPv4 intervals, as `u32` pairs (for sharing the set with the SYN engine).
    pub fn v4_ranges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.v4.iter().map(|&(s, e)| (s as u32, e as u32))
    }
}

/// Sorts and merges overlapping or adjacent intervals.
fn normalize(mut r: Ranges) -> Ranges {
    r.sort_unstable();
    let mut out: Ranges = Vec::with_capacity(r.len());
    for (s, e) in r {
        match out.last_mut() {
            Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// `a` minus `b`, both normalized.
fn subtract(a: Ranges, b: &Ranges) -> Ranges {
    let mut out = Vec::with_capacity(a.len());
    for (mut s, e) in a {
        let first = b.partition_point(|&(_, be)| be < s);
        let mut alive = true;
        for &(bs, be) in &b[first..] {
            if bs > e {
                break;
            }
            if bs > s {
                out.push((s, bs - 1));
            }
            if be >= e {
                alive = false;
                break;
            }
            s = be + 1;
        }
        if alive {
            out.push((s, e));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> u128 {
        u32::from(s.parse::<Ipv4Addr>().unwrap()) as u128
    }

    #[test]
    fn merges_duplicates_and_excludes() {
        let inc = vec![
            (ip("10.0.0.0"), ip("10.0.0.255")),
            (ip("10.0.0.10"), ip("10.0.0.20")),
            (ip("10.0.1.0"), ip("10.0.1.0")),
        ];
        let exc = vec![
            (ip("10.0.0.0"), ip("10.0.0.0")),
            (ip("10.0.0.100"), ip("10.0.0.199")),
        ];
        let h = HostSet::new(inc, vec![], exc, vec![]).unwrap();
        assert_eq!(h.len(), 256 - 1 - 100 + 1);
        assert_eq!(h.get(0), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(h.get(98), Some("10.0.0.99".parse().unwrap()));
        assert_eq!(h.get(99), Some("10.0.0.200".parse().unwrap()));
        assert_eq!(h.get(155), Some("10.0.1.0".parse().unwrap()));
        assert_eq!(h.get(156), None);
        assert!(h.contains("10.0.0.99".parse().unwrap()));
        assert!(!h.contains("10.0.0.150".parse().unwrap()));
        assert!(!h.contains("10.0.0.0".parse().unwrap()));
        for i in 0..h.len() {
            assert_eq!(h.index_of(h.get(i).unwrap()), Some(i));
        }
        assert_eq!(h.index_of("10.0.0.150".parse().unwrap()), None);
    }

    #[test]
    fn v6_after_v4_and_exclude_everything() {
        let h = HostSet::new(vec![(5, 6)], vec![(1, 1)], vec![], vec![]).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h.get(2), Some("::1".parse().unwrap()));
        let h = HostSet::new(vec![(5, 6)], vec![], vec![(0, 10)], vec![]).unwrap();
        assert!(h.is_empty());
    }
}
