//! The client side of a gochat v1 connection as a sans-IO state machine:
//! [`ClientSession`].
//!
//! A session turns the bytes a server sends into [`ClientEvent`]s, and the
//! application's commands (log in, send a message, subscribe...) into bytes
//! for the server. It matches replies to requests by id, runs the login
//! handshake, sends keepalives and times requests out. It never touches a
//! socket, never reads a clock and never draws randomness: bytes and time
//! ([`Instant`] values) come in from the driver, and the login challenge is
//! decrypted by a [`Decryptor`] the application passes in.
//!
//! # States
//!
//! `AwaitingHello` -> (HELLO) -> `LoggedOut` -> ([`login`](ClientSession::login))
//! -> `AwaitingVerification` -> (OK) -> `LoggedIn` -> (LOGOUT or DEREG's OK) ->
//! `LoggedOut`; any state -> `Closed`. [`ClientSession::state`] gives a
//! [`ClientState`] view. Before the HELLO only KEEP may be sent; while logged
//! out, REG and LOGIN; during a login, REG; once logged in, everything but
//! REG, LOGIN and VERIF (other commands get [`SessionError::WrongState`]).
//!
//! # Requests and replies
//!
//! Request ids run 1..=1023 from the caller's `first_id` and wrap from 1023
//! to 1, skipping every id whose reply (or login outcome) is still awaited.
//! OK and ERR answer any request, VERIF only a challenge LOGIN, REQ only REQ,
//! USRS only USRS; a reply of another kind resolves its request with
//! [`RequestError::Unexpected`], and a reply whose id matches nothing pending
//! (it came after a timeout, say) is ignored and counted
//! ([`ignored_replies`](ClientSession::ignored_replies)). HELLO, RECIV, HOOK and
//! SHTDWN are pushes whatever their id; an ERR with the null id means the
//! server is closing the connection, and closes the session.
//!
//! # Driving a session
//!
//! 1. Feed what happens: bytes from the server with
//!    [`handle_input`](ClientSession::handle_input) (any chunking), and, once the
//!    instant from [`poll_timeout`](ClientSession::poll_timeout) has passed,
//!    [`handle_timeout`](ClientSession::handle_timeout) (a no-op when nothing is
//!    due, so spurious wake-ups are harmless).
//! 2. Issue commands ([`login`](ClientSession::login),
//!    [`send_message`](ClientSession::send_message),
//!    [`request`](ClientSession::request)...). Each returns the request id its
//!    reply will carry in a [`ClientEvent::Response`] (or
//!    [`LoggedIn`](ClientEvent::LoggedIn) / [`LoginFailed`](ClientEvent::LoginFailed)).
//! 3. After any of the above, drain the outputs: write every
//!    [`poll_transmit`](ClientSession::poll_transmit) chunk to the server, handle
//!    every [`poll_event`](ClientSession::poll_event) (handling an event may
//!    issue commands: then drain again), and sleep until `poll_timeout()` or
//!    new input.
//! 4. Once [`ClientEvent::Closed`] has come out ([`is_closed`](ClientSession::is_closed)
//!    is true), close the transport: a closed session transmits nothing more.
//!    When the transport ends first, call [`close`](ClientSession::close) to
//!    resolve what is still pending.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use gochat_proto::session::client::{ClientConfig, ClientEvent, ClientSession};
//! use gochat_proto::{Action, ClientCommand, Decoder, Direction, ServerCommand};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let start = Instant::now();
//! let mut client = ClientSession::new(ClientConfig::default(), 7, start);
//!
//! // The server greets first.
//! let mut wire = bytes::BytesMut::new();
//! ServerCommand::Hello { motd: "hi".into() }.encode(0, &mut wire)?;
//! client.handle_input(&wire, start);
//! assert!(matches!(client.poll_event(), Some(ClientEvent::Hello { .. })));
//!
//! // Issue a command; its bytes are waiting for the driver.
//! let id = client.request(ClientCommand::Keep, start)?;
//! assert_eq!(id, 7);
//! let sent = client.poll_transmit().ok_or("nothing to send")?;
//! let mut server_side = Decoder::new(Direction::ToServer);
//! server_side.feed(&sent);
//! assert_eq!(server_side.decode()?.map(|p| p.action()), Some(Action::Keep));
//!
//! // Nothing is due before the keepalive interval has passed.
//! let (at, _reason) = client.poll_timeout().ok_or("no timer")?;
//! assert_eq!(at, start + Duration::from_secs(600));
//! client.handle_timeout(start + Duration::from_secs(1));
//! assert!(client.poll_transmit().is_none());
//! # Ok(())
//! # }
//! ```
//!
//! A blocking driver over [`std::net::TcpStream`], with no async runtime:
//!
//! ```no_run
//! use std::io::{ErrorKind, Read, Write};
//! use std::net::TcpStream;
//! use std::time::{Duration, Instant};
//! use gochat_proto::session::client::{ClientConfig, ClientEvent, ClientSession};
//!
//! fn run(mut stream: TcpStream) -> std::io::Result<()> {
//!     let mut client = ClientSession::new(ClientConfig::default(), 1, Instant::now());
//!     let mut buf = [0u8; 4096];
//!     loop {
//!         // Drain the outputs; handling an event may issue commands, whose
//!         // bytes go out on the next round.
//!         loop {
//!             while let Some(bytes) = client.poll_transmit() {
//!                 stream.write_all(&bytes)?;
//!             }
//!             let Some(event) = client.poll_event() else { break };
//!             match event {
//!                 ClientEvent::Closed { reason } => {
//!                     eprintln!("closed: {reason}");
//!                     return Ok(());
//!                 }
//!                 // React here, e.g. call client.login(...) on Hello.
//!                 other => println!("{other:?}"),
//!             }
//!         }
//!         // Sleep until the next timer or input.
//!         let now = Instant::now();
//!         let wait = client.poll_timeout().map(|(at, _)| at.saturating_duration_since(now));
//!         if wait == Some(Duration::ZERO) {
//!             client.handle_timeout(now);
//!             continue;
//!         }
//!         stream.set_read_timeout(wait)?;
//!         match stream.read(&mut buf) {
//!             Ok(0) => client.close(),
//!             Ok(n) => client.handle_input(&buf[..n], Instant::now()),
//!             Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
//!                 client.handle_timeout(Instant::now())
//!             }
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//! ```

