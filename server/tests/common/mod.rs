//! Test support: servers on loopback on either runtime and any database
//! (SQLite, MariaDB, PostgreSQL), and a raw protocol client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use gochat_proto::crypto::{self, RsaPrivateKey};
use gochat_proto::{ClientCommand, Decoder, Direction, ErrorCode, Packet, ServerCommand, Username};
use gochat_runtime::{Runtime, Stream};
use gochat_runtime_smol::SmolRuntime;
use gochat_runtime_tokio::TokioRuntime;
use gochat_server::config::{Settings, TlsSettings};
use gochat_server::{RunningServer, start};

pub const TIMEOUT: Duration = Duration::from_secs(10);

// ----- runtimes -----

pub fn tokio_rt() -> TokioRuntime {
    static RT: OnceLock<TokioRuntime> = OnceLock::new();
    RT.get_or_init(|| TokioRuntime::new().unwrap()).clone()
}

pub fn smol_rt() -> SmolRuntime {
    static RT: OnceLock<SmolRuntime> = OnceLock::new();
    RT.get_or_init(|| SmolRuntime::with_threads(2).unwrap())
        .clone()
}

// ----- databases -----

/// The database a test runs on.
// `MariaDb` ends in the enum's name; it is the product's name, and the tests
// name the variant as it is.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    MariaDb,
    Postgres,
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

pub const MARIADB_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// The PostgreSQL server and database in which each test makes its own schema
/// (trust authentication, user `postgres`).
pub const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Whether CI=true: an unreachable database then fails the test instead of
/// skipping its variant.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether MariaDB answers; with CI=true an unreachable MariaDB fails the test.
pub async fn mariadb_available() -> bool {
    use sqlx::Connection;
    let ok = sqlx::MySqlConnection::connect(MARIADB_ADMIN_URL)
        .await
        .is_ok();
    if !ok {
        if in_ci() {
            panic!("MariaDB at 127.0.0.1:3306 is unreachable and CI=true: MariaDB tests must run");
        }
        eprintln!("note: MariaDB at 127.0.0.1:3306 unreachable; skipping the MariaDB variant");
    }
    ok
}

/// Whether PostgreSQL answers; with CI=true an unreachable PostgreSQL fails the test.
pub async fn postgres_available() -> bool {
    use sqlx::Connection;
    let ok = sqlx::PgConnection::connect(POSTGRES_ADMIN_URL)
        .await
        .is_ok();
    if !ok {
        if in_ci() {
            panic!(
                "PostgreSQL at 127.0.0.1:5432 is unreachable and CI=true: PostgreSQL tests must run"
            );
        }
        eprintln!(
            "note: PostgreSQL at 127.0.0.1:5432 unreachable; skipping the PostgreSQL variant"
        );
    }
    ok
}

/// The URL of PostgreSQL database `test` with `schema` first on the search
/// path: the store's tables and migration records go there.
pub fn postgres_schema_url(schema: &str) -> String {
    format!("{POSTGRES_ADMIN_URL}?options[search_path]={schema}")
}

/// The name of the scratch database (MariaDB), schema (PostgreSQL) or file
/// (SQLite) of a URL from [`database_url`].
pub fn database_name(url: &str) -> &str {
    url.rsplit(['/', '=']).next().unwrap_or("db")
}

/// A fresh database URL; `None` when MariaDB or PostgreSQL is wanted but
/// unavailable (outside CI). [`drop_database`] removes it.
pub async fn database_url(db: Db) -> Option<String> {
    match db {
        Db::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique("gochat_it")));
            Some(format!("sqlite://{}", path.display()))
        }
        Db::MariaDb => {
            use sqlx::{Connection, Executor};
            if !mariadb_available().await {
                return None;
            }
            let name = unique("gochat_it");
            let mut conn = sqlx::MySqlConnection::connect(MARIADB_ADMIN_URL)
                .await
                .unwrap();
            let sql = format!("CREATE DATABASE {name}");
            conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
            Some(format!("mysql://root@127.0.0.1:3306/{name}"))
        }
        Db::Postgres => {
            use sqlx::{Connection, Executor};
            if !postgres_available().await {
                return None;
            }
            let name = unique("gochat_it");
            let mut conn = sqlx::PgConnection::connect(POSTGRES_ADMIN_URL)
                .await
                .unwrap();
            let sql = format!("CREATE SCHEMA {name}");
            conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
            Some(postgres_schema_url(&name))
        }
    }
}

