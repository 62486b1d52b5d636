//! What an nmap user types every day: timing templates and knobs, -v/-d, --open, -oA, -F,
//! -r, nmap's own port ranking (compared with nmap's choice on this machine), completions and
//! the man page. Every scan runs in the test's own namespace.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

const NMAP_SERVICES: &str = "/usr/share/nmap/nmap-services";

/// The ports a dry run would probe on one host.
fn dry_ports(net: &Net, extra: &[&str]) -> Vec<u16> {
    let mut args = vec!["--dry-run", "-S", "10.0.0.1", "10.0.0.2"];
    args.extend_from_slice(extra);
    let out = net.synscan(&args);
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout
        .lines()
        .map(|l| {
            l.split(' ')
                .next()
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("{l}"))
        })
        .collect()
}

/// Expands nmap's `services="1,3-4,..."`.
fn expand(list: &str) -> BTreeSet<u16> {
    let mut set = BTreeSet::new();
    for part in list.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => set.extend(a.parse::<u16>().unwrap()..=b.parse::<u16>().unwrap()),
            None => {
                set.insert(part.parse().unwrap());
            }
        }
    }
    set
}

/// The ports nmap itself picks for `flags`, from its XML scaninfo (scanning the namespace's
/// loopback, which has nothing listening).
fn nmap_ports(net: &Net, flags: &[&str]) -> BTreeSet<u16> {
    let mut c = net.command("nmap");
    c.args(["-sT", "-Pn", "-n", "-T5", "-oX", "-"])
        .args(flags)
        .arg("127.0.0.1");
    let xml = tool_output(&mut c, "nmap");
    let services = xml
        .split(" services=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no scaninfo in {xml}"));
    expand(services)
}

