//! The SYN probe's logic, apart from any socket: the keyed cookie that makes each probe's
//! sequence number unforgeable, and the validation that turns a received packet into a
//! result only when it answers one of our probes.

mod cookie;
mod validate;

pub use cookie::Cookie;
pub use validate::{Reply, Validator, icmp_reason};
