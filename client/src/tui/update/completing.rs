//! Tab and Shift-Tab in the input: complete the word before the cursor
//! (slash commands, their options, user names), and cycle through the
//! candidates when there are several.

use crate::tui::model::Model;
use crate::tui::model::completion::{Completion, candidates, word_start};

/// Tab (`back` false) or Shift-Tab (`back` true) in the input: one
/// candidate is put in with a space after it; of several, the first is put
/// in and each Tab again puts the next one in its place (Shift-Tab the one
/// before).
pub fn tab(model: &mut Model, back: bool) {
    let cursor = model.input.cursor();
    if let Some(mut c) = model.completion.take()
        && c.end == cursor
        && !c.candidates.is_empty()
    {
        let n = c.candidates.len();
        c.index = if back {
            (c.index + n - 1) % n
        } else {
            (c.index + 1) % n
        };
        let text = c.candidates[c.index].clone();
        model.input.replace_before_cursor(c.start, &text);
        c.end = model.input.cursor();
        model.completion = Some(c);
        return;
    }
    let line = model.input.text().to_owned();
    let found = candidates(model, &line, cursor);
    let start = word_start(&line, cursor);
    match found.as_slice() {
        [] => {}
        [only] => {
            let text = format!("{only} ");
            model.input.replace_before_cursor(start, &text);
        }
        [first, ..] => {
            let index = if back { found.len() - 1 } else { 0 };
            let text = if back {
                found[index].clone()
            } else {
                first.clone()
            };
            model.input.replace_before_cursor(start, &text);
            model.completion = Some(Completion {
                start,
                end: model.input.cursor(),
                candidates: found,
                index,
            });
        }
    }
}
