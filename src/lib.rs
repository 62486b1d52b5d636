//! # synscan
//!
//! A fast TCP port scanner — raw SYN and unprivileged connect() — and a packet toolkit.
//!
//! The library is the scanner without its command line: build a [`target::HostSet`] and a
//! [`target::PortList`], walk them in a seeded [`target::ScanOrder`], run an engine such as
//! [`connect::ConnectEngine`], and receive one [`event::PortResult`] per (host, port) through
//! an [`event::ResultSink`]; the [`output`] module writes any of the formats.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use synscan::connect::{ConnectEngine, ConnectOptions};
//! use synscan::event::PortResult;
//! use synscan::target::{build_hosts, PortList, ScanOrder, Shard};
//!
//! let hosts = build_hosts(&["127.0.0.1".to_string()], &[]).unwrap();
//! let ports = PortList::parse("1-1024").unwrap();
//! let order = ScanOrder::new(&hosts, &ports, 42, Shard::default());
//! let mut results: Vec<PortResult> = Vec::new();
//! let stop = AtomicBool::new(false);
//! let probes = order.iter(&hosts, &ports, 0);
//! ConnectEngine::new(ConnectOptions::default(), probes, &mut results, &stop)
//!     .unwrap()
//!     .run()
//!     .unwrap();
//! for r in results.iter().filter(|r| r.state == synscan::event::PortState::Open) {
//!     println!("{}:{} open", r.ip, r.port);
//! }
//! ```

#![deny(unsafe_code)]

pub mod banner;
pub mod bitmap;
pub mod capture;
pub mod cli;
pub mod connect;
pub mod engine;
pub mod error;
pub mod event;
pub mod files;
pub mod link;
pub mod merge;
pub mod output;
pub mod privilege;
pub mod probe;
pub mod rate;
pub mod resume;
pub mod route;
pub mod rtt;
pub mod scan;
pub mod services;
mod sys;
pub mod target;
pub mod toolkit;
pub mod wire;

pub use error::{Error, Result};
