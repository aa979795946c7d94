//! The client service against the workspace's server, on tokio and smol,
//! over TCP and TLS: logins, online and offline messages, catch-up, long
//! texts, hooks, administration, tokens, unknown senders, unreadable
//! messages, disconnects, and the local key operations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_lite::future::zip;
use gochat_client::service::{AdminCommand, ConnectOptions, Hook, HookEvent, UserList};
use gochat_client::store::{LocalStore, NewMessage};
use gochat_client::{ChatMessage, ClientError, ClientEvent};
use gochat_proto::{ClientCommand, ErrorCode, ServerCommand, crypto};
use gochat_runtime::Runtime;

fn message(e: ClientEvent) -> ChatMessage {
    match e {
        ClientEvent::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn is_new_login(e: &ClientEvent, name: &str, level: u8) -> bool {
    matches!(e, ClientEvent::Hook(HookEvent::NewLogin { username, permission })
        if username.as_str() == name && *permission == level)
}

fn is_disconnect(e: &ClientEvent) -> bool {
    matches!(e, ClientEvent::Disconnected { .. })
}

fn disconnect_reason(e: ClientEvent) -> String {
    match e {
        ClientEvent::Disconnected { reason } => reason,
        other => panic!("expected a disconnect, got {other:?}"),
    }
}

/// Two (then three) users talk online and offline; catch-up, long texts,
/// hooks, user lists, unknown senders, and the disconnect on shutdown.
async fn conversation<R: Runtime>(rt: R, transport: Transport) {
    let server = start_server(&rt, &settings()).await;
    register_fixtures(&rt, &server, &["alice", "bob", "carol"]).await;
    server.store().set_permission("carol", 1).await.unwrap();
    let addr = addr_of(&server, transport);
    let ((a, b), c) = zip(
        zip(
            Client::with_account(addr, transport, "alice"),
            Client::with_account(addr, transport, "bob"),
        ),
        Client::with_account(addr, transport, "carol"),
    )
    .await;

    // Alice logs in (the name is lowercased).
    let alice = a.connect(&rt).await;
    assert_eq!(alice.motd(), "Welcome to the test server!");
    assert_eq!(alice.is_tls(), transport == Transport::Tls);
    assert!(alice.is_connected());
    let alice_events = alice.events();
    let summary = alice.login("Alice", PASSWORD).await.unwrap();
    assert_eq!(summary.permission, 0);
    assert!(!summary.used_token);
    assert!(!summary.catch_up_started);
    assert_eq!(alice.user().as_deref(), Some("alice"));
    assert_eq!(alice.permission(), Some(0));
    assert!(matches!(
        alice.login("alice", PASSWORD).await,
        Err(ClientError::AlreadyLoggedIn)
    ));

    // Bob logs in with a wrong password, then the right one.
    let bob = b.connect(&rt).await;
    let bob_events = bob.events();
    assert!(matches!(
        bob.login("bob", "wrong").await,
        Err(ClientError::WrongPassword)
    ));
    assert!(matches!(
        bob.login("nobody", PASSWORD).await,
        Err(ClientError::NotFound(_))
    ));
    let summary = bob.login("bob", PASSWORD).await.unwrap();
    let online: Vec<(String, Option<u8>)> = summary
        .online
        .iter()
        .map(|u| (u.name.as_str().to_owned(), u.permission))
        .collect();
    assert!(
        online.contains(&("alice".to_owned(), Some(0))),
        "{online:?}"
    );
    assert!(online.contains(&("bob".to_owned(), Some(0))), "{online:?}");
    wait_for(&rt, &alice_events, "NEWLOGIN bob", |e| {
        is_new_login(e, "bob", 0)
    })
    .await;

    // An online message to a user Alice does not know yet: REQ first.
    assert!(a.contact("bob").await.is_none());
    let sent = alice.send_text("bob", "hello bob").await.unwrap();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].outgoing);
    assert_eq!(
        (sent[0].account.as_str(), sent[0].peer.as_str()),
        ("alice", "bob")
    );
    assert!(a.contact("bob").await.is_some());
    let got = message(messages(&rt, &bob_events, 1).await.remove(0));
    assert_eq!(got.text, "hello bob");
    assert_eq!((got.account.as_str(), got.peer.as_str()), ("bob", "alice"));
    assert!(!got.outgoing);
    assert_eq!(got.stamp, sent[0].stamp);
    // Bob did not know Alice: the sender was requested and stored.
    let contact = b.contact("alice").await.expect("alice stored as a contact");
    assert_eq!(contact.pubkey_pem.trim(), public_pem_text("alice").trim());

    // A text of about 1000 bytes goes as three MSGs and arrives as three
    // messages, in order, each cut after a space (no word split).
    let long = "Grüße aus dem Süden! ".repeat(42);
    assert_eq!(long.len(), 1008);
    let parts = alice.send_text("bob", &long).await.unwrap();
    assert_eq!(parts.len(), 3);
    let whole_words = |text: &str| {
        text.ends_with(' ')
            && text
                .split_whitespace()
                .all(|w| ["Grüße", "aus", "dem", "Süden!"].contains(&w))
    };
    assert!(parts.iter().all(|p| whole_words(&p.text)), "{parts:?}");
    assert!(parts.iter().all(|p| p.text.len() <= crypto::MAX_PLAINTEXT));
    assert!(parts.windows(2).all(|w| w[0].stamp < w[1].stamp));
    assert_eq!(
        parts.iter().map(|p| p.text.as_str()).collect::<String>(),
        long
    );
    let got: Vec<ChatMessage> = messages(&rt, &bob_events, 3)
        .await
        .into_iter()
        .map(message)
        .collect();
    assert_eq!(
        got.iter().map(|m| m.text.as_str()).collect::<String>(),
        long
    );
    assert!(got.iter().all(|m| whole_words(&m.text)), "{got:?}");
    assert_eq!(
        got.iter().map(|m| m.stamp).collect::<Vec<_>>(),
        parts.iter().map(|p| p.stamp).collect::<Vec<_>>()
    );
    let history = b.history("bob", "alice", 10).await;
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].text, got[2].text, "newest first");
    assert_eq!(history[3].text, "hello bob");

    // Hooks carry the real permission level.
    let carol = c.connect(&rt).await;
    let carol_events = carol.events();
    let summary = carol.login("carol", PASSWORD).await.unwrap();
    assert_eq!(summary.permission, 1);
    assert_eq!(carol.permission(), Some(1));
    for events in [&alice_events, &bob_events] {
        wait_for(&rt, events, "NEWLOGIN carol", |e| {
            is_new_login(e, "carol", 1)
        })
        .await;
    }

    // Lists, permissions, refusals.
    let mut names: Vec<String> = alice
        .users(UserList::Online)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name.as_str().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let all = alice.users(UserList::AllPerms).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(alice.permission_of("carol").await.unwrap(), 1);
    assert!(matches!(
        alice.request_key("alice").await,
        Err(ClientError::Invalid(_))
    ));
    assert!(matches!(
        alice.send_text("alice", "me").await,
        Err(ClientError::Invalid(_))
    ));
    assert!(matches!(
        alice.send_text("nobody", "hi").await,
        Err(ClientError::Server(ErrorCode::NotFound))
    ));
    assert!(matches!(
        alice.subscribe(Hook::NewLogin).await,
        Err(ClientError::Server(ErrorCode::Exists))
    ));
    alice.unsubscribe(Hook::DupSess).await.unwrap();
    alice.subscribe(Hook::DupSess).await.unwrap();
    let refreshed = alice.request_key("carol").await.unwrap();
    assert_eq!(refreshed.pubkey_pem.trim(), public_pem_text("carol").trim());

    // Offline messages, one from a sender Bob has never heard of.
    bob.logout().await.unwrap();
    assert_eq!(bob.user(), None);
    assert!(bob.is_connected());
    assert!(matches!(
        bob.send_text("alice", "x").await,
        Err(ClientError::NotLoggedIn)
    ));
    wait_for(&rt, &alice_events, "NEWLOGOUT bob", |e| {
        matches!(e, ClientEvent::Hook(HookEvent::NewLogout { username }) if username.as_str() == "bob")
    })
    .await;
    alice
        .send_text("bob", "while you were away (1)")
        .await
        .unwrap();
    alice
        .send_text("bob", "while you were away (2)")
        .await
        .unwrap();
    carol.send_text("bob", "hi from carol").await.unwrap();
    assert!(b.contact("carol").await.is_none());

    // Catch-up after login: events arrive in order and are stored.
    let summary = bob.login("bob", PASSWORD).await.unwrap();
    assert!(summary.catch_up_started);
    // Over TLS the LOGOUT made the token usable on this very connection.
    assert_eq!(summary.used_token, transport == Transport::Tls);
    let got: Vec<ChatMessage> = messages(&rt, &bob_events, 3)
        .await
        .into_iter()
        .map(message)
        .collect();
    let texts: Vec<(&str, &str)> = got
        .iter()
        .map(|m| (m.peer.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("alice", "while you were away (1)"),
            ("alice", "while you were away (2)"),
            ("carol", "hi from carol")
        ]
    );
    assert!(
        b.contact("carol").await.is_some(),
        "the unknown sender was requested and stored"
    );
    let from_carol = b.history("bob", "carol", 10).await;
    assert_eq!(from_carol.len(), 1);
    bob.catch_up().await.unwrap(); // nothing left: ERR EMPTY is fine

    // The server shuts down: every connection reports it.
    server.shutdown();
    server.wait().await;
    for (conn, events) in [
        (&alice, &alice_events),
        (&bob, &bob_events),
        (&carol, &carol_events),
    ] {
        let e = wait_for(&rt, events, "disconnect", is_disconnect).await;
        assert_eq!(disconnect_reason(e), "server closed the connection");
        assert!(!conn.is_connected());
        assert_eq!(conn.user(), None);
        assert!(matches!(
            conn.users(UserList::Online).await,
            Err(ClientError::NotConnected)
        ));
    }
}

