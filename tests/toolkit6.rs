//! The packet toolkit over IPv6: sr/sr1 on `::1` (TCP and ICMPv6 echo), a neighbor
//! solicitation answered across a veth, `ip6` capture filters beside tcpdump, and
//! `read --format json` field by field beside tshark (trace over IPv6 is with the IPv4 one in
//! tests/toolkit.rs).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

#[test]
fn sr_and_sr1_over_ipv6_on_loopback() {
    let mut net = Net::new();
    let (open, closed) = (6301u16, 6302u16);
    net.listen6(&[open]);
    let out = net.synscan(&[
        "sr",
        &format!("IPv6(dst=::1)/TCP(dport=[{open},{closed}],flags=S)"),
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("got 2 answers, remaining 0 packets"),
        "{}",
        out.stdout
    );
    for (port, flags) in [(open, "SA"), (closed, "RA")] {
        assert!(
            out.stdout
                .contains(&format!("==> Ether / IPv6 / TCP [::1]:{port} > [::1]:")),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.lines().any(|l| l.contains(&format!(
                "[::1]:{port} S ==> Ether / IPv6 / TCP [::1]:{port}"
            )) && l.contains(&format!(" {flags}  ("))),
            "{port} {flags}: {}",
            out.stdout
        );
    }
    let out = net.synscan(&[
        "sr1",
        "IPv6(dst=::1,hlim=9)/ICMPv6EchoRequest(id=77,seq=5)/Raw(load=\"ping6\")",
        "--timeout",
        "2s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    for want in [
        "###[ IPv6 ]###",
        "type      = echo-reply (129)",
        "id        = 77",
        "seq       = 5",
        "load      = \"ping6\"",
    ] {
        assert!(out.stdout.contains(want), "{want}: {}", out.stdout);
    }
    // Nothing listens for a wrong-family answer: a SYN to an IPv4-only listener's port on
    // ::1 is reset.
    net.listen(&[6303]);
    let out = net.synscan(&[
        "sr1",
        "IPv6(dst=::1)/TCP(dport=6303,flags=S)",
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("flags     = RA"), "{}", out.stdout);
}

#[test]
fn a_neighbor_solicitation_is_answered_across_a_veth() {
    let mut lab = Lab::new();
    let a = lab.netns("na");
    let b = lab.netns("nb");
    let (ia, ib) = lab.veth(&a, "10.207.0.1/24", &b, "10.207.0.2/24", "v");
    lab.exec(
        &a,
        &["ip", "-6", "addr", "add", "fd9a::1/64", "dev", &ia, "nodad"],
    );
    lab.exec(
        &b,
        &["ip", "-6", "addr", "add", "fd9a::2/64", "dev", &ib, "nodad"],
    );
    let mac_b = tool_output(
        Command::new("ip").args(["-n", &b, "-br", "link", "show", &ib]),
        "ip link",
    )
    .split_whitespace()
    .nth(2)
    .expect("MAC column")
    .to_string();
    let out = synscan_in(
        Some(&a),
        &[
            "sr1",
            "Ether()/IPv6(src=fd9a::1)/ICMPv6ND_NS(tgt=fd9a::2)",
            "-i",
            &ia,
            "--timeout",
            "2s",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    for want in [
        "type      = neighbor-advertisement (136)".to_string(),
        "tgt       = fd9a::2".to_string(),
        format!("lladdr    = {mac_b}"),
        "hlim      = 255".to_string(),
    ] {
        assert!(out.stdout.contains(&want), "{want}: {}", out.stdout);
    }
    // Nobody has fd9a::9: unanswered, exit 1.
    let out = synscan_in(
        Some(&a),
        &[
            "sr1",
            "Ether()/IPv6(src=fd9a::1)/ICMPv6ND_NS(tgt=fd9a::9)",
            "-i",
            &ia,
            "--timeout",
            "300ms",
        ],
        b"",
    );
    assert_eq!(out.code, Some(1), "{out:?}");
}

/// Per frame, from tshark: (ipv6.src, ipv6.dst, ipv6.hlim, tcp.srcport, tcp.dstport,
/// tcp.seq_raw, tcp.ack_raw, tcp.flags as letters).
fn tshark_tcp6(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = tool_output(
        Command::new("tshark").arg("-r").arg(path).args([
            "-T",
            "fields",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "ipv6.hlim",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.seq_raw",
            "-e",
            "tcp.ack_raw",
            "-e",
            "tcp.flags",
        ]),
        "tshark",
    );
    text.lines()
        .map(|l| {
            let mut f: Vec<String> = l.split('\t').map(str::to_string).collect();
            let bits = u8::from_str_radix(f[7].trim_start_matches("0x0"), 16).unwrap_or(0);
            f[7] = "FSRPAUEC"
                .chars()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .map(|(_, c)| c)
                .collect();
            f
        })
        .collect()
}

/// The same fields from `read --format json`.
fn ours_tcp6(json: &str) -> Vec<Vec<String>> {
    json.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object a line");
            let layers = v["layers"].as_array().expect("layers");
            let get = |layer: &str, field: &str| -> String {
                layers
                    .iter()
                    .find(|x| x["layer"] == layer)
                    .and_then(|x| x["fields"][field].as_str())
                    .unwrap_or("")
                    .to_string()
            };
            vec![
                get("IPv6", "src"),
                get("IPv6", "dst"),
                get("IPv6", "hlim"),
                get("TCP", "sport"),
                get("TCP", "dport"),
                get("TCP", "seq"),
                get("TCP", "ack"),
                get("TCP", "flags"),
            ]
        })
        .collect()
}

#[test]
fn ip6_filters_agree_with_tcpdump_and_read_json_agrees_with_tshark() {
    let mut net = Net::new();
    let (open, closed) = (6401u16, 6402u16);
    net.listen(&[open]);
    net.listen6(&[open]);
    let dir = tempfile::tempdir().unwrap();
    sh(&["chmod", "777", dir.path().to_str().unwrap()]);
    let ours = dir.path().join("ours.pcap");
    let theirs = dir.path().join("tcpdump.pcap");
    let filter = format!("ip6 and tcp and (port {open} or port {closed})");
    // Both families are probed, and ::1 pinged; only the IPv6 TCP part passes the filter.
    let ports = format!("{open},{closed}");
    let traffic = || {
        let scan = net.synscan(&[
            "-sS",
            "127.0.0.1",
            "::1",
            "-p",
            &ports,
            "--format",
            "ndjson",
        ]);
        assert_eq!(scan.code, Some(0), "{scan:?}");
        let ping = net.synscan(&[
            "sr1",
            "IPv6(dst=::1)/ICMPv6EchoRequest()",
            "--timeout",
            "1s",
        ]);
        assert_eq!(ping.code, Some(0), "{ping:?}");
    };
    sniff_beside_tcpdump(&net, &filter, &ours, &theirs, traffic);

    let bytes = |p: &std::path::Path| {
        let out = synscan(&["read", p.to_str().unwrap(), "--format", "json", "--hexdump"]);
        assert_eq!(out.code, Some(0), "{out:?}");
        let mut v: Vec<String> = out
            .stdout
            .lines()
            .map(|l| {
                let j: serde_json::Value = serde_json::from_str(l).unwrap();
                j["hex"].as_str().unwrap().to_string()
            })
            .collect();
        v.sort();
        v
    };
    let a = bytes(&ours);
    assert!(a.len() >= 5, "SYN, SYN-ACK, RST, SYN, RST: {a:?}");
    assert_eq!(
        a,
        bytes(&theirs),
        "sniff and tcpdump captured different frames"
    );

    // read --format json and tshark agree on every frame's IPv6 and TCP fields.
    let json = net.synscan(&["read", ours.to_str().unwrap(), "--format", "json"]);
    assert_eq!(json.code, Some(0), "{json:?}");
    let mine = ours_tcp6(&json.stdout);
    assert_eq!(mine, tshark_tcp6(&ours));
    assert!(
        mine.iter().all(|f| f[0] == "::1" && f[2] == "64"),
        "{mine:?}"
    );
    // Each line is one frame with its number, lengths and link type.
    let first: serde_json::Value =
        serde_json::from_str(json.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["frame"], 1);
    assert_eq!(first["link"], "EN10MB");
    assert_eq!(first["caplen"], first["len"]);
    assert_eq!(first["layers"][1]["layer"], "IPv6");

    // Capture everything on lo, then read filters select what tcpdump -r selects.
    let all = dir.path().join("all.pcap");
    let td = tcpdump(Some(&net.ns), "lo", &all, "");
    traffic();
    std::thread::sleep(Duration::from_millis(300));
    stop_capture(td);
    let mut counts = BTreeMap::new();
    for f in [
        "ip6",
        "ip",
        "icmp6",
        "ip6 and tcp",
        "tcp",
        &format!("ip6 and dst port {closed}"),
        &format!("src port {open}"),
        "host ::1",
        "net ::/0",
        "host 127.0.0.1 or host ::1",
    ] {
        let mine = net.synscan(&["read", all.to_str().unwrap(), "-s", "--filter", f]);
        assert_eq!(mine.code, Some(0), "{mine:?}");
        let tdr = Command::new("tcpdump")
            .args(["-r", all.to_str().unwrap(), "-n", f])
            .output()
            .unwrap();
        let theirs = String::from_utf8_lossy(&tdr.stdout).lines().count();
        assert_eq!(mine.stdout.lines().count(), theirs, "filter '{f}'");
        counts.insert(f.to_string(), theirs);
    }
    assert!(counts["icmp6"] >= 2, "{counts:?}");
    assert!(counts["ip6 and tcp"] >= 5, "{counts:?}");
}
