//! `synscan completions SHELL` and `synscan man [COMMAND]`: shell completion scripts and roff
//! man pages generated from the same clap definitions the parser uses, so they never drift
//! from the flags.

use super::args::Args;
use crate::error::{Error, Result};
use clap::{CommandFactory, Parser};
use std::ffi::OsString;
use std::io::Write;

/// synscan completions: print a shell completion script.
#[derive(Debug, Parser)]
#[command(name = "synscan completions")]
struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

/// synscan man: print a man page (roff).
#[derive(Debug, Parser)]
#[command(name = "synscan man")]
struct ManArgs {
    /// A subcommand's page instead of synscan(1): send, sr, sr1, sniff, read, trace.
    #[arg(value_name = "COMMAND")]
    command: Option<String>,
}

/// The whole command line: the scan's flags and every subcommand, for completions and man.
fn full_command() -> clap::Command {
    let mut cmd = Args::command().subcommand_negates_reqs(true);
    for sub in super::toolkit::commands() {
        cmd = cmd.subcommand(sub);
    }
    cmd.subcommand(CompletionsArgs::command().name("completions"))
        .subcommand(ManArgs::command().name("man"))
}

/// Runs `completions` or `man` (`argv` holds the program name and the subcommand first).
pub fn run(cmd: &str, argv: Vec<OsString>) -> Result<u8> {
    let argv: Vec<OsString> = std::iter::once(OsString::from(format!("synscan {cmd}")))
        .chain(argv.into_iter().skip(2))
        .collect();
    let mut out = std::io::stdout().lock();
    let write_err = |e| Error::io("write output", e);
    match cmd {
        "completions" => {
            let a = match super::parse_sub::<CompletionsArgs>(&argv) {
                Ok(a) => a,
                Err(code) => return Ok(code),
            };
            let mut full = full_command();
            // clap_complete panics on a failed write: render first, then write (a closed
            // pipe is an error the caller treats as a quiet exit).
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut full, "synscan", &mut script);
            out.write_all(&script).map_err(write_err)?;
        }
        _ => {
            let a = match super::parse_sub::<ManArgs>(&argv) {
                Ok(a) => a,
                Err(code) => return Ok(code),
            };
            let full = full_command();
            let page = match a.command.as_deref() {
                None => full,
                Some(name) => full
                    .get_subcommands()
                    .find(|c| c.get_name() == name)
                    .cloned()
                    .map(|c| c.name(format!("synscan-{name}")))
                    .ok_or_else(|| {
                        Error::input(format!(
                            "no man page for '{name}' (send, sr, sr1, sniff, read, trace, completions, man)"
                        ))
                    })?,
            };
            clap_mangen::Man::new(page.version(env!("CARGO_PKG_VERSION")))
                .render(&mut out)
                .map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_and_flag_is_in_the_full_command() {
        let full = full_command();
        full.clone().debug_assert();
        let subs: Vec<&str> = full.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(
            subs,
            [
                "send",
                "sr",
                "sr1",
                "sniff",
                "read",
                "trace",
                "completions",
                "man"
            ]
        );
        assert!(
            full.get_arguments()
                .any(|a| a.get_long() == Some("top-ports"))
        );
    }
}
