//! A buffer opens by itself when someone writes for the first time
//! (`TUI.AutoOpen`, on by default).

use gochat_client::ClientEvent;
use gochat_client::tui::model::BufferKind;
use gochat_client::tui::{Effect, Outcome, Task};

use crate::tui_support::*;

#[test]
fn a_first_message_opens_its_buffer_without_switching() {
    let mut m = logged_in();
    let fx = net(
        &mut m,
        ClientEvent::Message(chat(7, "dave", false, WALL, "hi, it's dave")),
    );
    assert!(fx.contains(&Effect::Bell));
    let s = m.server();
    assert_eq!(s.buffer().unwrap().name, "Default", "the view stays");
    let i = s.find("dave").expect("dave's buffer opened");
    assert_eq!(s.buffers[i].kind, BufferKind::Chat);
    assert_eq!(s.unread.get("dave"), Some(&1));
    // It asks for dave's key, then for the history before the message.
    let (ctx, task) = only_task(fx);
    assert_eq!(
        task,
        Task::Open {
            peer: "dave".into()
        }
    );
    let (ctx, task) = only_task(done(&mut m, ctx, Outcome::Done));
    assert!(
        matches!(&task, Task::History { peer, before: Some(7), .. } if peer == "dave"),
        "{task:?}"
    );
    done(
        &mut m,
        ctx,
        Outcome::History(vec![chat(3, "dave", false, WALL - 3600, "earlier")]),
    );
    let s = screen(&m);
    assert!(
        s.contains("2 dave (1)"),
        "listed with its unread count\n{s}"
    );
    // Opening it shows the message under the unread marker.
    press(
        &mut m,
        crossterm::event::KeyCode::Down,
        crossterm::event::KeyModifiers::ALT,
    );
    let s = screen(&m);
    let earlier = s.find("earlier").unwrap();
    let marker = s.find("--- UNREAD ---").unwrap();
    let text = s.find("hi, it's dave").unwrap();
    assert!(earlier < marker && marker < text, "{s}");
    // A second message adds to the buffer and opens nothing more.
    let fx = net(
        &mut m,
        ClientEvent::Message(chat(8, "dave", false, WALL, "still me")),
    );
    assert!(tasks(fx).is_empty());
}

#[test]
fn auto_open_can_be_turned_off() {
    let mut m = logged_in();
    enter(&mut m, "/set TUI.AutoOpen false");
    assert!(screen(&m).contains("successfully changed TUI.AutoOpen to false"));
    let fx = net(
        &mut m,
        ClientEvent::Message(chat(7, "dave", false, WALL, "hi")),
    );
    assert!(tasks(fx).is_empty());
    assert!(m.server().find("dave").is_none());
    assert_eq!(m.server().unread.get("dave"), Some(&1), "still counted");
    enter(&mut m, "/config");
    assert!(screen(&m).contains("- TUI.AutoOpen = false"));
}
