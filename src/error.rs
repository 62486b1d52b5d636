//! The crate's error type. Two families matter to the caller: bad input (the user can fix the
//! command line or a file; exit code 2) and runtime failures (the OS or network said no; exit 1).

use std::io;

/// Everything that can stop a scan before it produces a result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input is wrong: a target, a port list, a flag value, an input file.
    /// The message names the offending token.
    #[error("{0}")]
    BadInput(String),
    /// An operating-system call failed; `context` says which call and on what
    /// ("sendto 10.0.0.5", "open output file out.xml").
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A failure that is neither bad input nor a single OS call.
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// Shorthand for [`Error::BadInput`].
    pub fn input(msg: impl Into<String>) -> Self {
        Error::BadInput(msg.into())
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadInput(_) => 2,
            _ => 1,
        }
    }

    /// True when the error is a closed stdout (`synscan ... | head`), which is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;
