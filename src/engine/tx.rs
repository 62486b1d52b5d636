//! The sender thread: walks this shard's permutation and writes each probe from the SYN
//! template into one reused buffer (no allocation per packet), paced by the rate limiter;
//! then retries only pairs the receiver has not marked answered, each pass after a
//! cool-down; then waits the final cool-down and tells the receiver to stop.

use super::arp::{Hop, send_retrying};
use super::{Plan, Shared};
use crate::error::{Error, Result};
use crate::link::MAX_BATCH;
use crate::rate::RateLimiter;
use crate::wire::{SYN_LEN, SynTemplate};
use pnet::datalink::DataLinkSender;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Shortest cool-down, however fast the replies came.
const MIN_COOLDOWN: Duration = Duration::from_millis(10);

pub(super) fn run(
    plan: &Plan,
    shared: &Shared,
    mut tx: Box<dyn DataLinkSender>,
    batch: usize,
) -> Result<()> {
    let result = send_all(plan, shared, tx.as_mut(), batch.clamp(1, MAX_BATCH));
    shared.tx_done.store(true, Ordering::Release);
    result
}

/// One probe, decided but not yet written.
#[derive(Clone, Copy)]
struct Probe {
    mac: pnet::util::MacAddr,
    dst: std::net::Ipv4Addr,
    port: u16,
    seq: u32,
}

/// Probes waiting to leave together: one `build_and_send` call per batch.
struct Pending<'a> {
    template: &'a SynTemplate,
    plan: &'a Plan,
    shared: &'a Shared,
    sport: u16,
    probes: Vec<Probe>,
    batch: usize,
}

impl Pending<'_> {
    fn push(&mut self, tx: &mut dyn DataLinkSender, p: Probe) -> Result<()> {
        self.probes.push(p);
        if self.probes.len() >= self.batch {
            self.flush(tx)?;
        }
        Ok(())
    }

    /// Writes the waiting probes from the template and sends them.
    fn flush(&mut self, tx: &mut dyn DataLinkSender) -> Result<()> {
        if self.probes.is_empty() {
            return Ok(());
        }
        let now = self.shared.now_us();
        let (template, sport, recorder) = (self.template, self.sport, &self.plan.recorder);
        let mut record_err = None;
        let mut write = |buf: &mut [u8], p: &Probe| {
            let id = (p.seq ^ (p.seq >> 16)) as u16;
            template.write(buf, p.mac, p.dst, sport, p.port, p.seq, id, now as u32);
            if let Some(r) = recorder
                && let Err(e) = r.record(buf)
            {
                record_err.get_or_insert(e);
            }
        };
        if self.batch == 1 {
            // The portable path: one frame per call, waiting while the queue is full.
            let mut buf = [0u8; SYN_LEN];
            for p in &self.probes {
                write(&mut buf, p);
                send_retrying(tx, &buf)?;
            }
        } else {
            let mut it = self.probes.iter();
            let mut fill = |buf: &mut [u8]| {
                if let Some(p) = it.next() {
                    write(buf, p);
                }
            };
            match tx.build_and_send(self.probes.len(), SYN_LEN, &mut fill) {
                None | Some(Ok(())) => {}
                Some(Err(e)) => return Err(Error::io("send probes", e)),
            }
        }
        if let Some(e) = record_err {
            return Err(Error::io("write --pcap file", e));
        }
        if self.shared.first_send_us.load(Ordering::Relaxed) == 0 {
            self.shared.first_send_us.store(now, Ordering::Relaxed);
        }
        self.shared
            .sent
            .fetch_add(self.probes.len() as u64, Ordering::Relaxed);
        self.probes.clear();
        Ok(())
    }
}

