//! The raw scan engine (zmap's shape), for every probe module alike: the receiver thread
//! starts first and signals ready; the sender thread walks the permutation one segment at a
//! time, retrying only unanswered pairs after cool-downs that adapt to the round-trip times
//! seen, then reports the segment's silent pairs and moves on; results stream back to the
//! calling thread, which owns the output. No per-probe state: the answered marks of the
//! segment being probed ([`window`]) and the keyed cookie are all that is shared, so memory
//! is flat whatever the size of the space. What a probe is and what an answer means is the
//! [`Probe`] module's business; how frames travel is the [`crate::link`]'s: this module
//! knows neither TCP nor sockets.

mod neighbor;
mod rx;
mod tx;
mod window;

#[cfg(test)]
mod tests;

pub use neighbor::{Hop, NextHops, Run};
use window::{Mark, Window};

/// Positions per segment unless [`Options::segment`] says: every pair of a segment is
/// answered or given up before the next one starts, so this bounds the engine's state
/// (2 MiB of marks) and, on a resumed run, the checkpoint's list of finished pairs.
pub const SEGMENT: u64 = 1 << 22;

use crate::error::{Error, Result};
use crate::event::{PortResult, ResultSink, ScanStats};
use crate::link::{Channels, Framing};
use crate::probe::{Cookie, Probe};
use crate::route::Path;
use crate::target::{HostSet, PortList, ScanOrder};
use pnet::util::MacAddr;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Tuning of the engine.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most probes per second (`None`: as fast as the link takes them).
    pub rate: Option<f64>,
    /// Congestion control never slows below this (`--min-rate`).
    pub min_rate: Option<f64>,
    /// Extra probes for pairs still unanswered.
    pub retries: u32,
    /// Most retries: passes beyond `retries` are sent while the last retry pass still got
    /// answers for a tenth of its probes (loss, not filtering), as nmap raises its retry count
    /// when it sees drops. Equal to `retries` to turn this off.
    pub max_retries: u32,
    /// Fixed cool-down after each pass (`None`: adapt to the RTTs seen).
    pub wait: Option<Duration>,
    /// Upper bound of the adaptive cool-down, and its value when nothing answered.
    pub timeout: Duration,
    /// Lower bound of the adaptive cool-down.
    pub min_rtt: Duration,
    /// The cool-down before any reply was timed (`None`: `timeout`).
    pub initial_rtt: Option<Duration>,
    /// When to stop probing (`--host-timeout`); replies already in are still reported.
    pub deadline: Option<Instant>,
    /// Pass-by-pass timing notes for `-v` (1) and the engine's decisions for `-d` (2).
    pub detail: u8,
    /// First source port (attempt k uses base + k unless `fixed_sport`).
    pub sport: u16,
    /// All attempts use `sport`.
    pub fixed_sport: bool,
    /// Send a RST after each SYN-ACK.
    pub reset: bool,
    /// TTL of the probes.
    pub ttl: u8,
    /// Positions per segment ([`SEGMENT`]).
    pub segment: u64,
    /// `--udp-patient`: while retry passes still get answers (a target's ICMP rate limit
    /// letting a trickle through), send more, paced at the rate answers came back, until a
    /// pass gets none.
    pub patient: bool,
    /// A `--rate` budget shared with engines running beside this one (`None`: its own).
    pub pace: Option<crate::rate::SharedLimiter>,
}

/// Source ports in use: attempt k uses base + k mod this (patient scans run many passes).
pub const SPORT_SPAN: u32 = 8;

/// Most passes of a patient scan per segment (a bound, never reached in practice: every
/// pass but the last must get answers).
pub const PATIENT_PASSES: u32 = 100_000;

