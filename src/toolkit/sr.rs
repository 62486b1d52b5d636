//! Send packets and match their answers, Scapy's `sr()` semantics: an answer comes from the
//! probe's destination to its source with the ports swapped and, for TCP, an acknowledgement
//! consistent with the probe's sequence number; an ICMP or ICMPv6 echo reply carries the
//! request's id and sequence; an ICMP or ICMPv6 error quotes the probe's header (addresses,
//! IPv4 id, ports or echo id and sequence); an ARP reply comes from the address asked about,
//! a neighbor advertisement names the solicited target. Each probe takes the first answer.
//!
//! IPv4 and IPv6 packets go out through a raw IP socket of their family (the kernel routes
//! them and resolves the next hop); frames with an Ethernet or ARP layer go out on a datalink
//! channel. A receiver thread timestamps every frame from before the first probe leaves.

use super::build::Built;
use crate::error::{Error, Result};
use crate::link::LinkTx;
use crate::link::{self, L3Sender};
use crate::privilege;
use crate::route::{LinkKind, Path};
use crate::wire::{self, Network, Quoted, Transport, icmp, icmpv6, tcp_flags};
use pnet::datalink::{DataLinkReceiver, DataLinkSender, NetworkInterface};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
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
    l3v6: Option<L3Sender>,
    l2: Option<Box<dyn DataLinkSender>>,
    rx: Option<Box<dyn DataLinkReceiver>>,
    /// The interface used.
    pub iface: NetworkInterface,
}

