//! Low-level arguments: exactly what the user typed, validated, no I/O. nmap's multi-letter
//! short flags (`-sT`, `-iL`, `-oX`, `-p-` ...) are rewritten to long ones by
//! [`super::compat::normalize`] before clap sees them.

use crate::output::{Format, StateSet};
pub use crate::scan::ScanType;
use crate::target::Shard;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

const AFTER_HELP: &str = "\
Commands: synscan [scan] TARGET... (the default) | send SPEC | sr SPEC | sr1 SPEC | sniff -i IFACE |
read FILE.pcap | trace HOST -p PORT (each has --help).

nmap-style spellings are accepted too: -sT, -sS, -iL FILE, -oN/-oJ/-oG/-oX/-oL/-oA FILE, -p-, -Pn,
-n, -T0..-T5, -v, -d, -F, -r, -g. An nmap flag synscan lacks is named with what to use instead.
Shell completions: synscan completions bash|zsh|fish|elvish|powershell. Man page: synscan man.
Exit status: 0 scan completed, 1 runtime failure, 2 bad input, 130 interrupted.";

/// A fast TCP port scanner (SYN and connect) and packet toolkit.
#[derive(Debug, Clone, Parser)]
#[command(name = "synscan", version, after_help = AFTER_HELP, disable_help_subcommand = true)]
pub struct Args {
    /// Targets: IPv4 address, CIDR (10.0.0.0/24), range (10.0.0.1-50, 10.0.0.1-10.0.0.9), host
    /// name, IPv6 address or CIDR.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Resolve host names to IPv6 first (nmap's -6); IPv6 addresses need no flag.
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Read targets from FILE ("-" for stdin): one per line, '#' comments, blank lines ignored.
    #[arg(long = "input-list", visible_alias = "iL", value_name = "FILE")]
    pub input_list: Option<String>,

    /// Exclude targets (comma-separated, same forms as TARGET). May be repeated.
    #[arg(long, value_name = "LIST")]
    pub exclude: Vec<String>,

    /// Exclude the targets listed in FILE.
    #[arg(long = "exclude-file", alias = "excludefile", value_name = "FILE")]
    pub exclude_file: Option<PathBuf>,

