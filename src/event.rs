//! What every engine produces and every output format consumes: one [`PortResult`] per
//! (host, port), and the [`ScanStats`] of the run.

use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Port state, as nmap names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    /// Something accepted the connection (SYN-ACK).
    Open,
    /// The host answered that nothing listens (RST / connection refused).
    Closed,
    /// No answer, or an ICMP error: a firewall or the path is in the way.
    Filtered,
    /// No answer where silence is what an open port gives too (UDP): open or filtered.
    #[serde(rename = "open|filtered")]
    OpenFiltered,
}

impl PortState {
    /// Every state, in reporting order.
    pub const ALL: [PortState; 4] = [
        PortState::Open,
        PortState::Closed,
        PortState::Filtered,
        PortState::OpenFiltered,
    ];

    /// nmap's name, used in every format.
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::OpenFiltered => "open|filtered",
        }
    }

    /// Parses `open`, `closed`, `filtered` or `open|filtered`.
    pub fn parse(s: &str) -> Option<PortState> {
        PortState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport protocol of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP.
    #[default]
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// The lowercase name every format writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port got its state, with nmap's reason names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// A SYN-ACK came back (or connect() succeeded).
    SynAck,
    /// A RST came back to our SYN.
    Reset,
    /// connect() failed with ECONNREFUSED.
    ConnRefused,
    /// Nothing came back within the timeout, after every retry.
    NoResponse,
    /// ICMP network unreachable, or ENETUNREACH.
    NetUnreach,
    /// ICMP host unreachable, or EHOSTUNREACH.
    HostUnreach,
    /// ICMP protocol unreachable.
    ProtoUnreach,
    /// ICMP port unreachable.
    PortUnreach,
    /// ICMP communication administratively prohibited (code 13), or a local EPERM/EACCES.
    AdminProhibited,
    /// ICMP network administratively prohibited (code 9).
    NetProhibited,
    /// ICMP host administratively prohibited (code 10).
    HostProhibited,
    /// ICMP time exceeded in transit.
    TimeExceeded,
    /// The host is on the local subnet and never answered ARP.
    NoArp,
    /// The host is on the local IPv6 link and never answered Neighbor Solicitation.
    NoNdp,
    /// ICMPv6 no route to destination (code 0).
    NoRoute,
    /// ICMPv6 beyond scope of source address (code 2).
    BeyondScope,
    /// ICMPv6 address unreachable (code 3).
    AddrUnreach,
    /// ICMPv6 reject route to destination (code 6).
    RejectRoute,
    /// The local system refused the probe with an error not listed above.
    LocalError,
    /// A UDP datagram came back from the probed port.
    UdpResponse,
    /// An ICMP or ICMPv6 echo reply came back (host discovery).
    EchoReply,
    /// An ICMP timestamp reply came back (host discovery).
    TimestampReply,
    /// The host answered ARP (host discovery on its link).
    ArpResponse,
    /// The host answered Neighbor Solicitation (IPv6 host discovery on its link).
    NdResponse,
    /// The user said the host is up (`-Pn`).
    UserSet,
}

impl Reason {
    /// Every reason, in the order of [`Reason::code`].
    pub const ALL: [Reason; 25] = [
        Reason::SynAck,
        Reason::Reset,
        Reason::ConnRefused,
        Reason::NoResponse,
        Reason::NetUnreach,
        Reason::HostUnreach,
        Reason::ProtoUnreach,
        Reason::PortUnreach,
        Reason::AdminProhibited,
        Reason::NetProhibited,
        Reason::HostProhibited,
        Reason::TimeExceeded,
        Reason::NoArp,
        Reason::NoNdp,
        Reason::NoRoute,
        Reason::BeyondScope,
        Reason::AddrUnreach,
        Reason::RejectRoute,
        Reason::LocalError,
        Reason::UdpResponse,
        Reason::EchoReply,
        Reason::TimestampReply,
        Reason::ArpResponse,
        Reason::NdResponse,
        Reason::UserSet,
    ];

    /// The reason named `s` (nmap's name, as [`Reason::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    /// A one-byte code (the index in [`Reason::ALL`]).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason of a [`Reason::code`].
    pub fn from_code(c: u8) -> Option<Reason> {
        Reason::ALL.get(usize::from(c)).copied()
    }

