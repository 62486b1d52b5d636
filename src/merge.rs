//! `synscan merge`: the ndjson outputs of one scan's shards (run on many machines, or
//! restarted) made into one result. Every file's header names its scan and shard; merge
//! refuses files of different scans, reports shards that are missing, given twice or
//! unfinished, keeps one record of a pair written twice (a restarted shard repeats the pairs
//! after its last checkpoint), and writes the pairs sorted by host and port, in any format,
//! through the same [`Reporter`] a scan uses. Records are kept as fixed-size records in the
//! output's external sort ([`crate::output::spill`]), so memory does not grow with the
//! records; only the services and reply data of listed ports are held, as a scan holds them.

use crate::banner::{Banner, Identified, Service, ServiceRead};
use crate::error::{Error, Result};
use crate::event::{HostResult, PortResult, PortState, Proto, Reason, ReplyData, ScanStats};
use crate::output::spill::{Record, Spill};
use crate::output::{FormatWriter, Identity, Reporter, RunInfo, ScanInfo, StateSet};
use crate::target::{HostSet, Shard};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Rebuilds the scan's host set from a header's scan arguments, with the scan id they give.
pub type HostsOf = dyn Fn(&[String]) -> Result<(HostSet, String)>;

/// Longest line read: a record is far shorter; more is not a synscan file.
const MAX_LINE: u64 = 1 << 20;

/// What `merge` is asked to do.
pub struct Options {
    /// Write what there is despite missing, doubled or unfinished shards (still refusing
    /// files of different scans and damaged files).
    pub allow_partial: bool,
}

/// What a merge found, for the caller's notice.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Files read.
    pub files: usize,
    /// Records read (results and host records).
    pub records: u64,
    /// Records dropped as repeats of a pair already kept.
    pub duplicates: u64,
    /// Pairs written.
    pub written: u64,
    /// Problems accepted with `--allow-partial`.
    pub warnings: Vec<String>,
}

/// The header record of one run (`"type":"scan"`).
#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub scan_id: String,
    pub seed: u64,
    pub shard: String,
    pub start: String,
    #[serde(default)]
    pub source: Vec<IpAddr>,
    /// The scan as arguments: the caller rebuilds the host set from them.
    pub scan: Vec<String>,
    pub hosts: u64,
    pub ports_per_host: u64,
    pub scans: Vec<ScanJson>,
    #[serde(default)]
    pub discovery: bool,
    #[serde(default)]
    pub ping_only: bool,
    #[serde(default)]
    pub banners: bool,
}

/// One protocol's scan in a header.
#[derive(Debug, Clone, Deserialize)]
pub struct ScanJson {
    #[serde(rename = "type")]
    pub scan_type: String,
    pub proto: String,
    pub ports: String,
    pub count: u64,
}

/// The end record of one run (`"type":"end"`).
#[derive(Debug, Clone, Deserialize)]
struct End {
    scan_id: String,
    shard: String,
    end: String,
    complete: bool,
    probes_sent: u64,
    ports_done: u64,
}

/// A result or host record, as ndjson writes them.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    ip: Option<IpAddr>,
    port: Option<u16>,
    #[serde(default, deserialize_with = "proto")]
    proto: Option<Proto>,
    #[serde(default, deserialize_with = "state")]
    state: Option<PortState>,
    #[serde(default, deserialize_with = "reason")]
    reason: Option<Reason>,
    ttl: Option<u8>,
    rtt_ms: Option<f64>,
    hostname: Option<String>,
    reply: Option<Reply>,
    service: Option<ServiceRead>,
    banner: Option<Banner>,
    #[serde(borrow)]
    status: Option<&'a str>,
    mac: Option<String>,
}

#[derive(Deserialize)]
struct Reply {
    len: u32,
    hex: String,
}

fn proto<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Proto>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    match &*s {
        "tcp" => Ok(Some(Proto::Tcp)),
        "udp" => Ok(Some(Proto::Udp)),
        other => Err(serde::de::Error::custom(format!("unknown proto '{other}'"))),
    }
}

fn state<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<PortState>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    PortState::parse(&s)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown state '{s}'")))
}

