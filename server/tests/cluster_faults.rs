#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A cluster's faults with real processes: a node killed with `kill -9`, and
//! the NATS server stopped and restarted under running nodes. Nothing that
//! got an OK is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_lite::StreamExt;

use gochat_proto::{ClientCommand, ErrorCode, Hook, HookEvent, ServerCommand};
use gochat_runtime_tokio::TokioRuntime;
use gochat_server::cluster::{
    DELIVER_TIMEOUT, HEARTBEAT, NODES_BUCKET, SESSIONS_BUCKET, SessionValue, TOKENS_BUCKET,
    TokenValue, decode_parcels, deliver_subject, encode_taken,
};
use gochat_server::store::Store;
use gochat_testkit::{
    Db, NO_ADDRESS_LIMITS, RawClient, ServerProc, TempDir, read_tagged, settings, start_server,
    tagged_msg, with_db_and_nats,
};

/// The server binary.
const SERVER_BIN: &str = env!("CARGO_BIN_EXE_gochat-server");

/// Ciphertext size of the tagged messages.
const SIZE: usize = 200;

/// A client on `addr`, registered (if `register`) and logged in as `name`.
async fn login(
    rt: &TokioRuntime,
    addr: std::net::SocketAddr,
    name: &str,
    register: bool,
) -> RawClient<TokioRuntime> {
    let (mut c, _) = RawClient::connect(rt, addr).await;
    if register {
        assert_eq!(c.register(name).await, ServerCommand::Ok, "REG {name}");
    }
    assert_eq!(c.login(name).await.0, ServerCommand::Ok, "LOGIN {name}");
    c
}

/// Reads the RECIVs of a catch-up until `count` came; their indices.
async fn catch_up(c: &mut RawClient<TokioRuntime>, count: usize) -> Vec<usize> {
    let id = c.send(&ClientCommand::Reciv).await;
    assert_eq!(c.reply(id).await, ServerCommand::Ok);
    let mut got = Vec::new();
    while got.len() < count {
        let push = c
            .push(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("only {} of {count} caught up", got.len()));
        got.push(read_tagged(&push, SIZE).index);
    }
    got
}

/// Node `id` of a cluster through `nats` on `db`, as a process logging at
/// INFO to `<id>.log` in `work`.
fn node_proc(
    nats: &gochat_testkit::NatsServer,
    db: &gochat_testkit::ScratchDb,
    work: &TempDir,
    id: &str,
) -> ServerProc {
    let url = nats.url();
    let log = work.path().join(format!("{id}.log"));
    let log = log.to_str().unwrap();
    let mut args = vec!["--cluster-url", &url, "--node-id", id, "--log-file", log];
    args.extend_from_slice(NO_ADDRESS_LIMITS);
    ServerProc::start_at_level(SERVER_BIN, db.url(), work.path(), &args, "INFO")
}

/// The log of node `id` started by [`node_proc`] in `work`.
fn node_log(work: &TempDir, id: &str) -> String {
    std::fs::read_to_string(work.path().join(format!("{id}.log"))).unwrap_or_default()
}

/// Whether the HOOK NEWLOGOUT of `name` comes on `c` within `wait`.
async fn newlogout(c: &mut RawClient<TokioRuntime>, name: &str, wait: Duration) -> bool {
    match c.push(wait).await {
        Some(ServerCommand::Hook(HookEvent::NewLogout { username })) => username.as_str() == name,
        other => {
            eprintln!("expected NEWLOGOUT {name}, got {other:?}");
            false
        }
    }
}

