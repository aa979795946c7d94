//! The keys a popup takes while it is open, and what answering it does:
//! adding a server, opening a buffer, the password actions, the deletes,
//! the quick switcher's completion.

use crossterm::event::{KeyCode, KeyEvent};

use super::editing::edit;
use super::task_start::{here, start};
use super::{auto_start, navigation, searching};
use crate::tui::model::input::Input;
use crate::tui::model::popup::{ConfirmAction, Popup, Prompt, Purpose, PwAction, candidates};
use crate::tui::model::{Focus, MAX_SERVERS, Model};
use crate::tui::msg::{Ctx, Effect, Secret, Tag, Task};

/// The error every cancelled or empty prompt shows (as the original).
pub const NO_TEXT: &str = "no text has been given";

/// The title of the add-server address prompt.
pub const ADDRESS_TITLE: &str = "Enter server address and port as 'address:port':";

/// Handles a key while a popup is open. Once the popup closes (whatever
/// closed it) the input has the focus again, so that what is typed next goes
/// there and not to the list the popup was opened from.
pub fn on_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let Some(popup) = model.popup.take() else {
        return;
    };
    popup_key(model, popup, key, fx);
    if model.popup.is_none() {
        model.focus = Focus::Input;
    }
}

/// Handles `key` for the open `popup` (taken out of the model: putting it
/// back keeps it open).
fn popup_key(model: &mut Model, popup: Popup, key: KeyEvent, fx: &mut Vec<Effect>) {
    match popup {
        Popup::Prompt(mut p) => match key.code {
            KeyCode::Esc => {
                if matches!(p.purpose, Purpose::Password { .. }) {
                    model.set_error(NO_TEXT);
                }
            }
            KeyCode::Enter => submit_prompt(model, p, fx),
            KeyCode::Tab | KeyCode::BackTab => {
                p.toggle();
                model.popup = Some(Popup::Prompt(p));
            }
            _ => {
                edit(&mut p.input, key);
                model.popup = Some(Popup::Prompt(p));
            }
        },
        Popup::Confirm(mut c) => match key.code {
            KeyCode::Esc | KeyCode::Char('n' | 'N') => {}
            KeyCode::Char('y' | 'Y') => confirm(model, c.action, fx),
            KeyCode::Enter if c.yes => confirm(model, c.action, fx),
            KeyCode::Enter => {}
            KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                c.yes = !c.yes;
                model.popup = Some(Popup::Confirm(c));
            }
            _ => model.popup = Some(Popup::Confirm(c)),
        },
        Popup::Switcher(mut s) => {
            let names = candidates(model.server());
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Tab => {
                    s.accept(&names);
                    model.popup = Some(Popup::Switcher(s));
                }
                KeyCode::Enter => match s.completion(&names) {
                    Some(name) => {
                        let name = name.to_owned();
                        navigation::open_buffer(model, &name, fx);
                    }
                    None if s.input.is_empty() => model.set_error(NO_TEXT),
                    None => model.set_error(format!("no buffer named {}", s.input.text())),
                },
                _ => {
                    edit(&mut s.input, key);
                    model.popup = Some(Popup::Switcher(s));
                }
            }
        }
    }
}

fn submit_prompt(model: &mut Model, mut p: Prompt, fx: &mut Vec<Effect>) {
    let text = p.input.text().trim().to_owned();
    if text.is_empty() {
        model.set_error(NO_TEXT);
        model.popup = Some(Popup::Prompt(p));
        return;
    }
    match p.purpose {
        Purpose::ServerName => {
            if let Some(i) = model.servers.iter().position(|s| s.name() == text) {
                if model.servers[i].hidden && model.visible_servers().count() >= MAX_SERVERS {
                    model.set_error("too many servers shown: hide one first");
                    return;
                }
                model.servers[i].hidden = false;
                navigation::switch_server(model, i, fx);
                return;
            }
            model.popup = Some(Prompt::popup(
                ADDRESS_TITLE,
                false,
                Purpose::ServerAddress {
                    name: text,
                    tls: true,
                },
            ));
        }
        Purpose::ServerAddress { ref name, tls } => {
            // A wrong address keeps the popup open, to be corrected.
            let Some((address, port)) = parse_endpoint(&text) else {
                model.set_error("address of server is not valid");
                model.popup = Some(Popup::Prompt(p));
                return;
            };
            let taken = model
                .servers
                .iter()
                .filter_map(|s| s.record.as_ref())
                .any(|r| r.address == address && r.port == port);
            if taken {
                model.set_error("item already exists");
                model.popup = Some(Popup::Prompt(p));
                return;
            }
            let name = name.clone();
            if model.visible_servers().count() >= MAX_SERVERS {
                model.set_error("too many servers shown: hide one first");
                return;
            }
            let ctx = here(model, "server", Tag::Plain);
            start(
                model,
                fx,
                ctx,
                Task::AddServer {
                    name,
                    address,
                    port,
                    tls,
                },
            );
        }
        Purpose::BufferName => {
            navigation::open_buffer(model, &text, fx);
        }
        Purpose::Search { all } => searching::search(model, &text, all, fx),
        Purpose::Password { ctx, action, first } => {
            let password = Secret(p.input.text().to_owned());
            if action.asked_twice() && first.is_none() {
                p.title = "Repeat your password...".to_owned();
                p.input = Input::new();
                p.purpose = Purpose::Password {
                    ctx,
                    action,
                    first: Some(password),
                };
                model.popup = Some(Popup::Prompt(p));
                return;
            }
            if first.as_ref().is_some_and(|f| *f != password) {
                model.set_error("passwords do not match");
                return;
            }
            run_password_action(model, ctx, action, password, fx);
        }
    }
}

/// Splits `address:port` (IPv6 in brackets); `None` for a bad or zero port.
pub fn parse_endpoint(text: &str) -> Option<(String, u16)> {
    let (host, port) = text.trim().rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok()?;
    (port != 0 && !host.is_empty() && !host.contains(char::is_whitespace))
        .then(|| (host.to_owned(), port))
}

fn run_password_action(
    model: &mut Model,
    ctx: Ctx,
    action: PwAction,
    password: Secret,
    fx: &mut Vec<Effect>,
) {
    let task = match action {
        PwAction::Register(username) => Task::Register { username, password },
        PwAction::Login(username) => return auto_start::login(model, ctx, username, password, fx),
        PwAction::Deregister => Task::Deregister { password },
        PwAction::Import(username, path) => Task::Import {
            username,
            path,
            password,
        },
        PwAction::Export(username) => Task::Export { username, password },
        PwAction::Recover(username, cleanup) => Task::Recover {
            username,
            password,
            cleanup,
        },
    };
    start(model, fx, ctx, task);
}

fn confirm(model: &mut Model, action: ConfirmAction, fx: &mut Vec<Effect>) {
    match action {
        ConfirmAction::DeleteServer(key) => {
            let Some(name) = model
                .servers
                .iter()
                .find(|s| s.key == key)
                .map(|s| s.name().to_owned())
            else {
                return;
            };
            navigation::hide_server(model, key, fx);
            let ctx = Ctx {
                server: key,
                buffer: String::new(),
                cmd: "delete",
                tag: Tag::Plain,
            };
            start(model, fx, ctx, Task::DeleteServer { name });
        }
        ConfirmAction::DeleteBuffer(key, name) => navigation::remove_buffer(model, key, &name),
    }
}
