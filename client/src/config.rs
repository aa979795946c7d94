//! Client settings: `config.json` with the original client's keys, read as
//! they were meant, under command-line flags and `GOCHAT_*` variables.
//!
//! Fixed from the original: both `use_tls` and `tls` turn TLS on for the
//! shell's automatic connection; `verify_tls: true` verifies the certificate
//! (the original inverted it); missing settings are written back to the file
//! that was named (not to `./config.json`); the folders of the database and
//! log paths are created.

use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use serde_json::{Map, Value, json};

use crate::time::TimeZone;
use crate::types::ClientError;

/// The configuration file read when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "config.json";
/// The local database when none is configured.
pub const DEFAULT_DATABASE: &str = "client.db";
/// The log file when none is configured.
pub const DEFAULT_LOG_FILE: &str = "logs/client.log";

/// Which async runtime drives the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum RuntimeKind {
    /// smol (the default).
    #[default]
    Smol,
    /// tokio.
    Tokio,
}

/// Command-line flags, each also an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "gochat-client",
    version,
    about = "gochat client: a TUI, or a line shell with --shell"
)]
pub struct Cli {
    /// Run the line shell instead of the TUI.
    #[arg(long, env = "GOCHAT_SHELL")]
    pub shell: bool,
    /// Configuration file (created with the defaults when missing).
    #[arg(long, env = "GOCHAT_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print intermediate steps and packet dumps.
    #[arg(long, env = "GOCHAT_VERBOSE")]
    pub verbose: bool,
    /// Async runtime for the connections.
    #[arg(long, env = "GOCHAT_RUNTIME", value_enum)]
    pub runtime: Option<RuntimeKind>,
    /// Local database file (overrides `database.path`).
    #[arg(long, env = "GOCHAT_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Extra CA certificate (PEM) to trust, for a server with a self-signed certificate.
    #[arg(long, env = "GOCHAT_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
}

impl Cli {
    /// Parses the process arguments, accepting the original's single-dash
    /// flags (`-shell`, `-config x`, `-verbose`).
    pub fn parse_args() -> Self {
        Cli::parse_from(normalize_args(std::env::args()))
    }
}

/// Rewrites `-shell`, `-config`, `-verbose`, `-runtime`, `-db`, `-ca-file` into
/// their double-dash form.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    const LONG: [&str; 6] = ["shell", "config", "verbose", "runtime", "db", "ca-file"];
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0
                && let Some(rest) = a.strip_prefix('-')
                && !rest.starts_with('-')
            {
                let name = rest.split('=').next().unwrap_or(rest);
                if LONG.contains(&name) {
                    return format!("-{a}");
                }
            }
            a
        })
        .collect()
}

/// The server the shell connects to at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoConnect {
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Use TLS (`use_tls` or `tls`).
    pub tls: bool,
    /// Verify the certificate (`verify_tls`; default true for TLS).
    pub verify: bool,
}

/// Everything the client runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The configuration file used.
    pub config_path: PathBuf,
    /// Line shell instead of TUI.
    pub shell: bool,
    /// Verbose output.
    pub verbose: bool,
    /// Runtime.
    pub runtime: RuntimeKind,
    /// Local database file.
    pub database: PathBuf,
    /// Log file.
    pub log_file: PathBuf,
    /// Log level of the original (1 silent, 2 error, 3 warn, 4 info).
    pub log_level: u8,
    /// Extra CA certificate to trust.
    pub ca_file: Option<PathBuf>,
    /// The shell's automatic connection, if configured.
    pub auto_connect: Option<AutoConnect>,
    /// Show the TUI's Debug buffer (with `--verbose`).
    pub debug_buffer: bool,
    /// Ring the terminal bell for a message outside the buffer in view.
    pub bell: bool,
    /// The zone local times are shown in: the system's (`TZ`, else
    /// `/etc/localtime`, else UTC).
    pub zone: TimeZone,
}

fn defaults() -> Value {
    json!({
        "shell_server": { "address": "", "port": 0, "use_tls": false, "verify_tls": true },
        "database": { "path": DEFAULT_DATABASE, "log_path": DEFAULT_LOG_FILE, "log_level": 2 },
        "ui_config": { "debug_buffer": false, "bell": true }
    })
}

/// Adds every default key missing from `target`; true if anything was added.
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

fn get<'a>(root: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(root, |v, k| v.get(k))
}

fn bool_at(root: &Value, path: &[&str], file: &Path) -> Result<Option<bool>, ClientError> {
    match get(root, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(type_error(file, path, "true or false")),
    }
}

fn str_at(root: &Value, path: &[&str], file: &Path) -> Result<Option<String>, ClientError> {
    match get(root, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(type_error(file, path, "a string")),
    }
}

fn int_at(root: &Value, path: &[&str], file: &Path, max: u64) -> Result<Option<u64>, ClientError> {
    match get(root, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= max => Ok(Some(v)),
            _ => Err(type_error(
                file,
                path,
                &format!("a whole number from 0 to {max}"),
            )),
        },
        Some(_) => Err(type_error(file, path, "a number")),
    }
}

fn type_error(file: &Path, path: &[&str], want: &str) -> ClientError {
    ClientError::Invalid(format!(
        "{}: `{}` must be {want}",
        file.display(),
        path.join(".")
    ))
}

