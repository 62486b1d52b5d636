//! Send packets and match their answers, Scapy's `sr()` semantics: an answer comes from the
//! probe's destination to its source with the ports swapped and, for TCP, an acknowledgement
//! consistent with the probe's sequence number; an ICMP echo reply carries the request's id
//! and sequence; an ICMP error quotes the probe's header (addresses, IP id, ports); an ARP
//! reply comes from the address asked about. Each probe takes the first answer.
//!
//! IPv4 packets go out through a raw IP socket (the kernel routes them and resolves the next
//! hop); frames with an Ethernet or ARP layer go out on a datalink channel. A receiver thread
//! timestamps every frame from before the first probe leaves.

use super::build::Built;
use crate::error::{Error, Result};
use crate::link::LinkTx;
use crate::link::{self, L3Sender};
use crate::privilege;
#[allow(unused_imports)]
use crate::route;
use crate::route::{LinkKind, Path};
use crate::wire::{self, Network, Transport, tcp_flags};
use pnet::datalink::{DataLinkReceiver, DataLinkSender, NetworkInterface};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// How `sr` runs.
#[derive(Debug, Clone)]
pub struct SrOptions {
    /// How long to wait for answers after the last probe of a round.
    pub timeout: Duration,
    /// Extra rounds for unanswered probes.
    pub retry: u32,
    /// Gap between probes.
    pub inter: Duration,
    /// Stop at the first answer (`sr1`).
    pub first_only: bool,
}

impl Default for SrOptions {
    fn default() -> Self {
        SrOptions {
            timeout: Duration::from_secs(2),
            retry: 0,
            inter: Duration::ZERO,
            first_only: false,
        }
    }
}

/// One answered probe.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Index of the probe.
    pub probe: usize,
    /// The answering frame (Ethernet).
    pub reply: Vec<u8>,
    /// Time from the probe's (last) send to the answer.
    pub rtt: Duration,
}

/// Results of `sr`.
#[derive(Debug, Clone, Default)]
pub struct SrResult {
    /// Answered probes, in order of arrival.
    pub answered: Vec<Answer>,
    /// Probes with no answer, by index.
    pub unanswered: Vec<usize>,
    /// Frames received in all.
    pub received: usize,
}

/// Open sockets for a toolkit run: privileges are dropped once this exists.
pub struct Io {
    l3: Option<L3Sender>,
    l2: Option<Box<dyn DataLinkSender>>,
    rx: Option<Box<dyn DataLinkReceiver>>,
    /// The interface used.
    pub iface: NetworkInterface,
}

/// The interface for traffic to `dst` (`-i` wins).
pub fn interface_for(dst: Ipv4Addr, iface: Option<&str>) -> Result<NetworkInterface> {
    let all = pnet::datalink::interfaces();
    if let Some(name) = iface {
        return all
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::input(format!("no interface named '{name}'")));
    }
    match crate::route::get(IpAddr::V4(dst)) {
        Ok(d) => Ok(Path::new(&all, d.oif, d.src)?.iface),
        Err(crate::route::RouteError::Unroutable(r)) => {
            Err(Error::input(format!("no route to {dst} ({r})")))
        }
        Err(crate::route::RouteError::Other(e)) => Err(e),
    }
}

impl Io {
    /// Opens what `packets` need (and a receiver when `receive`), then drops privileges.
    pub fn open(packets: &[Built], iface: NetworkInterface, receive: bool) -> Result<Io> {
        if !privilege::raw_permitted() {
            return Err(Error::input(format!(
                "sending raw packets needs CAP_NET_RAW: {}",
                privilege::ENABLE_HINT
            )));
        }
        privilege::raise_raw()?;
        let opened = (|| -> Result<Io> {
            let l3 = if packets.iter().any(|p| !p.l2) {
                Some(L3Sender::open(false).map_err(|e| Error::io("open raw IPv4 socket", e))?)
            } else {
                None
            };
            let l2 = if packets.iter().any(|p| p.l2) {
                Some(link::open_sender(&iface)?)
            } else {
                None
            };
            let rx = if receive {
                let accept_all = [socket2::SockFilter::new(0x06, 0, 0, 0x0004_0000)];
                let lo = crate::route::link_kind(&iface) == LinkKind::Loopback;
                Some(link::open_receiver(&iface, &accept_all, lo)?.0)
            } else {
                None
            };
            Ok(Io { l3, l2, rx, iface })
        })();
        privilege::drop_all()?;
        opened
    }

