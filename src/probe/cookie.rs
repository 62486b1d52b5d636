//! Stateless probe authentication (zmap's validate.c): the SYN's sequence number is a keyed
//! SipHash of (source IP, destination IP, source port, destination port). A reply is ours
//! only if it acknowledges that number; no per-probe state is kept.
//!
//! The key is drawn at random for every run, as zmap does, and never derived from `--seed`:
//! the seed is shared between shards and saved in resume files, and whoever knows the key
//! can forge replies that validate.

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
    }
}
