//! The line shell against the workspace's server on loopback: scripted
//! sessions through `shell::run`, two live shells talking, the original's
//! crash cases as error lines, exit statuses, files written, and the real
//! binary with piped standard input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod pty_support;
mod shell_support;
mod shell_tests;

use common::*;
use shell_support::*;

use gochat_client::service::Service;
use gochat_client::store::LocalStore;

/// Servers, connecting and disconnecting, and the original's crash cases
/// (`CONN -keep` alone, MSG without text, RECIV and PERMS disconnected, EOF),
/// each an error line; the status is 1.
#[test]
fn servers_connection_and_crash_cases() {
    run(smol_rt(), |rt| async move {
        let (_server, port) = server_with(&rt, &[]).await;
        let text = format!(
            "REGSERVER test 127.0.0.1 {port}\n\
             servers\n\
             SERVERCONFIG test\n\
             CONN -keep\n\
             RECIV\n\
             PERMS bob\n\
             MSG\n\
             MSG bob\n\
             DISCN\n\
             conn -noverify test\n\
             conn test -keep\n\
             CONN test\n\
             DISCN\n\
             CONN 127.0.0.1 {port} -keep\n\
             frobnicate now\n"
        );
        let (status, out) = script(&rt, service().await, &client_settings(), &text).await;
        assert_eq!(status, 1, "{out}");
        let ok = lines_with(&out, "[OK] ");
        assert_eq!(
            ok,
            vec![
                format!("[OK] Server test (127.0.0.1:{port}) successfully registered").as_str(),
                "[OK] successfully connected to the server",
                "[OK] successfully disconnected from the server",
                "[OK] successfully connected to the server",
            ],
            "{out}"
        );
        assert!(
            out.contains(&format!("all servers:\n- test (127.0.0.1:{port})\n")),
            "{out}"
        );
        assert_contains_all(
            &out,
            &[
                "Available configuration objects:\nServer.Address = 127.0.0.1\n",
                "[INFO] Server MOTD (message of the day):\nWelcome to the test server!\n",
            ],
        );
        let errors = lines_with(&out, "[ERROR] ");
        let expected = [
            "[ERROR] CONN: not enough arguments",
            "[ERROR] RECIV: not connected to a server",
            "[ERROR] PERMS: not connected to a server",
            "[ERROR] MSG: not enough arguments",
            "[ERROR] MSG: no message text given",
            "[ERROR] DISCN: not connected to a server",
            "[ERROR] conn: cannot skip verification on a non-TLS endpoint",
            "[ERROR] CONN: already connected to a server",
            "[ERROR] frobnicate: command not found",
        ];
        assert_eq!(errors.len(), expected.len(), "{out}");
        for (line, want) in errors.iter().zip(expected) {
            assert!(
                line.starts_with(want),
                "{line:?} should start with {want:?}\n{out}"
            );
        }
        // A transcript: every command after its prompt.
        assert!(
            out.starts_with("(not connected) gochat() > REGSERVER test"),
            "{out}"
        );
        assert!(
            out.contains("\ngochat() > CONN test\n[ERROR] CONN: already connected"),
            "{out}"
        );
    });
}

/// CONN with TLS on to a plain-TCP server: the error says in plain words that
/// the server does not seem to speak TLS there and names the SETSERVER that
/// turns TLS off; after it, CONN connects.
#[test]
fn conn_with_tls_to_a_plain_server_says_how_to_turn_tls_off() {
    run(smol_rt(), |rt| async move {
        let (server, port) = server_with(&rt, &[]).await;
        let text = format!(
            "REGSERVER plain 127.0.0.1 {port} -tls\n\
             CONN plain\n\
             SETSERVER plain Server.TLS false\n\
             CONN plain\n"
        );
        let (status, out) = script(&rt, service().await, &client_settings(), &text).await;
        assert_eq!(status, 1, "one command failed\n{out}");
        let errors = lines_with(&out, "[ERROR] ");
        assert_eq!(errors.len(), 1, "{out}");
        assert!(
            errors[0].starts_with(&format!(
                "[ERROR] CONN: the server at 127.0.0.1:{port} does not seem to speak TLS on \
                 that port"
            )),
            "{out}"
        );
        assert!(
            errors[0].ends_with(
                "If it is a plain TCP server, turn TLS off for it: SETSERVER plain Server.TLS \
                 false, then CONN plain again"
            ),
            "{out}"
        );
        assert_contains_all(
            &out,
            &[
                "[OK] successfully changed Server.TLS to false\n",
                "[OK] successfully connected to the server",
            ],
        );
        server.shutdown();
    });
}

