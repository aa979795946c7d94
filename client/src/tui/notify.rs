//! Desktop notifications: through the terminal, the escape sequences
//! (`OSC 777` and `OSC 9`) that terminals turn into a notification of the
//! desktop, with the text made safe to put in one (no control characters,
//! so a message cannot end the sequence and write to the terminal); or
//! through the desktop's notification service, `notify-send`
//! ([`DesktopNotifier`]), started without waiting for it, one at a time.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::model::Notify;

/// The longest text a notification carries, in characters.
pub const MAX_NOTE_CHARS: usize = 120;

/// `text` without control characters (line breaks become spaces), without
/// `;` when `field` (it separates OSC 777's fields), and cut at
/// [`MAX_NOTE_CHARS`] with `…`.
fn clean(text: &str, field: bool) -> String {
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            ';' if field => ',',
            c => c,
        })
        .filter(|c| !c.is_control())
        .take(MAX_NOTE_CHARS + 1)
        .collect();
    if out.chars().count() > MAX_NOTE_CHARS {
        out = out.chars().take(MAX_NOTE_CHARS - 1).collect();
        out.push('…');
    }
    out
}

/// The escape sequence that asks the terminal for a desktop notification
/// with `title` and `body`, as `kind` says; `None` when notifications are
/// off or go to the desktop's service instead.
pub fn escape(kind: Notify, title: &str, body: &str) -> Option<String> {
    match kind {
        Notify::Off | Notify::Desktop => None,
        Notify::Osc777 => Some(format!(
            "\x1b]777;notify;{};{}\x1b\\",
            clean(title, true),
            clean(body, false)
        )),
        Notify::Osc9 => Some(format!(
            "\x1b]9;{}: {}\x1b\\",
            clean(title, false),
            clean(body, false)
        )),
    }
}

/// The freedesktop command that shows a desktop notification.
pub const NOTIFY_SEND: &str = "notify-send";

/// What became of a notification handed to [`DesktopNotifier::notify`].
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// `notify-send` was started (and is not waited for).
    Started,
    /// The previous `notify-send` still runs: this notification is dropped,
    /// so that no more than one runs at a time.
    Busy,
    /// `notify-send` cannot be run: `why` says what went wrong, `first`
    /// whether this is the first time in the run (to be said once).
    Unavailable {
        /// The first time in the run.
        first: bool,
        /// What went wrong, as users read it.
        why: String,
    },
}

/// Runs `notify-send`, looked for on a `PATH`, for each desktop
/// notification: its output discarded, never waited for, at most one
/// running at a time (a notification while one runs is dropped).
#[derive(Debug)]
pub struct DesktopNotifier {
    /// The `PATH` searched.
    search_path: OsString,
    /// The command once looked for: `None` before, then where it is (or
    /// `None` when it is not there or failed to start).
    program: Option<Option<PathBuf>>,
    /// The last one started, until it is seen to have ended.
    running: Option<Child>,
    /// Whether it was already said that it cannot be run.
    told: bool,
}

impl DesktopNotifier {
    /// A notifier looking for `notify-send` on the process's `PATH`.
    pub fn from_env() -> Self {
        Self::with_path(std::env::var_os("PATH").unwrap_or_default())
    }

    /// A notifier looking for `notify-send` on `search_path` (a `PATH`
    /// value).
    pub fn with_path(search_path: impl Into<OsString>) -> Self {
        DesktopNotifier {
            search_path: search_path.into(),
            program: None,
            running: None,
            told: false,
        }
    }

    /// Starts `notify-send` with `title` and `body` (control characters
    /// dropped, cut as the escapes are), unless one still runs or it cannot
    /// be run.
    pub fn notify(&mut self, title: &str, body: &str) -> Delivery {
        let search_path = &self.search_path;
        let program = self
            .program
            .get_or_insert_with(|| find_program(search_path, NOTIFY_SEND))
            .clone();
        let Some(program) = program else {
            return self.unavailable(format!("{NOTIFY_SEND} was not found on PATH"));
        };
        if let Some(child) = &mut self.running {
            match child.try_wait() {
                Ok(None) => return Delivery::Busy,
                Ok(Some(_)) | Err(_) => self.running = None,
            }
        }
        let started = Command::new(&program)
            .arg("--app-name=gochat")
            .arg("--")
            .arg(clean(title, false))
            .arg(clean(body, false))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match started {
            Ok(child) => {
                self.running = Some(child);
                Delivery::Started
            }
            Err(e) => {
                self.program = Some(None);
                self.unavailable(format!("{} could not be started: {e}", program.display()))
            }
        }
    }

