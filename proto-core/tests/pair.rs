//! A `ClientSession` and a `ServerSession` wired together in memory ([`Pair`]),
//! with a fake clock and a fake server application for one connection.
//!
//! The harness moves bytes both ways ([`Pair::step`], [`Pair::drive`]), lets a
//! test alter, drop or hold back any packet in flight ([`Pair::on_wire`]), and
//! moves the clock while waking both sessions at each of their timers on the
//! way ([`Pair::advance`]), as a real driver would. The server side is
//! answered by [`App`], which does for its one connection what the real
//! server does, over a tiny in-memory user table. The client side uses real
//! RSA with the fixture keys; no key is ever generated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod golden;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gochat_proto::crypto::{self, Challenge, KeyDecryptor, RsaPrivateKey, RsaPublicKey};
use gochat_proto::header::HEADER_FRAME_LEN;
use gochat_proto::session::client::{
    ClientConfig, ClientEvent, ClientSession, CloseReason as ClientClose, RequestError,
};
use gochat_proto::session::server::{
    CloseReason as ServerClose, ServerConfig, ServerEvent, ServerSession, ServerTimer,
};
use gochat_proto::{
    Action, AdminCommand, ClientCommand, DecodeError, ErrorCode, Header, Hook, HookEvent,
    ServerCommand, UserEntry, UserList, Username,
};
use golden::{ALICE_PRIV, ALICE_PUB, BOB_PRIV, BOB_PUB};

/// How long a token stays usable after its session logged out.
const TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);

fn user(name: &str) -> Username {
    Username::new(name).unwrap()
}

fn alice_key() -> RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| crypto::private_key_from_pem(ALICE_PRIV.as_bytes()).unwrap())
        .clone()
}

fn bob_key() -> RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| crypto::private_key_from_pem(BOB_PRIV.as_bytes()).unwrap())
        .clone()
}

fn key_of(name: &str) -> RsaPrivateKey {
    match name {
        "alice" => alice_key(),
        "bob" => bob_key(),
        other => panic!("no fixture key for {other}"),
    }
}

fn pem_of(name: &str) -> &'static str {
    match name {
        "alice" => ALICE_PUB,
        "bob" => BOB_PUB,
        other => panic!("no fixture key for {other}"),
    }
}

// ---------------------------------------------------------------------------
// The fake server application
// ---------------------------------------------------------------------------

/// One row of the user table.
struct Account {
    pem: Bytes,
    /// `None` once deregistered (the name stays taken).
    key: Option<RsaPublicKey>,
    permission: u8,
}

/// A message stored for an offline user.
struct Stored {
    serial: u64,
    to: Username,
    from: Username,
    stamp: i64,
    ciphertext: Bytes,
}

/// A reusable login token: the challenge of the last successful verification.
struct Token {
    challenge: Challenge,
    /// When its session logged out; `None` while it is still logged in.
    released: Option<Instant>,
}

/// What the real server does for one connection, over an in-memory table.
struct App {
    users: BTreeMap<Username, Account>,
    /// Who is logged in on the one connection.
    online: Option<Username>,
    tokens: BTreeMap<Username, Token>,
    /// Oldest first.
    mailbox: Vec<Stored>,
    next_serial: u64,
    /// Catch-ups queued for writing: marker token -> serials of the messages.
    catch_ups: BTreeMap<u64, Vec<u64>>,
    next_marker: u64,
    subscriptions: BTreeSet<Hook>,
    motd: Bytes,
    /// When set, requests are left unanswered (kept in `unanswered`).
    silent: bool,
    unanswered: Vec<(u16, ClientCommand)>,
    /// Every event the session emitted, in order.
    log: Vec<ServerEvent>,
    rng: getrandom::SysRng,
}

impl App {
    fn new() -> Self {
        App {
            users: BTreeMap::new(),
            online: None,
            tokens: BTreeMap::new(),
            mailbox: Vec::new(),
            next_serial: 1,
            catch_ups: BTreeMap::new(),
            next_marker: 1,
            subscriptions: BTreeSet::new(),
            motd: Bytes::from_static(b"welcome to the pair"),
            silent: false,
            unanswered: Vec::new(),
            log: Vec::new(),
            rng: getrandom::SysRng,
        }
    }

    fn handle(&mut self, s: &mut ServerSession, event: ServerEvent, now: Instant) {
        self.log.push(event.clone());
        match event {
            ServerEvent::Request { id, command } => {
                if self.silent {
                    self.unanswered.push((id, command));
                } else {
                    self.answer(s, id, command, now);
                }
            }
            ServerEvent::Verified {
                id,
                username,
                challenge,
            } => match self.users.get(&username) {
                Some(Account {
                    key: Some(_),
                    permission,
                    ..
                }) => {
                    s.complete_login(id, username.clone(), *permission).unwrap();
                    self.tokens.insert(
                        username.clone(),
                        Token {
                            challenge,
                            released: None,
                        },
                    );
                    self.online = Some(username);
                }
                Some(_) => s.reject_login(id, ErrorCode::Dereg).unwrap(),
                None => s.reject_login(id, ErrorCode::NotFound).unwrap(),
            },
            ServerEvent::VerificationExpired { .. } => {}
            ServerEvent::Written(marker) => {
                // Delete only what was actually handed to the transport.
                if let Some(serials) = self.catch_ups.remove(&marker) {
                    self.mailbox.retain(|m| !serials.contains(&m.serial));
                }
            }
            ServerEvent::Closed(_) => self.release(now),
        }
    }

    /// Answers every request left unanswered while silent.
    fn answer_late(&mut self, s: &mut ServerSession, now: Instant) {
        for (id, command) in std::mem::take(&mut self.unanswered) {
            self.answer(s, id, command, now);
        }
    }

    /// The logged-in user leaves: its token becomes usable, hooks end.
    fn release(&mut self, now: Instant) {
        if let Some(name) = self.online.take()
            && let Some(token) = self.tokens.get_mut(&name)
            && token.released.is_none()
        {
            token.released = Some(now);
        }
        self.subscriptions.clear();
    }

