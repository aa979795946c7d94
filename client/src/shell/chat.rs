//! Users, messages, hooks and administration: USRS, MSG, RECIV, REQ,
//! HISTORY, PERMS, SUB, UNSUB, ADMIN, VER, VERBOSE.

use std::collections::HashMap;

use bytes::Bytes;
use gochat_proto::Username;
use gochat_runtime::Runtime;

use super::Shell;
use super::args::{self, Line, not_enough, too_many};
use super::events::message_line;
use super::help::Cmd;
use crate::service::{AdminCommand, Hook, UserList};
use crate::types::ClientError;

/// HISTORY's count when none is given.
const HISTORY_DEFAULT: u32 = 20;
/// The largest count HISTORY takes.
const HISTORY_MAX: u32 = 100_000;

/// A username typed by the user, lowercased and checked.
fn username(text: &str) -> Result<Username, ClientError> {
    Username::new(&text.to_ascii_lowercase())
        .map_err(|e| ClientError::Invalid(format!("invalid username {text}: {e}")))
}

/// The hook named as the original shell names them (or `HOOK_*`).
fn hook(name: &str) -> Result<Hook, ClientError> {
    let hook = match name.to_ascii_lowercase().as_str() {
        "all" => Some(Hook::All),
        "new_login" => Some(Hook::NewLogin),
        "new_logout" => Some(Hook::NewLogout),
        "duplicated_session" => Some(Hook::DupSess),
        "permissions_change" => Some(Hook::PermsChg),
        _ => Hook::from_name(name),
    };
    hook.ok_or_else(|| {
        ClientError::Invalid(format!(
            "invalid hook provided: {name} (all, new_login, new_logout, duplicated_session or \
             permissions_change)"
        ))
    })
}

