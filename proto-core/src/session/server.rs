//! The server side of one connection: [`ServerSession`].
//!
//! The session validates every incoming packet, tracks the login state of its
//! connection and enforces which actions each state allows, the idle deadline
//! and the verification deadline. It knows nothing of other connections or of
//! storage: requests that need them come out as [`ServerEvent::Request`], and
//! the application answers through [`ServerSession::reply`] and the state
//! commands ([`ServerSession::begin_verification`],
//! [`ServerSession::complete_login`], [`ServerSession::logout`]).
//!
//! States: `Queued` (no slot yet, no HELLO) -> `LoggedOut` ->
//! `AwaitingVerification { user, challenge, deadline }` -> `LoggedIn { user,
//! permission }`, and `Closed` from anywhere.
//!
//! Drive it as the crate docs say: feed input and timeouts, issue commands,
//! then write every [`ServerSession::poll_transmit`] chunk before handling
//! every [`ServerSession::poll_event`]; sleep until
//! [`ServerSession::poll_timeout`] or more input.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::codes::{Action, ErrorCode};
use crate::command::{AdminCommand, ClientCommand, CommandError, ServerCommand};
use crate::crypto::Challenge;
use crate::decoder::{DecodeError, Decoder};
use crate::header::{Direction, MAX_PACKET_LEN, NULL_ID};
use crate::packet::{EncodeError, Packet};
use crate::username::Username;

/// Timeouts and limits of a server session.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// A connection that sends no packet for this long is closed with ERR IDLE.
    pub idle_timeout: Duration,
    /// How long a login challenge may stay unanswered.
    ///
    /// A timeout too long for [`Instant`] to represent (as a configuration
    /// may ask for) never fires, for both timeouts.
    pub verification_timeout: Duration,
    /// Bytes a queued (not yet admitted) connection may send before it is dropped.
    pub max_queued_input: usize,
    /// A packet whose first byte has arrived must be complete within this
    /// long, or the session sends ERR IDLE and closes (a connection that
    /// trickles a packet cannot hold its slot). Measured from the first byte
    /// of each packet: pipelined packets each get the whole time.
    pub packet_timeout: Duration,
    /// A connection must be logged in within this long of its admission (or
    /// of its last logout), or the session sends ERR IDLE and closes.
    pub login_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            idle_timeout: Duration::from_secs(25 * 60),
            verification_timeout: Duration::from_secs(2 * 60),
            max_queued_input: MAX_PACKET_LEN,
            packet_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// Why a session closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer sent bytes that are not a valid packet (ERR sent first).
    Malformed(DecodeError),
    /// No packet within the idle timeout (ERR IDLE sent first).
    Idle,
    /// The application closed it, with the error sent first if any.
    Local(Option<ErrorCode>),
    /// A queued connection sent more than it may before admission.
    QueueOverflow,
    /// A started packet was not completed within the packet timeout (ERR
    /// IDLE sent first).
    PacketTimeout,
    /// The connection did not log in within the login timeout (ERR IDLE sent
    /// first).
    LoginTimeout,
}

/// Which timer [`ServerSession::poll_timeout`] is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerTimer {
    /// The idle deadline.
    Idle,
    /// The pending login verification's deadline.
    Verification,
    /// The deadline of the packet being received.
    Packet,
    /// The deadline for logging in.
    Login,
}

/// What the application must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// A valid request allowed in the current state. Answer it with the same
    /// id: `reply`, `begin_verification` (LOGIN), `complete_login` (token
    /// LOGIN). Never KEEP or VERIF: the session handles those.
    Request {
        /// The request id to answer with.
        id: u16,
        /// The request.
        command: ClientCommand,
    },
    /// The VERIF answer matched the challenge. Finish with
    /// [`ServerSession::complete_login`] or [`ServerSession::reject_login`].
    Verified {
        /// The VERIF request's id.
        id: u16,
        /// Who proved their key.
        username: Username,
        /// The challenge text (the reusable token on TLS).
        challenge: Challenge,
    },
    /// A challenge was not answered in time; the session is logged out.
    VerificationExpired {
        /// Whose login lapsed.
        username: Username,
    },
    /// Everything queued before [`ServerSession::push_marker`] with this token
    /// has been handed to the transport.
    Written(u64),
    /// The session closed; flush `poll_transmit` and close the transport.
    Closed(CloseReason),
}

