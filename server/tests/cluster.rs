#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Three nodes of one cluster (in this process, on tokio) on a shared
//! MariaDB or PostgreSQL database, joined through a private NATS server:
//! users on different nodes cannot tell it from one server.

use std::time::Duration;

use gochat_proto::{ClientCommand, ErrorCode, Hook, HookEvent, ServerCommand, UserList};
use gochat_runtime::Runtime;
use gochat_runtime_tokio::TokioRuntime;
use gochat_server::config::Settings;
use gochat_testkit::{
    Db, RawClient, ScratchDb, TestServer, err, read_tagged, settings, start_server, tagged_msg,
    tokio_rt, unix_now, user, with_db_and_nats, within,
};

/// Ciphertext size of the tagged messages.
const SIZE: usize = 300;

/// The nodes of a test cluster.
struct Nodes {
    rt: TokioRuntime,
    nodes: Vec<TestServer<TokioRuntime>>,
    /// The NATS server's URL.
    nats_url: String,
}

impl Nodes {
    fn addr(&self, node: usize) -> std::net::SocketAddr {
        self.nodes[node].tcp_addr()
    }

    /// A client on `node`, registered (if `register`) and logged in as `name`.
    async fn login(&self, node: usize, name: &str, register: bool) -> RawClient<TokioRuntime> {
        let (mut c, _) = RawClient::connect(&self.rt, self.addr(node)).await;
        if register {
            assert_eq!(c.register(name).await, ServerCommand::Ok, "REG {name}");
        }
        let (reply, _) = c.login(name).await;
        assert_eq!(reply, ServerCommand::Ok, "LOGIN {name} on node {node}");
        c
    }

    /// alice on node a and bob on node b, once node a lists bob.
    async fn alice_and_bob(&self) -> (RawClient<TokioRuntime>, RawClient<TokioRuntime>) {
        let mut alice = self.login(0, "alice", true).await;
        let bob = self.login(1, "bob", true).await;
        within!(
            10,
            "node a lists bob",
            alice.online_names().await.contains(&"bob".to_string())
        );
        (alice, bob)
    }

    /// The messages stored for `name`, at most `max`.
    async fn stored_for(&self, name: &str, max: u32) -> usize {
        let store = self.nodes[0].store();
        let id = store.user(name).await.unwrap().unwrap().id;
        store.pending_messages(id, 0, max).await.unwrap().len()
    }
}

/// Runs `scenario` against three joined nodes on a fresh database of kind `db`.
fn on_cluster<F, Fut>(db: Db, scenario: F)
where
    F: FnOnce(Nodes) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    on_cluster_with(db, |_, _| {}, scenario)
}

/// As [`on_cluster`], with each node's settings changed by `tweak` (given
/// the node's id) before it starts.
fn on_cluster_with<F, Fut>(db: Db, tweak: fn(&str, &mut Settings), scenario: F)
where
    F: FnOnce(Nodes) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    gochat_testkit::init_test_log();
    with_db_and_nats(db, |inner, scratch, nats| async move {
        let mut nodes = Vec::new();
        for name in ["a", "b", "c"] {
            let mut s = settings(scratch.url().to_string());
            s.cluster_url = Some(nats.url());
            s.node_id = Some(name.to_string());
            tweak(name, &mut s);
            nodes.push(start_server(&inner, &s).await);
        }
        for node in &nodes {
            let cluster = node.cluster().expect("a cluster node").clone();
            within!(
                10,
                "every node sees the three nodes alive",
                cluster.is_up() && cluster.live_nodes() == ["a", "b", "c"]
            );
        }
        let nats_url = nats.url();
        scenario(Nodes {
            rt: inner,
            nodes,
            nats_url,
        })
        .await;
        drop(nats);
        drop(scratch);
    });
}

