//! Why a command failed, and the exit code each reason maps to.

use std::fmt;
use std::io;

/// The exit codes, as `--help` and the README document them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (check: no findings; diff: no differences)
  1  check found problems, or diff found differences
  2  usage error (bad arguments)
  3  the stream could not be decoded (the message names the byte offset,
     record, section and field path), or lacks what was asked for
  4  I/O error (a file could not be read or written)";

/// A failure that ends the command.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments that clap could not catch (exit 2).
    Usage(String),
    /// The stream lacks what was asked for, e.g. `desc` without a vmdesc
    /// (exit 3).
    Unsupported(String),
    /// The stream `input` is not decodable (exit 3).
    Decode {
        input: String,
        error: Box<qevm::Error>,
    },
    /// The vmdesc JSON is not valid JSON for serde (exit 3).
    Json {
        input: String,
        error: serde_json::Error,
    },
    /// Reading or writing `what` failed (exit 4).
    Io { what: String, error: io::Error },
    /// Findings or differences were printed already (exit 1).
    Reported,
}

impl Failure {
    /// An I/O failure on `what` (a file name, or "standard output").
    pub fn io(what: impl fmt::Display) -> impl FnOnce(io::Error) -> Failure {
        let what = what.to_string();
        move |error| Failure::Io { what, error }
    }

    /// A decoding failure of `input`.
    pub fn decode(input: &str, error: qevm::Error) -> Failure {
        Failure::Decode {
            input: input.to_string(),
            error: Box::new(error),
        }
    }

    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Reported => 1,
            Failure::Usage(_) => 2,
            Failure::Decode { .. } | Failure::Json { .. } | Failure::Unsupported(_) => 3,
            Failure::Io { .. } => 4,
        }
    }

    /// Whether this is a closed standard output (`qevm state f | head`),
    /// which ends the command quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Failure::Io { error, .. } if error.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Unsupported(m) => f.write_str(m),
            Failure::Decode { input, error } => write!(f, "{input}: {error}"),
            Failure::Json { input, error } => write!(f, "{input}: vmdesc: {error}"),
            Failure::Io { what, error } => write!(f, "{what}: {error}"),
            Failure::Reported => Ok(()),
        }
    }
}
