//! The `server_session` target: a [`ServerSession`] fed arbitrary bytes and
//! well-formed client packets, with a fake application that answers every
//! event, and time jumps.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::feed_transmitted;
use super::input::{Input, fixed_challenge};
use crate::codes::{AdminOp, ErrorCode, Hook};
use crate::command::{AdminCommand, ClientCommand, HookEvent, ServerCommand, UserEntry};
use crate::crypto::Challenge;
use crate::decoder::Decoder;
use crate::header::{Direction, MAX_ID, NULL_ID};
use crate::packet::Packet;
use crate::session::server::{CloseReason, ServerConfig, ServerEvent, ServerSession};
use crate::username::Username;

/// Timeouts and limits, from ordinary to degenerate (a configuration file
/// may ask for any number of seconds).
fn config(choice: u8) -> ServerConfig {
    match choice % 4 {
        0 => ServerConfig::default(),
        1 => ServerConfig {
            idle_timeout: Duration::from_secs(1),
            verification_timeout: Duration::from_secs(1),
            max_queued_input: 20,
            packet_timeout: Duration::from_secs(1),
            login_timeout: Duration::from_secs(2),
        },
        2 => ServerConfig {
            idle_timeout: Duration::ZERO,
            verification_timeout: Duration::ZERO,
            max_queued_input: 0,
            packet_timeout: Duration::ZERO,
            login_timeout: Duration::ZERO,
        },
        _ => ServerConfig {
            idle_timeout: Duration::from_secs(u64::MAX),
            verification_timeout: Duration::from_secs(u64::MAX),
            max_queued_input: usize::MAX,
            packet_timeout: Duration::from_secs(u64::MAX),
            login_timeout: Duration::from_secs(u64::MAX),
        },
    }
}

struct Harness {
    session: ServerSession,
    now: Instant,
    challenge: Challenge,
    /// The client's view of what the server sent.
    wire: Decoder,
    last_packet: Option<Packet>,
    /// `Closed` came out.
    closed: bool,
    /// `Closed` came out and the output was drained after it.
    flushed: bool,
    /// Marker tokens pushed and not yet written, in order.
    markers: VecDeque<u64>,
    next_token: u64,
    /// Who the last successful `begin_verification` was for.
    verifying: Option<Username>,
    /// The application's answers: permission level of logins, and whether
    /// verified logins and registrations are accepted.
    permission: u8,
    accept_verified: bool,
    accept_reg: bool,
    next_id: u16,
    /// The kinds of event seen, for the tests of the seed programs.
    seen: BTreeSet<&'static str>,
}

impl Harness {
    /// Drains the outputs as a driver does and answers every event.
    fn drain(&mut self) {
        loop {
            while let Some(bytes) = self.session.poll_transmit() {
                assert!(!self.flushed, "bytes to send after the final flush");
                feed_transmitted(&mut self.wire, &bytes, "server", |p| {
                    if let Err(e) = ServerCommand::from_packet(&p) {
                        panic!("server sent {p:?}, which is not a command: {e}");
                    }
                    self.last_packet = Some(p);
                });
            }
            if self.closed {
                self.flushed = true;
            }
            let Some(event) = self.session.poll_event() else {
                break;
            };
            if self.closed {
                assert!(
                    matches!(event, ServerEvent::Written(_)),
                    "{event:?} after Closed"
                );
            }
            self.seen.insert(match &event {
                ServerEvent::Request { .. } => "Request",
                ServerEvent::Verified { .. } => "Verified",
                ServerEvent::VerificationExpired { .. } => "VerificationExpired",
                ServerEvent::Written(_) => "Written",
                ServerEvent::Closed(_) => "Closed",
            });
            match event {
                ServerEvent::Request { id, command } => self.answer(id, command),
                ServerEvent::Verified {
                    id,
                    username,
                    challenge,
                } => {
                    assert!(challenge == self.challenge, "verified another challenge");
                    assert_eq!(Some(&username), self.verifying.as_ref());
                    let _ = if self.accept_verified {
                        self.session.complete_login(id, username, self.permission)
                    } else {
                        self.session.reject_login(id, ErrorCode::Login)
                    };
                }
                ServerEvent::VerificationExpired { username } => {
                    assert_eq!(Some(&username), self.verifying.as_ref());
                }
                ServerEvent::Written(token) => {
                    assert_eq!(Some(token), self.markers.pop_front(), "marker order");
                }
                ServerEvent::Closed(reason) => {
                    assert!(!self.closed, "closed twice");
                    assert!(self.session.is_closed());
                    self.closed = true;
                    self.check_final_err(&reason);
                }
            }
        }
        if self.session.is_closed() {
            assert!(self.closed);
            assert_eq!(self.session.poll_timeout(), None);
        }
    }

