//! `--format xml` / `-oX`: nmap-compatible XML (nmaprun, host, ports, extraports, runstats)
//! that ndiff compares and nmap.xsl renders. Written at the end, in one piece.

use super::{Ending, FormatWriter, HostReport, Report, RunInfo, rfc3339, summary_line, unix_secs};
use crate::event::{PortState, Proto};
use crate::services::service_name;
use quick_xml::escape::escape;
use std::io::{self, Write};
use std::net::IpAddr;

pub struct Xml<W: Write> {
    out: W,
}

impl<W: Write> Xml<W> {
    pub fn new(out: W) -> Self {
        Xml { out }
    }
}

impl<W: Write> FormatWriter for Xml<W> {
    fn per_host(&self) -> bool {
        true
    }

    fn hosts_begin(&mut self, run: &RunInfo, at: &Ending) -> io::Result<()> {
        let o = &mut self.out;
        let start = unix_secs(run.start);
        writeln!(o, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(o, "<!DOCTYPE nmaprun>")?;
        writeln!(
            o,
            r#"<?xml-stylesheet href="file:///usr/share/nmap/nmap.xsl" type="text/xsl"?>"#
        )?;
        writeln!(
            o,
            r#"<nmaprun scanner="synscan" args="{}" start="{start}" startstr="{}" version="{}" xmloutputversion="1.05">"#,
            escape(run.args.as_str()),
            rfc3339(run.start),
            env!("CARGO_PKG_VERSION")
        )?;
        // nmap's DTD has no place for the shard: a comment says which scan and shard this is.
        writeln!(o, "<!-- {} -->", super::identity_line(run))?;
        for scan in &run.scans {
            writeln!(
                o,
                r#"<scaninfo type="{}" protocol="{}" numservices="{}" services="{}"/>"#,
                scan.scan_type, scan.proto, scan.count, scan.ports_expr
            )?;
        }
        if let Some(src) = &at.stats.ports_source {
            // nmap's DTD has no attribute for it: a comment beside the scaninfo says it.
            // Comments are not escaped, and may not hold "--".
            writeln!(o, "<!-- ports: {} -->", src.replace("--", "- -"))?;
        }
        writeln!(o, r#"<verbose level="{}"/>"#, run.verbose)?;
        writeln!(o, r#"<debugging level="{}"/>"#, run.debug)
    }

    fn host(&mut self, run: &RunInfo, at: &Ending, h: &HostReport) -> io::Result<()> {
        let o = &mut self.out;
        let (start, end) = (unix_secs(run.start), unix_secs(at.end));
        {
            let (state, reason, ttl) = match &h.discovered {
                Some(d) => (d.status(), d.reason.as_str(), d.ttl.unwrap_or(0)),
                None if h.up => ("up", h.up_reason.map_or("no-response", |r| r.as_str()), 0),
                None => ("unknown", "no-response", 0),
            };
            writeln!(
                o,
                r#"<host starttime="{start}" endtime="{end}"><status state="{state}" reason="{reason}" reason_ttl="{ttl}"/>"#
            )?;
            let family = match h.ip {
                IpAddr::V4(_) => "ipv4",
                IpAddr::V6(_) => "ipv6",
            };
            writeln!(o, r#"<address addr="{}" addrtype="{family}"/>"#, h.ip)?;
            if let Some(m) = h.discovered.as_ref().and_then(|d| d.mac) {
                writeln!(
                    o,
                    r#"<address addr="{}" addrtype="mac"/>"#,
                    super::text::mac_upper(m)
                )?;
            }
            writeln!(o, "<hostnames>")?;
            if let Some(name) = &h.hostname {
                writeln!(
                    o,
                    r#"<hostname name="{}" type="user"/>"#,
                    escape(name.as_str())
                )?;
            }
            writeln!(o, "</hostnames>")?;
            if run.ping_only {
                if let Some(rtt) = h.discovered.as_ref().and_then(|d| d.rtt) {
                    // nmap's DTD wants all three: the one sample is all that is known.
                    let us = rtt.as_micros();
                    writeln!(
                        o,
                        r#"<times srtt="{us}" rttvar="{us}" to="{}"/>"#,
                        (us * 5).max(100_000)
                    )?;
                }
                return writeln!(o, "</host>");
            }
            write!(o, "<ports>")?;
            for st in [
                PortState::Closed,
                PortState::Filtered,
                PortState::OpenFiltered,
                PortState::Open,
            ] {
                let n = h.not_shown(st, at.listed);
                if n == 0 {
                    continue;
                }
                writeln!(o, r#"<extraports state="{st}" count="{n}">"#)?;
                // Counts are kept per state, not per protocol: the first protocol names them.
                let proto = run.scans.first().map_or(Proto::Tcp, |s| s.proto);
                for ((s, reason), count) in &h.reasons {
                    if *s == st {
                        writeln!(
                            o,
                            r#"<extrareasons reason="{reason}" count="{count}" proto="{proto}"/>"#
                        )?;
                    }
                }
                writeln!(o, "</extraports>")?;
            }
            for r in &h.listed {
                write!(
                    o,
                    r#"<port protocol="{}" portid="{}"><state state="{}" reason="{}" reason_ttl="{}"/>"#,
                    r.proto,
                    r.port,
                    r.state,
                    r.reason,
                    r.ttl.unwrap_or(0)
                )?;
                match &r.service {
                    Some(id) => service_xml(o, id)?,
                    None => {
                        if let Some(name) = service_name(r.port, r.proto) {
                            write!(o, r#"<service name="{name}" method="table" conf="3"/>"#)?;
                        }
                    }
                }
                writeln!(o, "</port>")?;
            }
            writeln!(o, "</ports>")?;
            writeln!(o, "</host>")?;
        }
        Ok(())
    }

    fn silent(&mut self, run: &RunInfo, at: &Ending, ip: IpAddr) -> io::Result<()> {
        let o = &mut self.out;
        let (start, end) = (unix_secs(run.start), unix_secs(at.end));
        let family = if ip.is_ipv4() { "ipv4" } else { "ipv6" };
        writeln!(
            o,
            r#"<host starttime="{start}" endtime="{end}"><status state="down" reason="no-response" reason_ttl="0"/>"#
        )?;
        writeln!(o, r#"<address addr="{ip}" addrtype="{family}"/>"#)?;
        writeln!(o, "</host>")
    }

    fn end(&mut self, _run: &RunInfo, report: &Report) -> io::Result<()> {
        let o = &mut self.out;
        let end = unix_secs(report.end);
        let s = &report.stats;
        let up = report.hosts_up();
        writeln!(
            o,
            r#"<runstats><finished time="{end}" timestr="{}" summary="{}" elapsed="{:.2}" exit="{}"{}/><hosts up="{up}" down="{}" total="{}"/>"#,
            rfc3339(report.end),
            escape(summary_line(report).as_str()),
            s.elapsed.as_secs_f64(),
            if s.interrupted { "error" } else { "success" },
            if s.interrupted {
                r#" errormsg="interrupted""#
            } else {
                ""
            },
            s.hosts_total.saturating_sub(up),
            s.hosts_total
        )?;
        writeln!(o, "</runstats>")?;
        writeln!(o, "</nmaprun>")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// nmap's `<service>` element of a grabbed port, then the most telling thing the grab read
/// as the nmap script of the same name (`ssl-cert`, `http-title` or `banner`), which
/// nmap.xsl shows.
fn service_xml(o: &mut impl Write, id: &crate::banner::Identified) -> io::Result<()> {
    let s = &id.service;
    write!(o, r#"<service name="{}""#, escape(s.name.as_str()))?;
    for (attr, v) in [
        ("product", &s.product),
        ("version", &s.version),
        ("extrainfo", &s.extrainfo),
    ] {
        if let Some(v) = v {
            write!(o, r#" {attr}="{}""#, escape(v.as_str()))?;
        }
    }
    if let Some(t) = s.tunnel {
        write!(o, r#" tunnel="{t}""#)?;
    }
    let method = match s.method {
        crate::banner::Method::Probed => "probed",
        crate::banner::Method::Table => "table",
    };
    write!(o, r#" method="{method}" conf="{}"/>"#, s.conf)?;
    let Some(b) = &id.banner else {
        return Ok(());
    };
    let script = |o: &mut dyn Write, sid: &str, text: &str| {
        write!(o, r#"<script id="{sid}" output="{}"/>"#, escape(text))
    };
    // One script a port: ndiff cannot sort a port's scripts (a Python 3 bug in it).
    if let Some(c) = b.tls.as_ref().and_then(|t| t.cert.as_ref()) {
        let text = format!(
            "Subject: {}; Issuer: {}; Not valid before: {}; Not valid after: {}; SHA-256: {}",
            c.subject, c.issuer, c.not_before, c.not_after, c.sha256
        );
        script(o, "ssl-cert", &text)?;
    } else if let Some(t) = b.http.as_ref().and_then(|h| h.title.as_ref()) {
        script(o, "http-title", t)?;
    } else if let Some(raw) = b.ssh.as_ref().or(b.udp.as_ref()).or(b.raw.as_ref()) {
        script(o, "banner", raw.trim_end_matches("\\r\\n"))?;
    }
    Ok(())
}