/// Over TLS, a token held from a dropped connection logs in on the next one;
/// a stale token falls back to the challenge.
async fn token_after_drop<R: Runtime>(rt: R, transport: Transport) {
    let server = start_server(&rt, &settings()).await;
    register_fixtures(&rt, &server, &["alice"]).await;
    let addr = addr_of(&server, transport);
    let (a, other) = zip(
        Client::with_account(addr, transport, "alice"),
        Client::with_account(addr, transport, "alice"),
    )
    .await;
    let offline = || server.hub().peer(&user("alice")).is_none();

    // The test certificate is not among the system's roots.
    assert!(matches!(
        a.service
            .connect(&rt, &a.server, &ConnectOptions::default())
            .await,
        Err(ClientError::Tls(_))
    ));

    let first = a.connect(&rt).await;
    let events = first.events();
    let summary = first.login("alice", PASSWORD).await.unwrap();
    assert!(!summary.used_token);
    assert!(a.service.has_token(a.server.id, "alice"));
    first.disconnect().await;
    assert!(!first.is_connected());
    let e = wait_for(&rt, &events, "disconnect", is_disconnect).await;
    assert_eq!(disconnect_reason(e), "disconnected");
    assert!(matches!(
        first.permission_of("alice").await,
        Err(ClientError::NotConnected)
    ));
    until(&rt, "alice is offline", offline).await;

    // Reconnect: the token is used.
    let second = a.connect(&rt).await;
    let summary = second.login("alice", PASSWORD).await.unwrap();
    assert!(summary.used_token);
    assert_eq!(second.user().as_deref(), Some("alice"));
    assert_eq!(summary.permission, 0);
    drop(second); // dropping every handle closes the connection too
    until(&rt, "alice is offline", offline).await;

    // A challenge login elsewhere replaces the server's token: ours is stale.
    let elsewhere = other.connect(&rt).await;
    assert!(!elsewhere.login("alice", PASSWORD).await.unwrap().used_token);
    elsewhere.disconnect().await;
    until(&rt, "alice is offline", offline).await;
    let third = a.connect(&rt).await;
    let summary = third.login("alice", PASSWORD).await.unwrap();
    assert!(
        !summary.used_token,
        "the stale token fell back to the challenge"
    );
    assert_eq!(third.user().as_deref(), Some("alice"));
    third.disconnect().await;

    server.shutdown();
    server.wait().await;
}

