//! The state shared by every connection: who is online, reusable tokens, the
//! MOTD, the connections to stop at shutdown, and hook fan-out.
//!
//! Connections talk to each other only through the [`Outbound`] mailbox that
//! each admitted connection owns; the hub hands out the senders.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gochat_proto::crypto::Challenge;
use gochat_proto::{ErrorCode, Hook, HookEvent, ServerCommand, UserEntry, Username};

use super::lock;
use super::peer::Peer;
use super::relay::{ConnId, Outbound};
use super::shutdown::Shutdown;

/// A reusable login token (TLS only).
#[derive(Debug)]
struct Token {
    text: Challenge,
    /// The connection whose session created it, while that session lasts.
    active: Option<ConnId>,
    /// Set when the session ended: usable until then.
    expires: Option<Instant>,
}

/// Where hook events also go besides this server's subscribers.
pub type Outlet = Box<dyn Fn(&HookEvent) + Send + Sync>;

/// The hub's [`Outlet`], set at most once.
#[derive(Default)]
struct OutletCell(std::sync::OnceLock<Outlet>);

impl std::fmt::Debug for OutletCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Outlet(set)"
        } else {
            "Outlet(none)"
        })
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
    outlet: OutletCell,
    /// The server-wide stop signal.
    pub shutdown: Shutdown,
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
            outlet: OutletCell::default(),
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

    /// Takes back a login that did not complete (no NEWLOGIN was sent), or
    /// a session that gives way to the user's session on another node: the
    /// peer of `conn` leaves without NEWLOGOUT.
    pub fn withdraw(&self, username: &Username, conn: ConnId) {
        if let Ok(mut online) = self.online.write()
            && online.get(username).is_some_and(|p| p.conn == conn)
        {
            online.remove(username);
        }
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

    /// Sends a hook to every online subscriber here, and passes it to the
    /// outlet (the other nodes of a cluster).
    pub fn notify(&self, event: &HookEvent) {
        self.fan_out(event);
        if let Some(outlet) = self.outlet.0.get() {
            outlet(event);
        }
    }

    /// Where hook events also go (once; a cluster passes them to its other
    /// nodes). Later calls are ignored.
    pub fn set_outlet(&self, outlet: Outlet) {
        let _ = self.outlet.0.set(outlet);
    }

    /// Sends a hook to every online subscriber here only (an event from
    /// another node).
    pub fn fan_out(&self, event: &HookEvent) {
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

    /// The session of `conn` ended: its token becomes usable for the token
    /// lifetime. Returns the token when there was one to release.
    pub fn release_token(
        &self,
        username: &Username,
        conn: ConnId,
        now: Instant,
    ) -> Option<Challenge> {
        let mut tokens = lock(&self.tokens);
        let t = tokens.get_mut(username)?;
        if t.active != Some(conn) {
            return None;
        }
        t.active = None;
        // A lifetime beyond what the clock represents never expires.
        t.expires = Some(super::later(now, self.token_lifetime));
        Some(t.text.clone())
    }

    /// Takes a released token another node of a cluster issued, usable
    /// until `expires`.
    pub fn import_token(&self, username: &Username, text: Challenge, expires: Instant) {
        lock(&self.tokens).insert(
            username.clone(),
            Token {
                text,
                active: None,
                expires: Some(expires),
            },
        );
    }

    /// How long a released token stays usable.
    pub fn token_lifetime(&self) -> Duration {
        self.token_lifetime
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
