//! The sender thread: walks this shard's permutation one segment at a time. In each segment
//! it has the probe module write each probe into a reused batch buffer (no allocation per
//! packet), paced by the rate limiter; then retries only pairs the receiver has not marked
//! answered, each pass after a cool-down; after the last cool-down it reports the pairs that
//! never answered and opens the next segment. When the walk ends it tells the receiver to
//! stop.

use super::{Batch, Hop, Mark, Plan, Shared};
use crate::error::{Error, Result};
use crate::event::{PortResult, Reason};
use crate::link::{LinkTx, MAX_BATCH};
use crate::probe::ProbeSpec;
use crate::rate::{Pace, RateLimiter};
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

pub(super) fn run(
    plan: &Plan,
    shared: &Shared,
    mut tx: Box<dyn LinkTx>,
    results: Sender<Vec<PortResult>>,
) -> (Result<()>, Box<dyn LinkTx>) {
    let batch = tx.batch().clamp(1, MAX_BATCH);
    let mut out = Batch::new(&results);
    let result = send_all(plan, shared, tx.as_mut(), batch, &mut out);
    out.flush();
    shared.tx_done.store(true, Ordering::Release);
    (result, tx)
}

/// Walks the order segment by segment from the plan's start.
fn send_all(
    plan: &Plan,
    shared: &Shared,
    tx: &mut dyn LinkTx,
    batch: usize,
    out: &mut Batch,
) -> Result<()> {
    let len = plan.order.len();
    let seg_len = shared.window.segment_len();
    let mut rate = plan.opts.rate;
    let (mut seg, mut from) = (0u64, plan.start);
    while from < len {
        let to = from.saturating_add(seg_len).min(len);
        shared.window.open(seg);
        // Pairs the interrupted run reported are neither probed nor reported again.
        for &(s, e) in &plan.done {
            for pos in s.max(from)..e.min(to) {
                shared.window.claim(seg, pos - from, Mark::Done);
            }
        }
        let mut limited = false;
        if !probe_segment(
            plan,
            shared,
            tx,
            batch,
            seg,
            from..to,
            &mut rate,
            &mut limited,
        )? {
            return Ok(());
        }
        if !give_up(plan, shared, seg, from..to, limited, out) {
            return Ok(());
        }
        // Answers the receiver claimed may still wait in its batch: have it hand them over
        // (it checks between frames and at each idle read), then the caller may close its
        // books on the segment.
        shared.flush_asked.store(seg + 1, Ordering::Release);
        let asked = Instant::now();
        while shared.flushed.load(Ordering::Acquire) < seg + 1
            && !shared.stopped()
            && asked.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        shared.segments_done.store(seg + 1, Ordering::Release);
        seg += 1;
        from = to;
    }
    Ok(())
}

