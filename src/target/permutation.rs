//! A keyed pseudo-random permutation of `0..n` in O(1) memory: a balanced 4-round Feistel
//! network on the smallest even-bit power-of-two domain that holds `n`, with cycle-walking to
//! stay inside `0..n` (at most 4 steps on average, since the domain is under 4n).
//!
//! The same seed gives the same order on every machine and every version of `rand`, because
//! the key schedule ([`splitmix64`]) and round function are written here.

/// SplitMix64: the seed expander, also used to derive per-run secrets from `--seed`.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A bijection on `0..n` chosen by a seed.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u64,
    half_bits: u32,
    half_mask: u64,
    keys: [u64; 4],
    /// The identity: `-r`, nmap's sequential order.
    identity: bool,
}

impl Permutation {
    /// The permutation of `0..n` for `seed`.
    pub fn new(n: u64, seed: u64) -> Permutation {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut s = seed;
        let keys = [
            splitmix64(&mut s),
            splitmix64(&mut s),
            splitmix64(&mut s),
            splitmix64(&mut s),
        ];
        Permutation {
            n,
            half_bits,
            half_mask: (1u64 << half_bits) - 1,
            keys,
            identity: false,
        }
    }

    /// The identity on `0..n`: everything in its natural order.
    pub fn identity(n: u64) -> Permutation {
        Permutation {
            identity: true,
            ..Permutation::new(n, 0)
        }
    }

    /// Size of the permuted range.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// True when the range is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The element at position `i` (requires `i < n`).
    pub fn at(&self, i: u64) -> u64 {
        debug_assert!(i < self.n);
        if self.identity {
            return i;
        }
        let mut x = self.feistel(i);
        while x >= self.n {
            x = self.feistel(x);
        }
        x
    }

    /// The position of element `x` (the inverse of [`Permutation::at`]); `None` when
    /// `x >= n`. Cycle-walking backwards stops at the first value inside the range, which is
    /// the position the forward walk started from.
    pub fn position_of(&self, x: u64) -> Option<u64> {
        if x >= self.n {
            return None;
        }
        if self.identity {
            return Some(x);
        }
        let mut i = self.feistel_inverse(x);
        while i >= self.n {
            i = self.feistel_inverse(i);
        }
        Some(i)
    }

    fn feistel_inverse(&self, x: u64) -> u64 {
        let mut l = x >> self.half_bits;
        let mut r = x & self.half_mask;
        for &k in self.keys.iter().rev() {
            let f = round(l, k) & self.half_mask;
            (l, r) = (r ^ f, l);
        }
        (l << self.half_bits) | r
    }

    fn feistel(&self, x: u64) -> u64 {
        let mut l = x >> self.half_bits;
        let mut r = x & self.half_mask;
        for &k in &self.keys {
            let f = round(r, k) & self.half_mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }
}

#[inline]
fn round(r: u64, k: u64) -> u64 {
    let mut z = r ^ k;
    z = (z ^ (z >> 31)).wrapping_mul(0x7fb5_d329_728e_a185);
    z = (z ^ (z >> 27)).wrapping_mul(0x81da_def4_bc2d_d44d);
    z ^ (z >> 33)
}

/// The positions of one shard: `I` of `N` (1-based, as masscan counts) takes every N-th
/// position starting at `I-1`, so N shards with one seed cover `0..n` exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 1-based.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 1, count: 1 }
    }
}

impl Shard {
    /// Positions of `0..n` belonging to this shard.
    pub fn positions(self, n: u64) -> impl Iterator<Item = u64> {
        let start = self.index.saturating_sub(1);
        (start..n).step_by(self.count.max(1) as usize)
    }

    /// How many positions of `0..n` this shard has.
    pub fn len(self, n: u64) -> u64 {
        let start = self.index.saturating_sub(1);
        if start >= n {
            0
        } else {
            (n - start).div_ceil(self.count.max(1))
        }
    }

    /// True when this shard has no position of `0..n`.
    pub fn is_empty(self, n: u64) -> bool {
        self.len(n) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_bijection_for_many_sizes() {
        for n in [1u64, 2, 3, 5, 16, 17, 100, 1000, 4097, 65535] {
            for seed in [0u64, 1, 42] {
                let p = Permutation::new(n, seed);
                let mut seen = vec![false; n as usize];
                for i in 0..n {
                    let x = p.at(i) as usize;
                    assert!(!seen[x], "n={n} seed={seed} repeats {x}");
                    seen[x] = true;
                }
            }
        }
    }

    #[test]
    fn position_of_inverts_at() {
        for n in [1u64, 2, 3, 17, 1000, 4097, 65535, 1 << 20, (1 << 40) + 3] {
            for seed in [0u64, 5] {
                let p = Permutation::new(n, seed);
                for i in (0..n).step_by((n / 2000).max(1) as usize).chain([n - 1]) {
                    assert_eq!(p.position_of(p.at(i)), Some(i), "n={n} seed={seed} i={i}");
                }
                assert_eq!(p.position_of(n), None);
            }
        }
        let id = Permutation::identity(10);
        assert_eq!(id.position_of(7), Some(7));
    }

    #[test]
    fn seed_changes_order_and_is_reproducible() {
        let a: Vec<u64> = (0..100).map(|i| Permutation::new(100, 1).at(i)).collect();
        let b: Vec<u64> = (0..100).map(|i| Permutation::new(100, 1).at(i)).collect();
        let c: Vec<u64> = (0..100).map(|i| Permutation::new(100, 2).at(i)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn shards_partition_positions() {
        let n = 1001;
        let mut seen = vec![0u8; n as usize];
        for index in 1..=3 {
            let s = Shard { index, count: 3 };
            assert_eq!(s.positions(n).count() as u64, s.len(n));
            for p in s.positions(n) {
                seen[p as usize] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }
}