    /// nmap's name for the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::Reset => "reset",
            Reason::ConnRefused => "conn-refused",
            Reason::NoResponse => "no-response",
            Reason::NetUnreach => "net-unreach",
            Reason::HostUnreach => "host-unreach",
            Reason::ProtoUnreach => "proto-unreach",
            Reason::PortUnreach => "port-unreach",
            Reason::AdminProhibited => "admin-prohibited",
            Reason::NetProhibited => "net-prohibited",
            Reason::HostProhibited => "host-prohibited",
            Reason::TimeExceeded => "time-exceeded",
            Reason::NoArp => "no-arp",
            Reason::NoNdp => "no-ndp",
            Reason::NoRoute => "no-route",
            Reason::BeyondScope => "beyond-scope",
            Reason::AddrUnreach => "addr-unreach",
            Reason::RejectRoute => "reject-route",
            Reason::LocalError => "local-error",
            Reason::UdpResponse => "udp-response",
            Reason::EchoReply => "echo-reply",
            Reason::TimestampReply => "timestamp-reply",
            Reason::ArpResponse => "arp-response",
            Reason::NdResponse => "nd-response",
            Reason::UserSet => "user-set",
        }
    }

    /// True for replies that prove the host is up (it answered itself).
    pub fn host_answered(self) -> bool {
        matches!(
            self,
            Reason::SynAck
                | Reason::UdpResponse
                | Reason::Reset
                | Reason::ConnRefused
                | Reason::PortUnreach
                | Reason::ProtoUnreach
                | Reason::EchoReply
                | Reason::TimestampReply
                | Reason::ArpResponse
                | Reason::NdResponse
        )
    }
}

#[cfg(test)]
#[test]
fn reason_codes_follow_the_declaration() {
    for (i, r) in Reason::ALL.iter().enumerate() {
        assert_eq!(Reason::from_code(r.code()), Some(*r));
        assert_eq!(usize::from(r.code()), i);
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes of a reply's data shown as hex (more are kept for `--banners` to read).
const HEX_SHOWN: usize = 64;

/// The first bytes of a reply's data (a UDP answer), for the outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyData {
    /// The whole data's length.
    pub len: u32,
    /// Its first bytes.
    pub head: Box<[u8]>,
}

impl Serialize for ReplyData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        use std::fmt::Write;
        let shown = &self.head[..self.head.len().min(HEX_SHOWN)];
        let mut hex = String::with_capacity(shown.len() * 2);
        for b in shown {
            let _ = write!(hex, "{b:02x}");
        }
        let mut st = s.serialize_struct("ReplyData", 2)?;
        st.serialize_field("len", &self.len)?;
        st.serialize_field("hex", &hex)?;
        st.end()
    }
}

/// The result for one (host, port).
#[derive(Debug, Clone, PartialEq)]
pub struct PortResult {
    /// Target address.
    pub ip: IpAddr,
    /// Target port.
    pub port: u16,
    /// Its protocol.
    pub proto: Proto,
    /// The state.
    pub state: PortState,
    /// Why.
    pub reason: Reason,
    /// TTL of the reply, when one was seen on the wire.
    pub ttl: Option<u8>,
    /// Round-trip time of the answering attempt, when known.
    pub rtt: Option<Duration>,
    /// What the reply carried (UDP answers).
    pub data: Option<Box<ReplyData>>,
    /// The service and banner (`--banners`).
    pub service: Option<Box<crate::banner::Identified>>,
}

/// The JSON shape of a result, shared by the ndjson and json formats.
#[derive(Serialize)]
pub struct JsonResult<'a> {
    ip: IpAddr,
    port: u16,
    proto: Proto,
    state: PortState,
    reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<&'a ReplyData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<&'a crate::banner::Service>,
    #[serde(skip_serializing_if = "Option::is_none")]
    banner: Option<&'a crate::banner::Banner>,
}

impl PortResult {
    /// A filtered result with no reply behind it (timeout, ARP silence, a rejecting route).
    pub fn filtered(ip: IpAddr, port: u16, reason: Reason) -> PortResult {
        PortResult {
            ip,
            port,
            proto: Proto::Tcp,
            state: PortState::Filtered,
            reason,
            ttl: None,
            rtt: None,
            data: None,
            service: None,
        }
    }

    /// RTT in milliseconds, rounded to microseconds.
    pub fn rtt_ms(&self) -> Option<f64> {
        millis(self.rtt)
    }

    /// The JSON view of this result.
    pub fn json<'a>(&'a self, hostname: Option<&'a str>) -> JsonResult<'a> {
        JsonResult {
            ip: self.ip,
            port: self.port,
            proto: self.proto,
            state: self.state,
            reason: self.reason,
            ttl: self.ttl,
            rtt_ms: self.rtt_ms(),
            hostname,
            reply: self.data.as_deref(),
            service: self.service.as_ref().map(|s| &s.service),
            banner: self.service.as_ref().and_then(|s| s.banner.as_ref()),
        }
    }
}

