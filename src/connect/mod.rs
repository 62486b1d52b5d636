//! The unprivileged scan engine: many non-blocking `connect()` attempts in flight on one epoll
//! instance (mio), classified as nmap's -sT does. No data is ever sent: an accepted connection
//! is closed at once with SO_LINGER 0 (a RST, no TIME_WAIT left behind).
//!
//! mio is used rather than tokio because the engine is one tight loop over readiness events:
//! no tasks, no futures, no runtime threads, and the socket is ours from creation (socket2) to
//! close, so we can set SO_LINGER and read SO_ERROR directly.

pub mod udp;

use crate::error::{Error, Result};
use crate::event::{PortResult, PortState, Reason, ResultSink, ScanStats};
use crate::rate::RateLimiter;
use crate::rtt::RttEstimator;
use crate::sys;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// File descriptors kept free for output files, stdio and the epoll instance.
const FD_RESERVE: u64 = 64;
/// Refused sockets kept for reuse.
const IDLE_SOCKETS: usize = 64;
/// How often progress is reported.
const TICK: Duration = Duration::from_millis(100);

/// Tuning of the connect engine.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Longest time one attempt may wait for an answer.
    pub timeout: Duration,
    /// With a floor, each attempt waits the RTO of the round-trip times seen (RFC 6298),
    /// kept between this and `timeout`, as nmap does; without one, exactly `timeout`.
    pub min_timeout: Option<Duration>,
    /// The wait before any round-trip time is known (`None`: `timeout`).
    pub initial_timeout: Option<Duration>,
    /// Extra attempts for pairs that gave no answer.
    pub retries: u32,
    /// Most attempts in flight at once (also capped by RLIMIT_NOFILE).
    pub max_inflight: usize,
    /// Most attempts started per second, whole scan.
    pub rate: Option<f64>,
    /// IP TTL (hop limit for IPv6) of the attempts' packets.
    pub ttl: Option<u8>,
    /// When to give up (`--host-timeout`): nothing new starts, attempts in flight are dropped.
    pub deadline: Option<Instant>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(1),
            min_timeout: None,
            initial_timeout: None,
            retries: 1,
            max_inflight: 4096,
            rate: None,
            ttl: None,
            deadline: None,
        }
    }
}

/// One (host, port) to try, and which attempt this is.
#[derive(Debug, Clone, Copy)]
struct Probe {
    ip: IpAddr,
    port: u16,
    attempt: u32,
}

/// An attempt in flight.
struct Conn {
    stream: TcpStream,
    probe: Probe,
    started: Instant,
}

/// How a `connect()` ended, as far as the scan is concerned.
enum Outcome {
    Done(PortState, Reason),
    /// Local resources ran short (ports, descriptors): try the same probe again later.
    Again,
}

/// Maps a connect error to nmap's -sT state and reason.
fn classify(e: &io::Error) -> Outcome {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => Outcome::Done(PortState::Closed, Reason::ConnRefused),
        Some(libc::ENETUNREACH) => Outcome::Done(PortState::Filtered, Reason::NetUnreach),
        Some(libc::EHOSTUNREACH) => Outcome::Done(PortState::Filtered, Reason::HostUnreach),
        Some(libc::ETIMEDOUT) => Outcome::Done(PortState::Filtered, Reason::NoResponse),
        Some(libc::EACCES) | Some(libc::EPERM) => {
            Outcome::Done(PortState::Filtered, Reason::AdminProhibited)
        }
        Some(libc::EADDRNOTAVAIL)
        | Some(libc::EAGAIN)
        | Some(libc::ENOBUFS)
        | Some(libc::EMFILE)
        | Some(libc::ENFILE) => Outcome::Again,
        _ => Outcome::Done(PortState::Filtered, Reason::LocalError),
    }
}

