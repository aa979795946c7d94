//! Errors of the storage layer, and which database failures are transient
//! (worth retrying) rather than persistent.

use sqlx::error::DatabaseError;

/// A storage failure that retrying did not cure (or that retrying cannot cure).
///
/// Transient failures (deadlocks, serialization failures, lock wait timeouts, a
/// busy or locked SQLite database, a PostgreSQL server refusing or closing
/// connections, pool timeouts) are retried inside [`Store`](super::Store) and
/// only show up here when every attempt failed; [`StoreError::is_transient`]
/// tells.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL names no supported backend.
    #[error(
        "unsupported database URL scheme `{0}` (expected sqlite:<path>, sqlite::memory:, mysql://user:pass@host:port/db or postgres://user:pass@host:port/db)"
    )]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// The embedded schema migrations could not be applied.
    #[error("cannot migrate the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A value is longer than its column allows.
    #[error("{what} of {len} bytes is longer than the {max} bytes the database keeps")]
    TooLong {
        /// Which value (`"username"`, `"ciphertext"`, ...).
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The largest length the schema accepts.
        max: usize,
    },
    /// A statement failed.
    #[error("database error while trying to {op}: {source}")]
    Query {
        /// What the store was doing (`"register a user"`, ...).
        op: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A read on one of the store's own SQLite read connections failed
    /// (the reader of cached-message pages; its connections wait for locks
    /// themselves, so nothing here is retried).
    #[error("database error while trying to {op}: {detail}")]
    Read {
        /// What the store was doing.
        op: &'static str,
        /// The driver's message.
        detail: String,
    },
    /// The database answered something the schema rules out.
    #[error("unexpected database answer while trying to {op}: {detail}")]
    Unexpected {
        /// What the store was doing.
        op: &'static str,
        /// What was wrong.
        detail: &'static str,
    },
}

impl StoreError {
    /// Whether the underlying failure is of a transient kind (deadlock,
    /// serialization failure, lock wait timeout, busy/locked database, a
    /// server refusing or closing connections, pool timeout) that persisted
    /// through every retry. Such an error usually means the database is
    /// overloaded or restarting.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect(e) | StoreError::Query { source: e, .. } => is_transient(e),
            StoreError::UnsupportedUrl(_)
            | StoreError::Migrate(_)
            | StoreError::TooLong { .. }
            | StoreError::Read { .. }
            | StoreError::Unexpected { .. } => false,
        }
    }
}

/// Why [`Store::create_user`](super::Store::create_user) did not create the account.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The name is in use, or the public key is registered under a live account.
    #[error("username or public key already registered")]
    Exists,
    /// The name belonged to an account that was deregistered; names are never reused.
    #[error("username belongs to a deregistered account")]
    Deregistered,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// MySQL/MariaDB `ER_LOCK_WAIT_TIMEOUT`.
const MYSQL_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// MySQL/MariaDB `ER_LOCK_DEADLOCK`.
const MYSQL_DEADLOCK: u16 = 1213;
/// SQLSTATE for a serialization failure (deadlock victim).
const SQLSTATE_SERIALIZATION_FAILURE: &str = "40001";
/// PostgreSQL SQLSTATE `deadlock_detected`.
const POSTGRES_DEADLOCK: &str = "40P01";
/// PostgreSQL SQLSTATE `lock_not_available` (`lock_timeout` ran out).
const POSTGRES_LOCK_NOT_AVAILABLE: &str = "55P03";
/// PostgreSQL SQLSTATE `too_many_connections` (at connection time).
const POSTGRES_TOO_MANY_CONNECTIONS: &str = "53300";
/// PostgreSQL SQLSTATEs of a server shutting down or starting up:
/// `admin_shutdown`, `crash_shutdown`, `cannot_connect_now`. The statement of a
/// connection ended this way was not committed.
const POSTGRES_SHUTDOWN: &[&str] = &["57P01", "57P02", "57P03"];
/// The SQLSTATE class of connection exceptions (`08000`, `08006`, ...),
/// reported by the PostgreSQL server or driver for a connection it could not
/// make or had to end.
const SQLSTATE_CLASS_CONNECTION: &str = "08";
/// SQLite primary result code `SQLITE_BUSY`.
const SQLITE_BUSY: i64 = 5;
/// SQLite primary result code `SQLITE_LOCKED`.
const SQLITE_LOCKED: i64 = 6;

/// Whether a driver error is transient: retrying the same statement later can
/// succeed and cannot have an effect twice (the failed attempt was rolled back).
///
/// A connection that breaks in the middle of a statement (`sqlx::Error::Io`)
/// is not transient: the statement may have been committed before the break,
/// and an INSERT run again would store its rows twice. A refused connection is
/// tried again by the pool itself until [`sqlx::Error::PoolTimedOut`], which is
/// transient, and a pooled connection the server closed is found out (pinged)
/// and replaced before it is handed out.
pub(crate) fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => is_transient_database_error(db.as_ref()),
        _ => false,
    }
}

fn is_transient_database_error(db: &dyn DatabaseError) -> bool {
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(my.number(), MYSQL_DEADLOCK | MYSQL_LOCK_WAIT_TIMEOUT)
            || my.code() == Some(SQLSTATE_SERIALIZATION_FAILURE);
    }
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        let code = pg.code();
        return matches!(
            code,
            SQLSTATE_SERIALIZATION_FAILURE
                | POSTGRES_DEADLOCK
                | POSTGRES_LOCK_NOT_AVAILABLE
                | POSTGRES_TOO_MANY_CONNECTIONS
        ) || POSTGRES_SHUTDOWN.contains(&code)
            || code.starts_with(SQLSTATE_CLASS_CONNECTION);
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLite reports the extended result code; the primary code is its low byte
        // (SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED_SHAREDCACHE, ... are variants).
        return db
            .code()
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED));
    }
    db.code().as_deref() == Some(SQLSTATE_SERIALIZATION_FAILURE)
}

/// Whether a driver error is a UNIQUE constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}
