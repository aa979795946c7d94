//! The real binary's shell on a pseudo-terminal, its screen read with
//! vt100: passwords are not echoed, and a message arriving while the shell
//! waits is printed above a re-printed prompt.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gochat_runtime::Runtime;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(40);
const ROWS: u16 = 30;
const COLS: u16 = 120;

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
}

impl Screen {
    fn contents(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until the screen holds `text`.
    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.contents().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the screen never showed {text:?}:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn line(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
        self.writer.write_all(b"\r").unwrap();
        self.writer.flush().unwrap();
    }
}

#[test]
fn shell_on_a_terminal() {
    let rt = smol_rt();
    let server = rt.block_on(start_server(&rt, &settings()));
    rt.block_on(register_fixtures(&rt, &server, &["alice", "bob"]));
    let addr = server.tcp_addr();
    let bob = rt.block_on(Client::with_account(addr, Transport::Tcp, "bob"));
    let bob_conn = rt.block_on(bob.connect(&rt));
    rt.block_on(bob_conn.login("bob", PASSWORD)).unwrap();

    let dir = temp_dir("gochat_shell_pty");
    let key = dir.join("alice.pem");
    std::fs::write(&key, private_pem("alice")).unwrap();
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gochat-client"));
    cmd.args(["--shell", "--config", "config.json", "--db", "client.db"]);
    cmd.cwd(&dir);
    cmd.env("TERM", "xterm-256color");
    for var in [
        "GOCHAT_SHELL",
        "GOCHAT_CONFIG",
        "GOCHAT_DB",
        "GOCHAT_VERBOSE",
    ] {
        cmd.env_remove(var);
    }
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        std::num::NonZero::new(ROWS).unwrap(),
        std::num::NonZero::new(COLS).unwrap(),
        0,
    )));
    let mut reader = pair.master.try_clone_reader().unwrap();
    let feed = parser.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            feed.lock().unwrap().process(&buf[..n]);
        }
    });
    let mut screen = Screen {
        parser,
        writer: pair.master.take_writer().unwrap(),
    };

    screen.wait_for("(not connected) gochat() > ");
    screen.line(&format!("CONN 127.0.0.1 {}", addr.port()));
    screen.wait_for("[OK] successfully connected to the server");
    screen.line(&format!("IMPORT alice {}", key.display()));
    screen.wait_for("password: ");
    screen.line("pty-secret");
    screen.wait_for("repeat password: ");
    screen.line("pty-secret");
    screen.wait_for("[OK] local user alice successfully added to the database");
    screen.line("login alice");
    screen.wait_for("alice's password: ");
    screen.line("pty-secret");
    screen.wait_for("[INFO] online users: alice, bob");
    screen.wait_for("gochat(alice) > ");
    assert!(
        !screen.contents().contains("pty-secret"),
        "passwords are not echoed"
    );

    rt.block_on(bob_conn.send_text("alice", "hello over the pty"))
        .unwrap();
    screen.wait_for("] bob: hello over the pty");
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
        .parser
        .lock()
        .unwrap()
        .screen()
        .cell(u16::try_from(last).unwrap(), 0)
        .map(|c| c.fgcolor());
    assert_eq!(cell, Some(vt100::Color::Idx(6)), "{text}");

    screen.line("EXIT");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the shell did not exit");
        std::thread::sleep(Duration::from_millis(30));
    };
    assert!(status.success(), "{status:?}");
    rt.block_on(bob_conn.disconnect());
    server.shutdown();
}
