//! Tab completion of slash commands, their options and user names.

use crossterm::event::{KeyCode, KeyModifiers};
use gochat_client::tui::{Outcome, Task};

use crate::tui_support::*;

fn tab(m: &mut gochat_client::tui::Model) {
    key(m, KeyCode::Tab);
}

/// Types `typed`, presses Tab, and asserts that the input then reads `want`.
fn completes(m: &mut gochat_client::tui::Model, typed: &str, want: &str) {
    type_text(m, typed);
    tab(m);
    assert_eq!(m.input.text(), want);
}

#[test]
fn commands_and_their_options_complete() {
    let mut m = new_model();
    completes(&mut m, "/subs", "/subscribe ");
    type_text(&mut m, "new_l");
    tab(&mut m);
    // new_login and new_logout: the first, then Tab cycles.
    assert_eq!(m.input.text(), "/subscribe new_login");
    let s = screen(&m);
    assert!(s.contains("Tab: new_login new_logout"), "{s}");
    tab(&mut m);
    assert_eq!(m.input.text(), "/subscribe new_logout");
    press(&mut m, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(m.input.text(), "/subscribe new_login");
    // Another key ends the cycle; the list goes.
    type_text(&mut m, " ");
    assert!(m.completion.is_none());
    assert!(!screen(&m).contains("Tab: "));
    key(&mut m, KeyCode::Esc);

    completes(&mut m, "/set TUI.Be", "/set TUI.Bell ");
    completes(&mut m, "f", "/set TUI.Bell false ");
    key(&mut m, KeyCode::Esc);
    type_text(&mut m, "/users l");
    tab(&mut m);
    completes(&mut m, "s", "/users local server ");
    key(&mut m, KeyCode::Esc);
    completes(&mut m, "/connect -nov", "/connect -noverify ");
    key(&mut m, KeyCode::Esc);
    // Completion works in the middle of the line too.
    type_text(&mut m, "/ver and more");
    for _ in 0.." and more".len() {
        key(&mut m, KeyCode::Left);
    }
    tab(&mut m);
    assert_eq!(m.input.text(), "/version  and more");
    // Nothing to complete: nothing changes.
    key(&mut m, KeyCode::Esc);
    completes(&mut m, "/zzz", "/zzz");
}

#[test]
fn user_names_complete_from_online_users_contacts_and_accounts() {
    let mut m = logged_in();
    type_text(&mut m, "/msg ca");
    tab(&mut m);
    assert_eq!(m.input.text(), "/msg carol ", "carol is online");
    key(&mut m, KeyCode::Esc);
    type_text(&mut m, "/login ");
    tab(&mut m);
    assert_eq!(m.input.text(), "/login alice", "alice first of several");
    key(&mut m, KeyCode::Esc);

    // Contacts and local accounts come from the store once connected.
    let mut m = model_on_test();
    let (ctx, _) = only_task(enter(&mut m, "/connect"));
    let fx = done(
        &mut m,
        ctx,
        Outcome::Connected {
            motd: String::new(),
        },
    );
    let (ctx, task) = only_task(fx);
    assert_eq!(task, Task::Names);
    done(
        &mut m,
        ctx,
        Outcome::Names {
            contacts: vec!["dave".into(), "daisy".into()],
            accounts: vec!["alice".into()],
        },
    );
    completes(&mut m, "/login a", "/login alice ");
    key(&mut m, KeyCode::Esc);
    // In a text, names complete too; several cycle in order.
    completes(&mut m, "hello da", "hello daisy");
    tab(&mut m);
    assert_eq!(m.input.text(), "hello dave");
    tab(&mut m);
    assert_eq!(m.input.text(), "hello daisy");
    // Ctrl-Z takes a completion back.
    ctrl(&mut m, 'z');
    assert_eq!(m.input.text(), "hello dave");
    // A paste ends the cycle: Tab then completes what is there anew.
    key(&mut m, KeyCode::Esc);
    type_text(&mut m, "da");
    key(&mut m, KeyCode::Tab);
    assert!(m.completion.is_some());
    gochat_client::tui::update(&mut m, gochat_client::tui::Msg::Paste(" and da".into()));
    assert!(m.completion.is_none());
    key(&mut m, KeyCode::Tab);
    assert_eq!(m.input.text(), "daisy and daisy");
}
