//! The real `gochat-client` binary in a pseudo-terminal (120x40), its screen
//! read with vt100, against a server on loopback (TLS) and a second client
//! driven with the service library: add the server, connect, import a
//! fixture key, log in, open a conversation, send; then see the reply. A
//! saved server connects at start and logs in at connect.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod pty_support;

use std::path::Path;

use common::{
    PASSWORD, private_pem, register_fixtures, settings, smol_rt, start_server, temp_dir, test_cert,
    wait_for,
};
use gochat_client::ClientEvent;
use gochat_runtime::Runtime;
use pty_support::{Pty, client_command, save_auto_login_server, server_with_bob_online};

/// Starts the TUI binary in `dir` in a pseudo-terminal of 40 rows and `cols`
/// columns (trusting the test certificate).
fn spawn_tui(dir: &Path, cols: u16) -> Pty {
    let mut cmd = client_command(dir, &["--config", "config.json", "--db", "client.db"]);
    cmd.arg("--ca-file");
    cmd.arg(&test_cert().cert_file);
    cmd.env("TZ", "UTC");
    Pty::spawn(cmd, 40, cols)
}

/// Adds a server from the TUI (Ctrl-S, Ctrl-N): `name`, then, once the
/// popup shows every one of `popup`, `address` (TLS on, the default).
fn add_server(pty: &Pty, name: &str, popup: &[&str], address: &str) {
    pty.press("\x13");
    pty.press("\x0e");
    pty.wait_for(&["Enter server name..."]);
    pty.line(name);
    pty.wait_for(popup);
    pty.line(address);
}

#[test]
fn tui_chats_with_a_second_client() {
    let rt = smol_rt();
    // The second client: bob, through the service library.
    let (server, tls, _bob, bob_conn) = server_with_bob_online(&rt);
    let bob_events = bob_conn.events();

    // The TUI's folder: config, database, and alice's key to import.
    let dir = temp_dir("gochat_tui_pty");
    let key_file = dir.join("alice.pem");
    std::fs::write(&key_file, private_pem("alice")).unwrap();

    let mut pty = spawn_tui(&dir, 120);

    pty.wait_for(&["Welcome to gochat!", "Buffers", "Servers", "Local"]);

    // Add the server (Ctrl-S, Ctrl-N): name, then address:port (TLS on, as
    // the popup shows).
    add_server(
        &pty,
        "test",
        &["Enter server address and port", "TLS: on"],
        &format!("localhost:{}", tls.port()),
    );
    pty.wait_for(&["Default @ test", "Use /connect", "TLS on"]);

    pty.line("/connect");
    pty.wait_for(&[
        "successfully connected to the server",
        "Welcome to the test server!",
    ]);

    let import = format!("/import alice {}", key_file.display());
    pty.line(&import);
    pty.wait_for(&["Enter a password..."]);
    pty.line("tui-password");
    pty.wait_for(&["Repeat your password..."]);
    pty.line("tui-password");
    pty.wait_for(&["local user alice successfully added to the database"]);

    pty.line("/login alice");
    pty.wait_for(&["Enter the account's password..."]);
    pty.press("tui-password");
    // Shown as one star per character, never as typed.
    pty.wait_for(&["************"]);
    assert!(
        !pty.contents().contains("tui-password"),
        "the password is masked"
    );
    pty.press("\r");
    pty.wait_for(&[
        "Logged in with permission level 0",
        "(alice) >",
        "Users",
        "[0] bob",
    ]);

    // Open bob's buffer (Ctrl-K, Ctrl-N) and send.
    pty.press("\x0b");
    pty.press("\x0e");
    pty.wait_for(&["Enter buffer name..."]);
    pty.line("bob");
    pty.wait_for(&[
        "bob @ test",
        "This is the beginning of your conversation with bob!",
    ]);
    pty.line("hello from the tui");
    pty.wait_for(&["[You] at", "hello from the tui"]);

    let got = rt.block_on(wait_for(&rt, &bob_events, "alice's message", |e| {
        matches!(e, ClientEvent::Message(_))
    }));
    let ClientEvent::Message(m) = got else {
        unreachable!()
    };
    assert_eq!(
        (m.peer.as_str(), m.text.as_str(), m.outgoing),
        ("alice", "hello from the tui", false)
    );

    rt.block_on(bob_conn.send_text("alice", "hi alice, this is bob"))
        .unwrap();
    pty.wait_for(&["[bob] at", "hi alice, this is bob"]);
    let screen = pty.contents();
    assert!(
        !screen.contains(" INFO ") && !screen.contains("gochat_client::"),
        "logs never reach the screen:\n{screen}"
    );

    pty.quit();

    rt.block_on(bob_conn.disconnect());
    server.shutdown();
}

