//! [`Connection`]: the handle of one server connection, with one async method
//! per user operation.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use gochat_proto::crypto;
use gochat_proto::{
    AdminCommand, ClientCommand, ErrorCode, Hook, ServerCommand, UserEntry, UserList, Username,
};

use super::Service;
use super::exec::{Exec, run_blocking};
use super::task::{Account, Command, LinkState, lock};
use super::text::{part_stamps, split_text, unix_now};
use crate::store::NewMessage;
use crate::types::{ChatMessage, ClientError, ClientEvent, Contact, ServerRecord};

/// The handle of one server connection. Cheap to clone: clones share the
/// connection, which closes when [`disconnect`](Self::disconnect) is called
/// or the last clone is dropped.
#[derive(Clone)]
pub struct Connection {
    pub(super) inner: Arc<Inner>,
}

/// What the clones of a [`Connection`] share.
pub(super) struct Inner {
    pub(super) service: Service,
    pub(super) server: ServerRecord,
    pub(super) motd: String,
    pub(super) exec: Arc<dyn Exec>,
    pub(super) commands: async_channel::Sender<Command>,
    pub(super) events: async_channel::Receiver<ClientEvent>,
    pub(super) state: Arc<Mutex<LinkState>>,
    pub(super) done: async_channel::Receiver<()>,
    /// The stamp of the last message part sent (see [`part_stamps`]).
    pub(super) last_stamp: Mutex<i64>,
}

/// What [`Connection::new`] is built from.
pub(crate) struct Parts {
    pub service: Service,
    pub server: ServerRecord,
    pub motd: String,
    pub exec: Arc<dyn Exec>,
    pub commands: async_channel::Sender<Command>,
    pub events: async_channel::Receiver<ClientEvent>,
    pub state: Arc<Mutex<LinkState>>,
    pub done: async_channel::Receiver<()>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.inner.server)
            .field("connected", &self.is_connected())
            .field("user", &self.user())
            .finish_non_exhaustive()
    }
}

impl Connection {
    pub(crate) fn new(parts: Parts) -> Self {
        Connection {
            inner: Arc::new(Inner {
                service: parts.service,
                server: parts.server,
                motd: parts.motd,
                exec: parts.exec,
                commands: parts.commands,
                events: parts.events,
                state: parts.state,
                done: parts.done,
                last_stamp: Mutex::new(0),
            }),
        }
    }

    // ---- getters ----

    /// The server record this connection was opened for.
    pub fn server(&self) -> &ServerRecord {
        &self.inner.server
    }

    /// The message of the day the server greeted with (may be empty).
    pub fn motd(&self) -> &str {
        &self.inner.motd
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.inner.server.tls
    }

    /// The connection's event stream: incoming messages (decrypted and
    /// stored), unreadable messages, hooks, shutdown notices, and last the
    /// disconnect with its reason. Every clone of the receiver reads the same
    /// stream (each event goes to one reader). Events wait in memory until
    /// read.
    pub fn events(&self) -> async_channel::Receiver<ClientEvent> {
        self.inner.events.clone()
    }

    /// Whether the connection is still open.
    pub fn is_connected(&self) -> bool {
        lock(&self.inner.state).connected
    }

    /// The logged-in user, if any.
    pub fn user(&self) -> Option<String> {
        lock(&self.inner.state).user.clone()
    }

    /// The logged-in user's permission level, once known (kept up to date by
    /// PERMSCHG hooks).
    pub fn permission(&self) -> Option<u8> {
        lock(&self.inner.state).permission
    }

    // ---- users ----

    /// A user list from the server. Names appear once each, in the server's
    /// order; a list that an original server cut at one argument is read as
    /// far as it goes.
    pub async fn users(&self, list: UserList) -> Result<Vec<UserEntry>, ClientError> {
        self.logged_in()?;
        match self.request(ClientCommand::Usrs(list)).await? {
            ServerCommand::Usrs(entries) => {
                let mut seen = std::collections::HashSet::new();
                Ok(entries
                    .into_iter()
                    .filter(|e| seen.insert(e.name.clone()))
                    .collect())
            }
            _ => Err(unexpected("USRS")),
        }
    }

