//! What to scan: target tokens → a [`HostSet`], port expressions → a [`PortList`], and the
//! seeded, shardable order in which the (host, port) space is walked ([`ScanOrder`]).

mod hosts;
mod permutation;
mod ports;
mod ranking;
mod spec;

pub use hosts::{HostSet, MAX_HOSTS, MAX_PAIRS};
pub use permutation::{Permutation, Shard, splitmix64};
pub use ports::PortList;
pub use ranking::{Ranking, RankingSource};
pub use spec::{TargetSpec, parse_target, parse_target_opts};

use crate::error::{Error, Result};
use std::net::{IpAddr, ToSocketAddrs};

/// A name resolved: the address scanned, and the address of the other family when the name
/// has both (so the choice can be said).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The address scanned.
    pub addr: IpAddr,
    /// The other family's address, when there is one.
    pub other: Option<IpAddr>,
}

/// Resolves a host name once, preferring IPv4 (or IPv6 with `prefer_v6`, `-6`).
pub fn resolve_pref(name: &str, prefer_v6: bool) -> Result<Resolved> {
    let addrs: Vec<IpAddr> = (name, 0)
        .to_socket_addrs()
        .map_err(|e| Error::input(format!("cannot resolve host name '{name}': {e}")))?
        .map(|sa| sa.ip())
        .collect();
    let v4 = addrs.iter().copied().find(IpAddr::is_ipv4);
    let v6 = addrs.iter().copied().find(IpAddr::is_ipv6);
    let (first, second) = if prefer_v6 { (v6, v4) } else { (v4, v6) };
    match (first, second) {
        (Some(a), other) => Ok(Resolved { addr: a, other }),
        (None, Some(a)) => Ok(Resolved {
            addr: a,
            other: None,
        }),
        (None, None) => Err(Error::input(format!(
            "cannot resolve host name '{name}': no address"
        ))),
    }
}

/// Resolves a host name once, preferring IPv4, and returns the address used.
pub fn resolve(name: &str) -> Result<IpAddr> {
    resolve_pref(name, false).map(|r| r.addr)
}

/// Builds the host set from target and exclusion tokens, resolving names once; IPv4 CIDRs
/// leave out their network and broadcast addresses (see [`build_hosts_with`]).
pub fn build_hosts(targets: &[String], excludes: &[String]) -> Result<HostSet> {
    build_hosts_with(targets, excludes, false)
}

/// [`build_hosts`], keeping the network and broadcast addresses of CIDRs when
/// `include_broadcast` (`--include-broadcast`).
pub fn build_hosts_with(
    targets: &[String],
    excludes: &[String],
    include_broadcast: bool,
) -> Result<HostSet> {
    build_hosts_opts(targets, excludes, include_broadcast, false).map(|(h, _)| h)
}

/// [`build_hosts_with`], resolving names to IPv6 first with `prefer_v6` (`-6`); also returns
/// a notice for each name that had both families, saying which address is scanned.
pub fn build_hosts_opts(
    targets: &[String],
    excludes: &[String],
    include_broadcast: bool,
    prefer_v6: bool,
) -> Result<(HostSet, Vec<String>)> {
    if targets.is_empty() {
        return Err(Error::input(
            "no targets given (name hosts on the command line or with -iL FILE)",
        ));
    }
    let mut names = Vec::new();
    let mut notices = Vec::new();
    let (inc4, inc6) = collect(
        targets,
        &mut names,
        include_broadcast,
        prefer_v6,
        &mut notices,
    )?;
    let (exc4, exc6) = collect(excludes, &mut Vec::new(), true, prefer_v6, &mut Vec::new())?;
    let mut hosts = HostSet::new(inc4, inc6, exc4, exc6)?;
    if hosts.is_empty() {
        return Err(Error::input("no targets left to scan after exclusions"));
    }
    for (ip, name) in names {
        if hosts.contains(ip) {
            hosts.set_name(ip, name);
        }
    }
    Ok((hosts, notices))
}