/// The connect engine over one scan's probes.
pub struct ConnectEngine<'a, I: Iterator<Item = (IpAddr, u16)>> {
    opts: ConnectOptions,
    probes: I,
    sink: &'a mut dyn ResultSink,
    stop: &'a AtomicBool,
    poll: Poll,
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Slots closed while handling the current event batch; reused only after it.
    freed: Vec<usize>,
    /// (deadline, slot, attempt start), earliest first.
    deadlines: BinaryHeap<Reverse<(Instant, usize, Instant)>>,
    /// Round-trip times of answered attempts, for adaptive waits.
    rtt: RttEstimator,
    retry: VecDeque<Probe>,
    /// Refused sockets kept for reuse: saves a socket() and a close() per closed port.
    idle: Vec<(bool, Socket)>,
    inflight: usize,
    cap: usize,
    stats: ScanStats,
}

impl<'a, I: Iterator<Item = (IpAddr, u16)>> ConnectEngine<'a, I> {
    /// An engine that will try `probes` (first attempts, in scan order).
    pub fn new(
        opts: ConnectOptions,
        probes: I,
        sink: &'a mut dyn ResultSink,
        stop: &'a AtomicBool,
    ) -> Result<Self> {
        let nofile = sys::raise_nofile_limit().map_err(|e| Error::io("getrlimit NOFILE", e))?;
        let cap = (opts.max_inflight as u64)
            .min(nofile.saturating_sub(FD_RESERVE))
            .max(1) as usize;
        let poll = Poll::new().map_err(|e| Error::io("epoll_create", e))?;
        Ok(ConnectEngine {
            opts,
            probes,
            sink,
            stop,
            poll,
            slots: Vec::new(),
            free: Vec::new(),
            freed: Vec::new(),
            deadlines: BinaryHeap::new(),
            rtt: RttEstimator::default(),
            retry: VecDeque::new(),
            idle: Vec::new(),
            inflight: 0,
            cap,
            stats: ScanStats::default(),
        })
    }