fn reason<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Reason>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    Reason::parse(&s)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown reason '{s}'")))
}

/// What one run wrote: its header and, when it got there, its end record.
struct Run {
    file: usize,
    header: Header,
    end: Option<End>,
}

/// The services, reply data, MACs and names of kept records, by (host, key).
#[derive(Default)]
struct Extra {
    reply: Option<Box<ReplyData>>,
    service: Option<Box<Identified>>,
    mac: Option<pnet::util::MacAddr>,
    state: Option<PortState>,
}

/// The sort key of a record within its host: host records first, then TCP, then UDP ports.
fn key(proto: Proto, port: u16) -> u64 {
    1 + ((proto as u64) << 16 | u64::from(port))
}

/// How much a state says: an answer beats silence, so of a pair written twice with
/// different states (a retry that got through), the one with an answer is kept.
fn rank(s: PortState) -> u8 {
    match s {
        PortState::Open => 3,
        PortState::Closed => 2,
        PortState::OpenFiltered => 1,
        PortState::Filtered => 0,
    }
}

/// The files `inputs` name: each file, and each directory's `*.ndjson` files, sorted.
pub fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| {
                    Error::input(format!(
                        "cannot read directory '{}': {}",
                        p.display(),
                        crate::files::plain(&e)
                    ))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "ndjson") && f.is_file())
                .collect();
            if found.is_empty() {
                return Err(Error::input(format!(
                    "directory '{}' holds no .ndjson files",
                    p.display()
                )));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err(Error::input("merge: no shard files given"));
    }
    Ok(files)
}

/// "2/4" as a shard.
fn parse_shard(s: &str) -> Option<Shard> {
    let (i, n) = s.split_once('/')?;
    let (index, count) = (i.parse().ok()?, n.parse().ok()?);
    (index >= 1 && index <= count).then_some(Shard { index, count })
}

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(s).ok()
}

/// Merges `files` into `writers`. `hosts_of` rebuilds the scan's host set from a header's
/// scan arguments and returns it with the scan id those arguments give, so a header that
/// does not match its own scan is refused too.
pub fn merge(
    files: &[PathBuf],
    opts: &Options,
    hosts_of: &HostsOf,
    writers: Vec<Box<dyn FormatWriter + Send>>,
) -> Result<Summary> {
    // Files are opened one at a time: thousands of shards need one descriptor.
    let open = |i: usize| -> Result<Box<dyn BufRead>> {
        let path = &files[i];
        let file = std::fs::File::open(path).map_err(|e| {
            Error::input(format!(
                "cannot read '{}': {}",
                path.display(),
                crate::files::plain(&e)
            ))
        })?;
        Ok(Box::new(BufReader::with_capacity(256 * 1024, file)))
    };
    merge_readers(files, &open, opts, hosts_of, writers)
}

