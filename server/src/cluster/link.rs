//! The node's link to NATS: its connection, the two buckets and their
//! watchers, the heartbeat, and the subscriptions through which other nodes
//! reach it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation};
use async_nats::{Client, RequestErrorKind};
use bytes::Bytes;
use futures_lite::StreamExt;
use gochat_proto::{ErrorCode, HookEvent, UserEntry, Username};
use tracing::{info, warn};

use super::courier::{self, Couriers};
use super::directory::{Directory, Holder};
use super::wire::{
    self, CommandAnswer, Event, EventKind, NodeCommand, Parcel, SessionValue, TokenValue,
    decode_parcels, encode_parcels, encode_taken,
};
use super::{
    DELIVER_TIMEOUT, EVENTS_SUBJECT, HEARTBEAT, NODE_TTL, NODES_BUCKET, SESSIONS_BUCKET,
    TOKENS_BUCKET, deliver_subject, node_subject,
};
use crate::core::{Hub, Outbound, Relay, Route, Router, lock, rules};
use crate::store::{MOTD_SETTING, Store};
use crate::writer::Writer;

/// Why a node could not join its cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The node id cannot name a node.
    #[error("node id {0:?} is not valid: use 1 to 64 letters, digits, - and _")]
    NodeId(String),
    /// The NATS URL or options were refused.
    #[error("cannot use the NATS server at {url}: {source}")]
    Connect {
        /// The URL given.
        url: String,
        /// Why.
        source: async_nats::ConnectError,
    },
}

/// The outcome of claiming a user's session for this node.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The session is this node's: its entry was made now (there was none:
    /// the user's last session ended, or another node removed the entry
    /// when it judged this node dead).
    Made,
    /// The session is this node's: it took over an entry that named this
    /// node or a dead one.
    Won,
    /// A live session on `node` has it: DUPSESS.
    Taken {
        /// Where the session is.
        node: String,
    },
    /// NATS cannot be asked now: the node serves the login by itself and
    /// claims it once NATS is back.
    Unavailable,
}

/// What became of one message handed to another node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handed {
    /// The owner took it (queued or stored there): OK.
    Taken,
    /// The owner did not take it (its user is not there), or it was not
    /// sent (no such node listening, NATS down): store it here.
    Store,
    /// Sent, but no answer in time: whether the owner took it is unknown.
    Unknown,
}

impl Handed {
    /// The owner's answer for one message: taken, or to store here.
    fn from_taken(taken: bool) -> Handed {
        if taken { Handed::Taken } else { Handed::Store }
    }
}

/// What became of one request carrying messages to another node.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Delivery {
    /// The owner answered, per message: taken (queued or stored there) or
    /// not (its user is not there: store it here).
    Answered(Vec<bool>),
    /// The batch did not reach the owner (no such node listening, or NATS
    /// is down): store every message here.
    NotSent,
    /// Sent, but no answer in time: whether the owner took it is unknown.
    Unknown,
}

impl Delivery {
    /// What became of each of the `count` messages of the request.
    pub(super) fn handed(self, count: usize) -> Vec<Handed> {
        match self {
            Delivery::Answered(taken) => taken.into_iter().map(Handed::from_taken).collect(),
            Delivery::NotSent => vec![Handed::Store; count],
            Delivery::Unknown => vec![Handed::Unknown; count],
        }
    }
}

