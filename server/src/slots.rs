//! The `max_clients` waiting line: a fair (FIFO) counter of connection slots.
//!
//! A connection that finds every slot taken waits in line and is admitted,
//! in arrival order, as slots free up. A waiter that hangs up simply drops
//! its ticket and is skipped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// A held slot; dropping it frees the slot for the next in line.
#[derive(Debug)]
pub struct SlotGuard {
    slots: Option<Arc<Slots>>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if let Some(slots) = self.slots.take() {
            slots.release();
        }
    }
}

/// A place in the line; await [`Ticket::admitted`].
#[derive(Debug)]
pub struct Ticket {
    slots: Arc<Slots>,
    rx: async_channel::Receiver<()>,
}

impl Ticket {
    /// Waits until a slot is handed to this ticket.
    pub async fn admitted(&self) -> SlotGuard {
        // The sender side lives in the line; it never closes while we hold the ticket.
        let _ = self.rx.recv().await;
        SlotGuard {
            slots: Some(self.slots.clone()),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // A slot handed over just as the waiter left must go back.
        self.rx.close();
        if self.rx.try_recv().is_ok() {
            self.slots.release();
        }
    }
}

#[derive(Debug, Default)]
struct Line {
    active: usize,
    waiting: VecDeque<async_channel::Sender<()>>,
}

/// Connection slots with a waiting line.
#[derive(Debug)]
pub struct Slots {
    max: usize,
    line: Mutex<Line>,
}

impl Slots {
    /// `max` slots; 0 means no limit.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Slots {
            max,
            line: Mutex::new(Line::default()),
        })
    }

    /// Takes a slot at once, or a place in the line.
    pub fn acquire(self: &Arc<Self>) -> Result<SlotGuard, Ticket> {
        if self.max == 0 {
            return Ok(SlotGuard { slots: None });
        }
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        if line.active < self.max && line.waiting.is_empty() {
            line.active += 1;
            return Ok(SlotGuard {
                slots: Some(self.clone()),
            });
        }
        let (tx, rx) = async_channel::bounded(1);
        line.waiting.push_back(tx);
        Err(Ticket {
            slots: self.clone(),
            rx,
        })
    }

    /// Slots in use.
    pub fn active(&self) -> usize {
        self.line.lock().unwrap_or_else(|p| p.into_inner()).active
    }

    /// Connections waiting in line (including ones that left but were not yet skipped).
    pub fn waiting(&self) -> usize {
        self.line
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .waiting
            .len()
    }

    fn release(&self) {
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(next) = line.waiting.pop_front() {
            if next.try_send(()).is_ok() {
                return; // the slot passes to the next in line
            }
        }
        line.active = line.active.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_leavers() {
        let slots = Slots::new(1);
        let a = slots.acquire().ok();
        assert!(a.is_some());
        let t1 = slots.acquire().err();
        let t2 = slots.acquire().err();
        let t3 = slots.acquire().err();
        assert_eq!(slots.waiting(), 3);
        drop(t1); // hangs up while waiting
        drop(a);
        // t2 is next.
        let t2 = t2.map(|t| async_io::block_on(t.admitted()));
        assert!(t2.is_some());
        assert_eq!(slots.active(), 1);
        drop(t2);
        let g3 = t3.map(|t| async_io::block_on(t.admitted()));
        assert!(g3.is_some());
        drop(g3);
        assert_eq!(slots.active(), 0);
        assert_eq!(slots.waiting(), 0);
    }

    #[test]
    fn handed_over_slot_returns_when_waiter_leaves() {
        let slots = Slots::new(1);
        let a = slots.acquire().ok();
        let t = slots.acquire().err();
        drop(a); // hands the slot to t
        drop(t); // t leaves without taking it
        assert_eq!(slots.active(), 0);
        assert!(slots.acquire().is_ok());
    }

    #[test]
    fn unlimited() {
        let slots = Slots::new(0);
        let guards: Vec<_> = (0..100).map(|_| slots.acquire().ok()).collect();
        assert!(guards.iter().all(Option::is_some));
    }
}
