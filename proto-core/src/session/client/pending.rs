//! Request ids and the requests awaiting their reply, with their deadlines.
//!
//! Ids run 1..=1023 and wrap from 1023 to 1; an id whose reply is still
//! awaited is skipped, so a late reply can never be matched to a newer request.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use crate::codes::Action;
use crate::header::MAX_ID;

/// What a pending request waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Awaiting {
    /// The reply to an ordinary request with this action.
    Request(Action),
    /// The current step of the login handshake (the session's state says which).
    Handshake,
}

impl Awaiting {
    /// Whether `reply` is of a kind that may answer this request: OK and ERR
    /// answer anything, REQ only REQ, USRS only USRS. The handshake's steps are
    /// checked by the handshake itself.
    pub(super) fn accepts(self, reply: Action) -> bool {
        match self {
            Awaiting::Request(request) => match reply {
                Action::Ok | Action::Err => true,
                Action::Req | Action::Usrs => request == reply,
                _ => false,
            },
            Awaiting::Handshake => true,
        }
    }
}

/// One request awaiting its reply.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    /// What it waits for.
    pub(super) awaiting: Awaiting,
    /// When it times out (`None`: the timeout overflows `Instant`, never).
    pub(super) deadline: Option<Instant>,
}

/// The id counter and the table of pending requests.
#[derive(Debug)]
pub(super) struct Pending {
    next_id: u16,
    entries: BTreeMap<u16, Entry>,
    deadlines: BTreeSet<(Instant, u16)>,
}

/// Folds any value into 1..=1023.
fn fold_id(id: u16) -> u16 {
    if (1..=MAX_ID).contains(&id) {
        id
    } else {
        id % MAX_ID + 1
    }
}

/// The id after `id`: 1023 wraps to 1.
fn successor(id: u16) -> u16 {
    if id >= MAX_ID { 1 } else { id + 1 }
}

impl Pending {
    /// A table whose first id is `first_id` folded into 1..=1023.
    pub(super) fn new(first_id: u16) -> Self {
        Pending {
            next_id: fold_id(first_id),
            entries: BTreeMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    /// The id the next request gets, skipping pending ones and `reserved`;
    /// `None` when none is free. Nothing changes until [`Self::commit`].
    pub(super) fn next_free(&self, reserved: Option<u16>) -> Option<u16> {
        let mut id = self.next_id;
        for _ in 0..MAX_ID {
            if !self.entries.contains_key(&id) && reserved != Some(id) {
                return Some(id);
            }
            id = successor(id);
        }
        None
    }

    /// Marks `id` (from [`Self::next_free`]) as used: the counter moves past it.
    pub(super) fn commit(&mut self, id: u16) {
        self.next_id = successor(id);
    }

    /// Records that `id` awaits a reply until `deadline`.
    pub(super) fn insert(&mut self, id: u16, awaiting: Awaiting, deadline: Option<Instant>) {
        if let Some(old) = self.entries.insert(id, Entry { awaiting, deadline })
            && let Some(d) = old.deadline
        {
            self.deadlines.remove(&(d, id));
        }
        if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
    }

    /// Stops waiting for `id`'s reply; its id is free again.
    pub(super) fn remove(&mut self, id: u16) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(d) = entry.deadline {
            self.deadlines.remove(&(d, id));
        }
        Some(entry)
    }

    /// The earliest deadline and its request id.
    pub(super) fn earliest(&self) -> Option<(Instant, u16)> {
        self.deadlines.first().copied()
    }

    /// Removes and returns one request whose deadline is at or before `now`,
    /// earliest first.
    pub(super) fn pop_expired(&mut self, now: Instant) -> Option<(u16, Entry)> {
        let (deadline, id) = self.earliest()?;
        if deadline > now {
            return None;
        }
        self.remove(id).map(|entry| (id, entry))
    }

    /// Removes every request, earliest deadline first (those without one last).
    pub(super) fn drain(&mut self) -> Vec<(u16, Entry)> {
        let mut order: Vec<u16> = self.deadlines.iter().map(|&(_, id)| id).collect();
        order.extend(
            self.entries
                .iter()
                .filter(|(_, e)| e.deadline.is_none())
                .map(|(&id, _)| id),
        );
        self.deadlines.clear();
        let mut out = Vec::with_capacity(order.len());
        for id in order {
            if let Some(entry) = self.entries.remove(&id) {
                out.push((id, entry));
            }
        }
        out
    }

    /// Number of requests awaiting a reply.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fold_and_wrap() {
        assert_eq!(Pending::new(0).next_free(None), Some(1));
        assert_eq!(Pending::new(1023).next_free(None), Some(1023));
        assert_eq!(Pending::new(1024).next_free(None), Some(2));
        assert_eq!(
            Pending::new(u16::MAX).next_free(None),
            Some(fold_id(u16::MAX))
        );
        let mut p = Pending::new(1023);
        p.commit(1023);
        assert_eq!(p.next_free(None), Some(1));
    }

    #[test]
    fn pending_ids_are_skipped_and_freed() {
        let now = Instant::now();
        let mut p = Pending::new(5);
        p.insert(5, Awaiting::Request(Action::Reciv), Some(now));
        p.insert(6, Awaiting::Request(Action::Reciv), None);
        assert_eq!(p.next_free(None), Some(7));
        assert_eq!(p.pop_expired(now).map(|(id, _)| id), Some(5));
        assert_eq!(p.pop_expired(now).map(|(id, _)| id), None);
        assert_eq!(p.next_free(None), Some(5));
        assert_eq!(p.next_free(Some(5)), Some(7));
        assert_eq!(p.drain().len(), 1);
        assert_eq!(p.len(), 0);
    }
}
