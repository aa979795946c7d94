//! The server over real sockets: every action's success and error paths, the
//! permission matrix, hooks, tokens, duplicate sessions, the waiting line,
//! catch-up order and durability, malformed input. Each scenario runs on
//! tokio and smol, against SQLite and MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gochat_proto::crypto;
use gochat_proto::{
    AdminCommand, ClientCommand, ErrorCode, Hook, HookEvent, ServerCommand, UserEntry, UserList,
};
use gochat_runtime::Runtime;
use gochat_server::config::Settings;
use gochat_testkit::*;

const SHORT: Duration = Duration::from_millis(300);

fn msg(to: &str, stamp: i64, text: &[u8]) -> ClientCommand {
    ClientCommand::Msg {
        to: user(to),
        stamp,
        ciphertext: Bytes::copy_from_slice(text),
    }
}

async fn hello_and_registration<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut c, motd) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(motd, Bytes::from("Welcome to the test server!"));
    assert_eq!(c.register("alice").await, ServerCommand::Ok);
    assert_eq!(c.register("alice").await, err(ErrorCode::Exists));
    // The same key under another name.
    let same_key = ClientCommand::Reg {
        username: user("other"),
        pubkey: public_pem("alice"),
    };
    assert_eq!(c.call(same_key).await, err(ErrorCode::Exists));
    // Not a key.
    let bad = ClientCommand::Reg {
        username: user("bob"),
        pubkey: Bytes::from_static(b"hello"),
    };
    assert_eq!(c.call(bad).await, err(ErrorCode::Args));
    // A PKCS#1 body is not the wire format.
    let bob_key = crypto::public_key_from_pem(&public_pem("bob")).unwrap();
    let pkcs1_der = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&bob_key).unwrap();
    let pkcs1 = ClientCommand::Reg {
        username: user("bob"),
        pubkey: Bytes::from(crypto::pem_encode("RSA PUBLIC KEY", pkcs1_der.as_bytes())),
    };
    assert_eq!(c.call(pkcs1).await, err(ErrorCode::Args));
    // An invalid name: ERR ARGS (raw bytes, the typed layer would refuse it).
    let mut raw = bytes::BytesMut::new();
    gochat_proto::encode_into(
        &mut raw,
        gochat_proto::Action::Reg,
        0xFF,
        77,
        &[&b"b@d"[..], &public_pem("bob")],
    )
    .unwrap();
    c.write_raw(&raw).await;
    assert_eq!(c.reply(77).await, err(ErrorCode::Args));
    // Uppercase is read lowercase: one account, one name.
    let upper = ClientCommand::Reg {
        username: user("ALICE"),
        pubkey: public_pem("bob"),
    };
    assert_eq!(c.call(upper).await, err(ErrorCode::Exists));
    assert_eq!(c.register("bob").await, ServerCommand::Ok);
    server.shutdown();
    server.wait().await;
}

async fn login_and_session_rules<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut a, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(a.register("alice").await, ServerCommand::Ok);
    // Logged out: only REG, LOGIN, VERIF.
    assert_eq!(
        a.call(ClientCommand::Usrs(UserList::All)).await,
        err(ErrorCode::NoSess)
    );
    assert_eq!(a.call(ClientCommand::Logout).await, err(ErrorCode::NoSess));
    assert_eq!(a.call(msg("bob", 1, b"x")).await, err(ErrorCode::NoSess));
    assert_eq!(a.call(ClientCommand::Reciv).await, err(ErrorCode::NoSess));
    let verif = ClientCommand::Verif {
        username: user("alice"),
        answer: Bytes::from(vec![b'A'; 128]),
    };
    assert_eq!(a.call(verif.clone()).await, err(ErrorCode::Invalid));
    assert_eq!(
        a.call(ClientCommand::Login {
            username: user("nobody")
        })
        .await,
        err(ErrorCode::NotFound)
    );
    // A wrong answer: HANDSHAKE, and the challenge is gone.
    assert!(matches!(
        a.call(ClientCommand::Login {
            username: user("alice")
        })
        .await,
        ServerCommand::Verif { .. }
    ));
    assert_eq!(a.call(verif.clone()).await, err(ErrorCode::Handshake));
    assert_eq!(a.call(verif).await, err(ErrorCode::Invalid));
    // LOGOUT cancels a pending verification.
    assert!(matches!(
        a.call(ClientCommand::Login {
            username: user("alice")
        })
        .await,
        ServerCommand::Verif { .. }
    ));
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    // The real login.
    let (reply, _) = a.login("alice").await;
    assert_eq!(reply, ServerCommand::Ok);
    assert_eq!(a.register("alice").await, err(ErrorCode::Invalid));
    assert_eq!(
        a.call(ClientCommand::Login {
            username: user("alice")
        })
        .await,
        err(ErrorCode::Invalid)
    );
    // A second session for the same account: DUPSESS.
    let (mut b, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(
        b.call(ClientCommand::Login {
            username: user("Alice")
        })
        .await,
        err(ErrorCode::DupSess)
    );
    // LOGOUT releases; the connection stays open and may log in again.
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    assert_eq!(a.call(ClientCommand::Logout).await, err(ErrorCode::NoSess));
    let (reply, _) = b.login("alice").await;
    assert_eq!(reply, ServerCommand::Ok);
    server.shutdown();
    server.wait().await;
}

