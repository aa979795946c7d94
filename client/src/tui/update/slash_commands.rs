//! Running slash commands: checks that need the model (server, connection,
//! login), immediate output, password popups, and the tasks they start.

use std::path::PathBuf;

use gochat_proto::UserList;

use super::task_start::{here, start};
use super::{auto_start, config_command, navigation, searching, sending};
use crate::tui::commands::{self, Command, ParseError, UsersQuery};
use crate::tui::model::popup::{Prompt, Purpose, PwAction};
use crate::tui::model::{Link, Model, Sender};
use crate::tui::msg::{Effect, Tag, Task};

/// The client's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs a typed line starting with `/` (it goes to the command history,
/// whatever it is, unless it repeats the last one).
pub fn command_line(model: &mut Model, line: &str, fx: &mut Vec<Effect>) {
    if model.history.last().map(String::as_str) != Some(line) {
        model.history.push(line.to_owned());
    }
    match commands::parse(line, model.wall) {
        Ok(cmd) => run(model, cmd, fx),
        Err(e @ (ParseError::Empty | ParseError::Unknown(_))) => model.set_error(e.to_string()),
        Err(e) => model.say(e.to_string()),
    }
}

/// Why the current server cannot run a remote command, if it cannot.
fn need_remote(model: &Model) -> Result<(), &'static str> {
    if model.server().is_local() {
        Err("performing action on local server")
    } else {
        Ok(())
    }
}

fn need_online(model: &Model) -> Result<(), &'static str> {
    need_remote(model)?;
    if model.server().link == Link::Online {
        Ok(())
    } else {
        Err("not connected to a server")
    }
}

fn need_login(model: &Model) -> Result<(), &'static str> {
    need_online(model)?;
    if model.server().user.is_some() {
        Ok(())
    } else {
        Err("you are not logged in")
    }
}

fn ask_password(model: &mut Model, cmd: &'static str, title: &str, action: PwAction) {
    let ctx = here(model, cmd, Tag::Plain);
    model.popup = Some(Prompt::popup(
        title,
        true,
        Purpose::Password {
            ctx,
            action,
            first: None,
        },
    ));
}

