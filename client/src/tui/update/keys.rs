//! Key bindings: global keys first (as the original's application input
//! capture), then the help page, then whatever has the focus.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::editing::edit;
use super::input_keys::input_key;
use super::list_keys::{buffers_key, servers_key};
use super::{mouse, navigation, popup_keys, scrolling};
use crate::tui::model::popup::{Prompt, Purpose, Switcher};
use crate::tui::model::{Focus, Model, Popup};
use crate::tui::msg::Effect;

/// Whether Ctrl is held.
pub(super) fn ctrl(k: &KeyEvent) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL)
}

fn is_help_key(k: &KeyEvent) -> bool {
    match k.code {
        KeyCode::F(1) => true,
        KeyCode::Char('l' | 'L') => {
            ctrl(k)
                && (k.modifiers.contains(KeyModifiers::ALT)
                    || k.modifiers.contains(KeyModifiers::SHIFT)
                    || k.code == KeyCode::Char('L'))
        }
        _ => false,
    }
}

/// Handles one key.
pub fn on_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    let mods = key.modifiers;
    if !matches!(key.code, KeyCode::Tab | KeyCode::BackTab) {
        model.completion = None;
    }
    // Keys that work everywhere, popups included.
    match key.code {
        KeyCode::Char('q') if ctrl(&key) => return fx.push(Effect::Quit),
        KeyCode::Char('c') if ctrl(&key) => return,
        KeyCode::Char('r') if ctrl(&key) => return fx.push(Effect::Redraw),
        // The mouse to the TUI, or back to the terminal's text selection.
        KeyCode::Char('m' | 'M') if mods.contains(KeyModifiers::ALT) => {
            let on = !model.config.mouse;
            return mouse::set_capture(model, on, fx);
        }
        _ => {}
    }
    if model.popup.is_some() {
        return popup_keys::on_key(model, key, fx);
    }
    if is_help_key(&key) {
        model.help = !model.help;
        model.help_scroll = 0;
        // Like a popup, the help page gives the keys back to the input.
        model.focus = Focus::Input;
        return;
    }
    // In the input, Ctrl-U deletes what is before the cursor (readline);
    // with nothing there it shows or hides the Users panel, as in the
    // original.
    let typing = model.focus == Focus::Input && !model.help;
    match key.code {
        KeyCode::Char('u') if ctrl(&key) && !(typing && model.input.cursor() > 0) => {
            return model.show_users = !model.show_users;
        }
        KeyCode::Char('b') if ctrl(&key) => {
            model.show_left = !model.show_left;
            if !model.show_left && matches!(model.focus, Focus::Buffers | Focus::Servers) {
                model.focus = Focus::Input;
            }
            return;
        }
        _ => {}
    }
    if model.help {
        return help_key(model, key);
    }
    match key.code {
        KeyCode::Char('t') if ctrl(&key) => {
            model.focus = if model.focus == Focus::Messages {
                Focus::Input
            } else {
                Focus::Messages
            };
        }
        KeyCode::Char('s') if ctrl(&key) => {
            model.show_left = true;
            model.focus = Focus::Servers;
        }
        // In the input, Ctrl-K deletes from the cursor to the end of the
        // line (readline) when there is text after the cursor; at the end
        // of the text it focuses the Buffers list, as in the original.
        KeyCode::Char('k')
            if ctrl(&key) && !(model.focus == Focus::Input && model.input.before_end()) =>
        {
            model.show_left = true;
            model.focus = Focus::Buffers;
        }
        KeyCode::Char('g') if ctrl(&key) => {
            model.popup = Some(Popup::Switcher(Switcher::default()))
        }
        KeyCode::Char('f') if ctrl(&key) => {
            let name = model.here().1;
            let title = format!("Search in {name}...");
            model.popup = Some(Prompt::popup(&title, false, Purpose::Search { all: false }));
        }
        KeyCode::Up if mods.contains(KeyModifiers::ALT) => navigation::cycle_buffer(model, -1),
        KeyCode::Down if mods.contains(KeyModifiers::ALT) => navigation::cycle_buffer(model, 1),
        KeyCode::Up if mods.contains(KeyModifiers::SHIFT) => {
            navigation::cycle_server(model, -1, fx)
        }
        KeyCode::Down if mods.contains(KeyModifiers::SHIFT) => {
            navigation::cycle_server(model, 1, fx)
        }
        KeyCode::PageUp => scrolling::scroll(model, page(model), fx),
        KeyCode::PageDown => scrolling::scroll(model, -page(model), fx),
        _ => match model.focus {
            Focus::Input => input_key(model, key, fx),
            Focus::Messages => messages_key(model, key, fx),
            Focus::Buffers => buffers_key(model, key, fx),
            Focus::Servers => servers_key(model, key, fx),
        },
    }
}

/// Rows one PgUp scrolls.
fn page(model: &Model) -> isize {
    let rows = model.view.height.saturating_sub(1).max(1);
    isize::try_from(rows).unwrap_or(isize::MAX)
}

fn help_key(model: &mut Model, key: KeyEvent) {
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') => {
            model.help = false;
            model.focus = Focus::Input;
        }
        KeyCode::Up => model.help_scroll = model.help_scroll.saturating_sub(1),
        KeyCode::Down => model.help_scroll = model.help_scroll.saturating_add(1),
        KeyCode::PageUp => model.help_scroll = model.help_scroll.saturating_sub(10),
        KeyCode::PageDown => model.help_scroll = model.help_scroll.saturating_add(10),
        KeyCode::Home => model.help_scroll = 0,
        _ => {}
    }
}

fn messages_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let back_to_end = |m: &mut Model| {
        if let Some(b) = m.server_mut().buffer_mut() {
            b.scroll = 0;
        }
    };
    match key.code {
        KeyCode::Esc
            if key
                .modifiers
                .intersects(KeyModifiers::SHIFT | KeyModifiers::ALT) =>
        {
            scrolling::scroll(model, isize::MAX / 2, fx);
        }
        KeyCode::Home => scrolling::scroll(model, isize::MAX / 2, fx),
        // Esc also ends the highlight of a search.
        KeyCode::Esc => {
            back_to_end(model);
            if let Some(b) = model.server_mut().buffer_mut() {
                b.highlight = None;
            }
        }
        KeyCode::End => back_to_end(model),
        KeyCode::Up => scrolling::scroll(model, 1, fx),
        KeyCode::Down => scrolling::scroll(model, -1, fx),
        KeyCode::Enter | KeyCode::Tab => model.focus = Focus::Input,
        KeyCode::Char(_) if !ctrl(&key) => {
            model.focus = Focus::Input;
            edit(&mut model.input, key);
        }
        _ => {}
    }
}
