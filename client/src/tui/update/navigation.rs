//! Moving around: switching, cycling, opening, hiding and removing buffers
//! and servers, and ending a session (its conversations go, Default stays).
//! What is typed in the input belongs to the buffer on screen: switching
//! puts it away with that buffer and brings back the next one's.

use gochat_proto::Username;

use super::task_start::{here, start};
use crate::tui::model::{Buffer, BufferKind, Focus, Link, MAX_BUFFERS, Model};
use crate::tui::msg::{Ctx, Effect, Tag, Task};

/// Leaves the buffer on screen: its unread marks are dropped.
fn leave(model: &mut Model) {
    if let Some(b) = model.server_mut().buffer_mut() {
        b.clear_unread();
    }
}

/// Enters the buffer on screen: its unread count is cleared.
fn enter(model: &mut Model) {
    let s = model.server_mut();
    if let Some(name) = s.buffer().map(|b| b.name.clone()) {
        s.unread.remove(&name);
    }
}

/// Puts what is typed away as the draft of the buffer on screen.
fn stash_draft(model: &mut Model) {
    model.history_pos = None;
    model.completion = None;
    if model.server().buffer().is_some() {
        let draft = std::mem::take(&mut model.input);
        if let Some(b) = model.server_mut().buffer_mut() {
            b.draft = draft;
        }
    }
}

/// Brings back the draft of the buffer on screen into the input.
fn restore_draft(model: &mut Model) {
    if let Some(b) = model.server_mut().buffer_mut() {
        let draft = std::mem::take(&mut b.draft);
        model.input = draft;
    }
}

/// Shows server `index` (its current buffer).
pub fn switch_server(model: &mut Model, index: usize, _fx: &mut Vec<Effect>) {
    if index >= model.servers.len() || index == model.current {
        return;
    }
    leave(model);
    stash_draft(model);
    model.current = index;
    model.servers[index].hidden = false;
    restore_draft(model);
    enter(model);
}

/// Shows buffer `index` of the current server.
pub fn switch_buffer(model: &mut Model, index: usize) {
    if index >= model.server().buffers.len() {
        return;
    }
    let other = index != model.server().current;
    leave(model);
    if other {
        stash_draft(model);
    }
    let s = model.server_mut();
    s.current = index;
    s.buffers[index].hidden = false;
    if other {
        restore_draft(model);
    }
    enter(model);
}

/// Moves `delta` places through the visible buffers (Alt-Up/Down), wrapping.
pub fn cycle_buffer(model: &mut Model, delta: isize) {
    let s = model.server();
    let list: Vec<usize> = s.visible().map(|(i, _)| i).collect();
    if let Some(next) = step(&list, s.current, delta) {
        switch_buffer(model, next);
    }
}

/// Moves `delta` places through the visible servers (Shift-Up/Down), wrapping.
pub fn cycle_server(model: &mut Model, delta: isize, fx: &mut Vec<Effect>) {
    let list: Vec<usize> = model.visible_servers().map(|(i, _)| i).collect();
    if let Some(next) = step(&list, model.current, delta) {
        switch_server(model, next, fx);
    }
}

fn step(list: &[usize], current: usize, delta: isize) -> Option<usize> {
    if list.is_empty() {
        return None;
    }
    let n = list.len() as isize;
    let at = list.iter().position(|&i| i == current).unwrap_or(0) as isize;
    list.get((at + delta).rem_euclid(n) as usize).copied()
}

/// Opens buffer `name` on the current server: shows it if it exists (even
/// hidden), else creates it (a scratch buffer on Local, a conversation
/// elsewhere, which asks for the user's key and loads the history).
pub fn open_buffer(model: &mut Model, name: &str, fx: &mut Vec<Effect>) {
    let trimmed = name.trim();
    if let Some(i) = model.server().find(trimmed) {
        switch_buffer(model, i);
        return;
    }
    let name = trimmed.to_lowercase();
    if let Some(i) = model.server().find(&name) {
        switch_buffer(model, i);
        return;
    }
    if model.server().visible().count() >= MAX_BUFFERS {
        model.set_error(format!("at most {MAX_BUFFERS} buffers per server"));
        return;
    }
    if model.server().is_local() {
        model
            .server_mut()
            .buffers
            .push(Buffer::new(&name, BufferKind::Scratch));
        let last = model.server().buffers.len() - 1;
        switch_buffer(model, last);
        return;
    }
    let s = model.server();
    let Some(me) = s.user.clone() else {
        model.set_error("you are not logged in");
        return;
    };
    if name == me {
        model.set_error("cannot request to message yourself");
        return;
    }
    if let Err(e) = Username::new(&name) {
        model.set_error(format!("invalid username: {e}"));
        return;
    }
    let mut buffer = Buffer::new(&name, BufferKind::Chat);
    buffer.mark = model.server().unread.get(&name).copied().unwrap_or(0);
    model.server_mut().buffers.push(buffer);
    let last = model.server().buffers.len() - 1;
    switch_buffer(model, last);
    let ctx = here(model, "open", Tag::Open { peer: name.clone() });
    start(model, fx, ctx, Task::Open { peer: name });
}

/// Hides the buffer on screen (system buffers stay).
pub fn hide_buffer(model: &mut Model) {
    let s = model.server();
    match s.buffer() {
        Some(b) if b.kind == BufferKind::System => {
            model.set_error("performing action on system buffer")
        }
        Some(_) => {
            let i = s.current;
            model.server_mut().buffers[i].hidden = true;
            cycle_buffer(model, -1);
        }
        None => model.set_error("no buffers in server"),
    }
}

/// Removes buffer `name` of server `key` (its stored history stays).
pub fn remove_buffer(model: &mut Model, key: i64, name: &str) {
    let on_screen = model.in_view(key, name);
    let Some(s) = model.by_key(key) else { return };
    let Some(i) = s.find(name) else { return };
    s.buffers.remove(i);
    if s.current >= i {
        s.current = s.current.saturating_sub(1);
    }
    if on_screen {
        // Text typed meanwhile stays; else the next buffer's draft shows.
        if model.input.is_empty() {
            restore_draft(model);
        }
        enter(model);
    }
}

/// Hides server `key`, disconnecting it, and shows Local.
pub fn hide_server(model: &mut Model, key: i64, fx: &mut Vec<Effect>) {
    let Some(i) = model.index_of(key) else { return };
    if model.servers[i].is_local() {
        model.set_error("performing action on local server");
        return;
    }
    if model.servers[i].link != Link::Offline {
        let generation = model.generation();
        model.servers[i].generation = generation;
        end_session(model, key, true);
        let ctx = Ctx {
            server: key,
            buffer: String::new(),
            cmd: "disconnect",
            tag: Tag::Plain,
        };
        start(model, fx, ctx, Task::Disconnect);
    }
    switch_server(model, 0, fx);
    model.servers[i].hidden = true;
    if model.focus == Focus::Servers {
        model.focus = Focus::Input;
    }
}

/// Ends the session on server `key` (logout, or disconnect when `offline`):
/// the Users panel, unread counts and conversations go; Default stays.
pub fn end_session(model: &mut Model, key: i64, offline: bool) {
    let on_screen = model.server().key == key;
    if on_screen {
        leave(model);
    }
    let Some(s) = model.by_key(key) else { return };
    s.user = None;
    s.logging_in = None;
    s.permission = None;
    s.users.clear();
    s.unread.clear();
    s.buffers.retain(|b| b.kind == BufferKind::System);
    s.current = 0;
    if offline {
        s.link = Link::Offline;
    }
}
