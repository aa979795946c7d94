//! Tests of the client session against a fake server built from the codec,
//! with a fake clock and fake decryptors (no RSA anywhere).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::codes::{ErrorCode, Hook, UserList};
use crate::command::{AdminCommand, HookEvent, ServerCommand, UserEntry};
use crate::crypto::CryptoError;
use crate::decoder::DecodeError;
use crate::packet::{EncodeError, Packet};

/// Decrypts by reversing the bytes.
struct Reverse;
impl Decryptor for Reverse {
    fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(ciphertext.iter().rev().copied().collect())
    }
}

/// Always fails.
struct Broken;
impl Decryptor for Broken {
    fn decrypt(&mut self, _: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::Rsa("decryption error".into()))
    }
}

/// Returns a fixed plaintext.
struct Fixed(&'static [u8]);
impl Decryptor for Fixed {
    fn decrypt(&mut self, _: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(self.0.to_vec())
    }
}

fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A client wired to a fake server, with a fake clock.
struct Harness {
    client: ClientSession,
    server: Decoder,
    base: Instant,
}

impl Harness {
    fn with_config(config: ClientConfig, first_id: u16) -> Self {
        let base = Instant::now();
        Harness {
            client: ClientSession::new(config, first_id, base),
            server: Decoder::new(Direction::ToServer),
            base,
        }
    }

    fn new(first_id: u16) -> Self {
        Self::with_config(ClientConfig::default(), first_id)
    }

    /// A client that got its HELLO.
    fn greeted(first_id: u16) -> Self {
        let mut h = Self::new(first_id);
        h.push(0, &ServerCommand::Hello { motd: "hi".into() });
        assert_eq!(h.events(), vec![ClientEvent::Hello { motd: "hi".into() }]);
        h
    }

    /// A client logged in as `alice`, everything drained.
    fn logged_in(first_id: u16) -> Self {
        let mut h = Self::greeted(first_id);
        let now = h.base;
        let id = h
            .client
            .login_with_token(user("alice"), "tok".into(), now)
            .unwrap();
        h.sent();
        h.push(id, &ServerCommand::Ok);
        assert!(matches!(h.events()[..], [ClientEvent::LoggedIn { .. }]));
        h
    }

    fn at(&self, secs: u64) -> Instant {
        self.base + Duration::from_secs(secs)
    }

    fn wire(id: u16, cmd: &ServerCommand) -> BytesMut {
        let mut b = BytesMut::new();
        cmd.encode(id, &mut b).unwrap();
        b
    }

    /// The server sends `cmd` with `id` at the base instant.
    fn push(&mut self, id: u16, cmd: &ServerCommand) {
        let now = self.base;
        self.push_at(id, cmd, now);
    }

    fn push_at(&mut self, id: u16, cmd: &ServerCommand, now: Instant) {
        let bytes = Self::wire(id, cmd);
        self.client.handle_input(&bytes, now);
    }

    /// Every packet the client queued, in order.
    fn sent(&mut self) -> Vec<Packet> {
        let mut out = Vec::new();
        while let Some(chunk) = self.client.poll_transmit() {
            self.server.feed(&chunk);
            while let Some(p) = self.server.decode().unwrap() {
                out.push(p);
            }
        }
        assert_eq!(self.server.buffered(), 0, "partial packet sent");
        out
    }

    /// Every command the client queued, with its id.
    fn sent_commands(&mut self) -> Vec<(u16, ClientCommand)> {
        self.sent()
            .iter()
            .map(|p| (p.id(), ClientCommand::from_packet(p).unwrap()))
            .collect()
    }

    fn events(&mut self) -> Vec<ClientEvent> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }
}

// ---- hello and states ----

#[test]
fn hello_moves_to_logged_out() {
    let mut h = Harness::new(1);
    assert_eq!(h.client.state(), ClientState::AwaitingHello);
    h.push(0, &ServerCommand::Hello { motd: "".into() });
    assert_eq!(h.events(), vec![ClientEvent::Hello { motd: "".into() }]);
    assert_eq!(h.client.state(), ClientState::LoggedOut);
    // A second HELLO is reported but changes nothing.
    h.push(0, &ServerCommand::Hello { motd: "x".into() });
    assert_eq!(h.events(), vec![ClientEvent::Hello { motd: "x".into() }]);
    assert_eq!(h.client.state(), ClientState::LoggedOut);
    assert!(h.sent().is_empty());
}

#[test]
fn hello_from_raw_bytes() {
    // HELLO "hi" with the null id: length 4 (the argument and its CRLF).
    let mut h = Harness::new(1);
    h.client
        .handle_input(b"\x11\x2f\xf1\x00\x10\x00\xff\xff\r\nhi\r\n", h.base);
    assert_eq!(h.events(), vec![ClientEvent::Hello { motd: "hi".into() }]);
}

#[test]
fn only_keep_before_hello() {
    let mut h = Harness::new(1);
    let now = h.base;
    assert_eq!(
        h.client.users(UserList::All, now),
        Err(SessionError::WrongState {
            action: Action::Usrs,
            state: "awaiting hello"
        })
    );
    assert!(matches!(
        h.client.login(user("alice"), Box::new(Reverse), now),
        Err(SessionError::WrongState { .. })
    ));
    assert_eq!(h.client.request(ClientCommand::Keep, now), Ok(1));
    assert_eq!(h.sent_commands(), vec![(1, ClientCommand::Keep)]);
    assert_eq!(h.client.pending_requests(), 0);
}

