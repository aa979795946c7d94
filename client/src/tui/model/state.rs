//! The TUI's whole state ([`Model`]): servers with their buffers, messages
//! and users, the input, popups, focus, the error bar, the clock, and the
//! size of the messages view. Rendering only reads it; only the update
//! function changes it.

use std::time::{Duration, Instant};

use super::completion::Completion;
use super::entry::{Entry, Sender};
use super::input::Input;
use super::popup::Popup;
use super::server_state::{LOCAL, SYSTEM_BUFFER, Server};
use super::ui_config::UiConfig;
use crate::time::TimeZone;
use crate::types::ServerRecord;

/// Most servers shown, the Local server included.
pub const MAX_SERVERS: usize = 9;
/// Messages per history page.
pub const PAGE: u32 = 200;
/// How long the error bar shows.
pub const ERROR_TIME: Duration = Duration::from_secs(3);
/// The shortest pause between two sent messages.
pub const MSG_DELAY: Duration = Duration::from_millis(300);

/// The inner size of the messages view, for the terminal size and what
/// shows around it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewSize {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

/// Which part of the screen takes the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    /// The input box.
    Input,
    /// The messages view (scrolling).
    Messages,
    /// The buffer list.
    Buffers,
    /// The server list.
    Servers,
}

/// All the TUI's state.
#[derive(Debug)]
pub struct Model {
    /// The servers, Local first.
    pub servers: Vec<Server>,
    /// Index of the current server.
    pub current: usize,
    /// What takes the keys.
    pub focus: Focus,
    /// Show the left column (Ctrl-B).
    pub show_left: bool,
    /// Show the Users panel when logged in (Ctrl-U).
    pub show_users: bool,
    /// The help page shows.
    pub help: bool,
    /// How far the help page is scrolled.
    pub help_scroll: u16,
    /// The popup, if one is open.
    pub popup: Option<Popup>,
    /// The input box.
    pub input: Input,
    /// Commands typed, oldest first.
    pub history: Vec<String>,
    /// Where Up has walked back to in `history`.
    pub history_pos: Option<usize>,
    /// The Tab completion being cycled through.
    pub completion: Option<Completion>,
    /// The error bar's text and when it goes away.
    pub error: Option<(String, Instant)>,
    /// Tasks running (the spinner shows while any does).
    pub pending: usize,
    /// The spinner's frame.
    pub spinner: usize,
    /// When the last message was sent.
    pub last_send: Option<Instant>,
    /// Settings.
    pub config: UiConfig,
    /// The time zone stamps are shown in.
    pub tz: TimeZone,
    /// Now, as set by the runner before each update.
    pub now: Instant,
    /// Now in Unix seconds, as set by the runner before each update.
    pub wall: i64,
    /// The terminal size (columns, rows).
    pub size: (u16, u16),
    /// The messages view's inner size, as of the last
    /// [`refresh`](Model::refresh).
    pub view: ViewSize,
    next_seq: u64,
    next_generation: u64,
}

impl Model {
    /// The start-up state: the Local server, then the stored servers (the
    /// ones past [`MAX_SERVERS`] hidden), with the messages view sized for
    /// `size` (see [`Model::refresh`]).
    pub fn new(
        config: UiConfig,
        records: Vec<ServerRecord>,
        tz: TimeZone,
        size: (u16, u16),
        now: Instant,
        wall: i64,
    ) -> Self {
        let mut servers = vec![Server::local(config.debug_buffer, wall)];
        for (i, record) in records.into_iter().enumerate() {
            let mut server = Server::remote(record, wall);
            server.hidden = i + 1 >= MAX_SERVERS;
            servers.push(server);
        }
        let mut model = Model {
            servers,
            current: 0,
            focus: Focus::Input,
            show_left: true,
            show_users: true,
            help: false,
            help_scroll: 0,
            popup: None,
            input: Input::new(),
            history: Vec::new(),
            history_pos: None,
            completion: None,
            error: None,
            pending: 0,
            spinner: 0,
            last_send: None,
            config,
            tz,
            now,
            wall,
            size,
            view: ViewSize::default(),
            next_seq: 1000,
            next_generation: 0,
        };
        model.refresh();
        model
    }

    /// A fresh entry sequence number.
    pub fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A fresh connection generation.
    pub fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// The current server.
    pub fn server(&self) -> &Server {
        let i = self.current.min(self.servers.len().saturating_sub(1));
        &self.servers[i]
    }

    /// The current server, to change.
    pub fn server_mut(&mut self) -> &mut Server {
        let i = self.current.min(self.servers.len().saturating_sub(1));
        &mut self.servers[i]
    }

    /// The index of the server with key `key`.
    pub fn index_of(&self, key: i64) -> Option<usize> {
        self.servers.iter().position(|s| s.key == key)
    }

    /// The server with key `key`, to change.
    pub fn by_key(&mut self, key: i64) -> Option<&mut Server> {
        self.servers.iter_mut().find(|s| s.key == key)
    }

    /// The visible servers with their indexes, in list order.
    pub fn visible_servers(&self) -> impl Iterator<Item = (usize, &Server)> {
        self.servers
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.hidden)
            .take(MAX_SERVERS)
    }

    /// Whether buffer `name` of server `key` is the one on screen.
    pub fn in_view(&self, key: i64, name: &str) -> bool {
        let s = self.server();
        s.key == key && s.buffer().is_some_and(|b| b.name == name)
    }

    /// Adds a line by `sender` to buffer `name` of server `key` (to the
    /// server's current buffer when there is no such buffer).
    pub fn add(&mut self, key: i64, name: &str, sender: Sender, text: String) {
        let seq = self.seq();
        let stamp = self.wall;
        let Some(server) = self.by_key(key) else {
            return;
        };
        let i = server.find(name).unwrap_or(server.current);
        if let Some(b) = server.buffers.get_mut(i) {
            b.push(Entry::line(seq, stamp, sender, text));
        }
    }

    /// A system line in buffer `name` of server `key`.
    pub fn note(&mut self, key: i64, name: &str, text: impl Into<String>) {
        self.add(key, name, Sender::System, text.into());
    }

    /// A system line in the buffer on screen.
    pub fn say(&mut self, text: impl Into<String>) {
        let (key, name) = self.here();
        self.note(key, &name, text);
    }

    /// The server key and buffer name on screen.
    pub fn here(&self) -> (i64, String) {
        let s = self.server();
        (
            s.key,
            s.buffer().map(|b| b.name.clone()).unwrap_or_default(),
        )
    }

    /// Shows `text` in the error bar for [`ERROR_TIME`], and keeps it in the
    /// Local server's System buffer (with the server and buffer it came
    /// from), where it can be read after the bar is gone.
    pub fn set_error(&mut self, text: impl Into<String>) {
        let text = text.into();
        let (_, buffer) = self.here();
        let line = format!("Error in {}/{buffer}: {text}", self.server().name());
        self.note(LOCAL, SYSTEM_BUFFER, line);
        self.error = Some((text, self.now + ERROR_TIME));
    }

    /// When the runner must wake up even without input: while the spinner
    /// turns (soon) or when the error bar is due to go away.
    pub fn next_tick(&self) -> Option<Instant> {
        if self.pending > 0 {
            return Some(self.now + Duration::from_millis(120));
        }
        self.error.as_ref().map(|(_, until)| *until)
    }
}
