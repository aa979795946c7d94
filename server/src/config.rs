//! Server configuration: command line, environment and `config.json`.
//!
//! Settings are layered, each layer overriding the one before it:
//!
//! 1. built-in defaults ([`Settings::default`]);
//! 2. a JSON file in the original server's format (`database.*`, `server.*`), taken
//!    from `--config PATH` (which must exist) or `config.json` in the working
//!    directory when present;
//! 3. `GOCHAT_*` environment variables;
//! 4. command-line flags.
//!
//! Unlike the original, a malformed file or a value of the wrong type is an error that
//! names the offending key, instead of being silently ignored. The original's
//! single-dash flags (`-config FILE`, `-shell`) keep working: see [`normalize_args`].

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value};

/// Name of the configuration file read from the working directory when `--config`
/// is not given.
pub const DEFAULT_CONFIG_FILE: &str = "config.json";

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

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Settings of the TLS listener, present only when TLS is enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Port of the TLS listener (default 8037).
    pub port: u16,
    /// PEM file holding the certificate chain.
    pub cert_file: PathBuf,
    /// PEM file holding the private key.
    pub key_file: PathBuf,
}

/// Default TCP port of the plain listener.
pub const DEFAULT_PORT: u16 = 9037;
/// Default TCP port of the TLS listener.
pub const DEFAULT_TLS_PORT: u16 = 8037;
/// Default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://gochat.db";

/// The server's complete, resolved configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// sqlx database URL (`sqlite://…` or `mysql://…`).
    pub database_url: String,
    /// Address both listeners bind to.
    pub address: IpAddr,
    /// Port of the plain TCP listener.
    pub port: u16,
    /// Maximum simultaneous TCP connections over both listeners; 0 means no limit.
    pub max_clients: usize,
    /// TLS listener settings, `None` when TLS is disabled.
    pub tls: Option<TlsSettings>,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// File the log is appended to; `None` logs to stdout.
    pub log_file: Option<PathBuf>,
    /// Message of the day sent in HELLO until an owner changes it.
    pub default_motd: String,
    /// Async runtime to run on.
    pub runtime: RuntimeKind,
    /// A connection with no traffic for this long is closed (ERR_IDLE).
    pub idle_timeout: Duration,
    /// How long a login challenge waits for its VERIF.
    pub verification_timeout: Duration,
    /// How long a TLS reusable token stays valid after logout or disconnect.
    pub token_lifetime: Duration,
    /// Deadline for the TLS handshake and the HELLO that follows.
    pub tls_handshake_timeout: Duration,
    /// How long a graceful stop waits for connections to close.
    pub shutdown_grace: Duration,
    /// Bytes of messages queued for one connection; past it, new messages for that
    /// user go to the offline store (the sender still gets OK).
    pub max_queued_bytes: usize,
    /// A connection whose socket accepts no byte for this long is closed and what is
    /// queued for it stored; zero disables the deadline.
    pub write_timeout: Duration,
    /// A packet whose first byte has arrived must be complete within this long, or
    /// the connection gets ERR IDLE and is closed; zero disables the deadline.
    pub packet_timeout: Duration,
    /// A connection must log in within this long of its admission or of its logout,
    /// or it gets ERR IDLE and is closed; zero disables the deadline.
    pub login_timeout: Duration,
    /// Simultaneous connections from one address (IPv6: one /64), counting those
    /// waiting in the `max_clients` line; 0 means no limit.
    pub max_connections_per_ip: usize,
    /// REG requests allowed per address per minute; 0 means no limit.
    pub registrations_per_minute: u32,
    /// LOGIN requests (challenge or token) allowed per address per minute; 0 means
    /// no limit.
    pub logins_per_minute: u32,
}

