//! Golden tests: every format renders one fixed scan byte for byte as in `tests/golden/`.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test golden` after an intended change.

use super::*;
use crate::event::{PortResult, PortState, Proto, Reason, ScanStats};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn fixed_clock() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_002)
}

fn render(format: Format) -> String {
    let buf = Shared::default();
    let run = RunInfo {
        args: "synscan -sT 127.0.0.1 10.9.9.9 -p 22,80,443,8080 --states open,filtered".into(),
        start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        scans: vec![super::ScanInfo {
            scan_type: "connect",
            proto: Proto::Tcp,
            ports_expr: "22,80,443,8080".into(),
            count: 4,
        }],
        ports_per_host: 4,
        hosts_total: 2,
        resumed: false,
        verbose: 0,
        debug: 0,
        open_only: false,
        discovery: false,
        ping_only: false,
        banners: false,
        identity: identity(),
        merged: false,
    };
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let far: IpAddr = "10.9.9.9".parse().unwrap();
    let mut hosts = crate::target::build_hosts(&[lo.to_string(), far.to_string()], &[]).unwrap();
    hosts.set_name(lo, "localhost".to_string());
    let listed = StateSet::parse("open,filtered").unwrap();
    let mut rep = Reporter::new(
        vec![writer(format, Box::new(buf.clone()))],
        run,
        listed,
        hosts,
    )
    .with_clock(fixed_clock);
    rep.begin().unwrap();
    let r = |ip, port, state, reason, ms: Option<u64>| PortResult {
        ip,
        port,
        proto: crate::event::Proto::Tcp,
        state,
        reason,
        ttl: ms.map(|_| 64),
        rtt: ms.map(Duration::from_micros),
        data: None,
        service: None,
    };
    for res in [
        r(lo, 443, PortState::Closed, Reason::Reset, Some(40)),
        r(lo, 80, PortState::Open, Reason::SynAck, Some(120)),
        r(far, 22, PortState::Filtered, Reason::NoResponse, None),
        r(lo, 22, PortState::Open, Reason::SynAck, Some(95)),
        r(lo, 8080, PortState::Closed, Reason::Reset, Some(33)),
        r(far, 80, PortState::Filtered, Reason::HostUnreach, None),
    ] {
        rep.result(res).unwrap();
    }
    rep.finish(ScanStats {
        hosts_total: 2,
        ports_total: 8,
        ports_done: 6,
        probes_sent: 9,
        open: 2,
        elapsed: Duration::from_millis(1500),
        interrupted: true,
        kernel_drops: None,
        slowed_to: None,
        ..ScanStats::default()
    })
    .unwrap();
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

fn check(format: Format, file: &str) {
    let got = render(format);
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if got != want {
        panic!("{file} differs from golden\n--- want\n{want}\n--- got\n{got}");
    }
}

/// The fixed scan's identity.
fn identity() -> super::Identity {
    super::Identity {
        scan_id: "0123456789abcdef".into(),
        seed: 7,
        shard: crate::target::Shard { index: 1, count: 1 },
        sources: vec!["127.0.0.1".parse().unwrap()],
        scan_argv: vec!["--seed=7".into(), "--".into(), "127.0.0.1".into()],
    }
}

#[test]
fn golden_text() {
    check(Format::Text, "scan.txt");
}

#[test]
fn golden_ndjson() {
    check(Format::Ndjson, "scan.ndjson");
}

#[test]
fn golden_json() {
    check(Format::Json, "scan.json");
    let v: serde_json::Value = serde_json::from_str(&render(Format::Json)).unwrap();
    // The header, four results, the end record.
    assert_eq!(v.as_array().map(Vec::len), Some(6));
}

#[test]
fn golden_csv() {
    check(Format::Csv, "scan.csv");
}

#[test]
fn golden_grepable() {
    check(Format::Grepable, "scan.gnmap");
}

#[test]
fn golden_list() {
    check(Format::List, "scan.list");
}

#[test]
fn golden_xml() {
    check(Format::Xml, "scan.xml");
}

#[test]
fn every_ndjson_line_is_one_object() {
    let text = render(Format::Ndjson);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().map(|v| &v["type"]), Some(&"scan".into()));
    assert_eq!(lines.last().map(|v| &v["type"]), Some(&"end".into()));
    for v in &lines[1..lines.len() - 1] {
        assert!(v.is_object() && v.get("type").is_none());
        assert_eq!(v["proto"], "tcp");
    }
}

