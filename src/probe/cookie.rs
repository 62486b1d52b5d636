//! Stateless probe authentication (zmap's validate.c): the SYN's sequence number is a keyed
//! SipHash of (source IP, destination IP, source port, destination port). A reply is ours
//! only if it acknowledges that number; no per-probe state is kept.

use crate::target::splitmix64;
use siphasher::sip::SipHasher13;
use std::hash::Hasher;
use std::net::Ipv4Addr;

/// The per-run secret and the function it keys.
#[derive(Debug, Clone, Copy)]
pub struct Cookie {
    k0: u64,
    k1: u64,
}

impl Cookie {
    /// A cookie keyed from `--seed` (domain-separated from the scan order's keys).
    pub fn from_seed(seed: u64) -> Cookie {
        let mut s = seed ^ 0x636f_6f6b_6965_2121; // "cookie!!"
        Cookie {
            k0: splitmix64(&mut s),
            k1: splitmix64(&mut s),
        }
    }

    /// A cookie with a fresh random secret.
    pub fn random() -> Cookie {
        Cookie {
            k0: rand::random(),
            k1: rand::random(),
        }
    }

    /// The sequence number of the probe from `src:sport` to `dst:dport`.
    #[inline]
    pub fn seq(&self, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> u32 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        let mut buf = [0u8; 12];
        buf[0..4].copy_from_slice(&src.octets());
        buf[4..8].copy_from_slice(&dst.octets());
        buf[8..10].copy_from_slice(&sport.to_be_bytes());
        buf[10..12].copy_from_slice(&dport.to_be_bytes());
        h.write(&buf);
        h.finish() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_deterministic() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let c = Cookie::from_seed(7);
        assert_eq!(
            c.seq(a, b, 40000, 80),
            Cookie::from_seed(7).seq(a, b, 40000, 80)
        );
        assert_ne!(
            c.seq(a, b, 40000, 80),
            Cookie::from_seed(8).seq(a, b, 40000, 80)
        );
        assert_ne!(c.seq(a, b, 40000, 80), c.seq(a, b, 40000, 81));
        assert_ne!(c.seq(a, b, 40000, 80), c.seq(a, b, 40001, 80));
        assert_ne!(c.seq(a, b, 40000, 80), c.seq(b, a, 40000, 80));
    }
}
