//! Shared helpers for the integration tests: run the binary with a deadline, read
//! ground truth, and build network-namespace labs that are always torn down.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_synscan")
}

/// What one run printed.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with stdin `input`, killing it after `limit`.
pub fn run_cmd(cmd: Command, input: &[u8], limit: Duration) -> Output {
    run_cmd_signalled(cmd, input, limit, None)
}

/// [`run_cmd`], sending `signal` (a `kill -s` name: INT, KILL ...) to the process `after`
/// it starts.
pub fn run_cmd_signalled(
    mut cmd: Command,
    input: &[u8],
    limit: Duration,
    signal: Option<(Duration, &str)>,
) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let deadline = started + limit;
    let mut signal = signal;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break Some(st);
        }
        if let Some((after, name)) = signal
            && started.elapsed() >= after
        {
            // Not yet reaped, so the PID is still this child's.
            let _ = Command::new("kill")
                .args(["-s", name, &child.id().to_string()])
                .status();
            signal = None;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    let code = status.and_then(|s| s.code());
    assert!(
        status.is_some(),
        "timed out after {limit:?}: {cmd:?}\nstdout:{stdout}\nstderr:{stderr}"
    );
    Output {
        code,
        stdout,
        stderr,
    }
}

/// Runs synscan with `args` in a network namespace of its own (loopback only), removed
/// afterwards: whatever it probes, it probes nobody else's network.
pub fn synscan(args: &[&str]) -> Output {
    let net = Net::new();
    net.synscan(args)
}

/// Runs synscan with `args` and stdin `input`, inside namespace `ns` when given.
pub fn synscan_in(ns: Option<&str>, args: &[&str], input: &[u8]) -> Output {
    let cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, bin()]).args(args);
            c
        }
        None => {
            let mut c = Command::new(bin());
            c.args(args);
            c
        }
    };
    run_cmd(cmd, input, Duration::from_secs(120))
}

/// Runs synscan with `args` inside namespace `ns` as nobody, with no capability at all.
pub fn synscan_as_nobody(ns: &str, args: &[&str]) -> Output {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, "setpriv"]).args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        bin(),
    ]);
    c.args(args);
    run_cmd(c, b"", Duration::from_secs(60))
}

/// One parsed ndjson line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    pub ip: String,
    pub port: u16,
    pub state: String,
    pub reason: String,
}

/// `out` up to its last complete line when `allow_torn_end` (a run killed with SIGKILL may
/// leave a torn last line, which is dropped there and only there), else all of it.
pub fn complete_lines(out: &str, allow_torn_end: bool) -> &str {
    match out.rfind('\n') {
        Some(i) if allow_torn_end => &out[..=i],
        _ if allow_torn_end => "",
        _ => out,
    }
}

/// Parses ndjson output, checking that every line is exactly one object.
pub fn parse_ndjson(s: &str) -> Vec<Line> {
    records(s)
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(v["proto"], "tcp", "{l}");
            Line {
                ip: v["ip"].as_str().expect("ip").to_string(),
                port: v["port"].as_u64().expect("port") as u16,
                state: v["state"].as_str().expect("state").to_string(),
                reason: v["reason"].as_str().expect("reason").to_string(),
            }
        })
        .collect()
}

/// True for the run's header and end records of ndjson output (`"type":"scan"`/`"end"`).
pub fn is_meta(line: &str) -> bool {
    line.contains("\"type\":\"scan\"") || line.contains("\"type\":\"end\"")
}

/// The result records of ndjson output: every line but the header and end records.
pub fn records(s: &str) -> impl Iterator<Item = &str> {
    s.lines().filter(|l| !is_meta(l))
}

/// True when running as root (namespace labs need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Runs a command, panicking with its output when it fails.
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

static LAB_SEQ: AtomicU32 = AtomicU32::new(0);

/// A set of network namespaces and processes that is removed, by exact name and PID, when
/// dropped — pass or fail.
pub struct Lab {
    /// Unique prefix of every name in this lab (≤ 8 characters).
    pub tag: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
}

