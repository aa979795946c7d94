//! The records and errors every part of the client shares: what the store
//! keeps, what the service reports, and the errors users read.

use gochat_proto::{ErrorCode, HookEvent};

/// A server the client knows (a row of the local store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRecord {
    /// Store id.
    pub id: i64,
    /// Unique name chosen by the user (`Default-<id>` when none was given).
    pub name: String,
    /// Host name or IP address.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// Whether to connect with TLS.
    pub tls: bool,
}

impl ServerRecord {
    /// `address:port`, plus ` (TLS)` when TLS is on: how lists show a server.
    pub fn endpoint(&self) -> String {
        if self.tls {
            format!("{}:{} (TLS)", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

/// What the TUI does with a stored server when it starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// Connect to it.
    pub auto_connect: bool,
    /// Once connected, log in as this account (its password is asked once
    /// per run).
    pub auto_login: Option<String>,
}

/// A local account: a user of a server whose private key this client holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Store id.
    pub id: i64,
    /// The server it belongs to (may name a deleted server: a "dangling" account).
    pub server_id: i64,
    /// The username on that server.
    pub username: String,
    /// bcrypt hash of the password (`$2a$`/`$2b$`, cost 12).
    pub password_hash: String,
    /// The private key sealed with the password: nonce(12) | ciphertext+tag | salt(32).
    pub sealed_key: Vec<u8>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("server_id", &self.server_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Another user of a server whose public key is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// The server.
    pub server_id: i64,
    /// The username.
    pub username: String,
    /// Public key PEM as the server sent it (`RSA PUBLIC KEY` around SPKI DER).
    pub pubkey_pem: String,
}

/// One message of a conversation, as stored and shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    /// Store id (grows with arrival order).
    pub id: i64,
    /// The server.
    pub server_id: i64,
    /// The local account the conversation belongs to.
    pub account: String,
    /// The other side of the conversation.
    pub peer: String,
    /// Whether the local account sent it.
    pub outgoing: bool,
    /// Unix seconds (the sender's stamp).
    pub stamp: i64,
    /// The plaintext.
    pub text: String,
}

impl ChatMessage {
    /// Who wrote it.
    pub fn sender(&self) -> &str {
        if self.outgoing {
            &self.account
        } else {
            &self.peer
        }
    }
}

/// What a connection reports without being asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A message arrived, was decrypted and stored.
    Message(ChatMessage),
    /// A message arrived but could not be read or stored; it is shown, never dropped.
    Unreadable {
        /// Who sent it.
        sender: String,
        /// Its stamp.
        stamp: i64,
        /// Why it could not be read.
        reason: String,
    },
    /// A hook notification.
    Hook(HookEvent),
    /// The server announced a shutdown.
    Shutdown {
        /// When, Unix seconds (`None` if the server did not say).
        stamp: Option<i64>,
        /// Seconds left, from the local clock.
        seconds_left: Option<i64>,
    },
    /// The connection ended.
    Disconnected {
        /// Why, readable.
        reason: String,
    },
}

/// What went wrong, in words a user reads.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered ERR.
    #[error("{}", .0.description())]
    Server(ErrorCode),
    /// No connection.
    #[error("not connected to a server")]
    NotConnected,
    /// A connection exists already.
    #[error("already connected to a server")]
    AlreadyConnected,
    /// Not logged in.
    #[error("you are not logged in")]
    NotLoggedIn,
    /// Logged in already.
    #[error("you are already logged in")]
    AlreadyLoggedIn,
    /// Wrong password for a local account.
    #[error("wrong credentials")]
    WrongPassword,
    /// No such local account, contact or server.
    #[error("{0} not found")]
    NotFound(String),
    /// Something exists already.
    #[error("{0} already exists")]
    Exists(String),
    /// Bad input from the user.
    #[error("{0}")]
    Invalid(String),
    /// The server did not answer in time.
    #[error("the server did not answer in time")]
    Timeout,
    /// The connection failed.
    #[error("connection problem: {0}")]
    Io(String),
    /// A TLS setup problem.
    #[error("TLS: {0}")]
    Tls(String),
    /// The TLS handshake got an answer that is not TLS: most likely a
    /// plain-TCP server (TLS is on for a server that does not speak it).
    #[error(
        "the server at {endpoint} does not seem to speak TLS on that port (the TLS handshake \
         failed: {detail})"
    )]
    NotTls {
        /// `address:port` of the server.
        endpoint: String,
        /// What the TLS library said.
        detail: String,
    },
    /// A key or encryption problem.
    #[error("crypto: {0}")]
    Crypto(String),
    /// The local database failed.
    #[error("local database: {0}")]
    Store(String),
    /// The server broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The protocol error code, when the server gave one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server(c) => Some(*c),
            _ => None,
        }
    }
}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::Io(e.to_string())
    }
}