    /// Ports: 22,80,1000-2000; "-" (or -p-) for 1-65535; service names (http); port 0 only when
    /// named. Default: the top 1000.
    #[arg(
        short = 'p',
        long = "ports",
        value_name = "PORTS",
        allow_hyphen_values = true
    )]
    pub ports: Option<String>,

    /// Scan the N most common TCP ports: nmap's ranking when nmap-services is installed (or
    /// given with --servicedb), else the shipped one.
    #[arg(long = "top-ports", value_name = "N", conflicts_with = "ports")]
    pub top_ports: Option<usize>,

    /// Fast mode: the 100 most common ports (nmap's -F).
    #[arg(short = 'F', long = "fast", conflicts_with_all = ["ports", "top_ports"])]
    pub fast: bool,

    /// Take the port ranking from this nmap-services file (default: nmap's installed one).
    #[arg(long = "servicedb", value_name = "FILE")]
    pub servicedb: Option<PathBuf>,

    /// Scan hosts and ports in order instead of a random permutation (nmap's -r).
    #[arg(short = 'r', long = "sequential")]
    pub sequential: bool,

    /// Scan type: T/connect (connect() scan) or S/syn (raw SYN scan, needs CAP_NET_RAW).
    #[arg(short = 's', long = "scan-type", value_name = "TYPE", value_parser = parse_scan_type)]
    pub scan_type: Option<ScanType>,

    /// UDP scan (nmap's -sU); with -sS or -sT (-sSU), TCP and UDP in one run.
    #[arg(long = "udp")]
    pub udp: bool,

    /// UDP payloads per port from FILE, replacing the shipped ones for the ports it names
    /// (format: docs/usage.md#udp-payload-files).
    #[arg(long = "udp-payload-file", value_name = "FILE")]
    pub udp_payload_file: Option<PathBuf>,

    /// UDP: wait out the targets' ICMP rate limits, pacing retries at the rate answers come
    /// back, until every closed port is classified (slow: about a second per closed port
    /// with Linux's default limit).
    #[arg(long = "udp-patient")]
    pub udp_patient: bool,

    /// Grab banners and name the services of open TCP ports over ordinary connections (no
    /// RST race, no firewall rule), while the scan goes on; UDP answers are read too
    /// (nmap's -sV, masscan's --banners).
    #[arg(long = "banners", conflicts_with = "ping_scan")]
    pub banners: bool,

    /// Longest time one port's banner grab may take (connections, waits, TLS) [default: 8s].
    #[arg(long = "banner-timeout", value_name = "DURATION", value_parser = parse_duration, requires = "banners")]
    pub banner_timeout: Option<Duration>,

    /// How long a grab waits for a service that speaks first [default: 2500ms].
    #[arg(long = "banner-wait", value_name = "DURATION", value_parser = parse_duration, requires = "banners")]
    pub banner_wait: Option<Duration>,

    /// Most banner grabs at once [default: 64].
    #[arg(long = "banner-concurrency", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=4096), requires = "banners")]
    pub banner_concurrency: Option<u16>,

    /// Timing template 0-5 (paranoid, sneaky, polite, normal, aggressive, insane), as nmap's
    /// -T; explicit timing flags override it.
    #[arg(short = 'T', long = "timing", value_name = "0-5", value_parser = parse_timing)]
    pub timing: Option<u8>,

    /// Most probes per second, whole scan (10k and 1.5M are accepted).
    #[arg(long, visible_alias = "max-rate", value_name = "N", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Never slow below N probes per second when losses at speed are seen.
    #[arg(long = "min-rate", value_name = "N", value_parser = parse_rate)]
    pub min_rate: Option<f64>,

    /// Wait at least DURATION between probes (nmap's --scan-delay).
    #[arg(long = "scan-delay", value_name = "DURATION", value_parser = parse_duration)]
    pub scan_delay: Option<Duration>,

    /// Extra attempts for ports that gave no answer (SYN scans may add passes while losses
    /// are seen, up to 8).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: Option<u32>,

    /// Most extra attempts for ports that gave no answer, never exceeded (nmap's
    /// --max-retries).
    #[arg(long = "max-retries", value_name = "N", value_parser = clap::value_parser!(u32).range(0..=20))]
    pub max_retries: Option<u32>,

    /// How long one attempt waits for an answer (500ms, 2s; a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Shortest wait for a reply, however fast replies come (nmap's --min-rtt-timeout).
    #[arg(long = "min-rtt-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub min_rtt_timeout: Option<Duration>,

    /// Longest wait for a reply (nmap's --max-rtt-timeout; same as --timeout).
    #[arg(long = "max-rtt-timeout", value_name = "DURATION", value_parser = parse_duration, conflicts_with = "timeout")]
    pub max_rtt_timeout: Option<Duration>,

    /// Wait for a reply before any round-trip time is measured (nmap's
    /// --initial-rtt-timeout).
    #[arg(long = "initial-rtt-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub initial_rtt_timeout: Option<Duration>,

    /// Give up on hosts not finished after DURATION (every host starts with the scan, so
    /// this bounds the scan); what was found is kept.
    #[arg(long = "host-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub host_timeout: Option<Duration>,

    /// Most connect() attempts in flight at once.
    #[arg(long = "max-inflight", value_name = "N", value_parser = parse_positive)]
    pub max_inflight: Option<usize>,

    /// Output format for stdout (or for -o FILE).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,

    /// Write --format output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Also write text output to FILE (-oN).
    #[arg(long = "output-normal", value_name = "FILE")]
    pub output_normal: Option<PathBuf>,

    /// Also write NDJSON output to FILE (-oJ).
    #[arg(long = "output-ndjson", value_name = "FILE")]
    pub output_ndjson: Option<PathBuf>,

    /// Also write grepable output to FILE (-oG).
    #[arg(long = "output-grepable", value_name = "FILE")]
    pub output_grepable: Option<PathBuf>,

    /// Also write nmap XML output to FILE (-oX).
    #[arg(long = "output-xml", value_name = "FILE")]
    pub output_xml: Option<PathBuf>,

    /// Also write list output to FILE (-oL).
    #[arg(long = "output-list", value_name = "FILE")]
    pub output_list: Option<PathBuf>,

    /// Also write BASE.nmap, BASE.xml and BASE.gnmap (-oA).
    #[arg(long = "output-all", value_name = "BASE")]
    pub output_all: Option<PathBuf>,

    /// Port states listed one by one: open, closed, filtered, open|filtered (comma-separated)
    /// or all.
    #[arg(long, value_name = "LIST", default_value = "open", value_parser = parse_states)]
    pub states: StateSet,

    /// List only open ports, and only hosts with open ports (nmap's --open).
    #[arg(long, visible_alias = "open-only", conflicts_with = "states")]
    pub open: bool,

    /// Accepted for nmap compatibility: reasons are always shown.
    #[arg(long)]
    pub reason: bool,

    /// More detail (-v, -vv): each open port on stderr as it is found, hosts that never
    /// answered, reasons behind the counts, and the timing of each pass.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Debug detail (-d, -dd): the engine's decisions (round-trip times, cool-downs, retries,
    /// rate changes) on stderr.
    #[arg(short = 'd', long = "debug", action = clap::ArgAction::Count)]
    pub debug: u8,

    /// Seed of the scan order, the shards and the default source port: same seed, same
    /// order. The SYN cookie key is random in every run whatever the seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Scan only shard I of N (1-based): N shards with one seed cover everything once.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Take this run's shard from environment variable VAR, counted from 0 (as Kubernetes'
    /// JOB_COMPLETION_INDEX), out of --shards N. The same as --shard (VAR+1)/N.
    #[arg(
        long = "shard-index-env",
        value_name = "VAR",
        requires = "shards",
        conflicts_with = "shard"
    )]
    pub shard_index_env: Option<String>,

    /// Number of shards, with --shard-index-env.
    #[arg(long, value_name = "N", requires = "shard_index_env", value_parser = clap::value_parser!(u64).range(1..))]
    pub shards: Option<u64>,

    /// Send from this interface (SYN scans).
    #[arg(
        short = 'e',
        long = "interface",
        alias = "adapter",
        value_name = "IFACE"
    )]
    pub interface: Option<String>,

    /// Send from this source address (SYN scans).
    #[arg(
        short = 'S',
        long = "source-ip",
        alias = "adapter-ip",
        value_name = "ADDR"
    )]
    pub source_ip: Option<std::net::IpAddr>,

    /// Use this source port for every probe (SYN scans; -g as in nmap).
    #[arg(short = 'g', long = "source-port", alias = "adapter-port", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub source_port: Option<u16>,

    /// IP time-to-live of the probes (SYN probes and connect() sockets).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..))]
    pub ttl: Option<u8>,

    /// Send every probe to this next-hop MAC instead of resolving it (SYN scans).
    #[arg(long = "router-mac", value_name = "MAC", value_parser = parse_mac)]
    pub router_mac: Option<pnet::util::MacAddr>,

    /// Fixed wait for late replies after each pass (SYN scans); default: adapt to the RTTs seen.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,

    /// How SYN probes leave an Ethernet link: mmsg (sendmmsg batches, default), ring
    /// (PACKET_TX_RING) or pnet (one sendto per frame, the portable path).
    #[arg(long = "send-path", value_name = "PATH", value_parser = parse_send_path)]
    pub send_path: Option<crate::link::SendPath>,

    /// Do not send a RST after a SYN-ACK (SYN scans).
    #[arg(long = "no-reset")]
    pub no_reset: bool,

    /// Print the SYN frames that would be sent (DST_IP:DST_PORT sport=N seq=N), send nothing.
    #[arg(long = "dry-run")]
    pub dry_run: bool,

    /// Record every probe sent and every reply received to this pcap file (SYN scans).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Also scan the network and broadcast addresses of IPv4 CIDRs (skipped by default).
    #[arg(long = "include-broadcast")]
    pub include_broadcast: bool,

    /// Never draw the progress line.
    #[arg(long = "no-progress")]
    pub no_progress: bool,

    /// Finish the scan saved in FILE (by Ctrl-C or a checkpoint): same targets, ports, seed and
    /// order; pairs already reported are neither probed nor reported again. Only output
    /// options, --states, --rate, --pcap and the resume options may be given with it.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,

    /// Where the resume state is saved on Ctrl-C and every --checkpoint-every. Default:
    /// synscan.resume in the current directory (with --resume, the file resumed from).
    #[arg(long = "resume-file", value_name = "FILE")]
    pub resume_file: Option<PathBuf>,

    /// If the --resume-file exists, finish the scan saved there (it must be this same scan)
    /// and append to the outputs; otherwise start the scan. For jobs an orchestrator restarts.
    #[arg(long = "auto-resume", conflicts_with = "resume", requires = "seed")]
    pub auto_resume: bool,

    /// Append to the output files instead of overwriting them (nmap's --append-output). A
    /// last line cut short by a killed run is dropped first.
    #[arg(long = "append-output")]
    pub append_output: bool,

    /// How often a running scan rewrites its resume file (default 5s).
    #[arg(long = "checkpoint-every", value_name = "DURATION", value_parser = parse_duration)]
    pub checkpoint_every: Option<Duration>,

    /// Accepted for nmap compatibility: synscan never does reverse DNS.
    #[arg(short = 'n', hide = true)]
    pub no_dns: bool,

    /// Skip host discovery: treat every target as up and scan its ports (nmap's -Pn).
    #[arg(long = "no-ping", conflicts_with = "ping_scan")]
    pub no_ping: bool,

    /// Host discovery only: list the hosts that are up, scan no port (nmap's -sn).
    #[arg(long = "ping-scan")]
    pub ping_scan: bool,

    /// A host discovery probe: arp (ARP/NDP on our link, -PR), echo (-PE), timestamp
    /// (-PP), syn[:PORTS] (-PS, default 80), ack[:PORTS] (-PA, default 80), udp[:PORTS]
    /// (-PU, default 40125). Repeatable. Default: ARP/NDP on our link, elsewhere echo, SYN
    /// to 443, ACK to 80 and timestamp; without privilege, connect() to 80 and 443.
    #[arg(long = "ping", value_name = "PROBE", action = clap::ArgAction::Append)]
    pub ping: Vec<String>,

    /// On our own link, ping with IP probes instead of ARP/NDP (nmap's --disable-arp-ping).
    #[arg(long = "disable-arp-ping", visible_alias = "send-ip")]
    pub disable_arp_ping: bool,
}

