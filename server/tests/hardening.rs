//! The server's hardening over real sockets: the bounded queue of a reader
//! that stops reading (messages spill to the store and come back by
//! themselves, or on RECIV after a new login), the write timeout, the packet
//! and login deadlines, the per-address connection cap and REG/LOGIN rates,
//! and the graceful stop (in-process and SIGTERM/SIGINT to the binary).
//!
//! Senders tag every ciphertext with their name and a sequence number, so a
//! reader can tell exactly which OK'd messages it got, how often, and in what
//! order. Settings are small (a 64 KiB queue, timeouts of a fraction of a
//! second) so that every scenario takes seconds. The scenarios whose subject
//! is what the store keeps (spilled messages read back in order, a closing
//! connection's queue stored ahead of what overflowed, messages kept across a
//! stop) run on tokio and smol against SQLite, MariaDB and PostgreSQL; those of
//! the connection's timing and own rules (a catch-up serving a reader while
//! senders go on, the write timeout, slowloris, deadlines, per-address limits)
//! on each runtime with SQLite; the binary ones on each database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::future::zip;
use gochat_proto::{ClientCommand, ErrorCode, ServerCommand, UserList};
use gochat_runtime::Runtime;
use gochat_server::RunningServer;
use gochat_server::config::Settings;
use gochat_testkit::*;

/// The server binary these tests run as a process.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_gochat-server");

/// Ciphertext size of the flood messages (the protocol allows 2045).
const SIZE: usize = 2000;
/// Unanswered MSGs each sender keeps in flight.
const WINDOW: usize = 32;
/// The bounded queue of the flood scenarios.
const QUEUE: usize = 64 * 1024;
/// Messages each sender sends once the condition it floods for is met (the
/// queue overflowed, the reader's connection closed).
const EXTRA: usize = 150;
/// No sender sends more than this: the condition never came.
const LIMIT: usize = 100_000;
/// The senders of the flood scenarios (bob reads).
const SENDERS: [&str; 3] = ["alice", "carol", "dave"];
/// How long a push may take to come while a catch-up is running.
const QUIET: Duration = Duration::from_secs(5);

// ----- tagged messages -----

fn tagged_msg(from: &str, to: &str, i: usize) -> ClientCommand {
    gochat_testkit::tagged_msg(to, from, i, SIZE)
}

/// Which message a RECIV is (sender, index), checked against what was sent.
fn tagged(cmd: &ServerCommand) -> (String, usize) {
    let got = read_tagged(cmd, SIZE);
    assert_eq!(got.tag, got.sender, "a tagged message from its sender");
    (got.sender, got.index)
}

/// What a reader received: per sender, the indices in arrival order.
#[derive(Debug, Default)]
struct Received {
    per_sender: BTreeMap<String, Vec<usize>>,
    /// Per sender, how often each index came.
    counts: BTreeMap<String, Vec<u32>>,
    /// Distinct messages received.
    distinct: usize,
    total: usize,
}

impl Received {
    fn add(&mut self, cmd: &ServerCommand) {
        let (name, i) = tagged(cmd);
        self.per_sender.entry(name.clone()).or_default().push(i);
        let counts = self.counts.entry(name).or_default();
        if counts.len() <= i {
            counts.resize(i + 1, 0);
        }
        counts[i] += 1;
        if counts[i] == 1 {
            self.distinct += 1;
        }
        self.total += 1;
    }

    fn of(&self, name: &str) -> &[usize] {
        self.per_sender.get(name).map_or(&[], |v| v.as_slice())
    }

    fn assert_only_from(&self, sent: &BTreeMap<String, usize>, what: &str) {
        let others: Vec<&String> = self
            .per_sender
            .keys()
            .filter(|k| !sent.contains_key(*k))
            .collect();
        assert!(others.is_empty(), "{what}: messages from {others:?}");
    }

    /// Asserts that each sender's messages `0..sent[sender]` arrived exactly
    /// once each, in sending order, and nothing else.
    fn assert_exactly_once_in_order(&self, sent: &BTreeMap<String, usize>, what: &str) {
        self.assert_only_from(sent, what);
        for (name, &count) in sent {
            let got = self.of(name);
            if !got.iter().copied().eq(0..count) {
                panic!("{what}: {name}'s messages: {}", describe(got, count));
            }
        }
    }

    /// Asserts that each sender's messages `0..sent[sender]` all arrived, at
    /// least once, and nothing else.
    fn assert_none_lost(&self, sent: &BTreeMap<String, usize>, what: &str) {
        self.assert_only_from(sent, what);
        for (name, &count) in sent {
            let counts = self.counts.get(name).map_or(&[][..], |c| c.as_slice());
            let missing = (0..count).any(|i| counts.get(i).is_none_or(|&n| n == 0));
            if missing || counts.len() > count {
                panic!(
                    "{what}: {name}'s messages: {}",
                    describe(self.of(name), count)
                );
            }
        }
    }

    /// Asserts that each sender's messages arrived each once, in sending
    /// order, as a run that ends with its last one: `k..sent[sender]` for
    /// some `k` (the first `k` may have been lost with a connection).
    fn assert_suffix_once_in_order(&self, sent: &BTreeMap<String, usize>, what: &str) {
        self.assert_only_from(sent, what);
        for (name, &count) in sent {
            let got = self.of(name);
            let first = got.iter().copied().min().unwrap_or(count);
            if !got.iter().copied().eq(first..count) {
                panic!(
                    "{what}: {name}'s messages, expected {first}..{count}: {}",
                    describe(got, count)
                );
            }
        }
    }

    /// Asserts that each sender's messages arrived each once (in any order)
    /// as a set `k..sent[sender]` for some `k`.
    fn assert_suffix_once(&self, sent: &BTreeMap<String, usize>, what: &str) {
        self.assert_only_from(sent, what);
        for (name, &count) in sent {
            let got = self.of(name);
            let mut sorted = got.to_vec();
            sorted.sort_unstable();
            let first = sorted.first().copied().unwrap_or(count);
            if !sorted.iter().copied().eq(first..count) {
                panic!(
                    "{what}: {name}'s messages, expected {first}..{count}: {}",
                    describe(got, count)
                );
            }
        }
    }
}

