//! `config.json` with the original client's keys, as serde types: reading
//! it (a wrong value is reported with the file, the key and the value), and
//! completing it with the defaults of the keys it lacks.
//!
//! Every key is optional and `null` counts as absent; keys the client does
//! not know are kept when the file is written back.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Notify;
use crate::types::ClientError;

/// The database file when none is configured.
pub const DEFAULT_DATABASE: &str = "client.db";
/// The log file when none is configured.
pub const DEFAULT_LOG_FILE: &str = "logs/client.log";
/// The log level when none is configured (the original's 2, errors).
pub const DEFAULT_LOG_LEVEL: u64 = 2;
/// The highest log level (the original's 4, info).
pub const MAX_LOG_LEVEL: u64 = 4;

/// The whole file.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigFile {
    /// Where the shell connects at start-up.
    pub shell_server: Option<ShellServer>,
    /// The local database and the log.
    pub database: Option<Database>,
    /// TUI and notification settings.
    pub ui_config: Option<UiSection>,
}

/// `shell_server`: where the shell connects at start-up.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct ShellServer {
    /// `address` (empty: no automatic connection).
    pub address: Option<String>,
    /// `port` (0: no automatic connection).
    pub port: Option<UpTo<{ u16::MAX as u64 }>>,
    /// `use_tls`, the key the original read.
    pub use_tls: Option<bool>,
    /// `tls`, the key the original's example file has (`use_tls` wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// `verify_tls`: check the certificate.
    pub verify_tls: Option<bool>,
}

/// `database`: the local database and the log.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct Database {
    /// `path` of the database file.
    pub path: Option<String>,
    /// `log_path`: the log file.
    pub log_path: Option<String>,
    /// `log_level`: 1 silent, 2 error, 3 warn, 4 info.
    pub log_level: Option<UpTo<MAX_LOG_LEVEL>>,
}

/// `ui_config`: TUI and notification settings.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, expecting = "an object")]
pub struct UiSection {
    /// `debug_buffer`: show the TUI's Debug buffer (with `--verbose`).
    pub debug_buffer: Option<bool>,
    /// `bell`: ring for a message outside the buffer in view.
    pub bell: Option<bool>,
    /// `notify`: the TUI's desktop notification (`off`, `osc777`, `osc9`,
    /// `desktop`).
    pub notify: Option<Notify>,
    /// `auto_open`: the TUI opens a buffer when someone writes first.
    pub auto_open: Option<bool>,
    /// `mouse`: the TUI takes the mouse.
    pub mouse: Option<bool>,
}

/// A whole number from 0 to `MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UpTo<const MAX: u64>(pub u64);

impl<'de, const MAX: u64> Deserialize<'de> for UpTo<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_u64(UpToVisitor::<MAX>)
    }
}

/// Reads an [`UpTo`], naming the range when the value is out of it.
struct UpToVisitor<const MAX: u64>;

impl<const MAX: u64> Visitor<'_> for UpToVisitor<MAX> {
    type Value = UpTo<MAX>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number from 0 to {MAX}")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        if v <= MAX {
            Ok(UpTo(v))
        } else {
            Err(E::invalid_value(Unexpected::Unsigned(v), &self))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }
}

impl ConfigFile {
    /// What a missing file is written as, and what fills a file's missing
    /// keys.
    pub fn defaults() -> Self {
        ConfigFile {
            shell_server: Some(ShellServer {
                address: Some(String::new()),
                port: Some(UpTo(0)),
                use_tls: Some(false),
                tls: None,
                verify_tls: Some(true),
            }),
            database: Some(Database {
                path: Some(DEFAULT_DATABASE.to_owned()),
                log_path: Some(DEFAULT_LOG_FILE.to_owned()),
                log_level: Some(UpTo(DEFAULT_LOG_LEVEL)),
            }),
            ui_config: Some(UiSection {
                debug_buffer: Some(false),
                bell: Some(true),
                notify: Some(Notify::Off),
                auto_open: Some(true),
                mouse: Some(true),
            }),
        }
    }
}

/// The file at `path` as JSON (an empty object when there is no file).
pub fn read_json(path: &Path) -> Result<Map<String, Value>, ClientError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(invalid(path, e)),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid(path, "must hold a JSON object")),
        Err(e) => Err(invalid(path, format!("not valid JSON: {e}"))),
    }
}

/// Adds the default of every key `json` lacks; true if any was added.
pub fn complete(json: &mut Map<String, Value>) -> Result<bool, ClientError> {
    let defaults = serde_json::to_value(ConfigFile::defaults())
        .map_err(|e| ClientError::Invalid(format!("default configuration: {e}")))?;
    let Value::Object(defaults) = defaults else {
        return Err(ClientError::Invalid(
            "default configuration: not a JSON object".into(),
        ));
    };
    Ok(fill_missing(json, &defaults))
}

/// Adds every key of `defaults` missing from `target`, into nested objects
/// too; true if anything was added.
fn fill_missing(target: &mut Map<String, Value>, defaults: &Map<String, Value>) -> bool {
    let mut changed = false;
    for (k, v) in defaults {
        match (target.get_mut(k), v) {
            (Some(Value::Object(t)), Value::Object(d)) => changed |= fill_missing(t, d),
            (Some(_), _) => {}
            (None, _) => {
                // `tls` stands for `use_tls`: do not add a contradicting default.
                if k == "use_tls" && target.contains_key("tls") {
                    continue;
                }
                target.insert(k.clone(), v.clone());
                changed = true;
            }
        }
    }
    changed
}

/// Reads the settings out of `json`, the contents of `path`; a value of
/// the wrong kind is an error naming the file, the key and the value.
pub fn parse(json: &Map<String, Value>, path: &Path) -> Result<ConfigFile, ClientError> {
    let root = Value::Object(json.clone());
    serde_path_to_error::deserialize(&root)
        .map_err(|e| invalid(path, format_args!("`{}`: {}", e.path(), e.inner())))
}

/// Writes `json` to `path` (pretty, with a final newline), creating its
/// folder.
pub fn write_json(path: &Path, json: &Map<String, Value>) -> Result<(), ClientError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| invalid(dir, e))?;
    }
    let text = serde_json::to_string_pretty(json).map_err(|e| invalid(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| invalid(path, e))
}

/// `<path>: <what>`, as an invalid-configuration error.
pub fn invalid(path: &Path, what: impl fmt::Display) -> ClientError {
    ClientError::Invalid(format!("{}: {what}", path.display()))
}
