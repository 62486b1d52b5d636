//! The engine's logic over the in-memory fake link: retries, cool-down, congestion back-off,
//! dedup and resume, on exact traffic with no socket or namespace. Each test's network model
//! is a closure that sees every frame sent and answers like a host would.

use super::*;
use crate::event::{PortState, Proto, Reason};
use crate::link::fake::{Answer, FakeNet};
use crate::probe::TcpSyn;
use crate::route;
use crate::target::Shard;
use crate::wire::{
    EthernetRepr, Ipv4Repr, Ipv6Repr, Network, TcpRepr, Transport, parse_ethernet, tcp, tcp_flags,
};
use pnet::datalink::NetworkInterface;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

const US: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);
const THEM: MacAddr = MacAddr(2, 0, 0, 0, 0, 2);

fn addrs(v6: bool) -> (IpAddr, IpAddr) {
    if v6 {
        (
            "fd93::1".parse().expect("literal"),
            "fd93::2".parse().expect("literal"),
        )
    } else {
        (
            "10.9.0.1".parse().expect("literal"),
            "10.9.0.2".parse().expect("literal"),
        )
    }
}

fn options() -> Options {
    Options {
        rate: None,
        min_rate: None,
        retries: 2,
        max_retries: 2,
        wait: None,
        timeout: Duration::from_secs(2),
        min_rtt: Duration::from_millis(10),
        initial_rtt: None,
        deadline: None,
        detail: 0,
        sport: 40000,
        fixed_sport: false,
        reset: true,
        ttl: 64,
        segment: SEGMENT,
        patient: false,
        pace: None,
    }
}

/// A scan of one target's `ports` over `net`.
fn scan(v6: bool, ports: &[u16], opts: Options, net: &FakeNet) -> Scan {
    scan_from(v6, ports, opts, net, 0)
}

/// The same, its walk starting at position `start` (a resumed scan).
fn scan_from(v6: bool, ports: &[u16], opts: Options, net: &FakeNet, start: u64) -> Scan {
    scan_resumed(v6, ports, opts, net, start, vec![])
}

/// The same, with the positions of `done` reported by the interrupted run.
fn scan_resumed(
    v6: bool,
    ports: &[u16],
    opts: Options,
    net: &FakeNet,
    start: u64,
    done: Vec<(u64, u64)>,
) -> Scan {
    let (_, dst) = addrs(v6);
    let n = route::to_u128(dst);
    let runs = vec![Run {
        first: n,
        last: n,
        gateway: None,
    }];
    let ports = PortList::from_ports(ports.to_vec());
    fake_scan(v6, runs, ports, 7, opts, net, (start, done))
}

/// TCP SYN probes, but silence means open|filtered: how a UDP module reports silent ports.
struct SilenceIsOpenFiltered(TcpSyn);

impl Probe for SilenceIsOpenFiltered {
    fn name(&self) -> &'static str {
        "test"
    }
    fn proto(&self) -> Proto {
        self.0.proto()
    }
    fn frame_len(&self) -> usize {
        self.0.frame_len()
    }
    fn reply_protocols(&self) -> &'static [u8] {
        self.0.reply_protocols()
    }
    fn write(&self, buf: &mut [u8], spec: &crate::probe::ProbeSpec) {
        self.0.write(buf, spec)
    }
    fn classify(
        &self,
        net: &Network,
        ip: &[u8],
        v: &dyn crate::probe::Validate,
    ) -> Option<crate::probe::Reply> {
        self.0.classify(net, ip, v)
    }
    fn follow_up(&self, reply: &crate::probe::Reply, mac: MacAddr, out: &mut Vec<u8>) -> bool {
        self.0.follow_up(reply, mac, out)
    }
    fn unanswered(&self) -> PortState {
        PortState::OpenFiltered
    }
}

