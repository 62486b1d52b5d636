//! Scale-out as a Kubernetes Indexed Job runs it, simulated faithfully on one machine: each
//! "pod" is a synscan process in a scanner namespace of its own with JOB_COMPLETION_INDEX
//! set, writing ndjson and its resume file to a shared "volume" directory; one is killed
//! with SIGKILL midway and started again with the same index and volume. Their merge must
//! equal one machine's scan pair for pair, and the probes they sent (from --pcap) must
//! cover every pair, with only the restarted shard repeating any. Also: merge's refusals,
//! the `FROM scratch` image built and run with podman, and the manifests validated.

mod common;

use common::{Lab, Output, bin, run_cmd, sh};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ports scanned, and those listening on every address of the target space.
const PORTS: &str = "7000-7099";
const OPEN: [u16; 5] = [7003, 7010, 7042, 7077, 7099];
/// What every run of the acceptance test scans: the /22 × [`PORTS`], SYN, no discovery.
const SCAN: [&str; 5] = ["10.66.0.0/22", "-p", PORTS, "-sS", "-Pn"];
/// The target drops this port on the first 64 addresses of 10.66.2.0/24 (filtered pairs).
const DROPPED_PORT: u16 = 7042;

/// The expected state and reason of a pair of the /22.
fn truth(ip: Ipv4Addr, port: u16) -> (&'static str, &'static str) {
    let o = ip.octets();
    if port == DROPPED_PORT && o[2] == 2 && o[3] < 64 {
        ("filtered", "no-response")
    } else if OPEN.contains(&port) {
        ("open", "syn-ack")
    } else {
        ("closed", "reset")
    }
}

/// Every pair of the scan: 10.66.0.0/22 without its network and broadcast addresses.
fn all_pairs() -> BTreeSet<(Ipv4Addr, u16)> {
    let mut s = BTreeSet::new();
    for h in 1..1023u32 {
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 66, 0, 0)) + h);
        for p in 7000..7100 {
            s.insert((ip, p));
        }
    }
    s
}

/// A target namespace answering on every address of 10.66.0.0/22 (an any-IP local route,
/// listeners on [`OPEN`]), reached from `n` scanner namespaces, each by a veth of its own
/// and with no other route.
struct ScaleLab {
    lab: Lab,
    scanners: Vec<String>,
    dir: tempfile::TempDir,
}

