//! The IO task of one connection: a driver loop over a [`ClientSession`].
//!
//! It reads the socket into the session, writes what the session transmits,
//! sleeps on the session's timer and takes [`Command`]s from the handles (and
//! from the inbox task). Replies go back through each command's one-shot
//! channel; server pushes go, in arrival order, to the inbox task as
//! [`Push`]es. Nothing slow runs here: no message decryption, no database.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::{AsyncWriteExt, StreamExt};
use gochat_proto::crypto::{KeyDecryptor, RsaPrivateKey};
use gochat_proto::session::client::ClientEvent as SessionEvent;
use gochat_proto::{
    Action, ClientCloseReason, ClientCommand, ClientSession, ClientSessionError, HookEvent,
    RequestError, ServerCommand, Username,
};
use gochat_runtime::driver::{Driven, End, drive};
use gochat_runtime::{Runtime, Stream};

use super::text::unix_now;
use crate::types::{ClientError, ClientEvent};

/// Most commands handled per wake-up before the socket gets a turn.
const COMMAND_BUDGET: usize = 64;
/// How long closing the socket may take at the end.
const CLOSE_DEADLINE: Duration = Duration::from_secs(2);

/// Where a request's outcome goes.
pub(crate) type Reply = async_channel::Sender<Result<ServerCommand, ClientError>>;

/// What a handle (or the inbox) asks the IO task to do.
pub(crate) enum Command {
    /// Send a request; the reply (OK, REQ, USRS...) or error goes to `reply`.
    Request {
        /// The request (not a LOGIN or VERIF).
        command: ClientCommand,
        /// Where the outcome goes.
        reply: Reply,
    },
    /// Log in as `account`, with `token` when given, else by challenge; the
    /// token (the decrypted challenge, or the token used) goes to `reply`.
    Login {
        /// The account and its key.
        account: Arc<Account>,
        /// A reusable token to try instead of the challenge.
        token: Option<Bytes>,
        /// Where the outcome goes.
        reply: async_channel::Sender<Result<Bytes, ClientError>>,
    },
    /// Close the connection.
    Close,
}

/// A logged-in (or logging-in) account: what incoming messages are
/// decrypted with and stored under.
pub(crate) struct Account {
    /// The server's store id.
    pub server_id: i64,
    /// The username.
    pub username: Username,
    /// The private key.
    pub key: RsaPrivateKey,
}

/// What the server pushed, in arrival order, for the inbox task.
pub(crate) enum Push {
    /// A RECIV, with the account logged in when it arrived.
    Message {
        /// The account it is for (`None`: it came while nobody was logged in).
        account: Option<Arc<Account>>,
        /// Who sent it.
        sender: Username,
        /// The sender's stamp.
        stamp: i64,
        /// The ciphertext.
        ciphertext: Bytes,
    },
    /// Anything else, emitted as it is.
    Event(ClientEvent),
}

/// What the handles can read without asking the task.
#[derive(Debug, Default)]
pub(crate) struct LinkState {
    /// Whether the connection is open.
    pub connected: bool,
    /// Who is logged in.
    pub user: Option<String>,
    /// The logged-in user's permission level, once known.
    pub permission: Option<u8>,
}

/// Locks the shared state, whatever a panicking holder left behind.
pub(crate) fn lock(state: &Mutex<LinkState>) -> std::sync::MutexGuard<'_, LinkState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the rest of the client hands the IO task.
pub(crate) enum Wake {
    /// A command from a handle or the inbox.
    Command(Command),
    /// Every handle is gone.
    HandlesGone,
}

/// A request awaiting its reply.
struct Waiter {
    action: Action,
    reply: Reply,
}

/// A login awaiting its outcome.
struct PendingLogin {
    id: u16,
    account: Arc<Account>,
    reply: async_channel::Sender<Result<Bytes, ClientError>>,
}

/// The IO task's state.
pub(crate) struct Link<R: Runtime> {
    rt: R,
    session: ClientSession,
    commands: Pin<Box<async_channel::Receiver<Command>>>,
    internal: Option<Pin<Box<async_channel::Receiver<Command>>>>,
    pushes: async_channel::Sender<Push>,
    state: Arc<Mutex<LinkState>>,
    hello: Option<async_channel::Sender<Result<String, ClientError>>>,
    waiters: HashMap<u16, Waiter>,
    login: Option<PendingLogin>,
    current: Option<Arc<Account>>,
    close_reason: Option<String>,
    /// Held until the task ends: a handle waiting on the other end learns
    /// that the task is over.
    _done: async_channel::Sender<()>,
}

/// The channels a [`Link`] is built from.
pub(crate) struct LinkChannels {
    /// Commands from the handles; closed when every handle is gone.
    pub commands: async_channel::Receiver<Command>,
    /// Commands from the inbox task.
    pub internal: async_channel::Receiver<Command>,
    /// Pushes for the inbox task.
    pub pushes: async_channel::Sender<Push>,
    /// Where the HELLO's MOTD (or the failure to get one) goes.
    pub hello: async_channel::Sender<Result<String, ClientError>>,
    /// Dropped when the task ends.
    pub done: async_channel::Sender<()>,
}

