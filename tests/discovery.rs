//! Host discovery (-sn, -PR/-PE/-PP/-PS/-PA/-PU, the default before a port scan) against a
//! lab of hosts of every kind, on our own link and behind a router, over IPv4 and IPv6:
//! hosts that answer ARP/NDP but drop all IP, hosts that answer ICMP only, hosts that answer
//! TCP only, and silent addresses. Results are checked host by host against that ground
//! truth and against nmap -sn on the same lab. Every test builds its own namespaces and
//! removes them by name.

mod common;

use common::{Lab, Output, bin, run_cmd, sh, synscan_as_nobody};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

/// Host suffixes of each kind on both subnets (the same for IPv4 and IPv6).
const NDP_ONLY: [u8; 2] = [10, 11];
const ICMP_ONLY: [u8; 2] = [20, 21];
const TCP_ONLY: [u8; 2] = [30, 31];
const SILENT: [u8; 2] = [40, 41];

/// A scanner with a target subnet on its own link (10.79.0.0/24, fd79::/64) and one behind
/// a router (10.79.1.0/24, fd79:1::/64). Both target namespaces hold .2 (answers
/// everything) and hosts of every kind.
struct Disco {
    lab: Lab,
    scan: String,
    local: String,
    remote: String,
    /// The MAC of the local target's interface.
    local_mac: String,
}

fn v4(net: u8, host: u8) -> String {
    format!("10.79.{net}.{host}")
}

fn v6(net: u8, host: u8) -> String {
    if net == 0 {
        format!("fd79::{host}")
    } else {
        format!("fd79:{net}::{host}")
    }
}

fn disco() -> Disco {
    let mut lab = Lab::new();
    let scan = lab.netns("ds");
    let local = lab.netns("dl");
    let router = lab.netns("dr");
    let remote = lab.netns("dm");
    for ns in [&scan, &local, &router, &remote] {
        lab.exec(ns, &["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
        lab.exec(ns, &["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
        // No ICMP rate limit decides who looks up.
        lab.exec(ns, &["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"]);
        lab.exec(ns, &["sysctl", "-qw", "net.ipv6.icmp.ratelimit=0"]);
    }
    let (sl, ll) = lab.veth(&scan, "10.79.0.1/24", &local, "10.79.0.2/24", "l");
    let (sr, rs) = lab.veth(&scan, "10.79.8.1/24", &router, "10.79.8.2/24", "r");
    let (rm, mr) = lab.veth(&router, "10.79.1.1/24", &remote, "10.79.1.2/24", "m");
    for (ns, dev, addr) in [
        (&scan, &sl, "fd79::1/64"),
        (&local, &ll, "fd79::2/64"),
        (&scan, &sr, "fd79:8::1/64"),
        (&router, &rs, "fd79:8::2/64"),
        (&router, &rm, "fd79:1::1/64"),
        (&remote, &mr, "fd79:1::2/64"),
    ] {
        sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev, "nodad"]);
    }
    lab.exec(&router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.exec(
        &router,
        &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"],
    );
    sh(&[
        "ip",
        "-n",
        &scan,
        "route",
        "add",
        "10.79.1.0/24",
        "via",
        "10.79.8.2",
    ]);
    sh(&[
        "ip",
        "-n",
        &scan,
        "-6",
        "route",
        "add",
        "fd79:1::/64",
        "via",
        "fd79:8::2",
    ]);
    sh(&[
        "ip",
        "-n",
        &remote,
        "route",
        "add",
        "default",
        "via",
        "10.79.1.1",
    ]);
    sh(&[
        "ip",
        "-n",
        &remote,
        "-6",
        "route",
        "add",
        "default",
        "via",
        "fd79:1::1",
    ]);
    for (ns, dev, net) in [(&local, &ll, 0u8), (&remote, &mr, 1u8)] {
        for h in NDP_ONLY.iter().chain(&ICMP_ONLY).chain(&TCP_ONLY) {
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/24", v4(net, *h)),
                "dev",
                dev,
            ]);
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/64", v6(net, *h)),
                "dev",
                dev,
                "nodad",
            ]);
        }
        let set4 = |hs: [u8; 2]| format!("{{ {}, {} }}", v4(net, hs[0]), v4(net, hs[1]));
        let set6 = |hs: [u8; 2]| format!("{{ {}, {} }}", v6(net, hs[0]), v6(net, hs[1]));
        lab.nft(
            ns,
            &format!(
                "table inet f {{\n chain in {{\n type filter hook input priority 0;\n\
                 ip daddr {n4} drop\n\
                 ip6 daddr {n6} icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept\n\
                 ip6 daddr {n6} drop\n\
                 ip daddr {i4} meta l4proto {{ tcp, udp }} drop\n\
                 ip6 daddr {i6} meta l4proto {{ tcp, udp }} drop\n\
                 ip daddr {t4} meta l4proto icmp drop\n\
                 ip6 daddr {t6} icmpv6 type echo-request drop\n }}\n}}\n",
                n4 = set4(NDP_ONLY),
                n6 = set6(NDP_ONLY),
                i4 = set4(ICMP_ONLY),
                i6 = set6(ICMP_ONLY),
                t4 = set4(TCP_ONLY),
                t6 = set6(TCP_ONLY),
            ),
        );
    }
    let link = Command::new("ip")
        .args(["-n", &local, "-br", "link", "show", &ll])
        .output()
        .expect("ip link");
    let local_mac = String::from_utf8_lossy(&link.stdout)
        .split_whitespace()
        .nth(2)
        .expect("mac")
        .to_uppercase();
    Disco {
        lab,
        scan,
        local,
        remote,
        local_mac,
    }
}

