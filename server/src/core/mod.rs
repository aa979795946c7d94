//! The server's core: what requests do to the shared state, with no sockets,
//! no runtime and no database. Time comes in as an argument.
//!
//! - [`account`]: an account as stored ([`UserRow`]), which the rules read.
//! - [`hub`]: who is online, reusable tokens, the MOTD, hook fan-out.
//! - [`peer`]: a logged-in user's mailbox, with the bound on queued messages.
//! - [`relay`]: what travels between connections.
//! - [`router`]: where a MSG goes (the seam a cluster plugs into).
//! - [`rules`]: the checks and decisions of every request, in the
//!   original's order.
//!
//! The connection tasks (`crate::conn`) move bytes, run the storage calls
//! the core asks for, and call in here for every decision; nothing in here
//! imports them.

pub mod account;
pub mod hub;
pub mod peer;
pub mod relay;
pub mod router;
pub mod rules;
pub mod shutdown;

pub use account::UserRow;
pub use hub::{Hub, Outlet};
pub use peer::{Offer, Peer, Spilled};
pub use relay::{ConnId, Outbound, Relay};
pub use router::{Route, Router};
pub use shutdown::Shutdown;

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The instant `after` past `now`; a duration the clock cannot represent (a
/// configuration may ask for one) gives a century.
pub fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

/// Locks `m`, whatever a panicking holder left behind.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
