//! The raw SYN engine against ground truth: loopback listeners, the namespace lab of
//! scripts/lab.sh (local subnet, through a router, an any-IP /20), nmap -sS on the same
//! target, dry-run coverage and sharding, privilege fallback and drop, and a capture.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn states(out: &str) -> BTreeMap<(String, u16), (String, String)> {
    let lines = parse_ndjson(out);
    let map: BTreeMap<_, _> = lines
        .iter()
        .map(|l| ((l.ip.clone(), l.port), (l.state.clone(), l.reason.clone())))
        .collect();
    assert_eq!(map.len(), lines.len(), "a (host, port) reported twice");
    map
}

/// Thirty ports spread over the range.
const THIRTY: [u16; 30] = [
    1, 7, 21, 22, 25, 80, 443, 1023, 1024, 1025, 3306, 5432, 6379, 8000, 8080, 8443, 9000, 9999,
    10000, 20000, 31337, 32768, 40000, 49152, 50000, 55555, 60000, 61000, 65534, 65535,
];

#[test]
fn syn_loopback_finds_exactly_the_listeners() {
    let mut net = Net::new();
    net.listen(&THIRTY);
    let out = net.synscan(&["-sS", "127.0.0.1", "-p-", "--format", "ndjson"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let found: BTreeSet<u16> = parse_ndjson(&out.stdout)
        .into_iter()
        .inspect(|l| assert_eq!((l.state.as_str(), l.reason.as_str()), ("open", "syn-ack")))
        .map(|l| l.port)
        .collect();
    // The namespace is the test's own: exactly its listeners are open.
    assert_eq!(found, BTreeSet::from(THIRTY));
}

#[test]
fn syn_loopback_closed_ports_are_reset() {
    let mut net = Net::new();
    let open = BTreeSet::from([5001u16, 5003, 5005]);
    let closed = BTreeSet::from([5002u16, 5004, 5006]);
    net.listen(&open.iter().copied().collect::<Vec<_>>());
    let out = net.synscan(&[
        "-sS",
        "127.0.0.1",
        "-p",
        "5001-5006",
        "--states",
        "all",
        "--format",
        "ndjson",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let got = states(&out.stdout);
    let mut want = BTreeMap::new();
    for p in &open {
        want.insert(
            ("127.0.0.1".to_string(), *p),
            ("open".to_string(), "syn-ack".to_string()),
        );
    }
    for p in &closed {
        want.insert(
            ("127.0.0.1".to_string(), *p),
            ("closed".to_string(), "reset".to_string()),
        );
    }
    assert_eq!(got, want);
}

/// The lab's ground truth for ports 20-25,79-84,443,8080,8443 (see scripts/lab.sh).
fn lab_truth() -> BTreeMap<(String, u16), (String, String)> {
    let ports = [
        20u16, 21, 22, 23, 24, 25, 79, 80, 81, 82, 83, 84, 443, 8080, 8443,
    ];
    let mut want = BTreeMap::new();
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    for p in ports {
        let tgt = match p {
            22 | 80 | 443 | 8080 => s("open", "syn-ack"),
            81 | 82 => s("filtered", "no-response"),
            83 => s("filtered", "admin-prohibited"),
            _ => s("closed", "reset"),
        };
        want.insert(("10.201.0.2".to_string(), p), tgt);
        let far = match p {
            80 | 8443 => s("open", "syn-ack"),
            _ => s("closed", "reset"),
        };
        want.insert(("10.201.2.2".to_string(), p), far);
        want.insert(("10.201.0.9".to_string(), p), s("filtered", "no-arp"));
        want.insert(("10.203.0.5".to_string(), p), s("filtered", "host-unreach"));
        want.insert(
            ("10.204.0.5".to_string(), p),
            s("filtered", "admin-prohibited"),
        );
        want.insert(("10.206.0.5".to_string(), p), s("filtered", "no-response"));
    }
    want
}

const LAB_PORTS: &str = "20-25,79-84,443,8080,8443";

#[test]
fn syn_lab_every_state_and_reason_exact_and_nmap_agrees() {
    let lab = ScriptLab::up();
    let ns = lab.scanner();
    let scan = |send_path: &str| {
        synscan_in(
            Some(&ns),
            &[
                "-sS",
                "-Pn",
                "10.201.0.2",
                "10.201.2.2",
                "10.201.0.9",
                "10.203.0.5",
                "10.204.0.5",
                "10.206.0.5",
                "-p",
                LAB_PORTS,
                "--states",
                "all",
                "--format",
                "ndjson",
                "--send-path",
                send_path,
            ],
            b"",
        )
    };
    let out = scan("mmsg");
    assert_eq!(out.code, Some(0), "{out:?}");
    let got = states(&out.stdout);
    assert_eq!(got, lab_truth());
    // The PACKET_TX_RING and portable pnet paths give the same results.
    for path in ["ring", "pnet"] {
        let other = scan(path);
        assert_eq!(other.code, Some(0), "{path}: {other:?}");
        assert_eq!(states(&other.stdout), lab_truth(), "--send-path {path}");
    }
    // The text summary carries the kernel's drop count for our receive socket.
    let text = synscan_in(Some(&ns), &["-sS", "10.201.0.2", "-p", LAB_PORTS], b"");
    assert!(
        text.stdout.contains(" dropped by kernel"),
        "{}",
        text.stdout
    );

    // nmap -sS from the same namespace must see the same states on both live targets.
    for target in ["10.201.0.2", "10.201.2.2"] {
        let xml = tool_output(
            Command::new("ip").args([
                "netns", "exec", &ns, "nmap", "-sS", "-n", "-Pn", "-p", LAB_PORTS, target, "-oX",
                "-",
            ]),
            "nmap",
        );
        let mut nmap_states = BTreeMap::new();
        for part in xml.split("<port protocol=\"tcp\" portid=\"").skip(1) {
            let port: u16 = part.split('"').next().unwrap().parse().unwrap();
            let state = part
                .split("<state state=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            nmap_states.insert(port, state.to_string());
        }
        let ours: BTreeMap<u16, String> = got
            .iter()
            .filter(|((ip, _), _)| ip == target)
            .map(|((_, p), (s, _))| (*p, s.clone()))
            .collect();
        assert_eq!(ours, nmap_states, "synscan vs nmap on {target}");
    }
}

#[test]
fn syn_sweep_of_an_any_ip_slash20_is_exact() {
    let lab = ScriptLab::up();
    let out = synscan_in(
        Some(&lab.scanner()),
        &[
            "-sS",
            "-Pn",
            "10.202.0.0/20",
            "-p",
            "22,80,443",
            "--states",
            "open,closed",
            "--format",
            "list",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let got = parse_list_results(&out.stdout);
    // The /20's network (10.202.0.0) and broadcast (10.202.15.255) addresses are skipped.
    let mut want = HashSet::new();
    for i in 1..4095u32 {
        let ip = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 202, 0, 0)) + i)
            .to_string();
        want.insert((ip.clone(), "closed".to_string(), 22));
        want.insert((ip.clone(), "open".to_string(), 80));
        want.insert((ip, "open".to_string(), 443));
    }
    assert_eq!(got.len(), want.len());
    assert!(got == want, "sweep differs from ground truth");
}

fn dry(args: &[&str]) -> Vec<String> {
    let mut a = vec!["--dry-run", "-S", "10.0.0.1"];
    a.extend_from_slice(args);
    let out = synscan(&a);
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn dry_run_covers_every_pair_once_and_shards_partition_it() {
    let all = dry(&["10.0.0.0/26", "-p", "1-50", "--seed", "7"]);
    assert_eq!(
        all.len(),
        62 * 50,
        "a /26 without its network and broadcast addresses"
    );
    let pairs: HashSet<String> = all
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(pairs.len(), all.len(), "duplicates in the walk");
    for h in 1..63 {
        for p in 1..=50 {
            assert!(pairs.contains(&format!("10.0.0.{h}:{p}")));
        }
    }
    for l in &all {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f.len(), 3, "{l}");
        assert!(
            f[1].starts_with("sport=") && f[2].starts_with("seq="),
            "{l}"
        );
    }
    // Same seed, same order and source port; another seed, another order; not host after
    // host. The sequence numbers are keyed by a random key per run, not by the seed.
    let order = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|l| l.rsplit_once(' ').map_or(l.as_str(), |x| x.0).to_string())
            .collect()
    };
    let again = dry(&["10.0.0.0/26", "-p", "1-50", "--seed", "7"]);
    assert_eq!(order(&all), order(&again));
    assert_ne!(
        all, again,
        "one seed, one cookie key: replies could be forged"
    );
    assert_ne!(
        order(&all),
        order(&dry(&["10.0.0.0/26", "-p", "1-50", "--seed", "8"]))
    );
    let first_hosts: HashSet<&str> = all
        .iter()
        .take(64)
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert!(first_hosts.len() > 20, "scan order walks host after host");
    // Three shards with one seed: disjoint, and their union is the whole walk.
    let mut union: Vec<String> = Vec::new();
    for i in 1..=3 {
        union.extend(dry(&[
            "10.0.0.0/26",
            "-p",
            "1-50",
            "--seed",
            "7",
            "--shard",
            &format!("{i}/3"),
        ]));
    }
    let union = order(&union);
    let set: HashSet<&String> = union.iter().collect();
    assert_eq!(set.len(), union.len(), "shards overlap");
    let all = order(&all);
    let whole: HashSet<&String> = all.iter().collect();
    assert_eq!(set, whole);
    // Excludes and duplicates are honoured.
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never.xml");
    let ex = dry(&[
        "10.0.0.0/30",
        "10.0.0.1",
        "--exclude",
        "10.0.0.2",
        "-p",
        "80",
        "--seed",
        "1",
        "-oX",
        never.to_str().unwrap(),
        "--include-broadcast",
    ]);
    assert!(!never.exists(), "a dry run creates no output file");
    let hosts: BTreeSet<&str> = ex.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(hosts, BTreeSet::from(["10.0.0.0", "10.0.0.1", "10.0.0.3"]));
    // Without --include-broadcast a CIDR leaves out its network and broadcast addresses.
    let plain = dry(&["10.0.0.0/30", "-p", "80", "--seed", "1"]);
    let hosts: BTreeSet<&str> = plain.iter().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(hosts, BTreeSet::from(["10.0.0.1", "10.0.0.2"]));
}

fn nobody(net: &Net, args: &[&str]) -> Output {
    synscan_as_nobody(&net.ns, args)
}

#[test]
fn without_cap_net_raw_falls_back_to_connect_with_the_same_results() {
    let mut net = Net::new();
    let ours = BTreeSet::from([5101u16, 5102, 5104, 5107, 5109]);
    net.listen(&ours.iter().copied().collect::<Vec<_>>());
    net.listen6(&ours.iter().copied().collect::<Vec<_>>());
    // Both families: the fallback covers IPv6 too.
    let args = [
        "127.0.0.1",
        "::1",
        "-Pn",
        "-p",
        "5100-5110",
        "--format",
        "ndjson",
    ];
    let raw = net.synscan(&args);
    assert_eq!(raw.code, Some(0), "{raw:?}");
    assert!(raw.stderr.is_empty());
    let fallback = nobody(&net, &args);
    assert_eq!(fallback.code, Some(0), "{fallback:?}");
    let notice: Vec<&str> = fallback.stderr.lines().collect();
    assert_eq!(notice.len(), 1, "{:?}", fallback.stderr);
    assert!(
        notice[0].contains("falling back to a connect() scan") && notice[0].contains("setcap"),
        "{}",
        notice[0]
    );
    let open = |o: &Output, ip: &str| -> BTreeSet<u16> {
        parse_ndjson(&o.stdout)
            .into_iter()
            .filter(|l| l.ip == ip)
            .map(|l| l.port)
            .collect()
    };
    for ip in ["127.0.0.1", "::1"] {
        assert_eq!(open(&raw, ip), ours, "SYN scan of {ip}");
        assert_eq!(open(&fallback, ip), ours, "connect() scan of {ip}");
    }
    // Asking for -sS explicitly without the privilege is an input error.
    let denied = nobody(&net, &["-sS", "127.0.0.1", "-p", "80"]);
    assert_eq!(denied.code, Some(2), "{denied:?}");
    assert!(
        denied.stderr.starts_with("synscan: error: cannot run -sS")
            && denied.stderr.lines().count() == 1
    );
}

fn cap_line(pid: u32, key: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
}

#[test]
fn capabilities_are_zero_while_probing() {
    for target in ["127.0.0.1", "::1"] {
        capabilities_are_zero_while_probing_on(target);
    }
}

fn capabilities_are_zero_while_probing_on(target: &str) {
    let net = Net::new();
    // Stopped with SIGINT below: its resume file goes to a temporary directory.
    let dir = tempfile::tempdir().unwrap();
    let mut child = net
        .synscan_cmd()
        .args([
            "-sS", target, "-p", "1-3000", "--rate", "1000", "--format", "ndjson",
        ])
        .arg("--resume-file")
        .arg(dir.path().join("r"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = None;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        // Sending threads exist once probing started: check the process and every thread.
        let tasks: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        if tasks.len() >= 3 {
            seen = Some(
                tasks
                    .iter()
                    .map(|t| (cap_line(*t, "CapEff:"), cap_line(*t, "CapPrm:")))
                    .collect::<Vec<_>>(),
            );
            break;
        }
    }
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let _ = child.wait();
    let seen = seen.expect("scan threads never appeared");
    for (eff, prm) in seen {
        assert_eq!(eff.as_deref(), Some("0000000000000000"));
        assert_eq!(prm.as_deref(), Some("0000000000000000"));
    }
}

#[test]
fn capture_shows_syn_synack_and_our_rst_with_valid_checksums() {
    let mut net = Net::new();
    let (port, sport) = (5201u16, 45201u16);
    net.listen(&[port]);
    let dir = tempfile::tempdir().unwrap();
    sh(&["chmod", "777", dir.path().to_str().unwrap()]);
    let pcap = dir.path().join("scan.pcap");
    let filter = format!("tcp port {port}");
    let td = tcpdump(Some(&net.ns), "lo", &pcap, &filter);
    let out = net.synscan(&[
        "-sS",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--source-port",
        &sport.to_string(),
        "--format",
        "ndjson",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    stop_capture(td);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(parse_ndjson(&out.stdout).len(), 1);
    let text = tool_output(
        Command::new("tshark").args([
            "-r",
            pcap.to_str().unwrap(),
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-T",
            "fields",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.flags",
            "-e",
            "tcp.checksum.status",
            "-e",
            "ip.checksum.status",
        ]),
        "tshark",
    );
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let (sp, dp) = (sport.to_string(), port.to_string());
    let ours = |flags: &str| {
        rows.iter()
            .find(|r| r[0] == sp && r[1] == dp && r[2] == flags)
    };
    let syn = ours("0x0002").unwrap_or_else(|| panic!("no SYN in {text}"));
    let rst = ours("0x0004").unwrap_or_else(|| panic!("no RST from synscan in {text}"));
    assert!(
        rows.iter()
            .any(|r| r[0] == dp && r[1] == sp && r[2] == "0x0012"),
        "no SYN-ACK in {text}"
    );
    // Our frames carry correct checksums (1 = good); the kernel's own loopback frames are
    // left with partial checksums by offload and are not ours to judge.
    for r in [syn, rst] {
        assert_eq!((r[3], r[4]), ("1", "1"), "bad checksum in our frame: {r:?}");
    }
    let malformed = Command::new("tshark")
        .args([
            "-r",
            pcap.to_str().unwrap(),
            "-Y",
            "_ws.malformed || _ws.expert.severity == error",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&malformed.stdout).trim().is_empty(),
        "malformed frames: {}",
        String::from_utf8_lossy(&malformed.stdout)
    );
}

#[test]
fn setcap_binary_runs_syn_as_an_unprivileged_user() {
    let mut net = Net::new();
    let ours = BTreeSet::from([5301u16, 5302, 5309]);
    net.listen(&ours.iter().copied().collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    sh(&["chmod", "755", dir.path().to_str().unwrap()]);
    let copy = dir.path().join("synscan");
    std::fs::copy(bin(), &copy).unwrap();
    sh(&["chmod", "755", copy.to_str().unwrap()]);
    sh(&[
        "setcap",
        "cap_net_raw,cap_net_admin+eip",
        copy.to_str().unwrap(),
    ]);
    let list: Vec<String> = ours.iter().map(u16::to_string).collect();
    let mut c = net.command("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        copy.to_str().unwrap(),
    ]);
    c.args([
        "-sS",
        "127.0.0.1",
        "-p",
        &list.join(","),
        "--format",
        "ndjson",
    ]);
    let out = run_cmd(c, b"", Duration::from_secs(60));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "no fallback expected: {}",
        out.stderr
    );
    let found: BTreeSet<u16> = parse_ndjson(&out.stdout)
        .into_iter()
        .inspect(|l| assert_eq!(l.reason, "syn-ack", "a SYN scan, not connect()"))
        .map(|l| l.port)
        .collect();
    assert_eq!(found, ours);
}

/// Captures on the target's interface while `args` run in the scanner namespace; returns
/// (seconds since first frame, tcp.srcport, tcp.dstport, tcp.flags) per frame.
fn capture_on_target(
    lab: &ScriptLab,
    filter: &str,
    args: &[&str],
) -> (Output, Vec<(f64, u16, u16, String)>) {
    let fields = [
        "frame.time_relative",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.flags",
    ];
    let (out, rows) = capture_during(&format!("{}tgt", lab.prefix), "t0", filter, &fields, || {
        synscan_in(Some(&lab.scanner()), args, b"")
    });
    let rows = rows
        .iter()
        .filter_map(|f| {
            Some((
                f.first()?.parse().ok()?,
                f.get(1)?.parse().ok()?,
                f.get(2)?.parse().ok()?,
                f.get(3)?.to_string(),
            ))
        })
        .collect();
    (out, rows)
}

#[test]
fn retries_go_only_to_unanswered_ports_and_no_reset_is_honoured() {
    let lab = ScriptLab::up();
    let common = [
        "-sS",
        "10.201.0.2",
        "-p",
        "80,81,84",
        "--retries",
        "2",
        "--source-port",
        "47000",
        "--format",
        "ndjson",
    ];
    let (out, rows) = capture_on_target(&lab, "tcp port 47000", &common);
    assert_eq!(out.code, Some(0), "{out:?}");
    let syns = |port: u16| {
        rows.iter()
            .filter(|r| r.2 == port && r.3 == "0x0002")
            .count()
    };
    assert_eq!(
        (syns(80), syns(81), syns(84)),
        (1, 3, 1),
        "SYNs per port: {rows:?}"
    );
    // After the SYN-ACK from 80: our RST and the kernel's (it has no socket for the port).
    let rsts_to_80 = rows
        .iter()
        .filter(|r| r.1 == 47000 && r.2 == 80 && r.3 == "0x0004")
        .count();
    assert_eq!(rsts_to_80, 2, "{rows:?}");
    let mut no_reset = common.to_vec();
    no_reset.push("--no-reset");
    let (out, rows) = capture_on_target(&lab, "tcp port 47000", &no_reset);
    assert_eq!(out.code, Some(0), "{out:?}");
    let rsts_to_80 = rows
        .iter()
        .filter(|r| r.1 == 47000 && r.2 == 80 && r.3 == "0x0004")
        .count();
    assert_eq!(
        rsts_to_80, 1,
        "only the kernel's RST with --no-reset: {rows:?}"
    );
}

#[test]
fn rate_cap_holds_in_every_100ms_window() {
    let lab = ScriptLab::up();
    let rate = 3000.0;
    let (out, rows) = capture_on_target(
        &lab,
        "tcp[tcpflags] == tcp-syn",
        &[
            "-sS",
            "10.201.0.2",
            "-p",
            "1-3000",
            "--rate",
            "3000",
            "--retries",
            "0",
            "--format",
            "ndjson",
        ],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let times: Vec<f64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(times.len(), 3000, "every probe captured once");
    let span = times[times.len() - 1] - times[0];
    let achieved = (times.len() - 1) as f64 / span;
    assert!(
        (achieved - rate).abs() / rate <= 0.05,
        "rate {achieved:.0}/s over {span:.3} s"
    );
    // Sliding 100 ms windows starting at every frame.
    let mut j = 0;
    for i in 0..times.len() {
        while j < times.len() && times[j] < times[i] + 0.1 {
            j += 1;
        }
        let n = (j - i) as f64;
        assert!(
            n <= 1.1 * rate * 0.1,
            "{n} probes in the 100 ms from {:.3} s",
            times[i]
        );
    }
}

#[test]
fn pcap_option_records_every_probe_and_reply() {
    let mut net = Net::new();
    let open = BTreeSet::from([5401u16, 5403]);
    let closed = 5402u16;
    net.listen(&open.iter().copied().collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("scan.pcap");
    let out = net.synscan(&[
        "-sS",
        "127.0.0.1",
        "-p",
        "5401-5403",
        "--source-port",
        "47123",
        "--pcap",
        pcap.to_str().unwrap(),
        "--format",
        "ndjson",
        "--states",
        "all",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let (mut syns, mut synacks, mut rsts) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for t in tcp_in_pcap(&pcap) {
        match t.flags {
            0x02 => assert!(syns.insert(t.dst_port) && t.src_port == 47123, "{t:?}"),
            0x12 => assert!(synacks.insert(t.src_port), "{t:?}"),
            0x14 | 0x04 => assert!(rsts.insert(t.src_port), "{t:?}"),
            f => panic!("unexpected flags {f:#x}"),
        }
    }
    let all: BTreeSet<u16> = open.iter().copied().chain([closed]).collect();
    assert_eq!(syns, all, "one probe per port");
    assert_eq!(synacks, open, "the SYN-ACKs");
    assert_eq!(rsts, BTreeSet::from([closed]), "the RST");
    // Without raw privileges or with -sT, --pcap is refused.
    let denied = net.synscan(&[
        "-sT",
        "127.0.0.1",
        "-p",
        "80",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(denied.code, Some(2), "{denied:?}");
}

/// The TCP headers of every frame in a pcap file, in file order.
fn tcp_in_pcap(path: &std::path::Path) -> Vec<synscan::wire::TcpRepr> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = synscan::capture::CaptureReader::new(f).unwrap();
    let mut v = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        let Ok((_, synscan::wire::Network::Ipv4(_, synscan::wire::Transport::Tcp(t)))) =
            synscan::wire::parse_ethernet(&rec.data)
        else {
            panic!("not TCP: {:?}", rec.data);
        };
        v.push(t);
    }
    v
}

#[test]
fn one_seed_gives_one_order_but_every_run_its_own_cookie_key() {
    let mut net = Net::new();
    net.listen(&[5501, 5507]);
    let dir = tempfile::tempdir().unwrap();
    // The SYNs each run sent, in order, read back from its --pcap file.
    let run = |name: &str| -> Vec<(u16, u16, u32)> {
        let pcap = dir.path().join(name);
        let out = net.synscan(&[
            "-sS",
            "127.0.0.1",
            "-p",
            "5500-5599",
            "--seed",
            "42",
            "--retries",
            "0",
            "--pcap",
            pcap.to_str().unwrap(),
            "--format",
            "ndjson",
        ]);
        assert_eq!(out.code, Some(0), "{out:?}");
        let found: BTreeSet<u16> = parse_ndjson(&out.stdout).iter().map(|l| l.port).collect();
        assert_eq!(found, BTreeSet::from([5501, 5507]));
        tcp_in_pcap(&pcap)
            .into_iter()
            .filter(|t| t.flags == 0x02)
            .map(|t| (t.dst_port, t.src_port, t.seq))
            .collect()
    };
    let (a, b) = (run("a.pcap"), run("b.pcap"));
    assert_eq!(a.len(), 100);
    let order = |v: &[(u16, u16, u32)]| v.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>();
    assert_eq!(order(&a), order(&b), "one seed: one order and source port");
    let same_seq = a.iter().zip(&b).filter(|(x, y)| x.2 == y.2).count();
    assert!(
        same_seq <= 2,
        "{same_seq} of 100 sequence numbers repeat: the key follows the seed"
    );
}

#[test]
fn router_mac_and_interface_overrides() {
    let lab = ScriptLab::up();
    let ns = lab.scanner();
    let tgt = format!("{}tgt", lab.prefix);
    let link = Command::new("ip")
        .args(["-n", &tgt, "-o", "link", "show", "t0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&link.stdout).to_string();
    let mac = text
        .split("link/ether ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("t0 MAC")
        .to_string();
    let scan = |extra: &[&str]| {
        let mut args = vec![
            "-sS",
            "10.201.0.2",
            "-p",
            "22,80,84",
            "--states",
            "all",
            "--format",
            "ndjson",
            "--retries",
            "0",
            "--wait",
            "300ms",
        ];
        args.extend_from_slice(extra);
        let out = synscan_in(Some(&ns), &args, b"");
        assert_eq!(out.code, Some(0), "{out:?}");
        states(&out.stdout)
            .into_iter()
            .map(|((_, p), (s, _))| (p, s))
            .collect::<BTreeMap<u16, String>>()
    };
    let truth = BTreeMap::from([
        (22, "open".to_string()),
        (80, "open".to_string()),
        (84, "closed".to_string()),
    ]);
    assert_eq!(
        scan(&["--router-mac", &mac]),
        truth,
        "the target's own MAC given by hand"
    );
    assert_eq!(scan(&["-e", "s0"]), truth, "interface given by hand");
    assert_eq!(
        scan(&["-e", "s0", "-S", "10.201.0.1"]),
        truth,
        "interface and source given by hand"
    );
    // Frames to a MAC nobody has are dropped by the target's NIC: nothing answers.
    let silent = scan(&["--router-mac", "02:00:00:00:00:99"]);
    assert!(silent.values().all(|s| s == "filtered"), "{silent:?}");
    let bad = synscan_in(
        Some(&ns),
        &["-sS", "10.201.0.2", "-p", "22", "-e", "nosuch0"],
        b"",
    );
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(
        bad.stderr.contains("no interface named 'nosuch0'"),
        "{}",
        bad.stderr
    );
}

/// ICMP admin-prohibited from the target quoting a probe-like header with the wrong seq.
fn forged_icmp_spec(port: u16, seq: u32) -> String {
    let mut quote = vec![
        0x45u8, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 201, 0, 1, 10, 201, 0, 2,
    ];
    quote.extend_from_slice(&47200u16.to_be_bytes());
    quote.extend_from_slice(&port.to_be_bytes());
    quote.extend_from_slice(&seq.to_be_bytes());
    let load: String = quote.iter().map(|b| format!("\\x{b:02x}")).collect();
    format!("IP(src=10.201.0.2,dst=10.201.0.1)/ICMP(type=3,code=13)/Raw(load=\"{load}\")")
}

#[test]
fn forged_replies_never_become_results() {
    let lab = ScriptLab::up();
    let watched = [81u16, 82, 84, 85, 100, 1999];
    let f = forge_during_scan(
        &lab,
        &Forgeries {
            target: "10.201.0.2",
            scanner: "10.201.0.1",
            stranger: "10.201.0.77",
            ip: "IP",
            syn_filter: "src 10.201.0.1 and tcp[tcpflags] == tcp-syn",
            icmp_error: forged_icmp_spec,
        },
        &watched,
    );
    assert!(f.sent >= 3 * 6000, "forged packets sent: {}", f.sent);
    assert_eq!(f.out.code, Some(0), "{:?}", f.out);
    assert_eq!(
        f.forged.keys().copied().collect::<Vec<_>>(),
        watched.to_vec(),
        "a forgery for every watched port"
    );
    assert!(
        f.forged.values().all(|&t| t < f.scan_end),
        "every forgery arrived while the scan listened"
    );
    let mut want = BTreeMap::new();
    for p in 1..=2000u16 {
        let sr = match p {
            22 | 80 | 443 => ("open", "syn-ack"),
            81 | 82 => ("filtered", "no-response"),
            83 => ("filtered", "admin-prohibited"),
            _ => ("closed", "reset"),
        };
        want.insert(
            ("10.201.0.2".to_string(), p),
            (sr.0.to_string(), sr.1.to_string()),
        );
    }
    assert_eq!(
        states(&f.out.stdout),
        want,
        "a forged reply changed a result"
    );
}

#[test]
fn dry_run_with_an_interface_checks_only_the_families_it_scans() {
    // An interface with an IPv4 address and no IPv6 at all (not even link-local).
    let net = Net::new();
    let ns = net.ns.as_str();
    net.lab.exec(
        ns,
        &[
            "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1",
        ],
    );
    net.lab
        .exec(ns, &["sysctl", "-qw", "net.ipv6.conf.d0.disable_ipv6=1"]);
    net.lab
        .exec(ns, &["ip", "addr", "add", "10.9.9.1/24", "dev", "d0"]);
    net.lab.exec(ns, &["ip", "link", "set", "d0", "up"]);
    let out = net.synscan(&["--dry-run", "-e", "d0", "10.9.9.5", "-p", "80,443"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    assert!(out.stdout.lines().all(|l| l.starts_with("10.9.9.5:")));
    // An IPv6 target through it is the error naming what is missing.
    let out = net.synscan(&["--dry-run", "-e", "d0", "fd00::5", "-p", "80"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("interface 'd0' has no IPv6 address"),
        "{}",
        out.stderr
    );
}
