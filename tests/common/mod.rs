//! Shared helpers for the integration tests: run the binary with a deadline, read
//! ground truth, and build network-namespace labs that are always torn down.
#![allow(dead_code)]

use std::collections::BTreeSet;
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

/// Runs synscan with `args`.
pub fn synscan(args: &[&str]) -> Output {
    synscan_in(None, args, b"")
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

/// One parsed ndjson line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    pub ip: String,
    pub port: u16,
    pub state: String,
    pub reason: String,
}

/// Parses ndjson output, checking that every line is exactly one object.
pub fn parse_ndjson(s: &str) -> Vec<Line> {
    s.lines()
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

/// TCP ports listening on IPv4 loopback in this namespace (127.0.0.1, 0.0.0.0 or ::),
/// from /proc/net/tcp and tcp6: ground truth for loopback scans.
pub fn loopback_listeners() -> BTreeSet<u16> {
    let mut set = BTreeSet::new();
    for (file, ok_addrs) in [
        ("/proc/net/tcp", &["0100007F", "00000000"][..]),
        (
            "/proc/net/tcp6",
            &[
                "00000000000000000000000000000000",
                "0000000000000000FFFF00000100007F",
            ][..],
        ),
    ] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || f[3] != "0A" {
                continue;
            }
            let Some((addr, port)) = f[1].split_once(':') else {
                continue;
            };
            if let (true, Ok(p)) = (ok_addrs.contains(&addr), u16::from_str_radix(port, 16)) {
                set.insert(p);
            }
        }
    }
    set
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

    /// Starts TCP listeners on `ports` (all addresses) in `ns`, for at most 120 s, and waits
    /// until they listen.
    pub fn listen(&mut self, ns: &str, ports: &[u16]) {
        let list = ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let script = format!(
            "import socket,sys,time\n\
             ss=[]\n\
             for p in [{list}]:\n\
             \x20 s=socket.socket(socket.AF_INET)\n\
             \x20 s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             \x20 s.bind(('0.0.0.0',p)); s.listen(1024); ss.append(s)\n\
             print('ready',flush=True)\n\
             time.sleep(120)\n"
        );
        let child = self.spawn_in(ns, &["python3", "-c", &script]);
        let out = child.stdout.take().expect("listener stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("listener ready line");
        assert_eq!(line.trim(), "ready", "listener did not start");
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

/// Serializes tests that start loopback listeners and compare against every listener.
pub static LOOPBACK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts a capture process and waits for its readiness line on stderr (tcpdump prints
/// "listening on", synscan sniff "capturing on").
pub fn start_capture(cmd: &mut Command, ready: &str) -> Child {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn capture");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut line)
        .expect("capture readiness line");
    assert!(line.contains(ready), "{line}");
    child
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

/// Asserts a loopback scan found exactly the listening ports: ours, and every port that
/// listened both before and after the scan; nothing that listened at neither time.
pub fn assert_loopback_truth(
    found: &BTreeSet<u16>,
    ours: &BTreeSet<u16>,
    before: &BTreeSet<u16>,
    after: &BTreeSet<u16>,
) {
    let surely: BTreeSet<u16> = before.intersection(after).chain(ours).copied().collect();
    let maybe: BTreeSet<u16> = before.union(after).chain(ours).copied().collect();
    assert!(
        found.is_superset(&surely),
        "missed {:?}",
        surely.difference(found).collect::<Vec<_>>()
    );
    assert!(
        found.is_subset(&maybe),
        "false open {:?}",
        found.difference(&maybe).collect::<Vec<_>>()
    );
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
