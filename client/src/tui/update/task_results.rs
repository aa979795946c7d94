//! What tasks return ([`on_done`]), folded into the model: the outcome's
//! output in the buffer the command was typed in, and the follow-ups (the
//! first history page after opening a conversation, a stale connection
//! closed).

use gochat_proto::UserList;

use super::scrolling::load_page;
use super::searching;
use super::task_start::start;
use super::{auto_start, navigation};
use crate::tui::model::{BufferKind, DEFAULT_BUFFER, Entry, Link, Model, PAGE, Sender, Server};
use crate::tui::msg::{Ctx, Effect, Outcome, Tag, Task};

/// Folds in the result of a task started in `ctx`.
pub fn on_done(model: &mut Model, ctx: Ctx, result: Result<Outcome, String>, fx: &mut Vec<Effect>) {
    model.pending = model.pending.saturating_sub(1);
    match result {
        Ok(outcome) => succeeded(model, ctx, outcome, fx),
        Err(e) => failed(model, ctx, e),
    }
}

fn failed(model: &mut Model, ctx: Ctx, e: String) {
    let key = ctx.server;
    match &ctx.tag {
        Tag::Connect { generation } => {
            if let Some(s) = model.by_key(key).filter(|s| s.generation == *generation) {
                s.link = Link::Offline;
            }
        }
        Tag::Login { username } => {
            if let Some(s) = model.by_key(key) {
                s.logging_in = None;
            }
            auto_start::login_ended(model, key, username, false);
        }
        Tag::Open { peer } => {
            navigation::remove_buffer(model, key, peer);
            model.note(
                key,
                DEFAULT_BUFFER,
                format!("failed to request user data due to {e}"),
            );
            return;
        }
        Tag::History { peer } => {
            if let Some(b) = model
                .by_key(key)
                .and_then(|s| s.find(peer).map(|i| &mut s.buffers[i]))
            {
                b.loading = false;
            }
        }
        Tag::Send { to, seq } => {
            if let Some(b) = model
                .by_key(key)
                .and_then(|s| s.find(to).map(|i| &mut s.buffers[i]))
            {
                b.finish_pending(*seq);
            }
            model.note(
                key,
                to,
                format!("Running message: failed to send message: {e}"),
            );
            return;
        }
        Tag::Plain | Tag::Search { .. } => {}
    }
    let text = format!("Running {}: {e}", ctx.cmd);
    // Output for a server out of sight shows in the error bar too.
    if model
        .servers
        .iter()
        .find(|s| s.key == key)
        .is_none_or(|s| s.hidden)
    {
        model.set_error(text.clone());
    }
    model.note(key, &ctx.buffer, text);
}

