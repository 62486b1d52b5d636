//! Issue 6, point 4: interrupted scans. Each test scans 127.0.0.1 inside its own network
//! namespace (nothing else listens there, so the truth is exact): a few listeners, a few
//! ports dropped by nft (filtered), every other port closed. A scan is stopped by SIGINT or
//! SIGKILL and finished with `--resume`; the union of both runs must be the truth.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const OPEN: [u16; 5] = [22, 80, 443, 8080, 31337];
const DROPPED: [u16; 3] = [81, 82, 9999];

/// A namespace with only loopback, listeners on [`OPEN`], [`DROPPED`] dropped.
fn loopback_lab(lab: &mut Lab, suffix: &str) -> String {
    let ns = lab.netns(suffix);
    lab.listen(&ns, &OPEN);
    let ports = DROPPED.map(|p| p.to_string()).join(", ");
    lab.nft(
        &ns,
        &format!(
            "table inet t {{\n chain in {{\n  type filter hook input priority 0;\n  tcp dport {{ {ports} }} drop\n }}\n}}\n"
        ),
    );
    ns
}

/// State of every port of 127.0.0.1 in [`loopback_lab`].
fn truth() -> BTreeMap<u16, &'static str> {
    (1..=65535u16)
        .map(|p| {
            let state = if OPEN.contains(&p) {
                "open"
            } else if DROPPED.contains(&p) {
                "filtered"
            } else {
                "closed"
            };
            (p, state)
        })
        .collect()
}

fn run_in(ns: &str, args: &[&str], signal: Option<(Duration, &str)>) -> Output {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, bin()]).args(args);
    run_cmd_signalled(cmd, b"", Duration::from_secs(120), signal)
}

/// (port, state) of every complete NDJSON line (a run killed with SIGKILL may leave a torn
/// last line, which is ignored here and only there).
fn results(ndjson: &str, allow_torn_end: bool) -> Vec<(u16, String)> {
    parse_ndjson(complete_lines(ndjson, allow_torn_end))
        .into_iter()
        .map(|l| (l.port, l.state))
        .collect()
}

/// Runs `synscan --resume` to the end; returns its results.
fn finish(ns: &str, resume: &str) -> Vec<(u16, String)> {
    let out = run_in(
        ns,
        &[
            "--resume",
            resume,
            "--states",
            "all",
            "--format",
            "ndjson",
            "--no-progress",
        ],
        None,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    results(&out.stdout, false)
}

/// Asserts two runs together reported every port exactly once, with its true state.
fn assert_union_is_truth(first: &[(u16, String)], second: &[(u16, String)]) {
    let mut seen = BTreeMap::new();
    for (port, state) in first.iter().chain(second) {
        assert!(
            seen.insert(*port, state.as_str()).is_none(),
            "port {port} reported twice"
        );
    }
    let want = truth();
    assert_eq!(seen.len(), want.len(), "ports missing from the union");
    for (port, state) in &want {
        assert_eq!(seen.get(port), Some(state), "port {port}");
    }
}

/// The ports of 127.0.0.1 (all of them) in the order `--seed SEED` scans them, as
/// `--dry-run` prints it: the order's positions are what the resume file counts.
fn order_of(ns: &str, seed: &str) -> Vec<u16> {
    let dry = run_in(
        ns,
        &["-sS", "127.0.0.1", "-p-", "--seed", seed, "--dry-run"],
        None,
    );
    let order: Vec<u16> = dry
        .stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap().rsplit(':').next().unwrap())
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(order.len(), 65535);
    order
}

/// The resume file's finished pairs, as ports: every position before `position`, and the
/// `done` ranges past it.
fn done_ports(resume: &Path, order: &[u16]) -> BTreeSet<u16> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(resume).expect("resume file")).unwrap();
    let position = v["position"].as_u64().unwrap() as usize;
    let past = v["done"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize);
    (0..position).chain(past).map(|i| order[i]).collect()
}

fn assert_xml_well_formed(path: &Path) {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys,xml.etree.ElementTree as E; E.parse(sys.argv[1])",
        ])
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{} is not well-formed XML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every line complete (the file ends in a newline) and the format's last line present.
fn assert_ends_with(path: &Path, last_line_start: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "{} ends mid-line", path.display());
    let last = text.lines().last().unwrap_or("");
    assert!(
        last.starts_with(last_line_start),
        "{}: last line {last:?}",
        path.display()
    );
}

