//! Which ports `--top-ports N`, `-F` and the default scan take: nmap's open-frequency ranking
//! when the machine has nmap's `nmap-services` installed (or one is given with
//! `--servicedb`), read at run time and never shipped (its licence forbids that), otherwise
//! the ranking shipped in `data/` (provenance: docs/data-sources.md).

use super::PortList;
use crate::error::{Error, Result};
use crate::event::Proto;
use std::path::{Path, PathBuf};

/// Where nmap keeps `nmap-services`, in the order nmap's own packages install it.
const NMAP_SERVICES: &[&str] = &[
    "/usr/share/nmap/nmap-services",
    "/usr/local/share/nmap/nmap-services",
];

/// Where a ranking came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RankingSource {
    /// An nmap-services file.
    Nmap(PathBuf),
    /// synscan's own list in `data/top-tcp-ports.txt` or `data/top-udp-ports.txt`.
    Shipped,
}

/// Ports of one protocol, most often open first.
#[derive(Debug, Clone)]
pub struct Ranking {
    source: RankingSource,
    ports: Vec<u16>,
    proto: Proto,
}

impl Ranking {
    /// The ranking shipped with synscan.
    pub fn shipped(proto: Proto) -> Ranking {
        Ranking {
            source: RankingSource::Shipped,
            ports: super::ports::top_ranking(proto).collect(),
            proto,
        }
    }