    fn send(&mut self, p: &Built) -> Result<()> {
        let r = if p.l2 {
            self.l2.as_mut().and_then(|s| s.send_to(&p.bytes, None))
        } else {
            // The L3 sender takes a frame and strips the Ethernet header.
            let mut frame = vec![0u8; 14];
            frame[12..14].copy_from_slice(&wire::ETHERTYPE_IPV4.to_be_bytes());
            frame.extend_from_slice(&p.bytes);
            self.l3.as_mut().map(|s| s.send(&frame))
        };
        match r {
            Some(Err(e)) => Err(Error::io(format!("send on {}", self.iface.name), e)),
            _ => Ok(()),
        }
    }

    /// Sends every packet with `inter` between them; returns how many were sent.
    pub fn send_all(
        &mut self,
        packets: &[Built],
        inter: Duration,
        stop: &AtomicBool,
    ) -> Result<usize> {
        let mut n = 0;
        for (i, p) in packets.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if i > 0 && !inter.is_zero() {
                std::thread::sleep(inter);
            }
            self.send(p)?;
            n += 1;
        }
        Ok(n)
    }

    /// Sends `packets` and collects their answers.
    pub fn sr(
        &mut self,
        packets: &[Built],
        opts: &SrOptions,
        stop: &AtomicBool,
    ) -> Result<SrResult> {
        let rx = self
            .rx
            .take()
            .ok_or_else(|| Error::Runtime("no receiver open".into()))?;
        let running = Arc::new(AtomicBool::new(true));
        let (tx_frames, frames) = mpsc::channel::<(Instant, Vec<u8>)>();
        let handle = {
            let running = Arc::clone(&running);
            std::thread::spawn(move || receive(rx, running, tx_frames))
        };
        let index = Matcher::new(packets);
        let mut result = SrResult::default();
        let mut answered = vec![false; packets.len()];
        let mut sent_at = vec![None::<Instant>; packets.len()];
        let outcome = (|| -> Result<()> {
            for round in 0..=opts.retry {
                let todo: Vec<usize> = (0..packets.len()).filter(|&i| !answered[i]).collect();
                if todo.is_empty() || stop.load(Ordering::Relaxed) {
                    break;
                }
                for (k, &i) in todo.iter().enumerate() {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    if k > 0 && !opts.inter.is_zero() {
                        std::thread::sleep(opts.inter);
                    }
                    sent_at[i] = Some(Instant::now());
                    self.send(&packets[i])?;
                }
                let deadline = Instant::now() + opts.timeout;
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    let Ok((at, frame)) = frames.recv_timeout(wait.min(Duration::from_millis(50)))
                    else {
                        continue;
                    };
                    result.received += 1;
                    if let Some(i) = index.find(&frame, &answered) {
                        answered[i] = true;
                        let rtt = sent_at[i]
                            .map(|s| at.saturating_duration_since(s))
                            .unwrap_or_default();
                        result.answered.push(Answer {
                            probe: i,
                            reply: frame,
                            rtt,
                        });
                        if opts.first_only || answered.iter().all(|a| *a) {
                            return Ok(());
                        }
                    }
                }
                let _ = round;
            }
            Ok(())
        })();
        running.store(false, Ordering::Relaxed);
        let rx_result = handle
            .join()
            .map_err(|_| Error::Runtime("receiver thread panicked".into()))?;
        outcome?;
        rx_result?;
        result.unanswered = (0..packets.len()).filter(|&i| !answered[i]).collect();
        Ok(result)
    }
}

fn receive(
    mut rx: Box<dyn DataLinkReceiver>,
    running: Arc<AtomicBool>,
    out: mpsc::Sender<(Instant, Vec<u8>)>,
) -> Result<()> {
    while running.load(Ordering::Relaxed) {
        match rx.next() {
            Ok(f) => {
                if out.send((Instant::now(), f.to_vec())).is_err() {
                    return Ok(());
                }
            }
            Err(e) if link::is_idle(&e) => {}
            Err(e) => return Err(Error::io("receive", e)),
        }
    }
    Ok(())
}