    fn answer(&mut self, s: &mut ServerSession, id: u16, command: ClientCommand, now: Instant) {
        let reply = match command {
            ClientCommand::Reg { username, pubkey } => self.register(username, pubkey),
            ClientCommand::Login { username } => return self.challenge(s, id, username, now),
            ClientCommand::LoginToken { username, token } => {
                return self.token_login(s, id, username, &token, now);
            }
            ClientCommand::Logout => {
                s.logout(now);
                self.release(now);
                ServerCommand::Ok
            }
            ClientCommand::Dereg => {
                if let Some(name) = self.online.clone()
                    && let Some(account) = self.users.get_mut(&name)
                {
                    account.key = None;
                }
                s.logout(now);
                self.release(now);
                ServerCommand::Ok
            }
            ClientCommand::Req { username } => match self.users.get(&username) {
                None => ServerCommand::Err(ErrorCode::NotFound),
                Some(Account { key: None, .. }) => ServerCommand::Err(ErrorCode::Dereg),
                Some(account) => ServerCommand::Req {
                    username,
                    pubkey: account.pem.clone(),
                    permission: account.permission,
                },
            },
            ClientCommand::Usrs(list) => ServerCommand::Usrs(
                self.users
                    .iter()
                    .filter(|(name, _)| !list.online_only() || self.online.as_ref() == Some(*name))
                    .map(|(name, account)| UserEntry {
                        name: name.clone(),
                        permission: list.with_permissions().then_some(account.permission),
                    })
                    .collect(),
            ),
            ClientCommand::Msg {
                to,
                stamp,
                ciphertext,
            } => self.store_message(to, stamp, ciphertext),
            ClientCommand::Reciv => return self.catch_up(s, id),
            ClientCommand::Sub(hook) => self.subscribe(hook),
            ClientCommand::Unsub(hook) => self.unsubscribe(hook),
            ClientCommand::Admin(admin) => return self.admin(s, id, admin),
            ClientCommand::Keep | ClientCommand::Verif { .. } => {
                panic!("the session handles {command:?} itself")
            }
        };
        s.reply(id, &reply).unwrap();
    }

    fn register(&mut self, username: Username, pubkey: Bytes) -> ServerCommand {
        let Ok(key) = crypto::public_key_from_pem(&pubkey) else {
            return ServerCommand::Err(ErrorCode::Args);
        };
        if self.users.contains_key(&username)
            || self.users.values().any(|a| a.key.as_ref() == Some(&key))
        {
            return ServerCommand::Err(ErrorCode::Exists);
        }
        self.users.insert(
            username,
            Account {
                pem: pubkey,
                key: Some(key),
                permission: 0,
            },
        );
        ServerCommand::Ok
    }

    fn challenge(&mut self, s: &mut ServerSession, id: u16, username: Username, now: Instant) {
        let key = match self.users.get(&username) {
            None => return s.reply_err(id, ErrorCode::NotFound).unwrap(),
            Some(Account { key: None, .. }) => return s.reply_err(id, ErrorCode::Dereg).unwrap(),
            Some(Account { key: Some(key), .. }) => key,
        };
        let challenge = Challenge::generate(&mut self.rng).unwrap();
        let ciphertext =
            crypto::encrypt_without_crlf(key, &mut self.rng, challenge.as_bytes()).unwrap();
        s.begin_verification(id, username, challenge, Bytes::from(ciphertext), now)
            .unwrap();
    }

    fn token_login(
        &mut self,
        s: &mut ServerSession,
        id: u16,
        username: Username,
        token: &[u8],
        now: Instant,
    ) {
        let code = match self.tokens.get(&username) {
            None => ErrorCode::NotFound,
            Some(Token { released: None, .. }) => ErrorCode::Invalid,
            Some(Token {
                released: Some(at), ..
            }) if now > *at + TOKEN_LIFETIME => {
                self.tokens.remove(&username);
                ErrorCode::NotFound
            }
            Some(t) if !t.challenge.matches(token) => ErrorCode::Handshake,
            Some(_) => {
                let permission = self.users.get(&username).map_or(0, |a| a.permission);
                s.complete_login(id, username.clone(), permission).unwrap();
                self.online = Some(username);
                return;
            }
        };
        s.reply_err(id, code).unwrap();
    }

    fn store_message(&mut self, to: Username, stamp: i64, ciphertext: Bytes) -> ServerCommand {
        let Some(from) = self.online.clone() else {
            panic!("MSG reached the application while logged out");
        };
        match self.users.get(&to) {
            _ if to == from => ServerCommand::Err(ErrorCode::Invalid),
            None => ServerCommand::Err(ErrorCode::NotFound),
            Some(Account { key: None, .. }) => ServerCommand::Err(ErrorCode::Dereg),
            // Nobody else is online on this one-connection server: store it.
            Some(_) => {
                self.mailbox.push(Stored {
                    serial: self.next_serial,
                    to,
                    from,
                    stamp,
                    ciphertext,
                });
                self.next_serial += 1;
                ServerCommand::Ok
            }
        }
    }

    fn catch_up(&mut self, s: &mut ServerSession, id: u16) {
        let me = self.online.clone();
        let mine: Vec<&Stored> = self
            .mailbox
            .iter()
            .filter(|m| Some(&m.to) == me.as_ref())
            .collect();
        if mine.is_empty() {
            return s.reply_err(id, ErrorCode::Empty).unwrap();
        }
        s.reply_ok(id).unwrap();
        for m in &mine {
            s.send(&ServerCommand::Reciv {
                sender: m.from.clone(),
                stamp: m.stamp,
                ciphertext: m.ciphertext.clone(),
            })
            .unwrap();
        }
        let marker = self.next_marker;
        self.next_marker += 1;
        self.catch_ups
            .insert(marker, mine.iter().map(|m| m.serial).collect());
        s.push_marker(marker);
    }

    fn subscribe(&mut self, hook: Hook) -> ServerCommand {
        if hook == Hook::All {
            self.subscriptions.extend(Hook::EVENTS);
        } else if !self.subscriptions.insert(hook) {
            return ServerCommand::Err(ErrorCode::Exists);
        }
        ServerCommand::Ok
    }

    fn unsubscribe(&mut self, hook: Hook) -> ServerCommand {
        if hook == Hook::All {
            self.subscriptions.clear();
        } else if !self.subscriptions.remove(&hook) {
            return ServerCommand::Err(ErrorCode::NotFound);
        }
        ServerCommand::Ok
    }

    /// Pushes a hook notification if the connection subscribed to it.
    fn notify(&mut self, s: &mut ServerSession, event: HookEvent) {
        if self.subscriptions.contains(&event.hook()) {
            s.send(&ServerCommand::Hook(event)).unwrap();
        }
    }

