//! What every connection task shares.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gochat_proto::ServerConfig;
use gochat_runtime::Runtime;

use crate::cluster::Cluster;
use crate::core::{Hub, Router};
use crate::limits::IpLimits;
use crate::slots::Slots;
use crate::store::Store;
use crate::writer::Writer;

/// The instant `after` from now; a duration the clock cannot represent (a
/// configuration may ask for one) gives a century.
pub(crate) fn deadline_after(after: Duration) -> Instant {
    crate::core::later(Instant::now(), after)
}

/// What every connection task shares.
pub struct Ctx<R: Runtime> {
    /// The runtime.
    pub rt: R,
    /// Shared state.
    pub hub: Arc<Hub>,
    /// Where messages go (this server's hub, or a cluster's router).
    pub router: Arc<dyn Router>,
    /// The cluster this server is a node of, if any.
    pub cluster: Option<Arc<Cluster>>,
    /// Storage.
    pub store: Store,
    /// Session timeouts.
    pub session_config: ServerConfig,
    /// Deadline of a TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// The waiting line.
    pub slots: Arc<Slots>,
    /// The task that writes messages to the store.
    pub writer: Writer,
    /// Bytes of messages one connection may have queued (`max_queued_bytes`).
    pub queue_limit: usize,
    /// How long a write may make no progress (`None`: forever).
    pub write_timeout: Option<Duration>,
    /// Connections and REG/LOGIN rates per address.
    pub ip_limits: Arc<IpLimits>,
    /// Once the server stops, how long a write may still wait for its peer
    /// (half of `shutdown_grace`): a stalled reader then has its queue stored
    /// while the store is still open.
    pub stop_write_grace: Duration,
    /// Whether each connection starts with a PROXY protocol header naming
    /// the client (`proxy_protocol`).
    pub proxy_protocol: bool,
}
