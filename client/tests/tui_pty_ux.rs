//! The real `gochat-client` binary in a pseudo-terminal (100x30), its screen
//! read with vt100 and its output kept as written: readline keys, drafts
//! and Tab completion as a terminal sends them, and the mouse (SGR clicks,
//! Alt-M giving it back to the terminal), on the Local server only; the
//! desktop notification escapes written when a message arrives from a real
//! server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod pty_support;

use std::ops::Deref;
use std::path::{Path, PathBuf};

use common::{PASSWORD, smol_rt, temp_dir, test_cert};
use gochat_runtime::Runtime;
use pty_support::{Pty, client_command, save_auto_login_server, server_with_bob_online};

const ROWS: u16 = 30;
const COLS: u16 = 100;

/// The TUI in a pseudo-terminal, and its folder (removed when it quits).
struct Tui {
    pty: Pty,
    dir: PathBuf,
}

impl Deref for Tui {
    type Target = Pty;

    fn deref(&self) -> &Pty {
        &self.pty
    }
}

impl Tui {
    /// Starts the TUI in a fresh folder and waits for its first screen.
    fn start(name: &str) -> Tui {
        let dir = std::env::temp_dir().join(format!("{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let tui = Tui::spawn(&dir, None);
        tui.wait_for(&["Welcome to gochat!", "Write here..."]);
        tui
    }

    /// Starts the TUI in `dir` (removed when it quits), trusting `ca_file`
    /// when given.
    fn spawn(dir: &Path, ca_file: Option<&Path>) -> Tui {
        let mut cmd = client_command(dir, &["--config", "config.json", "--db", "client.db"]);
        if let Some(ca) = ca_file {
            cmd.arg("--ca-file");
            cmd.arg(ca);
        }
        cmd.env("TZ", "UTC");
        Tui {
            pty: Pty::spawn(cmd, ROWS, COLS),
            dir: dir.to_path_buf(),
        }
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

    /// A left click at (column, row), 0-based, as an SGR mouse report.
    fn click(&self, column: u16, row: u16) {
        self.press(&format!("\x1b[<0;{};{}M", column + 1, row + 1));
        self.press(&format!("\x1b[<0;{};{}m", column + 1, row + 1));
    }

    /// Opens a scratch buffer `name` on the Local server (Ctrl-K, Ctrl-N)
    /// and waits until it is in view.
    fn open_buffer(&self, name: &str) {
        self.press("\x0b");
        self.press("\x0e");
        self.wait_for(&["Enter buffer name..."]);
        self.press(&format!("{name}\r"));
        self.wait_for(&[&format!("{name} @ Local")]);
    }

    /// Ctrl-Q; the TUI must quit with success.
    fn quit(mut self) {
        self.pty.quit();
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
    let pty = Tui::start("gochat_tui_pty_ux_edit");
    // A scratch buffer to type in: Ctrl-K, Ctrl-N.
    pty.open_buffer("notes");
    pty.press("one two three");
    // Alt-B twice (ESC b), Ctrl-K: "one ".
    pty.press("\x1bb");
    pty.press("\x1bb");
    pty.press("\x0b");
    wait_input(&pty, "one");
    // Ctrl-_ (0x1f) undoes the kill; Ctrl-E, Ctrl-W delete the last word.
    pty.press("\x1f");
    wait_input(&pty, "one two three");
    pty.press("\x05\x17");
    wait_input(&pty, "one two");
    // Ctrl-Z (0x1a) undoes too: the raw terminal does not suspend.
    pty.press("\x1a");
    wait_input(&pty, "one two three");
    // The draft stays with its buffer: Alt-Up to System and back.
    pty.press("\x1b[1;3A");
    pty.wait_for(&["System @ Local"]);
    wait_input(&pty, "Write here...");
    pty.press("\x1b[1;3B");
    pty.wait_for(&["notes @ Local"]);
    wait_input(&pty, "one two three");
    // Ctrl-U clears the line; Tab completes a command and its option.
    pty.press("\x15");
    pty.press("/subs\t");
    pty.press("new_l\t");
    pty.wait_for(&["Tab: new_login new_logout"]);
    wait_input(&pty, "/subscribe new_login");
    pty.press("\t");
    wait_input(&pty, "/subscribe new_logout");
    pty.quit();
}

#[test]
fn the_mouse_switches_buffers_and_servers_until_alt_m() {
    let pty = Tui::start("gochat_tui_pty_ux_mouse");
    pty.wait_until("took the mouse", |s| {
        s.mouse_protocol_mode() != vt100::MouseProtocolMode::None
    });
    pty.open_buffer("notes");
    let (x, y) = pty.place("1 System");
    pty.click(x + 2, y);
    pty.wait_for(&["System @ Local"]);
    let (x, y) = pty.place("2 notes");
    pty.click(x + 2, y);
    pty.wait_for(&["notes @ Local"]);
    // Alt-M: the mouse goes back to the terminal (its selection works);
    // a click then changes nothing.
    pty.press("\x1bm");
    pty.wait_until("gave the mouse back", |s| {
        s.mouse_protocol_mode() == vt100::MouseProtocolMode::None
    });
    pty.wait_for(&["mouse off: the terminal selects (Alt-M)"]);
    let (x, y) = pty.place("1 System");
    pty.click(x + 2, y);
    // A key after the click: once the input shows it, the click was read.
    pty.press("z");
    wait_input(&pty, "z");
    assert!(pty.contents().contains("notes @ Local"));
    pty.press("\x7f");
    pty.press("\x1bm");
    pty.wait_until("took the mouse again", |s| {
        s.mouse_protocol_mode() != vt100::MouseProtocolMode::None
    });
    pty.click(x + 2, y);
    pty.wait_for(&["System @ Local"]);
    pty.quit();
}

#[test]
fn search_highlights_and_errors_stay_in_the_system_buffer() {
    let pty = Tui::start("gochat_tui_pty_ux_search");
    pty.open_buffer("notes");
    pty.press("buy milk\r");
    pty.press("call about the order\r");
    // Ctrl-F asks; Enter lists what holds the text, highlighted.
    pty.press("\x06");
    pty.wait_for(&["Search in notes...", "Tab: every conversation"]);
    pty.press("MILK\r");
    pty.wait_for(&["Search results @ Local", "in notes: 1 message"]);
    let (x, y) = pty.place("milk");
    let screen = pty.screen();
    let cell = screen.cell(y, x).unwrap();
    assert_eq!(cell.bgcolor(), vt100::Color::Idx(3), "highlighted");
    assert!(!pty.contents().contains("call about the order"));
    // An error fades from the bar but stays in the System buffer.
    pty.press("/nonsense\r");
    pty.wait_for(&["Error: invalid command given!"]);
    pty.press("\x1b[1;3A");
    pty.press("\x1b[1;3A");
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
    let (server, tls, _bob, bob_conn) = server_with_bob_online(&rt);

    let dir = temp_dir("gochat_tui_pty_notify");
    std::fs::write(
        dir.join("config.json"),
        r#"{"ui_config": {"notify": "osc777"}}"#,
    )
    .unwrap();
    rt.block_on(save_auto_login_server(&dir, tls.port()));
    let pty = Tui::spawn(&dir, Some(&test_cert().cert_file));
    pty.wait_for(&["Password of alice on test"]);
    pty.press(PASSWORD);
    pty.press("\r");
    pty.press("\x1b[1;2B");
    pty.wait_for(&["(alice) >", "Logged in with permission level 0"]);

    rt.block_on(bob_conn.send_text("alice", "ping for alice"))
        .unwrap();
    pty.wait_written("\x1b]777;notify;gochat: bob on test;ping for alice\x1b\\");
    // The first message opened bob's buffer, out of view, with its count.
    pty.wait_for(&["bob (1)"]);
    pty.press("/set TUI.Notify osc9\r");
    pty.wait_for(&["successfully changed TUI.Notify to osc9"]);
    rt.block_on(bob_conn.send_text("alice", "second")).unwrap();
    pty.wait_written("\x1b]9;gochat: bob on test: second\x1b\\");

    pty.quit();
    rt.block_on(bob_conn.disconnect());
    server.shutdown();
}
