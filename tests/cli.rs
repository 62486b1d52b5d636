//! Command-line behaviour: bad input gives one line and exit 2, input lists, exclusions,
//! output destinations, broken pipes and Ctrl-C.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn malformed_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "# only a comment\n\n").unwrap();
    let empty = empty.to_str().unwrap().to_string();
    let missing = dir.path().join("missing.txt").to_str().unwrap().to_string();
    let bad_out = dir
        .path()
        .join("no/such/dir/out.xml")
        .to_str()
        .unwrap()
        .to_string();
    let bad_list = dir.path().join("bad.txt");
    std::fs::write(&bad_list, "127.0.0.1\n10.0.0.0/40\n").unwrap();
    let bad_list = bad_list.to_str().unwrap().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["10.0.0.0/33", "-p", "80"], "/33"),
        (vec!["1.2.3", "-p", "80"], "1.2.3"),
        (vec!["300.1.1.1", "-p", "80"], "300"),
        (vec!["10.0.0.9-3", "-p", "80"], "10.0.0.9-3"),
        (vec!["10.0.0.1-256", "-p", "80"], "256"),
        (vec!["1.2.3.4.5", "-p", "80"], "1.2.3.4.5"),
        (vec!["::zz", "-p", "80"], "::zz"),
        (vec!["2001:db8::/32", "-p", "80"], "2001:db8::/32"),
        (
            vec!["no-such-host.invalid", "-p", "80"],
            "no-such-host.invalid",
        ),
        (vec!["bad host!", "-p", "80"], "bad host!"),
        (vec!["127.0.0.1", "-p", "70000"], "70000"),
        (vec!["127.0.0.1", "-p", "5-1"], "5-1"),
        (vec!["127.0.0.1", "-p", ","], "port list ','"),
        (vec!["127.0.0.1", "-p", "80,"], "80,"),
        (vec!["127.0.0.1", "-p", "abc"], "abc"),
        (vec!["127.0.0.1", "-p", "U:53"], "U:"),
        (vec!["127.0.0.1", "--top-ports", "0"], "--top-ports 0"),
        (vec!["127.0.0.1", "--top-ports", "x"], "'x'"),
        (vec!["127.0.0.1", "--rate", "0"], "--rate"),
        (vec!["127.0.0.1", "--rate", "abc"], "abc"),
        (vec!["127.0.0.1", "--rate", "-5"], "-5"),
        (vec!["127.0.0.1", "--timeout", "soon"], "soon"),
        (vec!["127.0.0.1", "--timeout", "0ms"], "0ms"),
        (vec!["127.0.0.1", "--retries", "x"], "'x'"),
        (vec!["127.0.0.1", "--max-inflight", "0"], "--max-inflight"),
        (vec!["127.0.0.1", "--format", "yaml"], "yaml"),
        (vec!["127.0.0.1", "--states", "open,maybe"], "maybe"),
        (vec!["127.0.0.1", "--shard", "3/2"], "3/2"),
        (vec!["127.0.0.1", "--shard", "1/2"], "--shard needs --seed"),
        (
            vec!["127.0.0.1", "-oX", "-", "-oJ", "-"],
            "only one output can go to stdout",
        ),
        (vec!["127.0.0.1", "--seed", "-1"], "-1"),
        (vec!["127.0.0.1", "-s", "X"], "'X'"),
        (vec!["127.0.0.1", "--bogus-flag"], "--bogus-flag"),
        (vec!["-p", "80"], "no targets"),
        (
            vec!["127.0.0.1", "--exclude", "127.0.0.0/8"],
            "no targets left",
        ),
        (vec!["127.0.0.1", "--exclude", "127.0.0.1,"], "empty item"),
        (vec!["127.0.0.1", "--exclude", "10.0.0.0/99"], "/99"),
        (vec!["-iL", &empty], "no targets in -iL file"),
        (vec!["-iL", &missing], "missing.txt"),
        (vec!["-iL", &bad_list], "10.0.0.0/40"),
        (vec!["127.0.0.1", "--exclude-file", &missing], "missing.txt"),
        (vec!["127.0.0.1", "-p", "80", "-oX", &bad_out], "out.xml"),
        (
            vec!["127.0.0.1", "-p", "80", "--top-ports", "10"],
            "--top-ports",
        ),
        // nmap's and masscan's flags, well and badly used.
        (vec!["127.0.0.1", "-oA", "-"], "-oA takes a file name base"),
        (vec!["127.0.0.1", "--rate", "1G"], "1G"),
        (vec!["127.0.0.1", "--rate", "10x"], "10x"),
        (
            vec!["127.0.0.1", "--rate", "5", "--min-rate", "10"],
            "--min-rate 10",
        ),
        (vec!["127.0.0.1", "-T9"], "'9'"),
        (vec!["127.0.0.1", "-T", "quick"], "quick"),
        (
            vec!["127.0.0.1", "--retries", "5", "--max-retries", "2"],
            "--retries 5 is above --max-retries 2",
        ),
        (
            vec![
                "127.0.0.1",
                "--min-rtt-timeout",
                "2s",
                "--max-rtt-timeout",
                "1s",
            ],
            "--min-rtt-timeout",
        ),
        (vec!["127.0.0.1", "--scan-delay", "0"], "--scan-delay"),
        (vec!["127.0.0.1", "--ttl", "0"], "--ttl"),
        (vec!["127.0.0.1", "--host-timeout", "never"], "never"),
        (vec!["127.0.0.1", "-F", "-p", "80"], "--fast"),
        (vec!["127.0.0.1", "--open", "--states", "all"], "--open"),
        (
            vec!["127.0.0.1", "--servicedb", &missing],
            "cannot read --servicedb file",
        ),
        (vec!["127.0.0.1", "--servicedb", &empty], "no TCP port"),
        (
            vec!["127.0.0.1", "-O"],
            "-O (OS detection) is not supported",
        ),
        (vec!["127.0.0.1", "-A"], "-A (OS and version detection"),
        (vec!["127.0.0.1", "-sC"], "no scripting engine"),
        (vec!["127.0.0.1", "--script", "vuln"], "no scripting engine"),
        (vec!["127.0.0.1", "-sSUT"], "combines scan types"),
        (vec!["127.0.0.1", "-sn", "-p", "80"], "scans no ports"),
        (
            vec!["127.0.0.1", "-sV", "--banner-timeout", "0s"],
            "invalid value '0s' for '--banner-timeout",
        ),
        (vec!["127.0.0.1", "-PS99999"], "invalid ports in --ping"),
        (vec!["127.0.0.1", "-PE", "-Pn"], "-Pn skips host discovery"),
        (vec!["127.0.0.1", "-sA"], "-sA is not supported"),
        (vec!["127.0.0.1", "--traceroute"], "synscan trace"),
        (vec!["127.0.0.1", "--banner-wait", "1s"], "--banners"),
        (vec!["127.0.0.1", "-sVV"], "combines scan types"),
        (vec!["127.0.0.1", "-iR", "10"], "-iR"),
    ];
    assert!(cases.len() >= 60);
    for (args, needle) in cases {
        let out = synscan(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed to stdout: {}",
            out.stdout
        );
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: not one line: {:?}", out.stderr);
        assert!(
            !lines[0].contains("For more information"),
            "{args:?}: {}",
            lines[0]
        );
        assert!(
            lines[0].starts_with("synscan: error: "),
            "{args:?}: {}",
            lines[0]
        );
        assert!(
            lines[0].contains(needle),
            "{args:?}: '{needle}' not in {}",
            lines[0]
        );
        assert!(!out.stderr.contains("panicked"), "{args:?}");
    }
}

