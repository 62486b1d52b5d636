//! Issue 13: sweeps in flat memory. Each test builds its own lab (scripts/lab.sh), in which
//! 10.212.0.0/14 is answered by one any-IP host and 10.216.0.0/14 is split between two
//! gateways (10.216.0.0/15 answered behind the router with port 81 open, 10.218.0.0/15 behind
//! the any-IP host with ports 80 and 443 open). The speed and memory targets live in the benchmark;
//! here, exact results and a generous memory bound.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

/// Every address of the /14 at `first` but its network and broadcast addresses.
fn slash14(first: [u8; 4]) -> impl Iterator<Item = Ipv4Addr> {
    let base = u32::from(Ipv4Addr::from(first));
    (1..(1u32 << 18) - 1).map(move |i| Ipv4Addr::from(base + i))
}

/// Runs synscan in the lab's scanner under GNU time; returns the output and the peak RSS
/// in KiB.
fn run_measured(lab: &ScriptLab, args: &[&str]) -> (Output, u64) {
    let dir = tempfile::tempdir().unwrap();
    let rss = dir.path().join("rss");
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        &lab.scanner(),
        "/usr/bin/time",
        "-f",
        "%M",
        "-o",
    ])
    .arg(&rss)
    .arg(bin())
    .args(args);
    let out = run_cmd(cmd, b"", Duration::from_secs(120));
    let kib = std::fs::read_to_string(&rss)
        .expect("GNU time wrote the peak RSS")
        .trim()
        .parse()
        .expect("a number of KiB");
    (out, kib)
}

