//! Several nodes serving one user base, joined through NATS.
//!
//! Each node keeps its own connections; what must hold across nodes goes
//! through NATS:
//!
//! - **Sessions** (`gochat_sessions` key-value bucket): user → the node
//!   serving it. A login creates the entry (atomic: of two nodes racing, one
//!   wins; the other answers DUPSESS); a logout deletes it. An entry whose
//!   node is dead (or restarted) is taken over by the next login.
//! - **Liveness** (`gochat_nodes` bucket): every node puts its run id there
//!   every [`HEARTBEAT`]; a node not heard of for [`NODE_TTL`] is dead, and
//!   its sessions no longer count.
//! - **Messages** for a user of another node: a request on
//!   `gochat.deliver.<node>` carrying a batch; the owner answers, per
//!   message, whether it took it (queued or stored) — the sender's OK waits
//!   for that. No responder: the sender stores the messages. No answer in
//!   time: ERR SERVER (the message may have been taken; never both
//!   acknowledged and lost). A courier per destination node gathers the
//!   batches of every connection into one request; they arrive on a NATS
//!   connection of the owner's own, apart from the rest of its traffic.
//! - **Reusable TLS tokens** (`gochat_tokens` bucket): the SHA-256 of each
//!   user's token and its expiry, so that a token works on any node.
//! - **Events** (`gochat.events`): NEWLOGIN, NEWLOGOUT and PERMSCHG for the
//!   hook subscribers of every node; **node commands**
//!   (`gochat.node.<node>`): the DUPSESS hook for a session elsewhere.
//!
//! The NATS client (async-nats) runs on tokio: a clustered node runs on the
//! tokio runtime (`--runtime smol` with `--cluster-url` is refused at start).

mod courier;
mod directory;
mod link;
mod router;
mod wire;

pub use directory::{Directory, Holder};
pub use link::{Claim, Cluster, ClusterError, Handed};
pub use router::ClusterRouter;
pub use wire::{
    CommandAnswer, Event, EventKind, NodeCommand, Parcel, SessionValue, TokenValue, decode_parcels,
    encode_taken,
};

use std::time::Duration;

/// How often a node says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);

/// A node not heard of for this long is dead: its users may log in elsewhere.
pub const NODE_TTL: Duration = Duration::from_secs(8);

/// How long a node waits for another to take a batch of messages.
pub const DELIVER_TIMEOUT: Duration = Duration::from_secs(5);

/// The bucket of sessions.
pub const SESSIONS_BUCKET: &str = "gochat_sessions";

/// The bucket of reusable TLS tokens (their hashes); entries older than a
/// week go (a token lives 30 minutes after its session by default).
pub const TOKENS_BUCKET: &str = "gochat_tokens";

/// The bucket of node heartbeats.
pub const NODES_BUCKET: &str = "gochat_nodes";

/// The subject of cluster-wide events.
pub const EVENTS_SUBJECT: &str = "gochat.events";

/// The subject on which `node` takes messages for its users.
pub fn deliver_subject(node: &str) -> String {
    format!("gochat.deliver.{node}")
}

/// The subject of commands for `node`.
pub fn node_subject(node: &str) -> String {
    format!("gochat.node.{node}")
}

/// `items` grouped by node, nodes in order of first appearance and each
/// node's items in their order: one hand-over per node keeps every sender's
/// order.
pub fn by_node<T>(items: impl IntoIterator<Item = (String, T)>) -> Vec<(String, Vec<T>)> {
    let mut nodes: Vec<(String, Vec<T>)> = Vec::new();
    for (node, item) in items {
        match nodes.iter_mut().find(|(n, _)| *n == node) {
            Some((_, group)) => group.push(item),
            None => nodes.push((node, vec![item])),
        }
    }
    nodes
}

/// Whether `name` can name a node (a subject token and a key): 1 to 64
/// ASCII letters, digits, `-` and `_`.
pub fn valid_node_id(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The default node id: the host name, cut to what a node id may hold.
pub fn default_node_id() -> String {
    let uname = rustix::system::uname();
    let host = uname.nodename().to_string_lossy();
    let id: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if id.is_empty() { "node".into() } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_by_node_in_order() {
        let items =
            [("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)].map(|(n, i)| (n.to_string(), i));
        assert_eq!(
            by_node(items),
            vec![
                ("b".to_string(), vec![1, 3]),
                ("a".to_string(), vec![2, 5]),
                ("c".to_string(), vec![4]),
            ]
        );
    }

    #[test]
    fn node_ids() {
        assert!(valid_node_id("node-1_a"));
        assert!(!valid_node_id(""));
        assert!(!valid_node_id("a.b"));
        assert!(!valid_node_id("a b"));
        assert!(!valid_node_id(&"x".repeat(65)));
        assert!(valid_node_id(&default_node_id()));
    }
}
