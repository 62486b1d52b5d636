//! The command line: [`args`] (what was typed) → [`config`] (what it means) → a scan.
//! `run` returns the process exit code; `main` only prints errors.

pub mod args;
pub mod compat;
pub mod config;
mod docs;
mod merge;
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
        Some("merge") => return merge::run(argv),
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
    let mut args = Args::from_arg_matches(&matches).map_err(|e| Error::input(one_line(&e)))?;
    args.resolve_shard_env().map_err(Error::input)?;
    let config = match args.resume.clone() {
        Some(file) => resumed_config(&file, &matches, args, command_line)?,
        None if args.auto_resume => match auto_resumed_config(args, command_line)? {
            Some(config) => config,
            None => return Ok(0),
        },
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

/// `--auto-resume`: the scan of this command line, finished from its resume file when one is
/// there (appending to the outputs), started when none is, and not run at all (`None`) when
/// its ndjson output already ends with this shard's finished end record. Every check is made
/// before any output file is opened.
fn auto_resumed_config(mut args: Args, command_line: String) -> Result<Option<ScanConfig>> {
    if args.input_list.as_deref() == Some("-") {
        return Err(Error::input(
            "--auto-resume reads the targets again when it restarts: give them on the command line or in a file, not with -iL -",
        ));
    }
    let file = args
        .resume_file
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from(crate::resume::DEFAULT_PATH));
    // The scan this command line describes, with no output opened.
    let mut bare = args.clone();
    bare.output = None;
    bare.output_normal = None;
    bare.output_ndjson = None;
    bare.output_grepable = None;
    bare.output_xml = None;
    bare.output_list = None;
    bare.output_all = None;
    let probe = ScanConfig::from_args(bare, String::new(), &mut std::io::empty())?;
    let id = crate::scan::identity::scan_id(&probe);
    let shard = format!("{}/{}", probe.shard.index, probe.shard.count);
    let exists = file.try_exists().map_err(|e| {
        Error::input(format!(
            "--auto-resume: cannot tell whether resume file '{}' exists: {}",
            file.display(),
            crate::files::plain(&e)
        ))
    })?;
    if exists {
        let state = crate::resume::ResumeState::load(&file)?;
        let saved_shard = state
            .argv
            .iter()
            .find_map(|a| a.strip_prefix("--shard="))
            .unwrap_or("1/1");
        if state.scan_id.as_deref() != Some(id.as_str()) || saved_shard != shard {
            return Err(Error::input(format!(
                "--auto-resume: resume file '{}' holds another scan or shard (scan id {}, shard {saved_shard}; this run is scan {id}, shard {shard}): remove it to start this one",
                file.display(),
                state.scan_id.as_deref().unwrap_or("unknown")
            )));
        }
        args.append_output = true;
        let mut config = ScanConfig::from_args(args, command_line, &mut std::io::stdin().lock())?;
        config.attach_resume(file, state)?;
        return Ok(Some(config));
    }
    if let Some(out) = ndjson_output(&args)
        && finished_in(&out, &id, &shard)
    {
        eprintln!(
            "synscan: shard {shard} of scan {id} already finished in '{}': nothing to do (remove it to scan again)",
            out.display()
        );
        return Ok(None);
    }
    ScanConfig::from_args(args, command_line, &mut std::io::stdin().lock()).map(Some)
}

/// The ndjson output file of these arguments, if any.
fn ndjson_output(args: &Args) -> Option<std::path::PathBuf> {
    let file = |p: &Option<std::path::PathBuf>| p.clone().filter(|p| p.as_os_str() != "-");
    match args.format {
        Some(crate::output::Format::Ndjson) if file(&args.output).is_some() => file(&args.output),
        _ => file(&args.output_ndjson),
    }
}

/// True when `path` ends with the end record of a finished run of scan `id`, shard `shard`.
fn finished_in(path: &std::path::Path, id: &str, shard: &str) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut tail = Vec::new();
    if f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))
        .is_err()
        || f.take(64 * 1024).read_to_end(&mut tail).is_err()
    {
        return false;
    }
    let text = String::from_utf8_lossy(&tail);
    let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(last) else {
        return false;
    };
    v["type"] == "end" && v["scan_id"] == id && v["shard"] == shard && v["complete"] == true
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
