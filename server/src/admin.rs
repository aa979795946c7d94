//! ADMIN operations (ORIGINAL.md §12.3), in the original's check order. The
//! session has already refused plain users, unknown operations, missing
//! arguments and levels below the operation's.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gochat_proto::crypto;
use gochat_proto::{AdminCommand, ErrorCode, HookEvent, Permission, ServerCommand};
use gochat_runtime::Runtime;
use tracing::{info, warn};

use crate::conn::Connection;
use crate::handlers::{Answer, unix_now};
use crate::hub::{Outbound, Relay};

/// Text put before every broadcast.
pub const BROADCAST_PREFIX: &str = "ADMINISTRATIVE BROADCAST:\n";
/// Key of the persisted MOTD in the store's settings.
pub const MOTD_SETTING: &str = "motd";

impl<R: Runtime> Connection<R> {
    pub(crate) async fn admin(&mut self, command: AdminCommand) -> Answer {
        let me = self.me.clone().ok_or(ErrorCode::NoSess)?;
        let my_level = me.permission();
        match command {
            AdminCommand::Shutdown { stamp } => {
                let now = unix_now();
                if stamp < now {
                    return Err(ErrorCode::Args);
                }
                self.ctx.hub.announce_shutdown(stamp);
                let delay = Duration::from_secs(u64::try_from(stamp - now).unwrap_or(0));
                // A stamp too far away for the clock to represent is refused.
                let at = Instant::now().checked_add(delay).ok_or(ErrorCode::Args)?;
                let rt = self.ctx.rt.clone();
                let hub = self.ctx.clone();
                self.ctx.rt.spawn(async move {
                    futures_lite::future::or(rt.sleep_until(at), hub.hub.shutdown.wait()).await;
                    hub.hub.shutdown.trigger();
                });
                info!(
                    "{} scheduled a server shutdown in {}s",
                    me.username,
                    delay.as_secs()
                );
                tracing::info!(target: "gochat::notice", "server shutdown on {stamp}");
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Dereg { username } => {
                let row = self.user_row(&username, ErrorCode::Server).await?;
                if row_level(&row) >= my_level {
                    return Err(ErrorCode::Perms);
                }
                self.ctx
                    .store
                    .deregister(username.as_str())
                    .await
                    .map_err(|_| ErrorCode::Server)?;
                if let Some(peer) = self.ctx.hub.peer(&username) {
                    let _ = peer.send(Outbound::Kick);
                }
                info!("{} deregistered {username}", me.username);
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Broadcast { text } => {
                if !self.secure {
                    return Err(ErrorCode::NoSecure);
                }
                let mut plain = BROADCAST_PREFIX.as_bytes().to_vec();
                plain.extend_from_slice(&text);
                if plain.len() > crypto::MAX_PLAINTEXT {
                    return Err(ErrorCode::Args);
                }
                let targets: Vec<_> = self
                    .ctx
                    .hub
                    .peers()
                    .into_iter()
                    .filter(|p| p.conn != self.id)
                    .collect();
                let keys: Vec<_> = targets.iter().map(|p| p.pubkey.clone()).collect();
                let ciphers = self
                    .ctx
                    .rt
                    .spawn_blocking(move || {
                        keys.iter()
                            .map(|k| {
                                crypto::encrypt_without_crlf(k, &mut getrandom::SysRng, &plain).ok()
                            })
                            .collect::<Vec<_>>()
                    })
                    .await;
                let stamp = unix_now();
                for (peer, cipher) in targets.iter().zip(ciphers) {
                    let Some(cipher) = cipher else {
                        warn!("broadcast to {} could not be encrypted", peer.username);
                        continue;
                    };
                    let relay = Relay {
                        sender: me.username.clone(),
                        sender_id: me.user_id,
                        recipient_id: peer.user_id,
                        stamp,
                        ciphertext: Bytes::from(cipher),
                    };
                    if !self.deliver(peer, relay).await {
                        warn!(
                            "broadcast to {} could not be queued or stored",
                            peer.username
                        );
                    }
                }
                Ok(ServerCommand::Ok)
            }
            AdminCommand::ChangePerms {
                username,
                permission,
            } => {
                if username == me.username {
                    return Err(ErrorCode::Invalid);
                }
                let row = self.user_row(&username, ErrorCode::Server).await?;
                if permission > Permission::Owner.code() {
                    return Err(ErrorCode::Args);
                }
                if permission >= my_level || row_level(&row) >= my_level {
                    return Err(ErrorCode::Perms);
                }
                if row_level(&row) == permission {
                    return Err(ErrorCode::Invalid);
                }
                match self
                    .ctx
                    .store
                    .set_permission(username.as_str(), permission)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => return Err(ErrorCode::NotFound),
                    Err(_) => return Err(ErrorCode::Server),
                }
                if let Some(peer) = self.ctx.hub.peer(&username) {
                    peer.set_permission(permission);
                    self.ctx.hub.notify(&HookEvent::PermsChg {
                        username: username.clone(),
                        permission,
                    });
                }
                info!(
                    "{} set the permission of {username} to {permission}",
                    me.username
                );
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Kick { username } => {
                let peer = self.ctx.hub.peer(&username).ok_or(ErrorCode::NotFound)?;
                if peer.permission() >= my_level {
                    return Err(ErrorCode::Perms);
                }
                let _ = peer.send(Outbound::Kick);
                info!("{} kicked {username}", me.username);
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Motd { text } => {
                self.ctx.hub.set_motd(text.clone());
                let value = String::from_utf8_lossy(&text).into_owned();
                if let Err(e) = self.ctx.store.set_setting(MOTD_SETTING, &value).await {
                    warn!("could not persist the MOTD: {e}");
                    return Err(ErrorCode::Server);
                }
                info!("{} changed the MOTD", me.username);
                Ok(ServerCommand::Ok)
            }
        }
    }
}

fn row_level(row: &crate::store::UserRow) -> u8 {
    u8::try_from(row.permission).unwrap_or(u8::MAX)
}
