//! High-level configuration: everything [`Args`] implies after discovery and I/O — target
//! files read, names resolved, ports expanded, output files opened. Errors here are bad input
//! (exit 2) and name the file or token at fault.

use super::args::Args;
use crate::connect::ConnectOptions;
use crate::error::{Error, Result};
use crate::event::Proto;
use crate::output::{Format, StateSet};
pub use crate::scan::config::{Destination, Pass, ScanConfig, SynArgs};
use crate::target::{self, PortList};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default SYN retries: enough to ride out a few percent of loss.
const SYN_RETRIES: u32 = 2;
/// Most SYN retries when passes keep showing loss (nmap's default --max-retries is 10).
const MAX_ADAPTIVE_RETRIES: u32 = 8;
/// Default longest wait for a reply (SYN cool-down bound, connect() attempt).
const DEFAULT_MAX_RTT: Duration = Duration::from_secs(1);
/// Default shortest SYN cool-down: the timestamp-echo RTTs are exact, so it can be short.
const SYN_MIN_RTT: Duration = Duration::from_millis(10);

/// What nmap's `-T0`..`-T5` set; explicit flags override each field (docs/usage.md has the
/// table).
#[derive(Debug, Clone, Copy, Default)]
struct Template {
    scan_delay: Option<Duration>,
    max_rtt: Option<Duration>,
    /// Applies to connect() scans only: SYN cool-downs keep their own floor.
    min_rtt: Option<Duration>,
    initial_rtt: Option<Duration>,
    max_retries: Option<u32>,
    host_timeout: Option<Duration>,
}

fn template(t: Option<u8>) -> Template {
    let ms = Duration::from_millis;
    match t {
        Some(0) => Template {
            scan_delay: Some(Duration::from_secs(300)),
            ..Template::default()
        },
        Some(1) => Template {
            scan_delay: Some(Duration::from_secs(15)),
            ..Template::default()
        },
        Some(2) => Template {
            scan_delay: Some(ms(400)),
            ..Template::default()
        },
        Some(4) => Template {
            max_rtt: Some(ms(1250)),
            min_rtt: Some(ms(100)),
            initial_rtt: Some(ms(500)),
            max_retries: Some(6),
            ..Template::default()
        },
        Some(5) => Template {
            max_rtt: Some(ms(300)),
            min_rtt: Some(ms(50)),
            initial_rtt: Some(ms(250)),
            max_retries: Some(2),
            host_timeout: Some(Duration::from_secs(900)),
            ..Template::default()
        },
        _ => Template::default(),
    }
}