impl Disco {
    fn synscan(&self, args: &[&str]) -> Output {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.scan, bin()]).args(args);
        run_cmd(c, b"", Duration::from_secs(120))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.synscan(args);
        assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
        out.stdout
    }
}

/// One host record of ndjson output.
#[derive(Debug, Clone, PartialEq)]
struct HostLine {
    status: String,
    reason: String,
    mac: Option<String>,
    ttl: Option<u64>,
}

/// The host records of ndjson output, by address (each host once).
fn hosts(out: &str) -> BTreeMap<String, HostLine> {
    let mut m = BTreeMap::new();
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        let Some(status) = v["status"].as_str() else {
            continue;
        };
        let ip = v["ip"].as_str().expect("ip").to_string();
        let h = HostLine {
            status: status.to_string(),
            reason: v["reason"].as_str().expect("reason").to_string(),
            mac: v["mac"].as_str().map(str::to_uppercase),
            ttl: v["ttl"].as_u64(),
        };
        assert!(m.insert(ip.clone(), h).is_none(), "{ip} twice: {out}");
    }
    m
}

fn up(m: &BTreeMap<String, HostLine>) -> BTreeSet<String> {
    m.iter()
        .filter(|(_, h)| h.status == "up")
        .map(|(ip, _)| ip.clone())
        .collect()
}

fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

/// The hosts nmap -sn (as root, its defaults) finds up.
fn nmap_up(d: &Disco, args: &[&str]) -> BTreeSet<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", &d.scan, "nmap", "-sn", "-n", "-oG", "-"])
        .args(args)
        .output()
        .expect("nmap is installed");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("Status: Up"))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect()
}

