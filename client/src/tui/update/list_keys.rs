//! The Buffers and Servers lists' keys: Ctrl-N new, Ctrl-W hide, Ctrl-X
//! delete (after a yes/no question), Up/Down move, 1-9 and a-z jump,
//! Enter/Space/Esc back to the input.

use crossterm::event::{KeyCode, KeyEvent};

use super::keys::ctrl;
use super::navigation;
use crate::tui::model::popup::{Confirm, ConfirmAction, Prompt, Purpose};
use crate::tui::model::shortcuts::from_shortcut;
use crate::tui::model::{BufferKind, Focus, Model, Popup};
use crate::tui::msg::Effect;

/// The delete-buffer question (the original's text).
pub const DELETE_BUFFER: &str = "Do you want to permanently\ndelete this buffer?";
/// The delete-server question (the original's text).
pub const DELETE_SERVER: &str = "Do you want to permanently\ndelete this server?\nAll information about this server will be lost!";

/// A key for the Buffers list.
pub(super) fn buffers_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    match key.code {
        KeyCode::Char('n') if ctrl(&key) => {
            model.popup = Some(Prompt::popup(
                "Enter buffer name...",
                false,
                Purpose::BufferName,
            ));
        }
        KeyCode::Char('w') if ctrl(&key) => navigation::hide_buffer(model),
        KeyCode::Char('x') if ctrl(&key) => {
            let (key, name, system) = {
                let s = model.server();
                let b = s.buffer();
                (
                    s.key,
                    b.map(|b| b.name.clone()).unwrap_or_default(),
                    b.is_none_or(|b| b.kind == BufferKind::System),
                )
            };
            if system {
                model.set_error("performing action on system buffer");
            } else {
                model.popup = Some(Popup::Confirm(Confirm::new(
                    DELETE_BUFFER,
                    ConfirmAction::DeleteBuffer(key, name),
                )));
            }
        }
        KeyCode::Up => navigation::cycle_buffer(model, -1),
        KeyCode::Down => navigation::cycle_buffer(model, 1),
        KeyCode::Enter | KeyCode::Char(' ') | KeyCode::Esc => model.focus = Focus::Input,
        KeyCode::Char(c) if !ctrl(&key) => {
            let found =
                from_shortcut(c).and_then(|n| model.server().visible().nth(n).map(|(i, _)| i));
            if let Some(i) = found {
                navigation::switch_buffer(model, i);
                model.focus = Focus::Input;
            }
        }
        _ => {}
    }
    let _ = fx;
}

/// A key for the Servers list.
pub(super) fn servers_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    match key.code {
        KeyCode::Char('n') if ctrl(&key) => {
            model.popup = Some(Prompt::popup(
                "Enter server name...",
                false,
                Purpose::ServerName,
            ));
        }
        KeyCode::Char('w') if ctrl(&key) => {
            let k = model.server().key;
            navigation::hide_server(model, k, fx);
        }
        KeyCode::Char('x') if ctrl(&key) => {
            if model.server().is_local() {
                model.set_error("performing action on local server");
            } else {
                model.popup = Some(Popup::Confirm(Confirm::new(
                    DELETE_SERVER,
                    ConfirmAction::DeleteServer(model.server().key),
                )));
            }
        }
        KeyCode::Up => navigation::cycle_server(model, -1, fx),
        KeyCode::Down => navigation::cycle_server(model, 1, fx),
        KeyCode::Enter | KeyCode::Char(' ') | KeyCode::Esc => model.focus = Focus::Input,
        KeyCode::Char(c @ '1'..='9') if !ctrl(&key) => {
            let found =
                from_shortcut(c).and_then(|n| model.visible_servers().nth(n).map(|(i, _)| i));
            if let Some(i) = found {
                navigation::switch_server(model, i, fx);
                model.focus = Focus::Input;
            }
        }
        _ => {}
    }
}
