//! The unprivileged UDP scan: one connected UDP socket per (host, port) in flight, on one
//! epoll instance. The port's payloads (with a random cookie per socket, checked in the
//! answer as the raw module checks it) go out with `send()`; a datagram back is `open`
//! (udp-response); the kernel's report of an ICMP port unreachable on the connected socket
//! is `closed`; other ICMP errors are `filtered` with nmap's reason: with IP_RECVERR the
//! kernel queues each error with its ICMP type and code, read here as the raw module reads
//! them; silence after every retry is `open|filtered`. No raw socket
//! and no privilege: no peer offers this.

use crate::connect::ConnectOptions;
use crate::error::{Error, Result};
use crate::event::{PortResult, PortState, Proto, Reason, ReplyData, ResultSink, ScanStats};
use crate::probe::Payloads;
use crate::probe::tcp_syn::{icmp_reason, icmpv6_reason};
use crate::rate::RateLimiter;
use crate::sys;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Descriptors kept free for outputs, stdio and epoll.
const FD_RESERVE: u64 = 64;
/// Progress every this often.
const TICK: Duration = Duration::from_millis(100);

/// A socket in flight.
struct Slot {
    sock: UdpSocket,
    ip: IpAddr,
    port: u16,
    cookie: u32,
    attempt: u32,
    sent_at: Instant,
    /// Which use of the slot this is (the deadline queue may name an earlier one).
    generation: u64,
}

/// State and reason of an error a connected UDP socket reports.
fn classify(e: &io::Error) -> Option<(PortState, Reason)> {
    match e.raw_os_error()? {
        libc::ECONNREFUSED => Some((PortState::Closed, Reason::PortUnreach)),
        libc::EHOSTUNREACH => Some((PortState::Filtered, Reason::HostUnreach)),
        libc::ENETUNREACH => Some((PortState::Filtered, Reason::NetUnreach)),
        libc::EACCES | libc::EPERM => Some((PortState::Filtered, Reason::AdminProhibited)),
        libc::EPROTO | libc::ENOPROTOOPT => Some((PortState::Filtered, Reason::ProtoUnreach)),
        _ => None,
    }
}