impl<R: Runtime> Link<R> {
    /// A link over a fresh session.
    pub(crate) fn new(
        rt: R,
        session: ClientSession,
        channels: LinkChannels,
        state: Arc<Mutex<LinkState>>,
    ) -> Self {
        Link {
            rt,
            session,
            commands: Box::pin(channels.commands),
            internal: Some(Box::pin(channels.internal)),
            pushes: channels.pushes,
            state,
            hello: Some(channels.hello),
            waiters: HashMap::new(),
            login: None,
            current: None,
            close_reason: None,
            _done: channels.done,
        }
    }

    /// Drives the connection until it ends, then reports why.
    pub(crate) async fn run<S: Stream>(mut self, mut stream: S) {
        lock(&self.state).connected = true;
        let rt = self.rt.clone();
        match drive(&rt, &mut self, &mut stream).await {
            End::Done => {}
            End::Eof => self.fail("server closed the connection".to_owned()),
            End::Failed(e) => self.fail(format!("connection problem: {e}")),
        }
        // What closing the session produced (replies to fail, the reason).
        self.act_on_session();
        self.finish(stream).await;
    }

    /// Acts on every event the session has; whether there was any.
    fn act_on_session(&mut self) -> bool {
        let mut acted = false;
        while let Some(event) = self.session.poll_event() {
            acted = true;
            self.on_session_event(event);
        }
        acted
    }

    /// Closes the session locally with `reason` (the first reason wins).
    fn fail(&mut self, reason: String) {
        if self.close_reason.is_none() {
            self.close_reason = Some(reason);
        }
        self.session.close();
    }

    fn on_command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Request { command, reply } => {
                let action = command.action();
                match self.session.request(command, now) {
                    // KEEP gets no reply: it is done once queued.
                    Ok(_) if action == Action::Keep => {
                        let _ = reply.try_send(Ok(ServerCommand::Ok));
                    }
                    Ok(id) => {
                        self.waiters.insert(id, Waiter { action, reply });
                    }
                    Err(e) => {
                        let _ = reply.try_send(Err(session_error(e)));
                    }
                }
            }
            Command::Login {
                account,
                token,
                reply,
            } => {
                let username = account.username.clone();
                let started = match token {
                    Some(token) => self.session.login_with_token(username, token, now),
                    None => {
                        let decryptor = KeyDecryptor::new(account.key.clone(), getrandom::SysRng);
                        self.session.login(username, Box::new(decryptor), now)
                    }
                };
                match started {
                    Ok(id) => {
                        self.login = Some(PendingLogin { id, account, reply });
                    }
                    Err(e) => {
                        let _ = reply.try_send(Err(session_error(e)));
                    }
                }
            }
            Command::Close => self.fail("disconnected".to_owned()),
        }
    }

    fn on_session_event(&mut self, event: SessionEvent) {
        match event {
            SessionEvent::Hello { motd } => {
                if let Some(hello) = self.hello.take() {
                    let _ = hello.try_send(Ok(String::from_utf8_lossy(&motd).into_owned()));
                }
            }
            SessionEvent::Response { id, result } => {
                let Some(waiter) = self.waiters.remove(&id) else {
                    return;
                };
                if matches!(result, Ok(ServerCommand::Ok))
                    && matches!(waiter.action, Action::Logout | Action::Dereg)
                {
                    self.current = None;
                    let mut state = lock(&self.state);
                    state.user = None;
                    state.permission = None;
                }
                let _ = waiter.reply.try_send(result.map_err(request_error));
            }
            SessionEvent::LoggedIn { id, token, .. } => {
                if let Some(login) = self.login.take_if(|l| l.id == id) {
                    {
                        let mut state = lock(&self.state);
                        state.user = Some(login.account.username.as_str().to_owned());
                        state.permission = None;
                    }
                    self.current = Some(login.account);
                    let _ = login.reply.try_send(Ok(token));
                }
            }
            SessionEvent::LoginFailed { id, error, .. } => {
                if let Some(login) = self.login.take_if(|l| l.id == id) {
                    let _ = login.reply.try_send(Err(request_error(error)));
                }
            }
            SessionEvent::Message {
                sender,
                stamp,
                ciphertext,
            } => self.push(Push::Message {
                account: self.current.clone(),
                sender,
                stamp,
                ciphertext,
            }),
            SessionEvent::Hook(hook) => {
                if let HookEvent::PermsChg {
                    username,
                    permission,
                } = &hook
                {
                    let mut state = lock(&self.state);
                    if state.user.as_deref() == Some(username.as_str()) {
                        state.permission = Some(*permission);
                    }
                }
                self.push(Push::Event(ClientEvent::Hook(hook)));
            }
            SessionEvent::Shutdown { stamp } => {
                let seconds_left = stamp.map(|s| s.saturating_sub(unix_now()));
                self.push(Push::Event(ClientEvent::Shutdown {
                    stamp,
                    seconds_left,
                }));
            }
            SessionEvent::Closed { reason } => {
                if self.close_reason.is_none() {
                    self.close_reason = Some(close_reason_text(&reason));
                }
            }
        }
    }

    fn push(&self, push: Push) {
        // The inbox outlives the IO task; a send fails only if it is gone.
        let _ = self.pushes.try_send(push);
    }

    /// Fails what is still waiting, reports the disconnect and closes the socket.
    async fn finish<S: Stream>(mut self, mut stream: S) {
        let reason = self
            .close_reason
            .take()
            .unwrap_or_else(|| "disconnected".to_owned());
        {
            let mut state = lock(&self.state);
            state.connected = false;
            state.user = None;
            state.permission = None;
        }
        if let Some(hello) = self.hello.take() {
            let _ = hello.try_send(Err(ClientError::Io(reason.clone())));
        }
        // Dropping the reply channels tells their callers: not connected.
        self.waiters.clear();
        self.login = None;
        self.commands.close();
        if let Some(internal) = &self.internal {
            internal.close();
        }
        self.push(Push::Event(ClientEvent::Disconnected { reason }));
        self.pushes.close();
        let close = async {
            let _ = stream.close().await;
            Ok(())
        };
        let now = Instant::now();
        let deadline = now.checked_add(CLOSE_DEADLINE).unwrap_or(now);
        let _ = gochat_runtime::with_deadline(&self.rt, deadline, close).await;
    }
}