#[test]
fn sigint_writes_a_resume_file_and_the_resumed_run_completes_the_scan_exactly() {
    let mut lab = Lab::new();
    let ns = loopback_lab(&mut lab, "rsyn");
    let dir = tempfile::tempdir().unwrap();
    let f = |name: &str| dir.path().join(name).display().to_string();
    let resume = f("scan.resume");
    let first = run_in(
        &ns,
        &[
            "-sS",
            "127.0.0.1",
            "-p-",
            "--rate",
            "20000",
            "--seed",
            "7",
            "--states",
            "all",
            "--no-progress",
            "--resume-file",
            &resume,
            "--format",
            "json",
            "-o",
            &f("a.json"),
            "-oJ",
            &f("a.ndjson"),
            "-oX",
            &f("a.xml"),
            "-oN",
            &f("a.txt"),
            "-oG",
            &f("a.gnmap"),
            "-oL",
            &f("a.list"),
        ],
        Some((Duration::from_millis(1200), "INT")),
    );
    assert_eq!(first.code, Some(130), "{first:?}");
    assert!(
        first
            .stderr
            .contains(&format!("finish the scan with: synscan --resume {resume}")),
        "{}",
        first.stderr
    );
    // The resume file holds the run's cookie key: its owner alone may read it.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&resume).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "resume file mode {mode:o}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&resume).unwrap()).unwrap();
    assert!(saved["cookie_key"].is_array(), "{saved}");
    // Every output is complete and valid after the interrupt.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f("a.json")).unwrap())
            .expect("valid JSON after SIGINT");
    assert_xml_well_formed(Path::new(&f("a.xml")));
    assert_ends_with(Path::new(&f("a.txt")), "synscan done:");
    assert_ends_with(Path::new(&f("a.gnmap")), "# synscan done at");
    assert_ends_with(Path::new(&f("a.list")), "# end");
    let a = results(&std::fs::read_to_string(f("a.ndjson")).unwrap(), false);
    assert!(
        a.len() > 1000 && a.len() < 60000,
        "the interrupt should land mid-scan: {} results",
        a.len()
    );
    assert!(
        json.to_string().contains("\"port\""),
        "JSON lists the results so far"
    );
    // Everything the resume file calls finished was written out.
    let order = order_of(&ns, "7");
    let done = done_ports(Path::new(&resume), &order);
    let reported: BTreeSet<u16> = a.iter().map(|r| r.0).collect();
    assert_eq!(done, reported);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&resume).unwrap()).unwrap();
    let position = saved["position"].as_u64().unwrap() as usize;

    let second = run_in(
        &ns,
        &[
            "--resume",
            &resume,
            "--states",
            "all",
            "--format",
            "ndjson",
            "--no-progress",
            "--pcap",
            &f("b.pcap"),
        ],
        None,
    );
    assert_eq!(second.code, Some(0), "{second:?}");
    let b = results(&second.stdout, false);
    assert_union_is_truth(&a, &b);
    assert!(
        !Path::new(&resume).exists(),
        "a finished scan removes its resume file"
    );
    // Same seed, same order: the resumed run's first probe is the first unreported pair at
    // or after the saved position of the order --dry-run prints (everything before it was
    // reported).
    assert!(order[..position].iter().all(|p| reported.contains(p)));
    let expected = order[position..]
        .iter()
        .find(|p| !reported.contains(p))
        .copied();
    let read = synscan(&["read", &f("b.pcap")]);
    let first_probe: Option<u16> = read
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("dport"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.trim().parse().ok());
    assert_eq!(first_probe, expected, "resumed run starts where it stopped");
}

#[test]
fn sigkill_loses_at_most_the_window_since_the_last_checkpoint() {
    let mut lab = Lab::new();
    let ns = loopback_lab(&mut lab, "rkil");
    let dir = tempfile::tempdir().unwrap();
    let resume = dir.path().join("scan.resume").display().to_string();
    let first = run_in(
        &ns,
        &[
            "-sS",
            "127.0.0.1",
            "-p-",
            "--rate",
            "15000",
            "--seed",
            "11",
            "--states",
            "all",
            "--format",
            "ndjson",
            "--no-progress",
            "--resume-file",
            &resume,
            "--checkpoint-every",
            "500ms",
        ],
        Some((Duration::from_millis(2300), "KILL")),
    );
    assert_eq!(first.code, None, "killed by a signal: {first:?}");
    let a = results(&first.stdout, true);
    let done = done_ports(Path::new(&resume), &order_of(&ns, "11"));
    let reported: BTreeSet<u16> = a.iter().map(|r| r.0).collect();
    assert!(!done.is_empty(), "a checkpoint was written");
    assert!(
        done.is_subset(&reported),
        "the checkpoint lists only results already written"
    );
    let b = finish(&ns, &resume);
    // Only what was reported after the last checkpoint comes again, and nothing is lost.
    let again: Vec<(u16, String)> = b
        .iter()
        .filter(|r| reported.contains(&r.0))
        .cloned()
        .collect();
    for (port, _) in &again {
        assert!(
            !done.contains(port),
            "port {port} was checkpointed yet rescanned"
        );
    }
    let b_new: Vec<(u16, String)> = b
        .iter()
        .filter(|r| !reported.contains(&r.0))
        .cloned()
        .collect();
    assert_union_is_truth(&a, &b_new);
    for r in &again {
        assert!(a.contains(r), "{r:?}: the rescanned state agrees");
    }
}

