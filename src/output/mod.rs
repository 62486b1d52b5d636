//! Result output: one file per format over the shared [`RunInfo`], [`PortResult`] and
//! [`Report`]. Streaming formats (ndjson, json, csv, list) write each listed result as it
//! arrives; per-host formats (text, grepable, xml) write at the end, as nmap does.

mod csv;
mod grepable;
mod json;
mod list;
mod ndjson;
pub mod progress;
mod text;
mod xml;

use crate::event::{PortResult, PortState, Reason, ScanStats};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Per-host tables like nmap's normal output, with a summary.
    Text,
    /// One JSON object per port result, one per line.
    Ndjson,
    /// The same objects in one JSON array.
    Json,
    /// Comma-separated values with a header line.
    Csv,
    /// nmap's grepable format (-oG): one line per host.
    Grepable,
    /// masscan's list format (-oL): `open tcp PORT IP TIMESTAMP`.
    List,
    /// nmap-compatible XML (-oX), accepted by ndiff and nmap.xsl.
    Xml,
}

/// Facts about the run that every format may print.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The command line as typed.
    pub args: String,
    /// When the scan started.
    pub start: SystemTime,
    /// `connect` or `syn`, as nmap's scaninfo names them.
    pub scan_type: &'static str,
    /// The port list written compactly (`1-1024,8080`).
    pub ports_expr: String,
    /// Number of ports per host.
    pub ports_per_host: u64,
    /// Number of hosts.
    pub hosts_total: u64,
    /// A `--resume` run: ports reported by the interrupted run are not counted here, so
    /// unseen ports are not taken for filtered ones.
    pub resumed: bool,
    /// `-v` level: hosts that never answered are listed, counts carry their reasons.
    pub verbose: u8,
    /// `-d` level.
    pub debug: u8,
    /// `--open`: hosts without an open port are left out of the per-host formats.
    pub open_only: bool,
}

/// Which states are listed port by port (the others are only counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSet([bool; 3]);

impl StateSet {
    /// Only open ports (the default).
    pub const OPEN: StateSet = StateSet([true, false, false]);

    /// Parses `open,closed,filtered` (any subset, `all` for every state).
    pub fn parse(list: &str) -> Result<StateSet, String> {
        let mut set = [false; 3];
        for item in list.split(',').map(str::trim) {
            if item == "all" {
                set = [true; 3];
                continue;
            }
            match PortState::parse(item) {
                Some(s) => set[s as usize] = true,
                None => {
                    return Err(format!(
                        "invalid state '{item}' in --states '{list}' (expected open, closed, filtered or all)"
                    ));
                }
            }
        }
        Ok(StateSet(set))
    }

    /// True when results in `state` are listed.
    pub fn contains(self, state: PortState) -> bool {
        self.0[state as usize]
    }
}

/// What is known of one host at the end of the scan.
#[derive(Debug, Clone, PartialEq)]
pub struct HostReport {
    /// Address.
    pub ip: IpAddr,
    /// The name the user gave, if any.
    pub hostname: Option<String>,
    /// Listed results, ascending by port.
    pub listed: Vec<PortResult>,
    /// Results per state (open, closed, filtered).
    pub counts: [u64; 3],
    /// Results per (state, reason), for nmap's extrareasons.
    pub reasons: BTreeMap<(PortState, Reason), u64>,
    /// The host answered at least once itself (SYN-ACK, RST, refused).
    pub up: bool,
    /// The first reply that showed the host up.
    pub up_reason: Option<Reason>,
}

impl HostReport {
    fn new(ip: IpAddr, hostname: Option<String>) -> HostReport {
        HostReport {
            ip,
            hostname,
            listed: Vec::new(),
            counts: [0; 3],
            reasons: BTreeMap::new(),
            up: false,
            up_reason: None,
        }
    }

    /// Results in `state` that were counted but not listed.
    pub fn not_shown(&self, state: PortState, listed: StateSet) -> u64 {
        if listed.contains(state) {
            0
        } else {
            self.counts[state as usize]
        }
    }

    /// "127.0.0.1" or "localhost (127.0.0.1)".
    pub fn display_name(&self) -> String {
        match &self.hostname {
            Some(n) => format!("{n} ({})", self.ip),
            None => self.ip.to_string(),
        }
    }
}

/// Everything the per-host formats print at the end.
#[derive(Debug, Clone)]
pub struct Report {
    /// Hosts that answered or have listed results, ascending by address.
    pub hosts: Vec<HostReport>,
    /// The listed states.
    pub listed: StateSet,
    /// The run's counters.
    pub stats: ScanStats,
    /// When the scan ended.
    pub end: SystemTime,
    /// Hosts that answered (counted before `--open` leaves some out of `hosts`).
    pub up: u64,
    /// With `-v`: runs of consecutive hosts (first, how many) that never answered and have
    /// nothing listed.
    pub silent: Vec<(IpAddr, u64)>,
}

