//! Test support for the client's tests, over the workspace's test kit
//! (`gochat-testkit`): clients with an in-memory store, connection options
//! trusting the test certificate, fixture registrations, client events, and a
//! proxy playing a busy original server.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use gochat_client::service::{ConnectOptions, Connection, Service};
use gochat_client::store::LocalStore;
use gochat_client::{ChatMessage, ClientEvent, Contact, ServerRecord};
use gochat_proto::{Decoder, Direction, ServerCommand};
use gochat_runtime::Runtime;
use gochat_runtime::tls::ServerVerification;
use gochat_server::RunningServer;

pub use gochat_testkit::{
    RawClient, TempDir, TestServer, private_pem, public_pem, public_pem_text, run, smol_rt,
    start_server, test_cert, tokio_rt, unix_now, user,
};

/// How long a test waits for anything.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// The password of every test account.
pub const PASSWORD: &str = "correct horse";

/// A fresh temporary folder, removed with its files when dropped.
pub fn temp_dir(tag: &str) -> TempDir {
    TempDir::new(tag)
}

/// Connection options trusting the test certificate.
pub fn options() -> ConnectOptions {
    ConnectOptions {
        verification: ServerVerification::CaFile(test_cert().cert_file.clone()),
        keepalive: Some(ConnectOptions::DEFAULT_KEEPALIVE),
        request_timeout: Duration::from_secs(15),
    }
}

/// Server settings on a fresh SQLite file, removed when the scenario that
/// [`run`] runs ends.
pub fn settings() -> gochat_server::config::Settings {
    gochat_testkit::sqlite_settings()
}

/// Whether a scenario runs over TLS or plain TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Tls,
}

// ----- clients -----

/// One client machine: a service over its own in-memory store, and the
/// record of the test server in it.
pub struct Client {
    pub service: Service,
    pub server: ServerRecord,
}

impl Client {
    /// A client knowing the server at `addr` (over TLS by name `localhost`).
    pub async fn new(addr: SocketAddr, transport: Transport) -> Self {
        let store = LocalStore::open_memory().await.unwrap();
        let (host, tls) = match transport {
            Transport::Tcp => ("127.0.0.1", false),
            Transport::Tls => ("localhost", true),
        };
        let server = store
            .add_server(Some("test"), host, addr.port(), tls)
            .await
            .unwrap();
        Client {
            service: Service::new(store),
            server,
        }
    }

    /// A client with the fixture account `name` imported.
    pub async fn with_account(addr: SocketAddr, transport: Transport, name: &str) -> Self {
        let c = Self::new(addr, transport).await;
        c.service
            .import_key(&c.server, name, private_pem(name), PASSWORD)
            .await
            .unwrap();
        c
    }

    /// A client with the fixture account `name` imported, connected and
    /// logged in as `name`; the client comes back with the connection to
    /// live as long.
    pub async fn logged_in<R: Runtime>(
        rt: &R,
        addr: SocketAddr,
        transport: Transport,
        name: &str,
    ) -> (Self, Connection) {
        let client = Self::with_account(addr, transport, name).await;
        let conn = client.connect(rt).await;
        conn.login(name, PASSWORD).await.unwrap();
        (client, conn)
    }

    /// The contact `name` stored for the test server, if any.
    pub async fn contact(&self, name: &str) -> Option<Contact> {
        self.service
            .store()
            .contact(self.server.id, name)
            .await
            .unwrap()
    }

    /// The newest messages, at most `limit`, of `account`'s conversation
    /// with `peer` on the test server, newest first.
    pub async fn history(&self, account: &str, peer: &str, limit: u32) -> Vec<ChatMessage> {
        self.service
            .history(self.server.id, account, peer, None, limit)
            .await
            .unwrap()
    }

    pub async fn connect<R: Runtime>(&self, rt: &R) -> Connection {
        self.service
            .connect(rt, &self.server, &options())
            .await
            .unwrap()
    }
}

/// The server address for a transport.
pub fn addr_of<R: Runtime>(server: &RunningServer<R>, transport: Transport) -> SocketAddr {
    match transport {
        Transport::Tcp => server.tcp_addr(),
        Transport::Tls => server.tls_addr().unwrap(),
    }
}

/// A server on `rt` with the test settings and the fixture users `names`
/// registered, and its plain TCP port.
pub async fn server_with<R: Runtime>(rt: &R, names: &[&str]) -> (TestServer<R>, u16) {
    let server = start_server(rt, &settings()).await;
    if !names.is_empty() {
        register_fixtures(rt, &server, names).await;
    }
    let port = server.tcp_addr().port();
    (server, port)
}

