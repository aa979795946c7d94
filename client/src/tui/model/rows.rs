//! How many rows a buffer takes in the messages view, kept in step with its
//! entries: each entry's rows of text and local date are measured once, at
//! the width and in the zone of the last [`Measure`]; the date separators
//! and unread markers between entries are counted from those. Scrolling
//! reads the total; nothing is laid out again unless the width, the zone or
//! the day changes.

use jiff::civil::Date;

use super::entry::Entry;
use super::wrap::entry_text;
use crate::time::TimeZone;

/// What the rows of a buffer depend on, besides its entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measure {
    /// The messages view's width, in columns.
    pub width: usize,
    /// The zone stamps are shown in.
    pub zone: TimeZone,
    /// Today in that zone: the oldest entry has a date separator unless it
    /// is of today.
    pub today: Date,
}

/// The marks shown above an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marks {
    /// `--- UNREAD ---`: the entry starts a run of unread ones.
    pub unread: bool,
    /// `--- <date> ---`: the entry is of another day than the one before.
    pub date: bool,
}

impl Marks {
    /// The rows the marks take.
    pub fn rows(self) -> usize {
        usize::from(self.unread) + usize::from(self.date)
    }
}

/// The marks above `e` (of local date `day`) after `prev`, the entry before
/// it, of local date `prev_day` (today for the first entry).
pub fn marks(e: &Entry, prev: Option<&Entry>, day: Date, prev_day: Date) -> Marks {
    Marks {
        unread: e.unread && !prev.is_some_and(|p| p.unread),
        date: day != prev_day,
    }
}

/// One entry's measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Measured {
    /// Its rows of text.
    rows: usize,
    /// Its local date.
    day: Date,
}

fn measure_entry(e: &Entry, m: &Measure) -> Measured {
    Measured {
        rows: entry_text(e, m.width, &m.zone, m.today).rows.len(),
        day: m.zone.date_of(e.stamp),
    }
}

/// The row count of a buffer's entries. Until the first [`remeasure`]
/// nothing is counted; after it, one measure per entry, in entry order.
///
/// [`remeasure`]: RowCount::remeasure
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowCount {
    measure: Option<Measure>,
    entries: Vec<Measured>,
    total: usize,
}

impl RowCount {
    /// All the rows, separators and markers included; `None` before the
    /// first measure.
    pub fn total(&self) -> Option<usize> {
        self.measure.as_ref().map(|_| self.total)
    }

    /// The local date of entry `i`, as last measured.
    pub fn day(&self, i: usize) -> Option<Date> {
        self.measure.as_ref()?;
        self.entries.get(i).map(|m| m.day)
    }

    /// Counts `entries` for `m`: measures every entry again when the width,
    /// the zone or the day changed (a message's date shows beside its time
    /// unless it is of today).
    pub fn remeasure(&mut self, entries: &[Entry], m: &Measure) {
        let in_step = self.entries.len() == entries.len();
        match &self.measure {
            Some(old) if old == m && in_step => return,
            _ => self.entries = entries.iter().map(|e| measure_entry(e, m)).collect(),
        }
        self.measure = Some(m.clone());
        self.recount(entries);
    }

    /// The rows entry `i` of `entries` takes with the marks above it.
    fn rows_of(&self, entries: &[Entry], i: usize) -> usize {
        let (Some(m), Some(e), Some(measured)) =
            (&self.measure, entries.get(i), self.entries.get(i))
        else {
            return 0;
        };
        let prev = i.checked_sub(1);
        let prev_entry = prev.and_then(|p| entries.get(p));
        let prev_day = prev
            .and_then(|p| self.entries.get(p))
            .map_or(m.today, |p| p.day);
        measured.rows + marks(e, prev_entry, measured.day, prev_day).rows()
    }

    /// Counts every entry's rows again from the measures kept.
    pub fn recount(&mut self, entries: &[Entry]) {
        if self.measure.is_none() {
            return;
        }
        if self.entries.len() != entries.len() {
            self.forget();
            return;
        }
        self.total = (0..entries.len()).map(|i| self.rows_of(entries, i)).sum();
    }

    /// The rows of entry `at` of `entries`, before an entry is inserted
    /// there (give it to [`inserted`](RowCount::inserted)).
    pub fn before_insert(&self, entries: &[Entry], at: usize) -> usize {
        self.rows_of(entries, at)
    }

    /// An entry was inserted at `at` of `entries`; `before` is what
    /// [`before_insert`](RowCount::before_insert) said. Only the new entry
    /// and the one after it change.
    pub fn inserted(&mut self, entries: &[Entry], at: usize, before: usize) {
        let Some(m) = &self.measure else { return };
        let Some(e) = entries.get(at) else { return };
        if self.entries.len() + 1 != entries.len() || at > self.entries.len() {
            self.forget();
            return;
        }
        let measured = measure_entry(e, m);
        self.entries.insert(at, measured);
        let after = self.rows_of(entries, at) + self.rows_of(entries, at + 1);
        self.total = self.total.saturating_sub(before).saturating_add(after);
    }

    /// Entries were removed: `kept` says, for each entry there was, whether
    /// it is still there.
    pub fn retained(&mut self, entries: &[Entry], kept: &[bool]) {
        if self.measure.is_none() {
            return;
        }
        if kept.len() != self.entries.len() {
            self.forget();
            return;
        }
        let mut keep = kept.iter();
        self.entries
            .retain(|_| keep.next().copied().unwrap_or(false));
        self.recount(entries);
    }

    /// Drops every measure: the next [`remeasure`](RowCount::remeasure)
    /// measures everything.
    fn forget(&mut self) {
        *self = RowCount::default();
    }
}
