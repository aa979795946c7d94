//! Tab completion in the input: what the word before the cursor can become
//! ([`candidates`]: slash commands, their options, user names), and the
//! state of a completion being cycled through ([`Completion`]).

use super::buffer::BufferKind;
use super::state::Model;
use super::ui_config::SET_OPTIONS;
use crate::tui::commands::COMMANDS;

/// A completion in progress: Tab again puts the next candidate in place of
/// the one shown, Shift-Tab the previous one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Where the completed word starts (a byte offset into the input).
    pub start: usize,
    /// Where the candidate put in ends: the cursor, while it is not moved.
    pub end: usize,
    /// What the word can become, in order.
    pub candidates: Vec<String>,
    /// The candidate shown.
    pub index: usize,
}

/// The `/admin` operations.
const ADMIN_OPS: &[&str] = &["shutdown", "broadcast", "ban", "kick", "setperms", "motd"];
/// The hooks `/subscribe` and `/unsubscribe` take.
const HOOKS: &[&str] = &[
    "all",
    "new_login",
    "new_logout",
    "duplicated_session",
    "permissions_change",
];
/// The values of the on/off settings.
const FLAGS: &[&str] = &["true", "false"];

/// The user names known on the server on screen: the logged-in user, the
/// online users, the contacts and local accounts, the conversations'
/// buffers; sorted, once each.
pub fn user_names(model: &Model) -> Vec<String> {
    let s = model.server();
    let mut names: Vec<String> = s
        .user
        .iter()
        .cloned()
        .chain(s.users.iter().map(|(n, _)| n.clone()))
        .chain(s.contacts.iter().cloned())
        .chain(s.accounts.iter().cloned())
        .chain(
            s.buffers
                .iter()
                .filter(|b| b.kind == BufferKind::Chat)
                .map(|b| b.name.clone()),
        )
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The values `/set <option>` takes, where they are a short list.
fn set_values(model: &Model, option: &str) -> Vec<String> {
    let words: &[&str] = match option {
        "Server.AutoLogin" => {
            let mut names = model.server().accounts.clone();
            names.push("none".to_owned());
            return names;
        }
        "TUI.Notify" => &super::ui_config::Notify::NAMES,
        o if o.ends_with(".Size") || o.ends_with(".Name") || o.ends_with(".Address") => &[],
        o if o.ends_with(".Port") => &[],
        _ => FLAGS,
    };
    words.iter().map(|w| (*w).to_owned()).collect()
}

fn owned(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// What argument `arg` (0 for the first after the name) of command `name`
/// can be, given the arguments before it.
fn argument(model: &Model, name: &str, arg: usize, before: &[&str]) -> Vec<String> {
    let prev = |i: usize| before.get(i).map(|w| w.to_ascii_lowercase());
    match (name, arg) {
        ("set", 0) => owned(SET_OPTIONS),
        ("set", 1) => set_values(model, before.first().copied().unwrap_or_default()),
        ("users", 0) => owned(&["remote", "local"]),
        ("users", 1) if prev(0).as_deref() == Some("local") => owned(&["all", "server"]),
        ("users", 1) => owned(&["all", "online"]),
        ("users", 2) => owned(&["-perms"]),
        ("subscribe" | "unsubscribe", 0) => owned(HOOKS),
        ("admin", 0) => owned(ADMIN_OPS),
        ("admin", 1) if matches!(prev(0).as_deref(), Some("ban" | "kick" | "setperms")) => {
            user_names(model)
        }
        ("admin", 2) if prev(0).as_deref() == Some("setperms") => owned(&["0", "1", "2"]),
        ("admin", _) => Vec::new(),
        ("connect", _) => owned(&["-noverify", "-noidle"]),
        ("recover", 1) => owned(&["-cleanup"]),
        ("search", 0) => owned(&["-all"]),
        ("search", _) => Vec::new(),
        ("import", 1) | ("set", _) | ("users", _) | ("subscribe" | "unsubscribe", _) => Vec::new(),
        (
            "version" | "servers" | "buffers" | "clear" | "config" | "logout" | "disconnect"
            | "help",
            _,
        ) => Vec::new(),
        _ => user_names(model),
    }
}

/// Where the word before byte `cursor` of `line` starts.
pub fn word_start(line: &str, cursor: usize) -> usize {
    line[..cursor]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// What the word before byte `cursor` of `line` can become: command names
/// (with their `/`) for the first word of a command, the command's options
/// or user names for its arguments, user names in a text. Only those that
/// start with the word (ignoring case), sorted.
pub fn candidates(model: &Model, line: &str, cursor: usize) -> Vec<String> {
    let start = word_start(line, cursor);
    let word = line[start..cursor].to_lowercase();
    let before: Vec<&str> = line[..start].split_whitespace().collect();
    let all: Vec<String> = match before.first() {
        None if line.starts_with('/') => COMMANDS.iter().map(|(n, _, _)| format!("/{n}")).collect(),
        Some(first) if first.starts_with('/') && !first.starts_with("//") => {
            let name = first[1..].to_ascii_lowercase();
            argument(model, &name, before.len() - 1, &before[1..])
        }
        _ => user_names(model),
    };
    let mut out: Vec<String> = all
        .into_iter()
        .filter(|c| c.to_lowercase().starts_with(&word))
        .collect();
    out.sort_by_key(|c| c.to_lowercase());
    out.dedup();
    out
}
