//! Slash commands: the table the help page is made from, and [`parse`],
//! which turns a typed line into a [`Command`] (pure; no state needed).

use gochat_proto::{AdminCommand, Hook, Username};

/// Every command: name, arguments, what it does.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("version", "", "Shows the client and protocol versions."),
    (
        "servers",
        "",
        "Lists the stored servers (hidden ones marked).",
    ),
    ("buffers", "", "Lists the buffers of the current server."),
    (
        "clear",
        "",
        "Removes the System lines of the current buffer.",
    ),
    (
        "config",
        "",
        "Shows the TUI and server settings that /set changes.",
    ),
    (
        "set",
        "<option> <value>",
        "Changes a setting: TUI.* at once, Server.* (stored) while offline.",
    ),
    (
        "connect",
        "[-noverify] [-noidle]",
        "Connects to the current server (-noverify skips the TLS certificate check; keepalives are always sent, so -noidle changes nothing).",
    ),
    (
        "register",
        "<username>",
        "Creates an account on the server (asks for a password twice).",
    ),
    (
        "deregister",
        "<username>",
        "Deletes the logged-in account from the server and this client.",
    ),
    (
        "import",
        "<username> <path>",
        "Adds an account from a private key file (absolute, or relative to import/).",
    ),
    (
        "export",
        "<username>",
        "Writes an account's private key to export/<username>.priv.",
    ),
    (
        "login",
        "<username>",
        "Logs in (asks for the account's password).",
    ),
    ("logout", "", "Logs out; the connection stays open."),
    ("disconnect", "", "Closes the connection to the server."),
    (
        "users",
        "<remote|local> <all|online|server> [-perms]",
        "Lists users: remote all/online (with -perms their levels), local all/server.",
    ),
    (
        "subscribe",
        "<hook>",
        "Subscribes to a hook: all, new_login, new_logout, duplicated_session, permissions_change.",
    ),
    ("unsubscribe", "<hook>", "Unsubscribes from a hook."),
    (
        "admin",
        "<op> <args...>",
        "Admin operations: shutdown <minutes>, broadcast <text>, ban <user>, kick <user>, setperms <user> <level>, motd <text>.",
    ),
    (
        "recover",
        "<username> [-cleanup]",
        "Exports the key and history of an account of a deleted server to export/.",
    ),
    (
        "msg",
        "<user> <text>",
        "Opens the conversation with a user and sends a text.",
    ),
    (
        "search",
        "[-all] <text>",
        "Searches the buffer's whole history (with -all, every conversation of the account on this server) and lists the messages that hold the text, highlighted, in the Search results buffer (Ctrl-F asks for the text).",
    ),
    ("help", "", "Shows this page."),
];

/// Which users `/users` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsersQuery {
    /// Every user of the server.
    RemoteAll {
        /// With permission levels.
        perms: bool,
    },
    /// The users online.
    RemoteOnline {
        /// With permission levels.
        perms: bool,
    },
    /// Every local account, of every server.
    LocalAll,
    /// The local accounts of the current server.
    LocalServer,
}

/// A parsed slash command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `/version`
    Version,
    /// `/servers`
    Servers,
    /// `/buffers`
    Buffers,
    /// `/clear`
    Clear,
    /// `/config`
    Config,
    /// `/set <option> <value>`
    Set {
        /// Option name (case-sensitive).
        option: String,
        /// The value (the rest of the line).
        value: String,
    },
    /// `/connect [-noverify] [-noidle]`
    Connect {
        /// Skip certificate verification.
        noverify: bool,
    },
    /// `/register <username>`
    Register(String),
    /// `/deregister <username>`
    Deregister(String),
    /// `/import <username> <path>`
    Import {
        /// The new account's name.
        username: String,
        /// The key file as typed.
        path: String,
    },
    /// `/export <username>`
    Export(String),
    /// `/login <username>`
    Login(String),
    /// `/logout`
    Logout,
    /// `/disconnect`
    Disconnect,
    /// `/users ...`
    Users(UsersQuery),
    /// `/subscribe <hook>`
    Subscribe(Hook),
    /// `/unsubscribe <hook>`
    Unsubscribe(Hook),
    /// `/admin <op> <args...>`
    Admin(AdminCommand),
    /// `/recover <username> [-cleanup]`
    Recover {
        /// The account.
        username: String,
        /// Delete it afterwards.
        cleanup: bool,
    },
    /// `/msg <user> <text>`
    Msg {
        /// The recipient.
        to: String,
        /// The text.
        text: String,
    },
    /// `/search [-all] <text>`
    Search {
        /// Every conversation, not only the buffer on screen.
        all: bool,
        /// What to look for.
        query: String,
    },
    /// `/help`
    Help,
}