mod commands;
mod pending;
mod replies;
#[cfg(test)]
mod tests;
mod types;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

pub use types::{ClientEvent, ClientState, ClientTimer, CloseReason, RequestError, SessionError};

use crate::codes::Action;
use crate::command::ClientCommand;
use crate::crypto::Decryptor;
use crate::decoder::Decoder;
use crate::header::Direction;
use crate::username::Username;
use pending::{Awaiting, Pending};

/// Timing settings of a [`ClientSession`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Send a KEEP after this long without sending anything; `None` (or zero)
    /// never does. The server's idle deadline is 25 minutes.
    pub keepalive: Option<Duration>,
    /// How long a request waits for its reply before it fails with
    /// [`RequestError::Timeout`].
    pub request_timeout: Duration,
}

impl ClientConfig {
    /// The default keepalive interval: 10 minutes.
    pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(10 * 60);
    /// The default request timeout: 30 seconds.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            keepalive: Some(Self::DEFAULT_KEEPALIVE),
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// The session's state; each state owns its data.
enum Phase {
    AwaitingHello,
    LoggedOut,
    LoggingIn(Handshake),
    LoggedIn { username: Username },
    Closed(CloseReason),
}

/// A login in progress.
struct Handshake {
    username: Username,
    /// The LOGIN's id, reported in `LoggedIn` / `LoginFailed`.
    login_id: u16,
    step: Step,
}

/// Where a login is.
enum Step {
    /// `LOGIN <user>` sent with `login_id`; the encrypted challenge is awaited.
    Challenge {
        decryptor: Box<dyn Decryptor + Send>,
    },
    /// `VERIF <user> <answer>` sent with `verif_id`; OK is awaited.
    Answer { verif_id: u16, token: Bytes },
    /// `LOGIN <user> <token>` sent with `login_id`; OK is awaited.
    Token { token: Bytes },
}

impl Handshake {
    /// The id whose reply the handshake awaits now.
    fn awaited_id(&self) -> u16 {
        match self.step {
            Step::Answer { verif_id, .. } => verif_id,
            Step::Challenge { .. } | Step::Token { .. } => self.login_id,
        }
    }
}

/// One client connection's protocol state. See the [module docs](self) for
/// the drive loop.
pub struct ClientSession {
    config: ClientConfig,
    phase: Phase,
    pending: Pending,
    decoder: Decoder,
    out: BytesMut,
    events: VecDeque<ClientEvent>,
    last_sent: Instant,
    ignored_replies: u64,
}

impl core::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientSession")
            .field("state", &self.state())
            .field("pending", &self.pending.len())
            .field("queued_bytes", &self.out.len())
            .field("queued_events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// A session for a freshly opened connection, awaiting the server's HELLO.
    ///
    /// `first_id` is the id of the first request, normally drawn at random by
    /// the caller (the original client starts at a random point); values
    /// outside 1..=1023 are folded into that range. `now` starts the
    /// keepalive interval.
    pub fn new(config: ClientConfig, first_id: u16, now: Instant) -> Self {
        ClientSession {
            config,
            phase: Phase::AwaitingHello,
            pending: Pending::new(first_id),
            decoder: Decoder::new(Direction::ToClient),
            out: BytesMut::new(),
            events: VecDeque::new(),
            last_sent: now,
            ignored_replies: 0,
        }
    }

    // ---- getters ----

    /// The settings the session runs with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// A view of the current state.
    pub fn state(&self) -> ClientState<'_> {
        match &self.phase {
            Phase::AwaitingHello => ClientState::AwaitingHello,
            Phase::LoggedOut => ClientState::LoggedOut,
            Phase::LoggingIn(h) => ClientState::AwaitingVerification {
                username: &h.username,
            },
            Phase::LoggedIn { username } => ClientState::LoggedIn { username },
            Phase::Closed(_) => ClientState::Closed,
        }
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        match &self.phase {
            Phase::Closed(reason) => Some(reason),
            _ => None,
        }
    }