impl ScanConfig {
    /// Builds the configuration, reading `stdin` for `-iL -`.
    pub fn from_args(args: Args, command_line: String, stdin: &mut dyn Read) -> Result<ScanConfig> {
        let mut targets = args.targets.clone();
        if let Some(list) = &args.input_list {
            let text = if list == "-" {
                let mut s = String::new();
                stdin
                    .read_to_string(&mut s)
                    .map_err(|e| Error::input(format!("cannot read targets from stdin: {e}")))?;
                s
            } else {
                read_text(Path::new(list), "-iL")?
            };
            let tokens = target::tokens_from_text(&text);
            if tokens.is_empty() {
                return Err(Error::input(format!("no targets in -iL file '{list}'")));
            }
            targets.extend(tokens);
        }
        let mut excludes: Vec<String> = args
            .exclude
            .iter()
            .flat_map(|l| target::split_list(l).collect::<Vec<_>>())
            .collect();
        if let Some(path) = &args.exclude_file {
            excludes.extend(target::tokens_from_text(&read_text(
                path,
                "--exclude-file",
            )?));
        }
        if excludes.iter().any(|e| e.is_empty()) {
            return Err(Error::input("empty item in --exclude list"));
        }
        let (hosts, notices) =
            target::build_hosts_opts(&targets, &excludes, args.include_broadcast, args.ipv6)?;
        for n in notices {
            eprintln!("synscan: {n}");
        }
        // Names are saved resolved, so a resumed scan walks the same addresses.
        let resolved: Vec<String> = targets
            .iter()
            .map(|t| {
                hosts
                    .names()
                    .iter()
                    .find(|(_, name)| *name == t)
                    .map_or_else(|| t.clone(), |(ip, _)| ip.to_string())
            })
            .collect();
        let (passes, ports_source) = passes(&args)?;
        let ports_per_host: u64 = passes.iter().map(|p| p.ports.len() as u64).sum();
        let pairs = u128::from(hosts.len()) * u128::from(ports_per_host);
        if pairs > u128::from(target::MAX_PAIRS) {
            return Err(Error::input(format!(
                "the scan holds {pairs} (host, port) pairs, more than the 2^40 ({}) one scan may hold: narrow the targets or the ports",
                target::MAX_PAIRS
            )));
        }
        let mut payloads = crate::probe::Payloads::shipped();
        if let Some(file) = &args.udp_payload_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Error::input(format!(
                    "cannot read --udp-payload-file '{}': {}",
                    file.display(),
                    crate::files::plain(&e)
                ))
            })?;
            payloads
                .parse_file(&file.display().to_string(), &text)
                .map_err(|e| Error::input(format!("--udp-payload-file {e}")))?;
        }
        if args.shard.is_some_and(|s| s.count > 1) && args.seed.is_none() {
            return Err(Error::input(
                "--shard needs --seed N: every shard must walk the same order",
            ));
        }
        let outputs = if args.dry_run {
            // A dry run prints frames, not results: no output file is created.
            Vec::new()
        } else {
            outputs(&args)?
        };
        let timing = resolve_timing(&args)?;
        let seed = args.seed.unwrap_or_else(rand::random);
        let scan_argv = args.scan_argv(
            &resolved,
            &excludes,
            &crate::scan::config::ports_expr(&passes),
            seed,
        );
        let discovery = discovery_args(&args, hosts.len())?;
        Ok(ScanConfig {
            hosts,
            discovery,
            passes,
            udp_payloads: std::sync::Arc::new(payloads),
            scan_type: args.scan_type,
            seed,
            cookie: crate::probe::Cookie::random(),
            shard: args.shard.unwrap_or_default(),
            sequential: args.sequential,
            connect: timing.connect(&args),
            syn: timing.syn(&args),
            host_timeout: timing.host_timeout,
            verbose: args.verbose,
            debug: args.debug,
            open_only: args.open,
            banners: args.banners.then(|| {
                let d = crate::banner::Options::default();
                crate::banner::Options {
                    timeout: args.banner_timeout.unwrap_or(d.timeout),
                    greet_wait: args.banner_wait.unwrap_or(d.greet_wait),
                    concurrency: args.banner_concurrency.map_or(d.concurrency, usize::from),
                    ..d
                }
            }),
            ports_source,
            dry_run: args.dry_run,
            pcap: args.pcap.clone().filter(|_| !args.dry_run),
            outputs,
            states: if args.open {
                StateSet::OPEN
            } else {
                args.states
            },
            progress: !args.no_progress,
            command_line,
            scan_argv,
            resume_file: args
                .resume_file
                .clone()
                .or_else(|| args.resume.clone())
                .unwrap_or_else(|| PathBuf::from(crate::resume::DEFAULT_PATH)),
            checkpoint_every: args
                .checkpoint_every
                .unwrap_or(crate::resume::DEFAULT_EVERY),
            resume: None,
        })
    }

    /// Attaches the state of `--resume FILE`, after checking that the saved arguments still
    /// describe the same hosts and ports (a changed name or list file would walk another
    /// order), and restores the target names.
    pub fn attach_resume(
        &mut self,
        file: PathBuf,
        state: crate::resume::ResumeState,
    ) -> Result<()> {
        if self.hosts.len() != state.hosts || self.ports_expr() != state.ports {
            return Err(Error::input(format!(
                "resume file '{}': its targets no longer expand to the {} hosts and ports {} it was saved with",
                file.display(),
                state.hosts,
                state.ports
            )));
        }
        for (ip, name) in &state.names {
            if self.hosts.contains(*ip) {
                self.hosts.set_name(*ip, name.clone());
            }
        }
        if let Some(key) = state.cookie_key {
            self.cookie = crate::probe::Cookie::from_key(key);
        }
        self.resume = Some((file, state));
        Ok(())
    }
}