/// What is wrong with `got` as a delivery of `0..count`.
fn describe(got: &[usize], count: usize) -> String {
    let mut seen = vec![0u32; count.max(got.iter().max().map_or(0, |m| m + 1))];
    for &i in got {
        seen[i] += 1;
    }
    let missing: Vec<usize> = (0..count).filter(|&i| seen[i] == 0).collect();
    let twice: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] > 1).collect();
    let never_sent: Vec<usize> = (count..seen.len()).filter(|&i| seen[i] > 0).collect();
    let inversions: Vec<(usize, usize)> = got
        .windows(2)
        .filter(|w| w[1] <= w[0])
        .map(|w| (w[0], w[1]))
        .take(5)
        .collect();
    format!(
        "{} of {count} sent received; {} missing {:?}; {} received more than once {:?}; \
         never sent {never_sent:?}; first out-of-order pairs (earlier, then) {inversions:?}",
        got.len(),
        missing.len(),
        &missing[..missing.len().min(10)],
        twice.len(),
        &twice[..twice.len().min(10)],
    )
}

// ----- sending -----

/// How far a [`flood`] goes.
#[derive(Clone, Copy)]
struct Plan {
    /// The first index to send.
    start: usize,
    /// Most messages to send.
    max: usize,
    /// Messages to send once the condition is seen.
    extra: usize,
    /// No message is sent after this.
    deadline: Instant,
}

impl Plan {
    /// Until the condition and `EXTRA` more, at most `LIMIT`, for 20 s.
    fn until_then_extra() -> Self {
        Plan {
            start: 0,
            max: LIMIT,
            extra: EXTRA,
            deadline: Instant::now() + Duration::from_secs(20),
        }
    }
}

/// Sends tagged messages from `from` to `to` as `plan` says, `WINDOW`
/// unanswered at a time, each of which must be answered OK; once `done()` is
/// seen true it sends `plan.extra` more. Returns the index after the last
/// one sent.
async fn flood<R: Runtime>(
    c: &mut RawClient<R>,
    from: &str,
    to: &str,
    plan: Plan,
    done: &dyn Fn() -> bool,
) -> usize {
    let mut in_flight = VecDeque::new();
    let mut next = plan.start;
    let mut stop_at: Option<usize> = None;
    loop {
        while in_flight.len() < WINDOW
            && stop_at.is_none_or(|s| next < s)
            && next < plan.start + plan.max
            && Instant::now() < plan.deadline
        {
            in_flight.push_back((c.send(&tagged_msg(from, to, next)).await, next));
            next += 1;
        }
        let Some((id, i)) = in_flight.pop_front() else {
            return next;
        };
        assert_eq!(c.reply(id).await, ServerCommand::Ok, "MSG {i} from {from}");
        if stop_at.is_none() && done() {
            stop_at = Some(next + plan.extra);
        }
    }
}

/// The three senders flood `to` at once until `done()`, then `EXTRA` more
/// each; returns how many each sent. Panics if `done()` never came.
async fn flood_all<R: Runtime>(
    senders: &mut [RawClient<R>],
    to: &str,
    done: &dyn Fn() -> bool,
    what: &str,
) -> BTreeMap<String, usize> {
    let plan = Plan::until_then_extra();
    let [a, c, d] = senders else {
        panic!("three senders")
    };
    let ((na, nc), nd) = zip(
        zip(
            flood(a, SENDERS[0], to, plan, done),
            flood(c, SENDERS[1], to, plan, done),
        ),
        flood(d, SENDERS[2], to, plan, done),
    )
    .await;
    assert!(
        done(),
        "{what} never happened: {na}, {nc}, {nd} messages sent and answered OK"
    );
    [na, nc, nd]
        .iter()
        .zip(SENDERS)
        .map(|(n, s)| (s.to_string(), *n))
        .collect()
}

/// Logs in the three senders (registered already or not).
async fn senders<R: Runtime>(rt: &R, addr: SocketAddr) -> Vec<RawClient<R>> {
    let mut out = Vec::new();
    for name in SENDERS {
        let (mut c, _) = RawClient::connect(rt, addr).await;
        c.register_and_login(name).await;
        out.push(c);
    }
    out
}

// ----- reading -----

/// Reads RECIVs into `got` until it holds `total` distinct messages, or none
/// comes for `QUIET`, or the connection ends.
async fn read_until<R: Runtime>(c: &mut RawClient<R>, got: &mut Received, total: usize) {
    while got.distinct < total {
        match c.push(QUIET).await {
            Some(cmd) => got.add(&cmd),
            None => return,
        }
    }
}

/// Reads RECIVs into `got` until the server closes the connection; false if
/// it does not within `wait`.
async fn read_to_end<R: Runtime>(c: &mut RawClient<R>, got: &mut Received, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    while let Some(cmd) = c
        .push(deadline.saturating_duration_since(Instant::now()))
        .await
    {
        got.add(&cmd);
    }
    c.eof
}

/// A new connection logged in as `name`, retrying while the server still
/// holds the session that ended (DUPSESS).
async fn log_in_again<R: Runtime>(rt: &R, addr: SocketAddr, name: &str) -> RawClient<R> {
    let deadline = Instant::now() + TIMEOUT;
    let (mut c, _) = RawClient::connect(rt, addr).await;
    loop {
        match c.login(name).await.0 {
            ServerCommand::Ok => return c,
            ServerCommand::Err(ErrorCode::DupSess) if Instant::now() < deadline => {
                sleep(rt, Duration::from_millis(50)).await;
            }
            other => panic!("LOGIN {name} again: {other:?}"),
        }
    }
}

/// RECIV, then every message until the store holds none for `name` and
/// nothing more comes for 300 ms: after a reset some messages are gone with
/// the connection, so no count is awaited (which would wait `QUIET` for
/// them). Fails when messages stay stored and none comes for `QUIET`.
async fn recall_stored<R: Runtime>(
    c: &mut RawClient<R>,
    got: &mut Received,
    server: &RunningServer<R>,
    name: &str,
) {
    match c.call(ClientCommand::Reciv).await {
        ServerCommand::Ok | ServerCommand::Err(ErrorCode::Empty) => {}
        other => panic!("RECIV: {other:?}"),
    }
    let mut last = Instant::now();
    loop {
        match c.push(Duration::from_millis(300)).await {
            Some(cmd) => {
                got.add(&cmd);
                last = Instant::now();
            }
            None if stored_for(server, name).await == 0 => return,
            None => assert!(
                last.elapsed() < QUIET,
                "messages stay stored for {name}, and none came for {QUIET:?}"
            ),
        }
    }
}

/// RECIV, then every message until `got` holds `total` distinct ones (ERR
/// EMPTY is accepted: nothing stored), then a short wait for anything more
/// (a message sent twice, late).
async fn recall<R: Runtime>(c: &mut RawClient<R>, got: &mut Received, total: usize) {
    match c.call(ClientCommand::Reciv).await {
        ServerCommand::Ok => read_until(c, got, total).await,
        ServerCommand::Err(ErrorCode::Empty) => {}
        other => panic!("RECIV: {other:?}"),
    }
    while let Some(cmd) = c.push(Duration::from_millis(300)).await {
        got.add(&cmd);
    }
}

