//! Commands from the application: the generic [`ClientSession::request`], the
//! two logins and one thin helper per request kind.

use std::time::Instant;

use bytes::Bytes;

use super::pending::Awaiting;
use super::{ClientSession, Handshake, Phase, SessionError, Step};
use crate::codes::{Action, Hook, UserList};
use crate::command::{AdminCommand, ClientCommand};
use crate::crypto::Decryptor;
use crate::username::Username;

impl ClientSession {
    /// Sends any command and returns its request id.
    ///
    /// The reply comes as a [`ClientEvent::Response`](super::ClientEvent::Response)
    /// with that id; KEEP gets none (it still uses an id). LOGIN with a token
    /// goes through [`login_with_token`](Self::login_with_token); a challenge
    /// LOGIN needs a decryptor, so it is refused here like VERIF
    /// ([`SessionError::Handshake`]): use [`login`](Self::login).
    ///
    /// Refused in the wrong state ([`SessionError::WrongState`]): anything but
    /// KEEP before the HELLO, REG and LOGIN while logged in, and every other
    /// request while not logged in (the server would answer ERR_NOSESS).
    pub fn request(&mut self, cmd: ClientCommand, now: Instant) -> Result<u16, SessionError> {
        match cmd {
            ClientCommand::LoginToken { username, token } => {
                self.login_with_token(username, token, now)
            }
            ClientCommand::Login { .. } | ClientCommand::Verif { .. } => {
                Err(SessionError::Handshake(cmd.action()))
            }
            cmd => {
                let action = cmd.action();
                self.check_allowed(action)?;
                self.send(&cmd, Self::awaiting_for(action), now)
            }
        }
    }

    /// Starts a challenge login: sends `LOGIN <username>`, decrypts the
    /// challenge the server answers with `decryptor`, answers it with VERIF.
    ///
    /// Returns the LOGIN's id; the outcome comes as
    /// [`ClientEvent::LoggedIn`](super::ClientEvent::LoggedIn) or
    /// [`ClientEvent::LoginFailed`](super::ClientEvent::LoginFailed) with that
    /// id. The state is `AwaitingVerification` until then. Only allowed while
    /// logged out with no other login in progress.
    pub fn login(
        &mut self,
        username: Username,
        decryptor: Box<dyn Decryptor + Send>,
        now: Instant,
    ) -> Result<u16, SessionError> {
        self.check_allowed(Action::Login)?;
        let cmd = ClientCommand::Login {
            username: username.clone(),
        };
        let login_id = self.send(&cmd, Some(Awaiting::Handshake), now)?;
        self.phase = Phase::LoggingIn(Handshake {
            username,
            login_id,
            step: Step::Challenge { decryptor },
        });
        Ok(login_id)
    }

    /// Logs in with a reusable token (TLS only, server side): sends
    /// `LOGIN <username> <token>`.
    ///
    /// Returns the LOGIN's id; the outcome comes as
    /// [`ClientEvent::LoggedIn`](super::ClientEvent::LoggedIn) (carrying the
    /// token) or [`ClientEvent::LoginFailed`](super::ClientEvent::LoginFailed).
    pub fn login_with_token(
        &mut self,
        username: Username,
        token: Bytes,
        now: Instant,
    ) -> Result<u16, SessionError> {
        self.check_allowed(Action::Login)?;
        let cmd = ClientCommand::LoginToken {
            username: username.clone(),
            token: token.clone(),
        };
        let login_id = self.send(&cmd, Some(Awaiting::Handshake), now)?;
        self.phase = Phase::LoggingIn(Handshake {
            username,
            login_id,
            step: Step::Token { token },
        });
        Ok(login_id)
    }

    /// `REG <username> <pubkey>`: registers a user with its public key PEM
    /// (see [`crypto::public_key_to_pem`](crate::crypto::public_key_to_pem)).
    pub fn register(
        &mut self,
        username: Username,
        pubkey: Bytes,
        now: Instant,
    ) -> Result<u16, SessionError> {
        self.request(ClientCommand::Reg { username, pubkey }, now)
    }

    /// `LOGOUT`; its OK moves the session to `LoggedOut`.
    pub fn logout(&mut self, now: Instant) -> Result<u16, SessionError> {
        self.request(ClientCommand::Logout, now)
    }

    /// `DEREG`: erases the logged-in account's key; its OK moves the session to
    /// `LoggedOut`.
    pub fn deregister(&mut self, now: Instant) -> Result<u16, SessionError> {
        self.request(ClientCommand::Dereg, now)
    }

    /// `REQ <username>`: asks for a user's public key and permission; the reply
    /// is a [`ServerCommand::Req`](crate::ServerCommand::Req).
    pub fn request_key(&mut self, username: Username, now: Instant) -> Result<u16, SessionError> {
        self.request(ClientCommand::Req { username }, now)
    }

    /// `USRS`: asks for a user list; the reply is a
    /// [`ServerCommand::Usrs`](crate::ServerCommand::Usrs).
    pub fn users(&mut self, list: UserList, now: Instant) -> Result<u16, SessionError> {
        self.request(ClientCommand::Usrs(list), now)
    }

    /// `MSG <to> <stamp> <ciphertext>`: sends a message encrypted to the
    /// recipient's key; OK means sent, not received.
    pub fn send_message(
        &mut self,
        to: Username,
        stamp: i64,
        ciphertext: Bytes,
        now: Instant,
    ) -> Result<u16, SessionError> {
        self.request(
            ClientCommand::Msg {
                to,
                stamp,
                ciphertext,
            },
            now,
        )
    }

    /// `RECIV`: asks for the messages stored while offline. The reply is OK
    /// (or ERR_EMPTY), then each message comes as a
    /// [`ClientEvent::Message`](super::ClientEvent::Message), oldest first.
    pub fn catch_up(&mut self, now: Instant) -> Result<u16, SessionError> {
        self.request(ClientCommand::Reciv, now)
    }

    /// `SUB`: subscribes to a hook ([`Hook::All`] for every one).
    pub fn subscribe(&mut self, hook: Hook, now: Instant) -> Result<u16, SessionError> {
        self.request(ClientCommand::Sub(hook), now)
    }

    /// `UNSUB`: unsubscribes from a hook ([`Hook::All`] for every one).
    pub fn unsubscribe(&mut self, hook: Hook, now: Instant) -> Result<u16, SessionError> {
        self.request(ClientCommand::Unsub(hook), now)
    }

    /// `ADMIN`: an administrative operation.
    pub fn admin(&mut self, cmd: AdminCommand, now: Instant) -> Result<u16, SessionError> {
        self.request(ClientCommand::Admin(cmd), now)
    }

    /// Whether a command with `action` may be sent in the current state.
    fn check_allowed(&self, action: Action) -> Result<(), SessionError> {
        let allowed = match (&self.phase, action) {
            (Phase::Closed(_), _) => return Err(SessionError::Closed),
            (_, Action::Keep) => true,
            (Phase::AwaitingHello, _) => false,
            (Phase::LoggedOut, a) => matches!(a, Action::Reg | Action::Login),
            (Phase::LoggingIn(_), a) => a == Action::Reg,
            (Phase::LoggedIn { .. }, a) => {
                !matches!(a, Action::Reg | Action::Login | Action::Verif)
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(SessionError::WrongState {
                action,
                state: self.state().name(),
            })
        }
    }
}
