//! The raw scan engine (zmap's shape), for every probe module alike: the receiver thread
//! starts first and signals ready; the sender thread walks the permutation, then retries only
//! unanswered pairs, then waits a cool-down that adapts to the round-trip times seen; results
//! stream back to the calling thread, which owns the output. No per-probe state: a bitmap of
//! answered pairs and the keyed cookie are all that is shared. What a probe is and what an
//! answer means is the [`Probe`] module's business; how frames travel is the
//! [`crate::link`]'s: this module knows neither TCP nor sockets.

mod bitmap;
mod neighbor;
mod rx;
mod tx;

#[cfg(test)]
mod tests;

pub use bitmap::Bitmap;
pub use neighbor::{Hop, NextHops, Run};

use crate::error::{Error, Result};
use crate::event::{PortResult, Reason, ResultSink, ScanStats};
use crate::link::{Channels, Framing};
use crate::probe::{Cookie, Probe};
use crate::route::Path;
use crate::target::{HostSet, PortList, ScanOrder};
use pnet::util::MacAddr;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
}

/// Counters and clocks shared by the threads.
pub(crate) struct Shared {
    pub t0: Instant,
    pub stop: AtomicBool,
    pub tx_done: AtomicBool,
    pub answered: Bitmap,
    pub sent: AtomicU64,
    pub replies: AtomicU64,
    pub open: AtomicU64,
    /// Microseconds since t0 (0: not yet).
    pub first_send_us: AtomicU64,
    pub last_send_us: AtomicU64,
    pub first_reply_us: AtomicU64,
    pub last_reply_us: AtomicU64,
    /// Retransmission timeout from the RTT estimator (0: no RTT sample yet).
    pub rto_us: AtomicU64,
    /// The sender's position in its first pass (saved in resume files).
    pub position: AtomicU64,
    /// The rate congestion control lowered sending to (0: never lowered).
    pub slowed_to: AtomicU64,
    /// `--host-timeout` passed: sending stopped early.
    pub timed_out: AtomicBool,
    /// Notes for `-v`/`-d`, printed by the calling thread.
    pub notes: std::sync::Mutex<Vec<String>>,
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
    /// Every host of the scan's order (the order and the bitmap index are over these).
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
    /// Where the first pass starts (a resumed scan goes on from its saved position, then
    /// wraps round to the pairs before it).
    pub start: u64,
    /// How received frames begin.
    pub framing: Framing,
}

impl Plan {
    /// True when this engine probes `ip`.
    #[inline]
    pub fn serves(&self, ip: IpAddr) -> bool {
        self.hops.serves(ip)
    }

    /// The natural index of (host, port) in the bitmap.
    pub fn index(&self, ip: IpAddr, port: u16) -> Option<u64> {
        let h = self.hosts.index_of(ip)?;
        let p = self.ports.index_of(port)? as u64;
        Some(h * self.ports.len() as u64 + p)
    }

    /// Source port of attempt `attempt`.
    pub fn sport(&self, attempt: u32) -> u16 {
        if self.opts.fixed_sport {
            self.opts.sport
        } else {
            self.opts.sport.wrapping_add(attempt as u16)
        }
    }