/// Options that may go with `--resume` (clap ids): where results go and how fast; the scan
/// itself comes from the resume file.
pub const RESUME_MAY_CHANGE: &[&str] = &[
    "resume",
    "resume_file",
    "checkpoint_every",
    "append_output",
    "format",
    "output",
    "output_normal",
    "output_ndjson",
    "output_grepable",
    "output_xml",
    "output_list",
    "output_all",
    "states",
    "open",
    "reason",
    "verbose",
    "debug",
    "no_progress",
    "rate",
    "min_rate",
    "pcap",
    "no_dns",
];

impl Args {
    /// Takes the output side of `new` (the `--resume` command line) into these arguments,
    /// which came from a resume file.
    pub fn with_outputs_of(mut self, new: Args) -> Args {
        self.format = new.format;
        self.output = new.output;
        self.output_normal = new.output_normal;
        self.output_ndjson = new.output_ndjson;
        self.output_grepable = new.output_grepable;
        self.output_xml = new.output_xml;
        self.output_list = new.output_list;
        self.output_all = new.output_all;
        self.states = new.states;
        self.open = new.open;
        self.verbose = new.verbose;
        self.debug = new.debug;
        self.no_progress = new.no_progress;
        self.rate = new.rate.or(self.rate);
        self.min_rate = new.min_rate.or(self.min_rate);
        self.pcap = new.pcap;
        self.resume = new.resume;
        self.resume_file = new.resume_file;
        self.checkpoint_every = new.checkpoint_every;
        self.append_output = new.append_output;
        self
    }

