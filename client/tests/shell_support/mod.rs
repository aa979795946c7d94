//! Test support for the shell: client settings, fixture key files, shells
//! fed through a pipe with their output captured, and whole scripts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufReader, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gochat_client::config::{Cli, Settings, load};
use gochat_client::service::Service;
use gochat_client::shell::{ShellOptions, run};
use gochat_client::store::LocalStore;
use gochat_runtime::Runtime;

use crate::common::{PASSWORD, TIMEOUT, TempDir, private_pem, temp_dir};

/// Client settings from a fresh configuration file in a temporary folder.
pub fn client_settings() -> Settings {
    let dir = gochat_testkit::scenario_dir("gochat_shell_cfg");
    let config = dir.join("config.json");
    let db = dir.join("client.db");
    let cli = <Cli as clap::Parser>::parse_from([
        "gochat-client",
        "--shell",
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    let mut settings = load(&cli).unwrap();
    settings.bell = false;
    settings
}

/// A service over a fresh in-memory store.
pub async fn service() -> Service {
    Service::new(LocalStore::open_memory().await.unwrap())
}

/// Writes the fixture private keys of `names` into `dir` as `<name>.pem`.
pub fn key_files(dir: &Path, names: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for name in names {
        std::fs::write(dir.join(format!("{name}.pem")), private_pem(name)).unwrap();
    }
}

/// The script lines that import the fixture key of `name` (from `dir`).
pub fn import_lines(name: &str, dir: &Path) -> String {
    format!(
        "IMPORT {name} {}\n{PASSWORD}\n{PASSWORD}\n",
        dir.join(format!("{name}.pem")).display()
    )
}

/// The script lines that log in as `name`.
pub fn login_lines(name: &str) -> String {
    format!("LOGIN {name}\n{PASSWORD}\n")
}

/// The lines that add the server on loopback `port` as `test`, connect to
/// it, import `name`'s key from `keys` and log in as `NAME` (the name in
/// capitals: logins ignore case).
pub fn setup_lines(port: u16, keys: &Path, name: &str) -> String {
    format!(
        "REGSERVER test 127.0.0.1 {port}\nCONN test\n{}{}",
        import_lines(name, keys),
        login_lines(&name.to_ascii_uppercase())
    )
}

/// An output sink the test reads.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a whole script (not interactive) and returns (status, output).
pub async fn script<R: Runtime>(
    rt: &R,
    service: Service,
    settings: &Settings,
    text: &str,
) -> (i32, String) {
    script_with(rt, service, settings, text, ShellOptions::new(false)).await
}

/// Runs a whole script with `options` and returns (status, output).
pub async fn script_with<R: Runtime>(
    rt: &R,
    service: Service,
    settings: &Settings,
    text: &str,
    options: ShellOptions,
) -> (i32, String) {
    let out = Capture::default();
    let input = Box::new(std::io::Cursor::new(text.to_owned()));
    let status = run(
        rt.clone(),
        service,
        settings,
        input,
        Box::new(out.clone()),
        options,
    )
    .await;
    (status, out.text())
}

/// Asserts that `out` holds every one of `texts`, showing `out` when not.
pub fn assert_contains_all(out: &str, texts: &[&str]) {
    for text in texts {
        assert!(out.contains(text), "missing {text:?} in:\n{out}");
    }
}

/// A shell running on its own thread, fed line by line.
pub struct LiveShell {
    input: Option<std::io::PipeWriter>,
    output: Capture,
    /// Where the next [`expect`](Self::expect) starts looking.
    cursor: usize,
    thread: Option<std::thread::JoinHandle<i32>>,
    name: String,
}

impl LiveShell {
    /// Starts a scripted shell called `name` (in failure messages).
    pub fn start<R: Runtime>(rt: &R, name: &str, service: Service, settings: Settings) -> Self {
        Self::start_with(rt, name, service, settings, ShellOptions::new(false))
    }

    pub fn start_with<R: Runtime>(
        rt: &R,
        name: &str,
        service: Service,
        settings: Settings,
        options: ShellOptions,
    ) -> Self {
        let (reader, writer) = std::io::pipe().unwrap();
        let output = Capture::default();
        let out = output.clone();
        let rt = rt.clone();
        let thread = std::thread::spawn(move || {
            let inner = rt.clone();
            rt.block_on(async move {
                let input = Box::new(BufReader::new(reader));
                run(inner, service, &settings, input, Box::new(out), options).await
            })
        });
        LiveShell {
            input: Some(writer),
            output,
            cursor: 0,
            thread: Some(thread),
            name: name.to_owned(),
        }
    }

    /// Types `lines` (each ended by a newline).
    pub fn send(&mut self, lines: &str) {
        let input = self.input.as_mut().expect("input closed");
        input.write_all(lines.as_bytes()).unwrap();
        if !lines.ends_with('\n') {
            input.write_all(b"\n").unwrap();
        }
        input.flush().unwrap();
    }

    /// Waits until `needle` appears after the previous match; returns the
    /// output from the previous match to the end of this one.
    pub async fn expect<R: Runtime>(&mut self, rt: &R, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = self.output.text();
            if let Some(i) = text[self.cursor..].find(needle) {
                let end = self.cursor + i + needle.len();
                let seen = text[self.cursor..end].to_owned();
                self.cursor = end;
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "shell {}: no {needle:?} within {TIMEOUT:?} after offset {}; output:\n{text}",
                self.name,
                self.cursor
            );
            rt.sleep_until(Instant::now() + Duration::from_millis(20))
                .await;
        }
    }

    /// The whole output so far.
    pub fn output(&self) -> String {
        self.output.text()
    }

    /// Closes the input and waits for the shell to end: (status, output).
    pub async fn finish<R: Runtime>(mut self, rt: &R) -> (i32, String) {
        drop(self.input.take());
        let thread = self.thread.take().unwrap();
        let deadline = Instant::now() + TIMEOUT;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "shell {} did not end:\n{}",
                self.name,
                self.output()
            );
            rt.sleep_until(Instant::now() + Duration::from_millis(20))
                .await;
        }
        (thread.join().unwrap(), self.output())
    }
}

/// The lines of `output` that start with `prefix`.
pub fn lines_with<'a>(output: &'a str, prefix: &str) -> Vec<&'a str> {
    output.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// Whether `output` holds a message line `[<local time>] <sender>: <text>`.
pub fn has_message(output: &str, sender: &str, text: &str) -> bool {
    let tail = format!("] {sender}: {text}");
    output
        .lines()
        .any(|l| l.starts_with('[') && l.ends_with(&tail) && l.len() == 1 + 19 + tail.len())
}

/// A fresh folder with `import/` holding the fixture keys of `names`.
pub fn workdir(names: &[&str]) -> TempDir {
    let dir = temp_dir("gochat_shell_work");
    key_files(&dir.join("import"), names);
    dir
}
