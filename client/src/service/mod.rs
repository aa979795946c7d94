//! The client library the front ends are written against: a [`Service`] over
//! the local store, and one [`Connection`] per server connection.
//!
//! Front ends never see bytes or SQL: they call async methods with typed
//! results and read one event stream per connection
//! ([`Connection::events`]).
//!
//! # Tasks and channels
//!
//! [`Service::connect`] spawns two tasks on the caller's runtime:
//!
//! - the **IO task** drives a [`gochat_proto::ClientSession`] exactly like a
//!   driver loop: it reads the socket into the session, writes what the
//!   session transmits, sleeps on the session's timer (request timeouts and
//!   keepalives) and takes commands from the [`Connection`] handles through a
//!   channel. Each request carries a one-shot reply channel that the IO task
//!   completes when the session matches the server's reply to it.
//! - the **inbox task** receives, in arrival order, everything the server
//!   pushes (messages, hooks, shutdown notices, the disconnect): it asks the
//!   server for the keys of unknown senders, decrypts messages in batches on
//!   blocking threads (all cores), stores each batch in one transaction and
//!   emits [`ClientEvent`](crate::ClientEvent)s in arrival order. The IO task never decrypts a
//!   message nor waits for the database.
//!
//! The IO task ends when the server closes the connection, the socket fails,
//! [`Connection::disconnect`] is called, or every handle is dropped; the last
//! event is then [`ClientEvent::Disconnected`](crate::ClientEvent::Disconnected) with the reason.
//!
//! Reusable login tokens (TLS only) are kept by the [`Service`], keyed by
//! server and user, so they survive a dropped connection: the next
//! [`Connection::login`] on a new connection tries the token first.
//!
//! # Working with the original server
//!
//! Nothing here relies on this workspace's server improvements: catch-up
//! messages may come in stamp order only (the parts of a long text carry
//! increasing stamps so they stay in order), a user list may be cut at one
//! argument, a busy server may answer a registration with ERR SERVER (it is
//! retried), and every ciphertext sent is free of CRLF so that peers splitting
//! on CRLF read it.

mod accounts;
mod connect;
mod connection;
mod exec;
mod inbox;
mod login;
mod search;
mod task;
mod text;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

pub use connection::Connection;
pub use gochat_proto::{AdminCommand, Hook, HookEvent, UserEntry, UserList};
pub use login::LoginSummary;
pub use text::split_text;

use crate::store::LocalStore;
use crate::types::{ChatMessage, ClientError};

/// How to connect to a server.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// How the server's TLS certificate is checked (TLS servers only).
    pub verification: gochat_runtime::tls::ServerVerification,
    /// Send a KEEP after this long without sending anything, so that the
    /// server's 25-minute idle deadline never passes while the user does
    /// nothing; `None` never does. Default: 10 minutes.
    pub keepalive: Option<Duration>,
    /// How long a request waits for its reply (and how long connecting and
    /// the TLS handshake may take). Default: 15 seconds.
    pub request_timeout: Duration,
}

impl ConnectOptions {
    /// The default keepalive interval: 10 minutes.
    pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(10 * 60);
    /// The default request timeout: 15 seconds.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            verification: gochat_runtime::tls::ServerVerification::default(),
            keepalive: Some(Self::DEFAULT_KEEPALIVE),
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// The client's entry point: the local store plus the reusable login tokens
/// held in memory. Cheap to clone; clones share everything.
#[derive(Clone, Debug)]
pub struct Service {
    inner: Arc<ServiceInner>,
}

#[derive(Debug)]
struct ServiceInner {
    store: LocalStore,
    /// Reusable tokens by (server id, username). Secret: never logged.
    tokens: Mutex<HashMap<(i64, String), Token>>,
}

/// A reusable login token; `Debug` hides it.
#[derive(Clone)]
struct Token(Bytes);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Service {
    /// A service over `store`, holding no tokens yet.
    pub fn new(store: LocalStore) -> Self {
        Service {
            inner: Arc::new(ServiceInner {
                store,
                tokens: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The local store.
    pub fn store(&self) -> &LocalStore {
        &self.inner.store
    }

    /// Messages of one conversation, newest first: at most `limit` of them,
    /// all older than the message `before_id` when given (for paging back).
    pub async fn history(
        &self,
        server_id: i64,
        account: &str,
        peer: &str,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, ClientError> {
        let account = account.to_ascii_lowercase();
        let peer = peer.to_ascii_lowercase();
        self.store()
            .history(server_id, &account, &peer, before_id, limit)
            .await
    }

    /// Whether a reusable token is held for `username` on server `server_id`.
    pub fn has_token(&self, server_id: i64, username: &str) -> bool {
        self.with_tokens(|t| t.contains_key(&(server_id, username.to_ascii_lowercase())))
    }

    /// Forgets every token held for server `server_id` (for example when the
    /// server record is deleted or changed).
    pub fn forget_tokens(&self, server_id: i64) {
        self.with_tokens(|t| t.retain(|(id, _), _| *id != server_id));
    }

    fn token(&self, server_id: i64, username: &str) -> Option<Bytes> {
        self.with_tokens(|t| {
            t.get(&(server_id, username.to_owned()))
                .map(|tok| tok.0.clone())
        })
    }

    fn set_token(&self, server_id: i64, username: &str, token: Bytes) {
        self.with_tokens(|t| t.insert((server_id, username.to_owned()), Token(token)));
    }

    fn drop_token(&self, server_id: i64, username: &str) {
        self.with_tokens(|t| t.remove(&(server_id, username.to_owned())));
    }

    fn with_tokens<T>(&self, f: impl FnOnce(&mut HashMap<(i64, String), Token>) -> T) -> T {
        let mut guard = self
            .inner
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}