/// A scan from our address of `v6`'s family of the hosts of `runs` × `ports` in the order of
/// `seed`, over `net`, resuming at `resume` (start, done positions).
fn fake_scan(
    v6: bool,
    runs: Vec<Run>,
    ports: PortList,
    seed: u64,
    opts: Options,
    net: &FakeNet,
    resume: (u64, Vec<(u64, u64)>),
) -> Scan {
    let (src, _) = addrs(v6);
    let probe = Box::new(TcpSyn::new(US, src, opts.ttl, 1460, 1024));
    fake_scan_with(probe, v6, runs, ports, seed, opts, net, resume)
}

/// [`fake_scan`] with another probe module.
#[allow(clippy::too_many_arguments)]
fn fake_scan_with(
    probe: Box<dyn Probe>,
    v6: bool,
    runs: Vec<Run>,
    ports: PortList,
    seed: u64,
    opts: Options,
    net: &FakeNet,
    resume: (u64, Vec<(u64, u64)>),
) -> Scan {
    let (src, _) = addrs(v6);
    let ranges: Vec<(u128, u128)> = runs.iter().map(|r| (r.first, r.last)).collect();
    let hosts = if v6 {
        HostSet::new(vec![], ranges, vec![], vec![])
    } else {
        HostSet::new(ranges, vec![], vec![], vec![])
    }
    .expect("hosts");
    let order = ScanOrder::new(&hosts, &ports, seed, Shard::default());
    let iface = NetworkInterface {
        name: "fake0".into(),
        description: String::new(),
        index: 9,
        mac: Some(US),
        ips: vec![],
        flags: 0,
    };
    let job = Job {
        hosts,
        runs: vec![],
        ports,
        order,
        path: route::Path::on(iface, src),
        router_mac: None,
        probe,
        cookie: Cookie::from_key([1, 2]),
        opts,
        recorder: None,
        start: resume.0,
        done: resume.1,
    };
    let channels = Channels {
        tx: Box::new(net.tx(16)),
        rx: Box::new(net.rx()),
        reply: Box::new(net.tx(1)),
        framing: Framing::Ethernet,
    };
    Scan::with_hops(job, NextHops::fixed(v6, runs, THEM), channels)
}

/// A probe as the target sees it.
#[derive(Debug, Clone, Copy)]
struct Syn {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    flags: u8,
    tsval: Option<u32>,
}

fn read(frame: &[u8]) -> Syn {
    let (_, net) = parse_ethernet(frame).expect("the engine sends well-formed frames");
    let (src, dst, t) = match net {
        Network::Ipv4(ip, Transport::Tcp(t)) => (IpAddr::V4(ip.src), IpAddr::V4(ip.dst), t),
        Network::Ipv6(ip, Transport::Tcp(t)) => (IpAddr::V6(ip.src), IpAddr::V6(ip.dst), t),
        n => panic!("not a TCP frame: {n:?}"),
    };
    Syn {
        src,
        dst,
        sport: t.src_port,
        dport: t.dst_port,
        seq: t.seq,
        flags: t.flags,
        tsval: t.timestamps.map(|(v, _)| v),
    }
}

/// The target's answer to `p`: a segment with `flags` and `ack`, echoing its timestamp.
fn answer(p: &Syn, flags: u8, ack: u32) -> Vec<u8> {
    let mut t = TcpRepr::new(p.dport, p.sport, 0x1234_5678, ack, flags);
    t.window = 65535;
    t.timestamps = p.tsval.map(|v| (1, v));
    let tl = t.buffer_len();
    let ip_len = if p.src.is_ipv6() { 40 } else { 20 };
    let mut f = vec![0u8; 14 + ip_len + tl];
    EthernetRepr {
        dst: US,
        src: THEM,
        ethertype: if p.src.is_ipv6() { 0x86dd } else { 0x0800 },
        vlan: None,
    }
    .emit(&mut f);
    match (p.dst, p.src) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Ipv4Repr::new(s, d, 6, 61, tl).emit(&mut f[14..]),
        (IpAddr::V6(s), IpAddr::V6(d)) => Ipv6Repr::new(s, d, 6, 61, tl).emit(&mut f[14..]),
        _ => unreachable!("one family per probe"),
    }
    t.emit(&mut f[14 + ip_len..]);
    tcp::Packet::new_unchecked(&mut f[14 + ip_len..]).fill_checksum(p.dst, p.src);
    f
}

