//! The answer to every client request: each handler reads what it needs
//! from the store, asks the core's rules (`crate::core::rules`) what to do,
//! and applies it. The check order is the original's (docs/PROTOCOL.md §6).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gochat_proto::crypto::{self, Challenge};
use gochat_proto::{ClientCommand, ErrorCode, Hook, ServerCommand, UserList, Username};
use gochat_runtime::Runtime;
use tracing::{info, warn};

use super::Connection;
use crate::cluster::{Claim, Handed, Parcel};
use crate::core::{Peer, Relay, Route, rules};
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

/// The outcome of a handler: a reply, or an error code for the request.
pub(crate) type Answer = Result<ServerCommand, ErrorCode>;

/// Unix seconds now (the wall clock).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// When a token released now expires (Unix seconds): `token_lifetime` later.
pub(crate) fn token_expiry(hub: &crate::core::Hub) -> i64 {
    let lifetime = i64::try_from(hub.token_lifetime().as_secs()).unwrap_or(i64::MAX);
    unix_now().saturating_add(lifetime)
}

impl<R: Runtime> Connection<R> {
    pub(crate) fn answer(&mut self, id: u16, answer: Answer) {
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

    /// The stored account of `username`, if any; `failure` when the store
    /// fails (ERR LOGIN during a login, ERR SERVER elsewhere, as the
    /// original answers).
    async fn account(
        &self,
        username: &Username,
        failure: ErrorCode,
    ) -> Result<Option<UserRow>, ErrorCode> {
        self.ctx.store.user(username.as_str()).await.map_err(|e| {
            warn!("looking up {username} failed: {e}");
            failure
        })
    }

    /// The stored account of `username`: ERR NOTFOUND when there is none.
    pub(crate) async fn user_row(
        &self,
        username: &Username,
        failure: ErrorCode,
    ) -> Result<UserRow, ErrorCode> {
        self.account(username, failure)
            .await?
            .ok_or(ErrorCode::NotFound)
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
        let (canonical, fingerprint) = rules::registration_key(pem)?;
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
        rules::check_no_session(&self.ctx.hub, username, self.ip)?;
        if let Some(cluster) = self.ctx.cluster.as_ref()
            && let Some(holder) = cluster.holder_elsewhere(username)
        {
            cluster.dupsess(&holder.node, username, self.ip).await;
            return Err(ErrorCode::DupSess);
        }
        let row = self.user_row(username, ErrorCode::Login).await?;
        let (key, level) = rules::live_key(&row, ErrorCode::Login)?;
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
        let check =
            |hub| rules::check_token_login(hub, &username, token, self.secure, Instant::now());
        match check(&self.ctx.hub) {
            // Issued by another node of the cluster, perhaps.
            Err(ErrorCode::NotFound) if self.ctx.cluster.is_some() => {
                self.import_token(&username, token).await?;
                check(&self.ctx.hub)?;
            }
            other => other?,
        }
        self.go_online(id, username, row.id, key, level).await
    }

    /// Takes `username`'s token from the cluster if `token` is it and it is
    /// still usable: NOTFOUND (none, or expired), HANDSHAKE (another text),
    /// as a local token.
    ///
    /// Called once no live node holds the user's session (else the login
    /// got DUPSESS). A token still marked active then belonged to a session
    /// whose node died (or whose release is on its way): that session is
    /// over, and the token lives `token_lifetime` from now, as after a
    /// logout; that expiry goes into the bucket (unless the entry changed
    /// meanwhile), so that later logins count from the same moment.
    async fn import_token(&self, username: &Username, token: &[u8]) -> Result<(), ErrorCode> {
        let cluster = self.ctx.cluster.as_ref().ok_or(ErrorCode::NotFound)?;
        let (value, revision) = cluster.token(username).await.ok_or(ErrorCode::NotFound)?;
        let expires = match value.expires {
            Some(expires) => expires,
            None => {
                let expires = token_expiry(&self.ctx.hub);
                cluster
                    .expire_token(username, &value, expires, revision)
                    .await;
                expires
            }
        };
        let left = expires - unix_now();
        if left <= 0 {
            return Err(ErrorCode::NotFound);
        }
        if !value.matches(token) {
            return Err(ErrorCode::Handshake);
        }
        let text = Challenge::from_bytes(token).ok_or(ErrorCode::Handshake)?;
        let until = crate::core::later(Instant::now(), std::time::Duration::from_secs(left as u64));
        self.ctx.hub.import_token(username, text, until);
        Ok(())
    }

    pub(crate) async fn finish_login(&mut self, id: u16, username: Username, challenge: Challenge) {
        let fresh = async {
            // The account may have changed since LOGIN: read it again.
            let row = self.user_row(&username, ErrorCode::Login).await?;
            let (key, level) = rules::live_key(&row, ErrorCode::Login)?;
            Ok((row, key, level))
        }
        .await;
        let result = match fresh {
            Ok((row, key, level)) => {
                self.go_online(id, username.clone(), row.id, key, level)
                    .await
            }
            Err(code) => Err(code),
        };
        match result {
            Ok(()) => {
                if self.secure {
                    if let Some(cluster) = self.ctx.cluster.as_ref() {
                        cluster
                            .put_token(&username, challenge.as_bytes(), None)
                            .await;
                    }
                    self.ctx.hub.store_token(&username, challenge, self.id);
                }
            }
            Err(code) => {
                let _ = self.session.reject_login(id, code);
            }
        }
    }

    async fn go_online(
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
        rules::go_online(&self.ctx.hub, peer.clone())?;
        // In a cluster the session must also be the only one on every node.
        if let Some(cluster) = self.ctx.cluster.clone()
            && let Claim::Taken { node } = cluster.claim(&username, level).await
        {
            self.ctx.hub.withdraw(&username, self.id);
            if !node.is_empty() {
                cluster.dupsess(&node, &username, self.ip).await;
            }
            return Err(ErrorCode::DupSess);
        }
        if self
            .session
            .complete_login(id, username.clone(), level)
            .is_err()
        {
            self.ctx.hub.go_offline(&username, self.id);
            if let Some(cluster) = self.ctx.cluster.as_ref() {
                cluster.release(&username).await;
            }
            return Err(ErrorCode::Invalid);
        }
        info!("{username} logged in from {}", self.ip);
        rules::announce_login(&self.ctx.hub, &peer);
        self.me = Some(peer);
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
        let (key, permission) = rules::live_key(&row, ErrorCode::Corrupted)?;
        let pem = crypto::public_key_to_pem(&key).map_err(|_| ErrorCode::Corrupted)?;
        Ok(ServerCommand::Req {
            username,
            pubkey: Bytes::from(pem),
            permission,
        })
    }

    async fn user_list(&mut self, list: UserList) -> Answer {
        let entries = if list.online_only() {
            let remote = match self.ctx.cluster.as_ref() {
                Some(cluster) => cluster.remote_online(list.with_permissions()),
                None => Vec::new(),
            };
            rules::online_list(&self.ctx.hub, remote, list.with_permissions())?
        } else {
            let rows = self
                .ctx
                .store
                .users()
                .await
                .map_err(|_| ErrorCode::Server)?;
            rules::account_list(rows, list.with_permissions())?
        };
        Ok(ServerCommand::Usrs(entries))
    }

    /// Answers a run of MSG requests that arrived together: each is routed
    /// (queued for its online recipient, handed to the node of a cluster
    /// that serves it, or to the store), every message for the store goes in
    /// one insert, and the answers go out in request order once it is
    /// committed. A sender that pipelines MSGs to an offline user thus costs
    /// one transaction per run, not per message.
    pub(crate) async fn messages(&mut self, batch: Vec<MsgRequest>) {
        let mut answers: Vec<(u16, Option<Answer>)> = Vec::with_capacity(batch.len());
        let mut to_store = Vec::new();
        let mut remote: Vec<(String, usize)> = Vec::new();
        let mut accounts: HashMap<Username, Result<i64, ErrorCode>> = HashMap::new();
        for (slot, m) in batch.iter().enumerate() {
            let answer = match self.route_message(m, &mut accounts).await {
                Err(code) => Some(Err(code)),
                Ok(Routed::Queued) => Some(Ok(ServerCommand::Ok)),
                Ok(Routed::Store(message)) => {
                    to_store.push(message);
                    None
                }
                Ok(Routed::Remote(node)) => {
                    remote.push((node, slot));
                    None
                }
            };
            answers.push((m.id, answer));
        }
        for (slot, outcome) in self.hand_over(&batch, remote).await {
            match outcome {
                Ok(true) => answers[slot].1 = Some(Ok(ServerCommand::Ok)),
                Ok(false) => match (
                    self.me.as_ref(),
                    self.recipient_account(&batch[slot].to, &mut accounts).await,
                ) {
                    (Some(me), Ok(account)) => {
                        to_store.push((relay_of(me, &batch[slot], account), None));
                    }
                    (None, _) => answers[slot].1 = Some(Err(ErrorCode::NoSess)),
                    (_, Err(code)) => answers[slot].1 = Some(Err(code)),
                },
                Err(code) => answers[slot].1 = Some(Err(code)),
            }
        }
        let stored = self.store_all(to_store).await;
        for (id, answer) in answers {
            let answer = answer.unwrap_or(if stored {
                Ok(ServerCommand::Ok)
            } else {
                Err(ErrorCode::Server)
            });
            self.answer(id, answer);
        }
    }

    /// Hands the messages of `batch` routed to other nodes (`(node, slot)`)
    /// to those nodes, one request per node in order of first appearance;
    /// per slot: taken there (`Ok(true)`), to store here (`Ok(false)`), or
    /// unknown (`Err`: the owner may have taken it).
    async fn hand_over(
        &self,
        batch: &[MsgRequest],
        remote: Vec<(String, usize)>,
    ) -> Vec<(usize, Result<bool, ErrorCode>)> {
        let mut outcomes = Vec::with_capacity(remote.len());
        let (Some(cluster), Some(me)) = (self.ctx.cluster.as_ref(), self.me.as_ref()) else {
            return outcomes;
        };
        for (node, slots) in crate::cluster::by_node(remote) {
            let parcels: Vec<Parcel> = slots
                .iter()
                .map(|&slot| Parcel {
                    to: batch[slot].to.clone(),
                    sender: me.username.clone(),
                    sender_id: me.user_id,
                    stamp: batch[slot].stamp,
                    ciphertext: batch[slot].ciphertext.clone(),
                })
                .collect();
            let handed = cluster.deliver(&node, parcels).await;
            outcomes.extend(slots.iter().zip(handed).map(|(&slot, handed)| {
                let outcome = match handed {
                    Handed::Taken => Ok(true),
                    Handed::Store => Ok(false),
                    Handed::Unknown => Err(ErrorCode::Server),
                };
                (slot, outcome)
            }));
        }
        outcomes
    }

    /// Stores `messages` in one insert; the peers whose queues they
    /// overflowed learn their ids, and hear of the store once it answered.
    /// Whether they are stored.
    async fn store_all(&self, messages: Vec<ToStore>) -> bool {
        let mut rows = Vec::with_capacity(messages.len());
        let mut spills = Vec::new();
        let mut guards = Vec::new();
        for (relay, spilled) in messages {
            if let Some((peer, guard)) = spilled {
                spills.push((rows.len(), peer));
                guards.extend(guard);
            }
            rows.push(relay);
        }
        let stored = self.ctx.writer.insert_noting(rows, spills).await;
        // The spilled messages are stored (or failed): their peers may look.
        drop(guards);
        stored
    }

    /// The account a message for `to` is stored for; `accounts` keeps the
    /// recipients looked up in this run.
    async fn recipient_account(
        &self,
        to: &Username,
        accounts: &mut HashMap<Username, Result<i64, ErrorCode>>,
    ) -> Result<i64, ErrorCode> {
        if let Some(known) = accounts.get(to) {
            return *known;
        }
        let row = self.account(to, ErrorCode::Server).await?;
        let found = rules::storable_account(row.as_ref());
        accounts.insert(to.clone(), found);
        found
    }

    /// Routes one MSG: queued for its recipient, to store (with the peer
    /// whose queue it overflowed, and the guard to drop once it is stored),
    /// or for another node.
    async fn route_message(
        &self,
        m: &MsgRequest,
        accounts: &mut HashMap<Username, Result<i64, ErrorCode>>,
    ) -> Result<Routed, ErrorCode> {
        let me = rules::check_message(self.me.as_ref(), &m.to)?;
        let relay = |recipient_id| relay_of(me, m, recipient_id);
        match self.ctx.router.route(&m.to, &relay) {
            Route::Queued => Ok(Routed::Queued),
            Route::Store { relay, peer, guard } => Ok(Routed::Store((relay, Some((peer, guard))))),
            Route::Remote { node } => Ok(Routed::Remote(node)),
            Route::Offline => {
                let account = self.recipient_account(&m.to, accounts).await?;
                Ok(Routed::Store((relay(account), None)))
            }
        }
    }

    /// Hands a message to an online peer's connection, or to the store when
    /// it cannot take it now; whether the message is now safe (queued or
    /// stored).
    pub(crate) async fn deliver(&self, peer: &Arc<Peer>, relay: Relay) -> bool {
        let relay_for = |_| relay.clone();
        let message = match self.ctx.router.route(&peer.username, &relay_for) {
            Route::Queued => return true,
            Route::Store { relay, peer, guard } => (relay, Some((peer, guard))),
            // Gone meanwhile (or now served by another node): stored for
            // its account.
            Route::Offline | Route::Remote { .. } => (relay.clone(), None),
        };
        self.store_all(vec![message]).await
    }

    fn subscription(&mut self, hook: Hook, subscribe: bool) -> Answer {
        rules::subscription(self.me.as_ref(), hook, subscribe)?;
        Ok(ServerCommand::Ok)
    }
}

/// Where one MSG goes.
enum Routed {
    /// Queued for its recipient here.
    Queued,
    /// To the store.
    Store(ToStore),
    /// To the node that serves its recipient.
    Remote(String),
}

/// A message to store, with the online peer whose queue it overflowed and
/// the guard to drop once it is stored.
type ToStore = (Relay, Option<(Arc<Peer>, Option<crate::core::Spilled>)>);

/// The message of `m` from `me` to account `recipient_id`.
fn relay_of(me: &Peer, m: &MsgRequest, recipient_id: i64) -> Relay {
    Relay {
        sender: me.username.clone(),
        sender_id: me.user_id,
        recipient_id,
        stamp: m.stamp,
        ciphertext: m.ciphertext.clone(),
    }
}
