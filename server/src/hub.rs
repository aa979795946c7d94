//! The state shared by every connection: who is online, reusable tokens, the
//! MOTD, the connections to stop at shutdown, and hook fan-out.
//!
//! Connections talk to each other only through the [`Outbound`] channel that
//! each admitted connection owns; the hub hands out the senders.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gochat_proto::crypto::{Challenge, RsaPublicKey};
use gochat_proto::{ErrorCode, Hook, HookEvent, Packet, ServerCommand, UserEntry, Username};

/// Identifies one connection for the server's lifetime.
pub type ConnId = u64;

/// A message relayed from one user to another.
#[derive(Clone, Debug)]
pub struct Relay {
    /// The sender's name.
    pub sender: Username,
    /// The sender's user id in the store.
    pub sender_id: i64,
    /// The recipient's user id in the store (to keep the message if it cannot be delivered).
    pub recipient_id: i64,
    /// Unix seconds.
    pub stamp: i64,
    /// Ciphertext for the recipient.
    pub ciphertext: Bytes,
}

impl Relay {
    /// What this message counts against its recipient's queue bound: about
    /// its size on the wire.
    pub fn queued_size(&self) -> usize {
        self.ciphertext.len() + self.sender.as_str().len() + 32
    }
}

/// What one connection can be told by the rest of the server.
#[derive(Clone, Debug)]
pub enum Outbound {
    /// Send this packet as it is (SHTDWN).
    Packet(Packet),
    /// Send this HOOK; it counts against the queue bound until the
    /// connection takes it.
    Hook(Packet),
    /// Deliver a message (RECIV); stored for later if it cannot be written.
    Message(Relay),
    /// The user's permission level changed.
    SetPermission(u8),
    /// Close without a packet (ADMIN KICK, ADMIN DEREG).
    Kick,
    /// The server stops: close.
    Shutdown,
    /// A message that went to the store while the connection's queue was
    /// full has been stored (or failed): time to look at the store again.
    Stored,
}

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

#[derive(Debug)]
struct Token {
    text: Challenge,
    /// The connection whose session created it, while that session lasts.
    active: Option<ConnId>,
    /// Set when the session ended: usable until then.
    expires: Option<Instant>,
}

/// Signals a server-wide stop to whoever waits for it.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: async_channel::Sender<()>,
    rx: async_channel::Receiver<()>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (tx, rx) = async_channel::bounded(1);
        Shutdown { tx, rx }
    }
}

impl Shutdown {
    /// Starts the stop; idempotent.
    pub fn trigger(&self) {
        self.tx.close();
    }

    /// Whether the stop started.
    pub fn is_triggered(&self) -> bool {
        self.tx.is_closed()
    }

    /// Completes once the stop starts.
    pub async fn wait(&self) {
        let _ = self.rx.recv().await;
    }
}

