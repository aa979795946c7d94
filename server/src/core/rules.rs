//! The checks and decisions of every request, in the original's check
//! order (docs/PROTOCOL.md §6; the differences are in §10), minus its
//! bugs: plain functions over the hub and the rows the connection read,
//! with the time passed in.
//!
//! A connection task calls these between its storage calls: for ADMIN DEREG
//! it reads the target's row, asks [`check_dereg`], deregisters in the
//! store, then applies [`after_dereg`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gochat_proto::crypto::{self, RsaPublicKey};
use gochat_proto::{ErrorCode, Hook, HookEvent, Permission, UserEntry, Username};

use super::account::UserRow;
use super::hub::Hub;
use super::peer::Peer;
use super::relay::Outbound;

/// Text put before every broadcast.
pub const BROADCAST_PREFIX: &str = "ADMINISTRATIVE BROADCAST:\n";

/// A stored account's permission level (an out-of-range value counts as
/// above every level, so that nobody acts on it).
pub fn row_level(row: &UserRow) -> u8 {
    u8::try_from(row.permission).unwrap_or(u8::MAX)
}

/// A stored user's key and level, or the error the original gives: DEREG
/// for a deregistered account, `corrupt` for a level or key that does not
/// parse.
pub fn live_key(row: &UserRow, corrupt: ErrorCode) -> Result<(RsaPublicKey, u8), ErrorCode> {
    let pem = row.pubkey.as_deref().ok_or(ErrorCode::Dereg)?;
    let level = u8::try_from(row.permission).map_err(|_| corrupt)?;
    if level > Permission::Owner.code() {
        return Err(corrupt);
    }
    let key = crypto::public_key_from_pem(pem.as_bytes()).map_err(|_| corrupt)?;
    Ok((key, level))
}

/// REQ of the account in `row`: its key as canonical PEM and its level;
/// DEREG for a deregistered account, CORRUPTED for a key or level that does
/// not parse.
pub fn published_key(row: &UserRow) -> Result<(Bytes, u8), ErrorCode> {
    let (key, level) = live_key(row, ErrorCode::Corrupted)?;
    let pem = crypto::public_key_to_pem(&key).map_err(|_| ErrorCode::Corrupted)?;
    Ok((Bytes::from(pem), level))
}

// ----- sessions -----

/// REG: the key must be an RSA public key of the protocol's size (ARGS
/// otherwise); returns it as canonical PEM and its SHA-256 fingerprint
/// (two accounts cannot share a key).
pub fn registration_key(pem: &[u8]) -> Result<(String, [u8; 32]), ErrorCode> {
    use sha2::{Digest, Sha256};
    let key = crypto::public_key_from_pem(pem).map_err(|_| ErrorCode::Args)?;
    if crypto::key_bits(&key) != crypto::KEY_BITS {
        return Err(ErrorCode::Args);
    }
    let canonical = crypto::public_key_to_pem(&key).map_err(|_| ErrorCode::Args)?;
    let (_, der) = crypto::pem_decode(canonical.as_bytes()).map_err(|_| ErrorCode::Args)?;
    Ok((canonical, Sha256::digest(&der).into()))
}

/// LOGIN (by challenge or token) of `username` from `ip`: DUPSESS when the
/// user is online already, whose session then gets the DUPSESS hook.
pub fn check_no_session(hub: &Hub, username: &Username, ip: IpAddr) -> Result<(), ErrorCode> {
    match hub.peer(username) {
        Some(existing) => {
            hub.notify_dupsess(&existing, ip);
            Err(ErrorCode::DupSess)
        }
        None => Ok(()),
    }
}

/// A token login, after the account checks: NOSECURE off TLS, then the
/// token itself (see [`Hub::check_token`]).
pub fn check_token_login(
    hub: &Hub,
    username: &Username,
    token: &[u8],
    secure: bool,
    now: Instant,
) -> Result<(), ErrorCode> {
    if !secure {
        return Err(ErrorCode::NoSecure);
    }
    hub.check_token(username, token, now)
}

/// Puts `peer` online: DUPSESS (and the hook to the session that won) when
/// another session of the user got there first.
pub fn go_online(hub: &Hub, peer: Arc<Peer>) -> Result<(), ErrorCode> {
    if let Err(existing) = hub.go_online(peer.clone()) {
        hub.notify_dupsess(&existing, peer.ip);
        return Err(ErrorCode::DupSess);
    }
    Ok(())
}

/// Announces a login to NEWLOGIN subscribers.
pub fn announce_login(hub: &Hub, peer: &Peer) {
    hub.notify(&HookEvent::NewLogin {
        username: peer.username.clone(),
        permission: peer.permission(),
    });
}

// ----- messages -----

/// MSG: the sender must be logged in and write to someone else.
pub fn check_message<'a>(
    me: Option<&'a Arc<Peer>>,
    to: &Username,
) -> Result<&'a Arc<Peer>, ErrorCode> {
    let me = me.ok_or(ErrorCode::NoSess)?;
    if *to == me.username {
        return Err(ErrorCode::Invalid);
    }
    Ok(me)
}

/// The account a message for an offline user is stored for: NOTFOUND
/// without one, DEREG when it was deregistered.
pub fn storable_account(row: Option<&UserRow>) -> Result<i64, ErrorCode> {
    let row = row.ok_or(ErrorCode::NotFound)?;
    row.pubkey.as_ref().map(|_| row.id).ok_or(ErrorCode::Dereg)
}

// ----- lists and hooks -----

