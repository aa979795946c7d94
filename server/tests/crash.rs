//! `kill -9` of the server binary loses no acknowledged message.
//!
//! The server runs as a child process (the real binary, on a port picked for
//! it) over SQLite (a temp file) and MariaDB (a fresh database), and is killed
//! with SIGKILL, then restarted on the same database:
//!
//! - while alice pipelines MSGs to an offline bob: every MSG answered OK must
//!   reach bob after the restart, exactly once;
//! - while bob is in the middle of a catch-up of thousands of stored
//!   messages: what bob got before the kill and after the restart together
//!   must hold every stored message, duplicates only of those written but
//!   not yet deleted at the kill.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gochat_proto::crypto;
use gochat_proto::{ClientCommand, Decoder, Direction, ErrorCode, Packet, ServerCommand};
use gochat_testkit::{
    Db, NO_ADDRESS_LIMITS, STAMP0, ServerProc, private_key, public_pem, read_tagged,
    tagged_ciphertext, user,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The server binary these tests run as a process.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_gochat-server");

/// Deadline of one reply or one expected push.
const WAIT: Duration = Duration::from_secs(10);
/// A catch-up is over when nothing arrives for this long (and a new RECIV
/// then finds nothing stored).
const QUIET: Duration = Duration::from_secs(1);
/// MSGs alice keeps in flight.
const WINDOW: usize = 32;

// ----- a protocol client that sees closes -----

/// A client over a tokio socket: no session logic, and unlike the test kit's
/// `RawClient` it reports the end of the connection instead of failing, since
/// here the server dies under it.
struct Conn {
    stream: tokio::net::TcpStream,
    decoder: Decoder,
    next_id: u16,
    /// Packets read but not taken yet, in arrival order.
    pending: VecDeque<Packet>,
    /// The server closed (or reset) the connection.
    closed: bool,
    /// Read buffer (on the heap: futures holding it are moved around).
    buf: Vec<u8>,
}

impl Conn {
    /// Connects and reads HELLO. `recv_buffer` sets a small receive buffer,
    /// so that a client that stops reading stops the server's writes soon.
    async fn connect(addr: SocketAddr, recv_buffer: Option<u32>) -> Conn {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        let stream = socket.connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut c = Conn {
            stream,
            decoder: Decoder::new(Direction::ToClient),
            next_id: 1,
            pending: VecDeque::new(),
            closed: false,
            buf: vec![0; 64 * 1024],
        };
        match c.push(WAIT).await {
            Some(ServerCommand::Hello { .. }) => c,
            other => panic!("expected HELLO, got {other:?}"),
        }
    }

    /// Reads once more; false at the end of the stream or at `deadline`.
    async fn fill(&mut self, deadline: Instant) -> bool {
        if self.closed {
            return false;
        }
        let read = self.stream.read(&mut self.buf);
        match tokio::time::timeout_at(deadline.into(), read).await {
            Err(_) => false,
            Ok(Ok(0)) | Ok(Err(_)) => {
                self.closed = true;
                false
            }
            Ok(Ok(n)) => {
                self.decoder.feed(&self.buf[..n]);
                true
            }
        }
    }

    /// Moves every complete packet buffered into `pending`.
    fn decode_all(&mut self) {
        while let Some(p) = self
            .decoder
            .decode()
            .unwrap_or_else(|e| panic!("server sent a malformed packet: {e}"))
        {
            self.pending.push_back(p);
        }
    }

    /// Reads until at least one packet is pending; false at the end of the
    /// stream or at `deadline`.
    async fn read_some(&mut self, deadline: Instant) -> bool {
        loop {
            self.decode_all();
            if !self.pending.is_empty() {
                return true;
            }
            if !self.fill(deadline).await {
                return false;
            }
        }
    }

    /// The next null-id packet within `wait`; `None` at the deadline or at
    /// the end of the stream.
    async fn push(&mut self, wait: Duration) -> Option<ServerCommand> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(pos) = self.pending.iter().position(|p| p.is_null_id()) {
                let p = self.pending.remove(pos).unwrap();
                return Some(ServerCommand::from_packet(&p).unwrap());
            }
            if !self.fill(deadline).await {
                return None;
            }
            self.decode_all();
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    async fn send(&mut self, cmd: &ClientCommand) -> u16 {
        let id = self.next_id;
        self.next_id = self.next_id % 1023 + 1;
        let mut b = BytesMut::new();
        cmd.encode(id, &mut b).unwrap();
        self.write(&b).await.unwrap();
        id
    }

    /// The reply to request `id`; pushes met on the way stay pending.
    async fn reply(&mut self, id: u16) -> ServerCommand {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(pos) = self.pending.iter().position(|p| p.id() == id) {
                let p = self.pending.remove(pos).unwrap();
                return ServerCommand::from_packet(&p).unwrap();
            }
            if !self.fill(deadline).await {
                panic!("no reply to request {id} (closed: {})", self.closed);
            }
            self.decode_all();
        }
    }

    async fn call(&mut self, cmd: ClientCommand) -> ServerCommand {
        let id = self.send(&cmd).await;
        self.reply(id).await
    }

    async fn register(&mut self, name: &str) {
        let reg = ClientCommand::Reg {
            username: user(name),
            pubkey: public_pem(name),
        };
        assert_eq!(self.call(reg).await, ServerCommand::Ok, "REG {name}");
    }

    /// The challenge login, as the test kit's `RawClient::login` does it.
    async fn login(&mut self, name: &str) {
        let login = ClientCommand::Login {
            username: user(name),
        };
        let ServerCommand::Verif { challenge } = self.call(login).await else {
            panic!("LOGIN {name}: no challenge");
        };
        let text = crypto::decrypt(&private_key(name), &mut getrandom::SysRng, &challenge).unwrap();
        let verif = ClientCommand::Verif {
            username: user(name),
            answer: Bytes::from(text),
        };
        assert_eq!(self.call(verif).await, ServerCommand::Ok, "VERIF {name}");
    }
}