#[test]
fn commands_check_the_state() {
    let mut h = Harness::greeted(1);
    let now = h.base;
    for result in [
        h.client.users(UserList::Online, now),
        h.client.logout(now),
        h.client.deregister(now),
        h.client.catch_up(now),
        h.client.subscribe(Hook::All, now),
        h.client.request_key(user("bob"), now),
    ] {
        assert!(matches!(
            result,
            Err(SessionError::WrongState {
                state: "logged out",
                ..
            })
        ));
    }
    assert!(h.sent().is_empty());
    assert_eq!(
        h.client.request(
            ClientCommand::Login {
                username: user("a")
            },
            now
        ),
        Err(SessionError::Handshake(Action::Login))
    );
    assert_eq!(
        h.client.request(
            ClientCommand::Verif {
                username: user("a"),
                answer: "x".into()
            },
            now
        ),
        Err(SessionError::Handshake(Action::Verif))
    );

    let mut h = Harness::logged_in(1);
    let now = h.base;
    assert_eq!(
        h.client.login_with_token(user("alice"), "t".into(), now),
        Err(SessionError::WrongState {
            action: Action::Login,
            state: "logged in"
        })
    );
    assert!(matches!(
        h.client.register(user("bob"), "pem".into(), now),
        Err(SessionError::WrongState { .. })
    ));
    assert!(h.sent().is_empty());
}

// ---- request ids ----

#[test]
fn ids_start_at_first_id_and_wrap_from_1023_to_1() {
    let mut h = Harness::logged_in(1021);
    // The token login used 1021.
    let now = h.base;
    let ids: Vec<u16> = (0..4).map(|_| h.client.catch_up(now).unwrap()).collect();
    assert_eq!(ids, vec![1022, 1023, 1, 2]);
    let sent: Vec<u16> = h.sent().iter().map(Packet::id).collect();
    assert_eq!(sent, ids);
}

#[test]
fn first_id_is_folded_into_range() {
    let mut h = Harness::new(0);
    assert_eq!(h.client.request(ClientCommand::Keep, h.base), Ok(1));
    let mut h = Harness::new(1023);
    assert_eq!(h.client.request(ClientCommand::Keep, h.base), Ok(1023));
    assert_eq!(h.client.request(ClientCommand::Keep, h.base), Ok(1));
}

#[test]
fn pending_ids_are_skipped() {
    let mut h = Harness::logged_in(1);
    let now = h.base;
    // id 2 pending; go round the whole range with KEEPs.
    assert_eq!(h.client.catch_up(now), Ok(2));
    for expected in 3..=1023 {
        assert_eq!(h.client.request(ClientCommand::Keep, now), Ok(expected));
    }
    assert_eq!(h.client.request(ClientCommand::Keep, now), Ok(1));
    // 2 is still pending: skipped.
    assert_eq!(h.client.request(ClientCommand::Keep, now), Ok(3));
}

#[test]
fn all_ids_pending_is_an_error() {
    let config = ClientConfig {
        keepalive: Some(secs(10)),
        request_timeout: secs(60),
    };
    let mut h = Harness::with_config(config, 0);
    h.push(0, &ServerCommand::Hello { motd: "".into() });
    let now = h.base;
    let login = h
        .client
        .login_with_token(user("al"), "t".into(), now)
        .unwrap();
    h.push(login, &ServerCommand::Ok);
    let mut ids = Vec::new();
    for _ in 0..1023 {
        ids.push(h.client.users(UserList::All, now).unwrap());
    }
    assert_eq!(h.client.pending_requests(), 1023);
    assert_eq!(
        h.client.users(UserList::All, now),
        Err(SessionError::TooManyPending)
    );
    assert_eq!(
        h.client.request(ClientCommand::Keep, now),
        Err(SessionError::TooManyPending)
    );
    // The keepalive skips quietly.
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(10), ClientTimer::Keepalive))
    );
    h.client.handle_timeout(h.at(10));
    assert_eq!(h.sent().len(), 1024);
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(20), ClientTimer::Keepalive))
    );
    assert_eq!(ids, (2..=1023).chain([1]).collect::<Vec<u16>>());
    // One reply frees its id, which is the next one used.
    h.push(500, &ServerCommand::Usrs(vec![]));
    assert_eq!(h.client.users(UserList::All, now), Ok(500));
    assert_eq!(h.client.pending_requests(), 1023);
}

#[test]
fn login_id_stays_reserved_until_the_outcome() {
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Reverse));
    assert_eq!(id, 1);
    h.push(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
    );
    let verif_id = h.sent()[0].id();
    assert_eq!(verif_id, 2);
    // Go round the whole range: 1 (the LOGIN, answered but its outcome still
    // owed) and 2 (the VERIF, pending) are skipped.
    for expected in 3..=1023 {
        assert_eq!(h.client.request(ClientCommand::Keep, h.base), Ok(expected));
    }
    assert_eq!(h.client.request(ClientCommand::Keep, h.base), Ok(3));
    h.push(verif_id, &ServerCommand::Ok);
    assert!(matches!(
        h.events()[..],
        [ClientEvent::LoggedIn { id: 1, .. }]
    ));
    // Once reported, 1 is free again.
    for expected in 4..=1023 {
        assert_eq!(h.client.request(ClientCommand::Keep, h.base), Ok(expected));
    }
    assert_eq!(h.client.request(ClientCommand::Keep, h.base), Ok(1));
}