/// Bob's HISTORY with alice shows his last message and hers before it.
async fn expect_history_with_alice<R: gochat_runtime::Runtime>(rt: &R, b: &mut LiveShell) {
    b.send("HISTORY alice");
    b.expect(rt, "gochat(bob) > HISTORY alice\n").await;
    let history = b.expect(rt, "bob: quokka sighting confirmed\n").await;
    assert!(
        has_message(&history, "alice", "zebra crossing at noon"),
        "{history}"
    );
}

/// HISTORY on sealed history, with the client's database in a file: bob's
/// conversation reads back in his shell, the file holds none of its texts,
/// and after a restart of his client (the key unlocked again by LOGIN) the
/// history reads back again.
#[test]
fn history_is_sealed_on_disk() {
    run(smol_rt(), |rt| async move {
        let (server, port) = server_with(&rt, &["alice", "bob"]).await;
        let keys = temp_dir("gochat_shell_sealed_keys");
        key_files(&keys, &["alice", "bob"]);
        let db_dir = temp_dir("gochat_shell_sealed_db");
        let db = db_dir.join("client.db");
        let _ = std::fs::remove_file(&db);
        let setup = |name: &str| setup_lines(port, &keys, name);
        let mut a = LiveShell::start(&rt, "alice", service().await, client_settings());
        a.send(&setup("alice"));
        a.expect(&rt, "online users: alice\n").await;
        let store = LocalStore::open(&db).await.unwrap();
        let mut b = LiveShell::start(&rt, "bob", Service::new(store.clone()), client_settings());
        b.send(&setup("bob"));
        b.expect(&rt, "online users: alice, bob\n").await;
        a.send("MSG bob zebra crossing at noon");
        b.expect(&rt, "alice: zebra crossing at noon\n").await;
        b.send("MSG alice quokka sighting confirmed");
        a.expect(&rt, "bob: quokka sighting confirmed\n").await;
        expect_history_with_alice(&rt, &mut b).await;
        b.send("LOGOUT");
        b.expect(&rt, "gochat(bob) > LOGOUT\n").await;
        let (status, out) = b.finish(&rt).await;
        assert_eq!(status, 0, "{out}");
        store.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let Ok(bytes) = std::fs::read(db_dir.join(format!("client.db{suffix}"))) else {
                continue;
            };
            for text in [&b"zebra crossing"[..], b"quokka sighting"] {
                assert!(
                    !bytes.windows(text.len()).any(|w| w == text),
                    "client.db{suffix} holds a message text"
                );
            }
        }
        // A new run of bob's client: LOGIN unlocks the history again.
        let store = LocalStore::open(&db).await.unwrap();
        let mut b = LiveShell::start(&rt, "bob", Service::new(store.clone()), client_settings());
        b.send(&format!("CONN test\n{}", login_lines("BOB")));
        b.expect(&rt, "online users: alice, bob\n").await;
        expect_history_with_alice(&rt, &mut b).await;
        let (status, out) = b.finish(&rt).await;
        assert_eq!(status, 0, "{out}");
        store.close().await;
        let (status, out) = a.finish(&rt).await;
        assert_eq!(status, 0, "{out}");
        server.shutdown();
    });
}

