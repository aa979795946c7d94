//! Popups: text prompts (new server, new buffer, passwords, masked), yes/no
//! confirmations and the quick switcher; their keys and what submitting does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::PathBuf;

use super::actions;
use super::input::Input;
use super::model::{Focus, Link, MAX_SERVERS, Model};
use super::msg::{Ctx, Effect, Secret, Tag, Task};
use super::switcher::{self, Switcher};

/// An open popup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Popup {
    /// A one-line question.
    Prompt(Prompt),
    /// A yes/no question.
    Confirm(Confirm),
    /// The quick switcher.
    Switcher(Switcher),
}

/// A text prompt. `Debug` hides what was typed into a masked one.
#[derive(Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The question.
    pub title: String,
    /// The answer being typed.
    pub input: Input,
    /// Show `*` for each character (passwords).
    pub masked: bool,
    /// What the answer is for.
    pub purpose: Purpose,
}

impl std::fmt::Debug for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Prompt");
        d.field("title", &self.title).field("masked", &self.masked);
        if self.masked {
            d.field("input", &"<redacted>");
        } else {
            d.field("input", &self.input);
        }
        d.field("purpose", &self.purpose).finish()
    }
}

/// What a prompt's answer is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// The name of a server to add or show again.
    ServerName,
    /// The `address:port` of the new server `name`, and whether it is
    /// reached over TLS (Tab toggles it; on at first, as in the original).
    ServerAddress {
        /// Its name.
        name: String,
        /// Connect over TLS.
        tls: bool,
    },
    /// The name of a buffer to open.
    BufferName,
    /// A password for `action`, started in `ctx`; `first` holds the first
    /// entry when the password is asked twice.
    Password {
        /// Where the command was typed.
        ctx: Ctx,
        /// What it unlocks.
        action: PwAction,
        /// The first entry, awaiting the repeat.
        first: Option<Secret>,
    },
}

/// What a password is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PwAction {
    /// `/register`
    Register(String),
    /// `/login`
    Login(String),
    /// `/deregister`
    Deregister,
    /// `/import`
    Import(String, PathBuf),
    /// `/export`
    Export(String),
    /// `/recover`
    Recover(String, bool),
}

impl PwAction {
    fn asked_twice(&self) -> bool {
        matches!(self, PwAction::Register(_) | PwAction::Import(..))
    }
}

/// A yes/no question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirm {
    /// The question.
    pub text: String,
    /// Whether "Yes" is selected.
    pub yes: bool,
    /// What "Yes" does.
    pub action: ConfirmAction,
}

impl Confirm {
    /// A question whose highlighted answer is "No".
    pub fn new(text: &str, action: ConfirmAction) -> Self {
        Confirm {
            text: text.to_owned(),
            yes: false,
            action,
        }
    }

    /// The answer Enter gives now.
    pub fn enter_answer(&self) -> &'static str {
        if self.yes { "Yes" } else { "No" }
    }

    /// The keys the popup takes, one `key = answer` item each.
    pub fn hint_items(&self) -> [String; 4] {
        [
            format!("Enter = {}", self.enter_answer()),
            "y = Yes".to_owned(),
            "n/Esc = No".to_owned(),
            "Tab = switch".to_owned(),
        ]
    }

    /// The keys the popup takes, shown under its buttons.
    pub fn hint(&self) -> String {
        self.hint_items().join(", ")
    }
}

/// What a confirmation does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmAction {
    /// Delete the server with this key.
    DeleteServer(i64),
    /// Delete buffer `name` of server `key`.
    DeleteBuffer(i64, String),
}

/// The error every cancelled or empty prompt shows (as the original).
pub const NO_TEXT: &str = "no text has been given";

/// The title of the add-server address prompt.
pub const ADDRESS_TITLE: &str = "Enter server address and port as 'address:port':";

impl Prompt {
    /// The line under the field that shows and explains a toggle, for the
    /// prompts that have one (the new server's TLS).
    pub fn toggle_line(&self) -> Option<String> {
        match self.purpose {
            Purpose::ServerAddress { tls: true, .. } => {
                Some("TLS: on (Tab turns it off, for a plain TCP server)".to_owned())
            }
            Purpose::ServerAddress { tls: false, .. } => {
                Some("TLS: off, plain TCP (Tab turns it on)".to_owned())
            }
            _ => None,
        }
    }

    /// Tab: flips the prompt's toggle, if it has one.
    fn toggle(&mut self) {
        if let Purpose::ServerAddress { tls, .. } = &mut self.purpose {
            *tls = !*tls;
        }
    }

    /// A prompt, as an open popup.
    pub fn popup(title: &str, masked: bool, purpose: Purpose) -> Popup {
        Popup::Prompt(Prompt {
            title: title.to_owned(),
            input: Input::new(),
            masked,
            purpose,
        })
    }
}

/// Edits `input` with `key`; true if the key was an editing key.
pub fn edit(input: &mut Input, key: KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('a') if ctrl => input.home(),
        KeyCode::Char('e') if ctrl => input.end(),
        KeyCode::Char('w') if ctrl => input.delete_word(),
        KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => input.insert(c),
        KeyCode::Backspace => input.backspace(),
        KeyCode::Delete => input.delete(),
        KeyCode::Left => input.left(),
        KeyCode::Right => input.right(),
        KeyCode::Home => input.home(),
        KeyCode::End => input.end(),
        _ => return false,
    }
    true
}

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
            let names = switcher::candidates(model.server());
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Tab => {
                    s.accept(&names);
                    model.popup = Some(Popup::Switcher(s));
                }
                KeyCode::Enter => match s.completion(&names) {
                    Some(name) => {
                        let name = name.to_owned();
                        actions::open_buffer(model, &name, fx);
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
                actions::switch_server(model, i, fx);
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
            let ctx = actions::here(model, "server", Tag::Plain);
            actions::task(
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
            actions::open_buffer(model, &text, fx);
        }
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
        PwAction::Login(username) => {
            if let Some(s) = model.by_key(ctx.server) {
                if s.link != Link::Online {
                    model.set_error("not connected to a server");
                    return;
                }
                s.logging_in = Some(username.clone());
            }
            let ctx = Ctx {
                tag: Tag::Login {
                    username: username.clone(),
                },
                ..ctx
            };
            actions::task(model, fx, ctx, Task::Login { username, password });
            return;
        }
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
    actions::task(model, fx, ctx, task);
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
            actions::hide_server(model, key, fx);
            let ctx = Ctx {
                server: key,
                buffer: String::new(),
                cmd: "delete",
                tag: Tag::Plain,
            };
            actions::task(model, fx, ctx, Task::DeleteServer { name });
        }
        ConfirmAction::DeleteBuffer(key, name) => actions::remove_buffer(model, key, &name),
    }
}
