//! The real `gochat-client` binary in a pseudo-terminal, for the tests that
//! drive it as a user would: spawning it, a reader thread keeping a vt100
//! screen (and every byte written) current, waiting for what the screen
//! shows, sending keys and lines, and waiting for the binary to exit.
//! Included with `mod pty_support;` by each test crate that needs it (next
//! to `mod common;`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gochat_client::StartOptions;
use gochat_client::service::{Connection, Service};
use gochat_client::store::LocalStore;
use gochat_runtime::Runtime;
use gochat_runtime_smol::SmolRuntime;
use gochat_testkit::TestServer;
use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

use crate::common::{
    Client, PASSWORD, Transport, private_pem, register_fixtures, settings, start_server,
};

/// How long any wait on the child may take.
pub const WAIT: Duration = Duration::from_secs(40);

/// How long a lone Esc is left alone, so that the child reads it as the Esc
/// key and not as the start of the next key's escape sequence.
pub const ESC_PAUSE: Duration = Duration::from_millis(120);

type Writer = Arc<Mutex<Box<dyn Write + Send>>>;

/// A command running the client binary in `dir` with `args`, as a terminal
/// of type `xterm-256color`.
pub fn client_command<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_gochat-client"));
    cmd.args(args);
    cmd.cwd(dir);
    cmd.env("TERM", "xterm-256color");
    cmd
}

/// A server with the fixture users alice and bob registered, and bob logged
/// in over TLS from a client of his own: the server, its TLS address, bob's
/// client and his connection.
pub fn server_with_bob_online(
    rt: &SmolRuntime,
) -> (TestServer<SmolRuntime>, SocketAddr, Client, Connection) {
    let server = rt.block_on(start_server(rt, &settings()));
    rt.block_on(register_fixtures(rt, &server, &["alice", "bob"]));
    let tls = server.tls_addr().unwrap();
    let (bob, conn) = rt.block_on(Client::logged_in(rt, tls, Transport::Tls, "bob"));
    (server, tls, bob, conn)
}

/// Saves in the client database of `dir` a server `test` at
/// `localhost:tls_port` (TLS on) with alice's fixture key imported under
/// [`PASSWORD`], connecting at start and logging alice in at connect.
pub async fn save_auto_login_server(dir: &Path, tls_port: u16) {
    let store = LocalStore::open(&dir.join("client.db")).await.unwrap();
    let record = store
        .add_server(Some("test"), "localhost", tls_port, true)
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
}

/// The child's terminal as the test sees it.
pub struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    /// Every byte the child wrote.
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Writer,
    child: Box<dyn Child + Send + Sync>,
}

impl Pty {
    /// Runs `cmd` in a pseudo-terminal of `rows` x `cols`, with a reader
    /// thread keeping the screen current (and answering the primary device
    /// attributes query as a VT220 would).
    pub fn spawn(cmd: CommandBuilder, rows: u16, cols: u16) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZero::new(rows).unwrap(),
            std::num::NonZero::new(cols).unwrap(),
            0,
        )));
        let writer: Writer = Arc::new(Mutex::new(pair.master.take_writer().unwrap()));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let (parser, answer, written) = (screen.clone(), writer.clone(), raw.clone());
        std::thread::spawn(move || {
            // Keeps the master (and so the terminal) open while the child runs.
            let _master = pair.master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let bytes = &buf[..n];
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
        }
    }

    /// The screen's text.
    pub fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// A copy of the screen, with its cells and modes.
    pub fn screen(&self) -> vt100::Screen {
        self.screen.lock().unwrap().screen().clone()
    }

    /// Waits until `done` holds, looking every 10 ms; `what` names it in
    /// the failure, which shows the screen.
    fn wait(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "never {what}:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `check` holds for the screen; `what` names it in the
    /// failure.
    pub fn wait_until(&self, what: &str, check: impl Fn(&vt100::Screen) -> bool) {
        self.wait(what, || check(&self.screen()));
    }

    /// Waits until the screen holds every one of `texts`.
    pub fn wait_for(&self, texts: &[&str]) {
        self.wait_until(&format!("showed {texts:?}"), |s| {
            let c = s.contents();
            texts.iter().all(|t| c.contains(t))
        });
    }

    /// Waits until the child has written `bytes`.
    pub fn wait_written(&self, bytes: &str) {
        self.wait(&format!("wrote {bytes:?}"), || {
            let raw = self.raw.lock().unwrap();
            raw.windows(bytes.len()).any(|w| w == bytes.as_bytes())
        });
    }

    /// Writes `bytes` to the child's terminal at once.
    pub fn write(&self, bytes: &str) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(bytes.as_bytes()).unwrap();
        w.flush().unwrap();
    }

    /// Writes `bytes` as keys. Keys are read in order as they come, so no
    /// pause is needed between them, except after a lone Esc: the terminal
    /// sends Esc as the single byte that also starts every escape sequence,
    /// and the child tells them apart by the pause after it. So when
    /// `bytes` end with Esc, this waits [`ESC_PAUSE`] before returning.
    /// Anything else is checked by waiting for what the screen shows.
    pub fn press(&self, bytes: &str) {
        self.write(bytes);
        if bytes.ends_with('\x1b') {
            std::thread::sleep(ESC_PAUSE);
        }
    }

    /// Types `text`, then Enter.
    pub fn line(&self, text: &str) {
        self.press(text);
        self.press("\r");
    }

    /// Waits for the child to exit, and asserts that it did with success.
    pub fn wait_success(&mut self) {
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the child did not exit:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(30));
        };
        assert!(status.success(), "exit status {status:?}");
    }

    /// Ctrl-Q: the TUI quits with success and gives the terminal back.
    pub fn quit(&mut self) {
        self.press("\x11");
        self.wait_success();
    }
}
