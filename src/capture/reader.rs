//! Reading captures: classic pcap in either byte order with micro- or nanosecond stamps, and
//! pcapng with any number of sections and interfaces (each with its own link type, time
//! resolution and offset), through the maintained `pcap-parser` crate. This layer adds what a
//! reader of untrusted files needs on top: bounded buffers, no endless refill loop on a
//! truncated or oversized block, checked timestamp arithmetic, and errors that name the
//! record.

use super::LinkType;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError as ParseError};
use std::io::Read;
use std::time::{Duration, SystemTime};

/// Read buffer: holds any block up to this size (snap lengths are at most 256 KiB).
const BUFFER: usize = 1 << 20;

/// One packet of a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Capture time.
    pub ts: SystemTime,
    /// Length on the wire.
    pub orig_len: u32,
    /// The link layer of `data`.
    pub link: LinkType,
    /// Interface number within its pcapng section (0 for classic pcap).
    pub interface: u32,
    /// The captured bytes.
    pub data: Vec<u8>,
}

/// Why a capture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Neither pcap nor pcapng.
    #[error("not a pcap or pcapng file")]
    NotACapture,
    /// The file ends inside a header, block or record.
    #[error("truncated {0}")]
    Truncated(String),
    /// A block claims more bytes than any capture needs.
    #[error("record {0}: block larger than {BUFFER} bytes")]
    TooLarge(u64),
    /// A block does not parse.
    #[error("record {0}: malformed block")]
    Malformed(u64),
    /// A packet names an interface its section never described.
    #[error("record {index}: interface {interface} was never described")]
    NoInterface {
        /// Record number, from 1.
        index: u64,
        /// The interface it names.
        interface: u32,
    },
    /// The OS failed to read.
    #[error("read error")]
    Read,
}

/// An interface of the current pcapng section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    units: u64,
    /// Seconds added to every timestamp.
    offset: i64,
}

/// Reads the records of a pcap or pcapng stream, one at a time.
pub struct CaptureReader<'r> {
    inner: Box<dyn PcapReaderIterator + Send + 'r>,
    state: State,
}

/// What earlier blocks said about the ones to come.
#[derive(Default)]
struct State {
    /// Classic pcap: the file's link type and whether fractions are nanoseconds.
    legacy: Option<(LinkType, bool)>,
    /// The interfaces of the current pcapng section.
    interfaces: Vec<Interface>,
    /// Records read so far.
    index: u64,
}

impl<'r> CaptureReader<'r> {
    /// Opens a stream, recognising its format from the first block.
    pub fn new<R: Read + Send + 'r>(input: R) -> Result<Self, CaptureError> {
        let inner = pcap_parser::create_reader(BUFFER, input).map_err(|e| match e {
            ParseError::Eof | ParseError::Incomplete(_) | ParseError::UnexpectedEof => {
                CaptureError::Truncated("file header".into())
            }
            ParseError::ReadError => CaptureError::Read,
            _ => CaptureError::NotACapture,
        })?;
        Ok(CaptureReader {
            inner,
            state: State::default(),
        })
    }

    /// The next packet, `None` at a clean end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>, CaptureError> {
        // Each turn consumes a block or reads more input; a reader that makes no progress
        // for two turns in a row is at a truncated end.
        let mut stalled = 0;
        loop {
            let next = match self.inner.next() {
                Ok((size, block)) => {
                    let record = self.state.take(block)?;
                    Some((size, record))
                }
                Err(ParseError::Eof) => return Ok(None),
                Err(ParseError::Incomplete(_)) => None,
                Err(ParseError::UnexpectedEof) => {
                    return Err(CaptureError::Truncated(format!(
                        "record {}",
                        self.state.index + 1
                    )));
                }
                Err(ParseError::BufferTooSmall) => {
                    return Err(CaptureError::TooLarge(self.state.index + 1));
                }
                Err(ParseError::ReadError) => return Err(CaptureError::Read),
                Err(_) => return Err(CaptureError::Malformed(self.state.index + 1)),
            };
            match next {
                Some((size, record)) => {
                    self.inner.consume(size);
                    if let Some(r) = record {
                        return Ok(Some(r));
                    }
                    stalled = 0;
                }
                None => {
                    let before = (self.inner.consumed(), self.inner.data().len());
                    self.inner.refill().map_err(|_| CaptureError::Read)?;
                    if (self.inner.consumed(), self.inner.data().len()) == before {
                        stalled += 1;
                        if stalled >= 2 {
                            return Err(CaptureError::Truncated(format!(
                                "record {}",
                                self.state.index + 1
                            )));
                        }
                    }
                }
            }
        }
    }
}

