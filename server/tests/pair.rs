//! A `ClientSession` and a `ServerSession` wired together in memory ([`Pair`]),
//! with a fake clock, the server side answered by the server's own core and
//! a real store.
//!
//! The harness moves bytes both ways ([`Pair::step`], [`Pair::drive`]), lets a
//! test alter, drop or hold back any packet in flight ([`Pair::on_wire`]), and
//! moves the clock while waking both sessions at each of their timers on the
//! way ([`Pair::advance`]), as a real driver would. The server session's
//! events go to [`Server`]: every check and decision comes from the core
//! (`gochat_server::core`: the hub, the peers and their mailboxes, the
//! router, `rules`) and every account, message and setting from a `Store` on
//! an in-memory SQLite database, with the storage calls around the rules
//! made in the order of the connection task (`server/src/conn/`, which owns
//! a socket and a runtime and so cannot be paired in memory). The client
//! side uses real RSA with the fixture keys; no key is ever generated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
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
use gochat_runtime::Runtime;
use gochat_runtime_tokio::TokioRuntime;
use gochat_server::core::{ConnId, Hub, Outbound, Peer, Relay, Route, Router, UserRow, rules};
use gochat_server::store::{CreateUserError, MOTD_SETTING, Store, StoredMessage};
use gochat_testkit::{private_key, public_pem, public_pem_text, tokio_rt, unix_now, user};

/// How long a token stays usable after its session logged out.
const TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// The paired connection's address.
const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// The address of the other users' connections.
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
/// Bytes of messages a connection may have queued.
const QUEUE: usize = 1 << 20;
/// The pair counts as TLS: tokens are issued and BROADCAST is allowed.
const SECURE: bool = true;
/// Most stored messages one catch-up sends.
const PAGE: u32 = 1000;

fn alice_key() -> RsaPrivateKey {
    private_key("alice")
}

fn bob_key() -> RsaPrivateKey {
    private_key("bob")
}

fn public_key(name: &str) -> RsaPublicKey {
    private_key(name).to_public_key()
}

// ---------------------------------------------------------------------------
// The server side: the core and a store
// ---------------------------------------------------------------------------

/// What a request gets: a reply, or an error code.
type Answer = Result<ServerCommand, ErrorCode>;

/// Another user's session on the same hub (its connection is not paired):
/// the peer, and what the rest of the server queued for its connection.
struct Other {
    peer: Arc<Peer>,
    mailbox: async_channel::Receiver<Outbound>,
}

/// Everything queued in `mailbox` so far.
fn queued(mailbox: &async_channel::Receiver<Outbound>) -> Vec<Outbound> {
    std::iter::from_fn(|| mailbox.try_recv().ok()).collect()
}

/// A logged-in user's peer on connection `conn`, whose mailbox `tx` feeds.
fn peer(
    conn: ConnId,
    ip: IpAddr,
    row: &UserRow,
    key: RsaPublicKey,
    level: u8,
    tx: &Tx,
) -> Arc<Peer> {
    let name = user(&row.username);
    Arc::new(Peer::new(
        conn,
        name,
        row.id,
        ip,
        key,
        level,
        tx.clone(),
        QUEUE,
    ))
}

/// A connection's mailbox, as the rest of the server writes to it.
type Tx = async_channel::Sender<Outbound>;

/// The server side of the one paired connection: a hub with its peers, a
/// store, and the connection's own mailbox.
struct Server {
    rt: TokioRuntime,
    hub: Arc<Hub>,
    store: Store,
    conn: ConnId,
    tx: Tx,
    mailbox: async_channel::Receiver<Outbound>,
    /// The logged-in user, as the hub knows it.
    me: Option<Arc<Peer>>,
    /// When set, requests are left unanswered (kept in `unanswered`).
    silent: bool,
    unanswered: Vec<(u16, ClientCommand)>,
    /// Every event the session emitted, in order.
    log: Vec<ServerEvent>,
}

