//! The receiver thread: reads frames until the sender is done, validates each against the
//! cookie, reports each (host, port) once, measures RTT from echoed timestamps, and sends
//! the RST that tells an open port's host to drop the half-open connection.

use super::{Plan, Shared};
use crate::error::{Error, Result};
use crate::event::{PortResult, PortState};
use crate::link;
use crate::probe::Validator;
use crate::wire::{Packet, build_rst, parse_ethernet};
use pnet::datalink::{DataLinkReceiver, DataLinkSender};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Sender, SyncSender};
use std::time::Duration;

pub(super) fn run(
    plan: &Plan,
    shared: &Shared,
    mut rx: Box<dyn DataLinkReceiver>,
    rx_fd: Option<std::os::fd::RawFd>,
    mut reply_tx: Box<dyn DataLinkSender>,
    results: Sender<Vec<PortResult>>,
    ready: SyncSender<()>,
) -> Result<Option<u64>> {
    // Counters reset when read: read once at the start to drop earlier counts (the ARP phase),
    // and once at the end while the socket is still open.
    let _ = rx_fd.and_then(link::kernel_drops);
    let result = receive(
        plan,
        shared,
        rx.as_mut(),
        reply_tx.as_mut(),
        &results,
        ready,
    );
    result.map(|()| rx_fd.and_then(link::kernel_drops))
}

fn receive(
    plan: &Plan,
    shared: &Shared,
    rx: &mut dyn DataLinkReceiver,
    reply_tx: &mut dyn DataLinkSender,
    results: &Sender<Vec<PortResult>>,
    ready: SyncSender<()>,
) -> Result<()> {
    let mut batch = Batch::new(results);
    let validator = Validator {
        cookie: plan.cookie,
        src: plan.path.src,
        sport_base: plan.opts.sport,
        sport_count: plan.sport_count(),
        hosts: plan.served(),
        ports: &plan.ports,
    };
    let mut rtt_est = crate::rtt::RttEstimator::default();
    let _ = ready.send(());
    loop {
        if shared.tx_done.load(Ordering::Acquire) || shared.stopped() {
            batch.flush();
            return Ok(());
        }
        let frame = match rx.next() {
            Ok(f) => f,
            Err(e) if link::is_idle(&e) => {
                // Idle: hand over what is waiting.
                batch.flush();
                continue;
            }
            Err(e) => {
                batch.flush();
                shared.stop.store(true, Ordering::Relaxed);
                return Err(Error::io(format!("receive on {}", plan.path.iface.name), e));
            }
        };
        let Ok((eth, Packet::Ipv4(ip, transport))) = parse_ethernet(frame) else {
            continue;
        };
        let Some(reply) = validator.check(&ip, &transport) else {
            continue;
        };
        let target = IpAddr::V4(reply.target);
        let Some(idx) = plan.index(target, reply.port) else {
            continue;
        };
        if !shared.answered.set(idx) {
            continue; // already reported
        }
        let now = shared.now_us();
        let rtt = reply
            .tsecr
            .map(|ecr| (now as u32).wrapping_sub(ecr) as u64)
            .filter(|&us| us < 60_000_000);
        if let Some(us) = rtt {
            rtt_est.sample(us);
            shared.rto_us.store(rtt_est.rto_us(), Ordering::Relaxed);
        }
        let _ =
            shared
                .first_reply_us
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        shared.last_reply_us.store(now, Ordering::Relaxed);
        if reply.state == PortState::Open {
            shared.open.fetch_add(1, Ordering::Relaxed);
            if plan.opts.reset {
                let rst = build_rst(
                    plan.path.src_mac,
                    eth.src,
                    plan.path.src,
                    reply.target,
                    reply.sport,
                    reply.port,
                    reply.seq.wrapping_add(1),
                    plan.opts.ttl,
                );
                // A lost RST only leaves the target a half-open entry to time out.
                let _ = reply_tx.send_to(&rst, None);
            }
        }
        if let Some(r) = &plan.recorder {
            r.record(frame)
                .map_err(|e| Error::io("write --pcap file", e))?;
        }
        shared.replies.fetch_add(1, Ordering::Relaxed);
        let alive = batch.push(PortResult {
            ip: target,
            port: reply.port,
            state: reply.state,
            reason: reply.reason,
            ttl: Some(reply.ttl),
            rtt: rtt.map(Duration::from_micros),
        });
        if !alive {
            return Ok(());
        }
    }
}

/// Results handed to the reporting thread in batches: a channel wake-up per result costs
/// more than receiving the reply. A batch leaves when full, after 20 ms, or when idle.
struct Batch<'a> {
    out: &'a Sender<Vec<PortResult>>,
    items: Vec<PortResult>,
    since: std::time::Instant,
}

impl<'a> Batch<'a> {
    const MAX: usize = 512;
    const AGE: Duration = Duration::from_millis(20);

    fn new(out: &'a Sender<Vec<PortResult>>) -> Self {
        Batch {
            out,
            items: Vec::with_capacity(Self::MAX),
            since: std::time::Instant::now(),
        }
    }

    /// Adds a result; false when the reporting thread is gone.
    fn push(&mut self, r: PortResult) -> bool {
        if self.items.is_empty() {
            self.since = std::time::Instant::now();
        }
        self.items.push(r);
        if self.items.len() >= Self::MAX || self.since.elapsed() >= Self::AGE {
            return self.flush();
        }
        true
    }

    /// Sends what is waiting; false when the reporting thread is gone.
    fn flush(&mut self) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let items = std::mem::replace(&mut self.items, Vec::with_capacity(Self::MAX));
        self.out.send(items).is_ok()
    }
}
