//! Interrupted scans: the resume file. It holds the scan's own arguments (with the seed, so
//! the order is the same), where the running engine's first pass had got to, and every
//! (host, port) pair already reported, so `synscan --resume FILE` probes only what is left
//! and reports nothing twice. Ctrl-C writes it; a [`Checkpoint`] also rewrites it every few
//! seconds (atomically: a temporary file renamed over it), so `kill -9` loses at most that
//! window. A scan that finishes removes it.

use crate::engine::Bitmap;
use crate::error::{Error, Result};
use crate::files::plain;
use crate::target::{HostSet, PortList};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Version of the file layout.
pub const VERSION: u32 = 1;

/// Where the resume state goes unless `--resume-file` says otherwise (as masscan's
/// `paused.conf`, in the current directory).
pub const DEFAULT_PATH: &str = "synscan.resume";

/// How often a running scan rewrites its resume file unless `--checkpoint-every` says.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(5);

/// The saved state of an unfinished scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    /// Layout version ([`VERSION`]).
    pub synscan_resume: u32,
    /// The scan's arguments, as `synscan` takes them (targets resolved, `--seed` explicit;
    /// no output options).
    pub argv: Vec<String>,
    /// Host names given as targets, with the address each resolved to.
    pub names: Vec<(IpAddr, String)>,
    /// Number of hosts, checked on resume.
    pub hosts: u64,
    /// The port list written compactly, checked on resume.
    pub ports: String,
    /// The run's SYN cookie key, so a resumed run validates replies to the probes the
    /// interrupted run sent. Secret: the file is created readable by its owner only.
    #[serde(default)]
    pub cookie_key: Option<[u64; 2]>,
    /// The engine that was running (IPv4 SYN paths in order, then connect).
    pub stage: u32,
    /// That engine's next position in its first pass.
    pub position: u64,
    /// Pairs already reported, as half-open ranges of `host index × ports + port index`.
    pub done: Vec<(u64, u64)>,
}

impl ResumeState {
    /// Reads a resume file; every problem is bad input naming the file.
    pub fn load(path: &Path) -> Result<ResumeState> {
        let bad = |why: String| Error::input(format!("resume file '{}': {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(plain(&e)))?;
        let state: ResumeState = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a synscan resume file ({e})")))?;
        if state.synscan_resume != VERSION {
            return Err(bad(format!(
                "layout version {} (this synscan reads {VERSION})",
                state.synscan_resume
            )));
        }
        let mut prev_end = 0;
        for &(s, e) in &state.done {
            if s < prev_end || e <= s {
                return Err(bad("the list of finished ports is not in order".into()));
            }
            prev_end = e;
        }
        Ok(state)
    }

    /// Writes the file atomically: a temporary file beside it, renamed over it. Under sudo
    /// the file is handed to the invoking user, like the output files.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let result = (|| {
            // The file holds the cookie key: readable by its owner only.
            let f = crate::files::create_file_mode(&tmp, 0o600)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let mut w = io::BufWriter::new(f);
            serde_json::to_writer(&mut w, self)?;
            w.write_all(b"\n")?;
            w.flush()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// The pairs of a scan already reported, over the natural index `host × ports + port` of the
/// whole host set. Paged like the engine's bitmap, so memory follows the results.
pub struct DoneSet {
    bits: Bitmap,
    nports: u64,
}

impl DoneSet {
    /// Nothing done yet.
    pub fn new(hosts: &HostSet, ports: &PortList) -> DoneSet {
        let nports = ports.len() as u64;
        DoneSet {
            bits: Bitmap::new(hosts.len() * nports),
            nports,
        }
    }

    /// The set a resume file lists; a range outside the scan is bad input.
    pub fn from_ranges(hosts: &HostSet, ports: &PortList, ranges: &[(u64, u64)]) -> Result<Self> {
        let set = DoneSet::new(hosts, ports);
        if ranges.last().is_some_and(|r| r.1 > set.bits.len()) {
            return Err(Error::input(
                "resume file lists ports outside the scan it describes",
            ));
        }
        for &(s, e) in ranges {
            for i in s..e {
                set.bits.set(i);
            }
        }
        Ok(set)
    }

    fn index(&self, hosts: &HostSet, ports: &PortList, ip: IpAddr, port: u16) -> Option<u64> {
        Some(hosts.index_of(ip)? * self.nports + ports.index_of(port)? as u64)
    }

    /// Records a reported pair.
    pub fn mark(&self, hosts: &HostSet, ports: &PortList, ip: IpAddr, port: u16) {
        if let Some(i) = self.index(hosts, ports, ip, port) {
            self.bits.set(i);
        }
    }

    /// True when the pair was reported.
    pub fn contains(&self, hosts: &HostSet, ports: &PortList, ip: IpAddr, port: u16) -> bool {
        self.index(hosts, ports, ip, port)
            .is_some_and(|i| self.bits.get(i))
    }

    /// The reported pairs, as the resume file stores them.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.bits.ranges()
    }

    /// Every reported pair.
    pub fn pairs<'a>(
        &'a self,
        hosts: &'a HostSet,
        ports: &'a PortList,
    ) -> impl Iterator<Item = (IpAddr, u16)> + 'a {
        self.ranges().into_iter().flat_map(move |(s, e)| {
            (s..e).filter_map(move |i| {
                Some((
                    hosts.get(i / self.nports)?,
                    ports.get((i % self.nports) as usize)?,
                ))
            })
        })
    }
}