    /// ADMIN, after the session checked the operation's level.
    fn admin(&mut self, s: &mut ServerSession, id: u16, admin: AdminCommand) {
        let Some((me, mine)) = s.logged_in().map(|(u, p)| (u.clone(), p)) else {
            panic!("ADMIN reached the application while logged out");
        };
        let reply = match admin {
            AdminCommand::Shutdown { stamp } => {
                s.reply_ok(id).unwrap();
                // Every logged-in user hears of it: here, this one.
                s.send(&ServerCommand::Shutdown { stamp: Some(stamp) })
                    .unwrap();
                return;
            }
            // Nobody else is online to receive it.
            AdminCommand::Broadcast { .. } => ServerCommand::Ok,
            AdminCommand::Motd { text } => {
                self.motd = text;
                ServerCommand::Ok
            }
            AdminCommand::ChangePerms {
                username,
                permission,
            } => match self.users.get_mut(&username) {
                _ if username == me => ServerCommand::Err(ErrorCode::Invalid),
                None => ServerCommand::Err(ErrorCode::NotFound),
                Some(_) if permission > 2 => ServerCommand::Err(ErrorCode::Args),
                Some(target) if target.permission >= mine || permission >= mine => {
                    ServerCommand::Err(ErrorCode::Perms)
                }
                Some(target) if target.permission == permission => {
                    ServerCommand::Err(ErrorCode::Invalid)
                }
                Some(target) => {
                    target.permission = permission;
                    s.reply_ok(id).unwrap();
                    self.notify(
                        s,
                        HookEvent::PermsChg {
                            username,
                            permission,
                        },
                    );
                    return;
                }
            },
            AdminCommand::Kick { username } | AdminCommand::Dereg { username }
                if username == me =>
            {
                ServerCommand::Err(ErrorCode::Invalid)
            }
            AdminCommand::Kick { username } => match self.users.get(&username) {
                None => ServerCommand::Err(ErrorCode::NotFound),
                Some(target) if target.permission >= mine => ServerCommand::Err(ErrorCode::Perms),
                // Only this connection is online.
                Some(_) => ServerCommand::Err(ErrorCode::NotFound),
            },
            AdminCommand::Dereg { username } => match self.users.get_mut(&username) {
                None => ServerCommand::Err(ErrorCode::NotFound),
                Some(target) if target.permission >= mine => ServerCommand::Err(ErrorCode::Perms),
                Some(target) => {
                    target.key = None;
                    ServerCommand::Ok
                }
            },
        };
        s.reply(id, &reply).unwrap();
    }
}

// ---------------------------------------------------------------------------
// The pair
// ---------------------------------------------------------------------------

/// Which way a packet travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    ToServer,
    ToClient,
}

/// What happens to a packet in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// It arrives (possibly altered by the hook).
    Deliver,
    /// It is lost.
    Drop,
    /// It is kept aside until [`Pair::release_held`].
    Hold,
}

/// One packet that went on the wire, as its header read when it left the
/// hook (so an altered header shows altered).
#[derive(Clone, Copy, Debug)]
struct Sent {
    way: Way,
    header: Header,
    fate: Fate,
}

type WireHook = Box<dyn FnMut(Way, &mut Vec<u8>) -> Fate>;

/// A client and a server session joined by an in-memory wire.
struct Pair {
    client: ClientSession,
    server: ServerSession,
    app: App,
    now: Instant,
    /// Client events not yet looked at by the test, oldest first.
    events: VecDeque<ClientEvent>,
    wire: Vec<Sent>,
    hook: Option<WireHook>,
    held: Vec<(Way, Vec<u8>)>,
    /// Whether the transport still carries bytes.
    link_up: bool,
}

/// The header of a packet on the wire.
fn header_of(packet: &[u8]) -> Header {
    let mut word = [0u8; 8];
    let n = packet.len().min(8);
    word[..n].copy_from_slice(&packet[..n]);
    Header::from_bytes(word)
}

/// Cuts a chunk of whole packets (what a session transmits) into packets.
fn split_packets(mut chunk: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !chunk.is_empty() {
        let len = (HEADER_FRAME_LEN + usize::from(header_of(chunk).length)).min(chunk.len());
        out.push(chunk[..len].to_vec());
        chunk = &chunk[len..];
    }
    out
}

impl Pair {
    /// A connected pair: the server admits the client and the HELLO is read.
    fn new() -> Self {
        Self::with_configs(ClientConfig::default(), patient_server())
    }

    fn with_configs(client: ClientConfig, server: ServerConfig) -> Self {
        let now = Instant::now();
        let app = App::new();
        let mut server = ServerSession::new(server);
        server.admit(&app.motd, now).unwrap();
        let mut pair = Pair {
            client: ClientSession::new(client, 1, now),
            server,
            app,
            now,
            events: VecDeque::new(),
            wire: Vec::new(),
            hook: None,
            held: Vec::new(),
            link_up: true,
        };
        pair.drive();
        assert_eq!(
            pair.take_events(),
            vec![ClientEvent::Hello {
                motd: Bytes::from_static(b"welcome to the pair")
            }]
        );
        pair
    }

    // ---- the wire ----

    /// Sets the hook every later packet in flight goes through.
    fn on_wire(&mut self, hook: impl FnMut(Way, &mut Vec<u8>) -> Fate + 'static) {
        self.hook = Some(Box::new(hook));
    }

    fn clear_wire(&mut self) {
        self.hook = None;
    }

    /// Delivers the packets the hook held back, in order, then drives.
    fn release_held(&mut self) {
        for (way, packet) in std::mem::take(&mut self.held) {
            self.deliver(way, &packet);
        }
        self.drive();
    }

    /// Packets that went the given way with the given action (all fates).
    fn sent(&self, way: Way, action: Action) -> Vec<Sent> {
        self.wire
            .iter()
            .filter(|s| s.way == way && s.header.action == action.code())
            .copied()
            .collect()
    }

    fn deliver(&mut self, way: Way, packet: &[u8]) {
        if !self.link_up {
            return;
        }
        match way {
            Way::ToServer => self.server.handle_input(packet, self.now),
            Way::ToClient => self.client.handle_input(packet, self.now),
        }
    }

    /// Puts `chunk` on the wire packet by packet, through the hook.
    fn transmit(&mut self, way: Way, chunk: &[u8]) {
        for mut packet in split_packets(chunk) {
            let fate = match &mut self.hook {
                Some(hook) => hook(way, &mut packet),
                None => Fate::Deliver,
            };
            self.wire.push(Sent {
                way,
                header: header_of(&packet),
                fate,
            });
            match fate {
                Fate::Deliver => self.deliver(way, &packet),
                Fate::Drop => {}
                Fate::Hold => self.held.push((way, packet)),
            }
        }
    }

    // ---- stepping ----

