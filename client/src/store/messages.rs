//! Conversation history: storing messages (one at a time or a catch-up batch
//! in one transaction), paging a conversation, listing conversations, and the
//! original's `.msgs` recovery export.
//!
//! Texts are sealed with the account's [`HistoryKey`] (see
//! [`crate::keys::seal_text`]), bound to the row's server, account, peer,
//! direction and stamp; the sender's stamp and the conversation stay in
//! clear for ordering and paging.

use std::collections::HashMap;
use std::fmt::Write as _;

use sqlx::SqliteConnection;

use super::{LocalStore, db_error, format_rfc850, lock};
use crate::keys::{self, HistoryKey};
use crate::types::{ChatMessage, ClientError};

/// Shown instead of a text that is sealed and cannot be opened now: its
/// account is not logged in, or the row was sealed with another key (an
/// account deleted and made again under the same name).
pub const SEALED_PLACEHOLDER: &str = "(sealed: log in to this account to read it)";

/// Plaintext rows sealed per transaction at unlock.
const SEAL_CHUNK: i64 = 1000;

/// A message to store (its text is sealed on the way in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// The server.
    pub server_id: i64,
    /// The local account the conversation belongs to.
    pub account: String,
    /// The other side of the conversation.
    pub peer: String,
    /// Whether the local account sent it.
    pub outgoing: bool,
    /// Unix seconds (the sender's stamp).
    pub stamp: i64,
    /// The plaintext.
    pub text: String,
}

/// A `chat_messages` row without the conversation: id, outgoing, stamp,
/// text (empty when sealed), sealed text.
type Row = (i64, bool, i64, String, Option<Vec<u8>>);

/// A `chat_messages` row of an export: id, peer, outgoing, stamp, text,
/// sealed text.
type ExportRow = (i64, String, bool, i64, String, Option<Vec<u8>>);

/// What a sealed text is bound to: its conversation, direction and stamp.
fn aad(server_id: i64, account: &str, peer: &str, outgoing: bool, stamp: i64) -> Vec<u8> {
    format!(
        "{server_id}\0{account}\0{peer}\0{}\0{stamp}",
        u8::from(outgoing)
    )
    .into_bytes()
}

/// The readable text of a row.
fn readable(key: Option<&HistoryKey>, aad: &[u8], text: String, sealed: Option<Vec<u8>>) -> String {
    match (sealed, key) {
        (None, _) => text,
        (Some(blob), Some(key)) => {
            keys::open_text(key, aad, &blob).unwrap_or_else(|_| SEALED_PLACEHOLDER.to_owned())
        }
        (Some(_), None) => SEALED_PLACEHOLDER.to_owned(),
    }
}

impl LocalStore {
    /// Keeps `key` for the history of `account` on server `server_id` while
    /// it is logged in, and seals what of that history is still plaintext
    /// (in transactions of [`SEAL_CHUNK`] rows); returns how many rows it
    /// sealed.
    pub async fn unlock_history(
        &self,
        server_id: i64,
        account: &str,
        key: HistoryKey,
    ) -> Result<u64, ClientError> {
        lock(&self.unlocked).insert((server_id, account.to_owned()), key.clone());
        let mut sealed = 0;
        loop {
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(db_error)?;
            let rows: Vec<(i64, String, bool, i64, String)> = sqlx::query_as(
                "SELECT id, peer, outgoing, stamp, text FROM chat_messages \
                 WHERE server_id = ? AND account = ? AND sealed IS NULL LIMIT ?",
            )
            .bind(server_id)
            .bind(account)
            .bind(SEAL_CHUNK)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            if rows.is_empty() {
                drop(tx);
                if sealed > 0 {
                    // The plaintext pages the WAL still holds go too.
                    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                }
                return Ok(sealed);
            }
            for (id, peer, outgoing, stamp, text) in rows {
                let blob = keys::seal_text(
                    &key,
                    &aad(server_id, account, &peer, outgoing, stamp),
                    &text,
                )?;
                sqlx::query("UPDATE chat_messages SET text = '', sealed = ? WHERE id = ?")
                    .bind(blob)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                sealed += 1;
            }
            tx.commit().await.map_err(db_error)?;
        }
    }

    /// Forgets the history key of `account` on server `server_id` (it
    /// logged out): its history reads as [`SEALED_PLACEHOLDER`] again.
    pub fn lock_history(&self, server_id: i64, account: &str) {
        lock(&self.unlocked).remove(&(server_id, account.to_owned()));
    }

    /// The unlocked history key of `account` on server `server_id`.
    fn history_key(&self, server_id: i64, account: &str) -> Option<HistoryKey> {
        lock(&self.unlocked)
            .get(&(server_id, account.to_owned()))
            .cloned()
    }

    /// Stores one message (sealed, with its stamp) and returns it with its
    /// id. Every message is stored, whoever sent it.
    pub async fn add_message(&self, m: &NewMessage) -> Result<ChatMessage, ClientError> {
        let key = self.history_key(m.server_id, &m.account);
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        insert(&mut conn, m, key.as_ref()).await
    }

