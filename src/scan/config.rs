//! What a scan is asked to do, as the command line (`crate::cli`) resolves it: targets,
//! ports, technique, timing, outputs. Plain data that the scan reads; building it from
//! arguments is the command line's business.

use crate::connect::ConnectOptions;
use crate::event::Proto;
use crate::output::{Format, StateSet};
use crate::target::{self, HostSet, PortList, Shard};
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

/// The scan technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanType {
    /// Full TCP handshake with connect(): needs no privileges.
    Connect,
    /// Half-open SYN scan on a raw channel: needs CAP_NET_RAW.
    Syn,
}

impl ScanType {
    /// nmap's scaninfo name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Connect => "connect",
            ScanType::Syn => "syn",
        }
    }
}

/// Where one output format goes.
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file, already created.
    File(PathBuf, File),
}

/// SYN-scan settings: the path as given (`None`: discover), timing resolved.
#[derive(Debug, Clone)]
pub struct SynArgs {
    /// `-e`.
    pub interface: Option<String>,
    /// `-S`.
    pub source_ip: Option<std::net::IpAddr>,
    /// `--source-port` / `-g`.
    pub source_port: Option<u16>,
    /// `--router-mac`.
    pub router_mac: Option<pnet::util::MacAddr>,
    /// `--wait`.
    pub wait: Option<Duration>,
    /// Longest cool-down (`--timeout`, `--max-rtt-timeout`, `-T`).
    pub max_rtt: Duration,
    /// Shortest cool-down (`--min-rtt-timeout`).
    pub min_rtt: Duration,
    /// Cool-down before any round-trip time is known (`--initial-rtt-timeout`, `-T`;
    /// `None`: `max_rtt`).
    pub initial_rtt: Option<Duration>,
    /// Retry passes for unanswered pairs.
    pub retries: u32,
    /// Most retry passes when losses keep showing (`--max-retries` makes it exact).
    pub max_retries: u32,
    /// Congestion control never slows below this (`--min-rate`).
    pub min_rate: Option<f64>,
    /// TTL of the probes (`--ttl`).
    pub ttl: u8,
    /// Not `--no-reset`.
    pub reset: bool,
    /// `--send-path`.
    pub send_path: crate::link::SendPath,
    /// `--udp-patient`.
    pub udp_patient: bool,
}

/// Host discovery as the command line resolved it.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryArgs {
    /// Discovery runs before the port scan (targets of more than one address, or probes
    /// asked for; not with `-Pn`).
    pub enabled: bool,
    /// `-sn`: discovery only.
    pub only: bool,
    /// IP pings asked for (`-PE`, `-PP`, `-PS`, `-PA`, `-PU`); empty: the defaults.
    pub pings: Vec<crate::probe::PingKind>,
    /// `--disable-arp-ping`: IP pings on our own link too.
    pub no_arp: bool,
    /// Ports of the unprivileged pings (connect()): the TCP pings asked for, or 80 and 443.
    pub connect_ports: Vec<u16>,
}

impl DiscoveryArgs {
    /// The IP pings for hosts beyond our link (and on it with `--disable-arp-ping`): those
    /// asked for, else nmap's default set.
    pub fn ip_pings(&self) -> Vec<crate::probe::PingKind> {
        use crate::probe::PingKind;
        if self.pings.is_empty() {
            vec![
                PingKind::Echo,
                PingKind::Syn(443),
                PingKind::Ack(80),
                PingKind::Timestamp,
            ]
        } else {
            self.pings.clone()
        }
    }
}

/// One protocol's part of a scan: its ports on every host.
#[derive(Debug, Clone)]
pub struct Pass {
    /// TCP or UDP.
    pub proto: Proto,
    /// Ports to scan on every host.
    pub ports: PortList,
}

