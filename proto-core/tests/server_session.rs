//! ServerSession driven with raw client packets and a fake clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gochat_proto::crypto::Challenge;
use gochat_proto::session::server::{
    CloseReason, ServerConfig, ServerEvent, ServerSession, ServerTimer,
};
use gochat_proto::{
    AdminCommand, ClientCommand, Decoder, Direction, ErrorCode, Hook, ServerCommand, UserList,
    Username,
};

struct Harness {
    session: ServerSession,
    now: Instant,
    from_server: Decoder,
}

fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

fn challenge() -> Challenge {
    Challenge::from_bytes(&[b'A'; 128]).unwrap()
}

impl Harness {
    fn new() -> Self {
        let now = Instant::now();
        let mut session = ServerSession::new(ServerConfig::default());
        session.admit(b"welcome", now).unwrap();
        let mut h = Harness {
            session,
            now,
            from_server: Decoder::new(Direction::ToClient),
        };
        assert_eq!(
            h.replies(),
            vec![(
                0,
                ServerCommand::Hello {
                    motd: Bytes::from("welcome")
                }
            )]
        );
        h
    }

    fn send(&mut self, id: u16, cmd: &ClientCommand) {
        let mut b = BytesMut::new();
        cmd.encode(id, &mut b).unwrap();
        self.session.handle_input(&b, self.now);
    }

    fn replies(&mut self) -> Vec<(u16, ServerCommand)> {
        while let Some(b) = self.session.poll_transmit() {
            self.from_server.feed(&b);
        }
        let mut out = Vec::new();
        while let Some(p) = self.from_server.decode().unwrap() {
            out.push((p.id(), ServerCommand::from_packet(&p).unwrap()));
        }
        out
    }

    fn events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// Sends LOGIN `name` as packet `id` and begins its verification with
    /// `cipher` as the challenge's ciphertext; returns the events the LOGIN
    /// raised.
    fn begin_login(&mut self, id: u16, name: &str, cipher: &'static [u8]) -> Vec<ServerEvent> {
        self.send(
            id,
            &ClientCommand::Login {
                username: user(name),
            },
        );
        let events = self.events();
        self.session
            .begin_verification(
                id,
                user(name),
                challenge(),
                Bytes::from_static(cipher),
                self.now,
            )
            .unwrap();
        events
    }

    /// Sends VERIF for `name` as packet `id`, its answer 128 times `byte`
    /// (`b'A'` is the right answer to [`challenge`]).
    fn verif(&mut self, id: u16, name: &str, byte: u8) {
        self.send(
            id,
            &ClientCommand::Verif {
                username: user(name),
                answer: Bytes::from(vec![byte; 128]),
            },
        );
    }

    /// A timeout at `before` leaves the session open; one at `at` closes it
    /// with `ERR Idle` (id 0) and the event `Closed(reason)`.
    fn closes_at(&mut self, before: Instant, at: Instant, reason: CloseReason) {
        self.session.handle_timeout(before);
        assert!(!self.session.is_closed());
        self.session.handle_timeout(at);
        assert!(self.session.is_closed());
        assert_eq!(
            self.replies(),
            vec![(0, ServerCommand::Err(ErrorCode::Idle))]
        );
        assert_eq!(self.events(), vec![ServerEvent::Closed(reason)]);
    }

    fn login(&mut self, name: &str, permission: u8) {
        let ev = self.begin_login(1, name, b"cipher");
        assert!(matches!(ev[..], [ServerEvent::Request { id: 1, .. }]));
        self.verif(2, name, b'A');
        let ev = self.events();
        assert!(
            matches!(&ev[..], [ServerEvent::Verified { id: 2, .. }]),
            "{ev:?}"
        );
        self.session
            .complete_login(2, user(name), permission)
            .unwrap();
        let r = self.replies();
        assert_eq!(r.last(), Some(&(2, ServerCommand::Ok)));
    }
}