/// MSGs to a user of another node arrive there in send order, each OK'd;
/// nothing is stored (the owner took them all).
async fn messages_cross_nodes(n: Nodes) {
    let (mut alice, mut bob) = n.alice_and_bob().await;
    let count = 200;
    let mut ids = Vec::new();
    for i in 0..count {
        ids.push(alice.send(&tagged_msg("bob", "alice", i, SIZE)).await);
    }
    for id in ids {
        assert_eq!(alice.reply(id).await, ServerCommand::Ok);
    }
    from_alice_in_order(&mut bob, count).await;
    // Nothing went to the store.
    assert_eq!(n.stored_for("bob", 10).await, 0);
    // And back.
    assert_eq!(
        bob.call(tagged_msg("alice", "bob", 0, SIZE)).await,
        ServerCommand::Ok
    );
    let got = alice.push(Duration::from_secs(10)).await.unwrap();
    assert_eq!(read_tagged(&got, SIZE).sender, "bob");
}

/// One session per user in the whole cluster: a LOGIN elsewhere gets ERR
/// DUPSESS and the session gets the DUPSESS hook; of two logins racing on
/// two nodes, exactly one wins.
async fn one_session_per_user(n: Nodes) {
    let mut bob = n.login(1, "bob", true).await;
    assert_eq!(
        bob.call(ClientCommand::Sub(Hook::DupSess)).await,
        ServerCommand::Ok
    );
    let (mut other, _) = RawClient::connect(&n.rt, n.addr(2)).await;
    within!(
        10,
        "node c knows bob's session",
        other
            .call(ClientCommand::Login {
                username: user("bob"),
            })
            .await
            == err(ErrorCode::DupSess)
    );
    match bob.push(Duration::from_secs(10)).await {
        Some(ServerCommand::Hook(HookEvent::DupSess { ip })) => assert_eq!(ip, "127.0.0.1"),
        other => panic!("expected the DUPSESS hook, got {other:?}"),
    }

    // carol logs in on a and on c at the same time: one session wins.
    let (mut setup, _) = RawClient::connect(&n.rt, n.addr(0)).await;
    assert_eq!(setup.register("carol").await, ServerCommand::Ok);
    let (mut on_a, _) = RawClient::connect(&n.rt, n.addr(0)).await;
    let (mut on_c, _) = RawClient::connect(&n.rt, n.addr(2)).await;
    let (a, c) = futures_lite::future::zip(on_a.login("carol"), on_c.login("carol")).await;
    let outcomes = [a.0, c.0];
    assert_eq!(
        outcomes.iter().filter(|r| **r == ServerCommand::Ok).count(),
        1,
        "exactly one login wins: {outcomes:?}"
    );
    assert!(
        outcomes.contains(&err(ErrorCode::DupSess)),
        "the other gets DUPSESS: {outcomes:?}"
    );
}

/// USRS ONLINE lists the users of every node; NEWLOGIN and NEWLOGOUT reach
/// subscribers on every node.
async fn lists_and_hooks(n: Nodes) {
    let mut carol = n.login(2, "carol", true).await;
    assert_eq!(
        carol.call(ClientCommand::Sub(Hook::All)).await,
        ServerCommand::Ok
    );
    let _alice = n.login(0, "alice", true).await;
    match carol.push(Duration::from_secs(10)).await {
        Some(ServerCommand::Hook(HookEvent::NewLogin { username, .. })) => {
            assert_eq!(username, user("alice"))
        }
        other => panic!("expected NEWLOGIN alice, got {other:?}"),
    }
    let mut dave = n.login(1, "dave", true).await;
    match carol.push(Duration::from_secs(10)).await {
        Some(ServerCommand::Hook(HookEvent::NewLogin { username, .. })) => {
            assert_eq!(username, user("dave"))
        }
        other => panic!("expected NEWLOGIN dave, got {other:?}"),
    }
    within!(
        10,
        "node c lists everyone",
        carol.online_names().await == ["alice", "carol", "dave"]
    );
    assert_eq!(dave.call(ClientCommand::Logout).await, ServerCommand::Ok);
    match carol.push(Duration::from_secs(10)).await {
        Some(ServerCommand::Hook(HookEvent::NewLogout { username })) => {
            assert_eq!(username, user("dave"))
        }
        other => panic!("expected NEWLOGOUT dave, got {other:?}"),
    }
    within!(
        10,
        "dave is no longer listed",
        carol.online_names().await == ["alice", "carol"]
    );
}

