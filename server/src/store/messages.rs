//! Messages cached for offline recipients: store, page through in sending
//! order, delete what was delivered, clear (admin CLEARCACHE).

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{
    Backend, MAX_CIPHERTEXT_LEN, Store, StoreError, StoredMessage, check_len, insert, inserted_id,
};

const INSERT_MESSAGE_SQLITE: &str = "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
     VALUES (?, ?, ?, ?) RETURNING id";
const INSERT_MESSAGE_MYSQL: &str = "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
     VALUES (?, ?, ?, ?)";

/// A page of cached messages for one recipient, in id order.
const PENDING_SQLITE: &str = "SELECT m.id, u.username, m.stamp, m.ciphertext \
     FROM messages m JOIN users u ON u.id = m.src_user \
     WHERE m.dst_user = ? AND m.id > ? \
     ORDER BY m.id \
     LIMIT ?";

/// As [`PENDING_SQLITE`], with the plan fixed: right after a burst of
/// inserts InnoDB's statistics still describe a small table, and the
/// optimizer then reads `users` first and sorts every cached message of the
/// sender (280 ms for 100,000 instead of 1 to 8 ms).
const PENDING_MYSQL: &str = "SELECT m.id, u.username, m.stamp, m.ciphertext \
     FROM messages m FORCE INDEX (ix_messages_dst_id) \
     STRAIGHT_JOIN users u ON u.id = m.src_user \
     WHERE m.dst_user = ? AND m.id > ? \
     ORDER BY m.id \
     LIMIT ?";

/// How many ids one DELETE names; far below every backend's placeholder limit.
const DELETE_CHUNK: usize = 1000;

/// Rows per multi-row INSERT of [`Store::store_messages`]: 4 placeholders a
/// row stay far below every backend's limit, and 256 rows of the largest
/// ciphertext (about 0.5 MiB) below MySQL's default packet size.
const INSERT_CHUNK: usize = 256;

/// One message to cache, for [`Store::store_messages`].
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    /// The sender's account id.
    pub src: i64,
    /// The recipient's account id.
    pub dst: i64,
    /// The sender's timestamp.
    pub stamp: i64,
    /// The ciphertext, stored verbatim.
    pub ciphertext: &'a [u8],
}