async fn sleep<R: Runtime>(rt: &R, d: Duration) {
    rt.sleep_until(Instant::now() + d).await;
}

// ----- the server's side -----

/// Messages stored for `name`.
async fn stored_for<R: Runtime>(server: &RunningServer<R>, name: &str) -> usize {
    let id = server.store().user(name).await.unwrap().unwrap().id;
    server
        .store()
        .pending_messages(id, 0, 1_000_000)
        .await
        .unwrap()
        .len()
}

/// Polls `cond` until it holds or `wait` passes; whether it held.
async fn eventually<R: Runtime, F, Fut>(rt: &R, wait: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + wait;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(rt, Duration::from_millis(20)).await;
    }
}

/// Watches the bytes queued for `name` from a thread of its own (the queue
/// changes while the test's task is busy sending): the highest value seen.
struct QueueWatch {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl QueueWatch {
    fn start<R: Runtime>(server: &RunningServer<R>, name: &str) -> Self {
        let peer = server.hub().peer(&user(name)).expect("logged in");
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, max) = (stop.clone(), max.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    max.fetch_max(peer.queued_bytes(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_micros(200));
                }
            })
        };
        QueueWatch {
            stop,
            max,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.max.load(Ordering::Relaxed)
    }
}

impl Drop for QueueWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// bob logged in and not reading, three senders logged in, a flood until
/// bob's queue overflowed (spilled to the store) and `EXTRA` more from each.
/// Checks that the queue stayed within its bound and that messages were
/// stored while bob's connection stayed up. Returns bob, the senders and
/// what each sent.
async fn flood_a_stalled_reader<R: Runtime>(
    rt: &R,
    server: &RunningServer<R>,
) -> (RawClient<R>, Vec<RawClient<R>>, BTreeMap<String, usize>) {
    let addr = server.tcp_addr();
    let (mut bob, _) = RawClient::connect(rt, addr).await;
    bob.register_and_login("bob").await;
    let mut senders = senders(rt, addr).await;
    let peer = server.hub().peer(&user("bob")).unwrap();
    let watch = QueueWatch::start(server, "bob");
    let started = Instant::now();
    let spilling = || peer.is_spilling();
    let sent = flood_all(&mut senders, "bob", &spilling, "an overflow of bob's queue").await;
    let max_queued = watch.finish();
    let stored = stored_for(server, "bob").await;
    eprintln!(
        "{} messages sent to a stalled reader in {:?}: at most {max_queued} bytes queued, {stored} stored",
        sent.values().sum::<usize>(),
        started.elapsed()
    );
    assert!(
        max_queued <= QUEUE,
        "{max_queued} bytes queued for bob, over max_queued_bytes {QUEUE}"
    );
    // Some may already be on their way back: once bob's queue drains into
    // his socket buffers, the server fetches what was stored for him.
    assert!(
        stored > 0,
        "nothing stored for bob after his queue overflowed"
    );
    let now = server
        .hub()
        .peer(&user("bob"))
        .expect("bob is still online");
    assert!(Arc::ptr_eq(&now, &peer), "bob's session is the same");
    assert!(peer.is_spilling());
    (bob, senders, sent)
}

// ----- 1. a slow reader -----

/// bob stops reading while three senders flood him; every MSG is answered
/// OK, his queue stays within `max_queued_bytes` and the rest goes to the
/// store. Then bob reads on the same connection (no RECIV): the stored
/// messages come by themselves once the queue has drained, while alice goes
/// on sending; every message arrives exactly once, in sending order, and the
/// server then delivers directly again with nothing left stored.
async fn slow_reader_reads_again<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_queued_bytes = QUEUE;
    // Longer than bob stalls here: his connection must survive the stall.
    settings.write_timeout = Duration::from_secs(30);
    let server = start_server(&rt, &settings).await;
    let (mut bob, mut senders, mut sent) = flood_a_stalled_reader(&rt, &server).await;

    // bob reads again; meanwhile alice sends 100 more, which must come after
    // the stored ones.
    let more = Plan {
        start: sent["alice"],
        max: 100,
        extra: 0,
        deadline: Instant::now() + Duration::from_secs(60),
    };
    let total = sent.values().sum::<usize>() + more.max;
    *sent.get_mut("alice").unwrap() += more.max;
    let mut got = Received::default();
    let never = || false;
    let (_, next) = zip(
        read_until(&mut bob, &mut got, total),
        flood(&mut senders[0], "alice", "bob", more, &never),
    )
    .await;
    assert_eq!(next, more.start + more.max);
    assert!(!bob.eof, "the server closed bob's connection");
    got.assert_exactly_once_in_order(&sent, "reading on after the stall");

    // The catch-up ended: nothing stored, direct delivery again.
    let peer = server.hub().peer(&user("bob")).unwrap();
    assert!(
        eventually(&rt, TIMEOUT, || async { !peer.is_spilling() }).await,
        "bob still spilling after reading everything"
    );
    assert!(
        eventually(&rt, TIMEOUT, || async {
            stored_for(&server, "bob").await == 0
        })
        .await,
        "delivered messages still stored: {}",
        stored_for(&server, "bob").await
    );
    let direct = tagged_msg("carol", "bob", sent["carol"]);
    assert_eq!(senders[1].call(direct).await, ServerCommand::Ok);
    assert!(!peer.is_spilling(), "one message overflowed the queue");
    let last = bob.push(TIMEOUT).await.expect("a direct RECIV");
    assert_eq!(tagged(&last), ("carol".to_string(), sent["carol"]));
    assert_eq!(bob.call(ClientCommand::Reciv).await, err(ErrorCode::Empty));
    server.shutdown();
    server.wait().await;
}

