//! The real binary's shell on a pseudo-terminal, its screen read with
//! vt100: passwords are not echoed, and a message arriving while the shell
//! waits is printed above a re-printed prompt.

use gochat_runtime::Runtime;

use crate::common::*;
use crate::pty_support::{Pty, client_command};

const ROWS: u16 = 30;
const COLS: u16 = 120;

#[test]
fn shell_on_a_terminal() {
    let rt = smol_rt();
    let server = rt.block_on(start_server(&rt, &settings()));
    rt.block_on(register_fixtures(&rt, &server, &["alice", "bob"]));
    let addr = server.tcp_addr();
    let (_bob, bob_conn) = rt.block_on(Client::logged_in(&rt, addr, Transport::Tcp, "bob"));

    let dir = temp_dir("gochat_shell_pty");
    let key = dir.join("alice.pem");
    std::fs::write(&key, private_pem("alice")).unwrap();
    let mut cmd = client_command(
        &dir,
        &["--shell", "--config", "config.json", "--db", "client.db"],
    );
    for var in [
        "GOCHAT_SHELL",
        "GOCHAT_CONFIG",
        "GOCHAT_DB",
        "GOCHAT_VERBOSE",
    ] {
        cmd.env_remove(var);
    }
    let mut screen = Pty::spawn(cmd, ROWS, COLS);

    screen.wait_for(&["(not connected) gochat() > "]);
    screen.line(&format!("CONN 127.0.0.1 {}", addr.port()));
    screen.wait_for(&["[OK] successfully connected to the server"]);
    screen.line(&format!("IMPORT alice {}", key.display()));
    screen.wait_for(&["password: "]);
    screen.line("pty-secret");
    screen.wait_for(&["repeat password: "]);
    screen.line("pty-secret");
    screen.wait_for(&["[OK] local user alice successfully added to the database"]);
    screen.line("login alice");
    screen.wait_for(&["alice's password: "]);
    screen.line("pty-secret");
    screen.wait_for(&["[INFO] online users: alice, bob"]);
    screen.wait_for(&["gochat(alice) > "]);
    assert!(
        !screen.contents().contains("pty-secret"),
        "passwords are not echoed"
    );

    rt.block_on(bob_conn.send_text("alice", "hello over the pty"))
        .unwrap();
    screen.wait_for(&["] bob: hello over the pty"]);
    // The message line, then the prompt again on the last line used.
    let text = screen.contents();
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap();
    assert!(
        lines[last - 1].ends_with("] bob: hello over the pty"),
        "{text}"
    );
    assert_eq!(lines[last].trim_end(), "gochat(alice) >", "{text}");
    // The prompt is cyan.
    let cell = screen
        .screen()
        .cell(u16::try_from(last).unwrap(), 0)
        .map(|c| c.fgcolor());
    assert_eq!(cell, Some(vt100::Color::Idx(6)), "{text}");

    screen.line("EXIT");
    screen.wait_success();
    rt.block_on(bob_conn.disconnect());
    server.shutdown();
}