    fn unavailable(&mut self, why: String) -> Delivery {
        let first = !self.told;
        self.told = true;
        Delivery::Unavailable { first, why }
    }
}

/// The first executable file `name` in the folders of `search_path`.
fn find_program(search_path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(search_path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn sequences_for_each_kind() {
        assert_eq!(escape(Notify::Off, "t", "b"), None);
        assert_eq!(
            escape(Notify::Osc777, "gochat: bob", "hi; there").as_deref(),
            Some("\x1b]777;notify;gochat: bob;hi; there\x1b\\")
        );
        assert_eq!(
            escape(Notify::Osc9, "gochat: bob", "hi").as_deref(),
            Some("\x1b]9;gochat: bob: hi\x1b\\")
        );
    }

    #[test]
    fn a_message_cannot_escape_the_sequence() {
        let evil = "a\x07b\x1b]0;title\x1b\\c\u{9c}d\nline;x";
        let seq = escape(Notify::Osc777, "t;x", evil).unwrap_or_default();
        let inner = &seq[2..seq.len() - 2];
        assert!(!inner.contains(['\x07', '\x1b', '\u{9c}']), "{seq:?}");
        assert!(inner.starts_with("777;notify;t,x;"), "{seq:?}");
        assert!(inner.ends_with("ab]0;title\\cd line;x"), "{seq:?}");
        let long = "x".repeat(500);
        let seq = escape(Notify::Osc9, "t", &long).unwrap_or_default();
        assert_eq!(
            seq.chars().filter(|c| *c == 'x').count(),
            MAX_NOTE_CHARS - 1
        );
        assert!(seq.contains('…'));
    }

    /// A folder of its own holding a fake `notify-send` shell script with
    /// `body`.
    #[cfg(unix)]
    fn fake_notify_send(tag: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gochat_{tag}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join(NOTIFY_SEND);
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn one_notify_send_at_a_time_with_the_texts_as_arguments() {
        let dir = fake_notify_send(
            "notify_busy",
            "printf '%s|' \"$@\" >> \"$(dirname \"$0\")/calls\"; echo >> \"$(dirname \"$0\")/calls\"; sleep 1",
        );
        // A folder without it first on the PATH, as a user's PATH has.
        let search = std::env::join_paths([Path::new("/nonexistent-gochat"), &dir]).unwrap();
        let mut notifier = DesktopNotifier::with_path(search);
        assert_eq!(
            notifier.notify("gochat: bob", "hi\x1b]0;x\x07 there"),
            Delivery::Started
        );
        // The first still sleeps: the second is dropped, not queued.
        assert_eq!(notifier.notify("gochat: bob", "again"), Delivery::Busy);
        let calls = dir.join("calls");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while notifier
            .running
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "notify-send never ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            notifier.notify("gochat: carol", "-n later"),
            Delivery::Started
        );
        let _ = notifier.running.take().map(|mut c| c.wait());
        let text = std::fs::read_to_string(&calls).unwrap_or_default();
        assert_eq!(
            text,
            "--app-name=gochat|--|gochat: bob|hi]0;x there|\n--app-name=gochat|--|gochat: carol|-n later|\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn without_notify_send_it_is_said_once() {
        // A file of that name that is not executable does not count.
        let dir = fake_notify_send("notify_missing", "exit 0");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.join(NOTIFY_SEND),
                std::fs::Permissions::from_mode(0o644),
            )
            .unwrap();
        }
        let mut notifier = DesktopNotifier::with_path(dir.as_os_str());
        assert_eq!(
            notifier.notify("t", "b"),
            Delivery::Unavailable {
                first: true,
                why: "notify-send was not found on PATH".into()
            }
        );
        assert!(matches!(
            notifier.notify("t", "b"),
            Delivery::Unavailable { first: false, .. }
        ));
        assert!(notifier.running.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
