//! Where everything goes on screen, for the terminal size and what shows.
//! The renderer draws into these areas; the model keeps the messages view's
//! size from them, which the update function scrolls by.

use ratatui::layout::{Constraint, Layout, Rect};

use super::notifications::notifications;
use super::state::{Model, ViewSize};

/// Rows an item of the Servers list takes (its name, its address).
pub const SERVER_ROWS: usize = 2;

/// The first item a list shows when `selected` must show, for items of
/// `item_rows` rows in `height` rows: the top of the list while it fits,
/// else as far down as keeps `selected` on the last row. The renderer
/// scrolls the lists by it and the mouse finds their items by it.
pub fn list_offset(selected: usize, item_rows: usize, height: usize) -> usize {
    let fits = (height / item_rows.max(1)).max(1);
    (selected + 1).saturating_sub(fits)
}

/// The screen's parts; `None` for parts not shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    /// The Buffers list.
    pub buffers: Option<Rect>,
    /// The Servers list.
    pub servers: Option<Rect>,
    /// The notifications bar.
    pub notifications: Option<Rect>,
    /// The messages view (or the help page), borders included.
    pub messages: Rect,
    /// The error bar.
    pub error: Option<Rect>,
    /// The input box.
    pub input: Option<Rect>,
    /// The Users panel.
    pub users: Option<Rect>,
}

fn share(size: u16, relative: bool) -> Constraint {
    if relative {
        Constraint::Fill(size.max(1))
    } else {
        Constraint::Length(size)
    }
}

/// Whether the Users panel shows: logged in, and not hidden with Ctrl-U.
pub fn users_shown(model: &Model) -> bool {
    model.show_users && model.server().user.is_some()
}

/// The parts of `area` for `model`.
pub fn areas(model: &Model, area: Rect) -> Areas {
    let cfg = &model.config;
    let left = model.show_left;
    let users = users_shown(model);
    let [left_area, main, users_area] = Layout::horizontal([
        if left {
            share(cfg.buflist_size, cfg.buflist_relative)
        } else {
            Constraint::Length(0)
        },
        Constraint::Fill(6),
        if users {
            share(cfg.userlist_size, cfg.userlist_relative)
        } else {
            Constraint::Length(0)
        },
    ])
    .areas(area);

    let servers_rows = (model.visible_servers().count() as u16)
        .saturating_mul(SERVER_ROWS as u16)
        .saturating_add(2);
    let servers_rows = servers_rows.clamp(left_area.height / 4, left_area.height / 2);
    let [buffers, servers] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(servers_rows)]).areas(left_area);

    let notes = !notifications(model).is_empty();
    let error = model.error.is_some();
    let input = !model.help;
    let [notifications, messages, error_area, input_area] = Layout::vertical([
        Constraint::Length(if notes { 2 } else { 0 }),
        Constraint::Fill(1),
        Constraint::Length(if error { 1 } else { 0 }),
        Constraint::Length(if input { 4 } else { 0 }),
    ])
    .areas(main);

    Areas {
        buffers: left.then_some(buffers),
        servers: left.then_some(servers),
        notifications: notes.then_some(notifications),
        messages,
        error: error.then_some(error_area),
        input: input.then_some(input_area),
        users: users.then_some(users_area),
    }
}

/// The messages view's inner size for the model's terminal size.
pub fn message_view(model: &Model) -> ViewSize {
    let (w, h) = model.size;
    let a = areas(model, Rect::new(0, 0, w, h)).messages;
    ViewSize {
        width: usize::from(a.width.saturating_sub(2)),
        height: usize::from(a.height.saturating_sub(2)),
    }
}