/// The interface for traffic to `dst` (`-i` wins).
pub fn interface_for(dst: IpAddr, iface: Option<&str>) -> Result<NetworkInterface> {
    let all = pnet::datalink::interfaces();
    if let Some(name) = iface {
        return all
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::input(format!("no interface named '{name}'")));
    }
    match crate::route::get(dst) {
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
            let l3 = if packets.iter().any(|p| !p.l2 && !p.is_ipv6()) {
                Some(L3Sender::open(false).map_err(|e| Error::io("open raw IPv4 socket", e))?)
            } else {
                None
            };
            let l3v6 = if packets.iter().any(|p| !p.l2 && p.is_ipv6()) {
                Some(L3Sender::open(true).map_err(|e| Error::io("open raw IPv6 socket", e))?)
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
            Ok(Io {
                l3,
                l3v6,
                l2,
                rx,
                iface,
            })
        })();
        privilege::drop_all()?;
        opened
    }

    fn send(&mut self, p: &Built) -> Result<()> {
        let r = if p.l2 {
            self.l2.as_mut().and_then(|s| s.send_to(&p.bytes, None))
        } else {
            // The L3 sender takes a frame and strips the Ethernet header.
            let (ethertype, sender) = if p.is_ipv6() {
                (wire::ETHERTYPE_IPV6, self.l3v6.as_mut())
            } else {
                (wire::ETHERTYPE_IPV4, self.l3.as_mut())
            };
            let mut frame = vec![0u8; 14];
            frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
            frame.extend_from_slice(&p.bytes);
            sender.map(|s| s.send(&frame))
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
    Flow(IpAddr, IpAddr, u16, u16, u8),
    /// ICMP or ICMPv6 echo reply: (from, id, seq).
    Echo(IpAddr, u16, u16),
    /// ICMP or ICMPv6 error quoting: (probe src, probe dst, proto, IPv4 id, the ports or an
    /// echo's id and sequence (else 0 and 0), and a TCP probe's sequence number (else 0):
    /// IPv6 has no id, and probes that differ only in hop limit differ in their seq).
    Quote(IpAddr, IpAddr, u8, u16, u16, u16, u32),
    /// ARP reply from this address.
    Arp(IpAddr),
    /// Neighbor advertisement for this target.
    Nd(Ipv6Addr),
}

#[derive(Debug, Clone, Copy)]
struct TcpProbe {
    seq: u32,
    ack: u32,
    seg_len: u32,
    has_ack: bool,
}

/// What identifies a probe inside a quote: its ports, or its echo id and sequence.
fn quote_ids(t: &Transport) -> (u16, u16) {
    match t {
        Transport::Tcp(t) => (t.src_port, t.dst_port),
        Transport::Udp(u) => (u.src_port, u.dst_port),
        Transport::Icmp(m) if m.icmp_type == icmp::ECHO_REQUEST => {
            ((m.rest >> 16) as u16, m.rest as u16)
        }
        Transport::Icmpv6(m) if m.icmp_type == icmpv6::ECHO_REQUEST => {
            ((m.rest >> 16) as u16, m.rest as u16)
        }
        _ => (0, 0),
    }
}

/// The same, read from an error's quote.
fn quoted_ids(q: &Quoted) -> (u16, u16) {
    match (q.proto, q.icmp) {
        (wire::PROTO_TCP | wire::PROTO_UDP, _) => (q.src_port, q.dst_port),
        (wire::PROTO_ICMP, Some((icmp::ECHO_REQUEST, _, rest)))
        | (wire::PROTO_ICMPV6, Some((icmpv6::ECHO_REQUEST, _, rest))) => {
            ((rest >> 16) as u16, rest as u16)
        }
        _ => (0, 0),
    }
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
            let mut add = |k: Key| by_key.entry(k).or_default().push(i);
            if p.l2
                && let Ok((_, Network::Arp(a))) = wire::parse_ethernet(&p.bytes)
            {
                add(Key::Arp(IpAddr::V4(a.target_ip)));
                continue;
            }
            let Some(Ok(net)) = p.ip().map(wire::parse_ip) else {
                continue;
            };
            let (s, d, proto, id, t) = match net {
                Network::Ipv4(ip, t) => {
                    (IpAddr::V4(ip.src), IpAddr::V4(ip.dst), ip.proto, ip.id, t)
                }
                Network::Ipv6(ip, t) => {
                    let proto = match t {
                        Transport::Tcp(_) => wire::PROTO_TCP,
                        Transport::Udp(_) => wire::PROTO_UDP,
                        Transport::Icmpv6(_) => wire::PROTO_ICMPV6,
                        _ => ip.next_header,
                    };
                    let flow = ip.flow_label as u16;
                    (IpAddr::V6(ip.src), IpAddr::V6(ip.dst), proto, flow, t)
                }
                _ => continue,
            };
            let (qa, qb) = quote_ids(&t);
            let seq = match t {
                Transport::Tcp(t) => t.seq,
                _ => 0,
            };
            add(Key::Quote(s, d, proto, id, qa, qb, seq));
            match t {
                Transport::Tcp(t) => {
                    add(Key::Flow(d, s, t.dst_port, t.src_port, wire::PROTO_TCP));
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
                    add(Key::Flow(d, s, u.dst_port, u.src_port, wire::PROTO_UDP));
                }
                Transport::Icmp(m) if m.icmp_type == icmp::ECHO_REQUEST => {
                    add(Key::Echo(d, (m.rest >> 16) as u16, m.rest as u16));
                }
                Transport::Icmpv6(m) if m.icmp_type == icmpv6::ECHO_REQUEST => {
                    add(Key::Echo(d, (m.rest >> 16) as u16, m.rest as u16));
                }
                Transport::Icmpv6(m) if m.icmp_type == icmpv6::NEIGHBOR_SOLICIT => {
                    if let Some(nd) = m.ndp {
                        add(Key::Nd(nd.target));
                    }
                }
                _ => {}
            }
        }
        Matcher { by_key, tcp }
    }

    /// The first unanswered probe of those under `key`.
    fn first_open(&self, key: &Key, answered: &[bool]) -> Option<usize> {
        self.by_key
            .get(key)?
            .iter()
            .copied()
            .find(|&i| !answered[i])
    }

    /// The unanswered probe this frame answers, if any.
    fn find(&self, frame: &[u8], answered: &[bool]) -> Option<usize> {
        let (_, pkt) = wire::parse_ethernet(frame).ok()?;
        let (s, d, t) = match pkt {
            Network::Arp(a) if a.op == 2 => {
                return self.first_open(&Key::Arp(IpAddr::V4(a.sender_ip)), answered);
            }
            Network::Ipv4(ip, t) => (IpAddr::V4(ip.src), IpAddr::V4(ip.dst), t),
            Network::Ipv6(ip, t) => (IpAddr::V6(ip.src), IpAddr::V6(ip.dst), t),
            _ => return None,
        };
        match t {
            Transport::Tcp(r) => {
                let cands =
                    self.by_key
                        .get(&Key::Flow(s, d, r.src_port, r.dst_port, wire::PROTO_TCP))?;
                cands.iter().copied().filter(|&i| !answered[i]).find(|&i| {
                    let Some(p) = self.tcp[i] else { return false };
                    if r.flags & tcp_flags::ACK != 0 {
                        // Scapy's rule: seq < ack <= seq + length (a SYN with data is acked
                        // for the SYN alone).
                        let d = r.ack.wrapping_sub(p.seq);
                        d >= 1 && d <= p.seg_len.max(1)
                    } else {
                        r.flags & tcp_flags::RST != 0 && p.has_ack && r.seq == p.ack
                    }
                })
            }
            Transport::Udp(r) => self.first_open(
                &Key::Flow(s, d, r.src_port, r.dst_port, wire::PROTO_UDP),
                answered,
            ),
            Transport::Icmp(m) if m.icmp_type == icmp::ECHO_REPLY => self.first_open(
                &Key::Echo(s, (m.rest >> 16) as u16, m.rest as u16),
                answered,
            ),
            Transport::Icmpv6(m) if m.icmp_type == icmpv6::ECHO_REPLY => self.first_open(
                &Key::Echo(s, (m.rest >> 16) as u16, m.rest as u16),
                answered,
            ),
            Transport::Icmpv6(m) if m.icmp_type == icmpv6::NEIGHBOR_ADVERT => {
                self.first_open(&Key::Nd(m.ndp?.target), answered)
            }
            Transport::Icmp(m) => self.quoted(m.quoted?, answered),
            Transport::Icmpv6(m) => self.quoted(m.quoted?, answered),
            _ => None,
        }
    }

    /// The probe an ICMP or ICMPv6 error quotes.
    fn quoted(&self, q: Quoted, answered: &[bool]) -> Option<usize> {
        let (a, b) = quoted_ids(&q);
        let seq = if q.proto == wire::PROTO_TCP {
            q.seq.unwrap_or(0)
        } else {
            0
        };
        self.first_open(
            &Key::Quote(q.src, q.dst, q.proto, q.id, a, b, seq),
            answered,
        )
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

    fn frame6(ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x86, 0xdd]);
        f.extend_from_slice(ip);
        f
    }

    #[test]
    fn ipv6_answers_match_like_ipv4_ones() {
        let ps = probes("IPv6(src=fd00::1,dst=fd00::2)/TCP(dport=[22,80],flags=S,seq=5000)");
        let m = Matcher::new(&ps);
        let none = vec![false; 2];
        let reply = |sport: u16, ack: u32, flags: &str| {
            frame6(&probes(&format!(
                "IPv6(src=fd00::2,dst=fd00::1)/TCP(sport={sport},dport=40000,flags={flags},ack={ack})"
            ))[0].bytes)
        };
        assert_eq!(m.find(&reply(80, 5001, "SA"), &none), Some(1));
        assert_eq!(m.find(&reply(22, 5001, "RA"), &none), Some(0));
        assert_eq!(m.find(&reply(22, 5002, "SA"), &none), None);
        // The same answer from IPv4 is not an IPv6 probe's.
        let v4 = frame(
            &probes("IP(src=0.0.0.2,dst=0.0.0.1)/TCP(sport=80,dport=40000,flags=SA,ack=5001)")[0]
                .bytes,
        );
        assert_eq!(m.find(&v4, &none), None);

        // Echo replies by id and sequence; time-exceeded quoting the probe's echo header.
        let ps = probes("IPv6(src=fd00::1,dst=fd00::2,hlim=1-3)/ICMPv6EchoRequest(id=7)");
        let m = Matcher::new(&ps);
        let none = vec![false; 3];
        let mut r = probes("IPv6(src=fd00::2,dst=fd00::1)/ICMPv6EchoRequest(id=7,seq=2)")[0]
            .bytes
            .clone();
        r[40] = 129;
        assert_eq!(m.find(&frame6(&r), &none), Some(1));
        let mut err = probes("IPv6(src=fd00::9,dst=fd00::1,nh=58)")[0]
            .bytes
            .clone();
        let mut body = vec![3u8, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&ps[2].bytes[..48]);
        err.extend_from_slice(&body);
        let plen = body.len() as u16;
        err[4..6].copy_from_slice(&plen.to_be_bytes());
        assert_eq!(m.find(&frame6(&err), &none), Some(2));

        // SYNs differing only in hop limit (a trace): an error quoting the third probe's
        // header, sequence number included, is the third probe's, even with the first two
        // unanswered (a silent hop).
        let ps = probes("IPv6(src=fd00::1,dst=fd00::2,hlim=1-3)/TCP(dport=80,flags=S)");
        let m = Matcher::new(&ps);
        let mut err = probes("IPv6(src=fd00::9,dst=fd00::1,nh=58)")[0]
            .bytes
            .clone();
        let mut body = vec![3u8, 0, 0, 0, 0, 0, 0, 0];
        body.extend_from_slice(&ps[2].bytes[..48]);
        err.extend_from_slice(&body);
        let plen = body.len() as u16;
        err[4..6].copy_from_slice(&plen.to_be_bytes());
        assert_eq!(m.find(&frame6(&err), &[false, false, false]), Some(2));

        // A neighbor advertisement answers the solicitation for its target.
        let ps = probes("IPv6(src=fd00::1)/ICMPv6ND_NS(tgt=[fd00::5,fd00::6])");
        let m = Matcher::new(&ps);
        let mut na = probes("IPv6(src=fd00::6,dst=fd00::1)/ICMPv6ND_NS(tgt=fd00::6)")[0]
            .bytes
            .clone();
        na[40] = 136;
        assert_eq!(m.find(&frame6(&na), &[false, false]), Some(1));
    }
}