/// What a probe expects back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// TCP/UDP reply: (from, to, from port, to port, proto).
    Flow(u32, u32, u16, u16, u8),
    /// ICMP echo reply: (from, id, seq).
    Echo(u32, u16, u16),
    /// ICMP error quoting: (probe src, probe dst, proto, IP id, sport, dport); ports are 0
    /// for protocols without them.
    Quote(u32, u32, u8, u16, u16, u16),
    /// ARP reply from this address.
    Arp(u32),
}

#[derive(Debug, Clone, Copy)]
struct TcpProbe {
    seq: u32,
    ack: u32,
    seg_len: u32,
    has_ack: bool,
}

/// Indexes probes by the keys of their possible answers.
struct Matcher {
    by_key: HashMap<Key, Vec<usize>>,
    tcp: Vec<Option<TcpProbe>>,
}

impl Matcher {
    fn new(packets: &[Built]) -> Matcher {
        let mut by_key: HashMap<Key, Vec<usize>> = HashMap::new();
        let mut tcp = vec![None; packets.len()];
        for (i, p) in packets.iter().enumerate() {
            if p.l2
                && let Ok((_, Network::Arp(a))) = wire::parse_ethernet(&p.bytes)
            {
                by_key
                    .entry(Key::Arp(u32::from(a.target_ip)))
                    .or_default()
                    .push(i);
                continue;
            }
            let Some(Ok((ip, t))) = p.ip().map(wire::parse_ipv4) else {
                continue;
            };
            let (s, d) = (u32::from(ip.src), u32::from(ip.dst));
            let (sp, dp) = match t {
                Transport::Tcp(t) => (t.src_port, t.dst_port),
                Transport::Udp(u) => (u.src_port, u.dst_port),
                _ => (0, 0),
            };
            by_key
                .entry(Key::Quote(s, d, ip.proto, ip.id, sp, dp))
                .or_default()
                .push(i);
            match t {
                Transport::Tcp(t) => {
                    by_key
                        .entry(Key::Flow(d, s, t.dst_port, t.src_port, wire::PROTO_TCP))
                        .or_default()
                        .push(i);
                    let syn_fin = u32::from(t.flags & tcp_flags::SYN != 0)
                        + u32::from(t.flags & tcp_flags::FIN != 0);
                    tcp[i] = Some(TcpProbe {
                        seq: t.seq,
                        ack: t.ack,
                        seg_len: t.payload_len as u32 + syn_fin,
                        has_ack: t.flags & tcp_flags::ACK != 0,
                    });
                }
                Transport::Udp(u) => {
                    by_key
                        .entry(Key::Flow(d, s, u.dst_port, u.src_port, wire::PROTO_UDP))
                        .or_default()
                        .push(i);
                }
                Transport::Icmp(m) if m.icmp_type == 8 => {
                    by_key
                        .entry(Key::Echo(d, (m.rest >> 16) as u16, m.rest as u16))
                        .or_default()
                        .push(i);
                }
                _ => {}
            }
        }
        Matcher { by_key, tcp }
    }