impl Lab {
    /// An empty lab with a unique tag.
    pub fn new() -> Lab {
        assert!(
            is_root(),
            "namespace tests need root (CI runs as root; use sudo)"
        );
        let seq = LAB_SEQ.fetch_add(1, Ordering::Relaxed);
        Lab {
            tag: format!("s{}{}", std::process::id() % 100_000, seq),
            namespaces: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Creates namespace `<tag><suffix>` with loopback up and returns its name.
    pub fn netns(&mut self, suffix: &str) -> String {
        let name = format!("{}{suffix}", self.tag);
        sh(&["ip", "netns", "add", &name]);
        self.namespaces.push(name.clone());
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// Joins two namespaces with a veth pair and gives each end an address (CIDR).
    pub fn veth(
        &mut self,
        a: &str,
        a_addr: &str,
        b: &str,
        b_addr: &str,
        suffix: &str,
    ) -> (String, String) {
        let ia = format!("{}{suffix}a", self.tag);
        let ib = format!("{}{suffix}b", self.tag);
        sh(&[
            "ip", "link", "add", &ia, "netns", a, "type", "veth", "peer", "name", &ib, "netns", b,
        ]);
        sh(&["ip", "-n", a, "addr", "add", a_addr, "dev", &ia]);
        sh(&["ip", "-n", b, "addr", "add", b_addr, "dev", &ib]);
        sh(&["ip", "-n", a, "link", "set", &ia, "up"]);
        sh(&["ip", "-n", b, "link", "set", &ib, "up"]);
        (ia, ib)
    }

    /// Runs `cmd` in namespace `ns` in the background; killed when the lab drops.
    pub fn spawn_in(&mut self, ns: &str, cmd: &[&str]) -> &mut Child {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn in namespace");
        self.children.push(child);
        self.children.last_mut().expect("child")
    }

    /// Starts TCP listeners on `ports` (all IPv4 addresses) in `ns`, for at most 120 s, waits
    /// until they listen, and returns the listener process's PID (for [`Lab::stop`]).
    pub fn listen(&mut self, ns: &str, ports: &[u16]) -> u32 {
        self.listen_family(ns, ports, false)
    }

    /// [`Lab::listen`] on every IPv6 address instead (`::`, IPv6 only).
    pub fn listen6(&mut self, ns: &str, ports: &[u16]) -> u32 {
        self.listen_family(ns, ports, true)
    }

    fn listen_family(&mut self, ns: &str, ports: &[u16], v6: bool) -> u32 {
        let list = ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let (family, addr, only6) = if v6 {
            (
                "AF_INET6",
                "'::'",
                "s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)",
            )
        } else {
            ("AF_INET", "'0.0.0.0'", "pass")
        };
        let script = format!(
            "import socket,sys,time\n\
             ss=[]\n\
             for p in [{list}]:\n\
             \x20 s=socket.socket(socket.{family})\n\
             \x20 s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             \x20 {only6}\n\
             \x20 s.bind(({addr},p)); s.listen(1024); ss.append(s)\n\
             print('ready',flush=True)\n\
             time.sleep(120)\n"
        );
        let child = self.spawn_in(ns, &["python3", "-c", &script]);
        let pid = child.id();
        let out = child.stdout.take().expect("listener stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("listener ready line");
        assert_eq!(line.trim(), "ready", "listener did not start");
        pid
    }

    /// Kills one process this lab started (by the PID [`Lab::listen`] returned) and reaps it.
    pub fn stop(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut c = self.children.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `cmd` inside `ns` and waits for it.
    pub fn exec(&self, ns: &str, cmd: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(cmd);
        sh(&full);
    }

    /// Loads an nft ruleset into `ns`.
    pub fn nft(&self, ns: &str, ruleset: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft");
        child
            .stdin
            .take()
            .expect("nft stdin")
            .write_all(ruleset.as_bytes())
            .expect("write ruleset");
        assert!(
            child.wait().expect("nft wait").success(),
            "nft failed: {ruleset}"
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A test's own network: one namespace with loopback up (127.0.0.0/8 and ::1), nothing
/// else, removed by name when dropped, pass or fail. Ground truth is exact: only the
/// listeners the test starts listen here.
pub struct Net {
    /// Its processes and the namespace.
    pub lab: Lab,
    /// The namespace's name.
    pub ns: String,
}

impl Net {
    /// A fresh namespace.
    pub fn new() -> Net {
        let mut lab = Lab::new();
        let ns = lab.netns("n");
        Net { lab, ns }
    }

    /// TCP listeners on `ports` of every IPv4 address here; returns their process's PID.
    pub fn listen(&mut self, ports: &[u16]) -> u32 {
        let ns = self.ns.clone();
        self.lab.listen(&ns, ports)
    }

    /// TCP listeners on `ports` of every IPv6 address here.
    pub fn listen6(&mut self, ports: &[u16]) -> u32 {
        let ns = self.ns.clone();
        self.lab.listen6(&ns, ports)
    }

    /// `program` to be run inside the namespace (`ip netns exec` execs it: same PID).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).arg(program);
        c
    }

    /// The synscan binary, to be run inside the namespace.
    pub fn synscan_cmd(&self) -> Command {
        self.command(bin())
    }

    /// Runs synscan with `args` here.
    pub fn synscan(&self, args: &[&str]) -> Output {
        self.synscan_input(args, b"")
    }

    /// Runs synscan with `args` and stdin `input` here.
    pub fn synscan_input(&self, args: &[&str], input: &[u8]) -> Output {
        synscan_in(Some(&self.ns), args, input)
    }
}

impl Default for Net {
    fn default() -> Self {
        Net::new()
    }
}

/// The namespace lab of `scripts/lab.sh` under a unique prefix, torn down (listeners killed by
/// PID, namespaces deleted by name) when dropped, pass or fail.
pub struct ScriptLab {
    /// Namespace name prefix.
    pub prefix: String,
}

impl ScriptLab {
    /// Builds the lab.
    pub fn up() -> ScriptLab {
        assert!(
            is_root(),
            "namespace tests need root (CI runs as root; use sudo)"
        );
        let seq = LAB_SEQ.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("sl{}{}", std::process::id() % 100_000, seq);
        let lab = ScriptLab { prefix };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab.sh");
        let out = Command::new("bash")
            .args([script, "up", &lab.prefix])
            .env("LAB_TTL", "300")
            .output()
            .expect("run lab.sh");
        assert!(
            out.status.success(),
            "lab.sh up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        lab
    }

    /// The scanner namespace.
    pub fn scanner(&self) -> String {
        format!("{}scan", self.prefix)
    }
}

impl Drop for ScriptLab {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/lab.sh");
        let _ = Command::new("bash")
            .args([script, "down", &self.prefix])
            .status();
        for n in ["scan", "tgt", "rtr", "far", "any"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("{}{n}", self.prefix)])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Starts a capture process and waits for its readiness line on stderr (tcpdump prints
/// "listening on", synscan sniff "capturing on").
pub fn start_capture(cmd: &mut Command, ready: &str) -> Child {
    start_ready(cmd.stdout(Stdio::null()), ready)
}

/// Starts `cmd` (stdout as the caller set it) and waits for a stderr line containing
/// `ready`; what it prints later on stderr is drained.
pub fn start_ready(cmd: &mut Command, ready: &str) -> Child {
    let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spawn capture");
    // Notes may come first ("data link type LINUX_SLL2"): up to 10 lines.
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    for _ in 0..10 {
        let mut line = String::new();
        if err.read_line(&mut line).expect("capture readiness line") == 0 {
            break;
        }
        seen.push_str(&line);
        if line.contains(ready) {
            // Keep reading what it says later ("File: ...", packet counts): a closed pipe
            // would kill it with SIGPIPE before it wrote its file.
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return child;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("capture never said '{ready}': {seen}");
}

/// Starts tcpdump writing every frame matching `filter` on `iface` to `pcap` at once
/// (immediate mode), inside namespace `ns` when given, and waits until it listens.
pub fn tcpdump(ns: Option<&str>, iface: &str, pcap: &std::path::Path, filter: &str) -> Child {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "tcpdump"]);
            c
        }
        None => Command::new("tcpdump"),
    };
    // A 32 MiB buffer: on 2 busy cores tcpdump falls behind, and a full buffer drops frames.
    cmd.args([
        "-i",
        iface,
        "-B",
        "32768",
        "--immediate-mode",
        "-U",
        "-n",
        "-w",
    ])
    .arg(pcap)
    .arg(filter);
    start_capture(&mut cmd, "listening")
}

/// Stops a capture with SIGINT (so it flushes) and waits for it.
pub fn stop_capture(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// Runs a peer tool (nmap, tshark, tcpdump -r) and returns its stdout, failing the test with
/// its stderr when it does not succeed.
pub fn tool_output(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} is installed: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Captures frames matching `filter` on `iface` of namespace `ns` while `run` runs (plus
/// 300 ms for the last replies); returns `run`'s result and, per frame, the tshark `fields`.
pub fn capture_during<T>(
    ns: &str,
    iface: &str,
    filter: &str,
    fields: &[&str],
    run: impl FnOnce() -> T,
) -> (T, Vec<Vec<String>>) {
    let dir = tempfile::tempdir().unwrap();
    sh(&["chmod", "777", dir.path().to_str().unwrap()]);
    let pcap = dir.path().join("capture.pcap");
    let td = tcpdump(Some(ns), iface, &pcap, filter);
    let result = run();
    std::thread::sleep(Duration::from_millis(300));
    stop_capture(td);
    let mut cmd = Command::new("tshark");
    cmd.args(["-r", pcap.to_str().unwrap(), "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let rows = tool_output(&mut cmd, "tshark")
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    (result, rows)
}

/// One family's forgeries for [`forge_during_scan`].
pub struct Forgeries {
    /// The lab target (on the scanner's subnet) the scan probes.
    pub target: &'static str,
    /// The scanner's address.
    pub scanner: &'static str,
    /// An address the scan never probes.
    pub stranger: &'static str,
    /// The SPEC's IP layer (`IP` or `IPv6`).
    pub ip: &'static str,
    /// tcpdump filter for the SYNs arriving at the target.
    pub syn_filter: &'static str,
    /// An ICMP or ICMPv6 error from the target quoting a probe from source port 47200 to
    /// `port` with sequence number `seq`.
    pub icmp_error: fn(port: u16, seq: u32) -> String,
}

/// What [`forge_during_scan`] saw.
pub struct Forged {
    /// The scan's output (NDJSON, every state).
    pub out: Output,
    /// Blind forgeries sent.
    pub sent: usize,
    /// Watched port → when its forgeries (built from the probe's own seq) had been sent.
    pub forged: std::collections::BTreeMap<u16, Instant>,
    /// When the scan ended.
    pub scan_end: Instant,
}

/// Scans ports 1-2000 of `f.target` from the lab's scanner namespace (source port 47200,
/// 2000 probes a second, one retry, a second of cool-down) while the target namespace sends
/// forgeries: blind ones (SYN-ACKs and RSTs with wrong acknowledgements for every probed port,
/// SYN-ACKs from ports never probed and from an address never probed, three times over), and
/// for each `watched` port, as soon as its probe is seen on the wire, a SYN-ACK acknowledging
/// the probe's seq (not seq + 1) and an ICMP error quoting a wrong seq.
pub fn forge_during_scan(lab: &ScriptLab, f: &Forgeries, watched: &[u16]) -> Forged {
    let tgt = format!("{}tgt", lab.prefix);
    let (ip, t, s) = (f.ip, f.target, f.scanner);
    let specs: Vec<String> = vec![
        format!("{ip}(src={t},dst={s})/TCP(sport=1-2000,dport=47200,flags=SA,ack=12345)"),
        format!("{ip}(src={t},dst={s})/TCP(sport=1-2000,dport=47200,flags=RA,ack=777)"),
        format!("{ip}(src={t},dst={s})/TCP(sport=3000-3999,dport=47200,flags=SA,ack=1)"),
        format!(
            "{ip}(src={},dst={s})/TCP(sport=1-1000,dport=47200,flags=SA,ack=1)",
            f.stranger
        ),
    ];
    let injector = {
        let tgt = tgt.clone();
        std::thread::spawn(move || {
            let mut sent = 0;
            for _ in 0..3 {
                for spec in &specs {
                    let out = synscan_in(Some(&tgt), &["send", spec, "--inter", "50us"], b"");
                    assert_eq!(out.code, Some(0), "{out:?}");
                    sent += out
                        .stdout
                        .trim()
                        .trim_start_matches("Sent ")
                        .split(' ')
                        .next()
                        .and_then(|n| n.parse::<usize>().ok())
                        .unwrap_or(0);
                }
            }
            sent
        })
    };
    let mut td = Command::new("ip");
    td.args([
        "netns",
        "exec",
        &tgt,
        "tcpdump",
        "-l",
        "-n",
        "-S",
        "-i",
        "t0",
        f.syn_filter,
    ]);
    let mut td = start_ready(td.stdout(Stdio::piped()), "listening");
    let forger = {
        let (tgt, watched) = (tgt.clone(), watched.to_vec());
        let (ip, icmp_error) = (f.ip, f.icmp_error);
        let marker = format!(" > {t}.");
        let lines = BufReader::new(td.stdout.take().expect("tcpdump stdout"));
        std::thread::spawn(move || {
            let mut forged = std::collections::BTreeMap::new();
            // "... 10.201.0.1.47200 > 10.201.0.2.81: Flags [S], seq 123, ..." (or IP6).
            for line in lines.lines().map_while(Result::ok) {
                let port = line
                    .split(marker.as_str())
                    .nth(1)
                    .and_then(|r| r.split(':').next())
                    .and_then(|p| p.parse::<u16>().ok());
                let seq = line
                    .split(", seq ")
                    .nth(1)
                    .and_then(|r| r.split(',').next())
                    .and_then(|q| q.parse::<u32>().ok());
                let (Some(port), Some(seq)) = (port, seq) else {
                    continue;
                };
                if !watched.contains(&port) || forged.contains_key(&port) {
                    continue;
                }
                for spec in [
                    format!(
                        "{ip}(src={t},dst={s})/TCP(sport={port},dport=47200,flags=SA,ack={seq})"
                    ),
                    icmp_error(port, seq ^ 0x5555),
                ] {
                    let out = synscan_in(Some(&tgt), &["send", &spec], b"");
                    assert_eq!(out.code, Some(0), "{out:?}");
                }
                forged.insert(port, Instant::now());
            }
            forged
        })
    };
    let out = synscan_in(
        Some(&lab.scanner()),
        &[
            "-sS",
            "--rate",
            "2000",
            "--states",
            "all",
            "--format",
            "ndjson",
            "--wait",
            "1s",
            "--retries",
            "1",
            f.target,
            "-p",
            "1-2000",
            "--source-port",
            "47200",
        ],
        b"",
    );
    let scan_end = Instant::now();
    let sent = injector.join().expect("injector");
    stop_capture(td);
    let forged = forger.join().expect("forger");
    Forged {
        out,
        sent,
        forged,
        scan_end,
    }
}

/// (ip, state, port) of every `--format list` line, each at most once.
pub fn parse_list_results(out: &str) -> std::collections::HashSet<(String, String, u16)> {
    let mut got = std::collections::HashSet::new();
    for line in out.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() >= 4, "short list line {line}");
        let port = f[2].parse().expect("list port");
        assert!(
            got.insert((f[3].to_string(), f[0].to_string(), port)),
            "dup {line}"
        );
    }
    got
}

/// Runs `traffic` in `net` while `synscan sniff` and tcpdump both capture on its `lo` with
/// `filter`, into `ours` and `theirs`; stops sniff with Ctrl-C (it must exit 130).
pub fn sniff_beside_tcpdump(
    net: &Net,
    filter: &str,
    ours: &std::path::Path,
    theirs: &std::path::Path,
    traffic: impl FnOnce(),
) {
    let td = tcpdump(Some(&net.ns), "lo", theirs, filter);
    let mut sn = start_capture(
        net.synscan_cmd().args([
            "sniff",
            "-i",
            "lo",
            "--filter",
            filter,
            "-w",
            ours.to_str().expect("utf-8 path"),
            "--timeout",
            "20s",
        ]),
        "capturing",
    );
    traffic();
    std::thread::sleep(Duration::from_millis(500));
    stop_capture(td);
    let _ = Command::new("kill")
        .args(["-INT", &sn.id().to_string()])
        .status();
    let st = sn.wait().expect("sniff exit");
    assert_eq!(st.code(), Some(130), "sniff stopped by Ctrl-C: {st:?}");
}