/// USRS from the stored accounts (name, level): the list, or OPTION when it
/// is empty, as the original answers.
pub fn account_list(
    rows: Vec<(String, i64)>,
    with_permissions: bool,
) -> Result<Vec<UserEntry>, ErrorCode> {
    let entries: Vec<UserEntry> = rows
        .into_iter()
        .filter_map(|(name, perm)| {
            Some(UserEntry {
                name: Username::parse(name.as_bytes()).ok()?,
                permission: with_permissions.then(|| u8::try_from(perm).unwrap_or(u8::MAX)),
            })
        })
        .collect();
    non_empty(entries)
}

/// USRS ONLINE: the users online here and `elsewhere` (on the other nodes
/// of a cluster), by name, or OPTION when there are none.
pub fn online_list(
    hub: &Hub,
    elsewhere: Vec<UserEntry>,
    with_permissions: bool,
) -> Result<Vec<UserEntry>, ErrorCode> {
    let mut list = hub.online_list(with_permissions);
    if !elsewhere.is_empty() {
        list.extend(elsewhere);
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list.dedup_by(|a, b| a.name == b.name);
    }
    non_empty(list)
}

fn non_empty(entries: Vec<UserEntry>) -> Result<Vec<UserEntry>, ErrorCode> {
    if entries.is_empty() {
        Err(ErrorCode::Option)
    } else {
        Ok(entries)
    }
}

/// SUB (`subscribe`) or UNSUB of a hook.
pub fn subscription(me: Option<&Arc<Peer>>, hook: Hook, subscribe: bool) -> Result<(), ErrorCode> {
    let me = me.ok_or(ErrorCode::NoSess)?;
    if subscribe {
        me.subscribe(hook)
    } else {
        me.unsubscribe(hook)
    }
}

// ----- administration -----

/// ADMIN SHTDWN at Unix second `stamp`, asked at `unix_now` (the wall
/// clock) and `now`: ARGS for a stamp in the past or beyond what the clock
/// can represent; else when the stop is due. Every logged-in user is told.
pub fn schedule_shutdown(
    hub: &Hub,
    stamp: i64,
    unix_now: i64,
    now: Instant,
) -> Result<Instant, ErrorCode> {
    if stamp < unix_now {
        return Err(ErrorCode::Args);
    }
    let delay = Duration::from_secs(u64::try_from(stamp - unix_now).unwrap_or(0));
    let at = now.checked_add(delay).ok_or(ErrorCode::Args)?;
    hub.announce_shutdown(stamp);
    Ok(at)
}

/// ADMIN DEREG of the account in `row` by a user of level `my_level`:
/// PERMS unless the target's level is below.
pub fn check_dereg(row: &UserRow, my_level: u8) -> Result<(), ErrorCode> {
    if row_level(row) >= my_level {
        return Err(ErrorCode::Perms);
    }
    Ok(())
}

/// After ADMIN DEREG (or the user's own DEREG) is stored: the session, if
/// any, is closed.
pub fn after_dereg(hub: &Hub, username: &Username) {
    if let Some(peer) = hub.peer(username) {
        let _ = peer.send(Outbound::Kick);
    }
}

/// ADMIN CHGPERMS, before the target's account is read: INVALID for
/// oneself.
pub fn check_change_target(me: &Peer, target: &Username) -> Result<(), ErrorCode> {
    if *target == me.username {
        return Err(ErrorCode::Invalid);
    }
    Ok(())
}

/// ADMIN CHGPERMS of the account in `row` to `permission` by a user of
/// level `my_level`: ARGS for a level that does not exist, PERMS unless both
/// the target's level and the new one are below the caller's, INVALID when
/// nothing would change.
pub fn check_change_permission(
    row: &UserRow,
    permission: u8,
    my_level: u8,
) -> Result<(), ErrorCode> {
    if permission > Permission::Owner.code() {
        return Err(ErrorCode::Args);
    }
    if permission >= my_level || row_level(row) >= my_level {
        return Err(ErrorCode::Perms);
    }
    if row_level(row) == permission {
        return Err(ErrorCode::Invalid);
    }
    Ok(())
}

/// After ADMIN CHGPERMS is stored: the online session takes the level and
/// PERMSCHG subscribers hear of it.
pub fn after_change_permission(hub: &Hub, target: &Username, permission: u8) {
    if let Some(peer) = hub.peer(target) {
        peer.set_permission(permission);
        hub.notify(&HookEvent::PermsChg {
            username: target.clone(),
            permission,
        });
    }
}

/// ADMIN KICK of `target` by a user of level `my_level`: NOTFOUND when it
/// is not online, PERMS unless its level is below; else it is closed.
pub fn kick(hub: &Hub, target: &Username, my_level: u8) -> Result<(), ErrorCode> {
    let peer = hub.peer(target).ok_or(ErrorCode::NotFound)?;
    if peer.permission() >= my_level {
        return Err(ErrorCode::Perms);
    }
    let _ = peer.send(Outbound::Kick);
    Ok(())
}

/// ADMIN BROADCAST of `text`: NOSECURE off TLS, ARGS when the prefixed
/// text is longer than one ciphertext can hold; else the plaintext and the
/// online users it goes to (everyone but the caller's connection).
pub fn broadcast(
    hub: &Hub,
    me: &Peer,
    text: &[u8],
    secure: bool,
) -> Result<(Vec<u8>, Vec<Arc<Peer>>), ErrorCode> {
    if !secure {
        return Err(ErrorCode::NoSecure);
    }
    let mut plain = BROADCAST_PREFIX.as_bytes().to_vec();
    plain.extend_from_slice(text);
    if plain.len() > crypto::MAX_PLAINTEXT {
        return Err(ErrorCode::Args);
    }
    let targets = hub
        .peers()
        .into_iter()
        .filter(|p| p.conn != me.conn)
        .collect();
    Ok((plain, targets))
}

#[cfg(test)]
mod tests;