    /// The null-id ERR announcing a close is the last packet sent.
    fn check_final_err(&self, reason: &CloseReason) {
        let code = match reason {
            CloseReason::Malformed(e) => e.code(),
            CloseReason::Idle | CloseReason::PacketTimeout | CloseReason::LoginTimeout => {
                ErrorCode::Idle
            }
            CloseReason::Local(Some(code)) => *code,
            CloseReason::Local(None) | CloseReason::QueueOverflow => return,
        };
        let last = self.last_packet.as_ref().expect("an ERR before closing");
        assert_eq!(last.id(), NULL_ID, "{reason:?}: last packet {last:?}");
        assert_eq!(
            ServerCommand::from_packet(last),
            Ok(ServerCommand::Err(code)),
            "{reason:?}"
        );
    }

    /// The fake application's answer to a request.
    fn answer(&mut self, id: u16, command: ClientCommand) {
        let me = || Username::new("a").expect("valid name");
        let s = &mut self.session;
        let _ = match command {
            ClientCommand::Keep | ClientCommand::Verif { .. } => {
                panic!("the session handed {command:?} to the application")
            }
            ClientCommand::Login { username } => {
                let ciphertext = Bytes::copy_from_slice(self.challenge.as_bytes());
                let r = s.begin_verification(
                    id,
                    username.clone(),
                    self.challenge.clone(),
                    ciphertext,
                    self.now,
                );
                if r.is_ok() {
                    self.verifying = Some(username);
                }
                r
            }
            ClientCommand::LoginToken { username, token } => {
                if self.challenge.matches(&token) {
                    s.complete_login(id, username, self.permission)
                } else {
                    s.reply_err(id, ErrorCode::Login)
                }
            }
            ClientCommand::Logout | ClientCommand::Dereg => {
                s.logout(self.now);
                s.reply_ok(id)
            }
            ClientCommand::Reg { .. } if self.accept_reg => s.reply_ok(id),
            ClientCommand::Reg { .. } => s.reply_err(id, ErrorCode::Exists),
            ClientCommand::Req { username } => s.reply(
                id,
                &ServerCommand::Req {
                    username,
                    pubkey: Bytes::from_static(b"-----BEGIN RSA PUBLIC KEY-----\n"),
                    permission: self.permission,
                },
            ),
            ClientCommand::Usrs(list) => {
                let name = s.logged_in().map_or_else(me, |(u, _)| u.clone());
                let entry = UserEntry {
                    name,
                    permission: list.with_permissions().then_some(self.permission),
                };
                s.reply(id, &ServerCommand::Usrs(vec![entry.clone(), entry]))
            }
            ClientCommand::Msg { .. } | ClientCommand::Unsub(_) => s.reply_ok(id),
            ClientCommand::Reciv => {
                let _ = s.reply_ok(id);
                s.send(&ServerCommand::Reciv {
                    sender: me(),
                    stamp: 1_751_300_000,
                    ciphertext: Bytes::from_static(b"ct\r\nct"),
                })
            }
            ClientCommand::Sub(hook) => {
                let _ = s.reply_ok(id);
                match hook {
                    Hook::All => Ok(()),
                    _ => s.send(&ServerCommand::Hook(HookEvent::NewLogout {
                        username: me(),
                    })),
                }
            }
            ClientCommand::Admin(admin) => {
                let _ = s.reply_ok(id);
                match admin {
                    AdminCommand::Shutdown { stamp } => {
                        s.send(&ServerCommand::Shutdown { stamp: Some(stamp) })
                    }
                    AdminCommand::ChangePerms {
                        username,
                        permission,
                    } => {
                        if s.logged_in().is_some_and(|(u, _)| *u == username) {
                            s.set_permission(permission);
                        }
                        s.send(&ServerCommand::Hook(HookEvent::PermsChg {
                            username,
                            permission,
                        }))
                    }
                    AdminCommand::Kick { username } => {
                        if s.logged_in().is_some_and(|(u, _)| *u == username) {
                            s.close(Some(ErrorCode::Discn));
                        }
                        Ok(())
                    }
                    AdminCommand::Dereg { .. }
                    | AdminCommand::Broadcast { .. }
                    | AdminCommand::Motd { .. } => {
                        assert!(matches!(
                            admin.op(),
                            AdminOp::Dereg | AdminOp::Brdcast | AdminOp::Motd
                        ));
                        Ok(())
                    }
                }
            }
        };
    }

    /// Runs the timers at the current time; nothing may stay due.
    fn timeout(&mut self) {
        self.session.handle_timeout(self.now);
        if let Some((at, reason)) = self.session.poll_timeout() {
            assert!(at > self.now, "{reason:?} still due after handle_timeout");
        }
    }

    /// Feeds a well-formed client packet, in one or two chunks.
    fn client_packet(&mut self, input: &mut Input<'_>) {
        let id = match input.byte() % 4 {
            0 => NULL_ID,
            1 => input.u16() & MAX_ID,
            _ => {
                self.next_id = self.next_id % MAX_ID + 1;
                self.next_id
            }
        };
        let cmd = input.client_command();
        let mut wire = BytesMut::new();
        if cmd.encode(id, &mut wire).is_err() {
            return;
        }
        let split = usize::from(input.u16()) % (wire.len() + 1);
        self.session.handle_input(&wire[..split], self.now);
        self.session.handle_input(&wire[split..], self.now);
    }

