//! Starting a task: the effect that asks the runner for a service call,
//! and the context its result comes back with.

use crate::tui::model::Model;
use crate::tui::msg::{Ctx, Effect, Tag, Task};

/// Starts `task` (the spinner turns until its result comes back).
pub fn start(model: &mut Model, fx: &mut Vec<Effect>, ctx: Ctx, task: Task) {
    model.pending += 1;
    fx.push(Effect::Task { ctx, task });
}

/// A context for output to the buffer on screen.
pub fn here(model: &Model, cmd: &'static str, tag: Tag) -> Ctx {
    let (server, buffer) = model.here();
    Ctx {
        server,
        buffer,
        cmd,
        tag,
    }
}
