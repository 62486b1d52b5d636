//! Result output: one file per format over the shared [`RunInfo`], [`PortResult`] and
//! [`Report`]. Streaming formats (ndjson, json, csv, list) write each listed result as it
//! arrives and keep nothing; per-host formats (text, grepable, xml) write host by host at the
//! end, as nmap does, from records kept on disk past a few MiB ([`spill`]). Per host, the
//! reporter keeps at most two bits (answered, heard of), so memory is flat over any sweep.

mod csv;
mod grepable;
mod json;
mod list;
mod ndjson;
pub mod progress;
pub(crate) mod spill;
mod text;
mod xml;

use crate::bitmap::Bitmap;
use crate::event::{HostResult, PortResult, PortState, Proto, Reason, ScanStats};
use crate::target::{HostSet, Shard};
use spill::{Record, Spill};
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

/// One protocol's part of the run, as nmap's `<scaninfo>` gives it.
#[derive(Debug, Clone)]
pub struct ScanInfo {
    /// `connect`, `syn` or `udp`, as nmap's scaninfo names them.
    pub scan_type: &'static str,
    /// The protocol.
    pub proto: crate::event::Proto,
    /// The port list written compactly (`1-1024,8080`).
    pub ports_expr: String,
    /// Number of ports.
    pub count: u64,
}

/// A run's place in a (possibly sharded) scan, as every output format records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// 16 hex digits of SHA-256 over the scan's definition (`scan::identity`).
    pub scan_id: String,
    /// Seed of the order.
    pub seed: u64,
    /// This run's shard, 1-based as `--shard I/N` writes it.
    pub shard: Shard,
    /// Our source addresses (one per path the scan leaves by); empty when unknown.
    pub sources: Vec<IpAddr>,
    /// The scan as arguments (targets resolved, seed explicit, no outputs): what `merge`
    /// rebuilds the host set from.
    pub scan_argv: Vec<String>,
}

impl Identity {
    /// "2/4".
    pub fn shard_str(&self) -> String {
        format!("{}/{}", self.shard.index, self.shard.count)
    }

    /// The source addresses, comma-separated (empty when unknown).
    pub fn sources_str(&self) -> String {
        self.sources
            .iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Facts about the run that every format may print.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The command line as typed.
    pub args: String,
    /// When the scan started.
    pub start: SystemTime,
    /// What is scanned, one entry per protocol (nmap's scaninfo).
    pub scans: Vec<ScanInfo>,
    /// Number of ports per host, every protocol together.
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
    /// Host discovery runs first: hosts get status records.
    pub discovery: bool,
    /// `-sn`: discovery only, no port scanned.
    pub ping_only: bool,
    /// `--banners`: services and versions are shown.
    pub banners: bool,
    /// Scan id, seed, shard and source addresses.
    pub identity: Identity,
    /// Written by `synscan merge` from shards' records: only what they listed is known, so
    /// unseen ports are not counted as filtered.
    pub merged: bool,
}

/// Which states are listed port by port (the others are only counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSet([bool; 4]);

impl StateSet {
    /// Only open ports (the default).
    pub const OPEN: StateSet = StateSet([true, false, false, false]);
    /// Every state.
    pub const ALL: StateSet = StateSet([true; 4]);

