//! History sealed at rest, as the TUI shows it: a conversation's page is
//! read from a database file whose rows are sealed, through the service
//! with the account's history key unlocked, and its texts are drawn; with
//! the key locked the same rows draw as sealed.

use gochat_client::keys::{open_account_secrets, seal_private_key};
use gochat_client::service::Service;
use gochat_client::store::{LocalStore, NewMessage, SEALED_PLACEHOLDER};
use gochat_client::tui::{Model, Outcome, Task};
use gochat_runtime::Runtime;
use gochat_testkit::{TempDir, private_pem, tokio_rt};

use crate::tui_support::*;

/// Opens bob's conversation (Ctrl-K, Ctrl-N) and answers its history task
/// from `service`, as the runner's executor does.
fn open_bob_from(m: &mut Model, service: &Service) {
    let (ctx, task) = only_task(open_buffer(m, "bob"));
    assert_eq!(task, Task::Open { peer: "bob".into() });
    let (ctx, task) = only_task(done(m, ctx, Outcome::Done));
    tokio_rt().block_on(answer_history(m, service, ctx, task));
}

#[test]
fn a_conversation_shows_its_history_sealed_on_disk() {
    let rt = tokio_rt();
    let dir = TempDir::new("gochat_tui_sealed_history");
    let path = dir.join("client.db");
    let (_, key) =
        open_account_secrets(&seal_private_key(private_pem("alice"), "pw").unwrap(), "pw").unwrap();
    let msg = |outgoing: bool, stamp: i64, text: &str| NewMessage {
        server_id: record().id,
        account: "alice".into(),
        peer: "bob".into(),
        outgoing,
        stamp,
        text: text.into(),
    };
    // Stored while alice was logged in: sealed as written.
    rt.block_on(async {
        let store = store_with_test_server(&path).await;
        store
            .unlock_history(record().id, "alice", key.clone())
            .await
            .unwrap();
        store
            .add_message(&msg(false, WALL - DAY - 60, "the vault code is 4711"))
            .await
            .unwrap();
        store
            .add_message(&msg(true, WALL - 120, "noted, shredding it"))
            .await
            .unwrap();
        store.close().await;
    });
    for suffix in ["", "-wal", "-shm"] {
        let Ok(bytes) = std::fs::read(dir.join(format!("client.db{suffix}"))) else {
            continue;
        };
        for text in ["vault code", "shredding"] {
            assert!(
                !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                "client.db{suffix} holds {text:?}"
            );
        }
    }

    // A new run: the login unlocks the history, the buffer shows it.
    let store = rt.block_on(LocalStore::open(&path)).unwrap();
    rt.block_on(store.unlock_history(record().id, "alice", key))
        .unwrap();
    let service = Service::new(store.clone());
    let mut m = logged_in();
    open_bob_from(&mut m, &service);
    let s = screen(&m);
    for line in [
        "bob @ test",
        "[bob] at 2024-02-29 11:59AM: the vault code is 4711",
        "[You] at 11:58AM: noted, shredding it",
    ] {
        assert!(s.contains(line), "missing {line:?} in\n{s}");
    }
    assert!(!s.contains(SEALED_PLACEHOLDER), "{s}");

    // Locked (logged out), the same rows are drawn as sealed.
    store.lock_history(record().id, "alice");
    let mut m = logged_in();
    open_bob_from(&mut m, &service);
    let s = screen(&m);
    assert!(s.contains(SEALED_PLACEHOLDER), "{s}");
    assert!(!s.contains("vault code") && !s.contains("shredding"), "{s}");
    rt.block_on(store.close());
}