impl Settings {
    /// The per-address limiter's configuration, from `max_connections_per_ip`,
    /// `registrations_per_minute` and `logins_per_minute`.
    pub fn ip_limits(&self) -> crate::limits::IpLimitConfig {
        crate::limits::IpLimitConfig {
            max_connections: self.max_connections_per_ip,
            registrations_per_minute: self.registrations_per_minute,
            logins_per_minute: self.logins_per_minute,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            max_clients: 0,
            tls: None,
            log_level: LogLevel::Info,
            log_file: None,
            default_motd: String::new(),
            runtime: RuntimeKind::Tokio,
            idle_timeout: Duration::from_secs(25 * 60),
            verification_timeout: Duration::from_secs(2 * 60),
            token_lifetime: Duration::from_secs(30 * 60),
            tls_handshake_timeout: Duration::from_secs(20),
            shutdown_grace: Duration::from_secs(5),
            max_queued_bytes: 1024 * 1024,
            write_timeout: Duration::from_secs(30),
            packet_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(5 * 60),
            max_connections_per_ip: 100,
            registrations_per_minute: 100,
            logins_per_minute: 300,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("address", &self.address)
            .field("port", &self.port)
            .field("max_clients", &self.max_clients)
            .field("tls", &self.tls)
            .field("log_level", &self.log_level)
            .field("log_file", &self.log_file)
            .field("default_motd", &self.default_motd)
            .field("runtime", &self.runtime)
            .field("idle_timeout", &self.idle_timeout)
            .field("verification_timeout", &self.verification_timeout)
            .field("token_lifetime", &self.token_lifetime)
            .field("tls_handshake_timeout", &self.tls_handshake_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("write_timeout", &self.write_timeout)
            .field("packet_timeout", &self.packet_timeout)
            .field("login_timeout", &self.login_timeout)
            .field("max_connections_per_ip", &self.max_connections_per_ip)
            .field("registrations_per_minute", &self.registrations_per_minute)
            .field("logins_per_minute", &self.logins_per_minute)
            .finish()
    }
}

/// Returns `url` with any password replaced by `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// A configuration problem, worded for the operator.
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

/// The gochat v1 chat server (plain TCP and TLS, SQLite or MariaDB/MySQL).
///
/// Settings come from defaults, then config.json in the original's format (--config,
/// or ./config.json if present), then GOCHAT_* environment variables, then these
/// flags. The original's `-config FILE` and `-shell` are accepted too.
#[derive(Debug, Clone, Parser)]
#[command(name = "gochat-server", version)]
pub struct Cli {
    /// Settings flags, valid before or after the subcommand.
    #[command(flatten)]
    pub options: Options,
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Every setting as a command-line flag with its `GOCHAT_*` environment variable.
///
/// `None` (or `false`) means "not given": the lower layers decide.
#[derive(Debug, Clone, Default, Args)]
pub struct Options {
    /// JSON configuration file in the original's format [default: ./config.json if present]
    #[arg(long, env = "GOCHAT_CONFIG", value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or mysql://USER:PASS@HOST:PORT/DB [default: sqlite://gochat.db]
    #[arg(long, env = "GOCHAT_DATABASE_URL", value_name = "URL", global = true)]
    pub database_url: Option<String>,
    /// IP address both listeners bind to [default: 0.0.0.0]
    #[arg(long, env = "GOCHAT_ADDRESS", value_name = "IP", global = true)]
    pub address: Option<IpAddr>,
    /// Port of the plain TCP listener [default: 9037]
    #[arg(long, env = "GOCHAT_PORT", value_name = "PORT", global = true)]
    pub port: Option<u16>,
    /// Maximum simultaneous connections, 0 for no limit [default: 0]
    #[arg(long, env = "GOCHAT_MAX_CLIENTS", value_name = "N", global = true)]
    pub max_clients: Option<usize>,
    /// Enable the TLS listener (needs --cert-file and --key-file); --tls=false disables it
    #[arg(
        long,
        env = "GOCHAT_TLS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub tls: Option<bool>,
    /// Disable the TLS listener even if the configuration file, GOCHAT_TLS or --tls enables it
    #[arg(long, global = true)]
    pub no_tls: bool,
    /// Port of the TLS listener [default: 8037]
    #[arg(long, env = "GOCHAT_TLS_PORT", value_name = "PORT", global = true)]
    pub tls_port: Option<u16>,
    /// PEM certificate chain for TLS
    #[arg(long, env = "GOCHAT_CERT_FILE", value_name = "PATH", global = true)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key for TLS
    #[arg(long, env = "GOCHAT_KEY_FILE", value_name = "PATH", global = true)]
    pub key_file: Option<PathBuf>,
    /// Log level: ALL, INFO, ERROR or FATAL, case-insensitive; anything else means FATAL [default: INFO]
    #[arg(
        long,
        env = "GOCHAT_LOG_LEVEL",
        value_name = "LEVEL",
        value_parser = parse_log_level,
        global = true
    )]
    pub log_level: Option<LogLevel>,
    /// Append the log to this file (parent folders are created) instead of stdout
    #[arg(long, env = "GOCHAT_LOG_FILE", value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,
    /// Initial message of the day [default: empty]
    #[arg(long, env = "GOCHAT_MOTD", value_name = "TEXT", global = true)]
    pub motd: Option<String>,
    /// Async runtime [default: tokio]
    #[arg(long, env = "GOCHAT_RUNTIME", value_enum, global = true)]
    pub runtime: Option<RuntimeKind>,
    /// Close connections idle for this many seconds [default: 1500]
    #[arg(
        long,
        env = "GOCHAT_IDLE_TIMEOUT",
        value_name = "SECONDS",
        global = true
    )]
    pub idle_timeout: Option<u64>,
    /// Seconds a login challenge waits for VERIF [default: 120]
    #[arg(
        long,
        env = "GOCHAT_VERIFICATION_TIMEOUT",
        value_name = "SECONDS",
        global = true
    )]
    pub verification_timeout: Option<u64>,
    /// Seconds a TLS reusable token stays valid after logout [default: 1800]
    #[arg(
        long,
        env = "GOCHAT_TOKEN_LIFETIME",
        value_name = "SECONDS",
        global = true
    )]
    pub token_lifetime: Option<u64>,
    /// Seconds allowed for the TLS handshake and HELLO [default: 20]
    #[arg(
        long,
        env = "GOCHAT_TLS_HANDSHAKE_TIMEOUT",
        value_name = "SECONDS",
        global = true
    )]
    pub tls_handshake_timeout: Option<u64>,
    /// Seconds a graceful stop waits for connections to close [default: 5]
    #[arg(
        long,
        env = "GOCHAT_SHUTDOWN_GRACE",
        value_name = "SECONDS",
        global = true
    )]
    pub shutdown_grace: Option<u64>,
    /// Bytes of messages queued for one connection before new ones go to the offline store [default: 1048576]
    #[arg(
        long,
        env = "GOCHAT_MAX_QUEUED_BYTES",
        value_name = "BYTES",
        global = true
    )]
    pub max_queued_bytes: Option<usize>,
    /// Close a connection whose socket accepts no byte for this many seconds, 0 for never [default: 30]
    #[arg(
        long,
        env = "GOCHAT_WRITE_TIMEOUT",
        value_name = "SECONDS",
        global = true
    )]
    pub write_timeout: Option<u64>,
    /// Seconds a started packet has to be complete (else ERR IDLE), 0 for no limit [default: 10]
    #[arg(
        long,
        env = "GOCHAT_PACKET_TIMEOUT",
        value_name = "SECONDS",
        global = true
    )]
    pub packet_timeout: Option<u64>,
    /// Seconds a connection has to log in after admission or logout (else ERR IDLE), 0 for no limit [default: 300]
    #[arg(
        long,
        env = "GOCHAT_LOGIN_TIMEOUT",
        value_name = "SECONDS",
        global = true
    )]
    pub login_timeout: Option<u64>,
    /// Simultaneous connections from one address (IPv6: one /64), waiting ones included, 0 for no limit [default: 100]
    #[arg(
        long,
        env = "GOCHAT_MAX_CONNECTIONS_PER_IP",
        value_name = "N",
        global = true
    )]
    pub max_connections_per_ip: Option<usize>,
    /// REG requests per address per minute, 0 for no limit [default: 100]
    #[arg(
        long,
        env = "GOCHAT_REGISTRATIONS_PER_MINUTE",
        value_name = "N",
        global = true
    )]
    pub registrations_per_minute: Option<u32>,
    /// LOGIN requests per address per minute, 0 for no limit [default: 300]
    #[arg(
        long,
        env = "GOCHAT_LOGINS_PER_MINUTE",
        value_name = "N",
        global = true
    )]
    pub logins_per_minute: Option<u32>,
}

