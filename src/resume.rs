//! Interrupted scans: the resume file. It holds the scan's own arguments (with the seed, so
//! the order is the same), the engine that was running, the position in the order before
//! which that engine had reported everything, and the positions past it already reported,
//! so `synscan --resume FILE` probes only what is left and reports nothing twice. Its size
//! is bounded by what was in flight (an engine segment), never by the space. Ctrl-C writes
//! it; a [`Checkpoint`] also rewrites it every few seconds (atomically: a temporary file
//! renamed over it), so `kill -9` loses at most that window. A scan that finishes removes
//! it.

use crate::error::{Error, Result};
use crate::files::plain;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Version of the file layout.
pub const VERSION: u32 = 3;

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
    /// With host discovery: the [`fingerprint`] of the hosts it found up, whose order the
    /// positions are in (a resumed run finds them again and must find the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<[u64; 2]>,
    /// With host discovery: the group of live hosts being scanned, as (discovery engine,
    /// group); a resumed run starts discovery there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<(u32, u64)>,
    /// The scan's id (`scan::identity`): `--auto-resume` checks it is the same scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<String>,
    /// The engine that was running (raw engines by path, in order, or connect).
    pub stage: u32,
    /// Every pair of that engine before this position of the order was reported.
    pub position: u64,
    /// Positions past `position` already reported, as sorted half-open ranges.
    pub done: Vec<(u64, u64)>,
}