/// Why a line is not a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Only `/`.
    Empty,
    /// No such command.
    Unknown(String),
    /// Too few arguments: the command and its usage.
    Usage(&'static str, &'static str),
    /// A bad argument: the command and why.
    Invalid(&'static str, String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty command given"),
            ParseError::Unknown(_) => f.write_str("invalid command given"),
            ParseError::Usage(name, usage) => {
                write!(
                    f,
                    "Running {name}: invalid number of arguments: /{name} {usage}"
                )
            }
            ParseError::Invalid(name, why) => write!(f, "Running {name}: {why}"),
        }
    }
}

/// The hook named as in the original shell (`all`, `new_login`, ...).
pub fn hook_by_name(name: &str) -> Option<Hook> {
    Some(match name.to_ascii_lowercase().as_str() {
        "all" => Hook::All,
        "new_login" => Hook::NewLogin,
        "new_logout" => Hook::NewLogout,
        "duplicated_session" => Hook::DupSess,
        "permissions_change" => Hook::PermsChg,
        _ => return None,
    })
}

/// Parses `line` (starting with `/`). `now` (Unix seconds) dates
/// `/admin shutdown <minutes>`.
pub fn parse(line: &str, now: i64) -> Result<Command, ParseError> {
    let body = line.strip_prefix('/').unwrap_or(line);
    let (name, rest) = split_word(body);
    if name.is_empty() {
        return Err(ParseError::Empty);
    }
    let lower = name.to_ascii_lowercase();
    let Some(&(name, usage, _)) = COMMANDS.iter().find(|(n, _, _)| *n == lower) else {
        return Err(ParseError::Unknown(name.to_owned()));
    };
    let args: Vec<&str> = rest.split_whitespace().collect();
    let need = usage
        .split_whitespace()
        .filter(|a| a.starts_with('<'))
        .count();
    if args.len() < need {
        return Err(ParseError::Usage(name, usage));
    }
    let arg = |i: usize| args.get(i).map(|s| (*s).to_owned()).unwrap_or_default();
    let flag = |f: &str| args.iter().any(|a| a.eq_ignore_ascii_case(f));
    Ok(match name {
        "version" => Command::Version,
        "servers" => Command::Servers,
        "buffers" => Command::Buffers,
        "clear" => Command::Clear,
        "config" => Command::Config,
        "set" => Command::Set {
            option: arg(0),
            value: split_word(rest.trim_start()).1.trim().to_owned(),
        },
        "connect" => Command::Connect {
            noverify: flag("-noverify"),
        },
        "register" => Command::Register(arg(0)),
        "deregister" => Command::Deregister(arg(0)),
        "import" => {
            let path = split_word(rest.trim_start()).1.trim().to_owned();
            Command::Import {
                username: arg(0),
                path,
            }
        }
        "export" => Command::Export(arg(0)),
        "login" => Command::Login(arg(0)),
        "logout" => Command::Logout,
        "disconnect" => Command::Disconnect,
        "users" => Command::Users(users_query(&arg(0), &arg(1), flag("-perms"))?),
        "subscribe" | "unsubscribe" => {
            let hook = hook_by_name(&arg(0))
                .ok_or_else(|| ParseError::Invalid(name, "invalid hook provided".into()))?;
            if name == "subscribe" {
                Command::Subscribe(hook)
            } else {
                Command::Unsubscribe(hook)
            }
        }
        "admin" => Command::Admin(admin(rest, now)?),
        "recover" => Command::Recover {
            username: arg(0),
            cleanup: flag("-cleanup"),
        },
        "msg" => {
            let text = split_word(rest.trim_start()).1.to_owned();
            if text.trim().is_empty() {
                return Err(ParseError::Usage(name, usage));
            }
            Command::Msg { to: arg(0), text }
        }
        "search" => {
            let body = rest.trim();
            let (first, tail) = split_word(body);
            let (all, query) = if first.eq_ignore_ascii_case("-all") {
                (true, tail.trim())
            } else {
                (false, body)
            };
            if query.is_empty() {
                return Err(ParseError::Usage(name, usage));
            }
            Command::Search {
                all,
                query: query.to_owned(),
            }
        }
        _ => Command::Help,
    })
}