/// Host discovery: `-sn`, `-Pn`, the `--ping` probes; on for more than one target address
/// (a single named host is scanned without asking, as users expect).
fn discovery_args(args: &Args, hosts: u64) -> Result<crate::scan::config::DiscoveryArgs> {
    use crate::probe::PingKind;
    if args.ping_scan {
        let port_flag = if args.ports.is_some() {
            Some("-p")
        } else if args.top_ports.is_some() {
            Some("--top-ports")
        } else if args.fast {
            Some("-F")
        } else if args.udp {
            Some("-sU")
        } else if args.scan_type.is_some() {
            Some("-sS/-sT")
        } else {
            None
        };
        if let Some(flag) = port_flag {
            return Err(Error::input(format!(
                "-sn (host discovery only) scans no ports: drop {flag}, or drop -sn to scan ports"
            )));
        }
    }
    let mut pings = Vec::new();
    let mut connect_ports = Vec::new();
    for p in &args.ping {
        let bad = || {
            Error::input(format!(
                "invalid --ping '{p}': expected arp, echo, timestamp, syn[:PORTS], ack[:PORTS] or udp[:PORTS]"
            ))
        };
        let (kind, given) = match p.split_once(':') {
            Some((k, ports)) => (k, Some(ports)),
            None => (p.as_str(), None),
        };
        let ports = |default: u16| -> Result<Vec<u16>> {
            match given {
                None => Ok(vec![default]),
                Some(expr) => {
                    let list = PortList::parse(expr)
                        .map_err(|e| Error::input(format!("invalid ports in --ping '{p}': {e}")))?;
                    if list.len() > 64 {
                        return Err(Error::input(format!(
                            "--ping '{p}' names {} ports: a host discovery probe takes at most 64",
                            list.len()
                        )));
                    }
                    Ok(list.as_slice().to_vec())
                }
            }
        };
        match kind {
            // ARP/NDP is what our own link gets anyway (unless --disable-arp-ping).
            "arp" if given.is_none() => {}
            "echo" if given.is_none() => pings.push(PingKind::Echo),
            "timestamp" if given.is_none() => pings.push(PingKind::Timestamp),
            "syn" => {
                let list = ports(80)?;
                connect_ports.extend(&list);
                pings.extend(list.into_iter().map(PingKind::Syn));
            }
            "ack" => {
                let list = ports(80)?;
                connect_ports.extend(&list);
                pings.extend(list.into_iter().map(PingKind::Ack));
            }
            "udp" => pings.extend(ports(40125)?.into_iter().map(PingKind::Udp)),
            _ => return Err(bad()),
        }
    }
    if pings.len() > 128 {
        return Err(Error::input(
            "too many host discovery probes: at most 128 per host",
        ));
    }
    if connect_ports.is_empty() {
        connect_ports = vec![80, 443];
    }
    connect_ports.sort_unstable();
    connect_ports.dedup();
    let asked = !args.ping.is_empty() || args.disable_arp_ping;
    if args.no_ping && asked {
        return Err(Error::input(
            "-Pn skips host discovery: it cannot go with -PR, -PE, -PP, -PS, -PA, -PU or --disable-arp-ping",
        ));
    }
    Ok(crate::scan::config::DiscoveryArgs {
        enabled: !args.no_ping && !args.dry_run && (args.ping_scan || asked || hosts > 1),
        only: args.ping_scan,
        pings,
        no_arp: args.disable_arp_ping,
        connect_ports,
    })
}