/// A node of three killed with `kill -9`: within 15 s its users are no
/// longer listed, the hook subscribers of the other nodes hear that they
/// are gone (NEWLOGOUT, once), and they can log in on another node; what
/// was sent to them meanwhile got OK and is caught up there, in order.
fn node_killed(db: Db) {
    with_db_and_nats(db, |rt, scratch, nats| async move {
        let work = TempDir::new("gochat_cluster_kill");
        let a = node_proc(&nats, &scratch, &work, "a");
        let b = node_proc(&nats, &scratch, &work, "b");
        let c = node_proc(&nats, &scratch, &work, "c");
        let mut alice = login(&rt, a.addr, "alice", true).await;
        let bob = login(&rt, b.addr, "bob", true).await;
        let mut carol = login(&rt, c.addr, "carol", true).await;
        for watcher in [&mut alice, &mut carol] {
            assert_eq!(
                watcher.call(ClientCommand::Sub(Hook::NewLogout)).await,
                ServerCommand::Ok
            );
            gochat_testkit::within!(
                10,
                "every node lists bob",
                watcher.online_names().await == ["alice", "bob", "carol"]
            );
        }

        b.kill9();
        drop(bob);
        let killed = Instant::now();
        // Sent while b is dead (a may still think bob is there). Until NATS
        // has seen b's connection drop, a request can go to b's dead
        // subscription; a then cannot know whether b took the message and
        // answers ERR SERVER after its deadline, so the sender tries again,
        // as a client would. Each message ends with an OK.
        for i in 0..20 {
            let mut tries = 0;
            loop {
                match alice.call(tagged_msg("bob", "alice", i, SIZE)).await {
                    ServerCommand::Ok => break,
                    ServerCommand::Err(ErrorCode::Server) if tries < 2 => tries += 1,
                    other => panic!("message {i}: {other:?}"),
                }
            }
        }
        // The subscribers on a and c hear once that bob is gone.
        for (id, watcher) in [("a", &mut alice), ("c", &mut carol)] {
            let left = Duration::from_secs(15).saturating_sub(killed.elapsed());
            if !newlogout(watcher, "bob", left).await {
                panic!(
                    "no NEWLOGOUT bob on node {id} within 15 s; its log:\n{}",
                    node_log(&work, id)
                );
            }
        }
        eprintln!("NEWLOGOUT bob came {:?} after the kill", killed.elapsed());
        for watcher in [&mut alice, &mut carol] {
            assert_eq!(watcher.online_names().await, ["alice", "carol"]);
        }
        let (mut bob, _) = RawClient::connect(&rt, c.addr).await;
        gochat_testkit::within!(
            15,
            "bob can log in on node c",
            bob.login("bob").await.0 == ServerCommand::Ok
        );
        eprintln!("bob logged in again {:?} after the kill", killed.elapsed());
        assert!(killed.elapsed() < Duration::from_secs(15));
        assert_eq!(catch_up(&mut bob, 20).await, (0..20).collect::<Vec<_>>());
        // Once: no second NEWLOGOUT, and bob back online is not announced
        // gone.
        assert!(carol.quiet(Duration::from_secs(3)).await, "NEWLOGOUT once");
        drop((a, c));
        drop(work);
        drop(scratch);
    });
}

gochat_testkit::per_database_tests! {
    node_killed: node_killed_mariadb => MariaDb, node_killed_postgres => Postgres;
}

/// Node `z` as a bare NATS client: its first heartbeat put, and `username`'s
/// session entry naming it. The client, its JetStream context, and the
/// nodes bucket (for the test's own later heartbeats).
async fn fake_node_z(
    nats: &gochat_testkit::NatsServer,
    username: &str,
) -> (
    async_nats::Client,
    async_nats::jetstream::Context,
    async_nats::jetstream::kv::Store,
) {
    let z = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(z.clone());
    let nodes = js.get_key_value(NODES_BUCKET).await.unwrap();
    let sessions = js.get_key_value(SESSIONS_BUCKET).await.unwrap();
    nodes.put("z", "1".into()).await.unwrap();
    let value = SessionValue {
        node: "z".into(),
        run: 1,
        permission: 0,
    };
    sessions.put(username, value.encode()).await.unwrap();
    (z, js, nodes)
}

