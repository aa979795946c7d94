//! The rules over a hub with peers whose mailboxes the tests read: no
//! sockets, no runtime, no database, time passed in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gochat_proto::crypto::{Challenge, RsaPublicKey, public_key_from_pem};
use gochat_proto::{ErrorCode, Hook, HookEvent, ServerCommand, UserEntry, Username};

use super::*;
use crate::core::UserRow;
use crate::core::{Hub, Outbound, Peer, Relay, Route, Router};

const ALICE_PEM: &str = include_str!("../../../../proto-core/tests/fixtures/alice.pub.pem");
const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const QUEUE: usize = 4096;

fn key() -> RsaPublicKey {
    static KEY: OnceLock<RsaPublicKey> = OnceLock::new();
    KEY.get_or_init(|| public_key_from_pem(ALICE_PEM.as_bytes()).unwrap())
        .clone()
}

fn name(s: &str) -> Username {
    Username::parse(s.as_bytes()).unwrap()
}

/// A logged-in user and the mailbox its connection would read.
struct Online {
    peer: Arc<Peer>,
    mailbox: async_channel::Receiver<Outbound>,
}

impl Online {
    /// Everything queued for the connection so far.
    fn received(&self) -> Vec<Outbound> {
        std::iter::from_fn(|| self.mailbox.try_recv().ok()).collect()
    }