    /// Stores a batch of messages (a RECIV catch-up) in one transaction, in
    /// order, and returns them with their ids. All or nothing.
    pub async fn add_messages(
        &self,
        batch: &[NewMessage],
    ) -> Result<Vec<ChatMessage>, ClientError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error)?;
        let mut stored = Vec::with_capacity(batch.len());
        for m in batch {
            let key = self.history_key(m.server_id, &m.account);
            stored.push(insert(&mut tx, m, key.as_ref()).await?);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(stored)
    }

    /// A page of the conversation between `account` and `peer` on server
    /// `server_id`, newest (highest id, i.e. latest arrival) first: up to
    /// `limit` messages with an id below `before_id` (all of them with `None`).
    /// The next page starts before the last id returned.
    pub async fn history(
        &self,
        server_id: i64,
        account: &str,
        peer: &str,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ChatMessage>, ClientError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = self.history_key(server_id, account);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, outgoing, stamp, text, sealed FROM chat_messages \
             WHERE server_id = ? AND account = ? AND peer = ? AND id < ? \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(server_id)
        .bind(account)
        .bind(peer)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, outgoing, stamp, text, sealed)| {
                let aad = aad(server_id, account, peer, outgoing, stamp);
                ChatMessage {
                    id,
                    server_id,
                    account: account.to_owned(),
                    peer: peer.to_owned(),
                    outgoing,
                    stamp,
                    text: readable(key.as_ref(), &aad, text, sealed),
                }
            })
            .collect())
    }

    /// The peers `account` has messages with on server `server_id`, the most
    /// recent conversation first.
    pub async fn conversations(
        &self,
        server_id: i64,
        account: &str,
    ) -> Result<Vec<String>, ClientError> {
        // Walks the distinct peers through the conversation index (one seek
        // per peer) instead of scanning every message of the account.
        sqlx::query_scalar(
            "WITH RECURSIVE peers (peer) AS ( \
                 SELECT MIN(peer) FROM chat_messages WHERE server_id = ?1 AND account = ?2 \
                 UNION ALL \
                 SELECT (SELECT MIN(peer) FROM chat_messages \
                          WHERE server_id = ?1 AND account = ?2 AND peer > peers.peer) \
                 FROM peers WHERE peers.peer IS NOT NULL) \
             SELECT peer FROM peers WHERE peer IS NOT NULL \
             ORDER BY (SELECT MAX(id) FROM chat_messages m \
                        WHERE m.server_id = ?1 AND m.account = ?2 AND m.peer = peers.peer) DESC",
        )
        .bind(server_id)
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)
    }

    /// Every conversation of `account` on server `server_id` in the original's
    /// `.msgs` recovery format (docs/PROTOCOL.md §11.3): per peer, in the order the
    /// conversations started, `--- CONVERSATION BEGINS ---`, one line
    /// `<RFC850 stamp, UTC> | [<src>] -> [<dst>]: <text>` per message by stamp,
    /// then `--- CONVERSATION FINISH ---`. Empty when there are no messages.
    ///
    /// Sealed texts are opened with `key` (the account's, from
    /// [`keys::open_account_secrets`]), else with the key unlocked for the
    /// account, else written as [`SEALED_PLACEHOLDER`].
    pub async fn conversation_export(
        &self,
        server_id: i64,
        account: &str,
        key: Option<&HistoryKey>,
    ) -> Result<String, ClientError> {
        let unlocked = self.history_key(server_id, account);
        let key = key.or(unlocked.as_ref());
        let rows: Vec<ExportRow> = sqlx::query_as(
            "SELECT id, peer, outgoing, stamp, text, sealed FROM chat_messages \
             WHERE server_id = ? AND account = ? ORDER BY id",
        )
        .bind(server_id)
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut order: Vec<String> = Vec::new();
        let mut by_peer: HashMap<String, Vec<(i64, bool, i64, String)>> = HashMap::new();
        for (id, peer, outgoing, stamp, text, sealed) in rows {
            let text = readable(
                key,
                &aad(server_id, account, &peer, outgoing, stamp),
                text,
                sealed,
            );
            let list = by_peer.entry(peer.clone()).or_default();
            if list.is_empty() {
                order.push(peer);
            }
            list.push((id, outgoing, stamp, text));
        }
        let mut out = String::new();
        for peer in order {
            let Some(mut list) = by_peer.remove(&peer) else {
                continue;
            };
            list.sort_by_key(|&(id, _, stamp, _)| (stamp, id));
            out.push_str("--- CONVERSATION BEGINS ---\n");
            for (_, outgoing, stamp, text) in list {
                let (src, dst) = if outgoing {
                    (account, peer.as_str())
                } else {
                    (peer.as_str(), account)
                };
                // Writing to a String cannot fail.
                let _ = writeln!(out, "{} | [{src}] -> [{dst}]: {text}", format_rfc850(stamp));
            }
            out.push_str("--- CONVERSATION FINISH ---\n");
        }
        Ok(out)
    }
}

/// Inserts one message on `conn`, sealed with `key`. Without a key (its
/// account is not logged in, which the client does not do) the text is kept
/// in plaintext, to be sealed at the account's next login, rather than lost.
async fn insert(
    conn: &mut SqliteConnection,
    m: &NewMessage,
    key: Option<&HistoryKey>,
) -> Result<ChatMessage, ClientError> {
    let (text, sealed) = match key {
        Some(key) => {
            let aad = aad(m.server_id, &m.account, &m.peer, m.outgoing, m.stamp);
            ("", Some(keys::seal_text(key, &aad, &m.text)?))
        }
        None => {
            tracing::warn!(
                "a message of {} stored before its history was unlocked: sealed at its next login",
                m.account
            );
            (m.text.as_str(), None)
        }
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO chat_messages (server_id, account, peer, outgoing, stamp, text, sealed) \
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(m.server_id)
    .bind(&m.account)
    .bind(&m.peer)
    .bind(m.outgoing)
    .bind(m.stamp)
    .bind(text)
    .bind(sealed)
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(ChatMessage {
        id,
        server_id: m.server_id,
        account: m.account.clone(),
        peer: m.peer.clone(),
        outgoing: m.outgoing,
        stamp: m.stamp,
        text: m.text.clone(),
    })
}