async fn messages_online_offline_and_catch_up<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut a, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    let (mut b, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    a.register_and_login("alice").await;
    b.register_and_login("bob").await;
    // Online: delivered at once, ciphertext with CRLF intact.
    assert_eq!(
        a.call(msg("bob", 1_764_000_000, b"one\r\ntwo")).await,
        ServerCommand::Ok
    );
    assert_eq!(
        b.push(TIMEOUT).await,
        Some(ServerCommand::Reciv {
            sender: user("alice"),
            stamp: 1_764_000_000,
            ciphertext: Bytes::from_static(b"one\r\ntwo")
        })
    );
    assert_eq!(
        a.call(msg("alice", 1, b"me")).await,
        err(ErrorCode::Invalid)
    );
    assert_eq!(
        a.call(msg("nobody", 1, b"x")).await,
        err(ErrorCode::NotFound)
    );
    // Offline: stored, then caught up in sending order (same second for all).
    assert_eq!(b.call(ClientCommand::Logout).await, ServerCommand::Ok);
    for i in 0..50u8 {
        let text = [b'm', i, 0x0d, 0x0a, i];
        assert_eq!(
            a.call(msg("bob", 1_764_000_500, &text)).await,
            ServerCommand::Ok
        );
    }
    // Any size the protocol allows.
    let big = vec![0xAB; 2045];
    assert_eq!(
        a.call(msg("bob", 1_764_000_501, &big)).await,
        ServerCommand::Ok
    );
    let (reply, _) = b.login("bob").await;
    assert_eq!(reply, ServerCommand::Ok);
    assert_eq!(b.call(ClientCommand::Reciv).await, ServerCommand::Ok);
    for i in 0..50u8 {
        let got = b.push(TIMEOUT).await;
        assert_eq!(
            got,
            Some(ServerCommand::Reciv {
                sender: user("alice"),
                stamp: 1_764_000_500,
                ciphertext: Bytes::copy_from_slice(&[b'm', i, 0x0d, 0x0a, i])
            }),
            "message {i}"
        );
    }
    assert_eq!(
        b.push(TIMEOUT).await,
        Some(ServerCommand::Reciv {
            sender: user("alice"),
            stamp: 1_764_000_501,
            ciphertext: Bytes::from(big)
        })
    );
    // Delivered messages are gone.
    assert_eq!(b.call(ClientCommand::Reciv).await, err(ErrorCode::Empty));
    server.shutdown();
    server.wait().await;
}