/// Every format of a scan whose silent ports are open|filtered (as UDP's are): three
/// open|filtered, one open, one closed on 127.0.0.1; `--states` as `listed`.
fn render_open_filtered(format: Format, listed: &str) -> String {
    let buf = Shared::default();
    let run = RunInfo {
        args: "synscan 127.0.0.1 -p 1-5".into(),
        start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        scans: vec![super::ScanInfo {
            scan_type: "syn",
            proto: Proto::Tcp,
            ports_expr: "1-5".into(),
            count: 5,
        }],
        ports_per_host: 5,
        hosts_total: 1,
        resumed: false,
        verbose: 1,
        debug: 0,
        open_only: false,
        discovery: false,
        ping_only: false,
        banners: false,
        identity: identity(),
        merged: false,
    };
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let hosts = crate::target::build_hosts(&[lo.to_string()], &[]).unwrap();
    let mut rep = Reporter::new(
        vec![writer(format, Box::new(buf.clone()))],
        run,
        StateSet::parse(listed).unwrap(),
        hosts,
    )
    .with_clock(fixed_clock);
    rep.begin().unwrap();
    let r = |port, state, reason| PortResult {
        ip: lo,
        port,
        proto: crate::event::Proto::Udp,
        state,
        reason,
        ttl: None,
        rtt: None,
        data: None,
        service: None,
    };
    for res in [
        r(1, PortState::Open, Reason::SynAck),
        r(2, PortState::Closed, Reason::PortUnreach),
        r(3, PortState::OpenFiltered, Reason::NoResponse),
        r(4, PortState::OpenFiltered, Reason::NoResponse),
        r(5, PortState::OpenFiltered, Reason::NoResponse),
    ] {
        rep.result(res).unwrap();
    }
    rep.finish(ScanStats {
        hosts_total: 1,
        ports_total: 5,
        ports_done: 5,
        ..ScanStats::default()
    })
    .unwrap();
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn open_filtered_is_counted_listed_and_named_as_nmap_does() {
    assert_eq!(
        PortState::parse("open|filtered"),
        Some(PortState::OpenFiltered)
    );
    assert!(StateSet::parse("open|filtered").is_ok());
    let e = StateSet::parse("maybe").unwrap_err();
    assert!(e.contains("open|filtered"), "{e}");
    // Counted but not listed.
    let text = render_open_filtered(Format::Text, "open");
    assert!(
        text.contains(
            "Not shown: 1 closed port (port-unreach), 0 filtered ports, 3 open|filtered ports (no-response)"
        ),
        "{text}"
    );
    let xml = render_open_filtered(Format::Xml, "open");
    assert!(
        xml.contains(r#"<extraports state="open|filtered" count="3">"#)
            && xml.contains(r#"<extrareasons reason="no-response" count="3""#),
        "{xml}"
    );
    let gnmap = render_open_filtered(Format::Grepable, "open");
    assert!(
        gnmap.contains("Ignored State: open|filtered (3)"),
        "{gnmap}"
    );
    // Listed.
    let nd = render_open_filtered(Format::Ndjson, "all");
    assert_eq!(nd.matches(r#""state":"open|filtered""#).count(), 3, "{nd}");
    let xml = render_open_filtered(Format::Xml, "open|filtered");
    assert_eq!(
        xml.matches(r#"<state state="open|filtered" reason="no-response""#)
            .count(),
        3,
        "{xml}"
    );
    let csv = render_open_filtered(Format::Csv, "all");
    assert_eq!(
        csv.matches(",open|filtered,no-response,").count(),
        3,
        "{csv}"
    );
    let text = render_open_filtered(Format::Text, "all");
    let rows = text
        .lines()
        .filter(|l| l.contains("/udp open|filtered ") && l.ends_with(" no-response"))
        .count();
    assert_eq!(rows, 3, "{text}");
    let gnmap = render_open_filtered(Format::Grepable, "all");
    assert!(gnmap.contains("3/open|filtered/udp//"), "{gnmap}");
}
