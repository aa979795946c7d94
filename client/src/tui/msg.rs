//! What flows into [`update`](super::update::update) ([`Msg`]) and what comes
//! out of it ([`Effect`]): the TUI's whole contract with the outside world.
//!
//! A [`Task`] is a service call the runner runs on the async runtime; its
//! result comes back as [`Msg::Done`] with the [`Ctx`] it was started with.

use std::path::PathBuf;

use crossterm::event::{KeyEvent, MouseEvent};
use gochat_proto::{AdminCommand, Hook, UserEntry, UserList};

use crate::service::LoginSummary;
use crate::types::{ChatMessage, ClientEvent, ServerRecord, StartOptions};

/// A password on its way to the service; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An input to the update function.
#[derive(Debug)]
pub enum Msg {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse was clicked, moved or its wheel turned (only while the TUI
    /// takes the mouse).
    Mouse(MouseEvent),
    /// Text was pasted (bracketed paste).
    Paste(String),
    /// The terminal was resized to (columns, rows).
    Resize(u16, u16),
    /// A connection reported something: `generation` tells which connection of the
    /// server it was (events of an older connection are ignored).
    Net {
        /// The server's key.
        server: i64,
        /// The connection generation.
        generation: u64,
        /// What happened.
        event: ClientEvent,
    },
    /// A task finished.
    Done {
        /// Where it was started.
        ctx: Ctx,
        /// Its outcome, or the error as users read it.
        result: Result<Outcome, String>,
    },
    /// The TUI started: what to do with each stored server (by key).
    Started(Vec<(i64, StartOptions)>),
    /// Time passed (only sent while the error bar or the spinner shows).
    Tick,
    /// The terminal can no longer be read: leave.
    Quit,
}

/// What the update function asks the runner to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Leave the TUI.
    Quit,
    /// Ring the terminal bell.
    Bell,
    /// Ask the terminal for a desktop notification.
    Notify {
        /// Which escape sequence.
        kind: super::model::Notify,
        /// Its title.
        title: String,
        /// Its text.
        body: String,
    },
    /// Take the mouse (true) or give it back to the terminal, for its own
    /// text selection (false).
    MouseCapture(bool),
    /// Clear and redraw the whole screen.
    Redraw,
    /// Run a service call; its result comes back as [`Msg::Done`].
    Task {
        /// Where it was started (given back with the result).
        ctx: Ctx,
        /// The call.
        task: Task,
    },
}

/// Where a task was started and what to undo or finish when it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ctx {
    /// The server's key ([`LOCAL`](super::model::LOCAL) for the Local server).
    pub server: i64,
    /// The buffer its output goes to.
    pub buffer: String,
    /// The command, as in `Running <cmd>: ...`.
    pub cmd: &'static str,
    /// What the task was, for finishing it.
    pub tag: Tag,
}

/// The part of a task the update function needs back to finish it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tag {
    /// Nothing to finish.
    Plain,
    /// A connection attempt of generation `generation`.
    Connect {
        /// The generation.
        generation: u64,
    },
    /// A login as `username`.
    Login {
        /// The account.
        username: String,
    },
    /// Opening the conversation with `peer`.
    Open {
        /// The other user.
        peer: String,
    },
    /// A page of the conversation with `peer`.
    History {
        /// The other user.
        peer: String,
    },
    /// A search for `query`, whose results go to the Search results buffer
    /// with a first line naming `scope`.
    Search {
        /// What was looked for.
        query: String,
        /// Where it was looked for, as the results' first line says it.
        scope: String,
    },
    /// A message to `to`, echoed as entry `seq`.
    Send {
        /// The recipient.
        to: String,
        /// The echoed entry.
        seq: u64,
    },
}

