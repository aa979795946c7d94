//! Scrolling the buffer on screen by the rows the model keeps, and asking
//! for older history when the top is reached.

use crate::tui::model::{BufferKind, Model, PAGE};
use crate::tui::msg::{Ctx, Effect, Tag, Task};

use super::task_start::start;

/// Asks for the first (or next older) page of buffer `name` of server `key`.
pub fn load_page(model: &mut Model, key: i64, name: &str, fx: &mut Vec<Effect>) {
    let Some(s) = model.by_key(key) else { return };
    let Some(account) = s.user.clone() else {
        return;
    };
    let Some(b) = s.find(name).and_then(|i| s.buffers.get_mut(i)) else {
        return;
    };
    if b.kind != BufferKind::Chat || b.loading || b.history_done || !b.ready {
        return;
    }
    b.loading = true;
    let before = b.oldest_id;
    let ctx = Ctx {
        server: key,
        buffer: name.to_owned(),
        cmd: "history",
        tag: Tag::History {
            peer: name.to_owned(),
        },
    };
    start(
        model,
        fx,
        ctx,
        Task::History {
            account,
            peer: name.to_owned(),
            before,
            limit: PAGE,
        },
    );
}

/// Scrolls the buffer on screen `rows` up (negative: down), within the
/// rows it takes (as the model counted them); reaching the top of what is
/// loaded asks for the next older page.
pub fn scroll(model: &mut Model, rows: isize, fx: &mut Vec<Effect>) {
    let height = model.view.height;
    let (key, name) = model.here();
    let Some(b) = model.server_mut().buffer_mut() else {
        return;
    };
    let total = b.total_rows().unwrap_or(0);
    let max = total.saturating_sub(height);
    let wanted = if rows < 0 {
        b.scroll.saturating_sub(rows.unsigned_abs())
    } else {
        b.scroll.saturating_add(rows.unsigned_abs())
    };
    b.scroll = wanted.min(max);
    if wanted >= max {
        load_page(model, key, &name, fx);
    }
}