    /// One round: client bytes to the server, the application answers the
    /// server's events, server bytes to the client, client events collected.
    /// Returns whether anything happened.
    fn step(&mut self) -> bool {
        let mut busy = false;
        while let Some(chunk) = self.client.poll_transmit() {
            busy = true;
            self.transmit(Way::ToServer, &chunk);
        }
        // Write before handling events (markers complete on write).
        loop {
            while let Some(chunk) = self.server.poll_transmit() {
                busy = true;
                self.transmit(Way::ToClient, &chunk);
            }
            let Some(event) = self.server.poll_event() else {
                break;
            };
            busy = true;
            self.app.handle(&mut self.server, event, self.now);
        }
        while let Some(event) = self.client.poll_event() {
            busy = true;
            self.events.push_back(event);
        }
        if self.link_up && (self.client.is_closed() || self.server.is_closed()) {
            // The closed side has flushed its last bytes: the transport ends,
            // and the other side sees the end of the stream.
            busy = true;
            self.link_up = false;
            self.client.close();
            self.server.close(None);
        }
        busy
    }

    /// Steps until nothing moves.
    fn drive(&mut self) {
        for _ in 0..1000 {
            if !self.step() {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    /// The earliest timer of either session.
    fn next_timer(&self) -> Option<Instant> {
        let c = self.client.poll_timeout().map(|(at, _)| at);
        let s = self.server.poll_timeout().map(|(at, _)| at);
        c.into_iter().chain(s).min()
    }

    /// Moves the clock by `by`, waking both sessions at every timer on the way.
    fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        let mut wakes = 0;
        while let Some(at) = self.next_timer().filter(|&at| at <= until) {
            wakes += 1;
            assert!(wakes < 10_000, "a timer at {at:?} keeps firing");
            self.now = self.now.max(at);
            self.wake();
        }
        self.now = until;
        self.wake();
    }

    fn wake(&mut self) {
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.drive();
    }

    // ---- the client application ----

    fn take_events(&mut self) -> Vec<ClientEvent> {
        self.events.drain(..).collect()
    }

    /// Removes and returns the response to request `id`.
    fn response(&mut self, id: u16) -> Result<ServerCommand, RequestError> {
        let at = self
            .events
            .iter()
            .position(|e| matches!(e, ClientEvent::Response { id: i, .. } if *i == id))
            .unwrap_or_else(|| panic!("no response to {id} in {:?}", self.events));
        match self.events.remove(at) {
            Some(ClientEvent::Response { result, .. }) => result,
            _ => unreachable!(),
        }
    }

    /// Issues a request, drives, and returns its response.
    fn ask(&mut self, cmd: ClientCommand) -> Result<ServerCommand, RequestError> {
        let id = self.client.request(cmd, self.now).unwrap();
        self.drive();
        self.response(id)
    }

    fn register(&mut self, name: &str) -> Result<ServerCommand, RequestError> {
        let pem = Bytes::from_static(pem_of(name).as_bytes());
        let id = self.client.register(user(name), pem, self.now).unwrap();
        self.drive();
        self.response(id)
    }

    /// Starts a challenge login for `name` with `key`'s decryptor; drives.
    fn start_login(&mut self, name: &str, key: RsaPrivateKey) -> u16 {
        let decryptor = KeyDecryptor::new(key, getrandom::SysRng);
        let id = self
            .client
            .login(user(name), Box::new(decryptor), self.now)
            .unwrap();
        self.drive();
        id
    }

    /// A successful challenge login with the user's fixture key; the token.
    fn login(&mut self, name: &str) -> Bytes {
        let id = self.start_login(name, key_of(name));
        match self.take_events()[..] {
            [
                ClientEvent::LoggedIn {
                    id: got,
                    ref username,
                    ref token,
                },
            ] if got == id && *username == user(name) => token.clone(),
            ref other => panic!("login of {name}: {other:?}"),
        }
    }

    fn logout(&mut self) {
        let id = self.client.logout(self.now).unwrap();
        self.drive();
        assert_eq!(self.response(id), Ok(ServerCommand::Ok));
        assert_eq!(self.client.state().name(), "logged out");
        assert_eq!(self.server.logged_in(), None);
    }

    /// The application pushes a hook notification (as if another connection
    /// caused it); drives.
    fn notify(&mut self, event: HookEvent) {
        self.app.notify(&mut self.server, event);
        self.drive();
    }

    fn set_permission(&mut self, name: &str, permission: u8) {
        self.app.users.get_mut(&user(name)).unwrap().permission = permission;
    }
}

// ---------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------

#[test]
fn register_stores_the_key_and_refuses_a_taken_name() {
    let mut p = Pair::new();
    assert_eq!(p.register("alice"), Ok(ServerCommand::Ok));
    let row = &p.app.users[&user("alice")];
    assert_eq!(row.pem, ALICE_PUB.as_bytes());
    assert_eq!(row.key, Some(alice_key().to_public_key()));

    // The name is taken, whatever the key.
    let id = p
        .client
        .register(user("alice"), Bytes::from_static(BOB_PUB.as_bytes()), p.now)
        .unwrap();
    p.drive();
    assert_eq!(p.response(id), Err(RequestError::Server(ErrorCode::Exists)));
    // So is the key, under another name.
    let id = p
        .client
        .register(
            user("carol"),
            Bytes::from_static(ALICE_PUB.as_bytes()),
            p.now,
        )
        .unwrap();
    p.drive();
    assert_eq!(p.response(id), Err(RequestError::Server(ErrorCode::Exists)));
    // Not a key at all.
    let id = p
        .client
        .register(user("carol"), Bytes::from_static(b"not a pem"), p.now)
        .unwrap();
    p.drive();
    assert_eq!(p.response(id), Err(RequestError::Server(ErrorCode::Args)));

    assert_eq!(p.register("bob"), Ok(ServerCommand::Ok));
    assert_eq!(p.app.users.len(), 2);
    assert!(p.take_events().is_empty());
    assert_eq!(p.client.pending_requests(), 0);
}

#[test]
fn challenge_login_with_the_fixture_key() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    let id = p.start_login("alice", alice_key());
    let token = match &p.take_events()[..] {
        [
            ClientEvent::LoggedIn {
                id: got,
                username,
                token,
            },
        ] => {
            assert_eq!((*got, username), (id, &user("alice")));
            token.clone()
        }
        other => panic!("{other:?}"),
    };
    // The client answered with the challenge the server drew.
    let stored = &p.app.tokens[&user("alice")];
    assert!(stored.challenge.matches(&token));
    assert_eq!(token.len(), crypto::CHALLENGE_LEN);

    assert_eq!(p.client.username(), Some(&user("alice")));
    assert_eq!(
        p.server.logged_in().map(|(u, perm)| (u.clone(), perm)),
        Some((user("alice"), 0))
    );
    // LOGIN -> VERIF <ciphertext> (same id) -> VERIF <user> <answer> -> OK.
    let login = p.sent(Way::ToServer, Action::Login);
    let challenge = p.sent(Way::ToClient, Action::Verif);
    let answer = p.sent(Way::ToServer, Action::Verif);
    assert_eq!(
        (login.len(), challenge.len(), answer.len()),
        (1, 1, 1),
        "{:?}",
        p.wire
    );
    assert_eq!(login[0].header.id, id);
    assert_eq!(challenge[0].header.id, id);
    assert_eq!(
        usize::from(challenge[0].header.length),
        crypto::CIPHERTEXT_LEN + 2
    );
    let verif_id = answer[0].header.id;
    assert_ne!(verif_id, id);
    let ok = p.sent(Way::ToClient, Action::Ok);
    assert_eq!(ok.last().map(|s| s.header.id), Some(verif_id));
    assert_eq!(p.client.pending_requests(), 0);
}

#[test]
fn login_with_the_wrong_key_fails_to_decrypt_and_unknown_users_are_not_found() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    let id = p.start_login("alice", bob_key());
    match &p.take_events()[..] {
        [
            ClientEvent::LoginFailed {
                id: got,
                username,
                error: RequestError::Decrypt(_),
            },
        ] => assert_eq!((*got, username), (id, &user("alice"))),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.client.state().name(), "logged out");
    // The server still waits for an answer, until its deadline.
    assert_eq!(p.server.pending_verification(), Some(&user("alice")));

