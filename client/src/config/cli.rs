//! The command-line flags (each also a `GOCHAT_*` variable), with the
//! original's single-dash spelling accepted.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

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