/// An owner changes permissions and the MOTD, broadcasts, kicks and shuts
/// the server down.
async fn administration<R: Runtime>(rt: R, transport: Transport) {
    let server = start_server(&rt, &settings()).await;
    register_fixtures(&rt, &server, &["alice", "bob"]).await;
    // The owner is made the way an operator makes one: the server's admin command.
    gochat_server::shell::set_owner(server.store(), "alice")
        .await
        .unwrap();
    let addr = addr_of(&server, transport);
    let (a, b) = zip(
        Client::with_account(addr, transport, "alice"),
        Client::with_account(addr, transport, "bob"),
    )
    .await;
    let alice = a.connect(&rt).await;
    let alice_events = alice.events();
    assert_eq!(alice.login("alice", PASSWORD).await.unwrap().permission, 2);
    assert_eq!(alice.permission(), Some(2));
    let bob = b.connect(&rt).await;
    let bob_events = bob.events();
    bob.login("bob", PASSWORD).await.unwrap();
    let kick_alice = AdminCommand::Kick {
        username: user("alice"),
    };
    assert!(matches!(
        bob.admin(kick_alice).await,
        Err(ClientError::Server(ErrorCode::Perms))
    ));

    // CHGPERMS: the hook reaches Bob, whose level follows.
    alice
        .admin(AdminCommand::ChangePerms {
            username: user("bob"),
            permission: 1,
        })
        .await
        .unwrap();
    wait_for(&rt, &bob_events, "PERMSCHG bob", |e| {
        matches!(e, ClientEvent::Hook(HookEvent::PermsChg { username, permission: 1 }) if username.as_str() == "bob")
    })
    .await;
    assert_eq!(bob.permission(), Some(1));

    // MOTD: the next connection is greeted with it.
    alice
        .admin(AdminCommand::Motd {
            text: Bytes::from_static(b"Be nice"),
        })
        .await
        .unwrap();
    let probe = a.connect(&rt).await;
    assert_eq!(probe.motd(), "Be nice");
    probe.disconnect().await;

    // BRDCAST needs TLS.
    let broadcast = AdminCommand::Broadcast {
        text: Bytes::from_static(b"maintenance at noon"),
    };
    match transport {
        Transport::Tls => {
            alice.admin(broadcast).await.unwrap();
            let got = message(messages(&rt, &bob_events, 1).await.remove(0));
            assert_eq!(got.peer, "alice");
            assert_eq!(got.text, "ADMINISTRATIVE BROADCAST:\nmaintenance at noon");
        }
        Transport::Tcp => assert!(matches!(
            alice.admin(broadcast).await,
            Err(ClientError::Server(ErrorCode::NoSecure))
        )),
    }

    // KICK closes Bob's connection.
    alice
        .admin(AdminCommand::Kick {
            username: user("bob"),
        })
        .await
        .unwrap();
    let e = wait_for(&rt, &bob_events, "disconnect", is_disconnect).await;
    assert_eq!(disconnect_reason(e), "server closed the connection");
    assert!(!bob.is_connected());

    // SHTDWN: the notice, then the disconnect.
    let stamp = unix_now() + 1;
    alice.admin(AdminCommand::Shutdown { stamp }).await.unwrap();
    match wait_for(&rt, &alice_events, "shutdown notice", |e| {
        matches!(e, ClientEvent::Shutdown { .. })
    })
    .await
    {
        ClientEvent::Shutdown {
            stamp: got,
            seconds_left,
        } => {
            assert_eq!(got, Some(stamp));
            assert!(seconds_left.is_some_and(|s| s <= 1), "{seconds_left:?}");
        }
        other => panic!("{other:?}"),
    }
    server.wait().await;
    let e = wait_for(&rt, &alice_events, "disconnect", is_disconnect).await;
    assert_eq!(disconnect_reason(e), "server closed the connection");
}

