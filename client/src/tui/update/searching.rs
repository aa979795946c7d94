//! Searching (`/search [-all] <text>`, Ctrl-F): the buffer on screen, or
//! with `-all` every conversation of the server; the messages found go to
//! the Search results buffer, the text highlighted there and in the buffer
//! searched. A conversation is searched in its whole stored history (a
//! task: the store opens sealed texts with the account's unlocked key);
//! other buffers, which live in memory only, are searched at once.

use super::navigation;
use super::task_start::start;
use crate::tui::model::search::contains;
use crate::tui::model::{
    Buffer, BufferKind, Entry, MAX_BUFFERS, Model, PAGE, SEARCH_BUFFER, Sender,
};
use crate::tui::msg::{Ctx, Effect, Tag, Task};
use crate::types::ChatMessage;

/// Most results listed.
pub const MAX_RESULTS: usize = PAGE as usize;

/// One result: when, who (as the results show it), the text.
type Found = (i64, Sender, String);

/// Searches for `query`: the buffer on screen, or every conversation (and
/// buffer) of the server when `all`.
pub fn search(model: &mut Model, query: &str, all: bool, fx: &mut Vec<Effect>) {
    let query = query.trim().to_owned();
    if query.is_empty() {
        model.set_error("nothing to search for");
        return;
    }
    let s = model.server();
    let (key, server, account) = (s.key, s.name().to_owned(), s.user.clone());
    let Some((name, kind)) = s.buffer().map(|b| (b.name.clone(), b.kind)) else {
        model.set_error("no buffers in server");
        return;
    };
    if kind == BufferKind::Search && !all {
        model.set_error("search in a buffer, not in its results (or use /search -all)");
        return;
    }
    if let Some(b) = model.server_mut().buffer_mut()
        && b.kind != BufferKind::Search
    {
        b.highlight = Some(query.clone());
    }
    let (peer, scope) = match (account, kind) {
        (Some(account), _) if all => (
            Some((account.clone(), None)),
            format!("every conversation of {account} on {server}"),
        ),
        (Some(account), BufferKind::Chat) => (Some((account, Some(name.clone()))), name.clone()),
        _ if all => (None, format!("every buffer of {server}")),
        _ => (None, name.clone()),
    };
    if !show_results(model, key, &query) {
        return;
    }
    match peer {
        Some((account, peer)) => {
            model.note(
                key,
                SEARCH_BUFFER,
                format!("Searching {scope} for {query:?}..."),
            );
            let ctx = Ctx {
                server: key,
                buffer: SEARCH_BUFFER.to_owned(),
                cmd: "search",
                tag: Tag::Search {
                    query: query.clone(),
                    scope,
                },
            };
            let task = Task::Search {
                account,
                peer,
                query,
                limit: MAX_RESULTS,
            };
            start(model, fx, ctx, task);
        }
        None => {
            let found = in_memory(model, if all { None } else { Some(&name) }, &query);
            let total = found.len();
            let shown = found.into_iter().rev().take(MAX_RESULTS).rev().collect();
            fill(model, key, &query, &scope, shown, total);
        }
    }
}

/// The entries of the current server's buffers in memory (`only` that
/// one, or every one but the results) that hold `query`, oldest first.
fn in_memory(model: &Model, only: Option<&str>, query: &str) -> Vec<Found> {
    let mut found: Vec<Found> = Vec::new();
    for b in &model.server().buffers {
        if b.kind == BufferKind::Search || only.is_some_and(|n| n != b.name) {
            continue;
        }
        for e in b.entries() {
            if e.sender == Sender::Plain || !contains(&e.text, query) {
                continue;
            }
            let who = if only.is_some() {
                e.sender.clone()
            } else {
                Sender::User(format!("{} in {}", e.sender.name(), b.name))
            };
            found.push((e.stamp, who, e.text.clone()));
        }
    }
    found.sort_by_key(|(stamp, _, _)| *stamp);
    found
}

/// Shows the Search results buffer of server `key` (made if needed),
/// emptied, `query` highlighted in it; false when there is no room for it.
fn show_results(model: &mut Model, key: i64, query: &str) -> bool {
    let Some(s) = model.by_key(key) else {
        return false;
    };
    if s.find(SEARCH_BUFFER).is_none() {
        if s.visible().count() >= MAX_BUFFERS {
            model.set_error(format!("at most {MAX_BUFFERS} buffers per server"));
            return false;
        }
        s.buffers
            .push(Buffer::new(SEARCH_BUFFER, BufferKind::Search));
    }
    if let Some(b) = s.find(SEARCH_BUFFER).and_then(|i| s.buffers.get_mut(i)) {
        b.clear();
        b.highlight = Some(query.to_owned());
    }
    if let Some(i) = model.server().find(SEARCH_BUFFER) {
        navigation::switch_buffer(model, i);
    }
    true
}

/// Fills the Search results buffer of server `key` with what a search for
/// `query` in `scope` found (`total` in all, `found` of them listed,
/// oldest first).
fn fill(model: &mut Model, key: i64, query: &str, scope: &str, found: Vec<Found>, total: usize) {
    let header = match total {
        0 => format!("Search for {query:?} in {scope}: no message holds it"),
        1 => format!("Search for {query:?} in {scope}: 1 message"),
        n if n > found.len() => format!(
            "Search for {query:?} in {scope}: {n} messages, the newest {} listed",
            found.len()
        ),
        n => format!("Search for {query:?} in {scope}: {n} messages"),
    };
    let seqs: Vec<u64> = found.iter().map(|_| model.seq()).collect();
    let Some(s) = model.by_key(key) else { return };
    if s.find(SEARCH_BUFFER).is_none() {
        s.buffers
            .push(Buffer::new(SEARCH_BUFFER, BufferKind::Search));
    }
    let Some(b) = s.find(SEARCH_BUFFER).and_then(|i| s.buffers.get_mut(i)) else {
        return;
    };
    b.clear();
    b.highlight = Some(query.to_owned());
    for ((stamp, sender, text), seq) in found.into_iter().zip(seqs) {
        b.push(Entry::line(seq, stamp, sender, text));
    }
    model.note(key, SEARCH_BUFFER, header);
}

/// What a search task found (newest first) goes to the Search results
/// buffer of server `key`.
pub fn found(
    model: &mut Model,
    key: i64,
    query: &str,
    scope: &str,
    messages: Vec<ChatMessage>,
    total: usize,
) {
    let found = messages
        .into_iter()
        .rev()
        .map(|m| {
            let who = if m.outgoing {
                Sender::User(format!("You → {}", m.peer))
            } else {
                Sender::User(m.peer)
            };
            (m.stamp, who, m.text)
        })
        .collect();
    fill(model, key, query, scope, found, total);
}
