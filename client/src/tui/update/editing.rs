//! The editing keys every text field takes (the input box, the popups'
//! fields): characters, Backspace, Delete, arrows, Home/End, Ctrl-A, Ctrl-E,
//! Ctrl-W.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::model::input::Input;

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
