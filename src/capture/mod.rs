//! Packet captures on disk, shared by the scanner (`--pcap`) and the toolkit (`sniff -w`,
//! `read`): a classic pcap writer, a reader for pcap and pcapng, and the link layers a
//! capture may hold.

mod linktype;
mod reader;
mod writer;

pub use linktype::{Cooked, Encapsulated, LinkType, as_ethernet, cooked, encapsulated};
pub use reader::{CaptureError, CaptureReader, Record};
pub use writer::{LINKTYPE_ETHERNET, PcapWriter, Recorder, SNAPLEN};