/// Misuse of the session API by the application.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The session is closed.
    #[error("session is closed")]
    Closed,
    /// The command does not fit the session's state.
    #[error("expected state {expected}, session is {actual}")]
    WrongState {
        /// The state the command needs.
        expected: &'static str,
        /// The session's state.
        actual: &'static str,
    },
    /// The packet could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[derive(Debug)]
enum State {
    Queued,
    LoggedOut,
    AwaitingVerification {
        username: Username,
        challenge: Challenge,
        /// `None` when the timeout overflows `Instant`: never.
        deadline: Option<Instant>,
    },
    Authenticating {
        username: Username,
    },
    LoggedIn {
        username: Username,
        permission: u8,
    },
    Closed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::LoggedOut => "logged out",
            State::AwaitingVerification { .. } => "awaiting verification",
            State::Authenticating { .. } => "authenticating",
            State::LoggedIn { .. } => "logged in",
            State::Closed => "closed",
        }
    }
}

/// The server side of one connection.
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    state: State,
    decoder: Decoder,
    out: BytesMut,
    /// Bytes ever queued / ever handed out, for markers.
    queued: u64,
    handed: u64,
    markers: VecDeque<(u64, u64)>,
    events: VecDeque<ServerEvent>,
    idle_deadline: Option<Instant>,
    /// Set while a packet is partly received.
    packet_deadline: Option<Instant>,
    /// Set while the connection is admitted and not logged in.
    login_deadline: Option<Instant>,
}

impl ServerSession {
    /// A session for a new connection, queued until [`Self::admit`].
    pub fn new(config: ServerConfig) -> Self {
        ServerSession {
            config,
            state: State::Queued,
            decoder: Decoder::new(Direction::ToServer),
            out: BytesMut::new(),
            queued: 0,
            handed: 0,
            markers: VecDeque::new(),
            events: VecDeque::new(),
            idle_deadline: None,
            packet_deadline: None,
            login_deadline: None,
        }
    }

    // ----- getters -----

