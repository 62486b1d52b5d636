//! A bitmap over the (host, port) index space, shared by the receiver (which marks pairs
//! answered) and the sender (which retries only unanswered pairs). Pages are allocated on
//! first write, so memory follows the answers, not the size of the space.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

const PAGE_BITS: u64 = 1 << 16;
const PAGE_WORDS: usize = (PAGE_BITS / 64) as usize;

/// A lazily paged atomic bitmap of `len` bits.
pub struct Bitmap {
    pages: Vec<OnceLock<Box<[AtomicU64]>>>,
    len: u64,
}

impl Bitmap {
    /// A bitmap of `len` bits, all clear.
    pub fn new(len: u64) -> Bitmap {
        let pages = len.div_ceil(PAGE_BITS) as usize;
        Bitmap {
            pages: (0..pages).map(|_| OnceLock::new()).collect(),
            len,
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

    /// Reads bit `i` (false when out of range).
    pub fn get(&self, i: u64) -> bool {
        if i >= self.len {
            return false;
        }
        let Some(page) = self
            .pages
            .get((i / PAGE_BITS) as usize)
            .and_then(OnceLock::get)
        else {
            return false;
        };
        let off = i % PAGE_BITS;
        page[(off / 64) as usize].load(Ordering::Relaxed) & (1 << (off % 64)) != 0
    }

    /// Sets bit `i`; returns true if it was clear (the first answer for this pair).
    pub fn set(&self, i: u64) -> bool {
        if i >= self.len {
            return false;
        }
        let Some(slot) = self.pages.get((i / PAGE_BITS) as usize) else {
            return false;
        };
        let page = slot.get_or_init(|| (0..PAGE_WORDS).map(|_| AtomicU64::new(0)).collect());
        let off = i % PAGE_BITS;
        let mask = 1u64 << (off % 64);
        page[(off / 64) as usize].fetch_or(mask, Ordering::Relaxed) & mask == 0
    }
}

impl Bitmap {
    /// The set bits as sorted, disjoint half-open ranges `[start, end)`: the compact form
    /// the resume file stores. Reads only the pages that were written.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (pi, slot) in self.pages.iter().enumerate() {
            let Some(page) = slot.get() else {
                continue;
            };
            for (wi, word) in page.iter().enumerate() {
                let mut w = word.load(Ordering::Relaxed);
                let base = pi as u64 * PAGE_BITS + wi as u64 * 64;
                while w != 0 {
                    let start = w.trailing_zeros() as u64;
                    let run = (w >> start).trailing_ones() as u64;
                    let (s, e) = (base + start, base + start + run);
                    match out.last_mut() {
                        Some(last) if last.1 == s => last.1 = e,
                        _ => out.push((s, e)),
                    }
                    w = if start + run >= 64 {
                        0
                    } else {
                        w & !(((1u64 << run) - 1) << start)
                    };
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_once_and_read() {
        let b = Bitmap::new(200_000);
        assert!(!b.get(199_999));
        assert!(b.set(199_999));
        assert!(!b.set(199_999));
        assert!(b.get(199_999));
        assert!(!b.get(5));
        assert!(!b.set(200_000), "out of range is ignored");
        assert!(!b.get(1 << 40));
    }

    #[test]
    fn ranges_merge_across_words_and_pages() {
        let b = Bitmap::new(3 * PAGE_BITS);
        for i in (60..130).chain([
            5,
            PAGE_BITS - 1,
            PAGE_BITS,
            PAGE_BITS + 1,
            3 * PAGE_BITS - 1,
        ]) {
            b.set(i);
        }
        for i in 192..256 {
            b.set(i);
        }
        assert_eq!(
            b.ranges(),
            vec![
                (5, 6),
                (60, 130),
                (192, 256),
                (PAGE_BITS - 1, PAGE_BITS + 2),
                (3 * PAGE_BITS - 1, 3 * PAGE_BITS)
            ]
        );
        assert!(Bitmap::new(10).ranges().is_empty());
    }
}
