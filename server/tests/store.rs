#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The storage layer, scenario by scenario, against SQLite (a temp file), the
//! MariaDB at 127.0.0.1:3306 (a fresh database per scenario run, dropped at
//! the end) and the PostgreSQL at 127.0.0.1:5432 (a fresh schema of database
//! `test` per scenario run, dropped at the end). Without MariaDB or PostgreSQL
//! its part is skipped with a note, unless `CI=true`, where that is a failure.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use gochat_server::store::{
    Backend, CreateUserError, NewMessage, Store, StoreError, StoreOptions, StoredMessage, UserRow,
};
use gochat_testkit::{Db, ScratchDb};
use sqlx::Connection;

/// A fake public key and its fingerprint, distinct per `n`.
fn key(n: u64) -> (String, [u8; 32]) {
    let pem = format!("-----BEGIN PUBLIC KEY-----\nkey number {n}\n-----END PUBLIC KEY-----\n");
    let mut fingerprint = [0xa5; 32];
    fingerprint[..8].copy_from_slice(&n.to_le_bytes());
    (pem, fingerprint)
}

/// Stores one message in `store`; its id.
async fn put(store: &Store, from: i64, to: i64, stamp: i64, text: &[u8]) -> i64 {
    store.store_message(from, to, stamp, text).await.unwrap()
}

/// A store on `url` with alice (key 1) and bob (key 2) registered: the store
/// and their ids.
async fn alice_and_bob(url: &str) -> (Store, i64, i64) {
    let store = Store::open(url).await.unwrap();
    let alice = register(&store, "alice", 1).await;
    let bob = register(&store, "bob", 2).await;
    (store, alice, bob)
}

/// Registering `name` with key `key_no` is refused: why, as the name of the
/// error (`Exists` or `Deregistered`; any other outcome fails the test).
async fn refused(store: &Store, name: &str, key_no: u64) -> &'static str {
    let (pem, fingerprint) = key(key_no);
    match store.create_user(name, &pem, &fingerprint).await {
        Err(CreateUserError::Exists) => "Exists",
        Err(CreateUserError::Deregistered) => "Deregistered",
        other => panic!("{name} with key {key_no}: {other:?}"),
    }
}

async fn register(store: &Store, name: &str, key_no: u64) -> i64 {
    let (pem, fingerprint) = key(key_no);
    store.create_user(name, &pem, &fingerprint).await.unwrap()
}

/// Runs `scenario` with the URL of a fresh SQLite file, then of a fresh
/// MariaDB database, then of a fresh PostgreSQL schema (each dropped
/// afterwards even if the scenario panics).
async fn on_all<F, Fut>(scenario: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in [Db::Sqlite, Db::MariaDb, Db::Postgres] {
        if let Some(scratch) = ScratchDb::create(db).await {
            scenario(scratch.url().to_string()).await;
        }
    }
}

// ---------------------------------------------------------------- scenarios