    /// The hooks queued so far.
    fn hooks(&self) -> Vec<HookEvent> {
        self.received()
            .into_iter()
            .filter_map(|o| match o {
                Outbound::Hook(p) => match ServerCommand::from_packet(&p) {
                    Ok(ServerCommand::Hook(e)) => Some(e),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }
}

fn online(hub: &Hub, user: &str, user_id: i64, level: u8) -> Online {
    let (tx, mailbox) = async_channel::unbounded();
    let peer = Arc::new(Peer::new(
        hub.next_conn_id(),
        name(user),
        user_id,
        IP,
        key(),
        level,
        tx,
        QUEUE,
    ));
    go_online(hub, peer.clone()).unwrap();
    Online { peer, mailbox }
}

fn hub() -> Hub {
    Hub::new(Bytes::from_static(b"motd"), Duration::from_secs(60))
}

fn row(id: i64, user: &str, level: i64, registered: bool) -> UserRow {
    UserRow {
        id,
        username: user.to_string(),
        pubkey: registered.then(|| ALICE_PEM.to_string()),
        permission: level,
    }
}

fn relay_from(sender: &Online, size: usize) -> impl Fn(i64) -> Relay + '_ {
    move |recipient_id| Relay {
        sender: sender.peer.username.clone(),
        sender_id: sender.peer.user_id,
        recipient_id,
        stamp: 1,
        ciphertext: Bytes::from(vec![7u8; size]),
    }
}

#[test]
fn a_second_session_is_refused_and_the_first_is_told() {
    let hub = hub();
    let alice = online(&hub, "alice", 1, 0);
    alice.peer.subscribe(Hook::DupSess).unwrap();
    let other = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(
        check_no_session(&hub, &name("alice"), other),
        Err(ErrorCode::DupSess)
    );
    assert_eq!(
        alice.hooks(),
        vec![HookEvent::DupSess {
            ip: other.to_string()
        }]
    );
    assert_eq!(check_no_session(&hub, &name("bob"), other), Ok(()));
    // The race: both passed the check, the second to go online loses.
    let (tx, _rx) = async_channel::unbounded();
    let late = Arc::new(Peer::new(9, name("alice"), 1, other, key(), 0, tx, QUEUE));
    assert_eq!(go_online(&hub, late), Err(ErrorCode::DupSess));
    assert_eq!(alice.hooks().len(), 1);
}

#[test]
fn logins_and_logouts_reach_subscribers() {
    let hub = hub();
    let watcher = online(&hub, "watcher", 1, 0);
    watcher.peer.subscribe(Hook::All).unwrap();
    let bob = online(&hub, "bob", 2, 1);
    announce_login(&hub, &bob.peer);
    assert!(hub.go_offline(&name("bob"), bob.peer.conn));
    // Only the session that is online goes offline.
    assert!(!hub.go_offline(&name("bob"), bob.peer.conn));
    assert_eq!(
        watcher.hooks(),
        vec![
            HookEvent::NewLogin {
                username: name("bob"),
                permission: 1
            },
            HookEvent::NewLogout {
                username: name("bob")
            },
        ]
    );
}

#[test]
fn tokens_work_after_the_session_until_they_expire() {
    let hub = hub();
    let t0 = Instant::now();
    let alice = name("alice");
    let challenge = Challenge::generate(&mut getrandom::SysRng).unwrap();
    let text = challenge.as_bytes().to_vec();
    hub.store_token(&alice, challenge, 5);
    // Off TLS, never; while its session lasts, not yet.
    assert_eq!(
        check_token_login(&hub, &alice, &text, false, t0),
        Err(ErrorCode::NoSecure)
    );
    assert_eq!(
        check_token_login(&hub, &alice, &text, true, t0),
        Err(ErrorCode::Invalid)
    );
    hub.release_token(&alice, 5, t0);
    assert_eq!(
        check_token_login(&hub, &alice, b"wrong", true, t0),
        Err(ErrorCode::Handshake)
    );
    let later = t0 + Duration::from_secs(59);
    assert_eq!(check_token_login(&hub, &alice, &text, true, later), Ok(()));
    // Reusable until the lifetime is over.
    assert_eq!(check_token_login(&hub, &alice, &text, true, later), Ok(()));
    let expired = t0 + Duration::from_secs(60);
    assert_eq!(
        check_token_login(&hub, &alice, &text, true, expired),
        Err(ErrorCode::NotFound)
    );
    assert_eq!(
        check_token_login(&hub, &name("bob"), &text, true, t0),
        Err(ErrorCode::NotFound)
    );
}

#[test]
fn message_checks_and_routes() {
    let hub = hub();
    let alice = online(&hub, "alice", 1, 0);
    let bob = online(&hub, "bob", 2, 0);
    assert_eq!(
        check_message(None, &name("bob")).err(),
        Some(ErrorCode::NoSess)
    );
    assert_eq!(
        check_message(Some(&alice.peer), &name("alice")).err(),
        Some(ErrorCode::Invalid)
    );
    assert!(check_message(Some(&alice.peer), &name("bob")).is_ok());
    // Online: queued for bob's connection, for bob's account.
    assert!(matches!(
        hub.route(&name("bob"), &relay_from(&alice, 10)),
        Route::Queued
    ));
    match bob.received().as_slice() {
        [Outbound::Message(r)] => assert_eq!((r.recipient_id, r.sender_id), (2, 1)),
        other => panic!("expected one message, got {other:?}"),
    }
    // Offline: the connection looks the account up.
    assert!(matches!(
        hub.route(&name("carol"), &relay_from(&alice, 10)),
        Route::Offline
    ));
    assert_eq!(storable_account(None), Err(ErrorCode::NotFound));
    assert_eq!(
        storable_account(Some(&row(3, "carol", 0, false))),
        Err(ErrorCode::Dereg)
    );
    assert_eq!(storable_account(Some(&row(3, "carol", 0, true))), Ok(3));
}

#[test]
fn a_full_queue_spills_to_the_store_until_caught_up() {
    let hub = hub();
    let alice = online(&hub, "alice", 1, 0);
    let bob = online(&hub, "bob", 2, 0);
    // Fill bob's queue: messages of ~1 KiB against a 4 KiB bound.
    let mut queued = 0;
    loop {
        match hub.route(&name("bob"), &relay_from(&alice, 1000)) {
            Route::Queued => queued += 1,
            Route::Store { relay, peer, guard } => {
                assert_eq!(relay.recipient_id, 2);
                assert!(Arc::ptr_eq(&peer, &bob.peer));
                assert!(guard.is_some());
                assert_eq!(bob.peer.storing(), 1);
                peer.note_spilled(40);
                drop(guard);
                break;
            }
            Route::Offline | Route::Remote { .. } => panic!("bob is online here"),
        }
    }
    assert_eq!(queued, 3);
    assert!(bob.peer.is_spilling());
    assert_eq!(bob.peer.storing(), 0);
    assert_eq!(bob.peer.spill_floor(), Some(40));
    // Once spilling, even a small message goes to the store: order is kept.
    assert!(matches!(
        hub.route(&name("bob"), &relay_from(&alice, 1)),
        Route::Store { .. }
    ));
    // The connection hears of the stored message once.
    let notices = bob
        .received()
        .iter()
        .filter(|o| matches!(o, Outbound::Stored))
        .count();
    assert_eq!(notices, 1);
    // Written out, then caught up with nothing stored meanwhile: direct again.
    for _ in 0..queued {
        bob.peer.dequeued(1000 + 5 + 32);
    }
    let mark = bob.peer.spill_mark();
    assert!(bob.peer.end_spill(mark));
    assert_eq!(bob.peer.spill_floor(), None);
    assert!(matches!(
        hub.route(&name("bob"), &relay_from(&alice, 1)),
        Route::Queued
    ));
}

#[test]
fn a_closed_connection_sends_its_messages_to_the_store() {
    let hub = hub();
    let alice = online(&hub, "alice", 1, 0);
    let bob = online(&hub, "bob", 2, 0);
    bob.mailbox.close();
    match hub.route(&name("bob"), &relay_from(&alice, 10)) {
        Route::Store { guard, .. } => assert!(guard.is_none()),
        other => panic!("expected the store, got {other:?}"),
    }
}

#[test]
fn hooks_stop_at_a_full_queue() {
    let hub = hub();
    let watcher = online(&hub, "watcher", 1, 0);
    watcher.peer.subscribe(Hook::NewLogout).unwrap();
    for i in 0..1000 {
        hub.notify(&HookEvent::NewLogout {
            username: name(&format!("u{i}")),
        });
    }
    let bytes: usize = watcher
        .received()
        .iter()
        .map(|o| match o {
            Outbound::Hook(p) => p.wire_len(),
            _ => 0,
        })
        .sum();
    assert!(
        bytes <= QUEUE && bytes > QUEUE / 2,
        "{bytes} bytes of hooks queued"
    );
}

#[test]
fn subscriptions() {
    let hub = hub();
    let alice = online(&hub, "alice", 1, 0);
    let me = Some(&alice.peer);
    assert_eq!(
        subscription(None, Hook::NewLogin, true),
        Err(ErrorCode::NoSess)
    );
    assert_eq!(subscription(me, Hook::NewLogin, true), Ok(()));
    assert_eq!(
        subscription(me, Hook::NewLogin, true),
        Err(ErrorCode::Exists)
    );
    // ALL skips what is held.
    assert_eq!(subscription(me, Hook::All, true), Ok(()));
    assert_eq!(subscription(me, Hook::DupSess, false), Ok(()));
    assert_eq!(
        subscription(me, Hook::DupSess, false),
        Err(ErrorCode::NotFound)
    );
    assert_eq!(subscription(me, Hook::All, false), Ok(()));
    assert!(!alice.peer.subscribed(Hook::NewLogin));
}

#[test]
fn lists_are_sorted_and_never_empty() {
    let hub = hub();
    assert_eq!(online_list(&hub, Vec::new(), false), Err(ErrorCode::Option));
    // Users of other nodes alone make a list.
    let carol = UserEntry {
        name: name("carol"),
        permission: None,
    };
    assert_eq!(
        online_list(&hub, vec![carol.clone()], false),
        Ok(vec![carol.clone()])
    );
    let _b = online(&hub, "bob", 2, 1);
    let _a = online(&hub, "alice", 1, 0);
    assert_eq!(
        online_list(&hub, Vec::new(), true).unwrap(),
        vec![
            UserEntry {
                name: name("alice"),
                permission: Some(0)
            },
            UserEntry {
                name: name("bob"),
                permission: Some(1)
            },
        ]
    );
    // Merged by name with the users of other nodes.
    let names: Vec<String> = online_list(
        &hub,
        vec![
            carol,
            UserEntry {
                name: name("aaron"),
                permission: None,
            },
        ],
        false,
    )
    .unwrap()
    .iter()
    .map(|e| e.name.as_str().to_string())
    .collect();
    assert_eq!(names, ["aaron", "alice", "bob", "carol"]);
    assert_eq!(account_list(Vec::new(), true), Err(ErrorCode::Option));
    // A stored name that is not a valid username is left out.
    let rows = vec![("carol".to_string(), 2), ("NOT A NAME".to_string(), 0)];
    assert_eq!(
        account_list(rows, false).unwrap(),
        vec![UserEntry {
            name: name("carol"),
            permission: None
        }]
    );
}

#[test]
fn keys_of_stored_accounts() {
    assert!(matches!(
        live_key(&row(1, "a", 2, true), ErrorCode::Login),
        Ok((_, 2))
    ));
    assert!(matches!(
        live_key(&row(1, "a", 0, false), ErrorCode::Login),
        Err(ErrorCode::Dereg)
    ));
    assert!(matches!(
        live_key(&row(1, "a", 3, true), ErrorCode::Corrupted),
        Err(ErrorCode::Corrupted)
    ));
    let mut broken = row(1, "a", 0, true);
    broken.pubkey = Some("not a key".into());
    assert!(matches!(
        live_key(&broken, ErrorCode::Login),
        Err(ErrorCode::Login)
    ));
    // REQ gives the key as canonical PEM, whatever PEM was stored.
    let (pem, level) = published_key(&row(1, "a", 1, true)).unwrap();
    assert_eq!(public_key_from_pem(&pem).unwrap(), key());
    assert_eq!(level, 1);
    let mut spaced = row(1, "a", 0, true);
    spaced.pubkey = Some(format!("\n{ALICE_PEM}\n"));
    assert_eq!(published_key(&spaced).unwrap().0, pem);
    assert_eq!(
        published_key(&row(1, "a", 0, false)).err(),
        Some(ErrorCode::Dereg)
    );
    assert_eq!(published_key(&broken).err(), Some(ErrorCode::Corrupted));
    assert_eq!(registration_key(b"junk").err(), Some(ErrorCode::Args));
    let (pem, fingerprint) = registration_key(ALICE_PEM.as_bytes()).unwrap();
    assert_eq!(registration_key(pem.as_bytes()).unwrap().1, fingerprint);
}

#[test]
fn shutdown_is_announced_with_its_stamp() {
    let hub = hub();
    let alice = online(&hub, "alice", 1, 2);
    let now = Instant::now();
    assert_eq!(
        schedule_shutdown(&hub, 999, 1000, now),
        Err(ErrorCode::Args)
    );
    assert_eq!(
        schedule_shutdown(&hub, i64::MAX, 0, now),
        Err(ErrorCode::Args)
    );
    assert!(alice.received().is_empty());
    assert_eq!(
        schedule_shutdown(&hub, 1030, 1000, now),
        Ok(now + Duration::from_secs(30))
    );
    let shutdown = ServerCommand::Shutdown { stamp: Some(1030) }
        .to_packet(0)
        .unwrap();
    assert!(matches!(
        alice.received().as_slice(),
        [Outbound::Packet(p)] if *p == shutdown
    ));
}

#[test]
fn admins_act_only_below_their_level() {
    let hub = hub();
    let owner = online(&hub, "owner", 1, 2);
    let admin = online(&hub, "admin", 2, 1);
    let user = online(&hub, "user", 3, 0);
    // DEREG
    assert_eq!(
        check_dereg(&row(2, "admin", 1, true), 1),
        Err(ErrorCode::Perms)
    );
    assert_eq!(check_dereg(&row(3, "user", 0, true), 1), Ok(()));
    after_dereg(&hub, &name("user"));
    assert!(matches!(user.received().as_slice(), [Outbound::Kick]));
    // KICK
    assert_eq!(kick(&hub, &name("nobody"), 2), Err(ErrorCode::NotFound));
    assert_eq!(kick(&hub, &name("owner"), 1), Err(ErrorCode::Perms));
    assert_eq!(kick(&hub, &name("admin"), 2), Ok(()));
    assert!(matches!(admin.received().as_slice(), [Outbound::Kick]));
    // CHGPERMS
    assert_eq!(
        check_change_target(&owner.peer, &name("owner")),
        Err(ErrorCode::Invalid)
    );
    let target = row(3, "user", 0, true);
    assert_eq!(check_change_permission(&target, 3, 2), Err(ErrorCode::Args));
    assert_eq!(
        check_change_permission(&target, 2, 2),
        Err(ErrorCode::Perms)
    );
    assert_eq!(
        check_change_permission(&row(2, "admin", 1, true), 0, 1),
        Err(ErrorCode::Perms)
    );
    assert_eq!(
        check_change_permission(&target, 0, 2),
        Err(ErrorCode::Invalid)
    );
    assert_eq!(check_change_permission(&target, 1, 2), Ok(()));
    owner.peer.subscribe(Hook::PermsChg).unwrap();
    after_change_permission(&hub, &name("user"), 1);
    assert_eq!(user.peer.permission(), 1);
    assert!(matches!(
        user.received().as_slice(),
        [Outbound::SetPermission(1)]
    ));
    assert_eq!(
        owner.hooks(),
        vec![HookEvent::PermsChg {
            username: name("user"),
            permission: 1
        }]
    );
}

#[test]
fn broadcasts_need_tls_and_fit_one_ciphertext() {
    let hub = hub();
    let owner = online(&hub, "owner", 1, 2);
    let _a = online(&hub, "alice", 2, 0);
    let _b = online(&hub, "bob", 3, 0);
    assert_eq!(
        broadcast(&hub, &owner.peer, b"hi", false).err(),
        Some(ErrorCode::NoSecure)
    );
    let long = vec![b'x'; gochat_proto::crypto::MAX_PLAINTEXT];
    assert_eq!(
        broadcast(&hub, &owner.peer, &long, true).err(),
        Some(ErrorCode::Args)
    );
    let (plain, targets) = broadcast(&hub, &owner.peer, b"hi", true).unwrap();
    assert_eq!(plain, b"ADMINISTRATIVE BROADCAST:\nhi");
    let mut names: Vec<&str> = targets.iter().map(|p| p.username.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["alice", "bob"]);
}

#[test]
fn the_motd_and_the_stop_reach_every_connection() {
    let hub = hub();
    assert_eq!(hub.motd(), Bytes::from_static(b"motd"));
    hub.set_motd(Bytes::from_static(b"new"));
    assert_eq!(hub.motd(), Bytes::from_static(b"new"));
    let (tx, rx) = async_channel::unbounded();
    hub.register_conn(7, tx);
    assert_eq!(hub.connection_count(), 1);
    hub.close_all();
    assert!(matches!(rx.try_recv(), Ok(Outbound::Shutdown)));
    hub.unregister_conn(7);
    assert_eq!(hub.connection_count(), 0);
}
