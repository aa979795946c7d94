//! A database written by the ORIGINAL Go client is migrated in place on first
//! open: every server, account (its key still opens), contact and message,
//! dangling accounts included. The fixture is built here from the exact
//! CREATE TABLE statements the original writes (docs/PROTOCOL.md §11.2).
//!
//! The history taken over is plaintext, as the original wrote it, until the
//! account's next login seals it; it reads back through the store and the
//! shell's HISTORY.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod shell_support;

use std::path::Path;

use gochat_client::ServerRecord;
use gochat_client::keys::{
    open_account_secrets, open_private_key, seal_private_key, verify_password,
};
use gochat_client::service::Service;
use gochat_client::store::{LocalStore, SEALED_PLACEHOLDER};
use gochat_testkit::{TempDir, private_pem, public_pem_text};
use shell_support::{LiveShell, client_settings, has_message, login_lines};
use sqlx::ConnectOptions as _;
use sqlx::Connection as _;

/// "correct horse", bcrypt `$2a$12$` as Go writes it.
const HASH: &str = "$2a$12$ujBR0neQ7D30WlVx58WrN.YJB/4LqhXrvGBi.Y9Q0v94VgLcaInDa";
const PASSWORD: &str = "correct horse";

/// The schema the original client really writes (docs/PROTOCOL.md §11.2).
const ORIGINAL_SCHEMA: [&str; 5] = [
    "CREATE TABLE `servers` (`address` text NOT NULL,`port` integer NOT NULL,`tls` numeric NOT NULL,`server_id` integer NOT NULL,`name` text NOT NULL,PRIMARY KEY (`address`,`port`),CONSTRAINT `fk_users_server` FOREIGN KEY (`server_id`) REFERENCES `users`(`server_id`) ON DELETE CASCADE,CONSTRAINT `uni_servers_name` UNIQUE (`name`))",
    "CREATE TABLE `users` (`user_id` integer NOT NULL,`server_id` integer NOT NULL,`username` text NOT NULL,PRIMARY KEY (`server_id`,`username`),CONSTRAINT `fk_local_users_user` FOREIGN KEY (`user_id`) REFERENCES `local_users`(`user_id`),CONSTRAINT `fk_external_users_user` FOREIGN KEY (`user_id`) REFERENCES `external_users`(`user_id`))",
    "CREATE TABLE `local_users` (`user_id` integer NOT NULL,`password` text NOT NULL,`prv_key` text,PRIMARY KEY (`user_id`))",
    "CREATE TABLE `external_users` (`user_id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,`pub_key` text NOT NULL)",
    "CREATE TABLE `messages` (`message_id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,`source_id` integer,`destination_id` integer,`stamp` datetime,`text` text,CONSTRAINT `fk_messages_source_user` FOREIGN KEY (`source_id`) REFERENCES `users`(`user_id`),CONSTRAINT `fk_messages_destination_user` FOREIGN KEY (`destination_id`) REFERENCES `users`(`user_id`))",
];

/// A fresh folder, removed with its files when the test ends.
fn scratch(name: &str) -> TempDir {
    TempDir::new(&format!("gochat_client_{name}"))
}

/// The names of the tables of `db`, sorted.
async fn table_names(db: &mut sqlx::SqliteConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(db)
        .await
        .unwrap()
}

/// A plain connection, without foreign-key enforcement as go-sqlite3 opens
/// it (the original's schema breaks with it).
async fn raw(path: &Path) -> sqlx::SqliteConnection {
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(false)
        .connect()
        .await
        .unwrap()
}

/// Key blobs sealed like the original's, kept to check they open afterwards.
struct Fixture {
    carol_key: Vec<u8>,
    erin_key: Vec<u8>,
    frank_key: Vec<u8>,
}

