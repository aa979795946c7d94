//! The server binary as a child process, for tests that kill it or send it
//! signals.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("its address").port()
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
    pub stderr: PathBuf,
}

impl ServerProc {
    /// Starts the server binary `bin` (in a server test,
    /// `env!("CARGO_BIN_EXE_gochat-server")`) on `database_url` with `args`,
    /// its stderr in a file in `workdir`, and waits until it says its
    /// listeners are up.
    pub fn start(bin: &str, database_url: &str, workdir: &Path, args: &[&str]) -> ServerProc {
        Self::start_at_level(bin, database_url, workdir, args, "ERROR")
    }

    /// As [`ServerProc::start`], logging at `level` (`ALL`, `INFO`, `ERROR`
    /// or `FATAL`) instead of `ERROR`; with `--log-file` among `args` the log
    /// can be read there.
    pub fn start_at_level(
        bin: &str,
        database_url: &str,
        workdir: &Path,
        args: &[&str],
        level: &str,
    ) -> ServerProc {
        // A port picked free can be taken before the child binds it: try again.
        for _ in 0..3 {
            if let Some(server) = Self::try_start(bin, database_url, workdir, args, level) {
                return server;
            }
        }
        panic!("gochat-server did not start (its errors are printed above)");
    }

    fn try_start(
        bin: &str,
        database_url: &str,
        workdir: &Path,
        args: &[&str],
        level: &str,
    ) -> Option<Self> {
        let port = free_port();
        let mut cmd = std::process::Command::new(bin);
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
            .args(["--log-level", level])
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

    /// What the process wrote to stderr so far.
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
