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
    let id = |var: &str| std::env::var(var).ok().and_then(|v| v.parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) {
        // Best effort: without the privilege to give it away, the file stays ours.
        let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
    }
    Ok(f)
}

/// An I/O error's message without Rust's " (os error N)" suffix.
pub fn plain(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