#[test]
fn ping_scan_ipv4_on_our_link_and_behind_a_router() {
    let d = disco();
    let out = d.ok(&["-sn", "10.79.0.0/24", "10.79.1.0/24", "-oJ", "-", "-v"]);
    let m = hosts(&out);
    // Our own link: ARP finds every address that exists, firewall or not.
    let mut local_up = vec![v4(0, 1), v4(0, 2)];
    for h in NDP_ONLY.iter().chain(&ICMP_ONLY).chain(&TCP_ONLY) {
        local_up.push(v4(0, *h));
    }
    for ip in &local_up[1..] {
        let h = &m[ip];
        assert_eq!(
            (h.status.as_str(), h.reason.as_str(), h.mac.as_deref()),
            ("up", "arp-response", Some(d.local_mac.as_str())),
            "{ip}"
        );
    }
    assert_eq!(m[&v4(0, 1)].reason, "echo-reply", "our own address");
    // Behind the router: IP pings; a host that drops all IP is down.
    let mut remote_up = vec![v4(1, 1), v4(1, 2)];
    for h in ICMP_ONLY {
        let ip = v4(1, h);
        assert!(
            ["echo-reply", "timestamp-reply"].contains(&m[&ip].reason.as_str()),
            "{ip}: {:?}",
            m[&ip]
        );
        assert_eq!(m[&ip].ttl, Some(63), "{ip}: one hop away");
        remote_up.push(ip);
    }
    for h in TCP_ONLY {
        let ip = v4(1, h);
        assert_eq!(m[&ip].reason, "reset", "{ip}");
        remote_up.push(ip);
    }
    for h in NDP_ONLY.iter().chain(&SILENT) {
        let ip = v4(1, *h);
        assert_eq!(
            (m[&ip].status.as_str(), m[&ip].reason.as_str()),
            ("down", "no-response"),
            "{ip}"
        );
    }
    let want: BTreeSet<String> = local_up.iter().chain(&remote_up).cloned().collect();
    assert_eq!(up(&m), want, "{out}");
    // -v lists every other address down, once.
    assert_eq!(m.len(), 2 * 254, "{out}");
    for h in SILENT {
        assert_eq!(m[&v4(0, h)].status, "down");
    }
    // nmap -sn agrees host for host.
    assert_eq!(nmap_up(&d, &["10.79.0.0/24", "10.79.1.0/24"]), want);
}

#[test]
fn ping_scan_ipv6_with_ndp_and_icmpv6() {
    let d = disco();
    let out = d.ok(&["-sn", "fd79::/120", "fd79:1::/120", "-oJ", "-"]);
    let m = hosts(&out);
    let mut want = BTreeSet::new();
    for h in [2u8]
        .iter()
        .chain(&NDP_ONLY)
        .chain(&ICMP_ONLY)
        .chain(&TCP_ONLY)
    {
        let ip = v6(0, *h);
        assert_eq!(
            (m[&ip].reason.as_str(), m[&ip].mac.as_deref()),
            ("nd-response", Some(d.local_mac.as_str())),
            "{ip}"
        );
        want.insert(ip);
    }
    assert_eq!(m[&v6(0, 1)].reason, "echo-reply", "our own address");
    want.insert(v6(0, 1));
    for h in [1u8, 2].iter().chain(&ICMP_ONLY).chain(&TCP_ONLY) {
        want.insert(v6(1, *h));
    }
    for h in ICMP_ONLY {
        assert_eq!(m[&v6(1, h)].reason, "echo-reply");
        assert_eq!(m[&v6(1, h)].ttl, Some(63));
    }
    for h in TCP_ONLY {
        assert_eq!(m[&v6(1, h)].reason, "reset");
    }
    assert_eq!(up(&m), want, "{out}");
    assert_eq!(m.len(), want.len(), "only hosts up are listed without -v");
    // nmap -6 -sn on the same addresses.
    let mut list: Vec<String> = Vec::new();
    for net in [0u8, 1] {
        for h in [1u8, 2]
            .iter()
            .chain(&NDP_ONLY)
            .chain(&ICMP_ONLY)
            .chain(&TCP_ONLY)
            .chain(&SILENT)
        {
            list.push(v6(net, *h));
        }
    }
    let mut ours = vec!["-sn", "-oJ", "-"];
    ours.extend(list.iter().map(String::as_str));
    assert_eq!(up(&hosts(&d.ok(&ours))), want);
    let mut args = vec!["-6"];
    args.extend(list.iter().map(String::as_str));
    assert_eq!(nmap_up(&d, &args), want);
}