/// MSGs written in one go are answered together (one insert for those
/// stored): every answer is the one it gets alone, in request order, and the
/// stored ones are caught up in sending order.
async fn pipelined_messages<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut a, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    let (mut b, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    let (mut c, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    a.register_and_login("alice").await;
    assert_eq!(b.register("bob").await, ServerCommand::Ok);
    c.register_and_login("carol").await;
    let (mut d, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    d.register_and_login("dave").await;
    assert_eq!(d.call(ClientCommand::Dereg).await, ServerCommand::Ok);
    let mut wire = BytesMut::new();
    let mut expected = Vec::new();
    for i in 0..600u16 {
        let (cmd, answer) = match i {
            10 => (msg("nobody", 1, b"x"), err(ErrorCode::NotFound)),
            20 => (msg("alice", 1, b"me"), err(ErrorCode::Invalid)),
            30 => (msg("carol", 7, b"live"), ServerCommand::Ok),
            40 => (msg("dave", 1, b"gone"), err(ErrorCode::Dereg)),
            _ => (
                msg("bob", i64::from(i), &i.to_be_bytes()),
                ServerCommand::Ok,
            ),
        };
        let id = i % 1000 + 1;
        cmd.encode(id, &mut wire).unwrap();
        expected.push((id, answer));
    }
    a.write_raw(&wire).await;
    for (id, answer) in expected {
        assert_eq!(a.next_reply().await, (id, answer), "request {id}");
    }
    assert_eq!(
        c.push(TIMEOUT).await,
        Some(ServerCommand::Reciv {
            sender: user("alice"),
            stamp: 7,
            ciphertext: Bytes::from_static(b"live")
        })
    );
    let (reply, _) = b.login("bob").await;
    assert_eq!(reply, ServerCommand::Ok);
    assert_eq!(b.call(ClientCommand::Reciv).await, ServerCommand::Ok);
    for i in (0..600u16).filter(|i| ![10, 20, 30, 40].contains(i)) {
        assert_eq!(
            b.push(TIMEOUT).await,
            Some(ServerCommand::Reciv {
                sender: user("alice"),
                stamp: i64::from(i),
                ciphertext: Bytes::copy_from_slice(&i.to_be_bytes())
            }),
            "message {i}"
        );
    }
    assert_eq!(b.call(ClientCommand::Reciv).await, err(ErrorCode::Empty));
    server.shutdown();
    server.wait().await;
}

async fn stored_messages_survive_a_restart<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut a, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    let (mut b, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    a.register_and_login("alice").await;
    assert_eq!(b.register("bob").await, ServerCommand::Ok);
    assert_eq!(a.call(msg("bob", 10, b"first")).await, ServerCommand::Ok);
    assert_eq!(a.call(msg("bob", 11, b"second")).await, ServerCommand::Ok);
    // The MOTD survives a restart too.
    server.store().set_permission("alice", 2).await.unwrap();
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    a.login("alice").await;
    let motd = AdminCommand::Motd {
        text: Bytes::from_static(b"persisted motd"),
    };
    assert_eq!(a.call(ClientCommand::Admin(motd)).await, ServerCommand::Ok);
    server.shutdown();
    server.wait().await;

    let server = start_server(&rt, &settings).await;
    let (mut b, motd) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(motd, Bytes::from_static(b"persisted motd"));
    let (reply, _) = b.login("bob").await;
    assert_eq!(reply, ServerCommand::Ok);
    assert_eq!(b.call(ClientCommand::Reciv).await, ServerCommand::Ok);
    let first = b.push(TIMEOUT).await;
    let second = b.push(TIMEOUT).await;
    assert_eq!(
        first,
        Some(ServerCommand::Reciv {
            sender: user("alice"),
            stamp: 10,
            ciphertext: Bytes::from_static(b"first")
        })
    );
    assert_eq!(
        second,
        Some(ServerCommand::Reciv {
            sender: user("alice"),
            stamp: 11,
            ciphertext: Bytes::from_static(b"second")
        })
    );
    server.shutdown();
    server.wait().await;
}

async fn hooks<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut c, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    c.register_and_login("carol").await;
    assert_eq!(
        c.call(ClientCommand::Sub(Hook::All)).await,
        ServerCommand::Ok
    );
    assert_eq!(
        c.call(ClientCommand::Sub(Hook::All)).await,
        ServerCommand::Ok
    );
    assert_eq!(
        c.call(ClientCommand::Sub(Hook::NewLogin)).await,
        err(ErrorCode::Exists)
    );
    let mut raw = bytes::BytesMut::new();
    gochat_proto::encode_into::<&[u8]>(&mut raw, gochat_proto::Action::Sub, 9, 500, &[]).unwrap();
    c.write_raw(&raw).await;
    assert_eq!(c.reply(500).await, err(ErrorCode::Option));

    let (mut a, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    a.register_and_login("alice").await;
    assert_eq!(
        c.push(TIMEOUT).await,
        Some(ServerCommand::Hook(HookEvent::NewLogin {
            username: user("alice"),
            permission: 0
        }))
    );
    // DUPSESS goes to the session whose account someone tried, with the IP.
    assert_eq!(
        a.call(ClientCommand::Sub(Hook::DupSess)).await,
        ServerCommand::Ok
    );
    let (mut intruder, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(
        intruder
            .call(ClientCommand::Login {
                username: user("alice")
            })
            .await,
        err(ErrorCode::DupSess)
    );
    assert_eq!(
        a.push(TIMEOUT).await,
        Some(ServerCommand::Hook(HookEvent::DupSess {
            ip: "127.0.0.1".into()
        }))
    );
    assert!(
        c.quiet(SHORT).await,
        "DUPSESS goes only to the account's session"
    );
    // NEWLOGOUT on logout and on disconnect.
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    assert_eq!(
        c.push(TIMEOUT).await,
        Some(ServerCommand::Hook(HookEvent::NewLogout {
            username: user("alice")
        }))
    );
    let (mut d, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    d.register_and_login("dave").await;
    assert_eq!(
        c.push(TIMEOUT).await,
        Some(ServerCommand::Hook(HookEvent::NewLogin {
            username: user("dave"),
            permission: 0
        }))
    );
    drop(d);
    assert_eq!(
        c.push(TIMEOUT).await,
        Some(ServerCommand::Hook(HookEvent::NewLogout {
            username: user("dave")
        }))
    );
    // UNSUB: single hooks must be held; ALL skips.
    assert_eq!(
        c.call(ClientCommand::Unsub(Hook::NewLogin)).await,
        ServerCommand::Ok
    );
    assert_eq!(
        c.call(ClientCommand::Unsub(Hook::NewLogin)).await,
        err(ErrorCode::NotFound)
    );
    assert_eq!(
        c.call(ClientCommand::Unsub(Hook::All)).await,
        ServerCommand::Ok
    );
    a.login("alice").await;
    assert!(c.quiet(SHORT).await);
    // Subscriptions end with the session.
    assert_eq!(
        c.call(ClientCommand::Sub(Hook::NewLogout)).await,
        ServerCommand::Ok
    );
    assert_eq!(c.call(ClientCommand::Logout).await, ServerCommand::Ok);
    c.login("carol").await;
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    assert!(c.quiet(SHORT).await);
    server.shutdown();
    server.wait().await;
}

async fn lists_keys_and_deregistration<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut a, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    let (mut b, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    a.register_and_login("alice").await;
    b.register_and_login("bob").await;
    assert_eq!(a.register("carol").await, err(ErrorCode::Invalid));
    let (mut c, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(c.register("carol").await, ServerCommand::Ok);
    let names = online_users;
    assert_eq!(
        a.call(ClientCommand::Usrs(UserList::All)).await,
        names(&["alice", "bob", "carol"])
    );
    assert_eq!(
        a.call(ClientCommand::Usrs(UserList::Online)).await,
        names(&["alice", "bob"])
    );
    assert_eq!(
        a.call(ClientCommand::Usrs(UserList::OnlinePerms)).await,
        ServerCommand::Usrs(vec![
            UserEntry {
                name: user("alice"),
                permission: Some(0)
            },
            UserEntry {
                name: user("bob"),
                permission: Some(0)
            },
        ])
    );
    let mut raw = bytes::BytesMut::new();
    gochat_proto::encode_into::<&[u8]>(&mut raw, gochat_proto::Action::Usrs, 7, 600, &[]).unwrap();
    a.write_raw(&raw).await;
    assert_eq!(a.reply(600).await, err(ErrorCode::Option));
    // REQ: the key as the wire wants it and the permission byte.
    match a
        .call(ClientCommand::Req {
            username: user("bob"),
        })
        .await
    {
        ServerCommand::Req {
            username,
            pubkey,
            permission,
        } => {
            assert_eq!(username, user("bob"));
            assert_eq!(permission, 0);
            let key = crypto::public_key_from_pem(&pubkey).unwrap();
            let ours = crypto::public_key_from_pem(&public_pem("bob")).unwrap();
            assert_eq!(key, ours);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        a.call(ClientCommand::Req {
            username: user("nobody")
        })
        .await,
        err(ErrorCode::NotFound)
    );
    // Bob leaves a message, then deregisters.
    assert_eq!(b.call(ClientCommand::Logout).await, ServerCommand::Ok);
    b.login("bob").await;
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    assert_eq!(
        b.call(msg("alice", 5, b"from bob")).await,
        ServerCommand::Ok
    );
    assert_eq!(b.call(ClientCommand::Dereg).await, ServerCommand::Ok);
    assert_eq!(
        b.call(ClientCommand::Usrs(UserList::All)).await,
        err(ErrorCode::NoSess)
    );
    assert_eq!(b.register("bob").await, err(ErrorCode::Dereg));
    assert_eq!(
        b.call(ClientCommand::Login {
            username: user("bob")
        })
        .await,
        err(ErrorCode::Dereg)
    );
    a.login("alice").await;
    assert_eq!(
        a.call(ClientCommand::Req {
            username: user("bob")
        })
        .await,
        err(ErrorCode::Dereg)
    );
    assert_eq!(a.call(msg("bob", 6, b"x")).await, err(ErrorCode::Dereg));
    // Still listed, and what bob sent is still delivered.
    assert_eq!(
        a.call(ClientCommand::Usrs(UserList::All)).await,
        names(&["alice", "bob", "carol"])
    );
    assert_eq!(a.call(ClientCommand::Reciv).await, ServerCommand::Ok);
    assert_eq!(
        a.push(TIMEOUT).await,
        Some(ServerCommand::Reciv {
            sender: user("bob"),
            stamp: 5,
            ciphertext: Bytes::from_static(b"from bob")
        })
    );
    server.shutdown();
    server.wait().await;
}

async fn admin_operations<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut o, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    let (mut b, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    let (mut c, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(o.register("alice").await, ServerCommand::Ok);
    server.store().set_permission("alice", 2).await.unwrap();
    o.login("alice").await;
    b.register_and_login("bob").await;
    c.register_and_login("carol").await;
    assert_eq!(
        c.call(ClientCommand::Sub(Hook::PermsChg)).await,
        ServerCommand::Ok
    );
    let admin = |op| ClientCommand::Admin(op);
    let kick = |n: &str| admin(AdminCommand::Kick { username: user(n) });
    let chg = |n: &str, p| {
        admin(AdminCommand::ChangePerms {
            username: user(n),
            permission: p,
        })
    };
    // Plain users may do nothing, whatever the operation.
    assert_eq!(b.call(kick("carol")).await, err(ErrorCode::Perms));
    let mut raw = bytes::BytesMut::new();
    gochat_proto::encode_into::<&[u8]>(&mut raw, gochat_proto::Action::Admin, 0x09, 700, &[])
        .unwrap();
    b.write_raw(&raw).await;
    assert_eq!(b.reply(700).await, err(ErrorCode::Perms));
    o.write_raw(&raw).await;
    assert_eq!(o.reply(700).await, err(ErrorCode::Invalid));
    // CHGPERMS rules.
    assert_eq!(o.call(chg("alice", 1)).await, err(ErrorCode::Invalid));
    assert_eq!(o.call(chg("nobody", 1)).await, err(ErrorCode::NotFound));
    assert_eq!(o.call(chg("bob", 3)).await, err(ErrorCode::Args));
    assert_eq!(o.call(chg("bob", 2)).await, err(ErrorCode::Perms));
    assert_eq!(o.call(chg("bob", 0)).await, err(ErrorCode::Invalid));
    let mut empty_level = bytes::BytesMut::new();
    gochat_proto::encode_into(
        &mut empty_level,
        gochat_proto::Action::Admin,
        0x03,
        701,
        &[&b"bob"[..], b""],
    )
    .unwrap();
    o.write_raw(&empty_level).await;
    assert_eq!(o.reply(701).await, err(ErrorCode::Args));
    assert_eq!(o.call(chg("bob", 1)).await, ServerCommand::Ok);
    assert_eq!(
        c.push(TIMEOUT).await,
        Some(ServerCommand::Hook(HookEvent::PermsChg {
            username: user("bob"),
            permission: 1
        }))
    );
    // Bob is an admin now: may kick carol, may not change permissions or the MOTD.
    assert_eq!(b.call(chg("carol", 1)).await, err(ErrorCode::Perms));
    assert_eq!(
        b.call(admin(AdminCommand::Motd {
            text: Bytes::from_static(b"m")
        }))
        .await,
        err(ErrorCode::Perms)
    );
    assert_eq!(b.call(kick("alice")).await, err(ErrorCode::Perms));
    assert_eq!(b.call(kick("nobody")).await, err(ErrorCode::NotFound));
    // BRDCAST needs TLS; SHTDWN in the past is refused.
    assert_eq!(
        b.call(admin(AdminCommand::Broadcast {
            text: Bytes::from_static(b"hi")
        }))
        .await,
        err(ErrorCode::NoSecure)
    );
    assert_eq!(
        b.call(admin(AdminCommand::Shutdown { stamp: 1 })).await,
        err(ErrorCode::Args)
    );
    assert_eq!(b.call(kick("carol")).await, ServerCommand::Ok);
    c.until_closed(TIMEOUT).await;
    // Kicked users may come back.
    let (mut c, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(c.login("carol").await.0, ServerCommand::Ok);
    // ADMIN DEREG: erases the key and closes the target's connection.
    assert_eq!(
        b.call(admin(AdminCommand::Dereg {
            username: user("alice")
        }))
        .await,
        err(ErrorCode::Perms)
    );
    assert_eq!(
        b.call(admin(AdminCommand::Dereg {
            username: user("carol")
        }))
        .await,
        ServerCommand::Ok
    );
    c.until_closed(TIMEOUT).await;
    let (mut c, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(
        c.call(ClientCommand::Login {
            username: user("carol")
        })
        .await,
        err(ErrorCode::Dereg)
    );
    // MOTD from now on.
    assert_eq!(
        o.call(admin(AdminCommand::Motd {
            text: Bytes::from_static(b"new motd")
        }))
        .await,
        ServerCommand::Ok
    );
    let (_, motd) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(motd, Bytes::from_static(b"new motd"));
    server.shutdown();
    server.wait().await;
}

async fn tls_tokens_and_broadcast<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let tls = server.tls_addr().unwrap();
    let (mut a, motd) = RawClient::connect_tls(&rt, tls).await;
    assert_eq!(motd, Bytes::from("Welcome to the test server!"));
    let token = a.register_and_login("alice").await;
    let login_token = |t: &Bytes| ClientCommand::LoginToken {
        username: user("alice"),
        token: t.clone(),
    };
    // Still in use: INVALID.
    let (mut a2, _) = RawClient::connect_tls(&rt, tls).await;
    assert_eq!(a2.call(login_token(&token)).await, err(ErrorCode::DupSess));
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    // Over plain TCP: NOSECURE.
    let (mut plain, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(
        plain.call(login_token(&token)).await,
        err(ErrorCode::NoSecure)
    );
    // Wrong text: HANDSHAKE.
    assert_eq!(
        a2.call(login_token(&Bytes::from(vec![b'Z'; 128]))).await,
        err(ErrorCode::Handshake)
    );
    // Reusable, any number of times.
    assert_eq!(a2.call(login_token(&token)).await, ServerCommand::Ok);
    assert_eq!(a2.call(ClientCommand::Logout).await, ServerCommand::Ok);
    drop(a2);
    assert_eq!(a.call(login_token(&token)).await, ServerCommand::Ok);
    // A user with no token: NOTFOUND.
    let (mut b, _) = RawClient::connect_tls(&rt, tls).await;
    assert_eq!(b.register("bob").await, ServerCommand::Ok);
    assert_eq!(
        b.call(ClientCommand::LoginToken {
            username: user("bob"),
            token: token.clone()
        })
        .await,
        err(ErrorCode::NotFound)
    );
    b.login("bob").await;
    // Broadcast over TLS: every other online user gets a RECIV from the admin.
    server.store().set_permission("alice", 1).await.unwrap();
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    a.login("alice").await;
    let text = Bytes::from_static(b"maintenance at noon");
    assert_eq!(
        a.call(ClientCommand::Admin(AdminCommand::Broadcast { text }))
            .await,
        ServerCommand::Ok
    );
    match b.push(TIMEOUT).await {
        Some(ServerCommand::Reciv {
            sender, ciphertext, ..
        }) => {
            assert_eq!(sender, user("alice"));
            assert!(!crypto::contains_crlf(&ciphertext));
            let plain =
                crypto::decrypt(&private_key("bob"), &mut getrandom::SysRng, &ciphertext).unwrap();
            assert_eq!(plain, b"ADMINISTRATIVE BROADCAST:\nmaintenance at noon");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        a.quiet(SHORT).await,
        "the admin does not get its own broadcast"
    );
    server.shutdown();
    server.wait().await;
}

async fn admin_shutdown<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let (mut a, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    let (mut b, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(a.register("alice").await, ServerCommand::Ok);
    server.store().set_permission("alice", 1).await.unwrap();
    a.login("alice").await;
    b.register_and_login("bob").await;
    let stamp = unix_now() + 1;
    assert_eq!(
        a.call(ClientCommand::Admin(AdminCommand::Shutdown { stamp }))
            .await,
        ServerCommand::Ok
    );
    assert_eq!(
        b.push(TIMEOUT).await,
        Some(ServerCommand::Shutdown { stamp: Some(stamp) })
    );
    assert_eq!(
        a.push(TIMEOUT).await,
        Some(ServerCommand::Shutdown { stamp: Some(stamp) })
    );
    let addr = server.tcp_addr();
    server.wait().await;
    a.until_closed(TIMEOUT).await;
    b.until_closed(TIMEOUT).await;
    assert!(rt.connect(addr).await.is_err(), "the listener is closed");
}

async fn waiting_line<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_clients = 1;
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (first, _) = RawClient::connect(&rt, addr).await;
    let mut second = RawClient::connect_raw(&rt, addr).await;
    let mut third = RawClient::connect_raw(&rt, addr).await;
    assert!(second.push(SHORT).await.is_none(), "no HELLO while waiting");
    assert!(third.push(SHORT).await.is_none());
    // The second leaves the line; the first leaves the server: the third is next.
    drop(second);
    drop(first);
    assert_eq!(
        third.hello().await,
        Bytes::from("Welcome to the test server!")
    );
    // The line keeps working after use.
    let mut fourth = RawClient::connect_raw(&rt, addr).await;
    assert!(fourth.push(SHORT).await.is_none());
    drop(third);
    assert_eq!(
        fourth.hello().await,
        Bytes::from("Welcome to the test server!")
    );
    server.shutdown();
    server.wait().await;
}

async fn malformed_input<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (mut bystander, _) = RawClient::connect(&rt, addr).await;
    bystander.register_and_login("alice").await;
    let cases: Vec<(&str, Vec<u8>, ErrorCode)> = vec![
        (
            "garbage",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            ErrorCode::Version,
        ),
        (
            "wrong version",
            vec![0x20, 0x3f, 0xf0, 0, 0, 0x05, 0xff, 0xff, 0x0d, 0x0a],
            ErrorCode::Version,
        ),
        (
            "unknown action",
            vec![0x11, 0x3f, 0xf0, 0, 0, 0x05, 0xff, 0xff, 0x0d, 0x0a],
            ErrorCode::Header,
        ),
        (
            "null id",
            vec![0x10, 0x3f, 0xf0, 0, 0, 0x00, 0xff, 0xff, 0x0d, 0x0a],
            ErrorCode::Header,
        ),
        (
            "args with zero length",
            vec![0x10, 0x6f, 0xf1, 0, 0, 0x07, 0xff, 0xff, 0x0d, 0x0a],
            ErrorCode::Args,
        ),
        (
            "more args than the payload holds",
            [
                &[0x10, 0x9f, 0xf3, 0x00, 0x1c, 0x05, 0xff, 0xff, 0x0d, 0x0a][..],
                b"alice\r\n",
            ]
            .concat(),
            ErrorCode::Args,
        ),
        (
            "missing header CRLF",
            vec![0x10, 0x3f, 0xf0, 0, 0, 0x05, 0xff, 0xff, b'x', b'y'],
            ErrorCode::Header,
        ),
        (
            "argument over 2045 bytes",
            {
                let mut p = vec![0x10, 0x9f, 0xf1, 0x20, 0x00, 0x05, 0xff, 0xff, 0x0d, 0x0a];
                p.extend(std::iter::repeat_n(b'a', 2046));
                p.extend_from_slice(b"\r\n");
                p
            },
            ErrorCode::MaxSize,
        ),
    ];
    for (name, bytes, code) in cases {
        let (mut c, _) = RawClient::connect(&rt, addr).await;
        c.write_raw(&bytes).await;
        let got = c.until_closed(TIMEOUT).await;
        assert_eq!(got, vec![err(code)], "{name}");
    }
    // A server-only action from a client: ERR INVALID with its id, connection kept.
    let (mut c, _) = RawClient::connect(&rt, addr).await;
    c.write_raw(&[0x10, 0x1f, 0xf0, 0, 0, 0x09, 0xff, 0xff, 0x0d, 0x0a])
        .await;
    assert_eq!(c.reply(9).await, err(ErrorCode::NoSess));
    c.register_and_login("bob").await;
    c.write_raw(&[0x10, 0x1f, 0xf0, 0, 0, 0x0a, 0xff, 0xff, 0x0d, 0x0a])
        .await;
    assert_eq!(c.reply(10).await, err(ErrorCode::Invalid));
    // Nobody else noticed.
    assert_eq!(
        bystander.call(ClientCommand::Usrs(UserList::Online)).await,
        online_users(&["alice", "bob"])
    );
    server.shutdown();
    server.wait().await;
}

/// The session's deadlines over a real socket, once per runtime: a smoke
/// test with deadlines of a fraction of a second. Their details (each timer,
/// its reason, what refreshes it, the close that follows) are the fake-clock
/// tests of `gochat-proto` (`server_session.rs`) and of `tests/pair.rs`.
async fn deadlines<R: Runtime>(rt: R, mut settings: Settings) {
    let idle = Duration::from_millis(1000);
    let verification = Duration::from_millis(300);
    settings.idle_timeout = idle;
    settings.verification_timeout = verification;
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    // KEEP refreshes the idle deadline: four, 350 ms apart, outlast it.
    let (mut c, _) = RawClient::connect(&rt, addr).await;
    let keeps_from = std::time::Instant::now();
    for _ in 0..4 {
        rt.sleep_until(std::time::Instant::now() + Duration::from_millis(350))
            .await;
        c.send(&ClientCommand::Keep).await;
    }
    assert!(keeps_from.elapsed() > idle);
    assert_eq!(c.register("alice").await, ServerCommand::Ok);
    // Silence: ERR IDLE with the null id, then close.
    assert_eq!(c.until_closed(TIMEOUT).await, vec![err(ErrorCode::Idle)]);
    // A partial packet is cut by the same deadline, and an oversized length is
    // waited for, never allocated.
    let (mut c, _) = RawClient::connect(&rt, addr).await;
    c.write_raw(&[
        0x10, 0x9f, 0xf1, 0xff, 0xff, 0x05, 0xff, 0xff, 0x0d, 0x0a, b'a',
    ])
    .await;
    assert_eq!(c.until_closed(TIMEOUT).await, vec![err(ErrorCode::Idle)]);
    // An unanswered challenge expires.
    let (mut c, _) = RawClient::connect(&rt, addr).await;
    assert!(matches!(
        c.call(ClientCommand::Login {
            username: user("alice")
        })
        .await,
        ServerCommand::Verif { .. }
    ));
    rt.sleep_until(std::time::Instant::now() + verification + Duration::from_millis(250))
        .await;
    let verif = ClientCommand::Verif {
        username: user("alice"),
        answer: Bytes::from(vec![b'A'; 128]),
    };
    assert_eq!(c.call(verif).await, err(ErrorCode::Invalid));
    server.shutdown();
    server.wait().await;
}

async fn concurrent_registrations<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (tx, rx) = async_channel::unbounded();
    for i in 0..100u64 {
        let rt2 = rt.clone();
        let tx = tx.clone();
        rt.spawn(async move {
            let (mut c, _) = RawClient::connect(&rt2, addr).await;
            let reg = ClientCommand::Reg {
                username: user(&format!("user{i}")),
                pubkey: random_public_pem(i + 1),
            };
            let _ = tx.send(c.call(reg).await).await;
        });
    }
    drop(tx);
    let mut oks = 0;
    while let Ok(reply) = rx.recv().await {
        assert_eq!(reply, ServerCommand::Ok);
        oks += 1;
    }
    assert_eq!(oks, 100);
    server.shutdown();
    server.wait().await;
}

scenario_tests!(
    hello_and_registration,
    login_and_session_rules,
    messages_online_offline_and_catch_up,
    pipelined_messages,
    stored_messages_survive_a_restart,
    hooks,
    lists_keys_and_deregistration,
    admin_operations,
    tls_tokens_and_broadcast,
    admin_shutdown,
    concurrent_registrations,
);

runtime_scenario_tests!(waiting_line, malformed_input, deadlines);