type Intervals = Vec<(u128, u128)>;

fn collect(
    tokens: &[String],
    names: &mut Vec<(IpAddr, String)>,
    include_broadcast: bool,
    prefer_v6: bool,
    notices: &mut Vec<String>,
) -> Result<(Intervals, Intervals)> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for t in tokens {
        match parse_target_opts(t, include_broadcast)? {
            TargetSpec::V4(s, e) => v4.push((s as u128, e as u128)),
            TargetSpec::V6(s, e) => v6.push((s, e)),
            TargetSpec::Host(name) => {
                let r = resolve_pref(&name, prefer_v6)?;
                if let Some(other) = r.other {
                    notices.push(format!(
                        "{name} has {} and {other}: scanning {}{}",
                        r.addr,
                        r.addr,
                        if prefer_v6 { "" } else { " (-6 for IPv6)" }
                    ));
                }
                match r.addr {
                    IpAddr::V4(a) => v4.push((u32::from(a) as u128, u32::from(a) as u128)),
                    IpAddr::V6(a) => v6.push((u128::from(a), u128::from(a))),
                }
                names.push((r.addr, name));
            }
        }
    }
    Ok((v4, v6))
}

/// Splits a comma-separated list (`--exclude`) into tokens.
pub fn split_list(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',').map(|s| s.trim().to_string())
}

/// Reads target tokens from a file's text: one per line (several per line may be separated
/// by blanks or commas), `#` starts a comment, blank lines are ignored.
pub fn tokens_from_text(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ','))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The order of one scan: a seeded permutation of the `hosts × ports` index space, restricted
/// to one shard. Index `i` maps to host `i / ports` and port `i % ports`.
#[derive(Debug, Clone)]
pub struct ScanOrder {
    perm: Permutation,
    shard: Shard,
    nports: u64,
}

impl ScanOrder {
    /// The order for `hosts × ports` under `seed` and `shard`.
    pub fn new(hosts: &HostSet, ports: &PortList, seed: u64, shard: Shard) -> ScanOrder {
        let nports = ports.len() as u64;
        ScanOrder {
            perm: Permutation::new(hosts.len() * nports, seed),
            shard,
            nports,
        }
    }

    /// The natural order (host after host, ports ascending) restricted to `shard`: `-r`.
    pub fn sequential(hosts: &HostSet, ports: &PortList, shard: Shard) -> ScanOrder {
        let nports = ports.len() as u64;
        ScanOrder {
            perm: Permutation::identity(hosts.len() * nports),
            shard,
            nports,
        }
    }

    /// Number of (host, port) pairs in this shard.
    pub fn len(&self) -> u64 {
        self.shard.len(self.perm.len())
    }

    /// True when this shard has nothing to scan.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The (host index, port index) at position `pos` of this shard's walk.
    pub fn pair_at_position(&self, pos: u64) -> (u64, usize) {
        let global = (self.shard.index - 1) + pos * self.shard.count;
        let idx = self.perm.at(global);
        (idx / self.nports, (idx % self.nports) as usize)
    }

    /// The position of (host index, port index) in this shard's walk: `None` when the pair is
    /// outside the scan or belongs to another shard. The receiver uses it to find a reply's
    /// probe without keeping any state per probe.
    pub fn position_of(&self, host: u64, port: usize) -> Option<u64> {
        if port as u64 >= self.nports {
            return None;
        }
        let idx = host.checked_mul(self.nports)?.checked_add(port as u64)?;
        let global = self.perm.position_of(idx)?;
        let off = global.checked_sub(self.shard.index - 1)?;
        (off % self.shard.count == 0).then_some(off / self.shard.count)
    }

