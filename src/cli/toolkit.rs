//! Command lines of the toolkit subcommands (`send`, `sr`, `sr1`, `sniff`, `read`, `trace`)
//! and how their results are printed. The work itself is in [`crate::toolkit`].

use super::args::parse_duration;
use crate::capture::{CaptureReader, LinkType, PcapWriter, as_ethernet};
use crate::error::{Error, Result};
use crate::toolkit::dissect::{dissect_frame, dissect_ip, dissect_record, hexdump};
use crate::toolkit::filter::Filter;
use crate::toolkit::sniff::{self, Limits};
use crate::toolkit::sr::{Io, SrOptions, interface_for};
use crate::toolkit::{build, trace};
use clap::Parser;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

/// Options shared by send, sr and sr1.
#[derive(Debug, clap::Args)]
struct SendOpts {
    /// Layers: IP(dst=127.0.0.1,ttl=64)/TCP(dport=80,flags=S)/Raw(load="hi"); a field may be a
    /// list [22,80] or a range 1-1024 (one packet each).
    #[arg(value_name = "SPEC")]
    spec: String,
    /// Interface for Ether/ARP frames and for receiving (default: the route's).
    #[arg(short = 'i', long = "iface", value_name = "IFACE")]
    iface: Option<String>,
    /// Gap between packets.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    inter: Option<Duration>,
}

/// synscan send: craft packets from a SPEC and send them.
#[derive(Debug, Parser)]
#[command(name = "synscan send")]
struct SendArgs {
    #[command(flatten)]
    o: SendOpts,
}

/// synscan sr / sr1: send packets from a SPEC and match their answers.
#[derive(Debug, Parser)]
#[command(name = "synscan sr")]
struct SrArgs {
    #[command(flatten)]
    o: SendOpts,
    /// How long to wait for answers after the last packet.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    timeout: Duration,
    /// Resend unanswered packets up to N more times.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    retry: u32,
    /// Also print the hex dump of each answer (sr1).
    #[arg(long)]
    hexdump: bool,
}

/// synscan sniff: capture frames, print summaries or write pcap.
#[derive(Debug, Parser)]
#[command(name = "synscan sniff")]
struct SniffArgs {
    /// Interface to capture on.
    #[arg(short = 'i', long = "iface", value_name = "IFACE")]
    iface: String,
    /// Capture filter (tcpdump subset, see docs/toolkit.md).
    #[arg(long, value_name = "EXPR", default_value = "")]
    filter: String,
    /// Stop after N frames.
    #[arg(short = 'c', long = "count", value_name = "N")]
    count: Option<u64>,
    /// Stop after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Write frames to this pcap file instead of printing them.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    write: Option<PathBuf>,
}

/// synscan read: dissect the frames of a capture (pcap or pcapng; Ethernet, Linux cooked,
/// raw IP or loopback link layers).
#[derive(Debug, Parser)]
#[command(name = "synscan read")]
struct ReadArgs {
    /// The capture file (pcap or pcapng).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// One summary line per frame instead of the layer-by-layer view (`--format summary`).
    #[arg(short = 's', long = "summary", conflicts_with = "format")]
    summary: bool,
    /// text: layer by layer; summary: one line per frame; json: one JSON object per line and
    /// frame, layer by layer, for scripts.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = ReadFormat::Text)]
    format: ReadFormat,
    /// Add a hex dump of each frame (in JSON: a "hex" string).
    #[arg(long)]
    hexdump: bool,
    /// Only frames matching this filter (same language as sniff).
    #[arg(long, value_name = "EXPR", default_value = "")]
    filter: String,
}

/// How `read` prints frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReadFormat {
    Text,
    Summary,
    Json,
}

/// One frame of `read --format json`.
#[derive(serde::Serialize)]
struct JsonFrame<'a> {
    frame: u64,
    /// Seconds since the epoch.
    time: f64,
    caplen: usize,
    len: u32,
    link: String,
    interface: u32,
    summary: &'a str,
    layers: &'a [crate::toolkit::dissect::Layer],
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
}