#[test]
fn queued_session_sends_nothing_until_admitted() {
    let now = Instant::now();
    let mut s = ServerSession::new(ServerConfig::default());
    let mut b = BytesMut::new();
    ClientCommand::Req {
        username: user("bob"),
    }
    .encode(3, &mut b)
    .unwrap();
    s.handle_input(&b, now);
    assert!(s.poll_transmit().is_none());
    assert!(s.poll_event().is_none());
    assert!(s.poll_timeout().is_none());
    s.admit(b"hi", now).unwrap();
    // HELLO then the buffered request is answered: REQ while logged out is NOSESS.
    let mut d = Decoder::new(Direction::ToClient);
    d.feed(&s.poll_transmit().unwrap());
    assert_eq!(
        ServerCommand::from_packet(&d.decode().unwrap().unwrap()).unwrap(),
        ServerCommand::Hello {
            motd: Bytes::from("hi")
        }
    );
    let p = d.decode().unwrap().unwrap();
    assert_eq!(
        (p.id(), ServerCommand::from_packet(&p).unwrap()),
        (3, ServerCommand::Err(ErrorCode::NoSess))
    );
}

#[test]
fn queued_session_overflow_closes() {
    let mut s = ServerSession::new(ServerConfig {
        max_queued_input: 20,
        ..ServerConfig::default()
    });
    s.handle_input(&[0u8; 21], Instant::now());
    assert!(s.is_closed());
    assert_eq!(
        s.poll_event(),
        Some(ServerEvent::Closed(CloseReason::QueueOverflow))
    );
}

#[test]
fn logged_out_gating() {
    let mut h = Harness::new();
    h.send(5, &ClientCommand::Usrs(UserList::All));
    h.send(6, &ClientCommand::Logout);
    h.send(7, &ClientCommand::Sub(Hook::All));
    h.send(8, &ClientCommand::Keep);
    assert_eq!(
        h.replies(),
        vec![
            (5, ServerCommand::Err(ErrorCode::NoSess)),
            (6, ServerCommand::Err(ErrorCode::NoSess)),
            (7, ServerCommand::Err(ErrorCode::NoSess)),
        ]
    );
    assert!(h.events().is_empty());
    // VERIF without a pending challenge.
    h.send(
        9,
        &ClientCommand::Verif {
            username: user("a"),
            answer: Bytes::from_static(b"x"),
        },
    );
    assert_eq!(
        h.replies(),
        vec![(9, ServerCommand::Err(ErrorCode::Invalid))]
    );
}

#[test]
fn reg_and_login_reach_the_application() {
    let mut h = Harness::new();
    h.send(
        5,
        &ClientCommand::Reg {
            username: user("alice"),
            pubkey: Bytes::from_static(b"pem"),
        },
    );
    assert_eq!(
        h.events(),
        vec![ServerEvent::Request {
            id: 5,
            command: ClientCommand::Reg {
                username: user("alice"),
                pubkey: Bytes::from_static(b"pem")
            }
        }]
    );
}

#[test]
fn uppercase_login_is_lowercased() {
    let mut h = Harness::new();
    let mut b = BytesMut::new();
    gochat_proto::encode_into(&mut b, gochat_proto::Action::Login, 0xFF, 4, &[b"ALICE"]).unwrap();
    h.session.handle_input(&b, h.now);
    assert_eq!(
        h.events(),
        vec![ServerEvent::Request {
            id: 4,
            command: ClientCommand::Login {
                username: user("alice")
            }
        }]
    );
}

