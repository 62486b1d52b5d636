//! The packet toolkit against real traffic: sr/sr1 on loopback listeners, sniff beside
//! tcpdump during a scan, read beside tcpdump -r, tshark on our captures, trace through the
//! lab's router.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn sr1_open_closed_and_echo_on_loopback() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().port();
    let spec = format!("IP(dst=127.0.0.1)/TCP(dport={open},flags=S,options=[mss:1460])");
    let out = synscan(&["sr1", &spec, "--timeout", "2s"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("###[ TCP ]###"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("sport     = {open}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("flags     = SA"), "{}", out.stdout);

    let closed = closed_port();
    let out = synscan(&[
        "sr1",
        &format!("IP(dst=127.0.0.1)/TCP(dport={closed},flags=S)"),
        "--timeout",
        "2s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("flags     = RA"), "{}", out.stdout);

    let out = synscan(&[
        "sr1",
        "IP(dst=127.0.0.1)/ICMP(type=8)/Raw(load=\"ping\")",
        "--timeout",
        "2s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("type      = echo-reply (0)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("load      = \"ping\""),
        "{}",
        out.stdout
    );
    drop(l);
}

#[test]
fn sr_tables_and_exit_codes() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().port();
    let closed = closed_port();
    let out = synscan(&[
        "sr",
        &format!("IP(dst=127.0.0.1)/TCP(dport=[{open},{closed}],flags=S)"),
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("got 2 answers, remaining 0 packets"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "> 127.0.0.1:{open} S ==> Ether / IP / TCP 127.0.0.1:{open} >"
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(" RA  ("), "{}", out.stdout);
    // A UDP datagram to a closed loopback port: ICMP port unreachable quoting it.
    let out = synscan(&[
        "sr",
        &format!("IP(dst=127.0.0.1)/UDP(dport={closed})"),
        "--timeout",
        "1s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("dest-unreach port-unreachable"),
        "{}",
        out.stdout
    );
    // A probe with no transport header is still matched by its quote (protocol unreachable).
    let out = synscan(&["sr", "IP(dst=127.0.0.1,proto=200)", "--timeout", "1s"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("dest-unreach protocol-unreachable"),
        "{}",
        out.stdout
    );
    // A SYN carrying data is answered by a SYN-ACK for the SYN alone.
    let spec = format!("IP(dst=127.0.0.1)/TCP(dport={open},flags=S)/Raw(load=\"data\")");
    let out = synscan(&["sr", &spec, "--timeout", "1s"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains(" SA  ("), "{}", out.stdout);
    drop(l);
}

#[test]
fn nothing_answered_is_exit_1_and_bad_spec_exit_2() {
    let lab = ScriptLab::up();
    // Port 81 of the lab target is dropped silently.
    let out = synscan_in(
        Some(&lab.scanner()),
        &[
            "sr",
            "IP(dst=10.201.0.2)/TCP(dport=81,flags=S)",
            "--timeout",
            "300ms",
            "--retry",
            "1",
        ],
        b"",
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stdout.contains("got 0 answers, remaining 1 packets"),
        "{}",
        out.stdout
    );
    // ICMP errors are matched by the quoted ports too: 83's admin-prohibited answers 83 only.
    let out = synscan_in(
        Some(&lab.scanner()),
        &[
            "sr",
            "IP(dst=10.201.0.2,id=5)/TCP(dport=[81,83],flags=S)",
            "--timeout",
            "500ms",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("got 1 answers, remaining 1 packets"),
        "{}",
        out.stdout
    );
    let answered = out.stdout.split("Unanswered:").next().unwrap();
    assert!(
        answered.contains(":83 S ==>") && answered.contains("communication-prohibited"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .split("Unanswered:")
            .nth(1)
            .unwrap()
            .contains(":81 S"),
        "{}",
        out.stdout
    );
    let out = synscan(&["sr", "IP(dst=127.0.0.1)/TCP(dport=80,flags=SQ)"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(
        out.stderr.trim(),
        "synscan: error: invalid SPEC at character 39: unknown TCP flag 'Q' (F S R P A U E C)"
    );
}

fn frames(path: &std::path::Path) -> BTreeMap<Vec<u8>, usize> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = synscan::toolkit::pcap::PcapReader::new(f).unwrap();
    let mut m = BTreeMap::new();
    while let Some(rec) = r.next_record().unwrap() {
        *m.entry(rec.data).or_insert(0) += 1;
    }
    m
}

#[test]
fn sniff_sees_the_same_frames_as_tcpdump_and_read_agrees_with_it() {
    let _g = LOOPBACK.lock().unwrap_or_else(|e| e.into_inner());
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().port();
    let closed = closed_port();
    let dir = tempfile::tempdir().unwrap();
    sh(&["chmod", "777", dir.path().to_str().unwrap()]);
    let ours = dir.path().join("ours.pcap");
    let theirs = dir.path().join("tcpdump.pcap");
    let filter = format!("tcp and (port {open} or port {closed})");
    let td = tcpdump(None, "lo", &theirs, &filter);
    let mut sn = start_capture(
        Command::new(bin()).args([
            "sniff",
            "-i",
            "lo",
            "--filter",
            &filter,
            "-w",
            ours.to_str().unwrap(),
            "--timeout",
            "20s",
        ]),
        "capturing",
    );
    let ports = format!("{open},{closed}");
    let scan = synscan(&["-sS", "127.0.0.1", "-p", &ports, "--format", "ndjson"]);
    assert_eq!(scan.code, Some(0), "{scan:?}");
    std::thread::sleep(Duration::from_millis(500));
    stop_capture(td);
    let _ = Command::new("kill")
        .args(["-INT", &sn.id().to_string()])
        .status();
    let st = sn.wait().unwrap();
    assert_eq!(st.code(), Some(130), "sniff stopped by Ctrl-C: {st:?}");
    let a = frames(&ours);
    let b = frames(&theirs);
    assert!(
        a.values().sum::<usize>() >= 5,
        "SYN, SYN-ACK, RSTs, SYN, RST: {a:?}"
    );
    assert_eq!(a, b, "sniff and tcpdump captured different frames");

    // tshark reads our file with no malformed or error-level frames.
    let ts = Command::new("tshark")
        .args([
            "-r",
            ours.to_str().unwrap(),
            "-Y",
            "_ws.malformed || _ws.expert.severity == error",
        ])
        .output()
        .unwrap();
    assert!(ts.status.success());
    assert!(
        String::from_utf8_lossy(&ts.stdout).trim().is_empty(),
        "{}",
        String::from_utf8_lossy(&ts.stdout)
    );

    // read -s with a filter selects the same frames tcpdump -r does.
    let filters = [
        "".to_string(),
        format!("src port {open}"),
        format!("dst port {closed}"),
        "host 127.0.0.1 and tcp".into(),
        "udp or arp".into(),
    ];
    for f in &filters {
        let f = f.as_str();
        let mine = synscan(&["read", ours.to_str().unwrap(), "-s", "--filter", f]);
        assert_eq!(mine.code, Some(0), "{mine:?}");
        let tdr = Command::new("tcpdump")
            .args(["-r", ours.to_str().unwrap(), "-n"])
            .args(if f.is_empty() { vec![] } else { vec![f] })
            .output()
            .unwrap();
        assert_eq!(
            mine.stdout.lines().count(),
            String::from_utf8_lossy(&tdr.stdout).lines().count(),
            "filter '{f}'"
        );
    }
    // Full dissection names every layer.
    let full = synscan(&["read", ours.to_str().unwrap(), "--hexdump"]);
    assert_eq!(full.code, Some(0));
    for layer in [
        "###[ Ethernet ]###",
        "###[ IP ]###",
        "###[ TCP ]###",
        "0000  00 00 00 00",
    ] {
        assert!(full.stdout.contains(layer), "{layer}");
    }
    drop(l);
}

#[test]
fn read_rejects_bad_files_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all").unwrap();
    let out = synscan(&["read", junk.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("not a pcap file"), "{}", out.stderr);
    let out = synscan(&["read", dir.path().join("missing.pcap").to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:?}");
    let out = synscan(&["sniff", "-i", "lo", "--filter", "port 99999"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("99999"), "{}", out.stderr);
}

#[test]
fn trace_through_the_lab_router() {
    let lab = ScriptLab::up();
    let out = synscan_in(
        Some(&lab.scanner()),
        &["trace", "10.201.2.2", "-p", "80", "--timeout", "1s"],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let hops: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(hops.len(), 2, "{}", out.stdout);
    assert_eq!(
        (hops[0][0], hops[0][1], hops[0][4]),
        ("1", "10.201.1.254", "time-exceeded"),
        "{}",
        out.stdout
    );
    assert_eq!(
        (hops[1][0], hops[1][1], hops[1][4]),
        ("2", "10.201.2.2", "SA"),
        "{}",
        out.stdout
    );
}
