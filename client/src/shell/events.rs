//! What the shell prints for the events of a connection: messages, hooks
//! with their arguments, shutdown notices, unreadable messages, and the
//! disconnection.

use std::time::Instant;

use futures_lite::future;
use gochat_runtime::Runtime;

use super::input::Item;
use super::output::{CYAN, GREEN, MAGENTA, Out, RED};
use super::{LINGER_MAX, LINGER_QUIET, Shell};
use crate::service::HookEvent;
use crate::time::TimeZone;
use crate::types::{ChatMessage, ClientEvent};

/// `stamp` (Unix seconds) in `zone`, `YYYY-MM-DD hh:mm:ss` (`@<stamp>` for
/// a stamp no calendar date can show).
pub(crate) fn local_time(zone: &TimeZone, stamp: i64) -> String {
    zone.date_time(stamp).unwrap_or_else(|| format!("@{stamp}"))
}

/// `[<local time>] <sender>: <text>` (stamp cyan, sender green on a terminal).
pub(crate) fn message_line(out: &Out, zone: &TimeZone, m: &ChatMessage) -> String {
    format!(
        "{} {}: {}",
        out.paint(CYAN, &format!("[{}]", local_time(zone, m.stamp))),
        out.paint(GREEN, m.sender()),
        m.text
    )
}

/// The line of a hook notification, with its arguments.
pub(crate) fn hook_line(out: &Out, hook: &HookEvent) -> String {
    let text = match hook {
        HookEvent::NewLogin {
            username,
            permission,
        } => format!("{username} logged in with permission {permission}"),
        HookEvent::NewLogout { username } => format!("{username} logged out"),
        HookEvent::DupSess { ip } => {
            format!("someone tried to log in to this session's account from {ip}")
        }
        HookEvent::PermsChg {
            username,
            permission,
        } => format!("the permission of {username} changed to {permission}"),
    };
    format!("{} {text}", out.paint(MAGENTA, "[HOOK]"))
}

/// Prints `event` with times in `zone`; `server` names the connection's
/// server.
pub(crate) fn print_event(
    out: &mut Out,
    zone: &TimeZone,
    event: &ClientEvent,
    server: &str,
    bell: bool,
) {
    match event {
        ClientEvent::Message(m) => {
            let line = message_line(out, zone, m);
            out.notify(&line, bell);
        }
        ClientEvent::Unreadable {
            sender,
            stamp,
            reason,
        } => {
            let line = format!(
                "[ERROR] unreadable message from {sender} at [{}]: {reason}",
                local_time(zone, *stamp)
            );
            out.notify(&line, bell);
        }
        ClientEvent::Hook(hook) => {
            let line = hook_line(out, hook);
            out.notify(&line, false);
        }
        ClientEvent::Shutdown { seconds_left, .. } => {
            let when = match seconds_left {
                Some(s) => format!("in {} seconds", (*s).max(0)),
                None => "soon".to_owned(),
            };
            let line = format!(
                "{} Notice: Server {server} will shutdown {when}",
                out.paint(RED, "[SHTDWN]")
            );
            out.notify(&line, bell);
        }
        ClientEvent::Disconnected { reason } => {
            out.notify(
                &format!("[INFO] disconnected from the server: {reason}"),
                false,
            );
        }
    }
}

impl<R: Runtime> Shell<R> {
    /// Waits for the next input line, printing events meanwhile.
    pub(super) async fn wait_line(&mut self) -> Item {
        loop {
            let Some(events) = self.events.clone() else {
                return self.input.line().await;
            };
            let input = &mut self.input;
            let got = future::or(async { Ok(input.line().await) }, async {
                Err(events.recv().await)
            })
            .await;
            match got {
                Ok(item) => return item,
                Err(event) => self.handle_event(event.ok()),
            }
        }
    }

    /// Prints what has already arrived.
    pub(super) fn drain_events(&mut self) {
        while let Some(events) = &self.events {
            match events.try_recv() {
                Ok(e) => self.handle_event(Some(e)),
                Err(async_channel::TryRecvError::Empty) => return,
                Err(async_channel::TryRecvError::Closed) => self.handle_event(None),
            }
        }
    }

    /// At the end of a script: prints events until none came for a second.
    pub(super) async fn linger(&mut self) {
        let end = Instant::now() + LINGER_MAX;
        while let Some(events) = self.events.clone() {
            let deadline = (Instant::now() + LINGER_QUIET).min(end);
            let rt = self.rt.clone();
            let got = future::or(async { Some(events.recv().await) }, async move {
                rt.sleep_until(deadline).await;
                None
            })
            .await;
            match got {
                Some(event) => self.handle_event(event.ok()),
                None => return,
            }
        }
    }

    /// Prints one event (`None`: the stream ended) and forgets the
    /// connection once it is closed.
    pub(super) fn handle_event(&mut self, event: Option<ClientEvent>) {
        let server = self
            .conn
            .as_ref()
            .map(|c| c.server().name.clone())
            .unwrap_or_default();
        if matches!(event, None | Some(ClientEvent::Disconnected { .. })) {
            self.conn = None;
            self.events = None;
            let prompt = self.prompt_text();
            self.out.update_prompt(&prompt);
        }
        match event {
            Some(e) => print_event(&mut self.out, &self.zone, &e, &server, self.bell),
            None => self
                .out
                .notify("[INFO] disconnected from the server", false),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn local_time_has_the_layout() {
        let t = local_time(&TimeZone::utc(), 1_750_000_000);
        assert_eq!(t.len(), 19, "{t}");
        assert_eq!(&t[4..5], "-");
        assert_eq!(&t[13..14], ":");
        assert_eq!(t, "2025-06-15 15:06:40");
        assert_eq!(
            local_time(&TimeZone::fixed(2 * 3600), 1_750_000_000),
            "2025-06-15 17:06:40"
        );
        assert_eq!(
            local_time(&TimeZone::utc(), i64::MAX),
            format!("@{}", i64::MAX)
        );
    }

    #[test]
    fn messages_show_the_local_time() {
        let out = Out::new(Box::new(std::io::sink()), false);
        let m = ChatMessage {
            id: 1,
            server_id: 1,
            account: "alice".into(),
            peer: "bob".into(),
            outgoing: false,
            stamp: 1_750_000_000,
            text: "hi".into(),
        };
        assert_eq!(
            message_line(&out, &TimeZone::fixed(-3600), &m),
            "[2025-06-15 14:06:40] bob: hi"
        );
    }

    #[test]
    fn hooks_show_their_arguments() {
        let out = Out::new(Box::new(std::io::sink()), false);
        let login = HookEvent::NewLogin {
            username: "alice".parse().unwrap(),
            permission: 1,
        };
        assert_eq!(
            hook_line(&out, &login),
            "[HOOK] alice logged in with permission 1"
        );
        let dup = HookEvent::DupSess {
            ip: "10.0.0.1".into(),
        };
        assert!(hook_line(&out, &dup).ends_with("from 10.0.0.1"));
    }
}