/// A message for a user online nowhere is stored, and caught up on
/// whichever node the user logs in.
async fn offline_then_elsewhere(n: Nodes) {
    let mut alice = n.login(0, "alice", true).await;
    let (mut reg, _) = RawClient::connect(&n.rt, n.addr(1)).await;
    assert_eq!(reg.register("dave").await, ServerCommand::Ok);
    assert_eq!(
        alice.call(tagged_msg("dave", "alice", 7, SIZE)).await,
        ServerCommand::Ok
    );
    let mut dave = n.login(2, "dave", false).await;
    let id = dave.send(&ClientCommand::Reciv).await;
    assert_eq!(dave.reply(id).await, ServerCommand::Ok);
    let got = dave.push(Duration::from_secs(10)).await.unwrap();
    let tagged = read_tagged(&got, SIZE);
    assert_eq!((tagged.sender.as_str(), tagged.index), ("alice", 7));
}

/// The administrative operations act on sessions wherever they are: KICK,
/// CHGPERMS (PERMSCHG from the session's node) and DEREG of users of
/// another node; BROADCAST reaches every node's users; a MOTD change greets
/// new connections on every node; SHTDWN stops every node.
async fn admin_across_nodes(n: Nodes) {
    let admin = |op| ClientCommand::Admin(op);
    let (mut o, _) = RawClient::connect_tls(&n.rt, n.nodes[0].tls_addr().unwrap()).await;
    assert_eq!(o.register("alice").await, ServerCommand::Ok);
    n.nodes[0].store().set_permission("alice", 2).await.unwrap();
    assert_eq!(o.login("alice").await.0, ServerCommand::Ok);
    let mut bob = n.login(1, "bob", true).await;
    let mut carol = n.login(2, "carol", true).await;
    let mut dave = n.login(1, "dave", true).await;
    assert_eq!(
        carol.call(ClientCommand::Sub(Hook::PermsChg)).await,
        ServerCommand::Ok
    );
    within!(
        10,
        "node a lists everyone",
        o.online_names().await == ["alice", "bob", "carol", "dave"]
    );

    // CHGPERMS of bob (on b): his session takes the level, carol (on c)
    // hears PERMSCHG once, and USRS ONLINE_PERMS shows it.
    assert_eq!(
        o.call(admin(gochat_proto::AdminCommand::ChangePerms {
            username: user("bob"),
            permission: 1,
        }))
        .await,
        ServerCommand::Ok
    );
    match carol.push(Duration::from_secs(10)).await {
        Some(ServerCommand::Hook(HookEvent::PermsChg {
            username,
            permission,
        })) => assert_eq!((username, permission), (user("bob"), 1)),
        other => panic!("expected PERMSCHG bob, got {other:?}"),
    }
    assert!(
        carol.quiet(Duration::from_millis(300)).await,
        "PERMSCHG once"
    );
    // Every node lists everyone with their levels: alice 2 on a, bob now 1.
    let with_levels = |entries: &[gochat_proto::UserEntry]| -> Vec<(String, Option<u8>)> {
        entries
            .iter()
            .map(|e| (e.name.as_str().to_string(), e.permission))
            .collect()
    };
    let expected = vec![
        ("alice".to_string(), Some(2)),
        ("bob".to_string(), Some(1)),
        ("carol".to_string(), Some(0)),
        ("dave".to_string(), Some(0)),
    ];
    for (node, c) in [("a", &mut o), ("c", &mut carol)] {
        within!(10, &format!("node {node} lists the levels"), {
            match c.call(ClientCommand::Usrs(UserList::OnlinePerms)).await {
                ServerCommand::Usrs(list) => with_levels(&list) == expected,
                other => panic!("USRS ONLINE_PERMS on {node}: {other:?}"),
            }
        });
    }

    // BROADCAST (over TLS) reaches bob and carol on the other nodes.
    let text = bytes::Bytes::from_static(b"maintenance at noon");
    assert_eq!(
        o.call(admin(gochat_proto::AdminCommand::Broadcast { text }))
            .await,
        ServerCommand::Ok
    );
    for (name, c) in [("bob", &mut bob), ("carol", &mut carol)] {
        match c.push(Duration::from_secs(10)).await {
            Some(ServerCommand::Reciv {
                sender, ciphertext, ..
            }) => {
                assert_eq!(sender, user("alice"));
                let plain = gochat_proto::crypto::decrypt(
                    &gochat_testkit::private_key(name),
                    &mut getrandom::SysRng,
                    &ciphertext,
                )
                .unwrap();
                assert_eq!(plain, b"ADMINISTRATIVE BROADCAST:\nmaintenance at noon");
            }
            other => panic!("{name}: expected the broadcast, got {other:?}"),
        }
    }

    // KICK of carol (on c) closes her session there; unknown users are NOTFOUND.
    assert_eq!(
        o.call(admin(gochat_proto::AdminCommand::Kick {
            username: user("carol"),
        }))
        .await,
        ServerCommand::Ok
    );
    carol.until_closed(Duration::from_secs(10)).await;
    assert_eq!(
        o.call(admin(gochat_proto::AdminCommand::Kick {
            username: user("nobody"),
        }))
        .await,
        err(ErrorCode::NotFound)
    );

    // DEREG of dave (on b) closes his session.
    assert_eq!(
        o.call(admin(gochat_proto::AdminCommand::Dereg {
            username: user("dave"),
        }))
        .await,
        ServerCommand::Ok
    );
    dave.until_closed(Duration::from_secs(10)).await;

    // A new MOTD greets new connections on every node.
    let motd = bytes::Bytes::from_static(b"cluster-wide news");
    assert_eq!(
        o.call(admin(gochat_proto::AdminCommand::Motd {
            text: motd.clone()
        }))
        .await,
        ServerCommand::Ok
    );
    for node in 0..3 {
        within!(
            10,
            format!("node {node} greets with the new MOTD"),
            RawClient::connect(&n.rt, n.addr(node)).await.1 == motd
        );
    }

    // SHTDWN stops every node: bob (on b) gets SHTDWN and is closed.
    let stamp = unix_now() + 1;
    assert_eq!(
        o.call(admin(gochat_proto::AdminCommand::Shutdown { stamp }))
            .await,
        ServerCommand::Ok
    );
    assert_eq!(
        bob.push(Duration::from_secs(10)).await,
        Some(ServerCommand::Shutdown { stamp: Some(stamp) }),
        "bob (on b) is told"
    );
    // Every node stops (as its binary's main loop would see), and bob's
    // connection with it.
    let Nodes { nodes, .. } = n;
    for (i, node) in nodes.into_iter().enumerate() {
        tokio::time::timeout(Duration::from_secs(15), node.wait())
            .await
            .unwrap_or_else(|_| panic!("node {i} did not stop"));
    }
    bob.until_closed(Duration::from_secs(5)).await;
}