/// Removes what [`database_url`] made for `url`.
pub async fn drop_database(db: Db, url: &str) {
    use sqlx::{Connection, Executor};
    let name = database_name(url);
    match db {
        Db::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
        Db::MariaDb => {
            let mut conn = sqlx::MySqlConnection::connect(MARIADB_ADMIN_URL)
                .await
                .unwrap();
            let sql = format!("DROP DATABASE {name}");
            conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        }
        Db::Postgres => {
            let mut conn = sqlx::PgConnection::connect(POSTGRES_ADMIN_URL)
                .await
                .unwrap();
            let sql = format!("DROP SCHEMA {name} CASCADE");
            conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
        }
    }
}

// ----- TLS -----

pub struct TestCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client: Arc<rustls::ClientConfig>,
}

pub fn test_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let dir = std::env::temp_dir().join(unique("gochat_cert"));
        std::fs::create_dir_all(&dir).unwrap();
        let cert_file = dir.join("cert.pem");
        let key_file = dir.join("key.pem");
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        let client = gochat_runtime::tls::client_config(
            &gochat_runtime::tls::ServerVerification::CaFile(cert_file.clone()),
        )
        .unwrap();
        TestCert {
            cert_file,
            key_file,
            client,
        }
    })
}

// ----- servers -----