fn now(frame: Vec<u8>) -> Answer {
    vec![(Duration::ZERO, frame)]
}

fn synack(p: &Syn) -> Vec<u8> {
    answer(p, tcp_flags::SYN | tcp_flags::ACK, p.seq.wrapping_add(1))
}

fn rst(p: &Syn) -> Vec<u8> {
    answer(p, tcp_flags::RST | tcp_flags::ACK, p.seq.wrapping_add(1))
}

fn run(s: Scan) -> (BTreeMap<u16, PortResult>, ScanStats) {
    let mut out = Vec::new();
    let stats = s.run(&mut out, &AtomicBool::new(false)).expect("scan runs");
    let mut by_port = BTreeMap::new();
    for r in out {
        let port = r.port;
        assert!(
            by_port.insert(port, r).is_none(),
            "port {port} reported twice"
        );
    }
    (by_port, stats)
}

fn states(r: &BTreeMap<u16, PortResult>) -> Vec<(u16, PortState, Reason)> {
    r.values().map(|r| (r.port, r.state, r.reason)).collect()
}

/// SYNs sent per destination port (follow-up RSTs left out).
fn syns_per_port(net: &FakeNet) -> BTreeMap<u16, usize> {
    let mut m = BTreeMap::new();
    for f in net.sent() {
        let s = read(&f);
        if s.flags == tcp_flags::SYN {
            *m.entry(s.dport).or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn retries_go_only_to_unanswered_pairs_in_both_families() {
    for v6 in [false, true] {
        // 80 open, 81 closed, 82 silent, 83 drops the first SYN then answers.
        let seen83 = Mutex::new(0);
        let net = FakeNet::new(Box::new(move |f: &[u8]| {
            let p = read(f);
            if p.flags != tcp_flags::SYN {
                return vec![];
            }
            match p.dport {
                80 => now(synack(&p)),
                81 => now(rst(&p)),
                83 => {
                    let mut n = seen83.lock().expect("one model thread");
                    *n += 1;
                    if *n == 1 { vec![] } else { now(synack(&p)) }
                }
                _ => vec![],
            }
        }));
        let (res, stats) = run(scan(v6, &[80, 81, 82, 83], options(), &net));
        let (_, dst) = addrs(v6);
        assert!(res.values().all(|r| r.ip == dst && r.proto == Proto::Tcp));
        assert_eq!(
            states(&res),
            vec![
                (80, PortState::Open, Reason::SynAck),
                (81, PortState::Closed, Reason::Reset),
                (82, PortState::Filtered, Reason::NoResponse),
                (83, PortState::Open, Reason::SynAck),
            ],
            "v6={v6}"
        );
        assert_eq!(res[&80].ttl, Some(61));
        assert!(res[&80].rtt.is_some(), "the echoed timestamp gives an RTT");
        // Retries go to the unanswered only: 82 gets 1 + 2, 83 gets 2.
        assert_eq!(
            syns_per_port(&net),
            BTreeMap::from([(80, 1), (81, 1), (82, 3), (83, 2)]),
            "v6={v6}"
        );
        assert_eq!(stats.probes_sent, 7);
        assert_eq!(stats.open, 2);
        // Each retry comes from the next source port; each open port gets one RST back for
        // the SYN-ACK, from the probe's port with seq = cookie + 1.
        let sent = net.sent();
        let mut sports: HashMap<u16, Vec<u16>> = HashMap::new();
        let mut resets = Vec::new();
        for f in &sent {
            let s = read(f);
            if s.flags == tcp_flags::SYN {
                sports.entry(s.dport).or_default().push(s.sport);
            } else {
                assert_eq!(s.flags, tcp_flags::RST);
                resets.push(s.dport);
            }
        }
        assert_eq!(sports[&82], vec![40000, 40001, 40002]);
        resets.sort_unstable();
        assert_eq!(resets, vec![80, 83]);
    }
}

#[test]
fn duplicate_and_forged_answers_change_nothing() {
    let net = FakeNet::new(Box::new(|f: &[u8]| {
        let p = read(f);
        if p.flags != tcp_flags::SYN {
            return vec![];
        }
        let mut wrong_port = p;
        wrong_port.sport = 40007;
        let mut forged_ack = p;
        forged_ack.seq = p.seq ^ 0x8000;
        let mut other_target = p;
        other_target.dport = 9999;
        let mut a = vec![];
        match p.dport {
            // Answered three times, plus forgeries that would make it closed.
            80 => {
                for _ in 0..3 {
                    a.push((Duration::ZERO, synack(&p)));
                }
                a.push((Duration::ZERO, rst(&forged_ack)));
                a.push((Duration::ZERO, rst(&wrong_port)));
            }
            // Silent, but forged SYN-ACKs arrive: a wrong ack, a port we do not use, a port
            // we do not scan. (Checksums are not what stops forgeries, and are not checked:
            // frames the kernel sends on loopback and veth are captured with checksums left
            // to offload.)
            81 => {
                a.push((Duration::ZERO, synack(&forged_ack)));
                a.push((Duration::ZERO, synack(&wrong_port)));
                a.push((Duration::ZERO, synack(&other_target)));
            }
            _ => {}
        }
        a
    }));
    let mut o = options();
    o.retries = 1;
    o.max_retries = 1;
    let (res, stats) = run(scan(false, &[80, 81], o, &net));
    assert_eq!(
        states(&res),
        vec![
            (80, PortState::Open, Reason::SynAck),
            (81, PortState::Filtered, Reason::NoResponse),
        ]
    );
    assert_eq!(stats.open, 1);
    // One RST for the one result, however many SYN-ACKs came.
    let resets = net
        .sent()
        .iter()
        .filter(|f| read(f).flags == tcp_flags::RST)
        .count();
    assert_eq!(resets, 1);
}

#[test]
fn the_cool_down_waits_for_late_answers_and_wait_is_exact() {
    let late = |delay: Duration| {
        FakeNet::new(Box::new(move |f: &[u8]| {
            let p = read(f);
            if p.flags == tcp_flags::SYN {
                vec![(delay, synack(&p))]
            } else {
                vec![]
            }
        }))
    };
    // Nothing answered within the first pass: the cool-down (at most --timeout) waits for
    // answers 300 ms late, and no retry is needed.
    let net = late(Duration::from_millis(300));
    let mut o = options();
    o.retries = 0;
    o.max_retries = 0;
    let (res, _) = run(scan(false, &[1, 2, 3], o.clone(), &net));
    assert!(res.values().all(|r| r.state == PortState::Open), "{res:?}");
    assert_eq!(syns_per_port(&net).values().sum::<usize>(), 3);
    // --wait is exact: answers later than it are not waited for.
    let net = late(Duration::from_millis(400));
    o.wait = Some(Duration::from_millis(30));
    let (res, _) = run(scan(false, &[1, 2, 3], o, &net));
    assert!(
        res.values()
            .all(|r| (r.state, r.reason) == (PortState::Filtered, Reason::NoResponse)),
        "{res:?}"
    );
}

#[test]
fn the_cool_down_adapts_to_the_rtts_seen() {
    // Answers in about 1 ms and a 60 s timeout: the cool-down follows the RTTs, so the scan
    // (three passes for the silent port) ends long before one timeout would.
    let net = FakeNet::new(Box::new(|f: &[u8]| {
        let p = read(f);
        if p.flags == tcp_flags::SYN && p.dport != 9 {
            vec![(Duration::from_millis(1), rst(&p))]
        } else {
            vec![]
        }
    }));
    let mut o = options();
    o.timeout = Duration::from_secs(60);
    let ports: Vec<u16> = (1..=50).collect();
    let (res, stats) = run(scan(false, &ports, o, &net));
    assert_eq!(res.len(), 50);
    assert_eq!(
        (res[&9].state, res[&9].reason),
        (PortState::Filtered, Reason::NoResponse)
    );
    assert!(
        stats.elapsed < Duration::from_secs(30),
        "cool-downs did not adapt: {:?}",
        stats.elapsed
    );
}

/// A path that carries `per_sec` packets a second (a token bucket of `burst`) and drops the
/// rest; every port that gets through is open.
fn bottleneck(per_sec: f64, burst: f64) -> FakeNet {
    let mut tokens = burst;
    let mut last = Instant::now();
    FakeNet::new(Box::new(move |f: &[u8]| {
        let p = read(f);
        if p.flags != tcp_flags::SYN {
            return vec![];
        }
        let t = Instant::now();
        tokens = (tokens + t.duration_since(last).as_secs_f64() * per_sec).min(burst);
        last = t;
        if tokens < 1.0 {
            return vec![];
        }
        tokens -= 1.0;
        now(synack(&p))
    }))
}

#[test]
fn loss_at_speed_slows_the_scan_until_every_port_is_found() {
    // Unlimited sending into a path that carries 3000 probes a second: resent probes are
    // answered like first ones, so congestion control slows down, and extra passes go on
    // while they still find ports, until all 3000 are found.
    let net = bottleneck(3000.0, 30.0);
    let mut o = options();
    o.max_retries = 40;
    let ports: Vec<u16> = (1000..4000).collect();
    let (res, stats) = run(scan(false, &ports, o, &net));
    assert_eq!(res.len(), 3000);
    let open = res.values().filter(|r| r.state == PortState::Open).count();
    assert_eq!(open, 3000, "ports lost: {:?}", stats);
    let slowed = stats.slowed_to.expect("congestion control slowed down");
    assert!(slowed < 100_000, "slowed only to {slowed}/s");
}

#[test]
fn random_loss_is_retried_without_slowing_down() {
    // A third of the probes lost at random (a fixed LCG stream): more passes, same speed.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let net = FakeNet::new(Box::new(move |f: &[u8]| {
        let p = read(f);
        if p.flags != tcp_flags::SYN {
            return vec![];
        }
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        if (state >> 33).is_multiple_of(3) {
            vec![]
        } else {
            now(rst(&p))
        }
    }));
    let mut o = options();
    o.retries = 2;
    o.max_retries = 30;
    let ports: Vec<u16> = (1..=2000).collect();
    let (res, stats) = run(scan(true, &ports, o, &net));
    let closed = res
        .values()
        .filter(|r| (r.state, r.reason) == (PortState::Closed, Reason::Reset))
        .count();
    assert_eq!(closed, 2000);
    assert_eq!(stats.slowed_to, None);
    assert!(stats.probes_sent > 2000);
}