#[test]
fn encode_error_uses_no_id_and_sends_nothing() {
    let mut h = Harness::logged_in(10);
    let now = h.base;
    let long = Bytes::from(vec![b'x'; 3000]);
    assert_eq!(
        h.client.send_message(user("bob"), 1, long, now),
        Err(SessionError::Encode(EncodeError::ArgTooLong(3000)))
    );
    assert!(h.sent().is_empty());
    assert_eq!(h.client.pending_requests(), 0);
    assert_eq!(
        h.client.send_message(user("bob"), 1, "ct".into(), now),
        Ok(11)
    );
}

// ---- login ----

#[test]
fn login_handshake_succeeds() {
    let mut h = Harness::greeted(100);
    let now = h.base;
    let id = h
        .client
        .login(user("alice"), Box::new(Reverse), now)
        .unwrap();
    assert_eq!(id, 100);
    assert_eq!(
        h.sent_commands(),
        vec![(
            100,
            ClientCommand::Login {
                username: user("alice")
            }
        )]
    );
    assert_eq!(
        h.client.state(),
        ClientState::AwaitingVerification {
            username: &user("alice")
        }
    );
    // A second login meanwhile is refused.
    assert!(matches!(
        h.client.login(user("alice"), Box::new(Reverse), now),
        Err(SessionError::WrongState { .. })
    ));
    h.push(
        100,
        &ServerCommand::Verif {
            challenge: "terces".into(),
        },
    );
    assert!(h.events().is_empty());
    assert_eq!(
        h.sent_commands(),
        vec![(
            101,
            ClientCommand::Verif {
                username: user("alice"),
                answer: "secret".into()
            }
        )]
    );
    assert!(matches!(
        h.client.state(),
        ClientState::AwaitingVerification { .. }
    ));
    h.push(101, &ServerCommand::Ok);
    assert_eq!(
        h.events(),
        vec![ClientEvent::LoggedIn {
            id: 100,
            username: user("alice"),
            token: "secret".into()
        }]
    );
    assert_eq!(
        h.client.state(),
        ClientState::LoggedIn {
            username: &user("alice")
        }
    );
    assert_eq!(h.client.username(), Some(&user("alice")));
    assert_eq!(h.client.pending_requests(), 0);
}

fn start_login(h: &mut Harness, decryptor: Box<dyn Decryptor + Send>) -> u16 {
    let now = h.base;
    let id = h.client.login(user("alice"), decryptor, now).unwrap();
    h.sent();
    id
}

fn assert_login_failed(h: &mut Harness, id: u16, error: RequestError) {
    assert_eq!(
        h.events(),
        vec![ClientEvent::LoginFailed {
            id,
            username: user("alice"),
            error
        }]
    );
    assert_eq!(h.client.state(), ClientState::LoggedOut);
    assert_eq!(h.client.pending_requests(), 0);
}

#[test]
fn login_error_at_login_step() {
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Reverse));
    h.push(id, &ServerCommand::Err(ErrorCode::NotFound));
    assert_login_failed(&mut h, id, RequestError::Server(ErrorCode::NotFound));
    assert!(h.sent().is_empty());
    // A new login may start.
    assert!(
        h.client
            .login(user("alice"), Box::new(Reverse), h.base)
            .is_ok()
    );
}

#[test]
fn login_decrypt_failure() {
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Broken));
    h.push(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
    );
    assert_login_failed(
        &mut h,
        id,
        RequestError::Decrypt("RSA operation failed: decryption error".into()),
    );
    assert!(h.sent().is_empty());
}

#[test]
fn login_answer_too_long_fails_cleanly() {
    static LONG: [u8; 3000] = [b'a'; 3000];
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Fixed(&LONG)));
    h.push(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
    );
    let events = h.events();
    assert!(matches!(
        &events[..],
        [ClientEvent::LoginFailed {
            error: RequestError::Decrypt(_),
            ..
        }]
    ));
    assert!(h.sent().is_empty());
    assert_eq!(h.client.state(), ClientState::LoggedOut);
}

#[test]
fn login_error_at_verif_step() {
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Fixed(b"answer")));
    h.push(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
    );
    let verif_id = h.sent()[0].id();
    assert_ne!(verif_id, id);
    h.push(verif_id, &ServerCommand::Err(ErrorCode::Handshake));
    assert_login_failed(&mut h, id, RequestError::Server(ErrorCode::Handshake));
}

