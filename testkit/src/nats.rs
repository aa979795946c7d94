//! A private NATS server (with JetStream) for one test: its own port and
//! storage folder, stopped and restarted at will, killed when dropped.

use std::future::Future;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gochat_runtime::Runtime;
use gochat_runtime_tokio::TokioRuntime;

use crate::db::{Db, ScratchDb};
use crate::names::TempDir;
use crate::process::free_port;
use crate::services::in_ci;

/// A `nats-server -js` child process.
pub struct NatsServer {
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    /// A configuration file given with `-c`, if any.
    config: Option<std::path::PathBuf>,
}

impl NatsServer {
    /// Starts `nats-server` with JetStream on a free port and waits until it
    /// accepts connections; `None` (after a note) when the binary is not
    /// installed, except under `CI=true`, where that fails the test.
    pub fn start() -> Option<NatsServer> {
        Self::start_with_config("")
    }

    /// As [`NatsServer::start`], with `config` (nats-server configuration
    /// text, e.g. `max_payload: 8192`) in a file given with `-c`; empty for
    /// none.
    pub fn start_with_config(config: &str) -> Option<NatsServer> {
        let installed = Command::new("nats-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !installed {
            if in_ci() {
                panic!("nats-server is not installed and CI=true: the cluster tests must run");
            }
            eprintln!("note: nats-server is not installed; skipping the cluster test");
            return None;
        }
        let dir = TempDir::new("gochat_nats");
        let config = (!config.is_empty()).then(|| {
            let path = dir.path().join("nats.conf");
            std::fs::write(&path, config).unwrap();
            path
        });
        let mut server = NatsServer {
            port: free_port(),
            dir,
            child: None,
            config,
        };
        server.resume();
        Some(server)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops it (SIGKILL): clients see the connection drop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same storage.
    pub fn resume(&mut self) {
        self.stop();
        let mut command = Command::new("nats-server");
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        let child = command
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed to run the cluster tests");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {addr} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `scenario` on the Tokio runtime with a scratch database on `db` and
/// a NATS server; when either is missing (see [`ScratchDb::create`] and
/// [`NatsServer::start`]) it does nothing.
pub fn with_db_and_nats<F, Fut>(db: Db, scenario: F)
where
    F: FnOnce(TokioRuntime, ScratchDb, NatsServer) -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = crate::tokio_rt();
    let inner = rt.clone();
    rt.block_on(async move {
        let Some(scratch) = ScratchDb::create(db).await else {
            return;
        };
        let Some(nats) = NatsServer::start() else {
            return;
        };
        scenario(inner, scratch, nats).await;
    });
}
