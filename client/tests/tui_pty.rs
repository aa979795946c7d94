//! The real `gochat-client` binary in a pseudo-terminal (120x40), its screen
//! read with vt100, against a server on loopback (TLS) and a second client
//! driven with the service library: add the server, connect, import a
//! fixture key, log in, open a conversation, send; then see the reply. A
//! saved server connects at start and logs in at connect.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    Client, PASSWORD, Transport, private_pem, register_fixtures, settings, smol_rt, start_server,
    temp_dir, test_cert, wait_for,
};
use gochat_client::service::Service;
use gochat_client::store::LocalStore;
use gochat_client::{ClientEvent, StartOptions};
use gochat_runtime::Runtime;
use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

const WAIT: Duration = Duration::from_secs(40);

type Writer = Arc<Mutex<Box<dyn Write + Send>>>;

/// The child's terminal as the test sees it.
struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Writer,
}

impl Pty {
    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until the screen holds every one of `texts`.
    fn wait_for(&self, texts: &[&str]) {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.contents();
            if texts.iter().all(|t| screen.contains(t)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {texts:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&self, bytes: &str) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(bytes.as_bytes()).unwrap();
        w.flush().unwrap();
        drop(w);
        // A lone Esc must reach the TUI as its own key, not as the start of the
        // next key's escape sequence: let it be read first. Other keys are
        // read in order as they come.
        if bytes.ends_with('\x1b') {
            std::thread::sleep(Duration::from_millis(120));
        }
    }

    fn line(&self, text: &str) {
        self.send(text);
        self.send("\r");
    }
}

/// Starts the TUI binary in `dir` in a pseudo-terminal of 40 rows and `cols`
/// columns (trusting the test certificate), with a reader thread keeping
/// the screen current.
fn spawn_tui(dir: &Path, cols: u16) -> (Pty, Box<dyn Child + Send + Sync>) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gochat-client"));
    cmd.args(["--config", "config.json", "--db", "client.db"]);
    cmd.arg("--ca-file");
    cmd.arg(&test_cert().cert_file);
    cmd.cwd(dir);
    cmd.env("TERM", "xterm-256color");
    cmd.env("TZ", "UTC");
    let child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);

    let pty = Pty {
        screen: Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZero::new(40).unwrap(),
            std::num::NonZero::new(cols).unwrap(),
            0,
        ))),
        writer: Arc::new(Mutex::new(pair.master.take_writer().unwrap())),
    };
    let mut reader = pair.master.try_clone_reader().unwrap();
    let (screen, writer) = (pty.screen.clone(), pty.writer.clone());
    std::thread::spawn(move || {
        // Keeps the master (and so the terminal) open while the child runs.
        let _master = pair.master;
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let bytes = &buf[..n];
            // Answer the primary device attributes query as a VT220 would.
            if bytes.windows(3).any(|w| w == b"\x1b[c") {
                let mut w = writer.lock().unwrap();
                let _ = w.write_all(b"\x1b[?62;22c");
                let _ = w.flush();
            }
            screen.lock().unwrap().process(bytes);
        }
    });
    (pty, child)
}

/// Ctrl-Q: the TUI quits with success and gives the terminal back.
fn quit(pty: &Pty, child: &mut (dyn Child + Send + Sync)) {
    pty.send("\x11");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the TUI did not quit:\n{}",
            pty.contents()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn tui_chats_with_a_second_client() {
    let rt = smol_rt();
    let server = rt.block_on(start_server(&rt, &settings()));
    rt.block_on(register_fixtures(&rt, &server, &["alice", "bob"]));
    let tls = server.tls_addr().unwrap();

    // The second client: bob, through the service library.
    let bob = rt.block_on(Client::with_account(tls, Transport::Tls, "bob"));
    let bob_conn = rt.block_on(bob.connect(&rt));
    rt.block_on(bob_conn.login("bob", PASSWORD)).unwrap();
    let bob_events = bob_conn.events();

    // The TUI's folder: config, database, and alice's key to import.
    let dir = temp_dir("gochat_tui_pty");
    let key_file = dir.join("alice.pem");
    std::fs::write(&key_file, private_pem("alice")).unwrap();

    let (pty, mut child) = spawn_tui(&dir, 120);

    pty.wait_for(&["Welcome to gochat!", "Buffers", "Servers", "Local"]);

    // Add the server (Ctrl-S, Ctrl-N): name, then address:port (TLS on, as
    // the popup shows).
    pty.send("\x13");
    pty.send("\x0e");
    pty.wait_for(&["Enter server name..."]);
    pty.line("test");
    pty.wait_for(&["Enter server address and port", "TLS: on"]);
    pty.line(&format!("localhost:{}", tls.port()));
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
    pty.send("tui-password");
    assert!(
        !pty.contents().contains("tui-password"),
        "the password is masked"
    );
    pty.send("\r");
    pty.wait_for(&[
        "Logged in with permission level 0",
        "(alice) >",
        "Users",
        "[0] bob",
    ]);

    // Open bob's buffer (Ctrl-K, Ctrl-N) and send.
    pty.send("\x0b");
    pty.send("\x0e");
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

    quit(&pty, child.as_mut());

    rt.block_on(bob_conn.disconnect());
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
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
    let (pty, mut child) = spawn_tui(&dir, 500);
    pty.wait_for(&["Welcome to gochat!"]);

    pty.send("\x13");
    pty.send("\x0e");
    pty.wait_for(&["Enter server name..."]);
    pty.line("plain");
    pty.wait_for(&["TLS: on (Tab turns it off, for a plain TCP server)"]);
    pty.line(&format!("127.0.0.1:{port}"));
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

    quit(&pty, child.as_mut());
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
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
    rt.block_on(async {
        let store = LocalStore::open(&dir.join("client.db")).await.unwrap();
        let record = store
            .add_server(Some("test"), "localhost", tls.port(), true)
            .await
            .unwrap();
        Service::new(store.clone())
            .import_key(&record, "alice", private_pem("alice"), PASSWORD)
            .await
            .unwrap();
        let options = StartOptions {
            auto_connect: true,
            auto_login: Some("alice".into()),
        };
        store.set_start_options(record.id, &options).await.unwrap();
        store.close().await;
    });

    let (pty, mut child) = spawn_tui(&dir, 120);
    pty.wait_for(&["Password of alice on test (to log in at connect)..."]);
    pty.line(PASSWORD);
    pty.send("\x1b[1;2B");
    pty.wait_for(&[
        "Default @ test",
        "Logged in with permission level 0",
        "(alice) >",
    ]);
    pty.line("/disconnect");
    pty.wait_for(&["You are no longer connected to this server!"]);
    pty.line("/connect");
    let deadline = Instant::now() + WAIT;
    while pty
        .contents()
        .matches("Logged in with permission level 0")
        .count()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "no second login:\n{}",
            pty.contents()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let screen = pty.contents();
    assert!(
        !screen.contains("Password of alice"),
        "asked once:\n{screen}"
    );
    assert!(screen.contains("(alice) >"), "{screen}");

    quit(&pty, child.as_mut());
    server.shutdown();
}
