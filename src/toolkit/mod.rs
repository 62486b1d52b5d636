//! The packet toolkit: Scapy-style crafting from a layer [`spec`], building frames
//! ([`build`]), sending them and matching answers, sniffing with a [`filter`] to [`pcap`],
//! reading and dissecting ([`dissect`]) captures.

pub mod build;
pub mod dissect;
pub mod filter;
pub mod pcap;
pub mod spec;
