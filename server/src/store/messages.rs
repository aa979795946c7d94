//! Messages cached for offline recipients: store, page through in sending
//! order, delete what was delivered, clear (admin CLEARCACHE).

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{MAX_CIPHERTEXT_LEN, Store, StoreError, StoredMessage, check_len, insert, inserted_id};

const INSERT_MESSAGE_SQLITE: &str = "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
     VALUES (?, ?, ?, ?) RETURNING id";
const INSERT_MESSAGE_MYSQL: &str = "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
     VALUES (?, ?, ?, ?)";

/// How many ids one DELETE names; far below every backend's placeholder limit.
const DELETE_CHUNK: usize = 500;

impl Store {
    /// Caches a message from account `src` to account `dst` and returns its
    /// id. The ciphertext is stored verbatim as binary (up to
    /// [`MAX_CIPHERTEXT_LEN`] bytes); `stamp` is the sender's timestamp.
    pub async fn store_message(
        &self,
        src: i64,
        dst: i64,
        stamp: i64,
        ciphertext: &[u8],
    ) -> Result<i64, StoreError> {
        const OP: &str = "store a message";
        check_len("ciphertext", ciphertext.len(), MAX_CIPHERTEXT_LEN)?;
        let (pool, backend) = (&self.pool, self.backend);
        let sql = self.pick(INSERT_MESSAGE_SQLITE, INSERT_MESSAGE_MYSQL);
        let id = self
            .run(OP, move || {
                let query = sqlx::query(sql)
                    .bind(src)
                    .bind(dst)
                    .bind(stamp)
                    .bind(ciphertext);
                insert(backend, pool, query)
            })
            .await?;
        inserted_id(OP, id)
    }

    /// Up to `limit` messages cached for account `dst` with an id above
    /// `after_id`, oldest first (ascending id), each with its sender's name.
    /// Page by passing the last id seen as the next `after_id` (start at 0).
    pub async fn pending_messages(
        &self,
        dst: i64,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        const OP: &str = "read cached messages";
        let pool = &self.pool;
        let limit = i64::from(limit);
        let rows = self
            .run(OP, move || {
                sqlx::query(
                    "SELECT m.id, u.username, m.stamp, m.ciphertext \
                     FROM messages m JOIN users u ON u.id = m.src_user \
                     WHERE m.dst_user = ? AND m.id > ? \
                     ORDER BY m.id \
                     LIMIT ?",
                )
                .bind(dst)
                .bind(after_id)
                .bind(limit)
                .fetch_all(pool)
            })
            .await?;
        rows.iter()
            .map(decode_message)
            .collect::<Result<_, _>>()
            .map_err(|source| StoreError::Query { op: OP, source })
    }

    /// Deletes the messages with the given ids, but only those cached for
    /// account `dst`; returns how many were deleted. Long id lists are
    /// deleted in chunks (each chunk on its own, so a failure part-way leaves
    /// earlier chunks deleted; deleting again is harmless).
    pub async fn delete_messages(&self, dst: i64, ids: &[i64]) -> Result<u64, StoreError> {
        let pool = &self.pool;
        let mut deleted = 0;
        for chunk in ids.chunks(DELETE_CHUNK) {
            let placeholders = vec!["?"; chunk.len()].join(", ");
            let sql: Arc<str> =
                format!("DELETE FROM messages WHERE dst_user = ? AND id IN ({placeholders})")
                    .into();
            let result = self
                .run("delete delivered messages", || {
                    let mut query = sqlx::query(AssertSqlSafe(Arc::clone(&sql))).bind(dst);
                    for &id in chunk {
                        query = query.bind(id);
                    }
                    query.execute(pool)
                })
                .await?;
            deleted += result.rows_affected();
        }
        Ok(deleted)
    }

    /// Deletes every message cached for `username` (admin CLEARCACHE); returns
    /// how many were deleted (0 for an unknown user).
    pub async fn clear_messages(&self, username: &str) -> Result<u64, StoreError> {
        let pool = &self.pool;
        let result = self
            .run("clear cached messages", move || {
                sqlx::query(
                    "DELETE FROM messages \
                     WHERE dst_user IN (SELECT id FROM users WHERE username = ?)",
                )
                .bind(username)
                .execute(pool)
            })
            .await?;
        Ok(result.rows_affected())
    }
}

fn decode_message(row: &AnyRow) -> Result<StoredMessage, sqlx::Error> {
    Ok(StoredMessage {
        id: row.try_get(0)?,
        sender: row.try_get(1)?,
        stamp: row.try_get(2)?,
        ciphertext: row.try_get(3)?,
    })
}