#[test]
fn login_wrong_kind_replies() {
    // OK to a challenge LOGIN is not a challenge.
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Reverse));
    h.push(id, &ServerCommand::Ok);
    assert_login_failed(&mut h, id, RequestError::Unexpected);

    // USRS to the VERIF answer.
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Reverse));
    h.push(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
    );
    let verif_id = h.sent()[0].id();
    h.push(verif_id, &ServerCommand::Usrs(vec![]));
    assert_login_failed(&mut h, id, RequestError::Unexpected);

    // VERIF to a token LOGIN.
    let mut h = Harness::greeted(1);
    let id = h
        .client
        .login_with_token(user("alice"), "t".into(), h.base)
        .unwrap();
    h.push(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
    );
    assert_login_failed(&mut h, id, RequestError::Unexpected);
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn login_times_out_at_each_step() {
    // A login step without an answer fails the login and gives the
    // connection up: a late OK would leave the server logged in and us not.
    fn assert_timed_out(h: &mut Harness, id: u16) {
        assert_eq!(
            h.events(),
            vec![
                ClientEvent::LoginFailed {
                    id,
                    username: user("alice"),
                    error: RequestError::Timeout
                },
                ClientEvent::Closed {
                    reason: CloseReason::LoginTimeout
                }
            ]
        );
        assert!(h.client.is_closed());
        assert_eq!(h.client.pending_requests(), 0);
    }
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Reverse));
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(30), ClientTimer::Request { id }))
    );
    h.client.handle_timeout(h.at(30));
    assert_timed_out(&mut h, id);
    // The late challenge is ignored.
    h.push(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
    );
    assert!(h.events().is_empty());
    assert!(h.sent().is_empty());

    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Reverse));
    h.push_at(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
        h.at(10),
    );
    let verif_id = h.sent()[0].id();
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(40), ClientTimer::Request { id: verif_id }))
    );
    h.client.handle_timeout(h.at(39));
    assert!(h.events().is_empty());
    h.client.handle_timeout(h.at(40));
    assert_timed_out(&mut h, id);
}

#[test]
fn token_login() {
    let mut h = Harness::greeted(7);
    let now = h.base;
    let id = h
        .client
        .request(
            ClientCommand::LoginToken {
                username: user("alice"),
                token: "tok".into(),
            },
            now,
        )
        .unwrap();
    assert_eq!(
        h.sent_commands(),
        vec![(
            7,
            ClientCommand::LoginToken {
                username: user("alice"),
                token: "tok".into()
            }
        )]
    );
    assert!(matches!(
        h.client.state(),
        ClientState::AwaitingVerification { .. }
    ));
    h.push(id, &ServerCommand::Ok);
    assert_eq!(
        h.events(),
        vec![ClientEvent::LoggedIn {
            id,
            username: user("alice"),
            token: "tok".into()
        }]
    );

    let mut h = Harness::greeted(7);
    let id = h
        .client
        .login_with_token(user("alice"), "tok".into(), now)
        .unwrap();
    h.sent();
    h.push(id, &ServerCommand::Err(ErrorCode::NoSecure));
    assert_login_failed(&mut h, id, RequestError::Server(ErrorCode::NoSecure));
}

#[test]
fn logout_and_dereg_ok_log_out() {
    let mut h = Harness::logged_in(1);
    let now = h.base;
    let id = h.client.logout(now).unwrap();
    assert_eq!(h.sent_commands(), vec![(id, ClientCommand::Logout)]);
    h.push(id, &ServerCommand::Err(ErrorCode::Server));
    assert!(matches!(h.client.state(), ClientState::LoggedIn { .. }));
    let id = h.client.logout(now).unwrap();
    h.push(id, &ServerCommand::Ok);
    assert_eq!(h.client.state(), ClientState::LoggedOut);
    assert_eq!(
        h.events(),
        vec![
            ClientEvent::Response {
                id: id - 1,
                result: Err(RequestError::Server(ErrorCode::Server))
            },
            ClientEvent::Response {
                id,
                result: Ok(ServerCommand::Ok)
            }
        ]
    );

    let mut h = Harness::logged_in(1);
    let id = h.client.deregister(h.base).unwrap();
    h.push(id, &ServerCommand::Ok);
    assert_eq!(h.client.state(), ClientState::LoggedOut);
    assert_eq!(h.client.username(), None);
}

// ---- reply matching ----

#[test]
fn replies_match_by_id_and_kind() {
    let mut h = Harness::logged_in(1);
    let now = h.base;
    let req = h.client.request_key(user("bob"), now).unwrap();
    let usrs = h.client.users(UserList::OnlinePerms, now).unwrap();
    let msg = h
        .client
        .send_message(user("bob"), 1_751_300_000, "ct".into(), now)
        .unwrap();
    let sub = h.client.subscribe(Hook::NewLogin, now).unwrap();
    let other_req = h.client.request_key(user("carol"), now).unwrap();
    assert_eq!(h.sent().len(), 5);

    let key_reply = ServerCommand::Req {
        username: user("bob"),
        pubkey: "pem".into(),
        permission: 1,
    };
    let list = ServerCommand::Usrs(vec![UserEntry {
        name: user("bob"),
        permission: Some(0),
    }]);
    // Out of order, one of each kind.
    h.push(usrs, &list);
    h.push(msg, &ServerCommand::Err(ErrorCode::Dereg));
    h.push(req, &key_reply);
    h.push(sub, &key_reply); // REQ reply to a SUB: wrong kind
    h.push(other_req, &list); // USRS reply to a REQ: wrong kind
    h.push(999, &ServerCommand::Ok); // nothing pending with that id
    h.push(req, &ServerCommand::Ok); // already answered
    assert_eq!(
        h.events(),
        vec![
            ClientEvent::Response {
                id: usrs,
                result: Ok(list)
            },
            ClientEvent::Response {
                id: msg,
                result: Err(RequestError::Server(ErrorCode::Dereg))
            },
            ClientEvent::Response {
                id: req,
                result: Ok(key_reply)
            },
            ClientEvent::Response {
                id: sub,
                result: Err(RequestError::Unexpected)
            },
            ClientEvent::Response {
                id: other_req,
                result: Err(RequestError::Unexpected)
            },
        ]
    );
    assert_eq!(h.client.ignored_replies(), 2);
    assert_eq!(h.client.pending_requests(), 0);
}