    /// `--shard-index-env VAR --shards N` as the shard it names; one-line errors for an unset
    /// or bad variable.
    pub fn resolve_shard_env(&mut self) -> Result<(), String> {
        let (Some(var), Some(count)) = (&self.shard_index_env, self.shards) else {
            return Ok(());
        };
        let value = std::env::var(var).map_err(|_| {
            format!("--shard-index-env {var}: the environment variable {var} is not set")
        })?;
        let index: u64 = value
            .trim()
            .parse()
            .ok()
            .filter(|i| *i < count)
            .ok_or_else(|| {
                format!(
                    "--shard-index-env {var}: {var}='{value}' is not a shard index from 0 to {} (--shards {count})",
                    count - 1
                )
            })?;
        self.shard = Some(Shard {
            index: index + 1,
            count,
        });
        Ok(())
    }

    /// The scan these arguments describe, written back as arguments for a resume file:
    /// `targets` and `excludes` already read from files and resolved, `seed` explicit, the
    /// port list expanded, and no output options.
    pub fn scan_argv(
        &self,
        targets: &[String],
        excludes: &[String],
        ports: &str,
        seed: u64,
    ) -> Vec<String> {
        let mut v: Vec<String> = targets.to_vec();
        let mut opt = |flag: &str, value: Option<String>| {
            if let Some(value) = value {
                v.push(format!("--{flag}={value}"));
            }
        };
        let dur = |d: Option<Duration>| d.map(|d| format!("{}ns", d.as_nanos()));
        opt(
            "exclude",
            (!excludes.is_empty()).then(|| excludes.join(",")),
        );
        opt("ports", Some(ports.to_string()));
        opt("scan-type", self.scan_type.map(|t| t.as_str().to_string()));
        opt(
            "udp-payload-file",
            self.udp_payload_file
                .as_ref()
                .map(|f| f.display().to_string()),
        );
        opt("timing", self.timing.map(|n| n.to_string()));
        opt("rate", self.rate.map(|n| n.to_string()));
        opt("min-rate", self.min_rate.map(|n| n.to_string()));
        opt("scan-delay", dur(self.scan_delay));
        opt("retries", self.retries.map(|n| n.to_string()));
        opt("max-retries", self.max_retries.map(|n| n.to_string()));
        opt("timeout", dur(self.timeout));
        opt("min-rtt-timeout", dur(self.min_rtt_timeout));
        opt("max-rtt-timeout", dur(self.max_rtt_timeout));
        opt("initial-rtt-timeout", dur(self.initial_rtt_timeout));
        opt("host-timeout", dur(self.host_timeout));
        opt("ttl", self.ttl.map(|n| n.to_string()));
        opt("max-inflight", self.max_inflight.map(|n| n.to_string()));
        opt("seed", Some(seed.to_string()));
        opt(
            "shard",
            self.shard.map(|s| format!("{}/{}", s.index, s.count)),
        );
        opt("interface", self.interface.clone());
        opt("source-ip", self.source_ip.map(|a| a.to_string()));
        opt("source-port", self.source_port.map(|p| p.to_string()));
        opt("router-mac", self.router_mac.map(|m| m.to_string()));
        opt("wait", dur(self.wait));
        opt("banner-timeout", dur(self.banner_timeout));
        opt("banner-wait", dur(self.banner_wait));
        opt(
            "banner-concurrency",
            self.banner_concurrency.map(|n| n.to_string()),
        );
        opt("send-path", self.send_path.map(|p| p.as_str().to_string()));
        for p in &self.ping {
            v.push(format!("--ping={p}"));
        }
        for (flag, on) in [
            ("--no-reset", self.no_reset),
            ("--include-broadcast", self.include_broadcast),
            ("--sequential", self.sequential),
            ("--udp", self.udp),
            ("--udp-patient", self.udp_patient),
            ("--banners", self.banners),
            ("--no-ping", self.no_ping),
            ("--ping-scan", self.ping_scan),
            ("--disable-arp-ping", self.disable_arp_ping),
        ] {
            if on {
                v.push(flag.into());
            }
        }
        // Targets after `--`, so none is taken for an option.
        let (opts, targets): (Vec<String>, Vec<String>) =
            v.into_iter().partition(|a| a.starts_with("--"));
        opts.into_iter()
            .chain(std::iter::once("--".to_string()))
            .chain(targets)
            .collect()
    }
}

