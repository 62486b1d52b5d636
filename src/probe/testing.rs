//! What the probe modules' tests share: a validator over one target and a few ports, and a
//! source and target of each family.

use super::{Cookie, Validate};
use std::net::IpAddr;
use std::ops::Range;

/// A scan of `ports` on `them` from `src`, with source ports `sports`.
pub struct Scope {
    pub src: IpAddr,
    pub them: IpAddr,
    pub cookie: Cookie,
    pub sports: Range<u16>,
    pub ports: &'static [u16],
}

impl Validate for Scope {
    fn src(&self) -> IpAddr {
        self.src
    }
    fn ours(&self, sport: u16) -> bool {
        self.sports.contains(&sport)
    }
    fn probed(&self, target: IpAddr, port: u16) -> bool {
        target == self.them && self.ports.contains(&port)
    }
    fn cookie(&self, target: IpAddr, sport: u16, dport: u16) -> u32 {
        self.cookie.value(self.src, target, sport, dport)
    }
}

/// (source, target) over IPv4 and over IPv6.
pub fn families() -> [(IpAddr, IpAddr); 2] {
    [
        (
            "10.0.0.1".parse().expect("v4"),
            "10.0.0.9".parse().expect("v4"),
        ),
        (
            "fd93::1".parse().expect("v6"),
            "fd93::9".parse().expect("v6"),
        ),
    ]
}