/// Registers fixture users on the server over plain TCP (no key generation).
pub async fn register_fixtures<R: Runtime>(rt: &R, server: &RunningServer<R>, names: &[&str]) {
    let (mut raw, _motd) = RawClient::connect(rt, server.tcp_addr()).await;
    for name in names {
        assert_eq!(raw.register(name).await, ServerCommand::Ok, "REG {name}");
    }
}

// ----- events -----

/// The next event within `wait`, if any.
pub async fn next_event<R: Runtime>(
    rt: &R,
    events: &async_channel::Receiver<ClientEvent>,
    wait: Duration,
) -> Option<ClientEvent> {
    let deadline = Instant::now() + wait;
    futures_lite::future::or(async { events.recv().await.ok() }, async {
        rt.sleep_until(deadline).await;
        None
    })
    .await
}

/// Skips events until one matches `pred`; panics after [`TIMEOUT`].
pub async fn wait_for<R: Runtime>(
    rt: &R,
    events: &async_channel::Receiver<ClientEvent>,
    what: &str,
    pred: impl Fn(&ClientEvent) -> bool,
) -> ClientEvent {
    let deadline = Instant::now() + TIMEOUT;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_event(rt, events, left).await {
            Some(e) if pred(&e) => return e,
            Some(e) => skipped.push(e),
            None => panic!("no event {what} within {TIMEOUT:?}; skipped {skipped:?}"),
        }
    }
}

/// The next `n` message-like events (Message or Unreadable), skipping hooks.
pub async fn messages<R: Runtime>(
    rt: &R,
    events: &async_channel::Receiver<ClientEvent>,
    n: usize,
) -> Vec<ClientEvent> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = wait_for(rt, events, "message", |e| {
            matches!(e, ClientEvent::Message(_) | ClientEvent::Unreadable { .. })
        })
        .await;
        out.push(e);
    }
    out
}

/// Polls `cond` until it holds; panics after [`TIMEOUT`].
pub async fn until<R: Runtime>(rt: &R, what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        rt.sleep_until(Instant::now() + Duration::from_millis(20))
            .await;
    }
}

// ----- a proxy playing a busy original server -----

/// A TCP proxy to `upstream` that answers the first `busy_regs` REGs itself
/// with ERR SERVER, as the original server does under load, and forwards
/// everything else. Returns its address and the count of REGs still to refuse.
pub async fn busy_reg_proxy<R: Runtime>(
    rt: &R,
    upstream: SocketAddr,
    busy_regs: usize,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let left = Arc::new(AtomicUsize::new(busy_regs));
    let listener = rt.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = rt.local_addr(&listener).unwrap();
    let task_rt = rt.clone();
    let task_left = left.clone();
    rt.spawn(async move {
        let rt = task_rt;
        while let Ok((client, _)) = rt.accept(&listener).await {
            let Ok(server) = rt.connect(upstream).await else {
                continue;
            };
            let (mut client_rd, mut client_wr) = futures_lite::io::split(client);
            let (mut server_rd, mut server_wr) = futures_lite::io::split(server);
            let (to_client, outbox) = async_channel::unbounded::<Bytes>();
            // Everything for the client goes through one writer.
            rt.spawn(async move {
                while let Ok(bytes) = outbox.recv().await {
                    if client_wr.write_all(&bytes).await.is_err() {
                        break;
                    }
                    let _ = client_wr.flush().await;
                }
            });
            let replies = to_client.clone();
            rt.spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = server_rd.read(&mut buf).await {
                    if n == 0
                        || replies
                            .send(Bytes::copy_from_slice(&buf[..n]))
                            .await
                            .is_err()
                    {
                        break;
                    }
                }
                replies.close();
            });
            let left = task_left.clone();
            rt.spawn(async move {
                let mut decoder = Decoder::new(Direction::ToServer);
                let mut buf = vec![0u8; 16 * 1024];
                'conn: while let Ok(n) = client_rd.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    decoder.feed(&buf[..n]);
                    while let Ok(Some(p)) = decoder.decode() {
                        let refuse = p.action() == gochat_proto::Action::Reg
                            && left
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                                    l.checked_sub(1)
                                })
                                .is_ok();
                        if refuse {
                            let mut b = BytesMut::new();
                            ServerCommand::Err(gochat_proto::ErrorCode::Server)
                                .encode(p.id(), &mut b)
                                .unwrap();
                            let _ = to_client.send(b.freeze()).await;
                        } else if server_wr.write_all(&p.to_bytes()).await.is_err() {
                            break 'conn;
                        } else {
                            let _ = server_wr.flush().await;
                        }
                    }
                }
                let _ = server_wr.close().await;
            });
        }
    });
    (addr, left)
}
