//! Saved servers connect at start (`Server.AutoConnect`), and an account
//! logs in at connect (`Server.AutoLogin`) after its password is entered
//! once in the run.

use crossterm::event::KeyCode;
use gochat_client::service::LoginSummary;
use gochat_client::tui::model::Link;
use gochat_client::tui::{Ctx, Model, Msg, Outcome, Task, update};
use gochat_client::{ClientEvent, StartOptions};

use crate::tui_support::*;

fn summary() -> LoginSummary {
    LoginSummary {
        permission: 0,
        online: vec![],
        used_token: false,
        catch_up_started: true,
    }
}

/// Reports the connection of `ctx` made; returns the tasks that follow.
fn connected(m: &mut Model, ctx: Ctx) -> Vec<(Ctx, Task)> {
    tasks(done(
        m,
        ctx,
        Outcome::Connected {
            motd: String::new(),
        },
    ))
}

fn login_task(t: &[(Ctx, Task)]) -> Option<(Ctx, Task)> {
    t.iter()
        .find(|(_, task)| matches!(task, Task::Login { .. }))
        .cloned()
}

#[test]
fn a_saved_server_connects_at_start_and_logs_in_once_the_password_is_known() {
    let mut m = new_model();
    let options = StartOptions {
        auto_connect: true,
        auto_login: Some("alice".into()),
    };
    let fx = update(&mut m, Msg::Started(vec![(1, options.clone())]));
    let (ctx, task) = only_task(fx);
    assert!(is_verified_connect(&task), "{task:?}");
    assert_eq!(m.servers[1].link, Link::Connecting);
    assert_eq!(m.server().name(), "Local", "the screen stays where it was");
    assert_eq!(m.servers[1].start, options);

    // Connected: the password is asked, once.
    let t = connected(&mut m, ctx);
    assert!(login_task(&t).is_none());
    let s = screen(&m);
    assert!(
        s.contains("Password of alice on test (to log in at connect)..."),
        "{s}"
    );
    let ctx = enter_alice_password(&mut m);
    assert_eq!(ctx.server, 1);
    done(&mut m, ctx, Outcome::LoggedIn(summary()));
    assert_eq!(m.servers[1].user.as_deref(), Some("alice"));

    // Dropped, connected again: it logs in with the password kept.
    net(
        &mut m,
        ClientEvent::Disconnected {
            reason: "gone".into(),
        },
    );
    key(&mut m, crossterm::event::KeyCode::Esc);
    crate::tui_support::press(&mut m, KeyCode::Down, crossterm::event::KeyModifiers::SHIFT);
    let (ctx, _) = only_task(enter(&mut m, "/connect"));
    let t = connected(&mut m, ctx);
    let (ctx, task) = login_task(&t).expect("logs in by itself");
    assert!(m.popup.is_none());
    assert_eq!(task, alice_login());
    // A refused login forgets the password: the next connect asks again.
    update(
        &mut m,
        Msg::Done {
            ctx,
            result: Err("wrong credentials".into()),
        },
    );
    assert!(m.servers[1].password.is_none());
    enter(&mut m, "/disconnect");
    net(
        &mut m,
        ClientEvent::Disconnected {
            reason: "disconnected".into(),
        },
    );
    let (ctx, _) = only_task(enter(&mut m, "/connect"));
    let t = connected(&mut m, ctx);
    assert!(login_task(&t).is_none());
    assert!(screen(&m).contains("Password of alice on test"));
}

#[test]
fn servers_without_the_option_stay_offline_and_set_stores_it() {
    let mut m = new_model();
    let fx = update(&mut m, Msg::Started(vec![(1, StartOptions::default())]));
    assert!(tasks(fx).is_empty());
    assert_eq!(m.servers[1].link, Link::Offline);
    crate::tui_support::press(&mut m, KeyCode::Down, crossterm::event::KeyModifiers::SHIFT);
    let (ctx, task) = only_task(enter(&mut m, "/set Server.AutoConnect true"));
    assert_eq!(
        task,
        Task::SetStart(StartOptions {
            auto_connect: true,
            auto_login: None
        })
    );
    let Task::SetStart(options) = task else {
        unreachable!()
    };
    done(&mut m, ctx, Outcome::Start(options));
    let (ctx, task) = only_task(enter(&mut m, "/set Server.AutoLogin Alice"));
    assert_eq!(
        task,
        Task::SetStart(StartOptions {
            auto_connect: true,
            auto_login: Some("alice".into())
        })
    );
    let Task::SetStart(options) = task else {
        unreachable!()
    };
    done(&mut m, ctx, Outcome::Start(options));
    assert!(screen(&m).contains("Running set: test: connect at start on, log in as alice"));
    enter(&mut m, "/config");
    let s = screen(&m);
    assert!(s.contains("- Server.AutoConnect = true"), "{s}");
    assert!(s.contains("- Server.AutoLogin = alice"), "{s}");
    enter(&mut m, "/set Server.AutoLogin not a name!");
    assert!(screen(&m).contains("invalid value \"not a name!\" for Server.AutoLogin"));
    // Tab offers the values.
    type_text(&mut m, "/set Server.AutoL");
    key(&mut m, KeyCode::Tab);
    type_text(&mut m, "n");
    key(&mut m, KeyCode::Tab);
    assert_eq!(m.input.text(), "/set Server.AutoLogin none ");
}