/// A reusable TLS token issued by one node works on another once its
/// session ended; a wrong one does not.
async fn tokens_across_nodes(n: Nodes) {
    let tls = |node: usize| n.nodes[node].tls_addr().unwrap();
    let (mut a, _) = RawClient::connect_tls(&n.rt, tls(0)).await;
    assert_eq!(a.register("alice").await, ServerCommand::Ok);
    let (reply, token) = a.login("alice").await;
    assert_eq!(reply, ServerCommand::Ok);
    let token = token.unwrap();
    let login_token = |token: &bytes::Bytes| ClientCommand::LoginToken {
        username: user("alice"),
        token: token.clone(),
    };
    // While the session lasts, a token login elsewhere is a second session.
    let (mut b, _) = RawClient::connect_tls(&n.rt, tls(1)).await;
    within!(
        10,
        "node b knows alice's session",
        b.call(login_token(&token)).await == err(ErrorCode::DupSess)
    );
    assert_eq!(a.call(ClientCommand::Logout).await, ServerCommand::Ok);
    let mut wrong = token.to_vec();
    wrong[0] = if wrong[0] == b'a' { b'b' } else { b'a' };
    within!(
        10,
        "node b sees the session over",
        b.call(login_token(&bytes::Bytes::from(wrong.clone())))
            .await
            == err(ErrorCode::Handshake)
    );
    assert_eq!(b.call(login_token(&token)).await, ServerCommand::Ok);
}

