//! What a [`ClientSession`](super::ClientSession) hands back: events, request
//! and session errors, the close reason, the state view and the timer reason.

use core::fmt;

use bytes::Bytes;

use crate::codes::{Action, ErrorCode};
use crate::command::{CommandError, HookEvent, ServerCommand};
use crate::decoder::DecodeError;
use crate::packet::EncodeError;
use crate::username::Username;

/// Something the application must know about, from
/// [`ClientSession::poll_event`](super::ClientSession::poll_event).
#[derive(Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server admitted the connection and greeted it
    /// (`AwaitingHello` -> `LoggedOut`).
    Hello {
        /// The message of the day (may be empty).
        motd: Bytes,
    },
    /// The answer to a request other than a login.
    ///
    /// `Ok` holds the server's reply: [`ServerCommand::Ok`] for most requests,
    /// [`ServerCommand::Req`] for a key request, [`ServerCommand::Usrs`] for a
    /// user list. An ERR reply is `Err(RequestError::Server(code))`.
    Response {
        /// The id the request was sent with.
        id: u16,
        /// The reply, or why there is none.
        result: Result<ServerCommand, RequestError>,
    },
    /// A login (challenge or token) succeeded; the session is `LoggedIn`.
    LoggedIn {
        /// The id of the LOGIN request.
        id: u16,
        /// Who is logged in.
        username: Username,
        /// The decrypted challenge, which over TLS is the reusable token for
        /// [`ClientSession::login_with_token`](super::ClientSession::login_with_token);
        /// for a token login, the token used. Secret: `Debug` hides it.
        token: Bytes,
    },
    /// A login failed at some step; the session is back to `LoggedOut`.
    LoginFailed {
        /// The id of the LOGIN request.
        id: u16,
        /// Who tried to log in.
        username: Username,
        /// What went wrong.
        error: RequestError,
    },
    /// A message pushed by the server (live, or catch-up after a RECIV's OK).
    Message {
        /// Who sent it.
        sender: Username,
        /// When, in Unix seconds.
        stamp: i64,
        /// The ciphertext, for this user's key.
        ciphertext: Bytes,
    },
    /// A hook notification the session subscribed to.
    Hook(HookEvent),
    /// The server announced that it shuts down at a stamp.
    Shutdown {
        /// When, in Unix seconds (the original always sends one).
        stamp: Option<i64>,
    },
    /// The session closed; the last event it ever emits.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

impl fmt::Debug for ClientEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientEvent::Hello { motd } => f.debug_struct("Hello").field("motd", motd).finish(),
            ClientEvent::Response { id, result } => f
                .debug_struct("Response")
                .field("id", id)
                .field("result", result)
                .finish(),
            ClientEvent::LoggedIn {
                id,
                username,
                token: _,
            } => f
                .debug_struct("LoggedIn")
                .field("id", id)
                .field("username", username)
                .field("token", &"<redacted>")
                .finish(),
            ClientEvent::LoginFailed {
                id,
                username,
                error,
            } => f
                .debug_struct("LoginFailed")
                .field("id", id)
                .field("username", username)
                .field("error", error)
                .finish(),
            ClientEvent::Message {
                sender,
                stamp,
                ciphertext,
            } => f
                .debug_struct("Message")
                .field("sender", sender)
                .field("stamp", stamp)
                .field("ciphertext_len", &ciphertext.len())
                .finish(),
            ClientEvent::Hook(event) => f.debug_tuple("Hook").field(event).finish(),
            ClientEvent::Shutdown { stamp } => {
                f.debug_struct("Shutdown").field("stamp", stamp).finish()
            }
            ClientEvent::Closed { reason } => {
                f.debug_struct("Closed").field("reason", reason).finish()
            }
        }
    }
}