impl State {
    /// Turns a block into a record, or notes what it describes (headers, interfaces).
    fn take(&mut self, block: PcapBlockOwned<'_>) -> Result<Option<Record>, CaptureError> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                let nanos = h.is_nanosecond_precision();
                self.legacy = Some((link_of(h.network.0), nanos));
                Ok(None)
            }
            PcapBlockOwned::Legacy(b) => {
                self.index += 1;
                let (link, nanos) = self.legacy.unwrap_or((LinkType::Ethernet, false));
                let frac = if nanos {
                    Duration::from_nanos(u64::from(b.ts_usec.min(999_999_999)))
                } else {
                    Duration::from_micros(u64::from(b.ts_usec.min(999_999)))
                };
                let len = (b.caplen as usize).min(b.data.len());
                Ok(Some(Record {
                    ts: SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(b.ts_sec)) + frac,
                    orig_len: b.origlen,
                    link,
                    interface: 0,
                    data: b.data[..len].to_vec(),
                }))
            }
            PcapBlockOwned::NG(block) => self.take_ng(block),
        }
    }

    fn take_ng(&mut self, block: Block<'_>) -> Result<Option<Record>, CaptureError> {
        match block {
            Block::SectionHeader(_) => {
                // A new section describes its interfaces afresh.
                self.interfaces.clear();
                Ok(None)
            }
            Block::InterfaceDescription(idb) => {
                self.interfaces.push(Interface {
                    link: link_of(idb.linktype.0),
                    // An impossible resolution is taken as the default, microseconds.
                    units: idb.ts_resolution().filter(|&u| u > 0).unwrap_or(1_000_000),
                    offset: idb.ts_offset(),
                });
                Ok(None)
            }
            Block::EnhancedPacket(epb) => {
                self.index += 1;
                let iface = self.interface(epb.if_id)?;
                let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let len = (epb.caplen as usize).min(epb.data.len());
                Ok(Some(Record {
                    ts: timestamp(raw, iface),
                    orig_len: epb.origlen,
                    link: iface.link,
                    interface: epb.if_id,
                    data: epb.data[..len].to_vec(),
                }))
            }
            Block::SimplePacket(spb) => {
                self.index += 1;
                let iface = self.interface(0)?;
                // The block holds min(original length, snap length) bytes plus padding.
                let len = (spb.origlen as usize).min(spb.data.len());
                Ok(Some(Record {
                    ts: SystemTime::UNIX_EPOCH,
                    orig_len: spb.origlen,
                    link: iface.link,
                    interface: 0,
                    data: spb.data[..len].to_vec(),
                }))
            }
            // Statistics, name resolution, comments, custom blocks: nothing to show.
            _ => Ok(None),
        }
    }

    fn interface(&self, id: u32) -> Result<Interface, CaptureError> {
        self.interfaces
            .get(id as usize)
            .copied()
            .ok_or(CaptureError::NoInterface {
                index: self.index,
                interface: id,
            })
    }
}

fn link_of(n: i32) -> LinkType {
    LinkType::from_u32(n as u32)
}