/// A node that holds a user's session and never answers a delivery: a MSG
/// for that user gets ERR SERVER once the deliver deadline has passed, and
/// is not stored (the owner may have taken it: stored too, it would come
/// twice). When the owner answers again, MSGs are handed to it and OK'd.
/// The "node" here is a bare NATS client that heartbeats as node `z`.
fn silent_owner(db: Db) {
    with_db_and_nats(db, |rt, scratch, nats| async move {
        let node = start_node(&rt, &scratch, &nats, "a").await;
        let mut alice = login(&rt, node.tcp_addr(), "alice", true).await;
        drop(login(&rt, node.tcp_addr(), "bob", true).await);
        gochat_testkit::within!(
            10,
            "bob logged out",
            alice.online_names().await == ["alice"]
        );

        // Node z: alive, serving bob, answering deliveries only when told.
        let (z, _, nodes) = fake_node_z(&nats, "bob").await;
        let mut requests = z.subscribe(deliver_subject("z")).await.unwrap();
        // The subscription is on the server before any MSG is routed to z
        // (else the request finds no responder and is stored: OK).
        z.flush().await.unwrap();
        let answering = Arc::new(AtomicBool::new(false));
        let (taken_tx, taken_rx) = async_channel::unbounded();
        let (z2, answer) = (z.clone(), answering.clone());
        let node_z = tokio::spawn(async move {
            let mut beat = tokio::time::interval(HEARTBEAT);
            loop {
                tokio::select! {
                    _ = beat.tick() => { let _ = nodes.put("z", "1".into()).await; }
                    request = requests.next() => {
                        let Some(request) = request else { return };
                        let parcels = decode_parcels(request.payload).unwrap();
                        let _ = taken_tx.send((parcels.len(), answer.load(Ordering::SeqCst))).await;
                        if answer.load(Ordering::SeqCst) {
                            let taken = encode_taken(&vec![true; parcels.len()]);
                            z2.publish(request.reply.unwrap(), taken).await.unwrap();
                        }
                    }
                }
            }
        });
        gochat_testkit::within!(
            10,
            "node a lists bob (on z)",
            alice.online_names().await == ["alice", "bob"]
        );

        let sent = Instant::now();
        assert_eq!(
            alice.call(tagged_msg("bob", "alice", 0, SIZE)).await,
            ServerCommand::Err(ErrorCode::Server)
        );
        assert!(sent.elapsed() >= DELIVER_TIMEOUT, "{:?}", sent.elapsed());
        assert_eq!(taken_rx.recv().await.unwrap(), (1, false));
        let store = Store::open(scratch.url()).await.unwrap();
        let bob = store.user("bob").await.unwrap().unwrap().id;
        assert!(store.pending_messages(bob, 0, 10).await.unwrap().is_empty());

        answering.store(true, Ordering::SeqCst);
        assert_eq!(
            alice.call(tagged_msg("bob", "alice", 1, SIZE)).await,
            ServerCommand::Ok
        );
        assert_eq!(taken_rx.recv().await.unwrap(), (1, true));
        assert!(store.pending_messages(bob, 0, 10).await.unwrap().is_empty());
        node_z.abort();
        drop(z);
        store.close().await;
        drop(node);
        drop(nats);
        drop(scratch);
    });
}

gochat_testkit::per_database_tests! {
    silent_owner: silent_owner_mariadb => MariaDb, silent_owner_postgres => Postgres;
}