    /// Name of the current state, for logs.
    pub fn state_name(&self) -> &'static str {
        self.state.name()
    }

    /// Whether the connection waits for a slot.
    pub fn is_queued(&self) -> bool {
        matches!(self.state, State::Queued)
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// The logged-in user and permission level.
    pub fn logged_in(&self) -> Option<(&Username, u8)> {
        match &self.state {
            State::LoggedIn {
                username,
                permission,
            } => Some((username, *permission)),
            _ => None,
        }
    }

    /// The user whose challenge is pending, if any.
    pub fn pending_verification(&self) -> Option<&Username> {
        match &self.state {
            State::AwaitingVerification { username, .. } | State::Authenticating { username } => {
                Some(username)
            }
            _ => None,
        }
    }

    /// Whether part of a packet is buffered (a packet is in flight).
    pub fn is_mid_packet(&self) -> bool {
        self.decoder.is_mid_packet()
    }

    /// Frees buffers that hold nothing, so that an idle connection keeps none.
    pub fn release_buffers(&mut self) {
        self.decoder.release_if_empty();
        if self.out.is_empty() && self.out.capacity() > 0 {
            self.out = BytesMut::new();
        }
    }

    // ----- inputs -----

    /// Feeds bytes received from the client.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        match self.state {
            State::Closed => {}
            State::Queued => {
                self.decoder.feed(data);
                if self.decoder.buffered() > self.config.max_queued_input {
                    self.close_with(CloseReason::QueueOverflow);
                }
            }
            _ => {
                self.decoder.feed(data);
                let completed = self.process(now);
                if self.is_closed() || !self.decoder.is_mid_packet() {
                    self.packet_deadline = None;
                } else if self.packet_deadline.is_none() || completed {
                    // A new packet started (after a complete one, or the first).
                    self.packet_deadline = now.checked_add(self.config.packet_timeout);
                }
            }
        }
    }

    /// Fires the timers that are due; a no-op when none is.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::AwaitingVerification {
            deadline: Some(deadline),
            ..
        } = &self.state
            && *deadline <= now
        {
            let old = core::mem::replace(&mut self.state, State::LoggedOut);
            if let State::AwaitingVerification { username, .. } = old {
                self.events
                    .push_back(ServerEvent::VerificationExpired { username });
            }
        }
        if let Some(deadline) = self.idle_deadline
            && deadline <= now
            && !self.is_closed()
        {
            self.queue_push(&ServerCommand::Err(ErrorCode::Idle));
            self.close_with(CloseReason::Idle);
        }
        if let Some(deadline) = self.packet_deadline
            && deadline <= now
            && !self.is_closed()
        {
            self.queue_push(&ServerCommand::Err(ErrorCode::Idle));
            self.close_with(CloseReason::PacketTimeout);
        }
        if let Some(deadline) = self.login_deadline
            && deadline <= now
            && !self.is_closed()
            && self.logged_in().is_none()
        {
            self.queue_push(&ServerCommand::Err(ErrorCode::Idle));
            self.close_with(CloseReason::LoginTimeout);
        }
    }

    // ----- outputs -----

    /// The next bytes to write to the client, all queued output in one chunk.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.out.is_empty() {
            return None;
        }
        let chunk = self.out.split().freeze();
        self.handed += chunk.len() as u64;
        while let Some(&(at, token)) = self.markers.front() {
            if at > self.handed {
                break;
            }
            self.markers.pop_front();
            self.events.push_back(ServerEvent::Written(token));
        }
        Some(chunk)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        // Markers with nothing before them complete at once.
        while let Some(&(at, token)) = self.markers.front() {
            if at > self.handed {
                break;
            }
            self.markers.pop_front();
            self.events.push_back(ServerEvent::Written(token));
        }
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must next be called, and why.
    pub fn poll_timeout(&self) -> Option<(Instant, ServerTimer)> {
        if self.is_closed() {
            return None;
        }
        let verif = match &self.state {
            State::AwaitingVerification { deadline, .. } => *deadline,
            _ => None,
        };
        [
            (self.idle_deadline, ServerTimer::Idle),
            (verif, ServerTimer::Verification),
            (self.packet_deadline, ServerTimer::Packet),
            (self.login_deadline, ServerTimer::Login),
        ]
        .into_iter()
        .filter_map(|(at, why)| at.map(|at| (at, why)))
        .min_by_key(|(at, _)| *at)
    }

    // ----- commands -----

    /// Admits a queued connection: sends HELLO with the MOTD and starts
    /// processing what it already sent.
    pub fn admit(&mut self, motd: &[u8], now: Instant) -> Result<(), SessionError> {
        match self.state {
            State::Queued => {}
            State::Closed => return Err(SessionError::Closed),
            _ => return Err(self.wrong_state("queued")),
        }
        self.queue(
            &ServerCommand::Hello {
                motd: Bytes::copy_from_slice(motd),
            },
            NULL_ID,
        )?;
        self.state = State::LoggedOut;
        self.idle_deadline = now.checked_add(self.config.idle_timeout);
        self.login_deadline = now.checked_add(self.config.login_timeout);
        self.handle_input(&[], now);
        Ok(())
    }

    /// Answers a LOGIN with the encrypted challenge and waits for its VERIF.
    pub fn begin_verification(
        &mut self,
        id: u16,
        username: Username,
        challenge: Challenge,
        ciphertext: Bytes,
        now: Instant,
    ) -> Result<(), SessionError> {
        match self.state {
            State::LoggedOut | State::AwaitingVerification { .. } => {}
            State::Closed => return Err(SessionError::Closed),
            _ => return Err(self.wrong_state("logged out")),
        }
        self.queue(
            &ServerCommand::Verif {
                challenge: ciphertext,
            },
            id,
        )?;
        let deadline = now.checked_add(self.config.verification_timeout);
        self.state = State::AwaitingVerification {
            username,
            challenge,
            deadline,
        };
        Ok(())
    }

    /// Logs the connection in and answers OK to request `id` (the VERIF after
    /// [`ServerEvent::Verified`], or a token LOGIN).
    pub fn complete_login(
        &mut self,
        id: u16,
        username: Username,
        permission: u8,
    ) -> Result<(), SessionError> {
        match self.state {
            State::LoggedOut
            | State::AwaitingVerification { .. }
            | State::Authenticating { .. } => {}
            State::Closed => return Err(SessionError::Closed),
            _ => return Err(self.wrong_state("logged out")),
        }
        self.queue(&ServerCommand::Ok, id)?;
        self.state = State::LoggedIn {
            username,
            permission,
        };
        self.login_deadline = None;
        Ok(())
    }

    /// Refuses a verified login (for example the account went away) with `code`.
    pub fn reject_login(&mut self, id: u16, code: ErrorCode) -> Result<(), SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        if matches!(self.state, State::Authenticating { .. }) {
            self.state = State::LoggedOut;
        }
        self.queue(&ServerCommand::Err(code), id)
    }

    /// Releases the login (LOGOUT, DEREG); sends nothing. The login timeout
    /// starts again from `now` for a session that was logged in.
    pub fn logout(&mut self, now: Instant) {
        if matches!(self.state, State::Queued | State::Closed) {
            return;
        }
        if self.login_deadline.is_none() {
            self.login_deadline = now.checked_add(self.config.login_timeout);
        }
        self.state = State::LoggedOut;
    }

    /// Changes the logged-in user's permission level.
    pub fn set_permission(&mut self, level: u8) {
        if let State::LoggedIn { permission, .. } = &mut self.state {
            *permission = level;
        }
    }

    /// Answers request `id`.
    pub fn reply(&mut self, id: u16, command: &ServerCommand) -> Result<(), SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        self.queue(command, id)
    }

    /// Answers request `id` with OK.
    pub fn reply_ok(&mut self, id: u16) -> Result<(), SessionError> {
        self.reply(id, &ServerCommand::Ok)
    }

    /// Answers request `id` with ERR `code`.
    pub fn reply_err(&mut self, id: u16, code: ErrorCode) -> Result<(), SessionError> {
        self.reply(id, &ServerCommand::Err(code))
    }

    /// Sends a server-initiated packet (null id): RECIV, HOOK, SHTDWN.
    pub fn send(&mut self, command: &ServerCommand) -> Result<(), SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        self.queue(command, NULL_ID)
    }

    /// Sends an already built packet as it is.
    pub fn send_packet(&mut self, packet: &Packet) -> Result<(), SessionError> {
        if self.is_closed() {
            return Err(SessionError::Closed);
        }
        packet.encode(&mut self.out);
        self.queued += packet.wire_len() as u64;
        Ok(())
    }

    /// How many bytes this session has queued for the peer since it began:
    /// the stream position right after everything queued so far. A driver
    /// that counts the bytes it wrote can tell from it whether a packet
    /// reached the socket whole when a write fails part-way.
    pub fn queued_total(&self) -> u64 {
        self.queued
    }

    /// Queues a marker: [`ServerEvent::Written`] with `token` comes out once
    /// everything queued before it has been handed out by `poll_transmit`.
    pub fn push_marker(&mut self, token: u64) {
        self.markers.push_back((self.queued, token));
    }

    /// Closes the session, first sending ERR `code` with the null id if given.
    pub fn close(&mut self, code: Option<ErrorCode>) {
        if self.is_closed() {
            return;
        }
        if let Some(code) = code {
            self.queue_push(&ServerCommand::Err(code));
        }
        self.close_with(CloseReason::Local(code));
    }

    // ----- internals -----

    fn wrong_state(&self, expected: &'static str) -> SessionError {
        SessionError::WrongState {
            expected,
            actual: self.state.name(),
        }
    }

    fn queue(&mut self, command: &ServerCommand, id: u16) -> Result<(), SessionError> {
        let before = self.out.len();
        command.encode(id, &mut self.out)?;
        self.queued += (self.out.len() - before) as u64;
        Ok(())
    }

    /// Queues a push that cannot fail to encode (an ERR).
    fn queue_push(&mut self, command: &ServerCommand) {
        // ERR packets have no arguments, so encoding cannot fail.
        let _ = self.queue(command, NULL_ID);
    }

    fn close_with(&mut self, reason: CloseReason) {
        if !self.is_closed() {
            self.state = State::Closed;
            self.idle_deadline = None;
            self.packet_deadline = None;
            self.login_deadline = None;
            self.decoder = Decoder::new(Direction::ToServer);
            self.events.push_back(ServerEvent::Closed(reason));
        }
    }

    /// Handles every complete packet buffered; whether there was one.
    fn process(&mut self, now: Instant) -> bool {
        let mut completed = false;
        while !self.is_closed() && !self.is_queued() {
            // KEEP only refreshes the idle deadline, so it is read in place
            // and never split off the input buffer.
            let next = self.decoder.decode_ref().map(|view| {
                view.map(|view| (view.action() != Action::Keep).then(|| view.into_packet()))
            });
            match next {
                Ok(Some(packet)) => {
                    completed = true;
                    self.idle_deadline = now.checked_add(self.config.idle_timeout);
                    if let Some(packet) = packet {
                        self.handle_packet(&packet);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    self.queue_push(&ServerCommand::Err(e.code()));
                    self.close_with(CloseReason::Malformed(e));
                }
            }
        }
        completed
    }

    fn handle_packet(&mut self, p: &Packet) {
        let id = p.id();
        if let Err(e) = self.dispatch(p) {
            // A valid packet that cannot be served: ERR with its id, connection kept.
            let _ = self.queue(&ServerCommand::Err(e.code), id);
        }
    }

    fn dispatch(&mut self, p: &Packet) -> Result<(), CommandError> {
        // KEEP never gets here: `process` reads it in place.
        let action = p.action();
        let logged_in = matches!(self.state, State::LoggedIn { .. });
        let allowed_logged_out = matches!(action, Action::Reg | Action::Login | Action::Verif);
        if logged_in && allowed_logged_out {
            return Err(CommandError::new(ErrorCode::Invalid, "already logged in"));
        }
        if !logged_in && !allowed_logged_out {
            if action == Action::Logout && matches!(self.state, State::AwaitingVerification { .. })
            {
                // LOGOUT cancels a pending verification, as the specification says.
                self.state = State::LoggedOut;
                let _ = self.queue(&ServerCommand::Ok, p.id());
                return Ok(());
            }
            return Err(CommandError::new(ErrorCode::NoSess, "not logged in"));
        }
        if action == Action::Verif {
            return self.verify(p);
        }
        if action == Action::Admin
            && let State::LoggedIn { permission, .. } = self.state
        {
            // The original refuses plain users before looking at the operation.
            if permission == 0 {
                return Err(CommandError::new(ErrorCode::Perms, "administrators only"));
            }
            let admin = AdminCommand::from_packet(p)?;
            if permission < admin.op().required_permission().code() {
                return Err(CommandError::new(
                    ErrorCode::Perms,
                    "permission level too low",
                ));
            }
            self.events.push_back(ServerEvent::Request {
                id: p.id(),
                command: ClientCommand::Admin(admin),
            });
            return Ok(());
        }
        let command = ClientCommand::from_packet(p)?;
        self.events.push_back(ServerEvent::Request {
            id: p.id(),
            command,
        });
        Ok(())
    }

    fn verify(&mut self, p: &Packet) -> Result<(), CommandError> {
        let ClientCommand::Verif { username, answer } = ClientCommand::from_packet(p)? else {
            return Err(CommandError::new(ErrorCode::Invalid, "not a verification"));
        };
        let State::AwaitingVerification {
            username: pending,
            challenge,
            ..
        } = &self.state
        else {
            return Err(CommandError::new(
                ErrorCode::Invalid,
                "no verification pending",
            ));
        };
        // Evaluate both before branching so timing does not tell which failed.
        let name_ok = *pending == username;
        let text_ok = challenge.matches(&answer);
        if !(name_ok && text_ok) {
            self.state = State::LoggedOut;
            return Err(CommandError::new(
                ErrorCode::Handshake,
                "wrong verification",
            ));
        }
        let challenge = challenge.clone();
        self.state = State::Authenticating {
            username: username.clone(),
        };
        self.events.push_back(ServerEvent::Verified {
            id: p.id(),
            username,
            challenge,
        });
        Ok(())
    }
}