/// Writes the original client's database: two live servers and one deleted
/// one, local users carol (server 1, blob bound as a BLOB), erin (server 2)
/// and hank (server 1) with raw bytes in a TEXT value exactly as go-sqlite3
/// stores a Go string, and frank (dangling: server 3 deleted); external users
/// bob, carol (server 2) and gina (server 3); dave, known only by his user
/// row; messages with Go time stamps.
async fn write_original(path: &Path) -> Fixture {
    let mut db = raw(path).await;
    for sql in ORIGINAL_SCHEMA {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    let carol_key = seal_private_key(private_pem("alice"), PASSWORD).unwrap();
    let erin_key = seal_private_key(private_pem("alice"), "erin's").unwrap();
    let frank_key = seal_private_key(private_pem("alice"), "frank's").unwrap();

    for sql in [
        "INSERT INTO servers VALUES ('127.0.0.1', 19037, 0, 1, 'Default-1')",
        "INSERT INTO servers VALUES ('chat.example.org', 9037, 1, 2, 'work')",
        // Server 3 ('gone') was deleted: only its users remain.
        // users: user_id = MAX(user_id)+1, global across servers.
        "INSERT INTO users VALUES (1, 1, 'carol')",
        "INSERT INTO users VALUES (2, 1, 'bob')",
        "INSERT INTO users VALUES (3, 2, 'erin')",
        "INSERT INTO users VALUES (4, 3, 'frank')",
        "INSERT INTO users VALUES (5, 2, 'carol')",
        "INSERT INTO users VALUES (6, 1, 'dave')",
        "INSERT INTO users VALUES (7, 3, 'gina')",
        "INSERT INTO users VALUES (8, 1, 'hank')",
        "INSERT INTO external_users VALUES (2, 'BOB-PUB')",
        "INSERT INTO external_users VALUES (5, 'CAROL-PUB')",
        "INSERT INTO external_users VALUES (7, 'GINA-PUB')",
        // DeleteLocalUser bug: an orphaned key row of a deleted account.
        "INSERT INTO local_users VALUES (99, '$2a$12$orphan', 'orphan key')",
    ] {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    // Real PEMs for the contacts.
    sqlx::query("UPDATE external_users SET pub_key = ? WHERE user_id = 2")
        .bind(public_pem_text("bob"))
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE external_users SET pub_key = ? WHERE user_id = 5")
        .bind(public_pem_text("carol"))
        .execute(&mut db)
        .await
        .unwrap();
    // carol: the blob bound as a BLOB into the TEXT column.
    sqlx::query("INSERT INTO local_users VALUES (1, ?, ?)")
        .bind(HASH)
        .bind(&carol_key)
        .execute(&mut db)
        .await
        .unwrap();
    // erin and frank: raw bytes as a TEXT value, as Go writes a string.
    for (id, key) in [(3, &erin_key), (4, &frank_key), (8, &carol_key)] {
        sqlx::query("INSERT INTO local_users VALUES (?, ?, CAST(? AS TEXT))")
            .bind(id)
            .bind(HASH)
            .bind(key)
            .execute(&mut db)
            .await
            .unwrap();
    }
    let messages: [(i64, i64, &str, &str); 11] = [
        (1, 2, "2026-11-25 17:50:05+00:00", "hi bob"),
        (2, 1, "2026-11-25 19:51:06.123456789+02:00", "hi carol"),
        (6, 1, "2026-11-25 17:52:07.5+00:00", "dave here"),
        (1, 6, "2026-11-25 12:53:08-05:00", "hello dave"),
        (3, 5, "2026-11-26 00:00:00+00:00", "erin to carol@2"),
        (5, 3, "2026-11-26 00:00:01+00:00", "carol@2 to erin"),
        (4, 7, "2026-11-25 17:50:05+00:00", "frank's old message"),
        (7, 4, "2026-11-25T17:50:09Z", "gina's reply"),
        // Two local accounts on one server: both histories get it.
        (1, 8, "2026-11-25 17:50:09+00:00", "carol to hank"),
        // Neither side local, or a user row missing: kept aside, not dropped.
        (2, 6, "2026-11-25 17:50:10+00:00", "bob to dave"),
        (42, 1, "2026-11-25 17:50:11+00:00", "from nobody"),
    ];
    for (src, dst, stamp, text) in messages {
        sqlx::query(
            "INSERT INTO messages (source_id, destination_id, stamp, text) VALUES (?, ?, ?, ?)",
        )
        .bind(src)
        .bind(dst)
        .bind(stamp)
        .bind(text)
        .execute(&mut db)
        .await
        .unwrap();
    }
    db.close().await.unwrap();
    Fixture {
        carol_key,
        erin_key,
        frank_key,
    }
}

/// 2026-11-25 17:50:05 UTC.
const T: i64 = 1_795_629_005;

/// A stored server's id, name, address, port and TLS flag.
fn endpoint(s: &ServerRecord) -> (i64, &str, &str, u16, bool) {
    (s.id, s.name.as_str(), s.address.as_str(), s.port, s.tls)
}

/// `sealed`, a migrated key blob, opens with `password` to alice's fixture
/// key (every original account in the fixture holds it).
fn assert_opens_to_alice_key(sealed: &[u8], password: &str) {
    assert_eq!(
        open_private_key(sealed, password).unwrap(),
        private_pem("alice")
    );
}

#[tokio::test]
async fn original_database_is_migrated_in_place() {
    let dir = scratch("migrate");
    let path = dir.join("client.db");
    let fixture = write_original(&path).await;

    let store = LocalStore::open(&path).await.unwrap();

    // Servers keep their ids, names, endpoints and TLS flags.
    let servers = store.servers().await.unwrap();
    assert_eq!(servers.len(), 2);
    assert_eq!(
        endpoint(&servers[0]),
        (1, "Default-1", "127.0.0.1", 19037, false)
    );
    assert_eq!(
        endpoint(&servers[1]),
        (2, "work", "chat.example.org", 9037, true)
    );

    // Accounts: hash and key blob byte for byte; the keys still open.
    let carol = store.account(1, "carol").await.unwrap().unwrap();
    assert_eq!(carol.password_hash, HASH);
    assert!(verify_password(PASSWORD, &carol.password_hash));
    assert_eq!(carol.sealed_key, fixture.carol_key);
    assert_opens_to_alice_key(&carol.sealed_key, PASSWORD);
    let erin = store.account(2, "erin").await.unwrap().unwrap();
    assert_eq!(erin.sealed_key, fixture.erin_key);
    assert_opens_to_alice_key(&erin.sealed_key, "erin's");
    // The dangling account (server 3 deleted).
    let dangling = store.dangling_accounts().await.unwrap();
    assert_eq!(dangling.len(), 1);
    assert_eq!(
        (dangling[0].server_id, dangling[0].username.as_str()),
        (3, "frank")
    );
    assert_eq!(dangling[0].sealed_key, fixture.frank_key);
    assert_opens_to_alice_key(&dangling[0].sealed_key, "frank's");
    assert_eq!(store.accounts(None).await.unwrap().len(), 4);
    let hank = store.account(1, "hank").await.unwrap().unwrap();
    assert_opens_to_alice_key(&hank.sealed_key, PASSWORD);
    // The orphaned key row of a deleted account is not resurrected.
    assert!(
        store
            .accounts(None)
            .await
            .unwrap()
            .iter()
            .all(|a| a.password_hash != "$2a$12$orphan")
    );

    // Contacts.
    let contacts = store.contacts(1).await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        (
            contacts[0].username.as_str(),
            contacts[0].pubkey_pem.as_str()
        ),
        ("bob", public_pem_text("bob"))
    );
    assert_eq!(
        store.contact(2, "carol").await.unwrap().unwrap().pubkey_pem,
        public_pem_text("carol")
    );

    // Messages: account / peer / outgoing / stamp / text.
    // Each conversation (server, account, peer), newest first: its messages'
    // outgoing / stamp / text (and account and peer as asked).
    type Conversation<'a> = (i64, &'a str, &'a str);
    type Message<'a> = (bool, i64, &'a str);
    let conversations: [(Conversation, &[Message]); 6] = [
        (
            (1, "carol", "bob"),
            &[(false, T + 61, "hi carol"), (true, T, "hi bob")],
        ),
        (
            (1, "carol", "dave"),
            &[(true, T + 183, "hello dave"), (false, T + 122, "dave here")],
        ),
        ((1, "carol", "hank"), &[(true, T + 4, "carol to hank")]),
        ((1, "hank", "carol"), &[(false, T + 4, "carol to hank")]),
        (
            (2, "erin", "carol"),
            &[
                (false, T + 22_196, "carol@2 to erin"),
                (true, T + 22_195, "erin to carol@2"),
            ],
        ),
        (
            (3, "frank", "gina"),
            &[
                (false, T + 4, "gina's reply"),
                (true, T, "frank's old message"),
            ],
        ),
    ];
    let s = |x: &str| x.to_owned();
    for ((server, account, peer), messages) in conversations {
        let got: Vec<_> = store
            .history(server, account, peer, None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.account, m.peer, m.outgoing, m.stamp, m.text))
            .collect();
        let want: Vec<_> = messages
            .iter()
            .map(|&(outgoing, stamp, text)| {
                (account.into(), peer.into(), outgoing, stamp, text.into())
            })
            .collect();
        assert_eq!(got, want, "{account} with {peer} on server {server}");
    }
    assert_eq!(
        store.contact(3, "gina").await.unwrap().unwrap().pubkey_pem,
        "GINA-PUB"
    );
    assert_eq!(
        store.conversations(1, "carol").await.unwrap(),
        ["hank", "dave", "bob"]
    );
    // The dangling account's history exports in the recovery format.
    assert_eq!(
        store.conversation_export(3, "frank", None).await.unwrap(),
        "--- CONVERSATION BEGINS ---\n\
         Wednesday, 25-Nov-26 17:50:05 UTC | [frank] -> [gina]: frank's old message\n\
         Wednesday, 25-Nov-26 17:50:09 UTC | [gina] -> [frank]: gina's reply\n\
         --- CONVERSATION FINISH ---\n"
    );

    // A new server never adopts the dangling account of deleted server 3.
    let new = store.add_server(None, "10.0.0.9", 1, false).await.unwrap();
    assert!(new.id > 3, "{new:?}");
    assert_eq!(store.dangling_accounts().await.unwrap().len(), 1);
    store.close().await;

    // The original tables are gone; the unattributable message was kept aside.
    let mut db = raw(&path).await;
    let tables = table_names(&mut db).await;
    for gone in [
        "servers",
        "users",
        "local_users",
        "external_users",
        "messages",
    ] {
        assert!(!tables.iter().any(|t| t == gone), "{tables:?}");
    }
    type Aside = (Option<String>, Option<String>, Option<i64>, String);
    let aside: Vec<Aside> = sqlx::query_as(
        "SELECT source_name, destination_name, stamp, text FROM orig_unattributed_messages \
         ORDER BY message_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        aside,
        vec![
            (
                Some(s("bob")),
                Some(s("dave")),
                Some(T + 5),
                s("bob to dave")
            ),
            (None, Some(s("carol")), Some(T + 6), s("from nobody")),
        ]
    );
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    // Opening again is a no-op.
    let again = LocalStore::open(&path).await.unwrap();
    assert_eq!(again.servers().await.unwrap().len(), 3);
    assert_eq!(again.accounts(None).await.unwrap().len(), 4);
    assert_eq!(
        again
            .history(1, "carol", "bob", None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    again.close().await;
    let mut db = raw(&path).await;
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(after, migrations);
    db.close().await.unwrap();
}

#[tokio::test]
async fn a_failed_migration_leaves_the_file_untouched() {
    let dir = scratch("rollback");
    let path = dir.join("client.db");
    write_original(&path).await;
    // A port no uint16 holds: the import refuses it and rolls back.
    let mut db = raw(&path).await;
    sqlx::query("INSERT INTO servers VALUES ('bad', 70000, 0, 7, 'bad')")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();

    assert!(LocalStore::open(&path).await.is_err());

    let mut db = raw(&path).await;
    let tables = table_names(&mut db).await;
    assert!(tables.iter().any(|t| t == "local_users"), "{tables:?}");
    assert!(
        !tables.iter().any(|t| t == "_sqlx_migrations"),
        "{tables:?}"
    );
    assert!(!tables.iter().any(|t| t == "accounts"), "{tables:?}");
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(users, 8);
    db.close().await.unwrap();
}

/// How many rows of `account`'s history on server 1 are still plaintext,
/// and how many are sealed, in the file at `path`.
async fn plaintext_and_sealed(path: &Path, account: &str) -> (i64, i64) {
    let mut db = raw(path).await;
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(sealed IS NULL), 0), COALESCE(SUM(sealed IS NOT NULL), 0) \
         FROM chat_messages WHERE server_id = 1 AND account = ?",
    )
    .bind(account)
    .fetch_one(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    counts
}

