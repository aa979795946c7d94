//! Accounts: registration, lookup, deregistration, permissions, listing.

use sqlx::any::AnyRow;
use sqlx::{Row, SqlStr};

use super::error::is_unique_violation;
use super::sql::Dialect;
use super::{
    CreateUserError, MAX_USERNAME_LEN, Store, StoreError, UserRow, check_len, insert, inserted_id,
};

/// With `RETURNING id` (SQLite, PostgreSQL; see [`insert`]).
const INSERT_USER_RETURNING: &str = "INSERT INTO users (username, pubkey, key_fingerprint, permission) \
     VALUES (?, ?, ?, 0) RETURNING id";
/// MySQL reports the id itself.
const INSERT_USER_PLAIN: &str = "INSERT INTO users (username, pubkey, key_fingerprint, permission) \
     VALUES (?, ?, ?, 0)";

const SELECT_USER: &str = "SELECT id, username, pubkey, permission FROM users WHERE username = ?";
/// Under `Any`, MySQL's TINYINT has no mapping: widen it in the query.
const SELECT_USER_MYSQL: &str =
    "SELECT id, username, pubkey, CAST(permission AS SIGNED) FROM users WHERE username = ?";

const LIST_USERS: &str = "SELECT username, permission FROM users ORDER BY username";
/// See [`SELECT_USER_MYSQL`].
const LIST_USERS_MYSQL: &str =
    "SELECT username, CAST(permission AS SIGNED) FROM users ORDER BY username";

const DEREGISTER: &str =
    "UPDATE users SET pubkey = NULL, key_fingerprint = NULL WHERE username = ?";

const SET_PERMISSION: &str = "UPDATE users SET permission = ? WHERE username = ?";

/// The statements of this module, in the form of one backend.
#[derive(Debug)]
pub(super) struct Sql {
    insert: SqlStr,
    select: SqlStr,
    list: SqlStr,
    deregister: SqlStr,
    set_permission: SqlStr,
}

impl Sql {
    /// The statements in the form of `dialect`'s backend.
    pub(super) fn new(dialect: Dialect) -> Sql {
        Sql {
            insert: dialect.fixed(dialect.pick(
                INSERT_USER_RETURNING,
                INSERT_USER_PLAIN,
                INSERT_USER_RETURNING,
            )),
            select: dialect.fixed(dialect.pick(SELECT_USER, SELECT_USER_MYSQL, SELECT_USER)),
            list: dialect.fixed(dialect.pick(LIST_USERS, LIST_USERS_MYSQL, LIST_USERS)),
            deregister: dialect.fixed(DEREGISTER),
            set_permission: dialect.fixed(SET_PERMISSION),
        }
    }
}

impl Store {
    /// Registers a new account with permission 0 and returns its id.
    ///
    /// `username` is already validated and lowercased by the caller;
    /// `key_fingerprint` is the SHA-256 of the public key's DER, computed by the
    /// caller. Fails with [`CreateUserError::Deregistered`] if the name belonged
    /// to a deregistered account (names are never reused), and with
    /// [`CreateUserError::Exists`] if the name is taken or the same key is
    /// registered under a live account. Concurrent registrations of one name
    /// succeed exactly once.
    pub async fn create_user(
        &self,
        username: &str,
        pubkey_pem: &str,
        key_fingerprint: &[u8; 32],
    ) -> Result<i64, CreateUserError> {
        const OP: &str = "register a user";
        check_len("username", username.len(), MAX_USERNAME_LEN)?;
        let fingerprint: &[u8] = key_fingerprint;
        let (pool, backend) = (&self.pool, self.backend);
        let sql = &self.sql.users.insert;
        // A single INSERT: the UNIQUE indexes arbitrate races, and a failed
        // attempt leaves nothing behind, so a transient failure can be retried.
        let inserted = super::retry::retry(OP, move || {
            let query = sqlx::query(sql.clone())
                .bind(username)
                .bind(pubkey_pem)
                .bind(fingerprint);
            insert(backend, pool, query)
        })
        .await;
        match inserted {
            Ok(id) => Ok(inserted_id(OP, id)?),
            Err(err) if is_unique_violation(&err) => {
                // Rows are never deleted, so whichever index refused the row, the
                // name's row (if any) tells the answer: the name decides first.
                match self.user(username).await? {
                    Some(row) if row.pubkey.is_none() => Err(CreateUserError::Deregistered),
                    // The name is live, or free and the key was the duplicate.
                    Some(_) | None => Err(CreateUserError::Exists),
                }
            }
            Err(source) => Err(StoreError::Query { op: OP, source }.into()),
        }
    }

    /// The account named exactly `username` (callers pass it lowercased).
    pub async fn user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        const OP: &str = "look up a user";
        let (pool, sql) = (&self.pool, &self.sql.users.select);
        let row = self
            .run(OP, move || {
                sqlx::query(sql.clone()).bind(username).fetch_optional(pool)
            })
            .await?;
        row.map(|row| decode_user(&row))
            .transpose()
            .map_err(|source| StoreError::Query { op: OP, source })
    }

    /// Deregisters an account: its public key and fingerprint become NULL; the
    /// row stays, so the name stays taken, its messages are still delivered and
    /// those cached for it are kept. Returns false if there is no such user
    /// (true again for an already deregistered one).
    pub async fn deregister(&self, username: &str) -> Result<bool, StoreError> {
        let (pool, sql) = (&self.pool, &self.sql.users.deregister);
        let result = self
            .run("deregister a user", move || {
                sqlx::query(sql.clone()).bind(username).execute(pool)
            })
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Sets an account's permission level (0 user, 1 admin, 2 owner; the
    /// caller checks the level exists). Returns false if there is no such user.
    pub async fn set_permission(&self, username: &str, level: u8) -> Result<bool, StoreError> {
        let (pool, sql) = (&self.pool, &self.sql.users.set_permission);
        let level = i64::from(level);
        let result = self
            .run("change a user's permission", move || {
                sqlx::query(sql.clone())
                    .bind(level)
                    .bind(username)
                    .execute(pool)
            })
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Every account, deregistered ones included, sorted by name (bytewise),
    /// with its permission level.
    pub async fn users(&self) -> Result<Vec<(String, i64)>, StoreError> {
        const OP: &str = "list users";
        let (pool, sql) = (&self.pool, &self.sql.users.list);
        let rows = self
            .run(OP, move || sqlx::query(sql.clone()).fetch_all(pool))
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|source| StoreError::Query { op: OP, source })
    }
}

fn decode_user(row: &AnyRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: row.try_get(0)?,
        username: row.try_get(1)?,
        pubkey: row.try_get(2)?,
        permission: row.try_get(3)?,
    })
}