async fn registration(url: String) {
    let store = Store::open(&url).await.unwrap();
    let expected_backend = if url.starts_with("mysql") {
        Backend::MySql
    } else if url.starts_with("postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(store.backend(), expected_backend);

    let alice = register(&store, "alice", 1).await;
    assert!(alice > 0);
    assert_eq!(
        store.user("alice").await.unwrap(),
        Some(UserRow {
            id: alice,
            username: "alice".into(),
            pubkey: Some(key(1).0),
            permission: 0,
        })
    );
    assert_eq!(store.user("bob").await.unwrap(), None);
    assert_eq!(
        store.user("Alice").await.unwrap(),
        None,
        "names match exactly"
    );

    // Same name, other key; other name, same key.
    assert_eq!(refused(&store, "alice", 2).await, "Exists");
    assert_eq!(refused(&store, "bob", 1).await, "Exists");
    let bob = register(&store, "bob", 2).await;
    assert_ne!(alice, bob);

    // Deregistration keeps the name taken but frees the key.
    assert!(store.deregister("alice").await.unwrap());
    assert!(
        store.deregister("alice").await.unwrap(),
        "already deregistered"
    );
    assert!(!store.deregister("nobody").await.unwrap());
    let row = store.user("alice").await.unwrap().unwrap();
    assert_eq!((row.id, row.pubkey), (alice, None));
    let (pem3, fp3) = key(3);
    assert_eq!(refused(&store, "alice", 3).await, "Deregistered");
    assert_eq!(refused(&store, "alice", 1).await, "Deregistered");
    let carol = register(&store, "carol", 1).await;
    assert!(carol > bob);

    // Deregistered name with a key of a live account: the name decides.
    assert_eq!(refused(&store, "alice", 2).await, "Deregistered");

    match store.create_user(&"x".repeat(33), &pem3, &fp3).await {
        Err(CreateUserError::Store(err @ StoreError::TooLong { .. })) => {
            assert!(!err.is_transient());
            assert!(err.to_string().contains("username"), "{err}");
        }
        other => panic!("33-byte name: {other:?}"),
    }
    let longest = "y".repeat(32);
    register(&store, &longest, 4).await;
    assert_eq!(
        store.user(&longest).await.unwrap().unwrap().username,
        longest
    );
    store.close().await;
}

async fn deregistered_user_keeps_messages(url: String) {
    let (store, alice, bob) = alice_and_bob(&url).await;
    let to_bob = put(&store, alice, bob, 100, b"hi bob").await;
    put(&store, bob, alice, 101, b"hi alice").await;
    put(&store, bob, alice, 102, b"still there?").await;

    assert!(store.deregister("alice").await.unwrap());
    assert_eq!(
        store.pending_messages(bob, 0, 10).await.unwrap(),
        vec![StoredMessage {
            id: to_bob,
            sender: "alice".into(),
            stamp: 100,
            ciphertext: b"hi bob".to_vec(),
        }],
        "messages a deregistered user sent are still delivered"
    );
    assert_eq!(store.pending_messages(alice, 0, 10).await.unwrap().len(), 2);
    assert!(store.users().await.unwrap().contains(&("alice".into(), 0)));

    assert_eq!(store.clear_messages("alice").await.unwrap(), 2);
    assert_eq!(store.pending_messages(alice, 0, 10).await.unwrap(), []);
    assert_eq!(store.clear_messages("alice").await.unwrap(), 0);
    assert_eq!(store.clear_messages("nobody").await.unwrap(), 0);
    assert_eq!(store.pending_messages(bob, 0, 10).await.unwrap().len(), 1);
    store.close().await;
}

async fn permissions_and_listing(url: String) {
    let store = Store::open(&url).await.unwrap();
    assert!(store.users().await.unwrap().is_empty());
    for (i, name) in ["charlie", "zoe", "alice", "bob", "ann"]
        .into_iter()
        .enumerate()
    {
        register(&store, name, i as u64).await;
    }
    assert!(store.set_permission("bob", 2).await.unwrap());
    assert!(
        store.set_permission("bob", 2).await.unwrap(),
        "same level again"
    );
    assert!(store.set_permission("alice", 1).await.unwrap());
    assert!(store.set_permission("zoe", 255).await.unwrap());
    assert!(!store.set_permission("nobody", 1).await.unwrap());
    assert_eq!(store.user("bob").await.unwrap().unwrap().permission, 2);
    assert_eq!(store.user("zoe").await.unwrap().unwrap().permission, 255);
    assert!(store.set_permission("zoe", 0).await.unwrap());

    assert!(store.deregister("charlie").await.unwrap());
    assert!(store.set_permission("charlie", 1).await.unwrap());
    assert_eq!(
        store.users().await.unwrap(),
        vec![
            ("alice".into(), 1),
            ("ann".into(), 0),
            ("bob".into(), 2),
            ("charlie".into(), 1),
            ("zoe".into(), 0),
        ]
    );
    store.close().await;
}

async fn message_queue(url: String) {
    let (store, alice, bob) = alice_and_bob(&url).await;
    let carol = register(&store, "carol", 3).await;

    let payloads: Vec<Vec<u8>> = vec![
        b"first".to_vec(),
        (0..=255).collect(),
        vec![0; 2045],
        vec![0xff; 2048],
        Vec::new(),
        b"\0\r\n last".to_vec(),
    ];
    let mut expected = Vec::new();
    let mut carol_ids = Vec::new();
    for (i, ciphertext) in payloads.iter().enumerate() {
        let (from, name) = if i % 2 == 0 {
            (alice, "alice")
        } else {
            (carol, "carol")
        };
        let stamp = 1_700_000_000 + i as i64;
        let id = put(&store, from, bob, stamp, ciphertext).await;
        expected.push(StoredMessage {
            id,
            sender: name.into(),
            stamp,
            ciphertext: ciphertext.clone(),
        });
        // Interleave a message to someone else.
        carol_ids.push(put(&store, bob, carol, -1, b"other").await);
    }
    assert!(expected.windows(2).all(|w| w[0].id < w[1].id));

    let all = store.pending_messages(bob, 0, 100).await.unwrap();
    assert_eq!(all, expected);

    // Paging by after_id.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = store.pending_messages(bob, after, 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = last.id;
        paged.extend(page);
    }
    assert_eq!(paged, expected);
    assert_eq!(
        store.pending_messages(bob, 0, 2).await.unwrap(),
        expected[..2]
    );
    assert_eq!(
        store
            .pending_messages(bob, expected[1].id, 2)
            .await
            .unwrap(),
        expected[2..4]
    );
    assert!(store.pending_messages(bob, 0, 0).await.unwrap().is_empty());
    assert_eq!(store.pending_messages(alice, 0, 10).await.unwrap(), []);

    // Deleting touches only the recipient's own rows.
    let deleted = store
        .delete_messages(
            bob,
            &[expected[0].id, expected[2].id, carol_ids[0], 987_654_321],
        )
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(store.delete_messages(bob, &[]).await.unwrap(), 0);
    let rest: Vec<_> = expected
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 0 && *i != 2)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(store.pending_messages(bob, 0, 100).await.unwrap(), rest);
    assert_eq!(
        store.pending_messages(carol, 0, 100).await.unwrap().len(),
        carol_ids.len()
    );

    // Limits and bad references are persistent errors.
    match store.store_message(alice, bob, 0, &[1; 2049]).await {
        Err(err @ StoreError::TooLong { .. }) => assert!(!err.is_transient()),
        other => panic!("2049-byte ciphertext: {other:?}"),
    }
    match store.store_message(987_654, bob, 0, b"ghost").await {
        Err(err) => assert!(!err.is_transient(), "{err}"),
        Ok(id) => panic!("message from a missing user stored as {id}"),
    }

    // A long id list is deleted in chunks.
    for i in 0..1100 {
        carol_ids.push(put(&store, alice, carol, i, b"bulk").await);
    }
    assert_eq!(
        store.pending_messages(carol, 0, 5000).await.unwrap().len(),
        carol_ids.len()
    );
    let mut ids = carol_ids.clone();
    ids.push(expected[1].id); // bob's: must survive
    assert_eq!(
        store.delete_messages(carol, &ids).await.unwrap(),
        carol_ids.len() as u64
    );
    assert_eq!(store.pending_messages(carol, 0, 10).await.unwrap(), []);

    assert_eq!(
        store.clear_messages("bob").await.unwrap(),
        rest.len() as u64
    );
    assert!(store.pending_messages(bob, 0, 10).await.unwrap().is_empty());
    store.close().await;
}