/// Whether any of the files of the database at `path` holds `text`.
fn on_disk(path: &Path, text: &str) -> bool {
    ["", "-wal", "-shm"].iter().any(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::fs::read(name)
            .is_ok_and(|bytes| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
    })
}

/// The original client's history, plaintext after the takeover, is sealed
/// when its account's history is unlocked at the next login (carol's five
/// rows; hank's wait for his own login), reads back with the key, and is no
/// longer in the file.
#[tokio::test]
async fn taken_over_history_is_sealed_at_the_next_login() {
    let dir = scratch("takeover-sealed");
    let path = dir.join("client.db");
    write_original(&path).await;
    let store = LocalStore::open(&path).await.unwrap();
    assert_eq!(plaintext_and_sealed(&path, "carol").await, (5, 0));
    let carol = store.account(1, "carol").await.unwrap().unwrap();
    let (_, key) = open_account_secrets(&carol.sealed_key, PASSWORD).unwrap();
    assert_eq!(
        store.unlock_history(1, "carol", key.clone()).await.unwrap(),
        5
    );
    assert_eq!(plaintext_and_sealed(&path, "carol").await, (0, 5));
    assert_eq!(plaintext_and_sealed(&path, "hank").await, (1, 0));
    let texts = |page: Vec<gochat_client::ChatMessage>| -> Vec<String> {
        page.into_iter().map(|m| m.text).collect()
    };
    assert_eq!(
        texts(store.history(1, "carol", "bob", None, 10).await.unwrap()),
        ["hi carol", "hi bob"]
    );
    assert_eq!(
        texts(store.history(1, "carol", "dave", None, 10).await.unwrap()),
        ["hello dave", "dave here"]
    );
    store.close().await;
    for text in ["hi carol", "hi bob", "hello dave", "dave here"] {
        assert!(!on_disk(&path, text), "{text:?} is still on disk");
    }
    // A new run: locked until the next login, then read back again.
    let store = LocalStore::open(&path).await.unwrap();
    let page = store.history(1, "carol", "bob", None, 10).await.unwrap();
    assert!(
        page.len() == 2 && page.iter().all(|m| m.text == SEALED_PLACEHOLDER),
        "{page:?}"
    );
    assert_eq!(store.unlock_history(1, "carol", key).await.unwrap(), 0);
    assert_eq!(
        texts(store.history(1, "carol", "bob", None, 10).await.unwrap()),
        ["hi carol", "hi bob"]
    );
    store.close().await;
}

