//! The packet toolkit against real traffic: sr/sr1 on loopback listeners, sniff beside
//! tcpdump during a scan, read beside tcpdump -r, tshark on our captures, trace through the
//! lab's router.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

#[test]
fn sr1_open_closed_and_echo_on_loopback() {
    let mut net = Net::new();
    let (open, closed) = (6001u16, 6002u16);
    net.listen(&[open]);
    let spec = format!("IP(dst=127.0.0.1)/TCP(dport={open},flags=S,options=[mss:1460])");
    let out = net.synscan(&["sr1", &spec, "--timeout", "2s"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("###[ TCP ]###"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("sport     = {open}")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("flags     = SA"), "{}", out.stdout);

    let out = net.synscan(&[
        "sr1",
        &format!("IP(dst=127.0.0.1)/TCP(dport={closed},flags=S)"),
        "--timeout",
        "2s",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("flags     = RA"), "{}", out.stdout);

    let out = net.synscan(&[
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
}

#[test]
fn sr_tables_and_exit_codes() {
    let mut net = Net::new();
    let (open, closed) = (6101u16, 6102u16);
    net.listen(&[open]);
    let out = net.synscan(&[
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
    let out = net.synscan(&[
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
    let out = net.synscan(&["sr", "IP(dst=127.0.0.1,proto=200)", "--timeout", "1s"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("dest-unreach protocol-unreachable"),
        "{}",
        out.stdout
    );
    // A SYN carrying data is answered by a SYN-ACK for the SYN alone.
    let spec = format!("IP(dst=127.0.0.1)/TCP(dport={open},flags=S)/Raw(load=\"data\")");
    let out = net.synscan(&["sr", &spec, "--timeout", "1s"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains(" SA  ("), "{}", out.stdout);
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
    let mut r = synscan::capture::CaptureReader::new(f).unwrap();
    let mut m = BTreeMap::new();
    while let Some(rec) = r.next_record().unwrap() {
        *m.entry(rec.data).or_insert(0) += 1;
    }
    m
}

#[test]
fn sniff_sees_the_same_frames_as_tcpdump_and_read_agrees_with_it() {
    let mut net = Net::new();
    let (open, closed) = (6201u16, 6202u16);
    net.listen(&[open]);
    let dir = tempfile::tempdir().unwrap();
    sh(&["chmod", "777", dir.path().to_str().unwrap()]);
    let ours = dir.path().join("ours.pcap");
    let theirs = dir.path().join("tcpdump.pcap");
    let filter = format!("tcp and (port {open} or port {closed})");
    let ports = format!("{open},{closed}");
    sniff_beside_tcpdump(&net, &filter, &ours, &theirs, || {
        let scan = net.synscan(&["-sS", "127.0.0.1", "-p", &ports, "--format", "ndjson"]);
        assert_eq!(scan.code, Some(0), "{scan:?}");
    });
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
        let mine = net.synscan(&["read", ours.to_str().unwrap(), "-s", "--filter", f]);
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
    let full = net.synscan(&["read", ours.to_str().unwrap(), "--hexdump"]);
    assert_eq!(full.code, Some(0));
    for layer in [
        "###[ Ethernet ]###",
        "###[ IP ]###",
        "###[ TCP ]###",
        "0000  00 00 00 00",
    ] {
        assert!(full.stdout.contains(layer), "{layer}");
    }
}

#[test]
fn read_rejects_bad_files_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture at all").unwrap();
    let out = synscan(&["read", junk.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("not a pcap or pcapng file"),
        "{}",
        out.stderr
    );
    let out = synscan(&["read", dir.path().join("missing.pcap").to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:?}");
    let out = synscan(&["sniff", "-i", "lo", "--filter", "port 99999"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("99999"), "{}", out.stderr);
}

#[test]
fn trace_through_the_lab_router_in_both_families() {
    let lab = ScriptLab::up();
    for (target, router) in [("10.201.2.2", "10.201.1.254"), ("fd93:2::2", "fd93:1::fe")] {
        let out = synscan_in(
            Some(&lab.scanner()),
            &["trace", target, "-p", "80", "--timeout", "1s"],
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
            ("1", router, "time-exceeded"),
            "{}",
            out.stdout
        );
        assert_eq!(
            (hops[1][0], hops[1][1], hops[1][4]),
            ("2", target, "SA"),
            "{}",
            out.stdout
        );
    }
}

/// Opens tun0 and holds it, so that what is routed to it is captured as raw IP.
const TUN_HOLDER: &str = "import fcntl,os,struct,time\n\
fd=os.open('/dev/net/tun',os.O_RDWR)\n\
fcntl.ioctl(fd,0x400454ca,struct.pack('16sH',b'tun0',0x0001|0x1000))\n\
print('ready',flush=True)\n\
time.sleep(60)\n";

/// Rewrites a little-endian classic pcap file in big-endian byte order.
const BYTESWAP: &str = "import struct,sys\n\
d=open(sys.argv[1],'rb').read()\n\
o=bytearray(struct.pack('>IHHiIII',*struct.unpack('<IHHiIII',d[:24])))\n\
i=24\n\
while i<len(d):\n\
\x20 h=struct.unpack('<IIII',d[i:i+16]); o+=struct.pack('>IIII',*h); o+=d[i+16:i+16+h[2]]; i+=16+h[2]\n\
open(sys.argv[2],'wb').write(o)\n";

/// Per frame: the UTC clock to the microsecond and every address and port tshark decodes.
fn tshark_frames(path: &std::path::Path) -> Vec<(String, Vec<String>)> {
    let text = tool_output(
        Command::new("tshark").arg("-r").arg(path).args([
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "_ws.col.Protocol",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
        ]),
        "tshark",
    );
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (secs, frac) = f[0].split_once('.').unwrap_or((f[0], "0"));
            let secs: u64 = secs.parse().expect("epoch");
            let micros = format!("{:0<6}", &frac[..frac.len().min(6)]);
            let clock = format!(
                "{:02}:{:02}:{:02}.{micros}",
                (secs / 3600) % 24,
                (secs / 60) % 60,
                secs % 60
            );
            // Quoted headers inside ICMP errors are listed too (comma-separated): the outer
            // addresses come first, and the quoted ports are not the packet's own.
            let icmp = f.get(1).is_some_and(|p| p.starts_with("ICMP"));
            let fields = f[2..]
                .iter()
                .take(if icmp { 4 } else { 8 })
                .filter_map(|v| v.split(',').next())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect();
            (clock, fields)
        })
        .collect()
}

#[test]
fn read_understands_pcapng_cooked_raw_nanosecond_and_swapped_captures() {
    let mut net = Net::new();
    net.listen(&[6301]);
    let ns = net.ns.clone();
    let holder = net.lab.spawn_in(&ns, &["python3", "-c", TUN_HOLDER]);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("tun holder");
    assert_eq!(line.trim(), "ready");
    net.lab
        .exec(&ns, &["ip", "addr", "add", "10.98.0.1/24", "dev", "tun0"]);
    net.lab.exec(
        &ns,
        &[
            "ip",
            "-6",
            "addr",
            "add",
            "fd00:98::1/64",
            "dev",
            "tun0",
            "nodad",
        ],
    );
    net.lab.exec(&ns, &["ip", "link", "set", "tun0", "up"]);
    let dir = tempfile::tempdir().unwrap();
    sh(&["chmod", "777", dir.path().to_str().unwrap()]);
    let f = |n: &str| dir.path().join(n);
    // dumpcap: pcapng with two interfaces of two link types; tcpdump: SLL2 (its default on
    // "any"), SLL, raw IP from the tun, nanosecond stamps; tshark: pcapng.
    let mut captures = Vec::new();
    let mut dc = net.command("dumpcap");
    dc.args(["-i", "lo", "-i", "tun0", "-w"])
        .arg(f("multi.pcapng"));
    captures.push(start_capture(&mut dc, "Capturing on"));
    for (file, args) in [
        ("sll2.pcap", vec!["-i", "any"]),
        ("sll.pcap", vec!["-i", "any", "-y", "LINUX_SLL"]),
        ("raw.pcap", vec!["-i", "tun0"]),
        ("nano.pcap", vec!["-i", "lo", "--time-stamp-precision=nano"]),
    ] {
        let mut c = net.command("tcpdump");
        c.args(&args).args(["-U", "-n", "-w"]).arg(f(file));
        captures.push(start_capture(&mut c, "listening"));
    }
    let mut ts = net.command("tshark");
    ts.args(["-i", "lo", "-F", "pcapng", "-w"])
        .arg(f("tshark.pcapng"));
    captures.push(start_capture(&mut ts, "Capturing on"));
    let traffic = "import socket\n\
        for fam,dst in [(socket.AF_INET,'127.0.0.1'),(socket.AF_INET6,'::1'),(socket.AF_INET,'10.98.0.5'),(socket.AF_INET6,'fd00:98::5')]:\n\
        \x20 s=socket.socket(fam,socket.SOCK_DGRAM); s.sendto(b'probe',(dst,9 if dst in ('127.0.0.1','::1') else 53))\n\
        c=socket.create_connection(('127.0.0.1',6301)); c.close()\n";
    let out = run_cmd(
        {
            let mut c = net.command("python3");
            c.args(["-c", traffic]);
            c
        },
        b"",
        Duration::from_secs(20),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    std::thread::sleep(Duration::from_millis(500));
    for c in captures {
        stop_capture(c);
    }
    sh(&[
        "python3",
        "-c",
        BYTESWAP,
        f("nano.pcap").to_str().unwrap(),
        f("swapped.pcap").to_str().unwrap(),
    ]);
    for (file, first_layers) in [
        ("multi.pcapng", &["Ether / ", "IP"][..]),
        ("tshark.pcapng", &["Ether / "]),
        ("sll2.pcap", &["SLL2 / "]),
        ("sll.pcap", &["SLL / "]),
        ("raw.pcap", &["IP"]),
        ("nano.pcap", &["Ether / "]),
        ("swapped.pcap", &["Ether / "]),
    ] {
        let path = f(file);
        let ours = net.synscan(&["read", "-s", path.to_str().unwrap()]);
        assert_eq!(ours.code, Some(0), "{file}: {ours:?}");
        let theirs = tshark_frames(&path);
        let lines: Vec<&str> = ours.stdout.lines().collect();
        assert_eq!(lines.len(), theirs.len(), "{file}: {}", ours.stdout);
        let fewest = if file == "raw.pcap" { 2 } else { 4 };
        assert!(
            lines.len() >= fewest,
            "{file}: too few frames: {}",
            ours.stdout
        );
        for (line, (clock, fields)) in lines.iter().zip(&theirs) {
            // "N HH:MM:SS.ffffff SUMMARY"
            let mut parts = line.splitn(3, ' ');
            let (_, at, summary) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
            assert_eq!(at, Some(clock.as_str()), "{file}: time of {line}");
            assert!(
                first_layers.iter().any(|l| summary.starts_with(l)),
                "{file}: {line}"
            );
            for field in fields {
                assert!(
                    summary.contains(field.as_str()),
                    "{file}: {field} not in {line}"
                );
            }
        }
        // Filters see through cooked and raw link layers as tcpdump does (which cannot read
        // a pcapng whose interfaces differ in link type).
        if file == "multi.pcapng" {
            continue;
        }
        for filter in ["host 10.98.0.5", "tcp port 6301", "udp"] {
            let mine = net.synscan(&["read", "-s", "--filter", filter, path.to_str().unwrap()]);
            assert_eq!(mine.code, Some(0), "{mine:?}");
            let tdr = tool_output(
                Command::new("tcpdump")
                    .args(["-n", "-r"])
                    .arg(&path)
                    .arg(filter),
                "tcpdump -r",
            );
            assert_eq!(
                mine.stdout.lines().count(),
                tdr.lines().count(),
                "{file}: filter '{filter}':\n{}\n{tdr}",
                mine.stdout
            );
        }
    }
    // The pcapng file holds both interfaces, each with its link type; the tun carried IPv4
    // and IPv6 as raw packets.
    let multi = net.synscan(&["read", f("multi.pcapng").to_str().unwrap()]);
    assert!(
        multi.stdout.contains("on interface 1 (RAW)"),
        "{}",
        multi.stdout
    );
    let raw = net.synscan(&["read", "-s", f("raw.pcap").to_str().unwrap()]);
    assert!(
        raw.stdout.contains("IP / UDP 10.98.0.1:")
            && raw.stdout.contains("IPv6 / UDP [fd00:98::1]:"),
        "{}",
        raw.stdout
    );
    // The byte-swapped file reads exactly as the original.
    let a = net.synscan(&["read", f("nano.pcap").to_str().unwrap()]);
    let b = net.synscan(&["read", f("swapped.pcap").to_str().unwrap()]);
    assert_eq!(a.stdout, b.stdout);
}
