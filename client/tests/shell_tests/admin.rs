//! ADMIN with an owner, permission and duplicate-session hooks, the
//! shutdown notice in seconds, a kick seen as a disconnection, and the
//! configured automatic connection over TLS.

use gochat_client::config::AutoConnect;
use gochat_proto::{ClientCommand, ServerCommand};

use crate::common::*;
use crate::shell_support::*;

/// On tokio: an owner changes bob's permission (both see the hook), sets the
/// MOTD, announces a shutdown and kicks bob; bob's errors and disconnection.
#[test]
fn admin_operations_and_hooks() {
    run(tokio_rt(), |rt| async move {
        let server = start_server(&rt, &settings()).await;
        register_fixtures(&rt, &server, &["alice", "bob", "carol"]).await;
        // The owner is made the way an operator makes one: the server's admin command.
        gochat_server::shell::set_owner(server.store(), "alice")
            .await
            .unwrap();
        let port = server.tcp_addr().port();
        let keys = temp_dir("gochat_shell_admin_keys");
        key_files(&keys, &["alice", "bob"]);
        let setup = |name: &str| {
            format!(
                "CONN 127.0.0.1 {port}\n{}{}",
                import_lines(name, &keys),
                login_lines(name)
            )
        };
        let mut a = LiveShell::start(&rt, "alice", service().await, client_settings());
        a.send(&setup("alice"));
        a.expect(&rt, "[INFO] Logged in with permission level 2\n")
            .await;
        let mut b = LiveShell::start(&rt, "bob", service().await, client_settings());
        b.send(&setup("bob"));
        b.expect(&rt, "online users: alice (permission 2), bob\n")
            .await;

        b.send("ADMIN kick alice");
        b.expect(&rt, "[ERROR] ADMIN: missing privileges to run\n")
            .await;
        a.send("admin SETPERMS Bob 1");
        a.expect(&rt, "[OK] admin operation setperms sent successfully\n")
            .await;
        a.expect(&rt, "[HOOK] the permission of bob changed to 1\n")
            .await;
        b.expect(&rt, "[HOOK] the permission of bob changed to 1\n")
            .await;
        a.send("PERMS bob\nADMIN motd Be nice\nADMIN bogus x\nADMIN setperms bob\nADMIN setperms bob 300");
        a.expect(&rt, "bob: Permission level 1\n").await;
        a.expect(&rt, "[OK] admin operation motd sent successfully\n")
            .await;
        a.expect(&rt, "[ERROR] ADMIN: invalid admin operation bogus")
            .await;
        a.expect(&rt, "[ERROR] ADMIN: not enough arguments").await;
        a.expect(&rt, "[ERROR] ADMIN: invalid permission level 300\n")
            .await;

        // Someone else tries to log in as alice: her shell shows the IP.
        let (mut raw, _motd) = RawClient::connect(&rt, server.tcp_addr()).await;
        raw.call(ClientCommand::Login {
            username: user("alice"),
        })
        .await;
        a.expect(
            &rt,
            "[HOOK] someone tried to log in to this session's account from 127.0.0.1\n",
        )
        .await;

        // A message nobody can read is shown with the reason.
        let (mut carol, _motd) = RawClient::connect(&rt, server.tcp_addr()).await;
        assert_eq!(
            carol.login("carol").await.0,
            ServerCommand::Ok,
            "LOGIN carol"
        );
        let garbage = ClientCommand::Msg {
            to: user("alice"),
            stamp: 1_750_000_000,
            ciphertext: bytes::Bytes::from_static(b"not a ciphertext"),
        };
        carol.call(garbage).await;
        a.expect(&rt, "[ERROR] unreadable message from carol at [")
            .await;

        // The shutdown notice counts seconds (the original printed nanoseconds).
        a.send("ADMIN shutdown 2");
        a.expect(&rt, "[OK] admin operation shutdown sent successfully\n")
            .await;
        let notice = b.expect(&rt, " seconds\n").await;
        let line = notice.lines().last().unwrap();
        let seconds: i64 = line
            .strip_prefix("[SHTDWN] Notice: Server Default-1 will shutdown in ")
            .and_then(|rest| rest.strip_suffix(" seconds"))
            .unwrap_or_else(|| panic!("{line:?}"))
            .parse()
            .unwrap();
        assert!((100..=120).contains(&seconds), "{line}");

        a.send("ADMIN kick bob");
        a.expect(&rt, "[OK] admin operation kick sent successfully\n")
            .await;
        b.expect(&rt, "[INFO] disconnected from the server: ").await;
        b.send("RECIV\nPERMS alice");
        b.expect(
            &rt,
            "(not connected) gochat() > RECIV\n[ERROR] RECIV: not connected to a server\n",
        )
        .await;
        b.expect(&rt, "[ERROR] PERMS: not connected to a server\n")
            .await;

        let (status, out) = a.finish(&rt).await;
        assert_eq!(status, 1, "{out}");
        let (status, out) = b.finish(&rt).await;
        assert_eq!(status, 1, "{out}");
        server.shutdown();
    });
}

/// The configured server is connected at start-up over TLS, checked against
/// `--ca-file`, and stored as `Default` with TLS on; `-noverify` warns; with
/// no CA file the self-signed certificate is refused.
#[test]
fn auto_connect_over_tls() {
    run(smol_rt(), |rt| async move {
        let server = start_server(&rt, &settings()).await;
        let port = server.tls_addr().unwrap().port();
        let mut s = client_settings();
        s.ca_file = Some(test_cert().cert_file.clone());
        s.auto_connect = Some(AutoConnect {
            address: "localhost".into(),
            port,
            tls: true,
            verify: true,
        });
        let svc = service().await;
        let script_text = "SERVERS\nDISCN\nCONN Default -noverify -keep\nVER\n";
        let (status, out) = script(&rt, svc.clone(), &s, script_text).await;
        assert_eq!(status, 0, "{out}");
        assert!(
            out.starts_with("[OK] successfully connected to the server\n"),
            "{out}"
        );
        assert!(
            out.contains(&format!(
                "all servers:\n- Default (localhost:{port}, TLS)\n"
            )),
            "{out}"
        );
        assert!(out.contains("[INFO] WARNING: -noverify"), "{out}");
        assert_eq!(
            lines_with(&out, "[OK] successfully connected").len(),
            2,
            "{out}"
        );
        let record = svc
            .store()
            .server_by_name("Default")
            .await
            .unwrap()
            .unwrap();
        assert!(record.tls);

        let mut unknown_ca = s.clone();
        unknown_ca.ca_file = None;
        let (status, out) = script(&rt, svc, &unknown_ca, "SERVERS\n").await;
        assert_eq!(status, 1, "{out}");
        assert!(out.starts_with("[ERROR] CONN: TLS"), "{out}");
        assert!(
            out.contains("(not connected) gochat() > SERVERS\n"),
            "{out}"
        );
    });
}
