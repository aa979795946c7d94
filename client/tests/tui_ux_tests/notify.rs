//! Desktop notifications (`TUI.Notify`: off, osc777 or osc9) for messages
//! outside the buffer in view, beside the bell.

use gochat_client::ClientEvent;
use gochat_client::tui::Effect;
use gochat_client::tui::model::Notify;

use crate::tui_support::*;

fn notes(fx: &[Effect]) -> Vec<&Effect> {
    fx.iter()
        .filter(|e| matches!(e, Effect::Notify { .. }))
        .collect()
}

#[test]
fn messages_out_of_view_notify_as_chosen() {
    let mut m = logged_in();
    m.config.auto_open = false;
    let fx = net(
        &mut m,
        ClientEvent::Message(chat(1, "bob", false, WALL, "hi")),
    );
    assert!(fx.contains(&Effect::Bell));
    assert!(notes(&fx).is_empty(), "off by default");

    enter(&mut m, "/set TUI.Notify osc777");
    assert!(screen(&m).contains("successfully changed TUI.Notify to osc777"));
    let fx = net(
        &mut m,
        ClientEvent::Message(chat(2, "bob", false, WALL, "lunch?")),
    );
    assert_eq!(
        notes(&fx),
        [&Effect::Notify {
            kind: Notify::Osc777,
            title: "gochat: bob on test".into(),
            body: "lunch?".into(),
        }]
    );
    enter(&mut m, "/set TUI.Notify OSC9");
    let fx = net(
        &mut m,
        ClientEvent::Message(chat(3, "bob", false, WALL, "?")),
    );
    assert!(matches!(
        notes(&fx)[..],
        [Effect::Notify {
            kind: Notify::Osc9,
            ..
        }]
    ));
    // Nothing for the buffer in view, nor for what alice sent herself.
    open_chat(&mut m, "bob", vec![]);
    let fx = net(
        &mut m,
        ClientEvent::Message(chat(4, "bob", false, WALL, "here")),
    );
    assert!(notes(&fx).is_empty() && !fx.contains(&Effect::Bell));
    let fx = net(
        &mut m,
        ClientEvent::Message(chat(5, "carol", true, WALL, "mine")),
    );
    assert!(notes(&fx).is_empty());

    enter(&mut m, "/set TUI.Notify loud");
    assert!(screen(&m).contains("invalid value \"loud\" for TUI.Notify"));
    enter(&mut m, "/config");
    assert!(screen(&m).contains("- TUI.Notify = osc9"));
}
