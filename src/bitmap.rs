//! A sparse bitmap: one bit per host index for the reporter's "answered" and "heard of" sets
//! and for counting unfinished hosts. Pages of 65,536 bits are allocated on first write and
//! found through a hash map, so memory follows the hosts that were set (at most one bit per
//! host plus a page's worth) and nothing is spent on the size of the index space, even for
//! the 2^40 addresses of a wide IPv6 sweep.

use std::collections::HashMap;

const PAGE_BITS: u64 = 1 << 16;
const PAGE_WORDS: usize = (PAGE_BITS / 64) as usize;

/// A bitmap of `len` bits, all clear at first.
#[derive(Debug, Default)]
pub struct Bitmap {
    pages: HashMap<u64, Box<[u64; PAGE_WORDS]>>,
    len: u64,
    ones: u64,
}

impl Bitmap {
    /// A bitmap of `len` bits, all clear.
    pub fn new(len: u64) -> Bitmap {
        Bitmap {
            pages: HashMap::new(),
            len,
            ones: 0,
        }
    }

    /// Number of bits.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the bitmap has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of bits set.
    pub fn count(&self) -> u64 {
        self.ones
    }

    /// Reads bit `i` (false when out of range).
    pub fn get(&self, i: u64) -> bool {
        if i >= self.len {
            return false;
        }
        let off = i % PAGE_BITS;
        self.pages
            .get(&(i / PAGE_BITS))
            .is_some_and(|p| p[(off / 64) as usize] & (1 << (off % 64)) != 0)
    }

    /// Sets bit `i`; returns true if it was clear.
    pub fn set(&mut self, i: u64) -> bool {
        if i >= self.len {
            return false;
        }
        let page = self
            .pages
            .entry(i / PAGE_BITS)
            .or_insert_with(|| Box::new([0; PAGE_WORDS]));
        let off = i % PAGE_BITS;
        let (w, mask) = ((off / 64) as usize, 1u64 << (off % 64));
        let was = page[w] & mask != 0;
        page[w] |= mask;
        self.ones += u64::from(!was);
        !was
    }

    /// Bytes of pages allocated.
    pub fn bytes(&self) -> usize {
        self.pages.len() * PAGE_WORDS * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_once_and_read() {
        let mut b = Bitmap::new(200_000);
        assert!(!b.get(199_999));
        assert!(b.set(199_999));
        assert!(!b.set(199_999));
        assert!(b.get(199_999));
        assert!(!b.get(5));
        assert!(!b.set(200_000), "out of range is ignored");
        assert!(!b.get(1 << 40));
        assert_eq!(b.count(), 1);
        assert_eq!(b.bytes(), 8192);
    }

    #[test]
    fn a_huge_space_costs_only_the_pages_used() {
        let mut b = Bitmap::new(1 << 40);
        b.set(0);
        b.set((1 << 40) - 1);
        assert!(b.get((1 << 40) - 1) && !b.get(1 << 20));
        assert_eq!(b.bytes(), 2 * 8192);
    }
}
