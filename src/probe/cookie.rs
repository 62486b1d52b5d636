//! Stateless probe authentication (zmap's validate.c): the SYN's sequence number is a keyed
//! SipHash of (source IP, destination IP, source port, destination port). A reply is ours
//! only if it acknowledges that number; no per-probe state is kept.
//!
//! The key is drawn at random for every run, as zmap does, and never derived from `--seed`:
//! the seed is shared between shards and saved in resume files, and whoever knows the key
//! can forge replies that validate.

use siphasher::sip::SipHasher13;
use std::hash::Hasher;
use std::net::{IpAddr, Ipv4Addr};

/// The per-run secret and the function it keys.
#[derive(Debug, Clone, Copy)]
pub struct Cookie {
    k0: u64,
    k1: u64,
}

impl Cookie {
    /// A cookie with a fresh random secret (the operating system's generator).
    pub fn random() -> Cookie {
        Cookie {
            k0: rand::random(),
            k1: rand::random(),
        }
    }

    /// The cookie with a saved secret (a resume file's, so late replies to the interrupted
    /// run's probes still validate).
    pub fn from_key(key: [u64; 2]) -> Cookie {
        Cookie {
            k0: key[0],
            k1: key[1],
        }
    }

    /// The secret, for the resume file.
    pub fn key(&self) -> [u64; 2] {
        [self.k0, self.k1]
    }

    /// The cookie of the probe from `src:sport` to `dst:dport`: the TCP sequence number, or
    /// whatever field the probe module puts it in. IPv4 tuples hash their 12 bytes, IPv6
    /// tuples their 36.
    #[inline]
    pub fn value(&self, src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> u32 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut buf = [0u8; 12];
                buf[0..4].copy_from_slice(&s.octets());
                buf[4..8].copy_from_slice(&d.octets());
                buf[8..10].copy_from_slice(&sport.to_be_bytes());
                buf[10..12].copy_from_slice(&dport.to_be_bytes());
                h.write(&buf);
            }
            (s, d) => {
                let mut buf = [0u8; 36];
                buf[0..16].copy_from_slice(&v6(s).octets());
                buf[16..32].copy_from_slice(&v6(d).octets());
                buf[32..34].copy_from_slice(&sport.to_be_bytes());
                buf[34..36].copy_from_slice(&dport.to_be_bytes());
                h.write(&buf);
            }
        }
        h.finish() as u32
    }

    /// [`Cookie::value`] for an IPv4 tuple.
    #[inline]
    pub fn seq(&self, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> u32 {
        self.value(IpAddr::V4(src), IpAddr::V4(dst), sport, dport)
    }
}

fn v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_deterministic() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let c = Cookie::random();
        assert_eq!(
            c.seq(a, b, 40000, 80),
            Cookie::from_key(c.key()).seq(a, b, 40000, 80)
        );
        assert_ne!(
            c.seq(a, b, 40000, 80),
            Cookie::random().seq(a, b, 40000, 80)
        );
        assert_ne!(c.seq(a, b, 40000, 80), c.seq(a, b, 40000, 81));
        assert_ne!(c.seq(a, b, 40000, 80), c.seq(a, b, 40001, 80));
        assert_ne!(c.seq(a, b, 40000, 80), c.seq(b, a, 40000, 80));
        let (x, y): (IpAddr, IpAddr) = ("fd93::1".parse().unwrap(), "fd93::2".parse().unwrap());
        assert_eq!(
            c.value(x, y, 40000, 80),
            Cookie::from_key(c.key()).value(x, y, 40000, 80)
        );
        assert_ne!(c.value(x, y, 40000, 80), c.value(y, x, 40000, 80));
    }
}