/// While alice floods bob he reads, but slower than she sends (32 KiB
/// every 20 ms): his queue overflows and spills, yet writes to him make
/// progress, so `write_timeout` (2 s here) does not close him. When alice
/// stops he reads at full speed: every message exactly once, in order.
async fn slow_reader_that_keeps_reading_stays<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_queued_bytes = QUEUE;
    settings.write_timeout = Duration::from_secs(2);
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (mut bob, _) = RawClient::connect(&rt, addr).await;
    bob.register_and_login("bob").await;
    let (mut alice, _) = RawClient::connect(&rt, addr).await;
    alice.register_and_login("alice").await;
    let peer = server.hub().peer(&user("bob")).unwrap();
    let spilling = || peer.is_spilling();
    let stop = std::cell::Cell::new(false);
    let mut got = Received::default();
    let slow_read = async {
        while !stop.get() {
            for _ in 0..16 {
                match bob.push(Duration::from_millis(5)).await {
                    Some(cmd) => got.add(&cmd),
                    None => break,
                }
            }
            assert!(!bob.eof, "the server closed bob while he was reading");
            sleep(&rt, Duration::from_millis(20)).await;
        }
    };
    let sending = async {
        // The overflow, then 2500 more (5 MB: longer than the write
        // timeout at his pace).
        let plan = Plan {
            extra: 2500,
            ..Plan::until_then_extra()
        };
        let count = flood(&mut alice, "alice", "bob", plan, &spilling).await;
        stop.set(true);
        count
    };
    let (_, count) = zip(slow_read, sending).await;
    let slowly = got.total;
    read_until(&mut bob, &mut got, count).await;
    eprintln!("{count} messages: {slowly} read slowly while alice sent, the rest at full speed");
    assert!(!bob.eof, "the server closed bob's connection");
    got.assert_exactly_once_in_order(
        &BTreeMap::from([("alice".to_string(), count)]),
        "a slow reader",
    );
    assert!(
        eventually(&rt, TIMEOUT, || async { !peer.is_spilling() }).await,
        "bob still spilling after reading everything"
    );
    assert_eq!(bob.call(ClientCommand::Reciv).await, err(ErrorCode::Empty));
    server.shutdown();
    server.wait().await;
}

/// As in `slow_reader_reads_again`, but bob hangs up (shuts his side down)
/// and reads what his connection still brings until the server closes it;
/// then he logs in on a new connection and asks with RECIV: every OK'd
/// message, over both connections, exactly once and in sending order.
async fn slow_reader_hangs_up<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_queued_bytes = QUEUE;
    settings.write_timeout = Duration::from_secs(30);
    let server = start_server(&rt, &settings).await;
    let (mut bob, _senders, sent) = flood_a_stalled_reader(&rt, &server).await;
    let total = sent.values().sum::<usize>();

    bob.shutdown_write().await;
    let mut got = Received::default();
    assert!(
        read_to_end(&mut bob, &mut got, Duration::from_secs(30)).await,
        "the server did not close bob's connection after he hung up"
    );
    let on_first = got.total;
    let mut bob = log_in_again(&rt, server.tcp_addr(), "bob").await;
    recall(&mut bob, &mut got, total).await;
    eprintln!(
        "{on_first} messages read on the first connection, {} after RECIV",
        got.total - on_first
    );
    got.assert_exactly_once_in_order(&sent, "after hanging up");
    assert_eq!(bob.call(ClientCommand::Reciv).await, err(ErrorCode::Empty));
    server.shutdown();
    server.wait().await;
}

/// bob's client drops the connection with unread data (as a crashed client
/// does: the kernel resets it). What the server had already written into
/// the connection is gone with it, and the server cannot know which
/// messages those were; but everything else must come on the next login:
/// per sender each of `k..last` once, for some `k`, in sending order (what
/// the connection still had queued is stored ahead of what had overflowed
/// to the store, which was sent after it).
async fn slow_reader_drops_the_connection<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_queued_bytes = QUEUE;
    settings.write_timeout = Duration::from_secs(30);
    let server = start_server(&rt, &settings).await;
    let (bob, _senders, sent) = flood_a_stalled_reader(&rt, &server).await;
    let total = sent.values().sum::<usize>();
    drop(bob);
    let mut bob = log_in_again(&rt, server.tcp_addr(), "bob").await;
    let mut got = Received::default();
    recall_stored(&mut bob, &mut got, &server, "bob").await;
    eprintln!("{} of {total} messages after the reset", got.total);
    got.assert_suffix_once(&sent, "after the reset");
    got.assert_suffix_once_in_order(&sent, "after the reset");
    assert_eq!(bob.call(ClientCommand::Reciv).await, err(ErrorCode::Empty));
    server.shutdown();
    server.wait().await;
}

/// bob's queue overflowed while he did not read; then he reads at full
/// speed while the three senders go on sending for 3 s. The catch-up must
/// serve him meanwhile: no second without a RECIV while they send. Then,
/// once they stopped, every message exactly once, in order.
///
/// A catch-up that has read everything stored hears of every later store
/// (one notice at a time), not only of the moment no store is running, which
/// never comes while several senders go on spilling.
async fn spilled_reader_is_served_while_senders_go_on<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_queued_bytes = QUEUE;
    settings.write_timeout = Duration::from_secs(30);
    let server = start_server(&rt, &settings).await;
    let (mut bob, mut senders, mut sent) = flood_a_stalled_reader(&rt, &server).await;
    let phase = Duration::from_secs(3);
    let began = Instant::now();
    let end = began + phase;
    let stop = std::cell::Cell::new(false);
    let mut got = Received::default();
    let reading = async {
        let mut times = Vec::new();
        while !stop.get() {
            if let Some(cmd) = bob.push(Duration::from_millis(50)).await {
                got.add(&cmd);
                times.push(Instant::now());
            }
        }
        times
    };
    let plan = |name: &str| Plan {
        start: sent[name],
        max: LIMIT,
        extra: 0,
        deadline: end,
    };
    let never = || false;
    let (pa, pc, pd) = (plan("alice"), plan("carol"), plan("dave"));
    let sending = async {
        let [a, c, d] = &mut senders[..] else {
            panic!("three senders")
        };
        let counts = zip(
            zip(
                flood(a, "alice", "bob", pa, &never),
                flood(c, "carol", "bob", pc, &never),
            ),
            flood(d, "dave", "bob", pd, &never),
        )
        .await;
        stop.set(true);
        counts
    };
    let (times, ((na, nc), nd)) = zip(reading, sending).await;
    sent.insert("alice".into(), na);
    sent.insert("carol".into(), nc);
    sent.insert("dave".into(), nd);
    let during = got.total;
    let mut last = began;
    let mut worst = Duration::ZERO;
    for &t in times.iter().filter(|&&t| t < end) {
        worst = worst.max(t - last);
        last = t;
    }
    worst = worst.max(end.saturating_duration_since(last));
    let total = sent.values().sum::<usize>();
    read_until(&mut bob, &mut got, total).await;
    eprintln!(
        "{total} messages; {during} received while the senders went on, longest wait {worst:?}"
    );
    got.assert_exactly_once_in_order(&sent, "after the senders stopped");
    assert!(
        worst < Duration::from_secs(1),
        "bob waited {worst:?} for a RECIV while the senders went on ({during} received in {phase:?})"
    );
    server.shutdown();
    server.wait().await;
}

// ----- 2. the write timeout -----