// ----- messages -----

/// The ciphertext of message `i` of a run tagged `tag`.
fn ciphertext(tag: &str, i: usize, size: usize) -> Bytes {
    tagged_ciphertext(tag, i, size)
}

/// Which message of run `tag` a RECIV from alice is, checked against what was sent.
fn message_index(cmd: &ServerCommand, tag: &str, size: usize) -> usize {
    let got = read_tagged(cmd, size);
    assert_eq!(got.sender, "alice", "sender");
    assert_eq!(got.tag, tag, "not a message of this run: {cmd:?}");
    got.index
}

/// What alice's pipelined sending came to.
#[derive(Debug, Default)]
struct Sent {
    /// MSGs written to the socket (0..written).
    written: usize,
    /// Indices of the MSGs answered OK, in reply order.
    ok: Vec<usize>,
    /// MSGs answered with something else.
    refused: Vec<(usize, ServerCommand)>,
    /// The connection ended before every MSG was answered.
    cut: bool,
}

/// Sends messages `0..count` of run `tag` to bob, keeping `WINDOW` of them in
/// flight, until all are answered or the connection ends. `progress` is told
/// once `at` of them were answered OK.
async fn send_pipelined(
    mut alice: Conn,
    tag: &str,
    count: usize,
    size: usize,
    mut progress: Option<(usize, tokio::sync::oneshot::Sender<()>)>,
) -> Sent {
    let mut sent = Sent::default();
    let mut in_flight: HashMap<u16, usize> = HashMap::new();
    loop {
        let mut batch = BytesMut::new();
        while in_flight.len() < WINDOW && sent.written < count {
            let i = sent.written;
            let id = (i % 1023) as u16 + 1;
            let msg = ClientCommand::Msg {
                to: user("bob"),
                stamp: STAMP0 + i as i64,
                ciphertext: ciphertext(tag, i, size),
            };
            msg.encode(id, &mut batch).unwrap();
            in_flight.insert(id, i);
            sent.written += 1;
        }
        if !batch.is_empty() && alice.write(&batch).await.is_err() {
            sent.cut = true;
            return sent;
        }
        if in_flight.is_empty() {
            return sent;
        }
        if !alice.read_some(Instant::now() + WAIT).await {
            assert!(alice.closed, "the server answered no MSG within {WAIT:?}");
            sent.cut = true;
            return sent;
        }
        while let Some(p) = alice.pending.pop_front() {
            let reply = ServerCommand::from_packet(&p).unwrap();
            let i = in_flight
                .remove(&p.id())
                .unwrap_or_else(|| panic!("reply to no MSG in flight: {reply:?}"));
            if reply == ServerCommand::Ok {
                sent.ok.push(i);
            } else {
                sent.refused.push((i, reply));
            }
        }
        if let Some((at, _)) = &progress
            && sent.ok.len() >= *at
        {
            let (_, tx) = progress.take().unwrap();
            let _ = tx.send(());
        }
    }
}