#[test]
fn verif_answers_only_a_login() {
    let mut h = Harness::logged_in(1);
    let id = h.client.catch_up(h.base).unwrap();
    h.push(
        id,
        &ServerCommand::Verif {
            challenge: "x".into(),
        },
    );
    assert_eq!(
        h.events(),
        vec![ClientEvent::Response {
            id,
            result: Err(RequestError::Unexpected)
        }]
    );
}

#[test]
fn helpers_send_their_commands() {
    let mut h = Harness::logged_in(1);
    let now = h.base;
    h.client.unsubscribe(Hook::PermsChg, now).unwrap();
    h.client
        .admin(
            AdminCommand::Kick {
                username: user("bob"),
            },
            now,
        )
        .unwrap();
    let cmds: Vec<ClientCommand> = h.sent_commands().into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        cmds,
        vec![
            ClientCommand::Unsub(Hook::PermsChg),
            ClientCommand::Admin(AdminCommand::Kick {
                username: user("bob")
            })
        ]
    );
    let mut h = Harness::greeted(1);
    h.client.register(user("bob"), "pem".into(), now).unwrap();
    assert_eq!(
        h.sent_commands(),
        vec![(
            1,
            ClientCommand::Reg {
                username: user("bob"),
                pubkey: "pem".into()
            }
        )]
    );
}

#[test]
fn transmits_are_coalesced() {
    let mut h = Harness::logged_in(1);
    let now = h.base;
    h.client.catch_up(now).unwrap();
    h.client.users(UserList::All, now).unwrap();
    h.client.request(ClientCommand::Keep, now).unwrap();
    let chunk = h.client.poll_transmit().unwrap();
    assert_eq!(chunk.len(), 30);
    assert_eq!(h.client.poll_transmit(), None);
}

// ---- pushes ----

#[test]
fn catch_up_gives_messages_in_order() {
    let mut h = Harness::logged_in(1);
    let id = h.client.catch_up(h.base).unwrap();
    let mut wire = Harness::wire(id, &ServerCommand::Ok);
    for i in 0..3 {
        ServerCommand::Reciv {
            sender: user("bob"),
            stamp: 1_751_300_000 + i,
            ciphertext: Bytes::from(vec![b'\r', b'\n', i as u8]),
        }
        .encode(0, &mut wire)
        .unwrap();
    }
    h.client.handle_input(&wire, h.base);
    let mut expected = vec![ClientEvent::Response {
        id,
        result: Ok(ServerCommand::Ok),
    }];
    for i in 0..3 {
        expected.push(ClientEvent::Message {
            sender: user("bob"),
            stamp: 1_751_300_000 + i,
            ciphertext: Bytes::from(vec![b'\r', b'\n', i as u8]),
        });
    }
    assert_eq!(h.events(), expected);

    let id = h.client.catch_up(h.base).unwrap();
    h.push(id, &ServerCommand::Err(ErrorCode::Empty));
    assert_eq!(
        h.events(),
        vec![ClientEvent::Response {
            id,
            result: Err(RequestError::Server(ErrorCode::Empty))
        }]
    );
}

#[test]
fn hooks_and_shutdown_are_events() {
    let mut h = Harness::logged_in(1);
    let hooks = [
        HookEvent::NewLogin {
            username: user("bob"),
            permission: 2,
        },
        HookEvent::NewLogout {
            username: user("bob"),
        },
        HookEvent::DupSess {
            ip: "192.0.2.1".into(),
        },
        HookEvent::PermsChg {
            username: user("bob"),
            permission: 0,
        },
    ];
    for hook in &hooks {
        h.push(0, &ServerCommand::Hook(hook.clone()));
    }
    h.push(0, &ServerCommand::Shutdown { stamp: Some(42) });
    h.push(0, &ServerCommand::Shutdown { stamp: None });
    let mut expected: Vec<ClientEvent> = hooks.iter().cloned().map(ClientEvent::Hook).collect();
    expected.push(ClientEvent::Shutdown { stamp: Some(42) });
    expected.push(ClientEvent::Shutdown { stamp: None });
    assert_eq!(h.events(), expected);
    assert!(!h.client.is_closed());
}

#[test]
fn pushes_with_an_id_are_still_pushes() {
    let mut h = Harness::logged_in(1);
    let id = h.client.catch_up(h.base).unwrap();
    h.push(
        id,
        &ServerCommand::Hook(HookEvent::NewLogout {
            username: user("bob"),
        }),
    );
    assert!(matches!(h.events()[..], [ClientEvent::Hook(_)]));
    assert_eq!(h.client.pending_requests(), 1);
}

// ---- timers ----

