//! What travels between connections: relayed messages and the other things
//! a connection can be told by the rest of the server.

use bytes::Bytes;
use gochat_proto::{Packet, Username};

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
    /// Close without a packet and without NEWLOGOUT: the user stays online
    /// in a session on another node of the cluster, which holds its entry
    /// (a second login that NATS could not check during an outage).
    Replaced,
    /// The server stops: close.
    Shutdown,
    /// A message that went to the store while the connection's queue was
    /// full has been stored (or failed): time to look at the store again.
    Stored,
}