/// Reads `count` RECIVs from alice on `c`: her messages 0 to `count`, in
/// order, each once.
async fn from_alice_in_order(c: &mut RawClient<TokioRuntime>, count: usize) {
    for i in 0..count {
        let push = c
            .push(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("message {i} never came"));
        let tagged = read_tagged(&push, SIZE);
        assert_eq!((tagged.sender.as_str(), tagged.index), ("alice", i));
    }
}

/// A user of another node who does not read: what overflows his queue on
/// his node is stored there, every message still OK'd; when he reads again
/// each one comes, once and in order.
async fn owner_spills(n: Nodes) {
    let (mut alice, mut bob) = n.alice_and_bob().await;
    // About 2 MB: more than bob's socket buffers and his 64 KiB queue on b.
    let count = 6000;
    let mut ids = std::collections::VecDeque::new();
    for i in 0..count {
        ids.push_back(alice.send(&tagged_msg("bob", "alice", i, SIZE)).await);
        if ids.len() > 512 {
            let id = ids.pop_front().unwrap();
            assert_eq!(alice.reply(id).await, ServerCommand::Ok, "a message to bob");
        }
    }
    for id in ids {
        assert_eq!(alice.reply(id).await, ServerCommand::Ok, "a message to bob");
    }
    // Node b stored what overflowed (the OKs came once b had stored it).
    assert!(
        n.stored_for("bob", 10).await > 0,
        "node b stored nothing for bob"
    );
    from_alice_in_order(&mut bob, count).await;
    assert!(bob.quiet(Duration::from_millis(300)).await, "nothing more");
    assert_eq!(n.stored_for("bob", 10).await, 0);
}

/// Bob's node has a small queue for him.
fn small_queue_on_b(node: &str, s: &mut Settings) {
    if node == "b" {
        s.max_queued_bytes = 64 * 1024;
    }
}

/// `max_clients` and its waiting line are per node: node a, full with one
/// connection, keeps the next one waiting (no HELLO) while node b greets at
/// once; when a's place frees, the waiting one gets HELLO.
async fn max_clients_per_node(n: Nodes) {
    let mut first = RawClient::connect_raw(&n.rt, n.addr(0)).await;
    assert!(matches!(
        first.push(Duration::from_secs(5)).await,
        Some(ServerCommand::Hello { .. })
    ));
    let mut waiting = RawClient::connect_raw(&n.rt, n.addr(0)).await;
    assert!(
        waiting.quiet(Duration::from_millis(500)).await,
        "node a is full: the second connection waits"
    );
    let (_b, _) = RawClient::connect(&n.rt, n.addr(1)).await;
    drop(first);
    assert!(matches!(
        waiting.push(Duration::from_secs(5)).await,
        Some(ServerCommand::Hello { .. })
    ));
}

/// Node a takes one client at a time.
fn one_client_on_a(node: &str, s: &mut Settings) {
    if node == "a" {
        s.max_clients = 1;
    }
}

