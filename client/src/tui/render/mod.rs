//! Drawing: [`render`] reads the [`Model`] and draws one frame. It never
//! changes anything, so it can run as often as the runner likes (and in
//! tests on ratatui's `TestBackend`).

pub mod lists;
pub mod messages;
pub mod overlay;
pub mod panels;

use ratatui::Frame;

use super::model::Model;
use super::model::layout::areas;

/// Draws the whole screen for `model`.
pub fn render(model: &Model, frame: &mut Frame) {
    let a = areas(model, frame.area());
    if let Some(area) = a.buffers {
        lists::draw_buffers(model, frame, area);
    }
    if let Some(area) = a.servers {
        lists::draw_servers(model, frame, area);
    }
    if let Some(area) = a.notifications {
        panels::draw_notifications(model, frame, area);
    }
    if model.help {
        overlay::draw_help(model, frame, a.messages);
    } else {
        messages::draw(model, frame, a.messages);
    }
    if let Some(area) = a.error {
        panels::draw_error(model, frame, area);
    }
    if let Some(area) = a.input {
        panels::draw_input(model, frame, area);
    }
    if let Some(area) = a.users {
        panels::draw_users(model, frame, area);
    }
    overlay::draw_popup(model, frame, frame.area());
}
