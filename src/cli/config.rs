//! High-level configuration: everything [`Args`] implies after discovery and I/O — target
//! files read, names resolved, ports expanded, output files opened. Errors here are bad input
//! (exit 2) and name the file or token at fault.

use super::args::{Args, ScanType};
use crate::connect::ConnectOptions;
use crate::error::{Error, Result};
use crate::output::{Format, StateSet};
use crate::target::{self, HostSet, PortList, Shard};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where one output format goes.
pub enum Destination {
    /// Standard output.
    Stdout,
    /// A file, already created.
    File(PathBuf, File),
}

/// SYN-scan settings as given (`None`: discover or default).
#[derive(Debug, Clone, Default)]
pub struct SynArgs {
    /// `-e`.
    pub interface: Option<String>,
    /// `-S`.
    pub source_ip: Option<std::net::Ipv4Addr>,
    /// `--source-port`.
    pub source_port: Option<u16>,
    /// `--router-mac`.
    pub router_mac: Option<pnet::util::MacAddr>,
    /// `--wait`.
    pub wait: Option<Duration>,
    /// `--timeout`, if given.
    pub timeout: Option<Duration>,
    /// `--retries`, if given.
    pub retries: Option<u32>,
    /// Not `--no-reset`.
    pub reset: bool,
    /// `--send-path`.
    pub send_path: crate::link::SendPath,
}

/// A complete, validated scan.
pub struct ScanConfig {
    /// Hosts to scan.
    pub hosts: HostSet,
    /// Ports to scan on every host.
    pub ports: PortList,
    /// Requested technique (`None`: choose by privileges).
    pub scan_type: Option<ScanType>,
    /// Seed of the order and the cookie secret.
    pub seed: u64,
    /// This run's shard.
    pub shard: Shard,
    /// Connect-engine tuning.
    pub connect: ConnectOptions,
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
        let hosts = target::build_hosts_with(&targets, &excludes, args.include_broadcast)?;
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
        let ports = match (&args.ports, args.top_ports) {
            (Some(expr), _) => PortList::parse(expr)?,
            (None, Some(n)) => PortList::top(n)?,
            (None, None) => PortList::top(1000)?,
        };
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
        let defaults = ConnectOptions::default();
        let seed = args.seed.unwrap_or_else(rand::random);
        let scan_argv = args.scan_argv(&resolved, &excludes, &ports, seed);
        Ok(ScanConfig {
            hosts,
            ports,
            scan_type: args.scan_type,
            seed,
            shard: args.shard.unwrap_or_default(),
            connect: ConnectOptions {
                timeout: args.timeout.unwrap_or(defaults.timeout),
                retries: args.retries.unwrap_or(defaults.retries),
                max_inflight: args.max_inflight.unwrap_or(defaults.max_inflight),
                rate: args.rate,
            },
            syn: SynArgs {
                interface: args.interface.clone(),
                source_ip: args.source_ip,
                source_port: args.source_port,
                router_mac: args.router_mac,
                wait: args.wait,
                timeout: args.timeout,
                retries: args.retries,
                reset: !args.no_reset,
                send_path: args.send_path.unwrap_or_default(),
            },
            dry_run: args.dry_run,
            pcap: args.pcap.clone().filter(|_| !args.dry_run),
            outputs,
            states: args.states,
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
        if self.hosts.len() != state.hosts || self.ports.compact() != state.ports {
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
        self.resume = Some((file, state));
        Ok(())
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.connect.timeout
    }
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
            Some(p) => outputs.push((format, create(p)?)),
            None => {}
        }
    }
    let main_format = args.format.unwrap_or(Format::Text);
    match &args.output {
        Some(p) if p.as_os_str() != "-" => outputs.insert(0, (main_format, create(p)?)),
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

/// Creates an output file; errors are bad input naming the file. Under sudo the file is
/// handed to the invoking user (SUDO_UID/SUDO_GID), so results are not left owned by root.
pub fn create_file(path: &Path) -> Result<File> {
    let f = File::create(path).map_err(|e| {
        Error::input(format!(
            "cannot create output file '{}': {}",
            path.display(),
            plain(&e)
        ))
    })?;
    let id = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) {
        // Best effort: without the privilege to give it away, the file stays ours.
        let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
    }
    Ok(f)
}

fn create(path: &Path) -> Result<Destination> {
    Ok(Destination::File(path.to_path_buf(), create_file(path)?))
}

/// An I/O error's message without Rust's " (os error N)" suffix.
pub(crate) fn plain(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
