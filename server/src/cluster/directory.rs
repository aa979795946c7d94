//! Who is online where, as this node last heard it from the cluster's
//! key-value buckets: the sessions (user → node) and the live nodes.
//!
//! Plain data, updated by the watchers of the two buckets and read by the
//! router and USRS with no network call.

use std::collections::HashMap;
use std::time::Instant;

use gochat_proto::{UserEntry, Username};

use super::NODE_TTL;
use super::wire::SessionValue;

/// A session held somewhere in the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The node serving it.
    pub node: String,
    /// That node's run (a node restarted under the same name is a new run).
    pub run: u64,
    /// The user's permission level.
    pub permission: u8,
    /// The entry's revision in the sessions bucket (for compare-and-swap).
    pub revision: u64,
}

/// The cluster as this node knows it.
#[derive(Debug, Default)]
pub struct Directory {
    sessions: HashMap<String, Holder>,
    /// Nodes heard of: their current run and when their last heartbeat came.
    nodes: HashMap<String, (u64, Instant)>,
    /// When this node last joined (or rejoined) the cluster. For
    /// [`NODE_TTL`] after it, a node is not judged dead on what the
    /// buckets' replay says: a heartbeat older than the join counts as heard
    /// at the join, and a node not heard of yet (its heartbeat not replayed
    /// yet) counts as live. Otherwise the first node back after an outage
    /// would take every other node for dead and delete their sessions.
    joined: Option<Instant>,
}

impl Directory {
    /// A session entry was put (or changed).
    pub fn session_put(&mut self, username: &str, value: &SessionValue, revision: u64) {
        self.sessions.insert(
            username.to_string(),
            Holder {
                node: value.node.clone(),
                run: value.run,
                permission: value.permission,
                revision,
            },
        );
    }

    /// A session entry was deleted or purged.
    pub fn session_gone(&mut self, username: &str) {
        self.sessions.remove(username);
    }

    /// A node's heartbeat came at `seen` (a replayed one older than the
    /// join counts as heard at the join).
    pub fn node_put(&mut self, node: &str, run: u64, seen: Instant) {
        let seen = self.joined.map_or(seen, |joined| seen.max(joined));
        self.nodes.insert(node.to_string(), (run, seen));
    }

    /// A node's heartbeat entry expired or was deleted.
    pub fn node_gone(&mut self, node: &str) {
        self.nodes.remove(node);
    }

    /// Forgets every node and session: this node (re)joins at `now`, and the
    /// watchers replay what the buckets hold.
    pub fn clear(&mut self, now: Instant) {
        self.sessions.clear();
        self.nodes.clear();
        self.joined = Some(now);
    }

    /// Whether `node` in run `run` was heard of within [`NODE_TTL`] of `now`
    /// (or is not heard of yet, within [`NODE_TTL`] of the join).
    pub fn node_live(&self, node: &str, run: u64, now: Instant) -> bool {
        match self.nodes.get(node) {
            Some((current, seen)) => {
                *current == run && now.saturating_duration_since(*seen) < NODE_TTL
            }
            None => self
                .joined
                .is_some_and(|joined| now.saturating_duration_since(joined) < NODE_TTL),
        }
    }

    /// Whether `holder`'s node is alive in the run that took the session.
    pub fn is_live(&self, holder: &Holder, now: Instant) -> bool {
        self.node_live(&holder.node, holder.run, now)
    }

    /// The live holder of `username`'s session, if any.
    pub fn holder(&self, username: &str, now: Instant) -> Option<&Holder> {
        self.sessions
            .get(username)
            .filter(|holder| self.is_live(holder, now))
    }

    /// The entry of `username`, live or not (to take over a dead node's).
    pub fn entry(&self, username: &str) -> Option<&Holder> {
        self.sessions.get(username)
    }

    /// Sessions held by nodes that are gone (or restarted): `(user, revision)`.
    pub fn stale_sessions(&self, now: Instant) -> Vec<(String, u64)> {
        self.sessions
            .iter()
            .filter(|(_, holder)| !self.is_live(holder, now))
            .map(|(name, holder)| (name.clone(), holder.revision))
            .collect()
    }

    /// The users online on live nodes other than `me`.
    pub fn remote_online(&self, me: &str, with_permissions: bool, now: Instant) -> Vec<UserEntry> {
        self.sessions
            .iter()
            .filter(|(_, holder)| holder.node != me && self.is_live(holder, now))
            .filter_map(|(name, holder)| {
                Some(UserEntry {
                    name: Username::parse(name.as_bytes()).ok()?,
                    permission: with_permissions.then_some(holder.permission),
                })
            })
            .collect()
    }

    /// The live nodes.
    pub fn live_nodes(&self, now: Instant) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(node, (run, _))| self.node_live(node, *run, now))
            .map(|(node, _)| node.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(node: &str, run: u64) -> SessionValue {
        SessionValue {
            node: node.into(),
            run,
            permission: 1,
        }
    }

    #[test]
    fn sessions_of_dead_or_restarted_nodes_do_not_count() {
        let now = Instant::now();
        let mut d = Directory::default();
        d.node_put("a", 7, now);
        d.node_put("b", 9, now);
        d.session_put("alice", &value("a", 7), 1);
        d.session_put("bob", &value("b", 8), 2);
        d.session_put("carol", &value("c", 1), 3);
        assert_eq!(d.holder("alice", now).map(|h| h.node.as_str()), Some("a"));
        assert!(d.holder("bob", now).is_none(), "b restarted since");
        assert!(d.holder("carol", now).is_none(), "c is gone");
        let mut stale = d.stale_sessions(now);
        stale.sort();
        assert_eq!(stale, vec![("bob".into(), 2), ("carol".into(), 3)]);
        let names: Vec<String> = d
            .remote_online("b", true, now)
            .iter()
            .map(|e| e.name.as_str().to_string())
            .collect();
        assert_eq!(names, vec!["alice"]);
        assert!(d.remote_online("a", false, now).is_empty());
        // Not heard of for NODE_TTL: dead, whatever the bucket still says.
        assert!(d.holder("alice", now + NODE_TTL).is_none());
        assert_eq!(d.live_nodes(now + NODE_TTL), Vec::<String>::new());
        d.node_gone("a");
        assert!(d.holder("alice", now).is_none());
        d.session_gone("alice");
        assert!(d.entry("alice").is_none());
    }

    #[test]
    fn a_replay_is_not_judged_before_a_heartbeat_could_come() {
        let t0 = Instant::now();
        let joined = t0 + std::time::Duration::from_secs(60);
        let soon = joined + std::time::Duration::from_secs(1);
        let mut d = Directory::default();
        d.clear(joined);
        // Replayed before b's heartbeat, and a node not heard of at all.
        d.session_put("carol", &value("b", 9), 4);
        d.session_put("dave", &value("c", 1), 5);
        assert!(d.holder("carol", soon).is_some());
        assert!(d.holder("dave", soon).is_some());
        assert!(d.stale_sessions(soon).is_empty());
        // b's last heartbeat, a minute older than the join.
        d.node_put("b", 9, t0);
        assert!(d.holder("carol", soon).is_some());
        assert_eq!(d.live_nodes(soon), vec!["b".to_string()]);
        // No heartbeat for NODE_TTL after the join: both dead.
        let mut stale = d.stale_sessions(joined + NODE_TTL);
        stale.sort();
        assert_eq!(stale, vec![("carol".into(), 4), ("dave".into(), 5)]);
        // A restarted node's old run is dead at once.
        d.node_put("b", 10, soon);
        assert!(d.holder("carol", soon).is_none());
    }
}