/// bob stops reading with his socket full while alice floods him: his
/// connection is closed once writes to it make no progress for
/// `write_timeout` (500 ms here), and alice still gets OK for everything, the
/// later messages being stored. A connection that reads nothing but is sent
/// nothing is not closed. bob reads what his closed connection still holds,
/// logs in again and asks with RECIV: every OK'd message comes, exactly
/// once, in sending order (what the socket took whole before the write
/// timed out is not stored again; what was still queued is stored ahead of
/// what had overflowed to the store).
async fn write_timeout_closes_a_stalled_reader<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_queued_bytes = QUEUE;
    settings.write_timeout = Duration::from_millis(500);
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (mut idle, _) = RawClient::connect(&rt, addr).await;
    assert_eq!(idle.register("bob").await, ServerCommand::Ok);
    let (mut bob, _) = RawClient::connect(&rt, addr).await;
    let (reply, _) = bob.login("bob").await;
    assert_eq!(reply, ServerCommand::Ok);
    let (mut alice, _) = RawClient::connect(&rt, addr).await;
    alice.register_and_login("alice").await;
    let started = Instant::now();
    let hub = server.hub();
    let closed_after = std::cell::Cell::new(None);
    let gone = || {
        if closed_after.get().is_none() && hub.peer(&user("bob")).is_none() {
            closed_after.set(Some(started.elapsed()));
        }
        closed_after.get().is_some()
    };
    let count = flood(&mut alice, "alice", "bob", Plan::until_then_extra(), &gone).await;
    let Some(closed_after) = closed_after.get() else {
        panic!(
            "bob's connection was not closed: {count} messages sent and answered OK in {:?}, {} stored",
            started.elapsed(),
            stored_for(&server, "bob").await
        );
    };
    let sent = BTreeMap::from([("alice".to_string(), count)]);
    let total = count;
    eprintln!(
        "{total} messages sent in {:?}, bob closed after {closed_after:?}",
        started.elapsed()
    );
    assert!(
        closed_after >= settings.write_timeout,
        "bob closed {closed_after:?} after the flood began, before the write timeout"
    );
    assert!(
        stored_for(&server, "bob").await > EXTRA,
        "messages were stored for bob"
    );

    let mut got = Received::default();
    assert!(
        read_to_end(&mut bob, &mut got, TIMEOUT).await,
        "bob's connection is not closed"
    );
    let on_first = got.total;
    let mut bob = log_in_again(&rt, addr, "bob").await;
    recall(&mut bob, &mut got, total).await;
    eprintln!(
        "{on_first} messages read from the closed connection, {} after RECIV",
        got.total - on_first
    );
    got.assert_none_lost(&sent, "after the write timeout");
    got.assert_exactly_once_in_order(&sent, "after the write timeout");
    assert_eq!(bob.call(ClientCommand::Reciv).await, err(ErrorCode::Empty));

    // Not reading is not the same as not taking what is written.
    assert!(started.elapsed() > settings.write_timeout * 2);
    assert_eq!(
        idle.call(ClientCommand::Usrs(UserList::All)).await,
        err(ErrorCode::NoSess)
    );
    server.shutdown();
    server.wait().await;
}

// ----- 3. slowloris -----

/// What a connection gets before the server closes it: (`Some(packet)` if
/// the first null-id packet came before `wait`, with the time it came).
async fn null_push_then_close<R: Runtime>(
    c: &mut RawClient<R>,
    wait: Duration,
) -> Option<(ServerCommand, Instant)> {
    let cmd = c.push(wait).await?;
    let at = Instant::now();
    assert!(c.inbox.is_empty(), "a reply came: {:?}", c.inbox);
    Some((cmd, at))
}

/// With `packet_timeout` 500 ms: a connection that sends 5 bytes of a header
/// and stops, and one whose header claims a long payload that it trickles a
/// byte every 100 ms, each get ERR IDLE with the null id within the packet
/// timeout (plus slack, and not before it) and are closed; meanwhile a normal
/// user registers, logs in and exchanges messages, its packets each complete
/// at once, for longer than the packet timeout, and stays connected.
async fn slowloris<R: Runtime>(rt: R, mut settings: Settings) {
    let timeout = Duration::from_millis(500);
    settings.packet_timeout = timeout;
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (mut bob, _) = RawClient::connect(&rt, addr).await;
    bob.register_and_login("bob").await;

    // A whole MSG packet: its header claims a payload of about 2 KiB.
    let mut long = BytesMut::new();
    tagged_msg("alice", "bob", 0).encode(7, &mut long).unwrap();
    let (mut stuck, _) = RawClient::connect(&rt, addr).await;
    let (mut trickle, _) = RawClient::connect(&rt, addr).await;

    let stuck_part = async {
        let started = Instant::now();
        stuck.write_raw(&long[..5]).await;
        let got = null_push_then_close(&mut stuck, Duration::from_secs(5)).await;
        let closed = stuck.push(Duration::from_secs(2)).await.is_none() && stuck.eof;
        (started, got, closed)
    };
    let trickle_part = async {
        let started = Instant::now();
        let mut sent = 0;
        // A byte every 100 ms: the header, then the payload, never complete.
        let got = loop {
            if sent < long.len() - 1 {
                trickle.write_raw(&long[sent..=sent]).await;
                sent += 1;
            }
            if let Some(got) = null_push_then_close(&mut trickle, Duration::from_millis(100)).await
            {
                break Some(got);
            }
            if trickle.eof || started.elapsed() > Duration::from_secs(5) {
                break None;
            }
        };
        let closed = trickle.push(Duration::from_secs(2)).await.is_none() && trickle.eof;
        (started, got, closed, sent)
    };
    let normal_part = async {
        let (mut alice, _) = RawClient::connect(&rt, addr).await;
        alice.register_and_login("alice").await;
        let started = Instant::now();
        let mut i = 0;
        // Past both slow connections' deadlines.
        while started.elapsed() < timeout * 3 {
            assert_eq!(
                alice.call(tagged_msg("alice", "bob", i)).await,
                ServerCommand::Ok
            );
            i += 1;
            sleep(&rt, Duration::from_millis(40)).await;
        }
        (alice, i)
    };
    let ((stuck_result, trickle_result), (mut alice, sent)) =
        zip(zip(stuck_part, trickle_part), normal_part).await;

    let (started, got, closed) = stuck_result;
    let (cmd, at) = got.expect("no ERR IDLE for the connection that stopped mid-header");
    assert_eq!(
        cmd,
        err(ErrorCode::Idle),
        "5 bytes of a header, then nothing"
    );
    let after = at - started;
    assert!(
        after >= timeout - Duration::from_millis(50) && after <= timeout + Duration::from_secs(1),
        "ERR IDLE {after:?} after 5 bytes of a header (packet_timeout {timeout:?})"
    );
    assert!(
        closed,
        "the connection that stopped mid-header is not closed"
    );

    let (started, got, closed, trickled) = trickle_result;
    let (cmd, at) = got.expect("no ERR IDLE for the trickling connection");
    assert_eq!(cmd, err(ErrorCode::Idle), "a trickled packet");
    let after = at - started;
    assert!(
        after >= timeout - Duration::from_millis(50) && after <= timeout + Duration::from_secs(1),
        "ERR IDLE {after:?} after the first trickled byte (packet_timeout {timeout:?})"
    );
    assert!(closed, "the trickling connection is not closed");
    assert!(trickled < long.len() - 1);

    // The normal user went on through it all and is still connected.
    let mut got = Received::default();
    read_until(&mut bob, &mut got, sent).await;
    got.assert_exactly_once_in_order(
        &BTreeMap::from([("alice".to_string(), sent)]),
        "the normal user's messages",
    );
    assert_eq!(
        alice.call(ClientCommand::Usrs(UserList::Online)).await,
        online_users(&["alice", "bob"])
    );
    server.shutdown();
    server.wait().await;
}

