//! The real `gochat-client` binary in a pseudo-terminal (100x30), its screen
//! read with vt100 and its output kept as written. On the Local server
//! only: readline keys, drafts, Tab completion and command history as a
//! terminal sends them, popups giving the keys back, the delete-server
//! question, the input box's wrapping, and the mouse (SGR clicks and wheel,
//! Alt-M giving it back to the terminal). Against a real server: the
//! desktop notifications (escapes, `notify-send`), buffers opening or not,
//! name completion, stored history sealed at login and searched, long and
//! refused messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod pty_support;

use std::ffi::OsString;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use common::{PASSWORD, public_pem_text, smol_rt, temp_dir, test_cert, wait_for};
use gochat_client::ClientEvent;
use gochat_client::store::{LocalStore, NewMessage};
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
        let tui = Tui::spawn(&dir, None, &[]);
        tui.wait_for(&["Welcome to gochat!", "Write here..."]);
        tui
    }

    /// Starts the TUI in `dir` (removed when it quits), trusting `ca_file`
    /// when given, with the variables of `env` set.
    fn spawn(dir: &Path, ca_file: Option<&Path>, env: &[(&str, OsString)]) -> Tui {
        let mut cmd = client_command(dir, &["--config", "config.json", "--db", "client.db"]);
        if let Some(ca) = ca_file {
            cmd.arg("--ca-file");
            cmd.arg(ca);
        }
        cmd.env("TZ", "UTC");
        for (name, value) in env {
            cmd.env(name, value);
        }
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

    /// The row `text` is on at or right of `column`, with its column:
    /// the first such place from the top.
    fn place_in_column(&self, text: &str, column: u16) -> (u16, u16) {
        let contents = self.contents();
        for (row, line) in contents.lines().enumerate() {
            let rest: String = line.chars().skip(usize::from(column)).collect();
            if let Some(byte) = rest.find(text) {
                return (column + rest[..byte].chars().count() as u16, row as u16);
            }
        }
        panic!("{text:?} not on screen from column {column}:\n{contents}");
    }

    /// A left click at (column, row), 0-based, as an SGR mouse report.
    fn click(&self, column: u16, row: u16) {
        self.press(&format!("\x1b[<0;{};{}M", column + 1, row + 1));
        self.press(&format!("\x1b[<0;{};{}m", column + 1, row + 1));
    }

    /// Opens a scratch buffer `name` on the Local server (Ctrl-K, Ctrl-N)
    /// and waits until it is in view.
    fn open_buffer(&self, name: &str) {
        self.open_buffer_on(name, "Local");
    }

    /// Opens buffer `name` on the server on screen, `server` (Ctrl-K,
    /// Ctrl-N), and waits until it is in view.
    fn open_buffer_on(&self, name: &str, server: &str) {
        self.press("\x0b");
        self.press("\x0e");
        self.wait_for(&["Enter buffer name..."]);
        self.press(&format!("{name}\r"));
        self.wait_for(&[&format!("{name} @ {server}")]);
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

/// Presses `keys`, then waits until the input shows `text`.
fn press_until_input(pty: &Pty, keys: &str, text: &str) {
    pty.press(keys);
    wait_input(pty, text);
}

/// Types `text`, waits until the input shows it, and clears the input
/// (Ctrl-U); returns the screen as it was with `text` typed.
fn type_into_input(pty: &Pty, text: &str) -> String {
    press_until_input(pty, text, text);
    let screen = pty.contents();
    pty.press("\x15");
    screen
}

/// The input row's text after the prompt, in `contents`.
fn input_line(contents: &str) -> String {
    let line = contents
        .lines()
        .find(|l| l.contains(" > "))
        .unwrap_or_default()
        .to_owned();
    // Up to the Users panel's border, when it shows.
    line.split_once(" > ")
        .map(|(_, t)| {
            t.split('│')
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_owned()
        })
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
    press_until_input(&pty, "\x0b", "one");
    // Ctrl-_ (0x1f) undoes the kill; Ctrl-E, Ctrl-W delete the last word.
    press_until_input(&pty, "\x1f", "one two three");
    press_until_input(&pty, "\x05\x17", "one two");
    // Ctrl-Z (0x1a) undoes too: the raw terminal does not suspend.
    press_until_input(&pty, "\x1a", "one two three");
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
    press_until_input(&pty, "\t", "/subscribe new_logout");
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
    press_until_input(&pty, "z", "z");
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
/// notification; `/set TUI.Notify osc9` switches to OSC 9. `/set TUI.Notify
/// desktop` without `notify-send` on PATH says so once in the System buffer
/// and falls back to OSC 777.
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
    // A PATH without notify-send.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let path = OsString::from(empty.as_os_str());
    let pty = Tui::spawn(&dir, Some(&test_cert().cert_file), &[("PATH", path)]);
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
    pty.press("/set TUI.Notify desktop\r");
    pty.wait_for(&["successfully changed TUI.Notify to desktop"]);
    rt.block_on(bob_conn.send_text("alice", "third")).unwrap();
    pty.wait_written("\x1b]777;notify;gochat: bob on test;third\x1b\\");
    rt.block_on(bob_conn.send_text("alice", "fourth")).unwrap();
    pty.wait_written("\x1b]777;notify;gochat: bob on test;fourth\x1b\\");
    // Said once, in the System buffer (Alt-Up to the top of the list: the
    // Local server's first buffer is a Shift-Up away).
    pty.press("\x1b[1;2A");
    pty.press("\x1b[1;3A");
    pty.wait_for(&[
        "System @ Local",
        "Desktop notifications: notify-send was not found on",
    ]);
    let screen = pty.contents();
    assert_eq!(
        screen.matches("Desktop notifications: notify-send").count(),
        1,
        "{screen}"
    );

    pty.quit();
    rt.block_on(bob_conn.disconnect());
    server.shutdown();
}

/// The input box's rows in `contents`: from the prompt's row to the
/// bottom of the screen, right of the lists, without the prompt.
fn input_rows(contents: &str) -> Vec<String> {
    let lines: Vec<&str> = contents.lines().collect();
    let Some(first) = lines.iter().position(|l| l.contains(" > ")) else {
        return Vec::new();
    };
    let (left, _) = lines[first].split_once(" > ").unwrap();
    let from = left.chars().count() + 3;
    lines[first..]
        .iter()
        .map(|l| l.chars().skip(from).collect::<String>().trim().to_owned())
        .filter(|row| !row.is_empty())
        .collect()
}

/// The issue's first two bugs in a terminal: after Esc on a popup the keys
/// go to the input (Ctrl-K, Ctrl-N, Esc, then `1 more thing`; Ctrl-S,
/// Ctrl-X, Esc, then `1 hello`), and the delete-server question shows its
/// whole text with the keys it takes, `n` keeping the server and `y`
/// deleting it; a click on a server in the list shows it.
#[test]
fn closed_popups_give_the_keys_back_and_delete_server_asks_in_full() {
    let pty = Tui::start("gochat_tui_pty_ux_popups");
    pty.open_buffer("notes");
    pty.press("\x0b");
    pty.press("\x0e");
    pty.wait_for(&["Enter buffer name..."]);
    pty.press("\x1b");
    let screen = type_into_input(&pty, "1 more thing");
    assert!(screen.contains("notes @ Local"), "{screen}");
    assert!(!screen.contains("Enter buffer name..."), "{screen}");

    // A server to delete (never connected).
    pty.press("\x13");
    pty.press("\x0e");
    pty.wait_for(&["Enter server name..."]);
    pty.press("spare\r");
    pty.wait_for(&["Enter server address and port"]);
    pty.press("127.0.0.1:9\r");
    pty.wait_for(&["Default @ spare", "TLS 127.0.0.1:9"]);
    let question = [
        "Do you want to permanently",
        "delete this server?",
        "lost!",
        "Enter = No",
        "y = Yes",
        "n/Esc = No",
    ];
    let ask_delete = || {
        pty.press("\x13");
        pty.press("\x18");
        pty.wait_for(&question);
    };
    ask_delete();
    let screen = pty.contents();
    assert!(
        screen.contains("All information about this server will be lost!")
            && screen.contains("Enter = No, y = Yes, n/Esc = No, Tab = switch"),
        "{screen}"
    );
    pty.press("\x1b");
    let screen = type_into_input(&pty, "1 hello");
    assert!(screen.contains("Default @ spare"), "{screen}");
    assert!(!screen.contains("lost!"), "{screen}");
    // n: No, the server stays, and typing goes to the input again.
    ask_delete();
    pty.press("n");
    let screen = type_into_input(&pty, "2 more");
    assert!(
        screen.contains("Default @ spare") && !screen.contains("lost!"),
        "{screen}"
    );
    // Enter takes the highlighted answer, No when the question opens.
    ask_delete();
    pty.press("\r");
    let screen = type_into_input(&pty, "3 more");
    assert!(screen.contains("Default @ spare"), "{screen}");

    // A click on a server in the Servers list shows it.
    let (x, y) = pty.place("TLS 127.0.0.1:9");
    let local = pty.place_in_column("Local", x);
    pty.click(local.0 + 1, local.1);
    pty.wait_for(&["notes @ Local"]);
    pty.click(x + 1, y);
    pty.wait_for(&["Default @ spare"]);

    // y: Yes, the server is deleted.
    ask_delete();
    pty.press("y");
    pty.wait_until("deleted the server", |s| {
        !s.contents().contains("127.0.0.1:9")
    });
    press_until_input(&pty, "4 more", "4 more");
    pty.quit();
}

/// A command entered twice in a row is kept once in the command history;
/// Ctrl-A and Alt-F move the cursor as in readline; the input box wraps its
/// text at word boundaries; the wheel scrolls the messages.
#[test]
fn command_history_readline_moves_word_wrap_and_the_wheel() {
    let pty = Tui::start("gochat_tui_pty_ux_history");
    pty.open_buffer("notes");
    pty.press("/buffers\r");
    pty.press("/version\r");
    pty.press("/version\r");
    pty.wait_until("ran /version twice", |s| {
        s.contents().matches("Client TUI version").count() == 2
    });
    wait_input(&pty, "Write here...");
    press_until_input(&pty, "\x1b[A", "/version");
    press_until_input(&pty, "\x1b[A", "/buffers");
    press_until_input(&pty, "\x1b[B", "/version");
    pty.press("\x15");

    // Ctrl-A: to the start; Alt-F: past the next word.
    pty.press("alpha beta gamma");
    pty.press("\x01");
    press_until_input(&pty, "X", "Xalpha beta gamma");
    pty.press("\x1bf");
    press_until_input(&pty, "Y", "XalphaY beta gamma");
    pty.press("\x1bf");
    press_until_input(&pty, "Z", "XalphaY betaZ gamma");
    pty.press("\x05\x15");

    // Thirty words: the box wraps between them, never inside one.
    let words: Vec<String> = (0..30).map(|i| format!("word{i:02}")).collect();
    pty.press(&words.join(" "));
    pty.wait_until("wrapped the input", |s| {
        input_rows(&s.contents()).join(" ").contains("word29")
    });
    let rows = input_rows(&pty.contents());
    assert!(rows.len() >= 3, "{rows:?}");
    let read: Vec<&str> = rows.iter().flat_map(|r| r.split_whitespace()).collect();
    assert_eq!(read, words, "rows: {rows:?}\n{}", pty.contents());
    pty.press("\x15");

    // Forty lines, then the wheel over the messages.
    let lines: String = (1..=40).map(|i| format!("line {i:02}\r")).collect();
    pty.press(&lines);
    pty.wait_for(&["line 40"]);
    assert!(!pty.contents().contains("line 01"));
    let (x, y) = pty.place("line 40");
    for _ in 0..20 {
        pty.press(&format!("\x1b[<64;{};{}M", x + 1, y + 1));
    }
    pty.wait_for(&["line 01"]);
    assert!(!pty.contents().contains("line 40"));
    for _ in 0..20 {
        pty.press(&format!("\x1b[<65;{};{}M", x + 1, y + 1));
    }
    pty.wait_for(&["line 40"]);
    pty.quit();
}

/// 2024-02-29 15:04:00 UTC: a day that is not today.
const LEAP_DAY: i64 = 1_709_219_040;

/// Stores in the client database of `dir` (server `test`, id 1, as
/// [`save_auto_login_server`] makes it) history from before sealing, in
/// plaintext: two messages with bob and one with carol on 2024-02-29, and
/// dave as a contact.
async fn store_old_history(dir: &Path) {
    let store = LocalStore::open(&dir.join("client.db")).await.unwrap();
    let server = store.servers().await.unwrap().remove(0).id;
    let msg = |peer: &str, outgoing: bool, stamp: i64, text: &str| NewMessage {
        server_id: server,
        account: "alice".into(),
        peer: peer.into(),
        outgoing,
        stamp,
        text: text.into(),
    };
    for m in [
        msg("bob", false, LEAP_DAY, "an old plan for noon"),
        msg("bob", true, LEAP_DAY + 60, "noon suits me"),
        msg("carol", false, LEAP_DAY + 120, "carol says noon too"),
    ] {
        store.add_message(&m).await.unwrap();
    }
    store
        .upsert_contact(server, "dave", public_pem_text("dave"))
        .await
        .unwrap();
    store.close().await;
}

/// A folder holding a fake `notify-send` that appends its arguments, one a
/// line, to `calls` beside it.
fn fake_notify_send(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("notify-send");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" >> \"$(dirname \"$0\")/calls\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// Against a real server, with bob writing from a client of his own and
/// alice's history of before sealing in the database: `TUI.AutoOpen false`
/// opens no buffer but counts the message; `TUI.Notify desktop` runs the
/// `notify-send` found first on PATH; Tab completes an online user's and a
/// contact's name; the stored history, sealed at login, shows with dates
/// beside the times of other days; a long message goes out in parts cut at
/// whitespace; a text refused for typing too fast stays in the input; a
/// search finds the sealed texts in the buffer and (`-all`) in every
/// conversation; none of the old texts is left in the database file.
#[test]
fn a_server_session_with_sealed_history_completion_and_desktop_notifications() {
    let rt = smol_rt();
    let (server, tls, _bob, bob_conn) = server_with_bob_online(&rt);
    let bob_events = bob_conn.events();
    let dir = temp_dir("gochat_tui_pty_server");
    std::fs::write(
        dir.join("config.json"),
        r#"{"ui_config": {"notify": "desktop", "auto_open": false, "bell": false}}"#,
    )
    .unwrap();
    rt.block_on(save_auto_login_server(&dir, tls.port()));
    rt.block_on(store_old_history(&dir));
    let bin = fake_notify_send(&dir);
    let mut path = vec![bin.clone()];
    path.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path).unwrap();

    let pty = Tui::spawn(&dir, Some(&test_cert().cert_file), &[("PATH", path)]);
    pty.wait_for(&["Password of alice on test"]);
    pty.press(PASSWORD);
    pty.press("\r");
    pty.press("\x1b[1;2B");
    pty.wait_for(&["(alice) >", "Logged in with permission level 0", "[0] bob"]);

    // AutoOpen off: counted in the notifications bar, no buffer; the
    // desktop's notification through notify-send.
    rt.block_on(bob_conn.send_text("alice", "ping while closed"))
        .unwrap();
    pty.wait_for(&["bob: 1"]);
    assert!(!pty.contents().contains("2 bob"), "{}", pty.contents());
    let calls = bin.join("calls");
    pty.wait_until("ran notify-send", |_| {
        std::fs::read_to_string(&calls).is_ok_and(|c| c.contains("ping while closed"))
    });
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "--app-name=gochat\n--\ngochat: bob on test\nping while closed\n"
    );

    // Tab completes an online user's name and a contact's.
    press_until_input(&pty, "/msg b\t", "/msg bob");
    press_until_input(&pty, "\x15/msg da\t", "/msg dave");
    pty.press("\x15");

    // bob's buffer: the stored history, sealed at login, read back; the
    // days that are not today are dated.
    pty.open_buffer_on("bob", "test");
    pty.wait_for(&[
        "[bob] at 2024-02-29 3:04PM: an old plan for noon",
        "[You] at 2024-02-29 3:05PM: noon suits me",
        "ping while closed",
    ]);
    let screen = pty.contents();
    let today = screen
        .lines()
        .find(|l| l.contains("ping while closed"))
        .unwrap();
    assert!(
        today.contains("[bob] at ") && !today.contains("2024-") && !today.contains("-0"),
        "{today}"
    );

    // A long message goes in parts, each cut after whitespace; the next
    // text at once is refused and stays in the input.
    let words: Vec<String> = (0..110)
        .map(|i| format!("{}{i}", "w".repeat(1 + i % 7)))
        .collect();
    let long = words.join(" ");
    assert!(long.len() > 446 && long.len() < 2 * 446);
    pty.press(&format!("{long}\r"));
    pty.press("second thought\r");
    pty.wait_for(&["Error: you are typing too fast!"]);
    wait_input(&pty, "second thought");
    let mut parts = Vec::new();
    while parts.concat() != long {
        let got = rt.block_on(wait_for(
            &rt,
            &bob_events,
            "a part",
            |e| matches!(e, ClientEvent::Message(m) if m.peer == "alice"),
        ));
        let ClientEvent::Message(m) = got else {
            unreachable!()
        };
        parts.push(m.text);
        assert!(parts.concat().len() <= long.len(), "{parts:?}");
    }
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(
        parts[0].ends_with(' ') && parts[0].len() <= 446,
        "{parts:?}"
    );
    // Enter again once the delay has passed sends it.
    std::thread::sleep(std::time::Duration::from_millis(350));
    press_until_input(&pty, "\r", "Write here...");
    let got = rt.block_on(wait_for(
        &rt,
        &bob_events,
        "the kept text",
        |e| matches!(e, ClientEvent::Message(m) if m.peer == "alice"),
    ));
    assert!(matches!(got, ClientEvent::Message(m) if m.text == "second thought"));

    // Search: the sealed texts of the buffer, then of every conversation.
    pty.press("/search NOON\r");
    pty.wait_for(&[
        "Search results @ test",
        "Search for \"NOON\" in bob: 2 messages",
        "an old plan for noon",
    ]);
    assert!(!pty.contents().contains("carol says noon too"));
    pty.press("/search -all noon\r");
    pty.wait_for(&[
        "Search for \"noon\" in every conversation of",
        "alice on test: 3 messages",
        "[carol] at 2024-02-29 3:06PM: carol says noon too",
        "[You → bob] at 2024-02-29 3:05PM: noon suits me",
    ]);

    pty.quit();
    for suffix in ["", "-wal"] {
        let Ok(bytes) = std::fs::read(dir.join(format!("client.db{suffix}"))) else {
            continue;
        };
        for text in ["an old plan", "noon suits me", "carol says", "ping while"] {
            assert!(
                !bytes.windows(text.len()).any(|w| w == text.as_bytes()),
                "client.db{suffix} holds {text:?}"
            );
        }
    }
    rt.block_on(bob_conn.disconnect());
    server.shutdown();
}
