//! The command line: subcommands, the original's single-dash flags, and the
//! layering of the settings (defaults < file < `GOCHAT_*` variables < flags).

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};

use super::database;
use super::error::ConfigError;
use super::file::{self, ConfigFile};
use super::settings::{Options, Settings};

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

    /// Resolves the final settings: the flags and `GOCHAT_*` variables (which clap
    /// has already merged, a flag beating its variable) over the configuration
    /// file, over the defaults.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let from_file = match file::locate(self.options.config.as_deref()) {
            Some(path) => {
                let file = ConfigFile::load(&path)?;
                let mut layer = Options::from_file(&file)?;
                database::complete_url(&file, &mut layer.database_url)?;
                layer
            }
            None => Options::default(),
        };
        self.options.clone().over(from_file).resolve()
    }
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