    /// nmap's ranking: `explicit` (`--servicedb`, which must be readable and hold TCP
    /// frequencies), else `$NMAPDIR/nmap-services`, else nmap's usual install paths; the
    /// shipped ranking when none is found. An installed file that cannot be used is skipped
    /// with a warning on stderr.
    pub fn discover(explicit: Option<&Path>, proto: Proto) -> Result<Ranking> {
        if let Some(path) = explicit {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::input(format!(
                    "cannot read --servicedb file '{}': {}",
                    path.display(),
                    crate::files::plain(&e)
                ))
            })?;
            return Ranking::from_nmap_services(path, &text, proto).map_err(|why| {
                Error::input(format!("--servicedb file '{}': {why}", path.display()))
            });
        }
        let from_env = std::env::var_os("NMAPDIR").map(|d| PathBuf::from(d).join("nmap-services"));
        let candidates = from_env
            .into_iter()
            .chain(NMAP_SERVICES.iter().map(PathBuf::from));
        for path in candidates {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            match Ranking::from_nmap_services(&path, &text, proto) {
                Ok(r) => return Ok(r),
                Err(why) => eprintln!(
                    "synscan: warning: ignoring '{}': {why}; using the shipped port ranking",
                    path.display()
                ),
            }
        }
        Ok(Ranking::shipped(proto))
    }

    /// Parses nmap-services text (`name port/proto frequency [# comment]`): TCP ports by
    /// descending open frequency, ties by ascending port, as nmap orders them (`proto`'s
    /// lines only).
    pub fn from_nmap_services(
        path: &Path,
        text: &str,
        proto: Proto,
    ) -> std::result::Result<Ranking, String> {
        let mut rows: Vec<(f64, u16)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("");
            let mut f = line.split_whitespace();
            let (Some(_name), Some(port_proto)) = (f.next(), f.next()) else {
                continue;
            };
            let Some((port, line_proto)) = port_proto.split_once('/') else {
                return Err(format!(
                    "line {}: '{port_proto}' is not PORT/PROTOCOL",
                    n + 1
                ));
            };
            if line_proto != proto.as_str() {
                continue;
            }
            let port: u16 = port
                .parse()
                .map_err(|_| format!("line {}: bad port '{port}'", n + 1))?;
            // A line without a frequency ranks last, as nmap treats it.
            let freq = match f.next() {
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && (0.0..=1.0).contains(x))
                    .ok_or_else(|| format!("line {}: bad frequency '{v}'", n + 1))?,
                None => 0.0,
            };
            rows.push((freq, port));
        }
        // nmap ranks only ports with a frequency above zero.
        rows.retain(|r| r.0 > 0.0 && r.1 != 0);
        if rows.is_empty() {
            return Err(format!(
                "no {} port with an open frequency",
                proto.as_str().to_uppercase()
            ));
        }
        rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut ports: Vec<u16> = Vec::with_capacity(rows.len());
        let mut seen = std::collections::HashSet::new();
        for (_, p) in rows {
            if seen.insert(p) {
                ports.push(p);
            }
        }
        Ok(Ranking {
            source: RankingSource::Nmap(path.to_path_buf()),
            ports,
            proto,
        })
    }

    /// Where this ranking came from.
    pub fn source(&self) -> &RankingSource {
        &self.source
    }

    /// Number of ranked ports.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// True when nothing is ranked (never, for a ranking built here).
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// The `n` top ports; `flag` names the option for the error.
    pub fn top(&self, n: usize, flag: &str) -> Result<PortList> {
        if n == 0 || n > self.ports.len() {
            return Err(Error::input(format!(
                "{flag} {n} is out of range (1-{} with {})",
                self.ports.len(),
                self.describe_source()
            )));
        }
        Ok(PortList::from_ports(self.ports[..n].to_vec()))
    }

    /// "nmap's ranking (/usr/share/nmap/nmap-services)" or "synscan's shipped ranking".
    pub fn describe_source(&self) -> String {
        match &self.source {
            RankingSource::Nmap(p) => format!("nmap's ranking ({})", p.display()),
            RankingSource::Shipped if self.proto == Proto::Udp => {
                "synscan's shipped UDP ranking".into()
            }
            RankingSource::Shipped => "synscan's shipped ranking".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# comment\n\
        tcpmux\t1/tcp\t0.001995\t# TCP Port Service Multiplexer\n\
        http\t80/tcp\t0.484143\t# World Wide Web HTTP\n\
        domain\t53/udp\t0.213496\n\
        ssh\t22/tcp\t0.182286\t# Secure Shell\n\
        b\t9/tcp\t0.001995\n\
        unranked\t7/tcp\t0.000000\n\
        noratio\t8/tcp\n";

    #[test]
    fn nmap_order_is_frequency_then_port() {
        let r = Ranking::from_nmap_services(Path::new("x"), SAMPLE, Proto::Tcp).unwrap();
        assert_eq!(r.ports, vec![80, 22, 1, 9]);
        assert_eq!(r.top(2, "--top-ports").unwrap().as_slice(), &[22, 80]);
        let e = r.top(5, "--top-ports").unwrap_err().to_string();
        assert!(e.contains("1-4 with nmap's ranking (x)"), "{e}");
    }

    #[test]
    fn bad_files_say_which_line() {
        for (text, want) in [
            ("http 80 0.1\n", "line 1: '80' is not PORT/PROTOCOL"),
            ("http x/tcp 0.1\n", "line 1: bad port 'x'"),
            (
                "a 1/tcp 0.1\nhttp 80/tcp lots\n",
                "line 2: bad frequency 'lots'",
            ),
            ("domain 53/udp 0.2\n", "no TCP port"),
            ("", "no TCP port"),
        ] {
            let e = Ranking::from_nmap_services(Path::new("x"), text, Proto::Tcp).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn shipped_ranking() {
        let r = Ranking::shipped(Proto::Tcp);
        assert_eq!(r.source(), &RankingSource::Shipped);
        let top = r.top(1000, "--top-ports").unwrap();
        for common in [21, 22, 23, 25, 80, 443, 3389, 8080] {
            assert!(top.contains(common), "{common}");
        }
        assert!(r.top(0, "--top-ports").is_err());
        let u = Ranking::shipped(Proto::Udp);
        let top = u.top(100, "--top-ports").unwrap();
        for common in [53, 123, 161, 137, 500, 1900, 5353] {
            assert!(top.contains(common), "{common}");
        }
        assert!(u.top(1000, "--top-ports").is_ok());
    }

    #[test]
    fn the_udp_ranking_reads_udp_lines() {
        let r = Ranking::from_nmap_services(Path::new("x"), SAMPLE, Proto::Udp).unwrap();
        assert_eq!(r.ports, vec![53]);
    }
}