/// Registers alice and bob, logs alice in; bob stays offline.
async fn alice_with_offline_bob(addr: SocketAddr) -> Conn {
    let mut bob = Conn::connect(addr, None).await;
    bob.register("bob").await;
    drop(bob);
    let mut alice = Conn::connect(addr, None).await;
    alice.register("alice").await;
    alice.login("alice").await;
    alice
}

/// Logs bob in and reads his catch-up to its end: RECIV, every RECIV until
/// none comes for `QUIET`, then RECIV again until the server has nothing
/// stored (ERR EMPTY). Returns the message indices in arrival order.
async fn catch_up(addr: SocketAddr, tag: &str, size: usize, last: Option<usize>) -> Vec<usize> {
    let mut bob = Conn::connect(addr, None).await;
    bob.login("bob").await;
    let mut got = Vec::new();
    loop {
        match bob.call(ClientCommand::Reciv).await {
            ServerCommand::Ok => {}
            ServerCommand::Err(ErrorCode::Empty) => return got,
            other => panic!("RECIV: {other:?}"),
        }
        // The last message sent is the last one sent back: no need to wait
        // for silence once it is here.
        while let Some(cmd) = bob.push(QUIET).await {
            let i = message_index(&cmd, tag, size);
            got.push(i);
            if Some(i) == last {
                break;
            }
        }
        assert!(!bob.closed, "the server closed bob's connection");
    }
}

// ----- scenario a: kill while MSGs are in flight -----

/// alice pipelines MSGs to offline bob; after `KILL_AFTER` OKs the server is
/// killed with more in flight. After a restart bob's catch-up must hold every
/// MSG that was answered OK, each exactly once.
///
/// Exactly once, not at least once: alice never resends, the server stores
/// each MSG it reads once, and the catch-up after the restart runs to its end
/// uninterrupted, so a duplicate can only be a server bug. MSGs written but
/// not answered may or may not be there (the server may have stored one and
/// died before answering); they must not be there twice either.
async fn kill_while_sending(db: Db) {
    const KILL_AFTER: usize = 300;
    const SIZE: usize = 300;
    gochat_testkit::with_database(db, "gochat_crash", |url, workdir| async move {
        let server = ServerProc::start(SERVER_BIN, &url, &workdir, NO_ADDRESS_LIMITS);
        let alice = alice_with_offline_bob(server.addr).await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = tokio::spawn(async move {
            send_pipelined(alice, "a", usize::MAX, SIZE, Some((KILL_AFTER, tx))).await
        });
        tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .expect("300 MSGs answered within 60 s")
            .expect("the sender ended before 300 OKs");
        server.kill9();
        let sent = tokio::time::timeout(WAIT, sender)
            .await
            .expect("alice saw the connection end")
            .unwrap();
        assert!(sent.cut, "alice's connection ended with the server");
        assert!(sent.refused.is_empty(), "refused MSGs: {:?}", sent.refused);
        assert!(sent.ok.len() >= KILL_AFTER);
        assert!(
            sent.written > sent.ok.len(),
            "some MSGs were in flight at the kill"
        );

        let server = ServerProc::start(SERVER_BIN, &url, &workdir, NO_ADDRESS_LIMITS);
        let got = catch_up(server.addr, "a", SIZE, Some(sent.written - 1)).await;
        let ok: std::collections::HashSet<usize> = sent.ok.iter().copied().collect();
        let mut seen = std::collections::HashSet::new();
        for (n, &i) in got.iter().enumerate() {
            assert!(i < sent.written, "message {i} was never sent");
            assert!(seen.insert(i), "message {i} delivered twice");
            if n > 0 {
                assert!(got[n - 1] < i, "message {i} after {}", got[n - 1]);
            }
        }
        let mut lost: Vec<usize> = ok.difference(&seen).copied().collect();
        lost.sort_unstable();
        assert!(lost.is_empty(), "acknowledged messages lost: {lost:?}");
        eprintln!(
            "{db:?}: {} MSGs written, {} answered OK, {} delivered after the restart ({} of them unanswered)",
            sent.written,
            ok.len(),
            got.len(),
            seen.difference(&ok).count()
        );
        server.kill9();
    })
    .await;
}

// ----- scenario b: kill during a catch-up -----

