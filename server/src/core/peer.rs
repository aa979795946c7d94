//! A logged-in user as the rest of the server sees it: its connection's
//! mailbox with the bound on queued messages (and the spill to the store
//! past it), its permission level and its hook subscriptions.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use gochat_proto::crypto::RsaPublicKey;
use gochat_proto::{ErrorCode, Hook, Packet, Username};

use super::lock;
use super::relay::{ConnId, Outbound, Relay};

/// Where [`Peer::offer`] put a message.
#[derive(Debug)]
pub enum Offer {
    /// Queued for the connection, which will write it or store it.
    Queued,
    /// The connection's queue is full: the caller must store the message
    /// (the connection fetches it from the store when it has caught up), and
    /// drop the [`Spilled`] once the store answered.
    Spill(Relay, Spilled),
    /// The connection is gone: the caller must store the message.
    Gone(Relay),
}

/// A message being stored for an online peer whose queue was full; dropping
/// it tells the peer's connection.
#[derive(Debug)]
pub struct Spilled {
    peer: Arc<Peer>,
}

impl Drop for Spilled {
    fn drop(&mut self) {
        let mut d = lock(&self.peer.delivery);
        d.storing = d.storing.saturating_sub(1);
        d.stored = d.stored.wrapping_add(1);
        // One notice at a time: the connection clears the flag when it takes
        // the notice, so a catch-up waiting for stores always hears of the
        // next one, and a stalled connection collects no more than one.
        if !d.stored_notice {
            d.stored_notice = true;
            let _ = self.peer.tx.try_send(Outbound::Stored);
        }
    }
}

/// The state of a peer's message queue.
#[derive(Debug, Default)]
struct Delivery {
    /// Bytes of messages queued and not yet written (see [`Relay::queued_size`]).
    queued: usize,
    /// Set when the queue overflowed: messages go to the store until the
    /// connection has fetched everything stored for it.
    spilling: bool,
    /// Spilled messages whose store has not answered yet.
    storing: usize,
    /// Spilled messages whose store answered, ever (wrapping).
    stored: u64,
    /// An [`Outbound::Stored`] notice is on its way to the connection.
    stored_notice: bool,
    /// The lowest store id of a message spilled since the peer began
    /// spilling: messages still queued when the connection ends are stored
    /// ahead of the rows from here on, which were sent after them.
    spill_floor: Option<i64>,
}

/// A logged-in user, as the rest of the server sees it.
#[derive(Debug)]
pub struct Peer {
    /// The connection it is logged in on.
    pub conn: ConnId,
    /// The user.
    pub username: Username,
    /// Its id in the store.
    pub user_id: i64,
    /// The connection's remote address.
    pub ip: IpAddr,
    /// The user's public key (for broadcasts).
    pub pubkey: RsaPublicKey,
    tx: async_channel::Sender<Outbound>,
    permission: AtomicU8,
    hooks: AtomicU8,
    queue_limit: usize,
    delivery: Mutex<Delivery>,
}

