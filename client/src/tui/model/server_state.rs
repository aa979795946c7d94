//! A server as the TUI keeps it ([`Server`]): the Local server or a stored
//! one, with its connection ([`Link`]), login, buffers, online users and
//! unread counts.

use std::collections::BTreeMap;

use super::buffer::{Buffer, BufferKind};
use super::entry::{Entry, Sender};
use crate::tui::msg::Secret;
use crate::types::{ServerRecord, StartOptions};

/// The key of the Local server (store ids start at 1).
pub const LOCAL: i64 = 0;
/// Most buffers shown per server.
pub const MAX_BUFFERS: usize = 35;
/// The Local server's system buffer.
pub const SYSTEM_BUFFER: &str = "System";
/// A remote server's system buffer.
pub const DEFAULT_BUFFER: &str = "Default";
/// The buffer search results go to (not a username: those are lowercase,
/// without spaces).
pub const SEARCH_BUFFER: &str = "Search results";

/// The gochat logo shown atop the Local server's System buffer.
pub const LOGO: &str = r"                   _           _
   __ _  ___   ___| |__   __ _| |_
  / _` |/ _ \ / __| '_ \ / _` | __|
 | (_| | (_) | (__| | | | (_| | |_
  \__, |\___/ \___|_| |_|\__,_|\__|
  |___/";

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
    /// The users whose keys are stored (for Tab completion).
    pub contacts: Vec<String>,
    /// The local accounts of this server (for Tab completion).
    pub accounts: Vec<String>,
    /// Connect at start, log in at connect (stored).
    pub start: StartOptions,
    /// The password of the account that logs in at connect, once it logged
    /// in with it in this run (in memory only, never stored).
    pub password: Option<(String, Secret)>,
    /// The password a login of that account is running with, kept if it
    /// succeeds.
    pub login_password: Option<Secret>,
}

impl Server {
    /// The Local server with its System buffer (and Debug when `debug`).
    pub fn local(debug: bool, wall: i64) -> Self {
        let mut system = Buffer::new(SYSTEM_BUFFER, BufferKind::System);
        let mut seq = 0;
        let mut add = |b: &mut Buffer, sender: Sender, text: &str| {
            seq += 1;
            b.push(Entry::line(seq, wall, sender, text.to_owned()));
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
            contacts: Vec::new(),
            accounts: Vec::new(),
            start: StartOptions::default(),
            password: None,
            login_password: None,
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
