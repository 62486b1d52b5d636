//! Source ports of a raw scan: the first one from `--source-port` or the seed, and sockets
//! bound to every port the attempts use, so that no local connection takes them while the
//! scan runs. TCP: the kernel still answers stray SYN-ACKs to them with RST. UDP: answers
//! land in a socket we never read, so the kernel sends the target no port unreachable.

use crate::event::Proto;
use crate::target::splitmix64;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

/// A socket holding a source port.
#[derive(Debug)]
pub enum Held {
    /// Bound, never listening.
    Tcp(TcpListener),
    /// Bound, never read.
    Udp(UdpSocket),
}

/// A source port in 40000-59999 drawn from the seed.
pub fn default_sport(seed: u64) -> u16 {
    let mut s = seed;
    40000 + (splitmix64(&mut s) % 20000) as u16
}

/// UDP sockets on the `retries` + 1 ports from `base` (best effort), so that UDP answers
/// to a probe that also sends UDP (discovery's UDP pings) are not refused by the kernel.
pub fn hold_udp(src: IpAddr, base: u16, retries: u32) -> Vec<Held> {
    (0..=retries as u16)
        .filter_map(|k| bind_udp(src, base.wrapping_add(k)))
        .collect()
}

/// The first source port, and the sockets holding every port the attempts use (`retries`
/// more after the first) on `src`.
pub fn reserve(
    src: IpAddr,
    proto: Proto,
    fixed: Option<u16>,
    retries: u32,
    seed: u64,
) -> (u16, Vec<Held>) {
    if let Some(p) = fixed {
        // UDP answers to a fixed port still need a socket, or the kernel refuses them.
        let held = match proto {
            Proto::Udp => bind_udp(src, p).into_iter().collect(),
            Proto::Tcp => Vec::new(),
        };
        return (p, held);
    }
    let mut s = seed;
    for _ in 0..64 {
        let base = 40000 + (splitmix64(&mut s) % 20000) as u16;
        let held: Vec<Held> = (0..=retries as u16)
            .filter_map(|k| {
                let port = base.wrapping_add(k);
                match proto {
                    Proto::Tcp => bind(src, port).map(Held::Tcp),
                    Proto::Udp => bind_udp(src, port),
                }
            })
            .collect();
        if held.len() == retries as usize + 1 {
            return (base, held);
        }
    }
    (default_sport(seed), Vec::new())
}

/// Binds a UDP socket to `src:port`.
fn bind_udp(src: IpAddr, port: u16) -> Option<Held> {
    UdpSocket::bind(SocketAddr::new(src, port))
        .ok()
        .map(Held::Udp)
}

/// Binds (without listening) a TCP socket to `src:port`. A bound socket that does not
/// listen takes no connections: the kernel still answers stray SYN-ACKs with RST.
fn bind(src: IpAddr, port: u16) -> Option<TcpListener> {
    let domain = if src.is_ipv6() {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    };
    let sock = socket2::Socket::new(domain, socket2::Type::STREAM, None).ok()?;
    sock.bind(&SocketAddr::new(src, port).into()).ok()?;
    // A TcpListener is only a holder here: listen() is never called.
    Some(TcpListener::from(sock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_picks_the_port() {
        assert_eq!(default_sport(7), default_sport(7));
        assert!((40000..60000).contains(&default_sport(7)));
        assert_eq!(
            reserve("127.0.0.1".parse().unwrap(), Proto::Tcp, Some(4000), 3, 1).0,
            4000
        );
    }
}
