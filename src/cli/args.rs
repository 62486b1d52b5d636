//! Low-level arguments: exactly what the user typed, validated, no I/O. nmap's multi-letter
//! short flags (`-sT`, `-iL`, `-oX`, `-p-` ...) are rewritten to long ones by [`normalize`]
//! before clap sees them.

use crate::output::{Format, StateSet};
use crate::target::Shard;
use clap::Parser;
use std::ffi::OsString;
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

const AFTER_HELP: &str = "\
Commands: synscan [scan] TARGET... (the default) | send SPEC | sr SPEC | sr1 SPEC | sniff -i IFACE |
read FILE.pcap | trace HOST -p PORT (each has --help).

nmap-style spellings are accepted too: -sT, -sS, -iL FILE, -oN/-oJ/-oG/-oX/-oL FILE, -p-, -Pn, -n.
Exit status: 0 scan completed, 1 runtime failure, 2 bad input, 130 interrupted.";

/// synscan: a fast TCP port scanner (SYN and connect) and packet toolkit.
#[derive(Debug, Parser)]
#[command(name = "synscan", version, after_help = AFTER_HELP, disable_help_subcommand = true)]
pub struct Args {
    /// Targets: IPv4 address, CIDR (10.0.0.0/24), range (10.0.0.1-50, 10.0.0.1-10.0.0.9), host
    /// name, IPv6 address or CIDR.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Read targets from FILE ("-" for stdin): one per line, '#' comments, blank lines ignored.
    #[arg(long = "input-list", visible_alias = "iL", value_name = "FILE")]
    pub input_list: Option<String>,

    /// Exclude targets (comma-separated, same forms as TARGET). May be repeated.
    #[arg(long, value_name = "LIST")]
    pub exclude: Vec<String>,

    /// Exclude the targets listed in FILE.
    #[arg(long = "exclude-file", value_name = "FILE")]
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

    /// Scan the N most common TCP ports (from the shipped ranking).
    #[arg(long = "top-ports", value_name = "N", conflicts_with = "ports")]
    pub top_ports: Option<usize>,

    /// Scan type: T/connect (connect() scan) or S/syn (raw SYN scan, needs CAP_NET_RAW).
    #[arg(short = 's', long = "scan-type", value_name = "TYPE", value_parser = parse_scan_type)]
    pub scan_type: Option<ScanType>,

    /// Most probes per second, whole scan.
    #[arg(long, value_name = "N", value_parser = parse_rate)]
    pub rate: Option<u64>,

    /// Extra attempts for ports that gave no answer.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=20))]
    pub retries: Option<u32>,

    /// How long one attempt waits for an answer (500ms, 2s; a bare number is seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,

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

    /// Port states listed one by one: open, closed, filtered (comma-separated) or all.
    #[arg(long, value_name = "LIST", default_value = "open", value_parser = parse_states)]
    pub states: StateSet,

    /// Seed for the scan order (and the SYN cookie secret): same seed, same order.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Scan only shard I of N (1-based): N shards with one seed cover everything once.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Send from this interface (SYN scans).
    #[arg(short = 'e', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// Send from this source address (SYN scans).
    #[arg(short = 'S', long = "source-ip", value_name = "ADDR")]
    pub source_ip: Option<std::net::Ipv4Addr>,

    /// Use this source port for every probe (SYN scans).
    #[arg(long = "source-port", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub source_port: Option<u16>,

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

    /// How often a running scan rewrites its resume file (default 5s).
    #[arg(long = "checkpoint-every", value_name = "DURATION", value_parser = parse_duration)]
    pub checkpoint_every: Option<Duration>,

    /// Accepted for nmap compatibility: synscan never does reverse DNS.
    #[arg(short = 'n', hide = true)]
    pub no_dns: bool,

    /// Accepted for nmap compatibility: synscan never pings first (-Pn).
    #[arg(long = "no-ping", hide = true)]
    pub no_ping: bool,
}