impl ResumeState {
    /// Reads a resume file; every problem is bad input naming the file.
    pub fn load(path: &Path) -> Result<ResumeState> {
        let bad = |why: String| Error::input(format!("resume file '{}': {why}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(plain(&e)))?;
        ResumeState::parse(&text).map_err(bad)
    }

    /// Parses the text of a resume file, checking its layout version and that its finished
    /// positions are in order.
    pub fn parse(text: &str) -> std::result::Result<ResumeState, String> {
        let state: ResumeState =
            serde_json::from_str(text).map_err(|e| format!("not a synscan resume file ({e})"))?;
        if state.synscan_resume != VERSION {
            return Err(format!(
                "layout version {} (this synscan reads {VERSION})",
                state.synscan_resume
            ));
        }
        let mut prev_end = state.position;
        for &(s, e) in &state.done {
            if s < prev_end || e <= s {
                return Err("the list of finished ports is not in order".into());
            }
            prev_end = e;
        }
        Ok(state)
    }

    /// Checks the finished positions against a scan of `len` positions whose engines keep at
    /// most `window` positions in flight: a file that lists more is not one this synscan
    /// wrote, and would cost unbounded time to load.
    pub fn check_window(&self, len: u64, window: u64) -> std::result::Result<(), String> {
        let limit = self.position.saturating_add(window).min(len);
        if self.position > len || self.done.last().is_some_and(|r| r.1 > limit) {
            return Err("resume file lists ports outside the scan it describes".into());
        }
        Ok(())
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

/// The pairs of the running engine already reported, by position in the scan's order:
/// every position before [`Finished::start`], and a bitmap of the positions past it. The
/// bitmap spans what is in flight, because the start moves up as results arrive (see
/// [`Finished::advance`]): an engine reports every pair of a segment before it probes the
/// next one.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    lo: u64,
    /// Position of bit 0 of `words[0]`: a multiple of 64, at most `lo`.
    base: u64,
    words: VecDeque<u64>,
}

impl Finished {
    /// Everything before `lo` reported, and the positions of `ranges` (at or past `lo`).
    pub fn new(lo: u64, ranges: &[(u64, u64)]) -> Finished {
        let mut f = Finished {
            lo,
            base: lo & !63,
            words: VecDeque::new(),
        };
        for &(s, e) in ranges {
            for pos in s.max(lo)..e {
                f.mark(pos);
            }
        }
        f
    }

    /// Every position before this one is reported.
    pub fn start(&self) -> u64 {
        self.lo
    }

    /// Records a reported position.
    pub fn mark(&mut self, pos: u64) {
        if pos < self.lo {
            return;
        }
        let w = ((pos - self.base) / 64) as usize;
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << ((pos - self.base) % 64);
    }

    /// True when `pos` was reported.
    pub fn contains(&self, pos: u64) -> bool {
        if pos < self.lo {
            return true;
        }
        let w = ((pos - self.base) / 64) as usize;
        self.words
            .get(w)
            .is_some_and(|x| x & (1 << ((pos - self.base) % 64)) != 0)
    }

    /// Moves the start past every reported position, and past those `skip` says the running
    /// engine never reports (other engines' targets), up to `end`.
    pub fn advance(&mut self, end: u64, skip: Option<&dyn Fn(u64) -> bool>) {
        while self.lo < end {
            let bit = (self.lo - self.base) % 64;
            let word = self.words.front().copied().unwrap_or(0);
            if skip.is_none() && bit == 0 && word == u64::MAX && self.lo + 64 <= end {
                self.lo += 64;
            } else if word & (1 << bit) != 0 || skip.is_some_and(|f| f(self.lo)) {
                self.lo += 1;
            } else {
                break;
            }
            if self.lo - self.base >= 64 {
                self.words.pop_front();
                self.base += 64;
            }
        }
    }

    /// The reported positions past the start, as the resume file stores them.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (wi, &w) in self.words.iter().enumerate() {
            let mut w = w;
            let at = self.base + wi as u64 * 64;
            while w != 0 {
                let b = w.trailing_zeros() as u64;
                w &= w - 1;
                let pos = at + b;
                if pos < self.lo {
                    continue;
                }
                match out.last_mut() {
                    Some(last) if last.1 == pos => last.1 = pos + 1,
                    _ => out.push((pos, pos + 1)),
                }
            }
        }
        out
    }

    /// Bytes the bitmap takes.
    pub fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

/// Rewrites the resume file every `every` while a scan runs; warns once if it cannot.
#[derive(Debug, Clone)]
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

/// The number of `hosts` and a keyed hash of their ranges: what a resumed scan checks to
/// know discovery found the same hosts up.
pub fn fingerprint(hosts: &crate::target::HostSet) -> [u64; 2] {
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher13::new_with_keys(0x7379_6e73, 0x6361_6e21);
    for v6 in [false, true] {
        for (a, b) in hosts.ranges(v6) {
            h.write_u128(*a);
            h.write_u128(*b);
        }
        h.write_u8(0xff);
    }
    [hosts.len(), h.finish()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ResumeState {
        ResumeState {
            synscan_resume: VERSION,
            argv: vec!["10.0.0.0/30".into(), "--seed".into(), "7".into()],
            names: vec![("127.0.0.1".parse().unwrap(), "localhost".into())],
            hosts: 2,
            ports: "1-3".into(),
            cookie_key: Some([1, 2]),
            live: Some([3, 4]),
            group: Some((1, 2)),
            scan_id: Some("0123456789abcdef".into()),
            stage: 0,
            position: 4,
            done: vec![(5, 7), (9, 10)],
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
        s.done = vec![(9, 10), (5, 6)];
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
    fn the_window_check_refuses_what_no_run_could_have_written() {
        let s = state();
        assert_eq!(s.check_window(100, 50), Ok(()));
        assert!(s.check_window(8, 50).is_err(), "past the scan");
        assert!(s.check_window(100, 5).is_err(), "past the window");
        let mut far = state();
        far.position = 200;
        far.done.clear();
        assert!(far.check_window(100, 50).is_err());
        assert!(ResumeState::parse("{}").is_err());
    }

    #[test]
    fn finished_moves_its_start_over_reported_and_skipped_positions() {
        let mut f = Finished::new(10, &[(12, 14), (200, 201)]);
        assert_eq!(f.start(), 10);
        assert!(f.contains(3) && f.contains(13) && !f.contains(11) && f.contains(200));
        f.mark(10);
        f.advance(1000, None);
        assert_eq!(f.start(), 11);
        f.mark(11);
        f.mark(5);
        f.advance(1000, None);
        assert_eq!(f.start(), 14);
        assert_eq!(f.ranges(), vec![(200, 201)]);
        // Odd positions belong to another engine.
        let odd = |p: u64| p % 2 == 1;
        for p in (14..200).step_by(2) {
            f.mark(p);
        }
        f.advance(1000, Some(&odd));
        assert_eq!(f.start(), 202);
        assert!(f.ranges().is_empty());
        assert!(f.bytes() <= 16, "words behind the start are dropped");
        // A whole run of words at once, and never past `end`.
        let mut g = Finished::new(0, &[(0, 640)]);
        g.advance(600, None);
        assert_eq!(g.start(), 600);
        g.advance(10_000, None);
        assert_eq!(g.start(), 640);
    }
}
