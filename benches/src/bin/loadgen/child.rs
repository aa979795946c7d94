//! The process under load: the gochat server or the bare relay, always a
//! separate process so that its memory can be read from `/proc/<pid>/status`.
//!
//! A [`Target`] owns the child: dropping it (on success, error or panic)
//! kills the child and removes its temporary directory. The relay also exits
//! by itself when the loader's end of its stdin closes, so it cannot outlive
//! a loader that was killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use gochat_proto::{Decoder, Direction, ServerCommand};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::{Instant, sleep, timeout};

use crate::{Result, err};

/// How long a target may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// What to start.
#[derive(Clone, Debug)]
pub enum TargetKind {
    /// The gochat server binary, with an optional `--runtime`.
    Gochat {
        /// Path of `gochat-server`.
        bin: PathBuf,
        /// `tokio` or `smol`; the server's default when `None`.
        runtime: Option<String>,
        /// Extra environment variables.
        env: Vec<(String, String)>,
    },
    /// `gochat-loadgen relay` (this binary, re-executed).
    Relay {
        /// The relay exits by itself after this many seconds.
        max_seconds: u64,
    },
}

impl TargetKind {
    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            TargetKind::Gochat { runtime, .. } => {
                format!("gochat/{}", runtime.as_deref().unwrap_or("tokio"))
            }
            TargetKind::Relay { .. } => "relay/tokio".to_owned(),
        }
    }

    /// Whether this is the gochat server (clients log in) or the relay.
    pub fn is_gochat(&self) -> bool {
        matches!(self, TargetKind::Gochat { .. })
    }
}

/// A running target process; killed when dropped.
pub struct Target {
    child: Child,
    /// Kept open: the relay exits when it closes.
    _stdin: Option<ChildStdin>,
    dir: Option<PathBuf>,
    pid: u32,
    /// The loopback port it listens on.
    pub port: u16,
}

impl Target {
    /// Starts the target and waits until it accepts connections.
    pub async fn spawn(kind: &TargetKind) -> Result<Target> {
        match kind {
            TargetKind::Gochat { bin, runtime, env } => {
                spawn_gochat(bin, runtime.as_deref(), env).await
            }
            TargetKind::Relay { max_seconds } => spawn_relay(*max_seconds).await,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory of the child now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        proc_status_kib(self.pid, "VmRSS:")
    }

    /// Peak resident memory of the child so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        proc_status_kib(self.pid, "VmHWM:")
    }

    /// CPU seconds the child has used so far.
    pub fn cpu_seconds(&self) -> Result<f64> {
        cpu_seconds(Some(self.pid))
    }

    /// Open file descriptors of the child (sockets included).
    pub fn open_fds(&self) -> Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.pid))?.count())
    }

    /// Anonymous resident memory of the child (`RssAnon`: heap and stacks,
    /// not the mapped binary), in KiB.
    pub fn anon_rss_kib(&self) -> Result<u64> {
        proc_status_kib(self.pid, "RssAnon:")
    }

    /// An error if the child has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            Some(status) => Err(err(format!("the target exited early: {status}"))),
            None => Ok(()),
        }
    }

    /// Kills the child and waits for it to be gone.
    pub async fn shutdown(mut self) -> Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // kill_on_drop is set too; this makes the kill immediate.
        let _ = self.child.start_kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Reads one `kB` field of `/proc/<pid>/status`.
pub fn proc_status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .ok_or_else(|| err(format!("no {field} in /proc/{pid}/status")))?;
    let number = line.trim().trim_end_matches("kB").trim();
    Ok(number.parse()?)
}

/// CPU time (user + system) a process has used so far, in seconds; `None`
/// reads this process.
pub fn cpu_seconds(pid: Option<u32>) -> Result<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(&path)?;
    // Fields after the command name, which is in parentheses: state is the
    // 3rd field of the line, utime the 14th, stime the 15th.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| err(format!("unreadable {path}")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| err(format!("short {path}")))?
            .parse()?)
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(total as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

fn temp_dir() -> Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("gochat-loadgen-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn spawn_gochat(
    bin: &Path,
    runtime: Option<&str>,
    env: &[(String, String)],
) -> Result<Target> {
    let bin = std::fs::canonicalize(bin)
        .map_err(|e| err(format!("server binary {}: {e}", bin.display())))?;
    let dir = temp_dir()?;
    let port = free_port()?;
    let mut cmd = Command::new(&bin);
    // A fresh SQLite file in a fresh directory (so no config.json is read).
    cmd.current_dir(&dir)
        .args(["--database-url", "sqlite://gochat.db"])
        .args(["--address", "127.0.0.1", "--port", &port.to_string()])
        .args(["--log-level", "ERROR", "--no-tls"]);
    if let Some(rt) = runtime {
        cmd.args(["--runtime", rt]);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GOCHAT_") {
            cmd.env_remove(key);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        let _ = std::fs::remove_dir_all(&dir);
        err(format!("starting {}: {e}", bin.display()))
    })?;
    let pid = child.id().ok_or_else(|| err("the server exited at once"))?;
    let mut target = Target {
        child,
        _stdin: None,
        dir: Some(dir),
        pid,
        port,
    };
    // Ready once a connection gets its HELLO.
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        target.check_alive()?;
        if let Ok(Ok(())) = timeout(Duration::from_secs(2), probe_hello(port)).await {
            return Ok(target);
        }
        if Instant::now() >= deadline {
            return Err(err("the server did not answer within 30 s"));
        }
        sleep(Duration::from_millis(50)).await;
    }
}

/// Connects, reads the HELLO, closes.
async fn probe_hello(port: u16) -> Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut decoder = Decoder::new(Direction::ToClient);
    loop {
        if let Some(packet) = decoder.decode()? {
            return match ServerCommand::from_packet(&packet)? {
                ServerCommand::Hello { .. } => Ok(()),
                other => Err(err(format!("expected HELLO, got {other:?}"))),
            };
        }
        let mut chunk = BytesMut::with_capacity(1024);
        if stream.read_buf(&mut chunk).await? == 0 {
            return Err(err("closed before HELLO"));
        }
        decoder.feed(&chunk);
    }
}

async fn spawn_relay(max_seconds: u64) -> Result<Target> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(["relay", "--port", "0", "--watch-stdin"])
        .args(["--max-seconds", &max_seconds.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or_else(|| err("the relay exited at once"))?;
    let stdin = child.stdin.take();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| err("no stdout pipe to the relay"))?;
    // The relay prints "listening <port>" once bound (a probe connection
    // would upset its pairing by accept order).
    let mut lines = BufReader::new(stdout).lines();
    let line = timeout(START_TIMEOUT, lines.next_line())
        .await
        .map_err(|_| err("the relay did not start within 30 s"))??
        .ok_or_else(|| err("the relay exited before listening"))?;
    let port = line
        .strip_prefix("listening ")
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| err(format!("unexpected relay output: {line}")))?;
    Ok(Target {
        child,
        _stdin: stdin,
        dir: None,
        pid,
        port,
    })
}
