//! What the TUI tests drive the model with: a model with one stored server,
//! keys, typed lines, task results, network events, and the screen as text
//! (drawn on ratatui's `TestBackend`). The TUI history bench uses it too.
#![allow(dead_code)]

use std::path::Path;
use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gochat_client::service::{HookEvent, LoginSummary, Service, UserEntry};
use gochat_client::store::{LocalStore, NewMessage};
use gochat_client::time::TimeZone;
use gochat_client::tui::model::{Link, UiConfig};
use gochat_client::tui::msg::Secret;
use gochat_client::tui::{Ctx, Effect, Model, Msg, Outcome, Task, render, update};
use gochat_client::{ChatMessage, ClientEvent, ServerRecord};
use gochat_proto::Username;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// 2024-03-01 12:00:00 UTC.
pub const WALL: i64 = 1_709_294_400;
/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The stored server every model starts with.
pub fn record() -> ServerRecord {
    ServerRecord {
        id: 1,
        name: "test".into(),
        address: "127.0.0.1".into(),
        port: 9037,
        tls: false,
    }
}

/// A model at [`WALL`] in UTC on a 120x40 screen, with server `test`.
pub fn new_model() -> Model {
    Model::new(
        UiConfig::default(),
        vec![record()],
        TimeZone::utc(),
        (120, 40),
        Instant::now(),
        WALL,
    )
}

/// A model as [`new_model`] makes it, with server `test` on screen
/// (Shift-Down).
pub fn model_on_test() -> Model {
    let mut m = new_model();
    press(&mut m, KeyCode::Down, KeyModifiers::SHIFT);
    m
}

/// Opens buffer `name` on the server on screen: Ctrl-K, Ctrl-N, `name`,
/// Enter; returns the effects of Enter.
pub fn open_buffer(m: &mut Model, name: &str) -> Vec<Effect> {
    ctrl_pair(m, 'k', 'n');
    enter(m, name)
}