/// Options that may go with `--resume` (clap ids): where results go and how fast; the scan
/// itself comes from the resume file.
pub const RESUME_MAY_CHANGE: &[&str] = &[
    "resume",
    "resume_file",
    "checkpoint_every",
    "format",
    "output",
    "output_normal",
    "output_ndjson",
    "output_grepable",
    "output_xml",
    "output_list",
    "states",
    "no_progress",
    "rate",
    "pcap",
    "no_dns",
    "no_ping",
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
        self.states = new.states;
        self.no_progress = new.no_progress;
        self.rate = new.rate.or(self.rate);
        self.pcap = new.pcap;
        self.resume = new.resume;
        self.resume_file = new.resume_file;
        self.checkpoint_every = new.checkpoint_every;
        self
    }

    /// The scan these arguments describe, written back as arguments for a resume file:
    /// `targets` and `excludes` already read from files and resolved, `seed` explicit, the
    /// port list expanded, and no output options.
    pub fn scan_argv(
        &self,
        targets: &[String],
        excludes: &[String],
        ports: &crate::target::PortList,
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
        opt("ports", Some(ports.compact()));
        opt("scan-type", self.scan_type.map(|t| t.as_str().to_string()));
        opt("rate", self.rate.map(|n| n.to_string()));
        opt("retries", self.retries.map(|n| n.to_string()));
        opt("timeout", dur(self.timeout));
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
        opt("send-path", self.send_path.map(|p| p.as_str().to_string()));
        for (flag, on) in [
            ("--no-reset", self.no_reset),
            ("--include-broadcast", self.include_broadcast),
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

/// Rewrites nmap's multi-letter short flags to the long flags clap knows. Only exact tokens
/// before a `--` are rewritten.
pub fn normalize(argv: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(argv.len());
    let mut passthrough = false;
    for a in argv {
        if passthrough {
            out.push(a);
            continue;
        }
        let rewritten = match a.to_str() {
            Some("--") => {
                passthrough = true;
                None
            }
            Some("-sT") => Some("--scan-type=connect"),
            Some("-sS") => Some("--scan-type=syn"),
            Some("-iL") => Some("--input-list"),
            Some("-oN") => Some("--output-normal"),
            Some("-oJ") => Some("--output-ndjson"),
            Some("-oG") => Some("--output-grepable"),
            Some("-oX") => Some("--output-xml"),
            Some("-oL") => Some("--output-list"),
            Some("-Pn") => Some("--no-ping"),
            Some("-p-") => Some("--ports=-"),
            _ => None,
        };
        match rewritten {
            Some(r) => out.push(OsString::from(r)),
            None => out.push(a),
        }
    }
    out
}

fn parse_scan_type(s: &str) -> Result<ScanType, String> {
    match s {
        "T" | "t" | "connect" => Ok(ScanType::Connect),
        "S" | "s" | "syn" => Ok(ScanType::Syn),
        _ => Err("expected T (connect) or S (syn)".into()),
    }
}

fn parse_rate(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .parse()
        .map_err(|_| "expected a whole number of probes per second".to_string())?;
    if n == 0 {
        return Err("the rate must be at least 1".into());
    }
    Ok(n)
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
    fn nmap_spellings() {
        let v: Vec<OsString> = ["synscan", "-sT", "-p-", "-oX", "f", "--", "-sS"]
            .iter()
            .map(OsString::from)
            .collect();
        let n: Vec<String> = normalize(v)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert_eq!(
            n,
            [
                "synscan",
                "--scan-type=connect",
                "--ports=-",
                "--output-xml",
                "f",
                "--",
                "-sS"
            ]
        );
    }

    #[test]
    fn scan_argv_round_trips_every_scan_option() {
        let parse = |v: &[&str]| {
            let argv = std::iter::once("synscan").chain(v.iter().copied());
            Args::try_parse_from(normalize(argv.map(OsString::from).collect())).unwrap()
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
        ]);
        let ports = crate::target::PortList::parse("22,80-90").unwrap();
        let argv = a.scan_argv(&["10.0.0.0/24".into()], &["10.0.0.5".into()], &ports, 77);
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
                )
            )
        };
        assert_eq!(scan(&b), scan(&a));
        assert_eq!(b.seed, Some(77));
        assert_eq!(b.exclude, vec!["10.0.0.5".to_string()]);
        assert_eq!(b.output_xml, None);
    }

    #[test]
    fn shards() {
        assert_eq!(parse_shard("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "x/2", "3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
