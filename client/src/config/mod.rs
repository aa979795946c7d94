//! Client settings: `config.json` with the original client's keys, read as
//! they were meant, under command-line flags and `GOCHAT_*` variables.
//! Defaults, then the file, then the flags: each layer wins over the one
//! before.
//!
//! Fixed from the original: both `use_tls` and `tls` turn TLS on for the
//! shell's automatic connection; `verify_tls: true` verifies the certificate
//! (the original inverted it); missing settings are written back to the file
//! that was named (not to `./config.json`); the folders of the database and
//! log paths are created.

mod cli;
mod file;
mod notify;

use std::path::{Path, PathBuf};

pub use self::cli::{Cli, RuntimeKind, normalize_args};
use self::file::{ConfigFile, DEFAULT_LOG_LEVEL, invalid};
pub use self::file::{DEFAULT_DATABASE, DEFAULT_LOG_FILE};
pub use self::notify::Notify;
use crate::time::TimeZone;
use crate::types::ClientError;

/// The configuration file read when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "config.json";

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
    /// The TUI's desktop notification for a message outside the buffer in
    /// view.
    pub notify: Notify,
    /// The TUI opens a conversation's buffer when someone writes first.
    pub auto_open: bool,
    /// The TUI takes the mouse.
    pub mouse: bool,
    /// The zone local times are shown in: the system's (`TZ`, else
    /// `/etc/localtime`, else UTC).
    pub zone: TimeZone,
}

/// Reads (and completes) the configuration file, then applies the flags.
pub fn load(cli: &Cli) -> Result<Settings, ClientError> {
    let path = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    let mut json = file::read_json(&path)?;
    if file::complete(&mut json)? {
        file::write_json(&path, &json)?;
    }
    let config = file::parse(&json, &path)?;
    settings_from(config, &path, cli)
}

/// A configured path: the default when absent or empty.
fn path_or(value: Option<String>, default: &str) -> PathBuf {
    PathBuf::from(
        value
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| default.to_owned()),
    )
}

/// The settings of `config` (read from `file`) under the flags of `cli`;
/// creates the folders of the database and the log.
fn settings_from(config: ConfigFile, file: &Path, cli: &Cli) -> Result<Settings, ClientError> {
    let shell_server = config.shell_server.unwrap_or_default();
    let database = config.database.unwrap_or_default();
    let ui = config.ui_config.unwrap_or_default();
    let address = shell_server.address.unwrap_or_default();
    let port = shell_server.port.map_or(0, |p| p.0);
    let auto_connect = (!address.is_empty() && port != 0).then(|| AutoConnect {
        address,
        port: u16::try_from(port).unwrap_or(0),
        tls: shell_server.use_tls.or(shell_server.tls).unwrap_or(false),
        verify: shell_server.verify_tls.unwrap_or(true),
    });
    let database_file = cli
        .db
        .clone()
        .unwrap_or_else(|| path_or(database.path, DEFAULT_DATABASE));
    let log_file = path_or(database.log_path, DEFAULT_LOG_FILE);
    let log_level = database.log_level.map_or(DEFAULT_LOG_LEVEL, |l| l.0);
    for dir in [database_file.parent(), log_file.parent()]
        .into_iter()
        .flatten()
    {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| invalid(dir, e))?;
        }
    }
    Ok(Settings {
        config_path: file.to_path_buf(),
        shell: cli.shell,
        verbose: cli.verbose,
        runtime: cli.runtime.unwrap_or_default(),
        database: database_file,
        log_file,
        log_level: u8::try_from(log_level).unwrap_or(u8::MAX),
        ca_file: cli.ca_file.clone(),
        auto_connect,
        debug_buffer: ui.debug_buffer.unwrap_or(false),
        bell: ui.bell.unwrap_or(true),
        notify: ui.notify.unwrap_or_default(),
        auto_open: ui.auto_open.unwrap_or(true),
        mouse: ui.mouse.unwrap_or(true),
        zone: TimeZone::system(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use clap::Parser;
    use serde_json::{Value, json};

    /// A fresh folder, removed when the test ends.
    fn temp_dir(tag: &str) -> gochat_testkit::TempDir {
        gochat_testkit::TempDir::new(&format!("gochat_client_cfg_{tag}"))
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
        assert_eq!(written["ui_config"]["notify"], json!("off"));
        assert_eq!(written["ui_config"]["mouse"], json!(true));
        assert_eq!(written["ui_config"]["auto_open"], json!(true));
    }

    #[test]
    fn flags_win_and_bad_values_are_named() {
        let dir = temp_dir("flags");
        let path = dir.join("config.json");
        std::fs::write(&path, r#"{"database": {"path": 5}}"#).unwrap();
        let err = load(&cli(&path)).unwrap_err().to_string();
        assert!(err.contains("database.path"), "{err}");
        assert!(err.contains("config.json") && err.contains("`5`"), "{err}");
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

    #[test]
    fn wrong_values_name_the_file_the_key_and_the_value() {
        let dir = temp_dir("values");
        let path = dir.join("config.json");
        // The key (its sections and name, joined by dots) and the wrong
        // value as JSON; the error shows the value unquoted.
        for (key, json) in [
            ("shell_server.port", "70000"),
            ("shell_server.port", "-1"),
            ("database.log_level", "7"),
            ("database.log_level", "1.5"),
            ("shell_server.use_tls", r#""yes""#),
            ("ui_config.bell", "1"),
            ("ui_config.notify", r#""loud""#),
            ("ui_config", "3"),
        ] {
            let text = key.rsplit('.').fold(json.to_owned(), |inner, name| {
                format!(r#"{{"{name}": {inner}}}"#)
            });
            let value = json.trim_matches('"');
            std::fs::write(&path, &text).unwrap();
            let err = load(&cli(&path)).unwrap_err().to_string();
            assert!(err.starts_with(&path.display().to_string()), "{err}");
            assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
            assert!(err.contains(value), "{text}: {err}");
        }
        std::fs::write(&path, "[1, 2]").unwrap();
        let err = load(&cli(&path)).unwrap_err().to_string();
        assert!(err.contains("must hold a JSON object"), "{err}");
    }

    #[test]
    fn nulls_are_defaults_and_unknown_keys_stay() {
        let dir = temp_dir("nulls");
        let path = dir.join("config.json");
        let db = dir.join("c.db");
        let text = json!({
            "shell_server": { "address": null, "port": 9037 },
            "database": { "path": db.to_str().unwrap(), "log_path": "", "log_level": null },
            "ui_config": null,
            "extra": { "kept": true }
        });
        std::fs::write(&path, text.to_string()).unwrap();
        let s = load(&cli(&path)).unwrap();
        assert_eq!(s.auto_connect, None, "no address, no connection");
        assert_eq!(s.database, db);
        assert_eq!(s.log_file, PathBuf::from(DEFAULT_LOG_FILE));
        assert_eq!(s.log_level, 2);
        assert!(s.bell && !s.debug_buffer);
        assert!(s.auto_open && s.mouse && s.notify == Notify::Off);
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written["extra"]["kept"], json!(true));
        assert_eq!(written["shell_server"]["verify_tls"], json!(true));
        assert_eq!(written["shell_server"]["port"], json!(9037));
    }
}
