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
use std::time::Duration;

use crossterm::event::KeyCode;
use gochat_client::service::Service;
use gochat_client::tui::{Model, Outcome, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[path = "../../client/tests/tui_support/mod.rs"]
mod tui_support;
use tui_support::{
    answer_history, connect, ctrl_pair, done, key, log_in_alice, model_on_test, only_task,
    store_numbered_messages, store_with_test_server, type_text,
};

/// Messages in the conversation.
const MESSAGES: i64 = 100_000;

/// A model connected to server `test` and logged in as alice, with the
/// Buffers list focused and `bob` typed as the new buffer's name: the next
/// Enter opens the conversation.
fn ready_to_open() -> Model {
    let mut m = model_on_test();
    connect(&mut m);
    log_in_alice(&mut m, 0, &[("alice", 0)]);
    ctrl_pair(&mut m, 'k', 'n');
    type_text(&mut m, "bob");
    m
}

fn bench(c: &mut criterion::Criterion) {
    let dir = std::env::temp_dir().join(format!("gochat_bench_tui_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("client.db");
    let _ = std::fs::remove_file(&path);
    let service = async_io::block_on(async {
        let store = store_with_test_server(&path).await;
        // The history is sealed at rest, as a logged-in account's is.
        let sealed = gochat_client::keys::seal_private_key("bench", "pw").unwrap();
        let (_, history) = gochat_client::keys::open_account_secrets(&sealed, "pw").unwrap();
        store.unlock_history(1, "alice", history).await.unwrap();
        store_numbered_messages(&store, MESSAGES).await;
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
                async_io::block_on(answer_history(&mut m, &service, ctx, task));
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