/// TLS is on (the add-server popup's default) for a server that speaks
/// plain TCP: /connect says so in plain words with the command that turns
/// TLS off, and after that command /connect works.
#[test]
fn tui_connect_with_tls_to_a_plain_server_says_how_to_turn_it_off() {
    let rt = smol_rt();
    let server = rt.block_on(start_server(&rt, &settings()));
    let port = server.tcp_addr().port();
    let dir = temp_dir("gochat_tui_pty_plain");
    // Wide enough for the whole error on one row of the messages view.
    let mut pty = spawn_tui(&dir, 500);
    pty.wait_for(&["Welcome to gochat!"]);

    add_server(
        &pty,
        "plain",
        &["TLS: on (Tab turns it off, for a plain TCP server)"],
        &format!("127.0.0.1:{port}"),
    );
    pty.wait_for(&[
        "Default @ plain",
        &format!("TLS 127.0.0.1:{port}"),
        &format!("Server plain added: 127.0.0.1:{port}, TLS on."),
    ]);

    pty.line("/connect");
    pty.wait_for(&[&format!(
        "Running connect: the server at 127.0.0.1:{port} does not seem to speak TLS on that \
         port (the TLS handshake failed: "
    )]);
    pty.wait_for(&[
        "If it is a plain TCP server, turn TLS off for it with /set Server.TLS false, then \
         /connect again",
    ]);
    let screen = pty.contents();
    assert!(!screen.contains("● plain"), "not connected:\n{screen}");

    pty.line("/set Server.TLS false");
    pty.wait_for(&["successfully changed the settings of plain"]);
    pty.line("/connect");
    pty.wait_for(&[
        "successfully connected to the server",
        "Welcome to the test server!",
        "● plain",
    ]);

    pty.quit();
    server.shutdown();
}

/// A saved server with `Server.AutoConnect` and `Server.AutoLogin` set: the
/// TUI connects at start and asks alice's password once; after /disconnect
/// and /connect it logs in by itself with the password kept for the run.
#[test]
fn tui_connects_at_start_and_logs_in_at_connect() {
    let rt = smol_rt();
    let server = rt.block_on(start_server(&rt, &settings()));
    rt.block_on(register_fixtures(&rt, &server, &["alice"]));
    let tls = server.tls_addr().unwrap();
    let dir = temp_dir("gochat_tui_pty_start");
    // The TUI's database: the server, alice's account, the start options.
    rt.block_on(save_auto_login_server(&dir, tls.port()));

    let mut pty = spawn_tui(&dir, 120);
    pty.wait_for(&["Password of alice on test (to log in at connect)..."]);
    pty.line(PASSWORD);
    pty.press("\x1b[1;2B");
    pty.wait_for(&[
        "Default @ test",
        "Logged in with permission level 0",
        "(alice) >",
    ]);
    pty.line("/disconnect");
    pty.wait_for(&["You are no longer connected to this server!"]);
    pty.line("/connect");
    pty.wait_until("showed a second login", |s| {
        s.contents()
            .matches("Logged in with permission level 0")
            .count()
            >= 2
    });
    let screen = pty.contents();
    assert!(
        !screen.contains("Password of alice"),
        "asked once:\n{screen}"
    );
    assert!(screen.contains("(alice) >"), "{screen}");

    pty.quit();
    server.shutdown();
}