#[test]
fn a_resumed_scan_neither_probes_nor_reports_what_was_reported() {
    let net = FakeNet::new(Box::new(|f: &[u8]| {
        let p = read(f);
        if p.flags == tcp_flags::SYN {
            now(rst(&p))
        } else {
            vec![]
        }
    }));
    let ports: Vec<u16> = (1..=20).collect();
    // The interrupted run reported everything before position 4, and positions 9 and 12.
    let probe = scan(
        true,
        &ports,
        options(),
        &FakeNet::new(Box::new(|_: &[u8]| vec![])),
    );
    let port_at = |pos: u64| ports[probe.plan.order.pair_at_position(pos).1];
    let reported: Vec<u16> = (0..4).chain([9, 12]).map(port_at).collect();
    let s = scan_resumed(true, &ports, options(), &net, 4, vec![(9, 10), (12, 13)]);
    let (res, _) = run(s);
    let want: Vec<u16> = (1..=20).filter(|p| !reported.contains(p)).collect();
    assert_eq!(res.keys().copied().collect::<Vec<_>>(), want);
    let sent = syns_per_port(&net);
    assert_eq!(sent.keys().copied().collect::<Vec<_>>(), want);
    assert!(sent.values().all(|&n| n == 1));
}

#[test]
fn a_resumed_walk_starts_at_its_saved_position() {
    let net = FakeNet::new(Box::new(|_: &[u8]| vec![]));
    let ports: Vec<u16> = (1..=10).collect();
    let mut o = options();
    o.retries = 0;
    o.max_retries = 0;
    o.wait = Some(Duration::from_millis(1));
    let s = scan_from(false, &ports, o, &net, 6);
    let order: Vec<u16> = (0..10)
        .map(|pos| ports[s.plan.order.pair_at_position(pos).1])
        .collect();
    let (res, _) = run(s);
    let sent: Vec<u16> = net.sent().iter().map(|f| read(f).dport).collect();
    assert_eq!(sent, order[6..].to_vec());
    assert_eq!(
        res.len(),
        4,
        "only the pairs from the saved position are reported"
    );
}