/// `store_messages` returns the ids in the order given (ids that page and
/// delete), and `store_messages_ahead` puts its messages before the rows
/// from the floor on, keeping the order of both and leaving older rows and
/// other recipients alone.
async fn messages_ahead(url: String) {
    let (store, alice, bob) = alice_and_bob(&url).await;
    let carol = register(&store, "carol", 3).await;
    let texts: Vec<Vec<u8>> = (0..600u16).map(|i| i.to_be_bytes().to_vec()).collect();
    let new = |dst, range: std::ops::Range<usize>| -> Vec<NewMessage<'_>> {
        texts[range]
            .iter()
            .map(|t| NewMessage {
                src: alice,
                dst,
                stamp: 1,
                ciphertext: t,
            })
            .collect()
    };
    // Backlog 0..10, then "spilled" 300..600 (more than one INSERT chunk),
    // carol's rows between.
    let old = store.store_messages(&new(bob, 0..10)).await.unwrap();
    store.store_messages(&new(carol, 10..20)).await.unwrap();
    let spilled = store.store_messages(&new(bob, 300..600)).await.unwrap();
    assert_eq!(spilled.len(), 300);
    assert!(spilled.windows(2).all(|w| w[0] < w[1]));
    assert!(old.iter().all(|id| *id < spilled[0]));
    let page = store.pending_messages(bob, 0, 1000).await.unwrap();
    let ids: Vec<i64> = page.iter().map(|m| m.id).collect();
    assert_eq!(ids, [old.clone(), spilled.clone()].concat());
    // What was queued (10..300) goes ahead of the spilled rows.
    store
        .store_messages_ahead(bob, spilled[0], &new(bob, 10..300))
        .await
        .unwrap();
    let page = store.pending_messages(bob, 0, 1000).await.unwrap();
    let got: Vec<Vec<u8>> = page.iter().map(|m| m.ciphertext.clone()).collect();
    // Backlog 0..10, queued 10..300, spilled 300..600: all in sending order.
    assert_eq!(got, texts);
    assert_eq!(page[..10].iter().map(|m| m.id).collect::<Vec<_>>(), old);
    let carols = store.pending_messages(carol, 0, 1000).await.unwrap();
    assert_eq!(carols.len(), 10);
    // Without rows from the floor on, it is a plain insert.
    let top = page.last().unwrap().id;
    store
        .store_messages_ahead(bob, top + 1_000_000, &new(bob, 0..1))
        .await
        .unwrap();
    let page = store.pending_messages(bob, top, 10).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].ciphertext, texts[0]);
    store.close().await;
}

