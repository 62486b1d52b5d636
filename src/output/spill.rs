//! The per-host formats' records in bounded memory: an external sort. Results are kept as
//! fixed-size records; every [`RUN`] of them is sorted by (host, arrival) and written to an
//! unlinked temporary file as one sorted run; at the end the runs are merged (at most
//! [`FAN_IN`] at a time, in more passes when there are more) and handed out host by host.
//! A scan whose records fit in one run never touches the disk.
//!
//! Why a sort and not a map: hosts answer in the permutation's order, spread over the whole
//! scan, so any structure indexed by host grows with the hosts that answered, while the
//! formats need every host's records together, in address order, only at the end.

use crate::event::{PortResult, PortState, Proto, Reason};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::time::Duration;

/// Records sorted in memory before they go to disk (2 MiB of them).
#[cfg(not(test))]
const RUN: usize = 1 << 16;
#[cfg(test)]
const RUN: usize = 1 << 8;
/// Most runs merged at once (each has a read buffer of [`READ_BUF`]).
#[cfg(not(test))]
const FAN_IN: usize = 64;
#[cfg(test)]
const FAN_IN: usize = 8;
const READ_BUF: usize = 16 * 1024;
/// Bytes of one record on disk.
const SIZE: usize = 28;

/// One result, as the per-host formats need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The host's index in the scan's host set (ascending index is ascending address).
    pub host: u64,
    /// Arrival order: the first reply that showed a host up is its first record.
    pub seq: u64,
    pub port: u16,
    pub proto: Proto,
    pub state: PortState,
    pub reason: Reason,
    /// Listed port by port (else only counted).
    pub listed: bool,
    pub ttl: Option<u8>,
    /// Microseconds.
    pub rtt_us: Option<u32>,
    /// A host record of discovery (state open: up), not a port's.
    pub status: bool,
}

impl Record {
    /// The record of `r` for host `host`.
    pub fn new(host: u64, seq: u64, r: &PortResult, listed: bool) -> Record {
        Record {
            host,
            seq,
            port: r.port,
            proto: r.proto,
            state: r.state,
            reason: r.reason,
            listed,
            ttl: r.ttl,
            rtt_us: r
                .rtt
                .map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX - 1)),
            status: false,
        }
    }

    /// The result again, for address `ip`.
    pub fn result(&self, ip: IpAddr) -> PortResult {
        PortResult {
            ip,
            port: self.port,
            proto: self.proto,
            state: self.state,
            reason: self.reason,
            ttl: self.ttl,
            rtt: self.rtt_us.map(|us| Duration::from_micros(us.into())),
            data: None,
            service: None,
        }
    }

    fn key(&self) -> (u64, u64) {
        (self.host, self.seq)
    }

    fn encode(&self, b: &mut [u8; SIZE]) {
        b[0..8].copy_from_slice(&self.host.to_le_bytes());
        b[8..16].copy_from_slice(&self.seq.to_le_bytes());
        b[16..18].copy_from_slice(&self.port.to_le_bytes());
        b[18] = self.proto as u8;
        b[19] = self.state as u8;
        b[20] = self.reason.code();
        b[21] = u8::from(self.listed) | u8::from(self.ttl.is_some()) << 1;
        b[22] = self.ttl.unwrap_or(0);
        b[23] = u8::from(self.status);
        b[24..28].copy_from_slice(&self.rtt_us.map_or(u32::MAX, |v| v).to_le_bytes());
    }

    /// A record this module wrote; `None` for bytes it did not.
    fn decode(b: &[u8; SIZE]) -> Option<Record> {
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        let rtt = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
        Some(Record {
            host: u64_at(0),
            seq: u64_at(8),
            port: u16::from_le_bytes([b[16], b[17]]),
            proto: match b[18] {
                0 => Proto::Tcp,
                1 => Proto::Udp,
                _ => return None,
            },
            state: *PortState::ALL.get(usize::from(b[19]))?,
            reason: Reason::from_code(b[20])?,
            listed: b[21] & 1 != 0,
            ttl: (b[21] & 2 != 0).then_some(b[22]),
            rtt_us: (rtt != u32::MAX).then_some(rtt),
            status: match b[23] {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }
}

/// A sorted run in a temporary file: where it starts and how many records it holds.
#[derive(Debug, Clone, Copy)]
struct Run {
    offset: u64,
    len: u64,
}

/// Records waiting for the end of the scan.
#[derive(Default)]
pub struct Spill {
    buf: Vec<Record>,
    file: Option<File>,
    runs: Vec<Run>,
    end: u64,
}

impl Spill {
    /// Nothing kept yet.
    pub fn new() -> Spill {
        Spill::default()
    }

    /// Keeps a record; writes a sorted run when [`RUN`] are waiting.
    pub fn push(&mut self, r: Record) -> io::Result<()> {
        self.buf.push(r);
        if self.buf.len() >= RUN {
            self.write_run()?;
        }
        Ok(())
    }

    /// Runs written to disk so far.
    #[cfg(test)]
    fn runs(&self) -> usize {
        self.runs.len()
    }

    fn write_run(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.buf.sort_unstable_by_key(Record::key);
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(tempfile::tempfile()?),
        };
        file.seek(SeekFrom::Start(self.end))?;
        let mut w = BufWriter::with_capacity(64 * 1024, &*file);
        let mut b = [0u8; SIZE];
        for r in &self.buf {
            r.encode(&mut b);
            w.write_all(&b)?;
        }
        w.flush()?;
        let len = self.buf.len() as u64;
        self.runs.push(Run {
            offset: self.end,
            len,
        });
        self.end += len * SIZE as u64;
        self.buf.clear();
        Ok(())
    }

    /// Every record, sorted by host then arrival.
    pub fn into_sorted(mut self) -> io::Result<Sorted> {
        if self.runs.is_empty() {
            self.buf.sort_unstable_by_key(Record::key);
            return Ok(Sorted::Memory(self.buf.into_iter()));
        }
        self.write_run()?;
        let Some(mut file) = self.file.take() else {
            return Ok(Sorted::Memory(Vec::new().into_iter()));
        };
        let mut runs = std::mem::take(&mut self.runs);
        // More runs than can be merged at once: merge groups into longer runs, in passes.
        while runs.len() > FAN_IN {
            let mut out = tempfile::tempfile()?;
            let mut next = Vec::new();
            let mut at = 0u64;
            {
                let mut w = BufWriter::with_capacity(64 * 1024, &out);
                for group in runs.chunks(FAN_IN) {
                    let mut merged = Merge::new(&file, group)?;
                    let mut b = [0u8; SIZE];
                    let mut len = 0u64;
                    while let Some(r) = merged.next_record()? {
                        r.encode(&mut b);
                        w.write_all(&b)?;
                        len += 1;
                    }
                    next.push(Run { offset: at, len });
                    at += len * SIZE as u64;
                }
                w.flush()?;
            }
            out.seek(SeekFrom::Start(0))?;
            file = out;
            runs = next;
        }
        Ok(Sorted::Disk(Merge::new(&file, &runs)?))
    }
}

/// Records in (host, arrival) order.
pub enum Sorted {
    Memory(std::vec::IntoIter<Record>),
    Disk(Merge),
}

impl Sorted {
    /// The next record.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        match self {
            Sorted::Memory(it) => Ok(it.next()),
            Sorted::Disk(m) => m.next_record(),
        }
    }
}