fn parse_log_level(text: &str) -> Result<LogLevel, std::convert::Infallible> {
    Ok(LogLevel::parse(text))
}

/// What the binary does.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the server (the default)
    Serve,
    /// Open the interactive admin database shell (the original's -shell)
    Shell,
    /// Run one admin database operation and exit
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// One-shot admin operations on the database.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum AdminCommand {
    /// Make a user OWNER (permission 2); they must log in again to get it
    SetOwner {
        /// The username
        username: String,
    },
    /// Delete every cached (offline) message addressed to a user
    ClearCache {
        /// The username
        username: String,
    },
}

/// Rewrites the original's Go-style single-dash flags into clap's form.
///
/// `-config X` and `-config=X` become `--config …`, `-shell` (or `--shell`,
/// `-shell=true`) becomes the `shell` subcommand (`-shell=false` is dropped), `-help`
/// becomes `--help`; any other single-dash long flag that names a known option gets
/// its second dash. The first element (program name) and everything after `--` are
/// left alone.
pub fn normalize_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let known = known_long_flags();
    let mut out = Vec::new();
    let mut shell = false;
    let mut rest_verbatim = false;
    for (index, arg) in args.into_iter().map(Into::into).enumerate() {
        if index == 0 || rest_verbatim {
            out.push(arg);
            continue;
        }
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            rest_verbatim = true;
            out.push(arg);
            continue;
        }
        let name = text.trim_start_matches('-');
        let dashes = text.len() - name.len();
        if dashes == 0 || dashes > 2 || name.is_empty() {
            out.push(arg);
            continue;
        }
        let (flag, value) = match name.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (name, None),
        };
        if flag == "shell" {
            let on = value.is_none_or(|v| !matches!(v, "false" | "0" | "f" | "F" | "FALSE"));
            shell |= on;
            continue;
        }
        if dashes == 1 && flag.len() > 1 && known.iter().any(|k| k == flag) {
            out.push(OsString::from(format!("-{text}")));
        } else {
            out.push(arg);
        }
    }
    if shell && !out.iter().skip(1).any(|a| a == "shell") {
        // Global options may come before or after the subcommand, so appending it
        // (before any `--`) keeps every other argument meaningful.
        let at = out.iter().position(|a| a == "--").unwrap_or(out.len());
        out.insert(at, OsString::from("shell"));
    }
    out
}

