//! The admin database shell (the original's `-shell`), and the one-shot admin
//! operations behind `gochat-server admin …`.
//!
//! It works on the database directly, so it can run while the server runs; a
//! running server sees a new permission at the user's next login.
//!
//! Commands (names case-insensitive, usernames lowercased):
//! `SETOWNER <username>`, `CLEARCACHE <username>`, `HELP`, `EXIT`. End of input
//! leaves the shell cleanly.

use std::io::{self, BufRead, Write};

use crate::store::{Store, StoreError};

/// Printed when the shell starts.
pub const BANNER: &str = "Connected to server database, use HELP for information";

/// Printed after SETOWNER succeeds: a running server applies it at next login.
pub const OWNER_WARNING: &str = "[!] Warning: specified user must log in again to confirm changes";

/// Printed after every successful operation.
pub const COMPLETED: &str = "[-] Operation completed";

/// The HELP text: the original's three lines, plus HELP itself.
pub const HELP: &str = "SETOWNER <username>: Sets a user as owner of the server
CLEARCACHE <destination>: Clears the message cache of a user
HELP: Shows this information
EXIT: Exits the shell";

/// Permission level of an OWNER.
pub const OWNER_LEVEL: u8 = 2;

const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

/// Why a shell command or admin operation failed. The text is what follows
/// `[X] Problem occurred: `.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    /// The command name is unknown.
    #[error("invalid command given")]
    InvalidCommand,
    /// The command needs an argument that is missing.
    #[error("too few arguments given")]
    TooFewArguments,
    /// The command was given more arguments than it takes.
    #[error("too many arguments given")]
    TooManyArguments,
    /// No account has that name.
    #[error("user not found")]
    UserNotFound,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`run_command`] did with one line.
#[derive(Debug)]
pub enum ShellOutcome {
    /// The line was blank: nothing happened.
    Nothing,
    /// The command ran and succeeded.
    Completed,
    /// The command failed; the error was printed.
    Failed(ShellError),
    /// The line was EXIT: the shell should stop.
    Exit,
    /// Writing to the output failed.
    OutputFailed(io::Error),
}

/// The prompt shown before each command: `database@<location> > `.
pub fn prompt(database_url: &str) -> String {
    format!("database@{} > ", database_location(database_url))
}

/// Where a database URL points, for display: the SQLite file (or `:memory:`), or
/// `host:port` for MySQL/MariaDB and PostgreSQL. Credentials and options are
/// never shown.
pub fn database_location(url: &str) -> String {
    let url = url.trim();
    if url == ":memory:" {
        return url.to_owned();
    }
    let Some((scheme, rest)) = url.split_once(':') else {
        return url.to_owned();
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() || rest.contains("mode=memory") {
                ":memory:".to_owned()
            } else {
                path.to_owned()
            }
        }
        "mysql" | "mariadb" | "postgres" | "postgresql" => {
            let default_port =
                if scheme.eq_ignore_ascii_case("mysql") || scheme.eq_ignore_ascii_case("mariadb") {
                    3306
                } else {
                    5432
                };
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = rest.get(..end).unwrap_or(rest);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            let has_port = match host.rsplit_once(']') {
                Some((_, after)) => after.starts_with(':'),
                None => host.contains(':'),
            };
            if has_port {
                host.to_owned()
            } else {
                format!("{host}:{default_port}")
            }
        }
        other => format!("{other} database"),
    }
}

/// Makes `username` an OWNER (permission 2). The running server applies it at
/// the user's next login.
pub async fn set_owner(store: &Store, username: &str) -> Result<(), ShellError> {
    let username = username.to_lowercase();
    if store.set_permission(&username, OWNER_LEVEL).await? {
        Ok(())
    } else {
        Err(ShellError::UserNotFound)
    }
}

/// Deletes every message cached for `username`; returns how many were deleted.
pub async fn clear_cache(store: &Store, username: &str) -> Result<u64, ShellError> {
    let username = username.to_lowercase();
    if store.user(&username).await?.is_none() {
        return Err(ShellError::UserNotFound);
    }
    Ok(store.clear_messages(&username).await?)
}

/// Runs one shell line, printing its result (or `[X] Problem occurred: …`) to `out`.
pub async fn run_command(store: &Store, line: &str, out: &mut impl Write) -> ShellOutcome {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return ShellOutcome::Nothing;
    };
    let args: Vec<&str> = words.collect();
    let written = match execute(store, name, &args).await {
        Ok(None) => return ShellOutcome::Exit,
        Ok(Some(lines)) => lines
            .iter()
            .try_for_each(|l| writeln!(out, "{l}"))
            .map(|()| ShellOutcome::Completed),
        Err(e) => writeln!(out, "[X] Problem occurred: {e}").map(|()| ShellOutcome::Failed(e)),
    };
    written.unwrap_or_else(ShellOutcome::OutputFailed)
}

/// Runs a command; `Ok(None)` means EXIT, `Ok(Some(lines))` the lines to print.
async fn execute(
    store: &Store,
    name: &str,
    args: &[&str],
) -> Result<Option<&'static [&'static str]>, ShellError> {
    match name.to_ascii_uppercase().as_str() {
        "EXIT" => Ok(None),
        "HELP" => Ok(Some(&[HELP])),
        "SETOWNER" => {
            set_owner(store, one_argument(args)?).await?;
            Ok(Some(&[OWNER_WARNING, COMPLETED]))
        }
        "CLEARCACHE" => {
            clear_cache(store, one_argument(args)?).await?;
            Ok(Some(&[COMPLETED]))
        }
        _ => Err(ShellError::InvalidCommand),
    }
}

fn one_argument<'a>(args: &[&'a str]) -> Result<&'a str, ShellError> {
    match args {
        [] => Err(ShellError::TooFewArguments),
        [one] => Ok(one),
        _ => Err(ShellError::TooManyArguments),
    }
}

/// Runs the shell until EXIT or end of input.
///
/// When `interactive`, prints the banner and a (cyan, unless `NO_COLOR` is set)
/// prompt before each line, as the original did; otherwise only results are
/// printed, which suits piped scripts. Returns an error only when reading input
/// or writing output fails; failed commands are reported and the shell goes on.
pub async fn run(
    store: &Store,
    database_url: &str,
    mut input: impl BufRead,
    mut output: impl Write,
    interactive: bool,
) -> io::Result<()> {
    let prompt = if !interactive {
        String::new()
    } else if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        prompt(database_url)
    } else {
        format!("{CYAN}{}{RESET}", prompt(database_url))
    };
    if interactive {
        writeln!(output, "{BANNER}")?;
    }
    let mut line = Vec::new();
    loop {
        if interactive {
            write!(output, "{prompt}")?;
        }
        output.flush()?;
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            if interactive {
                // Leave the terminal's cursor on a fresh line after Ctrl-D.
                writeln!(output)?;
            }
            break;
        }
        let text = String::from_utf8_lossy(&line);
        match run_command(store, &text, &mut output).await {
            ShellOutcome::Exit => break,
            ShellOutcome::OutputFailed(e) => return Err(e),
            ShellOutcome::Nothing | ShellOutcome::Completed | ShellOutcome::Failed(_) => {}
        }
    }
    output.flush()
}