    /// Something the application does on its own.
    fn app(&mut self, input: &mut Input<'_>) {
        let s = &mut self.session;
        match input.byte() % 8 {
            0 => {
                s.push_marker(self.next_token);
                self.markers.push_back(self.next_token);
                self.next_token += 1;
            }
            1 => {
                let push = match input.byte() % 3 {
                    0 => ServerCommand::Reciv {
                        sender: input.username(),
                        stamp: input.i64(),
                        ciphertext: input.blob(),
                    },
                    1 => ServerCommand::Hook(input.hook_event()),
                    _ => ServerCommand::Shutdown {
                        stamp: Some(input.i64()),
                    },
                };
                let _ = s.send(&push);
            }
            2 => {
                let code = input
                    .byte()
                    .is_multiple_of(2)
                    .then(|| input.pick(ErrorCode::ALL));
                s.close(code);
            }
            3 => s.set_permission(input.byte() % 4),
            4 => s.logout(self.now),
            5 => s.release_buffers(),
            6 => {
                let id = input.u16() % MAX_ID + 1;
                let cmd = input.server_command();
                let _ = s.reply(id, &cmd);
            }
            _ => {
                let event = input.hook_event();
                if let Ok(p) = ServerCommand::Hook(event).to_packet(NULL_ID) {
                    let _ = s.send_packet(&p);
                }
            }
        }
    }
}

/// Target `server_session`.
///
/// The input is a program: one byte picks the [`ServerConfig`], one the
/// application's answers (bits 0-1: permission level of logins, bit 2:
/// refuse verified logins, bit 3: refuse registrations, bit 7: admit only on
/// instruction 6); then each instruction is one byte (mod 8) and its
/// operands:
///
/// - 0 `n bytes…`: raw input from the client;
/// - 1: a well-formed client packet (id: null, any, or counting up), fed in
///   two chunks;
/// - 2 `ms:u16` / 3 `s:u16`: the clock moves forward;
/// - 4: `handle_timeout` now;
/// - 5: the clock moves to `poll_timeout` and `handle_timeout` runs;
/// - 6 `motd`: `admit`;
/// - 7: something the application does on its own (marker, push, close,
///   permission change, logout, buffer release, stray reply, raw packet).
///
/// After every instruction the outputs are drained and every event answered
/// (LOGIN with `begin_verification` and the fixed challenge, verified logins
/// with `complete_login`, the rest with replies).
pub fn server_session(data: &[u8]) {
    run(data);
}

/// Runs a program; returns the kinds of event seen.
pub(super) fn run(data: &[u8]) -> BTreeSet<&'static str> {
    let mut input = Input::new(data);
    let config = config(input.byte());
    let policy = input.byte();
    let now = Instant::now();
    let mut h = Harness {
        session: ServerSession::new(config),
        now,
        challenge: fixed_challenge(),
        wire: Decoder::new(Direction::ToClient),
        last_packet: None,
        closed: false,
        flushed: false,
        markers: VecDeque::new(),
        next_token: 0,
        verifying: None,
        permission: policy % 4,
        accept_verified: policy & 4 == 0,
        accept_reg: policy & 8 == 0,
        next_id: 0,
        seen: BTreeSet::new(),
    };
    if policy & 0x80 == 0 {
        assert_eq!(h.session.admit(b"fuzz", now), Ok(()));
    }
    h.drain();
    while !input.is_empty() {
        match input.byte() % 8 {
            0 => {
                let n = usize::from(input.byte());
                let chunk = input.take(n);
                h.session.handle_input(chunk, h.now);
            }
            1 => h.client_packet(&mut input),
            2 => h.now += Duration::from_millis(u64::from(input.u16())),
            3 => h.now += Duration::from_secs(u64::from(input.u16())),
            4 => h.timeout(),
            5 => {
                if let Some((at, _)) = h.session.poll_timeout() {
                    h.now = h.now.max(at);
                }
                h.timeout();
            }
            6 => {
                let motd = input.blob();
                let was_queued = h.session.is_queued();
                let r = h.session.admit(&motd, h.now);
                if was_queued && motd.len() <= crate::header::MAX_ARG_LEN {
                    assert_eq!(r, Ok(()));
                }
            }
            _ => h.app(&mut input),
        }
        h.drain();
    }
    h.session.close(None);
    h.drain();
    assert!(h.closed && h.flushed);
    // A closed session refuses everything and sends nothing more.
    h.session
        .handle_input(b"\x10\x3f\xf0\x00\x00\x05\xff\xff\r\n", h.now);
    h.session.handle_timeout(h.now + Duration::from_secs(3600));
    assert!(h.session.admit(b"", h.now).is_err());
    assert!(h.session.reply_ok(1).is_err());
    assert!(h.session.send(&ServerCommand::Ok).is_err());
    assert!(h.session.poll_transmit().is_none());
    while let Some(event) = h.session.poll_event() {
        assert!(matches!(event, ServerEvent::Written(_)), "{event:?}");
    }
    h.seen
}
