//! The answer to every client request, in the original's check order
//! (ORIGINAL.md §10-11, PROTOCOL.md §6), minus its bugs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gochat_proto::crypto::{self, Challenge};
use gochat_proto::{
    ClientCommand, ErrorCode, Hook, HookEvent, Permission, ServerCommand, UserEntry, UserList,
    Username,
};
use gochat_runtime::Runtime;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::conn::Connection;
use crate::hub::{Offer, Peer, Relay, Spilled};
use crate::limits::Attempt;
use crate::store::{CreateUserError, UserRow};

/// One MSG request: its packet id and arguments.
#[derive(Debug)]
pub(crate) struct MsgRequest {
    pub id: u16,
    pub to: Username,
    pub stamp: i64,
    pub ciphertext: Bytes,
}

/// Where a MSG went.
enum Route {
    /// Queued for the recipient's connection.
    Queued,
    /// To be stored; with the peer whose queue it overflowed (and the guard
    /// to drop once it is stored) when the recipient is online.
    Store(Relay, Option<(Arc<Peer>, Option<Spilled>)>),
}

/// The outcome of a handler: a reply, or an error code for the request.
pub(crate) type Answer = Result<ServerCommand, ErrorCode>;

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A stored user's key and level, or the error the original gives.
pub(crate) fn live_key(
    row: &UserRow,
    corrupt: ErrorCode,
) -> Result<(crypto::RsaPublicKey, u8), ErrorCode> {
    let pem = row.pubkey.as_deref().ok_or(ErrorCode::Dereg)?;
    let level = u8::try_from(row.permission).map_err(|_| corrupt)?;
    if level > Permission::Owner.code() {
        return Err(corrupt);
    }
    let key = crypto::public_key_from_pem(pem.as_bytes()).map_err(|_| corrupt)?;
    Ok((key, level))
}

impl<R: Runtime> Connection<R> {
    fn answer(&mut self, id: u16, answer: Answer) {
        let result = match answer {
            Ok(reply) => match self.session.reply(id, &reply) {
                Err(gochat_proto::ServerSessionError::Encode(_)) => {
                    self.session.reply_err(id, ErrorCode::Packet)
                }
                other => other,
            },
            Err(code) => self.session.reply_err(id, code),
        };
        if let Err(e) = result {
            warn!("reply to connection {} failed: {e}", self.id);
        }
    }

    /// The stored account of `username`: ERR NOTFOUND when there is none,
    /// `failure` when the store fails (ERR LOGIN during a login, ERR SERVER
    /// elsewhere, as the original answers).
    pub(crate) async fn user_row(
        &self,
        username: &Username,
        failure: ErrorCode,
    ) -> Result<UserRow, ErrorCode> {
        match self.ctx.store.user(username.as_str()).await {
            Ok(Some(row)) => Ok(row),
            Ok(None) => Err(ErrorCode::NotFound),
            Err(e) => {
                warn!("looking up {username} failed: {e}");
                Err(failure)
            }
        }
    }

    /// Whether this address may make one more attempt of `kind` now.
    fn allowed(&self, kind: Attempt) -> Result<(), ErrorCode> {
        if self.ctx.ip_limits.allow(self.ip, kind, Instant::now()) {
            Ok(())
        } else {
            info!("{kind:?} from {} refused: over its rate", self.ip);
            Err(ErrorCode::Perms)
        }
    }

