//! The editing keys every text field takes (the input box, the popups'
//! fields): characters, Backspace, Delete, arrows, Home/End, and readline's
//! Ctrl-A, Ctrl-E, Alt-B, Alt-F (and Ctrl-Left/Right), Ctrl-W (and
//! Alt-Backspace), Alt-D, Ctrl-K, Ctrl-U, Ctrl-Y, and undo on Ctrl-_ or
//! Ctrl-Z. (In the input box Ctrl-K and Ctrl-U edit only when there is
//! text to take: see `keys`.)

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::tui::model::input::Input;

/// Whether `key` is undo: Ctrl-Z, or Ctrl-_ (which terminals send as
/// Ctrl-7, and some as Ctrl-/ or Ctrl-Shift-Minus).
pub fn is_undo(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL)
        && matches!(key.code, KeyCode::Char('z' | '_' | '7' | '/' | '-'))
}

/// Edits `input` with `key`; true if the key was an editing key.
pub fn edit(input: &mut Input, key: KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    if is_undo(&key) {
        input.undo();
        return true;
    }
    match key.code {
        KeyCode::Char('a') if ctrl => input.home(),
        KeyCode::Char('e') if ctrl => input.end(),
        KeyCode::Char('w') if ctrl => input.delete_word(),
        KeyCode::Char('k') if ctrl => input.kill_to_end(),
        KeyCode::Char('u') if ctrl => input.kill_to_start(),
        KeyCode::Char('y') if ctrl => input.yank(),
        KeyCode::Char('b' | 'B') if alt => input.word_left(),
        KeyCode::Char('f' | 'F') if alt => input.word_right(),
        KeyCode::Char('d' | 'D') if alt => input.delete_word_forward(),
        KeyCode::Char(c) if !ctrl && !alt => input.insert(c),
        KeyCode::Backspace if alt => input.delete_word(),
        KeyCode::Backspace => input.backspace(),
        KeyCode::Delete => input.delete(),
        KeyCode::Left if ctrl || alt => input.word_left(),
        KeyCode::Right if ctrl || alt => input.word_right(),
        KeyCode::Left => input.left(),
        KeyCode::Right => input.right(),
        KeyCode::Home => input.home(),
        KeyCode::End => input.end(),
        _ => return false,
    }
    true
}
