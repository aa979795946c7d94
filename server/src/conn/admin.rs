//! ADMIN operations: storage calls around the core's checks
//! (`crate::core::rules`), in the original's check order. The session has
//! already refused plain users, unknown operations, missing arguments and
//! levels below the operation's.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use gochat_proto::crypto;
use gochat_proto::{AdminCommand, ErrorCode, ServerCommand};
use gochat_runtime::Runtime;
use tracing::{info, warn};

use super::Connection;
use super::requests::{Answer, unix_now};
use crate::cluster::{Cluster, EventKind, Holder, NodeCommand, Parcel};
use crate::core::{Peer, Relay, rules};
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
                // SHTDWN stops the whole cluster: each node announces and closes.
                if let Some(cluster) = &self.ctx.cluster {
                    cluster.publish(EventKind::Shutdown { stamp });
                }
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
                if let Some((cluster, holder)) = self.holder_elsewhere(&username) {
                    let command = NodeCommand::Dereg {
                        username: username.as_str().to_string(),
                    };
                    if let Err(code) = cluster.command(&holder.node, &command).await {
                        warn!(
                            "the session of deregistered {username} on node {} was not closed: {code:?}",
                            holder.node
                        );
                    }
                }
                info!("{} deregistered {username}", me.username);
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Broadcast { text } => {
                let (plain, targets) = rules::broadcast(&self.ctx.hub, &me, &text, self.secure)?;
                let plain_elsewhere = plain.clone();
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
                self.broadcast_elsewhere(&me, &plain_elsewhere, stamp).await;
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
                if let Some(cluster) = &self.ctx.cluster {
                    if self.ctx.hub.peer(&username).is_some() {
                        cluster.set_permission(&username, permission).await;
                    } else if let Some(holder) = cluster.holder_elsewhere(&username) {
                        let command = NodeCommand::Permission {
                            username: username.as_str().to_string(),
                            permission,
                        };
                        if let Err(code) = cluster.command(&holder.node, &command).await {
                            warn!(
                                "the session of {username} on node {} did not take its new level: {code:?}",
                                holder.node
                            );
                        }
                    }
                }
                info!(
                    "{} set the permission of {username} to {permission}",
                    me.username
                );
                Ok(ServerCommand::Ok)
            }
            AdminCommand::Kick { username } => {
                match self.holder_elsewhere(&username) {
                    Some((cluster, holder)) if self.ctx.hub.peer(&username).is_none() => {
                        let command = NodeCommand::Kick {
                            username: username.as_str().to_string(),
                            level: my_level,
                        };
                        cluster.command(&holder.node, &command).await?;
                    }
                    _ => rules::kick(&self.ctx.hub, &username, my_level)?,
                }
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
                self.ctx.hub.set_motd(text.clone());
                if let Some(cluster) = &self.ctx.cluster {
                    cluster.publish(EventKind::Motd {
                        text: text.to_vec(),
                    });
                }
                info!("{} changed the MOTD", me.username);
                Ok(ServerCommand::Ok)
            }
        }
    }

    /// The cluster and the live holder of `username`'s session on another
    /// node, if any.
    fn holder_elsewhere(
        &self,
        username: &gochat_proto::Username,
    ) -> Option<(Arc<Cluster>, Holder)> {
        let cluster = self.ctx.cluster.clone()?;
        let holder = cluster.holder_elsewhere(username)?;
        Some((cluster, holder))
    }

    /// The users of the other nodes of a cluster get a BROADCAST too: each
    /// text encrypted with the user's key (read from the shared store),
    /// handed to its node, and stored here if that node does not take it.
    async fn broadcast_elsewhere(&self, me: &Peer, plain: &[u8], stamp: i64) {
        let Some(cluster) = self.ctx.cluster.clone() else {
            return;
        };
        let mut copies: Vec<(String, (Parcel, i64))> = Vec::new();
        for entry in cluster.remote_online(false) {
            let Some(holder) = cluster.holder_elsewhere(&entry.name) else {
                continue;
            };
            let Ok(row) = self.user_row(&entry.name, ErrorCode::Server).await else {
                continue;
            };
            let Ok((key, _)) = rules::live_key(&row, ErrorCode::Corrupted) else {
                continue;
            };
            let text = plain.to_vec();
            let cipher = self
                .ctx
                .rt
                .spawn_blocking(move || {
                    crypto::encrypt_without_crlf(&key, &mut getrandom::SysRng, &text).ok()
                })
                .await;
            let Some(cipher) = cipher else {
                warn!("broadcast to {} could not be encrypted", entry.name);
                continue;
            };
            let parcel = Parcel {
                to: entry.name.clone(),
                sender: me.username.clone(),
                sender_id: me.user_id,
                stamp,
                ciphertext: Bytes::from(cipher),
            };
            copies.push((holder.node, (parcel, row.id)));
        }
        for (node, items) in crate::cluster::by_node(copies) {
            let parcels: Vec<Parcel> = items.iter().map(|(p, _)| p.clone()).collect();
            // A copy whose fate is unknown is not stored: it may have
            // been taken, and a broadcast is not answered per copy.
            let taken = cluster
                .deliver(&node, parcels)
                .await
                .into_iter()
                .map(|handed| handed != crate::cluster::Handed::Store);
            let rows: Vec<Relay> = items
                .into_iter()
                .zip(taken)
                .filter(|(_, taken)| !taken)
                .map(|((p, recipient_id), _)| Relay {
                    sender: p.sender,
                    sender_id: p.sender_id,
                    recipient_id,
                    stamp: p.stamp,
                    ciphertext: p.ciphertext,
                })
                .collect();
            if !self.ctx.writer.insert_noting(rows, Vec::new()).await {
                warn!("broadcast for users of node {node} could not be stored");
            }
        }
    }
}