    // A login for nobody.
    let id = p.start_login("bob", bob_key());
    match &p.take_events()[..] {
        [ClientEvent::LoginFailed { id: got, error, .. }] => {
            assert_eq!(*got, id);
            assert_eq!(*error, RequestError::Server(ErrorCode::NotFound));
        }
        other => panic!("{other:?}"),
    }
    // The right key still works.
    p.login("alice");
}

#[test]
fn token_login_after_logout() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    let token = p.login("alice");
    // A token login is refused by the client while logged in.
    assert!(
        p.client
            .login_with_token(user("alice"), token.clone(), p.now)
            .is_err()
    );
    p.logout();
    let row = &p.app.tokens[&user("alice")];
    assert!(row.challenge.matches(&token));
    assert_eq!(row.released, Some(p.now));

    // A wrong token: ERR HANDSHAKE.
    let mut wrong = token.to_vec();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let id = p
        .client
        .login_with_token(user("alice"), Bytes::from(wrong), p.now)
        .unwrap();
    p.drive();
    match &p.take_events()[..] {
        [ClientEvent::LoginFailed { id: got, error, .. }] => {
            assert_eq!(*got, id);
            assert_eq!(*error, RequestError::Server(ErrorCode::Handshake));
        }
        other => panic!("{other:?}"),
    }

    // The challenge text of the last verification logs in, with no RSA.
    p.advance(Duration::from_secs(60));
    let id = p
        .client
        .login_with_token(user("alice"), token.clone(), p.now)
        .unwrap();
    p.drive();
    assert_eq!(
        p.take_events(),
        vec![ClientEvent::LoggedIn {
            id,
            username: user("alice"),
            token: token.clone(),
        }]
    );
    assert_eq!(
        p.server.logged_in().map(|(u, _)| u.clone()),
        Some(user("alice"))
    );
    // No VERIF went out for it.
    assert_eq!(p.sent(Way::ToClient, Action::Verif).len(), 1);

    // Usable any number of times, but for 30 minutes from the first logout.
    p.logout();
    p.advance(Duration::from_secs(30 * 60));
    let id = p
        .client
        .login_with_token(user("alice"), token, p.now)
        .unwrap();
    p.drive();
    match &p.take_events()[..] {
        [ClientEvent::LoginFailed { id: got, error, .. }] => {
            assert_eq!(*got, id);
            assert_eq!(*error, RequestError::Server(ErrorCode::NotFound));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn message_to_an_offline_user_is_stored_then_caught_up_in_order() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.register("bob").unwrap();
    p.login("alice");

    let bob_public = bob_key().to_public_key();
    let mut rng = getrandom::SysRng;
    let texts: [&[u8]; 3] = [b"first", b"second", b"third"];
    let base = 1_764_000_000;
    for (i, text) in texts.iter().enumerate() {
        let ciphertext = crypto::encrypt(&bob_public, &mut rng, text).unwrap();
        let id = p
            .client
            .send_message(user("bob"), base + i as i64, Bytes::from(ciphertext), p.now)
            .unwrap();
        p.drive();
        assert_eq!(p.response(id), Ok(ServerCommand::Ok));
    }
    assert_eq!(p.app.mailbox.len(), 3);
    // To yourself: INVALID; to nobody: NOTFOUND.
    for (to, code) in [
        ("alice", ErrorCode::Invalid),
        ("nobody", ErrorCode::NotFound),
    ] {
        let id = p
            .client
            .send_message(user(to), base, Bytes::from_static(b"x"), p.now)
            .unwrap();
        p.drive();
        assert_eq!(p.response(id), Err(RequestError::Server(code)));
    }
    // Alice has nothing waiting.
    assert_eq!(
        p.ask(ClientCommand::Reciv),
        Err(RequestError::Server(ErrorCode::Empty))
    );
    p.logout();

    p.login("bob");
    let id = p.client.catch_up(p.now).unwrap();
    p.drive();
    let events = p.take_events();
    assert_eq!(events.len(), 4, "{events:?}");
    // The OK comes first, then the messages, oldest first.
    assert_eq!(
        events[0],
        ClientEvent::Response {
            id,
            result: Ok(ServerCommand::Ok)
        }
    );
    for (i, event) in events[1..].iter().enumerate() {
        let ClientEvent::Message {
            sender,
            stamp,
            ciphertext,
        } = event
        else {
            panic!("{event:?}");
        };
        assert_eq!(sender, &user("alice"));
        assert_eq!(*stamp, base + i as i64);
        assert_eq!(ciphertext.len(), crypto::CIPHERTEXT_LEN);
        let plain = crypto::decrypt(&bob_key(), &mut rng, ciphertext).unwrap();
        assert_eq!(plain, texts[i]);
    }
    // The pushes carry the null id.
    assert!(
        p.sent(Way::ToClient, Action::Reciv)
            .iter()
            .all(|s| s.header.id == 0)
    );
    // Deleted once written: a second catch-up finds nothing.
    assert!(p.app.mailbox.is_empty());
    assert!(p.app.catch_ups.is_empty());
    assert_eq!(
        p.ask(ClientCommand::Reciv),
        Err(RequestError::Server(ErrorCode::Empty))
    );
}

#[test]
fn hooks_are_pushed_and_received() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.login("alice");
    let bob_in = HookEvent::NewLogin {
        username: user("bob"),
        permission: 0,
    };
    let bob_out = HookEvent::NewLogout {
        username: user("bob"),
    };

    // Nothing before subscribing.
    p.notify(bob_in.clone());
    assert!(p.take_events().is_empty());

    assert_eq!(
        p.ask(ClientCommand::Sub(Hook::NewLogin)),
        Ok(ServerCommand::Ok)
    );
    assert_eq!(
        p.ask(ClientCommand::Sub(Hook::NewLogin)),
        Err(RequestError::Server(ErrorCode::Exists))
    );
    p.notify(bob_in.clone());
    p.notify(bob_out.clone());
    assert_eq!(p.take_events(), vec![ClientEvent::Hook(bob_in.clone())]);

    // ALL adds the rest, silently skipping NEWLOGIN.
    assert_eq!(p.ask(ClientCommand::Sub(Hook::All)), Ok(ServerCommand::Ok));
    let dup = HookEvent::DupSess {
        ip: "192.0.2.7".into(),
    };
    p.notify(bob_out.clone());
    p.notify(dup.clone());
    assert_eq!(
        p.take_events(),
        vec![ClientEvent::Hook(bob_out), ClientEvent::Hook(dup)]
    );
    assert!(
        p.sent(Way::ToClient, Action::Hook)
            .iter()
            .all(|s| s.header.id == 0)
    );

    assert_eq!(
        p.ask(ClientCommand::Unsub(Hook::NewLogin)),
        Ok(ServerCommand::Ok)
    );
    assert_eq!(
        p.ask(ClientCommand::Unsub(Hook::NewLogin)),
        Err(RequestError::Server(ErrorCode::NotFound))
    );
    p.notify(bob_in.clone());
    assert!(p.take_events().is_empty());

    // Subscriptions end with the logout.
    p.logout();
    p.login("alice");
    p.notify(HookEvent::PermsChg {
        username: user("bob"),
        permission: 1,
    });
    assert!(p.take_events().is_empty());
}