/// Reads (and completes) the configuration file, then applies the flags.
pub fn load(cli: &Cli) -> Result<Settings, ClientError> {
    let path = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    let mut root = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
            ClientError::Invalid(format!("{}: not valid JSON: {e}", path.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
        Err(e) => return Err(ClientError::Invalid(format!("{}: {e}", path.display()))),
    };
    let Value::Object(map) = &mut root else {
        return Err(ClientError::Invalid(format!(
            "{}: must hold a JSON object",
            path.display()
        )));
    };
    let Value::Object(defaults) = defaults() else {
        return Err(ClientError::Invalid(
            "internal defaults are not an object".into(),
        ));
    };
    if fill_missing(map, &defaults) {
        write_config(&path, &root)?;
    }
    settings_from(&root, &path, cli)
}

fn write_config(path: &Path, root: &Value) -> Result<(), ClientError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| ClientError::Invalid(format!("{}: {e}", dir.display())))?;
    }
    let text =
        serde_json::to_string_pretty(root).map_err(|e| ClientError::Invalid(e.to_string()))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| ClientError::Invalid(format!("{}: {e}", path.display())))
}

fn settings_from(root: &Value, file: &Path, cli: &Cli) -> Result<Settings, ClientError> {
    let address = str_at(root, &["shell_server", "address"], file)?.unwrap_or_default();
    let port = int_at(root, &["shell_server", "port"], file, u64::from(u16::MAX))?.unwrap_or(0);
    let tls = bool_at(root, &["shell_server", "use_tls"], file)?
        .or(bool_at(root, &["shell_server", "tls"], file)?)
        .unwrap_or(false);
    let verify = bool_at(root, &["shell_server", "verify_tls"], file)?.unwrap_or(true);
    let auto_connect = (!address.is_empty() && port != 0).then(|| AutoConnect {
        address,
        port: u16::try_from(port).unwrap_or(0),
        tls,
        verify,
    });
    let database = cli.db.clone().unwrap_or_else(|| {
        PathBuf::from(
            str_at(root, &["database", "path"], file)
                .ok()
                .flatten()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_DATABASE.into()),
        )
    });
    // Report a wrongly typed database.path even when --db overrides it.
    str_at(root, &["database", "path"], file)?;
    let log_file = PathBuf::from(
        str_at(root, &["database", "log_path"], file)?
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| DEFAULT_LOG_FILE.into()),
    );
    let log_level = int_at(root, &["database", "log_level"], file, 4)?.unwrap_or(2) as u8;
    for dir in [database.parent(), log_file.parent()].into_iter().flatten() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ClientError::Invalid(format!("{}: {e}", dir.display())))?;
        }
    }
    Ok(Settings {
        config_path: file.to_path_buf(),
        shell: cli.shell,
        verbose: cli.verbose,
        runtime: cli.runtime.unwrap_or_default(),
        database,
        log_file,
        log_level,
        ca_file: cli.ca_file.clone(),
        auto_connect,
        debug_buffer: bool_at(root, &["ui_config", "debug_buffer"], file)?.unwrap_or(false),
        bell: bool_at(root, &["ui_config", "bell"], file)?.unwrap_or(true),
        zone: TimeZone::system(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "gochat_client_cfg_{tag}_{}_{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn cli(config: &Path) -> Cli {
        Cli::parse_from(["gochat-client", "--config", config.to_str().unwrap()])
    }

    #[test]
    fn missing_file_gets_defaults_written_to_the_given_path() {
        let dir = temp_dir("missing");
        let path = dir.join("sub").join("my.json");
        let s = load(&cli(&path)).unwrap();
        assert!(path.exists());
        assert_eq!(s.database, PathBuf::from(DEFAULT_DATABASE));
        assert_eq!(s.runtime, RuntimeKind::Smol);
        assert!(s.auto_connect.is_none());
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["database"]["log_level"], json!(2));
    }

    #[test]
    fn original_example_is_read_as_meant() {
        let dir = temp_dir("example");
        let path = dir.join("config.json");
        let db = dir.join("db").join("client.db");
        let example = json!({
            "shell_server": { "address": "127.0.0.1", "port": 9037, "tls": true, "verify_tls": true },
            "database": { "path": db.to_str().unwrap(), "log_path": dir.join("logs/client.log").to_str().unwrap(), "log_level": 2 },
            "ui_config": { "debug_buffer": false }
        });
        std::fs::write(&path, example.to_string()).unwrap();
        let s = load(&cli(&path)).unwrap();
        assert_eq!(
            s.auto_connect,
            Some(AutoConnect {
                address: "127.0.0.1".into(),
                port: 9037,
                tls: true,
                verify: true
            })
        );
        assert!(dir.join("db").is_dir(), "database folder created");
        assert!(dir.join("logs").is_dir(), "log folder created");
        // `tls` stays the switch; no contradicting use_tls is added.
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(written["shell_server"].get("use_tls").is_none());
        assert_eq!(written["ui_config"]["bell"], json!(true));
    }

    #[test]
    fn flags_win_and_bad_values_are_named() {
        let dir = temp_dir("flags");
        let path = dir.join("config.json");
        std::fs::write(&path, r#"{"database": {"path": 5}}"#).unwrap();
        let err = load(&cli(&path)).unwrap_err().to_string();
        assert!(err.contains("database.path"), "{err}");
        std::fs::write(&path, "{ not json").unwrap();
        assert!(
            load(&cli(&path))
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
        std::fs::write(&path, "{}").unwrap();
        let db = dir.join("x").join("y.db");
        let c = Cli::parse_from(normalize_args(
            [
                "gochat-client",
                "-config",
                path.to_str().unwrap(),
                "-shell",
                "--runtime",
                "tokio",
                "--db",
                db.to_str().unwrap(),
            ]
            .map(String::from),
        ));
        let s = load(&c).unwrap();
        assert!(s.shell);
        assert_eq!(s.runtime, RuntimeKind::Tokio);
        assert_eq!(s.database, db);
        assert!(dir.join("x").is_dir());
    }
}
