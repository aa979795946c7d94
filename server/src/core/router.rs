//! Where a MSG goes: the one seam between "a message for user X" and the
//! place where X is served.
//!
//! [`Hub`] is the local router: it looks among this server's online users.
//! A cluster plugs in a router that also knows the users of the other nodes
//! (and hands their messages over); the connection tasks only see [`Route`].

use std::sync::Arc;

use gochat_proto::Username;

use super::hub::Hub;
use super::peer::{Offer, Peer, Spilled};
use super::relay::Relay;

/// The routing decision for one message.
#[derive(Debug)]
pub enum Route {
    /// Queued for the recipient's connection: it will write it, or store it
    /// if it cannot.
    Queued,
    /// The recipient is online but its connection cannot take the message
    /// now (its queue is full, or it is ending): store it, tell `peer` the
    /// stored id ([`Peer::note_spilled`]), and drop `guard` once the store
    /// answered.
    Store {
        /// The message, for the recipient's account.
        relay: Relay,
        /// The recipient's session.
        peer: Arc<Peer>,
        /// Held while a spilled message is being stored (none when the
        /// connection is ending).
        guard: Option<Spilled>,
    },
    /// Nobody serves the recipient now: look its account up and store the
    /// message for its next catch-up.
    Offline,
    /// Another node of the cluster serves the recipient: hand the message
    /// to `node`, and store it here if that node does not take it.
    Remote {
        /// The node's id.
        node: String,
    },
}

/// Decides where messages go.
pub trait Router: Send + Sync + 'static {
    /// Routes a message for `to`; `relay` builds it for the recipient's
    /// account id.
    fn route(&self, to: &Username, relay: &dyn Fn(i64) -> Relay) -> Route;
}

impl Router for Hub {
    fn route(&self, to: &Username, relay: &dyn Fn(i64) -> Relay) -> Route {
        let Some(peer) = self.peer(to) else {
            return Route::Offline;
        };
        match peer.offer(relay(peer.user_id)) {
            Offer::Queued => Route::Queued,
            Offer::Spill(relay, guard) => Route::Store {
                relay,
                peer,
                guard: Some(guard),
            },
            // Noted as spilled once stored: the connection, on its way out,
            // stores what it still had ahead of this.
            Offer::Gone(relay) => Route::Store {
                relay,
                peer,
                guard: None,
            },
        }
    }
}