fn known_long_flags() -> Vec<String> {
    let command = <Cli as CommandFactory>::command();
    let mut names: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    names.push("help".to_owned());
    names.push("version".to_owned());
    names
}

impl Cli {
    /// Parses the process arguments (after [`normalize_args`]); exits with usage on
    /// error, like [`Parser::parse`].
    pub fn parse_args() -> Self {
        Self::parse_from(normalize_args(std::env::args_os()))
    }

    /// Parses the given arguments (program name first) after [`normalize_args`].
    pub fn try_parse_args_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        Self::try_parse_from(normalize_args(args))
    }

    /// The subcommand to run, [`Command::Serve`] when none was given.
    pub fn action(&self) -> Command {
        self.command.clone().unwrap_or(Command::Serve)
    }

    /// Resolves the final settings: defaults, then the configuration file, then the
    /// environment and flags (clap has already merged those two).
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let mut settings = Settings::default();
        let mut tls = FileTls::default();
        let path = match &self.options.config {
            Some(path) => Some(path.clone()),
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG_FILE);
                default.is_file().then_some(default)
            }
        };
        if let Some(path) = path {
            let text = std::fs::read_to_string(&path).map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    ConfigError::NotFound { path: path.clone() }
                } else {
                    ConfigError::Read {
                        path: path.clone(),
                        source,
                    }
                }
            })?;
            tls = apply_json(&mut settings, &text, &path)?;
        }
        self.options.apply(settings, tls)
    }
}

