//! A gochat client over a blocking [`std::net::TcpStream`], with no async
//! runtime: everything a custom transport needs is `gochat-proto`.
//!
//! ```text
//! cargo run -p gochat-proto --example blocking_client -- \
//!     [--addr HOST:PORT] [--user NAME --key PRIVATE.pem] [--timeout SECS]
//! ```
//!
//! Connects to `--addr` (default `127.0.0.1:9037`) and waits for the HELLO.
//! With `--user` and `--key` (a PKCS#1 PEM private key) it logs in, answering
//! the challenge with a [`KeyDecryptor`], asks for the online users, prints
//! them and every other event, logs out and exits. Without them it only
//! prints the greeting. Exits with status 1 on any failure, or when nothing
//! is done after `--timeout` seconds (default 30).
//!
//! The loop is the one the crate docs describe: drain `poll_transmit` and
//! `poll_event`, then sleep in a `read` whose timeout comes from
//! `poll_timeout`, and call `handle_timeout` when it expires.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use getrandom::SysRng;
use gochat_proto::crypto::{self, KeyDecryptor};
use gochat_proto::{
    ClientConfig, ClientEvent, ClientSession, ServerCommand, UserEntry, UserList, Username,
};

const USAGE: &str =
    "usage: blocking_client [--addr HOST:PORT] [--user NAME --key PRIVATE.pem] [--timeout SECS]";

/// Command-line options.
struct Options {
    addr: String,
    login: Option<(Username, PathBuf)>,
    timeout: Duration,
}

/// Parses the arguments after the program name; `Ok(None)` asks for help.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut addr = "127.0.0.1:9037".to_owned();
    let mut user = None;
    let mut key = None;
    let mut timeout = Duration::from_secs(30);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--addr" => addr = value()?,
            "--user" => {
                let name = value()?;
                user = Some(
                    Username::parse(name.as_bytes())
                        .map_err(|e| format!("invalid user name {name:?}: {e}"))?,
                );
            }
            "--key" => key = Some(PathBuf::from(value()?)),
            "--timeout" => {
                let text = value()?;
                let secs: u64 = text
                    .parse()
                    .map_err(|_| format!("--timeout takes whole seconds, not {text:?}"))?;
                timeout = Duration::from_secs(secs);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let login = match (user, key) {
        (Some(user), Some(key)) => Some((user, key)),
        (None, None) => None,
        _ => return Err("--user and --key go together".to_owned()),
    };
    Ok(Some(Options {
        addr,
        login,
        timeout,
    }))
}

/// Where the conversation is; each step waits for one outcome.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Hello,
    Login(u16),
    Users(u16),
    Logout(u16),
    Done,
}

/// The program: a session, its socket, and what to do next.
struct Client {
    session: ClientSession,
    stream: TcpStream,
    login: Option<(Username, crypto::RsaPrivateKey)>,
    step: Step,
}

impl Client {
    /// Reacts to one event; may issue the next command.
    fn on_event(&mut self, event: ClientEvent) -> Result<(), String> {
        let now = Instant::now();
        match event {
            ClientEvent::Hello { motd } => {
                println!("HELLO: {}", String::from_utf8_lossy(&motd));
                if self.step != Step::Hello {
                    return Ok(());
                }
                self.step = match self.login.take() {
                    Some((user, key)) => {
                        println!("logging in as {user}");
                        let decryptor = KeyDecryptor::new(key, SysRng);
                        let id = self
                            .session
                            .login(user, Box::new(decryptor), now)
                            .map_err(|e| format!("cannot log in: {e}"))?;
                        Step::Login(id)
                    }
                    None => Step::Done,
                };
            }
            ClientEvent::LoggedIn { username, .. } => {
                println!("logged in as {username}");
                let id = self
                    .session
                    .users(UserList::Online, now)
                    .map_err(|e| format!("cannot ask for the users: {e}"))?;
                self.step = Step::Users(id);
            }
            ClientEvent::LoginFailed {
                username, error, ..
            } => return Err(format!("login as {username} failed: {error}")),
            ClientEvent::Response { id, result } if self.step == Step::Users(id) => {
                match result {
                    Ok(ServerCommand::Usrs(users)) => print_users(&users),
                    Ok(other) => println!("unexpected answer to USRS: {other:?}"),
                    Err(e) => println!("USRS failed: {e}"),
                }
                let id = self
                    .session
                    .logout(now)
                    .map_err(|e| format!("cannot log out: {e}"))?;
                self.step = Step::Logout(id);
            }
            ClientEvent::Response { id, result } if self.step == Step::Logout(id) => {
                result.map_err(|e| format!("LOGOUT failed: {e}"))?;
                println!("logged out");
                self.step = Step::Done;
            }
            ClientEvent::Closed { reason } => {
                if self.step != Step::Done {
                    return Err(format!("connection closed: {reason}"));
                }
            }
            other => println!("event: {other:?}"),
        }
        Ok(())
    }