/// synscan trace: TCP SYN traceroute.
#[derive(Debug, Parser)]
#[command(name = "synscan trace")]
struct TraceArgs {
    /// Target host (IPv4 or IPv6 address, or name).
    #[arg(value_name = "HOST")]
    host: String,
    /// Use a name's IPv6 address (default: its IPv4 address when it has one).
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,
    /// Destination port.
    #[arg(short = 'p', long = "port", value_name = "PORT", default_value_t = 80)]
    port: u16,
    /// Highest TTL.
    #[arg(long = "max-ttl", value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..=64))]
    max_ttl: u8,
    /// How long to wait for answers.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    timeout: Duration,
    /// Interface (default: the route's).
    #[arg(short = 'i', long = "iface", value_name = "IFACE")]
    iface: Option<String>,
}

/// The subcommands' clap definitions, named as typed (for completions and man pages).
pub(super) fn commands() -> Vec<clap::Command> {
    use clap::CommandFactory;
    vec![
        SendArgs::command().name("send"),
        SrArgs::command()
            .name("sr")
            .about("synscan sr: send packets from a SPEC and match their answers"),
        SrArgs::command()
            .name("sr1")
            .about("synscan sr1: send packets from a SPEC, show the first answer layer by layer"),
        SniffArgs::command().name("sniff"),
        ReadArgs::command().name("read"),
        TraceArgs::command().name("trace"),
    ]
}

fn spec_error(e: crate::toolkit::spec::SpecError) -> Error {
    Error::input(e.to_string())
}

/// Builds the SPEC's packets with defaults (source MAC) from the interface they leave by:
/// `-i`, else the route to the first destination.
fn craft_on(
    spec: &str,
    iface: Option<&str>,
) -> Result<(Vec<build::Built>, pnet::datalink::NetworkInterface)> {
    let stacks = crate::toolkit::spec::parse(spec)
        .map_err(spec_error)?
        .expand();
    let dst = stacks
        .first()
        .map(build::destination)
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    let ifc = interface_for(dst, iface)?;
    let d = build::Defaults::random(ifc.mac.unwrap_or(pnet::util::MacAddr::zero()));
    let packets = stacks
        .iter()
        .enumerate()
        .map(|(n, s)| build::build(s, &d, n))
        .collect();
    Ok((packets, ifc))
}

fn summary(p: &build::Built) -> String {
    if p.l2 {
        dissect_frame(&p.bytes).summary
    } else {
        dissect_ip(&p.bytes).summary
    }
}

fn write_err(e: io::Error) -> Error {
    Error::io("write output", e)
}

/// Runs toolkit subcommand `cmd`; `argv` starts with the program name and the subcommand.
pub fn run(cmd: &str, argv: Vec<OsString>, stop: &AtomicBool) -> Result<u8> {
    let code = run_command(cmd, argv, stop)?;
    Ok(if stop.load(std::sync::atomic::Ordering::Relaxed) {
        super::EXIT_INTERRUPTED
    } else {
        code
    })
}