/// Scans the `total` pairs `pair_at` gives (skipping `None`), delivering results to `sink`.
pub fn run<F>(
    opts: &ConnectOptions,
    payloads: &Payloads,
    total: u64,
    pair_at: F,
    sink: &mut dyn ResultSink,
    stop: &AtomicBool,
) -> Result<ScanStats>
where
    F: Fn(u64) -> Option<(IpAddr, u16)>,
{
    let started = Instant::now();
    let nofile = sys::raise_nofile_limit().map_err(|e| Error::io("getrlimit NOFILE", e))?;
    let cap = (opts.max_inflight as u64)
        .min(nofile.saturating_sub(FD_RESERVE))
        .max(1) as usize;
    let mut poll = Poll::new().map_err(|e| Error::io("epoll_create", e))?;
    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<Slot>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut retry: VecDeque<(IpAddr, u16, u32)> = VecDeque::new();
    // Every attempt waits the same time, so deadlines arrive in the order attempts start.
    let mut deadlines: VecDeque<(Instant, usize, u64)> = VecDeque::new();
    let mut generation = 0u64;
    let mut limiter = RateLimiter::new(opts.rate);
    let mut stats = ScanStats::default();
    let mut next = 0u64;
    let mut inflight = 0usize;
    let mut last_tick = Instant::now();
    let mut buf = vec![0u8; 65536];
    let mut out = vec![0u8; 1500];
    let timeout = opts.timeout;
    loop {
        if stop.load(Ordering::Relaxed) {
            stats.interrupted = true;
            break;
        }
        let past_deadline = opts.deadline.is_some_and(|d| Instant::now() >= d);
        if past_deadline {
            stats.timed_out = true;
            break;
        }
        // Start attempts while the window and the rate allow.
        while inflight < cap {
            let (ip, port, attempt) = match retry.pop_front() {
                Some(r) => r,
                None => {
                    if next >= total {
                        break;
                    }
                    let k = next;
                    next += 1;
                    match pair_at(k) {
                        Some((ip, port)) => (ip, port, 0),
                        None => continue,
                    }
                }
            };
            let frames = payloads.count(port) as u64;
            if limiter.try_acquire(Instant::now(), frames).is_err() {
                retry.push_front((ip, port, attempt));
                break;
            }
            let bind: SocketAddr = if ip.is_ipv6() {
                (Ipv6Addr::UNSPECIFIED, 0).into()
            } else {
                (Ipv4Addr::UNSPECIFIED, 0).into()
            };
            let mut sock = match UdpSocket::bind(bind) {
                Ok(s) => s,
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {
                    retry.push_front((ip, port, attempt));
                    break;
                }
                Err(e) => return Err(Error::io("socket UDP", e)),
            };
            sys::recv_errors(sock.as_raw_fd(), ip.is_ipv6())
                .map_err(|e| Error::io("setsockopt IP_RECVERR", e))?;
            if let Some(ttl) = opts.ttl {
                let r = if ip.is_ipv6() {
                    socket2::SockRef::from(&sock).set_unicast_hops_v6(u32::from(ttl))
                } else {
                    sock.set_ttl(u32::from(ttl))
                };
                r.map_err(|e| Error::io("setsockopt TTL", e))?;
            }
            let cookie: u32 = rand::random();
            let now = Instant::now();
            let connected = sock.connect(SocketAddr::new(ip, port));
            let sent =
                connected.and_then(|()| send_payloads(&sock, payloads, port, cookie, &mut out));
            match sent {
                Ok(n) => stats.probes_sent += n,
                Err(e) => {
                    if let Some((state, reason)) = classify(&e) {
                        stats.ports_done += 1;
                        deliver(sink, ip, port, state, reason, None, None, &mut stats)?;
                        continue;
                    }
                    if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::ENOBUFS)) {
                        retry.push_front((ip, port, attempt));
                        break;
                    }
                    stats.ports_done += 1;
                    deliver(
                        sink,
                        ip,
                        port,
                        PortState::Filtered,
                        Reason::LocalError,
                        None,
                        None,
                        &mut stats,
                    )?;
                    continue;
                }
            }
            let i = free.pop().unwrap_or_else(|| {
                slots.push(None);
                slots.len() - 1
            });
            poll.registry()
                .register(&mut sock, Token(i), Interest::READABLE)
                .map_err(|e| Error::io("epoll_ctl", e))?;
            generation += 1;
            slots[i] = Some(Slot {
                sock,
                ip,
                port,
                cookie,
                attempt,
                sent_at: now,
                generation,
            });
            deadlines.push_back((now + timeout, i, generation));
            inflight += 1;
        }
        if inflight == 0 && retry.is_empty() && next >= total {
            break;
        }
        // Wait for answers until the earliest deadline (bounded, so stop and ticks are seen).
        let now = Instant::now();
        let earliest = deadlines
            .front()
            .map_or(now + Duration::from_millis(5), |d| d.0);
        let wait = earliest
            .saturating_duration_since(now)
            .min(Duration::from_millis(50));
        let wait = if !retry.is_empty() && inflight < cap {
            wait.min(Duration::from_millis(1))
        } else {
            wait
        };
        poll.poll(&mut events, Some(wait))
            .map_err(|e| Error::io("epoll_wait", e))?;
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(slot) = slots.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            // Read everything waiting: the ICMP error the kernel queued with its type and
            // code, a datagram that carries the cookie, or the socket's error.
            let mut done: Option<(PortState, Reason, Option<Box<ReplyData>>)> =
                queued_icmp(slot.sock.as_raw_fd()).map(|(state, reason)| (state, reason, None));
            for _ in 0..16 {
                if done.is_some() {
                    break;
                }
                match slot.sock.recv(&mut buf) {
                    Ok(n) => {
                        let data = &buf[..n];
                        if payloads.answered_by(slot.port, slot.cookie, data) {
                            let keep = n.min(crate::probe::udp::KEEP);
                            let rd = ReplyData {
                                len: n as u32,
                                head: data[..keep].into(),
                            };
                            done = Some((PortState::Open, Reason::UdpResponse, Some(Box::new(rd))));
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        if let Some((st, r)) = classify(&e) {
                            done = Some((st, r, None));
                        }
                        break;
                    }
                }
            }
            if let Some((state, reason, data)) = done {
                let rtt = slot.sent_at.elapsed();
                let (ip, port) = (slot.ip, slot.port);
                close(&mut poll, &mut slots, &mut free, i);
                inflight -= 1;
                stats.ports_done += 1;
                deliver(sink, ip, port, state, reason, Some(rtt), data, &mut stats)?;
            }
        }
        // Attempts past their wait: retry, or give up as open|filtered.
        let now = Instant::now();
        while let Some(&(deadline, i, g)) = deadlines.front() {
            if deadline > now {
                break;
            }
            deadlines.pop_front();
            // Answered already (the slot is free or serves a later attempt).
            let Some(s) = slots[i].as_ref().filter(|s| s.generation == g) else {
                continue;
            };
            let (ip, port, attempt) = (s.ip, s.port, s.attempt);
            close(&mut poll, &mut slots, &mut free, i);
            inflight -= 1;
            if attempt < opts.retries {
                retry.push_back((ip, port, attempt + 1));
            } else {
                stats.ports_done += 1;
                deliver(
                    sink,
                    ip,
                    port,
                    PortState::OpenFiltered,
                    Reason::NoResponse,
                    None,
                    None,
                    &mut stats,
                )?;
            }
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            sink.tick(stats.ports_done, stats.probes_sent, stats.open)
                .map_err(|e| Error::io("write results", e))?;
        }
    }
    stats.elapsed = started.elapsed();
    sink.tick(stats.ports_done, stats.probes_sent, stats.open)
        .map_err(|e| Error::io("write results", e))?;
    Ok(stats)
}