async fn settings(url: String) {
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.setting("motd").await.unwrap(), None);
    store.set_setting("motd", "hello").await.unwrap();
    assert_eq!(
        store.setting("motd").await.unwrap().as_deref(),
        Some("hello")
    );
    store
        .set_setting("motd", "héllo wörld ✓ 🎉\nline 2")
        .await
        .unwrap();
    assert_eq!(
        store.setting("motd").await.unwrap().as_deref(),
        Some("héllo wörld ✓ 🎉\nline 2")
    );
    store.set_setting("empty", "").await.unwrap();
    assert_eq!(store.setting("empty").await.unwrap().as_deref(), Some(""));
    assert_eq!(
        store.setting("MOTD").await.unwrap(),
        None,
        "keys match exactly"
    );
    let long_value = "v".repeat(10_000);
    store.set_setting("long", &long_value).await.unwrap();
    assert_eq!(store.setting("long").await.unwrap(), Some(long_value));
    assert!(matches!(
        store.set_setting(&"k".repeat(65), "x").await,
        Err(StoreError::TooLong { .. })
    ));
    // PostgreSQL text cannot hold NUL (docs/SERVER.md says so): refused at
    // once, as a persistent error; the others keep it.
    let with_nul = "before\0after";
    match (store.backend(), store.set_setting("nul", with_nul).await) {
        (Backend::Postgres, Err(err)) => assert!(!err.is_transient(), "{err}"),
        (Backend::Postgres, Ok(())) => panic!("PostgreSQL stored a NUL character"),
        (_, result) => {
            result.unwrap();
            assert_eq!(
                store.setting("nul").await.unwrap().as_deref(),
                Some(with_nul)
            );
        }
    }
    store.close().await;
}

async fn concurrent_distinct_registrations(url: String) {
    let store = Store::open(&url).await.unwrap();
    let tasks: Vec<_> = (0..100u64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let (pem, fingerprint) = key(i);
                store
                    .create_user(&format!("user{i:03}"), &pem, &fingerprint)
                    .await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        let id = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("registration failed: {e}"));
        assert!(ids.insert(id));
    }
    let users = store.users().await.unwrap();
    assert_eq!(users.len(), 100);
    assert_eq!(users[0].0, "user000");
    assert_eq!(users[99].0, "user099");
    store.close().await;
}

