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

/// What one pass sent, for the loss and congestion decisions after its cool-down.
#[derive(Clone, Copy)]
struct PassRecord {
    /// Replies counted when the pass began.
    replies_before: u64,
    /// Probes sent.
    sent: u64,
    /// Time spent sending them.
    secs: f64,
}

fn send_all(plan: &Plan, shared: &Shared, tx: &mut dyn DataLinkSender, batch: usize) -> Result<()> {
    let mss = (plan.path.mtu.clamp(576, 65535) - 40) as u16;
    let template = SynTemplate::new(plan.path.src_mac, plan.path.src, plan.opts.ttl, mss, 64240);
    let mut rate = plan.opts.rate;
    let nports = plan.ports.len() as u64;
    // The first pass, with the share of its probes answered once known; the last retry pass.
    let mut first: Option<(PassRecord, Option<f64>)> = None;
    let mut retry_pass: Option<PassRecord> = None;
    for attempt in 0..=plan.opts.max_retries {
        if attempt > 0 {
            cooldown(plan, shared);
            let replies = shared.replies.load(Ordering::Relaxed);
            if let Some((p0, answered @ None)) = &mut first {
                *answered = Some(answered_share(p0, replies));
            }
            let slower = match (first, retry_pass) {
                (Some((_, Some(f0))), Some(last)) => congested_rate(f0, &last, replies, rate),
                _ => None,
            };
            if let Some(r) = slower {
                rate = Some(r);
                shared.slowed_to.store(r, Ordering::Relaxed);
            }
            if attempt > plan.opts.retries
                && slower.is_none()
                && !still_losing(retry_pass.as_ref(), replies)
            {
                return Ok(());
            }
        }
        let mut limiter = RateLimiter::new(rate);
        let replies_before = shared.replies.load(Ordering::Relaxed);
        let pass_start = Instant::now();
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
            // Unlimited scans skip the clock read (2% of the sender's cycles at full speed).
            if !limiter.unlimited() && limiter.try_acquire(Instant::now(), 1).is_err() {
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
        let record = PassRecord {
            replies_before,
            sent: sent_this_pass,
            secs: pass_start.elapsed().as_secs_f64().max(1e-4),
        };
        if attempt == 0 {
            first = Some((record, None));
        } else {
            retry_pass = Some(record);
        }
    }
    cooldown(plan, shared);
    Ok(())
}

/// Share of a pass's probes answered by the time `replies` were counted.
fn answered_share(pass: &PassRecord, replies: u64) -> f64 {
    replies.saturating_sub(pass.replies_before) as f64 / pass.sent.max(1) as f64
}

/// Fewest answers in a retry pass that can show congestion (fewer are noise).
const CONGESTION_MIN_ANSWERS: u64 = 16;

/// Lowest rate congestion control goes down to, in probes per second.
const MIN_RATE: u64 = 100;

/// The send rate for the next pass when the last retry pass shows loss caused by speed, as
/// nmap slows down on drops. A retry pass resends only unanswered probes: under random loss
/// or filtering few of them are answered, but when the path (or the target) drops what
/// arrives too fast, resent probes are answered about as often as first ones (at least half
/// the first pass's share `f0`) and still no more than half of them are. The pass's answers
/// per second then estimate what the path carries; the next pass goes at that, kept between
/// a sixteenth and half of the rate just used.
fn congested_rate(f0: f64, last: &PassRecord, replies: u64, rate: Option<u64>) -> Option<u64> {
    let recovered = replies.saturating_sub(last.replies_before);
    let share = answered_share(last, replies);
    if recovered < CONGESTION_MIN_ANSWERS || share >= 0.5 || share < f0 / 2.0 {
        return None;
    }
    let sent_rate = (last.sent as f64 / last.secs).min(rate.map_or(f64::MAX, |r| r as f64));
    let carried = recovered as f64 / last.secs;
    let next = carried.clamp(sent_rate / 16.0, sent_rate / 2.0);
    Some((next as u64).max(MIN_RATE))
}

/// Fraction of a retry pass's probes that must be answered for another pass beyond
/// `--retries`: replies to resent probes mean the first ones were lost, not filtered.
const LOSS_EVIDENCE: f64 = 0.1;

/// True when the last retry pass got answers for at least [`LOSS_EVIDENCE`] of its probes.
fn still_losing(retry_pass: Option<&PassRecord>, replies: u64) -> bool {
    retry_pass.is_some_and(|p| answered_share(p, replies) >= LOSS_EVIDENCE)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(sent: u64, secs: f64) -> PassRecord {
        PassRecord {
            replies_before: 1000,
            sent,
            secs,
        }
    }

    #[test]
    fn random_loss_and_filtering_do_not_slow_the_scan() {
        // 5% loss each way on a host answering every port: most resent probes are answered.
        assert_eq!(
            congested_rate(0.9, &pass(6400, 0.02), 1000 + 5800, None),
            None
        );
        // A sweep of mostly dead hosts with some loss: resent probes are rarely answered.
        let sweep = pass(6_400_000, 12.8);
        assert_eq!(congested_rate(0.015, &sweep, 1000 + 9000, None), None);
        // A handful of late answers is noise.
        assert_eq!(
            congested_rate(0.001, &pass(20000, 0.05), 1000 + 10, None),
            None
        );
    }

    #[test]
    fn loss_at_speed_slows_to_what_the_path_carries() {
        // 150 of 20000 answered at full speed, then 100 of 19850 resent: a 2000/s limit.
        let last = pass(19850, 0.05);
        let r = congested_rate(0.0075, &last, 1000 + 100, None).expect("congested");
        // Answers came at 2000/s, below a sixteenth of the 397 000/s sent: a sixteenth.
        assert_eq!(r, 397_000 / 16);
        // At 25 000/s, 1600 of 19700 answered: on to the carried rate, 2000/s.
        let r = congested_rate(0.0075, &pass(19700, 0.8), 1000 + 1600, Some(r)).unwrap();
        assert_eq!(r, 2000);
        // A tiny carried rate stops at the floor.
        let r = congested_rate(0.5, &pass(400, 4.0), 1000 + 100, Some(200)).unwrap();
        assert_eq!(r, MIN_RATE);
    }
}