fn send_all(plan: &Plan, shared: &Shared, tx: &mut dyn DataLinkSender, batch: usize) -> Result<()> {
    let mss = (plan.path.mtu.clamp(576, 65535) - 40) as u16;
    let template = SynTemplate::new(plan.path.src_mac, plan.path.src, plan.opts.ttl, mss, 64240);
    let mut limiter = RateLimiter::new(plan.opts.rate);
    let nports = plan.ports.len() as u64;
    // Replies counted when the previous retry pass began, and its probes.
    let mut retry_pass: Option<(u64, u64)> = None;
    for attempt in 0..=plan.opts.max_retries {
        if attempt > 0 {
            cooldown(plan, shared);
            if attempt > plan.opts.retries && !still_losing(shared, retry_pass) {
                return Ok(());
            }
        }
        let replies_before = shared.replies.load(Ordering::Relaxed);
        let sport = plan.sport(attempt);
        let mut pending = Pending {
            template: &template,
            plan,
            shared,
            sport,
            probes: Vec::with_capacity(batch),
            batch,
        };
        let mut sent_this_pass = 0u64;
        // The first pass starts where a resumed scan left off and wraps round; retries walk
        // the order from its start.
        let len = plan.order.len();
        let start = if attempt == 0 { plan.start } else { 0 };
        for pos in (start..len).chain(0..start) {
            if shared.stopped() {
                return Ok(());
            }
            if attempt == 0 {
                shared.position.store(pos, Ordering::Relaxed);
            }
            let (h, p) = plan.order.pair_at_position(pos);
            // Answered, or reported by the interrupted run this one resumes.
            if shared.answered.get(h * nports + p as u64) {
                continue;
            }
            let (Some(IpAddr::V4(dst)), Some(port)) = (plan.hosts.get(h), plan.ports.get(p)) else {
                continue;
            };
            if !plan.serves(IpAddr::V4(dst)) {
                continue;
            }
            let Hop::Mac(mac) = plan.macs.hop(dst) else {
                continue;
            };
            if limiter.try_acquire(Instant::now(), 1).is_err() {
                // Out of tokens: what was allowed leaves now, then wait for the next.
                pending.flush(tx)?;
                while let Err(wait) = limiter.try_acquire(Instant::now(), 1) {
                    std::thread::sleep(wait.min(Duration::from_millis(5)));
                    if shared.stopped() {
                        return Ok(());
                    }
                }
            }
            let seq = plan.cookie.seq(plan.path.src, dst, sport, port);
            pending.push(
                tx,
                Probe {
                    mac,
                    dst,
                    port,
                    seq,
                },
            )?;
            sent_this_pass += 1;
        }
        pending.flush(tx)?;
        shared
            .last_send_us
            .store(shared.now_us(), Ordering::Relaxed);
        if sent_this_pass == 0 {
            return Ok(());
        }
        if attempt > 0 {
            retry_pass = Some((replies_before, sent_this_pass));
        }
    }
    cooldown(plan, shared);
    Ok(())
}

/// Fraction of a retry pass's probes that must be answered for another pass beyond
/// `--retries`: replies to resent probes mean the first ones were lost, not filtered.
const LOSS_EVIDENCE: f64 = 0.1;

/// True when the last retry pass got answers for at least [`LOSS_EVIDENCE`] of its probes.
fn still_losing(shared: &Shared, retry_pass: Option<(u64, u64)>) -> bool {
    let Some((replies_before, sent)) = retry_pass else {
        return false;
    };
    let recovered = shared
        .replies
        .load(Ordering::Relaxed)
        .saturating_sub(replies_before);
    sent > 0 && recovered as f64 >= LOSS_EVIDENCE * sent as f64
}

/// The cool-down after a pass: `--wait` if given; else the RTO (srtt + 4 rttvar) of the RTTs
/// measured from SYN-ACK timestamp echoes, or three times the delay to the first reply when
/// only RSTs came back, or `--timeout` when nothing answered; at least 10 ms, at most
/// `--timeout`.
pub(super) fn cooldown_length(plan: &Plan, shared: &Shared) -> Duration {
    if let Some(w) = plan.opts.wait {
        return w;
    }
    let rto = shared.rto_us.load(Ordering::Relaxed);
    let first_reply = shared.first_reply_us.load(Ordering::Relaxed);
    let first_send = shared.first_send_us.load(Ordering::Relaxed);
    let est = if rto > 0 {
        Duration::from_micros(rto)
    } else if first_reply > 0 && first_send > 0 {
        Duration::from_micros(first_reply.saturating_sub(first_send)) * 3
    } else {
        return plan.opts.timeout;
    };
    (est + Duration::from_millis(2)).clamp(MIN_COOLDOWN, plan.opts.timeout.max(MIN_COOLDOWN))
}

/// Waits until the cool-down has passed since the last probe and replies have gone quiet for
/// half of it (replies still queued on a busy link extend the wait, up to four cool-downs).
fn cooldown(plan: &Plan, shared: &Shared) {
    let last_send = shared
        .last_send_us
        .load(Ordering::Relaxed)
        .max(shared.now_us());
    if let Some(fixed) = plan.opts.wait {
        // `--wait` is exact: no extension for late replies.
        let end = Instant::now() + fixed;
        while !shared.stopped() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(2).min(end - Instant::now()));
        }
        return;
    }
    loop {
        if shared.stopped() {
            return;
        }
        let cd = cooldown_length(plan, shared).as_micros() as u64;
        let now = shared.now_us();
        let last_reply = shared.last_reply_us.load(Ordering::Relaxed);
        let quiet = now.saturating_sub(last_reply) >= cd / 2;
        if (now >= last_send + cd && quiet) || now >= last_send + 4 * cd {
            return;
        }
        std::thread::sleep(Duration::from_micros((cd / 20).clamp(200, 5000)));
    }
}
