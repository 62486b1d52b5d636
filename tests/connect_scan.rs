//! The connect engine against ground truth: loopback listeners the test starts, and closed,
//! filtered and unreachable targets in network namespaces the test creates.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;

#[test]
fn thirty_loopback_listeners_exactly() {
    let _g = LOOPBACK.lock().unwrap_or_else(|e| e.into_inner());
    let listeners: Vec<TcpListener> = (0..30)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let ours: BTreeSet<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let before = loopback_listeners();
    let out = synscan(&["-sT", "127.0.0.1", "-p-", "--format", "ndjson"]);
    let after = loopback_listeners();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let lines = parse_ndjson(&out.stdout);
    let found: BTreeSet<u16> = lines.iter().map(|l| l.port).collect();
    assert_eq!(found.len(), lines.len(), "a port reported twice");
    assert!(
        lines
            .iter()
            .all(|l| l.ip == "127.0.0.1" && l.state == "open" && l.reason == "syn-ack")
    );
    // Ground truth: our listeners plus whatever listened on loopback before and after.
    assert_loopback_truth(&found, &ours, &before, &after);
}

#[test]
fn closed_ports_are_conn_refused() {
    let _g = LOOPBACK.lock().unwrap_or_else(|e| e.into_inner());
    let closed: Vec<u16> = (0..5)
        .map(|_| {
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let list = closed
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let out = synscan(&[
        "-sT",
        "127.0.0.1",
        "-p",
        &list,
        "--states",
        "closed",
        "--format",
        "ndjson",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut got: Vec<(u16, String, String)> = parse_ndjson(&out.stdout)
        .into_iter()
        .map(|l| (l.port, l.state, l.reason))
        .collect();
    got.sort();
    let mut want: Vec<(u16, String, String)> = closed
        .iter()
        .map(|&p| (p, "closed".to_string(), "conn-refused".to_string()))
        .collect();
    want.sort();
    want.dedup();
    assert_eq!(got, want);
}

/// Scanner namespace on 10.77.0.1/24, target on 10.77.0.2 with open, closed, dropped and
/// rejected ports; routes in the scanner namespace make unreachable and prohibited
/// destinations; nothing routes out of the lab.
#[test]
fn states_and_reasons_in_a_namespace_lab() {
    let mut lab = Lab::new();
    let scan = lab.netns("c");
    let tgt = lab.netns("t");
    lab.veth(&scan, "10.77.0.1/24", &tgt, "10.77.0.2/24", "v");
    lab.exec(
        &scan,
        &["ip", "route", "add", "unreachable", "10.88.0.0/24"],
    );
    lab.exec(&scan, &["ip", "route", "add", "prohibit", "10.89.0.0/24"]);
    lab.listen(&tgt, &[2001, 2005, 2009]);
    lab.nft(
        &tgt,
        "table inet lab {\n chain input {\n  type filter hook input priority 0;\n  \
         tcp dport { 2003, 2009 } drop\n  \
         tcp dport 2007 reject with icmp type admin-prohibited\n }\n}\n",
    );
    let out = synscan_in(
        Some(&scan),
        &[
            "-sT",
            "10.77.0.2",
            "10.88.0.5",
            "10.89.0.5",
            "10.99.0.1",
            "-p",
            "2000-2010",
            "--states",
            "all",
            "--format",
            "ndjson",
            "--timeout",
            "300ms",
            "--retries",
            "1",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let got: BTreeMap<(String, u16), (String, String)> = parse_ndjson(&out.stdout)
        .into_iter()
        .map(|l| ((l.ip, l.port), (l.state, l.reason)))
        .collect();
    let mut want = BTreeMap::new();
    for port in 2000..=2010u16 {
        let sr = match port {
            2001 | 2005 => ("open", "syn-ack"),
            2003 | 2009 => ("filtered", "no-response"),
            // connect() sees ICMP admin-prohibited as EHOSTUNREACH, as nmap -sT does.
            2007 => ("filtered", "host-unreach"),
            _ => ("closed", "conn-refused"),
        };
        want.insert(("10.77.0.2".to_string(), port), sr);
        want.insert(
            ("10.88.0.5".to_string(), port),
            ("filtered", "host-unreach"),
        );
        want.insert(
            ("10.89.0.5".to_string(), port),
            ("filtered", "admin-prohibited"),
        );
        want.insert(("10.99.0.1".to_string(), port), ("filtered", "net-unreach"));
    }
    let want: BTreeMap<(String, u16), (String, String)> = want
        .into_iter()
        .map(|(k, (s, r))| (k, (s.to_string(), r.to_string())))
        .collect();
    assert_eq!(got, want);
}