    pub(crate) async fn on_request(&mut self, id: u16, command: ClientCommand) {
        let limited = match &command {
            ClientCommand::Reg { .. } => self.allowed(Attempt::Register),
            ClientCommand::Login { .. } | ClientCommand::LoginToken { .. } => {
                self.allowed(Attempt::Login)
            }
            _ => Ok(()),
        };
        if let Err(code) = limited {
            self.answer(id, Err(code));
            return;
        }
        let answer = match command {
            ClientCommand::Keep | ClientCommand::Verif { .. } => return,
            ClientCommand::Reg { username, pubkey } => self.register(username, &pubkey).await,
            ClientCommand::Login { username } => match self.login(id, username).await {
                Ok(()) => return,
                Err(code) => Err(code),
            },
            ClientCommand::LoginToken { username, token } => {
                match self.token_login(id, username, &token).await {
                    Ok(()) => return,
                    Err(code) => Err(code),
                }
            }
            ClientCommand::Logout => {
                self.end_login().await;
                Ok(ServerCommand::Ok)
            }
            ClientCommand::Dereg => self.deregister().await,
            ClientCommand::Req { username } => self.request_key(username).await,
            ClientCommand::Usrs(list) => self.user_list(list).await,
            ClientCommand::Msg {
                to,
                stamp,
                ciphertext,
            } => {
                let m = MsgRequest {
                    id,
                    to,
                    stamp,
                    ciphertext,
                };
                return self.messages(vec![m]).await;
            }
            ClientCommand::Reciv => match self.start_catch_up(id).await {
                Ok(()) => return,
                Err(code) => Err(code),
            },
            ClientCommand::Sub(hook) => self.subscription(hook, true),
            ClientCommand::Unsub(hook) => self.subscription(hook, false),
            ClientCommand::Admin(admin) => self.admin(admin).await,
        };
        self.answer(id, answer);
    }

    async fn register(&mut self, username: Username, pem: &[u8]) -> Answer {
        let key = crypto::public_key_from_pem(pem).map_err(|_| ErrorCode::Args)?;
        if crypto::key_bits(&key) != crypto::KEY_BITS {
            return Err(ErrorCode::Args);
        }
        let canonical = crypto::public_key_to_pem(&key).map_err(|_| ErrorCode::Args)?;
        let (_, der) = crypto::pem_decode(canonical.as_bytes()).map_err(|_| ErrorCode::Args)?;
        let fingerprint: [u8; 32] = Sha256::digest(&der).into();
        match self
            .ctx
            .store
            .create_user(username.as_str(), &canonical, &fingerprint)
            .await
        {
            Ok(_) => {
                info!("registered {username} from {}", self.ip);
                Ok(ServerCommand::Ok)
            }
            Err(CreateUserError::Exists) => Err(ErrorCode::Exists),
            Err(CreateUserError::Deregistered) => Err(ErrorCode::Dereg),
            Err(CreateUserError::Store(e)) => {
                warn!("registration of {username} failed: {e}");
                Err(ErrorCode::Server)
            }
        }
    }

    /// The original's session resolution for LOGIN: DUPSESS, then the user.
    async fn resolve_login(
        &mut self,
        username: &Username,
    ) -> Result<(UserRow, crypto::RsaPublicKey, u8), ErrorCode> {
        if let Some(existing) = self.ctx.hub.peer(username) {
            self.ctx.hub.notify_dupsess(&existing, self.ip);
            return Err(ErrorCode::DupSess);
        }
        let row = self.user_row(username, ErrorCode::Login).await?;
        let (key, level) = live_key(&row, ErrorCode::Login)?;
        Ok((row, key, level))
    }

    async fn login(&mut self, id: u16, username: Username) -> Result<(), ErrorCode> {
        let (_, key, _) = self.resolve_login(&username).await?;
        let challenge =
            Challenge::generate(&mut getrandom::SysRng).map_err(|_| ErrorCode::Server)?;
        let text = challenge.as_bytes().to_vec();
        let cipher = self
            .ctx
            .rt
            .spawn_blocking(move || {
                crypto::encrypt_without_crlf(&key, &mut getrandom::SysRng, &text)
            })
            .await
            .map_err(|_| ErrorCode::Corrupted)?;
        self.session
            .begin_verification(id, username, challenge, Bytes::from(cipher), Instant::now())
            .map_err(|_| ErrorCode::Invalid)?;
        Ok(())
    }