    /// Writes what the session queued, then handles its events, until both
    /// are drained (handling an event may queue more bytes).
    fn drain(&mut self) -> Result<(), String> {
        loop {
            while let Some(bytes) = self.session.poll_transmit() {
                self.stream
                    .write_all(&bytes)
                    .map_err(|e| format!("cannot send: {e}"))?;
            }
            match self.session.poll_event() {
                Some(event) => self.on_event(event)?,
                None => return Ok(()),
            }
        }
    }

    /// Runs until the conversation is done or `deadline` passes.
    fn run(&mut self, deadline: Instant) -> Result<(), String> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            self.drain()?;
            if self.step == Step::Done || self.session.is_closed() {
                return Ok(());
            }
            // Sleep until the session's next timer, new input or the deadline.
            let now = Instant::now();
            if now >= deadline {
                let waiting_for = match self.step {
                    Step::Hello => "the server's HELLO",
                    Step::Login(_) => "the login",
                    Step::Users(_) => "the user list",
                    Step::Logout(_) | Step::Done => "the LOGOUT answer",
                };
                return Err(format!("timed out waiting for {waiting_for}"));
            }
            let timer = self.session.poll_timeout().map(|(at, _)| at);
            let wake = timer.map_or(deadline, |at| at.min(deadline));
            let wait = wake.saturating_duration_since(now);
            if wait.is_zero() {
                self.session.handle_timeout(now);
                continue;
            }
            self.stream
                .set_read_timeout(Some(wait))
                .map_err(|e| format!("cannot set the read timeout: {e}"))?;
            match self.stream.read(&mut buf) {
                Ok(0) => self.session.close(),
                Ok(n) => self.session.handle_input(&buf[..n], Instant::now()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.session.handle_timeout(Instant::now());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cannot receive: {e}")),
            }
        }
    }
}

fn print_users(users: &[UserEntry]) {
    println!("{} user(s) online", users.len());
    for user in users {
        match user.permission {
            Some(level) => println!("  {} (permission {level})", user.name),
            None => println!("  {}", user.name),
        }
    }
}

/// A random first request id, as the original client draws one.
fn first_id() -> u16 {
    let mut b = [0u8; 2];
    match getrandom::fill(&mut b) {
        Ok(()) => u16::from_be_bytes(b),
        Err(_) => 1,
    }
}

fn load_key(path: &Path) -> Result<crypto::RsaPrivateKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crypto::private_key_from_pem(&pem)
        .map_err(|e| format!("{} is not a PKCS#1 PEM private key: {e}", path.display()))
}

fn run(options: Options) -> Result<(), String> {
    let login = match options.login {
        Some((user, path)) => Some((user, load_key(&path)?)),
        None => None,
    };
    let deadline = Instant::now() + options.timeout;
    let stream = TcpStream::connect(&options.addr)
        .map_err(|e| format!("cannot connect to {}: {e}", options.addr))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("cannot configure the socket: {e}"))?;
    println!("connected to {}", options.addr);
    let mut client = Client {
        session: ClientSession::new(ClientConfig::default(), first_id(), Instant::now()),
        stream,
        login,
        step: Step::Hello,
    };
    let result = client.run(deadline);
    // Whatever happened, end the session and the connection.
    client.session.close();
    let _ = client.stream.shutdown(std::net::Shutdown::Both);
    result
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("blocking_client: {e}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blocking_client: {e}");
            let _ = io::stderr().flush();
            ExitCode::FAILURE
        }
    }
}
