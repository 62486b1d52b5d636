//! An in-memory link for unit tests of the engine: every frame sent is handed to a model of
//! the network (a closure), whose answers come back on the receive side after a delay. No
//! socket, no namespace, no privilege: retries, cool-downs, congestion back-off, dedup and
//! resume are tested on exact, repeatable traffic.

use super::{LinkRx, LinkTx, READ_TIMEOUT};
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The network's answer to one frame: frames to deliver, each after its delay.
pub type Answer = Vec<(Duration, Vec<u8>)>;

/// A model of the network: called with every frame sent (probes and follow-ups alike).
pub type Model = Box<dyn FnMut(&[u8]) -> Answer + Send>;

struct State {
    model: Model,
    /// Frames to deliver, by due time (kept sorted).
    pending: VecDeque<(Instant, Vec<u8>)>,
    /// Every frame sent, in order (when recorded).
    sent: Vec<Vec<u8>>,
    /// Whether `sent` is kept: not for the long runs that check memory.
    record: bool,
    /// Frames sent.
    count: u64,
}

/// The shared wire of a fake link.
#[derive(Clone)]
pub struct FakeNet {
    state: Arc<(Mutex<State>, Condvar)>,
}

impl FakeNet {
    /// A network that answers with `model`.
    pub fn new(model: Model) -> FakeNet {
        FakeNet::with(model, true)
    }

    /// A network that answers with `model` and only counts the frames sent, for runs too
    /// long to keep them.
    pub fn counting(model: Model) -> FakeNet {
        FakeNet::with(model, false)
    }

    fn with(model: Model, record: bool) -> FakeNet {
        FakeNet {
            state: Arc::new((
                Mutex::new(State {
                    model,
                    pending: VecDeque::new(),
                    sent: Vec::new(),
                    record,
                    count: 0,
                }),
                Condvar::new(),
            )),
        }
    }

    /// How many frames were sent.
    pub fn sent_count(&self) -> u64 {
        self.state.0.lock().map(|s| s.count).unwrap_or(0)
    }

    /// A sender onto this network (probes and follow-ups alike).
    pub fn tx(&self, batch: usize) -> FakeTx {
        FakeTx {
            net: self.clone(),
            batch: batch.max(1),
            buf: Vec::new(),
        }
    }

    /// The receiving end.
    pub fn rx(&self) -> FakeRx {
        FakeRx {
            net: self.clone(),
            current: Vec::new(),
        }
    }

    /// Every frame sent so far.
    pub fn sent(&self) -> Vec<Vec<u8>> {
        self.state
            .0
            .lock()
            .map(|s| s.sent.clone())
            .unwrap_or_default()
    }

    /// Hands `frames` (each `len` bytes) to the model, under one lock.
    fn deliver(&self, frames: &[u8], len: usize) {
        let (lock, cv) = &*self.state;
        let Ok(mut s) = lock.lock() else {
            return;
        };
        let now = Instant::now();
        let mut woke = false;
        for frame in frames.chunks_exact(len.max(1)) {
            s.count += 1;
            if s.record {
                s.sent.push(frame.to_vec());
            }
            for (delay, f) in (s.model)(frame) {
                let due = now + delay;
                let at = s.pending.partition_point(|(t, _)| *t <= due);
                s.pending.insert(at, (due, f));
                woke = true;
            }
        }
        if woke {
            cv.notify_all();
        }
    }
}

/// Sends onto a [`FakeNet`].
pub struct FakeTx {
    net: FakeNet,
    batch: usize,
    buf: Vec<u8>,
}

impl LinkTx for FakeTx {
    fn batch(&self) -> usize {
        self.batch
    }

    fn send_batch(
        &mut self,
        n: usize,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> io::Result<()> {
        self.buf.clear();
        self.buf.resize(n * len, 0);
        for frame in self.buf.chunks_exact_mut(len.max(1)) {
            fill(frame);
        }
        self.net.deliver(&self.buf, len);
        Ok(())
    }
}

/// Receives from a [`FakeNet`].
pub struct FakeRx {
    net: FakeNet,
    current: Vec<u8>,
}

impl LinkRx for FakeRx {
    fn recv(&mut self) -> io::Result<Option<&[u8]>> {
        let (lock, cv) = &*self.net.state;
        let deadline = Instant::now() + READ_TIMEOUT;
        let mut s = lock
            .lock()
            .map_err(|_| io::Error::other("fake link poisoned"))?;
        loop {
            let now = Instant::now();
            if s.pending.front().is_some_and(|(due, _)| *due <= now)
                && let Some((_, f)) = s.pending.pop_front()
            {
                self.current = f;
                return Ok(Some(&self.current));
            }
            if now >= deadline {
                return Ok(None);
            }
            let wake = s
                .pending
                .front()
                .map_or(deadline, |(due, _)| (*due).min(deadline));
            s = cv
                .wait_timeout(s, wake.saturating_duration_since(now))
                .map_err(|_| io::Error::other("fake link poisoned"))?
                .0;
        }
    }

    fn drops(&mut self) -> Option<u64> {
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_arrive_in_due_order() {
        let net = FakeNet::new(Box::new(|f: &[u8]| {
            vec![
                (Duration::from_millis(20), vec![f[0], 2]),
                (Duration::from_millis(1), vec![f[0], 1]),
            ]
        }));
        let mut tx = net.tx(8);
        let mut rx = net.rx();
        tx.send(&[7]).unwrap();
        let mut got = Vec::new();
        for _ in 0..10 {
            if let Some(f) = rx.recv().unwrap() {
                got.push(f.to_vec());
            }
        }
        assert_eq!(got, vec![vec![7, 1], vec![7, 2]]);
        assert_eq!(net.sent(), vec![vec![7]]);
    }
}
