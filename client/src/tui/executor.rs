//! Running [`Task`]s on the async runtime: each becomes a spawned future
//! whose result goes back to the update loop as [`Msg::Done`]. A connection's
//! events are forwarded as [`Msg::Net`] by the task that opened it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

use gochat_runtime::Runtime;
use gochat_runtime::tls::ServerVerification;

use super::msg::{Ctx, Msg, Outcome, Task};
use crate::service::{ConnectOptions, Connection, Service};
use crate::types::{ClientError, ClientEvent, ServerRecord};

/// The open connections by server key, with their generation.
type Conns = Arc<Mutex<HashMap<i64, (u64, Connection)>>>;

/// Where exported keys and recovered data go.
const EXPORT_DIR: &str = "export";

/// How to turn TLS off for the server on screen, said when it does not
/// speak TLS.
pub const TLS_OFF_HINT: &str = "If it is a plain TCP server, turn TLS off for it with \
                                /set Server.TLS false, then /connect again";

/// What a failed `/connect` shows: the error, and when the server does not
/// seem to speak TLS, how to turn TLS off for it.
fn connect_error(e: &ClientError) -> String {
    match e {
        ClientError::NotTls { .. } => format!("{e}. {TLS_OFF_HINT}"),
        _ => e.to_string(),
    }
}

/// Runs tasks for the update loop.
#[derive(Clone)]
pub struct Executor<R: Runtime> {
    rt: R,
    service: Service,
    conns: Conns,
    tx: Sender<Msg>,
    verification: ServerVerification,
}