/// Writes an original client's database holding server `test` at
/// 127.0.0.1:`port`, the account alice (her fixture key sealed under
/// [`PASSWORD`]), bob as a contact, and two messages between them.
async fn write_original_for_alice(path: &Path, port: u16) {
    let mut db = raw(path).await;
    for sql in ORIGINAL_SCHEMA {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    let key = seal_private_key(private_pem("alice"), PASSWORD).unwrap();
    sqlx::query("INSERT INTO servers VALUES ('127.0.0.1', ?, 0, 1, 'test')")
        .bind(i64::from(port))
        .execute(&mut db)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO users VALUES (1, 1, 'alice')",
        "INSERT INTO users VALUES (2, 1, 'bob')",
        "INSERT INTO messages (source_id, destination_id, stamp, text) VALUES \
         (2, 1, '2026-11-25 17:50:05+00:00', 'an old word from bob')",
        "INSERT INTO messages (source_id, destination_id, stamp, text) VALUES \
         (1, 2, '2026-11-25 17:51:05.25+00:00', 'an old answer to bob')",
    ] {
        sqlx::query(sql).execute(&mut db).await.unwrap();
    }
    sqlx::query("INSERT INTO external_users VALUES (2, ?)")
        .bind(public_pem_text("bob"))
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO local_users VALUES (1, ?, CAST(? AS TEXT))")
        .bind(HASH)
        .bind(&key)
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
}

