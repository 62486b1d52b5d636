//! IPv6 SYN scanning against ground truth: the IPv6 half of scripts/lab.sh (ULA fd93::/16: the
//! scanner's own subnet with Neighbor Solicitation to each host, a router, an any-IP /112,
//! rejecting routes, ip6tables and nft rejects), `::1` on loopback, a mixed IPv4 + IPv6 scan,
//! hop limits and time-exceeded, nmap -6 -sS on the same targets, and resume across IPv6.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::Command;
use std::time::Duration;

type States = BTreeMap<(String, u16), (String, String)>;

/// (ip, port) → (state, reason), each pair at most once.
fn states(out: &str) -> States {
    let lines = parse_ndjson(out);
    let map: States = lines
        .iter()
        .map(|l| ((l.ip.clone(), l.port), (l.state.clone(), l.reason.clone())))
        .collect();
    assert_eq!(map.len(), lines.len(), "a (host, port) reported twice");
    map
}

/// (ip, port) → the hop limit of the answer, where one came.
fn hop_limits(out: &str) -> BTreeMap<(String, u16), u64> {
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                (v["ip"].as_str()?.to_string(), v["port"].as_u64()? as u16),
                v["ttl"].as_u64()?,
            ))
        })
        .collect()
}

const PORTS: &str = "20-25,79-86,443,8080,8443";

fn ports() -> Vec<u16> {
    [
        20u16, 21, 22, 23, 24, 25, 79, 80, 81, 82, 83, 84, 85, 86, 443, 8080, 8443,
    ]
    .to_vec()
}

fn s(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

/// The IPv6 lab's ground truth for [`PORTS`] (see scripts/lab.sh).
fn truth6() -> States {
    let mut want = BTreeMap::new();
    for p in ports() {
        let near = match p {
            22 | 80 | 443 | 8080 => s("open", "syn-ack"),
            81 | 82 => s("filtered", "no-response"),
            83 => s("filtered", "admin-prohibited"),
            84 => s("filtered", "addr-unreach"),
            85 => s("filtered", "port-unreach"),
            86 => s("filtered", "reject-route"),
            _ => s("closed", "reset"),
        };
        // Two hosts on the scanner's own subnet, each found by its own solicitation.
        want.insert(("fd93::2".to_string(), p), near.clone());
        want.insert(("fd93::3".to_string(), p), near);
        let far = match p {
            80 | 8443 => s("open", "syn-ack"),
            _ => s("closed", "reset"),
        };
        want.insert(("fd93:2::2".to_string(), p), far);
        want.insert(("fd93::9".to_string(), p), s("filtered", "no-ndp"));
        want.insert(("fd93:5::5".to_string(), p), s("filtered", "no-route"));
        want.insert(
            ("fd93:6::5".to_string(), p),
            s("filtered", "admin-prohibited"),
        );
        want.insert(("fd93:7::5".to_string(), p), s("filtered", "no-response"));
    }
    want
}

/// nmap's states (port → state) for `target` in its XML.
fn nmap_states(ns: &str, args: &[&str], target: &str) -> BTreeMap<u16, String> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "nmap"])
        .args(args)
        .args(["-n", "-Pn", "-p", PORTS, target, "-oX", "-"]);
    let xml = tool_output(&mut cmd, "nmap");
    let mut out = BTreeMap::new();
    for part in xml.split("<port protocol=\"tcp\" portid=\"").skip(1) {
        let port: u16 = part.split('"').next().unwrap().parse().unwrap();
        let state = part
            .split("<state state=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        out.insert(port, state.to_string());
    }
    out
}