/// TLS values read from the file, completed by flags before validation.
#[derive(Debug, Default)]
struct FileTls {
    enabled: bool,
    port: Option<u16>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

impl Options {
    fn apply(&self, mut settings: Settings, mut tls: FileTls) -> Result<Settings, ConfigError> {
        let o = self;
        if let Some(v) = &o.database_url {
            settings.database_url.clone_from(v);
        }
        if let Some(v) = o.address {
            settings.address = v;
        }
        if let Some(v) = o.port {
            settings.port = v;
        }
        if let Some(v) = o.max_clients {
            settings.max_clients = v;
        }
        if o.no_tls {
            tls.enabled = false;
        } else if let Some(v) = o.tls {
            tls.enabled = v;
        }
        if let Some(v) = o.tls_port {
            tls.port = Some(v);
        }
        if let Some(v) = &o.cert_file {
            tls.cert_file = non_empty_path(v);
        }
        if let Some(v) = &o.key_file {
            tls.key_file = non_empty_path(v);
        }
        if let Some(v) = o.log_level {
            settings.log_level = v;
        }
        if let Some(v) = &o.log_file {
            settings.log_file = non_empty_path(v);
        }
        if let Some(v) = &o.motd {
            settings.default_motd.clone_from(v);
        }
        if let Some(v) = o.runtime {
            settings.runtime = v;
        }
        let secs = |v: Option<u64>, field: &mut Duration| {
            if let Some(v) = v {
                *field = Duration::from_secs(v);
            }
        };
        secs(o.idle_timeout, &mut settings.idle_timeout);
        secs(o.verification_timeout, &mut settings.verification_timeout);
        secs(o.token_lifetime, &mut settings.token_lifetime);
        secs(o.tls_handshake_timeout, &mut settings.tls_handshake_timeout);
        secs(o.shutdown_grace, &mut settings.shutdown_grace);
        secs(o.write_timeout, &mut settings.write_timeout);
        secs(o.packet_timeout, &mut settings.packet_timeout);
        secs(o.login_timeout, &mut settings.login_timeout);
        if let Some(v) = o.max_queued_bytes {
            settings.max_queued_bytes = v;
        }
        if let Some(v) = o.max_connections_per_ip {
            settings.max_connections_per_ip = v;
        }
        if let Some(v) = o.registrations_per_minute {
            settings.registrations_per_minute = v;
        }
        if let Some(v) = o.logins_per_minute {
            settings.logins_per_minute = v;
        }

        settings.tls = if tls.enabled {
            let cert_file = tls.cert_file.ok_or(ConfigError::TlsIncomplete {
                what: "certificate file",
                key: "cert_file",
                flag: "cert-file",
                env: "CERT_FILE",
            })?;
            let key_file = tls.key_file.ok_or(ConfigError::TlsIncomplete {
                what: "private key file",
                key: "key_file",
                flag: "key-file",
                env: "KEY_FILE",
            })?;
            Some(TlsSettings {
                port: tls.port.unwrap_or(DEFAULT_TLS_PORT),
                cert_file,
                key_file,
            })
        } else {
            None
        };
        Ok(settings)
    }
}

fn non_empty_path(path: &Path) -> Option<PathBuf> {
    (!path.as_os_str().is_empty()).then(|| path.to_path_buf())
}

/// Reads a configuration file's text into `settings`, returning the TLS part for
/// the caller to complete and validate.
fn apply_json(settings: &mut Settings, text: &str, path: &Path) -> Result<FileTls, ConfigError> {
    let root: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: json_message(&e),
    })?;
    let reader = Reader { path };
    let root = reader.object(&root, "(top level)")?;
    let mut tls = FileTls::default();

    if let Some(db) = reader.child_object(root, "database", "database")? {
        apply_database(settings, &reader, db)?;
    }
    if let Some(server) = reader.child_object(root, "server", "server")? {
        if let Some(v) = reader.string(server, "address", "server.address")? {
            settings.address = v.trim().parse().map_err(|_| {
                reader.wrong(
                    "server.address",
                    "an IP address such as 0.0.0.0",
                    server.get("address"),
                )
            })?;
        }
        if let Some(v) = reader.port(server, "port", "server.port")? {
            settings.port = v;
        }
        if let Some(v) = reader.unsigned(server, "max_clients", "server.max_clients")? {
            settings.max_clients = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(t) = reader.child_object(server, "tls", "server.tls")? {
            tls.enabled = reader
                .boolean(t, "enabled", "server.tls.enabled")?
                .unwrap_or(false);
            tls.port = reader.port(t, "port", "server.tls.port")?;
            tls.cert_file = reader
                .string(t, "cert_file", "server.tls.cert_file")?
                .and_then(|s| non_empty_path(Path::new(s)));
            tls.key_file = reader
                .string(t, "key_file", "server.tls.key_file")?
                .and_then(|s| non_empty_path(Path::new(s)));
        }
        if let Some(logs) = reader.child_object(server, "logs", "server.logs")? {
            if let Some(v) = reader.string(logs, "level", "server.logs.level")? {
                settings.log_level = LogLevel::parse(v);
            }
            if let Some(v) = reader.string(logs, "log_file", "server.logs.log_file")? {
                settings.log_file = non_empty_path(Path::new(v));
            }
        }
        if let Some(v) = reader.string(server, "default_motd", "server.default_motd")? {
            v.clone_into(&mut settings.default_motd);
        }
        if let Some(v) = reader.string(server, "runtime", "server.runtime")? {
            settings.runtime = RuntimeKind::from_str(v.trim(), true).map_err(|_| {
                reader.wrong(
                    "server.runtime",
                    "\"tokio\" or \"smol\"",
                    server.get("runtime"),
                )
            })?;
        }
        if let Some(t) = reader.child_object(server, "timeouts", "server.timeouts")? {
            let fields: [(&str, &str, &mut Duration); 5] = [
                ("idle", "server.timeouts.idle", &mut settings.idle_timeout),
                (
                    "verification",
                    "server.timeouts.verification",
                    &mut settings.verification_timeout,
                ),
                (
                    "token",
                    "server.timeouts.token",
                    &mut settings.token_lifetime,
                ),
                (
                    "tls_handshake",
                    "server.timeouts.tls_handshake",
                    &mut settings.tls_handshake_timeout,
                ),
                (
                    "shutdown_grace",
                    "server.timeouts.shutdown_grace",
                    &mut settings.shutdown_grace,
                ),
            ];
            for (name, key, field) in fields {
                if let Some(v) = reader.seconds(t, name, key)? {
                    *field = v;
                }
            }
        }
        if let Some(l) = reader.child_object(server, "limits", "server.limits")? {
            apply_limits(settings, &reader, l)?;
        }
    }
    Ok(tls)
}