pub fn settings(database_url: String) -> Settings {
    let cert = test_cert();
    Settings {
        database_url,
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

/// Runs `scenario` on `rt` against a fresh server on `db`, then drops the
/// database (also when the scenario fails).
pub fn run_scenario<R, F, Fut>(rt: R, db: Db, scenario: F)
where
    R: Runtime,
    F: FnOnce(R, Settings) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if std::env::var("GOCHAT_TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("GOCHAT_TEST_LOG").unwrap_or_default())
            .with_test_writer()
            .try_init();
    }
    let inner = rt.clone();
    rt.block_on(async move {
        use futures_lite::FutureExt;
        let Some(url) = database_url(db).await else {
            return;
        };
        let outcome = std::panic::AssertUnwindSafe(scenario(inner, settings(url.clone())))
            .catch_unwind()
            .await;
        drop_database(db, &url).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Declares a test per runtime, on SQLite only, for scenarios that test the
/// connection's own rules (deadlines, limits, malformed input, the waiting
/// line), where the database is incidental: one run per runtime instead of one
/// per runtime and database.
#[macro_export]
macro_rules! runtime_scenario_tests {
    ($($name:ident),* $(,)?) => {
        mod on_tokio { $( #[test] fn $name() { $crate::common::run_scenario($crate::common::tokio_rt(), $crate::common::Db::Sqlite, super::$name); } )* }
        mod on_smol { $( #[test] fn $name() { $crate::common::run_scenario($crate::common::smol_rt(), $crate::common::Db::Sqlite, super::$name); } )* }
    };
}

/// Declares one test per runtime and database for a scenario
/// `async fn name<R: Runtime>(rt: R, settings: Settings)`.
#[macro_export]
macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {
        mod tokio_sqlite { $( #[test] fn $name() { $crate::common::run_scenario($crate::common::tokio_rt(), $crate::common::Db::Sqlite, super::$name); } )* }
        mod smol_sqlite { $( #[test] fn $name() { $crate::common::run_scenario($crate::common::smol_rt(), $crate::common::Db::Sqlite, super::$name); } )* }
        mod tokio_mariadb { $( #[test] fn $name() { $crate::common::run_scenario($crate::common::tokio_rt(), $crate::common::Db::MariaDb, super::$name); } )* }
        mod smol_mariadb { $( #[test] fn $name() { $crate::common::run_scenario($crate::common::smol_rt(), $crate::common::Db::MariaDb, super::$name); } )* }
        mod tokio_postgres { $( #[test] fn $name() { $crate::common::run_scenario($crate::common::tokio_rt(), $crate::common::Db::Postgres, super::$name); } )* }
        mod smol_postgres { $( #[test] fn $name() { $crate::common::run_scenario($crate::common::smol_rt(), $crate::common::Db::Postgres, super::$name); } )* }
    };
}

// ----- keys -----

pub fn private_key(name: &str) -> RsaPrivateKey {
    let pem = match name {
        "alice" => include_str!("../../../proto-core/tests/fixtures/alice.priv.pem"),
        "bob" => include_str!("../../../proto-core/tests/fixtures/bob.priv.pem"),
        "carol" => include_str!("../../../proto-core/tests/fixtures/carol.priv.pem"),
        "dave" => include_str!("../../../proto-core/tests/fixtures/dave.priv.pem"),
        other => panic!("no fixture key for {other}"),
    };
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, RsaPrivateKey>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut c = cache.lock().unwrap();
    c.entry(name.to_string())
        .or_insert_with(|| crypto::private_key_from_pem(pem.as_bytes()).unwrap())
        .clone()
}

pub fn public_pem(name: &str) -> Bytes {
    Bytes::from(match name {
        "alice" => include_str!("../../../proto-core/tests/fixtures/alice.pub.pem"),
        "bob" => include_str!("../../../proto-core/tests/fixtures/bob.pub.pem"),
        "carol" => include_str!("../../../proto-core/tests/fixtures/carol.pub.pem"),
        "dave" => include_str!("../../../proto-core/tests/fixtures/dave.pub.pem"),
        other => panic!("no fixture key for {other}"),
    })
}

pub fn user(name: &str) -> Username {
    Username::parse(name.as_bytes()).unwrap()
}

pub fn err(code: ErrorCode) -> ServerCommand {
    ServerCommand::Err(code)
}

// ----- a raw client -----

/// A protocol client with no session logic: it sends what it is told and
/// reads what comes, so tests see exactly what the server does.
pub struct RawClient<R: Runtime> {
    rt: R,
    stream: Box<dyn Stream>,
    decoder: Decoder,
    next_id: u16,
    /// Null-id packets and replies nobody waited for, in arrival order.
    pub inbox: VecDeque<Packet>,
    pub eof: bool,
}

impl<R: Runtime> RawClient<R> {
    /// Connects over TCP without waiting for HELLO.
    pub async fn connect_raw(rt: &R, addr: SocketAddr) -> Self {
        let stream = rt.connect(addr).await.unwrap();
        RawClient {
            rt: rt.clone(),
            stream: Box::new(stream),
            decoder: Decoder::new(Direction::ToClient),
            next_id: 1,
            inbox: VecDeque::new(),
            eof: false,
        }
    }

    /// Connects over TCP and reads HELLO; returns the client and the MOTD.
    pub async fn connect(rt: &R, addr: SocketAddr) -> (Self, Bytes) {
        let mut c = Self::connect_raw(rt, addr).await;
        let motd = c.hello().await;
        (c, motd)
    }

    /// Connects over TLS (certificate checked against the test CA) and reads HELLO.
    pub async fn connect_tls(rt: &R, addr: SocketAddr) -> (Self, Bytes) {
        let tcp = rt.connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = rt
            .tls_connect(test_cert().client.clone(), name, tcp)
            .await
            .unwrap();
        let mut c = RawClient {
            rt: rt.clone(),
            stream: Box::new(tls),
            decoder: Decoder::new(Direction::ToClient),
            next_id: 1,
            inbox: VecDeque::new(),
            eof: false,
        };
        let motd = c.hello().await;
        (c, motd)
    }

    pub async fn hello(&mut self) -> Bytes {
        match self.push(TIMEOUT).await {
            Some(ServerCommand::Hello { motd }) => motd,
            other => panic!("expected HELLO, got {other:?}"),
        }
    }

    /// Reads more bytes; false at end of stream or deadline.
    async fn fill(&mut self, deadline: Instant) -> bool {
        if self.eof {
            return false;
        }
        let mut buf = vec![0u8; 16 * 1024];
        let read = async { self.stream.read(&mut buf).await };
        match gochat_runtime::with_deadline(&self.rt, deadline, read).await {
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => false,
            Ok(0) | Err(_) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                self.decoder.feed(&buf[..n]);
                true
            }
        }
    }

    /// The next packet from the server, if one comes before `deadline`.
    async fn next_packet(&mut self, deadline: Instant) -> Option<Packet> {
        loop {
            match self.decoder.decode() {
                Ok(Some(p)) => return Some(p),
                Ok(None) => {}
                Err(e) => panic!("server sent a malformed packet: {e}"),
            }
            if !self.fill(deadline).await {
                return None;
            }
        }
    }

    /// Shuts down the writing half (the server reads end of stream); what
    /// the server still sends can be read.
    pub async fn shutdown_write(&mut self) {
        let _ = self.stream.close().await;
    }

    pub async fn write_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
        let _ = self.stream.flush().await;
    }

    /// Sends a command with a fresh id.
    pub async fn send(&mut self, cmd: &ClientCommand) -> u16 {
        let id = self.next_id;
        self.next_id = if self.next_id >= 1023 {
            1
        } else {
            self.next_id + 1
        };
        self.send_with_id(cmd, id).await;
        id
    }

    pub async fn send_with_id(&mut self, cmd: &ClientCommand, id: u16) {
        let mut b = BytesMut::new();
        cmd.encode(id, &mut b).unwrap();
        self.write_raw(&b).await;
    }

    /// The reply to `id`; null-id packets met on the way go to the inbox.
    pub async fn reply(&mut self, id: u16) -> ServerCommand {
        if let Some(pos) = self.inbox.iter().position(|p| p.id() == id) {
            let p = self.inbox.remove(pos).unwrap();
            return ServerCommand::from_packet(&p).unwrap();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_packet(deadline).await {
                Some(p) if p.id() == id => return ServerCommand::from_packet(&p).unwrap(),
                Some(p) => self.inbox.push_back(p),
                None => panic!("no reply to request {id} (connection closed or timed out)"),
            }
        }
    }

    /// The next packet with an id (a reply), with that id; null-id packets
    /// met on the way go to the inbox.
    pub async fn next_reply(&mut self) -> (u16, ServerCommand) {
        if let Some(pos) = self.inbox.iter().position(|p| !p.is_null_id()) {
            let p = self.inbox.remove(pos).unwrap();
            return (p.id(), ServerCommand::from_packet(&p).unwrap());
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_packet(deadline).await {
                Some(p) if !p.is_null_id() => {
                    return (p.id(), ServerCommand::from_packet(&p).unwrap());
                }
                Some(p) => self.inbox.push_back(p),
                None => panic!("no reply came (connection closed or timed out)"),
            }
        }
    }

    /// Sends and waits for the reply.
    pub async fn call(&mut self, cmd: ClientCommand) -> ServerCommand {
        let id = self.send(&cmd).await;
        self.reply(id).await
    }

    /// The next null-id packet, within `wait`.
    pub async fn push(&mut self, wait: Duration) -> Option<ServerCommand> {
        if let Some(pos) = self.inbox.iter().position(|p| p.is_null_id()) {
            let p = self.inbox.remove(pos).unwrap();
            return Some(ServerCommand::from_packet(&p).unwrap());
        }
        let deadline = Instant::now() + wait;
        loop {
            match self.next_packet(deadline).await {
                Some(p) if p.is_null_id() => return Some(ServerCommand::from_packet(&p).unwrap()),
                Some(p) => self.inbox.push_back(p),
                None => return None,
            }
        }
    }

    /// Whether nothing arrives within `wait` (no push pending).
    pub async fn quiet(&mut self, wait: Duration) -> bool {
        self.push(wait).await.is_none() && self.inbox.is_empty()
    }

    /// Reads until the server closes; returns the null-id packets read.
    pub async fn until_closed(&mut self, wait: Duration) -> Vec<ServerCommand> {
        let deadline = Instant::now() + wait;
        let mut out: Vec<ServerCommand> = self
            .inbox
            .drain(..)
            .map(|p| ServerCommand::from_packet(&p).unwrap())
            .collect();
        loop {
            match self.decoder.decode() {
                Ok(Some(p)) => {
                    out.push(ServerCommand::from_packet(&p).unwrap());
                    continue;
                }
                Ok(None) => {}
                Err(e) => panic!("server sent a malformed packet: {e}"),
            }
            if !self.fill(deadline).await {
                break;
            }
        }
        assert!(
            self.eof,
            "server did not close the connection within {wait:?}"
        );
        assert!(
            Instant::now() < deadline,
            "server did not close the connection within {wait:?}"
        );
        out
    }

    /// REG with a fixture key.
    pub async fn register(&mut self, name: &str) -> ServerCommand {
        self.call(ClientCommand::Reg {
            username: user(name),
            pubkey: public_pem(name),
        })
        .await
    }

    /// A full challenge login with a fixture key; returns the final reply
    /// and the challenge text (the token over TLS).
    pub async fn login(&mut self, name: &str) -> (ServerCommand, Option<Bytes>) {
        match self
            .call(ClientCommand::Login {
                username: user(name),
            })
            .await
        {
            ServerCommand::Verif { challenge } => {
                let key = private_key(name);
                let text = crypto::decrypt(&key, &mut getrandom::SysRng, &challenge).unwrap();
                let text = Bytes::from(text);
                let reply = self
                    .call(ClientCommand::Verif {
                        username: user(name),
                        answer: text.clone(),
                    })
                    .await;
                (reply, Some(text))
            }
            other => (other, None),
        }
    }

    /// Registers and logs in, asserting both succeed.
    pub async fn register_and_login(&mut self, name: &str) -> Bytes {
        assert_eq!(self.register(name).await, ServerCommand::Ok, "REG {name}");
        let (reply, token) = self.login(name).await;
        assert_eq!(reply, ServerCommand::Ok, "LOGIN {name}");
        token.unwrap()
    }
}

/// 4096-bit public keys with random moduli: valid for REG, free to make.
pub fn random_public_pem(seed: u64) -> Bytes {
    use rsa::BoxedUint;
    let mut bytes = vec![0u8; 512];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    bytes[0] |= 0x80;
    bytes[511] |= 1;
    let n = BoxedUint::from_be_slice(&bytes, 4096).unwrap();
    let e = BoxedUint::from(65537u32);
    let key = crypto::RsaPublicKey::new(n, e).unwrap();
    Bytes::from(crypto::public_key_to_pem(&key).unwrap())
}

/// Runs `scenario` with a fresh database of kind `db` (its URL) and a
/// scratch directory named after `prefix` (for the servers' files), then
/// deletes both, also when the scenario fails. Fails when a server wrote a
/// panic to a file in the scratch directory.
pub async fn with_database<F, Fut>(db: Db, prefix: &str, scenario: F)
where
    F: FnOnce(String, std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_lite::FutureExt;
    let Some(url) = database_url(db).await else {
        return;
    };
    let workdir = std::env::temp_dir().join(format!(
        "{prefix}_{}_{}",
        std::process::id(),
        database_name(&url)
    ));
    std::fs::create_dir_all(&workdir).unwrap();
    eprintln!("database {url}");
    let outcome = std::panic::AssertUnwindSafe(scenario(url.clone(), workdir.clone()))
        .catch_unwind()
        .await;
    // What the servers wrote to stderr: nothing may be a panic.
    let mut panics = String::new();
    for entry in std::fs::read_dir(&workdir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if text.contains("panicked") {
            panics.push_str(&text);
        }
    }
    let _ = std::fs::remove_dir_all(&workdir);
    drop_database(db, &url).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert!(panics.is_empty(), "the server panicked:\n{panics}");
}

// ----- the server binary as a child process -----

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Flags that turn the per-address limits off, for tests where one client
/// hammers the server.
pub const NO_ADDRESS_LIMITS: &[&str] = &[
    "--max-connections-per-ip",
    "0",
    "--registrations-per-minute",
    "0",
    "--logins-per-minute",
    "0",
];

/// A running `gochat-server` child (only this test's flags: no GOCHAT_*
/// variable, no config.json); killed when dropped.
pub struct ServerProc {
    /// The process.
    pub child: std::process::Child,
    /// Its plain-TCP listener.
    pub addr: SocketAddr,
    /// The file its stderr goes to.
    pub stderr: std::path::PathBuf,
}

impl ServerProc {
    /// Starts the binary on `database_url` with `args` and waits until it
    /// says its listeners are up.
    pub fn start(database_url: &str, workdir: &std::path::Path, args: &[&str]) -> ServerProc {
        // A port picked free can be taken before the child binds it: try again.
        for _ in 0..3 {
            if let Some(server) = Self::try_start(database_url, workdir, args) {
                return server;
            }
        }
        panic!("gochat-server did not start (its errors are printed above)");
    }

    fn try_start(database_url: &str, workdir: &std::path::Path, args: &[&str]) -> Option<Self> {
        let port = free_port();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_gochat-server"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("GOCHAT_") {
                cmd.env_remove(k);
            }
        }
        let stderr = workdir.join(format!("server-{port}.stderr"));
        let mut child = cmd
            .current_dir(workdir)
            .args(["--address", "127.0.0.1", "--port", &port.to_string()])
            .args(["--database-url", database_url, "--no-tls"])
            .args(["--log-level", "ERROR"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn gochat-server");
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { break };
                if line.contains(gochat_server::logging::RUNNING_LINE) {
                    let _ = ready_tx.send(());
                }
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => Some(ServerProc {
                child,
                addr: ([127, 0, 0, 1], port).into(),
                stderr,
            }),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().unwrap();
                let text = std::fs::read_to_string(&stderr).unwrap_or_default();
                eprintln!("gochat-server on port {port} exited at start-up: {status}\n{text}");
                None
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("gochat-server on port {port} was not up within 60 s");
            }
        }
    }

    /// SIGKILL, and wait until the process is gone.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends `sig` to the process.
    pub fn signal(&self, sig: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), sig).unwrap();
    }

    /// Waits for the process to exit on its own.
    pub fn wait_exit(&mut self, wait: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {wait:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