    /// Number of source ports in use.
    pub fn sport_count(&self) -> u16 {
        if self.opts.fixed_sport {
            1
        } else {
            self.opts.max_retries.max(self.opts.retries) as u16 + 1
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
    /// First position of the first pass (0, or a resume file's).
    pub start: u64,
}

/// A scan over open channels.
pub struct Scan {
    plan: Arc<Plan>,
    channels: Channels,
    /// Pairs answered (or, before the scan, already reported by an interrupted run).
    answered: Bitmap,
}

impl Scan {
    /// Prepares the scan: resolves next-hop MACs over the channels (ARP, NDP) before any probe.
    pub fn new(mut job: Job, mut channels: Channels) -> Result<Scan> {
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
        let answered = Bitmap::new(job.hosts.len() * job.ports.len() as u64);
        let start = if job.start < job.order.len() {
            job.start
        } else {
            0
        };
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
                framing: channels.framing,
            }),
            channels,
            answered,
        }
    }

    /// Marks a pair reported by an earlier, interrupted run: it is not probed or reported.
    pub fn mark_done(&self, ip: IpAddr, port: u16) {
        if self.plan.serves(ip)
            && let Some(i) = self.plan.index(ip, port)
        {
            self.answered.set(i);
        }
    }

    /// Runs the scan, delivering results to `sink` on this thread, until it ends or `stop`.
    pub fn run(self, sink: &mut dyn ResultSink, stop: &AtomicBool) -> Result<ScanStats> {
        let plan = self.plan;
        let answered = self.answered;
        let Channels {
            tx,
            rx,
            reply,
            framing: _,
        } = self.channels;
        let shared = Arc::new(Shared {
            t0: Instant::now(),
            stop: AtomicBool::new(false),
            tx_done: AtomicBool::new(false),
            answered,
            sent: AtomicU64::new(0),
            replies: AtomicU64::new(0),
            open: AtomicU64::new(0),
            first_send_us: AtomicU64::new(0),
            last_send_us: AtomicU64::new(0),
            first_reply_us: AtomicU64::new(0),
            last_reply_us: AtomicU64::new(0),
            rto_us: AtomicU64::new(0),
            position: AtomicU64::new(plan.start),
            slowed_to: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
            notes: std::sync::Mutex::new(Vec::new()),
        });
        let (results_tx, results) = mpsc::channel::<Vec<PortResult>>();
        let (ready_tx, ready) = mpsc::sync_channel::<()>(1);
        let rx_thread = {
            let (plan, shared) = (Arc::clone(&plan), Arc::clone(&shared));
            std::thread::Builder::new()
                .name("synscan-rx".into())
                .spawn(move || rx::run(&plan, &shared, rx, reply, results_tx, ready_tx))
                .map_err(|e| Error::io("spawn receiver thread", e))?
        };
        // The receiver must be listening before the first probe leaves.
        if ready.recv_timeout(Duration::from_secs(5)).is_err() {
            shared.stop.store(true, Ordering::Relaxed);
            return Err(Error::Runtime("receiver thread did not start".into()));
        }
        let tx_thread = {
            let (plan, shared) = (Arc::clone(&plan), Arc::clone(&shared));
            std::thread::Builder::new()
                .name("synscan-tx".into())
                .spawn(move || tx::run(&plan, &shared, tx))
                .map_err(|e| Error::io("spawn sender thread", e))?
        };
        let mut write_err = None;
        let mut last_tick = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                shared.stop.store(true, Ordering::Relaxed);
            }
            match results.recv_timeout(Duration::from_millis(50)) {
                Ok(batch) => {
                    for r in batch {
                        if write_err.is_none()
                            && let Err(e) = sink.result(r)
                        {
                            write_err = Some(e);
                            shared.stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
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
                sink.position(shared.position.load(Ordering::Relaxed));
                if let Err(e) = sink.tick(done, sent, shared.open.load(Ordering::Relaxed)) {
                    write_err = Some(e);
                    shared.stop.store(true, Ordering::Relaxed);
                }
            }
        }
        let tx_result = tx_thread
            .join()
            .map_err(|_| Error::Runtime("sender thread panicked".into()))?;
        let rx_result = rx_thread
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
            ..ScanStats::default()
        };
        stats.ports_done = shared.replies.load(Ordering::Relaxed);
        if !interrupted && !timed_out {
            // Every pair left unanswered is filtered: no-arp for silent local hosts,
            // unreachable by the routing table, no-response otherwise.
            for (h, p) in (0..plan.order.len()).map(|pos| plan.order.pair_at_position(pos)) {
                let idx = h * plan.ports.len() as u64 + p as u64;
                if shared.answered.get(idx) {
                    continue;
                }
                let (Some(ip), Some(port)) = (plan.hosts.get(h), plan.ports.get(p)) else {
                    continue;
                };
                let reason = match plan.hops.hop(ip) {
                    Hop::None => continue,
                    Hop::Silent if ip.is_ipv6() => Reason::NoNdp,
                    Hop::Silent => Reason::NoArp,
                    Hop::Mac(_) => Reason::NoResponse,
                };
                stats.ports_done += 1;
                let mut r = PortResult::filtered(ip, port, reason);
                r.proto = plan.probe.proto();
                sink.result(r).map_err(|e| Error::io("write results", e))?;
            }
        }
        stats.elapsed = shared.t0.elapsed();
        sink.tick(stats.ports_done, stats.probes_sent, stats.open)
            .map_err(|e| Error::io("write results", e))?;
        Ok(stats)
    }
}

/// Prints the probes a scan would send (first attempts, in send order) as
/// `DST_IP:DST_PORT sport=N seq=N` (`[DST_IP]:DST_PORT` for IPv6), sending nothing. `src`
/// gives each target's source address (`None`: the target is skipped, no route).
pub fn dry_run(
    hosts: &HostSet,
    ports: &PortList,
    order: &ScanOrder,
    src: &dyn Fn(IpAddr) -> Option<IpAddr>,
    sport: u16,
    cookie: &Cookie,
    out: &mut dyn std::io::Write,
) -> std::io::Result<u64> {
    let mut n = 0;
    for (dst, port) in order.iter(hosts, ports, 0) {
        let Some(s) = src(dst) else {
            continue;
        };
        let seq = cookie.value(s, dst, sport, port);
        match dst {
            IpAddr::V4(d) => writeln!(out, "{d}:{port} sport={sport} seq={seq}")?,
            IpAddr::V6(d) => writeln!(out, "[{d}]:{port} sport={sport} seq={seq}")?,
        }
        n += 1;
    }
    out.flush()?;
    Ok(n)
}
