//! One line of a buffer ([`Entry`]) and who wrote it ([`Sender`]).

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

impl Sender {
    /// The name shown in the line's prefix (empty for [`Sender::Plain`]).
    pub fn name(&self) -> &str {
        match self {
            Sender::You => "You",
            Sender::System => "System",
            Sender::User(name) => name,
            Sender::Plain => "",
        }
    }
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
    /// A line of `text` by `sender` at `stamp` (Unix seconds) with sequence
    /// number `seq`: not from the store, read, and not pending.
    pub fn line(seq: u64, stamp: i64, sender: Sender, text: String) -> Self {
        Entry {
            seq,
            id: None,
            stamp,
            sender,
            text,
            unread: false,
            pending: false,
        }
    }

    /// The order of entries in a conversation: stamp, then store id (stored
    /// ones first), then sequence.
    pub fn order(&self) -> (i64, i64, u64) {
        (self.stamp, self.id.unwrap_or(i64::MAX), self.seq)
    }
}
