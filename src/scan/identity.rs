//! What names one scan across the machines that run its shards: the scan id, a hash of
//! everything that decides which (host, port) pairs are probed and in which order, so every
//! shard of one scan carries the same id and `synscan merge` can refuse to mix two scans.
//! Rates, timing, outputs and the shard itself are left out: pods may differ in those.

use super::config::ScanConfig;
use crate::output::Identity;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// The identity of the scan `config` describes, leaving by `sources`.
pub fn identity(config: &ScanConfig, sources: Vec<IpAddr>) -> Identity {
    Identity {
        scan_id: scan_id(config),
        seed: config.seed,
        shard: config.shard,
        sources,
        scan_argv: config
            .scan_argv
            .iter()
            .filter(|a| !a.starts_with("--shard="))
            .cloned()
            .collect(),
    }
}

/// The scan id: targets after excludes (as address ranges, so `10.0.0.0/30` and
/// `10.0.0.0-10.0.0.3` agree), each protocol's ports, the seed, the technique asked for,
/// host discovery and `--banners`. Two runs with one id probe the same pairs in one order.
pub fn scan_id(config: &ScanConfig) -> String {
    let mut h = Sha256::new();
    let mut field = |name: &str, value: &[u8]| {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value);
    };
    for v6 in [false, true] {
        let mut b = Vec::new();
        for (lo, hi) in config.hosts.ranges(v6) {
            b.extend_from_slice(&lo.to_le_bytes());
            b.extend_from_slice(&hi.to_le_bytes());
        }
        field(if v6 { "hosts6" } else { "hosts4" }, &b);
    }
    for p in &config.passes {
        field(&format!("ports/{}", p.proto), p.ports.compact().as_bytes());
    }
    field("seed", &config.seed.to_le_bytes());
    field(
        "type",
        config.scan_type.map_or("auto", |t| t.as_str()).as_bytes(),
    );
    field("sequential", &[u8::from(config.sequential)]);
    let d = &config.discovery;
    field(
        "discovery",
        format!(
            "{} {} {:?} {} {:?}",
            d.enabled, d.only, d.pings, d.no_arp, d.connect_ports
        )
        .as_bytes(),
    );
    field("banners", &[u8::from(config.banners.is_some())]);
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