#[test]
fn a_past_deadline_sends_nothing_and_reports_no_guess() {
    let net = FakeNet::new(Box::new(|f: &[u8]| now(rst(&read(f)))));
    let mut o = options();
    o.deadline = Some(Instant::now());
    let (res, stats) = run(scan(false, &[1, 2, 3], o, &net));
    assert!(stats.timed_out);
    assert!(res.is_empty(), "{res:?}");
    assert!(net.sent().is_empty());
}

/// A fixed hash of a pair, for the fake Internet below.
fn pair_hash(ip: u32, port: u16) -> u64 {
    let mut s = (u64::from(ip) << 16) | u64::from(port);
    crate::target::splitmix64(&mut s)
}

/// Counts results by state, with a checksum of the pairs in each: a pair reported twice or
/// never changes a sum.
#[derive(Default)]
struct Tally {
    n: [u64; 3],
    sum: [u64; 3],
}

impl ResultSink for Tally {
    fn result(&mut self, r: PortResult) -> std::io::Result<()> {
        let IpAddr::V4(ip) = r.ip else {
            panic!("an IPv4 scan reported {}", r.ip);
        };
        let k = r.state as usize;
        self.n[k] += 1;
        self.sum[k] = self.sum[k].wrapping_add(pair_hash(ip.into(), r.port));
        Ok(())
    }
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// 2^28 pairs (2^24 hosts x 16 ports, a /8's worth of a 16-port sweep) through the fake
/// link: one pair in 64 answers (SYN-ACK on even ports, RST on odd), and one answer in eight
/// is lost on the first attempt. Every answering pair must be found through its retry,
/// every other pair reported filtered once, retries must go exactly to the unanswered pairs,
/// and memory must stay flat while 64 segments go by.
#[test]
fn two_to_the_28_pairs_in_flat_memory_with_exact_retries() {
    const BASE: u32 = 0x0a00_0000;
    const HOSTS: u64 = 1 << 24;
    const SPORT: u16 = 40000;
    let answers = |h: u64| h.is_multiple_of(64);
    let lost_first = |h: u64| (h >> 8).is_multiple_of(8);
    let net = FakeNet::counting(Box::new(move |f: &[u8]| {
        // IPv4 TCP SYNs only, read at fixed offsets (the engine writes no IP options).
        if f.len() < 54 || f[12..14] != [8, 0] || f[23] != 6 || f[47] & tcp_flags::SYN == 0 {
            return vec![];
        }
        let ip = u32::from_be_bytes([f[30], f[31], f[32], f[33]]);
        let sport = u16::from_be_bytes([f[34], f[35]]);
        let dport = u16::from_be_bytes([f[36], f[37]]);
        let h = pair_hash(ip, dport);
        if !answers(h) || (sport == SPORT && lost_first(h)) {
            return vec![];
        }
        let p = read(f);
        now(if dport.is_multiple_of(2) {
            synack(&p)
        } else {
            rst(&p)
        })
    }));
    let mut o = options();
    o.retries = 1;
    o.max_retries = 1;
    o.reset = false;
    o.sport = SPORT;
    let first = u128::from(BASE);
    let runs = vec![Run {
        first,
        last: first + u128::from(HOSTS) - 1,
        gateway: None,
    }];
    let ports = PortList::from_ports((1..=16).collect());
    let scan = fake_scan(false, runs, ports, 11, o, &net, (0, vec![]));
    // RSS every 100 ms while the scan runs.
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) && samples.len() < 36_000 {
                samples.push(vm_rss_kib());
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        })
    };
    let mut tally = Tally::default();
    let stats = scan
        .run(&mut tally, &AtomicBool::new(false))
        .expect("scan runs");
    done.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("sampler");
    // Ground truth, pair by pair.
    let mut want = Tally::default();
    let mut first_answers = 0u64;
    for i in 0..HOSTS as u32 {
        for port in 1..=16u16 {
            let h = pair_hash(BASE + i, port);
            let state = match (answers(h), port % 2 == 0) {
                (false, _) => PortState::Filtered,
                (true, true) => PortState::Open,
                (true, false) => PortState::Closed,
            };
            want.n[state as usize] += 1;
            want.sum[state as usize] = want.sum[state as usize].wrapping_add(h);
            first_answers += u64::from(answers(h) && !lost_first(h));
        }
    }
    assert_eq!(tally.n, want.n, "results per state");
    assert_eq!(tally.sum, want.sum, "the same pairs in each state");
    let pairs = HOSTS * 16;
    assert_eq!(
        net.sent_count(),
        pairs + (pairs - first_answers),
        "one retry for each pair unanswered after the first attempt, none for the others"
    );
    assert_eq!(stats.probes_sent, net.sent_count());
    assert_eq!(stats.ports_done, pairs);
    // Flat: after the first tenth of the run, RSS grows by less than 8 MiB.
    let settled = samples.len() / 10;
    assert!(
        samples.len() >= 20,
        "the run took {} samples",
        samples.len()
    );
    let base = samples[settled];
    let peak = samples[settled..].iter().copied().max().unwrap_or(0);
    eprintln!(
        "2^28 pairs: {} probes, RSS {base} KiB at a tenth of the run, peak {peak} KiB after, {} samples",
        net.sent_count(),
        samples.len()
    );
    assert!(
        peak < base + 8 * 1024,
        "RSS grew from {base} KiB to {peak} KiB: {:?}",
        &samples[..samples.len().min(50)]
    );
}

