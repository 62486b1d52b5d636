//! Capture frames on an interface through a kernel BPF filter, handing each to a callback
//! (print a summary, or write pcap), until a count, a timeout or a stop flag.

use super::filter::Filter;
use crate::error::{Error, Result};
use crate::link;
use crate::privilege;
use crate::route::{LinkKind, link_kind};
use pnet::datalink::{self, NetworkInterface};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// When to stop sniffing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Stop after this many frames.
    pub count: Option<u64>,
    /// Stop after this long.
    pub timeout: Option<Duration>,
}

/// Finds an interface by name.
pub fn interface(name: &str) -> Result<NetworkInterface> {
    datalink::interfaces()
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| Error::input(format!("no interface named '{name}'")))
}

/// Captures on `iface` through `filter`, calling `each(time, frame)` for every frame; returns
/// the number of frames. On loopback each frame is seen once (outgoing copies are hidden, as
/// tcpdump does); elsewhere both directions are captured.
pub fn sniff(
    iface: &NetworkInterface,
    filter: &Filter,
    limits: Limits,
    stop: &AtomicBool,
    ready: &mut dyn FnMut(),
    each: &mut dyn FnMut(SystemTime, &[u8]) -> io::Result<()>,
) -> Result<u64> {
    match link_kind(iface) {
        LinkKind::Ethernet | LinkKind::Loopback => {}
        LinkKind::None(t) => {
            return Err(Error::input(format!(
                "interface {} has no Ethernet framing (type {t}): not supported by sniff",
                iface.name
            )));
        }
    }
    if !privilege::raw_permitted() {
        return Err(Error::input(format!(
            "sniffing needs CAP_NET_RAW: {}",
            privilege::ENABLE_HINT
        )));
    }
    privilege::raise_raw()?;
    let opened = link::open_receiver(
        iface,
        &filter.socket_program(),
        link_kind(iface) == LinkKind::Loopback,
    );
    privilege::drop_all()?;
    let (mut rx, _) = opened?;
    ready();
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        if stop.load(Ordering::Relaxed)
            || limits.count.is_some_and(|c| n >= c)
            || limits.timeout.is_some_and(|t| start.elapsed() >= t)
        {
            return Ok(n);
        }
        match rx.next() {
            Ok(frame) => {
                n += 1;
                each(SystemTime::now(), frame).map_err(|e| Error::io("write capture", e))?;
            }
            Err(e) if link::is_idle(&e) => {}
            Err(e) => return Err(Error::io(format!("receive on {}", iface.name), e)),
        }
    }
}