#[test]
fn syn6_lab_every_state_and_reason_exact_and_nmap_agrees() {
    let lab = ScriptLab::up();
    let ns = lab.scanner();
    let scan = |send_path: &str| {
        // An empty neighbour table: every next hop is found by our own solicitation.
        sh(&["ip", "-n", &ns, "-6", "neigh", "flush", "all"]);
        synscan_in(
            Some(&ns),
            &[
                "-sS",
                "-Pn",
                "fd93::2",
                "fd93::3",
                "fd93:2::2",
                "fd93::9",
                "fd93:5::5",
                "fd93:6::5",
                "fd93:7::5",
                "-p",
                PORTS,
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
    assert_eq!(got, truth6());
    // Hop limits: 64 on the subnet, 63 through the router (reported for every answer).
    let hl = hop_limits(&out.stdout);
    for p in ports() {
        if !(81..=82).contains(&p) {
            assert_eq!(hl.get(&("fd93::2".to_string(), p)), Some(&64), "port {p}");
        }
        assert_eq!(hl.get(&("fd93:2::2".to_string(), p)), Some(&63), "port {p}");
    }
    for path in ["ring", "pnet"] {
        let other = scan(path);
        assert_eq!(other.code, Some(0), "{path}: {other:?}");
        assert_eq!(states(&other.stdout), truth6(), "--send-path {path}");
    }
    // nmap -6 -sS from the same namespace sees the same states on the live targets.
    for target in ["fd93::2", "fd93:2::2"] {
        let theirs = nmap_states(&ns, &["-6", "-sS"], target);
        let ours: BTreeMap<u16, String> = got
            .iter()
            .filter(|((ip, _), _)| ip == target)
            .map(|((_, p), (st, _))| (*p, st.clone()))
            .collect();
        assert_eq!(ours, theirs, "synscan vs nmap -6 on {target}");
    }
}

#[test]
fn a_mixed_ipv4_and_ipv6_scan_is_one_scan_and_one_output() {
    let lab = ScriptLab::up();
    let ns = lab.scanner();
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("scan.xml");
    let out = synscan_in(
        Some(&ns),
        &[
            "-sS",
            "-Pn",
            "10.201.0.2",
            "fd93::2",
            "10.201.2.2",
            "fd93:2::2",
            "-p",
            "22,80,81,8443",
            "--states",
            "all",
            "--format",
            "ndjson",
            "-oX",
            xml.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut want = BTreeMap::new();
    for near in ["10.201.0.2", "fd93::2"] {
        want.insert((near.to_string(), 22), s("open", "syn-ack"));
        want.insert((near.to_string(), 80), s("open", "syn-ack"));
        want.insert((near.to_string(), 81), s("filtered", "no-response"));
        want.insert((near.to_string(), 8443), s("closed", "reset"));
    }
    for far in ["10.201.2.2", "fd93:2::2"] {
        want.insert((far.to_string(), 22), s("closed", "reset"));
        want.insert((far.to_string(), 80), s("open", "syn-ack"));
        want.insert((far.to_string(), 81), s("closed", "reset"));
        want.insert((far.to_string(), 8443), s("open", "syn-ack"));
    }
    assert_eq!(states(&out.stdout), want);
    // One XML document with both families' hosts, each with its address type.
    let text = std::fs::read_to_string(&xml).unwrap();
    assert_eq!(text.matches("<nmaprun ").count(), 1);
    for (addr, ty) in [
        ("10.201.0.2", "ipv4"),
        ("fd93::2", "ipv6"),
        ("10.201.2.2", "ipv4"),
        ("fd93:2::2", "ipv6"),
    ] {
        assert!(
            text.contains(&format!(r#"<address addr="{addr}" addrtype="{ty}"/>"#)),
            "{addr} missing from the XML"
        );
    }
}

#[test]
fn syn6_sweep_of_an_any_ip_prefix_is_exact() {
    let lab = ScriptLab::up();
    let out = synscan_in(
        Some(&lab.scanner()),
        &[
            "-sS",
            "-Pn",
            "fd93:4::/116",
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
    // IPv6 has no broadcast: all 4096 addresses, the subnet-router anycast one included.
    let mut want = HashSet::new();
    let base = u128::from("fd93:4::".parse::<std::net::Ipv6Addr>().unwrap());
    for i in 0..4096u128 {
        let ip = std::net::Ipv6Addr::from(base + i).to_string();
        want.insert((ip.clone(), "closed".to_string(), 22));
        want.insert((ip.clone(), "open".to_string(), 80));
        want.insert((ip, "open".to_string(), 443));
    }
    assert_eq!(got.len(), want.len());
    assert!(got == want, "sweep differs from ground truth");
}

#[test]
fn a_hop_limit_short_of_the_target_is_time_exceeded_in_both_families() {
    let lab = ScriptLab::up();
    let out = synscan_in(
        Some(&lab.scanner()),
        &[
            "-sS",
            "-Pn",
            "fd93:2::2",
            "10.201.2.2",
            "--ttl",
            "1",
            "-p",
            "80,81",
            "--states",
            "all",
            "--format",
            "ndjson",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let got = states(&out.stdout);
    let mut want = BTreeMap::new();
    for ip in ["fd93:2::2", "10.201.2.2"] {
        for p in [80, 81] {
            want.insert((ip.to_string(), p), s("filtered", "time-exceeded"));
        }
    }
    assert_eq!(got, want);
    // The router's error comes from one hop away.
    assert!(hop_limits(&out.stdout).values().all(|&h| h == 64));
}

#[test]
fn syn6_loopback_finds_exactly_the_listeners() {
    const OPEN: [u16; 8] = [1, 22, 80, 443, 8080, 31337, 65534, 65535];
    let mut net = Net::new();
    net.listen6(&OPEN);
    // An IPv4-only listener on another port: not open on ::1.
    net.listen(&[5000]);
    let out = net.synscan(&["-sS", "::1", "-p-", "--format", "ndjson"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let found: BTreeSet<u16> = parse_ndjson(&out.stdout)
        .into_iter()
        .inspect(|l| {
            assert_eq!(l.ip, "::1");
            assert_eq!((l.state.as_str(), l.reason.as_str()), ("open", "syn-ack"));
        })
        .map(|l| l.port)
        .collect();
    assert_eq!(found, BTreeSet::from(OPEN));
    // A real SYN scan, not connect: the text summary names the technique.
    let text = net.synscan(&["-sS", "::1", "-p", "22,23", "-v"]);
    assert_eq!(text.code, Some(0), "{text:?}");
    assert!(
        !text.stderr.contains("connect"),
        "fell back to connect: {}",
        text.stderr
    );
}

#[test]
fn an_interrupted_scan_of_both_families_resumes_exactly() {
    const OPEN: [u16; 4] = [22, 80, 8080, 31337];
    let mut net = Net::new();
    net.listen(&OPEN);
    net.listen6(&OPEN);
    net.lab.nft(
        &net.ns,
        "table inet t {\n chain in {\n  type filter hook input priority 0;\n  tcp dport 81 drop\n }\n}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let resume = dir.path().join("r").display().to_string();
    let mut cmd = net.synscan_cmd();
    cmd.args([
        "-sS",
        "-Pn",
        "127.0.0.1",
        "::1",
        "-p",
        "1-20000",
        "--rate",
        "15000",
        "--states",
        "all",
        "--no-progress",
        "--format",
        "ndjson",
        "--resume-file",
        &resume,
    ]);
    let first = run_cmd_signalled(
        cmd,
        b"",
        Duration::from_secs(60),
        Some((Duration::from_millis(1200), "INT")),
    );
    assert_eq!(first.code, Some(130), "{first:?}");
    let mut cmd = net.synscan_cmd();
    cmd.args([
        "--resume",
        &resume,
        "--states",
        "all",
        "--format",
        "ndjson",
        "--no-progress",
    ]);
    let second = run_cmd(cmd, b"", Duration::from_secs(60));
    assert_eq!(second.code, Some(0), "{second:?}");
    let a = states(&first.stdout);
    let b = states(&second.stdout);
    assert!(!a.is_empty() && !b.is_empty(), "both runs reported");
    let mut union = a.clone();
    for (k, v) in b {
        assert!(union.insert(k.clone(), v).is_none(), "{k:?} reported twice");
    }
    for ip in ["127.0.0.1", "::1"] {
        for p in 1..=20000u16 {
            let want = if OPEN.contains(&p) {
                "open"
            } else if p == 81 {
                "filtered"
            } else {
                "closed"
            };
            assert_eq!(
                union.get(&(ip.to_string(), p)).map(|v| v.0.as_str()),
                Some(want),
                "{ip} port {p}"
            );
        }
    }
}

/// An ICMPv6 administratively-prohibited error from fd93::2 quoting a probe fd93::1:47200 >
/// fd93::2:`port` with sequence number `seq`.
fn forged_icmp6_spec(port: u16, seq: u32) -> String {
    let mut m = vec![1u8, 1, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&[0x60, 0, 0, 0, 0, 20, 6, 64]);
    m.extend_from_slice(&"fd93::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    m.extend_from_slice(&"fd93::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    m.extend_from_slice(&47200u16.to_be_bytes());
    m.extend_from_slice(&port.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    let load: String = m.iter().map(|b| format!("\\x{b:02x}")).collect();
    format!("IPv6(src=fd93::2,dst=fd93::1,nh=58)/Raw(load=\"{load}\")")
}

#[test]
fn forged_ipv6_replies_never_become_results() {
    let lab = ScriptLab::up();
    let watched = [81u16, 82, 84, 85, 100, 1999];
    let f = forge_during_scan(
        &lab,
        &Forgeries {
            target: "fd93::2",
            scanner: "fd93::1",
            stranger: "fd93::77",
            ip: "IPv6",
            // TCP SYNs right after the fixed header (tcpdump's tcp[] is IPv4 only).
            syn_filter: "ip6 and src fd93::1 and ip6[6] == 6 and ip6[53] == 2",
            icmp_error: forged_icmp6_spec,
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
            22 | 80 | 443 => s("open", "syn-ack"),
            81 | 82 => s("filtered", "no-response"),
            83 => s("filtered", "admin-prohibited"),
            84 => s("filtered", "addr-unreach"),
            85 => s("filtered", "port-unreach"),
            86 => s("filtered", "reject-route"),
            _ => s("closed", "reset"),
        };
        want.insert(("fd93::2".to_string(), p), sr);
    }
    assert_eq!(
        states(&f.out.stdout),
        want,
        "a forged reply changed a result"
    );
}

#[test]
fn policy_rules_and_other_tables_are_honoured_in_both_families() {
    // The targets' networks are routed only by policy rules into table 100 (the main table
    // knows nothing of them); another rule prohibits a network outright.
    let mut lab = Lab::new();
    let scan = lab.netns("ps");
    let tgt = lab.netns("pt");
    let (s0, t0) = lab.veth(&scan, "10.208.1.1/24", &tgt, "10.208.1.2/24", "p");
    for (ns, dev, a) in [(&scan, &s0, "fd94:1::1/64"), (&tgt, &t0, "fd94:1::2/64")] {
        lab.exec(ns, &["ip", "-6", "addr", "add", a, "dev", dev, "nodad"]);
    }
    lab.exec(&tgt, &["ip", "addr", "add", "10.208.9.5/32", "dev", "lo"]);
    lab.exec(
        &tgt,
        &[
            "ip",
            "-6",
            "addr",
            "add",
            "fd94:9::5/128",
            "dev",
            "lo",
            "nodad",
        ],
    );
    lab.exec(
        &tgt,
        &["ip", "-6", "route", "add", "fd94:1::/64", "dev", &t0],
    );
    for cmd in [
        vec![
            "ip",
            "route",
            "add",
            "10.208.9.0/24",
            "via",
            "10.208.1.2",
            "table",
            "100",
        ],
        vec!["ip", "rule", "add", "to", "10.208.9.0/24", "lookup", "100"],
        vec![
            "ip",
            "-6",
            "route",
            "add",
            "fd94:9::/64",
            "via",
            "fd94:1::2",
            "table",
            "100",
        ],
        vec![
            "ip",
            "-6",
            "rule",
            "add",
            "to",
            "fd94:9::/64",
            "lookup",
            "100",
        ],
        vec!["ip", "rule", "add", "to", "10.208.7.0/24", "prohibit"],
        vec!["ip", "-6", "rule", "add", "to", "fd94:7::/64", "prohibit"],
    ] {
        lab.exec(&scan, &cmd);
    }
    lab.listen(&tgt, &[80]);
    lab.listen6(&tgt, &[80]);
    let out = synscan_in(
        Some(&scan),
        &[
            "-sS",
            "-Pn",
            "10.208.9.5",
            "fd94:9::5",
            "10.208.7.5",
            "fd94:7::5",
            "-p",
            "80,81",
            "--states",
            "all",
            "--format",
            "ndjson",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut want = BTreeMap::new();
    for ip in ["10.208.9.5", "fd94:9::5"] {
        want.insert((ip.to_string(), 80), s("open", "syn-ack"));
        want.insert((ip.to_string(), 81), s("closed", "reset"));
    }
    for ip in ["10.208.7.5", "fd94:7::5"] {
        for p in [80, 81] {
            want.insert((ip.to_string(), p), s("filtered", "admin-prohibited"));
        }
    }
    assert_eq!(states(&out.stdout), want);
}