    /// Runs to the end (or until the stop flag is set) and returns the counters.
    pub fn run(mut self) -> Result<ScanStats> {
        let started = Instant::now();
        let mut limiter = RateLimiter::new(self.opts.rate);
        let mut events = Events::with_capacity(1024);
        let mut pending: Option<Probe> = None;
        let mut exhausted = false;
        let mut last_tick = Instant::now();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                self.stats.interrupted = true;
                break;
            }
            if self.opts.deadline.is_some_and(|d| Instant::now() >= d) {
                self.stats.timed_out = true;
                break;
            }
            // Start attempts while there is room and the rate allows.
            let mut wait_rate: Option<Duration> = None;
            let mut starved = false;
            while self.inflight < self.cap {
                let probe = match pending.take().or_else(|| self.retry.pop_front()) {
                    Some(p) => p,
                    None if exhausted => break,
                    None => match self.probes.next() {
                        Some((ip, port)) => Probe {
                            ip,
                            port,
                            attempt: 0,
                        },
                        None => {
                            exhausted = true;
                            break;
                        }
                    },
                };
                if let Err(wait) = limiter.try_acquire(Instant::now(), 1) {
                    pending = Some(probe);
                    wait_rate = Some(wait);
                    break;
                }
                if !self.launch(probe)? {
                    // Local resources ran short: keep the probe and wait for some to free up.
                    pending = Some(probe);
                    starved = true;
                    break;
                }
            }
            if exhausted && pending.is_none() && self.retry.is_empty() && self.inflight == 0 {
                break;
            }
            if starved && self.inflight == 0 {
                // Nothing in flight will free resources: back off briefly before retrying.
                std::thread::sleep(Duration::from_millis(10));
            }
            // Wait for readiness, the next deadline, the rate, or the next tick.
            let now = Instant::now();
            let mut timeout = TICK;
            if let Some(Reverse((d, _, _))) = self.deadlines.peek() {
                timeout = timeout.min(d.saturating_duration_since(now));
            }
            if let Some(w) = wait_rate {
                timeout = timeout.min(w);
            }
            if self.inflight > 0 || !timeout.is_zero() {
                match self.poll.poll(&mut events, Some(timeout)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::io("epoll_wait", e)),
                }
            }
            for ev in events.iter() {
                self.on_ready(ev.token().0)?;
            }
            self.free.append(&mut self.freed);
            self.expire(Instant::now())?;
            self.free.append(&mut self.freed);
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.sink
                    .tick(
                        self.stats.ports_done,
                        self.stats.probes_sent,
                        self.stats.open,
                    )
                    .map_err(|e| Error::io("write results", e))?;
            }
        }
        // Interrupted or timed out: close whatever is still in flight without reporting it.
        self.slots.clear();
        self.stats.elapsed = started.elapsed();
        self.sink
            .tick(
                self.stats.ports_done,
                self.stats.probes_sent,
                self.stats.open,
            )
            .map_err(|e| Error::io("write results", e))?;
        Ok(self.stats)
    }

    /// Starts one attempt. Returns false when local resources ran short.
    fn launch(&mut self, probe: Probe) -> Result<bool> {
        let addr = SocketAddr::new(probe.ip, probe.port);
        let sock = match self.socket_for(addr) {
            Ok(s) => s,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                // Never die of "too many open files": shrink the window to what fits.
                self.cap = self.inflight.max(1);
                return Ok(false);
            }
            Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                self.stats.probes_sent += 1;
                self.finish(probe, PortState::Filtered, Reason::NetUnreach, None)?;
                return Ok(true);
            }
            Err(e) => return Err(Error::io(format!("socket for {addr}"), e)),
        };
        let started = Instant::now();
        let sa = addr.into();
        let outcome = match sock.connect(&sa) {
            Ok(()) => Some(Outcome::Done(PortState::Open, Reason::SynAck)),
            // On loopback the answer is usually in before connect() returns. A second
            // connect() reports it (EISCONN, ECONNREFUSED ...) and leaves a refused socket
            // unconnected and reusable; EALREADY means the answer is still to come.
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => match sock.connect(&sa) {
                Ok(()) => Some(Outcome::Done(PortState::Open, Reason::SynAck)),
                Err(e) if e.raw_os_error() == Some(libc::EISCONN) => {
                    Some(Outcome::Done(PortState::Open, Reason::SynAck))
                }
                Err(e) if e.raw_os_error() == Some(libc::EALREADY) => None,
                Err(e) => Some(classify(&e)),
            },
            Err(e) => Some(classify(&e)),
        };
        match outcome {
            Some(Outcome::Again) => return Ok(false),
            Some(Outcome::Done(PortState::Open, _)) if is_self_connect(&sock) => {
                // The kernel picked the target port as our source port and connected the
                // socket to itself: nothing listens there. Try again from another port.
                close_with_reset(&sock);
                self.retry.push_front(probe);
                return Ok(true);
            }
            Some(Outcome::Done(state, reason)) => {
                self.stats.probes_sent += 1;
                if state == PortState::Open {
                    close_with_reset(&sock);
                } else if reason == Reason::ConnRefused && self.idle.len() < IDLE_SOCKETS {
                    self.idle.push((addr.is_ipv6(), sock));
                }
                self.finish(probe, state, reason, Some(started.elapsed()))?;
                return Ok(true);
            }
            None => {}
        }
        self.stats.probes_sent += 1;
        let mut stream = TcpStream::from_std(std::net::TcpStream::from(sock));
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        self.poll
            .registry()
            .register(&mut stream, Token(slot), Interest::WRITABLE)
            .map_err(|e| Error::io(format!("epoll_ctl for {addr}"), e))?;
        self.slots[slot] = Some(Conn {
            stream,
            probe,
            started,
        });
        self.deadlines
            .push(Reverse((started + self.attempt_timeout(), slot, started)));
        self.inflight += 1;
        Ok(true)
    }

    /// How long the next attempt waits: fixed, or the RTO of the answers so far kept between
    /// the floor and `timeout`.
    fn attempt_timeout(&self) -> Duration {
        let max = self.opts.timeout;
        let Some(min) = self.opts.min_timeout else {
            return max;
        };
        let rto = self.rtt.rto_us();
        let wait = if rto == 0 {
            self.opts.initial_timeout.unwrap_or(max)
        } else {
            Duration::from_micros(rto)
        };
        wait.clamp(min.min(max), max)
    }

    /// A fresh non-blocking socket, or a refused one of the same family to reuse.
    fn socket_for(&mut self, addr: SocketAddr) -> io::Result<Socket> {
        if let Some(i) = self.idle.iter().rposition(|(v6, _)| *v6 == addr.is_ipv6()) {
            return Ok(self.idle.swap_remove(i).1);
        }
        let sock = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        )?;
        if let Some(ttl) = self.opts.ttl {
            if addr.is_ipv6() {
                sock.set_unicast_hops_v6(u32::from(ttl))?;
            } else {
                sock.set_ttl_v4(u32::from(ttl))?;
            }
        }
        Ok(sock)
    }

    /// Handles readiness of one in-flight attempt.
    fn on_ready(&mut self, slot: usize) -> Result<()> {
        let Some(conn) = self.slots.get(slot).and_then(Option::as_ref) else {
            return Ok(());
        };
        let outcome = match conn.stream.take_error() {
            Ok(Some(e)) | Err(e) => classify(&e),
            Ok(None) => match conn.stream.peer_addr() {
                Ok(peer) if conn.stream.local_addr().ok() == Some(peer) => {
                    // Connected to itself (see `launch`): try again from another port.
                    if let Some(conn) = self.release(slot) {
                        close_with_reset(&conn.stream);
                        self.retry.push_front(conn.probe);
                    }
                    return Ok(());
                }
                Ok(_) => Outcome::Done(PortState::Open, Reason::SynAck),
                // Not connected yet: a spurious wake-up.
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return Ok(()),
                Err(e) => classify(&e),
            },
        };
        let Some(conn) = self.release(slot) else {
            return Ok(());
        };
        match outcome {
            Outcome::Done(state, reason) => {
                if state == PortState::Open {
                    close_with_reset(&conn.stream);
                }
                let rtt = conn.started.elapsed();
                drop(conn.stream);
                self.finish(conn.probe, state, reason, Some(rtt))
            }
            Outcome::Again => {
                drop(conn.stream);
                self.retry.push_front(conn.probe);
                Ok(())
            }
        }
    }

    /// Times out attempts whose deadline has passed.
    fn expire(&mut self, now: Instant) -> Result<()> {
        while let Some(&Reverse((deadline, slot, started))) = self.deadlines.peek() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            let current = matches!(self.slots.get(slot), Some(Some(c)) if c.started == started);
            if !current {
                continue;
            }
            if let Some(conn) = self.release(slot) {
                drop(conn.stream);
                let mut p = conn.probe;
                if p.attempt < self.opts.retries {
                    p.attempt += 1;
                    self.retry.push_back(p);
                } else {
                    self.finish(p, PortState::Filtered, Reason::NoResponse, None)?;
                }
            }
        }
        Ok(())
    }

    fn release(&mut self, slot: usize) -> Option<Conn> {
        let conn = self.slots.get_mut(slot)?.take()?;
        self.freed.push(slot);
        self.inflight -= 1;
        Some(conn)
    }

    fn finish(
        &mut self,
        probe: Probe,
        state: PortState,
        reason: Reason,
        rtt: Option<Duration>,
    ) -> Result<()> {
        self.stats.ports_done += 1;
        if state == PortState::Open {
            self.stats.open += 1;
        }
        if let Some(rtt) = rtt
            && matches!(reason, Reason::SynAck | Reason::ConnRefused)
        {
            self.rtt.sample(rtt.as_micros() as u64);
        }
        self.sink
            .result(PortResult {
                ip: probe.ip,
                port: probe.port,
                proto: crate::event::Proto::Tcp,
                state,
                reason,
                ttl: None,
                rtt,
                data: None,
                service: None,
            })
            .map_err(|e| Error::io("write results", e))
    }
}