#[test]
fn admin_requests_are_answered_per_permission() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.register("bob").unwrap();

    // A plain user is refused by the session before the application sees it.
    p.login("bob");
    let requests_before = p.app.log.len();
    assert_eq!(
        p.ask(ClientCommand::Admin(AdminCommand::Broadcast {
            text: Bytes::from_static(b"hi")
        })),
        Err(RequestError::Server(ErrorCode::Perms))
    );
    assert_eq!(p.app.log.len(), requests_before);
    p.logout();

    // An ADMIN may broadcast but not change the MOTD (OWNER only).
    p.set_permission("alice", 1);
    p.login("alice");
    assert_eq!(
        p.server.logged_in().map(|(_, perm)| perm),
        Some(1),
        "the login carries the stored level"
    );
    assert_eq!(
        p.ask(ClientCommand::Admin(AdminCommand::Broadcast {
            text: Bytes::from_static(b"hi")
        })),
        Ok(ServerCommand::Ok)
    );
    assert_eq!(
        p.ask(ClientCommand::Admin(AdminCommand::Motd {
            text: Bytes::from_static(b"new")
        })),
        Err(RequestError::Server(ErrorCode::Perms))
    );
    // KICK of an offline user.
    assert_eq!(
        p.ask(ClientCommand::Admin(AdminCommand::Kick {
            username: user("bob")
        })),
        Err(RequestError::Server(ErrorCode::NotFound))
    );
    p.logout();

    // An OWNER changes levels (PERMSCHG fires) and the MOTD, and shuts down.
    p.set_permission("alice", 2);
    p.set_permission("bob", 0);
    p.login("alice");
    assert_eq!(
        p.ask(ClientCommand::Sub(Hook::PermsChg)),
        Ok(ServerCommand::Ok)
    );
    let id = p
        .client
        .admin(
            AdminCommand::ChangePerms {
                username: user("bob"),
                permission: 1,
            },
            p.now,
        )
        .unwrap();
    p.drive();
    assert_eq!(
        p.take_events(),
        vec![
            ClientEvent::Response {
                id,
                result: Ok(ServerCommand::Ok)
            },
            ClientEvent::Hook(HookEvent::PermsChg {
                username: user("bob"),
                permission: 1
            })
        ]
    );
    assert_eq!(
        p.ask(ClientCommand::Req {
            username: user("bob")
        }),
        Ok(ServerCommand::Req {
            username: user("bob"),
            pubkey: Bytes::from_static(BOB_PUB.as_bytes()),
            permission: 1
        })
    );
    for (cmd, code) in [
        (
            AdminCommand::ChangePerms {
                username: user("alice"),
                permission: 0,
            },
            ErrorCode::Invalid,
        ),
        (
            AdminCommand::ChangePerms {
                username: user("bob"),
                permission: 2,
            },
            ErrorCode::Perms,
        ),
        (
            AdminCommand::ChangePerms {
                username: user("nobody"),
                permission: 1,
            },
            ErrorCode::NotFound,
        ),
    ] {
        assert_eq!(
            p.ask(ClientCommand::Admin(cmd)),
            Err(RequestError::Server(code))
        );
    }
    assert_eq!(
        p.ask(ClientCommand::Admin(AdminCommand::Motd {
            text: Bytes::from_static(b"new")
        })),
        Ok(ServerCommand::Ok)
    );
    assert_eq!(p.app.motd, Bytes::from_static(b"new"));
    let id = p
        .client
        .admin(
            AdminCommand::Shutdown {
                stamp: 1_764_003_600,
            },
            p.now,
        )
        .unwrap();
    p.drive();
    assert_eq!(
        p.take_events(),
        vec![
            ClientEvent::Response {
                id,
                result: Ok(ServerCommand::Ok)
            },
            ClientEvent::Shutdown {
                stamp: Some(1_764_003_600)
            }
        ]
    );
}