/// This node's link to the cluster.
pub struct Cluster {
    node: String,
    run: u64,
    client: Client,
    /// The connection on which other nodes' batches of messages come.
    inbound: Client,
    directory: Mutex<Directory>,
    /// The sessions bucket, while the link is up.
    sessions: Mutex<Option<kv::Store>>,
    /// The tokens bucket, while the link is up.
    tokens: Mutex<Option<kv::Store>>,
    /// Whether NATS and the buckets are usable (for logging changes once).
    up: AtomicBool,
    /// Whether requests to the cluster are failing (logged when it starts
    /// and when it ends, not per request).
    failing: AtomicBool,
    /// Whether a login was served without claiming its entry (NATS could
    /// not be asked): the next heartbeat claims this node's users again.
    unclaimed: AtomicBool,
    /// Whether this node's users are being claimed again (one pass at a
    /// time).
    reasserting: AtomicBool,
    /// The store, for what a node that rejoins reads again (the MOTD).
    store: Store,
    /// What the NATS client reported.
    events: Arc<LinkEvents>,
    /// This node's couriers to the other nodes.
    couriers: Couriers,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.node)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to NATS at `url` as node `node` (in the background: a node
    /// starts, and serves its own users, while NATS is down) and starts the
    /// heartbeat, the watchers and the subscriptions, which serve `hub`
    /// (its users) with `writer` (to store what overflows their queues).
    /// Must run inside a tokio runtime.
    pub async fn join(
        url: &str,
        node: &str,
        hub: Arc<Hub>,
        writer: Writer,
        store: Store,
    ) -> Result<Arc<Cluster>, ClusterError> {
        if !super::valid_node_id(node) {
            return Err(ClusterError::NodeId(node.to_string()));
        }
        let events = Arc::new(LinkEvents::new(node));
        let on_event = events.clone();
        let options = nats_options(format!("gochat-{node}")).event_callback(move |event| {
            let events = on_event.clone();
            async move { events.on(event) }
        });
        let client = connect(options, url).await?;
        // Batches from other nodes come on a connection of their own, read
        // by its own task: the two directions of message traffic do not
        // queue behind each other in one connection's reader and writer.
        let inbound = connect(nats_options(format!("gochat-{node}-in")), url).await?;
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            ^ u64::from(std::process::id());
        let cluster = Arc::new(Cluster {
            node: node.to_string(),
            run,
            client,
            inbound,
            directory: Mutex::new(Directory::default()),
            sessions: Mutex::new(None),
            tokens: Mutex::new(None),
            up: AtomicBool::new(false),
            failing: AtomicBool::new(false),
            unclaimed: AtomicBool::new(false),
            reasserting: AtomicBool::new(false),
            store,
            events,
            couriers: Couriers::default(),
        });
        hub.set_outlet({
            let cluster = Arc::downgrade(&cluster);
            Box::new(move |event: &HookEvent| {
                if let (Some(cluster), Some(kind)) =
                    (cluster.upgrade(), EventKind::from_hook(event))
                {
                    cluster.publish(kind);
                }
            })
        });
        tokio::spawn(supervise(cluster.clone(), hub.clone()));
        tokio::spawn(serve_deliveries(cluster.clone(), hub.clone(), writer));
        tokio::spawn(serve_events(cluster.clone(), hub.clone()));
        tokio::spawn(serve_commands(cluster.clone(), hub));
        Ok(cluster)
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether the node is joined: NATS reachable and the buckets ready.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// The nodes this node knows to be alive (itself included once its own
    /// heartbeat came back).
    pub fn live_nodes(&self) -> Vec<String> {
        let mut nodes = lock(&self.directory).live_nodes(Instant::now());
        nodes.sort();
        nodes
    }

    /// The live holder of `username`'s session elsewhere, as last heard.
    pub fn holder_elsewhere(&self, username: &Username) -> Option<Holder> {
        let directory = lock(&self.directory);
        directory
            .holder(username.as_str(), Instant::now())
            .filter(|h| h.node != self.node)
            .cloned()
    }

    /// The users online on other live nodes.
    pub fn remote_online(&self, with_permissions: bool) -> Vec<UserEntry> {
        lock(&self.directory).remote_online(&self.node, with_permissions, Instant::now())
    }

    /// `bucket`'s store, when NATS is connected and the bucket is open.
    fn open(&self, bucket: &Mutex<Option<kv::Store>>) -> Option<kv::Store> {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return None;
        }
        lock(bucket).clone()
    }

    /// Whether a session entry's value names this node's run.
    fn holds(&self, value: &SessionValue) -> bool {
        value.node == self.node && value.run == self.run
    }

    /// The sessions bucket and `username`'s entry in it, if this node's run
    /// holds it.
    async fn my_entry(&self, username: &Username) -> Option<(kv::Store, kv::Entry)> {
        let sessions = self.open(&self.sessions)?;
        let entry = quick(sessions.entry(username.as_str())).await?.ok()??;
        let mine = put_value::<SessionValue>(&entry).is_some_and(|v| self.holds(&v));
        mine.then_some((sessions, entry))
    }

    fn value(&self, permission: u8) -> Bytes {
        SessionValue {
            node: self.node.clone(),
            run: self.run,
            permission,
        }
        .encode()
    }

    /// Claims `username`'s session for this node. When NATS cannot be asked
    /// the login is served anyway, and this node claims its users again at
    /// the next heartbeat (or when it rejoins).
    pub async fn claim(&self, username: &Username, permission: u8) -> Claim {
        let claim = self.try_claim(username, permission).await;
        if claim == Claim::Unavailable {
            self.unclaimed.store(true, Ordering::SeqCst);
        }
        claim
    }

    async fn try_claim(&self, username: &Username, permission: u8) -> Claim {
        let Some(sessions) = self.open(&self.sessions) else {
            return Claim::Unavailable;
        };
        let key = username.as_str();
        match quick(sessions.create(key, self.value(permission))).await {
            Some(Ok(_)) => return Claim::Made,
            Some(Err(e)) if e.kind() == CreateErrorKind::AlreadyExists => {}
            Some(Err(e)) => {
                self.failed(&format!("cannot claim the session of {username}: {e}"));
                return Claim::Unavailable;
            }
            None => return Claim::Unavailable,
        }
        let entry = match quick(sessions.entry(key)).await {
            None => return Claim::Unavailable,
            Some(Ok(Some(entry))) => entry,
            // Deleted meanwhile: try once more.
            Some(Ok(None)) => {
                return match quick(sessions.create(key, self.value(permission))).await {
                    Some(Ok(_)) => Claim::Made,
                    Some(Err(_)) => self.settle(&sessions, username).await,
                    None => Claim::Unavailable,
                };
            }
            Some(Err(e)) => {
                self.failed(&format!("cannot read the session of {username}: {e}"));
                return Claim::Unavailable;
            }
        };
        if let Some(held) = put_value::<SessionValue>(&entry) {
            let live = lock(&self.directory).node_live(&held.node, held.run, Instant::now());
            if live && !self.holds(&held) {
                return Claim::Taken { node: held.node };
            }
        }
        // A dead node's (or this node's own) entry: take it over, unless
        // another node does so first.
        match quick(sessions.update(key, self.value(permission), entry.revision)).await {
            Some(Ok(_)) => Claim::Won,
            Some(Err(_)) => self.settle(&sessions, username).await,
            None => Claim::Unavailable,
        }
    }

    /// Who holds `username`'s entry after a claim lost a race on it (the
    /// entry changed between its read and the compare-and-swap): this node
    /// (its own other write won), another node, or nobody known
    /// (`Taken` with no node: the login gets DUPSESS and may try again).
    async fn settle(&self, sessions: &kv::Store, username: &Username) -> Claim {
        let held = match quick(sessions.entry(username.as_str())).await {
            None => return Claim::Unavailable,
            Some(Ok(Some(entry))) => put_value::<SessionValue>(&entry),
            Some(_) => None,
        };
        match held {
            Some(held) if self.holds(&held) => Claim::Won,
            Some(held) => Claim::Taken { node: held.node },
            None => Claim::Taken {
                node: String::new(),
            },
        }
    }

    /// Gives up `username`'s session, if this node holds it.
    pub async fn release(&self, username: &Username) {
        if let Some((sessions, entry)) = self.my_entry(username).await {
            let revision = Some(entry.revision);
            let _ = quick(sessions.delete_expect_revision(username.as_str(), revision)).await;
        }
    }

    /// Records `username`'s new permission level in its session entry, if
    /// this node holds it.
    pub async fn set_permission(&self, username: &Username, permission: u8) {
        if let Some((sessions, entry)) = self.my_entry(username).await {
            let value = self.value(permission);
            let _ = quick(sessions.update(username.as_str(), value, entry.revision)).await;
        }
    }

    /// Records `username`'s reusable token: active (`expires` none) or
    /// released until `expires` (Unix seconds).
    pub async fn put_token(&self, username: &Username, text: &[u8], expires: Option<i64>) {
        let Some(tokens) = self.open(&self.tokens) else {
            return;
        };
        let value = TokenValue::new(text, expires);
        if let Ok(bytes) = serde_json::to_vec(&value) {
            let _ = quick(tokens.put(username.as_str(), Bytes::from(bytes))).await;
        }
    }

    /// `username`'s reusable token as the cluster knows it, and the
    /// revision of its entry.
    pub async fn token(&self, username: &Username) -> Option<(TokenValue, u64)> {
        let tokens = self.open(&self.tokens)?;
        let entry = quick(tokens.entry(username.as_str())).await?.ok()??;
        Some((put_value(&entry)?, entry.revision))
    }

    /// Records that `username`'s token `value`, still marked active at
    /// `revision` though its session is over (its node died), expires at
    /// `expires` (Unix seconds); unless the entry changed meanwhile.
    pub async fn expire_token(
        &self,
        username: &Username,
        value: &TokenValue,
        expires: i64,
        revision: u64,
    ) {
        let Some(tokens) = self.open(&self.tokens) else {
            return;
        };
        let value = TokenValue {
            sha256: value.sha256.clone(),
            expires: Some(expires),
        };
        if let Ok(bytes) = serde_json::to_vec(&value) {
            let _ = quick(tokens.update(username.as_str(), Bytes::from(bytes), revision)).await;
        }
    }

    /// Hands `parcels` (in order) to `node`, for its users; what became of
    /// each. A batch within NATS's payload limit goes through the node's
    /// courier, with other connections' batches for that node. A larger one
    /// goes in as many requests as it needs, one after the other: after a
    /// request that did not reach the owner the rest are not sent but stored
    /// here (in order); after one whose answer did not come the rest are not
    /// sent either, and are unknown as that one.
    pub async fn deliver(self: &Arc<Self>, node: &str, parcels: Vec<Parcel>) -> Vec<Handed> {
        let limit = self.request_limit();
        let size = 4 + parcels.iter().map(wire::encoded_len).sum::<usize>();
        if size <= limit {
            return courier::hand(self, node, parcels, size - 4).await;
        }
        let mut handed = Vec::with_capacity(parcels.len());
        for chunk in wire::chunks(&parcels, limit) {
            let rest = match self.deliver_one(node, chunk).await {
                Delivery::Answered(taken) => {
                    handed.extend(taken.into_iter().map(Handed::from_taken));
                    continue;
                }
                Delivery::NotSent => Handed::Store,
                Delivery::Unknown => Handed::Unknown,
            };
            handed.resize(parcels.len(), rest);
            break;
        }
        handed
    }

    /// The largest request to another node, for the NATS server's payload
    /// limit.
    pub(super) fn request_limit(&self) -> usize {
        wire::request_limit(self.client.server_info().max_payload)
    }

    /// This node's couriers to the other nodes.
    pub(super) fn couriers(&self) -> &Couriers {
        &self.couriers
    }

    /// One request carrying `parcels` to `node`.
    pub(super) async fn deliver_one(&self, node: &str, parcels: &[Parcel]) -> Delivery {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Delivery::NotSent;
        }
        let request = async_nats::Request::new()
            .payload(encode_parcels(parcels))
            .timeout(Some(DELIVER_TIMEOUT));
        match self
            .client
            .send_request(deliver_subject(node), request)
            .await
        {
            Ok(reply) => match wire::decode_taken(&reply.payload, parcels.len()) {
                Some(taken) => {
                    self.succeeded();
                    Delivery::Answered(taken)
                }
                None => Delivery::Unknown,
            },
            Err(e) if e.kind() == RequestErrorKind::NoResponders => Delivery::NotSent,
            Err(e) => {
                self.failed(&format!("node {node} did not answer a delivery: {e}"));
                Delivery::Unknown
            }
        }
    }

    /// Tells `node` that someone at `ip` tried to log in as `username`.
    pub async fn dupsess(&self, node: &str, username: &Username, ip: std::net::IpAddr) {
        let command = NodeCommand::DupSess {
            username: username.as_str().to_string(),
            ip: ip.to_string(),
        };
        if let Ok(payload) = serde_json::to_vec(&command) {
            let _ = self
                .client
                .publish(node_subject(node), Bytes::from(payload))
                .await;
        }
    }

    /// Asks `node` to act on one of its sessions: `Ok` when done, else the
    /// error code for the requester (NOTFOUND when the node is gone, SERVER
    /// when it did not answer in time).
    pub async fn command(&self, node: &str, command: &NodeCommand) -> Result<(), ErrorCode> {
        let payload = serde_json::to_vec(command).map_err(|_| ErrorCode::Server)?;
        let request = async_nats::Request::new()
            .payload(Bytes::from(payload))
            .timeout(Some(DELIVER_TIMEOUT));
        match self.client.send_request(node_subject(node), request).await {
            Ok(reply) => match serde_json::from_slice::<CommandAnswer>(&reply.payload) {
                Ok(Ok(())) => {
                    self.succeeded();
                    Ok(())
                }
                Ok(Err(code)) => Err(ErrorCode::from_code(code).unwrap_or(ErrorCode::Server)),
                Err(_) => Err(ErrorCode::Server),
            },
            Err(e) if e.kind() == RequestErrorKind::NoResponders => Err(ErrorCode::NotFound),
            Err(e) => {
                self.failed(&format!("node {node} did not answer a command: {e}"));
                Err(ErrorCode::Server)
            }
        }
    }

    /// Tells every other node of an event (best effort: events are not kept
    /// while NATS is down).
    pub fn publish(self: &Arc<Self>, kind: EventKind) {
        let event = Event {
            origin: self.node.clone(),
            kind,
        };
        let Ok(payload) = serde_json::to_vec(&event) else {
            return;
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            let _ = client.publish(EVENTS_SUBJECT, Bytes::from(payload)).await;
        });
    }

    /// A request to the cluster failed: logged if it is the first since
    /// requests last succeeded.
    fn failed(&self, what: &str) {
        if !self.failing.swap(true, Ordering::SeqCst) {
            warn!("cluster: {what} (further failures are not logged until requests succeed again)");
        }
    }

    /// A request to the cluster succeeded: logged if requests were failing.
    fn succeeded(&self) {
        if self.failing.swap(false, Ordering::SeqCst) {
            info!(target: "gochat::notice", "cluster: requests to other nodes succeed again");
        }
    }

    fn set_up(&self, up: bool) {
        if self.up.swap(up, Ordering::SeqCst) != up {
            if up {
                info!(target: "gochat::notice", "cluster: node {} joined (buckets ready)", self.node);
            } else {
                warn!(
                    "cluster: node {} cannot reach the cluster's buckets; retrying",
                    self.node
                );
            }
        }
    }
}

