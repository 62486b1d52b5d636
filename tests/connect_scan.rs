//! The connect engine against ground truth: loopback listeners the test starts, and closed,
//! filtered and unreachable targets in network namespaces the test creates.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};

/// Thirty ports spread over the range, some next to each other.
const THIRTY: [u16; 30] = [
    1, 2, 21, 22, 80, 443, 1000, 1001, 1002, 2049, 3306, 5432, 6000, 8000, 8080, 8443, 9000, 9999,
    10000, 20000, 30000, 32768, 40000, 49152, 50000, 55555, 60000, 65000, 65534, 65535,
];

#[test]
fn thirty_loopback_listeners_exactly() {
    let mut net = Net::new();
    net.listen(&THIRTY);
    let out = net.synscan(&["-sT", "127.0.0.1", "-p-", "--format", "ndjson"]);
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
    // The namespace is the test's own: exactly its listeners are open.
    assert_eq!(found, BTreeSet::from(THIRTY));
}

#[test]
fn closed_ports_are_conn_refused() {
    let mut net = Net::new();
    net.listen(&[7000, 7002]);
    let out = net.synscan(&[
        "-sT",
        "127.0.0.1",
        "-p",
        "7000-7004,9",
        "--states",
        "all",
        "--format",
        "ndjson",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let got: BTreeMap<u16, (String, String)> = parse_ndjson(&out.stdout)
        .into_iter()
        .map(|l| (l.port, (l.state, l.reason)))
        .collect();
    let want: BTreeMap<u16, (String, String)> = [9u16, 7000, 7001, 7002, 7003, 7004]
        .into_iter()
        .map(|p| {
            let (s, r) = if p == 7000 || p == 7002 {
                ("open", "syn-ack")
            } else {
                ("closed", "conn-refused")
            };
            (p, (s.to_string(), r.to_string()))
        })
        .collect();
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
            "-Pn",
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