#[test]
fn full_login_and_logged_in_gating() {
    let mut h = Harness::new();
    h.login("alice", 0);
    assert_eq!(
        h.session
            .logged_in()
            .map(|(u, p)| (u.as_str().to_owned(), p)),
        Some(("alice".into(), 0))
    );
    h.send(
        3,
        &ClientCommand::Login {
            username: user("alice"),
        },
    );
    h.send(
        4,
        &ClientCommand::Reg {
            username: user("x"),
            pubkey: Bytes::from_static(b"k"),
        },
    );
    assert_eq!(
        h.replies(),
        vec![
            (3, ServerCommand::Err(ErrorCode::Invalid)),
            (4, ServerCommand::Err(ErrorCode::Invalid))
        ]
    );
    // Server-only action from a logged-in client: INVALID, connection kept.
    let mut b = BytesMut::new();
    gochat_proto::encode_into::<&[u8]>(&mut b, gochat_proto::Action::Ok, 0xFF, 5, &[]).unwrap();
    h.session.handle_input(&b, h.now);
    assert_eq!(
        h.replies(),
        vec![(5, ServerCommand::Err(ErrorCode::Invalid))]
    );
    assert!(!h.session.is_closed());
    h.send(
        6,
        &ClientCommand::Msg {
            to: user("bob"),
            stamp: 1_764_000_000,
            ciphertext: Bytes::from_static(b"c\r\nc"),
        },
    );
    assert_eq!(
        h.events(),
        vec![ServerEvent::Request {
            id: 6,
            command: ClientCommand::Msg {
                to: user("bob"),
                stamp: 1_764_000_000,
                ciphertext: Bytes::from_static(b"c\r\nc")
            }
        }]
    );
}

#[test]
fn wrong_verification_is_handshake_and_drops_pending() {
    let mut h = Harness::new();
    h.begin_login(1, "alice", b"c");
    h.verif(2, "alice", b'B');
    assert_eq!(
        h.replies(),
        vec![
            (
                1,
                ServerCommand::Verif {
                    challenge: Bytes::from_static(b"c")
                }
            ),
            (2, ServerCommand::Err(ErrorCode::Handshake))
        ]
    );
    // The pending verification is gone.
    h.verif(3, "alice", b'A');
    assert_eq!(
        h.replies(),
        vec![(3, ServerCommand::Err(ErrorCode::Invalid))]
    );
    // A right text for another name also fails.
    h.begin_login(4, "alice", b"c");
    h.verif(5, "bob", b'A');
    assert_eq!(
        h.replies().last(),
        Some(&(5, ServerCommand::Err(ErrorCode::Handshake)))
    );
}

#[test]
fn logout_cancels_pending_verification() {
    let mut h = Harness::new();
    h.begin_login(1, "alice", b"c");
    h.send(2, &ClientCommand::Logout);
    assert_eq!(h.replies()[1], (2, ServerCommand::Ok));
    assert!(h.session.pending_verification().is_none());
}

#[test]
fn verification_deadline() {
    let mut h = Harness::new();
    h.begin_login(1, "alice", b"c");
    let (at, _) = h.session.poll_timeout().unwrap();
    assert_eq!(at, h.now + Duration::from_secs(120));
    h.session.handle_timeout(h.now + Duration::from_secs(119));
    assert!(h.events().is_empty());
    h.now += Duration::from_secs(120);
    h.session.handle_timeout(h.now);
    assert_eq!(
        h.events(),
        vec![ServerEvent::VerificationExpired {
            username: user("alice")
        }]
    );
    h.verif(2, "alice", b'A');
    assert_eq!(
        h.replies().last(),
        Some(&(2, ServerCommand::Err(ErrorCode::Invalid)))
    );
}

#[test]
fn idle_deadline_refreshed_by_every_packet() {
    let mut h = Harness::new();
    h.login("alice", 0);
    let start = h.now;
    assert_eq!(
        h.session.poll_timeout().unwrap().0,
        start + Duration::from_secs(1500)
    );
    h.now += Duration::from_secs(1000);
    h.send(1, &ClientCommand::Keep);
    assert_eq!(
        h.session.poll_timeout().unwrap().0,
        h.now + Duration::from_secs(1500)
    );
    h.session.handle_timeout(start + Duration::from_secs(1500));
    assert!(!h.session.is_closed());
    h.session.handle_timeout(h.now + Duration::from_secs(1500));
    assert!(h.session.is_closed());
    assert_eq!(h.replies(), vec![(0, ServerCommand::Err(ErrorCode::Idle))]);
    assert_eq!(h.events(), vec![ServerEvent::Closed(CloseReason::Idle)]);
}

