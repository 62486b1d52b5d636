//! The receiver thread: reads frames until the sender is done, has the probe module validate
//! each against the cookie, reports each (host, port) once, measures RTT from echoed
//! timestamps, and sends the module's follow-up (the RST that tells an open port's host to
//! drop the half-open connection).

use super::{Batch, Plan, Shared};
use crate::error::{Error, Result};
use crate::event::{PortResult, PortState, ReplyData};
use crate::link::{Framing, LinkRx, LinkTx};
use crate::probe::Validate;
use crate::wire::{parse_ethernet, parse_ip};
use pnet::util::MacAddr;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Sender, SyncSender};
use std::time::Duration;

/// What the receiver hands back: its drop count (or error), and its link halves for the
/// next scan on the path.
pub(super) type Returned = (Result<Option<u64>>, Box<dyn LinkRx>, Box<dyn LinkTx>);

pub(super) fn run(
    plan: &Plan,
    shared: &Shared,
    mut rx: Box<dyn LinkRx>,
    mut reply: Box<dyn LinkTx>,
    results: Sender<Vec<PortResult>>,
    ready: SyncSender<()>,
) -> Returned {
    // Counters reset when read: read once at the start to drop earlier counts (the
    // neighbour phase), and once at the end while the socket is still open.
    let _ = rx.drops();
    let result = receive(plan, shared, rx.as_mut(), reply.as_mut(), &results, ready);
    let result = result.map(|()| rx.drops());
    (result, rx, reply)
}

/// The scan's side of validation: its source, ports, targets and cookie.
struct Scope<'a> {
    plan: &'a Plan,
}

impl Validate for Scope<'_> {
    fn src(&self) -> IpAddr {
        self.plan.path.src
    }

    fn ours(&self, sport: u16) -> bool {
        sport.wrapping_sub(self.plan.opts.sport) < self.plan.sport_count()
    }

    fn probed(&self, target: IpAddr, port: u16) -> bool {
        self.plan.ports.contains(port) && self.plan.serves(target)
    }

    fn cookie(&self, target: IpAddr, sport: u16, dport: u16) -> u32 {
        self.plan
            .cookie
            .value(self.plan.path.src, target, sport, dport)
    }
}

fn receive(
    plan: &Plan,
    shared: &Shared,
    rx: &mut dyn LinkRx,
    reply_tx: &mut dyn LinkTx,
    results: &Sender<Vec<PortResult>>,
    ready: SyncSender<()>,
) -> Result<()> {
    let mut batch = Batch::new(results);
    let scope = Scope { plan };
    let mut rtt_est = crate::rtt::RttEstimator::default();
    let mut follow = Vec::with_capacity(128);
    let proto = plan.probe.proto();
    let _ = ready.send(());
    let mut flushed = 0;
    loop {
        if shared.tx_done.load(Ordering::Acquire) || shared.stopped() {
            batch.flush();
            return Ok(());
        }
        // The sender closes a segment only once its answers are handed over.
        let asked = shared.flush_asked.load(Ordering::Acquire);
        if asked > flushed {
            batch.flush();
            flushed = asked;
            shared.flushed.store(asked, Ordering::Release);
        }
        let frame = match rx.recv() {
            Ok(Some(f)) => f,
            Ok(None) => {
                // Idle: every reply that arrived so far is handled; hand over what waits.
                batch.flush();
                shared.drained_us.store(shared.now_us(), Ordering::Release);
                continue;
            }
            Err(e) => {
                batch.flush();
                shared.stop.store(true, Ordering::Relaxed);
                return Err(Error::io(format!("receive on {}", plan.path.iface.name), e));
            }
        };
        let (from_mac, net, ip_at) = match plan.framing {
            Framing::Ethernet => match parse_ethernet(frame) {
                // A VLAN tag puts the IP header four bytes further.
                Ok((eth, net)) => (
                    eth.src,
                    net,
                    crate::wire::ETH_LEN + 4 * usize::from(eth.vlan.is_some()),
                ),
                Err(_) => continue,
            },
            Framing::Ip => match parse_ip(frame) {
                Ok(net) => (MacAddr::zero(), net, 0),
                Err(_) => continue,
            },
        };
        let ip = frame.get(ip_at..).unwrap_or(&[]);
        let Some(reply) = plan.probe.classify(&net, ip, &scope) else {
            continue;
        };
        if !plan.answer(&shared.window, reply.target, reply.port) {
            continue; // already reported, given up, or not a pair of this segment
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
        if let Some(r) = &plan.recorder {
            let record = match plan.framing {
                Framing::Ethernet => r.record(frame),
                // Recorded as Ethernet frames like the probes: a zero header added.
                Framing::Ip => {
                    let mut f = vec![0u8; 14];
                    let et: u16 = if reply.target.is_ipv6() {
                        0x86dd
                    } else {
                        0x0800
                    };
                    f[12..14].copy_from_slice(&et.to_be_bytes());
                    f.extend_from_slice(frame);
                    r.record(&f)
                }
            };
            record.map_err(|e| Error::io("write --pcap file", e))?;
        }
        if reply.state == PortState::Open {
            shared.open.fetch_add(1, Ordering::Relaxed);
        }
        if plan.opts.reset && plan.probe.follow_up(&reply, from_mac, &mut follow) {
            // A lost RST only leaves the target a half-open entry to time out.
            let _ = reply_tx.send(&follow);
        }
        if reply.state == PortState::Closed {
            shared.closed.fetch_add(1, Ordering::Relaxed);
        }
        shared.replies.fetch_add(1, Ordering::Relaxed);
        let alive = batch.push(PortResult {
            ip: reply.target,
            port: reply.port,
            proto,
            state: reply.state,
            reason: reply.reason,
            ttl: Some(reply.ttl),
            rtt: rtt.map(Duration::from_micros),
            data: reply.data.map(|head| {
                Box::new(ReplyData {
                    len: reply.data_len,
                    head,
                })
            }),
            service: None,
        });
        if !alive {
            return Ok(());
        }
    }
}