/// A reusable TLS token whose session was on a node that died: while the
/// node lives, a token login elsewhere is a second session (DUPSESS); once
/// it is dead, the token logs in on another node (a wrong one does not),
/// as after a logout. Node `z` is a bare NATS client that held alice's
/// session and token, then stopped its heartbeat.
fn dead_node_token(db: Db) {
    with_db_and_nats(db, |rt, scratch, nats| async move {
        let node = start_node(&rt, &scratch, &nats, "a").await;
        let (mut reg, _) = RawClient::connect(&rt, node.tcp_addr()).await;
        assert_eq!(reg.register("alice").await, ServerCommand::Ok);
        drop(reg);

        let (_z, js, nodes) = fake_node_z(&nats, "alice").await;
        let tokens = js.get_key_value(TOKENS_BUCKET).await.unwrap();
        let token = [b'k'; 128];
        let active = serde_json::to_vec(&TokenValue::new(&token, None)).unwrap();
        tokens.put("alice", active.into()).await.unwrap();
        let heartbeat = tokio::spawn(async move {
            let mut beat = tokio::time::interval(HEARTBEAT);
            loop {
                beat.tick().await;
                let _ = nodes.put("z", "1".into()).await;
            }
        });

        let login_token = |token: &[u8]| ClientCommand::LoginToken {
            username: gochat_testkit::user("alice"),
            token: bytes::Bytes::copy_from_slice(token),
        };
        let (mut c, _) = RawClient::connect_tls(&rt, node.tls_addr().unwrap()).await;
        gochat_testkit::within!(
            10,
            "node a sees alice's session on z",
            c.call(login_token(&token)).await == gochat_testkit::err(ErrorCode::DupSess)
        );
        heartbeat.abort();
        let mut wrong = token;
        wrong[0] = b'j';
        gochat_testkit::within!(
            20,
            "node z counts as dead",
            c.call(login_token(&wrong)).await == gochat_testkit::err(ErrorCode::Handshake)
        );
        assert_eq!(c.call(login_token(&token)).await, ServerCommand::Ok);
        assert_eq!(c.online_names().await, ["alice"]);
        // The token's expiry is in the bucket now, for every node.
        let entry = tokens.entry("alice").await.unwrap().unwrap();
        let stored: TokenValue = serde_json::from_slice(&entry.value).unwrap();
        assert!(stored.matches(&token));
        let expires = stored.expires.expect("an expiry");
        assert!(expires > gochat_testkit::unix_now(), "{expires}");
        drop(c);
        drop(node);
        drop(nats);
        drop(scratch);
    });
}

gochat_testkit::per_database_tests! {
    dead_node_token: dead_node_token_mariadb => MariaDb, dead_node_token_postgres => Postgres;
}

/// The settings of node `id` of a cluster on `db` through `nats`.
fn node_settings(
    db: &gochat_testkit::ScratchDb,
    nats: &gochat_testkit::NatsServer,
    id: &str,
) -> gochat_server::config::Settings {
    let mut s = settings(db.url().to_string());
    s.cluster_url = Some(nats.url());
    s.node_id = Some(id.into());
    s
}

/// Node `id` of a cluster on `db` through `nats`, started in this process
/// and joined.
async fn start_node(
    rt: &TokioRuntime,
    db: &gochat_testkit::ScratchDb,
    nats: &gochat_testkit::NatsServer,
    id: &str,
) -> gochat_testkit::TestServer<TokioRuntime> {
    let node = start_server(rt, &node_settings(db, nats, id)).await;
    let cluster = node.cluster().expect("a cluster node").clone();
    gochat_testkit::within!(10, "the node joined", cluster.is_up());
    node
}

/// A node that joins after users logged in elsewhere knows their sessions
/// at once (not only sessions that change after it came): it lists them,
/// and its users' messages to them are delivered, not stored.
fn late_node_knows_sessions(db: Db) {
    with_db_and_nats(db, |rt, scratch, nats| async move {
        let a = start_node(&rt, &scratch, &nats, "a").await;
        let mut alice = login(&rt, a.tcp_addr(), "alice", true).await;
        let c = start_server(&rt, &node_settings(&scratch, &nats, "c")).await;
        let mut bob = login(&rt, c.tcp_addr(), "bob", true).await;
        gochat_testkit::within!(
            10,
            "node c lists alice",
            bob.online_names().await == ["alice", "bob"]
        );
        assert_eq!(
            bob.call(tagged_msg("alice", "bob", 3, SIZE)).await,
            ServerCommand::Ok
        );
        let push = alice.push(Duration::from_secs(10)).await.expect("a RECIV");
        assert_eq!(read_tagged(&push, SIZE).index, 3);
        drop((a, c));
        drop(nats);
        drop(scratch);
    });
}

gochat_testkit::per_database_tests! {
    late_node_knows_sessions: late_node_knows_sessions_mariadb => MariaDb, late_node_knows_sessions_postgres => Postgres;
}