#[test]
fn keepalive_timing() {
    let mut h = Harness::greeted(1);
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(600), ClientTimer::Keepalive))
    );
    h.client.handle_timeout(h.at(599));
    assert!(h.sent().is_empty());
    h.client.handle_timeout(h.at(600));
    assert_eq!(h.sent_commands(), vec![(1, ClientCommand::Keep)]);
    assert_eq!(h.client.pending_requests(), 0);
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(1200), ClientTimer::Keepalive))
    );
    // A handled timeout is not handled twice.
    h.client.handle_timeout(h.at(600));
    assert!(h.sent().is_empty());
    // A request restarts the interval; its own deadline comes first.
    h.client
        .register(user("bob"), "pem".into(), h.at(700))
        .unwrap();
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(730), ClientTimer::Request { id: 2 }))
    );
    h.sent();
    h.push(2, &ServerCommand::Ok);
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(1300), ClientTimer::Keepalive))
    );
    h.client.handle_timeout(h.at(1299));
    assert!(h.sent().is_empty());
    // A late wake-up sends one KEEP.
    h.client.handle_timeout(h.at(5000));
    assert_eq!(h.sent_commands(), vec![(3, ClientCommand::Keep)]);
}

#[test]
fn keepalive_off() {
    for keepalive in [None, Some(Duration::ZERO)] {
        let config = ClientConfig {
            keepalive,
            request_timeout: secs(5),
        };
        let mut h = Harness::with_config(config, 1);
        assert_eq!(h.client.poll_timeout(), None);
        h.client.handle_timeout(h.at(100_000));
        assert!(h.sent().is_empty());
    }
}

#[test]
fn keepalive_before_request_deadline_when_earlier() {
    let config = ClientConfig {
        keepalive: Some(secs(10)),
        request_timeout: secs(30),
    };
    let mut h = Harness::with_config(config, 1);
    h.push(0, &ServerCommand::Hello { motd: "".into() });
    h.client
        .register(user("bob"), "pem".into(), h.base)
        .unwrap();
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(10), ClientTimer::Keepalive))
    );
    h.client.handle_timeout(h.at(10));
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(20), ClientTimer::Keepalive))
    );
    assert_eq!(h.client.pending_requests(), 1);
}

#[test]
fn request_timeout_frees_the_id() {
    let mut h = Harness::logged_in(1);
    let a = h.client.catch_up(h.base).unwrap();
    let b = h.client.catch_up(h.at(5)).unwrap();
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(30), ClientTimer::Request { id: a }))
    );
    h.client.handle_timeout(h.at(29));
    assert!(h.events().is_empty());
    h.client.handle_timeout(h.at(31));
    assert_eq!(
        h.events(),
        vec![ClientEvent::Response {
            id: a,
            result: Err(RequestError::Timeout)
        }]
    );
    assert_eq!(
        h.client.poll_timeout(),
        Some((h.at(35), ClientTimer::Request { id: b }))
    );
    // The late reply is ignored.
    h.push(a, &ServerCommand::Ok);
    assert!(h.events().is_empty());
    assert_eq!(h.client.ignored_replies(), 1);
    h.client.handle_timeout(h.at(100));
    assert_eq!(
        h.events(),
        vec![ClientEvent::Response {
            id: b,
            result: Err(RequestError::Timeout)
        }]
    );
    assert_eq!(h.client.pending_requests(), 0);
}

#[test]
fn huge_durations_do_not_panic() {
    let config = ClientConfig {
        keepalive: Some(Duration::MAX),
        request_timeout: Duration::MAX,
    };
    let mut h = Harness::with_config(config, 1);
    h.push(0, &ServerCommand::Hello { motd: "".into() });
    h.client
        .register(user("bob"), "pem".into(), h.base)
        .unwrap();
    assert_eq!(h.client.poll_timeout(), None);
    h.client.handle_timeout(h.at(1_000_000));
    assert!(h.events().len() == 1 && h.client.pending_requests() == 1);
    h.client.close();
    assert_eq!(
        h.events()[0],
        ClientEvent::Response {
            id: 1,
            result: Err(RequestError::Closed)
        }
    );
}

// ---- input chunking ----

#[test]
fn byte_at_a_time_input() {
    let script = |h: &mut Harness| {
        let id = start_login(h, Box::new(Reverse));
        let mut wire = Harness::wire(
            0,
            &ServerCommand::Hook(HookEvent::DupSess { ip: "ip".into() }),
        );
        ServerCommand::Verif {
            challenge: "olleh".into(),
        }
        .encode(id, &mut wire)
        .unwrap();
        wire
    };
    let mut whole = Harness::greeted(1);
    let wire = script(&mut whole);
    whole.client.handle_input(&wire, whole.base);

    let mut bytewise = Harness::greeted(1);
    let wire = script(&mut bytewise);
    for b in wire.iter() {
        bytewise
            .client
            .handle_input(std::slice::from_ref(b), bytewise.base);
    }
    assert_eq!(whole.events(), bytewise.events());
    assert_eq!(whole.sent(), bytewise.sent());
    assert_eq!(bytewise.sent().len(), 0);
    assert!(matches!(
        bytewise.client.state(),
        ClientState::AwaitingVerification { .. }
    ));
}

// ---- closing ----

