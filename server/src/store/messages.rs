//! Messages cached for offline recipients: store, page through in sending
//! order, delete what was delivered, clear (admin CLEARCACHE).

use sqlx::any::AnyRow;
use sqlx::{Row, SqlStr};

use super::sql::Dialect;
use super::{
    Backend, MAX_CIPHERTEXT_LEN, Store, StoreError, StoredMessage, check_len, insert, inserted_id,
};

/// With `RETURNING id` (SQLite, PostgreSQL; see [`insert`]).
const INSERT_RETURNING: &str = "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
     VALUES (?, ?, ?, ?) RETURNING id";
/// MySQL reports the id itself.
const INSERT_PLAIN: &str = "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
     VALUES (?, ?, ?, ?)";

/// A page of cached messages for one recipient, in id order (also what the
/// SQLite page reader runs, `sqlite_pages`).
pub(super) const PENDING: &str = "SELECT m.id, u.username, m.stamp, m.ciphertext \
     FROM messages m JOIN users u ON u.id = m.src_user \
     WHERE m.dst_user = ? AND m.id > ? \
     ORDER BY m.id \
     LIMIT ?";

/// As [`PENDING`], with the plan fixed: right after a burst of
/// inserts InnoDB's statistics still describe a small table, and the
/// optimizer then reads `users` first and sorts every cached message of the
/// sender (280 ms for 100,000 instead of 1 to 8 ms).
const PENDING_MYSQL: &str = "SELECT m.id, u.username, m.stamp, m.ciphertext \
     FROM messages m FORCE INDEX (ix_messages_dst_id) \
     STRAIGHT_JOIN users u ON u.id = m.src_user \
     WHERE m.dst_user = ? AND m.id > ? \
     ORDER BY m.id \
     LIMIT ?";

/// The newest message cached for a recipient.
const MAX_ID: &str = "SELECT MAX(id) FROM messages WHERE dst_user = ?";

/// Moving a recipient's rows with ids in `[floor, top]` behind every other row
/// (for [`Store::store_messages_ahead`]), in two statements: copy in id order,
/// then delete the originals. Each takes `(dst, floor, top)`.
///
/// On SQLite the transaction is serializable. On InnoDB the copy reads with
/// locks, so a row of that range still being written is waited for, copied and
/// deleted.
const MOVE_BEHIND: &[&str] = &[
    "INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
     SELECT src_user, dst_user, stamp, ciphertext FROM messages \
     WHERE dst_user = ? AND id >= ? AND id <= ? ORDER BY id",
    "DELETE FROM messages WHERE dst_user = ? AND id >= ? AND id <= ?",
];

/// As [`MOVE_BEHIND`], in one statement on PostgreSQL: there each statement
/// sees the rows committed when it starts and never waits for rows still being
/// inserted, so a row of the range committed between a copy and a delete would
/// be deleted without having been copied. Here the rows copied are exactly the
/// rows deleted; the identity column numbers the inserted rows in the order of
/// the `ORDER BY`.
const MOVE_BEHIND_POSTGRES: &[&str] = &["WITH moved AS (\
     DELETE FROM messages WHERE dst_user = ? AND id >= ? AND id <= ? \
     RETURNING id, src_user, dst_user, stamp, ciphertext) \
     INSERT INTO messages (src_user, dst_user, stamp, ciphertext) \
     SELECT src_user, dst_user, stamp, ciphertext FROM moved ORDER BY id"];

const CLEAR: &str = "DELETE FROM messages \
     WHERE dst_user IN (SELECT id FROM users WHERE username = ?)";

/// The statements of this module, in the form of one backend.
#[derive(Debug)]
pub(super) struct Sql {
    dialect: Dialect,
    insert: SqlStr,
    /// The multi-row INSERT of a whole [`INSERT_CHUNK`].
    insert_chunk: SqlStr,
    pending: SqlStr,
    max_id: SqlStr,
    move_behind: Vec<SqlStr>,
    clear: SqlStr,
}

impl Sql {
    /// The statements in the form of `dialect`'s backend.
    pub(super) fn new(dialect: Dialect) -> Sql {
        let move_behind = dialect.pick(MOVE_BEHIND, MOVE_BEHIND, MOVE_BEHIND_POSTGRES);
        Sql {
            dialect,
            insert: dialect.fixed(dialect.pick(INSERT_RETURNING, INSERT_PLAIN, INSERT_RETURNING)),
            insert_chunk: multi_insert_sql(INSERT_CHUNK, dialect),
            pending: dialect.fixed(dialect.pick(PENDING, PENDING_MYSQL, PENDING)),
            max_id: dialect.fixed(MAX_ID),
            move_behind: move_behind.iter().map(|sql| dialect.fixed(sql)).collect(),
            clear: dialect.fixed(CLEAR),
        }
    }