/// A complete, validated scan.
pub struct ScanConfig {
    /// Hosts to scan.
    pub hosts: HostSet,
    /// Host discovery.
    pub discovery: DiscoveryArgs,
    /// The protocols scanned, in order (TCP before UDP), each with its ports.
    pub passes: Vec<Pass>,
    /// What UDP probes carry, per port (shipped, plus `--udp-payload-file`).
    pub udp_payloads: std::sync::Arc<crate::probe::Payloads>,
    /// Requested technique (`None`: choose by privileges).
    pub scan_type: Option<ScanType>,
    /// Seed of the order, the shards and the default source port.
    pub seed: u64,
    /// The SYN cookie: a random key per run (a resumed run keeps its file's key).
    pub cookie: crate::probe::Cookie,
    /// This run's shard.
    pub shard: Shard,
    /// `-r`: the natural order instead of a permutation.
    pub sequential: bool,
    /// Connect-engine tuning.
    pub connect: ConnectOptions,
    /// `--host-timeout` (every host starts with the scan, so it bounds the scan).
    pub host_timeout: Option<Duration>,
    /// `-v` count.
    pub verbose: u8,
    /// `-d` count.
    pub debug: u8,
    /// `--open`: hosts without open ports are left out of the per-host formats.
    pub open_only: bool,
    /// Which ranking chose the ports, when a ranking did ("top 1000 ports of ...").
    pub ports_source: Option<String>,
    /// Output formats and destinations.
    pub outputs: Vec<(Format, Destination)>,
    /// States listed port by port.
    pub states: StateSet,
    /// SYN-engine settings from the command line.
    pub syn: SynArgs,
    /// Print frames instead of sending them.
    pub dry_run: bool,
    /// `--pcap FILE` (created when the scan starts).
    pub pcap: Option<PathBuf>,
    /// Draw the progress line (when stderr is a terminal).
    pub progress: bool,
    /// The command line, for output headers.
    pub command_line: String,
    /// The scan's own arguments, for the resume file.
    pub scan_argv: Vec<String>,
    /// Where the resume state is saved.
    pub resume_file: PathBuf,
    /// How often it is rewritten.
    pub checkpoint_every: Duration,
    /// `--resume`: the file, and the state read from it.
    pub resume: Option<(PathBuf, crate::resume::ResumeState)>,
    /// `--banners`: grab banners on open ports, with these settings.
    pub banners: Option<crate::banner::Options>,
}

impl ScanConfig {
    /// The walk over `hosts` × `ports` (one pass's): seeded and shardable, or sequential
    /// with `-r`.
    pub fn order(&self, hosts: &HostSet, ports: &PortList) -> target::ScanOrder {
        if self.sequential {
            target::ScanOrder::sequential(hosts, ports, self.shard)
        } else {
            target::ScanOrder::new(hosts, ports, self.seed, self.shard)
        }
    }

    /// The port scan's walk over `hosts` (the targets, or the live hosts discovery found):
    /// the shard applies once, to discovery when it ran, so the live hosts are all this
    /// shard's.
    pub fn port_order(&self, hosts: &HostSet, ports: &PortList) -> target::ScanOrder {
        let shard = if self.discovery.enabled {
            Shard::default()
        } else {
            self.shard
        };
        if self.sequential {
            target::ScanOrder::sequential(hosts, ports, shard)
        } else {
            target::ScanOrder::new(hosts, ports, self.seed, shard)
        }
    }

    /// Ports per host, every protocol together.
    pub fn ports_per_host(&self) -> u64 {
        self.passes.iter().map(|p| p.ports.len() as u64).sum()
    }

    /// The ports written back as `-p` takes them: `1-1024` for one protocol,
    /// `T:22,80,U:53` for several.
    pub fn ports_expr(&self) -> String {
        ports_expr(&self.passes)
    }

    /// True when UDP is scanned.
    pub fn scans_udp(&self) -> bool {
        self.passes.iter().any(|p| p.proto == Proto::Udp)
    }

    /// True when TCP is scanned.
    pub fn scans_tcp(&self) -> bool {
        self.passes.iter().any(|p| p.proto == Proto::Tcp)
    }
}

/// See [`ScanConfig::ports_expr`].
pub fn ports_expr(passes: &[Pass]) -> String {
    if let [one] = passes {
        return one.ports.compact();
    }
    passes
        .iter()
        .map(|p| {
            let letter = match p.proto {
                Proto::Tcp => "T",
                Proto::Udp => "U",
            };
            format!("{letter}:{}", p.ports.compact())
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Destination {
    /// The writer for this destination.
    pub fn into_writer(self) -> Box<dyn Write + Send> {
        match self {
            Destination::Stdout => Box::new(io::stdout()),
            Destination::File(_, f) => Box::new(f),
        }
    }
}
