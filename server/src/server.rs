//! Starting and stopping the server: listeners, accept loops, the shared
//! context, graceful shutdown on a signal or ADMIN SHTDWN.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gochat_proto::ServerConfig;
use gochat_runtime::Runtime;
use tracing::{info, warn};

use crate::cluster::{Cluster, ClusterRouter};
use crate::config::{RuntimeKind, Settings};
use crate::conn::{Ctx, deadline_after};
use crate::core::{Hub, Router};
use crate::limits::IpLimits;
use crate::slots::Slots;
use crate::store::{MOTD_SETTING, Store};
use crate::writer::Writer;

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The database could not be opened.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(#[from] gochat_runtime::tls::TlsError),
    /// The runtime could not start.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    /// The cluster settings cannot work, or the node could not join.
    #[error("cluster: {0}")]
    Cluster(String),
}

/// A setting's duration, with 0 meaning "never" (as the settings document).
fn zero_is_never(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// A deadline for the session: 0 becomes one it never reaches.
fn session_timeout(d: Duration) -> Duration {
    zero_is_never(d).unwrap_or(Duration::MAX)
}

/// A started server.
pub struct RunningServer<R: Runtime> {
    ctx: Arc<Ctx<R>>,
    tcp_addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    done: async_channel::Receiver<()>,
    grace: Duration,
}

impl<R: Runtime> RunningServer<R> {
    /// Where the plain TCP listener is.
    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// Where the TLS listener is, if enabled.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The shared state (for tests and tools).
    pub fn hub(&self) -> &Hub {
        &self.ctx.hub
    }

    /// The waiting line.
    pub fn slots(&self) -> &Slots {
        &self.ctx.slots
    }

    /// The cluster this server is a node of, if any.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.ctx.cluster.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// Starts a graceful stop, as SIGTERM does: every logged-in user gets
    /// SHTDWN with the current time, then every connection closes.
    pub fn shutdown(&self) {
        stop_now(&self.ctx.hub);
    }

    /// Waits until the server stopped: listeners closed, connections closed
    /// (or the grace period over), store closed.
    pub async fn wait(self) {
        self.ctx.hub.shutdown.wait().await;
        info!(target: "gochat::notice", "inminent server shutdown");
        self.ctx.hub.close_all();
        let deadline = deadline_after(self.grace);
        let drained = async {
            let _ = self.done.recv().await;
            Ok(())
        };
        if gochat_runtime::with_deadline(&self.ctx.rt, deadline, drained)
            .await
            .is_err()
        {
            warn!(
                "{} connections still open after the grace period",
                self.ctx.hub.connection_count()
            );
        }
        self.ctx.store.close().await;
    }
}

/// Refuses cluster settings that cannot work: a node needs the tokio
/// runtime (the NATS client runs on it) and a database every node shares.
fn check_cluster_settings<R: Runtime>(rt: &R, settings: &Settings) -> Result<(), ServerError> {
    if rt.name() != "tokio" {
        return Err(ServerError::Cluster(format!(
            "a cluster node runs on the tokio runtime (the NATS client needs it), not {}: drop --runtime {} or --cluster-url",
            rt.name(),
            rt.name()
        )));
    }
    let url = settings.database_url.trim_start().to_ascii_lowercase();
    if url.starts_with("sqlite:") || url == ":memory:" {
        return Err(ServerError::Cluster(
            "the nodes of a cluster share one database: give --database-url mysql://... or postgres://..., not SQLite".into(),
        ));
    }
    if let Some(node) = &settings.node_id
        && !crate::cluster::valid_node_id(node)
    {
        let refused = crate::cluster::ClusterError::NodeId(node.clone());
        return Err(ServerError::Cluster(refused.to_string()));
    }
    Ok(())
}

/// Opens the store, binds the listeners and starts accepting.
pub async fn start<R: Runtime>(
    rt: R,
    settings: &Settings,
) -> Result<RunningServer<R>, ServerError> {
    if settings.cluster_url.is_some() {
        check_cluster_settings(&rt, settings)?;
    }
    let store = Store::open(&settings.database_url).await?;
    let motd = match store.setting(MOTD_SETTING).await {
        Ok(Some(m)) => m,
        Ok(None) => settings.default_motd.clone(),
        Err(e) => {
            warn!("could not read the stored MOTD: {e}");
            settings.default_motd.clone()
        }
    };
    let tls_config = match &settings.tls {
        Some(t) => Some(gochat_runtime::tls::server_config_from_files(
            &t.cert_file,
            &t.key_file,
        )?),
        None => None,
    };
    let writer = Writer::start(&rt, store.clone());
    let hub = Arc::new(Hub::new(Bytes::from(motd), settings.token_lifetime));
    let (router, cluster): (Arc<dyn Router>, _) = match &settings.cluster_url {
        Some(url) => {
            let node = settings
                .node_id
                .clone()
                .unwrap_or_else(crate::cluster::default_node_id);
            let cluster = Cluster::join(url, &node, hub.clone(), writer.clone(), store.clone())
                .await
                .map_err(|e| ServerError::Cluster(e.to_string()))?;
            info!(target: "gochat::notice", "Node {node} of the cluster at {}", crate::config::redact_url(url));
            (
                Arc::new(ClusterRouter::new(hub.clone(), cluster.clone())),
                Some(cluster),
            )
        }
        None => (hub.clone(), None),
    };
    let ctx = Arc::new(Ctx {
        rt: rt.clone(),
        hub: hub.clone(),
        router,
        cluster,
        store,
        session_config: ServerConfig {
            idle_timeout: settings.idle_timeout,
            verification_timeout: settings.verification_timeout,
            packet_timeout: session_timeout(settings.packet_timeout),
            login_timeout: session_timeout(settings.login_timeout),
            ..ServerConfig::default()
        },
        tls_handshake_timeout: settings.tls_handshake_timeout,
        slots: Slots::new(settings.max_clients),
        writer,
        queue_limit: settings.max_queued_bytes,
        write_timeout: zero_is_never(settings.write_timeout),
        stop_write_grace: settings.shutdown_grace / 2,
        proxy_protocol: settings.proxy_protocol,
        ip_limits: IpLimits::new(settings.ip_limits()),
    });
    // Every task holds a clone of `alive`; `done` closes when all are gone.
    let (alive, done) = async_channel::bounded::<()>(1);

    let tcp_addr = SocketAddr::new(settings.address, settings.port);
    let tcp = rt
        .bind(tcp_addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: tcp_addr,
            source,
        })?;
    let tcp_addr = rt.local_addr(&tcp).map_err(|source| ServerError::Bind {
        addr: tcp_addr,
        source,
    })?;
    info!(target: "gochat::notice", "Running TCP Socket on port {}...", tcp_addr.port());
    spawn_accept_loop(ctx.clone(), tcp, None, alive.clone());

    let mut tls_addr = None;
    if let (Some(t), Some(config)) = (&settings.tls, tls_config) {
        let addr = SocketAddr::new(settings.address, t.port);
        let listener = rt
            .bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = rt
            .local_addr(&listener)
            .map_err(|source| ServerError::Bind { addr, source })?;
        info!(target: "gochat::notice", "Running TLS Socket on port {}...", addr.port());
        spawn_accept_loop(ctx.clone(), listener, Some(config), alive.clone());
        tls_addr = Some(addr);
    }
    // Housekeeping: expired tokens, addresses no longer limited.
    {
        let ctx = ctx.clone();
        let alive = alive.clone();
        rt.spawn(async move {
            let _alive = alive;
            loop {
                let next = Instant::now() + Duration::from_secs(60);
                let tick = async {
                    ctx.rt.sleep_until(next).await;
                    true
                };
                let stop = async {
                    ctx.hub.shutdown.wait().await;
                    false
                };
                if !futures_lite::future::or(tick, stop).await {
                    break;
                }
                ctx.hub.purge_tokens(Instant::now());
                ctx.ip_limits.purge(Instant::now());
            }
        });
    }
    Ok(RunningServer {
        ctx,
        tcp_addr,
        tls_addr,
        done,
        grace: settings.shutdown_grace,
    })
}