#[test]
fn connect_scan_sigint_then_resume_and_csv_stays_whole() {
    let mut lab = Lab::new();
    let ns = loopback_lab(&mut lab, "rcon");
    let dir = tempfile::tempdir().unwrap();
    let resume = dir.path().join("c.resume").display().to_string();
    let first = run_in(
        &ns,
        &[
            "-sT",
            "127.0.0.1",
            "-p-",
            "--rate",
            "20000",
            "--timeout",
            "300ms",
            "--states",
            "all",
            "--format",
            "csv",
            "--no-progress",
            "--resume-file",
            &resume,
        ],
        Some((Duration::from_millis(1200), "INT")),
    );
    assert_eq!(first.code, Some(130), "{first:?}");
    assert!(first.stdout.ends_with('\n'), "CSV ends mid-line");
    let mut lines = first.stdout.lines();
    let header = lines.next().unwrap();
    let columns = header.split(',').count();
    let a: Vec<(u16, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), columns, "torn CSV line {l:?}");
            (f[2].parse().unwrap(), f[4].to_string())
        })
        .collect();
    assert!(a.len() > 1000 && a.len() < 60000, "{} results", a.len());
    assert_union_is_truth(&a, &finish(&ns, &resume));
}

#[test]
fn resume_rejects_bad_files_and_scan_options_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none").display().to_string();
    let out = synscan(&["--resume", &missing]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("resume file") && out.stderr.lines().count() == 1);
    let junk = dir.path().join("junk");
    std::fs::write(&junk, "not json").unwrap();
    let out = synscan(&["--resume", junk.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("not a synscan resume file"), "{out:?}");
    let good = dir.path().join("good");
    std::fs::write(
        &good,
        r#"{"synscan_resume":3,"argv":["--ports=80","--seed=1","--","127.0.0.1"],"names":[],"hosts":1,"ports":"80","stage":0,"position":0,"done":[]}"#,
    )
    .unwrap();
    for extra in [&["-p", "22"][..], &["10.0.0.1"], &["--seed", "3"]] {
        let mut args = vec!["--resume", good.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = synscan(&args);
        assert_eq!(out.code, Some(2), "{extra:?}: {out:?}");
        assert!(out.stderr.contains("cannot be given with it"), "{out:?}");
        assert_eq!(out.stderr.lines().count(), 1);
    }
    // The file's targets must still expand to what it was saved with.
    std::fs::write(
        &good,
        r#"{"synscan_resume":3,"argv":["--ports=80","--seed=1","--","127.0.0.1"],"names":[],"hosts":4,"ports":"80","stage":0,"position":0,"done":[]}"#,
    )
    .unwrap();
    let out = synscan(&["--resume", good.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("no longer expand"), "{out:?}");
    // Finished positions past the scan, and files of the earlier layout, are refused before
    // anything is sent.
    for (text, want) in [
        (
            r#"{"synscan_resume":3,"argv":["--ports=80","--seed=1","--","127.0.0.1"],"names":[],"hosts":1,"ports":"80","stage":0,"position":0,"done":[[0,1099511627776]]}"#,
            "outside the scan",
        ),
        (
            r#"{"synscan_resume":1,"argv":["--ports=80","--seed=1","--","127.0.0.1"],"names":[],"hosts":1,"ports":"80","stage":0,"position":0,"done":[]}"#,
            "layout version 1",
        ),
        (
            r#"{"synscan_resume":2,"argv":["--ports=80","--seed=1","--","127.0.0.1"],"names":[],"hosts":1,"ports":"80","stage":0,"position":0,"done":[]}"#,
            "layout version 2 (this synscan reads 3)",
        ),
    ] {
        std::fs::write(&good, text).unwrap();
        let out = synscan(&["--resume", good.to_str().unwrap(), "--no-progress"]);
        assert_eq!(out.code, Some(2), "{out:?}");
        assert!(out.stderr.contains(want), "{out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    }
}