    /// Asks the server for a user's public key (REQ) and stores or refreshes
    /// the contact. Refuses the logged-in user.
    pub async fn request_key(&self, username: &str) -> Result<Contact, ClientError> {
        let me = self.logged_in()?;
        let name = parse_username(username)?;
        if name == me {
            return Err(ClientError::Invalid("cannot request yourself".to_owned()));
        }
        match self.request(ClientCommand::Req { username: name }).await? {
            ServerCommand::Req {
                username, pubkey, ..
            } => {
                crypto::public_key_from_pem(&pubkey).map_err(|e| {
                    ClientError::Crypto(format!("the server sent an unusable key: {e}"))
                })?;
                let pubkey_pem = String::from_utf8_lossy(&pubkey).into_owned();
                let server_id = self.inner.server.id;
                self.inner
                    .service
                    .store()
                    .upsert_contact(server_id, username.as_str(), &pubkey_pem)
                    .await?;
                Ok(Contact {
                    server_id,
                    username: username.as_str().to_owned(),
                    pubkey_pem,
                })
            }
            _ => Err(unexpected("REQ")),
        }
    }

    /// A user's permission level (REQ; nothing is stored).
    pub async fn permission_of(&self, username: &str) -> Result<u8, ClientError> {
        self.logged_in()?;
        let name = parse_username(username)?;
        match self.request(ClientCommand::Req { username: name }).await? {
            ServerCommand::Req { permission, .. } => Ok(permission),
            _ => Err(unexpected("REQ")),
        }
    }

    // ---- messages ----