#[test]
fn the_probe_module_names_the_state_of_silent_pairs() {
    // Port 80 answers SYN-ACK, 81 RST, the rest never answer.
    let net = FakeNet::new(Box::new(|f: &[u8]| {
        let p = read(f);
        match (p.flags == tcp_flags::SYN, p.dport) {
            (true, 80) => now(synack(&p)),
            (true, 81) => now(rst(&p)),
            _ => vec![],
        }
    }));
    let (src, dst) = addrs(false);
    let n = route::to_u128(dst);
    let runs = vec![Run {
        first: n,
        last: n,
        gateway: None,
    }];
    let mut o = options();
    o.retries = 1;
    o.max_retries = 1;
    let probe = Box::new(SilenceIsOpenFiltered(TcpSyn::new(US, src, 64, 1460, 1024)));
    let ports = PortList::from_ports(vec![79, 80, 81, 82]);
    let (res, _) = run(fake_scan_with(
        probe,
        false,
        runs,
        ports,
        7,
        o,
        &net,
        (0, vec![]),
    ));
    assert_eq!(
        states(&res),
        vec![
            (79, PortState::OpenFiltered, Reason::NoResponse),
            (80, PortState::Open, Reason::SynAck),
            (81, PortState::Closed, Reason::Reset),
            (82, PortState::OpenFiltered, Reason::NoResponse),
        ]
    );
}