    /// Iterates this shard's (host, port) pairs in scan order, from position `from`.
    pub fn iter<'a>(
        &'a self,
        hosts: &'a HostSet,
        ports: &'a PortList,
        from: u64,
    ) -> impl Iterator<Item = (IpAddr, u16)> + 'a {
        (from..self.len()).filter_map(move |pos| {
            let (h, p) = self.pair_at_position(pos);
            Some((hosts.get(h)?, ports.get(p)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn file_tokens() {
        let t =
            tokens_from_text("# header\n10.0.0.1\n\n  10.0.0.2 # trailing\n10.0.0.3,10.0.0.4\n");
        assert_eq!(t, vec!["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    }

    #[test]
    fn build_with_names_and_excludes() {
        let hosts = build_hosts(
            &["127.0.0.1-5".into(), "localhost".into(), "127.0.0.3".into()],
            &["127.0.0.2".into()],
        )
        .unwrap();
        assert_eq!(hosts.len(), 4);
        assert_eq!(hosts.name("127.0.0.1".parse().unwrap()), Some("localhost"));
        let err = build_hosts(&["127.0.0.1".into()], &["127.0.0.0/8".into()]).unwrap_err();
        assert!(err.to_string().contains("no targets left"));
        let err = build_hosts(&["no-such-host.invalid".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("no-such-host.invalid"));
    }

    #[test]
    fn order_covers_every_pair_once() {
        let hosts = build_hosts_with(&["10.0.0.0/30".into()], &[], true).unwrap();
        let ports = PortList::parse("1-7").unwrap();
        let mut all = HashSet::new();
        for i in 1..=3 {
            let order = ScanOrder::new(&hosts, &ports, 9, Shard { index: i, count: 3 });
            for pair in order.iter(&hosts, &ports, 0) {
                assert!(all.insert(pair), "{pair:?} twice");
            }
        }
        assert_eq!(all.len(), 4 * 7);
    }

    #[test]
    fn sequential_order_is_host_after_host_and_shards_still_partition() {
        let hosts = build_hosts(&["10.0.0.1-3".into()], &[]).unwrap();
        let ports = PortList::parse("22,80").unwrap();
        let all: Vec<(IpAddr, u16)> = ScanOrder::sequential(&hosts, &ports, Shard::default())
            .iter(&hosts, &ports, 0)
            .collect();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            all,
            vec![
                (ip("10.0.0.1"), 22),
                (ip("10.0.0.1"), 80),
                (ip("10.0.0.2"), 22),
                (ip("10.0.0.2"), 80),
                (ip("10.0.0.3"), 22),
                (ip("10.0.0.3"), 80)
            ]
        );
        let mut union = HashSet::new();
        for i in 1..=4 {
            let order = ScanOrder::sequential(&hosts, &ports, Shard { index: i, count: 4 });
            for pair in order.iter(&hosts, &ports, 0) {
                assert!(union.insert(pair));
            }
        }
        assert_eq!(union.len(), all.len());
    }

    #[test]
    fn order_interleaves_hosts() {
        let hosts = build_hosts(&["10.0.0.0/28".into()], &[]).unwrap();
        let ports = PortList::parse("1-100").unwrap();
        let order = ScanOrder::new(&hosts, &ports, 1, Shard::default());
        let first: HashSet<IpAddr> = order
            .iter(&hosts, &ports, 0)
            .take(50)
            .map(|p| p.0)
            .collect();
        assert!(first.len() > 5, "not host after host: {first:?}");
    }

    #[test]
    fn position_of_finds_each_pair_in_its_own_shard_only() {
        let hosts = build_hosts(&["10.0.0.0/28".into()], &[]).unwrap();
        let ports = PortList::parse("22,80,443").unwrap();
        for count in [1u64, 3] {
            for index in 1..=count {
                let order = ScanOrder::new(&hosts, &ports, 9, Shard { index, count });
                let mut mine = 0;
                for h in 0..hosts.len() {
                    for p in 0..3 {
                        if let Some(pos) = order.position_of(h, p) {
                            assert_eq!(order.pair_at_position(pos), (h, p));
                            mine += 1;
                        }
                    }
                }
                assert_eq!(mine, order.len());
                assert_eq!(order.position_of(0, 3), None);
                assert_eq!(order.position_of(hosts.len(), 0), None);
            }
        }
    }
}
