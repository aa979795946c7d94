//! Test support for the client service: shared runtimes, a server on
//! loopback (TCP and TLS with an rcgen certificate), fixture keys, clients
//! with an in-memory store, and a raw protocol client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use gochat_client::service::{ConnectOptions, Connection, Service};
use gochat_client::store::LocalStore;
use gochat_client::{ClientEvent, ServerRecord};
use gochat_proto::crypto;
use gochat_proto::{ClientCommand, Decoder, Direction, Packet, ServerCommand, Username};
use gochat_runtime::tls::ServerVerification;
use gochat_runtime::{Runtime, Stream};
use gochat_runtime_smol::SmolRuntime;
use gochat_runtime_tokio::TokioRuntime;
use gochat_server::config::{Settings, TlsSettings};
use gochat_server::{RunningServer, start};

/// How long a test waits for anything.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// The password of every test account.
pub const PASSWORD: &str = "correct horse";

// ----- runtimes (one per kind, shared by every test) -----

pub fn tokio_rt() -> TokioRuntime {
    static RT: OnceLock<TokioRuntime> = OnceLock::new();
    RT.get_or_init(|| TokioRuntime::new().unwrap()).clone()
}

pub fn smol_rt() -> SmolRuntime {
    static RT: OnceLock<SmolRuntime> = OnceLock::new();
    RT.get_or_init(|| SmolRuntime::with_threads(2).unwrap())
        .clone()
}

fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{tag}_{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh temporary folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(tag));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ----- TLS -----

pub struct TestCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A self-signed certificate for `localhost` and `127.0.0.1`.
pub fn test_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = temp_dir("gochat_client_cert");
        let cert_file = dir.join("cert.pem");
        let key_file = dir.join("key.pem");
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        TestCert {
            cert_file,
            key_file,
        }
    })
}

/// Connection options trusting the test certificate.
pub fn options() -> ConnectOptions {
    ConnectOptions {
        verification: ServerVerification::CaFile(test_cert().cert_file.clone()),
        keepalive: Some(ConnectOptions::DEFAULT_KEEPALIVE),
        request_timeout: Duration::from_secs(15),
    }
}

// ----- servers -----

pub fn settings() -> Settings {
    let cert = test_cert();
    let path = std::env::temp_dir().join(format!("{}.db", unique("gochat_client_it")));
    Settings {
        database_url: format!("sqlite://{}", path.display()),
        address: "127.0.0.1".parse().unwrap(),
        port: 0,
        tls: Some(TlsSettings {
            port: 0,
            cert_file: cert.cert_file.clone(),
            key_file: cert.key_file.clone(),
        }),
        default_motd: "Welcome to the test server!".into(),
        shutdown_grace: Duration::from_secs(3),
        ..Settings::default()
    }
}

pub async fn start_server<R: Runtime>(rt: &R, settings: &Settings) -> RunningServer<R> {
    start(rt.clone(), settings).await.unwrap()
}

/// Runs `scenario` to completion on `rt`.
pub fn run<R, F, Fut>(rt: R, scenario: F)
where
    R: Runtime,
    F: FnOnce(R) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if let Ok(filter) = std::env::var("GOCHAT_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    let inner = rt.clone();
    rt.block_on(scenario(inner));
}

/// Whether a scenario runs over TLS or plain TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Tls,
}

// ----- keys -----

pub fn private_pem(name: &str) -> &'static str {
    match name {
        "alice" => include_str!("../../../proto-core/tests/fixtures/alice.priv.pem"),
        "bob" => include_str!("../../../proto-core/tests/fixtures/bob.priv.pem"),
        "carol" => include_str!("../../../proto-core/tests/fixtures/carol.priv.pem"),
        "dave" => include_str!("../../../proto-core/tests/fixtures/dave.priv.pem"),
        other => panic!("no fixture key for {other}"),
    }
}