/// [`merge`] over readers `open(i)` gives for `files[i]` (which names it in messages).
pub fn merge_readers<'a>(
    files: &[PathBuf],
    open: &dyn Fn(usize) -> Result<Box<dyn BufRead + 'a>>,
    opts: &Options,
    hosts_of: &HostsOf,
    writers: Vec<Box<dyn FormatWriter + Send>>,
) -> Result<Summary> {
    let mut summary = Summary {
        files: files.len(),
        ..Summary::default()
    };
    let mut runs: Vec<Run> = Vec::new();
    let mut hosts: Option<HostSet> = None;
    let mut spill = Spill::new();
    let mut extras: HashMap<(u64, u64), Extra> = HashMap::new();
    let mut names: BTreeMap<IpAddr, String> = BTreeMap::new();
    let io_err = |what: &str, path: &Path, e: std::io::Error| {
        Error::input(format!(
            "{what} '{}': {}",
            path.display(),
            crate::files::plain(&e)
        ))
    };
    if files.is_empty() {
        return Err(Error::input("merge: no shard files given"));
    }
    for (fi, path) in files.iter().enumerate() {
        let mut reader = open(fi)?;
        let mut buf = Vec::with_capacity(512);
        let mut lineno = 0u64;
        let mut current: Option<usize> = None;
        loop {
            buf.clear();
            let n = (&mut reader)
                .take(MAX_LINE + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| io_err("cannot read", path, e))?;
            if n == 0 {
                break;
            }
            lineno += 1;
            let at = || format!("'{}' line {lineno}", path.display());
            let cut = buf.last() != Some(&b'\n');
            if cut && n as u64 > MAX_LINE {
                return Err(Error::input(format!(
                    "{}: a line longer than {MAX_LINE} bytes: not a synscan ndjson file",
                    at()
                )));
            }
            let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line: Line = match serde_json::from_slice(text) {
                Ok(l) => l,
                Err(e) => {
                    // A killed run may leave its last line cut short.
                    let unfinished = current.is_some_and(|r| runs[r].end.is_none());
                    if cut && unfinished && opts.allow_partial {
                        summary
                            .warnings
                            .push(format!("{}: dropped a record cut short", at()));
                        break;
                    }
                    return Err(Error::input(format!(
                        "{}: not a synscan ndjson record ({e})",
                        at()
                    )));
                }
            };
            match line.kind {
                Some("scan") => {
                    let header: Header = serde_json::from_slice(text).map_err(|e| {
                        Error::input(format!("{}: a bad header record ({e})", at()))
                    })?;
                    let shard = parse_shard(&header.shard).ok_or_else(|| {
                        Error::input(format!(
                            "{}: bad shard '{}' in the header",
                            at(),
                            header.shard
                        ))
                    })?;
                    if let Some(first) = runs.first() {
                        let f = &first.header;
                        if header.scan_id != f.scan_id {
                            return Err(Error::input(format!(
                                "shards of different scans: '{}' is scan {}, '{}' is scan {}",
                                path.display(),
                                header.scan_id,
                                files[first.file].display(),
                                f.scan_id
                            )));
                        }
                        let first_count = parse_shard(&f.shard).map_or(0, |s| s.count);
                        if shard.count != first_count {
                            return Err(Error::input(format!(
                                "'{}' is shard {} but '{}' is one of {first_count} shards: one scan is split one way",
                                path.display(),
                                header.shard,
                                files[first.file].display()
                            )));
                        }
                    } else {
                        let pairs = header.hosts.saturating_mul(header.ports_per_host.max(1));
                        if shard.count > pairs.max(1) {
                            return Err(Error::input(format!(
                                "{}: {} shards of a scan of {pairs} pairs: not a synscan header",
                                at(),
                                shard.count
                            )));
                        }
                        let (set, id) = hosts_of(&header.scan)?;
                        if id != header.scan_id {
                            return Err(Error::input(format!(
                                "{}: the header's scan arguments give scan id {id}, not its {}",
                                at(),
                                header.scan_id
                            )));
                        }
                        if set.len() != header.hosts {
                            return Err(Error::input(format!(
                                "{}: the header's targets give {} hosts, not its {}",
                                at(),
                                set.len(),
                                header.hosts
                            )));
                        }
                        hosts = Some(set);
                    }
                    runs.push(Run {
                        file: fi,
                        header,
                        end: None,
                    });
                    current = Some(runs.len() - 1);
                }
                Some("end") => {
                    let end: End = serde_json::from_slice(text)
                        .map_err(|e| Error::input(format!("{}: a bad end record ({e})", at())))?;
                    let Some(r) = current.filter(|&r| runs[r].end.is_none()) else {
                        return Err(Error::input(format!(
                            "{}: an end record without its header",
                            at()
                        )));
                    };
                    if end.scan_id != runs[r].header.scan_id || end.shard != runs[r].header.shard {
                        return Err(Error::input(format!(
                            "{}: the end record is of another scan or shard than its header",
                            at()
                        )));
                    }
                    runs[r].end = Some(end);
                }
                Some(other) => {
                    return Err(Error::input(format!(
                        "{}: unknown record type '{other}'",
                        at()
                    )));
                }
                None => {
                    let (Some(hosts), Some(_)) = (&hosts, current) else {
                        return Err(Error::input(format!(
                            "{}: a record before any header: not a synscan ndjson output (the header came in synscan 0.2)",
                            at()
                        )));
                    };
                    summary.records += 1;
                    add_record(line, hosts, &mut spill, &mut extras, &mut names)
                        .map_err(|why| Error::input(format!("{}: {why}", at())))?;
                }
            }
        }
    }
    let Some(mut hosts) = hosts else {
        return Err(Error::input(format!(
            "'{}' holds no header record: not a synscan ndjson output",
            files[0].display()
        )));
    };
    for (ip, name) in names {
        hosts.set_name(ip, name);
    }
    let problems = check_shards(&runs, files);
    if let Some(first) = problems.first()
        && !opts.allow_partial
    {
        let more = match problems.len() {
            1 => String::new(),
            n => format!(" (and {} more problems)", n - 1),
        };
        return Err(Error::input(format!(
            "{first}{more}; --allow-partial merges what there is"
        )));
    }
    let complete = problems.is_empty();
    summary.warnings.extend(problems);
    let first = &runs[0].header;
    let start = runs
        .iter()
        .filter_map(|r| parse_time(&r.header.start))
        .min()
        .unwrap_or_else(SystemTime::now);
    let end = runs
        .iter()
        .filter_map(|r| r.end.as_ref().and_then(|e| parse_time(&e.end)))
        .max()
        .unwrap_or(start);
    let mut sources: Vec<IpAddr> = runs
        .iter()
        .flat_map(|r| r.header.source.iter().copied())
        .collect();
    sources.sort();
    sources.dedup();
    let scans = first
        .scans
        .iter()
        .map(|s| {
            Ok(ScanInfo {
                scan_type: match s.scan_type.as_str() {
                    "syn" => "syn",
                    "connect" => "connect",
                    "udp" => "udp",
                    other => {
                        return Err(Error::input(format!(
                            "'{}': unknown scan type '{other}' in the header",
                            files[runs[0].file].display()
                        )));
                    }
                },
                proto: match s.proto.as_str() {
                    "udp" => Proto::Udp,
                    _ => Proto::Tcp,
                },
                ports_expr: s.ports.clone(),
                count: s.count,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let run = RunInfo {
        args: std::iter::once("synscan".to_string())
            .chain(first.scan.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
        start,
        scans,
        ports_per_host: first.ports_per_host,
        hosts_total: first.hosts,
        resumed: false,
        verbose: 0,
        debug: 0,
        open_only: false,
        discovery: first.discovery,
        ping_only: first.ping_only,
        banners: first.banners,
        identity: Identity {
            scan_id: first.scan_id.clone(),
            seed: first.seed,
            shard: Shard::default(),
            sources,
            scan_argv: first.scan.clone(),
        },
        merged: true,
    };
    let mut stats = ScanStats {
        hosts_total: first.hosts,
        ports_total: first.hosts.saturating_mul(first.ports_per_host),
        elapsed: end.duration_since(start).unwrap_or(Duration::ZERO),
        interrupted: !complete,
        ..ScanStats::default()
    };
    for r in &runs {
        if let Some(e) = &r.end {
            stats.probes_sent += e.probes_sent;
            stats.ports_done += e.ports_done;
        }
    }
    if complete {
        stats.ports_done = stats.ports_total;
    }
    let mut reporter = Reporter::new(writers, run, StateSet::ALL, hosts.clone()).with_end(end);
    let write_err = |e| Error::io("write merged results", e);
    reporter.begin().map_err(write_err)?;
    let mut sorted = spill.into_sorted().map_err(write_err)?;
    let mut pending: Option<Record> = None;
    loop {
        let rec = sorted.next_record().map_err(write_err)?;
        if let (Some(p), Some(r)) = (&mut pending, &rec)
            && (p.host, p.seq) == (r.host, r.seq)
        {
            summary.duplicates += 1;
            if rank(r.state) > rank(p.state) {
                *p = *r;
            }
            continue;
        }
        if let Some(p) = pending.take() {
            emit(p, &hosts, &mut extras, &mut reporter, &mut stats).map_err(write_err)?;
            summary.written += 1;
        }
        match rec {
            Some(r) => pending = Some(r),
            None => break,
        }
    }
    reporter.finish(stats).map_err(write_err)?;
    Ok(summary)
}

/// Keeps one record: its fixed part in the sort, what else it carries beside it.
fn add_record(
    line: Line,
    hosts: &HostSet,
    spill: &mut Spill,
    extras: &mut HashMap<(u64, u64), Extra>,
    names: &mut BTreeMap<IpAddr, String>,
) -> std::result::Result<(), String> {
    let ip = line.ip.ok_or("a record without \"ip\"")?;
    let host = hosts
        .index_of(ip)
        .ok_or_else(|| format!("address {ip} is not one of the scan's targets"))?;
    let reason = line.reason.ok_or("a record without \"reason\"")?;
    let rtt_us = line
        .rtt_ms
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| (ms * 1000.0).round().min(f64::from(u32::MAX - 1)) as u32);
    if let Some(name) = line.hostname {
        if !host_name_ok(&name) {
            return Err(format!("bad host name {name:?}"));
        }
        names.entry(ip).or_insert(name);
    }
    let (rec, extra) = match line.status {
        Some(status) => {
            let up = match status {
                "up" => true,
                "down" => false,
                other => return Err(format!("unknown host status '{other}'")),
            };
            let mac = match line.mac {
                Some(m) => Some(m.parse().map_err(|_| format!("bad MAC address '{m}'"))?),
                None => None,
            };
            let rec = Record {
                host,
                seq: 0,
                port: 0,
                proto: Proto::Tcp,
                state: if up {
                    PortState::Open
                } else {
                    PortState::Filtered
                },
                reason,
                listed: true,
                ttl: line.ttl,
                rtt_us,
                status: true,
            };
            let extra = mac.map(|m| Extra {
                mac: Some(m),
                state: Some(rec.state),
                ..Extra::default()
            });
            (rec, extra)
        }
        None => {
            let port = line.port.ok_or("a record without \"port\" or \"status\"")?;
            let proto = line.proto.ok_or("a record without \"proto\"")?;
            let state = line.state.ok_or("a record without \"state\"")?;
            let reply = match line.reply {
                Some(r) => Some(Box::new(ReplyData {
                    len: r.len,
                    head: hex(&r.hex).ok_or("bad hex in \"reply\"")?.into(),
                })),
                None => None,
            };
            let service = match line.service {
                Some(s) => {
                    let id = Identified {
                        service: Service::try_from(s)?,
                        banner: line.banner,
                    };
                    // Banner text was escaped when written: raw control characters were
                    // put there by something else, and would reach the terminal.
                    if !plain_text(&id) {
                        return Err("control characters in a service or banner field".into());
                    }
                    Some(Box::new(id))
                }
                None => None,
            };
            let rec = Record {
                host,
                seq: key(proto, port),
                port,
                proto,
                state,
                reason,
                listed: true,
                ttl: line.ttl,
                rtt_us,
                status: false,
            };
            let extra = (reply.is_some() || service.is_some()).then_some(Extra {
                reply,
                service,
                mac: None,
                state: Some(state),
            });
            (rec, extra)
        }
    };
    if let Some(extra) = extra {
        // Of a pair's repeats, the kept record's extras: the best state's, else the first.
        let slot = extras.entry((rec.host, rec.seq)).or_default();
        if slot.state.is_none_or(|s| rank(rec.state) > rank(s)) {
            *slot = extra;
        }
    }
    spill
        .push(rec)
        .map_err(|e| format!("cannot keep records: {e}"))
}

/// Hands one kept record to the reporter.
fn emit(
    rec: Record,
    hosts: &HostSet,
    extras: &mut HashMap<(u64, u64), Extra>,
    reporter: &mut Reporter,
    stats: &mut ScanStats,
) -> std::io::Result<()> {
    let ip = hosts.get(rec.host).unwrap_or(IpAddr::V4(0.into()));
    let extra = extras.remove(&(rec.host, rec.seq));
    // Extras belong to the record of the state they came with.
    let extra = extra.filter(|e| e.state == Some(rec.state));
    let r = rec.result(ip);
    if rec.status {
        return reporter.host(
            HostResult {
                ip,
                up: rec.state == PortState::Open,
                reason: rec.reason,
                ttl: r.ttl,
                rtt: r.rtt,
                mac: extra.and_then(|e| e.mac),
            },
            true,
        );
    }
    if rec.state == PortState::Open {
        stats.open += 1;
    }
    let (data, service) = match extra {
        Some(e) => (e.reply, e.service),
        None => (None, None),
    };
    reporter.result(PortResult { data, service, ..r })
}

/// A host name as synscan writes one: letters, digits, `-`, `.` and `_`, at most 253.
fn host_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// True when no text of a service or banner holds a control character.
fn plain_text(id: &Identified) -> bool {
    let s = &id.service;
    let mut texts: Vec<&str> = vec![&s.name];
    texts.extend(
        [&s.product, &s.version, &s.extrainfo]
            .into_iter()
            .flatten()
            .map(String::as_str),
    );
    if let Some(b) = &id.banner {
        texts.extend(
            [&b.ssh, &b.udp, &b.raw, &b.error]
                .into_iter()
                .flatten()
                .map(String::as_str),
        );
        if let Some(h) = &b.http {
            texts.push(&h.status_line);
            texts.extend(
                [&h.server, &h.title, &h.location]
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            );
        }
        if let Some(t) = &b.tls {
            texts.extend([t.version.as_str(), t.cipher.as_str()]);
            texts.extend(t.alpn.as_deref());
            if let Some(c) = &t.cert {
                texts.extend([
                    c.subject.as_str(),
                    c.issuer.as_str(),
                    c.not_before.as_str(),
                    c.not_after.as_str(),
                    c.sha256.as_str(),
                ]);
                texts.extend(c.sans.iter().map(String::as_str));
            }
        }
    }
    texts.iter().all(|t| !t.chars().any(char::is_control))
}

/// Lowercase or uppercase hex to bytes.
fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Missing, doubled and unfinished shards, one line each.
fn check_shards(runs: &[Run], files: &[PathBuf]) -> Vec<String> {
    let count = runs
        .first()
        .and_then(|r| parse_shard(&r.header.shard))
        .map_or(1, |s| s.count);
    // Per shard: the files holding it, and whether one of its runs finished it.
    let mut seen: BTreeMap<u64, (Vec<usize>, bool)> = BTreeMap::new();
    for r in runs {
        let Some(s) = parse_shard(&r.header.shard) else {
            continue;
        };
        let e = seen.entry(s.index).or_default();
        if !e.0.contains(&r.file) {
            e.0.push(r.file);
        }
        e.1 |= r.end.as_ref().is_some_and(|e| e.complete);
    }
    let mut problems = Vec::new();
    // Shards are 1..=count and `seen` holds only those: the first 20 missing are found
    // within seen.len() + 20 steps, however large the count.
    let missing = count - seen.len() as u64;
    if missing > 0 {
        let shown: Vec<String> = (1..=count)
            .filter(|i| !seen.contains_key(i))
            .take(20)
            .map(|i| i.to_string())
            .collect();
        let more = if missing > 20 { ", ..." } else { "" };
        problems.push(format!(
            "missing shards: {missing} of {count} absent ({}{more})",
            shown.join(", ")
        ));
    }
    for (index, (in_files, finished)) in &seen {
        if in_files.len() > 1 {
            problems.push(format!(
                "shard {index}/{count} is in {} files: {}",
                in_files.len(),
                in_files
                    .iter()
                    .map(|f| format!("'{}'", files[*f].display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !finished {
            problems.push(format!(
                "shard {index}/{count} did not finish ('{}' has no end record of a complete run: resume that shard)",
                files[in_files[0]].display()
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_host_records_first_then_tcp_then_udp() {
        assert!(key(Proto::Tcp, 65535) < key(Proto::Udp, 0));
        assert!(0 < key(Proto::Tcp, 0));
        assert_eq!(hex("00ff7A"), Some(vec![0, 255, 0x7a]));
        assert_eq!(hex("0"), None);
        assert_eq!(hex("zz"), None);
        assert_eq!(parse_shard("2/4"), Some(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "x", "1/0", "/"] {
            assert_eq!(parse_shard(bad), None, "{bad}");
        }
        assert!(rank(PortState::Open) > rank(PortState::Closed));
        assert!(rank(PortState::Closed) > rank(PortState::Filtered));
    }
}
