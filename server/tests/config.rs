//! Settings layering: defaults < config.json (the original's format) < GOCHAT_*
//! environment < flags; readable errors; the original's single-dash flags; the
//! start-up banner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, UNIX_EPOCH};

use clap::CommandFactory;
use gochat_server::config::{
    AdminCommand, Cli, Command, DEFAULT_TLS_PORT, LogLevel, LogRotation, RuntimeKind, Settings,
    TlsSettings, help_with_default, normalize_args, redact_url,
};
use gochat_server::limits::IpLimitConfig;
use gochat_server::logging::{self, NOTICE_TARGET, log_timestamp, rfc822, startup_banner};
use gochat_testkit::TempDir;

/// The original's `config/server_example.json`, as described in docs/PROTOCOL.md §11.4.
const ORIGINAL_EXAMPLE: &str = r#"{
    "database": {
        "address": "mariadb",
        "port": 3306,
        "user": "gochatuser",
        "password": "gochatpass",
        "db_name": "gochat",
        "enable_logs": false,
        "log_file": "logs/database.log"
    },
    "server": {
        "address": "0.0.0.0",
        "port": 9037,
        "max_clients": 50,
        "tls": {
            "enabled": false,
            "port": 8037,
            "cert_file": "certs/gochat.pem",
            "key_file": "certs/gochat.key"
        },
        "logs": {
            "level": "ERROR",
            "log_file": "logs/server.log"
        },
        "default_motd": "Welcome to the server!"
    }
}"#;

/// A fresh, empty folder for one test, removed when dropped.
fn temp_dir(name: &str) -> TempDir {
    TempDir::new(&format!("gochat_config_{name}"))
}

/// A configuration file in a folder of its own, removed when dropped.
struct ConfigFile {
    _dir: TempDir,
    path: PathBuf,
}

impl std::ops::Deref for ConfigFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

fn write_config(name: &str, text: &str) -> ConfigFile {
    let dir = temp_dir(name);
    let path = dir.join("config.json");
    std::fs::write(&path, text).unwrap();
    ConfigFile { _dir: dir, path }
}

fn parse(args: &[&str]) -> Cli {
    let mut argv = vec!["gochat-server"];
    argv.extend_from_slice(args);
    Cli::try_parse_args_from(argv).unwrap()
}

fn settings(args: &[&str]) -> Settings {
    parse(args).settings().unwrap()
}

fn settings_error(args: &[&str]) -> String {
    parse(args).settings().unwrap_err().to_string()
}

fn with_config(path: &Path, extra: &[&str]) -> Settings {
    let mut args = vec!["--config", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    settings(&args)
}

/// Runs test `name` of this binary again in a child process with the given
/// environment and working directory (no GOCHAT_* variables inherited). The child
/// sees `GOCHAT_TEST_CHILD` and does the real work.
fn run_in_child(name: &str, cwd: &Path, env: &[(&str, &str)]) {
    let mut child = Process::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .current_dir(cwd);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GOCHAT_") || key == "RUST_LOG" {
            child.env_remove(key);
        }
    }
    child.env("GOCHAT_TEST_CHILD", "1");
    child.envs(env.iter().copied());
    let output = child.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("1 passed"),
        "the child ran no test:\n{stdout}"
    );
}

fn is_child() -> bool {
    std::env::var_os("GOCHAT_TEST_CHILD").is_some()
}