/// A user logged in on a second node while NATS was down: when NATS is
/// back, the session that held the user's entry stays and the other one
/// ends (one session per user again).
fn double_login_after_outage(db: Db) {
    with_db_and_nats(db, |rt, scratch, mut nats| async move {
        let a = start_server(&rt, &node_settings(&scratch, &nats, "a")).await;
        let b = start_server(&rt, &node_settings(&scratch, &nats, "b")).await;
        let mut dave = login(&rt, a.tcp_addr(), "dave", true).await;
        let mut carol = login(&rt, b.tcp_addr(), "carol", true).await;
        gochat_testkit::within!(
            10,
            "node a lists carol",
            dave.online_names().await == ["carol", "dave"]
        );
        nats.stop();
        // Node a cannot ask NATS: once node b counts as dead (no heartbeat
        // for 8 s), it serves carol's login by itself.
        let (mut second, _) = RawClient::connect(&rt, a.tcp_addr()).await;
        gochat_testkit::within!(
            20,
            "node a serves a second login of carol",
            second.login("carol").await.0 == ServerCommand::Ok
        );
        nats.resume();
        // Fails unless node a closes the second session.
        let closed = second.until_closed(Duration::from_secs(30)).await;
        eprintln!("the second session ended; it got {closed:?}");
        gochat_testkit::within!(
            10,
            "node a lists carol once",
            dave.online_names().await == ["carol", "dave"]
        );
        assert_eq!(carol.online_names().await, ["carol", "dave"]);
        assert_eq!(
            dave.call(tagged_msg("carol", "dave", 9, SIZE)).await,
            ServerCommand::Ok
        );
        let push = carol.push(Duration::from_secs(10)).await.expect("a RECIV");
        assert_eq!(read_tagged(&push, SIZE).index, 9);
        drop((a, b));
        drop(nats);
        drop(scratch);
    });
}

gochat_testkit::per_database_tests! {
    double_login_after_outage: double_login_after_outage_mariadb => MariaDb, double_login_after_outage_postgres => Postgres;
}

/// NATS stopped under three running nodes (processes): each keeps serving
/// its own users (logins, local messages), a message for another node's
/// user is stored (OK) and caught up; when NATS is back the nodes rejoin by
/// themselves, cross-node delivery resumes, a MOTD changed during the outage
/// greets new connections on every node, and each node logged the loss and
/// the return of NATS once.
fn nats_restarted(db: Db) {
    with_db_and_nats(db, |rt, scratch, mut nats| async move {
        let work = TempDir::new("gochat_cluster_nats");
        let nodes: Vec<ServerProc> = ["a", "b", "c"]
            .iter()
            .map(|id| node_proc(&nats, &scratch, &work, id))
            .collect();
        let (a, b, c) = (nodes[0].addr, nodes[1].addr, nodes[2].addr);
        let mut alice = login(&rt, a, "alice", true).await;
        let mut bob = login(&rt, b, "bob", true).await;
        let (mut dave, _) = RawClient::connect(&rt, c).await;
        assert_eq!(dave.register("dave").await, ServerCommand::Ok);
        let store = Store::open(scratch.url()).await.unwrap();
        store.set_permission("dave", 2).await.unwrap();
        store.close().await;
        assert_eq!(dave.login("dave").await.0, ServerCommand::Ok);
        gochat_testkit::within!(
            10,
            "node a lists bob and dave",
            alice.online_names().await == ["alice", "bob", "dave"]
        );

        nats.stop();
        // Node a still serves: a new login, a local message.
        let mut carol = login(&rt, a, "carol", true).await;
        assert_eq!(
            carol.call(tagged_msg("alice", "carol", 0, SIZE)).await,
            ServerCommand::Ok
        );
        assert_eq!(
            read_tagged(&alice.push(Duration::from_secs(5)).await.unwrap(), SIZE).index,
            0
        );
        // A message for bob (on b) is stored, not lost.
        for i in 0..5 {
            assert_eq!(
                alice.call(tagged_msg("bob", "alice", i, SIZE)).await,
                ServerCommand::Ok,
                "message {i} during the outage"
            );
        }
        assert_eq!(catch_up(&mut bob, 5).await, (0..5).collect::<Vec<_>>());
        // The MOTD changes on c while the other nodes cannot hear of it.
        let motd = bytes::Bytes::from_static(b"back after the outage");
        assert_eq!(
            dave.call(ClientCommand::Admin(gochat_proto::AdminCommand::Motd {
                text: motd.clone()
            }))
            .await,
            ServerCommand::Ok
        );
        // Long enough for every node to try (and fail) to reconnect a few
        // times.
        tokio::time::sleep(Duration::from_secs(3)).await;

        nats.resume();
        let resumed = Instant::now();
        // Cross-node delivery resumes: a message reaches bob by push.
        let mut i = 100;
        loop {
            assert_eq!(
                alice.call(tagged_msg("bob", "alice", i, SIZE)).await,
                ServerCommand::Ok
            );
            match bob.push(Duration::from_millis(500)).await {
                Some(push) => {
                    assert_eq!(read_tagged(&push, SIZE).index, i);
                    break;
                }
                None => {
                    // Stored meanwhile: caught up, then try again.
                    assert_eq!(catch_up(&mut bob, 1).await, vec![i]);
                }
            }
            assert!(
                resumed.elapsed() < Duration::from_secs(30),
                "cross-node delivery did not resume"
            );
            i += 1;
        }
        eprintln!(
            "cross-node delivery resumed {:?} after NATS came back",
            resumed.elapsed()
        );
        // Every node greets with the MOTD set during the outage.
        for (id, addr) in [("a", a), ("b", b), ("c", c)] {
            gochat_testkit::within!(10, &format!("node {id} greets with the new MOTD"), {
                RawClient::connect(&rt, addr).await.1 == motd
            });
        }
        // Each state change logged once, not per reconnect attempt.
        for id in ["a", "b", "c"] {
            let log = node_log(&work, id);
            assert_eq!(log.matches("lost NATS").count(), 1, "node {id}:\n{log}");
            assert_eq!(
                log.matches("connected to NATS").count(),
                2,
                "node {id}:\n{log}"
            );
            assert!(
                log.matches("cannot reach the cluster's buckets").count() <= 1,
                "node {id}:\n{log}"
            );
            assert!(!log.contains("cluster: NATS "), "node {id}:\n{log}");
        }
        drop(nodes);
        drop(work);
        drop(nats);
        drop(scratch);
    });
}