/// A service call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Task {
    /// Connect to a server.
    Connect {
        /// The server.
        record: ServerRecord,
        /// The connection generation.
        generation: u64,
        /// Skip certificate verification.
        noverify: bool,
    },
    /// Close the connection.
    Disconnect,
    /// Register a new account (RSA key generation).
    Register {
        /// Username.
        username: String,
        /// Password.
        password: Secret,
    },
    /// Log in.
    Login {
        /// Username.
        username: String,
        /// Password.
        password: Secret,
    },
    /// Log out.
    Logout,
    /// Deregister the logged-in account.
    Deregister {
        /// Its password.
        password: Secret,
    },
    /// A user list from the server.
    Users(UserList),
    /// The local accounts: of one server, or of all (`None`).
    LocalUsers {
        /// The server, or all.
        server: Option<i64>,
    },
    /// Make sure the key of `peer` is known (REQ if not).
    Open {
        /// The other user.
        peer: String,
    },
    /// A page of history, newest first.
    History {
        /// The local account.
        account: String,
        /// The other user.
        peer: String,
        /// Only messages older than this id.
        before: Option<i64>,
        /// At most this many.
        limit: u32,
    },
    /// Send a text.
    Send {
        /// The recipient.
        to: String,
        /// The text.
        text: String,
    },
    /// Subscribe to a hook.
    Subscribe(Hook),
    /// Unsubscribe from a hook.
    Unsubscribe(Hook),
    /// An administrative operation.
    Admin(AdminCommand),
    /// Import a private key file as a local account.
    Import {
        /// Username.
        username: String,
        /// The key file.
        path: PathBuf,
        /// Password to seal it with.
        password: Secret,
    },
    /// Export a private key to `export/<username>.priv`.
    Export {
        /// Username.
        username: String,
        /// Its password.
        password: Secret,
    },
    /// Recover the accounts of deleted servers into `export/`.
    Recover {
        /// Username.
        username: String,
        /// Its password.
        password: Secret,
        /// Delete the recovered accounts afterwards.
        cleanup: bool,
    },
    /// Add a server.
    AddServer {
        /// Its name.
        name: String,
        /// Address.
        address: String,
        /// Port.
        port: u16,
        /// TLS.
        tls: bool,
    },
    /// Store a changed server record.
    UpdateServer(ServerRecord),
    /// Delete a server (its accounts and history stay, dangling).
    DeleteServer {
        /// Its name.
        name: String,
    },
    /// The names of the server's contacts and local accounts (for Tab
    /// completion).
    Names,
    /// Store what to do with the server at start.
    SetStart(StartOptions),
    /// Search the history of `account` (with `peer` only, or every
    /// conversation) for `query`.
    Search {
        /// The local account.
        account: String,
        /// The other user, or every conversation.
        peer: Option<String>,
        /// What to look for (ignoring case).
        query: String,
        /// At most this many results.
        limit: usize,
    },
}

/// A task's successful result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Connected; the server's message of the day.
    Connected {
        /// The message of the day.
        motd: String,
    },
    /// Nothing to report beyond success.
    Done,
    /// Logged in.
    LoggedIn(LoginSummary),
    /// A user list: which one, and its entries.
    Users(UserList, Vec<UserEntry>),
    /// An account was registered, imported or deregistered.
    Account(String),
    /// Local accounts: (username, server name or `None` for a deleted server).
    LocalUsers(Vec<(String, Option<String>)>),
    /// A page of history, newest first.
    History(Vec<ChatMessage>),
    /// What was sent and stored.
    Sent(Vec<ChatMessage>),
    /// Files written.
    Files(Vec<PathBuf>),
    /// A server record added or changed.
    Server(ServerRecord),
    /// The start options stored.
    Start(StartOptions),
    /// What a search found, newest first, and how many there are in all.
    Found {
        /// The messages found (at most the search's limit).
        messages: Vec<ChatMessage>,
        /// How many hold the text.
        total: usize,
    },
    /// The server's contacts and local accounts.
    Names {
        /// The users whose keys are stored.
        contacts: Vec<String>,
        /// The local accounts.
        accounts: Vec<String>,
    },
}