/// The messages of run `tag` stored for bob, in id (sending) order, read
/// straight from the database of a server that is not running.
async fn stored_for_bob(url: &str, tag: &str, size: usize) -> Vec<usize> {
    let store = gochat_server::store::Store::open(url).await.unwrap();
    let bob = store.user("bob").await.unwrap().expect("bob's account");
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.pending_messages(bob.id, after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for m in &page {
            let reciv = ServerCommand::Reciv {
                sender: user(&m.sender),
                stamp: m.stamp,
                ciphertext: Bytes::from(m.ciphertext.clone()),
            };
            out.push(message_index(&reciv, tag, size));
        }
    }
    store.close().await;
    out
}

/// Thousands of messages are stored for bob; bob RECIVs, reads some and
/// stops reading; the server, blocked writing to him, is killed; bob reads
/// what his connection still holds (a client reads its connection to the
/// end). Then, with the server down, the database must hold exactly the
/// messages from some point on, and every message before that point must
/// have reached bob: the server deletes only what it wrote. After a restart
/// the second catch-up must bring exactly what was stored, in order; the
/// union of both catch-ups is every message.
///
/// Duplicates are the messages bob got before the kill that were still
/// stored at the kill: written by the server, their deletion not yet done
/// (in flight at the kill). How many depends on how the server batches
/// deletions; the test prints it.
async fn kill_during_catch_up(db: Db) {
    // 2 KiB messages, 8 MiB in all: more than bob's small receive buffer and
    // the server's send buffer (at most 4 MiB here) hold, so the server is
    // still writing when it is killed.
    const COUNT: usize = 4000;
    const SIZE: usize = 2045;
    const READ_BEFORE_KILL: usize = 300;
    gochat_testkit::with_database(db, "gochat_crash", |url, workdir| async move {
        let server = ServerProc::start(SERVER_BIN, &url, &workdir, NO_ADDRESS_LIMITS);
        let alice = alice_with_offline_bob(server.addr).await;
        let started = Instant::now();
        let sent = send_pipelined(alice, "b", COUNT, SIZE, None).await;
        assert!(!sent.cut && sent.refused.is_empty(), "{sent:?}");
        assert_eq!(sent.ok.len(), COUNT);
        eprintln!("{db:?}: {COUNT} messages stored in {:?}", started.elapsed());

        let mut bob = Conn::connect(server.addr, Some(16 * 1024)).await;
        bob.login("bob").await;
        assert_eq!(bob.call(ClientCommand::Reciv).await, ServerCommand::Ok);
        let mut first = Vec::new();
        while first.len() < READ_BEFORE_KILL {
            let cmd = bob.push(WAIT).await.expect("catch-up message");
            first.push(message_index(&cmd, "b", SIZE));
        }
        server.kill9();
        while let Some(cmd) = bob.push(WAIT).await {
            first.push(message_index(&cmd, "b", SIZE));
        }
        assert!(bob.closed, "bob's connection ended with the server");
        let expected: Vec<usize> = (0..first.len()).collect();
        assert_eq!(
            first, expected,
            "the first catch-up, in order from the first"
        );
        assert!(
            first.len() < COUNT,
            "the server had written every message before the kill: nothing was killed mid-stream"
        );

        let stored = stored_for_bob(&url, "b", SIZE).await;
        let resumed = *stored.first().expect("messages still stored at the kill");
        let expected: Vec<usize> = (resumed..COUNT).collect();
        assert_eq!(
            stored, expected,
            "stored at the kill: every message from {resumed} on"
        );
        assert!(
            resumed <= first.len(),
            "messages {}..{resumed} deleted, never delivered",
            first.len()
        );

        let server = ServerProc::start(SERVER_BIN, &url, &workdir, NO_ADDRESS_LIMITS);
        let second = catch_up(server.addr, "b", SIZE, Some(COUNT - 1)).await;
        assert_eq!(
            second, stored,
            "the second catch-up: what was stored, in order"
        );
        eprintln!(
            "{db:?}: bob read {} from the killed server ({READ_BEFORE_KILL} before the kill, \
             the rest from his socket after it), {} after the restart; {} of them twice",
            first.len(),
            second.len(),
            first.len() - resumed
        );
        server.kill9();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_while_sending() {
    kill_while_sending(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_kill_while_sending() {
    kill_while_sending(Db::MariaDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_while_sending() {
    kill_while_sending(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_during_catch_up() {
    kill_during_catch_up(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_kill_during_catch_up() {
    kill_during_catch_up(Db::MariaDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_during_catch_up() {
    kill_during_catch_up(Db::Postgres).await;
}