/// The protocols to scan and their ports: `-p` (with `T:`/`U:` prefixes), `--top-ports`,
/// `-F` or the default top 1000, from each protocol's ranking; and which ranking chose them.
fn passes(args: &Args) -> Result<(Vec<Pass>, Option<String>)> {
    let udp = args.udp;
    // -sU alone scans UDP only; with -sS or -sT, both.
    let tcp = !udp || args.scan_type.is_some();
    let mut protos = Vec::new();
    if tcp {
        protos.push(Proto::Tcp);
    }
    if udp {
        protos.push(Proto::Udp);
    }
    if let Some(expr) = &args.ports {
        let (t, u) = PortList::parse_by_proto(expr)?;
        let prefixed = |letter: &str| {
            expr.split(',')
                .any(|i| i.trim().to_ascii_uppercase().starts_with(letter))
        };
        if !udp && prefixed("U:") {
            return Err(Error::input(format!(
                "port list '{expr}' names UDP ports (U:) but no UDP scan was asked for: add -sU"
            )));
        }
        if !tcp && prefixed("T:") {
            return Err(Error::input(format!(
                "port list '{expr}' names TCP ports (T:) but only a UDP scan was asked for: add -sS or -sT"
            )));
        }
        let mut passes = Vec::new();
        for proto in protos {
            let list = match proto {
                Proto::Tcp => t.clone(),
                Proto::Udp => u.clone(),
            };
            match list {
                Some(ports) => passes.push(Pass { proto, ports }),
                None => {
                    return Err(Error::input(format!(
                        "port list '{expr}' has no {} ports: give them with {}",
                        proto.as_str().to_uppercase(),
                        if proto == Proto::Tcp {
                            "T:PORTS"
                        } else {
                            "U:PORTS"
                        }
                    )));
                }
            }
        }
        return Ok((passes, None));
    }
    let (n, flag) = match (args.top_ports, args.fast) {
        (Some(n), _) => (n, "--top-ports"),
        (None, true) => (100, "-F"),
        (None, false) => (1000, "--top-ports"),
    };
    let mut passes = Vec::new();
    let mut sources = Vec::new();
    for proto in protos {
        let ranking = target::Ranking::discover(args.servicedb.as_deref(), proto)?;
        passes.push(Pass {
            proto,
            ports: ranking.top(n, flag)?,
        });
        let what = if passes.len() > 1 || udp {
            format!(" {}", proto.as_str().to_uppercase())
        } else {
            String::new()
        };
        sources.push(format!(
            "top {n}{what} ports of {}",
            ranking.describe_source()
        ));
    }
    Ok((passes, Some(sources.join(" and "))))
}

/// Timing after `-T` and the explicit flags, which win over the template.
struct Timing {
    rate: Option<f64>,
    min_rate: Option<f64>,
    retries: Option<u32>,
    /// `--max-retries`, or the template's when no `--retries` exceeds it.
    max_retries: Option<u32>,
    max_rtt: Option<Duration>,
    /// `--min-rtt-timeout` as given.
    min_rtt: Option<Duration>,
    /// The template's floor for connect() attempts.
    connect_min_rtt: Option<Duration>,
    initial_rtt: Option<Duration>,
    host_timeout: Option<Duration>,
}

fn resolve_timing(args: &Args) -> Result<Timing> {
    let tpl = template(args.timing);
    let scan_delay = args.scan_delay.or(tpl.scan_delay);
    // --scan-delay D is a rate of 1/D: the lower of it and --rate applies.
    let delay_rate = scan_delay.map(|d| 1.0 / d.as_secs_f64());
    let rate = match (args.rate, delay_rate) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let (Some(min), Some(max)) = (args.min_rate, rate)
        && min > max
    {
        return Err(Error::input(format!(
            "--min-rate {min} is above the highest rate allowed ({max} probes/s from --rate or --scan-delay)"
        )));
    }
    let max_retries = match (args.max_retries, args.retries) {
        (Some(cap), Some(r)) if r > cap => {
            return Err(Error::input(format!(
                "--retries {r} is above --max-retries {cap}"
            )));
        }
        (Some(cap), _) => Some(cap),
        // A template's cap gives way to an explicit --retries.
        (None, Some(r)) => tpl.max_retries.map(|c| c.max(r)),
        (None, None) => tpl.max_retries,
    };
    let max_rtt = args.max_rtt_timeout.or(args.timeout).or(tpl.max_rtt);
    let min_rtt = args.min_rtt_timeout;
    if let (Some(min), Some(max)) = (min_rtt, max_rtt)
        && min > max
    {
        return Err(Error::input(format!(
            "--min-rtt-timeout {min:?} is above the longest wait ({max:?})"
        )));
    }
    Ok(Timing {
        rate,
        min_rate: args.min_rate,
        retries: args.retries,
        max_retries,
        max_rtt,
        min_rtt,
        connect_min_rtt: min_rtt.or(tpl.min_rtt),
        initial_rtt: args.initial_rtt_timeout.or(tpl.initial_rtt),
        host_timeout: args.host_timeout.or(tpl.host_timeout),
    })
}

impl Timing {
    fn connect(&self, args: &Args) -> ConnectOptions {
        let d = ConnectOptions::default();
        let timeout = self.max_rtt.unwrap_or(d.timeout);
        ConnectOptions {
            timeout,
            // Without a floor the wait is fixed at `timeout`; with one it adapts to the RTTs.
            min_timeout: self.connect_min_rtt.map(|m| m.min(timeout)),
            initial_timeout: self.initial_rtt.map(|i| i.min(timeout)),
            retries: self
                .retries
                .unwrap_or(d.retries.min(self.max_retries.unwrap_or(d.retries))),
            max_inflight: args.max_inflight.unwrap_or(d.max_inflight),
            rate: self.rate,
            ttl: args.ttl,
            deadline: None,
        }
    }

