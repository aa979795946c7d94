//! Servers and their buffers: the entries a buffer holds, how they are
//! ordered, and a server's connection, login, users and unread counts.

use std::collections::BTreeMap;

use super::model::{DEFAULT_BUFFER, LOCAL, LOGO, MAX_BUFFERS, SYSTEM_BUFFER};
use crate::types::ServerRecord;

/// Who wrote a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sender {
    /// The local user.
    You,
    /// The client itself (command output, notices).
    System,
    /// Another user.
    User(String),
    /// Nobody: shown without a prefix (the logo).
    Plain,
}

/// One line of a buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Unique within the model: orders entries with equal stamps.
    pub seq: u64,
    /// The store id, for stored messages.
    pub id: Option<i64>,
    /// Unix seconds.
    pub stamp: i64,
    /// Who wrote it.
    pub sender: Sender,
    /// The text (may hold newlines).
    pub text: String,
    /// Arrived while its buffer was not in view.
    pub unread: bool,
    /// An echoed message still being sent.
    pub pending: bool,
}

impl Entry {
    fn key(&self) -> (i64, i64, u64) {
        (self.stamp, self.id.unwrap_or(i64::MAX), self.seq)
    }
}

/// What a buffer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// A server's own buffer (System, Debug, Default): no typing.
    System,
    /// A Local scratch buffer: text stays in memory.
    Scratch,
    /// A conversation with the user the buffer is named after.
    Chat,
}

/// A buffer: a list of entries and how it is scrolled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buffer {
    /// Its name (the other user for conversations).
    pub name: String,
    /// What it is for.
    pub kind: BufferKind,
    /// Hidden from the list (kept in memory).
    pub hidden: bool,
    /// The entries, by stamp for conversations, by arrival otherwise.
    pub entries: Vec<Entry>,
    /// Rows scrolled up from the bottom (0 follows new lines).
    pub scroll: usize,
    /// The oldest store id loaded.
    pub oldest_id: Option<i64>,
    /// Every stored message is loaded.
    pub history_done: bool,
    /// A history page is on its way.
    pub loading: bool,
    /// The other user's key is known and the first page was asked for.
    pub ready: bool,
    /// Unread messages to mark when the first page arrives.
    pub mark: u32,
}

impl Buffer {
    /// An empty buffer.
    pub fn new(name: &str, kind: BufferKind) -> Self {
        Buffer {
            name: name.to_owned(),
            kind,
            hidden: false,
            entries: Vec::new(),
            scroll: 0,
            oldest_id: None,
            history_done: kind != BufferKind::Chat,
            loading: false,
            ready: kind != BufferKind::Chat,
            mark: 0,
        }
    }

    /// Adds an entry: conversations keep stamp order, others arrival order.
    /// A stored message already present (same id) is not added twice.
    pub fn push(&mut self, entry: Entry) {
        if let Some(id) = entry.id {
            if self.entries.iter().any(|e| e.id == Some(id)) {
                return;
            }
            self.oldest_id = Some(self.oldest_id.map_or(id, |o| o.min(id)));
        }
        if self.kind == BufferKind::Chat {
            let key = entry.key();
            let at = self.entries.partition_point(|e| e.key() <= key);
            self.entries.insert(at, entry);
        } else {
            self.entries.push(entry);
        }
    }
}

/// The state of a server's connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Not connected.
    Offline,
    /// Connecting.
    Connecting,
    /// Connected.
    Online,
}

/// A server in the list (the Local server or a stored one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// [`LOCAL`] or the store id.
    pub key: i64,
    /// The stored record (`None` for Local).
    pub record: Option<ServerRecord>,
    /// Hidden from the list.
    pub hidden: bool,
    /// The connection.
    pub link: Link,
    /// The current connection's generation.
    pub generation: u64,
    /// The logged-in user.
    pub user: Option<String>,
    /// The account a login is running for.
    pub logging_in: Option<String>,
    /// The logged-in user's permission level.
    pub permission: Option<u8>,
    /// The buffers; the first is the system buffer.
    pub buffers: Vec<Buffer>,
    /// Index of the current buffer.
    pub current: usize,
    /// Online users and their permission levels (the Users panel).
    pub users: Vec<(String, u8)>,
    /// Unread messages per conversation.
    pub unread: BTreeMap<String, u32>,
}

impl Server {
    /// The Local server with its System buffer (and Debug when `debug`).
    pub fn local(debug: bool, wall: i64) -> Self {
        let mut system = Buffer::new(SYSTEM_BUFFER, BufferKind::System);
        let mut seq = 0;
        let mut add = |b: &mut Buffer, sender: Sender, text: &str| {
            seq += 1;
            b.push(Entry {
                seq,
                id: None,
                stamp: wall,
                sender,
                text: text.to_owned(),
                unread: false,
                pending: false,
            });
        };
        add(&mut system, Sender::Plain, LOGO);
        add(&mut system, Sender::System, "Welcome to gochat!");
        add(
            &mut system,
            Sender::System,
            "Press F1 or Ctrl-Alt-L/Ctrl-Shift-L to show help!",
        );
        let mut buffers = vec![system];
        if debug {
            let mut b = Buffer::new("Debug", BufferKind::System);
            add(
                &mut b,
                Sender::System,
                "Packets between client and server are not shown here: with --verbose the log file has the details.",
            );
            buffers.push(b);
        }
        Server {
            buffers,
            ..Self::bare(LOCAL, None)
        }
    }

    /// A stored server with its Default buffer.
    pub fn remote(record: ServerRecord, wall: i64) -> Self {
        let mut default = Buffer::new(DEFAULT_BUFFER, BufferKind::System);
        default.push(Entry {
            seq: 0,
            id: None,
            stamp: wall,
            sender: Sender::System,
            text: "You are currently in the default channel for this server.\n\
                   Use /connect to establish connection to the server.\n\
                   You may then use /register or /login to use an account."
                .to_owned(),
            unread: false,
            pending: false,
        });
        Server {
            buffers: vec![default],
            ..Self::bare(record.id, Some(record))
        }
    }

    fn bare(key: i64, record: Option<ServerRecord>) -> Self {
        Server {
            key,
            record,
            hidden: false,
            link: Link::Offline,
            generation: 0,
            user: None,
            logging_in: None,
            permission: None,
            buffers: Vec::new(),
            current: 0,
            users: Vec::new(),
            unread: BTreeMap::new(),
        }
    }

    /// The name shown in the list.
    pub fn name(&self) -> &str {
        self.record.as_ref().map_or("Local", |r| r.name.as_str())
    }

    /// Whether this is the Local server.
    pub fn is_local(&self) -> bool {
        self.key == LOCAL
    }

    /// The current buffer.
    pub fn buffer(&self) -> Option<&Buffer> {
        self.buffers.get(self.current)
    }

    /// The current buffer, to change.
    pub fn buffer_mut(&mut self) -> Option<&mut Buffer> {
        self.buffers.get_mut(self.current)
    }

    /// The index of the buffer called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.buffers.iter().position(|b| b.name == name)
    }

    /// The visible buffers with their indexes, in list order.
    pub fn visible(&self) -> impl Iterator<Item = (usize, &Buffer)> {
        self.buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.hidden)
            .take(MAX_BUFFERS)
    }

    /// The Users panel lines, highest permission first.
    pub fn sorted_users(&self) -> Vec<(String, u8)> {
        let mut users = self.users.clone();
        users.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        users
    }
}
