//! The settings table: every setting of the server, each in one entry.
//!
//! An entry gives the field of [`Settings`] (doc, type, default), its key in
//! `config.json`, its `--help` line and its flag with its `GOCHAT_*` variable; the
//! `define_settings!` macro (see `define.rs`) makes the struct, the clap options,
//! the file reader and the layering from it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::database::redact_url;
use super::define::define_settings;
use super::kinds::{LogLevel, LogRotation, RuntimeKind};
use super::tls::{self, DEFAULT_TLS_PORT, TlsSettings};

/// Default TCP port of the plain listener.
pub const DEFAULT_PORT: u16 = 9037;
/// Default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://gochat.db";

define_settings! {
    settings {
        /// sqlx database URL (`sqlite://…`, `mysql://…` or `postgres://…`).
        database_url: String = DEFAULT_DATABASE_URL.to_owned() => {
            key: "database.url",
            help: "Database URL: sqlite://FILE, mysql://USER:PASS@HOST:PORT/DB or postgres://USER:PASS@HOST:PORT/DB",
            arg: (long, env = "GOCHAT_DATABASE_URL", value_name = "URL"),
            show: redact_url,
        }
        /// Address both listeners bind to.
        address: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED) => {
            key: "server.address",
            help: "IP address both listeners bind to",
            arg: (long, env = "GOCHAT_ADDRESS", value_name = "IP"),
        }
        /// Port of the plain TCP listener.
        port: u16 = DEFAULT_PORT => {
            key: "server.port",
            help: "Port of the plain TCP listener",
            arg: (long, env = "GOCHAT_PORT", value_name = "PORT"),
        }
        /// Maximum simultaneous TCP connections over both listeners; 0 means no limit.
        max_clients: usize = 0 => {
            key: "server.max_clients",
            help: "Maximum simultaneous connections, 0 for no limit",
            arg: (long, env = "GOCHAT_MAX_CLIENTS", value_name = "N"),
        }
        /// Log verbosity.
        log_level: LogLevel = LogLevel::Info => {
            key: "server.logs.level",
            help: "Log level: ALL, INFO, ERROR or FATAL, case-insensitive; anything else means FATAL",
            arg: (long, env = "GOCHAT_LOG_LEVEL", value_name = "LEVEL"),
        }
        /// File the log is appended to; `None` logs to stdout.
        log_file: Option<PathBuf> = None => {
            key: "server.logs.log_file",
            help: "Append the log to this file (parent folders are created) instead of stdout",
            arg: (long, env = "GOCHAT_LOG_FILE", value_name = "PATH"),
        }
        /// Whether the log file starts afresh each day (only with `log_file`).
        log_rotation: LogRotation = LogRotation::Never => {
            key: "server.logs.rotation",
            help: "Start a new log file each day (UTC), dated before its extension (server.2025-06-30.log); only with --log-file",
            arg: (long, env = "GOCHAT_LOG_ROTATION", value_name = "WHEN", value_enum),
        }
        /// Message of the day sent in HELLO until an owner changes it.
        default_motd: String = String::new() => {
            key: "server.default_motd",
            help: "Initial message of the day",
            arg: (long = "motd", env = "GOCHAT_MOTD", value_name = "TEXT"),
        }
        /// Async runtime to run on.
        runtime: RuntimeKind = RuntimeKind::Tokio => {
            key: "server.runtime",
            help: "Async runtime",
            arg: (long, env = "GOCHAT_RUNTIME", value_enum),
        }
        /// A connection with no traffic for this long is closed (ERR_IDLE).
        idle_timeout: Duration = Duration::from_secs(25 * 60) => {
            key: "server.timeouts.idle",
            help: "Close connections idle for this many seconds",
            arg: (long, env = "GOCHAT_IDLE_TIMEOUT", value_name = "SECONDS"),
        }
        /// How long a login challenge waits for its VERIF.
        verification_timeout: Duration = Duration::from_secs(2 * 60) => {
            key: "server.timeouts.verification",
            help: "Seconds a login challenge waits for VERIF",
            arg: (long, env = "GOCHAT_VERIFICATION_TIMEOUT", value_name = "SECONDS"),
        }
        /// How long a TLS reusable token stays valid after logout or disconnect.
        token_lifetime: Duration = Duration::from_secs(30 * 60) => {
            key: "server.timeouts.token",
            help: "Seconds a TLS reusable token stays valid after logout",
            arg: (long, env = "GOCHAT_TOKEN_LIFETIME", value_name = "SECONDS"),
        }
        /// Deadline for the TLS handshake and the HELLO that follows.
        tls_handshake_timeout: Duration = Duration::from_secs(20) => {
            key: "server.timeouts.tls_handshake",
            help: "Seconds allowed for the TLS handshake and HELLO",
            arg: (long, env = "GOCHAT_TLS_HANDSHAKE_TIMEOUT", value_name = "SECONDS"),
        }
        /// How long a graceful stop waits for connections to close.
        shutdown_grace: Duration = Duration::from_secs(5) => {
            key: "server.timeouts.shutdown_grace",
            help: "Seconds a graceful stop waits for connections to close",
            arg: (long, env = "GOCHAT_SHUTDOWN_GRACE", value_name = "SECONDS"),
        }
        /// Bytes of messages queued for one connection; past it, new messages for that
        /// user go to the offline store (the sender still gets OK).
        max_queued_bytes: usize = 1024 * 1024 => {
            key: "server.limits.max_queued_bytes",
            help: "Bytes of messages queued for one connection before new ones go to the offline store",
            arg: (long, env = "GOCHAT_MAX_QUEUED_BYTES", value_name = "BYTES"),
        }
        /// A connection whose socket accepts no byte for this long is closed and what is
        /// queued for it stored; zero disables the deadline.
        write_timeout: Duration = Duration::from_secs(30) => {
            key: "server.limits.write_timeout",
            help: "Close a connection whose socket accepts no byte for this many seconds, 0 for never",
            arg: (long, env = "GOCHAT_WRITE_TIMEOUT", value_name = "SECONDS"),
        }
        /// A packet whose first byte has arrived must be complete within this long, or
        /// the connection gets ERR IDLE and is closed; zero disables the deadline.
        packet_timeout: Duration = Duration::from_secs(10) => {
            key: "server.limits.packet_timeout",
            help: "Seconds a started packet has to be complete (else ERR IDLE), 0 for no limit",
            arg: (long, env = "GOCHAT_PACKET_TIMEOUT", value_name = "SECONDS"),
        }
        /// A connection must log in within this long of its admission or of its logout,
        /// or it gets ERR IDLE and is closed; zero disables the deadline.
        login_timeout: Duration = Duration::from_secs(5 * 60) => {
            key: "server.limits.login_timeout",
            help: "Seconds a connection has to log in after admission or logout (else ERR IDLE), 0 for no limit",
            arg: (long, env = "GOCHAT_LOGIN_TIMEOUT", value_name = "SECONDS"),
        }
        /// Simultaneous connections from one address (IPv6: one /64), counting those
        /// waiting in the `max_clients` line; 0 means no limit.
        max_connections_per_ip: usize = 100 => {
            key: "server.limits.max_connections_per_ip",
            help: "Simultaneous connections from one address (IPv6: one /64), waiting ones included, 0 for no limit",
            arg: (long, env = "GOCHAT_MAX_CONNECTIONS_PER_IP", value_name = "N"),
        }
        /// REG requests allowed per address per minute; 0 means no limit.
        registrations_per_minute: u32 = 100 => {
            key: "server.limits.registrations_per_minute",
            help: "REG requests per address per minute, 0 for no limit",
            arg: (long, env = "GOCHAT_REGISTRATIONS_PER_MINUTE", value_name = "N"),
        }
        /// NATS server that joins this node to a cluster (`nats://HOST:PORT`); `None`
        /// runs a single server.
        cluster_url: Option<String> = None => {
            key: "cluster.url",
            help: "Join a cluster through the NATS server at this URL (nats://HOST:PORT); needs a shared MariaDB/MySQL or PostgreSQL database",
            arg: (long, env = "GOCHAT_CLUSTER_URL", value_name = "URL", help_heading = "Cluster"),
        }
        /// This node's name in the cluster; `None` takes the host name.
        node_id: Option<String> = None => {
            key: "cluster.node_id",
            help: "This node's name in the cluster (letters, digits, - and _) [default: the host name]",
            arg: (long, env = "GOCHAT_NODE_ID", value_name = "NAME", help_heading = "Cluster"),
        }
        /// LOGIN requests (challenge or token) allowed per address per minute; 0 means
        /// no limit.
        logins_per_minute: u32 = 300 => {
            key: "server.limits.logins_per_minute",
            help: "LOGIN requests per address per minute, 0 for no limit",
            arg: (long, env = "GOCHAT_LOGINS_PER_MINUTE", value_name = "N"),
        }
        /// Whether every connection starts with a PROXY protocol header (v1 or
        /// v2) from a load balancer, whose client address then counts for the
        /// per-address limits, the logs and DUPSESS.
        proxy_protocol: bool = false => {
            key: "server.proxy_protocol",
            help: "Every connection starts with a PROXY protocol header (v1 or v2, as HAProxy's send-proxy sends) naming the client; only behind such a load balancer",
            arg: (
                long,
                env = "GOCHAT_PROXY_PROTOCOL",
                value_name = "BOOL",
                num_args = 0..=1,
                require_equals = true,
                default_missing_value = "true",
                value_parser = clap::builder::BoolishValueParser::new()
            ),
        }
    }
    derived {
        /// TLS listener settings, `None` when TLS is disabled.
        tls: Option<TlsSettings> = None => {
            from: tls::resolve,
        }
    }
    inputs {
        config: PathBuf => {
            help: "JSON configuration file in the original's format [default: ./config.json if present]",
            arg: (long, env = "GOCHAT_CONFIG", value_name = "PATH"),
        }
        tls_enabled: bool => {
            key: "server.tls.enabled",
            help: "Enable the TLS listener (needs --cert-file and --key-file); --tls=false disables it",
            arg: (
                long = "tls",
                help_heading = "TLS listener",
                env = "GOCHAT_TLS",
                value_name = "BOOL",
                num_args = 0..=1,
                require_equals = true,
                default_missing_value = "true",
                value_parser = clap::builder::BoolishValueParser::new()
            ),
        }
        no_tls: bool => {
            help: "Disable the TLS listener even if the configuration file, GOCHAT_TLS or --tls enables it",
            arg: (long, num_args = 0, default_missing_value = "true", help_heading = "TLS listener"),
        }
        tls_port: u16 => {
            key: "server.tls.port",
            help: "Port of the TLS listener",
            shown: DEFAULT_TLS_PORT,
            arg: (long, env = "GOCHAT_TLS_PORT", value_name = "PORT", help_heading = "TLS listener"),
        }
        cert_file: PathBuf => {
            key: "server.tls.cert_file",
            help: "PEM certificate chain for TLS",
            arg: (long, env = "GOCHAT_CERT_FILE", value_name = "PATH", help_heading = "TLS listener"),
        }
        key_file: PathBuf => {
            key: "server.tls.key_file",
            help: "PEM private key for TLS",
            arg: (long, env = "GOCHAT_KEY_FILE", value_name = "PATH", help_heading = "TLS listener"),
        }
    }
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