/// Rewrites the resume file every `every` while a scan runs; warns once if it cannot.
pub struct Checkpoint {
    path: PathBuf,
    every: Duration,
    last: Instant,
    written: bool,
    warned: bool,
}

impl Checkpoint {
    /// A checkpoint at `path`, first written `every` after now.
    pub fn new(path: PathBuf, every: Duration) -> Checkpoint {
        Checkpoint {
            path,
            every,
            last: Instant::now(),
            written: false,
            warned: false,
        }
    }

    /// The resume file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the next periodic write is due.
    pub fn due(&self) -> bool {
        self.last.elapsed() >= self.every
    }

    /// Writes `state` now. A periodic write that fails warns once on stderr and the scan
    /// goes on; the caller decides what a failed final write means.
    pub fn write(&mut self, state: &ResumeState, periodic: bool) -> io::Result<()> {
        self.last = Instant::now();
        match state.save(&self.path) {
            Ok(()) => {
                self.written = true;
                Ok(())
            }
            Err(e) if periodic => {
                if !self.warned {
                    self.warned = true;
                    eprintln!(
                        "synscan: warning: cannot write resume file '{}': {}; the scan goes on without checkpoints",
                        self.path.display(),
                        plain(&e)
                    );
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// After a finished scan: removes the resume file if this run wrote it or resumed from
    /// it (`resumed_from`), since there is nothing left to resume.
    pub fn remove(&self, resumed_from: Option<&Path>) {
        if self.written || resumed_from == Some(self.path.as_path()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::build_hosts;

    fn state() -> ResumeState {
        ResumeState {
            synscan_resume: VERSION,
            argv: vec!["10.0.0.0/30".into(), "--seed".into(), "7".into()],
            names: vec![("127.0.0.1".parse().unwrap(), "localhost".into())],
            hosts: 2,
            ports: "1-3".into(),
            cookie_key: Some([1, 2]),
            stage: 0,
            position: 4,
            done: vec![(0, 2), (5, 6)],
        }
    }

    #[test]
    fn save_load_round_trip_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        state().save(&path).unwrap();
        assert_eq!(ResumeState::load(&path).unwrap(), state());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is readable by its owner only");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp left"
        );
        for (text, want) in [
            ("{", "not a synscan resume file"),
            ("[]", "not a synscan resume file"),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = ResumeState::load(&path).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("resume file '"), "{e}");
        }
        let mut s = state();
        s.done = vec![(5, 6), (0, 2)];
        s.save(&path).unwrap();
        let e = ResumeState::load(&path).unwrap_err().to_string();
        assert!(e.contains("not in order"), "{e}");
        s.synscan_resume = 99;
        s.save(&path).unwrap();
        assert!(ResumeState::load(&path).is_err());
        let e = ResumeState::load(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("No such file"), "{e}");
    }

    #[test]
    fn done_set_maps_pairs_both_ways() {
        let hosts = build_hosts(&["10.0.0.1-3".into()], &[]).unwrap();
        let ports = PortList::parse("22,80,443").unwrap();
        let done = DoneSet::new(&hosts, &ports);
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        done.mark(&hosts, &ports, b, 80);
        done.mark(&hosts, &ports, b, 443);
        done.mark(&hosts, &ports, "10.9.9.9".parse().unwrap(), 80);
        assert_eq!(done.ranges(), vec![(4, 6)]);
        assert!(done.contains(&hosts, &ports, b, 443));
        assert!(!done.contains(&hosts, &ports, b, 22));
        let again = DoneSet::from_ranges(&hosts, &ports, &done.ranges()).unwrap();
        let pairs: Vec<_> = again.pairs(&hosts, &ports).collect();
        assert_eq!(pairs, vec![(b, 80), (b, 443)]);
        assert!(DoneSet::from_ranges(&hosts, &ports, &[(0, 10)]).is_err());
    }
}