    /// Sends `text` to `to` and returns what was stored, one message per part.
    ///
    /// A recipient with no known key is asked for first (REQ, stored as a
    /// contact). A text longer than one RSA block (446 bytes) goes as several
    /// MSGs, split at whitespace (a word too long for one block on character
    /// boundaries), sent in order with increasing stamps. Every ciphertext
    /// is re-encrypted until it holds no CRLF, so that peers splitting on
    /// CRLF read it. Each part is stored after the server's OK; if a part
    /// fails, the error is returned and the parts before it stay sent and
    /// stored.
    pub async fn send_text(&self, to: &str, text: &str) -> Result<Vec<ChatMessage>, ClientError> {
        let me = self.logged_in()?;
        let to = parse_username(to)?;
        if to == me {
            return Err(ClientError::Invalid(
                "cannot send a message to yourself".to_owned(),
            ));
        }
        if text.is_empty() {
            return Err(ClientError::Invalid("the message is empty".to_owned()));
        }
        let server_id = self.inner.server.id;
        let store = self.inner.service.store();
        let contact = match store.contact(server_id, to.as_str()).await? {
            Some(c) => c,
            None => self.request_key(to.as_str()).await?,
        };
        let key = crypto::public_key_from_pem(contact.pubkey_pem.as_bytes())
            .map_err(|e| ClientError::Crypto(format!("the key of {to} is unusable: {e}")))?;
        let max = crypto::max_plaintext(&key);
        if max == 0 {
            return Err(ClientError::Crypto(format!("the key of {to} is too small")));
        }
        let parts: Vec<String> = split_text(text, max)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let stamps = {
            let mut last = self
                .inner
                .last_stamp
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let (stamps, new_last) = part_stamps(unix_now(), *last, parts.len());
            *last = new_last;
            stamps
        };
        let plain = parts.clone();
        let ciphertexts = run_blocking(&*self.inner.exec, move || {
            plain
                .iter()
                .map(|p| crypto::encrypt_without_crlf(&key, &mut getrandom::SysRng, p.as_bytes()))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?
        .map_err(|e| ClientError::Crypto(e.to_string()))?;

        let mut sent = Vec::with_capacity(parts.len());
        for ((part, stamp), ciphertext) in parts.into_iter().zip(stamps).zip(ciphertexts) {
            self.expect_ok(ClientCommand::Msg {
                to: to.clone(),
                stamp,
                ciphertext: Bytes::from(ciphertext),
            })
            .await?;
            let stored = store
                .add_message(&NewMessage {
                    server_id,
                    account: me.as_str().to_owned(),
                    peer: to.as_str().to_owned(),
                    outgoing: true,
                    stamp,
                    text: part,
                })
                .await?;
            sent.push(stored);
        }
        Ok(sent)
    }

    /// Asks for the messages stored while offline (RECIV); they arrive as
    /// events. Having none (ERR EMPTY) is not an error.
    pub async fn catch_up(&self) -> Result<(), ClientError> {
        self.reciv().await.map(|_| ())
    }

    /// RECIV; `true` if messages follow.
    pub(super) async fn reciv(&self) -> Result<bool, ClientError> {
        self.logged_in()?;
        match self.expect_ok(ClientCommand::Reciv).await {
            Ok(()) => Ok(true),
            Err(ClientError::Server(ErrorCode::Empty)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ---- hooks and administration ----

    /// Subscribes to a hook ([`Hook::All`] for every one); notifications
    /// arrive as [`ClientEvent::Hook`].
    pub async fn subscribe(&self, hook: Hook) -> Result<(), ClientError> {
        self.logged_in()?;
        self.expect_ok(ClientCommand::Sub(hook)).await
    }

    /// Unsubscribes from a hook ([`Hook::All`] for every one).
    pub async fn unsubscribe(&self, hook: Hook) -> Result<(), ClientError> {
        self.logged_in()?;
        self.expect_ok(ClientCommand::Unsub(hook)).await
    }

    /// Runs an administrative operation (the server checks the permission).
    pub async fn admin(&self, command: AdminCommand) -> Result<(), ClientError> {
        self.logged_in()?;
        self.expect_ok(ClientCommand::Admin(command)).await
    }

    /// Closes the connection and waits until its last event
    /// ([`ClientEvent::Disconnected`]) has been emitted. Does nothing more
    /// when already closed.
    pub async fn disconnect(&self) {
        let _ = self.inner.commands.send(Command::Close).await;
        // Closed (an error) once both tasks have ended.
        let _ = self.inner.done.recv().await;
    }

    // ---- internals ----

    /// Sends a request and waits for its reply.
    pub(super) async fn request(
        &self,
        command: ClientCommand,
    ) -> Result<ServerCommand, ClientError> {
        let (reply, rx) = async_channel::bounded(1);
        self.inner
            .commands
            .send(Command::Request { command, reply })
            .await
            .map_err(|_| ClientError::NotConnected)?;
        rx.recv().await.map_err(|_| ClientError::NotConnected)?
    }

    /// Sends a request whose answer is OK.
    pub(super) async fn expect_ok(&self, command: ClientCommand) -> Result<(), ClientError> {
        let action = command.action();
        match self.request(command).await? {
            ServerCommand::Ok => Ok(()),
            _ => Err(unexpected(action.name())),
        }
    }

    /// Runs a login (with a token when given); returns the token.
    pub(super) async fn start_login(
        &self,
        account: Arc<Account>,
        token: Option<Bytes>,
    ) -> Result<Bytes, ClientError> {
        let (reply, rx) = async_channel::bounded(1);
        self.inner
            .commands
            .send(Command::Login {
                account,
                token,
                reply,
            })
            .await
            .map_err(|_| ClientError::NotConnected)?;
        rx.recv().await.map_err(|_| ClientError::NotConnected)?
    }

    pub(super) fn connected(&self) -> Result<(), ClientError> {
        if self.is_connected() {
            Ok(())
        } else {
            Err(ClientError::NotConnected)
        }
    }

    /// The logged-in user, or why there is none.
    pub(super) fn logged_in(&self) -> Result<Username, ClientError> {
        let state = lock(&self.inner.state);
        if !state.connected {
            return Err(ClientError::NotConnected);
        }
        let name = state.user.as_deref().ok_or(ClientError::NotLoggedIn)?;
        Username::new(name).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}

/// A username as typed: trimmed, lowercased, then validated.
pub(crate) fn parse_username(name: &str) -> Result<Username, ClientError> {
    let lower = name.trim().to_ascii_lowercase();
    Username::new(&lower).map_err(|e| ClientError::Invalid(format!("invalid username: {e}")))
}

fn unexpected(request: &str) -> ClientError {
    ClientError::Protocol(format!(
        "the server answered {request} with a reply of the wrong kind"
    ))
}