impl Server {
    fn new() -> Self {
        let rt = tokio_rt();
        let store = rt.block_on(Store::open("sqlite::memory:")).unwrap();
        let hub = Arc::new(Hub::new(
            Bytes::from_static(b"welcome to the pair"),
            TOKEN_LIFETIME,
        ));
        let (tx, mailbox) = async_channel::unbounded();
        let conn = hub.next_conn_id();
        hub.register_conn(conn, tx.clone());
        Server {
            rt,
            hub,
            store,
            conn,
            tx,
            mailbox,
            me: None,
            silent: false,
            unanswered: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Runs a storage call to its end.
    fn wait<T>(&self, call: impl Future<Output = T>) -> T {
        self.rt.block_on(call)
    }

    /// The stored account of `name`.
    fn row(&self, name: &str) -> Option<UserRow> {
        self.wait(self.store.user(name)).unwrap()
    }

    /// The messages stored for `name`, oldest first.
    fn stored_for(&self, name: &str) -> Vec<StoredMessage> {
        let id = self.row(name).unwrap().id;
        self.wait(self.store.pending_messages(id, 0, PAGE)).unwrap()
    }

    /// Sets a stored account's level, as the admin shell does.
    fn set_level(&self, name: &str, level: u8) {
        assert!(self.wait(self.store.set_permission(name, level)).unwrap());
    }

    /// Logs `name` in on a connection of its own (not paired): the peer goes
    /// online and NEWLOGIN subscribers hear of it.
    fn other_login(&self, name: &str) -> Other {
        let row = self.row(name).unwrap();
        let (key, level) = rules::live_key(&row, ErrorCode::Login).unwrap();
        let (tx, mailbox) = async_channel::unbounded();
        let peer = peer(self.hub.next_conn_id(), ELSEWHERE, &row, key, level, &tx);
        rules::go_online(&self.hub, peer.clone()).unwrap();
        rules::announce_login(&self.hub, &peer);
        Other { peer, mailbox }
    }

    /// That other connection logs out: NEWLOGOUT subscribers hear of it.
    fn other_logout(&self, other: &Other) {
        assert!(self.hub.go_offline(&other.peer.username, other.peer.conn));
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
            } => self.finish_login(s, id, username, challenge),
            ServerEvent::VerificationExpired { .. } => {}
            // A stored message was handed to the transport: delete it.
            ServerEvent::Written(message) => {
                if let Some(me) = &self.me {
                    let written = [i64::try_from(message).unwrap()];
                    self.wait(self.store.delete_messages(me.user_id, &written))
                        .unwrap();
                }
            }
            ServerEvent::Closed(_) => self.end_login(s, now),
        }
    }

    /// Applies what the rest of the server queued for this connection, as
    /// the connection task does; whether there was anything.
    fn take_mailbox(&mut self, s: &mut ServerSession) -> bool {
        let mut any = false;
        while let Ok(out) = self.mailbox.try_recv() {
            any = true;
            match out {
                Outbound::Packet(packet) if self.me.is_some() => {
                    s.send_packet(&packet).unwrap();
                }
                Outbound::Hook(packet) => {
                    if let Some(me) = &self.me {
                        me.dequeued(packet.wire_len());
                        s.send_packet(&packet).unwrap();
                    }
                }
                Outbound::Message(relay) => {
                    if let Some(me) = &self.me {
                        me.dequeued(relay.queued_size());
                    }
                    let reciv = ServerCommand::Reciv {
                        sender: relay.sender,
                        stamp: relay.stamp,
                        ciphertext: relay.ciphertext,
                    };
                    s.send(&reciv).unwrap();
                }
                Outbound::SetPermission(level) => s.set_permission(level),
                Outbound::Kick | Outbound::Shutdown => s.close(None),
                _ => {}
            }
        }
        any
    }

    /// Answers every request left unanswered while silent.
    fn answer_late(&mut self, s: &mut ServerSession, now: Instant) {
        for (id, command) in std::mem::take(&mut self.unanswered) {
            self.answer(s, id, command, now);
        }
    }

    /// The logged-in user leaves: offline (NEWLOGOUT), its token usable.
    fn end_login(&mut self, s: &mut ServerSession, now: Instant) {
        if let Some(me) = self.me.take() {
            self.hub.go_offline(&me.username, self.conn);
            self.hub.release_token(&me.username, self.conn, now);
        }
        s.logout(now);
    }