/// The screen as text, one line per row.
pub fn screen(model: &Model) -> String {
    let mut t = Terminal::new(TestBackend::new(model.size.0, model.size.1)).unwrap();
    t.draw(|f| render(model, f)).unwrap();
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The drawn buffer, to look at styles.
pub fn drawn(model: &Model) -> ratatui::buffer::Buffer {
    let mut t = Terminal::new(TestBackend::new(model.size.0, model.size.1)).unwrap();
    t.draw(|f| render(model, f)).unwrap();
    t.backend().buffer().clone()
}

/// Presses `code` with `mods`.
pub fn press(model: &mut Model, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    update(model, Msg::Key(KeyEvent::new(code, mods)))
}

/// Presses `code` alone.
pub fn key(model: &mut Model, code: KeyCode) -> Vec<Effect> {
    press(model, code, KeyModifiers::NONE)
}

/// Presses Ctrl-`c`.
pub fn ctrl(model: &mut Model, c: char) -> Vec<Effect> {
    press(model, KeyCode::Char(c), KeyModifiers::CONTROL)
}

/// Presses Ctrl-`first`, then Ctrl-`second` (as Ctrl-K, Ctrl-N: the
/// Buffers list, then its New); returns the effects of the second.
pub fn ctrl_pair(model: &mut Model, first: char, second: char) -> Vec<Effect> {
    ctrl(model, first);
    ctrl(model, second)
}

/// Presses Alt-`c`.
pub fn alt(model: &mut Model, c: char) -> Vec<Effect> {
    press(model, KeyCode::Char(c), KeyModifiers::ALT)
}

/// Types `text` key by key.
pub fn type_text(model: &mut Model, text: &str) {
    for c in text.chars() {
        key(model, KeyCode::Char(c));
    }
}

/// Types `line`, presses Enter, returns the effects.
pub fn enter(model: &mut Model, line: &str) -> Vec<Effect> {
    type_text(model, line);
    key(model, KeyCode::Enter)
}

/// The tasks among `fx`.
pub fn tasks(fx: Vec<Effect>) -> Vec<(Ctx, Task)> {
    fx.into_iter()
        .filter_map(|e| match e {
            Effect::Task { ctx, task } => Some((ctx, task)),
            _ => None,
        })
        .collect()
}

/// The one task among `fx`.
pub fn only_task(fx: Vec<Effect>) -> (Ctx, Task) {
    let mut t = tasks(fx);
    assert_eq!(t.len(), 1, "{t:?}");
    t.remove(0)
}

/// Reports the task of `ctx` done with `outcome`.
pub fn done(model: &mut Model, ctx: Ctx, outcome: Outcome) -> Vec<Effect> {
    update(
        model,
        Msg::Done {
            ctx,
            result: Ok(outcome),
        },
    )
}

/// A username.
pub fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

/// A stored message of alice's conversation with `peer`.
pub fn chat(id: i64, peer: &str, outgoing: bool, stamp: i64, text: &str) -> ChatMessage {
    ChatMessage {
        id,
        server_id: 1,
        account: "alice".into(),
        peer: peer.into(),
        outgoing,
        stamp,
        text: text.into(),
    }
}

/// An event of the current connection to server `test`.
pub fn net(model: &mut Model, event: ClientEvent) -> Vec<Effect> {
    let generation = model.servers[1].generation;
    update(
        model,
        Msg::Net {
            server: 1,
            generation,
            event,
        },
    )
}

/// Connects the server on screen (it must be `test`).
pub fn connect(m: &mut Model) {
    let (ctx, _) = only_task(enter(m, "/connect"));
    done(
        m,
        ctx,
        Outcome::Connected {
            motd: String::new(),
        },
    );
    assert_eq!(m.server().link, Link::Online);
}

/// The login task for alice with her password `s3cret`.
pub fn alice_login() -> Task {
    Task::Login {
        username: "alice".into(),
        password: Secret("s3cret".into()),
    }
}

/// Types alice's password `s3cret` into the password popup (masked on the
/// screen) and presses Enter; the one task that follows is
/// [`alice_login`], and its context comes back.
pub fn enter_alice_password(m: &mut Model) -> Ctx {
    type_text(m, "s3cret");
    assert!(!screen(m).contains("s3cret"), "masked");
    let (ctx, task) = only_task(key(m, KeyCode::Enter));
    assert_eq!(task, alice_login());
    ctx
}

/// Whether `task` connects checking the server's certificate (no
/// `-noverify`).
pub fn is_verified_connect(task: &Task) -> bool {
    matches!(
        task,
        Task::Connect {
            noverify: false,
            ..
        }
    )
}

/// Logs alice in on the server on screen, which must be connected: /login
/// alice, her password, then the login done with `permission` and the users
/// of `online` (name, permission) online.
pub fn log_in_alice(m: &mut Model, permission: u8, online: &[(&str, u8)]) {
    assert!(enter(m, "/login alice").is_empty());
    let ctx = enter_alice_password(m);
    let online = online
        .iter()
        .map(|&(name, permission)| UserEntry {
            name: user(name),
            permission: Some(permission),
        })
        .collect();
    let summary = LoginSummary {
        permission,
        online,
        used_token: false,
        catch_up_started: false,
    };
    done(m, ctx, Outcome::LoggedIn(summary));
}

/// The hook of carol (permission 1) logging in, from server `test`.
pub fn carol_logs_in(m: &mut Model) {
    net(
        m,
        ClientEvent::Hook(HookEvent::NewLogin {
            username: user("carol"),
            permission: 1,
        }),
    );
}

/// A model connected to server `test` and logged in as alice, with bob and
/// carol online.
pub fn logged_in() -> Model {
    let mut m = model_on_test();
    assert_eq!(m.server().name(), "test");
    connect(&mut m);
    log_in_alice(&mut m, 0, &[("alice", 0), ("bob", 0)]);
    carol_logs_in(&mut m);
    m
}

/// Opens the conversation with `peer` (Ctrl-K, Ctrl-N) and gives it `page`
/// as its history. The input must be empty.
pub fn open_chat(m: &mut Model, peer: &str, page: Vec<ChatMessage>) {
    let fx = open_buffer(m, peer);
    let (ctx, task) = only_task(fx);
    assert_eq!(task, Task::Open { peer: peer.into() });
    let (ctx, task) = only_task(done(m, ctx, Outcome::Done));
    assert!(matches!(task, Task::History { .. }), "{task:?}");
    done(m, ctx, Outcome::History(page));
}

/// Answers the history task `task` of `ctx` from `service`, as the runner's
/// executor does (a page of the server of `ctx`); returns the effects.
pub async fn answer_history(m: &mut Model, service: &Service, ctx: Ctx, task: Task) -> Vec<Effect> {
    let Task::History {
        account,
        peer,
        before,
        limit,
    } = task
    else {
        panic!("expected a history task, got {task:?}")
    };
    let page = service
        .history(ctx.server, &account, &peer, before, limit)
        .await
        .unwrap();
    done(m, ctx, Outcome::History(page))
}

/// Opens the local store at `path` and adds server `test` to it (as
/// [`record`]).
pub async fn store_with_test_server(path: &Path) -> LocalStore {
    let store = LocalStore::open(path).await.unwrap();
    let added = store
        .add_server(Some("test"), "127.0.0.1", 9037, false)
        .await
        .unwrap();
    assert_eq!(added, record());
    store
}

/// Stores alice's conversation with bob on server `test`: `count` messages
/// (a multiple of 10,000), `message number 0` onwards, one a second from
/// 200,000 seconds before [`WALL`], every third one hers.
pub async fn store_numbered_messages(store: &LocalStore, count: i64) {
    for chunk in 0..count / 10_000 {
        let batch: Vec<NewMessage> = (0..10_000)
            .map(|i| {
                let n = chunk * 10_000 + i;
                NewMessage {
                    server_id: record().id,
                    account: "alice".into(),
                    peer: "bob".into(),
                    outgoing: n % 3 == 0,
                    stamp: WALL - 200_000 + n,
                    text: format!("message number {n}"),
                }
            })
            .collect();
        store.add_messages(&batch).await.unwrap();
    }
}
