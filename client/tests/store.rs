//! The local store: servers, accounts, contacts, history paging, the export
//! format, file modes, and that no private key in clear reaches the disk.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use gochat_client::ClientError;
use gochat_client::keys::{open_account_secrets, open_private_key, seal_private_key};
use gochat_client::store::{LocalStore, NewMessage, SEALED_PLACEHOLDER};
use gochat_testkit::{TempDir, private_pem};

/// A fresh folder, removed with its files when the test ends.
fn scratch(name: &str) -> TempDir {
    TempDir::new(&format!("gochat_client_{name}"))
}

fn msg(
    server_id: i64,
    account: &str,
    peer: &str,
    outgoing: bool,
    stamp: i64,
    text: &str,
) -> NewMessage {
    NewMessage {
        server_id,
        account: account.to_owned(),
        peer: peer.to_owned(),
        outgoing,
        stamp,
        text: text.to_owned(),
    }
}

#[tokio::test]
async fn servers_crud() {
    let store = LocalStore::open_memory().await.unwrap();
    assert!(store.servers().await.unwrap().is_empty());

    let a = store
        .add_server(None, "127.0.0.1", 19037, false)
        .await
        .unwrap();
    assert_eq!(a.name, format!("Default-{}", a.id));
    let b = store
        .add_server(Some("work"), "chat.example.org", 9037, true)
        .await
        .unwrap();
    assert_eq!(b.name, "work");
    assert!(b.tls);
    assert_eq!(b.endpoint(), "chat.example.org:9037 (TLS)");

    // Same endpoint: updates name and TLS, keeps the id.
    let a2 = store
        .add_server(Some("home"), "127.0.0.1", 19037, true)
        .await
        .unwrap();
    assert_eq!((a2.id, a2.name.as_str(), a2.tls), (a.id, "home", true));
    // Same endpoint without a name: keeps the name.
    let a3 = store
        .add_server(None, "127.0.0.1", 19037, false)
        .await
        .unwrap();
    assert_eq!((a3.id, a3.name.as_str(), a3.tls), (a.id, "home", false));
    // A name taken by another endpoint.
    assert!(matches!(
        store.add_server(Some("work"), "10.0.0.1", 1, false).await,
        Err(ClientError::Exists(_))
    ));

    let all = store.servers().await.unwrap();
    assert_eq!(all, vec![a3.clone(), b.clone()]);
    assert_eq!(store.server_by_name("work").await.unwrap(), Some(b.clone()));
    assert_eq!(store.server_by_name("nope").await.unwrap(), None);
    assert_eq!(
        store.server_by_endpoint("127.0.0.1", 19037).await.unwrap(),
        Some(a3.clone())
    );
    assert_eq!(
        store.server_by_endpoint("127.0.0.1", 1).await.unwrap(),
        None
    );

    let mut renamed = b.clone();
    renamed.name = "office".to_owned();
    renamed.port = 9038;
    store.update_server(&renamed).await.unwrap();
    assert_eq!(
        store.server_by_name("office").await.unwrap(),
        Some(renamed.clone())
    );
    renamed.name = "home".to_owned();
    assert!(matches!(
        store.update_server(&renamed).await,
        Err(ClientError::Exists(_))
    ));
    let mut ghost = renamed.clone();
    ghost.id = 999;
    ghost.name = "ghost".to_owned();
    assert!(matches!(
        store.update_server(&ghost).await,
        Err(ClientError::NotFound(_))
    ));

    assert!(store.delete_server("office").await.unwrap());
    assert!(!store.delete_server("office").await.unwrap());
    // Ids are never reused.
    let c = store.add_server(None, "10.0.0.2", 2, false).await.unwrap();
    assert!(c.id > b.id);
    // `Default-<id>` already taken by a user-named server.
    let next = c.id + 1;
    store
        .add_server(Some(&format!("Default-{next}")), "10.0.0.3", 3, false)
        .await
        .unwrap();
    let d = store.add_server(None, "10.0.0.4", 4, false).await.unwrap();
    assert_eq!(d.name, format!("Default-{}", d.id));
    assert!(d.name.starts_with("Default-"));
}