impl Peer {
    /// A peer for a connection's outbound channel, which may hold up to
    /// `queue_limit` bytes of messages (see [`Relay::queued_size`]).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        conn: ConnId,
        username: Username,
        user_id: i64,
        ip: IpAddr,
        pubkey: RsaPublicKey,
        permission: u8,
        tx: async_channel::Sender<Outbound>,
        queue_limit: usize,
    ) -> Self {
        Peer {
            conn,
            username,
            user_id,
            ip,
            pubkey,
            tx,
            permission: AtomicU8::new(permission),
            hooks: AtomicU8::new(0),
            queue_limit,
            delivery: Mutex::new(Delivery::default()),
        }
    }

    /// Offers a message for this peer: queued for its connection while the
    /// queue has room and nothing is spilled, else handed back to be stored.
    pub fn offer(self: &Arc<Self>, relay: Relay) -> Offer {
        let size = relay.queued_size();
        let mut d = lock(&self.delivery);
        if self.tx.is_closed() {
            return Offer::Gone(relay);
        }
        if !d.spilling && d.queued.saturating_add(size) <= self.queue_limit {
            return match self.tx.try_send(Outbound::Message(relay)) {
                Ok(()) => {
                    d.queued += size;
                    Offer::Queued
                }
                Err(e) => match e.into_inner() {
                    Outbound::Message(relay) => Offer::Gone(relay),
                    _ => Offer::Queued,
                },
            };
        }
        d.spilling = true;
        d.storing += 1;
        drop(d);
        Offer::Spill(relay, Spilled { peer: self.clone() })
    }

    /// A queued message of `size` bytes was written (or stored) by the connection.
    pub fn dequeued(&self, size: usize) {
        let mut d = lock(&self.delivery);
        d.queued = d.queued.saturating_sub(size);
    }

    /// Bytes of messages queued for this peer and not yet written.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.delivery).queued
    }

    /// Whether messages for this peer go to the store (its queue overflowed
    /// and the connection has not yet fetched them all back).
    pub fn is_spilling(&self) -> bool {
        lock(&self.delivery).spilling
    }

    /// The connection took the [`Outbound::Stored`] notice: the next
    /// finished store sends another.
    pub fn take_stored_notice(&self) {
        lock(&self.delivery).stored_notice = false;
    }

    /// Spilled messages whose store has not answered yet.
    pub fn storing(&self) -> usize {
        lock(&self.delivery).storing
    }

    /// How many spilled messages have been stored so far; pass it to
    /// [`Self::end_spill`] after reading the store.
    pub fn spill_mark(&self) -> u64 {
        lock(&self.delivery).stored
    }

    /// Returns the peer to direct delivery if no spilled message was stored
    /// since `mark` was taken (before the connection last read the store) and
    /// none is being stored; whether it did.
    pub fn end_spill(&self, mark: u64) -> bool {
        let mut d = lock(&self.delivery);
        if d.storing == 0 && d.stored == mark {
            d.spilling = false;
            d.spill_floor = None;
        }
        !d.spilling
    }

    /// A spilled message was stored with `id` (called by the writer before
    /// the sender hears of it).
    pub fn note_spilled(&self, id: i64) {
        let mut d = lock(&self.delivery);
        d.spill_floor = Some(d.spill_floor.map_or(id, |f| f.min(id)));
    }

    /// The lowest store id of the messages spilled since the peer began
    /// spilling, if any were.
    pub fn spill_floor(&self) -> Option<i64> {
        lock(&self.delivery).spill_floor
    }

    /// Queues a hook for this peer unless its queue is full (a subscriber
    /// that stopped reading misses hooks rather than growing the server);
    /// whether it was queued.
    pub fn send_hook(&self, packet: Packet) -> bool {
        let size = packet.wire_len();
        let mut d = lock(&self.delivery);
        if d.queued.saturating_add(size) > self.queue_limit {
            return false;
        }
        let queued = self.tx.try_send(Outbound::Hook(packet)).is_ok();
        if queued {
            d.queued += size;
        }
        queued
    }

    /// The current permission level.
    pub fn permission(&self) -> u8 {
        self.permission.load(Ordering::Relaxed)
    }

    /// Changes the permission level and tells the connection.
    pub fn set_permission(&self, level: u8) {
        self.permission.store(level, Ordering::Relaxed);
        let _ = self.tx.try_send(Outbound::SetPermission(level));
    }

    /// Queues something for this peer's connection; gives it back if the
    /// connection is gone.
    pub fn send(&self, out: Outbound) -> Result<(), Outbound> {
        self.tx.try_send(out).map_err(|e| e.into_inner())
    }

    fn hook_bit(hook: Hook) -> u8 {
        1 << hook.code()
    }

    /// The bits of `hook`, or of every hook for ALL.
    fn hook_bits(hook: Hook) -> u8 {
        match hook {
            Hook::All => Hook::EVENTS.iter().fold(0, |b, h| b | Self::hook_bit(*h)),
            h => Self::hook_bit(h),
        }
    }

    /// Whether the peer subscribed to `hook`.
    pub fn subscribed(&self, hook: Hook) -> bool {
        self.hooks.load(Ordering::Relaxed) & Self::hook_bit(hook) != 0
    }

    /// SUB: `Err(EXISTS)` for a single hook already held; ALL skips those.
    pub fn subscribe(&self, hook: Hook) -> Result<(), ErrorCode> {
        let bits = Self::hook_bits(hook);
        let before = self.hooks.fetch_or(bits, Ordering::Relaxed);
        if hook != Hook::All && before & bits != 0 {
            return Err(ErrorCode::Exists);
        }
        Ok(())
    }

    /// UNSUB: `Err(NOTFOUND)` for a single hook not held; ALL skips those.
    pub fn unsubscribe(&self, hook: Hook) -> Result<(), ErrorCode> {
        let bits = Self::hook_bits(hook);
        let before = self.hooks.fetch_and(!bits, Ordering::Relaxed);
        if hook != Hook::All && before & bits == 0 {
            return Err(ErrorCode::NotFound);
        }
        Ok(())
    }
}