fn spawn_accept_loop<R: Runtime>(
    ctx: Arc<Ctx<R>>,
    listener: R::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    alive: async_channel::Sender<()>,
) {
    let rt = ctx.rt.clone();
    rt.spawn(async move {
        let mut backoff = crate::nofile::AcceptBackoff::default();
        loop {
            let accepted = async { Some(ctx.rt.accept(&listener).await) };
            let stop = async {
                ctx.hub.shutdown.wait().await;
                None
            };
            match futures_lite::future::or(accepted, stop).await {
                None => break,
                Some(Ok((stream, addr))) => {
                    backoff.succeeded();
                    let task_ctx = ctx.clone();
                    let tls = tls.clone();
                    let alive = alive.clone();
                    ctx.rt.spawn(async move {
                        let _alive = alive;
                        crate::conn::serve_tcp(task_ctx, stream, addr, tls).await;
                    });
                }
                Some(Err(e)) => {
                    // Out of file descriptors and the like: wait longer each
                    // time (the connections that end free descriptors).
                    let pause = backoff.failed(&e);
                    let stop = async {
                        ctx.hub.shutdown.wait().await;
                    };
                    futures_lite::future::or(ctx.rt.sleep_until(Instant::now() + pause), stop)
                        .await;
                }
            }
        }
        drop(listener);
        drop(alive);
    });
}

