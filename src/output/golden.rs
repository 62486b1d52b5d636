//! Golden tests: every format renders one fixed scan byte for byte as in `tests/golden/`.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test golden` after an intended change.

use super::*;
use crate::event::{PortResult, PortState, Reason, ScanStats};
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
        scan_type: "connect",
        ports_expr: "22,80,443,8080".into(),
        ports_per_host: 4,
        hosts_total: 2,
        resumed: false,
        verbose: 0,
        debug: 0,
        open_only: false,
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
    assert_eq!(v.as_array().map(Vec::len), Some(4));
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
    for line in render(Format::Ndjson).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.is_object());
        assert_eq!(v["proto"], "tcp");
    }
}