#[test]
fn malformed_input_closes_with_the_reason() {
    let mut h = Harness::logged_in(1);
    let id = h.client.catch_up(h.base).unwrap();
    h.client.users(UserList::All, h.base).unwrap();
    // Version 2.
    h.client
        .handle_input(b"\x21\x2f\xf1\x00\x10\x00\xff\xff\r\nhi\r\n", h.base);
    assert!(h.client.is_closed());
    assert_eq!(h.client.state(), ClientState::Closed);
    assert_eq!(
        h.events(),
        vec![
            ClientEvent::Response {
                id,
                result: Err(RequestError::Closed)
            },
            ClientEvent::Response {
                id: id + 1,
                result: Err(RequestError::Closed)
            },
            ClientEvent::Closed {
                reason: CloseReason::Decode(DecodeError::Header(ErrorCode::Version))
            }
        ]
    );
    // Queued bytes are dropped; nothing more goes out or comes in.
    assert_eq!(h.client.poll_transmit(), None);
    assert_eq!(h.client.poll_timeout(), None);
    assert_eq!(h.client.catch_up(h.base), Err(SessionError::Closed));
    assert_eq!(
        h.client.request(ClientCommand::Keep, h.base),
        Err(SessionError::Closed)
    );
    h.push(0, &ServerCommand::Hello { motd: "".into() });
    h.client.handle_timeout(h.at(10_000));
    h.client.close();
    assert!(h.events().is_empty());
    assert!(h.client.poll_transmit().is_none());
}

#[test]
fn wrong_length_closes() {
    // HELLO claiming a 3-byte payload for "hi\r\n".
    let mut h = Harness::new(1);
    h.client
        .handle_input(b"\x11\x2f\xf1\x00\x0c\x00\xff\xff\r\nhi\r\n", h.base);
    assert_eq!(
        h.events(),
        vec![ClientEvent::Closed {
            reason: CloseReason::Decode(DecodeError::BadLength)
        }]
    );
}

#[test]
fn invalid_command_closes() {
    // A RECIV whose sender is not a username.
    let mut h = Harness::logged_in(1);
    let bad = Packet::new(Action::Reciv, 0xFF, 0, &[&b"Bad Name"[..], b"\x02", b"ct"]).unwrap();
    h.client.handle_input(&bad.to_bytes(), h.base);
    let events = h.events();
    assert!(matches!(
        &events[..],
        [ClientEvent::Closed {
            reason: CloseReason::Command(e)
        }] if e.code == ErrorCode::Args
    ));

    // A client-only action from the server.
    let mut h = Harness::greeted(1);
    let bad = Packet::new(Action::Login, 0xFF, 5, &[b"alice"]).unwrap();
    h.client.handle_input(&bad.to_bytes(), h.base);
    assert!(matches!(
        h.client.close_reason(),
        Some(CloseReason::Command(e)) if e.code == ErrorCode::Invalid
    ));
}

#[test]
fn null_id_err_closes() {
    let mut h = Harness::greeted(1);
    let id = start_login(&mut h, Box::new(Reverse));
    let mut wire = Harness::wire(0, &ServerCommand::Err(ErrorCode::Idle));
    // Anything after it is ignored.
    ServerCommand::Verif {
        challenge: "x".into(),
    }
    .encode(id, &mut wire)
    .unwrap();
    h.client.handle_input(&wire, h.base);
    assert_eq!(
        h.events(),
        vec![
            ClientEvent::LoginFailed {
                id,
                username: user("alice"),
                error: RequestError::Closed
            },
            ClientEvent::Closed {
                reason: CloseReason::ServerError(ErrorCode::Idle)
            }
        ]
    );
    assert!(h.sent().is_empty());
    assert_eq!(
        h.client.close_reason(),
        Some(&CloseReason::ServerError(ErrorCode::Idle))
    );
}

#[test]
fn local_close_once() {
    let mut h = Harness::logged_in(1);
    h.client.catch_up(h.base).unwrap();
    h.client.close();
    h.client.close();
    let events = h.events();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        ClientEvent::Closed {
            reason: CloseReason::Local
        }
    );
    assert_eq!(h.client.poll_transmit(), None);
}

// ---- odds and ends ----

#[test]
fn errors_read_well() {
    assert_eq!(
        RequestError::Server(ErrorCode::NotFound).to_string(),
        "server error ERR_NOTFOUND: content can not be found"
    );
    assert_eq!(
        SessionError::WrongState {
            action: Action::Login,
            state: "logged in"
        }
        .to_string(),
        "LOGIN is not allowed while logged in"
    );
    assert_eq!(
        CloseReason::ServerError(ErrorCode::Idle).to_string(),
        "the server ended the connection with ERR_IDLE: user has been idle for too long"
    );
    assert_eq!(
        CloseReason::Decode(DecodeError::BadLength).to_string(),
        "malformed packet from the server: payload does not end with CRLF"
    );
    assert_eq!(
        ClientTimer::Request { id: 3 }.to_string(),
        "timeout of request 3"
    );
    assert_eq!(
        ClientState::LoggedIn {
            username: &user("al")
        }
        .to_string(),
        "logged in as al"
    );
}

