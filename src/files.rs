//! Files synscan writes (outputs, resume state, captures) and how their errors read: one
//! place below both the command line and the scan, so neither imports the other for it.

use crate::error::{Error, Result};
use std::fs::File;
use std::io;
use std::path::Path;

/// Creates an output file; errors are bad input naming the file. Under sudo the file is
/// handed to the invoking user (SUDO_UID/SUDO_GID), so results are not left owned by root.
pub fn create_file(path: &Path) -> Result<File> {
    create_file_mode(path, 0o666)
}

/// [`create_file`] with permission bits `mode` (before the umask) for a new file: 0o600 for
/// files holding secrets.
pub fn create_file_mode(path: &Path, mode: u32) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| {
            Error::input(format!(
                "cannot create output file '{}': {}",
                path.display(),
                plain(&e)
            ))
        })?;
    give_to_sudo_user(&f);
    Ok(f)
}

/// Opens `path` to append to it (created when missing). A last line without its newline,
/// cut short when a run was killed mid-write, is cut off first, so the appended run starts
/// on a line of its own and line readers never see half a record.
pub fn append_file(path: &Path, cut_partial_line: bool) -> Result<File> {
    use std::io::{Read, Seek, SeekFrom};
    let bad = |e: io::Error| {
        Error::input(format!(
            "cannot append to output file '{}': {}",
            path.display(),
            plain(&e)
        ))
    };
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(bad)?;
    give_to_sudo_user(&f);
    let len = f.metadata().map_err(bad)?.len();
    if !cut_partial_line {
        return Ok(f);
    }
    // Back from the end a block at a time to the last newline (bounded by the file).
    let mut end = len;
    let mut keep = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start)).map_err(bad)?;
        f.read_exact(&mut buf[..n]).map_err(bad)?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            keep = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if keep < len {
        f.set_len(keep).map_err(bad)?;
    }
    Ok(f)
}

/// Under sudo, hands a file we created to the invoking user (SUDO_UID/SUDO_GID). Best
/// effort: without the privilege to give it away, the file stays ours.
fn give_to_sudo_user(f: &File) {
    let id = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) {
        let _ = std::os::unix::fs::fchown(f, Some(uid), Some(gid));
    }
}

/// An I/O error's message without Rust's " (os error N)" suffix.
pub fn plain(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