#[test]
fn each_ip_ping_on_its_own() {
    let mut d = disco();
    d.lab.listen(&d.local, &[8080]);
    let local_24 = "10.79.0.0/24";
    let run = |ping: &str| {
        let out = d.ok(&[
            "-sn",
            "--disable-arp-ping",
            ping,
            local_24,
            "-oJ",
            "-",
            "-v",
        ]);
        hosts(&out)
    };
    let ips = |hs: &[u8]| -> BTreeSet<String> { hs.iter().map(|h| v4(0, *h)).collect() };
    let reasons = |m: &BTreeMap<String, HostLine>| -> BTreeSet<String> {
        m.values()
            .filter(|h| h.status == "up")
            .map(|h| h.reason.clone())
            .collect()
    };
    // Echo: the ICMP-answering hosts (and our own address).
    let m = run("-PE");
    assert_eq!(up(&m), ips(&[1, 2, 20, 21]), "{m:?}");
    assert_eq!(reasons(&m), set(&["echo-reply".into()]));
    // Without ARP pings, a silent address on our link is down for want of ARP.
    assert_eq!(m[&v4(0, 40)].reason, "no-arp");
    assert_eq!(m[&v4(0, 10)].reason, "no-response");
    let m = run("-PP");
    assert_eq!(up(&m), ips(&[1, 2, 20, 21]), "{m:?}");
    assert_eq!(reasons(&m), set(&["timestamp-reply".into()]));
    // SYN to 8080: open on every address of the target namespace; TCP-only hosts answer.
    let m = run("-PS8080");
    assert_eq!(up(&m), ips(&[1, 2, 30, 31]), "{m:?}");
    for h in [2, 30, 31] {
        assert_eq!(m[&v4(0, h)].reason, "syn-ack");
    }
    let m = run("-PA");
    assert_eq!(up(&m), ips(&[1, 2, 30, 31]), "{m:?}");
    assert_eq!(reasons(&m), set(&["reset".into()]));
    // UDP to a closed port: the host's port unreachable; ICMP-only hosts drop UDP.
    let m = run("-PU");
    assert_eq!(up(&m), ips(&[1, 2, 30, 31]), "{m:?}");
    for h in [2, 30, 31] {
        assert_eq!(m[&v4(0, h)].reason, "port-unreach");
    }
    // Several at once: any answer counts.
    let m = run("-PS443,8080");
    assert_eq!(up(&m), ips(&[1, 2, 30, 31]), "{m:?}");
}

/// SYN probes in a pcap file (TCP, SYN set, ACK clear).
fn syn_count(pcap: &std::path::Path) -> usize {
    let out = Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(pcap)
        .arg("tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn")
        .output()
        .expect("tcpdump");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn port_scan_after_discovery_matches_no_ping_with_far_fewer_probes() {
    let mut d = disco();
    d.lab.listen(&d.remote, &[8080, 8081]);
    let dir = tempfile::tempdir().unwrap();
    let (with, without) = (dir.path().join("d.pcap"), dir.path().join("n.pcap"));
    let args = |pcap: &std::path::Path| {
        vec![
            "10.79.1.0/24".to_string(),
            "-p".into(),
            "8000-8099".into(),
            "--seed".into(),
            "5".into(),
            "-oJ".into(),
            "-".into(),
            "--pcap".into(),
            pcap.display().to_string(),
        ]
    };
    let a = args(&with);
    let out = d.ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let mut b = args(&without);
    b.push("-Pn".into());
    let bare = d.ok(&b.iter().map(String::as_str).collect::<Vec<_>>());
    let open = |s: &str| -> BTreeSet<(String, u64)> {
        s.lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                if v["state"] != "open" {
                    return None;
                }
                Some((v["ip"].as_str()?.to_string(), v["port"].as_u64()?))
            })
            .collect()
    };
    let want: BTreeSet<(String, u64)> = [2u8, 30, 31]
        .iter()
        .flat_map(|h| [(v4(1, *h), 8080), (v4(1, *h), 8081)])
        .collect();
    assert_eq!(open(&out), want, "{out}");
    assert_eq!(open(&bare), want, "{bare}");
    // Each host's record comes before its ports: live hosts stream into the port scan.
    let mut seen = BTreeSet::new();
    for l in common::records(&out) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let ip = v["ip"].as_str().unwrap().to_string();
        if v["status"].is_string() {
            seen.insert(ip);
        } else {
            assert!(seen.contains(&ip), "port of {ip} before its host: {out}");
        }
    }
    assert_eq!(
        up(&hosts(&out)),
        [1u8, 2, 20, 21, 30, 31].iter().map(|h| v4(1, *h)).collect()
    );
    // -Pn probes 254 hosts × 100 ports, at least once each; discovery pings 254 hosts and
    // probes the 6 that are up.
    let (n_with, n_without) = (syn_count(&with), syn_count(&without));
    assert!(n_without >= 254 * 100, "{n_without}");
    assert!(
        n_with * 10 < n_without,
        "with discovery {n_with} SYNs, without {n_without}"
    );
    assert!(n_with >= 6 * 100, "{n_with}");
}