/// Shared server state.
#[derive(Debug)]
pub struct Hub {
    online: RwLock<HashMap<Username, Arc<Peer>>>,
    tokens: Mutex<HashMap<Username, Token>>,
    motd: RwLock<Bytes>,
    conns: Mutex<HashMap<ConnId, async_channel::Sender<Outbound>>>,
    next_conn: AtomicU64,
    token_lifetime: Duration,
    /// The server-wide stop signal.
    pub shutdown: Shutdown,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    /// A hub with the given MOTD and token lifetime.
    pub fn new(motd: Bytes, token_lifetime: Duration) -> Self {
        Hub {
            online: RwLock::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            motd: RwLock::new(motd),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            token_lifetime,
            shutdown: Shutdown::default(),
        }
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    // ----- connections -----

    /// Records an admitted connection so that shutdown reaches it.
    pub fn register_conn(&self, conn: ConnId, tx: async_channel::Sender<Outbound>) {
        lock(&self.conns).insert(conn, tx);
    }

    /// Forgets a connection.
    pub fn unregister_conn(&self, conn: ConnId) {
        lock(&self.conns).remove(&conn);
    }

    /// Admitted connections.
    pub fn connection_count(&self) -> usize {
        lock(&self.conns).len()
    }

    /// Tells every admitted connection to close.
    pub fn close_all(&self) {
        for tx in lock(&self.conns).values() {
            let _ = tx.try_send(Outbound::Shutdown);
        }
    }

    // ----- MOTD -----

    /// The current message of the day.
    pub fn motd(&self) -> Bytes {
        self.motd.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// Replaces the message of the day.
    pub fn set_motd(&self, motd: Bytes) {
        if let Ok(mut m) = self.motd.write() {
            *m = motd;
        }
    }

    // ----- online users -----

    /// The online session of `username`.
    pub fn peer(&self, username: &Username) -> Option<Arc<Peer>> {
        self.online.read().ok()?.get(username).cloned()
    }

    /// Marks a peer online, or returns the session that already is.
    pub fn go_online(&self, peer: Arc<Peer>) -> Result<(), Arc<Peer>> {
        let Ok(mut online) = self.online.write() else {
            return Err(peer);
        };
        if let Some(existing) = online.get(&peer.username) {
            return Err(existing.clone());
        }
        online.insert(peer.username.clone(), peer);
        Ok(())
    }

    /// Takes a peer offline if it is still the one of `conn`; fires NEWLOGOUT.
    pub fn go_offline(&self, username: &Username, conn: ConnId) -> bool {
        let removed = match self.online.write() {
            Ok(mut online) => match online.get(username) {
                Some(p) if p.conn == conn => online.remove(username).is_some(),
                _ => false,
            },
            Err(_) => false,
        };
        if removed {
            self.notify(&HookEvent::NewLogout {
                username: username.clone(),
            });
        }
        removed
    }

    /// Every online peer.
    pub fn peers(&self) -> Vec<Arc<Peer>> {
        self.online
            .read()
            .map(|o| o.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The online list, sorted by name, with permissions if asked.
    pub fn online_list(&self, with_permissions: bool) -> Vec<UserEntry> {
        let mut list: Vec<UserEntry> = self
            .online
            .read()
            .map(|o| {
                o.values()
                    .map(|p| UserEntry {
                        name: p.username.clone(),
                        permission: with_permissions.then(|| p.permission()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    // ----- hooks -----

    /// Sends a hook to every online subscriber.
    pub fn notify(&self, event: &HookEvent) {
        let hook = event.hook();
        let Ok(packet) = ServerCommand::Hook(event.clone()).to_packet(0) else {
            return;
        };
        if let Ok(online) = self.online.read() {
            for peer in online.values().filter(|p| p.subscribed(hook)) {
                if !peer.send_hook(packet.clone()) {
                    tracing::debug!("hook for {} dropped: its queue is full", peer.username);
                }
            }
        }
    }

    /// Tells the session of `target` that someone at `ip` tried to log in as it.
    pub fn notify_dupsess(&self, target: &Peer, ip: IpAddr) {
        if target.subscribed(Hook::DupSess) {
            let event = HookEvent::DupSess { ip: ip.to_string() };
            if let Ok(packet) = ServerCommand::Hook(event).to_packet(0) {
                let _ = target.send_hook(packet);
            }
        }
    }

    /// Sends SHTDWN with `stamp` to every logged-in user.
    pub fn announce_shutdown(&self, stamp: i64) {
        if let Ok(packet) = (ServerCommand::Shutdown { stamp: Some(stamp) }).to_packet(0) {
            for peer in self.peers() {
                let _ = peer.send(Outbound::Packet(packet.clone()));
            }
        }
    }

    // ----- reusable tokens -----

    /// Keeps the challenge of a TLS login as the user's token, bound to the
    /// session until it ends. Replaces an older token.
    pub fn store_token(&self, username: &Username, text: Challenge, conn: ConnId) {
        lock(&self.tokens).insert(
            username.clone(),
            Token {
                text,
                active: Some(conn),
                expires: None,
            },
        );
    }

    /// The session of `conn` ended: its token becomes usable for the token lifetime.
    pub fn release_token(&self, username: &Username, conn: ConnId, now: Instant) {
        if let Some(t) = lock(&self.tokens).get_mut(username)
            && t.active == Some(conn)
        {
            t.active = None;
            // A lifetime beyond what the clock represents never expires.
            t.expires = Some(
                now.checked_add(self.token_lifetime)
                    .unwrap_or_else(|| crate::server::deadline_after(self.token_lifetime)),
            );
        }
    }

    /// Checks a token login: NOTFOUND (none or expired), INVALID (its session
    /// is still active), HANDSHAKE (wrong text).
    pub fn check_token(
        &self,
        username: &Username,
        text: &[u8],
        now: Instant,
    ) -> Result<(), ErrorCode> {
        let mut tokens = lock(&self.tokens);
        let Some(t) = tokens.get(username) else {
            return Err(ErrorCode::NotFound);
        };
        if t.active.is_some() {
            return Err(ErrorCode::Invalid);
        }
        if t.expires.is_none_or(|e| e <= now) {
            tokens.remove(username);
            return Err(ErrorCode::NotFound);
        }
        if !t.text.matches(text) {
            return Err(ErrorCode::Handshake);
        }
        Ok(())
    }

    /// Drops expired tokens (housekeeping).
    pub fn purge_tokens(&self, now: Instant) {
        lock(&self.tokens).retain(|_, t| t.expires.is_none_or(|e| e > now));
    }
}
