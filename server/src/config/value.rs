//! The types settings take, and their raw forms as the layers give them.
//!
//! A setting of type `T` is read as `T::Input` (see [`Value`]): clap parses the
//! input from a flag or a `GOCHAT_*` variable (with `FromStr`, or the value parser
//! its table entry names), serde decodes it from the configuration file, and
//! [`Value::from_input`] turns it into the setting. A new setting of a type not
//! listed here needs one more `impl Value` (and, if its input is new, an
//! `impl Input`) in this file.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use super::kinds::{LogLevel, LogRotation, RuntimeKind};

/// The raw form of a setting: what a flag, a variable or a file key holds.
pub trait Input: Clone + Send + Sync + 'static + DeserializeOwned {
    /// What a file key of this type must hold, for messages like
    /// "configuration option server.port must be {EXPECTED}, found ...".
    const EXPECTED: &'static str;
}

/// The type of a field of [`Settings`](super::Settings), made from its raw form.
pub trait Value: Sized {
    /// The raw form the layers give.
    type Input: Input;

    /// The setting a raw value stands for.
    fn from_input(input: Self::Input) -> Self;

    /// How `--help` shows this value as a default (`None`: it shows none).
    fn shown(&self) -> Option<String>;
}

/// A `--help` line with the default its setting takes, if it shows one:
/// `help [default: shown]`.
pub fn help_with_default(help: &str, shown: Option<String>) -> String {
    match shown {
        Some(shown) => format!("{help} [default: {shown}]"),
        None => help.to_owned(),
    }
}

/// Types that are their own raw form, with the wording of their file errors
/// and how `--help` shows them.
macro_rules! plain_values {
    ($($ty:ty => $expected:literal, $shown:expr;)*) => {$(
        impl Input for $ty {
            const EXPECTED: &'static str = $expected;
        }

        impl Value for $ty {
            type Input = Self;

            fn from_input(input: Self) -> Self {
                input
            }

            fn shown(&self) -> Option<String> {
                let shown: fn(&$ty) -> String = $shown;
                Some(shown(self))
            }
        }
    )*};
}

plain_values! {
    bool => "true or false", ToString::to_string;
    u16 => "a port number from 0 to 65535", ToString::to_string;
    u32 => "a whole number from 0 to 4294967295", ToString::to_string;
    usize => "a whole number of at least 0", ToString::to_string;
    String => "a string", |text| if text.is_empty() { "empty".to_owned() } else { text.clone() };
    PathBuf => "a string", |path| path.display().to_string();
    LogLevel => "a string", ToString::to_string;
    RuntimeKind => "\"tokio\" or \"smol\"", ToString::to_string;
    LogRotation => "\"never\" or \"daily\"", ToString::to_string;
}

/// An optional path: an empty one means none (e.g. `log_file` "" logs to stdout).
impl Value for Option<PathBuf> {
    type Input = PathBuf;

    fn from_input(input: PathBuf) -> Self {
        (!input.as_os_str().is_empty()).then_some(input)
    }

    fn shown(&self) -> Option<String> {
        self.as_ref().map(|path| path.display().to_string())
    }
}

/// An optional text: an empty one means none.
impl Value for Option<String> {
    type Input = String;

    fn from_input(input: String) -> Self {
        (!input.is_empty()).then_some(input)
    }

    fn shown(&self) -> Option<String> {
        self.clone()
    }
}

/// A duration in seconds: whole seconds as a flag or variable (`30`), any
/// non-negative number in the file (`1.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl FromStr for Seconds {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(|secs| Self(Duration::from_secs(secs)))
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(deserializer)?;
        Duration::try_from_secs_f64(secs)
            .map(Self)
            .map_err(D::Error::custom)
    }
}

impl Input for Seconds {
    const EXPECTED: &'static str = "a number of seconds of at least 0";
}

impl Value for Duration {
    type Input = Seconds;

    fn from_input(input: Seconds) -> Self {
        input.0
    }

    /// Whole seconds, as the flags take them.
    fn shown(&self) -> Option<String> {
        Some(self.as_secs().to_string())
    }
}

/// An IP address, surrounding spaces allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address(pub IpAddr);

impl FromStr for Address {
    type Err = std::net::AddrParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim().parse().map(Self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(D::Error::custom)
    }
}

impl Input for Address {
    const EXPECTED: &'static str = "an IP address such as 0.0.0.0";
}

impl Value for IpAddr {
    type Input = Address;

    fn from_input(input: Address) -> Self {
        input.0
    }

    fn shown(&self) -> Option<String> {
        Some(self.to_string())
    }
}