/// Counters and clocks shared by the threads.
pub(crate) struct Shared {
    pub t0: Instant,
    pub stop: AtomicBool,
    pub tx_done: AtomicBool,
    /// The answered marks of the segment being probed.
    pub window: Window,
    pub sent: AtomicU64,
    pub replies: AtomicU64,
    /// Pairs given up on and reported without an answer.
    pub given_up: AtomicU64,
    /// When the receiver last found nothing waiting (microseconds since t0): every reply
    /// that arrived before then has been handled.
    pub drained_us: AtomicU64,
    pub open: AtomicU64,
    /// Microseconds since t0 (0: not yet).
    pub first_send_us: AtomicU64,
    pub last_send_us: AtomicU64,
    pub first_reply_us: AtomicU64,
    pub last_reply_us: AtomicU64,
    /// Retransmission timeout from the RTT estimator (0: no RTT sample yet).
    pub rto_us: AtomicU64,
    /// The rate congestion control lowered sending to (0: never lowered).
    pub slowed_to: AtomicU64,
    /// `--host-timeout` passed: sending stopped early.
    pub timed_out: AtomicBool,
    /// Notes for `-v`/`-d`, printed by the calling thread.
    pub notes: std::sync::Mutex<Vec<String>>,
    /// Closed answers (port unreachable, RST) so far.
    pub closed: AtomicU64,
    /// Pairs left without an answer in segments where the last retry pass still got
    /// answers: silence there may be a rate limit's, not a firewall's (UDP).
    pub limited: AtomicU64,
    /// Answers per second (×1000) of the last such pass.
    pub limited_rate_milli: AtomicU64,
    /// Segments whose every pair is reported (set after their results are sent).
    pub segments_done: AtomicU64,
    /// The sender asks the receiver to hand over its batch (a segment count) ...
    pub flush_asked: AtomicU64,
    /// ... and the receiver says it has.
    pub flushed: AtomicU64,
}

impl Shared {
    pub fn now_us(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64 + 1
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Queues a `-v`/`-d` note (never on the per-probe path).
    pub fn note(&self, text: String) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(text);
        }
    }
}

/// Everything the threads read.
pub(crate) struct Plan {
    /// Every host of the scan's order.
    pub hosts: HostSet,
    pub ports: PortList,
    pub order: ScanOrder,
    pub path: Path,
    /// The targets this engine serves and their next hops.
    pub hops: NextHops,
    pub probe: Box<dyn Probe>,
    pub cookie: Cookie,
    pub opts: Options,
    pub recorder: Option<crate::capture::Recorder>,
    /// Where the walk starts: 0, or the position before which a resumed scan's interrupted
    /// run reported everything.
    pub start: u64,
    /// Positions at or past `start` the interrupted run reported, as sorted half-open ranges.
    pub done: Vec<(u64, u64)>,
    /// How received frames begin.
    pub framing: Framing,
}

impl Plan {
    /// True when this engine probes `ip`.
    #[inline]
    pub fn serves(&self, ip: IpAddr) -> bool {
        self.hops.serves(ip)
    }

    /// The segment and offset of the pair at `pos`.
    #[inline]
    pub fn locate(&self, pos: u64) -> Option<(u64, u64)> {
        let s = pos.checked_sub(self.start)?;
        let len = self.opts.segment.max(1);
        Some((s / len, s % len))
    }

    /// The position of (ip, port) in this engine's walk.
    pub fn position_of(&self, ip: IpAddr, port: u16) -> Option<u64> {
        let h = self.hosts.index_of(ip)?;
        let p = self.ports.index_of(port)?;
        self.order.position_of(h, p)
    }

    /// Marks (ip, port) answered; true for the first answer of a pair still being probed.
    pub fn answer(&self, window: &Window, ip: IpAddr, port: u16) -> bool {
        let Some((seg, off)) = self.position_of(ip, port).and_then(|p| self.locate(p)) else {
            return false;
        };
        window.claim(seg, off, Mark::Answered)
    }

    /// Source port of attempt `attempt`.
    pub fn sport(&self, attempt: u32) -> u16 {
        if self.opts.fixed_sport {
            self.opts.sport
        } else {
            self.opts
                .sport
                .wrapping_add((attempt % u32::from(self.sport_count())) as u16)
        }
    }

    /// Number of source ports in use.
    pub fn sport_count(&self) -> u16 {
        if self.opts.fixed_sport {
            1
        } else {
            (self.opts.max_retries.max(self.opts.retries) + 1).min(SPORT_SPAN) as u16
        }
    }
}

