//! The update function: the only place the [`Model`] changes. Pure: it
//! reads the clock only from the model (the runner sets `now` and `wall`
//! before each call) and asks for side effects by returning [`Effect`]s.

use super::model::{Focus, Model};
use super::msg::{Effect, Msg};
use super::popup::Popup;
use super::{done, keys, net};

/// Folds `msg` into `model` and returns what the runner must do.
pub fn update(model: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) => keys::on_key(model, key, &mut fx),
        Msg::Paste(text) => paste(model, &text),
        Msg::Resize(w, h) => model.size = (w, h),
        Msg::Net {
            server,
            generation,
            event,
        } => net::on_net(model, server, generation, event, &mut fx),
        Msg::Done { ctx, result } => done::on_done(model, ctx, result, &mut fx),
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
    fx
}

/// Pasted text goes to the popup's field, else to the input.
fn paste(model: &mut Model, text: &str) {
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