    async fn token_login(
        &mut self,
        id: u16,
        username: Username,
        token: &[u8],
    ) -> Result<(), ErrorCode> {
        let (row, key, level) = self.resolve_login(&username).await?;
        if !self.secure {
            return Err(ErrorCode::NoSecure);
        }
        self.ctx.hub.check_token(&username, token, Instant::now())?;
        self.go_online(id, username, row.id, key, level)
    }

    pub(crate) async fn finish_login(&mut self, id: u16, username: Username, challenge: Challenge) {
        let fresh = async {
            // The account may have changed since LOGIN: read it again.
            let row = self.user_row(&username, ErrorCode::Login).await?;
            let (key, level) = live_key(&row, ErrorCode::Login)?;
            Ok((row, key, level))
        }
        .await;
        let result = fresh
            .and_then(|(row, key, level)| self.go_online(id, username.clone(), row.id, key, level));
        match result {
            Ok(()) => {
                if self.secure {
                    self.ctx.hub.store_token(&username, challenge, self.id);
                }
            }
            Err(code) => {
                let _ = self.session.reject_login(id, code);
            }
        }
    }

    fn go_online(
        &mut self,
        id: u16,
        username: Username,
        user_id: i64,
        key: crypto::RsaPublicKey,
        level: u8,
    ) -> Result<(), ErrorCode> {
        let peer = Arc::new(Peer::new(
            self.id,
            username.clone(),
            user_id,
            self.ip,
            key,
            level,
            self.tx.clone(),
            self.ctx.queue_limit,
        ));
        if let Err(existing) = self.ctx.hub.go_online(peer.clone()) {
            self.ctx.hub.notify_dupsess(&existing, self.ip);
            return Err(ErrorCode::DupSess);
        }
        if self
            .session
            .complete_login(id, username.clone(), level)
            .is_err()
        {
            self.ctx.hub.go_offline(&username, self.id);
            return Err(ErrorCode::Invalid);
        }
        self.me = Some(peer);
        info!("{username} logged in from {}", self.ip);
        self.ctx.hub.notify(&HookEvent::NewLogin {
            username,
            permission: level,
        });
        Ok(())
    }

    async fn deregister(&mut self) -> Answer {
        let Some(name) = self.my_name().cloned() else {
            return Err(ErrorCode::NoSess);
        };
        match self.ctx.store.deregister(name.as_str()).await {
            Ok(_) => {
                info!("{name} deregistered");
                self.end_login().await;
                Ok(ServerCommand::Ok)
            }
            Err(e) => {
                warn!("deregistration of {name} failed: {e}");
                Err(ErrorCode::Server)
            }
        }
    }

    async fn request_key(&mut self, username: Username) -> Answer {
        let row = self.user_row(&username, ErrorCode::Server).await?;
        let (key, permission) = live_key(&row, ErrorCode::Corrupted)?;
        let pem = crypto::public_key_to_pem(&key).map_err(|_| ErrorCode::Corrupted)?;
        Ok(ServerCommand::Req {
            username,
            pubkey: Bytes::from(pem),
            permission,
        })
    }

    async fn user_list(&mut self, list: UserList) -> Answer {
        let entries = if list.online_only() {
            self.ctx.hub.online_list(list.with_permissions())
        } else {
            let rows = self
                .ctx
                .store
                .users()
                .await
                .map_err(|_| ErrorCode::Server)?;
            rows.into_iter()
                .filter_map(|(name, perm)| {
                    Some(UserEntry {
                        name: Username::parse(name.as_bytes()).ok()?,
                        permission: if list.with_permissions() {
                            Some(u8::try_from(perm).unwrap_or(u8::MAX))
                        } else {
                            None
                        },
                    })
                })
                .collect()
        };
        if entries.is_empty() {
            // As the original: an empty list is ERR OPTION.
            return Err(ErrorCode::Option);
        }
        Ok(ServerCommand::Usrs(entries))
    }