// ----- 4. the login deadline -----

/// Sends KEEP every `every` until a null-id packet comes (or `wait` passes):
/// the packet and when it came.
async fn keep_until_push<R: Runtime>(
    c: &mut RawClient<R>,
    every: Duration,
    wait: Duration,
) -> Option<(ServerCommand, Instant)> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if let Some(cmd) = c.push(every).await {
            return Some((cmd, Instant::now()));
        }
        if c.eof {
            return None;
        }
        c.send(&ClientCommand::Keep).await;
    }
    None
}

/// With `login_timeout` 1.5 s and `idle_timeout` 1 s: a connection that
/// registers but never logs in, sending KEEP every 200 ms (so that the idle
/// deadline never comes), gets ERR IDLE with the null id at the login
/// deadline and is closed. A connection that logs in in time stays past it,
/// and after LOGOUT gets the same deadline again from the logout.
async fn login_deadline<R: Runtime>(rt: R, mut settings: Settings) {
    let login = Duration::from_millis(1500);
    let every = Duration::from_millis(200);
    settings.login_timeout = login;
    settings.idle_timeout = Duration::from_secs(1);
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let early = Duration::from_millis(50);
    let late = Duration::from_secs(1);

    let never_logs_in = async {
        let (mut c, _) = RawClient::connect(&rt, addr).await;
        let admitted = Instant::now();
        assert_eq!(c.register("carol").await, ServerCommand::Ok);
        let got = keep_until_push(&mut c, every, Duration::from_secs(5)).await;
        let (cmd, at) = got.expect("no ERR IDLE for a connection that never logs in");
        assert_eq!(cmd, err(ErrorCode::Idle));
        assert!(c.inbox.is_empty(), "unexpected replies: {:?}", c.inbox);
        let after = at - admitted;
        assert!(
            after + early >= login && after <= login + late,
            "ERR IDLE {after:?} after HELLO (login_timeout {login:?})"
        );
        assert!(c.push(Duration::from_secs(2)).await.is_none() && c.eof);
    };
    let logs_in = async {
        let (mut c, _) = RawClient::connect(&rt, addr).await;
        c.register_and_login("alice").await;
        // Well past the login deadline: nothing comes, the connection stays.
        let got = keep_until_push(&mut c, every, login + Duration::from_millis(1000)).await;
        assert_eq!(got, None, "a logged-in connection got a push");
        assert!(!c.eof);
        assert_eq!(
            c.call(ClientCommand::Usrs(UserList::Online)).await,
            online_users(&["alice"])
        );
        assert_eq!(c.call(ClientCommand::Logout).await, ServerCommand::Ok);
        let logged_out = Instant::now();
        let got = keep_until_push(&mut c, every, Duration::from_secs(5)).await;
        let (cmd, at) = got.expect("no ERR IDLE after LOGOUT");
        assert_eq!(cmd, err(ErrorCode::Idle));
        let after = at - logged_out;
        assert!(
            after + early >= login && after <= login + late,
            "ERR IDLE {after:?} after LOGOUT (login_timeout {login:?})"
        );
        assert!(c.push(Duration::from_secs(2)).await.is_none() && c.eof);
    };
    zip(never_logs_in, logs_in).await;
    server.shutdown();
    server.wait().await;
}

// ----- 5. per-address limits -----

/// The first packet on a fresh connection, and whether the server then
/// closed it.
async fn first_packet<R: Runtime>(rt: &R, addr: SocketAddr) -> (RawClient<R>, ServerCommand) {
    let mut c = RawClient::connect_raw(rt, addr).await;
    let cmd = c.push(TIMEOUT).await.expect("nothing from the server");
    (c, cmd)
}

/// With `max_connections_per_ip` 3: three connections from 127.0.0.1 get
/// HELLO, more get ERR CONN (null id, no HELLO) and are closed, and take no
/// place; when one of the three closes, exactly one new connection fits.
async fn per_ip_connection_cap<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_connections_per_ip = 3;
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let motd = Bytes::from("Welcome to the test server!");
    let mut held = Vec::new();
    for _ in 0..3 {
        let (c, cmd) = first_packet(&rt, addr).await;
        assert_eq!(cmd, ServerCommand::Hello { motd: motd.clone() });
        held.push(c);
    }
    for n in 0..3 {
        let (mut c, cmd) = first_packet(&rt, addr).await;
        assert_eq!(cmd, err(ErrorCode::Conn), "extra connection {n}");
        assert!(c.inbox.is_empty());
        assert_eq!(c.until_closed(TIMEOUT).await, vec![], "after ERR CONN");
    }
    // The three work.
    assert_eq!(held[0].register("alice").await, ServerCommand::Ok);
    held[1].login("alice").await;
    assert_eq!(
        held[2].call(ClientCommand::Usrs(UserList::All)).await,
        err(ErrorCode::NoSess)
    );

    drop(held.remove(0));
    // The server notices the close soon; until then the newcomer is refused.
    let deadline = Instant::now() + TIMEOUT;
    let newcomer = loop {
        let (c, cmd) = first_packet(&rt, addr).await;
        match cmd {
            ServerCommand::Hello { .. } => break c,
            ServerCommand::Err(ErrorCode::Conn) if Instant::now() < deadline => {
                sleep(&rt, Duration::from_millis(20)).await;
            }
            other => panic!("after a place freed up: {other:?}"),
        }
    };
    held.push(newcomer);
    let (mut c, cmd) = first_packet(&rt, addr).await;
    assert_eq!(cmd, err(ErrorCode::Conn), "the cap still holds");
    c.until_closed(TIMEOUT).await;
    assert_eq!(held[2].register("bob").await, ServerCommand::Ok);
    server.shutdown();
    server.wait().await;
}