async fn concurrent_same_name_registrations(url: String) {
    let store = Store::open(&url).await.unwrap();
    let spawn_all = |names: Vec<(String, u64)>| {
        names
            .into_iter()
            .map(|(name, key_no)| {
                let store = store.clone();
                tokio::spawn(async move {
                    let (pem, fingerprint) = key(key_no);
                    store.create_user(&name, &pem, &fingerprint).await
                })
            })
            .collect::<Vec<_>>()
    };
    let outcomes = |tasks: Vec<tokio::task::JoinHandle<Result<i64, CreateUserError>>>| async {
        let (mut ok, mut exists) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(CreateUserError::Exists) => exists += 1,
                Err(e) => panic!("unexpected outcome: {e}"),
            }
        }
        (ok, exists)
    };

    // One name, many keys.
    let tasks = spawn_all((0..30).map(|i| ("zed".to_owned(), 100 + i)).collect());
    assert_eq!(outcomes(tasks).await, (1, 29));
    // One key, many names.
    let tasks = spawn_all((0..30).map(|i| (format!("k{i}"), 500)).collect());
    assert_eq!(outcomes(tasks).await, (1, 29));
    assert_eq!(store.users().await.unwrap().len(), 2);

    // A deregistered name stays refused however many try.
    assert!(store.deregister("zed").await.unwrap());
    let tasks = spawn_all((0..10).map(|i| ("zed".to_owned(), 600 + i)).collect());
    for task in tasks {
        assert!(matches!(
            task.await.unwrap(),
            Err(CreateUserError::Deregistered)
        ));
    }
    store.close().await;
}

async fn reopen_persists(url: String) {
    let (store, alice, bob) = alice_and_bob(&url).await;
    let id = put(&store, alice, bob, 42, b"persist me").await;
    store.set_setting("motd", "kept").await.unwrap();
    store.set_permission("alice", 2).await.unwrap();
    store.close().await;

    // PostgreSQL's other scheme names the same database.
    let url = url.replacen("postgres://", "postgresql://", 1);
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.user("alice").await.unwrap().unwrap().permission, 2);
    assert_eq!(store.user("bob").await.unwrap().unwrap().id, bob);
    assert_eq!(
        store.setting("motd").await.unwrap().as_deref(),
        Some("kept")
    );
    let pending = store.pending_messages(bob, 0, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].id, &pending[0].ciphertext[..]),
        (id, &b"persist me"[..])
    );
    // New ids keep growing after a reopen.
    assert!(register(&store, "carol", 3).await > bob);
    assert!(put(&store, bob, alice, 43, b"x").await > id);
    store.close().await;
}