pub fn public_pem(name: &str) -> &'static str {
    match name {
        "alice" => include_str!("../../../proto-core/tests/fixtures/alice.pub.pem"),
        "bob" => include_str!("../../../proto-core/tests/fixtures/bob.pub.pem"),
        "carol" => include_str!("../../../proto-core/tests/fixtures/carol.pub.pem"),
        "dave" => include_str!("../../../proto-core/tests/fixtures/dave.pub.pem"),
        other => panic!("no fixture key for {other}"),
    }
}

pub fn user(name: &str) -> Username {
    Username::parse(name.as_bytes()).unwrap()
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

/// Registers fixture users on the server over plain TCP (no key generation).
pub async fn register_fixtures<R: Runtime>(rt: &R, server: &RunningServer<R>, names: &[&str]) {
    let mut raw = RawClient::connect(rt, server.tcp_addr()).await;
    for name in names {
        let reply = raw
            .call(ClientCommand::Reg {
                username: user(name),
                pubkey: Bytes::from_static(public_pem(name).as_bytes()),
            })
            .await;
        assert_eq!(reply, ServerCommand::Ok, "REG {name}");
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

// ----- a raw client -----

/// A protocol client with no session logic, for what the service never
/// sends (fixture registrations, garbage ciphertexts).
pub struct RawClient<R: Runtime> {
    rt: R,
    stream: Box<dyn Stream>,
    decoder: Decoder,
    next_id: u16,
    pub inbox: Vec<Packet>,
}

impl<R: Runtime> RawClient<R> {
    /// Connects over TCP and reads the HELLO.
    pub async fn connect(rt: &R, addr: SocketAddr) -> Self {
        let stream = rt.connect(addr).await.unwrap();
        let mut c = RawClient {
            rt: rt.clone(),
            stream: Box::new(stream),
            decoder: Decoder::new(Direction::ToClient),
            next_id: 1,
            inbox: Vec::new(),
        };
        let hello = c.next_packet().await;
        assert!(matches!(
            ServerCommand::from_packet(&hello).unwrap(),
            ServerCommand::Hello { .. }
        ));
        c
    }

    async fn next_packet(&mut self) -> Packet {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(p) = self.decoder.decode().unwrap() {
                return p;
            }
            let mut buf = vec![0u8; 16 * 1024];
            let read = async { self.stream.read(&mut buf).await };
            let n = gochat_runtime::with_deadline(&self.rt, deadline, read)
                .await
                .unwrap();
            assert!(n > 0, "the server closed the connection");
            self.decoder.feed(&buf[..n]);
        }
    }

    /// Sends a command and returns its reply (pushes met go to the inbox).
    pub async fn call(&mut self, cmd: ClientCommand) -> ServerCommand {
        let id = self.next_id;
        self.next_id += 1;
        let mut b = BytesMut::new();
        cmd.encode(id, &mut b).unwrap();
        self.stream.write_all(&b).await.unwrap();
        self.stream.flush().await.unwrap();
        loop {
            let p = self.next_packet().await;
            if p.id() == id {
                return ServerCommand::from_packet(&p).unwrap();
            }
            self.inbox.push(p);
        }
    }

    /// A challenge login with the fixture key of `name`.
    pub async fn login(&mut self, name: &str) {
        let challenge = match self
            .call(ClientCommand::Login {
                username: user(name),
            })
            .await
        {
            ServerCommand::Verif { challenge } => challenge,
            other => panic!("LOGIN {name}: {other:?}"),
        };
        let key = crypto::private_key_from_pem(private_pem(name).as_bytes()).unwrap();
        let answer = crypto::decrypt(&key, &mut getrandom::SysRng, &challenge).unwrap();
        let reply = self
            .call(ClientCommand::Verif {
                username: user(name),
                answer: Bytes::from(answer),
            })
            .await;
        assert_eq!(reply, ServerCommand::Ok, "VERIF {name}");
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