    fn answer(&mut self, s: &mut ServerSession, id: u16, command: ClientCommand, now: Instant) {
        let answer = match command {
            ClientCommand::Reg { username, pubkey } => self.register(&username, &pubkey),
            ClientCommand::Login { username } => match self.challenge(s, id, username, now) {
                Ok(()) => return,
                Err(code) => Err(code),
            },
            ClientCommand::LoginToken { username, token } => {
                match self.token_login(s, id, username, &token, now) {
                    Ok(()) => return,
                    Err(code) => Err(code),
                }
            }
            ClientCommand::Logout => {
                self.end_login(s, now);
                Ok(ServerCommand::Ok)
            }
            ClientCommand::Dereg => self.deregister(s, now),
            ClientCommand::Req { username } => self.request_key(username),
            ClientCommand::Usrs(list) => self.user_list(list),
            ClientCommand::Msg {
                to,
                stamp,
                ciphertext,
            } => self.message(&to, stamp, ciphertext),
            ClientCommand::Reciv => match self.catch_up(s, id) {
                Ok(()) => return,
                Err(code) => Err(code),
            },
            ClientCommand::Sub(hook) => {
                rules::subscription(self.me.as_ref(), hook, true).map(|()| ServerCommand::Ok)
            }
            ClientCommand::Unsub(hook) => {
                rules::subscription(self.me.as_ref(), hook, false).map(|()| ServerCommand::Ok)
            }
            ClientCommand::Admin(admin) => self.admin(admin, now),
            ClientCommand::Keep | ClientCommand::Verif { .. } => {
                panic!("the session handles {command:?} itself")
            }
        };
        match answer {
            Ok(reply) => s.reply(id, &reply).unwrap(),
            Err(code) => s.reply_err(id, code).unwrap(),
        }
    }

    fn register(&self, username: &Username, pem: &[u8]) -> Answer {
        let (canonical, fingerprint) = rules::registration_key(pem)?;
        match self.wait(
            self.store
                .create_user(username.as_str(), &canonical, &fingerprint),
        ) {
            Ok(_) => Ok(ServerCommand::Ok),
            Err(CreateUserError::Exists) => Err(ErrorCode::Exists),
            Err(CreateUserError::Deregistered) => Err(ErrorCode::Dereg),
            Err(CreateUserError::Store(e)) => panic!("registration failed: {e}"),
        }
    }

    /// LOGIN and token LOGIN: DUPSESS, then the account.
    fn resolve_login(&self, username: &Username) -> Result<(UserRow, RsaPublicKey, u8), ErrorCode> {
        rules::check_no_session(&self.hub, username, IP)?;
        let row = self.row(username.as_str()).ok_or(ErrorCode::NotFound)?;
        let (key, level) = rules::live_key(&row, ErrorCode::Login)?;
        Ok((row, key, level))
    }

    fn challenge(
        &self,
        s: &mut ServerSession,
        id: u16,
        username: Username,
        now: Instant,
    ) -> Result<(), ErrorCode> {
        let (_, key, _) = self.resolve_login(&username)?;
        let mut rng = getrandom::SysRng;
        let challenge = Challenge::generate(&mut rng).unwrap();
        let cipher = crypto::encrypt_without_crlf(&key, &mut rng, challenge.as_bytes()).unwrap();
        s.begin_verification(id, username, challenge, Bytes::from(cipher), now)
            .map_err(|_| ErrorCode::Invalid)
    }

    fn token_login(
        &mut self,
        s: &mut ServerSession,
        id: u16,
        username: Username,
        token: &[u8],
        now: Instant,
    ) -> Result<(), ErrorCode> {
        let (row, key, level) = self.resolve_login(&username)?;
        rules::check_token_login(&self.hub, &username, token, SECURE, now)?;
        self.go_online(s, id, &row, key, level)
    }

    /// The VERIF answered the challenge: the account is read again, the
    /// session goes online and the challenge becomes the user's token.
    fn finish_login(
        &mut self,
        s: &mut ServerSession,
        id: u16,
        username: Username,
        challenge: Challenge,
    ) {
        let online = self
            .row(username.as_str())
            .ok_or(ErrorCode::NotFound)
            .and_then(|row| {
                let (key, level) = rules::live_key(&row, ErrorCode::Login)?;
                self.go_online(s, id, &row, key, level)
            });
        match online {
            Ok(()) => self.hub.store_token(&username, challenge, self.conn),
            Err(code) => s.reject_login(id, code).unwrap(),
        }
    }