/// Why a request got no useful reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The server answered ERR with this code.
    #[error("server error {}: {}", .0.name(), .0.description())]
    Server(ErrorCode),
    /// No reply came within the request timeout.
    #[error("no reply within the request timeout")]
    Timeout,
    /// The session closed before the reply came.
    #[error("the session closed before the reply came")]
    Closed,
    /// The login challenge could not be decrypted or answered.
    #[error("cannot answer the login challenge: {0}")]
    Decrypt(String),
    /// The server answered with a reply of the wrong kind for the request.
    #[error("the server answered with a reply of the wrong kind")]
    Unexpected,
}

/// Why a session closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    /// The server sent bytes that are not a valid packet.
    #[error("malformed packet from the server: {0}")]
    Decode(DecodeError),
    /// The server sent a valid packet that is not a valid command.
    #[error("invalid command from the server: {0}")]
    Command(CommandError),
    /// The server sent ERR with the null id (it closes the connection after it).
    #[error("the server ended the connection with {}: {}", .0.name(), .0.description())]
    ServerError(ErrorCode),
    /// The application called [`ClientSession::close`](super::ClientSession::close).
    #[error("closed locally")]
    Local,
    /// A login step got no answer in time. The server may have logged the
    /// connection in anyway, so the session gives the connection up rather
    /// than guess which side is right.
    #[error("the login got no answer in time")]
    LoginTimeout,
}

/// Why a command could not be issued; nothing was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
    /// Every id in 1..=1023 is awaiting its reply.
    #[error("too many requests awaiting their reply (all 1023 ids in use)")]
    TooManyPending,
    /// The command does not fit in a packet.
    #[error("cannot encode the request: {0}")]
    Encode(#[from] EncodeError),
    /// The command makes no sense in the session's current state.
    #[error("{action} is not allowed while {state}")]
    WrongState {
        /// The refused command.
        action: Action,
        /// The state's name, as [`ClientState::name`] gives it.
        state: &'static str,
    },
    /// LOGIN without a decryptor, or VERIF: the login handshake belongs to
    /// [`ClientSession::login`](super::ClientSession::login).
    #[error("{0} is part of the login handshake: use ClientSession::login")]
    Handshake(Action),
}

/// A cheap view of the session's state, from
/// [`ClientSession::state`](super::ClientSession::state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState<'a> {
    /// Connected, waiting for the server's HELLO (the server may hold the
    /// connection in its waiting line).
    AwaitingHello,
    /// Greeted, no user logged in.
    LoggedOut,
    /// A login is in progress (LOGIN sent, or the challenge answered, or a
    /// token login sent).
    AwaitingVerification {
        /// Who is logging in.
        username: &'a Username,
    },
    /// A user is logged in.
    LoggedIn {
        /// Who.
        username: &'a Username,
    },
    /// The session is closed.
    Closed,
}

impl ClientState<'_> {
    /// A short lowercase name, for messages.
    pub const fn name(&self) -> &'static str {
        match self {
            ClientState::AwaitingHello => "awaiting hello",
            ClientState::LoggedOut => "logged out",
            ClientState::AwaitingVerification { .. } => "awaiting verification",
            ClientState::LoggedIn { .. } => "logged in",
            ClientState::Closed => "closed",
        }
    }
}

impl fmt::Display for ClientState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientState::AwaitingVerification { username } => {
                write!(f, "awaiting verification of {username}")
            }
            ClientState::LoggedIn { username } => write!(f, "logged in as {username}"),
            other => f.write_str(other.name()),
        }
    }
}

/// Which timer [`ClientSession::poll_timeout`](super::ClientSession::poll_timeout)
/// reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientTimer {
    /// Nothing was sent for the keepalive interval: a KEEP is due.
    Keepalive,
    /// A request's reply is overdue.
    Request {
        /// The request's id.
        id: u16,
    },
}

impl fmt::Display for ClientTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientTimer::Keepalive => f.write_str("keepalive"),
            ClientTimer::Request { id } => write!(f, "timeout of request {id}"),
        }
    }
}
