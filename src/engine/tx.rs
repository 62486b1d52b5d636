//! The sender thread: walks this shard's permutation and writes each probe from the SYN
//! template into one reused buffer (no allocation per packet), paced by the rate limiter;
//! then retries only pairs the receiver has not marked answered, each pass after a
//! cool-down; then waits the final cool-down and tells the receiver to stop.

use super::arp::{Hop, is_transient};
use super::{Plan, Shared};
use crate::error::{Error, Result};
use crate::rate::RateLimiter;
use crate::wire::SynTemplate;
use pnet::datalink::DataLinkSender;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Shortest cool-down, however fast the replies came.
const MIN_COOLDOWN: Duration = Duration::from_millis(10);

pub(super) fn run(plan: &Plan, shared: &Shared, mut tx: Box<dyn DataLinkSender>) -> Result<()> {
    let result = send_all(plan, shared, tx.as_mut());
    shared.tx_done.store(true, Ordering::Release);
    result
}

fn send_all(plan: &Plan, shared: &Shared, tx: &mut dyn DataLinkSender) -> Result<()> {
    let mss = (plan.path.mtu.clamp(576, 65535) - 40) as u16;
    let template = SynTemplate::new(plan.path.src_mac, plan.path.src, plan.opts.ttl, mss, 64240);
    let mut buf = template.bytes().to_vec();
    let mut limiter = RateLimiter::new(plan.opts.rate);
    let nports = plan.ports.len() as u64;
    for attempt in 0..=plan.opts.retries {
        if attempt > 0 {
            cooldown(plan, shared);
        }
        let sport = plan.sport(attempt);
        let mut sent_this_pass = 0u64;
        for pos in 0..plan.order.len() {
            if shared.stopped() {
                return Ok(());
            }
            let (h, p) = plan.order.pair_at_position(pos);
            if attempt > 0 && shared.answered.get(h * nports + p as u64) {
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
            while let Err(wait) = limiter.try_acquire(Instant::now(), 1) {
                std::thread::sleep(wait.min(Duration::from_millis(5)));
                if shared.stopped() {
                    return Ok(());
                }
            }
            let seq = plan.cookie.seq(plan.path.src, dst, sport, port);
            let now = shared.now_us();
            template.write(
                &mut buf,
                mac,
                dst,
                sport,
                port,
                seq,
                (seq ^ (seq >> 16)) as u16,
                now as u32,
            );
            send(tx, &buf)?;
            if let Some(r) = &plan.recorder {
                r.record(&buf)
                    .map_err(|e| Error::io("write --pcap file", e))?;
            }
            if shared.first_send_us.load(Ordering::Relaxed) == 0 {
                shared.first_send_us.store(now, Ordering::Relaxed);
            }
            shared.sent.fetch_add(1, Ordering::Relaxed);
            sent_this_pass += 1;
        }
        shared
            .last_send_us
            .store(shared.now_us(), Ordering::Relaxed);
        if sent_this_pass == 0 {
            break;
        }
    }
    cooldown(plan, shared);
    Ok(())
}

fn send(tx: &mut dyn DataLinkSender, frame: &[u8]) -> Result<()> {
    for _ in 0..10_000 {
        match tx.send_to(frame, None) {
            None | Some(Ok(())) => return Ok(()),
            Some(Err(e)) if is_transient(&e) => std::thread::sleep(Duration::from_micros(50)),
            Some(Err(e)) => return Err(Error::io("send probe", e)),
        }
    }
    Err(Error::Runtime("send queue stayed full for 0.5 s".into()))
}

/// The cool-down after a pass: `--wait` if given; else three times the largest RTT seen
/// (from SYN-ACK timestamp echoes), or the delay to the first reply when only RSTs came
/// back, or `--timeout` when nothing answered; at least 10 ms, at most `--timeout`.
pub(super) fn cooldown_length(plan: &Plan, shared: &Shared) -> Duration {
    if let Some(w) = plan.opts.wait {
        return w;
    }
    let max_rtt = shared.max_rtt_us.load(Ordering::Relaxed);
    let first_reply = shared.first_reply_us.load(Ordering::Relaxed);
    let first_send = shared.first_send_us.load(Ordering::Relaxed);
    let est = if max_rtt > 0 {
        Duration::from_micros(max_rtt)
    } else if first_reply > 0 && first_send > 0 {
        Duration::from_micros(first_reply.saturating_sub(first_send))
    } else {
        return plan.opts.timeout;
    };
    (est * 3 + Duration::from_millis(2)).clamp(MIN_COOLDOWN, plan.opts.timeout.max(MIN_COOLDOWN))
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
