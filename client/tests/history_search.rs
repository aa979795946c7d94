//! Searching sealed history through the service: the texts are opened with
//! the account's unlocked key, page after page, whatever their number;
//! nothing matches while the history is locked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gochat_client::keys::{open_account_secrets, seal_private_key};
use gochat_client::service::Service;
use gochat_client::store::{LocalStore, NewMessage};
use gochat_testkit::private_pem;

fn msg(server_id: i64, peer: &str, outgoing: bool, stamp: i64, text: &str) -> NewMessage {
    NewMessage {
        server_id,
        account: "alice".to_owned(),
        peer: peer.to_owned(),
        outgoing,
        stamp,
        text: text.to_owned(),
    }
}

#[tokio::test]
async fn sealed_history_is_searched_once_unlocked() {
    let store = LocalStore::open_memory().await.unwrap();
    let s = store.add_server(None, "h", 1, false).await.unwrap();
    let (_, key) =
        open_account_secrets(&seal_private_key(private_pem("alice"), "pw").unwrap(), "pw").unwrap();
    store
        .unlock_history(s.id, "alice", key.clone())
        .await
        .unwrap();
    // 2,500 messages with bob (more than two pages of the search), a few
    // holding the word; some with carol.
    let batch: Vec<NewMessage> = (0..2500)
        .map(|i| {
            let text = if i % 1000 == 7 {
                format!("the Secret word, number {i}")
            } else {
                format!("plain message {i}")
            };
            msg(s.id, "bob", i % 2 == 0, i, &text)
        })
        .collect();
    store.add_messages(&batch).await.unwrap();
    store
        .add_message(&msg(s.id, "carol", false, 5000, "carol's SECRET too"))
        .await
        .unwrap();
    let service = Service::new(store.clone());

    let (found, total) = service
        .search(s.id, "alice", Some("bob"), "secret", 10)
        .await
        .unwrap();
    assert_eq!(total, 3);
    let texts: Vec<&str> = found.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "the Secret word, number 2007",
            "the Secret word, number 1007",
            "the Secret word, number 7"
        ]
    );
    // Every conversation, newest first, cut at the limit but counted whole.
    let (found, total) = service
        .search(s.id, "alice", None, "SECRET", 2)
        .await
        .unwrap();
    assert_eq!(total, 4);
    assert_eq!(found[0].peer, "carol");
    assert_eq!(found[1].text, "the Secret word, number 2007");
    // Locked (logged out): the sealed texts cannot be read, nothing matches,
    // not even the placeholder they read as.
    store.lock_history(s.id, "alice");
    let (found, total) = service
        .search(s.id, "alice", None, "sealed", 10)
        .await
        .unwrap();
    assert_eq!((found.len(), total), (0, 0));
    let (_, total) = service
        .search(s.id, "alice", None, "secret", 10)
        .await
        .unwrap();
    assert_eq!(total, 0);
}