    /// The logged-in user, if any.
    pub fn username(&self) -> Option<&Username> {
        match &self.phase {
            Phase::LoggedIn { username } => Some(username),
            _ => None,
        }
    }

    /// Number of requests awaiting their reply (a login in progress counts one).
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Number of replies ignored because no pending request had their id
    /// (typically replies that came after their request timed out).
    pub fn ignored_replies(&self) -> u64 {
        self.ignored_replies
    }

    // ---- inputs ----

    /// Takes bytes received from the server, in chunks of any size.
    ///
    /// Every complete packet is handled at once; a malformed one closes the
    /// session with [`CloseReason::Decode`] or [`CloseReason::Command`]. Bytes
    /// received after the session closed are ignored.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if self.is_closed() {
            return;
        }
        self.decoder.feed(data);
        while !self.is_closed() {
            match self.decoder.decode() {
                Ok(Some(packet)) => self.on_packet(&packet, now),
                Ok(None) => break,
                Err(e) => self.close_with(CloseReason::Decode(e)),
            }
        }
        self.decoder.release_if_empty();
    }

    /// Runs the timers due at `now`: requests past their deadline fail with
    /// [`RequestError::Timeout`], and a KEEP is queued when nothing was sent
    /// for the keepalive interval. Does nothing when nothing is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        while let Some((id, entry)) = self.pending.pop_expired(now) {
            self.on_request_failed(id, entry.awaiting, RequestError::Timeout);
        }
        if let Some(due) = self.keepalive_deadline()
            && due <= now
        {
            match self.send(&ClientCommand::Keep, None, now) {
                Ok(_) => {}
                // All 1023 ids await replies, so the server hears from us anyway.
                Err(_) => self.last_sent = now,
            }
        }
    }

    // ---- outputs ----

    /// Everything queued for the server since the last call, as one chunk;
    /// `None` when nothing is queued (and always once closed).
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.split().freeze())
        }
    }

    /// The next event for the application, oldest first.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, and
    /// why: the earliest of the keepalive and request deadlines. `None` when no
    /// timer runs (always once closed). The instant may be in the past.
    pub fn poll_timeout(&self) -> Option<(Instant, ClientTimer)> {
        if self.is_closed() {
            return None;
        }
        let request = self
            .pending
            .earliest()
            .map(|(at, id)| (at, ClientTimer::Request { id }));
        let keepalive = self
            .keepalive_deadline()
            .map(|at| (at, ClientTimer::Keepalive));
        match (request, keepalive) {
            (Some(r), Some(k)) => Some(if k.0 < r.0 { k } else { r }),
            (r, k) => r.or(k),
        }
    }

    // ---- closing ----

    /// Closes the session locally (the transport ended, or the application is
    /// done). Pending requests fail with [`RequestError::Closed`], queued bytes
    /// are dropped and [`ClientEvent::Closed`] with [`CloseReason::Local`] is
    /// emitted. Does nothing when already closed.
    pub fn close(&mut self) {
        self.close_with(CloseReason::Local);
    }

    /// Closes with `reason`: fails every pending request, drops what is
    /// queued, emits `Closed` last. Idempotent.
    fn close_with(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        let previous = core::mem::replace(&mut self.phase, Phase::Closed(reason.clone()));
        self.out = BytesMut::new();
        self.decoder = Decoder::new(Direction::ToClient);
        for (id, entry) in self.pending.drain() {
            if let Awaiting::Request(_) = entry.awaiting {
                self.events.push_back(ClientEvent::Response {
                    id,
                    result: Err(RequestError::Closed),
                });
            }
        }
        if let Phase::LoggingIn(h) = previous {
            self.events.push_back(ClientEvent::LoginFailed {
                id: h.login_id,
                username: h.username,
                error: RequestError::Closed,
            });
        }
        self.events.push_back(ClientEvent::Closed { reason });
    }

    // ---- internals shared by the submodules ----

    /// When the next KEEP is due, if keepalives are on.
    fn keepalive_deadline(&self) -> Option<Instant> {
        let every = self.config.keepalive.filter(|d| !d.is_zero())?;
        self.last_sent.checked_add(every)
    }

    /// Encodes `cmd` with a fresh id into the output, registers what its reply
    /// is awaited as (`None`: no reply, KEEP) and restarts the keepalive
    /// interval. On error nothing changes.
    fn send(
        &mut self,
        cmd: &ClientCommand,
        awaiting: Option<Awaiting>,
        now: Instant,
    ) -> Result<u16, SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        // A login's id stays taken until its outcome is reported, even once
        // the LOGIN itself is answered, so no other outcome carries it.
        let reserved = match &self.phase {
            Phase::LoggingIn(h) => Some(h.login_id),
            _ => None,
        };
        let id = self
            .pending
            .next_free(reserved)
            .ok_or(SessionError::TooManyPending)?;
        cmd.encode(id, &mut self.out)?;
        self.pending.commit(id);
        if let Some(awaiting) = awaiting {
            let deadline = now.checked_add(self.config.request_timeout);
            self.pending.insert(id, awaiting, deadline);
        }
        self.last_sent = now;
        Ok(id)
    }

    /// What a request with `action` is awaited as.
    fn awaiting_for(action: Action) -> Option<Awaiting> {
        match action {
            Action::Keep => None,
            other => Some(Awaiting::Request(other)),
        }
    }
}