/// Runs a parsed command.
pub fn run(model: &mut Model, cmd: Command, fx: &mut Vec<Effect>) {
    if let Err(e) = check(model, &cmd) {
        model.set_error(e);
        return;
    }
    match cmd {
        Command::Version => {
            model.say(format!("* Client TUI version: {VERSION}"));
            model.say("* Protocol version: v1");
        }
        Command::Servers => {
            let lines: Vec<String> = model
                .servers
                .iter()
                .filter_map(|s| {
                    let r = s.record.as_ref()?;
                    Some(format!(
                        "- {} ({}){}",
                        r.name,
                        r.endpoint(),
                        if s.hidden { " - Hidden" } else { "" }
                    ))
                })
                .collect();
            model.say(if lines.is_empty() {
                "no servers to show".to_owned()
            } else {
                lines.join("\n")
            });
        }
        Command::Buffers => {
            let s = model.server();
            let lines: Vec<String> = s
                .buffers
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    format!(
                        "{}: {}{}",
                        i + 1,
                        b.name,
                        if b.hidden { " - Hidden" } else { "" }
                    )
                })
                .collect();
            model.say(format!(
                "showing active server buffers:\n{}",
                lines.join("\n")
            ));
        }
        Command::Clear => {
            let removed = model.server_mut().buffer_mut().map_or(0, |b| {
                b.scroll = 0;
                b.retain(|e| e.sender != Sender::System)
            });
            if removed > 0 {
                model.say(format!("cleared {removed} system messages!"));
            }
        }
        Command::Config => config_command::show(model),
        Command::Set { option, value } => config_command::set(model, &option, &value, fx),
        Command::Connect { noverify } => {
            let key = model.server().key;
            auto_start::connect(model, key, noverify, fx);
        }
        Command::Register(name) => ask_password(
            model,
            "register",
            "Enter a password...",
            PwAction::Register(name),
        ),
        Command::Deregister(name) => {
            if model.server().user.as_deref() != Some(name.to_ascii_lowercase().as_str()) {
                model.set_error("you can only deregister the account you are logged in as");
                return;
            }
            ask_password(
                model,
                "deregister",
                "Please enter the account's password...",
                PwAction::Deregister,
            );
        }
        Command::Import { username, path } => {
            let path = PathBuf::from(path);
            ask_password(
                model,
                "import",
                "Enter a password...",
                PwAction::Import(username, path),
            );
        }
        Command::Export(name) => ask_password(
            model,
            "export",
            "Enter the account's password...",
            PwAction::Export(name),
        ),
        Command::Login(name) => ask_password(
            model,
            "login",
            "Enter the account's password...",
            PwAction::Login(name),
        ),
        Command::Logout => {
            let ctx = here(model, "logout", Tag::Plain);
            start(model, fx, ctx, Task::Logout);
        }
        Command::Disconnect => {
            let ctx = here(model, "disconnect", Tag::Plain);
            start(model, fx, ctx, Task::Disconnect);
        }
        Command::Users(q) => {
            let ctx = here(model, "users", Tag::Plain);
            let task = match q {
                UsersQuery::RemoteAll { perms } => Task::Users(if perms {
                    UserList::AllPerms
                } else {
                    UserList::All
                }),
                UsersQuery::RemoteOnline { perms } => Task::Users(if perms {
                    UserList::OnlinePerms
                } else {
                    UserList::Online
                }),
                UsersQuery::LocalAll => Task::LocalUsers { server: None },
                UsersQuery::LocalServer => Task::LocalUsers {
                    server: Some(model.server().key),
                },
            };
            start(model, fx, ctx, task);
        }
        Command::Subscribe(hook) => {
            let ctx = here(model, "subscribe", Tag::Plain);
            start(model, fx, ctx, Task::Subscribe(hook));
        }
        Command::Unsubscribe(hook) => {
            let ctx = here(model, "unsubscribe", Tag::Plain);
            start(model, fx, ctx, Task::Unsubscribe(hook));
        }
        Command::Admin(op) => {
            let ctx = here(model, "admin", Tag::Plain);
            start(model, fx, ctx, Task::Admin(op));
        }
        Command::Recover { username, cleanup } => {
            ask_password(
                model,
                "recover",
                "Enter the account's password...",
                PwAction::Recover(username, cleanup),
            );
        }
        Command::Msg { to, text } => {
            navigation::open_buffer(model, &to, fx);
            if model
                .server()
                .buffer()
                .is_some_and(|b| b.name == to.to_lowercase())
            {
                sending::send_text(model, text, fx);
            }
        }
        Command::Search { all, query } => searching::search(model, &query, all, fx),
        Command::Help => {
            model.help = true;
            model.help_scroll = 0;
        }
    }
}

/// The model-dependent checks of a command.
fn check(model: &Model, cmd: &Command) -> Result<(), &'static str> {
    match cmd {
        Command::Connect { .. } => {
            need_remote(model)?;
            if model.server().link == Link::Offline {
                Ok(())
            } else {
                Err("connection is already established")
            }
        }
        Command::Register(_) | Command::Login(_) => {
            need_online(model)?;
            if model.server().user.is_some() {
                Err("you are already logged in")
            } else {
                Ok(())
            }
        }
        Command::Disconnect => {
            need_remote(model)?;
            if model.server().link == Link::Offline {
                Err("not connected to a server")
            } else {
                Ok(())
            }
        }
        Command::Import { .. } | Command::Export(_) => need_remote(model),
        Command::Users(UsersQuery::LocalAll) => Ok(()),
        Command::Users(UsersQuery::LocalServer) => need_remote(model),
        Command::Users(_) | Command::Subscribe(_) | Command::Unsubscribe(_) | Command::Admin(_) => {
            need_login(model)
        }
        Command::Logout | Command::Deregister(_) | Command::Msg { .. } => need_login(model),
        _ => Ok(()),
    }
}