/// Stops the server now: SHTDWN (stamped now) to every logged-in user, then
/// the stop, which closes every connection after what is queued for it.
fn stop_now(hub: &Hub) {
    if !hub.shutdown.is_triggered() {
        hub.announce_shutdown(crate::conn::unix_now());
    }
    hub.shutdown.trigger();
}

/// Runs a server until it is stopped by SIGINT, SIGTERM or ADMIN SHTDWN.
pub async fn run<R: Runtime>(rt: R, settings: Settings) -> Result<(), ServerError> {
    crate::nofile::raise_and_report(settings.max_clients);
    let server = start(rt, &settings).await?;
    let ctx = server.ctx.clone();
    watch_signals(move || stop_now(&ctx.hub));
    // The original's console line, once the listeners are really up.
    println!("{}", crate::logging::RUNNING_LINE);
    server.wait().await;
    Ok(())
}

/// Calls `stop` on the first SIGINT or SIGTERM, from a helper thread.
fn watch_signals(stop: impl FnOnce() + Send + 'static) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let name = if sig == SIGINT { "CTRL-C has been pressed" } else { "SIGTERM received" };
                    eprintln!("-> {name}");
                    info!(target: "gochat::notice", "manual shutdown signal sent! closing resources...");
                    stop();
                }
            });
            if let Err(e) = spawned {
                warn!("cannot watch for signals: {e}");
            }
        }
        Err(e) => warn!("cannot watch for signals: {e}"),
    }
}

/// Runs the server on the runtime the settings name, blocking the caller.
pub fn run_blocking(settings: Settings) -> Result<(), ServerError> {
    match settings.runtime {
        RuntimeKind::Tokio => {
            let rt = gochat_runtime_tokio::TokioRuntime::new().map_err(ServerError::Runtime)?;
            rt.block_on(run(rt.clone(), settings))
        }
        RuntimeKind::Smol => {
            let rt = gochat_runtime_smol::SmolRuntime::new().map_err(ServerError::Runtime)?;
            rt.block_on(run(rt.clone(), settings))
        }
    }
}
