//! Sending what was typed into the buffer on screen: kept on Local, refused
//! in system buffers, echoed and sent in conversations (not faster than
//! [`MSG_DELAY`]).

use super::task_start::{here, start};
use crate::tui::model::{BufferKind, Entry, MSG_DELAY, Model, Sender};
use crate::tui::msg::{Effect, Tag, Task};

/// Sends (or, on Local, keeps) a text typed into the buffer on screen.
pub fn send_text(model: &mut Model, text: String, fx: &mut Vec<Effect>) {
    let seq = model.seq();
    let (now, wall) = (model.now, model.wall);
    let s = model.server();
    let logged_in = s.user.is_some();
    let Some(b) = s.buffer() else {
        model.set_error("no buffers in server");
        return;
    };
    match b.kind {
        BufferKind::System => model.set_error("performing action on system buffer"),
        BufferKind::Search => model.set_error("performing action on search results"),
        BufferKind::Scratch => {
            if let Some(b) = model.server_mut().buffer_mut() {
                b.push(Entry::line(seq, wall, Sender::You, text));
                b.scroll = 0;
            }
        }
        BufferKind::Chat => {
            if !logged_in {
                model.set_error("you are not logged in");
                return;
            }
            if model
                .last_send
                .is_some_and(|t| now.saturating_duration_since(t) < MSG_DELAY)
            {
                model.set_error("you are typing too fast");
                // Keep what was typed, so that Enter again sends it.
                if model.input.is_empty() {
                    let back = if text.starts_with('/') {
                        format!("/{text}")
                    } else {
                        text
                    };
                    model.input.insert_str(&back);
                }
                return;
            }
            let to = b.name.clone();
            model.last_send = Some(now);
            if let Some(b) = model.server_mut().buffer_mut() {
                b.push(Entry {
                    pending: true,
                    ..Entry::line(seq, wall, Sender::You, text.clone())
                });
                b.scroll = 0;
            }
            let ctx = here(
                model,
                "message",
                Tag::Send {
                    to: to.clone(),
                    seq,
                },
            );
            start(model, fx, ctx, Task::Send { to, text });
        }
    }
}