/// What one engine probes, and how.
pub struct Job {
    /// Every host of the scan (the order is over these).
    pub hosts: HostSet,
    /// The runs of targets this path serves, with their gateways.
    pub runs: Vec<Run>,
    /// Ports.
    pub ports: PortList,
    /// Order over hosts × ports (this shard).
    pub order: ScanOrder,
    /// Interface and source.
    pub path: Path,
    /// `--router-mac`.
    pub router_mac: Option<MacAddr>,
    /// The probe module, built for this path.
    pub probe: Box<dyn Probe>,
    /// The cookie.
    pub cookie: Cookie,
    /// Tuning.
    pub opts: Options,
    /// `--pcap`: where probes and replies are recorded.
    pub recorder: Option<crate::capture::Recorder>,
    /// First position of the walk (0, or a resume file's).
    pub start: u64,
    /// Positions at or past `start` already reported by the run this one resumes (sorted
    /// half-open ranges).
    pub done: Vec<(u64, u64)>,
}

/// A scan over open channels.
pub struct Scan {
    plan: Arc<Plan>,
    channels: Channels,
}

/// Which positions of the order an engine probes: the rest belong to other engines (other
/// paths) or to no engine (unroutable targets). Cheap to clone; used by the resume tracking.
#[derive(Clone)]
pub struct Coverage(Arc<Plan>);

impl Coverage {
    /// True when the engine probes the pair at `pos`.
    pub fn probes(&self, pos: u64) -> bool {
        let (h, _) = self.0.order.pair_at_position(pos);
        self.0.hosts.get(h).is_some_and(|ip| self.0.serves(ip))
    }
}

impl Scan {
    /// Prepares the scan: resolves next-hop MACs over the channels (ARP, NDP) before any probe.
    pub fn new(mut job: Job, mut channels: Channels) -> Result<Scan> {
        if job.probe.on_link() {
            // ARP and NDP pings find the MACs themselves: each frame says where it goes.
            let runs = std::mem::take(&mut job.runs);
            let hops = NextHops::fixed(job.path.src.is_ipv6(), runs, MacAddr::broadcast());
            return Ok(Scan::with_hops(job, hops, channels));
        }
        let hops = NextHops::resolve(
            &job.path,
            std::mem::take(&mut job.runs),
            job.router_mac,
            channels.reply.as_mut(),
            channels.rx.as_mut(),
            channels.framing,
        )?;
        Ok(Scan::with_hops(job, hops, channels))
    }

    /// The scan with next hops already known (no resolution on the link: tests).
    pub fn with_hops(job: Job, hops: NextHops, channels: Channels) -> Scan {
        let start = job.start.min(job.order.len());
        Scan {
            plan: Arc::new(Plan {
                hosts: job.hosts,
                ports: job.ports,
                order: job.order,
                path: job.path,
                hops,
                probe: job.probe,
                cookie: job.cookie,
                opts: job.opts,
                recorder: job.recorder,
                start,
                done: job.done,
                framing: channels.framing,
            }),
            channels,
        }
    }

    /// Which positions this engine probes.
    pub fn coverage(&self) -> Coverage {
        Coverage(Arc::clone(&self.plan))
    }

    /// Runs the scan, delivering results to `sink` on this thread, until it ends or `stop`.
    pub fn run(self, sink: &mut dyn ResultSink, stop: &AtomicBool) -> Result<ScanStats> {
        self.run_keep(sink, stop).map(|(stats, _)| stats)
    }

