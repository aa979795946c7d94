//! The `client_session` target: a [`ClientSession`] fed arbitrary bytes and
//! well-formed server packets, interleaved with commands and time jumps.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::feed_transmitted;
use super::input::{Input, fixed_challenge};
use crate::command::ClientCommand;
use crate::crypto::{CryptoError, Decryptor};
use crate::decoder::Decoder;
use crate::header::{Direction, MAX_ID, NULL_ID};
use crate::session::client::{ClientConfig, ClientEvent, ClientSession};

/// A stand-in for RSA: what the decryptor returns for any ciphertext.
enum FakeDecryptor {
    /// The ciphertext reversed.
    Reverse,
    /// An error.
    Broken,
    /// The fixed challenge text.
    Challenge,
    /// 3000 bytes: too long for an argument.
    Huge,
}

impl Decryptor for FakeDecryptor {
    fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            FakeDecryptor::Reverse => Ok(ciphertext.iter().rev().copied().collect()),
            FakeDecryptor::Broken => Err(CryptoError::Rsa("fake decryption error".into())),
            FakeDecryptor::Challenge => Ok(fixed_challenge().as_bytes().to_vec()),
            FakeDecryptor::Huge => Ok(vec![b'x'; 3000]),
        }
    }
}

/// Timing settings, from ordinary to degenerate.
fn config(choice: u8) -> ClientConfig {
    let (keepalive, request_timeout) = match choice % 5 {
        0 => return ClientConfig::default(),
        1 => (None, Duration::from_secs(1)),
        2 => (Some(Duration::ZERO), Duration::ZERO),
        3 => (Some(Duration::from_millis(1)), Duration::from_millis(1)),
        _ => (Some(Duration::MAX), Duration::MAX),
    };
    ClientConfig {
        keepalive,
        request_timeout,
    }
}

struct Harness {
    session: ClientSession,
    now: Instant,
    /// The server's view of what the client sent.
    wire: Decoder,
    /// The id of the last packet the client sent.
    last_sent_id: u16,
    /// Request ids returned to the application whose outcome is still due.
    outstanding: BTreeSet<u16>,
    closed: bool,
    /// The kinds of event seen, for the tests of the seed programs.
    seen: BTreeSet<&'static str>,
}

impl Harness {
    /// Drains the outputs as a driver does, checking each.
    fn drain(&mut self) {
        loop {
            while let Some(bytes) = self.session.poll_transmit() {
                assert!(!self.closed, "bytes to send after Closed");
                feed_transmitted(&mut self.wire, &bytes, "client", |p| {
                    if let Err(e) = ClientCommand::from_packet(&p) {
                        panic!("client sent {p:?}, which is not a command: {e}");
                    }
                    self.last_sent_id = p.id();
                });
            }
            let Some(event) = self.session.poll_event() else {
                break;
            };
            assert!(!self.closed, "event {event:?} after Closed");
            self.seen.insert(event_kind(&event));
            match event {
                ClientEvent::Response { id, .. }
                | ClientEvent::LoggedIn { id, .. }
                | ClientEvent::LoginFailed { id, .. } => {
                    assert!(self.outstanding.remove(&id), "{event:?}: no such request");
                }
                ClientEvent::Closed { .. } => {
                    assert!(self.session.is_closed());
                    self.closed = true;
                }
                _ => {}
            }
        }
        if self.session.is_closed() {
            assert!(self.closed);
            assert!(
                self.outstanding.is_empty(),
                "unresolved {:?}",
                self.outstanding
            );
            assert_eq!(self.session.poll_timeout(), None);
            assert_eq!(self.session.pending_requests(), 0);
        }
        assert!(self.session.pending_requests() <= usize::from(MAX_ID));
    }

    /// Runs the timers at the current time; nothing may stay due.
    fn timeout(&mut self) {
        self.session.handle_timeout(self.now);
        if let Some((at, reason)) = self.session.poll_timeout() {
            assert!(at > self.now, "{reason} still due after handle_timeout");
        }
    }

    /// Records the outcome of a command the application issued.
    fn issued(&mut self, result: Result<u16, impl core::fmt::Debug>, expects_reply: bool) {
        if let Ok(id) = result {
            assert!((1..=MAX_ID).contains(&id), "request id {id}");
            if expects_reply {
                assert!(self.outstanding.insert(id), "id {id} handed out twice");
            }
        }
    }

