//! The packet toolkit: Scapy-style crafting from a layer [`spec`], building packets
//! ([`build`]), sending them and matching answers ([`sr`]), TCP SYN [`trace`], capturing with
//! a [`filter`] ([`sniff`]) to a capture file ([`crate::capture`]), and reading and dissecting
//! captures ([`dissect`]).
//!
//! ```
//! use synscan::toolkit::{craft, dissect};
//!
//! // Two SYNs to loopback, built but not sent: source address from the route, checksums
//! // and lengths filled in.
//! let packets = craft("IP(dst=127.0.0.1)/TCP(dport=[22,80],flags=S)").unwrap();
//! assert_eq!(packets.len(), 2);
//! let summary = dissect::dissect_ip(&packets[1].bytes).summary;
//! assert!(summary.starts_with("IP / TCP 127.0.0.1:"));
//! assert!(summary.ends_with("> 127.0.0.1:80 S"));
//!
//! // A bad SPEC says where it is wrong.
//! let err = craft("IP(dst=127.0.0.1)/TCP(dprt=80)").unwrap_err();
//! assert_eq!(err.pos, 22);
//! ```

pub mod build;
pub mod dissect;
pub mod filter;
pub mod sniff;
pub mod spec;
pub mod sr;
pub mod trace;

use build::{Built, Defaults};
use spec::SpecError;

/// Parses a SPEC and builds every packet it describes (not sent).
pub fn craft(text: &str) -> Result<Vec<Built>, SpecError> {
    let spec = spec::parse(text)?;
    let stacks = spec.expand();
    let mac = stacks
        .first()
        .and_then(|s| sr::interface_for(build::destination(s), None).ok())
        .and_then(|i| i.mac)
        .unwrap_or(pnet::util::MacAddr::zero());
    let d = Defaults::random(mac);
    Ok(stacks
        .iter()
        .enumerate()
        .map(|(n, s)| build::build(s, &d, n))
        .collect())
}