#[test]
fn forged_echo_and_arp_replies_change_nothing() {
    let d = disco();
    let args = [
        "-sn",
        "10.79.0.0/25",
        "10.79.1.0/25",
        "-g",
        "40000",
        "--wait",
        "1s",
        "-oJ",
        "-",
        "-v",
    ];
    let clean = hosts(&d.ok(&args));
    // While the scan runs: ARP replies for addresses never asked about (.200-.209), and echo
    // replies with our echo id and every sequence number from a probed silent host (.40)
    // and from an address never probed (.200).
    let forger = {
        let (local, remote) = (d.local.clone(), d.remote.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            for _ in 0..3 {
                for (ns, spec) in [
                    (
                        &local,
                        format!(
                            "Ether(dst=ff:ff:ff:ff:ff:ff)/ARP(op=2,psrc=[{}],pdst=10.79.0.1)",
                            (200..210).map(|h| v4(0, h)).collect::<Vec<_>>().join(",")
                        ),
                    ),
                    (
                        &remote,
                        "IP(src=[10.79.1.40,10.79.1.200],dst=10.79.8.1)/ICMP(type=0,id=40000,seq=0-65535)"
                            .to_string(),
                    ),
                ] {
                    let out = common::synscan_in(Some(ns), &["send", &spec], b"");
                    assert_eq!(out.code, Some(0), "{spec}: {out:?}");
                }
            }
        })
    };
    let forged = hosts(&d.ok(&args));
    forger.join().expect("forger");
    assert_eq!(forged, clean);
    assert_eq!(forged[&v4(1, 40)].status, "down");
    assert!(!forged.contains_key(&v4(0, 200)) && !forged.contains_key(&v4(1, 200)));
}

#[test]
fn without_privilege_connect_finds_hosts() {
    let d = disco();
    let out = synscan_as_nobody(&d.scan, &["-sn", "10.79.1.0/26", "-oJ", "-"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.contains("falling back"))
            .count(),
        1,
        "{out:?}"
    );
    let m = hosts(&out.stdout);
    // A refused connection proves the host up; ICMP-only hosts drop TCP.
    assert_eq!(
        up(&m),
        [1u8, 2, 30, 31].iter().map(|h| v4(1, *h)).collect(),
        "{out:?}"
    );
    for h in m.values() {
        assert_eq!(h.reason, "conn-refused");
    }
    // Shards split the hosts, each host's pings all in one shard.
    let shard = |i: &str| {
        let out = synscan_as_nobody(
            &d.scan,
            &[
                "-sn",
                "10.79.1.0/26",
                "--seed",
                "7",
                "--shard",
                i,
                "-oJ",
                "-",
            ],
        );
        assert_eq!(out.code, Some(0), "{out:?}");
        up(&hosts(&out.stdout))
    };
    let (a, b) = (shard("1/2"), shard("2/2"));
    assert!(a.is_disjoint(&b), "{a:?} {b:?}");
    assert_eq!(a.union(&b).cloned().collect::<BTreeSet<_>>(), up(&m));
}