/// Reports every pair of the segment still unanswered after its last cool-down: no-arp or
/// no-ndp for on-link hosts that never answered neighbour discovery, no-response otherwise.
/// Waits first (at most a cool-down) for the receiver to catch up with what has arrived.
/// `limited`: answers still trickled in on the last pass, so silence there is counted as
/// possibly a rate limit's. False when the reporting thread is gone.
fn give_up(
    plan: &Plan,
    shared: &Shared,
    seg: u64,
    positions: Range<u64>,
    limited: bool,
    out: &mut Batch,
) -> bool {
    let since = shared.now_us();
    let end = Instant::now() + cooldown_length(plan, shared);
    while shared.drained_us.load(Ordering::Acquire) < since
        && Instant::now() < end
        && !shared.stopped()
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let proto = plan.probe.proto();
    for pos in positions.clone() {
        let off = pos - positions.start;
        if shared.window.mark(seg, off) != Some(Mark::Pending)
            || !shared.window.claim(seg, off, Mark::Closed)
        {
            continue;
        }
        let (h, p) = plan.order.pair_at_position(pos);
        let (Some(ip), Some(port)) = (plan.hosts.get(h), plan.ports.get(p)) else {
            continue;
        };
        let reason = match plan.hops.hop(ip) {
            Hop::None => continue,
            Hop::Silent if ip.is_ipv6() => Reason::NoNdp,
            Hop::Silent => Reason::NoArp,
            Hop::Mac(_) => Reason::NoResponse,
        };
        shared.given_up.fetch_add(1, Ordering::Relaxed);
        let mut r = PortResult::filtered(ip, port, reason);
        r.proto = proto;
        if reason == Reason::NoResponse {
            r.state = plan.probe.unanswered();
            if limited {
                shared.limited.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !out.push(r) {
            return false;
        }
    }
    out.flush()
}

/// Probes waiting to leave together: one `send_batch` call per batch.
struct Pending<'a> {
    plan: &'a Plan,
    shared: &'a Shared,
    probes: Vec<ProbeSpec>,
    batch: usize,
}

impl Pending<'_> {
    fn push(&mut self, tx: &mut dyn LinkTx, p: ProbeSpec) -> Result<()> {
        self.probes.push(p);
        if self.probes.len() >= self.batch {
            self.flush(tx)?;
        }
        Ok(())
    }

    /// Has the module write the waiting probes and sends them.
    fn flush(&mut self, tx: &mut dyn LinkTx) -> Result<()> {
        if self.probes.is_empty() {
            return Ok(());
        }
        let now = self.shared.now_us();
        let (probe, recorder) = (&self.plan.probe, &self.plan.recorder);
        let mut record_err = None;
        // One send per run of frames of the same length (TCP: the whole batch).
        let mut from = 0;
        while from < self.probes.len() {
            let len_of = |p: &ProbeSpec| probe.frame_len_of(p.dport, usize::from(p.k));
            let len = len_of(&self.probes[from]);
            let run = self.probes[from..]
                .iter()
                .take_while(|p| len_of(p) == len)
                .count();
            let mut it = self.probes[from..from + run].iter_mut();
            let mut fill = |buf: &mut [u8]| {
                if let Some(p) = it.next() {
                    p.tsval = now as u32;
                    probe.write(buf, p);
                    if let Some(r) = recorder
                        && let Err(e) = r.record(buf)
                    {
                        record_err.get_or_insert(e);
                    }
                }
            };
            tx.send_batch(run, len, &mut fill)
                .map_err(|e| Error::io("send probes", e))?;
            from += run;
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
    /// Closed answers (port unreachable, RST) counted when the pass began.
    closed_before: u64,
    /// Probes sent.
    sent: u64,
    /// Time spent sending them.
    secs: f64,
    /// Time from the pass's start to the last reply counted after its cool-down: what the
    /// path took to carry the pass's answers, at least `secs`. On a busy target the answers
    /// trail the probes, and counting them against `secs` alone would overstate the rate
    /// the path carries.
    reply_secs: f64,
}

/// Probes one segment: the first pass, then retry passes after cool-downs, as long as
/// `--retries` and the loss seen call for them (with `--udp-patient`, as long as answers
/// keep trickling in, paced at their rate), then the last cool-down. `limited` is set when
/// a module whose silence means open|filtered still got answers on its last retry pass: a
/// rate limit (or loss) may hide closed ports. False when the scan was stopped or ran out of
/// time (the segment's silent pairs are then not reported).
#[allow(clippy::too_many_arguments)]
fn probe_segment(
    plan: &Plan,
    shared: &Shared,
    tx: &mut dyn LinkTx,
    batch: usize,
    seg: u64,
    positions: Range<u64>,
    rate: &mut Option<f64>,
    limited: &mut bool,
) -> Result<bool> {
    let silence_ambiguous = plan.probe.unanswered() == crate::event::PortState::OpenFiltered;
    let last_attempt = if plan.opts.patient {
        plan.opts.max_retries.max(super::PATIENT_PASSES)
    } else {
        plan.opts.max_retries
    };
    let detail = plan.opts.detail;
    // The first pass, the last retry pass, and what congestion control has seen.
    let mut first: Option<PassRecord> = None;
    let mut retry_pass: Option<PassRecord> = None;
    let mut congestion = Congestion::default();
    let mut pass_start_us = 0u64;
    // The pace of patient passes (`--udp-patient`), kept out of `rate`, which carries over.
    let mut patient_rate: Option<f64> = None;
    for attempt in 0..=last_attempt {
        if attempt > 0 {
            let last_sent = if attempt == 1 { first } else { retry_pass };
            let cd = cooldown(plan, shared, last_sent.as_ref());
            let replies = shared.replies.load(Ordering::Relaxed);
            let reply_secs = shared
                .last_reply_us
                .load(Ordering::Relaxed)
                .saturating_sub(pass_start_us) as f64
                / 1e6;
            let last_pass = if attempt == 1 {
                first.as_mut()
            } else {
                retry_pass.as_mut()
            };
            if let Some(p) = last_pass {
                p.reply_secs = reply_secs.max(p.secs);
                if detail >= 1 {
                    shared.note(format!(
                        "pass {}: {} probes in {:.3} s ({}), {} answered; cool-down {:.0} ms",
                        attempt,
                        p.sent,
                        p.secs,
                        crate::rate::human(p.sent as f64 / p.secs),
                        replies.saturating_sub(p.replies_before),
                        cd.as_secs_f64() * 1000.0
                    ));
                }
            }
            if congestion.f0.is_none()
                && let Some(p0) = &first
            {
                congestion.f0 = Some(answered_share(p0, replies));
            }
            let mut slower = None;
            if let Some(last) = &retry_pass {
                slower = congested_rate(congestion, last, replies, *rate)
                    .map(|r| r.max(plan.opts.min_rate.unwrap_or(0.0)));
                congestion.before = Some(answered_share(last, replies));
                congestion.slowed = slower.is_some();
                congestion.ever_slowed |= slower.is_some();
            }
            if let Some(r) = slower {
                *rate = Some(r);
                shared.slowed_to.store(r as u64, Ordering::Relaxed);
                if detail >= 2 {
                    shared.note(format!(
                        "debug: resent probes answered like first ones: losses at speed, next pass at {}",
                        crate::rate::human(r)
                    ));
                }
            }
            // The pass just cooled down: what it got back, and how fast.
            let last = if attempt == 1 { first } else { retry_pass };
            let answers = last.map_or(0, |p| replies.saturating_sub(p.replies_before));
            // Over the pass and its cool-down: the window answers could come back in.
            let window = shared.now_us().saturating_sub(pass_start_us) as f64 / 1e6;
            let answer_rate = answers as f64 / window.max(1e-3);
            if attempt > 1 && silence_ambiguous {
                *limited = answers > 0;
                if answers > 0 {
                    shared
                        .limited_rate_milli
                        .store((answer_rate * 1000.0) as u64, Ordering::Relaxed);
                }
            }
            let patient_more = plan.opts.patient && attempt > plan.opts.retries && answers > 0;
            if patient_more {
                // Paced at what the targets' limit let through, never faster than asked; for
                // this segment only (the next one starts at the scan's rate).
                let paced = answer_rate.max(0.2);
                patient_rate = Some(rate.map_or(paced, |r| r.min(paced)));
                if detail >= 1 {
                    shared.note(format!(
                        "patient: {answers} answers at {}: next pass at that rate",
                        crate::rate::human(answer_rate)
                    ));
                }
            } else if attempt > plan.opts.max_retries
                || (attempt > plan.opts.retries
                    && slower.is_none()
                    && !still_losing(retry_pass.as_ref(), replies))
            {
                return Ok(!shared.stopped());
            }
            if detail >= 2 {
                shared.note(format!(
                    "debug: retry {attempt}: rto {} us, next cool-down {:.0} ms",
                    shared.rto_us.load(Ordering::Relaxed),
                    cooldown_length(plan, shared).as_secs_f64() * 1000.0
                ));
            }
        }
        if past_deadline(plan, shared) {
            return Ok(at_deadline(plan, shared));
        }
        // Beside other engines (discovery), the shared budget; a rate slowed by congestion
        // control or paced to a rate limit is this engine's own, inside the shared one.
        let own = patient_rate.or(*rate);
        let mut limiter = match &plan.opts.pace {
            Some(shared) if patient_rate.is_none() && *rate == plan.opts.rate => {
                Pace::Shared(shared.clone())
            }
            Some(shared) => Pace::Both(RateLimiter::new(own), shared.clone()),
            None => Pace::Own(RateLimiter::new(own)),
        };
        let replies_before = shared.replies.load(Ordering::Relaxed);
        let closed_before = shared.closed.load(Ordering::Relaxed);
        let pass_start = Instant::now();
        pass_start_us = shared.now_us();
        let sport = plan.sport(attempt);
        let mut pending = Pending {
            plan,
            shared,
            probes: Vec::with_capacity(batch),
            batch,
        };
        let mut sent_this_pass = 0u64;
        for (n, pos) in positions.clone().enumerate() {
            if shared.stopped() {
                return Ok(false);
            }
            if n % 1024 == 1023 && past_deadline(plan, shared) {
                pending.flush(tx)?;
                return Ok(at_deadline(plan, shared));
            }
            let off = pos - positions.start;
            // Answered, given up, or reported by the interrupted run this one resumes.
            if shared.window.mark(seg, off) != Some(Mark::Pending) {
                continue;
            }
            let (h, p) = plan.order.pair_at_position(pos);
            let (Some(dst), Some(port)) = (plan.hosts.get(h), plan.ports.get(p)) else {
                continue;
            };
            let mac = match plan.hops.hop(dst) {
                Hop::Mac(mac) => mac,
                // Another engine's target: never this one's to probe or report.
                Hop::None => {
                    shared.window.claim(seg, off, Mark::Closed);
                    continue;
                }
                Hop::Silent => continue,
            };
            let frames = plan.probe.frames_per_probe(port).clamp(1, 256);
            // Unlimited scans skip the clock read (2% of the sender's cycles at full speed).
            if !limiter.unlimited() && limiter.try_acquire(Instant::now(), frames as u64).is_err() {
                // Out of tokens: what was allowed leaves now, then wait for the next.
                pending.flush(tx)?;
                let mut past = false;
                while let Err(wait) = limiter.try_acquire(Instant::now(), frames as u64) {
                    std::thread::sleep(wait.min(Duration::from_millis(5)));
                    if shared.stopped() {
                        return Ok(false);
                    }
                    past = past_deadline(plan, shared);
                    if past {
                        break;
                    }
                }
                if past {
                    return Ok(at_deadline(plan, shared));
                }
            }
            let cookie = plan.cookie.value(plan.path.src, dst, sport, port);
            for k in 0..frames {
                pending.push(
                    tx,
                    ProbeSpec {
                        dst_mac: mac,
                        dst,
                        sport,
                        dport: port,
                        cookie,
                        tsval: 0,
                        k: k as u8,
                    },
                )?;
            }
            sent_this_pass += 1;
        }
        pending.flush(tx)?;
        shared
            .last_send_us
            .store(shared.now_us(), Ordering::Relaxed);
        if sent_this_pass == 0 {
            // Nothing left to probe: the previous pass's cool-down was the last.
            return Ok(!shared.stopped());
        }
        let secs = pass_start.elapsed().as_secs_f64().max(1e-4);
        let record = PassRecord {
            replies_before,
            closed_before,
            sent: sent_this_pass,
            secs,
            reply_secs: secs,
        };
        if attempt == 0 {
            first = Some(record);
        } else {
            retry_pass = Some(record);
        }
    }
    let cd = cooldown(plan, shared, retry_pass.or(first).as_ref());
    if detail >= 1
        && let Some(p) = retry_pass.or(first)
    {
        shared.note(format!(
            "last pass: {} probes in {:.3} s, {} answered; cool-down {:.0} ms",
            p.sent,
            p.secs,
            shared
                .replies
                .load(Ordering::Relaxed)
                .saturating_sub(p.replies_before),
            cd.as_secs_f64() * 1000.0
        ));
    }
    Ok(!shared.stopped() && !shared.timed_out.load(Ordering::Relaxed))
}

/// `--host-timeout` ended the scan: the replies to probes already sent still count, so wait
/// the cool-down; the unanswered pairs are left unreported. Returns false.
fn at_deadline(plan: &Plan, shared: &Shared) -> bool {
    shared
        .last_send_us
        .store(shared.now_us(), Ordering::Relaxed);
    cooldown(plan, shared, None);
    false
}

/// True (and recorded) once `--host-timeout` has passed.
fn past_deadline(plan: &Plan, shared: &Shared) -> bool {
    let past = plan.opts.deadline.is_some_and(|d| Instant::now() >= d);
    if past && !shared.timed_out.swap(true, Ordering::Relaxed) && plan.opts.detail >= 1 {
        shared.note("--host-timeout reached: no more probes".into());
    }
    past
}

/// Share of a pass's probes answered by the time `replies` were counted.
fn answered_share(pass: &PassRecord, replies: u64) -> f64 {
    replies.saturating_sub(pass.replies_before) as f64 / pass.sent.max(1) as f64
}

/// Fewest answers in a retry pass that can show congestion (fewer are noise).
const CONGESTION_MIN_ANSWERS: u64 = 16;

/// Lowest rate congestion control goes down to, in probes per second.
const MIN_RATE: f64 = 100.0;

/// What congestion control remembers between passes.
#[derive(Debug, Clone, Copy, Default)]
struct Congestion {
    /// Share of the first pass's probes answered.
    f0: Option<f64>,
    /// Share answered of the retry pass before the last one.
    before: Option<f64>,
    /// The last retry pass was sent slower than the one before it.
    slowed: bool,
    /// The scan has been slowed down at least once.
    ever_slowed: bool,
}

/// Once slowed, a pass answered below this share is still going too fast, if slowing down
/// raised the share.
const SLOWED_TARGET_SHARE: f64 = 0.85;

/// The send rate for the next pass when the last retry pass shows loss caused by speed, as
/// nmap slows down on drops. A retry pass resends only unanswered probes: under random loss
/// or filtering few of them are answered, but when the path (or the target) drops what
/// arrives too fast, resent probes are answered about as often as first ones (at least half
/// the first pass's share `f0`) and still no more than half of them are. The pass's answers
/// per second then estimate what the path carries; the next pass goes at that, kept between
/// a sixteenth and half of the rate just used.
///
/// After a slow-down, a pass sent within twice what the path carries is answered more than
/// half the time; it still shows speed losses when its share is below
/// [`SLOWED_TARGET_SHARE`] and went up with the slow-down (random loss does not move with
/// the rate). The next pass then goes at the answers' rate, down to a sixteenth.
fn congested_rate(
    c: Congestion,
    last: &PassRecord,
    replies: u64,
    rate: Option<f64>,
) -> Option<f64> {
    let f0 = c.f0?;
    let recovered = replies.saturating_sub(last.replies_before);
    let share = answered_share(last, replies);
    if recovered < CONGESTION_MIN_ANSWERS || share < f0 / 2.0 {
        return None;
    }
    let ceiling = if !c.ever_slowed && share < 0.5 {
        0.5
    } else if c.slowed && share < SLOWED_TARGET_SHARE && c.before.is_some_and(|b| share >= b * 1.2)
    {
        0.95
    } else {
        return None;
    };
    let sent_rate = (last.sent as f64 / last.secs).min(rate.unwrap_or(f64::MAX));
    let carried = recovered as f64 / last.reply_secs.max(last.secs);
    let next = carried.clamp(sent_rate / 16.0, sent_rate * ceiling);
    Some(next.floor().max(MIN_RATE))
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
/// only RSTs came back, or `--initial-rtt-timeout` (else `--timeout`) when nothing answered;
/// at least `--min-rtt-timeout` (10 ms), at most `--timeout`.
pub(super) fn cooldown_length(plan: &Plan, shared: &Shared) -> Duration {
    if let Some(w) = plan.opts.wait {
        return w;
    }
    let (min, max) = (plan.opts.min_rtt, plan.opts.timeout.max(plan.opts.min_rtt));
    let rto = shared.rto_us.load(Ordering::Relaxed);
    let first_reply = shared.first_reply_us.load(Ordering::Relaxed);
    let first_send = shared.first_send_us.load(Ordering::Relaxed);
    let est = if rto > 0 {
        Duration::from_micros(rto)
    } else if first_reply > 0 && first_send > 0 {
        Duration::from_micros(first_reply.saturating_sub(first_send)) * 3
    } else {
        return plan.opts.initial_rtt.unwrap_or(max).clamp(min, max);
    };
    (est + Duration::from_millis(2)).clamp(min, max)
}

/// The shortest cool-down after a UDP pass that looks rate-limited ([`limit_suspected`]).
/// Linux gives each destination one ICMP error a second by default (net.ipv4.icmp_ratelimit,
/// net.ipv6.icmp.ratelimit): a shorter wait hears none of the trickle a rate-limited target
/// lets through, so a limit would pass for filtering, and `--udp-patient` would have no rate
/// to pace at.
const ICMP_LIMIT_WINDOW: Duration = Duration::from_secs(1);

/// True when a pass of a module whose silence is ambiguous (UDP) looks like it met an ICMP
/// rate limit: the targets sent closed answers, so their silence is not a blanket drop, yet
/// more of the pass's pairs stayed silent than were answered closed (with `--udp-patient`,
/// any stayed silent). A target without a limit answers every closed port at once and leaves
/// only its dropped ports silent.
fn limit_suspected(plan: &Plan, shared: &Shared, pass: &PassRecord) -> bool {
    if plan.probe.unanswered() != crate::event::PortState::OpenFiltered {
        return false;
    }
    let closed = shared
        .closed
        .load(Ordering::Relaxed)
        .saturating_sub(pass.closed_before);
    let answered = shared
        .replies
        .load(Ordering::Relaxed)
        .saturating_sub(pass.replies_before);
    let silent = pass.sent.saturating_sub(answered);
    // A patient scan waits whenever anything stayed silent beside closed answers: a limit's
    // burst (six errors on Linux) can answer most of a small pass.
    closed > 0 && (silent > closed || (plan.opts.patient && silent > 0))
}

/// Waits until the cool-down has passed since the last probe and replies have gone quiet for
/// half of it (replies still queued on a busy link extend the wait, up to four cool-downs).
/// After a `pass` that looks rate-limited, at least [`ICMP_LIMIT_WINDOW`] (the answers that
/// arrive during the wait decide it). Returns how long it waited.
fn cooldown(plan: &Plan, shared: &Shared, pass: Option<&PassRecord>) -> Duration {
    let started = Instant::now();
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
        return started.elapsed();
    }
    loop {
        if shared.stopped() {
            return started.elapsed();
        }
        let mut cd = cooldown_length(plan, shared);
        if pass.is_some_and(|p| limit_suspected(plan, shared, p)) {
            cd = cd.max(ICMP_LIMIT_WINDOW.min(plan.opts.timeout.max(plan.opts.min_rtt)));
        }
        let cd = cd.as_micros() as u64;
        let now = shared.now_us();
        let last_reply = shared.last_reply_us.load(Ordering::Relaxed);
        let quiet = now.saturating_sub(last_reply) >= cd / 2;
        if (now >= last_send + cd && quiet) || now >= last_send + 4 * cd {
            return started.elapsed();
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
            closed_before: 0,
            sent,
            secs,
            reply_secs: secs,
        }
    }

    fn first(f0: f64) -> Congestion {
        Congestion {
            f0: Some(f0),
            ..Congestion::default()
        }
    }

    /// After a slow-down, with `before` the share answered at the faster rate.
    fn slowed(f0: f64, before: f64) -> Congestion {
        Congestion {
            f0: Some(f0),
            before: Some(before),
            slowed: true,
            ever_slowed: true,
        }
    }

    #[test]
    fn random_loss_and_filtering_do_not_slow_the_scan() {
        // 5% loss each way on a host answering every port: most resent probes are answered.
        assert_eq!(
            congested_rate(first(0.9), &pass(6400, 0.02), 1000 + 5800, None),
            None
        );
        // A sweep of mostly dead hosts with some loss: resent probes are rarely answered.
        let sweep = pass(6_400_000, 12.8);
        assert_eq!(
            congested_rate(first(0.015), &sweep, 1000 + 9000, None),
            None
        );
        // A handful of late answers is noise.
        assert_eq!(
            congested_rate(first(0.001), &pass(20000, 0.05), 1000 + 10, None),
            None
        );
    }

    #[test]
    fn loss_at_speed_slows_to_what_the_path_carries() {
        // 150 of 20000 answered at full speed, then 100 of 19850 resent: a 2000/s limit.
        let last = pass(19850, 0.05);
        let r = congested_rate(first(0.0075), &last, 1000 + 100, None).expect("congested");
        // Answers came at 2000/s, below a sixteenth of the 397 000/s sent: a sixteenth.
        assert_eq!(r, (397_000 / 16) as f64);
        // At 25 000/s, 1600 of 19700 answered: on to the carried rate, 2000/s.
        let r = congested_rate(first(0.0075), &pass(19700, 0.8), 1000 + 1600, Some(r)).unwrap();
        assert_eq!(r, 2000.0);
        // A tiny carried rate stops at the floor.
        let r = congested_rate(first(0.5), &pass(400, 4.0), 1000 + 100, Some(200.0)).unwrap();
        assert_eq!(r, MIN_RATE);
    }

    #[test]
    fn within_twice_the_capacity_after_a_slow_down_it_slows_again() {
        // Slowed from 65 900/s (where 3% were answered) to 3 810/s, the pass is answered
        // 53% of the time: still too fast for a 2000/s path.
        let c = slowed(0.006, 0.03);
        let r = congested_rate(c, &pass(19193, 5.04), 1000 + 10106, Some(3810.0)).unwrap();
        assert_eq!(r, 2005.0);
        // A pass at the right speed is answered almost entirely: no change.
        assert_eq!(
            congested_rate(c, &pass(9000, 4.5), 1000 + 8950, Some(2000.0)),
            None
        );
        // Loss that stays the same at the lower rate is not about speed: no further slowing.
        let c = slowed(0.36, 0.36);
        assert_eq!(
            congested_rate(c, &pass(6000, 1.0), 1000 + 2200, Some(6000.0)),
            None
        );
        // Once slowed, a pass sent at an unchanged rate never triggers the first rule again.
        let c = Congestion {
            slowed: false,
            ..slowed(0.36, 0.36)
        };
        assert_eq!(
            congested_rate(c, &pass(6000, 1.0), 1000 + 2200, Some(6000.0)),
            None
        );
    }

    #[test]
    fn answers_trailing_the_probes_count_over_the_time_they_took() {
        // A busy target answered 3000 of 19000 probes sent in 0.76 s, but its answers kept
        // coming until 1.5 s: it carries 2000/s, not 3900/s.
        let mut p = pass(19000, 0.76);
        p.reply_secs = 1.5;
        let r = congested_rate(first(0.0075), &p, 1000 + 3000, Some(25_000.0)).unwrap();
        assert_eq!(r, 2000.0);
    }
}
