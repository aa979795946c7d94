//! Readline editing in the input, a draft kept per buffer, and dates beside
//! the times of messages not from today.

use crossterm::event::{KeyCode, KeyModifiers};
use gochat_client::tui::model::Focus;

use crate::tui_support::*;

#[test]
fn readline_keys_edit_the_input() {
    let mut m = new_model();
    type_text(&mut m, "say hello to bob");
    ctrl(&mut m, 'a');
    assert_eq!(m.input.cursor(), 0);
    alt(&mut m, 'f');
    alt(&mut m, 'f');
    assert_eq!(&m.input.text()[m.input.cursor()..], " to bob");
    // Ctrl-K with text after the cursor deletes it and keeps the focus.
    ctrl(&mut m, 'k');
    assert_eq!(m.input.text(), "say hello");
    assert_eq!(m.focus, Focus::Input);
    alt(&mut m, 'b');
    ctrl_pair(&mut m, 'e', 'w');
    assert_eq!(m.input.text(), "say ");
    // Ctrl-Z (and Ctrl-_, which terminals send as Ctrl-7) undo.
    ctrl(&mut m, 'z');
    assert_eq!(m.input.text(), "say hello");
    ctrl(&mut m, 'z');
    assert_eq!(m.input.text(), "say hello to bob");
    // The cursor went back to where the kill took place.
    assert_eq!(&m.input.text()[m.input.cursor()..], " to bob");
    ctrl_pair(&mut m, 'e', 'u');
    assert_eq!(
        m.input.text(),
        "",
        "Ctrl-U deletes what is before the cursor"
    );
    assert!(m.show_users, "and does not touch the Users panel");
    ctrl(&mut m, '7');
    assert_eq!(m.input.text(), "say hello to bob");
    ctrl(&mut m, 'y');
    assert_eq!(m.input.text(), "say hello to bobsay hello to bob");
    key(&mut m, KeyCode::Esc);
    assert!(m.input.is_empty());
    ctrl(&mut m, 'z');
    assert_eq!(
        m.input.text(),
        "say hello to bobsay hello to bob",
        "Esc undone"
    );
    press(&mut m, KeyCode::Left, KeyModifiers::CONTROL);
    press(&mut m, KeyCode::Backspace, KeyModifiers::ALT);
    assert_eq!(m.input.text(), "say hello to bobsay hello bob");
    let s = screen(&m);
    assert!(s.contains(" > say hello to bobsay hello bob"), "{s}");
}

#[test]
fn ctrl_k_and_ctrl_u_keep_their_original_meaning_with_nothing_to_delete() {
    let mut m = new_model();
    // Empty input: Ctrl-U shows/hides the Users panel, Ctrl-K focuses the list.
    ctrl(&mut m, 'u');
    assert!(!m.show_users);
    ctrl(&mut m, 'u');
    assert!(m.show_users);
    ctrl(&mut m, 'k');
    assert_eq!(m.focus, Focus::Buffers);
    key(&mut m, KeyCode::Esc);
    // The cursor at the end of the text: Ctrl-K still goes to the list.
    type_text(&mut m, "draft");
    ctrl(&mut m, 'k');
    assert_eq!(m.focus, Focus::Buffers);
    assert_eq!(m.input.text(), "draft");
    key(&mut m, KeyCode::Esc);
    // The cursor at the start: Ctrl-U still toggles the panel.
    ctrl_pair(&mut m, 'a', 'u');
    assert!(!m.show_users);
    assert_eq!(m.input.text(), "draft");
}

#[test]
fn each_buffer_keeps_its_draft() {
    let mut m = logged_in();
    open_chat(&mut m, "bob", vec![]);
    type_text(&mut m, "half a message to bob");
    open_chat_with_typing_elsewhere(&mut m);
    assert_eq!(m.server().buffer().unwrap().name, "carol");
    assert!(m.input.is_empty(), "carol's buffer has no draft");
    type_text(&mut m, "for carol");
    // Alt-Up back to bob: his draft comes back, carol's is kept.
    press(&mut m, KeyCode::Up, KeyModifiers::ALT);
    assert_eq!(m.server().buffer().unwrap().name, "bob");
    assert_eq!(m.input.text(), "half a message to bob");
    let s = screen(&m);
    assert!(s.contains("(alice) > half a message to bob"), "{s}");
    // Another server and back.
    press(&mut m, KeyCode::Up, KeyModifiers::SHIFT);
    assert_eq!(m.server().name(), "Local");
    assert!(m.input.is_empty());
    press(&mut m, KeyCode::Down, KeyModifiers::SHIFT);
    assert_eq!(m.input.text(), "half a message to bob");
    press(&mut m, KeyCode::Down, KeyModifiers::ALT);
    assert_eq!(m.input.text(), "for carol");
    // Undo history stays with the draft too.
    ctrl(&mut m, 'z');
    assert_eq!(m.input.text(), "for");
}

/// Opens carol's buffer from bob's (the draft there stays bob's): Ctrl-K
/// goes to the list, the cursor being at the end of the text.
fn open_chat_with_typing_elsewhere(m: &mut gochat_client::tui::Model) {
    open_chat(m, "carol", vec![]);
}

#[test]
fn messages_not_from_today_show_their_date_beside_the_time() {
    let mut m = logged_in();
    let page = vec![
        chat(3, "bob", false, WALL - 60, "from today"),
        chat(2, "bob", true, WALL - DAY, "yesterday's"),
        chat(1, "bob", false, WALL - 40 * DAY, "a month ago"),
    ];
    open_chat(&mut m, "bob", page);
    let s = screen(&m);
    assert!(s.contains("[bob] at 11:59AM: from today"), "{s}");
    assert!(
        s.contains("[You] at 2024-02-29 12:00PM: yesterday's"),
        "{s}"
    );
    assert!(
        s.contains("[bob] at 2024-01-21 12:00PM: a month ago"),
        "{s}"
    );
    // At midnight, today's message becomes yesterday's and gets its date.
    m.wall = WALL + DAY / 2;
    gochat_client::tui::update(&mut m, gochat_client::tui::Msg::Tick);
    let s = screen(&m);
    assert!(s.contains("[bob] at 2024-03-01 11:59AM: from today"), "{s}");
}