#[test]
fn a_slash14_sweep_is_exact_and_stays_under_64_mib_in_every_format() {
    let lab = ScriptLab::up();
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("sweep.xml");
    let text = dir.path().join("sweep.txt");
    let (out, kib) = run_measured(
        &lab,
        &[
            "-sS",
            "-Pn",
            "10.212.0.0/14",
            "-p",
            "80",
            "--format",
            "ndjson",
            "--no-progress",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut found: Vec<Ipv4Addr> = parse_ndjson(&out.stdout)
        .into_iter()
        .map(|l| {
            assert_eq!((l.port, l.state.as_str()), (80, "open"), "{}", l.ip);
            l.ip.parse().unwrap()
        })
        .collect();
    found.sort();
    let want: Vec<Ipv4Addr> = slash14([10, 212, 0, 0]).collect();
    assert!(found == want, "{} found of {}", found.len(), want.len());
    assert!(kib < 64 * 1024, "ndjson sweep peaked at {kib} KiB");
    // The per-host formats keep their records on disk: the same hosts, in order.
    let (out, kib) = run_measured(
        &lab,
        &[
            "-sS",
            "-Pn",
            "10.212.0.0/14",
            "-p",
            "80",
            "-oX",
            xml.to_str().unwrap(),
            "-oN",
            text.to_str().unwrap(),
            "--format",
            "list",
            "-o",
            "/dev/null",
            "--no-progress",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(kib < 2 * 64 * 1024, "XML sweep peaked at {kib} KiB");
    let xml = std::fs::read_to_string(&xml).unwrap();
    let hosts: Vec<Ipv4Addr> = xml
        .lines()
        .filter_map(|l| l.strip_prefix(r#"<address addr=""#))
        .map(|l| l.split('"').next().unwrap().parse().unwrap())
        .collect();
    assert!(hosts == want, "XML lists {} hosts, in order", hosts.len());
    assert_eq!(
        xml.matches(r#"portid="80"><state state="open""#).count(),
        want.len()
    );
    assert!(
        xml.contains(r#"<hosts up="262142" down="0" total="262142"/>"#),
        "runstats"
    );
    let text = std::fs::read_to_string(&text).unwrap();
    assert_eq!(text.matches("\nScan report for ").count(), want.len());
    assert!(text.contains("262142 hosts up of 262142"), "summary");
}

#[test]
fn a_sweep_across_two_gateways_sends_each_part_its_own_way() {
    let lab = ScriptLab::up();
    let out = synscan_in(
        Some(&lab.scanner()),
        &[
            "-sS",
            "-Pn",
            "10.216.0.0/14",
            "-p",
            "80,81",
            "--states",
            "open,closed",
            "--format",
            "ndjson",
            "--no-progress",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Per /16: (port, state) → count.
    let mut seen: BTreeMap<(u8, u16, String), u64> = BTreeMap::new();
    for l in parse_ndjson(&out.stdout) {
        let ip: Ipv4Addr = l.ip.parse().unwrap();
        *seen.entry((ip.octets()[1], l.port, l.state)).or_default() += 1;
    }
    let mut want = BTreeMap::new();
    for ip in slash14([10, 216, 0, 0]) {
        let behind_router = ip.octets()[1] < 218;
        for (port, open) in [(80, !behind_router), (81, behind_router)] {
            let state = if open { "open" } else { "closed" };
            *want
                .entry((ip.octets()[1], port, state.to_string()))
                .or_default() += 1u64;
        }
    }
    assert_eq!(seen, want);
}

/// The ports of the ndjson lines, as (address, state).
fn sweep_results(ndjson: &str, allow_torn_end: bool) -> Vec<(Ipv4Addr, String)> {
    parse_ndjson(complete_lines(ndjson, allow_torn_end))
        .into_iter()
        .map(|l| (l.ip.parse().unwrap(), l.state))
        .collect()
}

/// Runs the /14 sweep of 10.212.0.0/14 port 80 at `rate`, stopped by `signal` after `after`.
fn interrupted_sweep(
    lab: &ScriptLab,
    resume: &str,
    signal: &str,
    after: Duration,
) -> (Output, Vec<(Ipv4Addr, String)>) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lab.scanner(), bin()]).args([
        "-sS",
        "-Pn",
        "10.212.0.0/14",
        "-p",
        "80",
        "--rate",
        "80000",
        "--seed",
        "5",
        "--format",
        "ndjson",
        "--no-progress",
        "--resume-file",
        resume,
        "--checkpoint-every",
        "300ms",
    ]);
    let out = run_cmd_signalled(cmd, b"", Duration::from_secs(120), Some((after, signal)));
    let results = sweep_results(&out.stdout, signal == "KILL");
    (out, results)
}

fn resume_sweep(lab: &ScriptLab, resume: &str) -> Vec<(Ipv4Addr, String)> {
    let out = synscan_in(
        Some(&lab.scanner()),
        &["--resume", resume, "--format", "ndjson", "--no-progress"],
        b"",
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    sweep_results(&out.stdout, false)
}

#[test]
fn a_slash14_sweep_resumes_exactly_after_sigint_and_after_sigkill() {
    let lab = ScriptLab::up();
    let dir = tempfile::tempdir().unwrap();
    let want: Vec<Ipv4Addr> = slash14([10, 212, 0, 0]).collect();
    // SIGINT: the two runs together report every host once.
    let resume = dir.path().join("int.resume").display().to_string();
    let (out, a) = interrupted_sweep(&lab, &resume, "INT", Duration::from_millis(1500));
    assert_eq!(out.code, Some(130), "{}", out.stderr);
    assert!(
        a.len() > 10_000 && a.len() < want.len() - 10_000,
        "the interrupt lands mid-sweep: {}",
        a.len()
    );
    let size = std::fs::metadata(&resume).unwrap().len();
    assert!(
        size < 64 * 1024,
        "the checkpoint holds a window, not the space: {size} bytes"
    );
    let b = resume_sweep(&lab, &resume);
    let mut all: Vec<Ipv4Addr> = a.iter().chain(&b).map(|r| r.0).collect();
    assert!(a.iter().chain(&b).all(|r| r.1 == "open"));
    all.sort();
    let dups = all.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(dups, 0, "hosts reported twice");
    assert!(all == want, "{} of {} hosts", all.len(), want.len());
    // SIGKILL: results written after the last checkpoint may come again, nothing is lost.
    let resume = dir.path().join("kill.resume").display().to_string();
    let (out, a) = interrupted_sweep(&lab, &resume, "KILL", Duration::from_millis(1600));
    assert_eq!(out.code, None, "killed: {}", out.stderr);
    assert!(a.len() > 10_000, "{} before the kill", a.len());
    let b = resume_sweep(&lab, &resume);
    let mut all: Vec<Ipv4Addr> = a.iter().chain(&b).map(|r| r.0).collect();
    all.sort();
    all.dedup();
    assert!(all == want, "{} of {} hosts", all.len(), want.len());
    // At 80 000/s, the 300 ms between checkpoints hold at most about 24 000 results.
    let again = a.len() + b.len() - want.len();
    assert!(again < 40_000, "{again} results reported twice");
}