/// What the NATS client reports, logged once per change of state: the loss
/// of NATS and its return, not each failed reconnect attempt of an outage
/// (those go to debug) nor each dropped message of a slow subscription.
struct LinkEvents {
    node: String,
    /// Whether NATS is connected, as last reported.
    connected: AtomicBool,
    /// Whether a slow consumer was reported since the last connect.
    slow: AtomicBool,
    /// Whether the NATS server reported an error since the last connect.
    refused: AtomicBool,
    /// Whether NATS was ever lost (a connect after that is a reconnect).
    lost: AtomicBool,
    /// Told when NATS comes back after a loss: the node joins again.
    reconnected: tokio::sync::Notify,
    /// How often NATS came back after a loss.
    reconnects: AtomicU64,
}

impl LinkEvents {
    fn new(node: &str) -> LinkEvents {
        LinkEvents {
            node: node.to_string(),
            connected: AtomicBool::new(false),
            slow: AtomicBool::new(false),
            refused: AtomicBool::new(false),
            lost: AtomicBool::new(false),
            reconnected: tokio::sync::Notify::new(),
            reconnects: AtomicU64::new(0),
        }
    }

    /// Logs `event` if it changes the link's state.
    fn on(&self, event: async_nats::Event) {
        let node = &self.node;
        match event {
            async_nats::Event::Connected => {
                self.slow.store(false, Ordering::SeqCst);
                self.refused.store(false, Ordering::SeqCst);
                if !self.connected.swap(true, Ordering::SeqCst) {
                    info!(target: "gochat::notice", "cluster: node {node} connected to NATS");
                    if self.lost.load(Ordering::SeqCst) {
                        self.reconnects.fetch_add(1, Ordering::SeqCst);
                        self.reconnected.notify_one();
                    }
                }
            }
            async_nats::Event::Disconnected => {
                if self.connected.swap(false, Ordering::SeqCst) {
                    self.lost.store(true, Ordering::SeqCst);
                    warn!(
                        "cluster: node {node} lost NATS; serving its own users, storing messages for other nodes' users"
                    );
                }
            }
            async_nats::Event::SlowConsumer(_) => {
                if !self.slow.swap(true, Ordering::SeqCst) {
                    warn!("cluster: node {node} reads NATS too slowly: messages were dropped");
                }
            }
            async_nats::Event::ServerError(e) => {
                if !self.refused.swap(true, Ordering::SeqCst) {
                    warn!(
                        "cluster: the NATS server of node {node} reports: {e} (further reports until the next connect go to debug)"
                    );
                } else {
                    tracing::debug!("cluster: NATS server error: {e}");
                }
            }
            async_nats::Event::LameDuckMode => {
                warn!("cluster: the NATS server of node {node} is going away (lame duck mode)");
            }
            other => tracing::debug!("cluster: NATS {other}"),
        }
    }
}

