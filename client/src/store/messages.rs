//! Conversation history: storing messages (one at a time or a catch-up batch
//! in one transaction), paging a conversation, listing conversations, and the
//! original's `.msgs` recovery export.
//!
//! Messages are stored in **plaintext**, with the sender's stamp, as the
//! original client stores them.

use std::collections::HashMap;
use std::fmt::Write as _;

use sqlx::SqliteConnection;

use super::{LocalStore, db_error, format_rfc850};
use crate::types::{ChatMessage, ClientError};

/// A message to store. Its text is kept in plaintext.
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

/// A `chat_messages` row without the conversation: id, outgoing, stamp, text.
type Row = (i64, bool, i64, String);

impl LocalStore {
    /// Stores one message (in plaintext, with its stamp) and returns it with
    /// its id. Every message is stored, whoever sent it.
    pub async fn add_message(&self, m: &NewMessage) -> Result<ChatMessage, ClientError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        insert(&mut conn, m).await
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
            stored.push(insert(&mut tx, m).await?);
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
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, outgoing, stamp, text FROM chat_messages \
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
            .map(|(id, outgoing, stamp, text)| ChatMessage {
                id,
                server_id,
                account: account.to_owned(),
                peer: peer.to_owned(),
                outgoing,
                stamp,
                text,
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
    pub async fn conversation_export(
        &self,
        server_id: i64,
        account: &str,
    ) -> Result<String, ClientError> {
        let rows: Vec<(i64, String, bool, i64, String)> = sqlx::query_as(
            "SELECT id, peer, outgoing, stamp, text FROM chat_messages \
             WHERE server_id = ? AND account = ? ORDER BY id",
        )
        .bind(server_id)
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut order: Vec<String> = Vec::new();
        let mut by_peer: HashMap<String, Vec<(i64, bool, i64, String)>> = HashMap::new();
        for (id, peer, outgoing, stamp, text) in rows {
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

/// Inserts one message on `conn`.
async fn insert(conn: &mut SqliteConnection, m: &NewMessage) -> Result<ChatMessage, ClientError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO chat_messages (server_id, account, peer, outgoing, stamp, text) \
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(m.server_id)
    .bind(&m.account)
    .bind(&m.peer)
    .bind(m.outgoing)
    .bind(m.stamp)
    .bind(&m.text)
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