#[test]
fn admin_check_order() {
    let mut h = Harness::new();
    h.login("alice", 0);
    // A plain user gets PERMS even for an unknown op.
    let mut b = BytesMut::new();
    gochat_proto::encode_into::<&[u8]>(&mut b, gochat_proto::Action::Admin, 0x09, 3, &[]).unwrap();
    h.session.handle_input(&b, h.now);
    assert_eq!(h.replies(), vec![(3, ServerCommand::Err(ErrorCode::Perms))]);
    h.session.set_permission(1);
    h.session.handle_input(&b, h.now);
    assert_eq!(
        h.replies(),
        vec![(3, ServerCommand::Err(ErrorCode::Invalid))]
    );
    // Missing arguments: ARGS.
    let mut b = BytesMut::new();
    gochat_proto::encode_into::<&[u8]>(&mut b, gochat_proto::Action::Admin, 0x04, 4, &[]).unwrap();
    h.session.handle_input(&b, h.now);
    assert_eq!(h.replies(), vec![(4, ServerCommand::Err(ErrorCode::Args))]);
    // ADMIN may not change the MOTD: PERMS.
    h.send(
        5,
        &ClientCommand::Admin(AdminCommand::Motd {
            text: Bytes::from_static(b"m"),
        }),
    );
    assert_eq!(h.replies(), vec![(5, ServerCommand::Err(ErrorCode::Perms))]);
    h.send(
        6,
        &ClientCommand::Admin(AdminCommand::Kick {
            username: user("bob"),
        }),
    );
    assert_eq!(
        h.events(),
        vec![ServerEvent::Request {
            id: 6,
            command: ClientCommand::Admin(AdminCommand::Kick {
                username: user("bob")
            })
        }]
    );
}

#[test]
fn malformed_input_sends_null_id_err_and_closes() {
    for (bytes, code) in [
        (
            &b"\x20\x3f\xf0\x00\x00\x05\xff\xff\r\n"[..],
            ErrorCode::Version,
        ),
        (
            &b"\x10\x6f\xf1\x00\x00\x07\xff\xff\r\n"[..],
            ErrorCode::Args,
        ),
        (
            &b"\x10\x3f\xf0\x00\x00\x05\xff\xffxx"[..],
            ErrorCode::Header,
        ),
        (
            &b"\x10\x6f\xf0\x00\x00\x05\xff\xff\r\n"[..],
            ErrorCode::Header,
        ),
    ] {
        let mut h = Harness::new();
        h.session.handle_input(bytes, h.now);
        assert!(h.session.is_closed());
        assert_eq!(h.replies(), vec![(0, ServerCommand::Err(code))]);
        assert!(matches!(
            h.events()[..],
            [ServerEvent::Closed(CloseReason::Malformed(_))]
        ));
        // Nothing more is processed.
        h.send(1, &ClientCommand::Keep);
        assert!(h.replies().is_empty());
    }
}

#[test]
fn markers_follow_transmitted_bytes() {
    let mut h = Harness::new();
    h.session.push_marker(7);
    assert_eq!(h.events(), vec![ServerEvent::Written(7)]);
    h.session
        .send(&ServerCommand::Shutdown { stamp: Some(5) })
        .unwrap();
    h.session.push_marker(8);
    assert!(h.events().is_empty());
    assert!(h.session.poll_transmit().is_some());
    assert_eq!(h.events(), vec![ServerEvent::Written(8)]);
}

#[test]
fn byte_at_a_time_input() {
    let mut h = Harness::new();
    let mut b = BytesMut::new();
    ClientCommand::Login {
        username: user("carol"),
    }
    .encode(9, &mut b)
    .unwrap();
    ClientCommand::Keep.encode(10, &mut b).unwrap();
    ClientCommand::Reg {
        username: user("dave"),
        pubkey: Bytes::from_static(b"k"),
    }
    .encode(11, &mut b)
    .unwrap();
    for byte in b.iter() {
        h.session.handle_input(&[*byte], h.now);
    }
    let ev = h.events();
    assert_eq!(ev.len(), 2);
    assert!(matches!(&ev[0], ServerEvent::Request { id: 9, .. }));
    assert!(matches!(&ev[1], ServerEvent::Request { id: 11, .. }));
}