fn parse_scan_type(s: &str) -> Result<ScanType, String> {
    match s {
        "T" | "t" | "connect" => Ok(ScanType::Connect),
        "S" | "s" | "syn" => Ok(ScanType::Syn),
        _ => Err("expected T (connect) or S (syn)".into()),
    }
}

/// Parses a rate in probes per second: `2500`, `10k`, `1.5M`, `0.5` (one probe every 2 s).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    const BAD: &str = "expected probes per second, like 500, 10k or 1.5M";
    let (num, scale) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 1e3),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 1e6),
        _ => (s, 1.0),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(BAD.into());
    }
    let n = num.parse::<f64>().map_err(|_| BAD.to_string())? * scale;
    if !(n.is_finite() && n > 0.0) {
        return Err("the rate must be more than zero".into());
    }
    if n > MAX_RATE {
        return Err(format!("at most {MAX_RATE:.0} probes per second"));
    }
    Ok(n)
}

/// The highest `--rate` accepted: far above what one sender thread reaches.
pub const MAX_RATE: f64 = 100e6;

/// Parses nmap's timing template: 0-5 or its name.
fn parse_timing(s: &str) -> Result<u8, String> {
    const NAMES: [&str; 6] = [
        "paranoid",
        "sneaky",
        "polite",
        "normal",
        "aggressive",
        "insane",
    ];
    match s.parse::<u8>() {
        Ok(n) if n <= 5 => Ok(n),
        _ => NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| i as u8)
            .ok_or_else(|| {
                "expected 0-5 or paranoid, sneaky, polite, normal, aggressive, insane".into()
            }),
    }
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a whole number".into()),
    }
}