impl ScaleLab {
    fn new(n: u8) -> ScaleLab {
        let mut lab = Lab::new();
        let target = lab.netns("t");
        let mut scanners = Vec::new();
        for k in 0..n {
            let s = lab.netns(&format!("p{k}"));
            lab.veth(
                &s,
                &format!("10.67.{k}.1/24"),
                &target,
                &format!("10.67.{k}.2/24"),
                &format!("v{k}"),
            );
            lab.exec(
                &s,
                &[
                    "ip",
                    "route",
                    "add",
                    "10.66.0.0/22",
                    "via",
                    &format!("10.67.{k}.2"),
                ],
            );
            scanners.push(s);
        }
        lab.exec(
            &target,
            &["ip", "route", "add", "local", "10.66.0.0/22", "dev", "lo"],
        );
        lab.listen(&target, &OPEN);
        lab.nft(
            &target,
            &format!(
                "table inet scaleout {{\n chain input {{\n type filter hook input priority 0;\n \
                 ip daddr 10.66.2.0/26 tcp dport {DROPPED_PORT} drop\n }}\n}}\n"
            ),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        ScaleLab { lab, scanners, dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Waits for `child` at most `limit`; kills it past that (a bounded test).
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("wait");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A child killed and reaped when dropped, so a failing test leaves no scanner running.
struct Pod(Option<Child>);

impl Pod {
    fn take(mut self) -> Child {
        self.0.take().expect("pod")
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One shard "pod": the Job's command line (index from JOB_COMPLETION_INDEX, results and
/// resume file on the volume keyed by the index), started in scanner namespace `ns`.
fn start_pod(ns: &str, vol: &str, index: u32, rate: &str, pcap: &str) -> Pod {
    let resume = format!("{vol}/shard-{index}.resume");
    let out = format!("{vol}/shard-{index}.ndjson");
    Command::new("ip")
        .args(["netns", "exec", ns, "env"])
        .arg(format!("JOB_COMPLETION_INDEX={index}"))
        .arg(bin())
        .args(SCAN)
        .args([
            "--seed",
            "20261130",
            "--shard-index-env",
            "JOB_COMPLETION_INDEX",
            "--shards",
            "4",
            "--rate",
            rate,
            "--resume-file",
            &resume,
            "--auto-resume",
            "--checkpoint-every",
            "200ms",
            "--states",
            "all",
            "--format",
            "ndjson",
            "-o",
            &out,
            "--pcap",
            pcap,
            "--no-progress",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(|c| Pod(Some(c)))
        .expect("start a shard")
}

/// (ip, port) → (state, reason) of ndjson result records.
fn pairs_of(ndjson: &str) -> BTreeMap<(Ipv4Addr, u16), (String, String)> {
    let mut m = BTreeMap::new();
    for l in common::records(ndjson) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        let ip: Ipv4Addr = v["ip"].as_str().expect("ip").parse().expect("IPv4");
        let port = v["port"].as_u64().expect("port") as u16;
        m.insert(
            (ip, port),
            (
                v["state"].as_str().expect("state").to_string(),
                v["reason"].as_str().expect("reason").to_string(),
            ),
        );
    }
    m
}

/// The distinct (destination, port) pairs of the SYN probes in a capture, read by tshark.
fn probes_in(pcap: &str) -> BTreeSet<(Ipv4Addr, u16)> {
    let out = Command::new("tshark")
        .args([
            "-n",
            "-r",
            pcap,
            "-Y",
            "tcp.flags.syn==1 && tcp.flags.ack==0",
            "-T",
            "fields",
            "-e",
            "ip.dst",
            "-e",
            "tcp.dstport",
        ])
        .output()
        .expect("tshark is installed (scripts/test.sh installs it)");
    let err = String::from_utf8_lossy(&out.stderr);
    // A run killed with SIGKILL may leave its last frame cut short.
    assert!(
        out.status.success() || err.contains("cut short"),
        "tshark: {err}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (ip, port) = l.split_once('\t').unwrap_or_else(|| panic!("{l}"));
            (ip.parse().expect("ip"), port.trim().parse().expect("port"))
        })
        .collect()
}

/// Pairs a resume file counts as reported: every position before `position`, and the
/// ranges of `done` past it (a silent pair holds `position` back until its retries end).
fn reported(state: &serde_json::Value) -> Option<u64> {
    let mut n = state["position"].as_u64()?;
    for r in state["done"].as_array()? {
        n += r[1].as_u64()? - r[0].as_u64()?;
    }
    Some(n)
}

#[test]
fn four_shard_pods_one_killed_and_resumed_merge_to_the_single_machine_scan() {
    let l = ScaleLab::new(5);
    let vol = l.path("vol");
    std::fs::create_dir(&vol).expect("volume dir");
    // Pods 0, 2 and 3 run through; pod 1 is slower so that it can be killed midway.
    let mut pods: Vec<(u32, Pod)> = Vec::new();
    for k in [0u32, 2, 3, 1] {
        let rate = if k == 1 { "2500" } else { "8000" };
        let pcap = format!("{vol}/probes-{k}-a.pcap");
        pods.push((k, start_pod(&l.scanners[k as usize], &vol, k, rate, &pcap)));
    }
    // Kill pod 1 once its checkpoint says a fifth of its shard is reported.
    let resume = format!("{vol}/shard-1.resume");
    let (_, pod1) = pods.pop().expect("pod 1");
    let mut pod1 = pod1.take();
    let start = Instant::now();
    let mut killed_at = None;
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(text) = std::fs::read_to_string(&resume)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(reported) = reported(&v)
            && reported >= 5000
        {
            pod1.kill().expect("SIGKILL pod 1");
            killed_at = Some(reported);
            break;
        }
        if pod1.try_wait().expect("try_wait").is_some() {
            let out = wait_bounded(pod1, Duration::from_secs(1));
            panic!("pod 1 ended before it could be killed: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_at = killed_at.expect("pod 1 checkpointed within 30 s");
    let _ = pod1.wait();
    for (k, pod) in pods {
        let out = wait_bounded(pod.take(), Duration::from_secs(60));
        assert_eq!(out.code, Some(0), "pod {k}: {out:?}");
    }
    // The Job re-creates pod 1: same index, same volume, same command.
    let again = start_pod(
        &l.scanners[1],
        &vol,
        1,
        "8000",
        &format!("{vol}/probes-1-b.pcap"),
    );
    let out = wait_bounded(again.take(), Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "restarted pod 1: {out:?}");
    assert!(
        !Path::new(&resume).exists(),
        "a finished shard removes its resume file"
    );

    // Pod 1's file: the killed run's header and records, then the resumed run's.
    let shard1 = std::fs::read_to_string(format!("{vol}/shard-1.ndjson")).expect("shard 1");
    let headers: Vec<serde_json::Value> = shard1
        .lines()
        .filter(|l| l.contains("\"type\":\"scan\""))
        .map(|l| serde_json::from_str(l).expect("header"))
        .collect();
    assert_eq!(headers.len(), 2, "two runs of shard 1");
    assert_eq!(headers[0]["shard"], "2/4");
    assert_eq!(headers[0]["resumed"], false);
    assert_eq!(headers[1]["resumed"], true);
    assert_eq!(headers[0]["scan_id"], headers[1]["scan_id"]);
    assert_eq!(headers[0]["source"], serde_json::json!(["10.67.1.1"]));
    assert!(shard1.ends_with('\n'));

    // The merge of the four pods' files (the volume directory).
    let merged_path = l.path("merged.ndjson");
    let merge = run_cmd(
        {
            let mut c = Command::new(bin());
            c.args(["merge", &vol, "--format", "ndjson", "-o", &merged_path]);
            c
        },
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(merge.code, Some(0), "{merge:?}");
    assert!(
        merge.stderr.contains("merged 4 files") && merge.stderr.contains(" 102200 written"),
        "{}",
        merge.stderr
    );
    let merged_text = std::fs::read_to_string(&merged_path).expect("merged");
    let merged = pairs_of(&merged_text);

    // One machine scanning the same space.
    let single_path = l.path("single.ndjson");
    let single = wait_bounded(
        Command::new("ip")
            .args(["netns", "exec", &l.scanners[4]])
            .arg(bin())
            .args(SCAN)
            .args([
                "--rate",
                "20000",
                "--states",
                "all",
                "--format",
                "ndjson",
                "-o",
                &single_path,
                "--no-progress",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("single scan"),
        Duration::from_secs(90),
    );
    assert_eq!(single.code, Some(0), "{}", single.stderr);
    let single = pairs_of(&std::fs::read_to_string(&single_path).expect("single"));

    // Pair for pair the same, and both the ground truth.
    assert_eq!(merged.len(), 102_200);
    let differ: Vec<_> = merged
        .iter()
        .filter(|(k, v)| single.get(k) != Some(v))
        .take(5)
        .collect();
    assert!(
        merged == single,
        "merge differs from one machine's scan, e.g. {differ:?}"
    );
    for ((ip, port), (state, reason)) in &merged {
        assert_eq!(
            (state.as_str(), reason.as_str()),
            truth(*ip, *port),
            "{ip}:{port}"
        );
    }
    // Sorted by host, then port.
    let order: Vec<(Ipv4Addr, u16)> = common::records(&merged_text)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("record");
            (
                v["ip"].as_str().expect("ip").parse().expect("ip"),
                v["port"].as_u64().expect("port") as u16,
            )
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "merged output is sorted"
    );
    let end: serde_json::Value =
        serde_json::from_str(merged_text.lines().last().expect("end")).expect("end record");
    assert_eq!(end["complete"], true);
    assert_eq!(end["ports_done"], 102_200);

    // The probes: every pair probed, no pair probed by two pods, and only the restarted
    // shard's two runs share pairs, and fewer than all of its pairs (it resumed).
    let runs: Vec<(String, BTreeSet<(Ipv4Addr, u16)>)> = ["0-a", "1-a", "1-b", "2-a", "3-a"]
        .iter()
        .map(|r| (r.to_string(), probes_in(&format!("{vol}/probes-{r}.pcap"))))
        .collect();
    let union: BTreeSet<(Ipv4Addr, u16)> = runs.iter().flat_map(|(_, s)| s.clone()).collect();
    let all = all_pairs();
    let missed: Vec<_> = all.difference(&union).take(5).collect();
    assert!(
        union == all,
        "the pods' probes miss {} pairs, e.g. {missed:?}",
        all.len() - union.len()
    );
    for (i, (a, sa)) in runs.iter().enumerate() {
        for (b, sb) in &runs[i + 1..] {
            let shared = sa.intersection(sb).count();
            if (a.as_str(), b.as_str()) == ("1-a", "1-b") {
                assert!(
                    shared < 25_000,
                    "the restarted pod resumed, it did not start over ({shared} pairs again)"
                );
            } else {
                assert_eq!(shared, 0, "runs {a} and {b} probed {shared} pairs both");
            }
        }
    }
    let shard1_pairs: BTreeSet<(Ipv4Addr, u16)> = pairs_of(&shard1).into_keys().collect();
    let pod1: BTreeSet<(Ipv4Addr, u16)> = runs[1].1.union(&runs[2].1).copied().collect();
    assert!(
        pod1 == shard1_pairs,
        "pod 1's runs did not probe exactly its shard"
    );
    assert!(
        (runs[2].1.len() as u64) < shard1_pairs.len() as u64 - killed_at / 2,
        "the second run of pod 1 probed {} of {} pairs",
        runs[2].1.len(),
        shard1_pairs.len()
    );
}

/// A small scan's shard files, from a loopback namespace.
struct Shards {
    dir: tempfile::TempDir,
}

impl Shards {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read")
    }
}

fn merge(args: &[&str]) -> Output {
    let mut c = Command::new(bin());
    c.arg("merge").args(args);
    run_cmd(c, b"", Duration::from_secs(30))
}

/// Exit 2 and exactly one line on stderr that holds `want`.
fn refused(out: &Output, want: &str) {
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains(want), "want {want:?}: {}", out.stderr);
}

#[test]
fn merge_refuses_mixed_scans_reports_missing_and_doubled_shards_and_damaged_files() {
    let mut net = common::Net::new();
    net.listen(&[7303]);
    let s = Shards {
        dir: tempfile::tempdir().expect("tempdir"),
    };
    let scan = |seed: &str, shard: &str, out: &str| {
        let o = net.synscan(&[
            "127.0.0.0/29",
            "-p",
            "7300-7309",
            "-Pn",
            "--seed",
            seed,
            "--shard",
            shard,
            "--states",
            "all",
            "--format",
            "ndjson",
            "-o",
            &s.path(out),
            "--no-progress",
        ]);
        assert_eq!(o.code, Some(0), "{o:?}");
    };
    scan("1", "1/2", "a1.ndjson");
    scan("1", "2/2", "a2.ndjson");
    scan("2", "2/2", "b2.ndjson");
    let (a1, a2, b2) = (
        s.path("a1.ndjson"),
        s.path("a2.ndjson"),
        s.path("b2.ndjson"),
    );

    let good = merge(&[&a1, &a2, "--format", "ndjson"]);
    assert_eq!(good.code, Some(0), "{good:?}");
    let pairs = pairs_of(&good.stdout);
    assert_eq!(pairs.len(), 60, "6 hosts x 10 ports");
    assert_eq!(
        pairs.values().filter(|(st, _)| st == "open").count(),
        6,
        "7303 on every address"
    );

    refused(&merge(&[&a1, &b2]), "shards of different scans");
    refused(&merge(&[&a1]), "missing shards: 1 of 2 absent (2)");
    let partial = merge(&[&a1, "--allow-partial", "--format", "ndjson"]);
    assert_eq!(partial.code, Some(0), "{partial:?}");
    assert!(
        partial.stderr.contains("warning: missing shards"),
        "{}",
        partial.stderr
    );
    assert_eq!(pairs_of(&partial.stdout).len(), 30);

    let copy = s.write("a1-copy.ndjson", &s.read("a1.ndjson"));
    refused(&merge(&[&a1, &copy, &a2]), "shard 1/2 is in 2 files");

    // A restarted shard that wrote its records twice: one kept of each.
    let text = s.read("a2.ndjson");
    let lines: Vec<&str> = text.lines().collect();
    let records: Vec<&str> = lines[1..lines.len() - 1].to_vec();
    let mut twice = vec![lines[0]];
    twice.extend(&records);
    twice.extend(&records);
    twice.push(lines[lines.len() - 1]);
    let twice = s.write("a2-twice.ndjson", &(twice.join("\n") + "\n"));
    let dedup = merge(&[&a1, &twice, "--format", "ndjson"]);
    assert_eq!(dedup.code, Some(0), "{dedup:?}");
    assert_eq!(pairs_of(&dedup.stdout), pairs);
    assert_eq!(common::records(&dedup.stdout).count(), 60, "each pair once");
    assert!(
        dedup.stderr.contains("30 repeated pairs dropped"),
        "{}",
        dedup.stderr
    );

    // Damaged files: a line that is not JSON, a record before any header, an unfinished
    // shard, a missing file, a file that is not synscan's.
    let mut bad = lines.clone();
    bad[2] = "{\"ip\":\"127.0.0.1\",\"port\":";
    let bad = s.write("a2-bad.ndjson", &(bad.join("\n") + "\n"));
    refused(&merge(&[&a1, &bad]), "line 3: not a synscan ndjson record");
    let headless = s.write("headless.ndjson", &(records.join("\n") + "\n"));
    refused(&merge(&[&headless]), "a record before any header");
    let unfinished = s.write(
        "a2-unfinished.ndjson",
        &(lines[..lines.len() - 1].join("\n") + "\n"),
    );
    refused(&merge(&[&a1, &unfinished]), "shard 2/2 did not finish");
    refused(&merge(&[&a1, &s.path("nope.ndjson")]), "cannot read");
    let alien = s.write("alien.ndjson", "{\"type\":\"scan\",\"hello\":1}\n");
    refused(&merge(&[&alien]), "line 1: a bad header record");
    let other = s.write("other.ndjson", "{\"ip\":\"10.1.1.1\"}\n");
    refused(&merge(&[&a1, &a2, &other]), "a record before any header");
    refused(&merge(&[&a1, &a2, "-o", &a1]), "is one of the inputs");

    // Any output format: XML that nmap's DTD accepts, with the merged ports.
    let xml_path = s.path("merged.xml");
    let xml = merge(&[&a1, &a2, "--format", "xml", "-o", &xml_path]);
    assert_eq!(xml.code, Some(0), "{xml:?}");
    let x = std::fs::read_to_string(&xml_path).expect("xml");
    assert_eq!(x.matches(r#"portid="7303"><state state="open""#).count(), 6);
    let lint = Command::new("xmllint")
        .args([
            "--noout",
            "--dtdvalid",
            "/usr/share/nmap/nmap.dtd",
            &xml_path,
        ])
        .output()
        .expect("xmllint");
    let errors = String::from_utf8_lossy(&lint.stderr);
    let real: Vec<&str> = errors
        .lines()
        .filter(|l| l.contains("error") && !l.contains("scanner"))
        .collect();
    assert!(real.is_empty(), "{errors}");
}

#[test]
fn shard_index_env_and_auto_resume_refuse_bad_input_in_one_line() {
    let net = common::Net::new();
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut c = net.synscan_cmd();
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(args);
        run_cmd(c, b"", Duration::from_secs(30))
    };
    let base = [
        "127.0.0.1",
        "-p",
        "1-10",
        "--seed",
        "3",
        "--shard-index-env",
        "SYNSCAN_TEST_INDEX",
        "--shards",
        "4",
    ];
    refused(&run(&[], &base), "SYNSCAN_TEST_INDEX is not set");
    refused(
        &run(&[("SYNSCAN_TEST_INDEX", "4")], &base),
        "SYNSCAN_TEST_INDEX='4' is not a shard index from 0 to 3",
    );
    refused(
        &run(&[("SYNSCAN_TEST_INDEX", "-1")], &base),
        "is not a shard index",
    );
    let out = run(&[], &["127.0.0.1", "--shards", "4"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    let out = run(
        &[("SYNSCAN_TEST_INDEX", "0")],
        &[
            "127.0.0.1",
            "--shard",
            "1/4",
            "--shard-index-env",
            "SYNSCAN_TEST_INDEX",
            "--shards",
            "4",
        ],
    );
    assert_eq!(
        out.code,
        Some(2),
        "--shard and --shard-index-env conflict: {out:?}"
    );
    // The index is JOB_COMPLETION_INDEX + 1 of N: index 2 walks shard 3/4.
    let dir = tempfile::tempdir().expect("tempdir");
    let o = dir.path().join("o.ndjson").display().to_string();
    let mut args = base.to_vec();
    args.extend(["--format", "ndjson", "-o", &o, "--no-progress"]);
    let ok = run(&[("SYNSCAN_TEST_INDEX", "2")], &args);
    assert_eq!(ok.code, Some(0), "{ok:?}");
    let text = std::fs::read_to_string(&o).expect("output");
    let header: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("header")).expect("header");
    assert_eq!(header["shard"], "3/4");
    assert_eq!(header["seed"], 3);
    assert_eq!(header["scan_id"].as_str().map(str::len), Some(16));
    // --auto-resume with a resume file of another scan.
    let resume = dir.path().join("r.resume").display().to_string();
    std::fs::write(
        &resume,
        r#"{"synscan_resume":3,"argv":["--ports=1-10","--seed=9","--","127.0.0.1"],"names":[],"hosts":1,"ports":"1-10","scan_id":"ffffffffffffffff","stage":0,"position":0,"done":[]}"#,
    )
    .expect("resume file");
    refused(
        &run(
            &[],
            &[
                "127.0.0.1",
                "-p",
                "1-10",
                "--seed",
                "9",
                "--resume-file",
                &resume,
                "--auto-resume",
            ],
        ),
        "holds another scan",
    );
    // The same scan id but another shard's file: refused too.
    let id = header["scan_id"].as_str().expect("scan id");
    std::fs::write(
        &resume,
        format!(
            r#"{{"synscan_resume":3,"argv":["--ports=1-10","--seed=3","--shard=1/4","--","127.0.0.1"],"names":[],"hosts":1,"ports":"1-10","scan_id":"{id}","stage":0,"position":0,"done":[]}}"#
        ),
    )
    .expect("resume file");
    let mut again = base.to_vec();
    again.extend(["--resume-file", &resume, "--auto-resume"]);
    refused(
        &run(&[("SYNSCAN_TEST_INDEX", "2")], &again),
        "holds another scan or shard",
    );
    std::fs::remove_file(&resume).expect("remove");
    // A finished shard run again: nothing to do, its output untouched.
    again.extend(["--format", "ndjson", "-o", &o, "--no-progress"]);
    let before = std::fs::read_to_string(&o).expect("output");
    let done = run(&[("SYNSCAN_TEST_INDEX", "2")], &again);
    assert_eq!(done.code, Some(0), "{done:?}");
    assert!(done.stderr.contains("already finished"), "{}", done.stderr);
    assert_eq!(std::fs::read_to_string(&o).expect("output"), before);
    // --auto-resume needs --seed: a restarted run must walk the same order.
    let out = run(&[], &["127.0.0.1", "-p", "1-10", "--auto-resume"]);
    assert_eq!(out.code, Some(2), "{out:?}");
}

/// Removes a podman image and the containers run from it by their exact names, pass or fail.
struct Podman {
    image: String,
    container: String,
    runs: std::cell::Cell<u32>,
}

impl Drop for Podman {
    fn drop(&mut self) {
        for i in 0..self.runs.get() {
            let _ = Command::new("podman")
                .args(["rm", "-f", &format!("{}-{i}", self.container)])
                .output();
        }
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}

/// `podman run` with what this machine's podman needs (runc: crun cannot set up cgroups
/// here; ulimits within this VM's hard limits) and the pod's restrictions.
fn podman_run(p: &Podman, ns: &str, vol: &str, caps: &[&str], args: &[&str]) -> Output {
    let run = p.runs.get();
    p.runs.set(run + 1);
    let name = format!("{}-{run}", p.container);
    let mut c = Command::new("podman");
    c.args(["--runtime", "runc", "run", "--rm", "--name", &name])
        .args(["--network", &format!("ns:/run/netns/{ns}")])
        .args(["--user", "65534:65534", "--read-only", "--cap-drop", "ALL"])
        .args(["--security-opt", "no-new-privileges"])
        .args([
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
        ])
        .args([
            "-v",
            &format!("{vol}:/data"),
            "-e",
            "JOB_COMPLETION_INDEX=0",
        ]);
    for cap in caps {
        c.args(["--cap-add", cap]);
    }
    c.arg(&p.image).args(args);
    run_cmd(c, b"", Duration::from_secs(120))
}

/// True when an ELF64 file names a program interpreter (PT_INTERP): it is dynamically
/// linked and cannot run alone in an empty image.
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |i: usize| u16::from_le_bytes([elf[i], elf[i + 1]]) as usize;
    let mut off = [0u8; 8];
    off.copy_from_slice(&elf[0x20..0x28]);
    let phoff = u64::from_le_bytes(off) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff + i * size;
        u32::from_le_bytes([elf[at], elf[at + 1], elf[at + 2], elf[at + 3]]) == 3
    })
}

#[test]
fn the_scratch_image_builds_with_podman_and_scans_as_nobody_with_net_raw_only() {
    let binary = std::fs::read(bin()).expect("binary");
    assert!(
        !has_interpreter(&binary),
        "the image needs a statically linked binary: run the suite with scripts/test.sh, \
         which builds the tests for x86_64-unknown-linux-gnu with +crt-static"
    );
    let l = ScaleLab::new(1);
    let ctx = l.path("ctx");
    std::fs::create_dir(&ctx).expect("ctx");
    let staged = format!("{ctx}/synscan");
    std::fs::write(&staged, &binary).expect("stage binary");
    sh(&["chmod", "755", &staged]);
    // The scratch image has no shell: the file capability is set before COPY.
    sh(&["setcap", "cap_net_raw+p", &staged]);
    let p = Podman {
        image: format!("localhost/synscan-test-{}:latest", l.lab.tag),
        container: format!("synscan-test-{}", l.lab.tag),
        runs: std::cell::Cell::new(0),
    };
    let containerfile = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/Containerfile");
    let build = run_cmd(
        {
            let mut c = Command::new("podman");
            c.args(["build", "-q", "-f", containerfile, "-t", &p.image, &ctx]);
            c
        },
        b"",
        Duration::from_secs(120),
    );
    assert_eq!(build.code, Some(0), "podman build: {build:?}");
    let vol = l.path("vol");
    std::fs::create_dir(&vol).expect("vol");
    sh(&["chmod", "777", &vol]);
    // The pod's command, as in deploy/kubernetes/scan-job.yaml, on a /28 of the lab.
    let args = [
        "-sS",
        "--seed",
        "5",
        "--shard-index-env",
        "JOB_COMPLETION_INDEX",
        "--shards",
        "1",
        "--rate",
        "5k",
        "--resume-file",
        "/data/shard-0.resume",
        "--auto-resume",
        "--format",
        "ndjson",
        "-o",
        "/data/shard-0.ndjson",
        "--no-progress",
        "-Pn",
        "-p",
        PORTS,
        "10.66.0.0/28",
    ];
    let out = podman_run(&p, &l.scanners[0], &vol, &["NET_RAW"], &args);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!out.stderr.contains("falling back"), "{}", out.stderr);
    let text = std::fs::read_to_string(format!("{vol}/shard-0.ndjson")).expect("results");
    let header: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("header")).expect("header");
    assert_eq!(
        header["scans"][0]["type"], "syn",
        "a raw SYN scan as nobody"
    );
    let open: BTreeSet<(Ipv4Addr, u16)> = pairs_of(&text).into_keys().collect();
    let want: BTreeSet<(Ipv4Addr, u16)> = (1..15u8)
        .flat_map(|h| OPEN.map(|p| (Ipv4Addr::new(10, 66, 0, h), p)))
        .collect();
    assert_eq!(open, want);
    // Without NET_RAW, -sS is refused in one line, as the Job's podFailurePolicy expects.
    let elsewhere: Vec<&str> = args
        .iter()
        .map(|a| match *a {
            "/data/shard-0.ndjson" => "/tmp/denied.ndjson",
            "/data/shard-0.resume" => "/tmp/denied.resume",
            a => a,
        })
        .collect();
    let denied = podman_run(&p, &l.scanners[0], &vol, &[], &elsewhere);
    assert_eq!(denied.code, Some(2), "{denied:?}");
    // The merge Job's command: no capability at all.
    let merged = podman_run(
        &p,
        &l.scanners[0],
        &vol,
        &[],
        &[
            "merge",
            "--format",
            "xml",
            "-o",
            "/data/merged.xml",
            "/data",
        ],
    );
    assert_eq!(merged.code, Some(0), "{merged:?}");
    let xml = std::fs::read_to_string(format!("{vol}/merged.xml")).expect("merged xml");
    assert_eq!(
        xml.matches(r#"<state state="open""#).count(),
        14 * OPEN.len()
    );
}

/// The validator scripts/test.sh installs (kubernetes-validate, offline schemas).
fn validator() -> PathBuf {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/tools/kubernetes-validate/bin"
    ));
    assert!(
        p.join("kubernetes-validate").exists(),
        "kubernetes-validate is missing: scripts/test.sh installs it into {}",
        p.display()
    );
    p
}

#[test]
fn the_kubernetes_manifests_validate_and_their_scan_command_runs() {
    let bin_dir = validator();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes");
    let files: Vec<String> = ["scan-job.yaml", "merge-job.yaml", "results-pvc.yaml"]
        .iter()
        .map(|f| format!("{dir}/{f}"))
        .collect();
    let out = Command::new(bin_dir.join("kubernetes-validate"))
        .arg("--strict")
        .args(&files)
        .output()
        .expect("kubernetes-validate");
    assert!(out.status.success(), "{out:?}");
    // The Job's fields that make the scale-out work, read with the validator's own YAML.
    let script = "import json,sys,yaml\nprint(json.dumps(yaml.safe_load(open(sys.argv[1]))))";
    let read = |f: &str| -> serde_json::Value {
        let out = Command::new(bin_dir.join("python"))
            .args(["-c", script, f])
            .output()
            .expect("python");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let job = read(&files[0]);
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["capabilities"]["add"], serde_json::json!(["NET_RAW"]));
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert!(c["resources"]["limits"]["cpu"].is_string());
    let args: Vec<String> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect();
    let after = |flag: &str| -> &str {
        let i = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("{flag}"));
        &args[i + 1]
    };
    assert_eq!(after("--shard-index-env"), "JOB_COMPLETION_INDEX");
    assert_eq!(after("--shards"), spec["completions"].to_string());
    assert!(after("--resume-file").contains("$(JOB_COMPLETION_INDEX)"));
    assert!(after("-o").contains("$(JOB_COMPLETION_INDEX)"));
    assert!(args.iter().any(|a| a == "--auto-resume") && args.iter().any(|a| a == "--rate"));
    // The command parses and walks its shard: a dry run, as kubelet expands it for index 2
    // (it sends nothing and writes no file).
    let net = common::Net::new();
    let mut cmd = net.synscan_cmd();
    cmd.env("JOB_COMPLETION_INDEX", "2");
    for a in &args {
        cmd.arg(a.replace("$(JOB_COMPLETION_INDEX)", "2"));
    }
    cmd.args(["--dry-run", "-S", "192.0.2.1"]);
    let dry = run_cmd(cmd, b"", Duration::from_secs(30));
    assert_eq!(dry.code, Some(0), "{dry:?}");
    assert!(dry.stdout.lines().count() > 100, "{}", dry.stdout);
    assert!(!Path::new("/data/shard-2.ndjson").exists());
}