/// True when a connected socket's peer is itself (TCP simultaneous open on loopback).
fn is_self_connect(s: &Socket) -> bool {
    match (s.local_addr(), s.peer_addr()) {
        (Ok(l), Ok(p)) => l.as_socket().is_some() && l.as_socket() == p.as_socket(),
        _ => false,
    }
}

/// Sets SO_LINGER 0 so that closing sends a RST and leaves no TIME_WAIT.
fn close_with_reset<S: std::os::fd::AsFd>(s: &S) {
    // Failure only means a normal FIN close instead; nothing to report.
    let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// Hands results from worker threads to the calling thread in batches (a channel wake-up per
/// result costs more than the connect() on loopback); flushed at every progress tick.
struct ChannelSink {
    tx: std::sync::mpsc::Sender<Vec<PortResult>>,
    batch: Vec<PortResult>,
}

impl ChannelSink {
    const BATCH: usize = 256;

    fn push(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(Self::BATCH));
        self.tx
            .send(full)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "result reader gone"))
    }
}

impl ResultSink for ChannelSink {
    fn result(&mut self, r: PortResult) -> io::Result<()> {
        self.batch.push(r);
        if self.batch.len() >= Self::BATCH {
            self.push()?;
        }
        Ok(())
    }

    fn tick(&mut self, _done: u64, _sent: u64, _open: u64) -> io::Result<()> {
        self.push()
    }
}