fn succeeded(model: &mut Model, ctx: Ctx, outcome: Outcome, fx: &mut Vec<Effect>) {
    let key = ctx.server;
    let say = |m: &mut Model, text: String| m.note(key, &ctx.buffer, text);
    match outcome {
        Outcome::Connected { motd } => {
            let Tag::Connect { generation } = ctx.tag else {
                return;
            };
            match model.by_key(key) {
                Some(s) if s.generation == generation => s.link = Link::Online,
                _ => {
                    // The server was hidden or reconnected meanwhile: close this one.
                    let ctx = Ctx {
                        tag: Tag::Plain,
                        cmd: "disconnect",
                        ..ctx
                    };
                    return start(model, fx, ctx, Task::Disconnect);
                }
            }
            say(
                model,
                "Running connect: successfully connected to the server".to_owned(),
            );
            if !motd.is_empty() {
                say(model, format!("Server MOTD (message of the day):\n{motd}"));
            }
            let names = Ctx {
                tag: Tag::Plain,
                cmd: "names",
                ..ctx
            };
            start(model, fx, names, Task::Names);
            auto_start::login_at_connect(model, key, fx);
        }
        Outcome::LoggedIn(summary) => {
            let Tag::Login { username } = &ctx.tag else {
                return;
            };
            auto_start::login_ended(model, key, username, true);
            let Some(s) = model.by_key(key) else { return };
            s.user = Some(username.clone());
            s.logging_in = None;
            s.permission = Some(summary.permission);
            s.users = summary
                .online
                .iter()
                .map(|u| (u.name.as_str().to_owned(), u.permission.unwrap_or(0)))
                .collect();
            model.show_users = true;
            say(model, "Running login: login successful!".to_owned());
            say(model, format!("Welcome, {username}"));
            say(
                model,
                format!("Logged in with permission level {}", summary.permission),
            );
            if summary.used_token && model.config.verbose {
                say(model, "logged in with the reusable token".to_owned());
            }
            if !summary.catch_up_started {
                say(model, "No new messages have been received".to_owned());
            }
        }
        Outcome::Start(options) => auto_start::stored(model, key, &ctx.buffer, options),
        Outcome::Found { messages, total } => {
            if let Tag::Search { query, scope } = &ctx.tag {
                searching::found(model, key, query, scope, messages, total);
            }
        }
        Outcome::Names { contacts, accounts } => {
            if let Some(s) = model.by_key(key) {
                s.contacts = contacts;
                s.accounts = accounts;
            }
        }
        Outcome::Account(name) => match ctx.cmd {
            "deregister" => {
                navigation::end_session(model, key, false);
                model.note(
                    key,
                    DEFAULT_BUFFER,
                    format!("Running deregister: user {name} deregistered correctly"),
                );
            }
            _ => {
                if let Some(s) = model.by_key(key)
                    && !s.accounts.contains(&name)
                {
                    s.accounts.push(name.clone());
                }
                say(
                    model,
                    format!(
                        "Running {}: local user {name} successfully added to the database",
                        ctx.cmd
                    ),
                )
            }
        },
        Outcome::Done => match ctx.cmd {
            "logout" => {
                navigation::end_session(model, key, false);
                model.note(key, DEFAULT_BUFFER, "Running logout: logged out".to_owned());
            }
            "open" => {
                let Tag::Open { peer } = &ctx.tag else { return };
                if let Some(b) = model
                    .by_key(key)
                    .and_then(|s| s.find(peer).map(|i| &mut s.buffers[i]))
                {
                    b.ready = true;
                }
                load_page(model, key, peer, fx);
            }
            "delete" => {
                let current = model.server().key;
                model.servers.retain(|s| s.key != key);
                model.current = model.index_of(current).unwrap_or(0);
                model.say("server deleted; its accounts and history stay in the local database (see /recover)");
            }
            "disconnect" => say(
                model,
                "Running disconnect: successfully disconnected from the server".to_owned(),
            ),
            "subscribe" => say(
                model,
                "Running subscribe: successfully subscribed!".to_owned(),
            ),
            "unsubscribe" => say(
                model,
                "Running unsubscribe: successfully unsubscribed!".to_owned(),
            ),
            cmd => say(model, format!("Running {cmd}: operation sent successfully")),
        },
        Outcome::Users(list, users) => {
            let which = if matches!(list, UserList::Online | UserList::OnlinePerms) {
                "online"
            } else {
                "all"
            };
            let perms = if list.with_permissions() {
                " with permissions"
            } else {
                ""
            };
            let mut text = format!("Showing {which} remote users{perms}:");
            for u in &users {
                match u.permission {
                    Some(p) if list.with_permissions() => {
                        text.push_str(&format!("\n- {} | {p}", u.name))
                    }
                    _ => text.push_str(&format!("\n- {}", u.name)),
                }
            }
            if users.is_empty() {
                text.push_str("\nNo users to be shown.");
            }
            if list == UserList::OnlinePerms
                && let Some(s) = model.by_key(key)
            {
                s.users = users
                    .iter()
                    .map(|u| (u.name.as_str().to_owned(), u.permission.unwrap_or(0)))
                    .collect();
            }
            say(model, text);
        }
        Outcome::LocalUsers(accounts) => {
            let mut text = "Showing local users:".to_owned();
            for (name, server) in &accounts {
                text.push_str(&format!(
                    "\n- {name} ({})",
                    server.as_deref().unwrap_or("Unknown")
                ));
            }
            if accounts.is_empty() {
                text.push_str("\nNo users to be shown.");
            }
            say(model, text);
        }
        Outcome::History(page) => history(model, &ctx, page),
        Outcome::Sent(stored) => {
            let Tag::Send { to, seq } = &ctx.tag else {
                return;
            };
            let Some(b) = model
                .by_key(key)
                .and_then(|s| s.find(to).map(|i| &mut s.buffers[i]))
            else {
                return;
            };
            b.retain(|e| e.seq != *seq);
            for m in stored {
                b.push(Entry {
                    id: Some(m.id),
                    ..Entry::line(*seq, m.stamp, Sender::You, m.text)
                });
            }
        }
        Outcome::Files(paths) => {
            let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            let what = if ctx.cmd == "recover" {
                "data successfully recovered"
            } else {
                "file successfully written"
            };
            say(
                model,
                format!("Running {}: {what}: {}", ctx.cmd, list.join(", ")),
            );
        }
        Outcome::Server(record) => {
            let name = record.name.clone();
            match model.by_key(record.id) {
                Some(s) => s.record = Some(record),
                None => {
                    let (key, note) = (record.id, added_note(&record));
                    let wall = model.wall;
                    model.servers.push(Server::remote(record, wall));
                    let last = model.servers.len() - 1;
                    navigation::switch_server(model, last, fx);
                    model.note(key, DEFAULT_BUFFER, note);
                }
            }
            if ctx.cmd == "set" {
                say(
                    model,
                    format!("Running set: successfully changed the settings of {name}"),
                );
            }
        }
    }
}

/// What the Default buffer of a server just added says: where it is and
/// whether TLS is on, and how to change that.
fn added_note(record: &crate::types::ServerRecord) -> String {
    let (state, change) = if record.tls {
        (
            "on",
            "/set Server.TLS false turns it off (for a plain TCP server)",
        )
    } else {
        ("off (plain TCP)", "/set Server.TLS true turns it on")
    };
    format!(
        "Server {} added: {}:{}, TLS {state}. While offline, {change}.",
        record.name, record.address, record.port
    )
}

fn history(model: &mut Model, ctx: &Ctx, page: Vec<crate::types::ChatMessage>) {
    let Tag::History { peer } = &ctx.tag else {
        return;
    };
    let mut seqs: Vec<u64> = page.iter().map(|_| model.seq()).collect();
    let Some(b) = model
        .by_key(ctx.server)
        .and_then(|s| s.find(peer).map(|i| &mut s.buffers[i]))
    else {
        return;
    };
    if b.kind != BufferKind::Chat {
        return;
    }
    let first_page = b.oldest_id.is_none();
    b.loading = false;
    b.history_done = page.len() < PAGE as usize;
    for m in page {
        let sender = if m.outgoing {
            Sender::You
        } else {
            Sender::User(m.peer.clone())
        };
        let seq = seqs.pop().unwrap_or_default();
        b.push(Entry {
            id: Some(m.id),
            ..Entry::line(seq, m.stamp, sender, m.text)
        });
    }
    if first_page && b.mark > 0 {
        b.mark_unread(b.mark);
        b.mark = 0;
    }
    if b.history_done
        && b.entries()
            .iter()
            .all(|e| e.id.is_none() && e.sender == Sender::System)
    {
        let text = format!("This is the beginning of your conversation with {peer}!");
        model.note(ctx.server, peer, text);
    }
}