/// A k-way merge of sorted runs of one file.
pub struct Merge {
    cursors: Vec<Cursor>,
    heap: BinaryHeap<std::cmp::Reverse<((u64, u64), usize)>>,
    heads: Vec<Option<Record>>,
}

struct Cursor {
    reader: BufReader<File>,
    left: u64,
}

impl Cursor {
    fn next(&mut self) -> io::Result<Option<Record>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; SIZE];
        self.reader.read_exact(&mut b)?;
        self.left -= 1;
        Record::decode(&b)
            .map(Some)
            .ok_or_else(|| io::Error::other("spill file damaged"))
    }
}

impl Merge {
    fn new(file: &File, runs: &[Run]) -> io::Result<Merge> {
        let mut m = Merge {
            cursors: Vec::with_capacity(runs.len()),
            heap: BinaryHeap::with_capacity(runs.len()),
            heads: Vec::with_capacity(runs.len()),
        };
        for (i, run) in runs.iter().enumerate() {
            let mut f = file.try_clone()?;
            // A cloned descriptor shares the offset: each cursor gets its own open file.
            f = reopen(&mut f)?;
            f.seek(SeekFrom::Start(run.offset))?;
            let mut c = Cursor {
                reader: BufReader::with_capacity(READ_BUF, f),
                left: run.len,
            };
            let head = c.next()?;
            if let Some(r) = head {
                m.heap.push(std::cmp::Reverse((r.key(), i)));
            }
            m.heads.push(head);
            m.cursors.push(c);
        }
        Ok(m)
    }

    /// The smallest record left.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        let Some(std::cmp::Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let out = self.heads[i].take();
        let next = self.cursors[i].next()?;
        if let Some(r) = next {
            self.heap.push(std::cmp::Reverse((r.key(), i)));
        }
        self.heads[i] = next;
        Ok(out)
    }
}

/// A new open file description for the same (unlinked) file, so that reads at different
/// offsets do not disturb each other.
fn reopen(f: &mut File) -> io::Result<File> {
    use std::os::fd::AsRawFd;
    std::fs::File::open(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(host: u64, seq: u64, port: u16) -> Record {
        Record {
            host,
            seq,
            port,
            proto: Proto::Tcp,
            state: PortState::Closed,
            reason: Reason::Reset,
            listed: port.is_multiple_of(2),
            ttl: port.is_multiple_of(3).then_some(64),
            rtt_us: port.is_multiple_of(5).then_some(1234),
            status: port.is_multiple_of(7),
        }
    }

    fn drain(mut s: Sorted) -> Vec<Record> {
        let mut out = Vec::new();
        while let Some(r) = s.next_record().unwrap() {
            out.push(r);
        }
        out
    }

    #[test]
    fn records_round_trip_and_bad_bytes_are_refused() {
        let r = rec(7, 9, 15);
        let mut b = [0u8; SIZE];
        r.encode(&mut b);
        assert_eq!(Record::decode(&b), Some(r));
        b[20] = 250;
        assert_eq!(Record::decode(&b), None);
    }

    #[test]
    fn in_memory_and_on_disk_give_the_same_order() {
        // Hosts in a scattered order, as the permutation sends them.
        let n = RUN * (FAN_IN + 3) + 17;
        let mut s = Spill::new();
        let mut want = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let host = (i * 7919) % 5003;
            let r = rec(host, i, (i % 1000) as u16);
            want.push(r);
            s.push(r).unwrap();
        }
        assert_eq!(s.runs(), FAN_IN + 3, "written in runs");
        want.sort_by_key(Record::key);
        assert_eq!(drain(s.into_sorted().unwrap()), want);
        let mut small = Spill::new();
        for r in want.iter().rev().take(100) {
            small.push(*r).unwrap();
        }
        assert_eq!(small.runs(), 0, "fits in memory");
        let mut w: Vec<_> = want.iter().rev().take(100).copied().collect();
        w.sort_by_key(Record::key);
        assert_eq!(drain(small.into_sorted().unwrap()), w);
    }
}
