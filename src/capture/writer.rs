//! Writing classic pcap (what tcpdump, tshark and Wireshark read): Ethernet frames with
//! microsecond timestamps in native byte order, for `sniff -w` and `--pcap` on scans.

use std::io::{self, Write};
use std::time::SystemTime;

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
    use crate::capture::{CaptureReader, LinkType};
    use std::time::Duration;

    #[test]
    fn round_trip_is_byte_exact() {
        let mut buf = Vec::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        {
            let mut w = PcapWriter::new(&mut buf).unwrap();
            w.write(t0, &[1, 2, 3]).unwrap();
            w.write(t0 + Duration::from_micros(5), &[9; 60]).unwrap();
        }
        let mut r = CaptureReader::new(&buf[..]).unwrap();
        let a = r.next_record().unwrap().unwrap();
        assert_eq!((a.ts, a.data.as_slice()), (t0, &[1u8, 2, 3][..]));
        assert_eq!(a.link, LinkType::Ethernet);
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
}