impl<R: Runtime> Executor<R> {
    /// An executor spawning on `rt`, reporting to `tx`; TLS certificates are
    /// checked as `verification` says (unless `/connect -noverify`).
    pub fn new(rt: R, service: Service, tx: Sender<Msg>, verification: ServerVerification) -> Self {
        Executor {
            rt,
            service,
            conns: Arc::default(),
            tx,
            verification,
        }
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<i64, (u64, Connection)>> {
        self.conns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn conn(&self, key: i64) -> Result<Connection, ClientError> {
        self.conns()
            .get(&key)
            .map(|(_, c)| c.clone())
            .ok_or(ClientError::NotConnected)
    }

    /// Spawns `task`; its result comes back as [`Msg::Done`] with `ctx`.
    pub fn spawn(&self, ctx: Ctx, task: Task) {
        let this = self.clone();
        if let Task::Connect {
            record,
            generation,
            noverify,
        } = task
        {
            self.rt
                .spawn(async move { this.connect(ctx, record, generation, noverify).await });
            return;
        }
        self.rt.spawn(async move {
            let result = this.perform(&ctx, task).await.map_err(|e| e.to_string());
            let _ = this.tx.send(Msg::Done { ctx, result });
        });
    }

    /// Connects, reports, then forwards the connection's events until it ends.
    async fn connect(self, ctx: Ctx, record: ServerRecord, generation: u64, noverify: bool) {
        let options = ConnectOptions {
            verification: if noverify {
                ServerVerification::Disabled
            } else {
                self.verification.clone()
            },
            ..ConnectOptions::default()
        };
        let conn = match self.service.connect(&self.rt, &record, &options).await {
            Ok(conn) => conn,
            Err(e) => {
                let _ = self.tx.send(Msg::Done {
                    ctx,
                    result: Err(connect_error(&e)),
                });
                return;
            }
        };
        let key = record.id;
        let old = self.conns().insert(key, (generation, conn.clone()));
        if let Some((_, old)) = old {
            old.disconnect().await;
        }
        let motd = conn.motd().to_owned();
        let events = conn.events();
        drop(conn);
        if self
            .tx
            .send(Msg::Done {
                ctx,
                result: Ok(Outcome::Connected { motd }),
            })
            .is_err()
        {
            return;
        }
        while let Ok(event) = events.recv().await {
            let last = matches!(event, ClientEvent::Disconnected { .. });
            if self
                .tx
                .send(Msg::Net {
                    server: key,
                    generation,
                    event,
                })
                .is_err()
                || last
            {
                break;
            }
        }
        let mut conns = self.conns();
        if conns.get(&key).is_some_and(|(g, _)| *g == generation) {
            conns.remove(&key);
        }
    }

    async fn record(&self, key: i64) -> Result<ServerRecord, ClientError> {
        let servers = self.service.store().servers().await?;
        servers
            .into_iter()
            .find(|s| s.id == key)
            .ok_or_else(|| ClientError::NotFound("server".to_owned()))
    }

    async fn perform(&self, ctx: &Ctx, task: Task) -> Result<Outcome, ClientError> {
        let key = ctx.server;
        let store = self.service.store();
        Ok(match task {
            Task::Connect { .. } => {
                return Err(ClientError::Invalid("connect runs on its own".to_owned()));
            }
            Task::Disconnect => {
                self.conn(key)?.disconnect().await;
                Outcome::Done
            }
            Task::Register { username, password } => {
                self.conn(key)?.register(&username, &password.0).await?;
                Outcome::Account(username.to_ascii_lowercase())
            }
            Task::Login { username, password } => {
                Outcome::LoggedIn(self.conn(key)?.login(&username, &password.0).await?)
            }
            Task::Logout => {
                self.conn(key)?.logout().await?;
                Outcome::Done
            }
            Task::Deregister { password } => {
                let conn = self.conn(key)?;
                let name = conn.user().unwrap_or_default();
                conn.deregister(&password.0).await?;
                Outcome::Account(name)
            }
            Task::Users(list) => Outcome::Users(list, self.conn(key)?.users(list).await?),
            Task::LocalUsers { server } => {
                let names: HashMap<i64, String> = store
                    .servers()
                    .await?
                    .into_iter()
                    .map(|s| (s.id, s.name))
                    .collect();
                let accounts = store.accounts(server).await?;
                Outcome::LocalUsers(
                    accounts
                        .into_iter()
                        .map(|a| (a.username, names.get(&a.server_id).cloned()))
                        .collect(),
                )
            }
            Task::Open { peer } => {
                if store.contact(key, &peer).await?.is_none() {
                    self.conn(key)?.request_key(&peer).await?;
                }
                Outcome::Done
            }
            Task::History {
                account,
                peer,
                before,
                limit,
            } => Outcome::History(
                self.service
                    .history(key, &account, &peer, before, limit)
                    .await?,
            ),
            Task::Send { to, text } => Outcome::Sent(self.conn(key)?.send_text(&to, &text).await?),
            Task::Subscribe(hook) => {
                self.conn(key)?.subscribe(hook).await?;
                Outcome::Done
            }
            Task::Unsubscribe(hook) => {
                self.conn(key)?.unsubscribe(hook).await?;
                Outcome::Done
            }
            Task::Admin(op) => {
                self.conn(key)?.admin(op).await?;
                Outcome::Done
            }
            Task::Import {
                username,
                path,
                password,
            } => {
                let record = self.record(key).await?;
                let typed = path.clone();
                let read = self.rt.spawn_blocking(move || {
                    let path = import_path(&typed.to_string_lossy());
                    std::fs::read_to_string(&path)
                        .map_err(|e| ClientError::Io(format!("{}: {e}", path.display())))
                });
                let pem = read.await?;
                self.service
                    .import_key(&record, &username, &pem, &password.0)
                    .await?;
                Outcome::Account(username.to_ascii_lowercase())
            }
            Task::Export { username, password } => {
                let record = self.record(key).await?;
                let path = self
                    .service
                    .export_key(&record, &username, &password.0, Path::new(EXPORT_DIR))
                    .await?;
                Outcome::Files(vec![path])
            }
            Task::Recover {
                username,
                password,
                cleanup,
            } => Outcome::Files(
                self.service
                    .recover(&username, &password.0, Path::new(EXPORT_DIR), cleanup)
                    .await?,
            ),
            Task::AddServer {
                name,
                address,
                port,
                tls,
            } => {
                if store.server_by_name(&name).await?.is_some() {
                    return Err(ClientError::Exists(format!("server {name}")));
                }
                Outcome::Server(store.add_server(Some(&name), &address, port, tls).await?)
            }
            Task::UpdateServer(record) => {
                store.update_server(&record).await?;
                self.service.forget_tokens(record.id);
                Outcome::Server(record)
            }
            Task::DeleteServer { name } => {
                if !store.delete_server(&name).await? {
                    return Err(ClientError::NotFound(format!("server {name}")));
                }
                self.service.forget_tokens(key);
                Outcome::Done
            }
            Task::SetStart(options) => {
                store.set_start_options(key, &options).await?;
                Outcome::Start(options)
            }
            Task::Search {
                account,
                peer,
                query,
                limit,
            } => {
                let (messages, total) = self
                    .service
                    .search(key, &account, peer.as_deref(), &query, limit)
                    .await?;
                Outcome::Found { messages, total }
            }
            Task::Names => Outcome::Names {
                contacts: store
                    .contacts(key)
                    .await?
                    .into_iter()
                    .map(|c| c.username)
                    .collect(),
                accounts: store
                    .accounts(Some(key))
                    .await?
                    .into_iter()
                    .map(|a| a.username)
                    .collect(),
            },
        })
    }
}

/// Where `/import` reads a key: an absolute path as it is; a relative one
/// from `import/` when the file is there, else from the working folder.
/// (Looks at the file system: only tasks call it, never the update.)
pub fn import_path(typed: &str) -> PathBuf {
    let path = Path::new(typed);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    let in_import = Path::new("import").join(path);
    if in_import.exists() {
        in_import
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_without_tls_gets_the_way_to_turn_it_off() {
        let e = ClientError::NotTls {
            endpoint: "127.0.0.1:9037".into(),
            detail: "received corrupt message of type InvalidContentType".into(),
        };
        let text = connect_error(&e);
        assert!(
            text.starts_with(
                "the server at 127.0.0.1:9037 does not seem to speak TLS on that port"
            ),
            "{text}"
        );
        assert!(text.ends_with(TLS_OFF_HINT), "{text}");
        assert!(TLS_OFF_HINT.contains("/set Server.TLS false"));
        let other = ClientError::Tls("bad certificate".into());
        assert_eq!(connect_error(&other), "TLS: bad certificate");
    }
}