#[test]
fn a_single_host_is_scanned_without_asking_and_outputs_carry_hosts() {
    let mut d = disco();
    d.lab.listen(&d.remote, &[8080]);
    // An address that drops all IP, scanned alone: no discovery, its port filtered.
    let out = d.ok(&[&v4(1, 10), "-p", "8080", "-oJ", "-", "--states", "all"]);
    let records: Vec<&str> = common::records(&out).collect();
    assert_eq!(records.len(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(records[0]).unwrap();
    assert_eq!(
        (v["state"].as_str(), v["port"].as_u64()),
        (Some("filtered"), Some(8080))
    );
    // Text, grepable and XML host lines.
    let dir = tempfile::tempdir().unwrap();
    let f = |n: &str| dir.path().join(n).display().to_string();
    d.ok(&[
        "-sn",
        "10.79.0.0/28",
        "10.79.1.0/28",
        "-oN",
        &f("t.txt"),
        "-oG",
        &f("g.txt"),
        "-oX",
        &f("x.xml"),
    ]);
    let text = std::fs::read_to_string(f("t.txt")).unwrap();
    assert!(
        text.contains(&format!(
            "Scan report for 10.79.0.2\nHost is up, received arp-response.\nMAC Address: {}\n",
            d.local_mac
        )),
        "{text}"
    );
    assert!(
        text.contains("Scan report for 10.79.1.2\nHost is up, received "),
        "{text}"
    );
    assert!(
        text.contains("synscan done: 6 hosts up of 28, 0."),
        "{text}"
    );
    let g = std::fs::read_to_string(f("g.txt")).unwrap();
    assert!(g.contains("Host: 10.79.0.2 ()\tStatus: Up\n"), "{g}");
    assert!(!g.contains("Ports:"), "{g}");
    let x = std::fs::read_to_string(f("x.xml")).unwrap();
    assert!(
        x.contains(&format!(
            "<status state=\"up\" reason=\"arp-response\" reason_ttl=\"0\"/>\n<address addr=\"10.79.0.2\" addrtype=\"ipv4\"/>\n<address addr=\"{}\" addrtype=\"mac\"/>",
            d.local_mac
        )),
        "{x}"
    );
    assert!(!x.contains("<ports>") && !x.contains("<scaninfo"), "{x}");
    // --open keeps the hosts of a ping scan; the list format writes them as masscan --ping.
    let out = d.ok(&[
        "-sn",
        "--open",
        "10.79.1.0/28",
        "-oG",
        "-",
        "-oL",
        &f("l.txt"),
    ]);
    assert!(out.contains("Host: 10.79.1.2 ()\tStatus: Up"), "{out}");
    let l = std::fs::read_to_string(f("l.txt")).unwrap();
    assert!(
        l.lines().any(|x| x.starts_with("open icmp 0 10.79.1.2 ")),
        "{l}"
    );
    // nmap's own tools read it.
    let nd = Command::new("ndiff")
        .arg(f("x.xml"))
        .arg(f("x.xml"))
        .output()
        .unwrap();
    assert_eq!(nd.status.code(), Some(0), "{nd:?}");
    let html = Command::new("xsltproc")
        .arg("/usr/share/nmap/nmap.xsl")
        .arg(f("x.xml"))
        .output()
        .unwrap();
    assert!(html.status.success() && html.stderr.is_empty(), "{html:?}");
    assert!(String::from_utf8_lossy(&html.stdout).contains("10.79.0.2"));
}

#[test]
fn shards_split_discovery_exactly() {
    let d = disco();
    let run = |shard: &str| {
        up(&hosts(&d.ok(&[
            "-sn",
            "10.79.1.0/24",
            "--seed",
            "9",
            "--shard",
            shard,
            "-oJ",
            "-",
        ])))
    };
    let (a, b) = (run("1/2"), run("2/2"));
    assert!(a.is_disjoint(&b), "{a:?} {b:?}");
    let all: BTreeSet<String> = a.union(&b).cloned().collect();
    assert_eq!(
        all,
        [1u8, 2, 20, 21, 30, 31].iter().map(|h| v4(1, *h)).collect()
    );
}

#[test]
fn a_dry_ping_scan_prints_one_ping_line_per_host() {
    let out = common::synscan(&[
        "-sn",
        "--dry-run",
        "-S",
        "10.0.0.1",
        "10.0.0.0/29",
        "--seed",
        "1",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let ips: BTreeSet<&str> = out
        .stdout
        .lines()
        .map(|l| {
            assert!(l.contains(" ping sport=") && l.contains(" cookie="), "{l}");
            l.split(' ').next().unwrap()
        })
        .collect();
    assert_eq!(ips.len(), 6, "{}", out.stdout);
    assert_eq!(out.stdout.lines().count(), 6);
}

#[test]
fn discovery_flags_errors_are_one_line() {
    for (args, want) in [
        (
            vec!["-sn", "-p", "80", "10.0.0.0/30"],
            "-sn (host discovery only) scans no ports: drop -p",
        ),
        (vec!["-sn", "-sU", "10.0.0.0/30"], "drop -sU"),
        (
            vec!["--ping", "bogus", "10.0.0.0/30"],
            "invalid --ping 'bogus'",
        ),
        (
            vec!["-PS99999", "10.0.0.0/30"],
            "invalid ports in --ping 'syn:99999'",
        ),
        (
            vec!["-Pn", "-PE", "10.0.0.0/30"],
            "-Pn skips host discovery",
        ),
        (vec!["-PY", "10.0.0.0/30"], "-PY is not supported"),
        (vec!["-sn", "-Pn", "10.0.0.0/30"], "cannot be used with"),
    ] {
        let out = common::synscan(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// An any-IP prefix behind the router: every address of 10.80.0.0/19 answers, but nft drops
/// all IP to 10.80.0.0/24 (its hosts are down) and TCP 8080 is open everywhere else.
fn any_ip(d: &mut Disco) -> BTreeSet<String> {
    sh(&[
        "ip",
        "-n",
        &d.scan,
        "route",
        "add",
        "10.80.0.0/19",
        "via",
        "10.79.8.2",
    ]);
    let router = format!("{}dr", d.lab.tag);
    sh(&[
        "ip",
        "-n",
        &router,
        "route",
        "add",
        "10.80.0.0/19",
        "via",
        "10.79.1.2",
    ]);
    sh(&[
        "ip",
        "-n",
        &d.remote,
        "route",
        "add",
        "local",
        "10.80.0.0/19",
        "dev",
        "lo",
    ]);
    d.lab.nft(
        &d.remote,
        "table ip g {\n chain in {\n type filter hook input priority 0;\n ip daddr 10.80.0.0/24 drop\n }\n}\n",
    );
    d.lab.listen(&d.remote, &[8080]);
    (1u32..8191)
        .map(|i| std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 80, 0, 0)) + i))
        .filter(|ip| ip.octets()[2] != 0)
        .map(|ip| ip.to_string())
        .collect()
}

/// Packet times in a pcap matching a tcpdump filter, in seconds.
fn times(pcap: &std::path::Path, filter: &str) -> Vec<f64> {
    let out = Command::new("tcpdump")
        .args(["-n", "-tt", "-r"])
        .arg(pcap)
        .arg(filter)
        .output()
        .expect("tcpdump");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn live_hosts_stream_into_the_port_scan_under_one_rate() {
    let mut d = disco();
    let want = any_ip(&mut d);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("s.pcap");
    // Two groups of 4096 hosts: 32k discovery frames and 8k SYNs share 20k probes/s.
    let out = d.ok(&[
        "10.80.0.0/19",
        "-p",
        "8080",
        "--rate",
        "20000",
        "--seed",
        "3",
        "-oJ",
        "-",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    let mut open = BTreeSet::new();
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        if v["state"] == "open" {
            assert!(
                open.insert(v["ip"].as_str().unwrap().to_string()),
                "{l} twice"
            );
        }
    }
    assert_eq!(open, want);
    assert_eq!(up(&hosts(&out)), want);
    // The port scan of the first group began while discovery still pinged the second.
    let syns = times(&pcap, "tcp dst port 8080 and tcp[tcpflags] == tcp-syn");
    let echoes = times(&pcap, "icmp[icmptype] == icmp-echo");
    let first_syn = syns.iter().cloned().fold(f64::MAX, f64::min);
    let last_echo = echoes.iter().cloned().fold(0.0, f64::max);
    assert!(
        first_syn + 0.2 < last_echo,
        "first port probe at {first_syn}, last discovery probe at {last_echo}"
    );
    // --rate bounds both together: no 100 ms window holds much more than 2,000 probes, and
    // the whole run averages 20,000/s.
    // The bound: 2,000, the limiter's 5 ms burst (100), and another 100 because frames
    // allowed in one burst may leave in the next batch (the capture stamps a batch as it
    // leaves), plus a host's 4 pings, which are allowed together. Two senders each drawing
    // on a budget of their own could send twice this.
    let mut all = times(
        &pcap,
        "src host 10.79.8.1 and (icmp or tcp[tcpflags] & tcp-rst == 0)",
    );
    all.sort_by(f64::total_cmp);
    let mut j = 0;
    for i in 0..all.len() {
        while j < all.len() && all[j] < all[i] + 0.1 {
            j += 1;
        }
        assert!(j - i <= 2_204, "{} frames in 100 ms from {}", j - i, all[i]);
    }
    let span = all[all.len() - 1] - all[0];
    assert!(
        (all.len() as f64) <= 20_000.0 * span * 1.02 + 200.0,
        "{} frames in {span:.3} s",
        all.len()
    );
}

#[test]
fn a_scan_with_discovery_resumes_exactly_after_sigint() {
    let mut d = disco();
    let want = any_ip(&mut d);
    let dir = tempfile::tempdir().unwrap();
    let resume = dir.path().join("r.resume");
    let resume = resume.to_str().unwrap();
    let mut cmd = Command::new("ip");
    // At 10,000 probes/s the first group's discovery ends near 1.7 s and the whole scan
    // near 4 s: SIGINT at 2.4 s falls between, with margin on both sides.
    cmd.args(["netns", "exec", &d.scan, bin()]).args([
        "10.80.0.0/19",
        "-p",
        "8080",
        "--rate",
        "10000",
        "--seed",
        "4",
        "-oJ",
        "-",
        "--no-progress",
        "--resume-file",
        resume,
    ]);
    let first = common::run_cmd_signalled(
        cmd,
        b"",
        Duration::from_secs(120),
        Some((Duration::from_millis(2400), "INT")),
    );
    assert!(
        first
            .stderr
            .contains("finish the scan with: synscan --resume"),
        "{first:?}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(resume).unwrap()).unwrap();
    assert!(state["group"].is_array(), "{state}");
    let second = d.ok(&["--resume", resume, "-oJ", "-", "--no-progress"]);
    let mut seen = BTreeSet::new();
    let mut twice = Vec::new();
    let opens = |out: &str| -> Vec<String> {
        out.lines()
            .filter_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["state"] == "open").then(|| v["ip"].as_str().unwrap().to_string())
            })
            .collect()
    };
    let (a, b) = (opens(&first.stdout), opens(&second));
    for ip in a.iter().chain(&b) {
        if !seen.insert(ip.clone()) {
            twice.push(ip.clone());
        }
    }
    assert!(
        twice.is_empty(),
        "{} reported twice ({:?} ...); {} then {} open; state {state}",
        twice.len(),
        &twice[..twice.len().min(5)],
        a.len(),
        b.len()
    );
    let missing: Vec<&String> = want.difference(&seen).take(5).collect();
    let extra: Vec<&String> = seen.difference(&want).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} missing ({missing:?} ...), {} extra ({extra:?} ...); state {state}; first run: {}",
        want.difference(&seen).count(),
        seen.difference(&want).count(),
        first.stderr
    );
    assert!(!std::path::Path::new(resume).exists());
}