/// The shell on a taken-over database: LOGIN seals alice's history and
/// HISTORY shows it; the file then holds none of its texts.
#[test]
fn the_shell_reads_taken_over_history_sealed_at_login() {
    common::run(common::smol_rt(), |rt| async move {
        let (server, port) = common::server_with(&rt, &["alice", "bob"]).await;
        let dir = scratch("takeover-shell");
        let path = dir.join("client.db");
        write_original_for_alice(&path, port).await;
        let store = LocalStore::open(&path).await.unwrap();
        assert_eq!(plaintext_and_sealed(&path, "alice").await, (2, 0));
        let mut a = LiveShell::start(&rt, "alice", Service::new(store.clone()), client_settings());
        a.send(&format!("CONN test\n{}", login_lines("alice")));
        a.expect(&rt, "online users: alice\n").await;
        a.send("HISTORY bob");
        a.expect(&rt, "gochat(alice) > HISTORY bob\n").await;
        let history = a.expect(&rt, "an old answer to bob\n").await;
        assert!(
            has_message(&history, "bob", "an old word from bob"),
            "{history}"
        );
        assert!(
            has_message(&history, "alice", "an old answer to bob"),
            "{history}"
        );
        assert_eq!(plaintext_and_sealed(&path, "alice").await, (0, 2));
        let (status, out) = a.finish(&rt).await;
        assert_eq!(status, 0, "{out}");
        store.close().await;
        for text in ["an old word", "an old answer"] {
            assert!(!on_disk(&path, text), "{text:?} is still on disk");
        }
        server.shutdown();
    });
}