/// The first word of `s` and what follows it (after one separating space).
fn split_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => {
            let rest = &s[i..];
            let skip = rest.chars().next().map_or(0, char::len_utf8);
            (&s[..i], &rest[skip..])
        }
        None => (s, ""),
    }
}

fn users_query(place: &str, which: &str, perms: bool) -> Result<UsersQuery, ParseError> {
    match (
        place.to_ascii_lowercase().as_str(),
        which.to_ascii_lowercase().as_str(),
    ) {
        ("remote", "all") => Ok(UsersQuery::RemoteAll { perms }),
        ("remote", "online") => Ok(UsersQuery::RemoteOnline { perms }),
        ("local", "all") => Ok(UsersQuery::LocalAll),
        ("local", "server") => Ok(UsersQuery::LocalServer),
        _ => Err(ParseError::Invalid(
            "users",
            "provided argument is incorrect".into(),
        )),
    }
}

fn username(text: &str) -> Result<Username, ParseError> {
    Username::new(&text.to_ascii_lowercase())
        .map_err(|e| ParseError::Invalid("admin", format!("invalid username: {e}")))
}

fn admin(rest: &str, now: i64) -> Result<AdminCommand, ParseError> {
    const USAGE: &str = "<op> <args...>";
    let (op, tail) = split_word(rest.trim_start());
    let text = tail.trim();
    let args: Vec<&str> = text.split_whitespace().collect();
    let first = args
        .first()
        .copied()
        .ok_or(ParseError::Usage("admin", USAGE))?;
    let bad = |why: &str| ParseError::Invalid("admin", why.to_owned());
    Ok(match op.to_ascii_lowercase().as_str() {
        "shutdown" => {
            let minutes: i64 = first
                .parse()
                .map_err(|_| bad("the delay must be a whole number of minutes"))?;
            if minutes < 0 {
                return Err(bad("the delay must be a whole number of minutes"));
            }
            AdminCommand::Shutdown {
                stamp: now.saturating_add(minutes.saturating_mul(60)),
            }
        }
        "broadcast" => AdminCommand::Broadcast {
            text: bytes::Bytes::from(text.to_owned()),
        },
        "motd" => AdminCommand::Motd {
            text: bytes::Bytes::from(text.to_owned()),
        },
        "ban" => AdminCommand::Dereg {
            username: username(first)?,
        },
        "kick" => AdminCommand::Kick {
            username: username(first)?,
        },
        "setperms" => {
            let level = args
                .get(1)
                .ok_or(ParseError::Usage("admin", "setperms <user> <level>"))?;
            let permission: u8 = level
                .parse()
                .map_err(|_| bad("the level must be 0, 1 or 2"))?;
            AdminCommand::ChangePerms {
                username: username(first)?,
                permission,
            }
        }
        _ => return Err(bad("invalid admin operation")),
    })
}