/// Fewest ports scanned on a host before "nearly every port open" means a SYN proxy.
const PROXY_MIN_PORTS: u64 = 100;

impl Report {
    /// Hosts that answered SYN-ACK on at least 90% of at least 100 scanned ports: a SYN
    /// proxy, tarpit or middlebox answering for the host, whose "open" ports mean nothing.
    pub fn syn_proxies(&self) -> Vec<IpAddr> {
        self.hosts
            .iter()
            .filter(|h| {
                let total: u64 = h.counts.iter().sum();
                let open = h.counts[PortState::Open as usize];
                total >= PROXY_MIN_PORTS && open * 10 >= total * 9
            })
            .map(|h| h.ip)
            .collect()
    }

    /// Hosts that answered.
    pub fn hosts_up(&self) -> u64 {
        self.up
    }

    /// Every host of the `silent` runs, in order.
    pub fn silent_hosts(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.silent
            .iter()
            .flat_map(|&(first, n)| (0..n).map(move |k| offset(first, k)))
    }
}

/// One format writing to one destination.
pub trait FormatWriter {
    /// Called once before the first result.
    fn begin(&mut self, _run: &RunInfo) -> io::Result<()> {
        Ok(())
    }
    /// Called for each listed result as it arrives.
    fn result(
        &mut self,
        _r: &PortResult,
        _hostname: Option<&str>,
        _at: SystemTime,
    ) -> io::Result<()> {
        Ok(())
    }
    /// Called once at the end (also after Ctrl-C).
    fn end(&mut self, run: &RunInfo, report: &Report) -> io::Result<()>;
    /// Pushes buffered output to the destination.
    fn flush(&mut self) -> io::Result<()>;
}

/// Creates the writer for `format` over `out`.
pub fn writer(format: Format, out: Box<dyn Write + Send>) -> Box<dyn FormatWriter + Send> {
    let out = io::BufWriter::with_capacity(64 * 1024, out);
    match format {
        Format::Text => Box::new(text::Text::new(out)),
        Format::Ndjson => Box::new(ndjson::Ndjson::new(out)),
        Format::Json => Box::new(json::Json::new(out)),
        Format::Csv => Box::new(csv::Csv::new(out)),
        Format::Grepable => Box::new(grepable::Grepable::new(out)),
        Format::List => Box::new(list::List::new(out)),
        Format::Xml => Box::new(xml::Xml::new(out)),
    }
}

/// How long streamed results may sit in a buffer before they are flushed.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// Fans results out to every writer, keeps the per-host aggregate, and applies `--states`.
pub struct Reporter {
    writers: Vec<Box<dyn FormatWriter + Send>>,
    run: RunInfo,
    listed: StateSet,
    names: BTreeMap<IpAddr, String>,
    hosts: BTreeMap<IpAddr, HostReport>,
    clock: fn() -> SystemTime,
    last_flush: Instant,
    unflushed: bool,
    silent: Vec<(IpAddr, u64)>,
}

impl Reporter {
    /// A reporter for one run.
    pub fn new(
        writers: Vec<Box<dyn FormatWriter + Send>>,
        run: RunInfo,
        listed: StateSet,
        names: BTreeMap<IpAddr, String>,
    ) -> Reporter {
        Reporter {
            writers,
            run,
            listed,
            names,
            hosts: BTreeMap::new(),
            clock: SystemTime::now,
            last_flush: Instant::now(),
            unflushed: false,
            silent: Vec::new(),
        }
    }

    /// True when `ip` answered or has a listed result.
    pub fn knows(&self, ip: IpAddr) -> bool {
        self.hosts.contains_key(&ip)
    }

    /// Sets the runs of hosts that never answered, listed by the per-host formats with `-v`.
    pub fn set_silent(&mut self, silent: Vec<(IpAddr, u64)>) {
        self.silent = silent;
    }

