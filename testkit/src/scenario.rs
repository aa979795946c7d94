//! Servers in-process and the scenarios that run against them.
//!
//! A scenario gets a runtime and the settings of a fresh database; what it
//! starts with [`start_server`] is stopped when dropped, and when the
//! scenario ends (passed or failed) its servers' stores are closed and its
//! database removed.

use std::future::Future;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gochat_runtime::Runtime;
use gochat_server::config::{Settings, TlsSettings};
use gochat_server::store::Store;
use gochat_server::{RunningServer, start};

use crate::cert::test_cert;
use crate::db::{Db, ScratchDb};
use crate::names::TempDir;
use crate::runtimes::init_test_log;

/// How long a test waits for any one thing before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The current Unix time in whole seconds (0 on a clock set before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Test settings on `database_url`: loopback, ephemeral ports, TLS with the
/// fixture certificate, a known MOTD, a 3 s shutdown grace; every limit at
/// its default.
pub fn settings(database_url: String) -> Settings {
    let cert = test_cert();
    Settings {
        database_url,
        address: [127, 0, 0, 1].into(),
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

/// A server started by a test; dropping it starts its stop (as SIGTERM
/// does) and leaves its store to be closed when the scenario ends.
pub struct TestServer<R: Runtime> {
    inner: Option<RunningServer<R>>,
    url: String,
}

impl<R: Runtime> TestServer<R> {
    /// Stops nothing by itself: waits until the server has stopped (after
    /// [`RunningServer::shutdown`] or an admin SHTDWN).
    pub async fn wait(mut self) {
        if let Some(server) = self.inner.take() {
            server.wait().await;
        }
    }

    /// Starts the stop and waits until the server has stopped.
    pub async fn stop(self) {
        self.shutdown();
        self.wait().await;
    }
}

impl<R: Runtime> Deref for TestServer<R> {
    type Target = RunningServer<R>;

    fn deref(&self) -> &RunningServer<R> {
        self.inner
            .as_ref()
            .expect("a TestServer is only emptied by wait, which consumes it")
    }
}

impl<R: Runtime> Drop for TestServer<R> {
    fn drop(&mut self) {
        if let Some(server) = self.inner.take() {
            server.shutdown();
            park_store(&self.url, server.store().clone());
        }
    }
}

/// Stores of dropped servers, by database URL, until their scenario ends.
static PARKED: Mutex<Vec<(String, Store)>> = Mutex::new(Vec::new());

fn park_store(url: &str, store: Store) {
    PARKED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((url.to_string(), store));
}

/// Closes the stores of the servers on `url` that were dropped.
async fn close_parked(url: &str) {
    let stores: Vec<Store> = {
        let mut parked = PARKED.lock().unwrap_or_else(|p| p.into_inner());
        let (mine, others) = parked.drain(..).partition(|(u, _)| u == url);
        *parked = others;
        mine.into_iter().map(|(_, store)| store).collect()
    };
    for store in stores {
        store.close().await;
    }
}

/// Starts a server on `rt` with `settings`.
pub async fn start_server<R: Runtime>(rt: &R, settings: &Settings) -> TestServer<R> {
    let server = start(rt.clone(), settings)
        .await
        .expect("the test server starts");
    TestServer {
        inner: Some(server),
        url: settings.database_url.clone(),
    }
}

/// Runs `scenario` on `rt` with the settings of a fresh database of kind
/// `db`; afterwards (also after a failure) closes the stores of the servers
/// it started and removes the database. Without MariaDB or PostgreSQL (and
/// outside CI) the scenario does not run.
pub fn run_scenario<R, F, Fut>(rt: R, db: Db, scenario: F)
where
    R: Runtime,
    F: FnOnce(R, Settings) -> Fut,
    Fut: Future<Output = ()>,
{
    init_test_log();
    let inner = rt.clone();
    rt.block_on(async move {
        let Some(scratch) = ScratchDb::create(db).await else {
            return;
        };
        let url = scratch.url().to_string();
        let outcome = catch(scenario(inner, settings(url.clone()))).await;
        close_parked(&url).await;
        drop(scratch);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Runs `scenario` with the URL of a fresh database of kind `db` and a
/// scratch folder named after `prefix` (for the files of server processes),
/// then removes both, also when the scenario fails. Fails when a server
/// wrote a panic to a file in the scratch folder.
pub async fn with_database<F, Fut>(db: Db, prefix: &str, scenario: F)
where
    F: FnOnce(String, std::path::PathBuf) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(scratch) = ScratchDb::create(db).await else {
        return;
    };
    let workdir = TempDir::new(prefix);
    eprintln!("database {}", scratch.url());
    let outcome = catch(scenario(
        scratch.url().to_string(),
        workdir.path().to_path_buf(),
    ))
    .await;
    close_parked(scratch.url()).await;
    // What the servers wrote to their files: nothing may be a panic.
    let mut panics = String::new();
    if let Ok(entries) = std::fs::read_dir(workdir.path()) {
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if text.contains("panicked") {
                panics.push_str(&text);
            }
        }
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    assert!(panics.is_empty(), "the server panicked:\n{panics}");
}

/// Runs `scenario` on `rt`; the servers it starts use SQLite files made by
/// [`sqlite_settings`], which are closed and removed when it ends.
pub fn run<R, F, Fut>(rt: R, scenario: F)
where
    R: Runtime,
    F: FnOnce(R) -> Fut,
    Fut: Future<Output = ()>,
{
    init_test_log();
    let inner = rt.clone();
    rt.block_on(async move {
        let outcome = catch(scenario(inner)).await;
        let made: Vec<Scratch> = SCRATCH.with(|s| s.borrow_mut().drain(..).collect());
        for scratch in &made {
            if let Scratch::Db(db) = scratch {
                close_parked(db.url()).await;
            }
        }
        drop(made);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}

/// What a scenario made that goes when it ends.
enum Scratch {
    Db(ScratchDb),
    // Held only to be dropped.
    Dir(#[allow(dead_code)] TempDir),
}

thread_local! {
    /// The SQLite files and folders made for the scenario that [`run`] runs
    /// on this thread.
    static SCRATCH: std::cell::RefCell<Vec<Scratch>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Test [`settings`] on a fresh SQLite file, removed when the scenario that
/// [`run`] runs ends (outside [`run`], when the thread ends).
pub fn sqlite_settings() -> Settings {
    let scratch = ScratchDb::sqlite();
    let s = settings(scratch.url().to_string());
    SCRATCH.with(|list| list.borrow_mut().push(Scratch::Db(scratch)));
    s
}

/// A fresh folder, removed when the scenario that [`run`] runs ends
/// (outside [`run`], when the thread ends).
pub fn scenario_dir(tag: &str) -> PathBuf {
    let dir = TempDir::new(tag);
    let path = dir.to_path_buf();
    SCRATCH.with(|list| list.borrow_mut().push(Scratch::Dir(dir)));
    path
}

/// `future`, with a panic inside it caught as an error.
async fn catch<Fut: Future<Output = ()>>(future: Fut) -> std::thread::Result<()> {
    use futures_lite::FutureExt;
    std::panic::AssertUnwindSafe(future).catch_unwind().await
}

/// Declares one test per runtime, on SQLite only, for scenarios
/// `async fn name<R: Runtime>(rt: R, settings: Settings)` that test a
/// connection's own rules (deadlines, limits, malformed input), where the
/// database is incidental.
#[macro_export]
macro_rules! runtime_scenario_tests {
    ($($name:ident),* $(,)?) => {
        mod on_tokio { $( #[test] fn $name() { $crate::run_scenario($crate::tokio_rt(), $crate::Db::Sqlite, super::$name); } )* }
        mod on_smol { $( #[test] fn $name() { $crate::run_scenario($crate::smol_rt(), $crate::Db::Sqlite, super::$name); } )* }
    };
}

/// Evaluates `$cond` (which may `.await`, on Tokio) every 50 ms until it
/// holds; fails after `$secs` seconds, saying `$what`.
#[macro_export]
macro_rules! within {
    ($secs:expr, $what:expr, $cond:expr) => {{
        let deadline = ::std::time::Instant::now() + ::std::time::Duration::from_secs($secs);
        while !$cond {
            assert!(
                ::std::time::Instant::now() < deadline,
                "not within {} s: {}",
                $secs,
                $what
            );
            ::tokio::time::sleep(::std::time::Duration::from_millis(50)).await;
        }
    }};
}

/// Declares, for each scenario `fn scenario(db: Db)`, one `#[test]` per
/// database, each with its own name:
/// `per_database_tests! { scenario: scenario_mariadb => MariaDb, scenario_postgres => Postgres; }`.
#[macro_export]
macro_rules! per_database_tests {
    ($($scenario:ident: $($test:ident => $db:ident),+ $(,)?;)+) => {
        $($(
            #[test]
            fn $test() {
                $scenario($crate::Db::$db);
            }
        )+)+
    };
}

/// Declares one test per runtime and database for each scenario
/// `async fn name<R: Runtime>(rt: R, settings: Settings)`.
#[macro_export]
macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {
        mod tokio_sqlite { $( #[test] fn $name() { $crate::run_scenario($crate::tokio_rt(), $crate::Db::Sqlite, super::$name); } )* }
        mod smol_sqlite { $( #[test] fn $name() { $crate::run_scenario($crate::smol_rt(), $crate::Db::Sqlite, super::$name); } )* }
        mod tokio_mariadb { $( #[test] fn $name() { $crate::run_scenario($crate::tokio_rt(), $crate::Db::MariaDb, super::$name); } )* }
        mod smol_mariadb { $( #[test] fn $name() { $crate::run_scenario($crate::smol_rt(), $crate::Db::MariaDb, super::$name); } )* }
        mod tokio_postgres { $( #[test] fn $name() { $crate::run_scenario($crate::tokio_rt(), $crate::Db::Postgres, super::$name); } )* }
        mod smol_postgres { $( #[test] fn $name() { $crate::run_scenario($crate::smol_rt(), $crate::Db::Postgres, super::$name); } )* }
    };
}
