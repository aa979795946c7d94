//! The settings that are a choice among names: runtime, log level, log rotation.
//!
//! Each parses from a flag or a `GOCHAT_*` variable (clap) and from the file
//! (serde), and prints as the name it is set with.

use std::fmt;

use clap::ValueEnum;
use serde::{Deserialize, Deserializer};

/// Async runtime the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum RuntimeKind {
    /// The multi-threaded tokio runtime (default).
    #[default]
    Tokio,
    /// The smol / async-io runtime.
    Smol,
}

impl RuntimeKind {
    /// Lower-case name, as accepted by `--runtime` and `server.runtime`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tokio => "tokio",
            Self::Smol => "smol",
        }
    }
}

/// The original server's log levels, from the most to the least verbose.
///
/// Parsing is case-insensitive and, as in the original, any unknown text means
/// [`LogLevel::Fatal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    /// Everything, including every connection and a dump of every request.
    All,
    /// Per-user problems, timeouts and read errors, plus everything below (default).
    #[default]
    Info,
    /// Server-side errors, plus everything below.
    Error,
    /// Only fatal problems (and notices, which are always shown).
    Fatal,
}

impl LogLevel {
    /// Parses a level name case-insensitively; unknown text gives [`LogLevel::Fatal`].
    pub fn parse(text: &str) -> Self {
        match text.trim().to_ascii_uppercase().as_str() {
            "ALL" => Self::All,
            "INFO" => Self::Info,
            "ERROR" => Self::Error,
            _ => Self::Fatal,
        }
    }

    /// Upper-case name, as the original prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Info => "INFO",
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }
}

impl std::str::FromStr for LogLevel {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

/// Any string, as [`LogLevel::parse`] reads it.
impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self::parse(&text))
    }
}

/// When the log file starts afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogRotation {
    /// One file, appended to for ever (default, as the original).
    #[default]
    Never,
    /// A new file each day (UTC), the date inserted before the file's extension:
    /// `logs/server.log` is written as `logs/server.2025-06-30.log`.
    Daily,
}

impl LogRotation {
    /// Lower-case name, as accepted by `--log-rotation` and `server.logs.rotation`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Daily => "daily",
        }
    }
}

/// Each kind prints as its name.
macro_rules! display_by_name {
    ($($kind:ty),*) => {$(
        impl fmt::Display for $kind {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}

display_by_name!(RuntimeKind, LogLevel, LogRotation);

/// In the file, these kinds take their names in any case, with surrounding
/// spaces: `"SMOL"`, `" tokio "`, `"Daily"`.
macro_rules! deserialize_by_name {
    ($($kind:ty),*) => {$(
        impl<'de> Deserialize<'de> for $kind {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                from_name(deserializer)
            }
        }
    )*};
}

deserialize_by_name!(RuntimeKind, LogRotation);

/// A [`ValueEnum`] from a string, ignoring case and surrounding spaces.
fn from_name<'de, T: ValueEnum, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    let text = String::deserialize(deserializer)?;
    T::from_str(text.trim(), true).map_err(serde::de::Error::custom)
}
