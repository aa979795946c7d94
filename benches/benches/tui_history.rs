//! The TUI opening a conversation of 100,000 stored messages: from the Enter
//! that opens the buffer to the first screen drawn (the history page read from
//! the local store and opened with the account's history key, the update, the
//! render), on a 120x40 `TestBackend`.
//!
//! Target (client issue): under 50 ms. Run with
//! `cargo bench -p gochat-benches --bench tui_history`; results are in
//! `docs/PERFORMANCE.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use gochat_client::ServerRecord;
use gochat_client::service::{LoginSummary, Service, UserEntry};
use gochat_client::store::{LocalStore, NewMessage};
use gochat_client::time::TimeZone;
use gochat_client::tui::model::UiConfig;
use gochat_client::tui::{Ctx, Effect, Model, Msg, Outcome, Task, render, update};
use gochat_proto::Username;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// 2024-03-01 12:00:00 UTC.
const WALL: i64 = 1_709_294_400;
/// Messages in the conversation.
const MESSAGES: i64 = 100_000;

fn press(m: &mut Model, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    update(m, Msg::Key(KeyEvent::new(code, mods)))
}

fn key(m: &mut Model, code: KeyCode) -> Vec<Effect> {
    press(m, code, KeyModifiers::NONE)
}

fn type_text(m: &mut Model, text: &str) {
    for c in text.chars() {
        key(m, KeyCode::Char(c));
    }
}

fn only_task(fx: Vec<Effect>) -> (Ctx, Task) {
    let mut tasks: Vec<(Ctx, Task)> = fx
        .into_iter()
        .filter_map(|e| match e {
            Effect::Task { ctx, task } => Some((ctx, task)),
            _ => None,
        })
        .collect();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    tasks.remove(0)
}

fn done(m: &mut Model, ctx: Ctx, outcome: Outcome) -> Vec<Effect> {
    update(
        m,
        Msg::Done {
            ctx,
            result: Ok(outcome),
        },
    )
}

/// A model connected to server `test` and logged in as alice, with the
/// Buffers list focused and `bob` typed as the new buffer's name: the next
/// Enter opens the conversation.
fn ready_to_open() -> Model {
    let server = ServerRecord {
        id: 1,
        name: "test".into(),
        address: "127.0.0.1".into(),
        port: 9037,
        tls: false,
    };
    let mut m = Model::new(
        UiConfig::default(),
        vec![server],
        TimeZone::utc(),
        (120, 40),
        Instant::now(),
        WALL,
    );
    press(&mut m, KeyCode::Down, KeyModifiers::SHIFT);
    type_text(&mut m, "/connect");
    let (ctx, _) = only_task(key(&mut m, KeyCode::Enter));
    done(
        &mut m,
        ctx,
        Outcome::Connected {
            motd: String::new(),
        },
    );
    type_text(&mut m, "/login alice");
    key(&mut m, KeyCode::Enter);
    type_text(&mut m, "secret");
    let (ctx, _) = only_task(key(&mut m, KeyCode::Enter));
    let summary = LoginSummary {
        permission: 0,
        online: vec![UserEntry {
            name: Username::new("alice").unwrap(),
            permission: Some(0),
        }],
        used_token: false,
        catch_up_started: false,
    };
    done(&mut m, ctx, Outcome::LoggedIn(summary));
    press(&mut m, KeyCode::Char('k'), KeyModifiers::CONTROL);
    press(&mut m, KeyCode::Char('n'), KeyModifiers::CONTROL);
    type_text(&mut m, "bob");
    m
}

fn bench(c: &mut criterion::Criterion) {
    let dir = std::env::temp_dir().join(format!("gochat_bench_tui_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("client.db");
    let _ = std::fs::remove_file(&path);
    let service = async_io::block_on(async {
        let store = LocalStore::open(&path).await.unwrap();
        let server = store
            .add_server(Some("test"), "127.0.0.1", 9037, false)
            .await
            .unwrap();
        assert_eq!(server.id, 1);
        // The history is sealed at rest, as a logged-in account's is.
        let sealed = gochat_client::keys::seal_private_key("bench", "pw").unwrap();
        let (_, history) = gochat_client::keys::open_account_secrets(&sealed, "pw").unwrap();
        store.unlock_history(1, "alice", history).await.unwrap();
        for chunk in 0..MESSAGES / 10_000 {
            let batch: Vec<NewMessage> = (0..10_000)
                .map(|i| {
                    let n = chunk * 10_000 + i;
                    NewMessage {
                        server_id: 1,
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
        Service::new(store)
    });

    let mut group = c.benchmark_group("tui");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("open_conversation_100k", |b| {
        b.iter_batched(
            ready_to_open,
            |mut m| {
                let (ctx, _) = only_task(key(&mut m, KeyCode::Enter));
                let (ctx, task) = only_task(done(&mut m, ctx, Outcome::Done));
                let Task::History {
                    account,
                    peer,
                    before,
                    limit,
                } = task
                else {
                    panic!("expected a history task, got {task:?}")
                };
                let page =
                    async_io::block_on(service.history(1, &account, &peer, before, limit)).unwrap();
                done(&mut m, ctx, Outcome::History(page));
                let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
                terminal.draw(|f| render(&m, f)).unwrap();
                black_box(terminal);
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
    async_io::block_on(service.store().close());
    let _ = std::fs::remove_dir_all(&dir);
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