    /// Replaces the wall clock (golden tests use a fixed one).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Reporter {
        self.clock = clock;
        self
    }

    /// Writes every format's header.
    pub fn begin(&mut self) -> io::Result<()> {
        for w in &mut self.writers {
            w.begin(&self.run)?;
        }
        Ok(())
    }

    /// Takes one final result.
    pub fn result(&mut self, r: PortResult) -> io::Result<()> {
        let listed = self.listed.contains(r.state);
        if !listed && !r.reason.host_answered() && !self.hosts.contains_key(&r.ip) {
            // A silent port on a host not known to be up: counted in stats only, so memory
            // stays flat on wide sweeps of empty space.
            return Ok(());
        }
        let hostname = self.names.get(&r.ip).cloned();
        let host = self
            .hosts
            .entry(r.ip)
            .or_insert_with(|| HostReport::new(r.ip, hostname));
        host.counts[r.state as usize] += 1;
        *host.reasons.entry((r.state, r.reason)).or_insert(0) += 1;
        if r.reason.host_answered() && !host.up {
            host.up = true;
            host.up_reason = Some(r.reason);
        }
        if listed {
            let at = (self.clock)();
            let name = host.hostname.as_deref();
            for w in &mut self.writers {
                w.result(&r, name, at)?;
            }
            host.listed.push(r);
            self.unflushed = true;
            if self.last_flush.elapsed() >= FLUSH_EVERY {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Flushes streamed output (called by the engines' progress tick, too).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.unflushed {
            for w in &mut self.writers {
                w.flush()?;
            }
            self.unflushed = false;
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Writes every format's end and flushes. Filtered counts of answering hosts are completed
    /// from the port count when the scan ran to its end (not interrupted, timed out or
    /// resumed).
    pub fn finish(&mut self, stats: ScanStats) -> io::Result<Report> {
        let mut hosts: Vec<HostReport> = std::mem::take(&mut self.hosts).into_values().collect();
        for h in &mut hosts {
            h.listed.sort_by_key(|r| r.port);
            let seen: u64 = h.counts.iter().sum();
            // Ports never heard from are filtered only when every port was probed to the end.
            let complete = !stats.interrupted && !stats.timed_out && !self.run.resumed;
            if complete && seen < self.run.ports_per_host && h.up {
                let missing = self.run.ports_per_host - seen;
                h.counts[PortState::Filtered as usize] += missing;
                *h.reasons
                    .entry((PortState::Filtered, Reason::NoResponse))
                    .or_insert(0) += missing;
            }
        }
        let up = hosts.iter().filter(|h| h.up).count() as u64;
        if self.run.open_only {
            hosts.retain(|h| h.counts[PortState::Open as usize] > 0);
        }
        let report = Report {
            hosts,
            listed: self.listed,
            stats,
            end: (self.clock)(),
            up,
            silent: std::mem::take(&mut self.silent),
        };
        for w in &mut self.writers {
            w.end(&self.run, &report)?;
            w.flush()?;
        }
        Ok(report)
    }
}

/// The address `k` after `ip`, in its family.
fn offset(ip: IpAddr, k: u64) -> IpAddr {
    match ip {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).wrapping_add(k as u32).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).wrapping_add(k as u128).into()),
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 3339 UTC time to the second.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The one-line run summary shared by text output and the end of other formats.
pub fn summary_line(report: &Report) -> String {
    let s = &report.stats;
    let hosts = s.hosts_total;
    format!(
        "{} {} up of {}, {} ports scanned, {} open, {:.2} s, {} probes sent ({:.0}/s){}{}{}",
        report.hosts_up(),
        if report.hosts_up() == 1 {
            "host"
        } else {
            "hosts"
        },
        hosts,
        s.ports_done,
        s.open,
        s.elapsed.as_secs_f64(),
        s.probes_sent,
        s.rate(),
        match s.kernel_drops {
            Some(d) => format!(", {d} dropped by kernel"),
            None => String::new(),
        },
        match s.slowed_to {
            Some(r) => format!(", slowed to {r}/s after losses at speed"),
            None => String::new(),
        },
        if s.interrupted { ", interrupted" } else { "" },
    ) + &timeout_note(s)
        + &match &s.ports_source {
            Some(src) => format!("; {src}"),
            None => String::new(),
        }
        + &proxy_note(report)
}

/// ", N hosts timed out (--host-timeout)" when the deadline ended the scan.
fn timeout_note(s: &ScanStats) -> String {
    if s.timed_out {
        format!(
            ", {} {} timed out (--host-timeout)",
            s.hosts_timed_out,
            if s.hosts_timed_out == 1 {
                "host"
            } else {
                "hosts"
            }
        )
    } else {
        String::new()
    }
}

/// "997 closed ports" or, with `-v`, "997 closed ports (reset)" with every reason counted.
pub(crate) fn not_shown_phrase(h: &HostReport, state: PortState, n: u64, verbose: bool) -> String {
    let noun = if n == 1 { "port" } else { "ports" };
    if !verbose || n == 0 {
        return format!("{n} {state} {noun}");
    }
    let reasons: Vec<String> = h
        .reasons
        .iter()
        .filter(|((s, _), _)| *s == state)
        .map(|((_, r), c)| {
            if *c == n {
                r.to_string()
            } else {
                format!("{r} {c}")
            }
        })
        .collect();
    format!("{n} {state} {noun} ({})", reasons.join(", "))
}

/// "; SYN proxy suspected: ..." when some hosts answered nearly every port.
fn proxy_note(report: &Report) -> String {
    let proxies = report.syn_proxies();
    if proxies.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = proxies.iter().take(3).map(|ip| ip.to_string()).collect();
    let more = match proxies.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    format!(
        "; SYN proxy suspected (nearly every port answered SYN-ACK, open ports there are not \
         trustworthy): {}{more}",
        shown.join(", ")
    )
}

#[cfg(test)]
mod golden;
