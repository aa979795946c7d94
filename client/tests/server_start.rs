//! The servers' start options in the local store: off for every server
//! until set, kept per server, gone with the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gochat_client::ClientError;
use gochat_client::StartOptions;
use gochat_client::store::LocalStore;

#[tokio::test]
async fn start_options_are_stored_per_server() {
    let store = LocalStore::open_memory().await.unwrap();
    let a = store.add_server(Some("a"), "h", 1, false).await.unwrap();
    let b = store.add_server(Some("b"), "h", 2, true).await.unwrap();
    assert_eq!(
        store.start_options().await.unwrap(),
        [
            (a.id, StartOptions::default()),
            (b.id, StartOptions::default())
        ]
    );
    let on = StartOptions {
        auto_connect: true,
        auto_login: Some("alice".into()),
    };
    store.set_start_options(b.id, &on).await.unwrap();
    assert_eq!(
        store.start_options().await.unwrap(),
        [(a.id, StartOptions::default()), (b.id, on.clone())]
    );
    // The record itself is untouched.
    assert_eq!(store.servers().await.unwrap(), [a.clone(), b.clone()]);
    store
        .set_start_options(b.id, &StartOptions::default())
        .await
        .unwrap();
    assert_eq!(
        store.start_options().await.unwrap()[1].1,
        StartOptions::default()
    );
    assert!(store.delete_server("b").await.unwrap());
    assert!(matches!(
        store.set_start_options(b.id, &on).await,
        Err(ClientError::NotFound(_))
    ));
    assert_eq!(store.start_options().await.unwrap().len(), 1);
}
