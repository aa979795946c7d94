//! The update function: the only place the [`Model`] changes. Pure: it
//! reads the clock only from the model (the runner sets `now` and `wall`
//! before each call) and asks for side effects by returning [`Effect`]s.
//!
//! It reads and changes the model and never looks at how anything is drawn:
//! the size of the messages view and the row counts it scrolls by are kept
//! in the model ([`Model::refresh`], called before and after each message).
//!
//! - [`keys`], [`input_keys`], [`list_keys`], [`popup_keys`], [`editing`],
//!   [`completing`]: what keys do, by what has the focus.
//! - [`slash_commands`], [`config_command`], [`searching`]: running `/`
//!   commands.
//! - [`task_results`], [`connection_events`]: what tasks and connections
//!   report.
//! - [`auto_start`]: connecting (at start too) and logging in at connect.
//! - [`mouse`]: clicks and the wheel.
//! - [`navigation`], [`scrolling`], [`sending`], [`task_start`]: what those
//!   have in common.

mod auto_start;
mod completing;
mod config_command;
mod connection_events;
mod editing;
mod input_keys;
mod keys;
mod list_keys;
mod mouse;
mod navigation;
mod popup_keys;
mod scrolling;
mod searching;
mod sending;
mod slash_commands;
mod task_results;
mod task_start;

use super::model::{Focus, Model, Popup};
use super::msg::{Effect, Msg};

/// Folds `msg` into `model` and returns what the runner must do.
pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    model.refresh();
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) => keys::on_key(model, key, &mut fx),
        Msg::Mouse(ev) => mouse::on_mouse(model, ev, &mut fx),
        Msg::Paste(text) => paste(model, &text),
        Msg::Resize(w, h) => model.size = (w, h),
        Msg::Net {
            server,
            generation,
            event,
        } => connection_events::on_net(model, server, generation, event, &mut fx),
        Msg::Done { ctx, result } => task_results::on_done(model, ctx, result, &mut fx),
        Msg::Started(options) => auto_start::started(model, options, &mut fx),
        Msg::Tick => model.spinner = model.spinner.wrapping_add(1),
        Msg::Quit => fx.push(Effect::Quit),
    }
    if model
        .error
        .as_ref()
        .is_some_and(|(_, until)| model.now >= *until)
    {
        model.error = None;
    }
    model.refresh();
    fx
}

/// Pasted text goes to the popup's field, else to the input (ending a Tab
/// completion).
fn paste(model: &mut Model, text: &str) {
    model.completion = None;
    match &mut model.popup {
        Some(Popup::Prompt(p)) => p.input.insert_str(&text.replace(['\r', '\n'], "")),
        Some(Popup::Switcher(s)) => s.input.insert_str(&text.replace(['\r', '\n'], "")),
        Some(Popup::Confirm(_)) => {}
        None if model.help => {}
        None => {
            model.focus = Focus::Input;
            model.input.insert_str(text);
        }
    }
}