// -------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread")]
async fn registration_rules() {
    on_all(registration).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deregistration_keeps_name_and_messages() {
    on_all(deregistered_user_keeps_messages).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn permissions_and_user_list() {
    on_all(permissions_and_listing).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_in_order_paging_and_deletion() {
    on_all(message_queue).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_stored_ahead_of_spilled_ones() {
    on_all(messages_ahead).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_upsert() {
    on_all(settings).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_concurrent_registrations_all_succeed() {
    on_all(concurrent_distinct_registrations).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_same_name_registrations_succeed_once() {
    on_all(concurrent_same_name_registrations).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reopening_keeps_everything() {
    on_all(reopen_persists).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn in_memory_databases() {
    registration(":memory:".into()).await;
    message_queue("sqlite::memory:".into()).await;
    concurrent_distinct_registrations("sqlite://:memory:".into()).await;
}

/// On an SQLite file, pages of cached messages are read through the store's
/// own read-only connections: they read the file sqlx writes, also when its
/// name holds characters that URIs treat specially, see every committed
/// message, and fail once the store is closed.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_pages_read_the_written_file() {
    let dir = gochat_testkit::TempDir::new("gochat_pages");
    let name = dir.path().join("odd # name %3F 1.db");
    let url = format!("sqlite://{}", name.display()).replace("%3F", "%253F");
    let (store, alice, bob) = alice_and_bob(&url).await;
    let ciphertext = [7u8; 100];
    let messages: Vec<_> = (0..3000)
        .map(|stamp| NewMessage {
            src: alice,
            dst: bob,
            stamp,
            ciphertext: &ciphertext,
        })
        .collect();
    let ids = store.store_messages(&messages).await.unwrap();
    let mut read = Vec::new();
    loop {
        let after = read.last().map_or(0, |m: &StoredMessage| m.id);
        let page = store.pending_messages(bob, after, 1024).await.unwrap();
        if page.is_empty() {
            break;
        }
        read.extend(page);
    }
    assert_eq!(read.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert!(read.iter().all(|m| m.sender == "alice"));
    assert_eq!(read[2999].stamp, 2999);
    // More reads at once than the reader has connections: each waits its turn.
    let reads: Vec<_> = (0..16)
        .map(|i| {
            let (store, after) = (store.clone(), ids[i * 100]);
            tokio::spawn(async move { store.pending_messages(bob, after, 50).await })
        })
        .collect();
    for (i, read) in reads.into_iter().enumerate() {
        let page = read.await.unwrap().unwrap();
        assert_eq!(page.len(), 50);
        assert_eq!(page[0].id, ids[i * 100 + 1]);
    }
    // A message committed after those reads is in the next one.
    let late = put(&store, alice, bob, 5, b"late").await;
    let page = store.pending_messages(bob, ids[2999], 10).await.unwrap();
    assert_eq!((page.len(), page[0].id), (1, late));
    assert_eq!(page[0].ciphertext, b"late");
    assert!(std::fs::metadata(&name).is_ok(), "{}", name.display());
    store.close().await;
    assert!(store.pending_messages(bob, 0, 10).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_urls_are_reported() {
    let err = Store::open("oracle://user:secret@localhost/db")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("secret"), "{err}");
    let missing_dir = std::env::temp_dir()
        .join(gochat_testkit::unique("no_such_dir"))
        .join("x.db");
    let err = Store::open(&format!("sqlite://{}", missing_dir.display()))
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
}

/// A writer holding the SQLite lock past the store's busy timeout (200 ms
/// here; 5 s by default): the store's statement fails with SQLITE_BUSY, is
/// retried, and succeeds once the lock is released.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_busy_is_retried() {
    let file = ScratchDb::sqlite();
    let busy_timeout = Duration::from_millis(200);
    let options = StoreOptions {
        sqlite_busy_timeout: busy_timeout,
    };
    let store = Store::open_with(file.url(), &options).await.unwrap();
    let mut blocker = sqlx::AnyConnection::connect(file.url()).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    sqlx::query("INSERT INTO settings (name, value) VALUES ('blocker', 'x')")
        .execute(&mut blocker)
        .await
        .unwrap();

    let started = Instant::now();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { store.set_setting("motd", "after the lock").await })
    };
    // Three busy timeouts: one attempt alone would have given up by now.
    tokio::time::sleep(busy_timeout * 3).await;
    assert!(!writer.is_finished(), "the writer should still be retrying");
    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
    writer.await.unwrap().unwrap();
    assert!(started.elapsed() >= busy_timeout * 3);
    assert_eq!(
        store.setting("motd").await.unwrap().as_deref(),
        Some("after the lock")
    );
    blocker.close().await.unwrap();
    store.close().await;
}

/// The id the server gives the session of `conn` (PostgreSQL's backend pid
/// when `numbered`, else MariaDB's connection id).
async fn session_id(conn: &mut sqlx::AnyConnection, numbered: bool) -> i64 {
    use sqlx::Row;
    let sql = if numbered {
        "SELECT CAST(pg_backend_pid() AS BIGINT)"
    } else {
        "SELECT CAST(CONNECTION_ID() AS SIGNED)"
    };
    sqlx::query(sql)
        .fetch_one(conn)
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}

/// Waits (10 s at most) until some session of the server behind `url` waits
/// for a lock held by session `holder` (see [`session_id`]).
async fn wait_until_blocked_by(url: &str, numbered: bool, holder: i64) {
    use sqlx::Row;
    let sql = if numbered {
        "SELECT COUNT(*) FROM pg_stat_activity WHERE CAST($1 AS INTEGER) = ANY(pg_blocking_pids(pid))"
    } else {
        "SELECT COUNT(*) FROM information_schema.INNODB_LOCK_WAITS w \
         JOIN information_schema.INNODB_TRX t ON t.trx_id = w.blocking_trx_id \
         WHERE t.trx_mysql_thread_id = ?"
    };
    let mut watcher = sqlx::AnyConnection::connect(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = sqlx::query(sql)
            .bind(holder)
            .fetch_one(&mut watcher)
            .await
            .unwrap();
        let waiting: i64 = row.try_get(0).unwrap();
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no session waited for a lock of session {holder} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    watcher.close().await.unwrap();
}

/// A real deadlock in which the store's statement is the victim: the caller
/// sees a normal result, because the statement is retried. `numbered` tells
/// the placeholder style of the backend behind `url` (`$1` or `?`).
async fn deadlock_is_retried(url: String, numbered: bool) {
    let (insert, delete) = if numbered {
        (
            "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) VALUES ($1, $2, $3, $4)",
            "DELETE FROM messages WHERE id = $1",
        )
    } else {
        (
            "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) VALUES (?, ?, ?, ?)",
            "DELETE FROM messages WHERE id = ?",
        )
    };
    let (store, alice, bob) = alice_and_bob(&url).await;
    let m1 = put(&store, alice, bob, 1, b"one").await;
    let m2 = put(&store, alice, bob, 2, b"two").await;

    // On InnoDB the other transaction is made heavier (more rows changed) so
    // that it picks the store's statement as the victim; PostgreSQL aborts
    // the transaction whose wait first lasts `deadlock_timeout`, the store's.
    let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    for i in 0..20i64 {
        sqlx::query(insert)
            .bind(bob)
            .bind(alice)
            .bind(i)
            .bind(&b"weight"[..])
            .execute(&mut other)
            .await
            .unwrap();
    }
    sqlx::query(delete)
        .bind(m2)
        .execute(&mut other)
        .await
        .unwrap();

    // The store locks m1, then waits for m2.
    let other_id = session_id(&mut other, numbered).await;
    let deleting = {
        let store = store.clone();
        tokio::spawn(async move { store.delete_messages(bob, &[m1, m2]).await })
    };
    wait_until_blocked_by(&url, numbered, other_id).await;
    // Now the other transaction wants m1: a deadlock cycle.
    sqlx::query(delete)
        .bind(m1)
        .execute(&mut other)
        .await
        .expect("the store's statement should have been the deadlock victim");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    // Retried after the deadlock, the store's DELETE finds nothing left.
    assert_eq!(deleting.await.unwrap().unwrap(), 0);
    assert!(store.pending_messages(bob, 0, 10).await.unwrap().is_empty());
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_deadlock_is_retried() {
    if let Some(db) = ScratchDb::create(Db::MariaDb).await {
        deadlock_is_retried(db.url().to_string(), false).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_deadlock_is_retried() {
    if let Some(db) = ScratchDb::create(Db::Postgres).await {
        deadlock_is_retried(db.url().to_string(), true).await;
    }
}

/// The same store code under smol's reactor (async-io) instead of tokio,
/// including registrations racing from several threads.
#[test]
fn works_under_smol() {
    async_io::block_on(async {
        on_all(registration).await;
        on_all(message_queue).await;
        on_all(|url: String| async move {
            let store = Store::open(&url).await.unwrap();
            let threads: Vec<_> = (0..10u64)
                .map(|t| {
                    let store = store.clone();
                    std::thread::spawn(move || {
                        async_io::block_on(async {
                            for i in 0..10 {
                                register(&store, &format!("t{t}u{i}"), t * 100 + i).await;
                            }
                        });
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(store.users().await.unwrap().len(), 100);
            store.close().await;
        })
        .await;
    });
}
