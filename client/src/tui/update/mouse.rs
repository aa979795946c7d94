//! The mouse, while the TUI takes it (`TUI.Mouse`, Alt-M): a click on a
//! buffer or a server shows it, a click on the messages or the input
//! focuses them, the wheel scrolls the messages (or the help page).

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::{navigation, scrolling};
use crate::tui::model::layout::{SERVER_ROWS, areas, list_offset};
use crate::tui::model::{Focus, Model};
use crate::tui::msg::Effect;

/// Rows one turn of the wheel scrolls.
pub const WHEEL_ROWS: isize = 3;

/// Turns taking the mouse on or off (Alt-M, `/set TUI.Mouse`).
pub fn set_capture(model: &mut Model, on: bool, fx: &mut Vec<Effect>) {
    model.config.mouse = on;
    fx.push(Effect::MouseCapture(on));
}

/// The item of a bordered list in `area` at screen row `y`, for items of
/// `item_rows` rows, `len` items and `selected` the one the list keeps in
/// view.
fn list_item(area: Rect, y: u16, item_rows: usize, len: usize, selected: usize) -> Option<usize> {
    let inner = area.height.saturating_sub(2);
    let row = y
        .checked_sub(area.y.saturating_add(1))
        .filter(|r| *r < inner)?;
    let offset = list_offset(selected, item_rows, usize::from(inner));
    let item = offset + usize::from(row) / item_rows.max(1);
    (item < len).then_some(item)
}

/// Handles a mouse event.
pub fn on_mouse(model: &mut Model, ev: MouseEvent, fx: &mut Vec<Effect>) {
    if !model.config.mouse {
        return;
    }
    let (w, h) = model.size;
    let a = areas(model, Rect::new(0, 0, w, h));
    let at = Position::new(ev.column, ev.row);
    let over_messages = a.messages.contains(at);
    match ev.kind {
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown if model.popup.is_none() => {
            let up = ev.kind == MouseEventKind::ScrollUp;
            if model.help {
                model.help_scroll = if up {
                    model.help_scroll.saturating_sub(WHEEL_ROWS as u16)
                } else {
                    model.help_scroll.saturating_add(WHEEL_ROWS as u16)
                };
            } else if over_messages {
                scrolling::scroll(model, if up { WHEEL_ROWS } else { -WHEEL_ROWS }, fx);
            }
        }
        MouseEventKind::Down(MouseButton::Left) if model.popup.is_none() && !model.help => {
            click(model, &a, at, fx)
        }
        _ => {}
    }
}

fn click(
    model: &mut Model,
    a: &crate::tui::model::layout::Areas,
    at: Position,
    fx: &mut Vec<Effect>,
) {
    if let Some(area) = a.buffers.filter(|r| r.contains(at)) {
        let s = model.server();
        let list: Vec<usize> = s.visible().map(|(i, _)| i).collect();
        let selected = list.iter().position(|&i| i == s.current).unwrap_or(0);
        if let Some(n) = list_item(area, at.y, 1, list.len(), selected) {
            navigation::switch_buffer(model, list[n]);
        }
        model.focus = Focus::Input;
    } else if let Some(area) = a.servers.filter(|r| r.contains(at)) {
        let list: Vec<usize> = model.visible_servers().map(|(i, _)| i).collect();
        let selected = list.iter().position(|&i| i == model.current).unwrap_or(0);
        if let Some(n) = list_item(area, at.y, SERVER_ROWS, list.len(), selected) {
            navigation::switch_server(model, list[n], fx);
        }
        model.focus = Focus::Input;
    } else if a.messages.contains(at) {
        model.focus = Focus::Messages;
    } else if a.input.is_some_and(|r| r.contains(at)) {
        model.focus = Focus::Input;
    }
}