/// Two shells: IMPORT with an absolute path, LOGIN (catch-up, hooks, online
/// users), MSG to a user never requested, the receiver printing it, HISTORY,
/// REQ, USRS (with permissions), PERMS, SUB/UNSUB and hook lines.
#[test]
fn two_shells_talk() {
    run(smol_rt(), |rt| async move {
        let (_server, port) = server_with(&rt, &["alice", "bob", "carol"]).await;
        let keys = temp_dir("gochat_shell_keys");
        key_files(&keys, &["alice", "bob"]);
        let setup = |name: &str| setup_lines(port, &keys, name);
        let mut a = LiveShell::start(&rt, "alice", service().await, client_settings());
        a.send(&setup("alice"));
        a.expect(
            &rt,
            "[OK] local user alice successfully added to the database\n",
        )
        .await;
        let login = a.expect(&rt, "online users: alice\n").await;
        assert_contains_all(
            &login,
            &[
                "gochat() > LOGIN ALICE\nalice's password: \n",
                "[OK] login successful!\n[INFO] Welcome, alice\n",
                "[INFO] Logged in with permission level 0\n",
            ],
        );
        assert!(
            !login.contains(PASSWORD),
            "passwords are never shown:\n{login}"
        );

        let mut b = LiveShell::start(&rt, "bob", service().await, client_settings());
        b.send(&setup("bob"));
        b.expect(&rt, "online users: alice, bob\n").await;
        a.expect(&rt, "[HOOK] bob logged in with permission 0\n")
            .await;

        a.send("MSG Bob hello   there, bob");
        a.expect(
            &rt,
            "gochat(alice) > MSG Bob hello   there, bob\n[OK] message sent correctly\n",
        )
        .await;
        b.expect(&rt, "alice: hello   there, bob\n").await;
        assert!(
            has_message(&b.output(), "alice", "hello   there, bob"),
            "{}",
            b.output()
        );
        b.send("MSG alice hi alice");
        a.expect(&rt, "bob: hi alice\n").await;

        b.send("HISTORY alice");
        b.expect(&rt, "gochat(bob) > HISTORY alice\n").await;
        let history = b.expect(&rt, "bob: hi alice\n").await;
        let lines: Vec<&str> = history.lines().collect();
        assert_eq!(lines.len(), 2, "{history}");
        assert!(
            has_message(lines[0], "alice", "hello   there, bob"),
            "{history}"
        );
        assert!(has_message(lines[1], "bob", "hi alice"), "{history}");
        b.send("HISTORY alice 1\nHISTORY carol\nHISTORY alice zero");
        let one = b.expect(&rt, "[INFO] no messages with carol\n").await;
        assert_eq!(
            one.lines().filter(|l| l.contains("alice: ")).count(),
            0,
            "{one}"
        );
        assert_eq!(
            one.lines().filter(|l| l.contains("bob: hi alice")).count(),
            1,
            "{one}"
        );
        b.expect(&rt, "[ERROR] HISTORY: invalid count zero").await;

        a.send("REQ carol\nREQ alice\nUSRS requested");
        a.expect(
            &rt,
            "[OK] external user carol successfully added to the database\n",
        )
        .await;
        a.expect(&rt, "[ERROR] REQ: cannot request yourself\n")
            .await;
        a.expect(&rt, &format!("all external users:\nbob (test - 127.0.0.1:{port})\ncarol (test - 127.0.0.1:{port})\n"))
            .await;
        a.send("USRS online\nusrs ONLINE -perms\nUSRS -perms all\nUSRS local server\nUSRS local all\nUSRS bogus");
        a.expect(&rt, "online users:\nalice\nbob\n").await;
        a.expect(
            &rt,
            "online users:\nalice (permission 0)\nbob (permission 0)\n",
        )
        .await;
        a.expect(&rt, "all users:\n").await;
        a.expect(&rt, "carol (permission 0)\n").await;
        a.expect(
            &rt,
            &format!("local users from test - 127.0.0.1:{port}:\nalice\n"),
        )
        .await;
        a.expect(
            &rt,
            &format!("all local users:\nalice (test - 127.0.0.1:{port})\n"),
        )
        .await;
        a.expect(&rt, "[ERROR] USRS: unknown usrs option provided")
            .await;
        a.send("PERMS Bob");
        a.expect(&rt, "bob: Permission level 0\n").await;

        // Hooks: SUB ALL came with the login; UNSUB then SUB one.
        b.send("UNSUB new_logout\nSUB new_logout\nSUB bogus");
        b.expect(&rt, "UNSUB new_logout\n[OK] successfully unsubscribed!\n")
            .await;
        b.expect(&rt, "SUB new_logout\n[OK] successfully subscribed!\n")
            .await;
        b.expect(&rt, "[ERROR] SUB: invalid hook provided").await;
        a.send("LOGOUT");
        a.expect(&rt, "[OK] logged out\n").await;
        b.expect(&rt, "[HOOK] alice logged out\n").await;
        a.send("MSG bob still there?");
        a.expect(&rt, "[ERROR] MSG: you are not logged in\n").await;

        let (status, out) = b.finish(&rt).await;
        assert_eq!(status, 1, "SUB bogus and HISTORY failed:\n{out}");
        let (status, out) = a.finish(&rt).await;
        assert_eq!(status, 1, "{out}");
    });
}