fn encoded(id: u16, cmd: &ClientCommand) -> BytesMut {
    let mut b = BytesMut::new();
    cmd.encode(id, &mut b).unwrap();
    b
}

#[test]
fn started_packet_must_complete_within_packet_timeout() {
    let mut h = Harness::new();
    let start = h.now;
    let wire = encoded(
        1,
        &ClientCommand::Reg {
            username: user("alice"),
            pubkey: Bytes::from(vec![b'k'; 600]),
        },
    );
    // Five bytes of a header, then nothing: the packet deadline is the next timer.
    h.session.handle_input(&wire[..5], h.now);
    assert_eq!(
        h.session.poll_timeout(),
        Some((start + Duration::from_secs(10), ServerTimer::Packet))
    );
    // Trickling more bytes of the same packet does not move the deadline.
    h.now += Duration::from_secs(9);
    h.session.handle_input(&wire[5..300], h.now);
    assert_eq!(
        h.session.poll_timeout(),
        Some((start + Duration::from_secs(10), ServerTimer::Packet))
    );
    h.closes_at(
        start + Duration::from_millis(9_999),
        start + Duration::from_secs(10),
        CloseReason::PacketTimeout,
    );
}

#[test]
fn each_pipelined_packet_gets_the_whole_packet_timeout() {
    let mut h = Harness::new();
    let keep = encoded(1, &ClientCommand::Keep);
    let mut stream = Vec::new();
    for _ in 0..3 {
        stream.extend_from_slice(&keep);
    }
    // Every second: one whole KEEP and half of the next.
    let half = keep.len() / 2;
    h.session.handle_input(&stream[..half], h.now);
    let first = h.session.poll_timeout().unwrap();
    assert_eq!(
        first,
        (h.now + Duration::from_secs(10), ServerTimer::Packet)
    );
    h.now += Duration::from_secs(8);
    h.session
        .handle_input(&stream[half..keep.len() + half], h.now);
    // The next packet started now: its deadline is ten seconds from now.
    assert_eq!(
        h.session.poll_timeout(),
        Some((h.now + Duration::from_secs(10), ServerTimer::Packet))
    );
    h.session.handle_timeout(first.0);
    assert!(!h.session.is_closed());
    // Completing it clears the packet deadline.
    h.session
        .handle_input(&stream[keep.len() + half..2 * keep.len()], h.now);
    assert_ne!(
        h.session.poll_timeout().map(|t| t.1),
        Some(ServerTimer::Packet)
    );
}

#[test]
fn connection_that_never_logs_in_is_closed() {
    let mut h = Harness::new();
    let start = h.now;
    assert_eq!(
        h.session.poll_timeout(),
        Some((start + Duration::from_secs(300), ServerTimer::Login))
    );
    // KEEPs refresh the idle deadline but not the login deadline.
    h.now += Duration::from_secs(200);
    h.send(1, &ClientCommand::Keep);
    h.closes_at(
        start + Duration::from_secs(299),
        start + Duration::from_secs(300),
        CloseReason::LoginTimeout,
    );
}

#[test]
fn login_deadline_cleared_by_login_and_restarted_by_logout() {
    let mut h = Harness::new();
    let start = h.now;
    h.login("alice", 0);
    assert_eq!(
        h.session.poll_timeout(),
        Some((start + Duration::from_secs(1500), ServerTimer::Idle))
    );
    h.session.handle_timeout(start + Duration::from_secs(400));
    assert!(!h.session.is_closed());
    h.now = start + Duration::from_secs(1000);
    h.session.logout(h.now);
    assert_eq!(
        h.session.poll_timeout(),
        Some((h.now + Duration::from_secs(300), ServerTimer::Login))
    );
    h.session.handle_timeout(h.now + Duration::from_secs(300));
    assert_eq!(
        h.events(),
        vec![ServerEvent::Closed(CloseReason::LoginTimeout)]
    );
}