/// Runs `workers` connect engines, each on its own thread and epoll instance, over
/// interleaved slices of `positions` (worker k takes every k-th pair), splitting the
/// in-flight window and the rate between them. Results reach `sink` on this thread.
/// connect() does its kernel work (socket setup, the SYN, the RST on loopback) in the
/// caller's context, so a second core nearly doubles a loopback scan.
pub fn run_parallel<F>(
    opts: &ConnectOptions,
    total: u64,
    pair_at: F,
    workers: usize,
    sink: &mut dyn ResultSink,
    stop: &AtomicBool,
) -> Result<ScanStats>
where
    F: Fn(u64) -> Option<(IpAddr, u16)> + Sync,
{
    // Low rates and small windows gain nothing from more threads, and must not be rounded up.
    let mut workers = workers
        .clamp(1, 16)
        .min(total.max(1) as usize)
        .min(opts.max_inflight.max(1));
    if opts.rate.is_some_and(|r| r < 1000.0) {
        workers = 1;
    }
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<PortResult>>();
    let halt = AtomicBool::new(false);
    // Worker k gets its share of the window and the rate, remainders to the first ones, so
    // the shares add up exactly to what was asked.
    let share = |total: u64, k: usize| {
        total / workers as u64 + u64::from((k as u64) < total % workers as u64)
    };
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for k in 0..workers {
            let mut wsink = ChannelSink {
                tx: tx.clone(),
                batch: Vec::with_capacity(ChannelSink::BATCH),
            };
            let per = ConnectOptions {
                max_inflight: share(opts.max_inflight as u64, k) as usize,
                // Rates of 1000/s and more are split in whole probes per second.
                rate: opts.rate.map(|r| share(r.round() as u64, k) as f64),
                ..opts.clone()
            };
            let (pair_at, halt) = (&pair_at, &halt);
            handles.push(scope.spawn(move || -> Result<ScanStats> {
                let probes = (k as u64..total).step_by(workers).filter_map(pair_at);
                ConnectEngine::new(per, probes, &mut wsink, halt)?.run()
            }));
        }
        drop(tx);
        let mut write_err = None;
        let mut done = 0u64;
        let mut open = 0u64;
        let mut last_tick = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                halt.store(true, Ordering::Relaxed);
            }
            match rx.recv_timeout(TICK) {
                Ok(batch) => {
                    for r in batch {
                        done += 1;
                        open += u64::from(r.state == PortState::Open);
                        if write_err.is_none()
                            && let Err(e) = sink.result(r)
                        {
                            write_err = Some(e);
                            halt.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if last_tick.elapsed() >= TICK && write_err.is_none() {
                last_tick = Instant::now();
                if let Err(e) = sink.tick(done, done, open) {
                    write_err = Some(e);
                    halt.store(true, Ordering::Relaxed);
                }
            }
        }
        let mut stats = ScanStats::default();
        for h in handles {
            let s = h
                .join()
                .map_err(|_| Error::Runtime("connect worker panicked".into()))??;
            stats.ports_done += s.ports_done;
            stats.probes_sent += s.probes_sent;
            stats.open += s.open;
            stats.interrupted |= s.interrupted;
            stats.timed_out |= s.timed_out;
        }
        if let Some(e) = write_err {
            return Err(Error::io("write results", e));
        }
        stats.interrupted |= stop.load(Ordering::Relaxed);
        stats.elapsed = started.elapsed();
        sink.tick(stats.ports_done, stats.probes_sent, stats.open)
            .map_err(|e| Error::io("write results", e))?;
        Ok(stats)
    })
}