#[tokio::test]
async fn accounts_contacts_and_dangling() {
    let store = LocalStore::open_memory().await.unwrap();
    let s1 = store.add_server(Some("one"), "a", 1, false).await.unwrap();
    let s2 = store.add_server(Some("two"), "b", 2, false).await.unwrap();

    let alice = store
        .add_account(s1.id, "alice", "$2b$12$hash", &[1, 2, 3])
        .await
        .unwrap();
    assert_eq!(alice.sealed_key, vec![1, 2, 3]);
    assert!(matches!(
        store.add_account(s1.id, "alice", "h", &[]).await,
        Err(ClientError::Exists(_))
    ));
    assert!(matches!(
        store.add_account(999, "zed", "h", &[]).await,
        Err(ClientError::NotFound(_))
    ));
    store.add_account(s1.id, "bob", "h", &[4]).await.unwrap();
    let alice2 = store.add_account(s2.id, "alice", "h2", &[5]).await.unwrap();

    assert_eq!(
        store.account(s1.id, "alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.account(s1.id, "carol").await.unwrap(), None);
    let names = |v: Vec<gochat_client::Account>| {
        v.into_iter()
            .map(|a| (a.server_id, a.username))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(store.accounts(Some(s1.id)).await.unwrap()),
        vec![(s1.id, "alice".into()), (s1.id, "bob".into())]
    );
    assert_eq!(store.accounts(None).await.unwrap().len(), 3);
    assert!(store.dangling_accounts().await.unwrap().is_empty());

    assert!(store.delete_server("two").await.unwrap());
    assert_eq!(
        store.dangling_accounts().await.unwrap(),
        vec![alice2.clone()]
    );
    assert_eq!(store.accounts(None).await.unwrap().len(), 3);

    assert!(store.delete_account(s1.id, "bob").await.unwrap());
    assert!(!store.delete_account(s1.id, "bob").await.unwrap());
    assert_eq!(store.account(s1.id, "bob").await.unwrap(), None);
    assert!(store.delete_account(s2.id, "alice").await.unwrap());
    assert!(store.dangling_accounts().await.unwrap().is_empty());

    store.upsert_contact(s1.id, "dave", "PEM1").await.unwrap();
    store.upsert_contact(s1.id, "carol", "PEM2").await.unwrap();
    store.upsert_contact(s1.id, "dave", "PEM3").await.unwrap();
    let dave = store.contact(s1.id, "dave").await.unwrap().unwrap();
    assert_eq!(dave.pubkey_pem, "PEM3");
    assert_eq!(store.contact(s2.id, "dave").await.unwrap(), None);
    let contacts = store.contacts(s1.id).await.unwrap();
    assert_eq!(
        contacts
            .iter()
            .map(|c| c.username.as_str())
            .collect::<Vec<_>>(),
        ["carol", "dave"]
    );
}

#[tokio::test]
async fn history_pages_newest_first() {
    let store = LocalStore::open_memory().await.unwrap();
    let s = store.add_server(None, "h", 1, false).await.unwrap();
    let batch: Vec<NewMessage> = (0..1000)
        .map(|i| {
            msg(
                s.id,
                "alice",
                "bob",
                i % 2 == 0,
                1_700_000_000 + i,
                &format!("m{i}"),
            )
        })
        .collect();
    let stored = store.add_messages(&batch).await.unwrap();
    assert_eq!(stored.len(), 1000);
    assert!(stored.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(stored[3].text, "m3");
    assert_eq!(stored[3].sender(), "bob");
    assert_eq!(stored[4].sender(), "alice");
    store
        .add_message(&msg(s.id, "alice", "carol", true, 5, "hi carol"))
        .await
        .unwrap();
    store
        .add_message(&msg(s.id, "bob", "alice", false, 6, "other account"))
        .await
        .unwrap();
    assert!(store.add_messages(&[]).await.unwrap().is_empty());

    let page = store.history(s.id, "alice", "bob", None, 10).await.unwrap();
    assert_eq!(page.len(), 10);
    assert_eq!(page[0].text, "m999");
    assert_eq!(page[9].text, "m990");
    assert!(page.windows(2).all(|w| w[0].id > w[1].id));
    let next = store
        .history(s.id, "alice", "bob", Some(page[9].id), 10)
        .await
        .unwrap();
    assert_eq!(next[0].text, "m989");

    // Walk the whole conversation.
    let mut seen = 0;
    let mut before = None;
    loop {
        let page = store
            .history(s.id, "alice", "bob", before, 333)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        seen += page.len();
        before = page.last().map(|m| m.id);
    }
    assert_eq!(seen, 1000);
    assert!(
        store
            .history(s.id, "alice", "bob", None, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .history(s.id, "alice", "zed", None, 5)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store.conversations(s.id, "alice").await.unwrap(),
        ["carol", "bob"]
    );
    store
        .add_message(&msg(s.id, "alice", "bob", false, 7, "latest"))
        .await
        .unwrap();
    assert_eq!(
        store.conversations(s.id, "alice").await.unwrap(),
        ["bob", "carol"]
    );
    assert_eq!(store.conversations(s.id, "bob").await.unwrap(), ["alice"]);
}

#[tokio::test]
async fn export_uses_the_original_format() {
    let store = LocalStore::open_memory().await.unwrap();
    let s = store.add_server(None, "h", 1, false).await.unwrap();
    assert_eq!(
        store
            .conversation_export(s.id, "alice", None)
            .await
            .unwrap(),
        ""
    );
    // 2026-11-25 17:50:05 UTC, a Wednesday.
    let t = 1_795_629_005;
    for m in [
        msg(s.id, "alice", "bob", true, t + 60, "second"),
        msg(s.id, "alice", "carol", false, t, "from carol"),
        msg(s.id, "alice", "bob", false, t, "first"),
    ] {
        store.add_message(&m).await.unwrap();
    }
    assert_eq!(
        store
            .conversation_export(s.id, "alice", None)
            .await
            .unwrap(),
        "--- CONVERSATION BEGINS ---\n\
         Wednesday, 25-Nov-26 17:50:05 UTC | [bob] -> [alice]: first\n\
         Wednesday, 25-Nov-26 17:51:05 UTC | [alice] -> [bob]: second\n\
         --- CONVERSATION FINISH ---\n\
         --- CONVERSATION BEGINS ---\n\
         Wednesday, 25-Nov-26 17:50:05 UTC | [carol] -> [alice]: from carol\n\
         --- CONVERSATION FINISH ---\n"
    );
}

#[tokio::test]
async fn the_conversation_index_exists() {
    let dir = scratch("index");
    let path = dir.join("client.db");
    let store = LocalStore::open(&path).await.unwrap();
    store.close().await;
    // Read the schema back with a plain connection.
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT id, outgoing, stamp, text FROM chat_messages \
         WHERE server_id = 1 AND account = 'a' AND peer = 'b' AND id < 100 \
         ORDER BY id DESC LIMIT 50",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let detail: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        detail
            .iter()
            .any(|d| d.contains("USING INDEX ix_chat_messages_conversation")),
        "{detail:?}"
    );
    assert!(
        !detail.iter().any(|d| d.contains("TEMP B-TREE")),
        "{detail:?}"
    );
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = scratch("modes");

    // New file, in folders that do not exist yet.
    let path = dir.join("db").join("nested").join("client.db");
    let store = LocalStore::open(&path).await.unwrap();
    store.add_server(None, "h", 1, false).await.unwrap();
    assert_eq!(mode(&path), 0o600);
    let wal = dir.join("db/nested/client.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600);
    }
    store.close().await;

    // An existing world-readable file (as the original client leaves it).
    let old = dir.join("old.db");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = LocalStore::open(&old).await.unwrap();
    assert_eq!(mode(&old), 0o600);
    store.add_server(None, "h", 1, false).await.unwrap();
    store.close().await;

    // Stale companions with a loose mode are fixed too.
    let store = LocalStore::open(&old).await.unwrap();
    store.add_server(None, "h2", 2, false).await.unwrap();
    let old_wal = dir.join("old.db-wal");
    if old_wal.exists() {
        std::fs::set_permissions(&old_wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        let again = LocalStore::open(&old).await.unwrap();
        assert_eq!(mode(&old_wal), 0o600);
        again.close().await;
    }
    store.close().await;
}

/// The first base64 line of a PEM body.
/// History sealed at rest: plaintext rows (older history, the original
/// client's) are sealed when the account unlocks its history, new messages
/// are stored sealed, nothing of their texts is in the files, and the texts
/// read back only with the account's key.
#[tokio::test]
async fn history_is_sealed_at_rest() {
    let dir = scratch("sealed-history");
    let path = dir.join("client.db");
    let store = LocalStore::open(&path).await.unwrap();
    let s = store.add_server(None, "h", 1, false).await.unwrap();
    let (_, key) =
        open_account_secrets(&seal_private_key(private_pem("alice"), "pw").unwrap(), "pw").unwrap();
    let (_, other) =
        open_account_secrets(&seal_private_key(private_pem("alice"), "pw").unwrap(), "pw").unwrap();
    // Written before sealing existed: plaintext on disk.
    for i in 0..1500 {
        store
            .add_message(&msg(
                s.id,
                "alice",
                "bob",
                i % 2 == 0,
                i,
                &format!("old secret {i:04}"),
            ))
            .await
            .unwrap();
    }
    store
        .add_message(&msg(s.id, "carol", "bob", true, 1, "carol's own"))
        .await
        .unwrap();
    assert_eq!(
        store
            .unlock_history(s.id, "alice", key.clone())
            .await
            .unwrap(),
        1500
    );
    assert_eq!(
        store
            .unlock_history(s.id, "alice", key.clone())
            .await
            .unwrap(),
        0
    );
    store
        .add_message(&msg(s.id, "alice", "bob", false, 2000, "new secret"))
        .await
        .unwrap();
    let page = store.history(s.id, "alice", "bob", None, 3).await.unwrap();
    let texts: Vec<&str> = page.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["new secret", "old secret 1499", "old secret 1498"]);
    let export = store
        .conversation_export(s.id, "alice", None)
        .await
        .unwrap();
    assert!(export.contains("old secret 0000") && export.contains("new secret"));
    // Another account's history is not touched.
    let carol = store.history(s.id, "carol", "bob", None, 5).await.unwrap();
    assert_eq!(carol[0].text, "carol's own");
    // Locked: the texts are sealed again, the rest is there.
    store.lock_history(s.id, "alice");
    let page = store.history(s.id, "alice", "bob", None, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    assert!(page.iter().all(|m| m.text == SEALED_PLACEHOLDER));
    assert_eq!(page[0].stamp, 2000);
    // Another key opens nothing (an account made again under the same name).
    let export = store
        .conversation_export(s.id, "alice", Some(&other))
        .await
        .unwrap();
    assert!(!export.contains("secret") && export.contains(SEALED_PLACEHOLDER));
    let export = store
        .conversation_export(s.id, "alice", Some(&key))
        .await
        .unwrap();
    assert!(export.contains("old secret 0777"));
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let Ok(bytes) = std::fs::read(dir.join(format!("client.db{suffix}"))) else {
            continue;
        };
        assert!(
            !contains(&bytes, b"new secret"),
            "client.db{suffix} holds a text"
        );
        assert!(
            !contains(&bytes, b"old secret"),
            "client.db{suffix} holds a text"
        );
    }
}

fn first_body_line(pem: &str) -> &str {
    pem.lines().find(|l| !l.starts_with("-----")).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn no_private_key_in_clear_on_disk() {
    let dir = scratch("no-clear-key");
    let path = dir.join("client.db");
    let store = LocalStore::open(&path).await.unwrap();
    let server = store
        .add_server(None, "127.0.0.1", 19037, false)
        .await
        .unwrap();
    let sealed = seal_private_key(private_pem("alice"), "pw").unwrap();
    let hash = gochat_client::keys::hash_password("pw").unwrap();
    store
        .add_account(server.id, "alice", &hash, &sealed)
        .await
        .unwrap();
    store
        .add_message(&msg(server.id, "alice", "bob", true, 1, "hello"))
        .await
        .unwrap();
    let account = store.account(server.id, "alice").await.unwrap().unwrap();
    assert_eq!(
        open_private_key(&account.sealed_key, "pw").unwrap(),
        private_pem("alice")
    );

    let needles = [
        first_body_line(private_pem("alice")).as_bytes(),
        &private_pem("alice").as_bytes()
            [private_pem("alice").len() / 2..private_pem("alice").len() / 2 + 48],
        b"BEGIN RSA PRIVATE KEY",
    ];
    let check = |when: &str| {
        let mut files = 0;
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.join(format!("client.db{suffix}"));
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            files += 1;
            for needle in needles {
                assert!(
                    !contains(&bytes, needle),
                    "{when}: {} holds the private key in clear",
                    file.display()
                );
            }
        }
        assert!(files >= 1);
    };
    // While open (the WAL holds the recent writes) and after closing.
    check("open");
    // The message text is there in plaintext, as documented: the scan works.
    let mut all = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(dir.join("client.db-wal")) {
        all.extend(wal);
    }
    assert!(contains(&all, b"hello"));
    store.close().await;
    check("closed");
}