    /// Parses `open,closed,filtered,open|filtered` (any subset, `all` for every state).
    pub fn parse(list: &str) -> Result<StateSet, String> {
        let mut set = [false; 4];
        for item in list.split(',').map(str::trim) {
            if item == "all" {
                set = [true; 4];
                continue;
            }
            match PortState::parse(item) {
                Some(s) => set[s as usize] = true,
                None => {
                    return Err(format!(
                        "invalid state '{item}' in --states '{list}' (expected open, closed, filtered, open|filtered or all)"
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
    /// Results per state (open, closed, filtered, open|filtered).
    pub counts: [u64; 4],
    /// Results per (state, reason), for nmap's extrareasons.
    pub reasons: BTreeMap<(PortState, Reason), u64>,
    /// The host answered at least once itself (SYN-ACK, RST, refused).
    pub up: bool,
    /// The first reply that showed the host up.
    pub up_reason: Option<Reason>,
    /// What host discovery found, when it ran.
    pub discovered: Option<HostResult>,
}

impl HostReport {
    fn new(ip: IpAddr, hostname: Option<String>) -> HostReport {
        HostReport {
            ip,
            hostname,
            listed: Vec::new(),
            counts: [0; 4],
            reasons: BTreeMap::new(),
            up: false,
            up_reason: None,
            discovered: None,
        }
    }

    /// Counts (and lists) one kept record.
    fn add(&mut self, rec: &Record) {
        if rec.status {
            let up = rec.state == PortState::Open;
            let r = rec.result(self.ip);
            self.discovered = Some(HostResult {
                ip: self.ip,
                up,
                reason: rec.reason,
                ttl: r.ttl,
                rtt: r.rtt,
                mac: None,
            });
            if up && !self.up {
                self.up = true;
                self.up_reason = Some(rec.reason);
            }
            return;
        }
        self.counts[rec.state as usize] += 1;
        *self.reasons.entry((rec.state, rec.reason)).or_insert(0) += 1;
        if rec.reason.host_answered() && !self.up {
            self.up = true;
            self.up_reason = Some(rec.reason);
        }
        if rec.listed {
            self.listed.push(rec.result(self.ip));
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

/// What the per-host formats are told while they write hosts at the end.
#[derive(Debug, Clone, Copy)]
pub struct Ending<'a> {
    /// The listed states.
    pub listed: StateSet,
    /// When the scan ended.
    pub end: SystemTime,
    /// The run's counters.
    pub stats: &'a ScanStats,
}

/// What every format prints last: the run's outcome.
#[derive(Debug, Clone)]
pub struct Report {
    /// The listed states.
    pub listed: StateSet,
    /// The run's counters.
    pub stats: ScanStats,
    /// When the scan ended.
    pub end: SystemTime,
    /// Hosts that answered (counted before `--open` leaves some out).
    pub up: u64,
    /// The first [`PROXY_LIST`] hosts that look like SYN proxies.
    pub proxies: Vec<IpAddr>,
    /// How many hosts look like SYN proxies.
    pub proxies_total: u64,
}

/// Fewest ports scanned on a host before "nearly every port open" means a SYN proxy.
const PROXY_MIN_PORTS: u64 = 100;

/// Most SYN proxy suspects named.
pub const PROXY_LIST: usize = 100;

impl Report {
    /// Hosts that answered SYN-ACK on at least 90% of at least 100 scanned ports: a SYN
    /// proxy, tarpit or middlebox answering for the host, whose "open" ports mean nothing.
    /// The first [`PROXY_LIST`] of them.
    pub fn syn_proxies(&self) -> &[IpAddr] {
        &self.proxies
    }

    /// Hosts that answered.
    pub fn hosts_up(&self) -> u64 {
        self.up
    }
}

/// One format writing to one destination.
pub trait FormatWriter {
    /// Called once before the first result.
    fn begin(&mut self, _run: &RunInfo) -> io::Result<()> {
        Ok(())
    }
    /// Called for each listed host record of discovery as it arrives.
    fn host_status(
        &mut self,
        _h: &HostResult,
        _hostname: Option<&str>,
        _at: SystemTime,
    ) -> io::Result<()> {
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
    /// True for formats written host by host at the end: the reporter keeps records for
    /// them.
    fn per_host(&self) -> bool {
        false
    }
    /// At the end, before the first host.
    fn hosts_begin(&mut self, _run: &RunInfo, _at: &Ending) -> io::Result<()> {
        Ok(())
    }
    /// At the end, each host with results, ascending by address.
    fn host(&mut self, _run: &RunInfo, _at: &Ending, _h: &HostReport) -> io::Result<()> {
        Ok(())
    }
    /// At the end, with `-v`: each host that never answered and has nothing listed.
    fn silent(&mut self, _run: &RunInfo, _at: &Ending, _ip: IpAddr) -> io::Result<()> {
        Ok(())
    }
    /// Called once at the end (also after Ctrl-C), after the hosts.
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

/// Which results the reporter keeps for the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Nothing: only streaming formats, too few ports per host for a SYN proxy.
    Nothing,
    /// Open results only, to find SYN proxies at the end.
    Open,
    /// Everything the per-host formats print or count.
    All,
}

/// Fans results out to every writer, applies `--states`, and keeps what the per-host formats
/// and the summary need: bits per host and records on disk, nothing that grows in memory.
pub struct Reporter {
    writers: Vec<Box<dyn FormatWriter + Send>>,
    run: RunInfo,
    listed: StateSet,
    hosts: HostSet,
    keep: Keep,
    /// Hosts that answered (only when hosts have several ports: else each result is its
    /// host's only one, and counting is enough).
    up: Option<Bitmap>,
    up_count: u64,
    /// Hosts with a kept record (`Keep::All`): answered, or with a listed result.
    known: Bitmap,
    spill: Spill,
    seq: u64,
    show_silent: bool,
    /// MACs of hosts discovery found on our link (bounded by the hosts of that link).
    macs: std::collections::HashMap<u64, pnet::util::MacAddr>,
    /// Services of listed ports (`--banners`; bounded by the open ports).
    services: std::collections::HashMap<(u64, u16, Proto), Box<crate::banner::Identified>>,
    clock: fn() -> SystemTime,
    /// The end time to report instead of the clock's (`merge`: the last shard's end).
    end_at: Option<SystemTime>,
    last_flush: Instant,
    unflushed: bool,
}

impl Reporter {
    /// A reporter for one run over `hosts` (whose names the formats print).
    pub fn new(
        writers: Vec<Box<dyn FormatWriter + Send>>,
        run: RunInfo,
        listed: StateSet,
        hosts: HostSet,
    ) -> Reporter {
        let keep = if writers.iter().any(|w| w.per_host()) {
            Keep::All
        } else if run.ports_per_host >= PROXY_MIN_PORTS {
            Keep::Open
        } else {
            Keep::Nothing
        };
        let up = (run.ports_per_host > 1 || run.discovery).then(|| Bitmap::new(hosts.len()));
        Reporter {
            writers,
            listed,
            known: Bitmap::new(hosts.len()),
            hosts,
            keep,
            up,
            up_count: 0,
            spill: Spill::new(),
            seq: 0,
            show_silent: false,
            macs: std::collections::HashMap::new(),
            services: std::collections::HashMap::new(),
            run,
            clock: SystemTime::now,
            end_at: None,
            last_flush: Instant::now(),
            unflushed: false,
        }
    }

    /// With `-v`: the per-host formats list the hosts that never answered, as nmap lists
    /// down hosts.
    pub fn show_silent(&mut self, on: bool) {
        self.show_silent = on;
    }

    /// Replaces the wall clock (golden tests use a fixed one).
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Reporter {
        self.clock = clock;
        self
    }

    /// Reports `end` as the end time (a merge reports its shards' last end).
    pub fn with_end(mut self, end: SystemTime) -> Reporter {
        self.end_at = Some(end);
        self
    }

    /// Writes every format's header.
    pub fn begin(&mut self) -> io::Result<()> {
        for w in &mut self.writers {
            w.begin(&self.run)?;
        }
        Ok(())
    }

    /// Takes one host record of discovery; down hosts are listed only when `list_down`
    /// (`-v`), as nmap lists them.
    pub fn host(&mut self, h: HostResult, list_down: bool) -> io::Result<()> {
        let listed = h.up || list_down;
        let host = self.hosts.index_of(h.ip);
        if h.up {
            match (&mut self.up, host) {
                (Some(up), Some(i)) => self.up_count += u64::from(up.set(i)),
                (None, _) => self.up_count += 1,
                (Some(_), None) => {}
            }
        }
        if !listed {
            return Ok(());
        }
        if let Some(i) = host
            && self.keep == Keep::All
        {
            self.known.set(i);
            let r = PortResult {
                ip: h.ip,
                port: 0,
                proto: crate::event::Proto::Tcp,
                state: if h.up {
                    PortState::Open
                } else {
                    PortState::Filtered
                },
                reason: h.reason,
                ttl: h.ttl,
                rtt: h.rtt,
                data: None,
                service: None,
            };
            let mut rec = Record::new(i, self.seq, &r, false);
            rec.status = true;
            self.spill.push(rec)?;
            self.seq += 1;
            if let Some(m) = h.mac {
                self.macs.insert(i, m);
            }
        }
        let at = (self.clock)();
        let name = self.hosts.name(h.ip);
        for w in &mut self.writers {
            w.host_status(&h, name, at)?;
        }
        self.unflushed = true;
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Takes one final result.
    pub fn result(&mut self, r: PortResult) -> io::Result<()> {
        let listed = self.listed.contains(r.state);
        let answered = r.reason.host_answered();
        let host = self.hosts.index_of(r.ip);
        if answered {
            match (&mut self.up, host) {
                (Some(up), Some(h)) => self.up_count += u64::from(up.set(h)),
                (None, _) => self.up_count += 1,
                (Some(_), None) => {}
            }
        }
        if let Some(h) = host {
            let keep = match self.keep {
                // A silent port on a host not known to be up is only counted in the stats,
                // so wide sweeps of empty space keep nothing.
                Keep::All => listed || answered || self.known.get(h),
                Keep::Open => r.state == PortState::Open,
                Keep::Nothing => false,
            };
            if keep {
                if self.keep == Keep::All {
                    self.known.set(h);
                }
                self.spill.push(Record::new(h, self.seq, &r, listed))?;
                self.seq += 1;
                if listed
                    && self.keep == Keep::All
                    && let Some(s) = &r.service
                {
                    self.services.insert((h, r.port, r.proto), s.clone());
                }
            }
        }
        if listed {
            let at = (self.clock)();
            let name = self.hosts.name(r.ip);
            for w in &mut self.writers {
                w.result(&r, name, at)?;
            }
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

    /// Writes every format's end and flushes: the hosts, merged from the kept records, then
    /// the silent hosts with `-v`, then the summary. Filtered counts of answering hosts are
    /// completed from the port count when the scan ran to its end (not interrupted, timed out
    /// or resumed).
    pub fn finish(&mut self, stats: ScanStats) -> io::Result<Report> {
        let end = self.end_at.unwrap_or_else(self.clock);
        let ending = Ending {
            listed: self.listed,
            end,
            stats: &stats,
        };
        for w in &mut self.writers {
            w.hosts_begin(&self.run, &ending)?;
        }
        let complete =
            !stats.interrupted && !stats.timed_out && !self.run.resumed && !self.run.merged;
        let mut sorted = std::mem::take(&mut self.spill).into_sorted()?;
        let (mut proxies, mut proxies_total) = (Vec::new(), 0u64);
        let mut current: Option<(u64, HostReport)> = None;
        loop {
            let rec = sorted.next_record()?;
            if let Some((h, report)) = current.take_if(|(h, _)| rec.is_none_or(|r| r.host != *h)) {
                let mut report = report;
                if let Some(d) = &mut report.discovered {
                    d.mac = self.macs.get(&h).copied();
                }
                if !self.services.is_empty() {
                    for r in &mut report.listed {
                        r.service = self.services.remove(&(h, r.port, r.proto));
                    }
                }
                self.complete(&mut report, complete);
                if self.is_proxy(&report) {
                    proxies_total += 1;
                    if proxies.len() < PROXY_LIST {
                        proxies.push(report.ip);
                    }
                }
                if self.keep == Keep::All
                    && (!self.run.open_only
                        || self.run.ping_only
                        || report.counts[PortState::Open as usize] > 0)
                {
                    for w in &mut self.writers {
                        if w.per_host() {
                            w.host(&self.run, &ending, &report)?;
                        }
                    }
                }
            }
            let Some(rec) = rec else {
                break;
            };
            let (_, report) = current.get_or_insert_with(|| {
                let ip = self.hosts.get(rec.host).unwrap_or(IpAddr::V4(0.into()));
                let name = self.hosts.name(ip).map(str::to_string);
                (rec.host, HostReport::new(ip, name))
            });
            report.add(&rec);
        }
        if self.show_silent && self.keep == Keep::All && !self.run.open_only {
            for i in 0..self.hosts.len() {
                if self.known.get(i) {
                    continue;
                }
                let Some(ip) = self.hosts.get(i) else {
                    continue;
                };
                for w in &mut self.writers {
                    if w.per_host() {
                        w.silent(&self.run, &ending, ip)?;
                    }
                }
            }
        }
        let report = Report {
            listed: self.listed,
            stats: stats.clone(),
            end,
            up: self.up_count,
            proxies,
            proxies_total,
        };
        for w in &mut self.writers {
            w.end(&self.run, &report)?;
            w.flush()?;
        }
        Ok(report)
    }

    /// Ports never heard from are filtered only when every port was probed to the end.
    fn complete(&self, h: &mut HostReport, complete: bool) {
        // As nmap lists them: TCP ports, then UDP ports, each ascending.
        h.listed.sort_by_key(|r| (r.proto, r.port));
        let seen: u64 = h.counts.iter().sum();
        if self.keep == Keep::All && complete && seen < self.run.ports_per_host && h.up {
            let missing = self.run.ports_per_host - seen;
            h.counts[PortState::Filtered as usize] += missing;
            *h.reasons
                .entry((PortState::Filtered, Reason::NoResponse))
                .or_insert(0) += missing;
        }
    }

    /// True when `h` answered SYN-ACK on at least 90% of at least 100 scanned ports.
    fn is_proxy(&self, h: &HostReport) -> bool {
        let total = match self.keep {
            Keep::All => h.counts.iter().sum(),
            _ => self.run.ports_per_host,
        };
        let open = h.counts[PortState::Open as usize];
        total >= PROXY_MIN_PORTS && open * 10 >= total * 9
    }
}

/// The first record of ndjson and json output: which scan and shard this run is, so
/// `synscan merge` can check and combine the shards' files.
pub(crate) fn header_json(run: &RunInfo) -> serde_json::Value {
    let id = &run.identity;
    serde_json::json!({
        "type": "scan",
        "scanner": "synscan",
        "version": env!("CARGO_PKG_VERSION"),
        "scan_id": id.scan_id,
        "seed": id.seed,
        "shard": id.shard_str(),
        "start": humantime::format_rfc3339_millis(run.start).to_string(),
        "source": id.sources,
        "resumed": run.resumed,
        "merged": run.merged,
        "args": run.args,
        "scan": id.scan_argv,
        "hosts": run.hosts_total,
        "ports_per_host": run.ports_per_host,
        "scans": run.scans.iter().map(|s| serde_json::json!({
            "type": s.scan_type,
            "proto": s.proto,
            "ports": s.ports_expr,
            "count": s.count,
        })).collect::<Vec<_>>(),
        "discovery": run.discovery,
        "ping_only": run.ping_only,
        "banners": run.banners,
    })
}

/// The last record of ndjson and json output: the run's counters, and whether it finished
/// its shard (`complete`); a killed run has none.
pub(crate) fn end_json(run: &RunInfo, report: &Report) -> serde_json::Value {
    let s = &report.stats;
    serde_json::json!({
        "type": "end",
        "scan_id": run.identity.scan_id,
        "shard": run.identity.shard_str(),
        "end": humantime::format_rfc3339_millis(report.end).to_string(),
        "elapsed_s": (s.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        // A run stopped by --host-timeout still walked its shard to the end.
        "complete": !s.interrupted,
        "interrupted": s.interrupted,
        "timed_out": s.timed_out,
        "probes_sent": s.probes_sent,
        "ports_done": s.ports_done,
        "open": s.open,
        "hosts_up": report.hosts_up(),
    })
}

/// One comment line naming the scan, for the formats that have comments.
pub(crate) fn identity_line(run: &RunInfo) -> String {
    let id = &run.identity;
    let mut line = format!(
        "scan id {} seed {} shard {}",
        id.scan_id,
        id.seed,
        id.shard_str()
    );
    if !id.sources.is_empty() {
        line += &format!(" source {}", id.sources_str());
    }
    line
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
    // A ping scan scanned no port.
    let ports = if s.discovery.is_some_and(|d| d.ping_only) {
        String::new()
    } else {
        format!("{} ports scanned, {} open, ", s.ports_done, s.open)
    };
    format!(
        "{} {} up of {}, {ports}{:.2} s, {} probes sent ({:.0}/s){}{}{}",
        report.hosts_up(),
        if report.hosts_up() == 1 {
            "host"
        } else {
            "hosts"
        },
        hosts,
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
        + &limit_note(s)
        + &discovery_note(s)
}

/// "; discovery: 12 of 256 hosts up, 250,000 port probes spared" when discovery ran.
fn discovery_note(s: &ScanStats) -> String {
    match &s.discovery {
        Some(d) if d.spared > 0 => format!(
            "; discovery: {} of {} hosts up ({} probes), {} port probes spared",
            d.up, d.probed, d.probes_sent, d.spared
        ),
        Some(d) => format!(
            "; discovery: {} of {} hosts up ({} probes)",
            d.up, d.probed, d.probes_sent
        ),
        None => String::new(),
    }
}

/// "; N ports open|filtered under an ICMP rate limit ..." when a UDP scan met one.
pub fn limit_note(s: &ScanStats) -> String {
    if s.rate_limited == 0 {
        return String::new();
    }
    format!(
        "; {} open|filtered {} under the targets' ICMP rate limit ({}answers trickled in): some may be closed, --udp-patient waits the limit out",
        s.rate_limited,
        if s.rate_limited == 1 { "port" } else { "ports" },
        match s.limited_rate {
            Some(r) => format!("about {r:.1}/s "),
            None => String::new(),
        }
    )
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
    let more = match report.proxies_total {
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