/// A live message from an unknown sender is requested and stored; garbage
/// ciphertext is reported as unreadable, never dropped.
async fn unknown_and_unreadable<R: Runtime>(rt: R, transport: Transport) {
    let server = start_server(&rt, &settings()).await;
    register_fixtures(&rt, &server, &["bob", "carol"]).await;
    let b = Client::with_account(addr_of(&server, transport), transport, "bob").await;
    let bob = b.connect(&rt).await;
    let events = bob.events();
    bob.login("bob", PASSWORD).await.unwrap();

    let (mut carol, _motd) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(
        carol.login("carol").await.0,
        ServerCommand::Ok,
        "LOGIN carol"
    );
    let stamp = unix_now();
    let garbage = ClientCommand::Msg {
        to: user("bob"),
        stamp,
        ciphertext: Bytes::from(vec![0x41; 512]),
    };
    assert_eq!(carol.call(garbage).await, ServerCommand::Ok);
    let bob_key = crypto::public_key_from_pem(public_pem_text("bob").as_bytes()).unwrap();
    let ciphertext =
        crypto::encrypt_without_crlf(&bob_key, &mut getrandom::SysRng, b"readable").unwrap();
    let good = ClientCommand::Msg {
        to: user("bob"),
        stamp: stamp + 1,
        ciphertext: Bytes::from(ciphertext),
    };
    assert_eq!(carol.call(good).await, ServerCommand::Ok);

    let got = messages(&rt, &events, 2).await;
    match &got[0] {
        ClientEvent::Unreadable {
            sender,
            stamp: s,
            reason,
        } => {
            assert_eq!(sender, "carol");
            assert_eq!(*s, stamp);
            assert!(reason.contains("decrypt"), "{reason}");
        }
        other => panic!("expected an unreadable message, got {other:?}"),
    }
    let readable = message(got[1].clone());
    assert_eq!(
        (readable.peer.as_str(), readable.text.as_str()),
        ("carol", "readable")
    );
    assert_eq!(readable.stamp, stamp + 1);
    let contact = b
        .contact("carol")
        .await
        .expect("the unknown sender was requested");
    assert_eq!(contact.pubkey_pem.trim(), public_pem_text("carol").trim());
    let stored = b.history("bob", "carol", 10).await;
    assert_eq!(stored, vec![readable]);

    // A larger catch-up: decrypted in batches off the IO task, stored, and
    // emitted in arrival order.
    bob.logout().await.unwrap();
    until(&rt, "bob is offline", || {
        server.hub().peer(&user("bob")).is_none()
    })
    .await;
    for i in 0..40 {
        let text = format!("offline {i:02}");
        let ciphertext =
            crypto::encrypt_without_crlf(&bob_key, &mut getrandom::SysRng, text.as_bytes())
                .unwrap();
        let msg = ClientCommand::Msg {
            to: user("bob"),
            stamp: stamp + 2,
            ciphertext: Bytes::from(ciphertext),
        };
        assert_eq!(carol.call(msg).await, ServerCommand::Ok);
    }
    assert!(bob.login("bob", PASSWORD).await.unwrap().catch_up_started);
    let texts: Vec<String> = messages(&rt, &events, 40)
        .await
        .into_iter()
        .map(|e| message(e).text)
        .collect();
    let expected: Vec<String> = (0..40).map(|i| format!("offline {i:02}")).collect();
    assert_eq!(texts, expected);
    let stored = b.history("bob", "carol", 100).await;
    assert_eq!(stored.len(), 41);
    assert_eq!(stored[0].text, "offline 39");

    server.shutdown();
    server.wait().await;
}

