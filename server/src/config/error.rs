//! What can be wrong with a configuration, worded for the operator.

use std::path::PathBuf;

/// A configuration problem. Every message about the file names the file, and
/// every message about a value names its key and shows the value found.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` named a file that does not exist.
    #[error("configuration file {} does not exist", path.display())]
    NotFound {
        /// The path that was given.
        path: PathBuf,
    },
    /// The configuration file exists but cannot be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("{}: invalid JSON at line {line}, column {column}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser found wrong.
        message: String,
    },
    /// A key holds a value of the wrong type or out of range.
    #[error("{}: configuration option {key} must be {expected}, found {found}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// Dotted key, e.g. `server.port`.
        key: String,
        /// What was expected.
        expected: &'static str,
        /// A short rendering of the value found.
        found: String,
    },
    /// A key needed by other keys is missing (the original's wording).
    #[error("{}: Missing configuration option {key}!", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// Dotted key.
        key: &'static str,
    },
    /// TLS is enabled but a certificate or key file is not configured.
    #[error(
        "TLS is enabled but no {what} is configured (set server.tls.{key} in the configuration file, --{flag} or GOCHAT_{env})"
    )]
    TlsIncomplete {
        /// Human name of the missing file.
        what: &'static str,
        /// JSON key under `server.tls`.
        key: &'static str,
        /// Command-line flag.
        flag: &'static str,
        /// Environment variable suffix.
        env: &'static str,
    },
}
