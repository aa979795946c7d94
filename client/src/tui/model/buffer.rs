//! A buffer: its entries in order, how far it is scrolled, where its
//! history stands, and how many rows it takes ([`RowCount`], kept in step by
//! every change made through its methods).

use jiff::civil::Date;

use super::entry::{Entry, Sender};
use super::input::Input;
use super::rows::{Measure, RowCount};

/// What a buffer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// A server's own buffer (System, Debug, Default): no typing.
    System,
    /// A Local scratch buffer: text stays in memory.
    Scratch,
    /// A conversation with the user the buffer is named after.
    Chat,
    /// The results of a search: no typing; it can be hidden or deleted.
    Search,
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
    entries: Vec<Entry>,
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
    /// What was typed in the input for this buffer while another was on
    /// screen.
    pub draft: Input,
    /// The words of the last search here, highlighted in its texts.
    pub highlight: Option<String>,
    /// The rows the entries take.
    rows: RowCount,
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
            draft: Input::new(),
            highlight: None,
            rows: RowCount::default(),
        }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
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
        let at = if self.kind == BufferKind::Chat {
            let order = entry.order();
            self.entries.partition_point(|e| e.order() <= order)
        } else {
            self.entries.len()
        };
        let before = self.rows.before_insert(&self.entries, at);
        self.entries.insert(at, entry);
        self.rows.inserted(&self.entries, at, before);
    }

    /// Keeps only the entries `keep` says yes to; returns how many went.
    pub fn retain(&mut self, keep: impl Fn(&Entry) -> bool) -> usize {
        let kept: Vec<bool> = self.entries.iter().map(&keep).collect();
        let before = self.entries.len();
        self.entries.retain(keep);
        self.rows.retained(&self.entries, &kept);
        before - self.entries.len()
    }

    /// Drops every unread mark (the buffer was left).
    pub fn clear_unread(&mut self) {
        for e in &mut self.entries {
            e.unread = false;
        }
        self.rows.recount(&self.entries);
    }

    /// Marks the newest `count` messages of the other user as unread.
    pub fn mark_unread(&mut self, count: u32) {
        let mut left = count;
        for e in self.entries.iter_mut().rev() {
            if left == 0 {
                break;
            }
            if matches!(e.sender, Sender::User(_)) {
                e.unread = true;
                left -= 1;
            }
        }
        self.rows.recount(&self.entries);
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.retain(|_| false);
        self.scroll = 0;
    }

    /// The echoed entry `seq` is no longer being sent.
    pub fn finish_pending(&mut self, seq: u64) {
        self.entries
            .iter_mut()
            .filter(|e| e.seq == seq)
            .for_each(|e| e.pending = false);
    }

    /// Counts the rows again for `measure` if it is not what they were
    /// counted for.
    pub fn remeasure(&mut self, measure: &Measure) {
        self.rows.remeasure(&self.entries, measure);
    }

    /// All the rows the buffer takes (separators and markers included), as
    /// last measured; `None` if it never was.
    pub fn total_rows(&self) -> Option<usize> {
        self.rows.total()
    }

    /// The local date of entry `i`, as last measured.
    pub fn day(&self, i: usize) -> Option<Date> {
        self.rows.day(i)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::time::TimeZone;
    use crate::tui::model::rows::marks;
    use crate::tui::model::wrap::entry_text;

    const DAY: i64 = 86_400;

    fn entry(seq: u64, stamp: i64, sender: Sender, text: &str) -> Entry {
        Entry {
            seq,
            id: Some(seq as i64),
            stamp,
            sender,
            text: text.into(),
            unread: false,
            pending: false,
        }
    }

    /// The rows of `b` counted from scratch, the way the view draws them.
    fn counted(b: &Buffer, m: &Measure) -> usize {
        let entries = b.entries();
        let mut total = 0;
        for (i, e) in entries.iter().enumerate() {
            let prev = i.checked_sub(1).and_then(|p| entries.get(p));
            let day = m.zone.date_of(e.stamp);
            let prev_day = prev.map_or(m.today, |p| m.zone.date_of(p.stamp));
            total += entry_text(e, m.width, &m.zone, m.today).rows.len()
                + marks(e, prev, day, prev_day).rows();
        }
        total
    }

    #[test]
    fn the_count_follows_every_change() {
        let zone = TimeZone::utc();
        let today = zone.date_of(20 * DAY);
        let mut m = Measure {
            width: 30,
            zone,
            today,
        };
        let mut b = Buffer::new("bob", BufferKind::Chat);
        assert_eq!(b.total_rows(), None);
        b.push(entry(1, 18 * DAY, Sender::You, "first"));
        b.remeasure(&m);
        assert_eq!(b.total_rows(), Some(counted(&b, &m)));
        let bob = || Sender::User("bob".into());
        let long = "a longer text that wraps over a few rows at thirty columns";
        for (seq, stamp, text) in [
            (5, 20 * DAY + 50, long),
            (3, 19 * DAY, "yesterday"),
            (4, 20 * DAY, "today"),
            (2, 18 * DAY + 5, "line\nbreak"),
            (6, 17 * DAY, "oldest, pushed last"),
        ] {
            b.push(entry(seq, stamp, bob(), text));
            assert_eq!(b.total_rows(), Some(counted(&b, &m)), "after {seq}");
        }
        b.mark_unread(2);
        assert_eq!(b.total_rows(), Some(counted(&b, &m)));
        b.push(entry(7, 20 * DAY + 60, bob(), "unread too"));
        b.entries.last_mut().unwrap().unread = true;
        b.rows.recount(&b.entries);
        assert_eq!(b.total_rows(), Some(counted(&b, &m)));
        assert_eq!(b.retain(|e| e.seq != 4), 1);
        assert_eq!(b.total_rows(), Some(counted(&b, &m)));
        b.clear_unread();
        assert_eq!(b.total_rows(), Some(counted(&b, &m)));
        m.width = 12;
        b.remeasure(&m);
        assert_eq!(b.total_rows(), Some(counted(&b, &m)));
        m.today = m.zone.date_of(30 * DAY);
        b.remeasure(&m);
        assert_eq!(b.total_rows(), Some(counted(&b, &m)));
        m.zone = TimeZone::fixed(-12 * 3600);
        b.remeasure(&m);
        assert_eq!(b.total_rows(), Some(counted(&b, &m)));
        assert_eq!(b.day(0), Some(m.zone.date_of(17 * DAY)));
    }

    #[test]
    fn a_stored_message_is_added_once() {
        let mut b = Buffer::new("bob", BufferKind::Chat);
        b.push(entry(1, 10, Sender::You, "hi"));
        b.push(entry(1, 10, Sender::You, "hi"));
        assert_eq!(b.entries().len(), 1);
        assert_eq!(b.oldest_id, Some(1));
    }
}