/// A node named as holding a user's session that does not have the user
/// (gone meanwhile) answers that it did not take the messages: the sender's
/// node stores them (each OK'd) and they are caught up on the next login.
async fn owner_without_the_user(n: Nodes) {
    use gochat_server::cluster::{NODES_BUCKET, SESSIONS_BUCKET, SessionValue};
    let mut alice = n.login(0, "alice", true).await;
    drop(n.login(2, "dave", true).await);
    within!(
        10,
        "dave logged out",
        alice.online_names().await == ["alice"]
    );
    // dave's entry names node b, in its current run; b does not have him.
    let client = async_nats::connect(n.nats_url.as_str()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let beat = js
        .get_key_value(NODES_BUCKET)
        .await
        .unwrap()
        .get("b")
        .await
        .unwrap()
        .expect("b's heartbeat");
    let run: u64 = std::str::from_utf8(&beat).unwrap().parse().unwrap();
    let sessions = js.get_key_value(SESSIONS_BUCKET).await.unwrap();
    let value = SessionValue {
        node: "b".into(),
        run,
        permission: 0,
    };
    sessions.put("dave", value.encode()).await.unwrap();
    within!(
        10,
        "node a lists dave on b",
        alice.online_names().await == ["alice", "dave"]
    );
    for i in 0..3 {
        assert_eq!(
            alice.call(tagged_msg("dave", "alice", i, SIZE)).await,
            ServerCommand::Ok
        );
    }
    assert_eq!(n.stored_for("dave", 10).await, 3, "stored by node a");
    sessions.delete("dave").await.unwrap();
    let (mut dave, _) = RawClient::connect(&n.rt, n.addr(2)).await;
    within!(
        10,
        "dave can log in on c",
        dave.login("dave").await.0 == ServerCommand::Ok
    );
    let id = dave.send(&ClientCommand::Reciv).await;
    assert_eq!(dave.reply(id).await, ServerCommand::Ok);
    for i in 0..3 {
        let push = dave.push(Duration::from_secs(10)).await.expect("a RECIV");
        assert_eq!(read_tagged(&push, SIZE).index, i);
    }
}

macro_rules! cluster_tests {
    ($($name:ident),* $(,)?) => {
        mod mariadb { $( #[test] fn $name() { super::on_cluster(gochat_testkit::Db::MariaDb, super::$name); } )* }
        mod postgres { $( #[test] fn $name() { super::on_cluster(gochat_testkit::Db::Postgres, super::$name); } )* }
    };
}

mod mariadb_owner {
    #[test]
    fn owner_spills() {
        super::on_cluster_with(
            gochat_testkit::Db::MariaDb,
            super::small_queue_on_b,
            super::owner_spills,
        );
    }
}

mod per_node_limits {
    #[test]
    fn max_clients_per_node() {
        super::on_cluster_with(
            gochat_testkit::Db::Postgres,
            super::one_client_on_a,
            super::max_clients_per_node,
        );
    }
}

mod postgres_owner {
    #[test]
    fn owner_spills() {
        super::on_cluster_with(
            gochat_testkit::Db::Postgres,
            super::small_queue_on_b,
            super::owner_spills,
        );
    }
}

cluster_tests!(
    owner_without_the_user,
    messages_cross_nodes,
    one_session_per_user,
    lists_and_hooks,
    offline_then_elsewhere,
    admin_across_nodes,
    tokens_across_nodes
);

/// Settings a node cannot run with are refused at start, with a message
/// that says what to change.
#[test]
fn refused_settings() {
    use gochat_testkit::smol_rt;
    let mysql = "mysql://root@127.0.0.1:3306/test".to_string();
    let cluster = |url: String, node: Option<&str>| {
        let mut s = settings(url);
        s.cluster_url = Some("nats://127.0.0.1:1".into());
        s.node_id = node.map(str::to_string);
        s
    };
    let rt = tokio_rt();
    let sqlite = ScratchDb::sqlite();
    let err = rt
        .block_on(gochat_server::start(
            rt.clone(),
            &cluster(sqlite.url().to_string(), Some("a")),
        ))
        .err()
        .expect("SQLite is refused")
        .to_string();
    assert!(err.contains("share one database"), "{err}");
    let err = rt
        .block_on(gochat_server::start(
            rt.clone(),
            &cluster(mysql.clone(), Some("a.b")),
        ))
        .err()
        .expect("a bad node id is refused")
        .to_string();
    assert!(err.contains("node id \"a.b\" is not valid"), "{err}");
    let smol = smol_rt();
    let err = smol
        .block_on(gochat_server::start(
            smol.clone(),
            &cluster(mysql, Some("a")),
        ))
        .err()
        .expect("smol is refused")
        .to_string();
    assert!(err.contains("runs on the tokio runtime"), "{err}");
}
