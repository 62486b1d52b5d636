//! Probe modules, on the model of zmap's `probe_module_t`: what a probe looks like on the
//! wire and what an answer means, apart from any socket or thread. The engine
//! (`crate::engine`) sends, paces, retries and listens for every module alike and knows
//! nothing of TCP; a module
//! - declares its frame length and the IP protocols its answers come in (the receive
//!   filter is built from them),
//! - fills a per-run template once ([`Probe::new`]-style constructors) and writes a probe
//!   into the caller's buffer from a [`ProbeSpec`] with no allocation,
//! - classifies a received packet into a [`Reply`], or ignores it, keyed by the stateless
//!   [`Cookie`] so that forged or stray packets never become results,
//! - may ask for a follow-up frame (the RST after a SYN-ACK).
//!
//! A new probe type is a new file here implementing [`Probe`]: the TCP SYN scan
//! (`tcp_syn`), UDP (`udp`), and host discovery's IP pings (`ping`), ARP (`arp_ping`) and
//! Neighbor Solicitation (`ndp_ping`).

pub mod arp_ping;
mod cookie;
pub mod ndp_ping;
pub mod ping;
pub mod tcp_syn;
#[cfg(test)]
mod testing;
pub mod udp;
pub mod udp_payloads;

pub use arp_ping::ArpPing;
pub use cookie::Cookie;
pub use ndp_ping::NdpPing;
pub use ping::{Ping, PingKind};
pub use tcp_syn::TcpSyn;
pub use udp::Udp;
pub use udp_payloads::Payloads;

use crate::event::{PortState, Proto, Reason};
use crate::wire::Network;
use pnet::util::MacAddr;
use std::net::IpAddr;

/// One probe to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Next-hop MAC (zero on links without one).
    pub dst_mac: MacAddr,
    /// Target address (of the module's family).
    pub dst: IpAddr,
    /// Our source port.
    pub sport: u16,
    /// Target port.
    pub dport: u16,
    /// The cookie for this (source, target, ports): see [`Cookie::value`].
    pub cookie: u32,
    /// Microseconds since the scan began (truncated), for RTTs echoed back.
    pub tsval: u32,
    /// Which of the probe's frames ([`Probe::frames_per_probe`]).
    pub k: u8,
}

/// A validated answer to one of our probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The probed host.
    pub target: IpAddr,
    /// The probed port.
    pub port: u16,
    /// Our source port of the answered probe.
    pub sport: u16,
    /// The answered probe's cookie.
    pub cookie: u32,
    /// State.
    pub state: PortState,
    /// Reason.
    pub reason: Reason,
    /// TTL or hop limit of the reply.
    pub ttl: u8,
    /// Our send time echoed back (a TCP timestamp), when present.
    pub tsecr: Option<u32>,
    /// The first bytes of the reply's data (UDP), for the outputs.
    pub data: Option<Box<[u8]>>,
    /// The length of the reply's data.
    pub data_len: u32,
    /// The port that answered when `port` is a pseudo-port (discovery pings key every
    /// frame of a host by port 0): where a follow-up goes.
    pub via: u16,
}

impl Reply {
    /// An answer from `target:port` to our `sport`, filtered until the module says more.
    pub fn new(target: IpAddr, port: u16, sport: u16, cookie: u32, ttl: u8) -> Reply {
        Reply {
            target,
            port,
            sport,
            cookie,
            state: PortState::Filtered,
            reason: Reason::NoResponse,
            ttl,
            tsecr: None,
            data: None,
            data_len: 0,
            via: port,
        }
    }
}

/// What a module may ask of the scan while validating a packet.
pub trait Validate {
    /// Our source address.
    fn src(&self) -> IpAddr;
    /// True when `sport` is one of the scan's source ports.
    fn ours(&self, sport: u16) -> bool;
    /// True when the scan probes `port` on `target`.
    fn probed(&self, target: IpAddr, port: u16) -> bool;
    /// The cookie of the probe from our `sport` to `target:dport`.
    fn cookie(&self, target: IpAddr, sport: u16, dport: u16) -> u32;
}

/// The cookie of the probe an ICMP or ICMPv6 error quotes, when the quote is one of ours of
/// IP protocol `proto`: from our address and one of our source ports to a probed pair. The
/// module then checks the cookie where its probe carried it (TCP sequence, IP id).
pub fn quoted_cookie(q: &crate::wire::Quoted, proto: u8, v: &dyn Validate) -> Option<u32> {
    if q.proto != proto || q.src != v.src() || !v.ours(q.src_port) {
        return None;
    }
    if !v.probed(q.dst, q.dst_port) {
        return None;
    }
    Some(v.cookie(q.dst, q.src_port, q.dst_port))
}

/// A probe type.
pub trait Probe: Send + Sync {
    /// The module's name (`tcp-syn`).
    fn name(&self) -> &'static str;
    /// The protocol of its results.
    fn proto(&self) -> Proto;
    /// Length of the longest probe frame, link header included.
    fn frame_len(&self) -> usize;
    /// Frames one probe of `port` takes: several where protocols share the port (each frame
    /// is a [`ProbeSpec::k`]).
    fn frames_per_probe(&self, _port: u16) -> usize {
        1
    }
    /// Length of frame `k` of a probe of `port`.
    fn frame_len_of(&self, _port: u16, _k: usize) -> usize {
        self.frame_len()
    }
    /// IP protocol numbers answers arrive in (the receive filter passes these only).
    fn reply_protocols(&self) -> &'static [u8];
    /// Writes the probe for `spec` into `buf` (at least [`Probe::frame_len_of`] bytes).
    fn write(&self, buf: &mut [u8], spec: &ProbeSpec);
    /// The answer `net` (parsed from the IP packet `ip`) is to one of our probes, if it is
    /// one.
    fn classify(&self, net: &Network, ip: &[u8], v: &dyn Validate) -> Option<Reply>;
    /// A frame to send back after `reply` (to `dst_mac`), written into `out`; false when the
    /// module sends nothing back.
    fn follow_up(&self, reply: &Reply, dst_mac: MacAddr, out: &mut Vec<u8>) -> bool;
    /// The state of a pair that never answered (reason `no-response`): filtered for TCP, where
    /// an open port always answers; open|filtered for protocols where silence is what an open
    /// port gives too (UDP).
    fn unanswered(&self) -> PortState {
        PortState::Filtered
    }
    /// True for link-layer probes (ARP, Neighbor Solicitation) that find the host's MAC
    /// themselves: the engine resolves no next hop and the module writes its own destination
    /// MAC.
    fn on_link(&self) -> bool {
        false
    }
}
