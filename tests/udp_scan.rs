//! UDP scans (-sU) against real UDP services in a target namespace: dnsmasq (DNS), snmpd
//! (SNMP), chronyd (NTP), small echo servers, closed ports, ports nft drops and ports it
//! rejects with admin-prohibited. Raw and unprivileged, IPv4 and IPv6, beside nmap -sU;
//! forged replies; and a target whose ICMP errors are rate-limited, with and without
//! --udp-patient. Every test builds its own namespaces and removes them by name.

mod common;

use common::{Lab, Output, bin, run_cmd, sh};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

/// Ports probed, with the state and reason raw -sU must report.
const EXPECTED: &[(u16, &str, &str)] = &[
    (7, "open", "udp-response"),
    (53, "open", "udp-response"),
    (123, "open", "udp-response"),
    (161, "open", "udp-response"),
    (600, "open|filtered", "no-response"),
    (601, "filtered", "admin-prohibited"),
    (602, "filtered", "host-unreach"),
    (1000, "closed", "port-unreach"),
    (1001, "closed", "port-unreach"),
    (1002, "closed", "port-unreach"),
    (3478, "open", "udp-response"),
    (9999, "open", "udp-response"),
    (11211, "open", "udp-response"),
];

const PORTS: &str = "7,53,123,161,600-602,1000-1002,3478,9999,11211";

/// Echo servers: 7, 3478 and 11211 send each datagram back (their payloads' echo fields
/// come back with it), 9999 answers "pong" to anything.
const ECHO: &str = r#"
import select, socket, sys, time
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
socks = {}
for p in (7, 3478, 11211, 9999):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((sys.argv[2], p))
    socks[s] = p
print("ready", flush=True)
end = time.time() + 240
while time.time() < end:
    r, _, _ = select.select(list(socks), [], [], 1)
    for s in r:
        d, a = s.recvfrom(4096)
        s.sendto(b"pong" if socks[s] == 9999 else d, a)
"#;

struct Target {
    lab: Lab,
    scan: String,
    tgt: String,
    dir: tempfile::TempDir,
}

