//! Classic pcap files (the format tcpdump, tshark and Wireshark read): a writer for Ethernet
//! captures and a reader that checks every length against the file, so a truncated or hostile
//! file is an error naming the record, never a panic or a huge allocation. Written here rather
//! than taken from a crate because the reader is on the untrusted-input path and is fuzzed.

use std::io::{self, Read, Write};
use std::time::{Duration, SystemTime};

/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length we write and the largest record we accept.
pub const SNAPLEN: u32 = 262_144;

/// Writes a pcap stream (microsecond timestamps, native byte order).
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out })
    }

    /// Appends one frame captured at `ts`.
    pub fn write(&mut self, ts: SystemTime, frame: &[u8]) -> io::Result<()> {
        let d = ts
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let len = frame.len().min(SNAPLEN as usize);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&(d.as_secs() as u32).to_le_bytes());
        h[4..8].copy_from_slice(&d.subsec_micros().to_le_bytes());
        h[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&frame[..len])
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One record of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Capture time.
    pub ts: SystemTime,
    /// Length on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// Not a pcap file (magic number).
    #[error("not a pcap file (magic 0x{0:08x})")]
    BadMagic(u32),
    /// A link type other than Ethernet.
    #[error("link type {0} is not supported (only Ethernet, 1)")]
    LinkType(u32),
    /// The file ends inside a header or a record.
    #[error("truncated {0}")]
    Truncated(String),
    /// A record claims an impossible length.
    #[error("record {index}: captured length {len} is impossible")]
    BadLength {
        /// Record number, from 1.
        index: u64,
        /// The claimed length.
        len: u32,
    },
    /// The OS failed to read.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Reads a pcap stream record by record.
pub struct PcapReader<R: Read> {
    input: R,
    swapped: bool,
    nanos: bool,
    index: u64,
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> PcapReader<R> {
    /// Reads and checks the global header.
    pub fn new(mut input: R) -> Result<Self, PcapError> {
        let mut h = [0u8; 24];
        if read_full(&mut input, &mut h)? < 24 {
            return Err(PcapError::Truncated("global header".into()));
        }
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (swapped, nanos) = match magic {
            0xa1b2_c3d4 => (false, false),
            0xd4c3_b2a1 => (true, false),
            0xa1b2_3c4d => (false, true),
            0x4d3c_b2a1 => (true, true),
            m => return Err(PcapError::BadMagic(m)),
        };
        let rd = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if swapped {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        let link = rd(&h[20..24]);
        if link != LINKTYPE_ETHERNET {
            return Err(PcapError::LinkType(link));
        }
        Ok(PcapReader {
            input,
            swapped,
            nanos,
            index: 0,
        })
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.swapped {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    /// The next record, `None` at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Record>, PcapError> {
        let mut h = [0u8; 16];
        let n = read_full(&mut self.input, &mut h)?;
        if n == 0 {
            return Ok(None);
        }
        self.index += 1;
        if n < 16 {
            return Err(PcapError::Truncated(format!(
                "header of record {}",
                self.index
            )));
        }
        let (secs, frac, incl, orig) = (
            self.u32(&h[0..4]),
            self.u32(&h[4..8]),
            self.u32(&h[8..12]),
            self.u32(&h[12..16]),
        );
        if incl > SNAPLEN {
            return Err(PcapError::BadLength {
                index: self.index,
                len: incl,
            });
        }
        let mut data = vec![0u8; incl as usize];
        if read_full(&mut self.input, &mut data)? < incl as usize {
            return Err(PcapError::Truncated(format!("record {}", self.index)));
        }
        let sub = if self.nanos {
            Duration::from_nanos(frac.min(999_999_999) as u64)
        } else {
            Duration::from_micros(frac.min(999_999) as u64)
        };
        Ok(Some(Record {
            ts: SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64) + sub,
            orig_len: orig,
            data,
        }))
    }
}

/// A pcap file shared by threads (`--pcap` on scans): every frame written with the time it
/// was recorded. Writes are serialized by a lock, taken only when recording is on.
#[derive(Clone)]
pub struct Recorder(std::sync::Arc<std::sync::Mutex<PcapWriter<io::BufWriter<std::fs::File>>>>);

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    /// Starts a pcap file.
    pub fn create(file: std::fs::File) -> io::Result<Recorder> {
        let w = PcapWriter::new(io::BufWriter::with_capacity(1 << 20, file))?;
        Ok(Recorder(std::sync::Arc::new(std::sync::Mutex::new(w))))
    }

    /// Records one frame now.
    pub fn record(&self, frame: &[u8]) -> io::Result<()> {
        let mut w = self
            .0
            .lock()
            .map_err(|_| io::Error::other("pcap writer poisoned"))?;
        w.write(SystemTime::now(), frame)
    }

    /// Flushes buffered frames to the file.
    pub fn flush(&self) -> io::Result<()> {
        let mut w = self
            .0
            .lock()
            .map_err(|_| io::Error::other("pcap writer poisoned"))?;
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_byte_exact() {
        let mut buf = Vec::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        {
            let mut w = PcapWriter::new(&mut buf).unwrap();
            w.write(t0, &[1, 2, 3]).unwrap();
            w.write(t0 + Duration::from_micros(5), &[9; 60]).unwrap();
        }
        let mut r = PcapReader::new(&buf[..]).unwrap();
        let a = r.next_record().unwrap().unwrap();
        assert_eq!((a.ts, a.data.as_slice()), (t0, &[1u8, 2, 3][..]));
        let b = r.next_record().unwrap().unwrap();
        assert_eq!(b.data, vec![9; 60]);
        assert!(r.next_record().unwrap().is_none());
        // Writing what was read gives the same bytes.
        let mut again = Vec::new();
        let mut w = PcapWriter::new(&mut again).unwrap();
        w.write(a.ts, &a.data).unwrap();
        w.write(b.ts, &b.data).unwrap();
        assert_eq!(again, buf);
    }

    #[test]
    fn hostile_files_are_errors() {
        assert!(matches!(
            PcapReader::new(&b"short"[..]),
            Err(PcapError::Truncated(_))
        ));
        assert!(matches!(
            PcapReader::new(&[0u8; 24][..]),
            Err(PcapError::BadMagic(0))
        ));
        let mut buf = Vec::new();
        PcapWriter::new(&mut buf)
            .unwrap()
            .write(SystemTime::UNIX_EPOCH, &[1; 10])
            .unwrap();
        for cut in 25..buf.len() {
            let mut r = PcapReader::new(&buf[..cut]).unwrap();
            assert!(r.next_record().is_err(), "cut at {cut}");
        }
        let mut huge = buf.clone();
        huge[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = PcapReader::new(&huge[..]).unwrap();
        assert!(matches!(
            r.next_record(),
            Err(PcapError::BadLength { index: 1, .. })
        ));
        let mut other = buf;
        other[20..24].copy_from_slice(&101u32.to_le_bytes());
        assert!(matches!(
            PcapReader::new(&other[..]),
            Err(PcapError::LinkType(101))
        ));
    }
}