#[test]
fn top_ports_and_fast_take_nmaps_ranking_exactly_as_nmap_does() {
    assert!(
        std::path::Path::new(NMAP_SERVICES).exists(),
        "nmap is installed by the test script"
    );
    let net = Net::new();
    for n in ["10", "100", "1000", "2500"] {
        let ours: BTreeSet<u16> = dry_ports(&net, &["--top-ports", n]).into_iter().collect();
        assert_eq!(ours.len(), n.parse::<usize>().unwrap());
        assert_eq!(
            ours,
            nmap_ports(&net, &["--top-ports", n]),
            "--top-ports {n}"
        );
    }
    let fast: BTreeSet<u16> = dry_ports(&net, &["-F"]).into_iter().collect();
    assert_eq!(fast, nmap_ports(&net, &["-F"]), "-F");
    // The default is nmap's top 1000, as nmap's own default scan.
    let default: BTreeSet<u16> = dry_ports(&net, &[]).into_iter().collect();
    assert_eq!(default, nmap_ports(&net, &[]), "default ports");
    // Ports the shipped list ranks low and nmap ranks high are in the default scan.
    for p in [49152u16, 49153, 1720, 5800, 8009, 9999] {
        assert!(default.contains(&p), "{p}");
    }
    // The summary line and the XML say which ranking chose the ports.
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("o.xml");
    let out = net.synscan(&[
        "-sT",
        "127.0.0.1",
        "--top-ports",
        "20",
        "-oX",
        xml.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let want = format!("top 20 ports of nmap's ranking ({NMAP_SERVICES})");
    assert!(out.stdout.contains(&want), "{}", out.stdout);
    let x = std::fs::read_to_string(&xml).unwrap();
    assert!(x.contains(&format!("<!-- ports: {want} -->")), "{x}");
}

#[test]
fn servicedb_nmapdir_and_the_shipped_fallback() {
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nmap-services");
    std::fs::write(
        &db,
        "# a tiny ranking\nb 7/tcp 0.5\na 9/tcp 0.5\nc 3/tcp 0.9\nd 53/udp 0.99\ne 4/tcp 0.1\n",
    )
    .unwrap();
    // Ties go to the lower port, as in nmap.
    let mut top3 = dry_ports(
        &net,
        &["--servicedb", db.to_str().unwrap(), "--top-ports", "3"],
    );
    top3.sort_unstable();
    assert_eq!(top3, vec![3, 7, 9]);
    let e = net.synscan(&[
        "10.0.0.2",
        "--servicedb",
        db.to_str().unwrap(),
        "--top-ports",
        "5",
    ]);
    assert_eq!(e.code, Some(2));
    assert!(
        e.stderr.contains("--top-ports 5 is out of range (1-4"),
        "{}",
        e.stderr
    );
    // $NMAPDIR is where nmap looks first.
    let mut c = net.synscan_cmd();
    c.env("NMAPDIR", dir.path()).args([
        "--dry-run",
        "-S",
        "10.0.0.1",
        "10.0.0.2",
        "--top-ports",
        "2",
    ]);
    let out = run_cmd(c, b"", Duration::from_secs(30));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 2);
    assert!(out.stdout.contains(":3 ") && out.stdout.contains(":7 "));
    // Without nmap-services (hidden in a private mount namespace) the shipped ranking is used.
    let empty = tempfile::tempdir().unwrap();
    let script = format!(
        "mount --bind {} /usr/share/nmap && exec {} 127.0.0.1 -sT --top-ports 5",
        empty.path().display(),
        bin()
    );
    let mut c = net.command("unshare");
    c.env_remove("NMAPDIR").args(["-m", "sh", "-c", &script]);
    let out = run_cmd(c, b"", Duration::from_secs(30));
    assert!(
        out.stdout
            .contains("top 5 ports of synscan's shipped ranking"),
        "{out:?}"
    );
}

/// Starts a listener bound to 127.0.0.1 only, so 127.0.0.2 answers with resets.
fn listen_on_127_0_0_1(net: &mut Net, port: u16) {
    let script = format!(
        "import socket,time\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
         s.bind(('127.0.0.1',{port})); s.listen(64); print('ready',flush=True); time.sleep(120)\n"
    );
    let ns = net.ns.clone();
    let child = net.lab.spawn_in(&ns, &["python3", "-c", &script]);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("ready");
    assert_eq!(line.trim(), "ready");
}

#[test]
fn verbose_debug_and_open() {
    let mut net = Net::new();
    listen_on_127_0_0_1(&mut net, 7001);
    net.lab.exec(
        &net.ns,
        &["ip", "route", "add", "blackhole", "10.250.0.0/24"],
    );
    let dir = tempfile::tempdir().unwrap();
    let f = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let targets = ["127.0.0.1", "127.0.0.2", "10.250.0.7"];
    let (v_txt, v_xml, v_gnmap, o_xml) = (f("v.txt"), f("v.xml"), f("v.gnmap"), f("o.xml"));
    // -v: each open port on stderr as it is found, stdout stays NDJSON.
    let mut args = vec!["-sS", "-Pn", "-p", "7000-7002", "-v", "--format", "ndjson"];
    args.extend_from_slice(&targets);
    args.extend_from_slice(&["-oN", &v_txt, "-oX", &v_xml, "-oG", &v_gnmap]);
    let out = net.synscan(&args);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr
            .contains("Discovered open port 7001/tcp on 127.0.0.1"),
        "{}",
        out.stderr
    );
    assert_eq!(parse_ndjson(&out.stdout).len(), 1, "{}", out.stdout);
    // Hosts that never answered are listed, counts carry their reasons.
    let txt = std::fs::read_to_string(f("v.txt")).unwrap();
    assert!(
        txt.contains("Scan report for 10.250.0.7 [no answer]"),
        "{txt}"
    );
    assert!(
        txt.contains("Not shown: 2 closed ports (reset), 0 filtered ports"),
        "{txt}"
    );
    assert!(txt.contains("Not shown: 3 closed ports (reset)"), "{txt}");
    let xml = std::fs::read_to_string(f("v.xml")).unwrap();
    assert!(xml.contains(r#"<verbose level="1"/>"#), "{xml}");
    assert!(
        xml.contains(r#"<status state="down" reason="no-response" reason_ttl="0"/>"#)
            && xml.contains(r#"<address addr="10.250.0.7""#),
        "{xml}"
    );
    let gnmap = std::fs::read_to_string(f("v.gnmap")).unwrap();
    assert!(
        gnmap.contains("Host: 10.250.0.7 ()\tStatus: Down"),
        "{gnmap}"
    );
    for tool in [
        vec!["ndiff", &f("v.xml"), &f("v.xml")],
        vec![
            "xsltproc",
            "-o",
            "/dev/null",
            "/usr/share/nmap/nmap.xsl",
            &f("v.xml"),
        ],
    ] {
        let st = Command::new(tool[0]).args(&tool[1..]).output().unwrap();
        assert!(st.status.success(), "{tool:?}: {st:?}");
    }
    // -d: the engine's passes and decisions.
    let mut args = vec!["-sS", "-p", "7000-7002", "-d", "-vv"];
    args.extend_from_slice(&targets);
    let out = net.synscan(&args);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains("synscan: pass 1: ") && out.stderr.contains("synscan: debug: "),
        "{}",
        out.stderr
    );
    // --open: only open ports, and only hosts with one.
    let mut args = vec!["-sS", "-p", "7000-7002", "--open", "-oX", &o_xml];
    args.extend_from_slice(&targets);
    let out = net.synscan(&args);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("Scan report for 127.0.0.1"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("127.0.0.2"), "{}", out.stdout);
    assert!(!out.stdout.contains("10.250.0.7"), "{}", out.stdout);
    let xml = std::fs::read_to_string(f("o.xml")).unwrap();
    assert_eq!(xml.matches("<host ").count(), 1, "{xml}");
    assert!(
        out.stdout.contains("2 hosts up of 3"),
        "up counts every host that answered: {}",
        out.stdout
    );
    // --reason is accepted (reasons are always shown).
    let out = net.synscan(&["-sS", "127.0.0.1", "-p", "7001", "--reason"]);
    assert!(out.stdout.contains("7001/tcp open"), "{out:?}");
}

#[test]
fn oa_writes_the_three_files_nmap_writes() {
    let mut net = Net::new();
    net.listen(&[7101, 7103]);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("scan");
    let out = net.synscan(&[
        "-sS",
        "127.0.0.1",
        "-p",
        "7100-7104",
        "-oA",
        base.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let read = |ext: &str| std::fs::read_to_string(format!("{}.{ext}", base.display())).unwrap();
    assert!(read("nmap").contains("7103/tcp open"));
    assert!(read("gnmap").contains("Ports: 7101/open/tcp//"));
    assert!(read("xml").contains(r#"portid="7103"><state state="open""#));
    let nd = Command::new("ndiff")
        .arg(format!("{}.xml", base.display()))
        .arg(format!("{}.xml", base.display()))
        .output()
        .unwrap();
    assert_eq!(nd.status.code(), Some(0), "{nd:?}");
    // The text output still goes to stdout.
    assert!(out.stdout.contains("7101/tcp open"), "{}", out.stdout);
}

/// Per SYN probe in a --pcap file: (destination port, source port, TTL).
fn probes(pcap: &std::path::Path) -> Vec<(u16, u16, u8)> {
    let mut r = synscan::capture::CaptureReader::new(std::fs::File::open(pcap).unwrap()).unwrap();
    let mut v = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        if let Ok((_, synscan::wire::Network::Ipv4(ip, synscan::wire::Transport::Tcp(t)))) =
            synscan::wire::parse_ethernet(&rec.data)
            && t.flags == 0x02
        {
            v.push((t.dst_port, t.src_port, ip.ttl));
        }
    }
    v
}

#[test]
fn timing_templates_and_knobs_keep_results_exact() {
    let mut net = Net::new();
    let open = [7201u16, 7207, 7250];
    net.listen(&open);
    let want: BTreeSet<u16> = open.into_iter().collect();
    let scan = |extra: &[&str]| -> BTreeSet<u16> {
        let mut args = vec!["127.0.0.1", "-p", "7200-7260", "--format", "ndjson"];
        args.extend_from_slice(extra);
        let out = net.synscan(&args);
        assert_eq!(out.code, Some(0), "{extra:?}: {out:?}");
        parse_ndjson(&out.stdout).iter().map(|l| l.port).collect()
    };
    for t in ["-T3", "-T4", "-T5", "-Tinsane", "--timing=aggressive"] {
        assert_eq!(scan(&["-sS", t]), want, "{t}");
        assert_eq!(scan(&["-sT", t]), want, "-sT {t}");
    }
    let knobs = [
        "--min-rate",
        "100",
        "--max-rate",
        "10k",
        "--max-retries",
        "1",
        "--min-rtt-timeout",
        "5ms",
        "--max-rtt-timeout",
        "500ms",
        "--initial-rtt-timeout",
        "200ms",
        "--host-timeout",
        "1m",
    ];
    assert_eq!(scan(&[&["-sS"][..], &knobs].concat()), want);
    assert_eq!(scan(&[&["-sT"][..], &knobs].concat()), want);
    // -g and --ttl shape every probe, as a capture of them shows.
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("p.pcap");
    let found = scan(&[
        "-sS",
        "-g",
        "40555",
        "--ttl",
        "33",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(found, want);
    let p = probes(&pcap);
    assert_eq!(p.len(), 61);
    assert!(
        p.iter().all(|&(_, sport, ttl)| sport == 40555 && ttl == 33),
        "{p:?}"
    );
    // connect() scans set the TTL on their sockets.
    let cap = dir.path().join("c.pcap");
    sh(&["chmod", "777", dir.path().to_str().unwrap()]);
    let td = tcpdump(
        Some(&net.ns),
        "lo",
        &cap,
        "tcp[tcpflags] == tcp-syn and dst port 7207",
    );
    assert_eq!(scan(&["-sT", "--ttl", "29"]), want);
    std::thread::sleep(Duration::from_millis(300));
    stop_capture(td);
    let ttls = tool_output(
        Command::new("tshark")
            .arg("-r")
            .arg(&cap)
            .args(["-T", "fields", "-e", "ip.ttl"]),
        "tshark",
    );
    assert_eq!(ttls.trim(), "29", "{ttls}");
}

#[test]
fn max_retries_is_a_hard_cap_and_scan_delay_spaces_probes() {
    let mut net = Net::new();
    net.listen(&[7301]);
    // 7302 drops everything: probes to it are counted in the --pcap file.
    net.lab.nft(
        &net.ns,
        "table inet t {\n chain input {\n  type filter hook input priority 0;\n  tcp dport 7302 drop\n }\n}\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("p.pcap");
    let out = net.synscan(&[
        "-sS",
        "127.0.0.1",
        "-p",
        "7301,7302",
        "--max-retries",
        "1",
        "--max-rtt-timeout",
        "50ms",
        "--pcap",
        pcap.to_str().unwrap(),
        "--states",
        "all",
        "--format",
        "ndjson",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let to_dropped = probes(&pcap).iter().filter(|p| p.0 == 7302).count();
    assert_eq!(
        to_dropped, 2,
        "one probe and one retry: below the default of 2, and no adaptive passes"
    );
    // --scan-delay 300ms: four probes take at least 0.9 s (less the limiter's 5 ms of burst),
    // whatever the engine.
    for kind in ["-sS", "-sT"] {
        let t0 = Instant::now();
        let out = net.synscan(&[
            kind,
            "127.0.0.1",
            "-p",
            "7301,7303-7305",
            "--scan-delay",
            "300ms",
            "--retries",
            "0",
        ]);
        assert_eq!(out.code, Some(0), "{out:?}");
        assert!(
            t0.elapsed() >= Duration::from_millis(850),
            "{kind}: {:?}",
            t0.elapsed()
        );
        assert!(out.stdout.contains("7301/tcp open"), "{}", out.stdout);
    }
}

#[test]
fn host_timeout_ends_the_scan_and_keeps_what_was_found() {
    let mut net = Net::new();
    net.listen(&[7401]);
    for kind in ["-sS", "-sT"] {
        // 1000 ports at 200/s would take 5 s: the deadline ends it after about one, with
        // about 200 results (how many depends on the machine's load, not whether it stops).
        let out = net.synscan(&[
            kind,
            "127.0.0.1",
            "-p",
            "7001-8000",
            "--rate",
            "200",
            "--host-timeout",
            "1s",
            "--states",
            "all",
            "--format",
            "ndjson",
            "--seed",
            "3",
        ]);
        assert_eq!(out.code, Some(0), "{kind}: {out:?}");
        assert!(
            out.stderr
                .contains("--host-timeout reached: 1 of 1 hosts not finished"),
            "{kind}: {}",
            out.stderr
        );
        let lines = parse_ndjson(&out.stdout);
        let states: BTreeMap<u16, &str> =
            lines.iter().map(|l| (l.port, l.state.as_str())).collect();
        assert_eq!(states.len(), lines.len(), "a port twice");
        assert!(
            (50..1000).contains(&lines.len()),
            "{kind}: {} results kept",
            lines.len()
        );
        // Ports never probed are not counted as filtered.
        let mut c = net.synscan_cmd();
        c.args([
            kind,
            "127.0.0.1",
            "-p",
            "7001-8000",
            "--rate",
            "200",
            "--host-timeout",
            "1s",
        ]);
        let text = run_cmd(c, b"", Duration::from_secs(60));
        assert!(
            text.stdout.contains(", 0 filtered ports"),
            "{kind}: {}",
            text.stdout
        );
        // What was reported is right: closed, except the listener.
        for (p, s) in &states {
            assert_eq!(*s, if *p == 7401 { "open" } else { "closed" }, "{kind} {p}");
        }
    }
    let out = net.synscan(&[
        "-sS",
        "127.0.0.1",
        "-p",
        "1-1000",
        "--rate",
        "200",
        "--host-timeout",
        "500ms",
    ]);
    assert!(
        out.stdout.contains("1 host timed out (--host-timeout)"),
        "{out:?}"
    );
}

#[test]
fn sequential_order_with_r() {
    let net = Net::new();
    let out = net.synscan(&[
        "--dry-run",
        "-S",
        "10.0.0.1",
        "10.0.0.1-3",
        "-p",
        "80,22,443",
        "-r",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let pairs: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        pairs,
        [
            "10.0.0.1:22",
            "10.0.0.1:80",
            "10.0.0.1:443",
            "10.0.0.2:22",
            "10.0.0.2:80",
            "10.0.0.2:443",
            "10.0.0.3:22",
            "10.0.0.3:80",
            "10.0.0.3:443"
        ]
    );
}

#[test]
fn completions_for_every_shell_and_a_man_page_that_renders() {
    let net = Net::new();
    // bash: completing `--top-p` gives --top-ports, and `sn` gives the sniff subcommand.
    let out = net.synscan(&["completions", "bash"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("synscan.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    for (words, want) in [("synscan --top-p", "--top-ports"), ("synscan sn", "sniff")] {
        let n = words.split(' ').count() - 1;
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={n}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _synscan synscan '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.split(' ').next_back().unwrap(),
            words.split(' ').nth(n - 1).unwrap()
        );
        let got = tool_output(Command::new("bash").args(["-c", &probe]), "bash");
        assert!(got.lines().any(|l| l == want), "{words}: {got}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = net.synscan(&["completions", shell]);
        assert_eq!(out.code, Some(0), "{shell}: {out:?}");
        assert!(out.stdout.contains("top-ports"), "{shell}");
    }
    let bad = net.synscan(&["completions", "tcsh"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert_eq!(bad.stderr.lines().count(), 1, "{}", bad.stderr);
    // The man page renders with man(1) and documents the flags and subcommands.
    for (args, want) in [
        (vec!["man"], vec!["--top-ports", "--host-timeout", "sniff"]),
        (vec!["man", "sr"], vec!["synscan-sr", "--timeout"]),
    ] {
        let out = net.synscan(&args);
        assert_eq!(out.code, Some(0), "{out:?}");
        let page = dir.path().join("page.1");
        std::fs::write(&page, &out.stdout).unwrap();
        let mut c = Command::new("man");
        c.env("MANWIDTH", "100").arg("-l").arg(&page);
        let rendered = tool_output(&mut c, "man -l");
        for w in want {
            assert!(rendered.contains(w), "{args:?}: {w} not in {rendered}");
        }
    }
    let bad = net.synscan(&["man", "nosuch"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
}
