//! Privileges, trippy-style: a SYN scan needs CAP_NET_RAW only to open its AF_PACKET
//! sockets. If the capability is permitted (root, sudo, or `setcap cap_net_raw+eip`), raise
//! it into the effective set, open the channels, then clear every capability set before the
//! first probe. Without it, the scan falls back to connect().

use crate::error::{Error, Result};
use caps::{CapSet, Capability};

/// How to get raw-socket privileges.
pub const ENABLE_HINT: &str = "run with sudo, or grant it once with \
`sudo setcap cap_net_raw,cap_net_admin+eip $(command -v synscan)`";

/// The explanation given when a SYN scan cannot open raw sockets.
pub const HOW_TO_ENABLE: &str = "SYN scans need CAP_NET_RAW: run with sudo, or grant it once with \
`sudo setcap cap_net_raw,cap_net_admin+eip $(command -v synscan)`";

/// True when CAP_NET_RAW can be raised (it is in the permitted set).
pub fn raw_permitted() -> bool {
    caps::has_cap(None, CapSet::Permitted, Capability::CAP_NET_RAW).unwrap_or(false)
}

/// Raises CAP_NET_RAW (and CAP_NET_ADMIN when permitted) into the effective set.
pub fn raise_raw() -> Result<()> {
    caps::raise(None, CapSet::Effective, Capability::CAP_NET_RAW)
        .map_err(|e| Error::Runtime(format!("cannot raise CAP_NET_RAW: {e}")))?;
    if caps::has_cap(None, CapSet::Permitted, Capability::CAP_NET_ADMIN).unwrap_or(false) {
        let _ = caps::raise(None, CapSet::Effective, Capability::CAP_NET_ADMIN);
    }
    Ok(())
}

/// Clears every capability set (effective, permitted, inheritable, ambient): after this the
/// process cannot regain privileges, even as uid 0.
pub fn drop_all() -> Result<()> {
    let _ = caps::clear(None, CapSet::Ambient);
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        caps::clear(None, set)
            .map_err(|e| Error::Runtime(format!("cannot drop capabilities: {e}")))?;
    }
    Ok(())
}