/// A duration in milliseconds, rounded to microseconds.
fn millis(d: Option<Duration>) -> Option<f64> {
    d.map(|d| (d.as_secs_f64() * 1_000_000.0).round() / 1000.0)
}

/// What host discovery found about one host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostResult {
    /// The host.
    pub ip: IpAddr,
    /// It answered (or `-Pn` said so).
    pub up: bool,
    /// Why: the first answer's kind, or `no-response` / `no-arp` / `no-ndp` for a down host.
    pub reason: Reason,
    /// TTL or hop limit of the answer.
    pub ttl: Option<u8>,
    /// Round-trip time, when the answer echoed our send time.
    pub rtt: Option<Duration>,
    /// Its MAC address, when it answered on our link.
    pub mac: Option<pnet::util::MacAddr>,
}

impl HostResult {
    /// "up" or "down".
    pub fn status(&self) -> &'static str {
        if self.up { "up" } else { "down" }
    }

    /// RTT in milliseconds, rounded to microseconds.
    pub fn rtt_ms(&self) -> Option<f64> {
        millis(self.rtt)
    }

    /// The JSON view of this host.
    pub fn json<'a>(&'a self, hostname: Option<&'a str>) -> JsonHost<'a> {
        JsonHost {
            ip: self.ip,
            status: self.status(),
            reason: self.reason,
            ttl: self.ttl,
            rtt_ms: self.rtt_ms(),
            mac: self.mac.map(|m| m.to_string()),
            hostname,
        }
    }
}

/// The JSON shape of a host record (ndjson and json).
#[derive(Serialize)]
pub struct JsonHost<'a> {
    ip: IpAddr,
    status: &'static str,
    reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
}

/// Counters of one run, shared by the engines and the summary of every format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanStats {
    /// Hosts in the scan (this shard's view of the host set).
    pub hosts_total: u64,
    /// (host, port) pairs in the scan.
    pub ports_total: u64,
    /// Pairs with a final result.
    pub ports_done: u64,
    /// Probes sent, retries included.
    pub probes_sent: u64,
    /// Open ports found.
    pub open: u64,
    /// Wall time from first probe to the end.
    pub elapsed: Duration,
    /// True when the scan was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// True when `--host-timeout` ended the scan.
    pub timed_out: bool,
    /// Hosts left unfinished by `--host-timeout`.
    pub hosts_timed_out: u64,
    /// Frames the kernel dropped before the receiver read them, when known.
    pub kernel_drops: Option<u64>,
    /// The probes-per-second rate congestion control lowered the scan to, if it did.
    pub slowed_to: Option<u64>,
    /// Which ranking chose the ports ("top 1000 ports of nmap's ranking (...)"), if one did.
    pub ports_source: Option<String>,
    /// UDP ports left open|filtered where the targets' ICMP rate limit still let answers
    /// through: some may be closed (`--udp-patient` waits the limit out).
    pub rate_limited: u64,
    /// The answer rate seen under that limit, per second.
    pub limited_rate: Option<f64>,
    /// Host discovery ran: hosts it found up, and port probes it spared (down hosts ×
    /// ports per host).
    pub discovery: Option<DiscoveryStats>,
}

/// What host discovery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiscoveryStats {
    /// `-sn`: discovery only, no port scanned.
    pub ping_only: bool,
    /// Hosts found up.
    pub up: u64,
    /// Hosts found down.
    pub down: u64,
    /// Hosts probed.
    pub probed: u64,
    /// Discovery probes sent.
    pub probes_sent: u64,
    /// Port probes not sent because their host was found down (first attempts).
    pub spared: u64,
}

impl ScanStats {
    /// Average probes per second over the run.
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.probes_sent as f64 / s
        } else {
            0.0
        }
    }
}

/// Where an engine delivers results and progress. Implemented by the scan orchestration
/// (reporter plus progress line) and by tests.
pub trait ResultSink {
    /// One final result for a (host, port) pair; each pair is delivered at most once.
    fn result(&mut self, r: PortResult) -> std::io::Result<()>;
    /// Periodic progress (about ten times a second): pairs finished, probes sent, open found.
    fn tick(&mut self, _done: u64, _sent: u64, _open: u64) -> std::io::Result<()> {
        Ok(())
    }
    /// A line of `-v`/`-d` detail from the engine (pass timing, decisions).
    fn note(&mut self, _text: &str) {}
    /// The first `segments` segments of the walk are finished: every result of theirs has
    /// been delivered (discovery hands its hosts on a segment at a time).
    fn segments_done(&mut self, _segments: u64) {}
}

impl ResultSink for Vec<PortResult> {
    fn result(&mut self, r: PortResult) -> std::io::Result<()> {
        self.push(r);
        Ok(())
    }
}