/// A pcapng timestamp (`raw` units since the epoch plus the interface's offset), saturating
/// rather than overflowing on hostile values.
fn timestamp(raw: u64, iface: Interface) -> SystemTime {
    let secs = raw / iface.units;
    let frac = raw % iface.units;
    let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(iface.units)) as u64;
    let secs = if iface.offset >= 0 {
        secs.saturating_add(iface.offset as u64)
    } else {
        secs.saturating_sub(iface.offset.unsigned_abs())
    };
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(secs) + Duration::from_nanos(nanos))
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little pcapng: section header, two interfaces (Ethernet in microseconds, raw IP in
    /// nanoseconds), and one enhanced packet on each.
    fn pcapng(big_endian: bool) -> Vec<u8> {
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let w16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if big_endian {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let mut f = Vec::new();
        // Section header block.
        w32(&mut f, 0x0a0d_0d0a);
        w32(&mut f, 28);
        w32(&mut f, 0x1a2b_3c4d);
        w16(&mut f, 1);
        w16(&mut f, 0);
        f.extend_from_slice(&[0xff; 8]);
        w32(&mut f, 28);
        // Interface 0: Ethernet, no options (microseconds).
        w32(&mut f, 1);
        w32(&mut f, 20);
        w16(&mut f, 1);
        w16(&mut f, 0);
        w32(&mut f, 65535);
        w32(&mut f, 20);
        // Interface 1: raw IP with if_tsresol = 9 (nanoseconds).
        w32(&mut f, 1);
        w32(&mut f, 32);
        w16(&mut f, 101);
        w16(&mut f, 0);
        w32(&mut f, 65535);
        w16(&mut f, 9);
        w16(&mut f, 1);
        f.extend_from_slice(&[9, 0, 0, 0]);
        w16(&mut f, 0);
        w16(&mut f, 0);
        w32(&mut f, 32);
        // Enhanced packets: 4 bytes of data each.
        for (iface, ts, data) in [
            (0u32, 1_700_000_000_000_001u64, [1u8, 2, 3, 4]),
            (1, 1_700_000_000_000_000_002, [0x45, 0, 0, 0]),
        ] {
            w32(&mut f, 6);
            w32(&mut f, 36);
            w32(&mut f, iface);
            w32(&mut f, (ts >> 32) as u32);
            w32(&mut f, ts as u32);
            w32(&mut f, 4);
            w32(&mut f, 60);
            f.extend_from_slice(&data);
            w32(&mut f, 36);
        }
        f
    }

    fn all(bytes: &[u8]) -> Result<Vec<Record>, CaptureError> {
        let mut r = CaptureReader::new(bytes)?;
        let mut v = Vec::new();
        while let Some(rec) = r.next_record()? {
            v.push(rec);
        }
        Ok(v)
    }

    #[test]
    fn pcapng_with_two_interfaces_in_both_byte_orders() {
        for be in [false, true] {
            let recs = all(&pcapng(be)).unwrap();
            assert_eq!(recs.len(), 2);
            assert_eq!(recs[0].link, LinkType::Ethernet);
            assert_eq!(recs[1].link, LinkType::Raw);
            assert_eq!((recs[1].interface, recs[1].orig_len), (1, 60));
            assert_eq!(recs[0].data, vec![1, 2, 3, 4]);
            let t = |s: SystemTime| s.duration_since(SystemTime::UNIX_EPOCH).unwrap();
            assert_eq!(t(recs[0].ts), Duration::new(1_700_000_000, 1_000));
            assert_eq!(t(recs[1].ts), Duration::new(1_700_000_000, 2));
        }
    }

    #[test]
    fn hostile_files_are_errors_not_panics_or_hangs() {
        assert!(matches!(
            CaptureReader::new(&b"short"[..]),
            Err(CaptureError::NotACapture | CaptureError::Truncated(_))
        ));
        assert!(CaptureReader::new(&[0u8; 24][..]).is_err());
        assert!(CaptureReader::new(&[][..]).is_err());
        let good = pcapng(false);
        for cut in 28..good.len() {
            let r = all(&good[..cut]);
            assert!(r.is_err() || r.unwrap().len() < 2, "cut at {cut}");
        }
        // A packet on an interface never described.
        let mut bad = good.clone();
        let epb = 28 + 20 + 32;
        bad[epb + 8..epb + 12].copy_from_slice(&7u32.to_le_bytes());
        assert!(matches!(
            all(&bad),
            Err(CaptureError::NoInterface { interface: 7, .. })
        ));
        // A block claiming 4 GiB.
        let mut huge = good;
        huge[epb + 4..epb + 8].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(all(&huge).is_err());
        // A classic pcap record claiming 4 GiB.
        let mut classic = Vec::new();
        super::super::PcapWriter::new(&mut classic)
            .unwrap()
            .write(SystemTime::UNIX_EPOCH, &[1; 10])
            .unwrap();
        classic[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(all(&classic).is_err());
    }

    #[test]
    fn timestamps_saturate() {
        let iface = Interface {
            link: LinkType::Ethernet,
            units: 1,
            offset: i64::MAX,
        };
        let _ = timestamp(u64::MAX, iface);
        let iface = Interface {
            offset: i64::MIN,
            ..iface
        };
        assert_eq!(timestamp(5, iface), SystemTime::UNIX_EPOCH);
    }
}
