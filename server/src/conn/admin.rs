//! ADMIN operations: storage calls around the core's checks
//! (`crate::core::rules`), in the original's check order. The session has
//! already refused plain users, unknown operations, missing arguments and
//! levels below the operation's.

use std::time::Instant;

use bytes::Bytes;
use gochat_proto::crypto;
use gochat_proto::{AdminCommand, ErrorCode, ServerCommand};
use gochat_runtime::Runtime;
use tracing::{info, warn};

use super::Connection;
use super::requests::{Answer, unix_now};
use crate::core::{Relay, rules};
use crate::store::MOTD_SETTING;

impl<R: Runtime> Connection<R> {
    pub(crate) async fn admin(&mut self, command: AdminCommand) -> Answer {
        let me = self.me.clone().ok_or(ErrorCode::NoSess)?;
        let my_level = me.permission();
        match command {
            AdminCommand::Shutdown { stamp } => {
                let hub = &self.ctx.hub;
                let at = rules::schedule_shutdown(hub, stamp, unix_now(), Instant::now())?;
                let rt = self.ctx.rt.clone();
                let ctx = self.ctx.clone();
                self.ctx.rt.spawn(async move {
                    futures_lite::future::or(rt.sleep_until(at), ctx.hub.shutdown.wait()).await;
                    ctx.hub.shutdown.trigger();
                });
                info!(
                    "{} scheduled a server shutdown in {}s",
                    me.username,
                    at.saturating_duration_since(Instant::now()).as_secs()
                );
                info!(target: "gochat::notice", "server shutdown on {stamp}");
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Dereg { username } => {
                let row = self.user_row(&username, ErrorCode::Server).await?;
                rules::check_dereg(&row, my_level)?;
                self.ctx
                    .store
                    .deregister(username.as_str())
                    .await
                    .map_err(|_| ErrorCode::Server)?;
                rules::after_dereg(&self.ctx.hub, &username);
                info!("{} deregistered {username}", me.username);
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Broadcast { text } => {
                let (plain, targets) = rules::broadcast(&self.ctx.hub, &me, &text, self.secure)?;
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
                rules::check_change_target(&me, &username)?;
                let row = self.user_row(&username, ErrorCode::Server).await?;
                rules::check_change_permission(&row, permission, my_level)?;
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
                rules::after_change_permission(&self.ctx.hub, &username, permission);
                info!(
                    "{} set the permission of {username} to {permission}",
                    me.username
                );
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Kick { username } => {
                rules::kick(&self.ctx.hub, &username, my_level)?;
                info!("{} kicked {username}", me.username);
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Motd { text } => {
                // Saved first: a MOTD that could not be saved is not shown
                // either (the requester gets ERR SERVER and nothing changed).
                let value = String::from_utf8_lossy(&text).into_owned();
                if let Err(e) = self.ctx.store.set_setting(MOTD_SETTING, &value).await {
                    warn!("could not persist the MOTD: {e}");
                    return Err(ErrorCode::Server);
                }
                self.ctx.hub.set_motd(text);
                info!("{} changed the MOTD", me.username);
                Ok(ServerCommand::Ok)
            }
        }
    }
}