/// The statement inserting `rows` messages at once (returning their ids on
/// SQLite, whose driver does not report them otherwise).
fn multi_insert_sql(rows: usize, backend: Backend) -> String {
    let mut sql = String::with_capacity(70 + rows * 15);
    sql.push_str("INSERT INTO messages (src_user, dst_user, stamp, ciphertext) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?)");
    }
    if backend == Backend::Sqlite {
        sql.push_str(" RETURNING id");
    }
    sql
}

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

    /// Caches many messages in one transaction, in the order given (their ids
    /// grow in that order), with multi-row INSERTs: all of them are stored,
    /// or none (a transient failure retries the whole transaction). Returns
    /// the id of each message, in the order given.
    ///
    /// The ids of one multi-row INSERT are consecutive: SQLite has one
    /// writer at a time, and InnoDB hands a statement whose row count is known
    /// one consecutive range (`innodb_autoinc_lock_mode` 0 or 1, MariaDB's
    /// default; with mode 2 and concurrent writers they still grow).
    pub async fn store_messages(
        &self,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<i64>, StoreError> {
        const OP: &str = "store messages";
        for m in messages {
            check_len("ciphertext", m.ciphertext.len(), MAX_CIPHERTEXT_LEN)?;
        }
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let (pool, backend) = (&self.pool, self.backend);
        let full: Arc<str> = multi_insert_sql(INSERT_CHUNK.min(messages.len()), backend).into();
        self.run(OP, || {
            let full = Arc::clone(&full);
            async move {
                let mut tx = pool.begin().await?;
                let ids = insert_chunks(&mut tx, backend, &full, messages).await?;
                tx.commit().await?;
                Ok(ids)
            }
        })
        .await
    }

    /// Caches `messages` for account `dst` ahead of its cached messages with
    /// an id of `floor` or above: in one transaction the messages are
    /// inserted, then those rows are copied after them (in their order) and
    /// the originals deleted. Used when a connection whose queue overflowed
    /// ends: what it still had queued was sent before what overflowed to the
    /// store (from `floor` on), and catch-up reads in id order.
    pub async fn store_messages_ahead(
        &self,
        dst: i64,
        floor: i64,
        messages: &[NewMessage<'_>],
    ) -> Result<(), StoreError> {
        const OP: &str = "store messages ahead of spilled ones";
        for m in messages {
            check_len("ciphertext", m.ciphertext.len(), MAX_CIPHERTEXT_LEN)?;
        }
        if messages.is_empty() {
            return Ok(());
        }
        let (pool, backend) = (&self.pool, self.backend);
        let full: Arc<str> = multi_insert_sql(INSERT_CHUNK.min(messages.len()), backend).into();
        self.run(OP, || {
            let full = Arc::clone(&full);
            async move {
                let mut tx = pool.begin().await?;
                let top: Option<i64> =
                    sqlx::query("SELECT MAX(id) FROM messages WHERE dst_user = ?")
                        .bind(dst)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                insert_chunks(&mut tx, backend, &full, messages).await?;
                if let Some(top) = top.filter(|&top| top >= floor) {
                    sqlx::query(
                        "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
                         SELECT src_user, dst_user, stamp, ciphertext FROM messages \
                         WHERE dst_user = ? AND id >= ? AND id <= ? ORDER BY id",
                    )
                    .bind(dst)
                    .bind(floor)
                    .bind(top)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM messages WHERE dst_user = ? AND id >= ? AND id <= ?")
                        .bind(dst)
                        .bind(floor)
                        .bind(top)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }
        })
        .await
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
        let sql = self.pick(PENDING_SQLITE, PENDING_MYSQL);
        let rows = self
            .run(OP, move || {
                sqlx::query(sql)
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

/// Inserts `messages` in multi-row INSERTs of [`INSERT_CHUNK`] rows (`full`
/// is the statement for a whole chunk) inside `tx`; the ids, in order.
async fn insert_chunks(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    full: &Arc<str>,
    messages: &[NewMessage<'_>],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut ids = Vec::with_capacity(messages.len());
    for chunk in messages.chunks(INSERT_CHUNK) {
        let sql = if chunk.len() == INSERT_CHUNK.min(messages.len()) {
            Arc::clone(full)
        } else {
            multi_insert_sql(chunk.len(), backend).into()
        };
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for m in chunk {
            query = query
                .bind(m.src)
                .bind(m.dst)
                .bind(m.stamp)
                .bind(m.ciphertext);
        }
        match backend {
            Backend::Sqlite => {
                // RETURNING lists the rows in no set order; their ids grow in
                // the order of the VALUES.
                let start = ids.len();
                for row in query.fetch_all(&mut **tx).await? {
                    ids.push(row.try_get::<i64, _>(0)?);
                }
                ids[start..].sort_unstable();
            }
            Backend::MySql => {
                // MySQL reports the first row's id.
                let first = query
                    .execute(&mut **tx)
                    .await?
                    .last_insert_id()
                    .ok_or_else(|| {
                        sqlx::Error::Protocol(
                            "the database reported no id for inserted messages".into(),
                        )
                    })?;
                let n = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
                ids.extend((0..n).map(|i| first + i));
            }
        }
    }
    Ok(ids)
}

fn decode_message(row: &AnyRow) -> Result<StoredMessage, sqlx::Error> {
    Ok(StoredMessage {
        id: row.try_get(0)?,
        sender: row.try_get(1)?,
        stamp: row.try_get(2)?,
        ciphertext: row.try_get(3)?,
    })
}
