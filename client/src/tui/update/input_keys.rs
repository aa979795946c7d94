//! The input box's keys: Enter sends the text or runs the `/` command,
//! Shift/Alt-Enter and Ctrl-J add a line, Esc clears (Ctrl-Z takes it
//! back), Up/Down walk through the command history when the input is empty
//! (else through its lines), Tab completes.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::editing::edit;
use super::keys::ctrl;
use super::{completing, sending, slash_commands};
use crate::tui::model::Model;
use crate::tui::msg::Effect;

/// A key for the input box: Enter sends or runs the line, Up/Down walk the
/// command history (or the lines of the text), the rest edits.
pub(super) fn input_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let mods = key.modifiers;
    match key.code {
        KeyCode::Enter if mods.intersects(KeyModifiers::SHIFT | KeyModifiers::ALT) => {
            model.input.insert('\n')
        }
        KeyCode::Char('j') if ctrl(&key) => model.input.insert('\n'),
        KeyCode::Tab => completing::tab(model, false),
        KeyCode::BackTab => completing::tab(model, true),
        KeyCode::Enter => {
            if model.input.is_empty() {
                return;
            }
            let text = model.input.take();
            model.history_pos = None;
            if text.starts_with("//") {
                sending::send_text(model, text[1..].to_owned(), fx);
            } else if text.starts_with('/') {
                slash_commands::command_line(model, &text, fx);
            } else {
                sending::send_text(model, text, fx);
            }
        }
        KeyCode::Esc => {
            model.input.clear();
            model.history_pos = None;
        }
        KeyCode::Up if model.input.is_empty() || model.history_pos.is_some() => {
            if model.history.is_empty() {
                return;
            }
            let pos = model
                .history_pos
                .map_or(model.history.len() - 1, |p| p.saturating_sub(1));
            model.history_pos = Some(pos);
            let line = model.history[pos].clone();
            model.input.set(&line);
        }
        KeyCode::Down if model.history_pos.is_some() => {
            let next = model.history_pos.map_or(0, |p| p + 1);
            if next >= model.history.len() {
                model.history_pos = None;
                model.input.clear();
            } else {
                model.history_pos = Some(next);
                let line = model.history[next].clone();
                model.input.set(&line);
            }
        }
        KeyCode::Up => {
            model.input.up();
        }
        KeyCode::Down => {
            model.input.down();
        }
        _ => {
            edit(&mut model.input, key);
        }
    }
}