/// With `registrations_per_minute` 2 and `logins_per_minute` 2: the third REG
/// and the third LOGIN from 127.0.0.1 within the minute get ERR PERMS with
/// their id, on any connection, whatever the request would otherwise get;
/// the connections stay open and their other requests work.
async fn per_ip_request_rates<R: Runtime>(rt: R, mut settings: Settings) {
    settings.registrations_per_minute = 2;
    settings.logins_per_minute = 2;
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (mut c1, _) = RawClient::connect(&rt, addr).await;
    let (mut c2, _) = RawClient::connect(&rt, addr).await;
    assert_eq!(c1.register("alice").await, ServerCommand::Ok);
    assert_eq!(c2.register("bob").await, ServerCommand::Ok);
    assert_eq!(c1.register("carol").await, err(ErrorCode::Perms));
    assert_eq!(c2.register("dave").await, err(ErrorCode::Perms));
    // Over the rate, even a REG that would fail otherwise.
    assert_eq!(c2.register("alice").await, err(ErrorCode::Perms));

    assert_eq!(c1.login("alice").await.0, ServerCommand::Ok);
    assert_eq!(c2.login("bob").await.0, ServerCommand::Ok);
    let (mut c3, _) = RawClient::connect(&rt, addr).await;
    for name in ["alice", "carol", "nobody"] {
        let login = ClientCommand::Login {
            username: user(name),
        };
        assert_eq!(c3.call(login).await, err(ErrorCode::Perms), "LOGIN {name}");
    }
    // Everything else still works, on every connection.
    assert_eq!(
        c3.call(ClientCommand::Usrs(UserList::All)).await,
        err(ErrorCode::NoSess)
    );
    assert_eq!(
        c1.call(tagged_msg("alice", "bob", 0)).await,
        ServerCommand::Ok
    );
    let got = c2.push(TIMEOUT).await.expect("RECIV");
    assert_eq!(tagged(&got), ("alice".to_string(), 0));
    assert_eq!(c2.call(ClientCommand::Logout).await, ServerCommand::Ok);
    assert_eq!(
        c2.call(ClientCommand::Login {
            username: user("bob")
        })
        .await,
        err(ErrorCode::Perms)
    );
    server.shutdown();
    server.wait().await;
}

/// With the three per-address limits 0 (off): 40 connections from one
/// address, 12 registrations and 10 logins from it, all fine.
async fn per_ip_limits_off<R: Runtime>(rt: R, mut settings: Settings) {
    settings.max_connections_per_ip = 0;
    settings.registrations_per_minute = 0;
    settings.logins_per_minute = 0;
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let mut held = Vec::new();
    for n in 0..40 {
        let (c, cmd) = first_packet(&rt, addr).await;
        assert!(
            matches!(cmd, ServerCommand::Hello { .. }),
            "connection {n}: {cmd:?}"
        );
        held.push(c);
    }
    for (n, c) in held.iter_mut().enumerate().take(10) {
        let reg = ClientCommand::Reg {
            username: user(&format!("user{n}")),
            pubkey: random_public_pem(n as u64 + 1),
        };
        assert_eq!(c.call(reg).await, ServerCommand::Ok, "REG user{n}");
    }
    assert_eq!(held[10].register("alice").await, ServerCommand::Ok);
    assert_eq!(held[11].register("bob").await, ServerCommand::Ok);
    for n in 0..5 {
        assert_eq!(held[12].login("alice").await.0, ServerCommand::Ok, "{n}");
        assert_eq!(held[13].login("bob").await.0, ServerCommand::Ok, "{n}");
        assert_eq!(
            held[12].call(ClientCommand::Logout).await,
            ServerCommand::Ok
        );
        assert_eq!(
            held[13].call(ClientCommand::Logout).await,
            ServerCommand::Ok
        );
    }
    for c in held.iter_mut() {
        assert_eq!(
            c.call(ClientCommand::Usrs(UserList::All)).await,
            err(ErrorCode::NoSess)
        );
    }
    server.shutdown();
    server.wait().await;
}

// ----- 6. graceful stop -----

/// Asserts SHTDWN with a stamp of the time of the stop, then the close.
async fn expect_shutdown<R: Runtime>(c: &mut RawClient<R>, who: &str, from: i64) {
    match c.push(TIMEOUT).await {
        Some(ServerCommand::Shutdown { stamp: Some(stamp) }) => {
            assert!(
                stamp >= from && stamp <= unix_now(),
                "{who}: SHTDWN stamp {stamp}, the stop was at {from}"
            );
        }
        other => panic!("{who}: expected SHTDWN with a stamp, got {other:?}"),
    }
    assert_eq!(c.until_closed(TIMEOUT).await, vec![], "{who}: after SHTDWN");
}

/// `RunningServer::shutdown()`: every logged-in user gets SHTDWN with the
/// stamp of the stop and is closed; a connection not logged in is closed
/// without it; the listener closes. A message stored for an offline user
/// just before is delivered after a restart on the same database.
async fn shutdown_announces_and_keeps_messages<R: Runtime>(rt: R, settings: Settings) {
    let server = start_server(&rt, &settings).await;
    let addr = server.tcp_addr();
    let (mut a, _) = RawClient::connect(&rt, addr).await;
    let (mut b, _) = RawClient::connect(&rt, addr).await;
    let (mut anon, _) = RawClient::connect(&rt, addr).await;
    a.register_and_login("alice").await;
    b.register_and_login("bob").await;
    assert_eq!(anon.register("carol").await, ServerCommand::Ok);
    assert_eq!(
        a.call(tagged_msg("alice", "carol", 0)).await,
        ServerCommand::Ok
    );
    let from = unix_now();
    server.shutdown();
    // `wait` closes the connections (after what was queued for them).
    server.wait().await;
    expect_shutdown(&mut a, "alice", from).await;
    expect_shutdown(&mut b, "bob", from).await;
    assert_eq!(anon.until_closed(TIMEOUT).await, vec![], "not logged in");
    assert!(rt.connect(addr).await.is_err(), "the listener is closed");

    let server = start_server(&rt, &settings).await;
    let (mut c, _) = RawClient::connect(&rt, server.tcp_addr()).await;
    assert_eq!(c.login("carol").await.0, ServerCommand::Ok);
    assert_eq!(c.call(ClientCommand::Reciv).await, ServerCommand::Ok);
    let got = c.push(TIMEOUT).await.expect("the stored message");
    assert_eq!(tagged(&got), ("alice".to_string(), 0));
    server.shutdown();
    server.wait().await;
}