#[test]
fn debug_hides_the_token() {
    let event = ClientEvent::LoggedIn {
        id: 1,
        username: user("alice"),
        token: "supersecret".into(),
    };
    let text = format!("{event:?}");
    assert!(!text.contains("supersecret"), "{text}");
    let h = Harness::logged_in(1);
    assert!(format!("{:?}", h.client).contains("LoggedIn"));
}

#[test]
fn session_is_send() {
    fn is_send<T: Send>() {}
    is_send::<ClientSession>();
    is_send::<ClientEvent>();
}

// ---- properties ----

mod props {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        /// Raw bytes from the server.
        Garbage(Vec<u8>),
        /// A valid server packet of kind `kind` with `id`.
        Server { kind: u8, id: u16 },
        /// An application command.
        Command(u8),
        /// Time passes, then the timers run.
        Advance(u64),
        /// The driver wakes up at the instant `poll_timeout` gave.
        FireTimer,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => proptest::collection::vec(any::<u8>(), 0..24).prop_map(Op::Garbage),
            8 => (0u8..10, 0u16..8).prop_map(|(kind, id)| Op::Server { kind, id }),
            6 => (0u8..9).prop_map(Op::Command),
            3 => (0u64..40).prop_map(Op::Advance),
            2 => Just(Op::FireTimer),
        ]
    }

    fn server_command(kind: u8) -> ServerCommand {
        match kind {
            0 => ServerCommand::Ok,
            1 => ServerCommand::Err(ErrorCode::Invalid),
            2 => ServerCommand::Verif {
                challenge: "egnellahc".into(),
            },
            3 => ServerCommand::Req {
                username: user("bob"),
                pubkey: "pem".into(),
                permission: 0,
            },
            4 => ServerCommand::Usrs(vec![]),
            5 => ServerCommand::Reciv {
                sender: user("bob"),
                stamp: 1,
                ciphertext: "ct".into(),
            },
            6 => ServerCommand::Hook(HookEvent::NewLogout {
                username: user("bob"),
            }),
            7 => ServerCommand::Shutdown { stamp: Some(5) },
            8 => ServerCommand::Hello { motd: "".into() },
            _ => ServerCommand::Err(ErrorCode::Idle),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_conversations_keep_the_invariants(ops in proptest::collection::vec(op(), 0..60)) {
            let config = ClientConfig { keepalive: Some(secs(25)), request_timeout: secs(30) };
            let mut h = Harness::with_config(config, 1);
            let mut now = h.base;
            // Requests whose outcome is still owed to the application.
            let mut owed: BTreeSet<u16> = BTreeSet::new();
            let mut closed = false;
            for op in ops {
                match op {
                    Op::Garbage(bytes) => h.client.handle_input(&bytes, now),
                    Op::Server { kind, id } => {
                        // ERR with the null id closes; other pushes use it too.
                        let id = if matches!(kind, 5..=9) { 0 } else { id.max(1) };
                        let bytes = Harness::wire(id, &server_command(kind));
                        // Split the packet in two to exercise reassembly.
                        let (a, b) = bytes.split_at(bytes.len() / 2);
                        h.client.handle_input(a, now);
                        h.client.handle_input(b, now);
                    }
                    Op::Command(c) => {
                        let result = match c {
                            0 => h.client.login(user("alice"), Box::new(Reverse), now),
                            1 => h.client.login_with_token(user("alice"), "t".into(), now),
                            2 => h.client.users(UserList::All, now),
                            3 => h.client.catch_up(now),
                            4 => h.client.logout(now),
                            5 => h.client.request_key(user("bob"), now),
                            6 => h.client.register(user("bob"), "pem".into(), now),
                            7 => h.client.request(ClientCommand::Keep, now).map(|_| 0),
                            _ => { h.client.close(); Ok(0) }
                        };
                        if let Ok(id) = result && id != 0 {
                            prop_assert!(owed.insert(id), "id {} handed out twice", id);
                        }
                        if closed {
                            prop_assert!(matches!(result, Ok(0) | Err(SessionError::Closed)));
                        }
                    }
                    Op::Advance(s) => {
                        now += secs(s);
                        h.client.handle_timeout(now);
                    }
                    Op::FireTimer => {
                        if let Some((at, _)) = h.client.poll_timeout() {
                            now = now.max(at);
                            h.client.handle_timeout(now);
                            // The timer that fired is gone: no busy loop.
                            if let Some((next, _)) = h.client.poll_timeout() {
                                prop_assert!(next > now);
                            }
                        }
                    }
                }
                // Whatever was sent decodes as client packets.
                let _ = h.sent();
                for event in h.events() {
                    prop_assert!(!closed, "event after Closed: {:?}", event);
                    match event {
                        ClientEvent::Response { id, .. }
                        | ClientEvent::LoggedIn { id, .. }
                        | ClientEvent::LoginFailed { id, .. } => {
                            prop_assert!(owed.remove(&id), "outcome for unknown id {}", id);
                        }
                        ClientEvent::Closed { .. } => closed = true,
                        _ => {}
                    }
                }
                prop_assert_eq!(h.client.pending_requests(), owed.len());
                prop_assert_eq!(h.client.is_closed(), closed);
                if closed {
                    prop_assert!(owed.is_empty());
                    prop_assert!(h.client.poll_transmit().is_none());
                    prop_assert!(h.client.poll_timeout().is_none());
                }
            }
        }
    }
}