    fn go_online(
        &mut self,
        s: &mut ServerSession,
        id: u16,
        row: &UserRow,
        key: RsaPublicKey,
        level: u8,
    ) -> Result<(), ErrorCode> {
        let peer = peer(self.conn, IP, row, key, level, &self.tx);
        rules::go_online(&self.hub, peer.clone())?;
        s.complete_login(id, peer.username.clone(), level).unwrap();
        rules::announce_login(&self.hub, &peer);
        self.me = Some(peer);
        Ok(())
    }

    fn deregister(&mut self, s: &mut ServerSession, now: Instant) -> Answer {
        let name = self.me.as_ref().ok_or(ErrorCode::NoSess)?.username.clone();
        assert!(self.wait(self.store.deregister(name.as_str())).unwrap());
        self.end_login(s, now);
        Ok(ServerCommand::Ok)
    }

    fn request_key(&self, username: Username) -> Answer {
        let row = self.row(username.as_str()).ok_or(ErrorCode::NotFound)?;
        let (pubkey, permission) = rules::published_key(&row)?;
        Ok(ServerCommand::Req {
            username,
            pubkey,
            permission,
        })
    }

    fn user_list(&self, list: UserList) -> Answer {
        let entries = if list.online_only() {
            rules::online_list(&self.hub, Vec::new(), list.with_permissions())?
        } else {
            let rows = self.wait(self.store.users()).unwrap();
            rules::account_list(rows, list.with_permissions())?
        };
        Ok(ServerCommand::Usrs(entries))
    }

    /// MSG: checked, then routed by the hub; stored when nobody takes it.
    fn message(&self, to: &Username, stamp: i64, ciphertext: Bytes) -> Answer {
        let me = rules::check_message(self.me.as_ref(), to)?;
        let relay = |recipient_id| Relay {
            sender: me.username.clone(),
            sender_id: me.user_id,
            recipient_id,
            stamp,
            ciphertext: ciphertext.clone(),
        };
        let relay = match Router::route(&*self.hub, to, &relay) {
            Route::Queued => return Ok(ServerCommand::Ok),
            Route::Store { relay, peer, guard } => {
                let stored = self.store_relay(&relay);
                peer.note_spilled(stored);
                drop(guard);
                return Ok(ServerCommand::Ok);
            }
            Route::Offline => {
                let row = self.row(to.as_str());
                relay(rules::storable_account(row.as_ref())?)
            }
            Route::Remote { node } => panic!("no cluster here, yet routed to {node}"),
        };
        self.store_relay(&relay);
        Ok(ServerCommand::Ok)
    }

    /// Stores a relayed message for its recipient's catch-up; its id.
    fn store_relay(&self, relay: &Relay) -> i64 {
        let stored = self.store.store_message(
            relay.sender_id,
            relay.recipient_id,
            relay.stamp,
            &relay.ciphertext,
        );
        self.wait(stored).unwrap()
    }

    /// RECIV: OK then the stored messages, each marked with its id (deleted
    /// once written), or ERR EMPTY.
    fn catch_up(&self, s: &mut ServerSession, id: u16) -> Result<(), ErrorCode> {
        let me = self.me.as_ref().ok_or(ErrorCode::NoSess)?;
        let page = self
            .wait(self.store.pending_messages(me.user_id, 0, PAGE))
            .unwrap();
        if page.is_empty() {
            return Err(ErrorCode::Empty);
        }
        s.reply_ok(id).unwrap();
        for m in page {
            s.send(&ServerCommand::Reciv {
                sender: Username::parse(m.sender.as_bytes()).unwrap(),
                stamp: m.stamp,
                ciphertext: Bytes::from(m.ciphertext),
            })
            .unwrap();
            s.push_marker(u64::try_from(m.id).unwrap());
        }
        Ok(())
    }

