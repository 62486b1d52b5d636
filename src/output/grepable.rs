//! `--format grepable` / `-oG`: nmap's grepable output — a `Status` line and a `Ports` line per
//! host, with the most common unlisted state as `Ignored State`.

use super::{Ending, FormatWriter, HostReport, Report, RunInfo, rfc3339};
use crate::event::PortState;
use crate::services::service_name;
use std::io::{self, Write};
use std::net::IpAddr;

pub struct Grepable<W: Write> {
    out: W,
}

impl<W: Write> Grepable<W> {
    pub fn new(out: W) -> Self {
        Grepable { out }
    }
}

impl<W: Write> FormatWriter for Grepable<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        writeln!(
            self.out,
            "# synscan {} scan initiated {} as: {}",
            env!("CARGO_PKG_VERSION"),
            rfc3339(run.start),
            run.args
        )?;
        writeln!(self.out, "# {}", super::identity_line(run))
    }

    fn per_host(&self) -> bool {
        true
    }

    fn host(&mut self, _run: &RunInfo, at: &Ending, h: &HostReport) -> io::Result<()> {
        {
            let name = h.hostname.as_deref().unwrap_or("");
            let status = match &h.discovered {
                Some(d) if !d.up => "Down",
                _ if h.up => "Up",
                _ => "Unknown",
            };
            writeln!(self.out, "Host: {} ({name})\tStatus: {status}", h.ip)?;
            if h.listed.is_empty() {
                return Ok(());
            }
            let ports: Vec<String> = h
                .listed
                .iter()
                .map(|r| {
                    // nmap's fields: port/state/protocol/owner/service/rpc/version/, with a
                    // slash inside a field written as `|`.
                    let (service, version) = match &r.service {
                        Some(id) => (
                            id.service.column().replace('/', "|").replace(',', ";"),
                            id.service
                                .version_line()
                                .replace('/', "|")
                                .replace(',', ";"),
                        ),
                        None => (
                            service_name(r.port, r.proto).unwrap_or("").to_string(),
                            String::new(),
                        ),
                    };
                    format!(
                        "{}/{}/{}//{}//{}/",
                        r.port, r.state, r.proto, service, version
                    )
                })
                .collect();
            write!(
                self.out,
                "Host: {} ({name})\tPorts: {}",
                h.ip,
                ports.join(", ")
            )?;
            let ignored = [
                PortState::Closed,
                PortState::Filtered,
                PortState::OpenFiltered,
                PortState::Open,
            ]
            .into_iter()
            .map(|s| (s, h.not_shown(s, at.listed)))
            .max_by_key(|&(_, n)| n);
            if let Some((state, n)) = ignored.filter(|&(_, n)| n > 0) {
                write!(self.out, "\tIgnored State: {state} ({n})")?;
            }
            writeln!(self.out)?;
        }
        Ok(())
    }

    fn silent(&mut self, _run: &RunInfo, _at: &Ending, ip: IpAddr) -> io::Result<()> {
        writeln!(self.out, "Host: {ip} ()\tStatus: Down")
    }

    fn end(&mut self, _run: &RunInfo, report: &Report) -> io::Result<()> {
        let s = &report.stats;
        writeln!(
            self.out,
            "# synscan done at {} -- {} IP {} ({} {} up) scanned in {:.2} seconds",
            rfc3339(report.end),
            s.hosts_total,
            if s.hosts_total == 1 {
                "address"
            } else {
                "addresses"
            },
            report.hosts_up(),
            if report.hosts_up() == 1 {
                "host"
            } else {
                "hosts"
            },
            s.elapsed.as_secs_f64()
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