    /// [`Scan::run`], handing the channels back for another scan on the same path (the
    /// port scan of the next group of hosts discovery found).
    pub fn run_keep(
        self,
        sink: &mut dyn ResultSink,
        stop: &AtomicBool,
    ) -> Result<(ScanStats, Channels)> {
        let plan = self.plan;
        let segment = plan
            .opts
            .segment
            .clamp(1, plan.order.len().saturating_sub(plan.start).max(1));
        let Channels {
            tx,
            rx,
            reply,
            framing,
        } = self.channels;
        let shared = Arc::new(Shared {
            t0: Instant::now(),
            stop: AtomicBool::new(false),
            tx_done: AtomicBool::new(false),
            window: Window::new(segment),
            sent: AtomicU64::new(0),
            replies: AtomicU64::new(0),
            given_up: AtomicU64::new(0),
            drained_us: AtomicU64::new(0),
            open: AtomicU64::new(0),
            first_send_us: AtomicU64::new(0),
            last_send_us: AtomicU64::new(0),
            first_reply_us: AtomicU64::new(0),
            last_reply_us: AtomicU64::new(0),
            rto_us: AtomicU64::new(0),
            slowed_to: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
            notes: std::sync::Mutex::new(Vec::new()),
            closed: AtomicU64::new(0),
            limited: AtomicU64::new(0),
            limited_rate_milli: AtomicU64::new(0),
            segments_done: AtomicU64::new(0),
            flush_asked: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
        });
        let (results_tx, results) = mpsc::channel::<Vec<PortResult>>();
        let (ready_tx, ready) = mpsc::sync_channel::<()>(1);
        let rx_thread = {
            let (plan, shared) = (Arc::clone(&plan), Arc::clone(&shared));
            let results = results_tx.clone();
            std::thread::Builder::new()
                .name("synscan-rx".into())
                .spawn(move || rx::run(&plan, &shared, rx, reply, results, ready_tx))
                .map_err(|e| Error::io("spawn receiver thread", e))?
        };
        // The receiver must be listening before the first probe leaves.
        if ready.recv_timeout(Duration::from_secs(5)).is_err() {
            shared.stop.store(true, Ordering::Relaxed);
            return Err(Error::Runtime("receiver thread did not start".into()));
        }
        let tx_thread = {
            let (plan, shared) = (Arc::clone(&plan), Arc::clone(&shared));
            let results = results_tx.clone();
            std::thread::Builder::new()
                .name("synscan-tx".into())
                .spawn(move || tx::run(&plan, &shared, tx, results))
                .map_err(|e| Error::io("spawn sender thread", e))?
        };
        // The threads hold the only senders: the channel closes when both are done.
        drop(results_tx);
        let mut write_err = None;
        let mut last_tick = Instant::now();
        let mut segments = 0;
        let deliver = |sink: &mut dyn ResultSink,
                       batch: Vec<PortResult>,
                       write_err: &mut Option<std::io::Error>| {
            for r in batch {
                if write_err.is_none()
                    && let Err(e) = sink.result(r)
                {
                    *write_err = Some(e);
                    shared.stop.store(true, Ordering::Relaxed);
                }
            }
        };
        loop {
            if stop.load(Ordering::Relaxed) {
                shared.stop.store(true, Ordering::Relaxed);
            }
            // Read before the results: a segment's are all queued by the time it counts (the
            // next segment's may be queued too; the sink places results by position).
            let done = shared.segments_done.load(Ordering::Acquire);
            match results.recv_timeout(Duration::from_millis(50)) {
                Ok(batch) => deliver(sink, batch, &mut write_err),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if done > segments {
                while let Ok(batch) = results.try_recv() {
                    deliver(sink, batch, &mut write_err);
                }
                segments = done;
                if write_err.is_none() {
                    sink.segments_done(segments);
                }
            }
            let notes = shared
                .notes
                .lock()
                .map(|mut n| std::mem::take(&mut *n))
                .unwrap_or_default();
            for n in notes {
                sink.note(&n);
            }
            if last_tick.elapsed() >= Duration::from_millis(100) && write_err.is_none() {
                last_tick = Instant::now();
                let sent = shared.sent.load(Ordering::Relaxed);
                let done = sent.min(plan.order.len());
                if let Err(e) = sink.tick(done, sent, shared.open.load(Ordering::Relaxed)) {
                    write_err = Some(e);
                    shared.stop.store(true, Ordering::Relaxed);
                }
            }
        }
        let done = shared.segments_done.load(Ordering::Acquire);
        if done > segments && write_err.is_none() {
            sink.segments_done(done);
        }
        let (tx_result, tx) = tx_thread
            .join()
            .map_err(|_| Error::Runtime("sender thread panicked".into()))?;
        let (rx_result, rx, reply) = rx_thread
            .join()
            .map_err(|_| Error::Runtime("receiver thread panicked".into()))?;
        if let Some(e) = write_err {
            return Err(Error::io("write results", e));
        }
        tx_result?;
        if let Some(r) = &plan.recorder {
            r.flush().map_err(|e| Error::io("write --pcap file", e))?;
        }
        let timed_out = shared.timed_out.load(Ordering::Relaxed);
        let interrupted = shared.stopped() && !timed_out;
        for n in shared
            .notes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
        {
            sink.note(&n);
        }
        let mut stats = ScanStats {
            probes_sent: shared.sent.load(Ordering::Relaxed),
            open: shared.open.load(Ordering::Relaxed),
            elapsed: shared.t0.elapsed(),
            interrupted,
            timed_out,
            kernel_drops: rx_result?,
            slowed_to: Some(shared.slowed_to.load(Ordering::Relaxed)).filter(|&r| r > 0),
            rate_limited: shared.limited.load(Ordering::Relaxed),
            limited_rate: Some(shared.limited_rate_milli.load(Ordering::Relaxed) as f64 / 1000.0)
                .filter(|&r| r > 0.0),
            ..ScanStats::default()
        };
        stats.ports_done =
            shared.replies.load(Ordering::Relaxed) + shared.given_up.load(Ordering::Relaxed);
        stats.elapsed = shared.t0.elapsed();
        sink.tick(stats.ports_done, stats.probes_sent, stats.open)
            .map_err(|e| Error::io("write results", e))?;
        let channels = Channels {
            tx,
            rx,
            reply,
            framing,
        };
        Ok((stats, channels))
    }
}

/// Results handed to the reporting thread in batches: a channel wake-up per result costs
/// more than receiving the reply. A batch leaves when full, after 20 ms, or when idle.
pub(crate) struct Batch<'a> {
    out: &'a Sender<Vec<PortResult>>,
    items: Vec<PortResult>,
    since: std::time::Instant,
}

