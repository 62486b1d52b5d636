//! The command line: [`args`] (what was typed) → [`config`] (what it means) → a scan.
//! `run` returns the process exit code; `main` only prints errors.

pub mod args;
pub mod config;
mod toolkit;

use crate::error::{Error, Result};
use crate::scan;
use args::Args;
use clap::Parser;
use config::ScanConfig;
use std::ffi::OsString;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Exit code of a scan stopped by Ctrl-C.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Runs synscan with `argv` (program name first) and returns the exit code.
pub fn run(argv: Vec<OsString>) -> Result<u8> {
    let command_line = argv
        .iter()
        .map(|a| {
            let s = a.to_string_lossy();
            if s.contains(char::is_whitespace) || s.is_empty() {
                format!("'{s}'")
            } else {
                s.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping exits at once.
        signal_hook::flag::register_conditional_shutdown(
            sig,
            EXIT_INTERRUPTED as i32,
            Arc::clone(&stop),
        )
        .map_err(|e| Error::io("install signal handler", e))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Error::io("install signal handler", e))?;
    }
    let mut argv = argv;
    match argv.get(1).and_then(|a| a.to_str()) {
        Some(cmd @ ("send" | "sr" | "sr1" | "sniff" | "read" | "trace")) => {
            let cmd = cmd.to_string();
            return toolkit::run(&cmd, argv, &stop);
        }
        Some("scan") => {
            argv.remove(1);
        }
        _ => {}
    }
    let args = match Args::try_parse_from(args::normalize(argv)) {
        Ok(a) => a,
        Err(e) => return clap_error(e),
    };
    let config = ScanConfig::from_args(args, command_line, &mut std::io::stdin().lock())?;
    let outcome = scan::run(config, &stop)?;
    Ok(if outcome.stats.interrupted {
        EXIT_INTERRUPTED
    } else {
        0
    })
}

/// clap's message as one line: its lines up to the usage, joined.
pub(crate) fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect();
    let msg = parts.join(" ");
    let msg = msg.strip_prefix("error: ").unwrap_or(&msg).to_string();
    if msg.is_empty() {
        "invalid arguments".into()
    } else {
        msg
    }
}

/// Help and version go to stdout with exit 0; every other clap error becomes one line.
fn clap_error(e: clap::Error) -> Result<u8> {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // A closed stdout (`synscan --help | head -1`) is not an error.
            let _ = write!(std::io::stdout(), "{e}");
            Ok(0)
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{e}");
            Ok(2)
        }
        _ => Err(Error::input(one_line(&e))),
    }
}