/// Scanner and target namespaces joined by a veth: 10.77.0.1/24 and fd77::1/64 on the
/// scanner, .2 on the target, with `limit_ms` as the target's per-destination ICMP rate
/// limit (0: lifted, with the global bucket raised too).
fn target(limit_ms: u32) -> Target {
    let mut lab = Lab::new();
    let scan = lab.netns("us");
    let tgt = lab.netns("ut");
    for ns in [&scan, &tgt] {
        lab.exec(ns, &["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
        lab.exec(ns, &["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
    }
    let (a, b) = lab.veth(&scan, "10.77.0.1/24", &tgt, "10.77.0.2/24", "u");
    sh(&[
        "ip",
        "-n",
        &scan,
        "addr",
        "add",
        "fd77::1/64",
        "dev",
        &a,
        "nodad",
    ]);
    sh(&[
        "ip",
        "-n",
        &tgt,
        "addr",
        "add",
        "fd77::2/64",
        "dev",
        &b,
        "nodad",
    ]);
    let limit = limit_ms.to_string();
    let lifted = limit_ms == 0;
    for (k, v) in [
        ("net.ipv4.icmp_ratelimit", limit.as_str()),
        ("net.ipv6.icmp.ratelimit", limit.as_str()),
        (
            "net.ipv4.icmp_msgs_per_sec",
            if lifted { "100000" } else { "1000" },
        ),
        (
            "net.ipv4.icmp_msgs_burst",
            if lifted { "100000" } else { "50" },
        ),
    ] {
        lab.exec(&tgt, &["sysctl", "-qw", &format!("{k}={v}")]);
    }
    lab.nft(
        &tgt,
        "table inet f {\n chain in {\n type filter hook input priority 0;\n\
         udp dport 600 drop\n\
         meta nfproto ipv4 udp dport 601 reject with icmp type admin-prohibited\n\
         meta nfproto ipv6 udp dport 601 reject with icmpv6 type admin-prohibited\n\
         meta nfproto ipv4 udp dport 602 reject with icmp type host-unreachable\n\
         meta nfproto ipv6 udp dport 602 reject with icmpv6 type addr-unreachable\n }\n}\n",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    Target {
        lab,
        scan,
        tgt,
        dir,
    }
}

impl Target {
    /// Starts dnsmasq, snmpd, chronyd and the echo servers on the target's addresses and
    /// waits until every port is bound.
    fn services(&mut self) {
        let d = self.dir.path();
        let p = |name: &str| d.join(name).display().to_string();
        std::fs::write(
            d.join("snmpd.conf"),
            format!(
                "rocommunity public\nrocommunity6 public\nsysdescr synscan lab agent\npersistentDir {}\n",
                p("snmp")
            ),
        )
        .expect("snmpd.conf");
        std::fs::write(
            d.join("chrony.conf"),
            format!(
                "port 123\nallow all\nlocal stratum 8\ncmdport 0\npidfile {}\ndriftfile {}\n",
                p("chrony.pid"),
                p("chrony.drift")
            ),
        )
        .expect("chrony.conf");
        let tgt = self.tgt.clone();
        let pid = p("dnsmasq.pid");
        let snmpd_pid = p("snmpd.pid");
        let conf = p("snmpd.conf");
        let chrony = p("chrony.conf");
        let lab = &mut self.lab;
        lab.spawn_in(
            &tgt,
            &[
                "dnsmasq",
                "--no-daemon",
                "--port",
                "53",
                "--listen-address",
                "10.77.0.2",
                "--listen-address",
                "fd77::2",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--address=/name.lab/10.77.0.2",
                &format!("--pid-file={pid}"),
            ],
        );
        lab.spawn_in(
            &tgt,
            &[
                "snmpd",
                "-f",
                "-C",
                "-c",
                &conf,
                "-p",
                &snmpd_pid,
                "-Lf",
                "/dev/null",
                "udp:10.77.0.2:161,udp6:[fd77::2]:161",
            ],
        );
        lab.spawn_in(&tgt, &["chronyd", "-d", "-x", "-u", "root", "-f", &chrony]);
        for (fam, addr) in [("4", "10.77.0.2"), ("6", "fd77::2")] {
            let child = lab.spawn_in(&tgt, &["python3", "-c", ECHO, fam, addr]);
            let out = child.stdout.take().expect("echo stdout");
            let mut line = String::new();
            BufReader::new(out)
                .read_line(&mut line)
                .expect("echo ready");
            assert_eq!(line.trim(), "ready");
        }
        // Bounded wait until every daemon has bound its port on both families.
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new("ip")
                .args(["netns", "exec", &tgt, "ss", "-Hlun"])
                .output()
                .expect("ss");
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let bound = |needle: &str| text.contains(needle);
            let all = [
                "10.77.0.2:53",
                "[fd77::2]:53",
                "10.77.0.2:161",
                "[fd77::2]:161",
                ":123",
            ]
            .iter()
            .all(|n| bound(n));
            if all {
                break;
            }
            assert!(Instant::now() < end, "services did not start: {text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn synscan(&self, args: &[&str]) -> Output {
        common::synscan_in(Some(&self.scan), args, b"")
    }

    /// synscan as nobody, with no capability.
    fn nobody(&self, args: &[&str]) -> Output {
        common::synscan_as_nobody(&self.scan, args)
    }
}

/// Every line of NDJSON output, parsed.
fn parse_ndjson(s: &str) -> Vec<serde_json::Value> {
    common::records(s)
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// port → (state, reason) of an NDJSON scan's UDP results.
fn states(out: &Output) -> BTreeMap<u16, (String, String)> {
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut m = BTreeMap::new();
    for v in parse_ndjson(&out.stdout) {
        let v = &v;
        if v.get("port").is_none() {
            continue;
        }
        assert_eq!(v["proto"], "udp", "{v}");
        let port = v["port"].as_u64().expect("port") as u16;
        let st = (
            v["state"].as_str().unwrap_or("").to_string(),
            v["reason"].as_str().unwrap_or("").to_string(),
        );
        assert!(m.insert(port, st).is_none(), "port {port} twice");
    }
    m
}

/// [`EXPECTED`] for a scan of the IPv4 or IPv6 target: ICMPv6 calls host unreachable
/// address unreachable.
fn expected(v6: bool) -> BTreeMap<u16, (String, String)> {
    EXPECTED
        .iter()
        .map(|&(p, s, r)| {
            let r = if v6 && r == "host-unreach" {
                "addr-unreach"
            } else {
                r
            };
            (p, (s.to_string(), r.to_string()))
        })
        .collect()
}

fn scan_args(target: &str) -> Vec<&str> {
    vec![
        "-sU", "-p", PORTS, "--states", "all", "--format", "ndjson", "--wait", "1s", target,
    ]
}

#[test]
fn raw_and_unprivileged_udp_scans_are_exact_on_both_families_and_nmap_agrees() {
    let mut t = target(0);
    t.services();
    for (addr, v6) in [("10.77.0.2", false), ("fd77::2", true)] {
        let raw = t.synscan(&scan_args(addr));
        assert_eq!(states(&raw), expected(v6), "raw {addr}: {raw:?}");
        // The TX ring sends frames too large for its slots (QUIC, DTLS, IKE, SNMPv3) too.
        let mut ring = scan_args(addr);
        ring.extend(["--send-path", "ring"]);
        let ring = t.synscan(&ring);
        assert_eq!(states(&ring), expected(v6), "ring {addr}: {ring:?}");
        // The DNS answer is kept: dnsmasq's version.bind TXT, with our ID first.
        let dns = parse_ndjson(&raw.stdout)
            .into_iter()
            .find(|v| v["port"] == 53)
            .expect("53");
        let hex = dns["reply"]["hex"].as_str().expect("reply hex");
        assert!(hex.contains(&hex_of(b"dnsmasq")), "{hex}");
        if !v6 {
            // --banners reads the same answers into the service and banner fields.
            let mut args = scan_args(addr);
            args.push("--banners");
            let b = t.synscan(&args);
            let recs = parse_ndjson(&b.stdout);
            let rec = |port: u16| {
                recs.iter()
                    .find(|v| v["port"] == port)
                    .cloned()
                    .unwrap_or_else(|| panic!("{port} missing: {b:?}"))
            };
            let version = Command::new("dnsmasq")
                .arg("--version")
                .output()
                .expect("dnsmasq --version");
            let version = String::from_utf8_lossy(&version.stdout)
                .split_whitespace()
                .nth(2)
                .expect("dnsmasq version")
                .to_string();
            let dns = rec(53);
            assert_eq!(dns["service"]["name"], "domain", "{dns}");
            assert_eq!(dns["service"]["method"], "probed", "{dns}");
            assert_eq!(dns["service"]["product"], "dnsmasq", "{dns}");
            assert_eq!(dns["service"]["version"], version.as_str(), "{dns}");
            let snmp = rec(161);
            assert_eq!(snmp["service"]["name"], "snmp", "{snmp}");
            assert_eq!(snmp["banner"]["udp"], "synscan lab agent", "{snmp}");
            let ntp = rec(123);
            assert_eq!(ntp["service"]["name"], "ntp", "{ntp}");
            assert_eq!(ntp["service"]["version"], "v4", "{ntp}");
            assert!(
                ntp["service"]["extrainfo"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("stratum ")),
                "{ntp}"
            );
        }
        let un = t.nobody(&scan_args(addr));
        assert!(
            un.stderr
                .contains("falling back to a scan with connected UDP sockets"),
            "{un:?}"
        );
        assert_eq!(un.stderr.matches("falling back").count(), 1);
        // IP_RECVERR gives the connected sockets the same ICMP types and codes.
        assert_eq!(states(&un), expected(v6), "unprivileged {addr}: {un:?}");
        // nmap -sU on the same lab, port by port.
        let mut n = Command::new("ip");
        n.args(["netns", "exec", &t.scan, "nmap", "-sU", "-Pn", "-n", "-T4"]);
        if v6 {
            n.arg("-6");
        }
        n.args(["-p", PORTS, "--max-retries", "2", "-oX", "-", addr]);
        let out = run_cmd(n, b"", Duration::from_secs(180));
        assert_eq!(out.code, Some(0), "{out:?}");
        let nmap = nmap_states(&out.stdout);
        let ours: BTreeMap<u16, String> =
            states(&raw).into_iter().map(|(p, (s, _))| (p, s)).collect();
        assert_eq!(nmap, ours, "nmap -sU disagrees on {addr}");
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// port → state of nmap's XML.
fn nmap_states(xml: &str) -> BTreeMap<u16, String> {
    let mut m = BTreeMap::new();
    for chunk in xml.split("<port protocol=\"udp\" portid=\"").skip(1) {
        let port: u16 = chunk
            .split('"')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("portid");
        let state = chunk
            .split("<state state=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("state");
        m.insert(port, state.to_string());
    }
    m
}

#[test]
fn forged_udp_replies_change_nothing() {
    let t = target(0);
    // 10.77.0.4 drops what comes to 53, 123 and 161: silence is the truth there.
    sh(&[
        "ip",
        "-n",
        &t.tgt,
        "addr",
        "add",
        "10.77.0.4/24",
        "dev",
        &format!("{}ub", t.lab.tag),
    ]);
    t.lab.nft(
        &t.tgt,
        "table ip g {\n chain in {\n type filter hook input priority -5;\n\
         ip daddr 10.77.0.4 udp dport { 53, 123, 161 } drop\n }\n}\n",
    );
    let tgt = t.tgt.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let forger = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // A DNS answer with another ID, an NTP reply with another origin, an SNMP
            // response with another request-id, an answer from an unprobed port and from an
            // unprobed address: all to the scan's source port.
            let dns = r#"\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00"#;
            let ntp = format!(r#"\x24{}"#, r#"\x00"#.repeat(47));
            let snmp = r#"\x30\x1a\x02\x01\x00\x04\x06public\xa2\x0d\x02\x04\x41\x02\x03\x04\x02\x01\x00\x02\x01\x00\x30\x00"#;
            let specs = [
                format!(
                    r#"IP(src=10.77.0.4,dst=10.77.0.1)/UDP(sport=53,dport=47300)/Raw(load="{dns}")"#
                ),
                format!(
                    r#"IP(src=10.77.0.4,dst=10.77.0.1)/UDP(sport=123,dport=47300)/Raw(load="{ntp}")"#
                ),
                format!(
                    r#"IP(src=10.77.0.4,dst=10.77.0.1)/UDP(sport=161,dport=47300)/Raw(load="{snmp}")"#
                ),
                format!(
                    r#"IP(src=10.77.0.4,dst=10.77.0.1)/UDP(sport=54,dport=47300)/Raw(load="{dns}")"#
                ),
                format!(
                    r#"IP(src=10.77.0.9,dst=10.77.0.1)/UDP(sport=53,dport=47300)/Raw(load="{dns}")"#
                ),
            ];
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && rounds < 200 {
                for spec in &specs {
                    let out = common::synscan_in(Some(&tgt), &["send", spec], b"");
                    assert_eq!(out.code, Some(0), "{out:?}");
                }
                rounds += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            rounds
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let out = t.synscan(&[
        "-sU",
        "-p",
        "53,123,161",
        "--states",
        "all",
        "--format",
        "ndjson",
        "--source-port",
        "47300",
        "--wait",
        "2s",
        "--retries",
        "2",
        "10.77.0.4",
    ]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = forger.join().expect("forger");
    assert!(rounds >= 3, "forgeries were sent {rounds} times");
    let got = states(&out);
    let want: BTreeMap<u16, (String, String)> = [53, 123, 161]
        .into_iter()
        .map(|p| (p, ("open|filtered".to_string(), "no-response".to_string())))
        .collect();
    assert_eq!(got, want, "{out:?}");
}

#[test]
fn a_rate_limited_target_leaves_closed_ports_open_filtered_unless_patient() {
    // Four port-unreachables a second per destination after a burst: Linux's limiter with
    // icmp_ratelimit 250 ms.
    let mut t = target(250);
    let child = t
        .lab
        .spawn_in(&t.tgt.clone(), &["python3", "-c", ECHO, "4", "10.77.0.2"]);
    let out = child.stdout.take().expect("echo stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("echo ready");
    let ports = "7,9999,2000-2039";
    let args = |patient: bool| {
        // No --wait: the cool-down after a UDP pass is long enough to hear the trickle.
        let mut a = vec![
            "-sU",
            "-p",
            ports,
            "--states",
            "all",
            "--format",
            "ndjson",
            "10.77.0.2",
        ];
        if patient {
            a.push("--udp-patient");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |patient: bool| {
        let a = args(patient);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        t.synscan(&a)
    };
    let quick = run(false);
    let q = states(&quick);
    // Every open port found, none of the closed ones taken for open.
    assert_eq!(q[&7].0, "open");
    assert_eq!(q[&9999].0, "open");
    let closed = q.values().filter(|(s, _)| s == "closed").count();
    let unknown = q.values().filter(|(s, _)| s == "open|filtered").count();
    assert_eq!(q.len(), 42);
    assert_eq!(closed + unknown, 40, "{q:?}");
    assert!(unknown > 0, "the limit hid nothing? {q:?}");
    // The summary names the limit and how many ports it left.
    let note = format!("{unknown} open|filtered ports under the targets' ICMP rate limit");
    assert!(quick.stderr.contains(&note), "{}", quick.stderr);
    let patient = run(true);
    let p = states(&patient);
    assert_eq!(p[&7].0, "open");
    assert_eq!(p[&9999].0, "open");
    for port in 2000..2040 {
        assert_eq!(
            p[&port],
            ("closed".to_string(), "port-unreach".to_string()),
            "{port}: {}",
            patient.stderr
        );
    }
    assert!(
        !patient.stderr.contains("ICMP rate limit"),
        "{}",
        patient.stderr
    );
    // IPv6 alike, with a pass small enough for the limit's burst to answer most of it.
    let v6 = t.synscan(&[
        "-sU",
        "-p",
        "2000-2011",
        "--states",
        "all",
        "--format",
        "ndjson",
        "--udp-patient",
        "fd77::2",
    ]);
    let p6 = states(&v6);
    assert_eq!(p6.len(), 12);
    for (port, st) in &p6 {
        assert_eq!(
            st,
            &("closed".to_string(), "port-unreach".to_string()),
            "{port}: {}",
            v6.stderr
        );
    }
}

/// Starts the echo servers of [`ECHO`] on the target's IPv4 address.
fn echo_servers(t: &mut Target) {
    let tgt = t.tgt.clone();
    let child = t
        .lab
        .spawn_in(&tgt, &["python3", "-c", ECHO, "4", "10.77.0.2"]);
    let out = child.stdout.take().expect("echo stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("echo ready");
    assert_eq!(line.trim(), "ready");
}

#[test]
fn tcp_and_udp_in_one_run_with_ports_per_protocol() {
    let mut t = target(0);
    echo_servers(&mut t);
    let tgt = t.tgt.clone();
    t.lab.listen(&tgt, &[22]);
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = dir.path().join("out.xml");
    let normal = dir.path().join("out.txt");
    let grepable = dir.path().join("out.gnmap");
    let list = dir.path().join("out.list");
    let out = t.synscan(&[
        "-sSU",
        "-p",
        "U:7,9999,1000,T:22,80",
        "--states",
        "all",
        "--format",
        "ndjson",
        "--wait",
        "500ms",
        "-oX",
        xml.to_str().expect("path"),
        "-oN",
        normal.to_str().expect("path"),
        "-oG",
        grepable.to_str().expect("path"),
        "-oL",
        list.to_str().expect("path"),
        "10.77.0.2",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let mut got = BTreeMap::new();
    for v in parse_ndjson(&out.stdout) {
        got.insert(
            (
                v["proto"].as_str().expect("proto").to_string(),
                v["port"].as_u64().expect("port"),
            ),
            v["state"].as_str().expect("state").to_string(),
        );
    }
    let want: BTreeMap<(String, u64), String> = [
        ("tcp", 22, "open"),
        ("tcp", 80, "closed"),
        ("udp", 7, "open"),
        ("udp", 1000, "closed"),
        ("udp", 9999, "open"),
    ]
    .into_iter()
    .map(|(p, n, s)| ((p.to_string(), n), s.to_string()))
    .collect();
    assert_eq!(got, want);
    let x = std::fs::read_to_string(&xml).expect("xml");
    assert!(
        x.contains(r#"<scaninfo type="syn" protocol="tcp" numservices="2" services="22,80"/>"#),
        "{x}"
    );
    assert!(
        x.contains(
            r#"<scaninfo type="udp" protocol="udp" numservices="3" services="7,1000,9999"/>"#
        ),
        "{x}"
    );
    assert!(
        x.contains(r#"<port protocol="udp" portid="7"><state state="open" reason="udp-response""#),
        "{x}"
    );
    // nmap's own XML reader takes it: ndiff of the file against itself.
    let n = Command::new("ndiff")
        .args([xml.to_str().expect("path"), xml.to_str().expect("path")])
        .output()
        .expect("ndiff");
    assert!(n.status.success(), "{}", String::from_utf8_lossy(&n.stderr));
    // Normal output: TCP rows, then UDP rows, each by port; names from each protocol's table.
    let text = std::fs::read_to_string(&normal).expect("normal");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("/tcp") || l.contains("/udp"))
        .collect();
    assert_eq!(rows.len(), 5, "{text}");
    assert!(
        rows[0].starts_with("22/tcp") && rows[0].contains("ssh"),
        "{text}"
    );
    assert!(rows[1].starts_with("80/tcp"), "{text}");
    assert!(
        rows[2].starts_with("7/udp") && rows[2].contains("echo"),
        "{text}"
    );
    assert!(rows[3].starts_with("1000/udp"), "{text}");
    assert!(rows[4].starts_with("9999/udp"), "{text}");
    assert!(text.contains("syn+udp scan of 1 host x 5 ports"), "{text}");
    // Grepable and list name each port's protocol as nmap and masscan do.
    let g = std::fs::read_to_string(&grepable).expect("grepable");
    for want in [
        "22/open/tcp//ssh",
        "80/closed/tcp//http",
        "7/open/udp//echo",
        "9999/open/udp//",
    ] {
        assert!(g.contains(want), "{want}: {g}");
    }
    let l = std::fs::read_to_string(&list).expect("list");
    for want in [
        "open tcp 22 10.77.0.2",
        "open udp 7 10.77.0.2",
        "open udp 9999 10.77.0.2",
    ] {
        assert!(l.contains(want), "{want}: {l}");
    }
}

/// A responder that answers only datagrams starting with MAGIC, with "ok" and the four bytes
/// after MAGIC (port 9100), or with "ok" and zeros (9101: it does not echo the cookie).
const MAGIC: &str = r#"
import select, socket, time
ss = {}
for p in (9100, 9101):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.77.0.2", p))
    ss[s] = p
print("ready", flush=True)
end = time.time() + 120
while time.time() < end:
    r, _, _ = select.select(list(ss), [], [], 1)
    for s in r:
        d, a = s.recvfrom(4096)
        if d.startswith(b"MAGIC") and len(d) >= 9:
            s.sendto(b"ok" + (d[5:9] if ss[s] == 9100 else b"\0\0\0\0"), a)
"#;

#[test]
fn a_user_payload_file_reaches_a_silent_service_and_its_echo_is_checked() {
    let mut t = target(0);
    let tgt = t.tgt.clone();
    let child = t.lab.spawn_in(&tgt, &["python3", "-c", MAGIC]);
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("ready");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("payloads");
    std::fs::write(
        &file,
        "# the lab's MAGIC service\nudp 9100-9101 \"MAGIC\\x00\\x00\\x00\\x00\" cookie=5/32 echo=2\n",
    )
    .expect("write");
    let base = [
        "-sU",
        "-p",
        "9100,9101",
        "--states",
        "all",
        "--format",
        "ndjson",
        "--wait",
        "500ms",
        "10.77.0.2",
    ];
    let plain = states(&t.synscan(&base));
    let nf = ("open|filtered".to_string(), "no-response".to_string());
    assert_eq!(plain[&9100], nf, "an empty datagram gets no answer");
    let mut args = base.to_vec();
    let path = file.to_str().expect("path");
    args.extend(["--udp-payload-file", path]);
    let with = states(&t.synscan(&args));
    assert_eq!(
        with[&9100],
        ("open".to_string(), "udp-response".to_string())
    );
    assert_eq!(
        with[&9101], nf,
        "an answer without the cookie counts for nothing"
    );
    // The same check without privilege, on connected sockets.
    let un = states(&t.nobody(&args));
    assert_eq!(un[&9100].0, "open");
    assert_eq!(un[&9101].0, "open|filtered");
}

#[test]
fn udp_command_line_mistakes_are_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "udp 53 \"ok\"\nudp 54 \"\\xZZ\"\n").expect("write");
    let bad = bad.to_str().expect("path").to_string();
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["-p", "U:53", "127.0.0.1"],
            "names UDP ports (U:) but no UDP scan was asked for: add -sU".into(),
        ),
        (
            vec!["-sU", "-p", "T:80", "127.0.0.1"],
            "names TCP ports (T:) but only a UDP scan was asked for".into(),
        ),
        (
            vec!["-sSU", "-p", "U:53", "127.0.0.1"],
            "has no TCP ports: give them with T:PORTS".into(),
        ),
        (vec!["-sUU", "127.0.0.1"], "combines scan types".into()),
        (
            vec!["-sU", "-p", "U:", "127.0.0.1"],
            "no port after 'U:' in port list 'U:'".into(),
        ),
        (
            vec!["-sU", "-p", "S:80", "127.0.0.1"],
            "unsupported protocol 'S:'".into(),
        ),
        (
            vec!["-sU", "--udp-payload-file", &bad, "127.0.0.1"],
            format!("--udp-payload-file {bad}:2: bad escape '\\xZZ'"),
        ),
    ];
    for (args, want) in cases {
        let out = common::synscan(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.contains(&want), "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn udp_top_ports_follow_the_udp_ranking() {
    // nmap's ranking when installed (the suite installs nmap), as for TCP.
    let text = std::fs::read_to_string("/usr/share/nmap/nmap-services").expect("nmap-services");
    let mut rows: Vec<(f64, u16)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('#').next()?.split_whitespace().collect();
            let (port, proto) = f.get(1)?.split_once('/')?;
            (proto == "udp").then_some(())?;
            Some((f.get(2)?.parse().ok()?, port.parse().ok()?))
        })
        .filter(|r: &(f64, u16)| r.0 > 0.0)
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut want: Vec<u16> = rows.iter().map(|r| r.1).take(10).collect();
    want.sort_unstable();
    let net = common::Net::new();
    let out = net.synscan(&["-sU", "--top-ports", "10", "-r", "--dry-run", "127.0.0.1"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let got: Vec<u16> = out
        .stdout
        .lines()
        .map(|l| {
            let (addr, rest) = l.split_once(' ').expect("line");
            assert!(rest.contains(" cookie="), "{l}");
            addr.trim_end_matches("/udp")
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port")
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn an_interrupted_tcp_and_udp_scan_resumes_in_its_udp_pass_exactly() {
    let mut lab = Lab::new();
    let ns = lab.netns("ur");
    lab.listen(&ns, &[22]);
    let echo = "import socket,time\n\
                s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',7))\n\
                print('ready',flush=True)\n\
                end=time.time()+120\n\
                s.settimeout(1)\n\
                while time.time()<end:\n\
                \x20 try:\n\
                \x20   d,a=s.recvfrom(4096); s.sendto(d,a)\n\
                \x20 except OSError: pass\n";
    let child = lab.spawn_in(&ns, &["python3", "-c", echo]);
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("ready");
    let dir = tempfile::tempdir().expect("tempdir");
    let resume = dir.path().join("scan.resume").display().to_string();
    let run = |args: &[&str], signal: Option<(Duration, &str)>| {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &ns, bin()]).args(args);
        common::run_cmd_signalled(c, b"", Duration::from_secs(120), signal)
    };
    // TCP: 100 ports, a blink. UDP: 6000 ports at 2000/s, three seconds: the interrupt at
    // 1.5 s lands in the UDP pass.
    let first = run(
        &[
            "-sSU",
            "-p",
            "T:1-100,U:1-6000",
            "--rate",
            "2000",
            "--seed",
            "9",
            "--states",
            "all",
            "--format",
            "ndjson",
            "--no-progress",
            "--resume-file",
            &resume,
            "127.0.0.1",
        ],
        Some((Duration::from_millis(1500), "INT")),
    );
    assert_eq!(first.code, Some(130), "{first:?}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&resume).expect("resume file"))
            .expect("json");
    assert!(
        saved["stage"].as_u64().expect("stage") >= 1 << 16,
        "interrupted in the UDP pass: {saved}"
    );
    let second = run(
        &[
            "--resume",
            &resume,
            "--states",
            "all",
            "--format",
            "ndjson",
            "--no-progress",
        ],
        None,
    );
    assert_eq!(second.code, Some(0), "{second:?}");
    let mut seen: BTreeMap<(String, u64), String> = BTreeMap::new();
    for v in parse_ndjson(&first.stdout)
        .into_iter()
        .chain(parse_ndjson(&second.stdout))
    {
        let key = (
            v["proto"].as_str().expect("proto").to_string(),
            v["port"].as_u64().expect("port"),
        );
        let state = v["state"].as_str().expect("state").to_string();
        assert!(seen.insert(key.clone(), state).is_none(), "{key:?} twice");
    }
    assert_eq!(seen.len(), 6100);
    for ((proto, port), state) in &seen {
        let want = match (proto.as_str(), *port) {
            ("tcp", 22) | ("udp", 7) => "open",
            _ => "closed",
        };
        assert_eq!(state, want, "{proto}/{port}");
    }
}