/// One node cut off from NATS while the others stay joined (a partition):
/// the others take it for dead and tell their subscribers its users left;
/// its users' messages to other nodes are stored (OK) meanwhile; when the
/// link is back the node joins again by itself: its users are announced
/// back (NEWLOGIN), listed and reached everywhere, and it greets with a MOTD
/// set while it was cut off (an event it never got).
fn partitioned_node(db: Db) {
    with_db_and_nats(db, |rt, scratch, nats| async move {
        let proxy = gochat_testkit::CutProxy::start(nats.addr());
        let mut a_settings = node_settings(&scratch, &nats, "a");
        a_settings.cluster_url = Some(format!("nats://{}", proxy.addr()));
        let a = start_server(&rt, &a_settings).await;
        let b = start_node(&rt, &scratch, &nats, "b").await;
        let c = start_node(&rt, &scratch, &nats, "c").await;
        let mut alice = login(&rt, a.tcp_addr(), "alice", true).await;
        let mut bob = login(&rt, b.tcp_addr(), "bob", true).await;
        let (mut dave, _) = RawClient::connect(&rt, c.tcp_addr()).await;
        assert_eq!(dave.register("dave").await, ServerCommand::Ok);
        c.store().set_permission("dave", 2).await.unwrap();
        assert_eq!(dave.login("dave").await.0, ServerCommand::Ok);
        for hook in [Hook::NewLogin, Hook::NewLogout] {
            assert_eq!(bob.call(ClientCommand::Sub(hook)).await, ServerCommand::Ok);
        }
        gochat_testkit::within!(
            10,
            "node b lists alice",
            bob.online_names().await == ["alice", "bob", "dave"]
        );
        // The NEWLOGINs of the logins above may still be on their way.
        while !bob.quiet(Duration::from_millis(500)).await {}

        proxy.cut();
        let cut = Instant::now();
        let motd = bytes::Bytes::from_static(b"set while a was cut off");
        assert_eq!(
            dave.call(ClientCommand::Admin(gochat_proto::AdminCommand::Motd {
                text: motd.clone()
            }))
            .await,
            ServerCommand::Ok
        );
        // Node a serves alice still; her messages to bob are stored.
        for i in 0..3 {
            assert_eq!(
                alice.call(tagged_msg("bob", "alice", i, SIZE)).await,
                ServerCommand::Ok,
                "message {i} while a is cut off"
            );
        }
        // b takes a for dead: bob hears that alice left.
        assert!(
            newlogout(&mut bob, "alice", Duration::from_secs(15)).await,
            "no NEWLOGOUT alice on b"
        );
        eprintln!("NEWLOGOUT alice {:?} after the cut", cut.elapsed());
        assert_eq!(bob.online_names().await, ["bob", "dave"]);
        assert_eq!(catch_up(&mut bob, 3).await, vec![0, 1, 2]);

        proxy.restore();
        let restored = Instant::now();
        // a joins again by itself: alice is announced back and listed.
        match bob.push(Duration::from_secs(20)).await {
            Some(ServerCommand::Hook(HookEvent::NewLogin { username, .. })) => {
                assert_eq!(username.as_str(), "alice")
            }
            other => panic!("expected NEWLOGIN alice, got {other:?}"),
        }
        eprintln!(
            "NEWLOGIN alice {:?} after the link came back",
            restored.elapsed()
        );
        gochat_testkit::within!(
            10,
            "node b lists alice again",
            bob.online_names().await == ["alice", "bob", "dave"]
        );
        assert_eq!(
            bob.call(tagged_msg("alice", "bob", 7, SIZE)).await,
            ServerCommand::Ok
        );
        let push = alice.push(Duration::from_secs(10)).await.expect("a RECIV");
        assert_eq!(read_tagged(&push, SIZE).index, 7);
        // The MOTD set while a was cut off greets a's new connections.
        gochat_testkit::within!(10, "node a greets with the new MOTD", {
            RawClient::connect(&rt, a.tcp_addr()).await.1 == motd
        });
        drop((a, b, c));
        drop(proxy);
        drop(nats);
        drop(scratch);
    });
}