// The scenarios whose subject is the store: messages that spilled come back
// in order, what a connection still had queued when it ended is stored ahead
// of what had overflowed (each backend has its own SQL for that move), and
// stored messages survive a stop. On each runtime and database.
scenario_tests!(
    slow_reader_reads_again,
    slow_reader_hangs_up,
    slow_reader_drops_the_connection,
    shutdown_announces_and_keeps_messages,
);

// The scenarios whose subject is the connection's timing (the catch-up keeps
// serving a reader while senders spill, the write timeout spares a reader
// that makes progress and closes one that does not) and the connection's
// own rules: on each runtime, with SQLite. Their stores and catch-ups run the
// code the scenarios above cover on every database.
runtime_scenario_tests!(
    spilled_reader_is_served_while_senders_go_on,
    slow_reader_that_keeps_reading_stays,
    write_timeout_closes_a_stalled_reader,
    slowloris,
    login_deadline,
    per_ip_connection_cap,
    per_ip_request_rates,
    per_ip_limits_off,
);

// ----- 6. the binary: SIGTERM and SIGINT -----

/// Runs `scenario` on the tokio runtime with a fresh database of kind `db`
/// and a scratch directory; drops the database afterwards.
fn with_database<F, Fut>(db: Db, scenario: F)
where
    F: FnOnce(String, std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    tokio_rt().block_on(gochat_testkit::with_database(
        db,
        "gochat_hardening",
        scenario,
    ));
}

/// The binary stopped by `sig`: alice and bob, logged in, each get SHTDWN
/// with the stamp of the stop and are closed; the process exits with
/// success; a message OK'd just before for carol, offline, is delivered
/// after a restart on the same database.
fn stop_by_signal(db: Db, sig: rustix::process::Signal, name: &str) {
    with_database(db, |url, workdir| async move {
        let rt = tokio_rt();
        let mut server = ServerProc::start(SERVER_BIN, &url, &workdir, &[]);
        let addr = server.addr;
        let (mut a, _) = RawClient::connect(&rt, addr).await;
        let (mut b, _) = RawClient::connect(&rt, addr).await;
        a.register_and_login("alice").await;
        b.register_and_login("bob").await;
        let (mut c, _) = RawClient::connect(&rt, addr).await;
        assert_eq!(c.register("carol").await, ServerCommand::Ok);
        drop(c);
        assert_eq!(
            a.call(tagged_msg("alice", "carol", 0)).await,
            ServerCommand::Ok
        );
        let from = unix_now();
        server.signal(sig);
        expect_shutdown(&mut a, "alice", from).await;
        expect_shutdown(&mut b, "bob", from).await;
        let status = server.wait_exit(Duration::from_secs(15));
        assert!(
            status.success(),
            "the server exited with {status} on {name}"
        );
        let stderr = server.stderr_text();
        assert!(
            !stderr.contains("panicked"),
            "the server panicked:\n{stderr}"
        );
        assert!(rt.connect(addr).await.is_err(), "nothing listens any more");

        let server = ServerProc::start(SERVER_BIN, &url, &workdir, &[]);
        let (mut c, _) = RawClient::connect(&rt, server.addr).await;
        assert_eq!(c.login("carol").await.0, ServerCommand::Ok);
        assert_eq!(c.call(ClientCommand::Reciv).await, ServerCommand::Ok);
        let got = c.push(TIMEOUT).await.expect("the stored message");
        assert_eq!(tagged(&got), ("alice".to_string(), 0));
        assert_eq!(c.call(ClientCommand::Reciv).await, err(ErrorCode::Empty));
    });
}

#[test]
fn sigterm_sqlite() {
    stop_by_signal(Db::Sqlite, rustix::process::Signal::TERM, "SIGTERM");
}

#[test]
fn sigterm_mariadb() {
    stop_by_signal(Db::MariaDb, rustix::process::Signal::TERM, "SIGTERM");
}

#[test]
fn sigterm_postgres() {
    stop_by_signal(Db::Postgres, rustix::process::Signal::TERM, "SIGTERM");
}

#[test]
fn sigint_sqlite() {
    stop_by_signal(Db::Sqlite, rustix::process::Signal::INT, "SIGINT");
}

/// SIGTERM (with a 1 s grace, the default 30 s write timeout) while bob,
/// logged in, has stopped reading and three senders have filled his socket
/// and his queue. Once the process has exited bob reads what his connection
/// still holds; after a restart RECIV must bring every other OK'd message.
///
/// A connection blocked in a write gives up half-way through the grace
/// period and stores its queue ahead of what had overflowed to the store:
/// every message exactly once, in sending order.
fn sigterm_with_a_stalled_reader(db: Db) {
    with_database(db, |url, workdir| async move {
        let rt = tokio_rt();
        let queue = QUEUE.to_string();
        let args = ["--max-queued-bytes", &queue, "--shutdown-grace", "1"];
        let mut server = ServerProc::start(SERVER_BIN, &url, &workdir, &args);
        let addr = server.addr;
        let (mut bob, _) = RawClient::connect(&rt, addr).await;
        bob.register_and_login("bob").await;
        let mut senders = senders(&rt, addr).await;
        // 7 MB: more than the socket buffers of a loopback connection hold
        // (4 MiB at most for the sender's, here), so the queue fills too.
        let answers = AtomicUsize::new(0);
        let enough = || answers.fetch_add(1, Ordering::Relaxed) >= 3000;
        let sent = flood_all(&mut senders, "bob", &enough, "the flood").await;
        let total = sent.values().sum::<usize>();
        server.signal(rustix::process::Signal::TERM);
        let status = server.wait_exit(Duration::from_secs(15));
        assert!(status.success(), "the server exited with {status}");

        let mut got = Received::default();
        let deadline = Instant::now() + TIMEOUT;
        while let Some(cmd) = bob
            .push(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            if !matches!(cmd, ServerCommand::Shutdown { .. }) {
                got.add(&cmd);
            }
        }
        assert!(bob.eof, "bob's connection did not end");
        let on_first = got.total;

        let server = ServerProc::start(SERVER_BIN, &url, &workdir, &[]);
        let mut bob = log_in_again(&rt, server.addr, "bob").await;
        recall(&mut bob, &mut got, total).await;
        eprintln!(
            "{total} sent; {on_first} read before the stop, {} after the restart",
            got.total - on_first
        );
        got.assert_exactly_once_in_order(&sent, "across the SIGTERM");
    });
}

gochat_testkit::per_database_tests! {
    sigterm_with_a_stalled_reader: sigterm_with_a_stalled_reader_sqlite => Sqlite, sigterm_with_a_stalled_reader_mariadb => MariaDb, sigterm_with_a_stalled_reader_postgres => Postgres;
}