/// The current Unix time in seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl<R: Runtime> Shell<R> {
    /// USRS <online/all> [-perms] | local <server/all> | requested.
    pub(super) async fn cmd_usrs(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Usrs.usage();
        let f = args::flags(&line.args(), &["-perms"])?;
        let words: Vec<String> = f
            .positional
            .iter()
            .map(|w| w.to_ascii_lowercase())
            .collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let perms = f.has("-perms");
        if perms && !matches!(words[..], ["online"] | ["all"]) {
            return Err(ClientError::Invalid(
                "-perms goes with USRS online or USRS all".to_owned(),
            ));
        }
        match words[..] {
            [] | ["local"] => Err(not_enough(usage)),
            [option @ ("online" | "all")] => {
                let list = match (option, perms) {
                    ("online", false) => UserList::Online,
                    ("online", true) => UserList::OnlinePerms,
                    (_, false) => UserList::All,
                    (_, true) => UserList::AllPerms,
                };
                let users = self.connection()?.users(list).await?;
                self.out.plain(&format!("{option} users:"));
                for u in users {
                    match u.permission {
                        Some(p) => self.out.plain(&format!("{} (permission {p})", u.name)),
                        None => self.out.plain(u.name.as_str()),
                    }
                }
                Ok(())
            }
            ["local", "server"] => {
                let server = self.connection()?.server().clone();
                let accounts = self.service.store().accounts(Some(server.id)).await?;
                self.out.plain(&format!(
                    "local users from {} - {}:{}:",
                    server.name, server.address, server.port
                ));
                for a in accounts {
                    self.out.plain(&a.username);
                }
                Ok(())
            }
            ["local", "all"] => {
                let store = self.service.store().clone();
                let servers: HashMap<i64, _> = store
                    .servers()
                    .await?
                    .into_iter()
                    .map(|s| (s.id, s))
                    .collect();
                self.out.plain("all local users:");
                for a in store.accounts(None).await? {
                    match servers.get(&a.server_id) {
                        Some(s) => self.out.plain(&format!(
                            "{} ({} - {}:{})",
                            a.username, s.name, s.address, s.port
                        )),
                        None => self.out.plain(&format!("{} (Unknown)", a.username)),
                    }
                }
                Ok(())
            }
            ["requested"] => {
                let store = self.service.store().clone();
                self.out.plain("all external users:");
                for s in store.servers().await? {
                    for c in store.contacts(s.id).await? {
                        self.out.plain(&format!(
                            "{} ({} - {}:{})",
                            c.username, s.name, s.address, s.port
                        ));
                    }
                }
                Ok(())
            }
            ["local", _] | [_] => Err(ClientError::Invalid(format!(
                "unknown usrs option provided (usage: {usage})"
            ))),
            _ => Err(too_many(usage)),
        }
    }

    /// MSG <user> <text…>: the text as typed after the user.
    pub(super) async fn cmd_msg(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Msg.usage();
        let Some(to) = line.args().first().copied() else {
            return Err(not_enough(usage));
        };
        let text = line.rest_after(1);
        if text.is_empty() {
            return Err(ClientError::Invalid(format!(
                "no message text given (usage: {usage})"
            )));
        }
        let conn = self.connection()?;
        let sent = conn.send_text(to, text).await?;
        if sent.len() > 1 {
            self.out
                .ok(&format!("message sent correctly (in {} parts)", sent.len()));
        } else {
            self.out.ok("message sent correctly");
        }
        Ok(())
    }

    /// RECIV: the messages arrive as events.
    pub(super) async fn cmd_reciv(&mut self) -> Result<(), ClientError> {
        self.connection()?.catch_up().await?;
        self.out.ok("messages queried correctly");
        Ok(())
    }

    /// REQ <user>: stores (or refreshes) the user's key.
    pub(super) async fn cmd_req(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Req.usage();
        let [user] = line.args()[..] else {
            return Err(if line.args().is_empty() {
                not_enough(usage)
            } else {
                too_many(usage)
            });
        };
        let contact = self.connection()?.request_key(user).await?;
        self.out.ok(&format!(
            "external user {} successfully added to the database",
            contact.username
        ));
        Ok(())
    }

    /// HISTORY <user> [count]: the last messages with `user`, oldest first.
    pub(super) async fn cmd_history(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::History.usage();
        let args = line.args();
        let (peer, count) = match args[..] {
            [peer] => (peer, HISTORY_DEFAULT),
            [peer, count] => match count.parse::<u32>() {
                Ok(n) if (1..=HISTORY_MAX).contains(&n) => (peer, n),
                _ => {
                    return Err(ClientError::Invalid(format!(
                        "invalid count {count}: a number from 1 to {HISTORY_MAX} is expected"
                    )));
                }
            },
            [] => return Err(not_enough(usage)),
            _ => return Err(too_many(usage)),
        };
        let peer = username(peer)?;
        let conn = self.connection()?;
        let me = conn.user().ok_or(ClientError::NotLoggedIn)?;
        let messages = self
            .service
            .history(conn.server().id, &me, peer.as_str(), None, count)
            .await?;
        if messages.is_empty() {
            self.out.info(&format!("no messages with {peer}"));
        }
        for m in messages.iter().rev() {
            let text = message_line(&self.out, &self.zone, m);
            self.out.plain(&text);
        }
        Ok(())
    }

    /// PERMS <user>.
    pub(super) async fn cmd_perms(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Perms.usage();
        let [user] = line.args()[..] else {
            return Err(if line.args().is_empty() {
                not_enough(usage)
            } else {
                too_many(usage)
            });
        };
        let user = username(user)?;
        let level = self.connection()?.permission_of(user.as_str()).await?;
        self.out.plain(&format!("{user}: Permission level {level}"));
        Ok(())
    }

    /// SUB <hook> (`subscribe`) or UNSUB <hook>.
    pub(super) async fn cmd_sub(
        &mut self,
        line: &Line<'_>,
        subscribe: bool,
    ) -> Result<(), ClientError> {
        let usage = if subscribe {
            Cmd::Sub.usage()
        } else {
            Cmd::Unsub.usage()
        };
        let [name] = line.args()[..] else {
            return Err(if line.args().is_empty() {
                not_enough(usage)
            } else {
                too_many(usage)
            });
        };
        let hook = hook(name)?;
        let conn = self.connection()?;
        if subscribe {
            conn.subscribe(hook).await?;
            self.out.ok("successfully subscribed!");
        } else {
            conn.unsubscribe(hook).await?;
            self.out.ok("successfully unsubscribed!");
        }
        Ok(())
    }

    /// ADMIN <op> <args…>; the original's operation names are taken too.
    pub(super) async fn cmd_admin(&mut self, line: &Line<'_>) -> Result<(), ClientError> {
        let usage = Cmd::Admin.usage();
        let args = line.args();
        let Some(op) = args.first().map(|o| o.to_ascii_lowercase()) else {
            return Err(not_enough(usage));
        };
        let arg = |i: usize| args.get(i).copied().ok_or_else(|| not_enough(usage));
        let text = || match line.rest_after(1) {
            "" => Err(not_enough(usage)),
            t => Ok(Bytes::from(t.to_owned())),
        };
        let command = match op.as_str() {
            "shutdown" | "shtdwn" => {
                let minutes = arg(1)?;
                let minutes: i64 = minutes.parse().ok().filter(|m| *m >= 0).ok_or_else(|| {
                    ClientError::Invalid(format!("invalid number of minutes {minutes}"))
                })?;
                let stamp = unix_now().saturating_add(minutes.saturating_mul(60));
                AdminCommand::Shutdown { stamp }
            }
            "broadcast" | "brdcast" => AdminCommand::Broadcast { text: text()? },
            "ban" | "dereg" => AdminCommand::Dereg {
                username: username(arg(1)?)?,
            },
            "kick" => AdminCommand::Kick {
                username: username(arg(1)?)?,
            },
            "setperms" | "chperms" | "chgperms" => {
                let level = arg(2)?;
                let permission = level.parse::<u8>().map_err(|_| {
                    ClientError::Invalid(format!("invalid permission level {level}"))
                })?;
                AdminCommand::ChangePerms {
                    username: username(arg(1)?)?,
                    permission,
                }
            }
            "motd" => AdminCommand::Motd { text: text()? },
            _ => {
                return Err(ClientError::Invalid(format!(
                    "invalid admin operation {op} (shutdown, broadcast, ban, kick, setperms or motd)"
                )));
            }
        };
        self.connection()?.admin(command).await?;
        self.out
            .ok(&format!("admin operation {op} sent successfully"));
        Ok(())
    }

    /// VER.
    pub(super) fn cmd_ver(&mut self) -> Result<(), ClientError> {
        self.out.plain(&format!(
            "gochat protocol version {}",
            gochat_proto::header::VERSION
        ));
        self.out.plain(&format!(
            "gochat shell version {}",
            env!("CARGO_PKG_VERSION")
        ));
        Ok(())
    }

    /// VERBOSE: toggles the intermediate steps.
    pub(super) fn cmd_verbose(&mut self) -> Result<(), ClientError> {
        self.verbose = !self.verbose;
        let state = if self.verbose { "on" } else { "off" };
        self.out.plain(&format!("verbose mode {state}"));
        Ok(())
    }
}