gochat_testkit::per_database_tests! {
    partitioned_node: partitioned_node_mariadb => MariaDb, partitioned_node_postgres => Postgres;
}

/// A run of MSGs larger than the NATS server's payload limit goes to the
/// owner in several requests, in order: every message OK'd and delivered,
/// none stored.
fn over_the_payload_limit(db: Db) {
    with_db_and_nats(db, |rt, scratch, _| async move {
        let nats = gochat_testkit::NatsServer::start_with_config("max_payload: 8192")
            .expect("nats-server");
        let a = start_node(&rt, &scratch, &nats, "a").await;
        let b = start_node(&rt, &scratch, &nats, "b").await;
        let mut alice = login(&rt, a.tcp_addr(), "alice", true).await;
        let mut bob = login(&rt, b.tcp_addr(), "bob", true).await;
        gochat_testkit::within!(
            10,
            "node a lists bob",
            alice.online_names().await == ["alice", "bob"]
        );
        // 40 MSGs of 2,000 bytes sent together: the node reads them in runs
        // of up to 16 KiB, each more than NATS takes in one request here.
        const BIG: usize = 2000;
        let mut ids = Vec::new();
        for i in 0..40 {
            ids.push(alice.send(&tagged_msg("bob", "alice", i, BIG)).await);
        }
        for (i, id) in ids.into_iter().enumerate() {
            assert_eq!(alice.reply(id).await, ServerCommand::Ok, "message {i}");
        }
        for i in 0..40 {
            let push = bob.push(Duration::from_secs(10)).await.expect("a RECIV");
            assert_eq!(read_tagged(&push, BIG).index, i);
        }
        let bob_id = b.store().user("bob").await.unwrap().unwrap().id;
        assert!(
            b.store()
                .pending_messages(bob_id, 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        drop((a, b));
        drop(nats);
        drop(scratch);
    });
}

gochat_testkit::per_database_tests! {
    over_the_payload_limit: over_the_payload_limit_mariadb => MariaDb, over_the_payload_limit_postgres => Postgres;
}

gochat_testkit::per_database_tests! {
    nats_restarted: nats_restarted_mariadb => MariaDb, nats_restarted_postgres => Postgres;
}
