//! The command line: [`args`] (what was typed) → [`config`] (what it means) → a scan.
//! `run` returns the process exit code; `main` only prints errors.

pub mod args;
pub mod compat;
pub mod config;
mod docs;
mod toolkit;

use crate::error::{Error, Result};
use crate::scan;
use args::Args;
use clap::{CommandFactory, FromArgMatches, Parser};
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
        Some(cmd @ ("completions" | "man")) => {
            let cmd = cmd.to_string();
            return docs::run(&cmd, argv);
        }
        Some("scan") => {
            argv.remove(1);
        }
        _ => {}
    }
    let argv = compat::normalize(argv).map_err(Error::input)?;
    let matches = match Args::command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => return clap_error(e),
    };
    let args = Args::from_arg_matches(&matches).map_err(|e| Error::input(one_line(&e)))?;
    let config = match args.resume.clone() {
        Some(file) => resumed_config(&file, &matches, args, command_line)?,
        None => ScanConfig::from_args(args, command_line, &mut std::io::stdin().lock())?,
    };
    let outcome = scan::run(config, &stop)?;
    Ok(if outcome.stats.interrupted {
        EXIT_INTERRUPTED
    } else {
        0
    })
}

/// The configuration of `--resume FILE`: the scan from the file, the outputs (and `--rate`)
/// from this command line. Any other scan option here is an error, not silently dropped.
fn resumed_config(
    file: &std::path::Path,
    matches: &clap::ArgMatches,
    args: Args,
    command_line: String,
) -> Result<ScanConfig> {
    use clap::parser::ValueSource;
    let command = Args::command();
    if let Some(id) = matches.ids().find(|id| {
        command.get_arguments().any(|a| a.get_id() == *id)
            && matches.value_source(id.as_str()) == Some(ValueSource::CommandLine)
            && !args::RESUME_MAY_CHANGE.contains(&id.as_str())
    }) {
        let what = if id.as_str() == "targets" {
            "targets".to_string()
        } else {
            format!("--{}", id.as_str().replace('_', "-"))
        };
        return Err(Error::input(format!(
            "--resume takes the scan from '{}': {what} cannot be given with it (only outputs, --states, --open, --rate, --min-rate, --pcap, -v, -d, --resume-file and --checkpoint-every)",
            file.display()
        )));
    }
    let state = crate::resume::ResumeState::load(file)?;
    let saved = std::iter::once("synscan".to_string()).chain(state.argv.iter().cloned());
    let saved = Args::try_parse_from(saved).map_err(|e| {
        Error::input(format!(
            "resume file '{}': bad arguments: {}",
            file.display(),
            one_line(&e)
        ))
    })?;
    let mut config = ScanConfig::from_args(
        saved.with_outputs_of(args),
        command_line,
        &mut std::io::empty(),
    )?;
    config.attach_resume(file.to_path_buf(), state)?;
    Ok(config)
}

/// clap's message as one line: its lines up to the usage, joined.
pub(crate) fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
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

/// Parses a subcommand's arguments; `Err` holds the exit code after help (0) or an error
/// line (2) was printed.
pub(crate) fn parse_sub<T: Parser>(argv: &[OsString]) -> std::result::Result<T, u8> {
    T::try_parse_from(argv).map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = write!(std::io::stdout(), "{e}");
                0
            }
            _ => {
                eprintln!("synscan: error: {}", one_line(&e));
                2
            }
        }
    })
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