/// The server's idle deadline ends a silent connection with the reason;
/// keepalives keep another one open.
async fn idle_and_keepalive<R: Runtime>(rt: R, transport: Transport) {
    let mut settings = settings();
    settings.idle_timeout = Duration::from_secs(1);
    let server = start_server(&rt, &settings).await;
    let c = Client::new(addr_of(&server, transport), transport).await;
    let silent = ConnectOptions {
        keepalive: None,
        ..options()
    };
    let chatty = ConnectOptions {
        keepalive: Some(Duration::from_millis(250)),
        ..options()
    };
    let started = Instant::now();
    let quiet = c.service.connect(&rt, &c.server, &silent).await.unwrap();
    let kept = c.service.connect(&rt, &c.server, &chatty).await.unwrap();
    let e = wait_for(&rt, &quiet.events(), "idle disconnect", is_disconnect).await;
    assert_eq!(
        disconnect_reason(e),
        "server closed the connection: user has been idle for too long"
    );
    assert!(!quiet.is_connected());
    rt.sleep_until(started + Duration::from_millis(2500)).await;
    assert!(kept.is_connected());
    assert!(kept.events().is_empty());
    kept.disconnect().await;
    server.shutdown();
    server.wait().await;
}

/// REG with a generated key (the one test that generates an RSA key), local
/// checks, and DEREG of the logged-in account. A proxy answers the first two
/// REGs with ERR SERVER, as a busy original server does: they are retried.
async fn register_and_deregister<R: Runtime>(rt: R, transport: Transport) {
    let server = start_server(&rt, &settings()).await;
    assert_eq!(transport, Transport::Tcp, "the proxy speaks plain TCP");
    let (proxy, busy_left) = busy_reg_proxy(&rt, server.tcp_addr(), 2).await;
    let c = Client::new(proxy, transport).await;
    let conn = c.connect(&rt).await;
    assert!(matches!(
        conn.register("no way!", PASSWORD).await,
        Err(ClientError::Invalid(_))
    ));
    assert!(matches!(
        conn.register("erin", "").await,
        Err(ClientError::Invalid(_))
    ));
    conn.register("Erin", PASSWORD).await.unwrap();
    assert_eq!(
        busy_left.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "both busy answers were met and retried"
    );
    let account = c
        .service
        .store()
        .account(c.server.id, "erin")
        .await
        .unwrap();
    assert!(account.is_some(), "the account is stored lowercased");
    assert!(server.store().user("erin").await.unwrap().is_some());
    assert!(matches!(
        conn.register("erin", PASSWORD).await,
        Err(ClientError::Exists(_))
    ));
    assert!(matches!(
        conn.deregister(PASSWORD).await,
        Err(ClientError::NotLoggedIn)
    ));
    conn.login("erin", PASSWORD).await.unwrap();
    assert!(matches!(
        conn.register("zed", PASSWORD).await,
        Err(ClientError::AlreadyLoggedIn)
    ));
    assert!(matches!(
        conn.deregister("wrong").await,
        Err(ClientError::WrongPassword)
    ));
    conn.deregister(PASSWORD).await.unwrap();
    assert_eq!(conn.user(), None);
    assert!(
        c.service
            .store()
            .account(c.server.id, "erin")
            .await
            .unwrap()
            .is_none()
    );
    let row = server.store().user("erin").await.unwrap().unwrap();
    assert!(row.pubkey.is_none(), "the server erased the key");
    conn.disconnect().await;
    server.shutdown();
    server.wait().await;
}

