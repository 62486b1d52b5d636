//! The live progress line on stderr (indicatif), shown only when stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A progress line, or nothing when stderr is not a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress line over `total` (host, port) pairs, if stderr is a terminal and `enabled`.
    pub fn new(total: u64, enabled: bool) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar =
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template(
            "{percent:>3}% [{wide_bar}] {human_pos}/{human_len} {rate} found {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&crate::rate::human(state.per_sec()));
            },
        )
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message("0");
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar: Some(bar) }
    }

    /// Updates the counters: pairs finished and open ports found.
    pub fn update(&self, done: u64, found: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(found.to_string());
        }
    }

    /// Starts counting a new stage of `total` items (discovery, then the port scan).
    pub fn restart(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_position(0);
            bar.reset_eta();
        }
    }

    /// Prints `line` on stderr above the progress line (which is redrawn below it).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