impl<'a> Batch<'a> {
    const MAX: usize = 512;
    const AGE: Duration = Duration::from_millis(20);

    pub fn new(out: &'a Sender<Vec<PortResult>>) -> Self {
        Batch {
            out,
            items: Vec::with_capacity(Self::MAX),
            since: std::time::Instant::now(),
        }
    }

    /// Adds a result; false when the reporting thread is gone.
    pub fn push(&mut self, r: PortResult) -> bool {
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
    pub fn flush(&mut self) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let items = std::mem::replace(&mut self.items, Vec::with_capacity(Self::MAX));
        self.out.send(items).is_ok()
    }
}

/// Prints the probes a scan would send (first attempts, in send order) as
/// `DST_IP:DST_PORT sport=N seq=N` (`[DST_IP]:DST_PORT` for IPv6; UDP probes as
/// `DST_IP:DST_PORT/udp sport=N cookie=N`), sending nothing. `src` gives each target's
/// source address (`None`: the target is skipped, no route).
#[allow(clippy::too_many_arguments)]
pub fn dry_run(
    hosts: &HostSet,
    ports: &PortList,
    order: &ScanOrder,
    src: &dyn Fn(IpAddr) -> Option<IpAddr>,
    sport: u16,
    cookie: &Cookie,
    proto: crate::event::Proto,
    out: &mut dyn std::io::Write,
) -> std::io::Result<u64> {
    let mut n = 0;
    let (suffix, field) = match proto {
        crate::event::Proto::Tcp => ("", "seq"),
        crate::event::Proto::Udp => ("/udp", "cookie"),
    };
    for (dst, port) in order.iter(hosts, ports, 0) {
        let Some(s) = src(dst) else {
            continue;
        };
        let seq = cookie.value(s, dst, sport, port);
        match dst {
            IpAddr::V4(d) => writeln!(out, "{d}:{port}{suffix} sport={sport} {field}={seq}")?,
            IpAddr::V6(d) => writeln!(out, "[{d}]:{port}{suffix} sport={sport} {field}={seq}")?,
        }
        n += 1;
    }
    out.flush()?;
    Ok(n)
}
