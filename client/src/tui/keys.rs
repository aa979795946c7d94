//! Key bindings: global keys first (as the original's application input
//! capture), then the help page, then whatever has the focus.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::actions;
use super::model::{Focus, Model};
use super::msg::Effect;
use super::perform;
use super::popup::{self, Confirm, ConfirmAction, Popup, Prompt, Purpose};
use super::render::layout;
use super::render::lists::from_shortcut;
use super::switcher::Switcher;

/// The delete-buffer question (the original's text).
pub const DELETE_BUFFER: &str = "Do you want to permanently\ndelete this buffer?";
/// The delete-server question (the original's text).
pub const DELETE_SERVER: &str = "Do you want to permanently\ndelete this server?\nAll information about this server will be lost!";

fn ctrl(k: &KeyEvent) -> bool {
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
    // Keys that work everywhere, popups included.
    match key.code {
        KeyCode::Char('q') if ctrl(&key) => return fx.push(Effect::Quit),
        KeyCode::Char('c') if ctrl(&key) => return,
        KeyCode::Char('r') if ctrl(&key) => return fx.push(Effect::Redraw),
        _ => {}
    }
    if model.popup.is_some() {
        return popup::on_key(model, key, fx);
    }
    if is_help_key(&key) {
        model.help = !model.help;
        model.help_scroll = 0;
        // Like a popup, the help page gives the keys back to the input.
        model.focus = Focus::Input;
        return;
    }
    match key.code {
        KeyCode::Char('u') if ctrl(&key) => return model.show_users = !model.show_users,
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
        KeyCode::Char('k') if ctrl(&key) => {
            model.show_left = true;
            model.focus = Focus::Buffers;
        }
        KeyCode::Char('g') if ctrl(&key) => {
            model.popup = Some(Popup::Switcher(Switcher::default()))
        }
        KeyCode::Up if mods.contains(KeyModifiers::ALT) => actions::cycle_buffer(model, -1),
        KeyCode::Down if mods.contains(KeyModifiers::ALT) => actions::cycle_buffer(model, 1),
        KeyCode::Up if mods.contains(KeyModifiers::SHIFT) => actions::cycle_server(model, -1, fx),
        KeyCode::Down if mods.contains(KeyModifiers::SHIFT) => actions::cycle_server(model, 1, fx),
        KeyCode::PageUp => actions::scroll(model, page(model), fx),
        KeyCode::PageDown => actions::scroll(model, -page(model), fx),
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
    let (_, height) = layout::message_view(model);
    height.saturating_sub(1).max(1) as isize
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

fn input_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    let mods = key.modifiers;
    match key.code {
        KeyCode::Enter if mods.intersects(KeyModifiers::SHIFT | KeyModifiers::ALT) => {
            model.input.insert('\n')
        }
        KeyCode::Char('j') if ctrl(&key) => model.input.insert('\n'),
        KeyCode::Enter => {
            if model.input.is_empty() {
                return;
            }
            let text = model.input.take();
            model.history_pos = None;
            if text.starts_with("//") {
                actions::send_text(model, text[1..].to_owned(), fx);
            } else if text.starts_with('/') {
                perform::command_line(model, &text, fx);
            } else {
                actions::send_text(model, text, fx);
            }
        }
        KeyCode::Esc => {
            model.input.take();
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
                model.input.take();
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
            popup::edit(&mut model.input, key);
        }
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
            actions::scroll(model, isize::MAX / 2, fx);
        }
        KeyCode::Home => actions::scroll(model, isize::MAX / 2, fx),
        KeyCode::Esc | KeyCode::End => back_to_end(model),
        KeyCode::Up => actions::scroll(model, 1, fx),
        KeyCode::Down => actions::scroll(model, -1, fx),
        KeyCode::Enter | KeyCode::Tab => model.focus = Focus::Input,
        KeyCode::Char(_) if !ctrl(&key) => {
            model.focus = Focus::Input;
            popup::edit(&mut model.input, key);
        }
        _ => {}
    }
}

fn buffers_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
    match key.code {
        KeyCode::Char('n') if ctrl(&key) => {
            model.popup = Some(Prompt::popup(
                "Enter buffer name...",
                false,
                Purpose::BufferName,
            ));
        }
        KeyCode::Char('w') if ctrl(&key) => actions::hide_buffer(model),
        KeyCode::Char('x') if ctrl(&key) => {
            let (key, name, system) = {
                let s = model.server();
                let b = s.buffer();
                (
                    s.key,
                    b.map(|b| b.name.clone()).unwrap_or_default(),
                    b.is_none_or(|b| b.kind == super::model::BufferKind::System),
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
        KeyCode::Up => actions::cycle_buffer(model, -1),
        KeyCode::Down => actions::cycle_buffer(model, 1),
        KeyCode::Enter | KeyCode::Char(' ') | KeyCode::Esc => model.focus = Focus::Input,
        KeyCode::Char(c) if !ctrl(&key) => {
            let found =
                from_shortcut(c).and_then(|n| model.server().visible().nth(n).map(|(i, _)| i));
            if let Some(i) = found {
                actions::switch_buffer(model, i);
                model.focus = Focus::Input;
            }
        }
        _ => {}
    }
    let _ = fx;
}

fn servers_key(model: &mut Model, key: KeyEvent, fx: &mut Vec<Effect>) {
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
            actions::hide_server(model, k, fx);
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
        KeyCode::Up => actions::cycle_server(model, -1, fx),
        KeyCode::Down => actions::cycle_server(model, 1, fx),
        KeyCode::Enter | KeyCode::Char(' ') | KeyCode::Esc => model.focus = Focus::Input,
        KeyCode::Char(c @ '1'..='9') if !ctrl(&key) => {
            let found =
                from_shortcut(c).and_then(|n| model.visible_servers().nth(n).map(|(i, _)| i));
            if let Some(i) = found {
                actions::switch_server(model, i, fx);
                model.focus = Focus::Input;
            }
        }
        _ => {}
    }
}