/// The optional `server.limits` object.
fn apply_limits(
    settings: &mut Settings,
    reader: &Reader<'_>,
    limits: &Map<String, Value>,
) -> Result<(), ConfigError> {
    let counts: [(&str, &str, &mut usize); 2] = [
        (
            "max_queued_bytes",
            "server.limits.max_queued_bytes",
            &mut settings.max_queued_bytes,
        ),
        (
            "max_connections_per_ip",
            "server.limits.max_connections_per_ip",
            &mut settings.max_connections_per_ip,
        ),
    ];
    for (name, key, field) in counts {
        if let Some(v) = reader.unsigned(limits, name, key)? {
            *field = usize::try_from(v).unwrap_or(usize::MAX);
        }
    }
    let durations: [(&str, &str, &mut Duration); 3] = [
        (
            "write_timeout",
            "server.limits.write_timeout",
            &mut settings.write_timeout,
        ),
        (
            "packet_timeout",
            "server.limits.packet_timeout",
            &mut settings.packet_timeout,
        ),
        (
            "login_timeout",
            "server.limits.login_timeout",
            &mut settings.login_timeout,
        ),
    ];
    for (name, key, field) in durations {
        if let Some(v) = reader.seconds(limits, name, key)? {
            *field = v;
        }
    }
    let rates: [(&str, &str, &mut u32); 2] = [
        (
            "registrations_per_minute",
            "server.limits.registrations_per_minute",
            &mut settings.registrations_per_minute,
        ),
        (
            "logins_per_minute",
            "server.limits.logins_per_minute",
            &mut settings.logins_per_minute,
        ),
    ];
    for (name, key, field) in rates {
        if let Some(v) = reader.unsigned32(limits, name, key)? {
            *field = v;
        }
    }
    Ok(())
}