    /// ADMIN, after the session checked the operation's level.
    fn admin(&self, command: AdminCommand, now: Instant) -> Answer {
        let me = self.me.clone().ok_or(ErrorCode::NoSess)?;
        let my_level = me.permission();
        match command {
            AdminCommand::Shutdown { stamp } => {
                rules::schedule_shutdown(&self.hub, stamp, unix_now(), now)?;
            }
            AdminCommand::Dereg { username } => {
                let row = self.row(username.as_str()).ok_or(ErrorCode::NotFound)?;
                rules::check_dereg(&row, my_level)?;
                self.wait(self.store.deregister(username.as_str())).unwrap();
                rules::after_dereg(&self.hub, &username);
            }
            AdminCommand::Broadcast { text } => {
                let (plain, targets) = rules::broadcast(&self.hub, &me, &text, SECURE)?;
                for peer in targets {
                    let mut rng = getrandom::SysRng;
                    let cipher = crypto::encrypt_without_crlf(&peer.pubkey, &mut rng, &plain);
                    let relay = Relay {
                        sender: me.username.clone(),
                        sender_id: me.user_id,
                        recipient_id: peer.user_id,
                        stamp: unix_now(),
                        ciphertext: Bytes::from(cipher.unwrap()),
                    };
                    let relay_for = |_| relay.clone();
                    if !matches!(
                        Router::route(&*self.hub, &peer.username, &relay_for),
                        Route::Queued
                    ) {
                        self.store_relay(&relay);
                    }
                }
            }
            AdminCommand::ChangePerms {
                username,
                permission,
            } => {
                rules::check_change_target(&me, &username)?;
                let row = self.row(username.as_str()).ok_or(ErrorCode::NotFound)?;
                rules::check_change_permission(&row, permission, my_level)?;
                let set = self.store.set_permission(username.as_str(), permission);
                assert!(self.wait(set).unwrap());
                rules::after_change_permission(&self.hub, &username, permission);
            }
            AdminCommand::Kick { username } => rules::kick(&self.hub, &username, my_level)?,
            AdminCommand::Motd { text } => {
                let value = String::from_utf8_lossy(&text).into_owned();
                self.wait(self.store.set_setting(MOTD_SETTING, &value))
                    .unwrap();
                self.hub.set_motd(text);
            }
        }
        Ok(ServerCommand::Ok)
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
    app: Server,
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
        let app = Server::new();
        let mut server = ServerSession::new(server);
        server.admit(&app.hub.motd(), now).unwrap();
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

    /// One round: client bytes to the server, the server side answers the
    /// session's events and applies its mailbox, server bytes to the client,
    /// client events collected.
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
            if let Some(event) = self.server.poll_event() {
                busy = true;
                self.app.handle(&mut self.server, event, self.now);
            } else if self.app.take_mailbox(&mut self.server) {
                busy = true;
            } else {
                break;
            }
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
        self.register_with(name, public_pem(name))
    }

    /// Registers `name` with the key in `pem`; drives; the response.
    fn register_with(&mut self, name: &str, pem: Bytes) -> Result<ServerCommand, RequestError> {
        let id = self.client.register(user(name), pem, self.now).unwrap();
        self.drive();
        self.response(id)
    }

    /// Asks `command` twice: OK, then ERR `again`.
    fn ask_twice(&mut self, command: ClientCommand, again: ErrorCode) {
        assert_eq!(self.ask(command.clone()), Ok(ServerCommand::Ok));
        assert_eq!(self.ask(command), Err(RequestError::Server(again)));
    }

    /// Sends a MSG to `to`; drives; the response.
    fn message(
        &mut self,
        to: &str,
        stamp: i64,
        ciphertext: Bytes,
    ) -> Result<ServerCommand, RequestError> {
        let id = self
            .client
            .send_message(user(to), stamp, ciphertext, self.now)
            .unwrap();
        self.drive();
        self.response(id)
    }

    /// Starts a token login for `name`; drives.
    fn start_token_login(&mut self, name: &str, token: Bytes) -> u16 {
        let id = self
            .client
            .login_with_token(user(name), token, self.now)
            .unwrap();
        self.drive();
        id
    }