/// Export, import and recovery need no server.
async fn export_import_recover<R: Runtime>(_rt: R, _transport: Transport) {
    let store = LocalStore::open_memory().await.unwrap();
    let server = store
        .add_server(Some("old"), "127.0.0.1", 9037, false)
        .await
        .unwrap();
    let service = gochat_client::service::Service::new(store.clone());
    let dir = temp_dir("gochat_client_keys");

    service
        .import_key(&server, "alice", private_pem("alice"), PASSWORD)
        .await
        .unwrap();
    assert!(matches!(
        service
            .import_key(&server, "alice", private_pem("alice"), PASSWORD)
            .await,
        Err(ClientError::Exists(_))
    ));
    assert!(matches!(
        service
            .import_key(&server, "bob", "not a key", PASSWORD)
            .await,
        Err(ClientError::Crypto(_))
    ));
    assert!(matches!(
        service.export_key(&server, "alice", "wrong", &dir).await,
        Err(ClientError::WrongPassword)
    ));
    assert!(matches!(
        service.export_key(&server, "nobody", PASSWORD, &dir).await,
        Err(ClientError::NotFound(_))
    ));
    let path = service
        .export_key(&server, "alice", PASSWORD, &dir)
        .await
        .unwrap();
    assert_eq!(path, dir.join("alice.priv"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let exported = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        crypto::private_key_from_pem(exported.as_bytes()).unwrap(),
        crypto::private_key_from_pem(private_pem("alice").as_bytes()).unwrap()
    );

    // The server is deleted: its account dangles, and can be recovered.
    store
        .add_message(&NewMessage {
            server_id: server.id,
            account: "alice".into(),
            peer: "bob".into(),
            outgoing: true,
            stamp: 1_700_000_000,
            text: "remember me".into(),
        })
        .await
        .unwrap();
    assert!(store.delete_server("old").await.unwrap());
    assert!(matches!(
        service.recover("alice", "wrong", &dir, false).await,
        Err(ClientError::WrongPassword)
    ));
    let out = temp_dir("gochat_client_recover");
    let files = service
        .recover("Alice", PASSWORD, &out, true)
        .await
        .unwrap();
    assert_eq!(files, vec![out.join("alice.priv"), out.join("alice.msgs")]);
    let msgs = std::fs::read_to_string(out.join("alice.msgs")).unwrap();
    assert!(msgs.contains("remember me"), "{msgs}");
    assert!(msgs.contains("--- CONVERSATION BEGINS ---"), "{msgs}");
    assert_eq!(
        std::fs::read_to_string(out.join("alice.priv")).unwrap(),
        exported
    );
    assert!(store.dangling_accounts().await.unwrap().is_empty());
    assert!(matches!(
        service.recover("alice", PASSWORD, &out, false).await,
        Err(ClientError::NotFound(_))
    ));
}

/// TLS on for a server that speaks plain TCP on that port: the connection
/// fails at once with [`ClientError::NotTls`], which says so in plain words
/// (and still names what the TLS library saw).
async fn tls_to_a_plain_server<R: Runtime>(rt: R, _transport: Transport) {
    let server = start_server(&rt, &settings()).await;
    let port = server.tcp_addr().port();
    let mut c = Client::new(server.tcp_addr(), Transport::Tcp).await;
    c.server.tls = true;
    let started = Instant::now();
    let err = c
        .service
        .connect(&rt, &c.server, &options())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NotTls { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the server at 127.0.0.1:{port} does not seem to speak TLS on that port \
             (the TLS handshake failed: "
        )),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{text}");
    // The same record with TLS off connects.
    c.server.tls = false;
    let conn = c.service.connect(&rt, &c.server, &options()).await.unwrap();
    conn.disconnect().await;
    server.shutdown();
    server.wait().await;
}

macro_rules! variants {
    ($scenario:ident: $($test:ident => $rt:ident, $transport:ident);+ $(;)?) => {
        mod $scenario {
            use super::*;
            $(
                #[test]
                fn $test() {
                    run($rt(), |rt| super::$scenario(rt, Transport::$transport));
                }
            )+
        }
    };
}

variants!(conversation:
    tokio_tcp => tokio_rt, Tcp;
    tokio_tls => tokio_rt, Tls;
    smol_tcp => smol_rt, Tcp;
    smol_tls => smol_rt, Tls;
);
variants!(token_after_drop:
    tokio_tls => tokio_rt, Tls;
    smol_tls => smol_rt, Tls;
);
variants!(administration:
    tokio_tls => tokio_rt, Tls;
    smol_tcp => smol_rt, Tcp;
);
variants!(unknown_and_unreadable:
    tokio_tcp => tokio_rt, Tcp;
    smol_tls => smol_rt, Tls;
);
variants!(idle_and_keepalive:
    tokio_tcp => tokio_rt, Tcp;
    smol_tcp => smol_rt, Tcp;
);
variants!(register_and_deregister:
    tokio_tcp => tokio_rt, Tcp;
);
variants!(export_import_recover:
    tokio => tokio_rt, Tcp;
);
variants!(tls_to_a_plain_server:
    tokio => tokio_rt, Tcp;
    smol => smol_rt, Tcp;
);