    /// The unanswered probe this frame answers, if any.
    fn find(&self, frame: &[u8], answered: &[bool]) -> Option<usize> {
        let (_, pkt) = wire::parse_ethernet(frame).ok()?;
        let open = |v: &Vec<usize>| {
            v.iter()
                .copied()
                .filter(|&i| !answered[i])
                .collect::<Vec<_>>()
        };
        match pkt {
            Network::Arp(a) if a.op == 2 => {
                open(self.by_key.get(&Key::Arp(u32::from(a.sender_ip)))?)
                    .first()
                    .copied()
            }
            Network::Ipv4(ip, t) => {
                let (s, d) = (u32::from(ip.src), u32::from(ip.dst));
                match t {
                    Transport::Tcp(r) => {
                        let cands = open(self.by_key.get(&Key::Flow(
                            s,
                            d,
                            r.src_port,
                            r.dst_port,
                            wire::PROTO_TCP,
                        ))?);
                        cands.into_iter().find(|&i| {
                            let Some(p) = self.tcp[i] else { return false };
                            if r.flags & tcp_flags::ACK != 0 {
                                // Scapy's rule: seq < ack <= seq + length (a SYN with
                                // data is acked for the SYN alone).
                                let d = r.ack.wrapping_sub(p.seq);
                                d >= 1 && d <= p.seg_len.max(1)
                            } else {
                                r.flags & tcp_flags::RST != 0 && p.has_ack && r.seq == p.ack
                            }
                        })
                    }
                    Transport::Udp(r) => open(self.by_key.get(&Key::Flow(
                        s,
                        d,
                        r.src_port,
                        r.dst_port,
                        wire::PROTO_UDP,
                    ))?)
                    .first()
                    .copied(),
                    Transport::Icmp(m) if m.icmp_type == 0 => open(self.by_key.get(&Key::Echo(
                        s,
                        (m.rest >> 16) as u16,
                        m.rest as u16,
                    ))?)
                    .first()
                    .copied(),
                    Transport::Icmp(m) => {
                        let q = m.quoted?;
                        let ports = matches!(q.proto, wire::PROTO_TCP | wire::PROTO_UDP);
                        let (sp, dp) = if ports {
                            (q.src_port, q.dst_port)
                        } else {
                            (0, 0)
                        };
                        let (IpAddr::V4(qs), IpAddr::V4(qd)) = (q.src, q.dst) else {
                            return None;
                        };
                        let key = Key::Quote(u32::from(qs), u32::from(qd), q.proto, q.id, sp, dp);
                        open(self.by_key.get(&key)?).first().copied()
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolkit::build::{Defaults, build};
    use crate::toolkit::spec::parse;
    use pnet::util::MacAddr;

    fn probes(spec: &str) -> Vec<Built> {
        let d = Defaults {
            src_mac: MacAddr::zero(),
            sport: 40000,
            icmp_id: 7,
            seq: 1000,
        };
        parse(spec)
            .unwrap()
            .expand()
            .iter()
            .enumerate()
            .map(|(n, s)| build(s, &d, n))
            .collect()
    }

    fn frame(ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[8, 0]);
        f.extend_from_slice(ip);
        f
    }

    #[test]
    fn tcp_answers_need_swapped_ports_and_a_consistent_ack() {
        let ps = probes("IP(src=10.0.0.1,dst=10.0.0.2)/TCP(dport=[22,80],flags=S,seq=5000)");
        let m = Matcher::new(&ps);
        let reply = |sport: u16, ack: u32, flags: &str| {
            let spec = format!(
                "IP(src=10.0.0.2,dst=10.0.0.1)/TCP(sport={sport},dport=40000,flags={flags},ack={ack})"
            );
            frame(&probes(&spec)[0].bytes)
        };
        let none = vec![false; 2];
        assert_eq!(m.find(&reply(80, 5001, "SA"), &none), Some(1));
        assert_eq!(m.find(&reply(22, 5001, "RA"), &none), Some(0));
        assert_eq!(m.find(&reply(22, 5000, "SA"), &none), None, "ack = seq");
        assert_eq!(
            m.find(&reply(22, 5002, "SA"), &none),
            None,
            "ack past the SYN"
        );
        assert_eq!(m.find(&reply(23, 5001, "SA"), &none), None, "wrong port");
        assert_eq!(
            m.find(&reply(80, 5001, "SA"), &[false, true]),
            None,
            "already answered"
        );
        // The probe itself (seen on loopback) is not its own answer.
        assert_eq!(m.find(&frame(&ps[0].bytes), &none), None);
    }

    #[test]
    fn echo_and_icmp_errors() {
        let ps = probes("IP(src=10.0.0.1,dst=10.0.0.2,ttl=1-3)/ICMP");
        let m = Matcher::new(&ps);
        let none = vec![false; 3];
        // Echo reply for the second probe (seq 2).
        let r = probes("IP(src=10.0.0.2,dst=10.0.0.1)/ICMP(type=0,id=7,seq=2)");
        assert_eq!(m.find(&frame(&r[0].bytes), &none), Some(1));
        // Time exceeded quoting the third probe's header (IP id 3).
        let mut icmp = vec![11u8, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&ps[2].bytes[..28]);
        let mut ip = probes("IP(src=10.9.9.9,dst=10.0.0.1,proto=1)")[0]
            .bytes
            .clone();
        ip.extend_from_slice(&icmp);
        let total = ip.len() as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        assert_eq!(m.find(&frame(&ip), &none), Some(2));
    }
}