#[test]
fn defaults() {
    let s = Settings::default();
    assert_eq!(s.database_url, "sqlite://gochat.db");
    assert_eq!(s.address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(s.port, 9037);
    assert_eq!(s.max_clients, 0);
    assert_eq!(s.tls, None);
    assert_eq!(s.log_level, LogLevel::Info);
    assert_eq!(s.log_file, None);
    assert_eq!(s.log_rotation, LogRotation::Never);
    assert_eq!(s.default_motd, "");
    assert_eq!(s.runtime, RuntimeKind::Tokio);
    assert_eq!(s.idle_timeout, Duration::from_secs(25 * 60));
    assert_eq!(s.verification_timeout, Duration::from_secs(120));
    assert_eq!(s.token_lifetime, Duration::from_secs(30 * 60));
    assert_eq!(s.tls_handshake_timeout, Duration::from_secs(20));
    assert_eq!(s.shutdown_grace, Duration::from_secs(5));
    assert_eq!(s.max_queued_bytes, 1_048_576);
    assert_eq!(s.write_timeout, Duration::from_secs(30));
    assert_eq!(s.packet_timeout, Duration::from_secs(10));
    assert_eq!(s.login_timeout, Duration::from_secs(300));
    assert_eq!(s.max_connections_per_ip, 100);
    assert_eq!(s.registrations_per_minute, 100);
    assert_eq!(s.logins_per_minute, 300);
    assert_eq!(
        s.ip_limits(),
        IpLimitConfig {
            max_connections: 100,
            registrations_per_minute: 100,
            logins_per_minute: 300,
        }
    );
}

#[test]
fn no_file_no_env_no_flags_gives_defaults() {
    if is_child() {
        let cli = parse(&[]);
        assert_eq!(cli.action(), Command::Serve);
        assert_eq!(cli.settings().unwrap(), Settings::default());
        return;
    }
    run_in_child(
        "no_file_no_env_no_flags_gives_defaults",
        &temp_dir("empty"),
        &[],
    );
}

#[test]
fn config_json_in_the_working_directory_is_read() {
    if is_child() {
        let s = settings(&[]);
        assert_eq!(s.port, 7000);
        assert_eq!(s.default_motd, "from the working directory");
        return;
    }
    let dir = temp_dir("cwd");
    std::fs::write(
        dir.join("config.json"),
        r#"{"server": {"port": 7000, "default_motd": "from the working directory"}}"#,
    )
    .unwrap();
    run_in_child("config_json_in_the_working_directory_is_read", &dir, &[]);
}

#[test]
fn original_example_file() {
    let path = write_config("example", ORIGINAL_EXAMPLE);
    let s = with_config(&path, &[]);
    assert_eq!(
        s.database_url,
        "mysql://gochatuser:gochatpass@mariadb:3306/gochat"
    );
    assert_eq!(s.address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(s.port, 9037);
    assert_eq!(s.max_clients, 50);
    assert_eq!(s.tls, None);
    assert_eq!(s.log_level, LogLevel::Error);
    assert_eq!(s.log_file, Some(PathBuf::from("logs/server.log")));
    assert_eq!(s.default_motd, "Welcome to the server!");
    // Untouched by the original's keys.
    assert_eq!(s.runtime, RuntimeKind::Tokio);
    assert_eq!(s.idle_timeout, Duration::from_secs(1500));
    // The password never shows in debug output.
    let debug = format!("{s:?}");
    assert!(!debug.contains("gochatpass"), "{debug}");
    assert!(debug.contains("gochatuser:***@mariadb:3306"), "{debug}");
}

#[test]
fn original_example_with_tls_enabled() {
    let text = ORIGINAL_EXAMPLE.replace("\"enabled\": false", "\"enabled\": true");
    let path = write_config("example-tls", &text);
    let s = with_config(&path, &[]);
    assert_eq!(
        s.tls,
        Some(TlsSettings {
            port: 8037,
            cert_file: PathBuf::from("certs/gochat.pem"),
            key_file: PathBuf::from("certs/gochat.key"),
        })
    );
    // --no-tls turns it off again; --tls-port moves it.
    assert_eq!(with_config(&path, &["--no-tls"]).tls, None);
    assert_eq!(
        with_config(&path, &["--tls-port", "8443"])
            .tls
            .unwrap()
            .port,
        8443
    );
}

#[test]
fn our_own_keys() {
    let path = write_config(
        "ours",
        r#"{
            "database": {"url": "sqlite://data/chat.db"},
            "server": {
                "runtime": "SMOL",
                "address": "127.0.0.1",
                "tls": {"enabled": true, "cert_file": "c.pem", "key_file": "k.pem"},
                "timeouts": {"idle": 60, "verification": 10, "token": 600, "tls_handshake": 3, "shutdown_grace": 1.5}
            }
        }"#,
    );
    let s = with_config(&path, &[]);
    assert_eq!(s.database_url, "sqlite://data/chat.db");
    assert_eq!(s.runtime, RuntimeKind::Smol);
    assert_eq!(s.address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(s.tls.unwrap().port, 8037, "the TLS port defaults to 8037");
    assert_eq!(s.idle_timeout, Duration::from_secs(60));
    assert_eq!(s.verification_timeout, Duration::from_secs(10));
    assert_eq!(s.token_lifetime, Duration::from_secs(600));
    assert_eq!(s.tls_handshake_timeout, Duration::from_secs(3));
    assert_eq!(s.shutdown_grace, Duration::from_millis(1500));
}

#[test]
fn mysql_url_from_parts_is_encoded() {
    let path = write_config(
        "encode",
        r#"{"database": {"address": "::1", "user": "u@x", "password": "p:ss/word", "db_name": "chat"}}"#,
    );
    let s = with_config(&path, &[]);
    assert_eq!(
        s.database_url,
        "mysql://u%40x:p%3Ass%2Fword@[::1]:3306/chat"
    );
    let path = write_config("no-db-name", r#"{"database": {"address": "db"}}"#);
    let err = settings_error(&["--config", path.to_str().unwrap()]);
    assert!(
        err.contains("Missing configuration option database.db_name"),
        "{err}"
    );
    // An empty password is no password; without a user, sqlx's default (root).
    let path = write_config(
        "no-password",
        r#"{"database": {"address": "10.0.0.2", "port": 3307, "password": "", "db_name": "my db"}}"#,
    );
    assert_eq!(
        with_config(&path, &[]).database_url,
        "mysql://root@10.0.0.2:3307/my%20db"
    );
    // database.url wins over the original's keys, which are then not needed whole.
    let path = write_config(
        "url-and-parts",
        r#"{"database": {"url": "sqlite://a.db", "address": "db"}}"#,
    );
    assert_eq!(with_config(&path, &[]).database_url, "sqlite://a.db");
}

#[test]
fn mysql_keys_that_make_no_url_name_the_key() {
    for (database, key, found) in [
        (
            r#"{"address": "db host", "db_name": "x"}"#,
            "database.address",
            r#"string "db host""#,
        ),
        (
            r#"{"address": "db", "user": "a/b", "db_name": "x"}"#,
            "database.user",
            r#"string "a/b""#,
        ),
        (
            r#"{"address": "db", "user": "a%41", "db_name": "x"}"#,
            "database.user",
            r#"string "a%41""#,
        ),
        (
            r#"{"address": "db", "user": "a", "db_name": "x%41"}"#,
            "database.db_name",
            r#"string "x%41""#,
        ),
        (
            r#"{"address": "db", "enable_logs": "no", "db_name": "x"}"#,
            "database.enable_logs",
            r#"string "no""#,
        ),
    ] {
        let path = write_config("bad-mysql", &format!(r#"{{"database": {database}}}"#));
        let err = settings_error(&["--config", path.to_str().unwrap()]);
        let prefix = format!("{}: configuration option {key} must be ", path.display());
        assert!(
            err.starts_with(&prefix) && err.ends_with(&format!(", found {found}")),
            "{database}: {err}"
        );
    }
}

#[test]
fn log_levels_parse_like_the_original() {
    for (text, level) in [
        ("ALL", LogLevel::All),
        ("all", LogLevel::All),
        ("Info", LogLevel::Info),
        ("error", LogLevel::Error),
        ("FATAL", LogLevel::Fatal),
        ("verbose", LogLevel::Fatal),
        ("", LogLevel::Fatal),
    ] {
        assert_eq!(LogLevel::parse(text), level, "{text:?}");
    }
    let path = write_config("level", r#"{"server": {"logs": {"level": "all"}}}"#);
    assert_eq!(with_config(&path, &[]).log_level, LogLevel::All);
    assert_eq!(
        with_config(&path, &["--log-level", "info"]).log_level,
        LogLevel::Info
    );
    assert_eq!(
        settings(&["--log-level", "nonsense"]).log_level,
        LogLevel::Fatal
    );
}

#[test]
fn flags_win_over_the_file() {
    let path = write_config("flags", ORIGINAL_EXAMPLE);
    let s = with_config(
        &path,
        &[
            "--database-url",
            "sqlite://x.db",
            "--address",
            "::1",
            "--port",
            "1",
            "--max-clients",
            "0",
            "--log-level",
            "ALL",
            "--log-file",
            "other.log",
            "--motd",
            "hi",
            "--runtime",
            "smol",
            "--idle-timeout",
            "7",
            "--verification-timeout",
            "8",
            "--token-lifetime",
            "9",
            "--tls-handshake-timeout",
            "10",
            "--shutdown-grace",
            "11",
            "--tls",
            "--cert-file",
            "a.pem",
            "--key-file",
            "b.key",
            "--tls-port",
            "2",
        ],
    );
    assert_eq!(s.database_url, "sqlite://x.db");
    assert_eq!(s.address, "::1".parse::<IpAddr>().unwrap());
    assert_eq!(s.port, 1);
    assert_eq!(s.max_clients, 0);
    assert_eq!(s.log_level, LogLevel::All);
    assert_eq!(s.log_file, Some(PathBuf::from("other.log")));
    assert_eq!(s.default_motd, "hi");
    assert_eq!(s.runtime, RuntimeKind::Smol);
    assert_eq!(s.idle_timeout, Duration::from_secs(7));
    assert_eq!(s.verification_timeout, Duration::from_secs(8));
    assert_eq!(s.token_lifetime, Duration::from_secs(9));
    assert_eq!(s.tls_handshake_timeout, Duration::from_secs(10));
    assert_eq!(s.shutdown_grace, Duration::from_secs(11));
    assert_eq!(
        s.tls,
        Some(TlsSettings {
            port: 2,
            cert_file: "a.pem".into(),
            key_file: "b.key".into()
        })
    );
    // --no-tls beats --tls; --tls=false works too.
    let tls = ["--cert-file", "a", "--key-file", "b"];
    assert!(settings(&[&tls[..], &["--tls"]].concat()).tls.is_some());
    assert!(
        settings(&[&tls[..], &["--no-tls", "--tls"]].concat())
            .tls
            .is_none()
    );
    assert!(
        settings(&[&tls[..], &["--tls", "--no-tls"]].concat())
            .tls
            .is_none()
    );
    assert!(
        settings(&[&tls[..], &["--tls=false"]].concat())
            .tls
            .is_none()
    );
}

#[test]
fn environment_beats_the_file_and_flags_beat_the_environment() {
    if is_child() {
        let path = std::env::var("CONFIG_UNDER_TEST").unwrap();
        let s = settings(&[]);
        assert_eq!(s.port, 1234, "GOCHAT_PORT beats server.port");
        assert_eq!(s.log_level, LogLevel::All, "GOCHAT_LOG_LEVEL");
        assert_eq!(s.database_url, "sqlite://env.db", "GOCHAT_DATABASE_URL");
        assert_eq!(s.runtime, RuntimeKind::Smol, "GOCHAT_RUNTIME");
        assert_eq!(
            s.token_lifetime,
            Duration::from_secs(42),
            "GOCHAT_TOKEN_LIFETIME"
        );
        assert_eq!(s.max_clients, 50, "from the file");
        assert_eq!(
            s.tls.as_ref().map(|t| t.port),
            Some(8037),
            "GOCHAT_TLS + files"
        );
        assert_eq!(s.default_motd, "Welcome to the server!");
        let s = settings(&["--port", "5", "--log-level", "error", "--no-tls"]);
        assert_eq!(s.port, 5);
        assert_eq!(s.log_level, LogLevel::Error);
        assert_eq!(s.tls, None);
        assert!(path.ends_with("config.json"));
        return;
    }
    let path = write_config("env", ORIGINAL_EXAMPLE);
    let path = path.to_str().unwrap();
    run_in_child(
        "environment_beats_the_file_and_flags_beat_the_environment",
        &temp_dir("env-cwd"),
        &[
            ("GOCHAT_CONFIG", path),
            ("CONFIG_UNDER_TEST", path),
            ("GOCHAT_PORT", "1234"),
            ("GOCHAT_LOG_LEVEL", "all"),
            ("GOCHAT_DATABASE_URL", "sqlite://env.db"),
            ("GOCHAT_RUNTIME", "smol"),
            ("GOCHAT_TOKEN_LIFETIME", "42"),
            ("GOCHAT_TLS", "true"),
        ],
    );
}

#[test]
fn missing_config_file_is_an_error() {
    let dir = temp_dir("missing");
    let missing = dir.join("nope.json");
    let err = settings_error(&["--config", missing.to_str().unwrap()]);
    assert!(
        err.contains("nope.json") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn malformed_json_is_a_readable_error() {
    let path = write_config("bad-json", "{\n  \"server\": {\"port\": 9037,}\n}");
    let err = settings_error(&["--config", path.to_str().unwrap()]);
    assert!(err.contains("config.json"), "{err}");
    assert!(err.contains("invalid JSON at line 2"), "{err}");
}

#[test]
fn wrong_types_name_the_key() {
    for (text, key) in [
        (r#"{"server": {"port": "9037"}}"#, "server.port"),
        (r#"{"server": {"port": 70000}}"#, "server.port"),
        (r#"{"server": {"max_clients": -1}}"#, "server.max_clients"),
        (
            r#"{"server": {"address": "localhost:9"}}"#,
            "server.address",
        ),
        (
            r#"{"server": {"tls": {"enabled": "yes"}}}"#,
            "server.tls.enabled",
        ),
        (r#"{"server": {"logs": {"level": 3}}}"#, "server.logs.level"),
        (r#"{"server": {"runtime": "async-std"}}"#, "server.runtime"),
        (
            r#"{"server": {"timeouts": {"idle": -5}}}"#,
            "server.timeouts.idle",
        ),
        (r#"{"server": {"limits": 5}}"#, "server.limits"),
        (
            r#"{"server": {"limits": {"max_queued_bytes": 1.5}}}"#,
            "server.limits.max_queued_bytes",
        ),
        (
            r#"{"server": {"limits": {"write_timeout": "30"}}}"#,
            "server.limits.write_timeout",
        ),
        (
            r#"{"server": {"limits": {"packet_timeout": -1}}}"#,
            "server.limits.packet_timeout",
        ),
        (
            r#"{"server": {"limits": {"login_timeout": true}}}"#,
            "server.limits.login_timeout",
        ),
        (
            r#"{"server": {"limits": {"max_connections_per_ip": -3}}}"#,
            "server.limits.max_connections_per_ip",
        ),
        (
            r#"{"server": {"limits": {"registrations_per_minute": 4294967296}}}"#,
            "server.limits.registrations_per_minute",
        ),
        (
            r#"{"server": {"limits": {"logins_per_minute": [300]}}}"#,
            "server.limits.logins_per_minute",
        ),
        (
            r#"{"database": {"port": "3306", "address": "db"}}"#,
            "database.port",
        ),
        (r#"{"database": []}"#, "database"),
        ("[1, 2]", "(top level)"),
    ] {
        let path = write_config("types", text);
        let err = settings_error(&["--config", path.to_str().unwrap()]);
        assert!(
            err.contains(&format!("configuration option {key} must be")),
            "{text}: {err}"
        );
    }
}

#[test]
fn limit_flags() {
    let s = settings(&[
        "--max-queued-bytes",
        "4096",
        "--write-timeout",
        "7",
        "--packet-timeout",
        "3",
        "--login-timeout",
        "60",
        "--max-connections-per-ip",
        "5",
        "--registrations-per-minute",
        "2",
        "--logins-per-minute",
        "9",
    ]);
    assert_eq!(s.max_queued_bytes, 4096);
    assert_eq!(s.write_timeout, Duration::from_secs(7));
    assert_eq!(s.packet_timeout, Duration::from_secs(3));
    assert_eq!(s.login_timeout, Duration::from_secs(60));
    assert_eq!(s.max_connections_per_ip, 5);
    assert_eq!(s.registrations_per_minute, 2);
    assert_eq!(s.logins_per_minute, 9);
    assert_eq!(
        s.ip_limits(),
        IpLimitConfig {
            max_connections: 5,
            registrations_per_minute: 2,
            logins_per_minute: 9,
        }
    );
    // Each flag alone changes only its own setting.
    let defaults = Settings::default();
    type Check = fn(&Settings) -> bool;
    let one_by_one: [(&str, Check); 7] = [
        ("--max-queued-bytes", |s| s.max_queued_bytes == 0),
        ("--write-timeout", |s| s.write_timeout == Duration::ZERO),
        ("--packet-timeout", |s| s.packet_timeout == Duration::ZERO),
        ("--login-timeout", |s| s.login_timeout == Duration::ZERO),
        ("--max-connections-per-ip", |s| {
            s.max_connections_per_ip == 0
        }),
        ("--registrations-per-minute", |s| {
            s.registrations_per_minute == 0
        }),
        ("--logins-per-minute", |s| s.logins_per_minute == 0),
    ];
    for (flag, check) in one_by_one {
        let s = settings(&[flag, "0"]);
        assert!(check(&s), "{flag} 0 not applied: {s:?}");
        let changed = format!("{s:?}")
            .split(", ")
            .zip(format!("{defaults:?}").split(", "))
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, 1, "{flag} changed more than its setting: {s:?}");
    }
    // The rates are u32: out of range is a usage error, not a silent wrap.
    assert!(Cli::try_parse_args_from(["p", "--logins-per-minute", "4294967296"]).is_err());
    assert!(Cli::try_parse_args_from(["p", "--write-timeout", "-1"]).is_err());
    // The benchmark setting turns every per-address limit off.
    let s = settings(gochat_testkit::NO_ADDRESS_LIMITS);
    assert_eq!(
        s.ip_limits(),
        IpLimitConfig {
            max_connections: 0,
            registrations_per_minute: 0,
            logins_per_minute: 0,
        }
    );
}

#[test]
fn limit_environment_variables() {
    if is_child() {
        let s = settings(&[]);
        assert_eq!(s.max_queued_bytes, 65_536, "GOCHAT_MAX_QUEUED_BYTES");
        assert_eq!(
            s.write_timeout,
            Duration::from_secs(11),
            "GOCHAT_WRITE_TIMEOUT"
        );
        assert_eq!(
            s.packet_timeout,
            Duration::from_secs(12),
            "GOCHAT_PACKET_TIMEOUT"
        );
        assert_eq!(
            s.login_timeout,
            Duration::from_secs(13),
            "GOCHAT_LOGIN_TIMEOUT"
        );
        assert_eq!(
            s.max_connections_per_ip, 14,
            "GOCHAT_MAX_CONNECTIONS_PER_IP"
        );
        assert_eq!(
            s.registrations_per_minute, 15,
            "GOCHAT_REGISTRATIONS_PER_MINUTE"
        );
        assert_eq!(s.logins_per_minute, 16, "GOCHAT_LOGINS_PER_MINUTE");
        // The file's values lose to the environment, flags beat both.
        let s = settings(&["--login-timeout", "1", "--logins-per-minute", "2"]);
        assert_eq!(s.login_timeout, Duration::from_secs(1));
        assert_eq!(s.logins_per_minute, 2);
        assert_eq!(s.max_connections_per_ip, 14);
        return;
    }
    let path = write_config(
        "limits-env",
        r#"{"server": {"limits": {"max_queued_bytes": 1, "write_timeout": 1, "packet_timeout": 1,
            "login_timeout": 1, "max_connections_per_ip": 1, "registrations_per_minute": 1,
            "logins_per_minute": 1}}}"#,
    );
    run_in_child(
        "limit_environment_variables",
        &temp_dir("limits-env-cwd"),
        &[
            ("GOCHAT_CONFIG", path.to_str().unwrap()),
            ("GOCHAT_MAX_QUEUED_BYTES", "65536"),
            ("GOCHAT_WRITE_TIMEOUT", "11"),
            ("GOCHAT_PACKET_TIMEOUT", "12"),
            ("GOCHAT_LOGIN_TIMEOUT", "13"),
            ("GOCHAT_MAX_CONNECTIONS_PER_IP", "14"),
            ("GOCHAT_REGISTRATIONS_PER_MINUTE", "15"),
            ("GOCHAT_LOGINS_PER_MINUTE", "16"),
        ],
    );
}

#[test]
fn limit_keys_in_the_file() {
    let path = write_config(
        "limits",
        r#"{
            "server": {
                "max_clients": 10,
                "limits": {
                    "max_queued_bytes": 2048,
                    "write_timeout": 0,
                    "packet_timeout": 4,
                    "login_timeout": 45,
                    "max_connections_per_ip": 0,
                    "registrations_per_minute": 6,
                    "logins_per_minute": 4294967295
                }
            }
        }"#,
    );
    let s = with_config(&path, &[]);
    assert_eq!(s.max_clients, 10);
    assert_eq!(s.max_queued_bytes, 2048);
    assert_eq!(s.write_timeout, Duration::ZERO);
    assert_eq!(s.packet_timeout, Duration::from_secs(4));
    assert_eq!(s.login_timeout, Duration::from_secs(45));
    assert_eq!(s.max_connections_per_ip, 0);
    assert_eq!(s.registrations_per_minute, 6);
    assert_eq!(s.logins_per_minute, u32::MAX);
    // Flags beat the file.
    let s = with_config(
        &path,
        &["--packet-timeout", "8", "--max-connections-per-ip", "3"],
    );
    assert_eq!(s.packet_timeout, Duration::from_secs(8));
    assert_eq!(s.max_connections_per_ip, 3);
    assert_eq!(s.login_timeout, Duration::from_secs(45));

    // The object is optional, and so is each key in it (null counts as absent).
    let path = write_config(
        "limits-partial",
        r#"{"server": {"limits": {"logins_per_minute": 30, "write_timeout": null}}}"#,
    );
    let s = with_config(&path, &[]);
    assert_eq!(s.logins_per_minute, 30);
    assert_eq!(
        Settings {
            logins_per_minute: 300,
            ..s
        },
        Settings::default()
    );
    let path = write_config("limits-none", r#"{"server": {"port": 9037}}"#);
    assert_eq!(with_config(&path, &[]), Settings::default());
}

#[test]
fn wrong_limit_value_names_file_key_and_value() {
    let path = write_config(
        "limits-wrong",
        r#"{"server": {"limits": {"max_connections_per_ip": "lots"}}}"#,
    );
    let err = settings_error(&["--config", path.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "{}: configuration option server.limits.max_connections_per_ip must be a whole \
             number of at least 0, found string \"lots\"",
            path.display()
        )
    );
    let path = write_config(
        "limits-wrong-rate",
        r#"{"server": {"limits": {"registrations_per_minute": 5000000000}}}"#,
    );
    let err = settings_error(&["--config", path.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "{}: configuration option server.limits.registrations_per_minute must be a whole \
             number from 0 to 4294967295, found number 5000000000",
            path.display()
        )
    );
    let path = write_config(
        "limits-wrong-seconds",
        r#"{"server": {"limits": {"write_timeout": "30s"}}}"#,
    );
    let err = settings_error(&["--config", path.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "{}: configuration option server.limits.write_timeout must be a number of seconds \
             of at least 0, found string \"30s\"",
            path.display()
        )
    );
}

#[test]
fn tls_without_certificate_or_key_is_an_error() {
    let err = settings_error(&["--tls"]);
    assert!(err.contains("certificate file"), "{err}");
    assert!(err.contains("--cert-file"), "{err}");
    let err = settings_error(&["--tls", "--cert-file", "c.pem"]);
    assert!(err.contains("private key file"), "{err}");
    let path = write_config(
        "tls-no-key",
        r#"{"server": {"tls": {"enabled": true, "cert_file": "c.pem"}}}"#,
    );
    let err = settings_error(&["--config", path.to_str().unwrap()]);
    assert!(err.contains("server.tls.key_file"), "{err}");
}

#[test]
fn original_single_dash_flags() {
    let cli = parse(&["-config", "x.json", "-shell"]);
    assert_eq!(cli.options.config, Some(PathBuf::from("x.json")));
    assert_eq!(cli.action(), Command::Shell);

    let cli = parse(&["-shell", "-config=y.json"]);
    assert_eq!(cli.options.config, Some(PathBuf::from("y.json")));
    assert_eq!(cli.action(), Command::Shell);

    let cli = parse(&["--shell"]);
    assert_eq!(cli.action(), Command::Shell);
    let cli = parse(&["-shell=false", "-port", "10"]);
    assert_eq!(cli.action(), Command::Serve);
    assert_eq!(cli.options.port, Some(10));

    assert_eq!(
        normalize_args(["gochat-server", "-config", "c.json", "-shell"]),
        ["gochat-server", "--config", "c.json", "shell"].map(std::ffi::OsString::from)
    );
    // Short flags, values and anything after `--` are left alone.
    assert_eq!(
        normalize_args(["p", "-h", "--motd", "x", "--", "-config"]),
        ["p", "-h", "--motd", "x", "--", "-config"].map(std::ffi::OsString::from)
    );
}

#[test]
fn subcommands() {
    assert_eq!(parse(&[]).action(), Command::Serve);
    assert_eq!(parse(&["serve", "--port", "3"]).options.port, Some(3));
    assert_eq!(parse(&["shell"]).action(), Command::Shell);
    assert_eq!(
        parse(&["admin", "set-owner", "alice"]).action(),
        Command::Admin(AdminCommand::SetOwner {
            username: "alice".into()
        })
    );
    let cli = parse(&["--config", "c.json", "admin", "clear-cache", "bob"]);
    assert_eq!(
        cli.action(),
        Command::Admin(AdminCommand::ClearCache {
            username: "bob".into()
        })
    );
    assert_eq!(cli.options.config, Some(PathBuf::from("c.json")));
    assert!(Cli::try_parse_args_from(["gochat-server", "admin", "set-owner"]).is_err());
    assert!(Cli::try_parse_args_from(["gochat-server", "--runtime", "async-std"]).is_err());
}

#[test]
fn help_documents_every_flag() {
    let help = Cli::command().render_long_help().to_string();
    for flag in [
        "--config",
        "--database-url",
        "--address",
        "--port",
        "--max-clients",
        "--tls",
        "--no-tls",
        "--tls-port",
        "--cert-file",
        "--key-file",
        "--log-level",
        "--log-file",
        "--motd",
        "--runtime",
        "--idle-timeout",
        "--verification-timeout",
        "--token-lifetime",
        "--tls-handshake-timeout",
        "--shutdown-grace",
        "--max-queued-bytes",
        "--write-timeout",
        "--packet-timeout",
        "--login-timeout",
        "--max-connections-per-ip",
        "--registrations-per-minute",
        "--logins-per-minute",
        "--log-rotation",
        "GOCHAT_PORT",
        "GOCHAT_LOG_ROTATION",
        "GOCHAT_MAX_CONNECTIONS_PER_IP",
        "shell",
        "admin",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

/// The help line of the flag `--name` (the line after it, in the long help).
fn help_of(help: &str, flag: &str) -> String {
    let mut lines = help.lines();
    lines.find(|l| l.trim_start().starts_with(&format!("{flag} ")));
    lines.next().unwrap_or_default().trim().to_string()
}

/// Each default in `--help` is written from the default value itself, so it
/// is the one the settings take: a setting with no default shows none.
#[test]
fn help_shows_each_default_from_its_value() {
    let help = Cli::command().render_long_help().to_string();
    let d = Settings::default();
    for (flag, shown) in [
        ("--database-url", d.database_url.clone()),
        ("--address", d.address.to_string()),
        ("--port", d.port.to_string()),
        ("--max-clients", d.max_clients.to_string()),
        ("--log-level", d.log_level.to_string()),
        ("--log-rotation", d.log_rotation.to_string()),
        ("--motd", "empty".to_string()),
        ("--runtime", d.runtime.to_string()),
        ("--idle-timeout", d.idle_timeout.as_secs().to_string()),
        ("--token-lifetime", d.token_lifetime.as_secs().to_string()),
        ("--shutdown-grace", d.shutdown_grace.as_secs().to_string()),
        ("--max-queued-bytes", d.max_queued_bytes.to_string()),
        ("--write-timeout", d.write_timeout.as_secs().to_string()),
        ("--login-timeout", d.login_timeout.as_secs().to_string()),
        ("--logins-per-minute", d.logins_per_minute.to_string()),
        ("--tls-port", DEFAULT_TLS_PORT.to_string()),
    ] {
        let line = help_of(&help, flag);
        assert!(
            line.ends_with(&format!("[default: {shown}]")),
            "{flag}: {line:?}"
        );
        assert_eq!(line.matches("[default:").count(), 1, "{flag}: {line:?}");
    }
    assert_eq!(
        help_of(&help, "--port"),
        "Port of the plain TCP listener [default: 9037]"
    );
    assert_eq!(
        help_of(&help, "--idle-timeout"),
        "Close connections idle for this many seconds [default: 1500]"
    );
    for flag in ["--log-file", "--cluster-url", "--cert-file", "--key-file"] {
        let line = help_of(&help, flag);
        assert!(
            !line.is_empty() && !line.contains("[default:"),
            "{flag}: {line:?}"
        );
    }
    assert_eq!(
        help_with_default("Seconds", None),
        "Seconds",
        "no default, no suffix"
    );
}

#[test]
fn redaction() {
    assert_eq!(
        redact_url("mysql://u:secret@h:3306/db"),
        "mysql://u:***@h:3306/db"
    );
    assert_eq!(redact_url("sqlite://gochat.db"), "sqlite://gochat.db");
}

#[test]
fn log_rotation_setting() {
    assert_eq!(
        settings(&["--log-rotation", "daily"]).log_rotation,
        LogRotation::Daily
    );
    assert!(Cli::try_parse_args_from(["p", "--log-rotation", "weekly"]).is_err());
    let path = write_config(
        "rotation",
        r#"{"server": {"logs": {"log_file": "logs/server.log", "rotation": " Daily "}}}"#,
    );
    let s = with_config(&path, &[]);
    assert_eq!(s.log_rotation, LogRotation::Daily);
    assert_eq!(s.log_file, Some(PathBuf::from("logs/server.log")));
    assert_eq!(
        with_config(&path, &["--log-rotation", "never"]).log_rotation,
        LogRotation::Never
    );
    let path = write_config(
        "rotation-wrong",
        r#"{"server": {"logs": {"rotation": "weekly"}}}"#,
    );
    let err = settings_error(&["--config", path.to_str().unwrap()]);
    assert_eq!(
        err,
        format!(
            "{}: configuration option server.logs.rotation must be \"never\" or \"daily\", \
             found string \"weekly\"",
            path.display()
        )
    );
}

#[test]
fn log_rotation_environment_variable() {
    if is_child() {
        assert_eq!(settings(&[]).log_rotation, LogRotation::Daily);
        return;
    }
    run_in_child(
        "log_rotation_environment_variable",
        &temp_dir("rotation-env"),
        &[("GOCHAT_LOG_ROTATION", "daily")],
    );
}

/// In a child process (the subscriber is global): logs two lines through
/// `logging::init` to `logs/server.log` under the working directory, rotated as
/// `rotation` says.
fn log_two_lines(rotation: &str) {
    let settings = settings(&["--log-file", "logs/server.log", "--log-rotation", rotation]);
    let guard = logging::init(&settings).unwrap();
    tracing::info!(target: NOTICE_TARGET, "Running TCP Socket on port 9037...");
    tracing::warn!(target: "gochat_server::test", "session checking for 127.0.0.1");
    // Dropping the guard writes out what the background writer still holds.
    drop(guard);
}

/// Checks that `text` ends with the two lines of `log_two_lines`, in the
/// original's layout.
fn assert_ends_with_two_lines(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text}");
    let tails = [
        " [*] Notification: Running TCP Socket on port 9037...",
        " [E] session checking for 127.0.0.1",
    ];
    for (line, tail) in lines[lines.len() - 2..].iter().zip(tails) {
        let (stamp, rest) = line.split_at(19);
        assert_eq!(rest, tail, "{text}");
        let shape: String = stamp
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect();
        assert_eq!(shape, "9999/99/99 99:99:99", "{text}");
    }
}

#[test]
fn log_file_without_rotation_is_appended_to() {
    if is_child() {
        log_two_lines("never");
        return;
    }
    let dir = temp_dir("log-never");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::write(dir.join("logs/server.log"), "an earlier line\n").unwrap();
    run_in_child("log_file_without_rotation_is_appended_to", &dir, &[]);
    let text = std::fs::read_to_string(dir.join("logs/server.log")).unwrap();
    assert!(text.starts_with("an earlier line\n"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert_ends_with_two_lines(&text);
    let files = std::fs::read_dir(dir.join("logs")).unwrap().count();
    assert_eq!(files, 1, "one file, named as configured");
}

#[test]
fn daily_log_file_is_dated() {
    if is_child() {
        log_two_lines("daily");
        return;
    }
    let day = || jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let before = day();
    let dir = temp_dir("log-daily");
    run_in_child("daily_log_file_is_dated", &dir, &[]);
    let after = day();
    let read = |day: &str| std::fs::read_to_string(dir.join(format!("logs/server.{day}.log")));
    let text = read(&before).or_else(|_| read(&after)).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert_ends_with_two_lines(&text);
}

#[test]
fn startup_banner_matches_the_original() {
    assert_eq!(rfc822(UNIX_EPOCH), "01 Jan 70 00:00 UTC");
    assert_eq!(log_timestamp(UNIX_EPOCH), "1970/01/01 00:00:00");
    assert_eq!(
        log_timestamp(UNIX_EPOCH + Duration::from_secs(1_751_300_000)),
        "2025/06/30 16:13:20"
    );
    assert_eq!(
        rfc822(UNIX_EPOCH + Duration::from_secs(1_751_300_000)),
        "30 Jun 25 16:13 UTC"
    );
    let banner = startup_banner(&Settings::default());
    assert!(banner.starts_with("-> Logging at "), "{banner}");
    assert!(
        banner.ends_with(&format!(
            " UTC with log level INFO on server version {} and protocol version 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{banner}"
    );
}

/// The cluster settings: `--cluster-url` and `--node-id`, the `cluster`
/// object of config.json (flags win), and none by default.
#[test]
fn cluster_settings() {
    let s = settings(&[]);
    assert_eq!((s.cluster_url, s.node_id), (None, None));
    let s = settings(&["--cluster-url", "nats://10.0.0.5:4222", "--node-id", "n1"]);
    assert_eq!(s.cluster_url.as_deref(), Some("nats://10.0.0.5:4222"));
    assert_eq!(s.node_id.as_deref(), Some("n1"));
    let path = write_config(
        "cluster",
        r#"{"cluster": {"url": "nats://nats:4222", "node_id": "from-file"}}"#,
    );
    let s = with_config(&path, &[]);
    assert_eq!(s.cluster_url.as_deref(), Some("nats://nats:4222"));
    assert_eq!(s.node_id.as_deref(), Some("from-file"));
    let s = with_config(&path, &["--node-id", "from-flag"]);
    assert_eq!(s.node_id.as_deref(), Some("from-flag"));
    let path = write_config("cluster-wrong", r#"{"cluster": {"url": 5}}"#);
    let err = settings_error(&["--config", path.to_str().unwrap()]);
    assert!(
        err.contains("configuration option cluster.url must be a string"),
        "{err}"
    );
}