/// Options of a node's NATS connection named `name`: it keeps trying to
/// connect and reconnect, however long NATS is away.
fn nats_options(name: String) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
}

/// A connection to the NATS server at `url` with `options`.
async fn connect(options: async_nats::ConnectOptions, url: &str) -> Result<Client, ClusterError> {
    options
        .connect(url)
        .await
        .map_err(|source| ClusterError::Connect {
            url: crate::config::redact_url(url),
            source,
        })
}

/// How long a key-value operation for a login or logout may take before the
/// node goes on without it (NATS slow or just gone).
const KV_TIMEOUT: Duration = Duration::from_secs(2);

/// `op`, or `None` when it takes longer than [`KV_TIMEOUT`].
async fn quick<T>(op: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(KV_TIMEOUT, op).await.ok()
}

/// Keeps the buckets, the watchers and the heartbeat going, starting again
/// (after a pause) whenever NATS or JetStream fails.
async fn supervise(cluster: Arc<Cluster>, hub: Arc<Hub>) {
    let mut rejoin = false;
    loop {
        match run_link(&cluster, &hub, &mut rejoin).await {
            // NATS is back after a loss: join again at once (what the
            // buckets hold read afresh, a grace period before other nodes
            // are judged, this node's users claimed again, the MOTD read).
            Ok(()) => tracing::debug!("cluster link: NATS is back; joining again"),
            Err(e) => {
                tracing::debug!("cluster link: {e}");
                cluster.set_up(false);
                *lock(&cluster.sessions) = None;
                *lock(&cluster.tokens) = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

type LinkError = Box<dyn std::error::Error + Send + Sync>;

/// One life of the link: from (re)joining until NATS or JetStream fails
/// (an error) or NATS comes back after a loss (`Ok`: the node joins again,
/// since it missed heartbeats and events meanwhile). `rejoin` is set once
/// the node has joined.
async fn run_link(
    cluster: &Arc<Cluster>,
    hub: &Arc<Hub>,
    rejoin: &mut bool,
) -> Result<(), LinkError> {
    let js = async_nats::jetstream::new(cluster.client.clone());
    let sessions = bucket(&js, SESSIONS_BUCKET, Duration::ZERO).await?;
    let nodes = bucket(&js, NODES_BUCKET, NODE_TTL * 2).await?;
    let tokens = bucket(&js, TOKENS_BUCKET, Duration::from_secs(7 * 86_400)).await?;
    *lock(&cluster.tokens) = Some(tokens);
    nodes
        .put(&cluster.node, Bytes::from(cluster.run.to_string()))
        .await?;
    // The last value of every key first, then each change: a node that
    // joins (or rejoins) knows at once the sessions held elsewhere and the
    // nodes alive, not only what changes after it came.
    let reconnects = cluster.events.reconnects.load(Ordering::SeqCst);
    let mut session_watch = sessions.watch_with_history(ALL_KEYS).await?;
    let mut node_watch = nodes.watch_with_history(ALL_KEYS).await?;
    lock(&cluster.directory).clear(Instant::now());
    *lock(&cluster.sessions) = Some(sessions.clone());
    cluster.set_up(true);
    // A MOTD changed elsewhere while this node was cut off (its event was
    // not kept): the database has it.
    if std::mem::replace(rejoin, true) {
        match cluster.store.setting(MOTD_SETTING).await {
            Ok(Some(motd)) => hub.set_motd(Bytes::from(motd)),
            Ok(None) => {}
            Err(e) => warn!("cluster: could not read the stored MOTD again: {e}"),
        }
    }
    let mut beat = tokio::time::interval(HEARTBEAT);
    let mut beats = 0u32;
    loop {
        tokio::select! {
            _ = cluster.events.reconnected.notified() => return Ok(()),
            entry = session_watch.next() => {
                let entry = entry.ok_or("the sessions watcher ended")??;
                let mut directory = lock(&cluster.directory);
                match put_value::<SessionValue>(&entry) {
                    Some(value) => directory.session_put(&entry.key, &value, entry.revision),
                    None => directory.session_gone(&entry.key),
                }
            }
            entry = node_watch.next() => {
                let entry = entry.ok_or("the nodes watcher ended")??;
                let mut directory = lock(&cluster.directory);
                match (entry.operation, std::str::from_utf8(&entry.value).ok().and_then(|v| v.parse().ok())) {
                    (Operation::Put, Some(run)) => {
                        let age_ns = (SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0)
                            - entry.created.unix_timestamp_nanos()).max(0);
                        let age = Duration::from_nanos(u64::try_from(age_ns).unwrap_or(u64::MAX));
                        let seen = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                        directory.node_put(&entry.key, run, seen);
                    }
                    _ => directory.node_gone(&entry.key),
                }
            }
            _ = beat.tick() => {
                nodes.put(&cluster.node, Bytes::from(cluster.run.to_string())).await?;
                // NATS was lost and came back while the put waited: other
                // nodes' heartbeats were missed, so none is judged now.
                if cluster.events.reconnects.load(Ordering::SeqCst) != reconnects {
                    return Ok(());
                }
                beats = beats.saturating_add(1);
                if beats == 2 {
                    // One heartbeat after joining, the watchers have told
                    // the directory what the buckets hold. A task of its
                    // own: the heartbeat must not wait for many claims.
                    tokio::spawn(reassert(cluster.clone(), hub.clone()));
                }
                // A login served while NATS could not be asked (a key-value
                // call timed out) claims its entry now.
                if cluster.unclaimed.swap(false, Ordering::SeqCst) && beats > 2 {
                    tokio::spawn(reassert(cluster.clone(), hub.clone()));
                }
                // Entries of dead nodes go, so that a dead node's users are
                // not listed and can log in again elsewhere.
                // The node whose delete goes through tells every node's
                // subscribers, once, that the user is gone (the dead node
                // cannot).
                let stale = lock(&cluster.directory).stale_sessions(Instant::now());
                let mut departed = Vec::new();
                for (key, revision) in stale {
                    if sessions.delete_expect_revision(&key, Some(revision)).await.is_ok()
                        && let Ok(username) = Username::parse(key.as_bytes())
                        && hub.peer(&username).is_none()
                    {
                        hub.notify(&HookEvent::NewLogout { username });
                        departed.push(key);
                    }
                }
                if !departed.is_empty() {
                    info!("cluster: {} went offline with their node", departed.join(", "));
                }
            }
        }
    }
}

/// The value an entry of ours was put with; `None` for a deletion or a
/// value that is not one of ours.
fn put_value<T: serde::de::DeserializeOwned>(entry: &kv::Entry) -> Option<T> {
    if entry.operation != Operation::Put {
        return None;
    }
    serde_json::from_slice(&entry.value).ok()
}

/// Every key of a bucket, for its watchers.
const ALL_KEYS: &str = ">";

/// The users this node serves hold their entries again (after an outage, or
/// a start in which NATS came late). A user who also logged in on another
/// node meanwhile (a login NATS could not check) keeps the session that
/// claimed first; the one here ends, as a KICK ends it, and what was queued
/// for it is stored for the other session's catch-up.
async fn reassert(cluster: Arc<Cluster>, hub: Arc<Hub>) {
    if cluster.reasserting.swap(true, Ordering::SeqCst) {
        // A pass is running and may have taken its list of users before
        // the login that asked for this one: ask again at the next beat.
        cluster.unclaimed.store(true, Ordering::SeqCst);
        return;
    }
    for peer in hub.peers() {
        match cluster.claim(&peer.username, peer.permission()).await {
            claim @ (Claim::Made | Claim::Won) => {
                if hub.peer(&peer.username).is_none() {
                    // Logged out while its key was claimed again: give it
                    // back.
                    cluster.release(&peer.username).await;
                } else if claim == Claim::Made {
                    // Its entry was gone: another node took this one for
                    // dead and told its subscribers the user left. They
                    // hear that the user is back.
                    cluster.publish(EventKind::Login {
                        username: peer.username.as_str().to_string(),
                        permission: peer.permission(),
                    });
                }
            }
            Claim::Taken { node } if !node.is_empty() => {
                warn!(
                    "cluster: {} was also logged in on node {node} while NATS was unreachable; \
                     the session on {} ends",
                    peer.username, cluster.node
                );
                // Only the session this pass looked at (the user may have
                // logged out and in again meanwhile).
                if hub
                    .peer(&peer.username)
                    .is_some_and(|now| Arc::ptr_eq(&now, &peer))
                {
                    let _ = peer.send(Outbound::Replaced);
                }
            }
            // Nobody known holds it, or NATS could not be asked (claimed
            // again at a later heartbeat): the session stays.
            Claim::Taken { .. } | Claim::Unavailable => {}
        }
    }
    cluster.reasserting.store(false, Ordering::SeqCst);
}

/// The bucket `name`, made if missing (`max_age` zero: entries do not
/// expire). The bucket's stream is made directly, with the settings a
/// key-value bucket has (`KV_<name>` on `$KV.<name>.>`, one value per key,
/// roll-ups allowed, deletes through markers, direct gets), which works with
/// NATS servers from 2.9 on.
async fn bucket(
    js: &async_nats::jetstream::Context,
    name: &str,
    max_age: Duration,
) -> Result<kv::Store, LinkError> {
    use async_nats::jetstream::stream;
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    let config = stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    };
    if let Err(e) = js.get_or_create_stream(config).await {
        tracing::debug!("cluster: making bucket {name}: {e}");
    }
    // Made here or by another node meanwhile.
    js.get_key_value(name)
        .await
        .map_err(|e| format!("cannot open bucket {name}: {e}").into())
}

/// Takes batches of messages for this node's users, in arrival order.
async fn serve_deliveries(cluster: Arc<Cluster>, hub: Arc<Hub>, writer: Writer) {
    let subject = deliver_subject(&cluster.node);
    let mut requests = loop {
        match cluster.inbound.subscribe(subject.clone()).await {
            Ok(subscriber) => break subscriber,
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    // Each batch is taken in a task of its own (at most DELIVERIES at once):
    // a sender's next batch only comes after the answer to its previous
    // one, so its order holds, and a batch that waits for the store does
    // not hold up the others.
    let gate = Arc::new(tokio::sync::Semaphore::new(DELIVERIES));
    let writer = Arc::new(writer);
    while let Some(request) = requests.next().await {
        let Some(reply_to) = request.reply else {
            continue;
        };
        let Some(parcels) = decode_parcels(request.payload) else {
            tracing::debug!("cluster: a malformed delivery came on {subject}");
            continue;
        };
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let (cluster, hub, writer) = (cluster.clone(), hub.clone(), writer.clone());
        tokio::spawn(async move {
            let taken = take_parcels(&hub, &writer, parcels).await;
            let _ = cluster
                .inbound
                .publish(reply_to, encode_taken(&taken))
                .await;
            drop(permit);
        });
    }
}

/// Batches of messages a node takes at once.
const DELIVERIES: usize = 1024;

/// Queues each parcel for its recipient here, storing those that overflow a
/// queue; whether each was taken.
async fn take_parcels(hub: &Hub, writer: &Writer, parcels: Vec<Parcel>) -> Vec<bool> {
    let mut taken = Vec::with_capacity(parcels.len());
    let mut rows = Vec::new();
    let mut spills = Vec::new();
    let mut guards = Vec::new();
    let mut stored_at = Vec::new();
    for parcel in parcels {
        let relay = |recipient_id| Relay {
            sender: parcel.sender.clone(),
            sender_id: parcel.sender_id,
            recipient_id,
            stamp: parcel.stamp,
            ciphertext: parcel.ciphertext.clone(),
        };
        match Router::route(hub, &parcel.to, &relay) {
            Route::Queued => taken.push(true),
            Route::Store { relay, peer, guard } => {
                spills.push((rows.len(), peer));
                guards.extend(guard);
                rows.push(relay);
                stored_at.push(taken.len());
                taken.push(true);
            }
            Route::Offline | Route::Remote { .. } => taken.push(false),
        }
    }
    if !rows.is_empty() && !writer.insert_noting(rows, spills).await {
        for i in stored_at {
            taken[i] = false;
        }
    }
    drop(guards);
    taken
}

/// Passes other nodes' events to this node's hook subscribers.
async fn serve_events(cluster: Arc<Cluster>, hub: Arc<Hub>) {
    let mut events = loop {
        match cluster.client.subscribe(EVENTS_SUBJECT).await {
            Ok(subscriber) => break subscriber,
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    while let Some(message) = events.next().await {
        let Ok(event) = serde_json::from_slice::<Event>(&message.payload) else {
            continue;
        };
        if event.origin == cluster.node {
            continue;
        }
        match event.kind {
            EventKind::Motd { text } => hub.set_motd(Bytes::from(text)),
            EventKind::Shutdown { stamp } => schedule_shutdown(&hub, stamp),
            kind => {
                if let Some(hook) = kind.to_hook() {
                    hub.fan_out(&hook);
                }
            }
        }
    }
}

/// Acts on other nodes' commands about this node's sessions.
async fn serve_commands(cluster: Arc<Cluster>, hub: Arc<Hub>) {
    let mut commands = loop {
        match cluster.client.subscribe(node_subject(&cluster.node)).await {
            Ok(subscriber) => break subscriber,
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    while let Some(message) = commands.next().await {
        let answer: CommandAnswer = match serde_json::from_slice::<NodeCommand>(&message.payload) {
            Ok(command) => act(&cluster, &hub, command).await,
            Err(_) => {
                tracing::debug!("cluster: a malformed command came for this node");
                Err(ErrorCode::Invalid.code())
            }
        };
        if let (Some(reply_to), Ok(payload)) = (message.reply, serde_json::to_vec(&answer)) {
            let _ = cluster.client.publish(reply_to, Bytes::from(payload)).await;
        }
    }
}

/// Carries out another node's command on this node's session.
async fn act(cluster: &Cluster, hub: &Hub, command: NodeCommand) -> CommandAnswer {
    let peer_of = |name: &str| {
        Username::parse(name.as_bytes())
            .ok()
            .and_then(|name| hub.peer(&name))
    };
    match command {
        NodeCommand::DupSess { username, ip } => {
            if let (Some(peer), Ok(ip)) = (peer_of(&username), ip.parse()) {
                hub.notify_dupsess(&peer, ip);
            }
            Ok(())
        }
        NodeCommand::Kick { username, level } => {
            let name =
                Username::parse(username.as_bytes()).map_err(|_| ErrorCode::NotFound.code())?;
            rules::kick(hub, &name, level).map_err(|code| code.code())
        }
        NodeCommand::Dereg { username } => {
            if let Ok(name) = Username::parse(username.as_bytes()) {
                rules::after_dereg(hub, &name);
            }
            Ok(())
        }
        NodeCommand::Permission {
            username,
            permission,
        } => {
            if let Ok(name) = Username::parse(username.as_bytes())
                && hub.peer(&name).is_some()
            {
                rules::after_change_permission(hub, &name, permission);
                cluster.set_permission(&name, permission).await;
            }
            Ok(())
        }
    }
}

/// Schedules this node's stop at `stamp` (an ADMIN SHTDWN on another node):
/// its users get SHTDWN now, as on the node that took the command.
fn schedule_shutdown(hub: &Arc<Hub>, stamp: i64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    // A stamp already past (the event was slow) stops the node now.
    let stamp = stamp.max(now);
    let Ok(at) = rules::schedule_shutdown(hub, stamp, now, Instant::now()) else {
        return;
    };
    info!(target: "gochat::notice", "server shutdown on {stamp} (cluster)");
    let hub = hub.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = hub.shutdown.wait() => {}
        }
        hub.shutdown.trigger();
    });
}
