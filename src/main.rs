//! The `synscan` binary: exit-code policy only. 0 done, 1 runtime failure, 2 bad input,
//! 130 interrupted; a closed stdout (`synscan ... | head`) is a quiet success.

use std::process::ExitCode;

fn main() -> ExitCode {
    match synscan::cli::run(std::env::args_os().collect()) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synscan: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