#[test]
fn help_and_version_exit_0() {
    let out = synscan(&["--help"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("--top-ports"));
    let out = synscan(&["--version"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.starts_with("synscan "));
}

#[test]
fn input_list_from_stdin_and_file_with_excludes() {
    let mut net = Net::new();
    net.listen(&[4321]);
    let port = "4321".to_string();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("targets.txt");
    std::fs::write(
        &list,
        "# lab targets\n127.0.0.1\n\n127.0.0.2 # second\n127.0.0.3\n",
    )
    .unwrap();
    let excl = dir.path().join("excl.txt");
    std::fs::write(&excl, "127.0.0.3\n").unwrap();
    let out = net.synscan(&[
        "-sT",
        "-iL",
        list.to_str().unwrap(),
        "--exclude-file",
        excl.to_str().unwrap(),
        "--exclude",
        "127.0.0.2",
        "-p",
        &port,
        "--states",
        "all",
        "--format",
        "ndjson",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines = parse_ndjson(&out.stdout);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0].ip.as_str(), lines[0].state.as_str()),
        ("127.0.0.1", "open")
    );

    let out = net.synscan_input(
        &[
            "-sT", "-iL", "-", "-p", &port, "--states", "all", "--format", "ndjson",
        ],
        b"127.0.0.1\n127.0.0.1\n# dup above\n",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        parse_ndjson(&out.stdout).len(),
        1,
        "duplicates scanned once"
    );
}

#[test]
fn hostname_is_resolved_once_and_named_in_output() {
    let mut net = Net::new();
    net.listen(&[4322]);
    let port = "4322".to_string();
    let out = net.synscan(&["-sT", "localhost", "-p", &port]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("Scan report for localhost (127.0.0.1)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("{port}/tcp")),
        "{}",
        out.stdout
    );
    // localhost has both families here: one line says which address is scanned.
    let notes: Vec<&str> = out.stderr.lines().collect();
    assert!(
        notes.is_empty()
            || notes
                == ["synscan: localhost has 127.0.0.1 and ::1: scanning 127.0.0.1 (-6 for IPv6)"],
        "{}",
        out.stderr
    );
    // -6 takes the IPv6 address.
    let out6 = net.synscan(&["-sT", "-6", "localhost", "-p", &port, "--states", "all"]);
    assert_eq!(out6.code, Some(0), "{out6:?}");
    if !notes.is_empty() {
        assert!(
            out6.stdout.contains("Scan report for localhost (::1)"),
            "{}",
            out6.stdout
        );
    }
}

#[test]
fn ipv6_loopback_by_connect() {
    let mut net = Net::new();
    net.listen6(&[4323]);
    let (port, closed) = (4323u16, 4324u16);
    let ports = format!("{port},{closed}");
    let out = net.synscan(&["::1", "-p", &ports, "--states", "all", "--format", "ndjson"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut lines = parse_ndjson(&out.stdout);
    lines.sort();
    let got: Vec<(u16, &str)> = lines.iter().map(|l| (l.port, l.state.as_str())).collect();
    let mut want = vec![(port, "open"), (closed, "closed")];
    want.sort();
    assert_eq!(got, want);
    assert!(lines.iter().all(|l| l.ip == "::1"));
}

#[test]
fn every_format_to_files_at_once() {
    let mut net = Net::new();
    net.listen(&[4325]);
    let port = "4325".to_string();
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let out = net.synscan(&[
        "-sT",
        "127.0.0.1",
        "-p",
        &port,
        "--format",
        "csv",
        "-o",
        &p("o.csv"),
        "-oN",
        &p("o.txt"),
        "-oJ",
        &p("o.ndjson"),
        "-oG",
        &p("o.gnmap"),
        "-oX",
        &p("o.xml"),
        "-oL",
        &p("o.list"),
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "-o sends --format output to the file"
    );
    let read = |n: &str| std::fs::read_to_string(p(n)).unwrap();
    assert!(read("o.csv").contains(&format!("127.0.0.1,,{port},tcp,open,syn-ack")));
    assert!(read("o.txt").contains(&format!("{port}/tcp")));
    assert_eq!(parse_ndjson(&read("o.ndjson")).len(), 1);
    assert!(read("o.gnmap").contains(&format!("Ports: {port}/open/tcp")));
    assert!(read("o.xml").contains(&format!("portid=\"{port}\"><state state=\"open\"")));
    assert!(read("o.list").contains(&format!("open tcp {port} 127.0.0.1 ")));
    let json = net.synscan(&["-sT", "127.0.0.1", "-p", &port, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v[0]["type"], "scan", "the header comes first");
    assert_eq!(v[1]["port"].as_u64(), Some(port.parse().unwrap()));
    assert_eq!(v[2]["type"], "end", "the end record comes last");
}

#[test]
fn dash_sends_a_shorthand_format_to_stdout_alone() {
    let mut net = Net::new();
    net.listen(&[4326]);
    let out = net.synscan(&["-sT", "127.0.0.1", "-p", "4326", "-oX", "-"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("<?xml"), "{}", out.stdout);
    assert!(
        out.stdout.trim_end().ends_with("</nmaprun>"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("Scan report for"),
        "text output mixed in"
    );
}

#[test]
fn connect_rate_is_a_cap_for_the_whole_scan() {
    // 10 probes at 5/s take about 1.8 s whatever the number of worker threads.
    let start = std::time::Instant::now();
    let out = synscan(&[
        "-sT",
        "127.0.0.1",
        "-p",
        "1-10",
        "--rate",
        "5",
        "--format",
        "list",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1600),
        "10 probes at --rate 5 took {took:?}"
    );
}

#[test]
fn xml_is_accepted_by_ndiff_and_nmap_xsl() {
    let mut net = Net::new();
    let (pa, pb) = (4327u16, 4328u16);
    net.listen(&[pa]);
    let b = net.listen(&[pb]);
    let ports = format!("{pa},{pb}");
    let dir = tempfile::tempdir().unwrap();
    let x1 = dir.path().join("1.xml");
    let x2 = dir.path().join("2.xml");
    let out = net.synscan(&[
        "-sT",
        "127.0.0.1",
        "-p",
        &ports,
        "-oX",
        x1.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    net.lab.stop(b);
    let out = net.synscan(&[
        "-sT",
        "127.0.0.1",
        "-p",
        &ports,
        "-oX",
        x2.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");

    let nd = Command::new("ndiff")
        .arg(&x1)
        .arg(&x2)
        .output()
        .expect("ndiff is installed");
    let text = String::from_utf8_lossy(&nd.stdout);
    // ndiff exits 1 when the scans differ, 2 on error.
    assert_eq!(
        nd.status.code(),
        Some(1),
        "ndiff: {text} {}",
        String::from_utf8_lossy(&nd.stderr)
    );
    assert!(text.contains(&format!("-{pb}/tcp open")), "{text}");
    let same = Command::new("ndiff").arg(&x1).arg(&x1).output().unwrap();
    assert_eq!(same.status.code(), Some(0));

    let html = Command::new("xsltproc")
        .arg("/usr/share/nmap/nmap.xsl")
        .arg(&x1)
        .output()
        .expect("xsltproc is installed");
    assert!(
        html.status.success(),
        "{}",
        String::from_utf8_lossy(&html.stderr)
    );
    assert!(
        html.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&html.stderr)
    );
    let h = String::from_utf8_lossy(&html.stdout);
    assert!(h.contains(&pa.to_string()) && h.contains("open"), "{h}");
}

#[test]
fn broken_pipe_exits_quietly() {
    let net = Net::new();
    let mut child = net
        .synscan_cmd()
        .args([
            "-sT",
            "127.0.0.1",
            "-p-",
            "--states",
            "closed",
            "--format",
            "ndjson",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let (mut header, mut first) = (String::new(), String::new());
    reader.read_line(&mut header).unwrap();
    assert!(header.contains("\"type\":\"scan\""), "{header}");
    reader.read_line(&mut first).unwrap();
    assert!(first.contains("\"closed\""), "{first}");
    drop(reader);
    // Reader dropped: the next write fails with EPIPE.
    let out = wait_with_deadline(child, Duration::from_secs(60));
    assert_eq!(out.0, Some(0), "stderr: {}", out.1);
    assert!(out.1.is_empty(), "stderr: {}", out.1);
}

#[test]
fn ctrl_c_prints_what_was_found_and_exits_130() {
    let mut net = Net::new();
    net.listen(&[4329]);
    let port = "4329".to_string();
    // 201 ports at 20 probes/s: the scan lasts 10 s, interrupted after 1.5 s.
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("partial.xml");
    let resume = dir.path().join("r");
    let child = net
        .synscan_cmd()
        .arg("-oX")
        .arg(&xml)
        .arg("--resume-file")
        .arg(&resume)
        .args([
            "-sT",
            "127.0.0.1",
            "-p",
            &format!("{port},1-200"),
            "--rate",
            "20",
            "--format",
            "json",
            "--seed",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stdout, stderr) = interrupt_after(child, Duration::from_millis(1500));
    assert_eq!(code, Some(130), "{stderr}");
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert!(v.is_array());
    let x = std::fs::read_to_string(&xml).unwrap();
    assert!(x.contains(r#"exit="error" errormsg="interrupted""#), "{x}");
    assert!(x.trim_end().ends_with("</nmaprun>"), "{x}");
    assert!(resume.exists(), "an interrupted scan saves its resume file");
}

#[test]
fn ctrl_c_text_summary_says_interrupted() {
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let child = net
        .synscan_cmd()
        .args(["-sT", "127.0.0.1", "-p", "1-500", "--rate", "50"])
        .arg("--resume-file")
        .arg(dir.path().join("r"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stdout, _) = interrupt_after(child, Duration::from_millis(800));
    assert_eq!(code, Some(130));
    assert!(
        stdout.contains("synscan done:") && stdout.contains("interrupted"),
        "{stdout}"
    );
}

/// Sends SIGINT to a running synscan after `delay`; returns its exit code, stdout and stderr.
fn interrupt_after(
    mut child: std::process::Child,
    delay: Duration,
) -> (Option<i32>, String, String) {
    std::thread::sleep(delay);
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut stdout = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let (code, stderr) = wait_with_deadline(child, Duration::from_secs(10));
    (code, stdout, stderr)
}

fn wait_with_deadline(mut child: std::process::Child, limit: Duration) -> (Option<i32>, String) {
    let start = std::time::Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (st.code(), err);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn progress_line_is_drawn_on_a_terminal() {
    let net = Net::new();
    // `script` gives synscan a pseudo-terminal; the progress line goes to it.
    let cmd = format!(
        "ip netns exec {} {} -sT 127.0.0.1 -p 1-600 --rate 1500 --format list",
        net.ns,
        bin()
    );
    let out = run_cmd(
        {
            let mut c = Command::new("script");
            c.args(["-qec", &cmd, "/dev/null"]);
            c
        },
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains('%') && out.stdout.contains("found"),
        "{:?}",
        out.stdout
    );
    // Rates read as people write them ("1.50k/s", "850/s"), not "1,498.3271/s".
    let rates: Vec<&str> = out
        .stdout
        .split(|c: char| c.is_whitespace() || c == '\r')
        .filter(|w| w.ends_with("/s"))
        .collect();
    assert!(!rates.is_empty(), "{:?}", out.stdout);
    for r in rates {
        let num = r.trim_end_matches("/s").trim_end_matches(['k', 'M']);
        let decimals = num.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(
            !num.contains(',') && decimals <= 2 && num.parse::<f64>().is_ok(),
            "rate shown as {r}"
        );
    }
    assert!(
        out.stdout.contains("# end"),
        "results still printed: {:?}",
        out.stdout
    );
}

#[test]
fn help_into_a_closed_pipe_is_quiet() {
    for args in [
        vec!["--help"],
        vec!["sr", "--help"],
        vec!["--version"],
        vec!["completions", "bash"],
        vec!["man"],
    ] {
        let mut child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let (code, stderr) = wait_with_deadline(child, Duration::from_secs(10));
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let out = synscan(&["sniff"]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("--iface"),
        "the missing argument is named: {}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[test]
fn output_files_belong_to_the_sudo_user() {
    assert!(
        is_root(),
        "handing files to another user needs root (CI runs as root)"
    );
    let net = Net::new();
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("o.xml");
    let txt = dir.path().join("o.txt");
    let mut c = net.synscan_cmd();
    c.args(["-sT", "127.0.0.1", "-p", "1", "-oX"])
        .arg(&xml)
        .arg("-o")
        .arg(&txt);
    c.env("SUDO_UID", "65534").env("SUDO_GID", "65534");
    let out = run_cmd(c, b"", Duration::from_secs(30));
    assert_eq!(out.code, Some(0), "{out:?}");
    use std::os::unix::fs::MetadataExt;
    for f in [&xml, &txt] {
        let m = std::fs::metadata(f).unwrap();
        assert_eq!((m.uid(), m.gid()), (65534, 65534), "{}", f.display());
    }
    // Without sudo's variables the files stay the caller's.
    let own = dir.path().join("own.xml");
    let mut c = net.synscan_cmd();
    c.args(["-sT", "127.0.0.1", "-p", "1", "-oX"]).arg(&own);
    c.env_remove("SUDO_UID").env_remove("SUDO_GID");
    assert_eq!(run_cmd(c, b"", Duration::from_secs(30)).code, Some(0));
    assert_eq!(std::fs::metadata(&own).unwrap().uid(), 0);
}
