//! Search: a buffer's whole history or every conversation (`/search
//! [-all]`, Ctrl-F), the results listed in the Search results buffer with
//! the words highlighted, there and in the buffer searched.

use crossterm::event::KeyCode;
use gochat_client::tui::model::{BufferKind, SEARCH_BUFFER};
use gochat_client::tui::{Model, Outcome, Tag, Task};
use ratatui::style::Color;

use crate::tui_support::*;

/// Whether the screen shows `text` with the highlight's colours.
fn highlighted(m: &Model, text: &str) -> bool {
    let buf = drawn(m);
    let s = screen(m);
    s.lines().enumerate().any(|(y, line)| {
        line.match_indices(text).any(|(byte, _)| {
            let x = line[..byte].chars().count();
            (0..text.chars().count()).all(|k| {
                let cell = &buf[((x + k) as u16, y as u16)];
                cell.bg == Color::Yellow && cell.fg == Color::Black
            })
        })
    })
}

#[test]
fn a_conversation_is_searched_in_its_stored_history() {
    let mut m = logged_in();
    open_chat(
        &mut m,
        "bob",
        vec![
            chat(2, "bob", false, WALL - 60, "Lunch at noon?"),
            chat(1, "bob", true, WALL - 120, "hello"),
        ],
    );
    let fx = enter(&mut m, "/search NOON");
    let (ctx, task) = only_task(fx);
    assert_eq!(
        task,
        Task::Search {
            account: "alice".into(),
            peer: Some("bob".into()),
            query: "NOON".into(),
            limit: 200,
        }
    );
    assert!(matches!(ctx.tag, Tag::Search { .. }));
    // The results buffer shows at once, filled when the store answers.
    assert_eq!(m.server().buffer().unwrap().name, SEARCH_BUFFER);
    assert!(screen(&m).contains("Searching bob for \"NOON\"..."));
    let found = vec![
        chat(40, "bob", true, WALL - 30, "noon works"),
        chat(2, "bob", false, WALL - 60, "Lunch at noon?"),
        chat(1, "bob", false, WALL - 40 * 86_400, "a noon long ago"),
    ];
    done(
        &mut m,
        ctx,
        Outcome::Found {
            messages: found,
            total: 3,
        },
    );
    let s = screen(&m);
    let old = s
        .find("[bob] at 2024-01-21 12:00PM: a noon long ago")
        .unwrap();
    let lunch = s.find("[bob] at 11:59AM: Lunch at noon?").unwrap();
    let mine = s.find("[You → bob] at 11:59AM: noon works").unwrap();
    let header = s.find("Search for \"NOON\" in bob: 3 messages").unwrap();
    assert!(old < lunch && lunch < mine && mine < header, "{s}");
    assert!(highlighted(&m, "noon"), "{s}");
    assert!(!highlighted(&m, "Lunch"));
    // The conversation searched has the words highlighted too.
    ctrl(&mut m, 'g');
    enter(&mut m, "bob");
    assert_eq!(m.server().buffer().unwrap().name, "bob");
    assert!(highlighted(&m, "noon"));
    // Esc in the messages ends the highlight.
    ctrl(&mut m, 't');
    key(&mut m, KeyCode::Esc);
    assert!(!highlighted(&m, "noon"));
    // No typing into the results.
    ctrl(&mut m, 'g');
    enter(&mut m, "Search");
    enter(&mut m, "hello?");
    assert!(screen(&m).contains("Error: performing action on search results!"));
}

#[test]
fn ctrl_f_asks_and_tab_searches_every_conversation() {
    let mut m = logged_in();
    ctrl(&mut m, 'f');
    let s = screen(&m);
    assert!(s.contains("Search in Default..."), "{s}");
    assert!(s.contains("In this buffer's history (Tab: every conversation)"));
    key(&mut m, KeyCode::Tab);
    assert!(screen(&m).contains("In every conversation of this server (Tab: this buffer)"));
    let (ctx, task) = only_task(enter(&mut m, "plans"));
    assert_eq!(
        task,
        Task::Search {
            account: "alice".into(),
            peer: None,
            query: "plans".into(),
            limit: 200,
        }
    );
    done(
        &mut m,
        ctx,
        Outcome::Found {
            messages: vec![],
            total: 0,
        },
    );
    let last = m.server().buffer().unwrap().entries().last().unwrap();
    assert_eq!(
        last.text,
        "Search for \"plans\" in every conversation of alice on test: no message holds it"
    );
    // The results buffer can be deleted like a conversation's.
    let i = m.server().find(SEARCH_BUFFER).unwrap();
    assert_eq!(m.server().buffers[i].kind, BufferKind::Search);
    ctrl_pair(&mut m, 'k', 'x');
    key(&mut m, KeyCode::Char('y'));
    assert!(m.server().find(SEARCH_BUFFER).is_none());
}

#[test]
fn buffers_in_memory_are_searched_at_once() {
    let mut m = new_model();
    open_buffer(&mut m, "notes");
    enter(&mut m, "buy milk");
    enter(&mut m, "call Bob about the MILK order");
    enter(&mut m, "nothing here");
    let fx = enter(&mut m, "/search milk");
    assert!(tasks(fx).is_empty());
    let s = screen(&m);
    assert!(s.contains("Search results @ Local"), "{s}");
    assert!(s.contains("[You] at 12:00PM: buy milk"), "{s}");
    assert!(s.contains("[You] at 12:00PM: call Bob about the MILK order"));
    assert!(!s.contains("nothing here"));
    assert!(s.contains("Search for \"milk\" in notes: 2 messages"));
    assert!(highlighted(&m, "MILK") && highlighted(&m, "milk"));
    // -all: every buffer of the server, each result naming its buffer.
    enter(&mut m, "/search -all gochat");
    let s = screen(&m);
    assert!(
        s.contains("[System in System] at 12:00PM: Welcome to gochat!"),
        "{s}"
    );
    assert!(s.contains("Search for \"gochat\" in every buffer of Local: 1 message"));
    // Tab completes the option; a search with no text is refused.
    type_text(&mut m, "/search -a");
    key(&mut m, KeyCode::Tab);
    assert_eq!(m.input.text(), "/search -all ");
    key(&mut m, KeyCode::Enter);
    assert!(screen(&m).contains("invalid number of arguments: /search [-all] <text>"));
}
