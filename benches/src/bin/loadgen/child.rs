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
        /// `--database-url` for the server; `None`: a fresh SQLite file in
        /// the temporary directory (deleted with it).
        database_url: Option<String>,
        /// Extra command-line arguments, passed last.
        args: Vec<String>,
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

    /// The database the server is started on, for reports (a password in
    /// a URL is hidden).
    pub fn database(&self) -> String {
        match self {
            TargetKind::Gochat {
                database_url: Some(url),
                ..
            } => hide_password(url),
            TargetKind::Gochat { .. } => "sqlite (fresh temporary file)".to_owned(),
            TargetKind::Relay { .. } => "none".to_owned(),
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
            TargetKind::Gochat {
                bin,
                runtime,
                env,
                database_url,
                args,
            } => spawn_gochat(bin, runtime.as_deref(), env, database_url.as_deref(), args).await,
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

/// `user:password@` in a URL becomes `user:***@`.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

/// Flags that switch off the per-address limits of servers that have them
/// (the load comes from one address). Each is passed when the server's
/// `--help` lists `--max-connections-per-ip` and `extra` does not set it.
const NO_ADDRESS_LIMITS: [(&str, &str); 3] = [
    ("--max-connections-per-ip", "0"),
    ("--registrations-per-minute", "0"),
    ("--logins-per-minute", "0"),
];

/// The flags of [`NO_ADDRESS_LIMITS`] that `bin` takes and `extra` leaves unset.
async fn address_limit_flags(bin: &Path, extra: &[String]) -> Result<Vec<String>> {
    let mut cmd = Command::new(bin);
    cmd.arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    remove_gochat_env(&mut cmd);
    let output = timeout(START_TIMEOUT, cmd.output())
        .await
        .map_err(|_| err(format!("{} --help did not answer", bin.display())))??;
    let help = String::from_utf8_lossy(&output.stdout);
    if !help.contains("--max-connections-per-ip") {
        return Ok(Vec::new());
    }
    let mut flags = Vec::new();
    for (flag, value) in NO_ADDRESS_LIMITS {
        let given = extra
            .iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        if help.contains(flag) && !given {
            flags.push(format!("{flag}={value}"));
        }
    }
    Ok(flags)
}

/// The server reads `GOCHAT_*` variables as flags: the loader's own
/// environment must not change what it measures.
fn remove_gochat_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GOCHAT_") {
            cmd.env_remove(key);
        }
    }
}

async fn spawn_gochat(
    bin: &Path,
    runtime: Option<&str>,
    env: &[(String, String)],
    database_url: Option<&str>,
    extra: &[String],
) -> Result<Target> {
    let bin = std::fs::canonicalize(bin)
        .map_err(|e| err(format!("server binary {}: {e}", bin.display())))?;
    let limits = address_limit_flags(&bin, extra).await?;
    if !limits.is_empty() {
        eprintln!(
            "the server limits each address; started with {}",
            limits.join(" ")
        );
    }
    let dir = temp_dir()?;
    let port = free_port()?;
    let mut cmd = Command::new(&bin);
    // A fresh directory as the working directory (so no config.json is
    // read), holding the SQLite file unless a database is given.
    cmd.current_dir(&dir)
        .args([
            "--database-url",
            database_url.unwrap_or("sqlite://gochat.db"),
        ])
        .args(["--address", "127.0.0.1", "--port", &port.to_string()])
        .args(["--log-level", "ERROR", "--no-tls"]);
    if let Some(rt) = runtime {
        cmd.args(["--runtime", rt]);
    }
    cmd.args(&limits).args(extra);
    remove_gochat_env(&mut cmd);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_reports() {
        assert_eq!(
            hide_password("mysql://root:secret@127.0.0.1:3306/db"),
            "mysql://root:***@127.0.0.1:3306/db"
        );
        assert_eq!(
            hide_password("mysql://root@127.0.0.1:3306/db"),
            "mysql://root@127.0.0.1:3306/db"
        );
        assert_eq!(hide_password("sqlite://a@b.db"), "sqlite://a@b.db");
        assert_eq!(hide_password("sqlite://gochat.db"), "sqlite://gochat.db");
    }
}