/// Parses `500ms`, `2s`, `1m`, `1.5s` or a bare number of seconds (at most a day).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const BAD: &str = "expected a duration like 500ms, 2s or 1m";
    let (num, scale) = if let Some(v) = s.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else {
        (s, 1.0)
    };
    let secs = match num.parse::<f64>() {
        Ok(v) => v * scale,
        Err(_) => humantime::parse_duration(s)
            .map_err(|_| BAD.to_string())?
            .as_secs_f64(),
    };
    if !(secs.is_finite() && (0.0..=86_400.0).contains(&secs)) {
        return Err(BAD.into());
    }
    if secs == 0.0 {
        return Err("the duration must be more than zero".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_send_path(s: &str) -> Result<crate::link::SendPath, String> {
    crate::link::SendPath::parse(s).ok_or_else(|| format!("'{s}' is not one of mmsg, ring, pnet"))
}

fn parse_mac(s: &str) -> Result<pnet::util::MacAddr, String> {
    s.parse()
        .map_err(|_| "expected a MAC address like 02:00:00:00:00:01".to_string())
}

fn parse_states(s: &str) -> Result<StateSet, String> {
    StateSet::parse(s)
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || "expected I/N with 1 <= I <= N, e.g. 1/4".to_string();
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let index: u64 = i.parse().map_err(|_| bad())?;
    let count: u64 = n.parse().map_err(|_| bad())?;
    if index == 0 || count == 0 || index > count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        for bad in ["0", "abc", "-1s", "0ms", "1e400", "NaN", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scan_argv_round_trips_every_scan_option() {
        let parse = |v: &[&str]| {
            let argv = std::iter::once("synscan").chain(v.iter().copied());
            Args::try_parse_from(
                super::super::compat::normalize(argv.map(OsString::from).collect()).unwrap(),
            )
            .unwrap()
        };
        let a = parse(&[
            "10.0.0.0/24",
            "-p",
            "22,80-90",
            "-sS",
            "--rate",
            "500",
            "--retries",
            "3",
            "--timeout",
            "1500ms",
            "--max-inflight",
            "9",
            "--shard",
            "2/3",
            "-e",
            "eth9",
            "-S",
            "10.0.0.9",
            "--source-port",
            "4000",
            "--router-mac",
            "02:00:00:00:00:01",
            "--wait",
            "0.1s",
            "--send-path",
            "ring",
            "--no-reset",
            "--include-broadcast",
            "-oX",
            "out.xml",
            "--states",
            "all",
            "-T4",
            "--min-rate",
            "5",
            "--scan-delay",
            "10ms",
            "--max-retries",
            "4",
            "--min-rtt-timeout",
            "5ms",
            "--initial-rtt-timeout",
            "100ms",
            "--host-timeout",
            "1m",
            "--ttl",
            "33",
            "-r",
            "-v",
        ]);
        let ports = crate::target::PortList::parse("22,80-90").unwrap();
        let argv = a.scan_argv(
            &["10.0.0.0/24".into()],
            &["10.0.0.5".into()],
            &ports.compact(),
            77,
        );
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let b = parse(&argv);
        // Every scan option survives; outputs are not saved.
        let scan = |x: &Args| {
            format!(
                "{:?} {:?}",
                (
                    &x.targets,
                    &x.ports,
                    x.scan_type,
                    x.rate,
                    x.retries,
                    x.timeout,
                    x.max_inflight,
                    x.shard,
                ),
                (
                    &x.interface,
                    x.source_ip,
                    x.source_port,
                    x.router_mac,
                    x.wait,
                    x.send_path,
                    x.no_reset,
                    x.include_broadcast,
                ),
            ) + &format!(
                "{:?}",
                (
                    x.timing,
                    x.min_rate,
                    x.scan_delay,
                    x.max_retries,
                    x.min_rtt_timeout,
                    x.initial_rtt_timeout,
                    x.host_timeout,
                    x.ttl,
                    x.sequential,
                )
            )
        };
        assert_eq!(scan(&b), scan(&a));
        assert_eq!(b.seed, Some(77));
        assert_eq!(b.exclude, vec!["10.0.0.5".to_string()]);
        assert_eq!(b.output_xml, None);
        assert_eq!(b.verbose, 0, "-v is output, not the scan");
        // --max-rtt-timeout (which conflicts with --timeout) is saved as given.
        let c = parse(&["10.0.0.1", "--max-rtt-timeout", "300ms"]);
        let argv = c.scan_argv(&["10.0.0.1".into()], &[], &ports.compact(), 1);
        assert!(
            argv.contains(&"--max-rtt-timeout=300000000ns".to_string()),
            "{argv:?}"
        );
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("2500"), Ok(2500.0));
        assert_eq!(parse_rate("10k"), Ok(10_000.0));
        assert_eq!(parse_rate("1.5M"), Ok(1_500_000.0));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        for bad in [
            "0", "-5", "abc", "", "k", "1e3", "NaN", "inf", "1G", "200M", "0.0k",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_timing("4"), Ok(4));
        assert_eq!(parse_timing("Insane"), Ok(5));
        assert!(parse_timing("6").is_err());
    }

    #[test]
    fn shards() {
        assert_eq!(parse_shard("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
