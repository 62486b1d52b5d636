//! Links without a link layer (tun, WireGuard): a real SYN scan through the layer-3 raw path,
//! IPv4 and IPv6. Two namespaces, each with a tun device, joined by a small userspace
//! forwarder that this test runs (this kernel has tun but no wireguard or ipip module).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

/// Copies packets between tun device `a` (in the namespace it is started in) and tun device
/// `b` in namespace `ns_b`, both already created; prints `ready` once attached to both, and
/// exits by itself after 120 s.
const FORWARDER: &str = r#"
import ctypes, fcntl, os, select, struct, sys, time
TUNSETIFF, IFF_TUN, IFF_NO_PI, CLONE_NEWNET = 0x400454ca, 0x0001, 0x1000, 0x40000000
def attach(name):
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
    return fd
a = attach(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
ns = os.open('/run/netns/' + sys.argv[3], os.O_RDONLY)
if libc.setns(ns, CLONE_NEWNET) != 0:
    raise OSError(ctypes.get_errno(), 'setns')
b = attach(sys.argv[2])
print('ready', flush=True)
peer = {a: b, b: a}
end = time.time() + 120
while time.time() < end:
    ready, _, _ = select.select([a, b], [], [], 0.5)
    for fd in ready:
        try:
            os.write(peer[fd], os.read(fd, 65536))
        except OSError:
            pass
"#;

#[test]
fn a_tun_link_gets_a_real_syn_scan_in_both_families() {
    let mut lab = Lab::new();
    let scan = lab.netns("ts");
    let tgt = lab.netns("tt");
    let (ta, tb) = (format!("{}ta", lab.tag), format!("{}tb", lab.tag));
    for (ns, dev, v4, v6) in [
        (&scan, &ta, "10.205.0.1/24", "fd95::1/64"),
        (&tgt, &tb, "10.205.0.2/24", "fd95::2/64"),
    ] {
        lab.exec(ns, &["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
        lab.exec(ns, &["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
        lab.exec(ns, &["ip", "tuntap", "add", "dev", dev, "mode", "tun"]);
        lab.exec(ns, &["ip", "addr", "add", v4, "dev", dev]);
        lab.exec(ns, &["ip", "-6", "addr", "add", v6, "dev", dev, "nodad"]);
        lab.exec(ns, &["ip", "link", "set", dev, "up"]);
    }
    lab.listen(&tgt, &[22, 8080]);
    lab.listen6(&tgt, &[22, 8443]);
    lab.nft(
        &tgt,
        "table inet t {\n chain in {\n  type filter hook input priority 0;\n  tcp dport 81 drop\n }\n}\n",
    );
    let fwd = lab.spawn_in(&scan, &["python3", "-c", FORWARDER, &ta, &tb, &tgt]);
    let mut line = String::new();
    BufReader::new(fwd.stdout.take().expect("forwarder stdout"))
        .read_line(&mut line)
        .expect("forwarder ready line");
    assert_eq!(line.trim(), "ready", "forwarder did not start");

    let out = synscan_in(
        Some(&scan),
        &[
            "-sS",
            "-Pn",
            "10.205.0.2",
            "fd95::2",
            "10.205.0.9",
            "-p",
            "22,80,81,8080,8443",
            "--states",
            "all",
            "--format",
            "ndjson",
        ],
        b"",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    // No fallback notice: a raw SYN scan, as the reasons show.
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let got: BTreeMap<(String, u16), (String, String)> = parse_ndjson(&out.stdout)
        .into_iter()
        .map(|l| ((l.ip, l.port), (l.state, l.reason)))
        .collect();
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    let mut want = BTreeMap::new();
    for p in [22u16, 80, 81, 8080, 8443] {
        let v4 = match p {
            22 | 8080 => s("open", "syn-ack"),
            81 => s("filtered", "no-response"),
            _ => s("closed", "reset"),
        };
        let v6 = match p {
            22 | 8443 => s("open", "syn-ack"),
            81 => s("filtered", "no-response"),
            _ => s("closed", "reset"),
        };
        want.insert(("10.205.0.2".to_string(), p), v4);
        want.insert(("fd95::2".to_string(), p), v6);
        // Forwarded to a host that is not there: no link layer to ask, so no answer.
        want.insert(("10.205.0.9".to_string(), p), s("filtered", "no-response"));
    }
    assert_eq!(got, want);
}