#[test]
fn user_lists_follow_the_kind() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.register("bob").unwrap();
    p.set_permission("bob", 1);
    p.login("alice");
    let entry = |name: &str, permission| UserEntry {
        name: user(name),
        permission,
    };
    assert_eq!(
        p.ask(ClientCommand::Usrs(UserList::All)),
        Ok(ServerCommand::Usrs(vec![
            entry("alice", None),
            entry("bob", None)
        ]))
    );
    assert_eq!(
        p.ask(ClientCommand::Usrs(UserList::OnlinePerms)),
        Ok(ServerCommand::Usrs(vec![entry("alice", Some(0))]))
    );
    assert_eq!(
        p.ask(ClientCommand::Usrs(UserList::AllPerms)),
        Ok(ServerCommand::Usrs(vec![
            entry("alice", Some(0)),
            entry("bob", Some(1))
        ]))
    );
}

#[test]
fn client_keepalive_keeps_the_idle_deadline_away_for_an_hour() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.login("alice");
    let start = p.now;
    p.advance(Duration::from_secs(60 * 60));
    assert!(!p.server.is_closed() && !p.client.is_closed());
    assert!(p.link_up);
    assert!(p.take_events().is_empty());
    // One KEEP every 10 minutes: 6 in the hour, each refreshing the deadline.
    let keeps = p.sent(Way::ToServer, Action::Keep);
    assert_eq!(keeps.len(), 6, "{:?}", p.wire);
    assert!(keeps.iter().all(|k| k.fate == Fate::Deliver));
    let (idle_at, why) = p.server.poll_timeout().unwrap();
    assert_eq!(why, ServerTimer::Idle);
    assert_eq!(idle_at, start + Duration::from_secs((60 + 25) * 60));
    // KEEP gets no reply and reaches the application as nothing.
    assert_eq!(p.sent(Way::ToClient, Action::Err).len(), 0);
    assert!(!p.app.log.iter().any(|e| matches!(
        e,
        ServerEvent::Request {
            command: ClientCommand::Keep,
            ..
        }
    )));
    // Still logged in and answering.
    assert_eq!(
        p.ask(ClientCommand::Usrs(UserList::Online)),
        Ok(ServerCommand::Usrs(vec![UserEntry {
            name: user("alice"),
            permission: None
        }]))
    );
}

#[test]
fn idle_timeout_closes_both() {
    let quiet = ClientConfig {
        keepalive: None,
        ..ClientConfig::default()
    };
    let mut p = Pair::with_configs(quiet, patient_server());
    p.register("alice").unwrap();
    p.advance(Duration::from_secs(25 * 60 - 1));
    assert!(!p.server.is_closed());
    assert!(p.take_events().is_empty());

    p.advance(Duration::from_secs(1));
    assert!(p.server.is_closed() && p.client.is_closed());
    assert!(!p.link_up);
    // The server said why, with the null id, before closing.
    let errs = p.sent(Way::ToClient, Action::Err);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].header.id, 0);
    assert_eq!(errs[0].header.info, ErrorCode::Idle.code());
    assert_eq!(
        p.take_events(),
        vec![ClientEvent::Closed {
            reason: ClientClose::ServerError(ErrorCode::Idle)
        }]
    );
    assert_eq!(
        p.app.log.last(),
        Some(&ServerEvent::Closed(ServerClose::Idle))
    );
    assert_eq!(p.client.poll_timeout(), None);
    assert_eq!(p.server.poll_timeout(), None);
}

#[test]
fn verification_expires_when_the_answer_is_lost() {
    // A client more patient than the server's verification timeout, so that
    // the server's deadline is the one that fires.
    let patient = ClientConfig {
        request_timeout: Duration::from_secs(300),
        ..ClientConfig::default()
    };
    let mut p = Pair::with_configs(patient, ServerConfig::default());
    p.register("alice").unwrap();
    // The client's VERIF never arrives: held back on the wire.
    p.on_wire(|way, packet| {
        if way == Way::ToServer && header_of(packet).action == Action::Verif.code() {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    });
    let login_id = p.start_login("alice", alice_key());
    assert!(p.take_events().is_empty());
    assert_eq!(p.held.len(), 1);
    let verif_id = header_of(&p.held[0].1).id;
    assert_eq!(p.server.pending_verification(), Some(&user("alice")));
    assert_eq!(
        p.server.poll_timeout().map(|(_, why)| why),
        Some(ServerTimer::Verification)
    );

    // The server gives up after its verification timeout (2 min).
    p.advance(Duration::from_secs(120));
    assert_eq!(
        p.app.log.last(),
        Some(&ServerEvent::VerificationExpired {
            username: user("alice")
        })
    );
    assert_eq!(p.server.pending_verification(), None);
    assert_eq!(p.server.state_name(), "logged out");
    assert!(p.take_events().is_empty(), "the client still waits");

    // The late answer: ERR INVALID with its id, which fails the login.
    p.clear_wire();
    p.release_held();
    let errs = p.sent(Way::ToClient, Action::Err);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].header.id, verif_id);
    assert_eq!(errs[0].header.info, ErrorCode::Invalid.code());
    assert_eq!(
        p.take_events(),
        vec![ClientEvent::LoginFailed {
            id: login_id,
            username: user("alice"),
            error: RequestError::Server(ErrorCode::Invalid),
        }]
    );
    assert!(!p.client.is_closed() && !p.server.is_closed());

    // A fresh login goes through.
    p.login("alice");
}

/// Sends one REG whose header `alter` changes in flight; both ends must close
/// after the server's null-id ERR `code`.
fn malformed_header_closes_both(alter: fn(&mut Vec<u8>), code: ErrorCode, why: DecodeError) {
    let mut p = Pair::new();
    let mut armed = true;
    p.on_wire(move |way, packet| {
        if way == Way::ToServer && armed {
            armed = false;
            alter(packet);
        }
        Fate::Deliver
    });
    let id = p
        .client
        .register(
            user("alice"),
            Bytes::from_static(ALICE_PUB.as_bytes()),
            p.now,
        )
        .unwrap();
    p.drive();
    assert!(p.app.users.is_empty());
    let errs = p.sent(Way::ToClient, Action::Err);
    assert_eq!(errs.len(), 1, "{:?}", p.wire);
    assert_eq!((errs[0].header.id, errs[0].header.info), (0, code.code()));
    assert_eq!(
        p.app.log,
        vec![ServerEvent::Closed(ServerClose::Malformed(why))]
    );
    // The client reads the ERR, fails the REG and closes.
    assert_eq!(
        p.take_events(),
        vec![
            ClientEvent::Response {
                id,
                result: Err(RequestError::Closed)
            },
            ClientEvent::Closed {
                reason: ClientClose::ServerError(code)
            }
        ]
    );
    assert!(p.server.is_closed() && p.client.is_closed() && !p.link_up);
    // Nothing more goes anywhere.
    assert!(p.client.request(ClientCommand::Keep, p.now).is_err());
    assert_eq!(p.client.poll_transmit(), None);
}