    /// Answers a run of MSG requests that arrived together: each is routed
    /// (queued for its online recipient, or to the store), every message for
    /// the store goes in one insert, and the answers go out in request
    /// order once it is committed. A sender that pipelines MSGs to an
    /// offline user thus costs one transaction per run, not per message.
    pub(crate) async fn messages(&mut self, batch: Vec<MsgRequest>) {
        let mut answers: Vec<(u16, Option<Answer>)> = Vec::with_capacity(batch.len());
        let mut rows = Vec::new();
        let mut spills = Vec::new();
        let mut guards = Vec::new();
        let mut accounts: HashMap<Username, Result<i64, ErrorCode>> = HashMap::new();
        for m in batch {
            let route = self.route_message(&m, &mut accounts).await;
            let answer = match route {
                Err(code) => Some(Err(code)),
                Ok(Route::Queued) => Some(Ok(ServerCommand::Ok)),
                Ok(Route::Store(relay, spilled)) => {
                    if let Some((peer, guard)) = spilled {
                        spills.push((rows.len(), peer));
                        guards.extend(guard);
                    }
                    rows.push(relay);
                    None
                }
            };
            answers.push((m.id, answer));
        }
        let stored = self.ctx.writer.insert_noting(rows, spills).await;
        // The spilled messages are stored (or failed): their peers may look.
        drop(guards);
        for (id, answer) in answers {
            let answer = answer.unwrap_or(if stored {
                Ok(ServerCommand::Ok)
            } else {
                Err(ErrorCode::Server)
            });
            self.answer(id, answer);
        }
    }

    /// Where one MSG goes, in the original's check order; `accounts` keeps
    /// the recipients looked up in this run.
    async fn route_message(
        &self,
        m: &MsgRequest,
        accounts: &mut HashMap<Username, Result<i64, ErrorCode>>,
    ) -> Result<Route, ErrorCode> {
        let me = self.me.as_ref().ok_or(ErrorCode::NoSess)?;
        if m.to == me.username {
            return Err(ErrorCode::Invalid);
        }
        let relay = |recipient_id| Relay {
            sender: me.username.clone(),
            sender_id: me.user_id,
            recipient_id,
            stamp: m.stamp,
            ciphertext: m.ciphertext.clone(),
        };
        if let Some(peer) = self.ctx.hub.peer(&m.to) {
            return Ok(match peer.offer(relay(peer.user_id)) {
                Offer::Queued => Route::Queued,
                Offer::Spill(relay, guard) => Route::Store(relay, Some((peer, Some(guard)))),
                // Noted as spilled: the connection, on its way out, stores
                // what it still had ahead of this.
                Offer::Gone(relay) => Route::Store(relay, Some((peer, None))),
            });
        }
        let account = match accounts.get(&m.to) {
            Some(known) => *known,
            None => {
                let found = self
                    .user_row(&m.to, ErrorCode::Server)
                    .await
                    .and_then(|row| row.pubkey.map(|_| row.id).ok_or(ErrorCode::Dereg));
                accounts.insert(m.to.clone(), found);
                found
            }
        };
        Ok(Route::Store(relay(account?), None))
    }

    /// Hands a message to an online peer's connection, or to the store when
    /// its queue is full or it is leaving; whether the message is now safe
    /// (queued or stored).
    pub(crate) async fn deliver(&self, peer: &Arc<Peer>, relay: Relay) -> bool {
        match peer.offer(relay) {
            Offer::Queued => true,
            Offer::Spill(relay, spilled) => {
                let spills = vec![(0, peer.clone())];
                let stored = self.ctx.writer.insert_noting(vec![relay], spills).await;
                drop(spilled);
                stored
            }
            // Noted as spilled: the connection, on its way out, stores what
            // it still had ahead of this.
            Offer::Gone(relay) => {
                let spills = vec![(0, peer.clone())];
                self.ctx.writer.insert_noting(vec![relay], spills).await
            }
        }
    }

    fn subscription(&mut self, hook: Hook, subscribe: bool) -> Answer {
        let me = self.me.as_ref().ok_or(ErrorCode::NoSess)?;
        if subscribe {
            me.subscribe(hook)?;
        } else {
            me.unsubscribe(hook)?;
        }
        Ok(ServerCommand::Ok)
    }
}
