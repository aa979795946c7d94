//! What a popup holds: text prompts (new server, new buffer, passwords,
//! masked), yes/no confirmations and the quick switcher (Ctrl-G: `Go to...`
//! with case-insensitive prefix completion over the current server's
//! buffers, hidden ones and conversations with unread messages included).
//! The keys they take are handled by the update side.

use std::path::PathBuf;

use super::input::Input;
use super::server_state::Server;
use crate::tui::msg::{Ctx, Secret};

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
    /// What to search for: in the buffer on screen, or everywhere when
    /// `all` (Tab toggles it).
    Search {
        /// Every conversation of the server.
        all: bool,
    },
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
    /// Whether the password is asked twice (a new password).
    pub fn asked_twice(&self) -> bool {
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
            Purpose::Search { all: false } => {
                Some("In this buffer's history (Tab: every conversation)".to_owned())
            }
            Purpose::Search { all: true } => {
                Some("In every conversation of this server (Tab: this buffer)".to_owned())
            }
            _ => None,
        }
    }

    /// Tab: flips the prompt's toggle, if it has one (TLS, or where to
    /// search).
    pub fn toggle(&mut self) {
        match &mut self.purpose {
            Purpose::ServerAddress { tls: flag, .. } | Purpose::Search { all: flag } => {
                *flag = !*flag
            }
            _ => {}
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

/// The quick switcher's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Switcher {
    /// What was typed.
    pub input: Input,
}

/// The names the switcher knows on `server`, in list order: its buffers
/// (hidden ones too), then conversations with unread messages that have no
/// buffer.
pub fn candidates(server: &Server) -> Vec<String> {
    let mut names: Vec<String> = server.buffers.iter().map(|b| b.name.clone()).collect();
    for name in server.unread.keys() {
        if !names.iter().any(|n| n == name) {
            names.push(name.clone());
        }
    }
    names
}

/// The first candidate that starts with `prefix` (case-insensitive); `None`
/// for an empty prefix.
pub fn complete<'a>(prefix: &str, names: &'a [String]) -> Option<&'a str> {
    if prefix.is_empty() {
        return None;
    }
    let lower = prefix.to_lowercase();
    names
        .iter()
        .find(|n| n.to_lowercase() == lower)
        .or_else(|| names.iter().find(|n| n.to_lowercase().starts_with(&lower)))
        .map(String::as_str)
}

impl Switcher {
    /// The completion of what was typed.
    pub fn completion<'a>(&self, names: &'a [String]) -> Option<&'a str> {
        complete(self.input.text(), names)
    }

    /// Tab: replaces what was typed with its completion.
    pub fn accept(&mut self, names: &[String]) {
        if let Some(name) = self.completion(names) {
            let name = name.to_owned();
            self.input.set(&name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_by_prefix_case_insensitively() {
        let names: Vec<String> = ["Default", "bob", "bobby", "carol"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(complete("B", &names), Some("bob"));
        assert_eq!(complete("bobb", &names), Some("bobby"));
        assert_eq!(complete("def", &names), Some("Default"));
        assert_eq!(complete("x", &names), None);
        assert_eq!(complete("", &names), None);
        let mut s = Switcher::default();
        s.input.set("ca");
        s.accept(&names);
        assert_eq!(s.input.text(), "carol");
    }
}