/// State and reason of the oldest ICMP or ICMPv6 error queued on `fd`, read as the raw
/// module reads the same message; `None` when none is queued or it says nothing of the port.
fn queued_icmp(fd: RawFd) -> Option<(PortState, Reason)> {
    let (v6, icmp_type, code) = sys::queued_icmp(fd)?;
    let reason = if v6 {
        icmpv6_reason(icmp_type, code)
    } else {
        icmp_reason(icmp_type, code)
    }?;
    let state = if reason == Reason::PortUnreach {
        PortState::Closed
    } else {
        PortState::Filtered
    };
    Some((state, reason))
}

/// Sends the port's datagrams (an empty one when it has no payload); how many went.
fn send_payloads(
    sock: &UdpSocket,
    payloads: &Payloads,
    port: u16,
    cookie: u32,
    out: &mut Vec<u8>,
) -> io::Result<u64> {
    let list = payloads.of(port);
    if list.is_empty() {
        sock.send(&[])?;
        return Ok(1);
    }
    for p in list {
        out.resize(p.data.len(), 0);
        p.write(cookie, out);
        sock.send(out)?;
    }
    Ok(list.len() as u64)
}

fn close(poll: &mut Poll, slots: &mut [Option<Slot>], free: &mut Vec<usize>, i: usize) {
    if let Some(mut s) = slots[i].take() {
        let _ = poll.registry().deregister(&mut s.sock);
        free.push(i);
    }
}

#[allow(clippy::too_many_arguments)]
fn deliver(
    sink: &mut dyn ResultSink,
    ip: IpAddr,
    port: u16,
    state: PortState,
    reason: Reason,
    rtt: Option<Duration>,
    data: Option<Box<ReplyData>>,
    stats: &mut ScanStats,
) -> Result<()> {
    if state == PortState::Open {
        stats.open += 1;
    }
    sink.result(PortResult {
        ip,
        port,
        proto: Proto::Udp,
        state,
        reason,
        ttl: None,
        rtt,
        data,
        service: None,
    })
    .map_err(|e| Error::io("write results", e))
}