/// Why a connection closed, in words a user reads.
fn close_reason_text(reason: &ClientCloseReason) -> String {
    match reason {
        ClientCloseReason::ServerError(code) => {
            format!("server closed the connection: {}", code.description())
        }
        ClientCloseReason::Decode(e) => format!("protocol error: {e}"),
        ClientCloseReason::Command(e) => format!("protocol error: {e}"),
        ClientCloseReason::Local => "disconnected".to_owned(),
        ClientCloseReason::LoginTimeout => "the server did not answer the login in time".to_owned(),
    }
}

/// A request that got no useful reply, as the user reads it.
pub(crate) fn request_error(e: RequestError) -> ClientError {
    match e {
        RequestError::Server(code) => ClientError::Server(code),
        RequestError::Timeout => ClientError::Timeout,
        RequestError::Closed => ClientError::NotConnected,
        RequestError::Decrypt(reason) => ClientError::Crypto(reason),
        RequestError::Unexpected => {
            ClientError::Protocol("the server answered with a reply of the wrong kind".to_owned())
        }
    }
}

/// A command the session refused to send, as the user reads it.
fn session_error(e: ClientSessionError) -> ClientError {
    match e {
        ClientSessionError::Closed => ClientError::NotConnected,
        ClientSessionError::TooManyPending => {
            ClientError::Invalid("too many requests are awaiting their reply".to_owned())
        }
        ClientSessionError::Encode(e) => ClientError::Invalid(e.to_string()),
        ClientSessionError::WrongState { state, .. } => match state {
            "logged in" => ClientError::AlreadyLoggedIn,
            "logged out" => ClientError::NotLoggedIn,
            "awaiting verification" => ClientError::Invalid("a login is in progress".to_owned()),
            _ => ClientError::NotConnected,
        },
        ClientSessionError::Handshake(action) => {
            ClientError::Protocol(format!("{action} belongs to the login handshake"))
        }
    }
}

impl<R: Runtime> Driven for Link<R> {
    type Event = Wake;
    type Session = ClientSession;

    fn session(&self) -> &ClientSession {
        &self.session
    }

    fn session_mut(&mut self) -> &mut ClientSession {
        &mut self.session
    }

    async fn transmit<S: Stream>(&mut self, stream: &mut S) -> io::Result<()> {
        let mut wrote = false;
        while let Some(chunk) = self.session.poll_transmit() {
            stream.write_all(&chunk).await?;
            wrote = true;
        }
        if wrote {
            stream.flush().await?;
        }
        Ok(())
    }

    async fn act(&mut self) -> bool {
        self.act_on_session()
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Wake> {
        match self.commands.poll_next(cx) {
            Poll::Ready(Some(cmd)) => return Poll::Ready(Wake::Command(cmd)),
            Poll::Ready(None) => return Poll::Ready(Wake::HandlesGone),
            Poll::Pending => {}
        }
        if let Some(rx) = self.internal.as_mut() {
            match rx.poll_next(cx) {
                Poll::Ready(Some(cmd)) => return Poll::Ready(Wake::Command(cmd)),
                Poll::Ready(None) => self.internal = None,
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    async fn on_event(&mut self, event: Wake) {
        match event {
            Wake::HandlesGone => self.fail("disconnected".to_owned()),
            Wake::Command(cmd) => {
                self.on_command(cmd);
                for _ in 0..COMMAND_BUDGET {
                    match self.commands.try_recv() {
                        Ok(cmd) => self.on_command(cmd),
                        Err(_) => break,
                    }
                }
            }
        }
    }
}
