//! The answered marks of the segment being probed: the only state the engine keeps about
//! pairs, bounded by the segment's length, never by the space. Each pair has a two-bit mark;
//! sixteen marks share a 64-bit word with the segment's tag in its high half, and every change
//! is a compare-and-swap on the whole word. So the receiver (marking answers) and the sender
//! (giving up on silent pairs) can never both win a pair, and a late reply to a pair of an
//! earlier segment can never mark the pair that reuses its slot.

use std::sync::atomic::{AtomicU64, Ordering};

/// Marks per word.
const PER_WORD: u64 = 16;

/// What is known of one pair of the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Probed (or about to be), no answer yet.
    Pending = 0,
    /// The receiver reported it.
    Answered = 1,
    /// The sender gave up on it (reported unanswered, or not this engine's to probe).
    Closed = 2,
    /// Reported by the interrupted run this one resumes: never probed, never reported.
    Done = 3,
}

impl Mark {
    fn from_bits(b: u64) -> Mark {
        match b & 3 {
            0 => Mark::Pending,
            1 => Mark::Answered,
            2 => Mark::Closed,
            _ => Mark::Done,
        }
    }
}

/// Marks for one segment of `len` positions at a time.
pub struct Window {
    words: Box<[AtomicU64]>,
    len: u64,
}

impl Window {
    /// Room for segments of up to `len` positions.
    pub fn new(len: u64) -> Window {
        let n = len.div_ceil(PER_WORD).max(1) as usize;
        Window {
            // Tag 0 belongs to no segment: nothing can be marked before `open`.
            words: (0..n).map(|_| AtomicU64::new(0)).collect(),
            len,
        }
    }

    /// Positions per segment.
    pub fn segment_len(&self) -> u64 {
        self.len
    }

    fn tag(seg: u64) -> u64 {
        // Segments are numbered from 0; the tag is one more, so 0 stays "no segment". The
        // scan space is at most 2^40 pairs and segments at least 2^4 long, so it fits.
        ((seg + 1) & 0xffff_ffff) << 32
    }

    /// Starts segment `seg`: every mark Pending. The previous segment must be finished:
    /// after this, marks for it are refused.
    pub fn open(&self, seg: u64) {
        let tag = Window::tag(seg);
        for w in self.words.iter() {
            w.store(tag, Ordering::Release);
        }
    }

    fn slot(&self, seg: u64, off: u64) -> Option<(&AtomicU64, u64, u32)> {
        if off >= self.len {
            return None;
        }
        let w = self.words.get((off / PER_WORD) as usize)?;
        Some((w, Window::tag(seg), (2 * (off % PER_WORD)) as u32))
    }

    /// Moves the mark of position `off` of segment `seg` from Pending to `to`; false when the
    /// segment is not the open one or the mark was no longer Pending.
    pub fn claim(&self, seg: u64, off: u64, to: Mark) -> bool {
        let Some((w, tag, shift)) = self.slot(seg, off) else {
            return false;
        };
        let mut cur = w.load(Ordering::Acquire);
        loop {
            if cur & !0xffff_ffff != tag || (cur >> shift) & 3 != Mark::Pending as u64 {
                return false;
            }
            let new = cur | ((to as u64) << shift);
            match w.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// The mark of position `off` of segment `seg` (`None` when that segment is not open).
    pub fn mark(&self, seg: u64, off: u64) -> Option<Mark> {
        let (w, tag, shift) = self.slot(seg, off)?;
        let cur = w.load(Ordering::Acquire);
        (cur & !0xffff_ffff == tag).then(|| Mark::from_bits(cur >> shift))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_winner_per_pair_and_old_segments_refused() {
        let w = Window::new(100);
        assert!(!w.claim(0, 5, Mark::Answered), "nothing open yet");
        w.open(0);
        assert_eq!(w.mark(0, 5), Some(Mark::Pending));
        assert!(w.claim(0, 5, Mark::Answered));
        assert!(!w.claim(0, 5, Mark::Closed), "the receiver won");
        assert!(w.claim(0, 99, Mark::Closed));
        assert!(!w.claim(0, 99, Mark::Answered), "the sender won");
        assert!(!w.claim(0, 100, Mark::Answered), "outside the segment");
        w.open(1);
        assert!(!w.claim(0, 7, Mark::Answered), "a late reply to segment 0");
        assert_eq!(w.mark(0, 7), None);
        assert_eq!(w.mark(1, 5), Some(Mark::Pending));
        assert!(w.claim(1, 7, Mark::Done));
        assert_eq!(w.mark(1, 7), Some(Mark::Done));
    }

    #[test]
    fn racing_threads_never_both_win() {
        let w = std::sync::Arc::new(Window::new(1 << 12));
        w.open(3);
        let other = {
            let w = std::sync::Arc::clone(&w);
            std::thread::spawn(move || {
                (0..1u64 << 12)
                    .filter(|&i| w.claim(3, i, Mark::Answered))
                    .count()
            })
        };
        let mine = (0..1u64 << 12)
            .rev()
            .filter(|&i| w.claim(3, i, Mark::Closed))
            .count();
        let theirs = other.join().unwrap();
        assert_eq!(mine + theirs, 1 << 12);
    }
}
