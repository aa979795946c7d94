//! What connections report ([`on_net`]), folded into the model: messages
//! (counted as unread outside the buffer in view, with the bell and the
//! desktop notification `TUI.Notify` chooses; the first
//! from someone opens their buffer when `TUI.AutoOpen` is on), hooks
//! (the Users panel, DUPSESS and PERMSCHG notices), shutdown notices and
//! the disconnect.

use gochat_proto::HookEvent;

use super::navigation;
use super::task_start::start;
use crate::tui::model::wrap::entry_text;
use crate::tui::model::{
    Buffer, BufferKind, DEFAULT_BUFFER, Entry, MAX_BUFFERS, Model, Notify, Sender, Server,
};
use crate::tui::msg::{Ctx, Effect, Tag, Task};
use crate::types::{ChatMessage, ClientEvent};

/// Folds in an event of connection `generation` of server `key`.
pub fn on_net(
    model: &mut Model,
    key: i64,
    generation: u64,
    event: ClientEvent,
    fx: &mut Vec<Effect>,
) {
    if model
        .servers
        .iter()
        .find(|s| s.key == key)
        .is_none_or(|s| s.generation != generation)
    {
        return;
    }
    match event {
        ClientEvent::Message(m) => message(model, key, m, fx),
        ClientEvent::Unreadable {
            sender,
            stamp,
            reason,
        } => {
            let when = model.tz.kitchen(stamp);
            let target = model
                .by_key(key)
                .and_then(|s| s.find(&sender).map(|_| sender.clone()))
                .unwrap_or(DEFAULT_BUFFER.to_owned());
            model.note(
                key,
                &target,
                format!("received an unreadable message from {sender} (sent at {when}): {reason}"),
            );
        }
        ClientEvent::Hook(hook) => on_hook(model, key, hook),
        ClientEvent::Shutdown {
            stamp,
            seconds_left,
        } => {
            let text = match (stamp, seconds_left) {
                (Some(t), Some(left)) => format!(
                    "Server shutdown scheduled at {} {} (in {left} seconds)!",
                    model.tz.date(t),
                    model.tz.kitchen(t)
                ),
                _ => "Server shutdown scheduled!".to_owned(),
            };
            notice(model, key, text);
        }
        ClientEvent::Disconnected { reason } => {
            navigation::end_session(model, key, true);
            let mut text = "You are no longer connected to this server!".to_owned();
            if reason != "disconnected" {
                text.push_str(&format!("\n{reason}"));
            }
            model.note(key, DEFAULT_BUFFER, text);
        }
    }
}

/// A notice in the current buffer of server `key`.
fn notice(model: &mut Model, key: i64, text: String) {
    let name = model
        .by_key(key)
        .and_then(|s| s.buffer().map(|b| b.name.clone()))
        .unwrap_or_default();
    model.note(key, &name, text);
}

/// Opens (without showing it) the buffer of `peer`, who wrote for the
/// first time, when `TUI.AutoOpen` is on and there is room in the list:
/// its key is made sure of and its history loads as when it is opened by
/// hand.
fn auto_open(model: &mut Model, key: i64, peer: &str, fx: &mut Vec<Effect>) {
    if !model.config.auto_open {
        return;
    }
    let Some(s) = model.by_key(key) else { return };
    if s.find(peer).is_some() || s.visible().count() >= MAX_BUFFERS {
        return;
    }
    s.buffers.push(Buffer::new(peer, BufferKind::Chat));
    let ctx = Ctx {
        server: key,
        buffer: peer.to_owned(),
        cmd: "open",
        tag: Tag::Open {
            peer: peer.to_owned(),
        },
    };
    start(
        model,
        fx,
        ctx,
        Task::Open {
            peer: peer.to_owned(),
        },
    );
}

fn message(model: &mut Model, key: i64, m: ChatMessage, fx: &mut Vec<Effect>) {
    let Some(s) = model.by_key(key) else { return };
    if s.user.as_deref().or(s.logging_in.as_deref()) != Some(m.account.as_str()) {
        return;
    }
    let peer = m.peer.clone();
    if !m.outgoing {
        auto_open(model, key, &peer, fx);
    }
    let in_view = model.in_view(key, &peer);
    let seq = model.seq();
    let bell = model.config.bell;
    let notify = model.config.notify;
    let text = m.text.clone();
    let width = model.view.width;
    let tz = model.tz.clone();
    let today = tz.date_of(model.wall);
    let Some(s) = model.by_key(key) else { return };
    if let Some(b) = s.find(&peer).and_then(|i| s.buffers.get_mut(i)) {
        let sender = if m.outgoing {
            Sender::You
        } else {
            Sender::User(peer.clone())
        };
        let entry = Entry {
            seq,
            id: Some(m.id),
            stamp: m.stamp,
            sender,
            text: m.text,
            unread: !in_view,
            pending: false,
        };
        // A view scrolled up stays on the lines it shows.
        if b.scroll > 0 {
            b.scroll += entry_text(&entry, width, &tz, today).rows.len();
        }
        b.push(entry);
    }
    if !in_view && !m.outgoing {
        let server = s.name().to_owned();
        *s.unread.entry(peer.clone()).or_default() += 1;
        if bell {
            fx.push(Effect::Bell);
        }
        if notify != Notify::Off {
            fx.push(Effect::Notify {
                kind: notify,
                title: format!("gochat: {peer} on {server}"),
                body: text,
            });
        }
    }
}

fn on_hook(model: &mut Model, key: i64, hook: HookEvent) {
    let Some(s) = model.by_key(key) else { return };
    let me = s.user.clone();
    match hook {
        HookEvent::NewLogin {
            username,
            permission,
        } => set_user(s, username.as_str(), permission),
        HookEvent::NewLogout { username } => s.users.retain(|(n, _)| n != username.as_str()),
        HookEvent::DupSess { ip } => notice(
            model,
            key,
            format!("Someone has tried to log in with your account from {ip}!"),
        ),
        HookEvent::PermsChg {
            username,
            permission,
        } => {
            set_user(s, username.as_str(), permission);
            if me.as_deref() == Some(username.as_str()) {
                s.permission = Some(permission);
                notice(
                    model,
                    key,
                    format!("Your permission level in the server has changed to {permission}!"),
                );
            } else {
                notice(
                    model,
                    key,
                    format!("The permission level of {username} has changed to {permission}."),
                );
            }
        }
    }
}

fn set_user(s: &mut Server, name: &str, permission: u8) {
    match s.users.iter_mut().find(|(n, _)| n == name) {
        Some(u) => u.1 = permission,
        None => s.users.push((name.to_owned(), permission)),
    }
}
