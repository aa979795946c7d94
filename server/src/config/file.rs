//! The configuration file: finding it, parsing it, reading one key of it.
//!
//! The file is JSON in the original server's format, nested objects whose keys
//! the settings table names with dots (`server.tls.port`). Unknown keys are
//! ignored, as the original does; `null` counts as an absent key; a key holding a
//! value of the wrong type is an error naming the file, the key and the value.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::error::ConfigError;
use super::value::Input;

/// Name of the configuration file read from the working directory when `--config`
/// is not given.
pub const DEFAULT_CONFIG_FILE: &str = "config.json";

/// The file to read: the one named by `--config` / `GOCHAT_CONFIG`, else
/// `config.json` in the working directory when there is one, else none.
pub(super) fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            default.is_file().then_some(default)
        }
    }
}

/// A parsed configuration file.
#[derive(Debug)]
pub(super) struct ConfigFile {
    path: PathBuf,
    root: Json,
}

impl ConfigFile {
    /// Reads and parses the file at `path`.
    pub(super) fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConfigError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text`, the content of the file at `path`.
    pub(super) fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let root = serde_json::from_str(text).map_err(|e| ConfigError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: json_message(&e),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            root,
        })
    }

    /// The value of the dotted `key`, decoded by serde; `None` when the key (or an
    /// object on its way) is absent or `null`.
    pub(super) fn get<T: Input>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.lookup(key)? else {
            return Ok(None);
        };
        T::deserialize(value)
            .map(Some)
            .map_err(|_| self.wrong(key, T::EXPECTED, value))
    }

    /// The raw value of the dotted `key`. Every value on the way must be an
    /// object: `{"server": {"tls": 5}}` is an error for `server.tls.port`.
    fn lookup(&self, key: &str) -> Result<Option<&Json>, ConfigError> {
        let mut value = &self.root;
        let mut walked = "(top level)";
        let mut start = 0;
        for part in key.split('.') {
            let object = value
                .as_object()
                .ok_or_else(|| self.wrong(walked, "an object", value))?;
            match object.get(part).filter(|v| !v.is_null()) {
                Some(next) => value = next,
                None => return Ok(None),
            }
            start += part.len();
            walked = key.get(..start).unwrap_or(key);
            start += 1;
        }
        Ok(Some(value))
    }

    /// The error for `key` holding `found` where `expected` was wanted.
    pub(super) fn wrong(&self, key: &str, expected: &'static str, found: &Json) -> ConfigError {
        ConfigError::WrongType {
            path: self.path.clone(),
            key: key.to_owned(),
            expected,
            found: describe(found),
        }
    }

    /// The error for a missing `key` that others need.
    pub(super) fn missing(&self, key: &'static str) -> ConfigError {
        ConfigError::Missing {
            path: self.path.clone(),
            key,
        }
    }
}

/// serde_json's message without its " at line L column C", reported apart.
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// A short description of a JSON value for error messages: `string "lots"`.
fn describe(value: &Json) -> String {
    let kind = match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    };
    let mut shown = value.to_string();
    if shown.chars().count() > 40 {
        shown = shown.chars().take(37).collect::<String>() + "...";
    }
    format!("{kind} {shown}")
}