    /// Why the login `id` failed: it must be the only client event.
    fn login_error(&mut self, id: u16) -> RequestError {
        match &self.take_events()[..] {
            [ClientEvent::LoginFailed { id: got, error, .. }] if *got == id => error.clone(),
            other => panic!("login {id}: {other:?}"),
        }
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
        let id = self.start_login(name, private_key(name));
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
}

// ---------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------

#[test]
fn register_stores_the_key_and_refuses_a_taken_name() {
    let mut p = Pair::new();
    assert_eq!(p.register("alice"), Ok(ServerCommand::Ok));
    let row = p.app.row("alice").unwrap();
    assert_eq!((row.username.as_str(), row.permission), ("alice", 0));
    let stored = crypto::public_key_from_pem(row.pubkey.unwrap().as_bytes()).unwrap();
    assert_eq!(stored, public_key("alice"));

    // The name is taken, whatever the key.
    assert_eq!(
        p.register_with("alice", public_pem("bob")),
        Err(RequestError::Server(ErrorCode::Exists))
    );
    // So is the key, under another name.
    assert_eq!(
        p.register_with("carol", public_pem("alice")),
        Err(RequestError::Server(ErrorCode::Exists))
    );
    // Not a key at all.
    assert_eq!(
        p.register_with("carol", Bytes::from_static(b"not a pem")),
        Err(RequestError::Server(ErrorCode::Args))
    );

    assert_eq!(p.register("bob"), Ok(ServerCommand::Ok));
    assert_eq!(p.app.wait(p.app.store.users()).unwrap().len(), 2);
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
    // The client answered with the challenge the server drew, which is now
    // the token of a session still active.
    let drawn = p.app.log.iter().find_map(|e| match e {
        ServerEvent::Verified { challenge, .. } => Some(challenge.clone()),
        _ => None,
    });
    assert!(drawn.unwrap().matches(&token));
    assert_eq!(
        p.app.hub.check_token(&user("alice"), &token, p.now),
        Err(ErrorCode::Invalid)
    );
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
    assert_eq!(p.login_error(id), RequestError::Server(ErrorCode::NotFound));
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
    assert_eq!(
        p.app.hub.check_token(&user("alice"), &token, p.now),
        Err(ErrorCode::Invalid),
        "not usable while its session lasts"
    );
    p.logout();
    assert_eq!(p.app.hub.check_token(&user("alice"), &token, p.now), Ok(()));

    // A wrong token: ERR HANDSHAKE.
    let mut wrong = token.to_vec();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    let id = p.start_token_login("alice", Bytes::from(wrong));
    assert_eq!(
        p.login_error(id),
        RequestError::Server(ErrorCode::Handshake)
    );

    // The challenge text of the last verification logs in, with no RSA.
    p.advance(Duration::from_secs(60));
    let id = p.start_token_login("alice", token.clone());
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
    let id = p.start_token_login("alice", token);
    assert_eq!(p.login_error(id), RequestError::Server(ErrorCode::NotFound));
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
        let stamp = base + i as i64;
        let sent = p.message("bob", stamp, Bytes::from(ciphertext));
        assert_eq!(sent, Ok(ServerCommand::Ok));
    }
    assert_eq!(p.app.stored_for("bob").len(), 3);
    // To yourself: INVALID; to nobody: NOTFOUND.
    for (to, code) in [
        ("alice", ErrorCode::Invalid),
        ("nobody", ErrorCode::NotFound),
    ] {
        let sent = p.message(to, base, Bytes::from_static(b"x"));
        assert_eq!(sent, Err(RequestError::Server(code)));
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
    assert!(p.app.stored_for("bob").is_empty());
    assert_eq!(
        p.ask(ClientCommand::Reciv),
        Err(RequestError::Server(ErrorCode::Empty))
    );
}

#[test]
fn hooks_are_pushed_and_received() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.register("bob").unwrap();
    p.login("alice");
    let bob_in = HookEvent::NewLogin {
        username: user("bob"),
        permission: 0,
    };
    let bob_out = HookEvent::NewLogout {
        username: user("bob"),
    };

    // Nothing before subscribing: bob logs in and out on another connection.
    let bob = p.app.other_login("bob");
    p.app.other_logout(&bob);
    p.drive();
    assert!(p.take_events().is_empty());

    p.ask_twice(ClientCommand::Sub(Hook::NewLogin), ErrorCode::Exists);
    let bob = p.app.other_login("bob");
    p.app.other_logout(&bob);
    p.drive();
    assert_eq!(p.take_events(), vec![ClientEvent::Hook(bob_in.clone())]);

    // ALL adds the rest, silently skipping NEWLOGIN.
    assert_eq!(p.ask(ClientCommand::Sub(Hook::All)), Ok(ServerCommand::Ok));
    let bob = p.app.other_login("bob");
    p.app.other_logout(&bob);
    // A second login of alice, from elsewhere: DUPSESS, and the hook here.
    assert_eq!(
        rules::check_no_session(&p.app.hub, &user("alice"), ELSEWHERE),
        Err(ErrorCode::DupSess)
    );
    p.drive();
    let dup = HookEvent::DupSess {
        ip: ELSEWHERE.to_string(),
    };
    assert_eq!(
        p.take_events(),
        vec![
            ClientEvent::Hook(bob_in.clone()),
            ClientEvent::Hook(bob_out.clone()),
            ClientEvent::Hook(dup)
        ]
    );
    assert!(
        p.sent(Way::ToClient, Action::Hook)
            .iter()
            .all(|s| s.header.id == 0)
    );