#[test]
fn malformed_version_in_flight_closes_both() {
    malformed_header_closes_both(
        |p| p[0] = 0x20 | (p[0] & 0x0F),
        ErrorCode::Version,
        DecodeError::Header(ErrorCode::Version),
    );
}

#[test]
fn malformed_action_in_flight_closes_both() {
    // Action 0x00: bits 59..52 are the low nibble of byte 0 and high of byte 1.
    malformed_header_closes_both(
        |p| {
            p[0] &= 0xF0;
            p[1] &= 0x0F;
        },
        ErrorCode::Header,
        DecodeError::Header(ErrorCode::Header),
    );
}

#[test]
fn malformed_header_crlf_in_flight_closes_both() {
    malformed_header_closes_both(
        |p| p[8] = b'x',
        ErrorCode::Header,
        DecodeError::MissingHeaderCrlf,
    );
}

#[test]
fn malformed_arg_count_in_flight_closes_both() {
    // REG claims 3 arguments; its payload holds 2 (the PEM ends the payload,
    // so the last "argument" swallows it and one is missing).
    malformed_header_closes_both(
        |p| p[2] = (p[2] & 0xF0) | 0x03,
        ErrorCode::Args,
        DecodeError::MissingArgs {
            expected: 3,
            found: 2,
        },
    );
}

#[test]
fn request_times_out_when_the_server_never_answers() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.login("alice");
    p.app.silent = true;
    let id = p.client.users(UserList::All, p.now).unwrap();
    p.drive();
    assert_eq!(p.app.unanswered.len(), 1);
    assert_eq!(
        p.client.poll_timeout().map(|(_, why)| why),
        Some(gochat_proto::ClientTimer::Request { id })
    );
    p.advance(ClientConfig::DEFAULT_REQUEST_TIMEOUT - Duration::from_secs(1));
    assert!(p.take_events().is_empty());
    p.advance(Duration::from_secs(1));
    assert_eq!(
        p.take_events(),
        vec![ClientEvent::Response {
            id,
            result: Err(RequestError::Timeout)
        }]
    );
    assert_eq!(p.client.pending_requests(), 0);

    // The late reply is ignored, and the session goes on.
    p.app.silent = false;
    p.app.answer_late(&mut p.server, p.now);
    p.drive();
    assert!(p.take_events().is_empty());
    assert_eq!(p.client.ignored_replies(), 1);
    assert!(matches!(
        p.ask(ClientCommand::Usrs(UserList::All)),
        Ok(ServerCommand::Usrs(_))
    ));
}

#[test]
fn request_times_out_when_the_reply_is_lost_in_flight() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.login("alice");
    p.on_wire(|way, packet| {
        if way == Way::ToClient && header_of(packet).action == Action::Ok.code() {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    let id = p.client.subscribe(Hook::NewLogin, p.now).unwrap();
    p.drive();
    assert!(p.app.subscriptions.contains(&Hook::NewLogin));
    assert!(p.take_events().is_empty());
    p.advance(ClientConfig::DEFAULT_REQUEST_TIMEOUT);
    assert_eq!(
        p.take_events(),
        vec![ClientEvent::Response {
            id,
            result: Err(RequestError::Timeout)
        }]
    );
    let lost = p.sent(Way::ToClient, Action::Ok);
    assert_eq!(
        lost.last().map(|s| (s.header.id, s.fate)),
        Some((id, Fate::Drop))
    );
    // The subscription took effect on the server all the same.
    p.clear_wire();
    assert_eq!(
        p.ask(ClientCommand::Sub(Hook::NewLogin)),
        Err(RequestError::Server(ErrorCode::Exists))
    );
}

#[test]
fn deregistered_accounts_cannot_log_in() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.login("alice");
    let id = p.client.deregister(p.now).unwrap();
    p.drive();
    assert_eq!(p.response(id), Ok(ServerCommand::Ok));
    assert_eq!(p.client.state().name(), "logged out");
    assert_eq!(p.server.logged_in(), None);
    assert_eq!(p.app.users[&user("alice")].key, None);
    let id = p.start_login("alice", alice_key());
    match &p.take_events()[..] {
        [ClientEvent::LoginFailed { id: got, error, .. }] => {
            assert_eq!(*got, id);
            assert_eq!(*error, RequestError::Server(ErrorCode::Dereg));
        }
        other => panic!("{other:?}"),
    }
    // The name stays taken.
    assert_eq!(
        p.register("alice"),
        Err(RequestError::Server(ErrorCode::Exists))
    );
}

/// The OK to a VERIF is held on the wire until the client's request timeout
/// has passed: the server logs the connection in, the client reports
/// `LoginFailed { Timeout }` and then ignores the late OK. From there the
/// two disagree for good: the server answers every LOGIN/REG with ERR
/// INVALID ("already logged in") while the client, `LoggedOut`, refuses
/// LOGOUT and everything else (`SessionError::WrongState`), so nothing short
/// of closing the connection brings them back together.
#[test]
fn late_login_ok_after_the_client_timed_out_leaves_both_ends_agreeing() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.on_wire(|way, packet| {
        let h = header_of(packet);
        if way == Way::ToClient && h.action == Action::Ok.code() {
            Fate::Hold
        } else {
            Fate::Deliver
        }
    });
    let login_id = p.start_login("alice", alice_key());
    assert!(p.server.logged_in().is_some());
    p.advance(ClientConfig::DEFAULT_REQUEST_TIMEOUT);
    let events = p.take_events();
    assert_eq!(
        events.first(),
        Some(&ClientEvent::LoginFailed {
            id: login_id,
            username: user("alice"),
            error: RequestError::Timeout,
        })
    );
    // The client gives the connection up rather than guess.
    assert!(p.client.is_closed());
    p.clear_wire();
    p.release_held();
    p.take_events();
    // Either the client learns that it is logged in after all, or it gives
    // the connection up; it must not stay logged out on a logged-in session.
    let client_logged_in = p.client.username().is_some();
    let server_logged_in = p.server.logged_in().is_some();
    assert!(
        p.client.is_closed() || client_logged_in == server_logged_in,
        "client {} / server {}",
        p.client.state(),
        p.server.state_name()
    );
}

/// The default server configuration without the login deadline: these tests
/// stay logged out for longer than it (it has its own tests in
/// server_session.rs).
fn patient_server() -> ServerConfig {
    ServerConfig {
        login_timeout: Duration::from_secs(u64::MAX),
        ..ServerConfig::default()
    }
}
