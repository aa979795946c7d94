//! The mouse: a click on a buffer or a server shows it, the wheel scrolls,
//! Alt-M (or `/set TUI.Mouse`) gives the mouse back to the terminal.

use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use gochat_client::tui::model::Focus;
use gochat_client::tui::{Effect, Model, Msg, update};

use crate::tui_support::*;

fn mouse(m: &mut Model, kind: MouseEventKind, column: u16, row: u16) -> Vec<Effect> {
    update(
        m,
        Msg::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        }),
    )
}

fn click(m: &mut Model, column: u16, row: u16) -> Vec<Effect> {
    mouse(m, MouseEventKind::Down(MouseButton::Left), column, row)
}

/// Where `text` is on screen: (column, row) of its first character.
fn place(m: &Model, text: &str) -> (u16, u16) {
    let s = screen(m);
    for (row, line) in s.lines().enumerate() {
        if let Some(byte) = line.find(text) {
            let column = line[..byte].chars().count();
            return (column as u16, row as u16);
        }
    }
    panic!("{text:?} not on screen:\n{s}");
}

#[test]
fn clicks_switch_buffers_and_servers() {
    let mut m = logged_in();
    open_chat(&mut m, "bob", vec![]);
    open_chat(&mut m, "carol", vec![]);
    let (x, y) = place(&m, "2 bob");
    click(&mut m, x + 2, y);
    assert_eq!(m.server().buffer().unwrap().name, "bob");
    assert_eq!(m.focus, Focus::Input);
    let (x, y) = place(&m, "1 Default");
    click(&mut m, x, y);
    assert_eq!(m.server().buffer().unwrap().name, "Default");
    // A server's second row (its address) counts as the server too.
    let (x, y) = place(&m, "System Server");
    click(&mut m, x, y);
    assert_eq!(m.server().name(), "Local");
    let (x, y) = place(&m, "test");
    click(&mut m, x, y);
    assert_eq!(m.server().name(), "test");
    // A click on the messages focuses them; on the input, the input.
    let (x, y) = place(&m, "Default @ test");
    click(&mut m, x, y + 2);
    assert_eq!(m.focus, Focus::Messages);
    let (x, y) = place(&m, "(alice) >");
    click(&mut m, x, y);
    assert_eq!(m.focus, Focus::Input);
}

#[test]
fn a_click_finds_the_buffer_shown_in_a_scrolled_list() {
    let mut m = new_model();
    update(&mut m, Msg::Resize(100, 16));
    for i in 0..20 {
        ctrl_pair(&mut m, 'k', 'n');
        type_text(&mut m, &format!("note{i:02}"));
        key(&mut m, crossterm::event::KeyCode::Enter);
    }
    // The list is scrolled to keep note19 in view: the top row is another.
    let s = screen(&m);
    assert!(!s.contains("1 System"), "{s}");
    let top = s.lines().nth(1).unwrap();
    let name = top
        .split_whitespace()
        .find(|w| w.starts_with("note"))
        .unwrap()
        .trim_end_matches('│')
        .to_owned();
    let (x, y) = place(&m, &name);
    click(&mut m, x, y);
    assert_eq!(m.server().buffer().unwrap().name, name, "{s}");
}

#[test]
fn the_wheel_scrolls_the_messages() {
    let mut m = new_model();
    for i in 0..80 {
        m.say(format!("line {i}"));
    }
    let (x, y) = place(&m, "System @ Local");
    mouse(&mut m, MouseEventKind::ScrollUp, x, y + 3);
    assert_eq!(m.server().buffer().unwrap().scroll, 3);
    assert!(screen(&m).contains("(scrolled)"));
    mouse(&mut m, MouseEventKind::ScrollDown, x, y + 3);
    assert_eq!(m.server().buffer().unwrap().scroll, 0);
    // Over the lists the wheel does nothing.
    let (x, y) = place(&m, "1 System");
    mouse(&mut m, MouseEventKind::ScrollUp, x, y);
    assert_eq!(m.server().buffer().unwrap().scroll, 0);
}

#[test]
fn alt_m_gives_the_mouse_to_the_terminal_and_back() {
    let mut m = new_model();
    assert_eq!(alt(&mut m, 'm'), vec![Effect::MouseCapture(false)]);
    assert!(!m.config.mouse);
    assert!(screen(&m).contains("mouse off: the terminal selects (Alt-M)"));
    // Events that still come are ignored.
    let (x, y) = place(&m, "2   test");
    click(&mut m, x, y);
    assert_eq!(m.server().name(), "Local");
    assert_eq!(alt(&mut m, 'm'), vec![Effect::MouseCapture(true)]);
    assert!(!screen(&m).contains("mouse off"));
    let fx = enter(&mut m, "/set TUI.Mouse off");
    assert_eq!(fx, vec![Effect::MouseCapture(false)]);
    enter(&mut m, "/config");
    assert!(screen(&m).contains("- TUI.Mouse = false"));
}