    /// The multi-row INSERT of `rows` messages.
    fn insert_rows(&self, rows: usize) -> SqlStr {
        if rows == INSERT_CHUNK {
            self.insert_chunk.clone()
        } else {
            multi_insert_sql(rows, self.dialect)
        }
    }
}

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
/// SQLite and PostgreSQL, whose drivers do not report them otherwise).
fn multi_insert_sql(rows: usize, dialect: Dialect) -> SqlStr {
    let mut sql = String::with_capacity(70 + rows * 15);
    sql.push_str("INSERT INTO messages (src_user, dst_user, stamp, ciphertext) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?)");
    }
    if dialect.0 != Backend::MySql {
        sql.push_str(" RETURNING id");
    }
    dialect.built(sql)
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
        let (pool, backend, sql) = (&self.pool, self.backend, &self.sql.messages.insert);
        let id = self
            .run(OP, move || {
                let query = sqlx::query(sql.clone())
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
    /// The ids of one multi-row INSERT grow in the order of its rows, and
    /// are consecutive on MySQL/MariaDB: InnoDB hands a statement whose row
    /// count is known one consecutive range (`innodb_autoinc_lock_mode` 0 or
    /// 1, MariaDB's default; with mode 2 and concurrent writers they still
    /// grow). SQLite and PostgreSQL return them (`RETURNING id`).
    pub async fn store_messages(
        &self,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<i64>, StoreError> {
        const OP: &str = "store messages";
        check_ciphertexts(messages)?;
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let (pool, sql) = (&self.pool, &self.sql.messages);
        self.run(OP, || async move {
            let mut tx = pool.begin().await?;
            let ids = insert_chunks(&mut tx, sql, messages).await?;
            tx.commit().await?;
            Ok(ids)
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
        check_ciphertexts(messages)?;
        if messages.is_empty() {
            return Ok(());
        }
        let (pool, sql) = (&self.pool, &self.sql.messages);
        self.run(OP, || async move {
            let mut tx = pool.begin().await?;
            let top: Option<i64> = sqlx::query(sql.max_id.clone())
                .bind(dst)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            insert_chunks(&mut tx, sql, messages).await?;
            if let Some(top) = top.filter(|&top| top >= floor) {
                for statement in &sql.move_behind {
                    sqlx::query(statement.clone())
                        .bind(dst)
                        .bind(floor)
                        .bind(top)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await
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
        if let Some(pages) = &self.pages {
            return pages.page(dst, after_id, limit).await;
        }
        let (pool, sql) = (&self.pool, &self.sql.messages.pending);
        let limit = i64::from(limit);
        // MariaDB keeps what it decided when a statement was prepared: once
        // the table's statistics change (a backlog caught up and deleted, the
        // next one stored), a page read through the statement prepared for
        // the previous backlog took 150 to 400 ms instead of 5. Prepared
        // afresh for each page, it stays at a few milliseconds.
        let cached = self.backend != Backend::MySql;
        let rows = self
            .run(OP, move || {
                sqlx::query(sql.clone())
                    .persistent(cached)
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
            let sql = self.dialect().built(format!(
                "DELETE FROM messages WHERE dst_user = ? AND id IN ({placeholders})"
            ));
            let result = self
                .run("delete delivered messages", || {
                    let mut query = sqlx::query(sql.clone()).bind(dst);
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
        let (pool, sql) = (&self.pool, &self.sql.messages.clear);
        let result = self
            .run("clear cached messages", move || {
                sqlx::query(sql.clone()).bind(username).execute(pool)
            })
            .await?;
        Ok(result.rows_affected())
    }
}

/// Refuses a batch holding a ciphertext longer than its column.
fn check_ciphertexts(messages: &[NewMessage<'_>]) -> Result<(), StoreError> {
    messages
        .iter()
        .try_for_each(|m| check_len("ciphertext", m.ciphertext.len(), MAX_CIPHERTEXT_LEN))
}

/// Inserts `messages` in multi-row INSERTs of [`INSERT_CHUNK`] rows inside
/// `tx`; the ids, in order.
async fn insert_chunks(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sql: &Sql,
    messages: &[NewMessage<'_>],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut ids = Vec::with_capacity(messages.len());
    for chunk in messages.chunks(INSERT_CHUNK) {
        let mut query = sqlx::query(sql.insert_rows(chunk.len()));
        for m in chunk {
            query = query
                .bind(m.src)
                .bind(m.dst)
                .bind(m.stamp)
                .bind(m.ciphertext);
        }
        match sql.dialect.0 {
            Backend::Sqlite | Backend::Postgres => {
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
