//! Opening a connection: name resolution, TCP, TLS, the two tasks, the HELLO.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gochat_proto::{ClientConfig, ClientSession};
use gochat_runtime::Runtime;
use rustls_pki_types::ServerName;

use super::connection::{Connection, Parts};
use super::exec::{exec_of, run_blocking};
use super::inbox::Inbox;
use super::task::{Link, LinkChannels, LinkState};
use super::{ConnectOptions, Service};
use crate::types::{ClientError, ServerRecord};

impl Service {
    /// Connects to `server`: over TLS when `server.tls` is set (the server
    /// name checked against the certificate is `server.address`), else plain
    /// TCP; then waits for the server's HELLO and spawns the connection's
    /// tasks on `rt`.
    ///
    /// Connecting and the TLS handshake may take `options.request_timeout`;
    /// the HELLO may take longer, as a full server keeps new connections
    /// waiting in line (drop the future to give up).
    pub async fn connect<R: Runtime>(
        &self,
        rt: &R,
        server: &ServerRecord,
        options: &ConnectOptions,
    ) -> Result<Connection, ClientError> {
        let now = Instant::now();
        let deadline = now.checked_add(options.request_timeout).unwrap_or(now);
        let addrs = resolve(rt, &server.address, server.port).await?;
        let tcp = dial(rt, &addrs, deadline).await?;

        let session = ClientSession::new(
            ClientConfig {
                keepalive: options.keepalive,
                request_timeout: options.request_timeout,
            },
            first_request_id(),
            Instant::now(),
        );
        let (cmd_tx, cmd_rx) = async_channel::unbounded();
        let (internal_tx, internal_rx) = async_channel::unbounded();
        let (push_tx, push_rx) = async_channel::unbounded();
        let (event_tx, event_rx) = async_channel::unbounded();
        let (hello_tx, hello_rx) = async_channel::bounded(1);
        let (done_tx, done_rx) = async_channel::bounded::<()>(1);
        let state = Arc::new(Mutex::new(LinkState::default()));
        let link = Link::new(
            rt.clone(),
            session,
            LinkChannels {
                commands: cmd_rx,
                internal: internal_rx,
                pushes: push_tx,
                hello: hello_tx,
                done: done_tx.clone(),
            },
            state.clone(),
        );

        if server.tls {
            let config = gochat_runtime::tls::client_config(&options.verification)
                .map_err(|e| ClientError::Tls(e.to_string()))?;
            let name = ServerName::try_from(server.address.clone()).map_err(|e| {
                ClientError::Tls(format!(
                    "{} is not a valid server name: {e}",
                    server.address
                ))
            })?;
            let handshake = rt.tls_connect(config, name, tcp);
            let tls = gochat_runtime::with_deadline(rt, deadline, handshake)
                .await
                .map_err(|e| handshake_error(server, &e))?;
            rt.spawn(link.run(tls));
        } else {
            rt.spawn(link.run(tcp));
        }
        let inbox = Inbox::new(
            rt.clone(),
            self.clone(),
            internal_tx,
            event_tx,
            push_rx,
            done_tx,
        );
        rt.spawn(inbox.run());

        let motd = match hello_rx.recv().await {
            Ok(Ok(motd)) => motd,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(ClientError::Io(
                    "the connection closed before the server's greeting".to_owned(),
                ));
            }
        };
        Ok(Connection::new(Parts {
            service: self.clone(),
            server: server.clone(),
            motd,
            exec: exec_of(rt),
            commands: cmd_tx,
            events: event_rx,
            state,
            done: done_rx,
        }))
    }
}

/// The addresses of `host`, resolved off the async tasks.
async fn resolve<R: Runtime>(
    rt: &R,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ClientError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_owned();
    let exec = exec_of(rt);
    let found = run_blocking(&*exec, move || {
        (name.as_str(), port)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<_>>())
    })
    .await?
    .map_err(|e| ClientError::Io(format!("cannot resolve {host}: {e}")))?;
    if found.is_empty() {
        return Err(ClientError::Io(format!("{host} has no address")));
    }
    Ok(found)
}

/// Connects to the first address that answers.
async fn dial<R: Runtime>(
    rt: &R,
    addrs: &[SocketAddr],
    deadline: Instant,
) -> Result<R::TcpStream, ClientError> {
    let mut last = None;
    for addr in addrs {
        match gochat_runtime::with_deadline(rt, deadline, rt.connect(*addr)).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(format!("{addr}: {e}")),
        }
    }
    Err(ClientError::Io(
        last.unwrap_or_else(|| "no address to connect to".to_owned()),
    ))
}

/// The error of a failed TLS handshake with `server`: [`ClientError::NotTls`]
/// when what came back was not TLS at all (a plain-TCP server greets with
/// its HELLO packet, which TLS reads as a corrupt record) or the server
/// hung up on the handshake; [`ClientError::Tls`] otherwise.
fn handshake_error(server: &ServerRecord, e: &std::io::Error) -> ClientError {
    let not_tls = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidMessage(_)) => true,
        Some(_) => false,
        None => e.kind() == std::io::ErrorKind::UnexpectedEof,
    };
    if not_tls {
        ClientError::NotTls {
            endpoint: format!("{}:{}", server.address, server.port),
            detail: e.to_string(),
        }
    } else {
        ClientError::Tls(e.to_string())
    }
}

/// A random first request id, as the original client draws one.
fn first_request_id() -> u16 {
    let mut b = [0u8; 2];
    match getrandom::fill(&mut b) {
        Ok(()) => u16::from_le_bytes(b) % 1023 + 1,
        Err(_) => 1,
    }
}