    fn syn(&self, args: &Args) -> SynArgs {
        let max_rtt = self.max_rtt.unwrap_or(DEFAULT_MAX_RTT);
        let retries = self
            .retries
            .unwrap_or(SYN_RETRIES)
            .min(self.max_retries.unwrap_or(u32::MAX));
        // --retries 0 is one pass, exactly; otherwise lossy paths may earn more passes, up to
        // --max-retries when given.
        let max_retries = match self.max_retries {
            Some(cap) => cap.max(retries),
            None if retries == 0 => 0,
            None => retries.max(MAX_ADAPTIVE_RETRIES),
        };
        SynArgs {
            interface: args.interface.clone(),
            source_ip: args.source_ip,
            source_port: args.source_port,
            router_mac: args.router_mac,
            wait: args.wait,
            max_rtt,
            min_rtt: self.min_rtt.unwrap_or(SYN_MIN_RTT).min(max_rtt),
            initial_rtt: self.initial_rtt.map(|i| i.min(max_rtt)),
            retries,
            max_retries,
            min_rate: self.min_rate,
            ttl: args.ttl.unwrap_or(64),
            reset: !args.no_reset,
            send_path: args.send_path.unwrap_or_default(),
            udp_patient: args.udp_patient,
        }
    }
}

/// The output destinations: `--format` to stdout or `-o FILE`, plus each `-oN/-oJ/-oG/-oX/-oL`.
/// A shorthand given `-` writes to stdout in place of the default stdout output (as nmap does).
fn outputs(args: &Args) -> Result<Vec<(Format, Destination)>> {
    let mut outputs = Vec::new();
    let mut stdout_taken = false;
    for (format, path) in [
        (Format::Text, &args.output_normal),
        (Format::Ndjson, &args.output_ndjson),
        (Format::Grepable, &args.output_grepable),
        (Format::Xml, &args.output_xml),
        (Format::List, &args.output_list),
    ] {
        match path {
            Some(p) if p.as_os_str() == "-" => {
                if stdout_taken {
                    return Err(Error::input("only one output can go to stdout ('-')"));
                }
                stdout_taken = true;
                outputs.push((format, Destination::Stdout));
            }
            Some(p) => outputs.push((format, create(p, args.append_output, format)?)),
            None => {}
        }
    }
    if let Some(base) = &args.output_all {
        if base.as_os_str() == "-" || base.as_os_str().is_empty() {
            return Err(Error::input(
                "-oA takes a file name base (it writes BASE.nmap, BASE.xml and BASE.gnmap)",
            ));
        }
        for (format, ext) in [
            (Format::Text, "nmap"),
            (Format::Xml, "xml"),
            (Format::Grepable, "gnmap"),
        ] {
            let mut name = base.as_os_str().to_owned();
            name.push(format!(".{ext}"));
            outputs.push((
                format,
                create(Path::new(&name), args.append_output, format)?,
            ));
        }
    }
    let main_format = args.format.unwrap_or(Format::Text);
    match &args.output {
        Some(p) if p.as_os_str() != "-" => outputs.insert(
            0,
            (main_format, create(p, args.append_output, main_format)?),
        ),
        _ if stdout_taken && args.format.is_none() => {}
        _ if stdout_taken => {
            return Err(Error::input("only one output can go to stdout ('-')"));
        }
        _ => outputs.insert(0, (main_format, Destination::Stdout)),
    }
    Ok(outputs)
}

fn read_text(path: &Path, flag: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::input(format!(
            "cannot read {flag} file '{}': {}",
            path.display(),
            plain(&e)
        ))
    })
}

pub use crate::files::{create_file, create_file_mode, plain};

fn create(path: &Path, append: bool, format: Format) -> Result<Destination> {
    let file = if append {
        // Line formats lose a line cut short by a killed run; JSON and XML are documents,
        // appended one after another as they are.
        let lines = !matches!(format, Format::Json | Format::Xml);
        crate::files::append_file(path, lines)?
    } else {
        create_file(path)?
    };
    Ok(Destination::File(path.to_path_buf(), file))
}
