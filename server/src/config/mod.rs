//! Server configuration: defaults, `config.json`, `GOCHAT_*` variables and flags.
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
//! clap reads layers 3 and 4 together (a flag beats its variable) into an
//! [`Options`]; the file gives another [`Options`]; [`Options::over`] stacks them
//! and [`Options::resolve`] fills the rest with the defaults ([`Cli::settings`]
//! does all of it).
//!
//! Unlike the original, a malformed file or a value of the wrong type is an error
//! that names the file, the key and the value, instead of being silently ignored.
//! The original's single-dash flags (`-config FILE`, `-shell`) keep working: see
//! [`normalize_args`].
//!
//! # The modules
//!
//! - `settings`: the table of every setting, one entry each;
//! - `define`: the macro that makes [`Settings`] and [`Options`] from the table;
//! - `value`: the types a setting can have, read from text (clap) and JSON (serde);
//! - `kinds`: the settings that are a choice among names;
//! - `file`: finding, parsing and reading keys of the configuration file;
//! - `database`: the original's `database.*` keys as a `mysql://` URL (through
//!   sqlx's `MySqlConnectOptions`), and [`redact_url`];
//! - `tls`: [`TlsSettings`] from its inputs;
//! - `cli`: [`Cli`], the subcommands and the original's flags;
//! - `error`: [`ConfigError`].
//!
//! # Adding a setting
//!
//! Add one entry to the table in `settings.rs`; the field, its default, its flag,
//! its variable, its file key, its `--help` line (with the default, as
//! [`Value::shown`] writes it) and its place in `Debug` all come from it. For example, a `cluster` object in `config.json`, with flags
//! `--cluster-url` / `GOCHAT_CLUSTER_URL` and `--node-id` / `GOCHAT_NODE_ID`:
//!
//! ```text
//! /// URL of the cluster this server joins; `None` runs alone.
//! cluster_url: Option<String> = None => {
//!     key: "cluster.url",
//!     help: "URL of the cluster to join; none runs alone",
//!     arg: (long, env = "GOCHAT_CLUSTER_URL", value_name = "URL"),
//!     show: redact_url,
//! }
//! /// This server's id in its cluster.
//! node_id: Option<String> = None => {
//!     key: "cluster.node_id",
//!     help: "This server's id in the cluster",
//!     arg: (long, env = "GOCHAT_NODE_ID", value_name = "ID"),
//! }
//! ```
//!
//! Then document it in `docs/SERVER.md`. Only a setting of a type `value.rs`
//! does not know yet needs more: an `impl Value` there (and an `impl Input` for a
//! new raw form, with the wording of its file errors). A setting made from several
//! inputs goes in the table's `derived` section, its inputs in `inputs`, as the TLS
//! listener does.

mod cli;
mod database;
mod define;
mod error;
mod file;
mod kinds;
mod settings;
mod tls;
mod value;

pub use cli::{AdminCommand, Cli, Command, normalize_args};
pub use database::redact_url;
pub use error::ConfigError;
pub use file::DEFAULT_CONFIG_FILE;
pub use kinds::{LogLevel, LogRotation, RuntimeKind};
pub use settings::{DEFAULT_DATABASE_URL, DEFAULT_PORT, Options, Settings};
pub use tls::{DEFAULT_TLS_PORT, TlsSettings};
pub use value::{Address, Input, Seconds, Value, help_with_default};
