//! `--format text` / `-oN`: nmap's normal output — a per-host table (PORT STATE SERVICE
//! REASON) with the "Not shown" line, then a one-line summary.

use super::{
    Ending, FormatWriter, HostReport, Report, RunInfo, not_shown_phrase, rfc3339, summary_line,
};
use crate::event::PortState;
use crate::services::service_name;
use std::io::{self, Write};
use std::net::IpAddr;

/// A MAC as nmap writes it: upper-case hex.
pub(crate) fn mac_upper(m: pnet::util::MacAddr) -> String {
    m.to_string().to_uppercase()
}

pub struct Text<W: Write> {
    out: W,
}

impl<W: Write> Text<W> {
    pub fn new(out: W) -> Self {
        Text { out }
    }
}

impl<W: Write> FormatWriter for Text<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        writeln!(
            self.out,
            "synscan {} {} scan of {} {} x {} {} started {}",
            env!("CARGO_PKG_VERSION"),
            if run.ping_only {
                "host discovery".to_string()
            } else {
                run.scans
                    .iter()
                    .map(|s| s.scan_type)
                    .collect::<Vec<_>>()
                    .join("+")
            },
            run.hosts_total,
            if run.hosts_total == 1 {
                "host"
            } else {
                "hosts"
            },
            run.ports_per_host,
            if run.ports_per_host == 1 {
                "port"
            } else {
                "ports"
            },
            rfc3339(run.start)
        )?;
        writeln!(self.out, "{}", super::identity_line(run))
    }

    fn per_host(&self) -> bool {
        true
    }

    fn host(&mut self, run: &RunInfo, at: &Ending, h: &HostReport) -> io::Result<()> {
        let verbose = run.verbose > 0;
        {
            if let Some(d) = h.discovered.as_ref().filter(|d| !d.up) {
                // As nmap -v lists a down host: one line.
                return writeln!(
                    self.out,
                    "\nScan report for {} [host down, received {}]",
                    h.display_name(),
                    d.reason
                );
            }
            writeln!(self.out, "\nScan report for {}", h.display_name())?;
            match &h.discovered {
                Some(d) => {
                    write!(self.out, "Host is {}, received {}", d.status(), d.reason)?;
                    if let Some(t) = d.ttl {
                        write!(self.out, " ttl {t}")?;
                    }
                    if let Some(rtt) = d.rtt {
                        write!(self.out, " ({:.6}s latency)", rtt.as_secs_f64())?;
                    }
                    writeln!(self.out, ".")?;
                    if let Some(m) = d.mac {
                        writeln!(self.out, "MAC Address: {}", mac_upper(m))?;
                    }
                }
                None if !h.up => writeln!(self.out, "Host did not answer")?,
                None => {}
            }
            let closed = h.not_shown(PortState::Closed, at.listed);
            let filtered = h.not_shown(PortState::Filtered, at.listed);
            // open|filtered only when there are some: TCP scans never have any.
            let open_filtered = h.not_shown(PortState::OpenFiltered, at.listed);
            if closed + filtered + open_filtered > 0 {
                write!(
                    self.out,
                    "Not shown: {}, {}",
                    not_shown_phrase(h, PortState::Closed, closed, verbose),
                    not_shown_phrase(h, PortState::Filtered, filtered, verbose),
                )?;
                if open_filtered > 0 {
                    write!(
                        self.out,
                        ", {}",
                        not_shown_phrase(h, PortState::OpenFiltered, open_filtered, verbose)
                    )?;
                }
                writeln!(self.out)?;
            }
            if h.listed.is_empty() {
                return Ok(());
            }
            let rows: Vec<[String; 5]> = h
                .listed
                .iter()
                .map(|r| {
                    let (service, version) = match &r.service {
                        Some(id) => (id.service.column(), id.service.version_line()),
                        None => (
                            service_name(r.port, r.proto)
                                .unwrap_or("unknown")
                                .to_string(),
                            String::new(),
                        ),
                    };
                    [
                        format!("{}/{}", r.port, r.proto),
                        r.state.to_string(),
                        service,
                        r.reason.to_string(),
                        version,
                    ]
                })
                .collect();
            // nmap's -sV adds the VERSION column.
            let columns = if run.banners { 5 } else { 4 };
            let header = ["PORT", "STATE", "SERVICE", "REASON", "VERSION"];
            let mut width = header.map(str::len);
            for row in &rows {
                for (w, cell) in width.iter_mut().zip(row) {
                    *w = (*w).max(cell.len());
                }
            }
            let line = |cells: [&str; 5]| {
                let mut l = String::new();
                for (i, cell) in cells.iter().enumerate().take(columns) {
                    if i + 1 == columns {
                        l.push_str(cell);
                    } else {
                        l.push_str(&format!("{cell:<w$} ", w = width[i]));
                    }
                }
                l.trim_end().to_string()
            };
            writeln!(self.out, "{}", line(header))?;
            for row in &rows {
                writeln!(
                    self.out,
                    "{}",
                    line([&row[0], &row[1], &row[2], &row[3], &row[4]])
                )?;
            }
        }
        Ok(())
    }

    fn silent(&mut self, _run: &RunInfo, _at: &Ending, ip: IpAddr) -> io::Result<()> {
        writeln!(self.out, "\nScan report for {ip} [no answer]")
    }

    fn end(&mut self, _run: &RunInfo, report: &Report) -> io::Result<()> {
        writeln!(self.out, "\nsynscan done: {}", summary_line(report))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