fn apply_database(
    settings: &mut Settings,
    reader: &Reader<'_>,
    db: &Map<String, Value>,
) -> Result<(), ConfigError> {
    // Keys of the original that have no meaning here are accepted and ignored.
    reader.boolean(db, "enable_logs", "database.enable_logs")?;
    reader.string(db, "log_file", "database.log_file")?;

    if let Some(url) = reader.string(db, "url", "database.url")? {
        url.clone_into(&mut settings.database_url);
        return Ok(());
    }
    let Some(address) = reader.string(db, "address", "database.address")? else {
        return Ok(());
    };
    let port = reader.port(db, "port", "database.port")?.unwrap_or(3306);
    let user = reader.string(db, "user", "database.user")?;
    let password = reader.string(db, "password", "database.password")?;
    let name = reader
        .string(db, "db_name", "database.db_name")?
        .ok_or_else(|| ConfigError::Missing {
            path: reader.path.to_path_buf(),
            key: "database.db_name",
        })?;
    let host = if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.to_owned()
    };
    let credentials = match (user, password) {
        (Some(u), Some(p)) if !p.is_empty() => format!("{}:{}@", encode(u), encode(p)),
        (Some(u), _) => format!("{}@", encode(u)),
        (None, _) => String::new(),
    };
    settings.database_url = format!("mysql://{credentials}{host}:{port}/{}", encode(name));
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn json_message(error: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; the caller reports those itself.
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Typed access to JSON values, producing errors that name the key.
struct Reader<'a> {
    path: &'a Path,
}

impl Reader<'_> {
    fn wrong(&self, key: &str, expected: &'static str, found: Option<&Value>) -> ConfigError {
        ConfigError::WrongType {
            path: self.path.to_path_buf(),
            key: key.to_owned(),
            expected,
            found: describe(found),
        }
    }

    fn object<'v>(
        &self,
        value: &'v Value,
        key: &str,
    ) -> Result<&'v Map<String, Value>, ConfigError> {
        value
            .as_object()
            .ok_or_else(|| self.wrong(key, "an object", Some(value)))
    }

    /// A key's value, treating JSON `null` like an absent key (as Go does).
    fn get<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
        map.get(name).filter(|v| !v.is_null())
    }

    fn child_object<'v>(
        &self,
        map: &'v Map<String, Value>,
        name: &str,
        key: &str,
    ) -> Result<Option<&'v Map<String, Value>>, ConfigError> {
        Self::get(map, name)
            .map(|v| self.object(v, key))
            .transpose()
    }

    fn string<'v>(
        &self,
        map: &'v Map<String, Value>,
        name: &str,
        key: &str,
    ) -> Result<Option<&'v str>, ConfigError> {
        Self::get(map, name)
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| self.wrong(key, "a string", Some(v)))
            })
            .transpose()
    }

    fn boolean(
        &self,
        map: &Map<String, Value>,
        name: &str,
        key: &str,
    ) -> Result<Option<bool>, ConfigError> {
        Self::get(map, name)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| self.wrong(key, "true or false", Some(v)))
            })
            .transpose()
    }

    fn unsigned(
        &self,
        map: &Map<String, Value>,
        name: &str,
        key: &str,
    ) -> Result<Option<u64>, ConfigError> {
        Self::get(map, name)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| self.wrong(key, "a whole number of at least 0", Some(v)))
            })
            .transpose()
    }

    fn unsigned32(
        &self,
        map: &Map<String, Value>,
        name: &str,
        key: &str,
    ) -> Result<Option<u32>, ConfigError> {
        Self::get(map, name)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| self.wrong(key, "a whole number from 0 to 4294967295", Some(v)))
            })
            .transpose()
    }

    fn port(
        &self,
        map: &Map<String, Value>,
        name: &str,
        key: &str,
    ) -> Result<Option<u16>, ConfigError> {
        Self::get(map, name)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| self.wrong(key, "a port number from 0 to 65535", Some(v)))
            })
            .transpose()
    }

    fn seconds(
        &self,
        map: &Map<String, Value>,
        name: &str,
        key: &str,
    ) -> Result<Option<Duration>, ConfigError> {
        Self::get(map, name)
            .map(|v| {
                v.as_f64()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or_else(|| self.wrong(key, "a number of seconds of at least 0", Some(v)))
            })
            .transpose()
    }
}

/// A short description of a JSON value for error messages.
fn describe(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "nothing".to_owned();
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut shown = value.to_string();
    if shown.chars().count() > 40 {
        shown = shown.chars().take(37).collect::<String>() + "...";
    }
    format!("{kind} {shown}")
}