fn run_command(cmd: &str, argv: Vec<OsString>, stop: &AtomicBool) -> Result<u8> {
    let argv: Vec<OsString> = std::iter::once(OsString::from(format!("synscan {cmd}")))
        .chain(argv.into_iter().skip(2))
        .collect();
    let mut out = io::stdout().lock();
    match cmd {
        "send" => {
            let a = match super::parse_sub::<SendArgs>(&argv) {
                Ok(a) => a,
                Err(code) => return Ok(code),
            };
            let (packets, iface) = craft_on(&a.o.spec, a.o.iface.as_deref())?;
            let mut io = Io::open(&packets, iface, false)?;
            let n = io.send_all(&packets, a.o.inter.unwrap_or_default(), stop)?;
            writeln!(out, "Sent {n} packet{}.", if n == 1 { "" } else { "s" })
                .map_err(write_err)?;
            Ok(0)
        }
        "sr" | "sr1" => {
            let a = match super::parse_sub::<SrArgs>(&argv) {
                Ok(a) => a,
                Err(code) => return Ok(code),
            };
            let (packets, iface) = craft_on(&a.o.spec, a.o.iface.as_deref())?;
            let mut io = Io::open(&packets, iface, true)?;
            let opts = SrOptions {
                timeout: a.timeout,
                retry: a.retry,
                inter: a.o.inter.unwrap_or_default(),
                first_only: cmd == "sr1",
            };
            let res = io.sr(&packets, &opts, stop)?;
            if cmd == "sr1" {
                match res.answered.first() {
                    Some(ans) => {
                        let d = dissect_frame(&ans.reply);
                        write!(out, "{}", d.show()).map_err(write_err)?;
                        if a.hexdump {
                            write!(out, "{}", hexdump(&ans.reply)).map_err(write_err)?;
                        }
                    }
                    None => {
                        writeln!(out, "No answer within {:?}.", a.timeout).map_err(write_err)?
                    }
                }
            } else {
                writeln!(
                    out,
                    "Received {} packets, got {} answers, remaining {} packets",
                    res.received,
                    res.answered.len(),
                    res.unanswered.len()
                )
                .map_err(write_err)?;
                writeln!(out, "Answered:").map_err(write_err)?;
                for ans in &res.answered {
                    writeln!(
                        out,
                        "  {} ==> {}  ({:.3} ms)",
                        summary(&packets[ans.probe]),
                        dissect_frame(&ans.reply).summary,
                        ans.rtt.as_secs_f64() * 1000.0
                    )
                    .map_err(write_err)?;
                    if a.hexdump {
                        write!(out, "{}", hexdump(&ans.reply)).map_err(write_err)?;
                    }
                }
                writeln!(out, "Unanswered:").map_err(write_err)?;
                for &i in &res.unanswered {
                    writeln!(out, "  {}", summary(&packets[i])).map_err(write_err)?;
                }
            }
            Ok(if res.answered.is_empty() { 1 } else { 0 })
        }
        "sniff" => {
            let a = match super::parse_sub::<SniffArgs>(&argv) {
                Ok(a) => a,
                Err(code) => return Ok(code),
            };
            let filter = Filter::compile(&a.filter).map_err(|e| Error::input(e.to_string()))?;
            let iface = sniff::interface(&a.iface)?;
            let limits = Limits {
                count: a.count,
                timeout: a.timeout,
            };
            // Readiness is announced on stderr so scripts can start traffic after it.
            let mut ready = || eprintln!("synscan: capturing on {}", a.iface);
            match &a.write {
                Some(path) => {
                    let f = super::config::create_file(path)?;
                    let mut w = PcapWriter::new(io::BufWriter::new(f)).map_err(write_err)?;
                    sniff::sniff(&iface, &filter, limits, stop, &mut ready, &mut |t, f| {
                        w.write(t, f)?;
                        w.flush()
                    })?;
                    w.flush().map_err(write_err)?;
                }
                None => {
                    sniff::sniff(&iface, &filter, limits, stop, &mut ready, &mut |t, f| {
                        writeln!(out, "{} {}", clock(t), dissect_frame(f).summary)?;
                        out.flush()
                    })?;
                }
            }
            Ok(0)
        }
        "read" => {
            let a = match super::parse_sub::<ReadArgs>(&argv) {
                Ok(a) => a,
                Err(code) => return Ok(code),
            };
            let filter = Filter::compile(&a.filter).map_err(|e| Error::input(e.to_string()))?;
            let f = std::fs::File::open(&a.file)
                .map_err(|e| Error::input(format!("cannot open '{}': {e}", a.file.display())))?;
            let bad = |e| Error::input(format!("'{}': {e}", a.file.display()));
            let mut r = CaptureReader::new(io::BufReader::new(f)).map_err(bad)?;
            let filtering = !a.filter.trim().is_empty();
            let mut n = 0u64;
            while let Some(rec) = r.next_record().map_err(bad)? {
                n += 1;
                // The filter speaks Ethernet framing: other link layers are seen through a
                // synthetic Ethernet header; a record with no network packet never matches.
                if filtering
                    && !as_ethernet(rec.link, &rec.data).is_some_and(|f| filter.matches(&f))
                {
                    continue;
                }
                let d = dissect_record(rec.link, &rec.data);
                let format = if a.summary {
                    ReadFormat::Summary
                } else {
                    a.format
                };
                if format == ReadFormat::Json {
                    let hex = a
                        .hexdump
                        .then(|| rec.data.iter().map(|b| format!("{b:02x}")).collect());
                    let time = rec
                        .ts
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    let j = JsonFrame {
                        frame: n,
                        time,
                        caplen: rec.data.len(),
                        len: rec.orig_len,
                        link: rec.link.name(),
                        interface: rec.interface,
                        summary: &d.summary,
                        layers: &d.layers,
                        hex,
                    };
                    let line = serde_json::to_string(&j)
                        .map_err(|e| Error::Runtime(format!("JSON: {e}")))?;
                    writeln!(out, "{line}").map_err(write_err)?;
                    continue;
                }
                if format == ReadFormat::Summary {
                    writeln!(out, "{n} {} {}", clock(rec.ts), d.summary).map_err(write_err)?;
                } else {
                    let on = if rec.link == LinkType::Ethernet && rec.interface == 0 {
                        String::new()
                    } else {
                        format!(" on interface {} ({})", rec.interface, rec.link.name())
                    };
                    writeln!(
                        out,
                        "Frame {n}: {} bytes at {}{on}",
                        rec.data.len(),
                        clock(rec.ts)
                    )
                    .map_err(write_err)?;
                    write!(out, "{}", d.show()).map_err(write_err)?;
                }
                if a.hexdump {
                    write!(out, "{}", hexdump(&rec.data)).map_err(write_err)?;
                }
                if format == ReadFormat::Text {
                    writeln!(out).map_err(write_err)?;
                }
            }
            Ok(0)
        }
        "trace" => {
            let a = match super::parse_sub::<TraceArgs>(&argv) {
                Ok(a) => a,
                Err(code) => return Ok(code),
            };
            let host = a.host.trim_start_matches('[').trim_end_matches(']');
            let dst: std::net::IpAddr = match host.parse() {
                Ok(ip) => ip,
                Err(_) => crate::target::resolve_pref(host, a.ipv6)?.addr,
            };
            let hops = trace::trace(dst, a.port, a.max_ttl, a.timeout, a.iface.as_deref(), stop)?;
            writeln!(
                out,
                "trace to {dst} port {} (TCP SYN), at most {} hops",
                a.port, a.max_ttl
            )
            .map_err(write_err)?;
            let reached = hops.last().is_some_and(|h| h.from == Some(dst));
            for h in hops {
                match (h.from, h.rtt) {
                    (Some(ip), Some(rtt)) => writeln!(
                        out,
                        "{:>3}  {:<15}  {:>8.3} ms  {}",
                        h.ttl,
                        ip,
                        rtt.as_secs_f64() * 1000.0,
                        h.what
                    ),
                    _ => writeln!(out, "{:>3}  *", h.ttl),
                }
                .map_err(write_err)?;
            }
            Ok(if reached { 0 } else { 1 })
        }
        other => Err(Error::input(format!("unknown command '{other}'"))),
    }
}

/// Wall-clock time of day as `HH:MM:SS.micro`, in UTC.
fn clock(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let s = d.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        d.subsec_micros()
    )
}