    fn command(&mut self, input: &mut Input<'_>) {
        let now = self.now;
        match input.byte() % 4 {
            0 => {
                let decryptor = match input.byte() % 4 {
                    0 => FakeDecryptor::Reverse,
                    1 => FakeDecryptor::Broken,
                    2 => FakeDecryptor::Challenge,
                    _ => FakeDecryptor::Huge,
                };
                let user = input.username();
                let r = self.session.login(user, Box::new(decryptor), now);
                self.issued(r, true);
            }
            1 => {
                let user = input.username();
                let token = input.blob();
                let r = self.session.login_with_token(user, token, now);
                self.issued(r, true);
            }
            _ => {
                let cmd = input.client_command();
                let expects_reply = cmd != ClientCommand::Keep;
                let r = self.session.request(cmd, now);
                self.issued(r, expects_reply);
            }
        }
    }

    /// Feeds a well-formed server packet, in one or two chunks.
    fn server_packet(&mut self, input: &mut Input<'_>) {
        let id = match input.byte() % 4 {
            0 => NULL_ID,
            1 => self.last_sent_id,
            2 => self.outstanding.first().copied().unwrap_or(1),
            _ => input.u16() & MAX_ID,
        };
        let cmd = input.server_command();
        let mut wire = BytesMut::new();
        if cmd.encode(id, &mut wire).is_err() {
            return;
        }
        let split = usize::from(input.u16()) % (wire.len() + 1);
        self.session.handle_input(&wire[..split], self.now);
        self.session.handle_input(&wire[split..], self.now);
    }
}

fn event_kind(event: &ClientEvent) -> &'static str {
    match event {
        ClientEvent::Hello { .. } => "Hello",
        ClientEvent::Response { .. } => "Response",
        ClientEvent::LoggedIn { .. } => "LoggedIn",
        ClientEvent::LoginFailed { .. } => "LoginFailed",
        ClientEvent::Message { .. } => "Message",
        ClientEvent::Hook(_) => "Hook",
        ClientEvent::Shutdown { .. } => "Shutdown",
        ClientEvent::Closed { .. } => "Closed",
    }
}

/// Target `client_session`.
///
/// The input is a program: one byte picks the [`ClientConfig`], two the
/// first request id; then each instruction is one byte (mod 8) and its
/// operands:
///
/// - 0 `n bytes…`: raw input from the server;
/// - 1: a well-formed server packet (id: null, the last sent, a pending one
///   or any), fed in two chunks;
/// - 2 `ms:u16` / 3 `s:u16`: the clock moves forward;
/// - 4: `handle_timeout` now;
/// - 5: the clock moves to `poll_timeout` and `handle_timeout` runs;
/// - 6: a command (`login` with a fake decryptor, `login_with_token`, or any
///   `request`);
/// - 7 `b`: `close` when `b` is a multiple of 4.
///
/// Outputs are drained after every instruction.
pub fn client_session(data: &[u8]) {
    run(data);
}

/// Runs a program; returns the kinds of event seen.
pub(super) fn run(data: &[u8]) -> BTreeSet<&'static str> {
    let mut input = Input::new(data);
    let config = config(input.byte());
    let start = Instant::now();
    let mut h = Harness {
        session: ClientSession::new(config, input.u16(), start),
        now: start,
        wire: Decoder::new(Direction::ToServer),
        last_sent_id: 0,
        outstanding: BTreeSet::new(),
        closed: false,
        seen: BTreeSet::new(),
    };
    h.drain();
    while !input.is_empty() {
        match input.byte() % 8 {
            0 => {
                let n = usize::from(input.byte());
                let chunk = input.take(n);
                h.session.handle_input(chunk, h.now);
            }
            1 => h.server_packet(&mut input),
            2 => h.now += Duration::from_millis(u64::from(input.u16())),
            3 => h.now += Duration::from_secs(u64::from(input.u16())),
            4 => h.timeout(),
            5 => {
                if let Some((at, _)) = h.session.poll_timeout() {
                    h.now = h.now.max(at);
                }
                h.timeout();
            }
            6 => h.command(&mut input),
            _ => {
                if input.byte().is_multiple_of(4) {
                    h.session.close();
                }
            }
        }
        h.drain();
    }
    h.session.close();
    h.drain();
    assert!(h.closed);
    // A closed session ignores everything.
    h.session
        .handle_input(b"\x10\x1f\xf0\x00\x00\x01\xff\xff\r\n", h.now);
    h.session.handle_timeout(h.now + Duration::from_secs(3600));
    assert!(h.session.poll_transmit().is_none());
    assert!(h.session.poll_event().is_none());
    h.seen
}
