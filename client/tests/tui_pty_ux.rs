//! The real `gochat-client` binary in a pseudo-terminal (100x30), its screen
//! read with vt100 and its output kept as written: readline keys, drafts
//! and Tab completion as a terminal sends them, and the mouse (SGR clicks,
//! Alt-M giving it back to the terminal), on the Local server only; the
//! desktop notification escapes written when a message arrives from a real
//! server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    Client, PASSWORD, Transport, private_pem, register_fixtures, settings, smol_rt, start_server,
    temp_dir, test_cert,
};
use gochat_client::StartOptions;
use gochat_client::service::Service;
use gochat_client::store::LocalStore;
use gochat_runtime::Runtime;
use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

const WAIT: Duration = Duration::from_secs(40);
const ROWS: u16 = 30;
const COLS: u16 = 100;

type Writer = Arc<Mutex<Box<dyn Write + Send>>>;

/// The child's terminal as the test sees it.
struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    /// Every byte the child wrote.
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Writer,
    child: Box<dyn Child + Send + Sync>,
    dir: PathBuf,
}

impl Pty {
    /// Starts the TUI in a fresh folder, with a reader thread keeping the
    /// screen current, and waits for its first screen.
    fn start(name: &str) -> Pty {
        let dir = std::env::temp_dir().join(format!("{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pty = Pty::spawn(&dir, None);
        pty.wait_for(&["Welcome to gochat!", "Write here..."]);
        pty
    }

    /// Starts the TUI in `dir` (removed when it quits), trusting `ca_file`
    /// when given.
    fn spawn(dir: &Path, ca_file: Option<&Path>) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gochat-client"));
        cmd.args(["--config", "config.json", "--db", "client.db"]);
        if let Some(ca) = ca_file {
            cmd.arg("--ca-file");
            cmd.arg(ca);
        }
        cmd.cwd(dir);
        cmd.env("TERM", "xterm-256color");
        cmd.env("TZ", "UTC");
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZero::new(ROWS).unwrap(),
            std::num::NonZero::new(COLS).unwrap(),
            0,
        )));
        let writer: Writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let (parser, answer, written) = (screen.clone(), writer.clone(), raw.clone());
        std::thread::spawn(move || {
            let _master = pair.master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let bytes = &buf[..n];
                // Answer the primary device attributes query as a VT220 would.
                if bytes.windows(3).any(|w| w == b"\x1b[c") {
                    let mut w = answer.lock().unwrap();
                    let _ = w.write_all(b"\x1b[?62;22c");
                    let _ = w.flush();
                }
                parser.lock().unwrap().process(bytes);
                written.lock().unwrap().extend_from_slice(bytes);
            }
        });
        Pty {
            screen,
            raw,
            writer,
            child,
            dir: dir.to_path_buf(),
        }
    }

    /// Waits until the child has written `bytes`.
    fn wait_written(&self, bytes: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let raw = self.raw.lock().unwrap().clone();
            if raw.windows(bytes.len()).any(|w| w == bytes.as_bytes()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never wrote {bytes:?}:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits until `check` holds for the screen.
    fn wait_until(&self, what: &str, check: impl Fn(&vt100::Screen) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen.lock().unwrap().screen().clone();
            if check(&screen) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never {what}:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Waits until the screen holds every one of `texts`.
    fn wait_for(&self, texts: &[&str]) {
        self.wait_until(&format!("showed {texts:?}"), |s| {
            let c = s.contents();
            texts.iter().all(|t| c.contains(t))
        });
    }

    /// The row the screen shows `text` on, and its column.
    fn place(&self, text: &str) -> (u16, u16) {
        let contents = self.contents();
        for (row, line) in contents.lines().enumerate() {
            if let Some(byte) = line.find(text) {
                return (line[..byte].chars().count() as u16, row as u16);
            }
        }
        panic!("{text:?} not on screen:\n{contents}");
    }

    fn send(&self, bytes: &str) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(bytes.as_bytes()).unwrap();
        w.flush().unwrap();
        drop(w);
        // Let the TUI read it as its own keys (an Esc must not merge with
        // the next key).
        std::thread::sleep(Duration::from_millis(120));
    }

    /// A left click at (column, row), 0-based, as an SGR mouse report.
    fn click(&self, column: u16, row: u16) {
        self.send(&format!("\x1b[<0;{};{}M", column + 1, row + 1));
        self.send(&format!("\x1b[<0;{};{}m", column + 1, row + 1));
    }

    /// Ctrl-Q; the TUI must quit with success.
    fn quit(mut self) {
        self.send("\x11");
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the TUI did not quit");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "exit status {status:?}");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until the input row shows `text` after the prompt.
fn wait_input(pty: &Pty, text: &str) {
    pty.wait_until(&format!("showed {text:?} in the input"), |s| {
        input_line(&s.contents()) == text
    });
}

/// The input row's text after the prompt, in `contents`.
fn input_line(contents: &str) -> String {
    let line = contents
        .lines()
        .find(|l| l.contains(" > "))
        .unwrap_or_default()
        .to_owned();
    line.split_once(" > ")
        .map(|(_, t)| t.trim_end().to_owned())
        .unwrap_or_default()
}

#[test]
fn readline_keys_drafts_and_completion_in_a_terminal() {
    let pty = Pty::start("gochat_tui_pty_ux_edit");
    // A scratch buffer to type in: Ctrl-K, Ctrl-N.
    pty.send("\x0b");
    pty.send("\x0e");
    pty.wait_for(&["Enter buffer name..."]);
    pty.send("notes\r");
    pty.wait_for(&["notes @ Local"]);
    pty.send("one two three");
    // Alt-B twice (ESC b), Ctrl-K: "one ".
    pty.send("\x1bb");
    pty.send("\x1bb");
    pty.send("\x0b");
    wait_input(&pty, "one");
    // Ctrl-_ (0x1f) undoes the kill; Ctrl-E, Ctrl-W delete the last word.
    pty.send("\x1f");
    wait_input(&pty, "one two three");
    pty.send("\x05\x17");
    wait_input(&pty, "one two");
    // Ctrl-Z (0x1a) undoes too: the raw terminal does not suspend.
    pty.send("\x1a");
    wait_input(&pty, "one two three");
    // The draft stays with its buffer: Alt-Up to System and back.
    pty.send("\x1b[1;3A");
    pty.wait_for(&["System @ Local"]);
    wait_input(&pty, "Write here...");
    pty.send("\x1b[1;3B");
    pty.wait_for(&["notes @ Local"]);
    wait_input(&pty, "one two three");
    // Ctrl-U clears the line; Tab completes a command and its option.
    pty.send("\x15");
    pty.send("/subs\t");
    pty.send("new_l\t");
    pty.wait_for(&["Tab: new_login new_logout"]);
    wait_input(&pty, "/subscribe new_login");
    pty.send("\t");
    wait_input(&pty, "/subscribe new_logout");
    pty.quit();
}

#[test]
fn the_mouse_switches_buffers_and_servers_until_alt_m() {
    let pty = Pty::start("gochat_tui_pty_ux_mouse");
    pty.wait_until("took the mouse", |s| {
        s.mouse_protocol_mode() != vt100::MouseProtocolMode::None
    });
    pty.send("\x0b");
    pty.send("\x0e");
    pty.wait_for(&["Enter buffer name..."]);
    pty.send("notes\r");
    pty.wait_for(&["notes @ Local"]);
    let (x, y) = pty.place("1 System");
    pty.click(x + 2, y);
    pty.wait_for(&["System @ Local"]);
    let (x, y) = pty.place("2 notes");
    pty.click(x + 2, y);
    pty.wait_for(&["notes @ Local"]);
    // Alt-M: the mouse goes back to the terminal (its selection works);
    // a click then changes nothing.
    pty.send("\x1bm");
    pty.wait_until("gave the mouse back", |s| {
        s.mouse_protocol_mode() == vt100::MouseProtocolMode::None
    });
    pty.wait_for(&["mouse off: the terminal selects (Alt-M)"]);
    let (x, y) = pty.place("1 System");
    pty.click(x + 2, y);
    std::thread::sleep(Duration::from_millis(200));
    assert!(pty.contents().contains("notes @ Local"));
    pty.send("\x1bm");
    pty.wait_until("took the mouse again", |s| {
        s.mouse_protocol_mode() != vt100::MouseProtocolMode::None
    });
    pty.click(x + 2, y);
    pty.wait_for(&["System @ Local"]);
    pty.quit();
}

#[test]
fn search_highlights_and_errors_stay_in_the_system_buffer() {
    let pty = Pty::start("gochat_tui_pty_ux_search");
    pty.send("\x0b");
    pty.send("\x0e");
    pty.wait_for(&["Enter buffer name..."]);
    pty.send("notes\r");
    pty.wait_for(&["notes @ Local"]);
    pty.send("buy milk\r");
    pty.send("call about the order\r");
    // Ctrl-F asks; Enter lists what holds the text, highlighted.
    pty.send("\x06");
    pty.wait_for(&["Search in notes...", "Tab: every conversation"]);
    pty.send("MILK\r");
    pty.wait_for(&["Search results @ Local", "in notes: 1 message"]);
    let (x, y) = pty.place("milk");
    let screen = pty.screen.lock().unwrap().screen().clone();
    let cell = screen.cell(y, x).unwrap();
    assert_eq!(cell.bgcolor(), vt100::Color::Idx(3), "highlighted");
    assert!(!pty.contents().contains("call about the order"));
    // An error fades from the bar but stays in the System buffer.
    pty.send("/nonsense\r");
    pty.wait_for(&["Error: invalid command given!"]);
    pty.send("\x1b[1;3A");
    pty.send("\x1b[1;3A");
    pty.wait_for(&[
        "System @ Local",
        "Error in Local/Search results: invalid command given",
    ]);
    pty.quit();
}

/// With `ui_config.notify` set to `osc777` in config.json, a message from
/// bob outside the buffer in view makes the TUI write the OSC 777 desktop
/// notification; `/set TUI.Notify osc9` switches to OSC 9.
#[test]
fn messages_out_of_view_write_the_notification_escape() {
    let rt = smol_rt();
    let server = rt.block_on(start_server(&rt, &settings()));
    rt.block_on(register_fixtures(&rt, &server, &["alice", "bob"]));
    let tls = server.tls_addr().unwrap();
    let bob = rt.block_on(Client::with_account(tls, Transport::Tls, "bob"));
    let bob_conn = rt.block_on(bob.connect(&rt));
    rt.block_on(bob_conn.login("bob", PASSWORD)).unwrap();

    let dir = temp_dir("gochat_tui_pty_notify");
    std::fs::write(
        dir.join("config.json"),
        r#"{"ui_config": {"notify": "osc777"}}"#,
    )
    .unwrap();
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
    let pty = Pty::spawn(&dir, Some(&test_cert().cert_file));
    pty.wait_for(&["Password of alice on test"]);
    pty.send(PASSWORD);
    pty.send("\r");
    pty.send("\x1b[1;2B");
    pty.wait_for(&["(alice) >", "Logged in with permission level 0"]);

    rt.block_on(bob_conn.send_text("alice", "ping for alice"))
        .unwrap();
    pty.wait_written("\x1b]777;notify;gochat: bob on test;ping for alice\x1b\\");
    // The first message opened bob's buffer, out of view, with its count.
    pty.wait_for(&["bob (1)"]);
    pty.send("/set TUI.Notify osc9\r");
    pty.wait_for(&["successfully changed TUI.Notify to osc9"]);
    rt.block_on(bob_conn.send_text("alice", "second")).unwrap();
    pty.wait_written("\x1b]9;gochat: bob on test: second\x1b\\");

    pty.quit();
    rt.block_on(bob_conn.disconnect());
    server.shutdown();
}