    p.ask_twice(ClientCommand::Unsub(Hook::NewLogin), ErrorCode::NotFound);
    let bob = p.app.other_login("bob");
    p.drive();
    assert!(p.take_events().is_empty());
    p.app.other_logout(&bob);
    p.drive();
    assert_eq!(p.take_events(), vec![ClientEvent::Hook(bob_out)]);

    // Subscriptions end with the logout.
    p.logout();
    p.login("alice");
    let bob = p.app.other_login("bob");
    rules::after_change_permission(&p.app.hub, &user("bob"), 1);
    p.drive();
    assert!(p.take_events().is_empty());
    assert_eq!(bob.peer.permission(), 1);
}

#[test]
fn admin_requests_are_answered_per_permission() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.register("bob").unwrap();

    // A plain user is refused by the session before the server side sees it.
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
    p.app.set_level("alice", 1);
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
    p.app.set_level("alice", 2);
    p.login("alice");
    assert_eq!(
        p.ask(ClientCommand::Sub(Hook::PermsChg)),
        Ok(ServerCommand::Ok)
    );
    // PERMSCHG is told when the target is online: bob is, elsewhere.
    let bob = p.app.other_login("bob");
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
    // Stored, and bob's session took the level.
    assert_eq!(p.app.row("bob").unwrap().permission, 1);
    assert_eq!(bob.peer.permission(), 1);
    assert!(matches!(
        queued(&bob.mailbox)[..],
        [Outbound::SetPermission(1)]
    ));
    let pem = crypto::public_key_to_pem(&public_key("bob")).unwrap();
    assert_eq!(pem, public_pem_text("bob"));
    assert_eq!(
        p.ask(ClientCommand::Req {
            username: user("bob")
        }),
        Ok(ServerCommand::Req {
            username: user("bob"),
            pubkey: Bytes::from(pem),
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
    assert_eq!(p.app.hub.motd(), Bytes::from_static(b"new"));
    let saved = p.app.wait(p.app.store.setting(MOTD_SETTING)).unwrap();
    assert_eq!(saved.as_deref(), Some("new"));
    // A stop in the past is refused.
    assert_eq!(
        p.ask(ClientCommand::Admin(AdminCommand::Shutdown {
            stamp: unix_now() - 60
        })),
        Err(RequestError::Server(ErrorCode::Args))
    );
    let stamp = unix_now() + 3600;
    let id = p
        .client
        .admin(AdminCommand::Shutdown { stamp }, p.now)
        .unwrap();
    p.drive();
    assert_eq!(
        p.take_events(),
        vec![
            ClientEvent::Response {
                id,
                result: Ok(ServerCommand::Ok)
            },
            ClientEvent::Shutdown { stamp: Some(stamp) }
        ]
    );
    // Every logged-in user hears of it: bob too.
    assert!(matches!(queued(&bob.mailbox)[..], [Outbound::Packet(_)]));
}

#[test]
fn user_lists_follow_the_kind() {
    let mut p = Pair::new();
    p.register("alice").unwrap();
    p.register("bob").unwrap();
    p.app.set_level("bob", 1);
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
    // KEEP gets no reply and reaches the server side as nothing.
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
        .register(user("alice"), public_pem("alice"), p.now)
        .unwrap();
    p.drive();
    assert!(p.app.wait(p.app.store.users()).unwrap().is_empty());
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
    assert!(p.app.me.as_ref().unwrap().subscribed(Hook::NewLogin));
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
    assert_eq!(p.app.row("alice").unwrap().pubkey, None);
    let id = p.start_login("alice", alice_key());
    assert_eq!(p.login_error(id), RequestError::Server(ErrorCode::Dereg));
    // The name stays taken: a registration of it is told it was
    // deregistered.
    assert_eq!(
        p.register("alice"),
        Err(RequestError::Server(ErrorCode::Dereg))
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
