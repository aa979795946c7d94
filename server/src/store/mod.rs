//! The server's persistent storage: accounts, messages cached for offline
//! users, and a few settings, in SQLite (default), MySQL/MariaDB or PostgreSQL.
//!
//! One [`Store`] wraps a `sqlx` [`AnyPool`](sqlx::AnyPool); the backend is chosen
//! by the URL given to [`Store::open`], which also applies the embedded schema
//! migrations (`server/migrations/{sqlite,mysql,postgres}`). All queries are
//! built at run time (no database is needed to compile): each is written once
//! with `?` placeholders and put in its backend's form when the store is opened
//! (see `sql.rs`); where the backends need different SQL, each statement table
//! holds one text per backend.
//!
//! Every method retries transient failures (deadlocks, serialization failures,
//! lock wait timeouts, a busy SQLite database, a PostgreSQL server refusing or
//! closing connections, pool timeouts) a few times with a jittered backoff and
//! reports only errors that persist, so concurrent users never see a deadlock.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gochat_server::store::Store;
//! let store = Store::open("sqlite://gochat.db").await?;
//! let id = store.create_user("alice", "-----BEGIN PUBLIC KEY-----...", &[0u8; 32]).await?;
//! store.set_setting("motd", "welcome").await?;
//! # let _ = id; Ok(()) }
//! ```

mod error;
mod messages;
mod open;
mod retry;
mod settings;
mod sql;
mod sqlite_pages;
mod users;

use std::future::Future;
use std::sync::Arc;

/// An account as stored (plain data of the core, which the rules read).
pub use crate::core::UserRow;
pub use error::{CreateUserError, StoreError};
pub use messages::NewMessage;
pub use open::StoreOptions;
pub use settings::MOTD_SETTING;

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, a local file (or memory, for tests).
    Sqlite,
    /// MySQL or MariaDB over the network.
    MySql,
    /// PostgreSQL over the network.
    Postgres,
}

/// A handle on the server database: a connection pool plus its backend.
///
/// Cloning is cheap and every clone uses the same pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: sqlx::AnyPool,
    backend: Backend,
    sql: Arc<Statements>,
    /// Reads pages of cached messages on an SQLite file in one call each
    /// (see `sqlite_pages`); none for the other backends and `:memory:`.
    pages: Option<Arc<sqlite_pages::PageReader>>,
}

/// Every fixed statement of a store, in the form of its backend.
#[derive(Debug)]
struct Statements {
    users: users::Sql,
    messages: messages::Sql,
    settings: settings::Sql,
}

impl Statements {
    /// Every statement in the form of `backend`.
    fn new(backend: Backend) -> Statements {
        let dialect = sql::Dialect(backend);
        Statements {
            users: users::Sql::new(dialect),
            messages: messages::Sql::new(dialect),
            settings: settings::Sql::new(dialect),
        }
    }
}

/// A message cached for a recipient who was offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message id; ids grow in sending order.
    pub id: i64,
    /// The sender's username.
    pub sender: String,
    /// The sender-supplied timestamp.
    pub stamp: i64,
    /// The ciphertext, verbatim.
    pub ciphertext: Vec<u8>,
}

/// The longest username the schema holds, in bytes.
pub const MAX_USERNAME_LEN: usize = 32;

/// The longest ciphertext the schema holds, in bytes.
pub const MAX_CIPHERTEXT_LEN: usize = 2048;

/// The longest setting name the schema holds, in bytes.
pub const MAX_SETTING_NAME_LEN: usize = 64;

impl Store {
    /// The database engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every pooled connection; later calls fail. Waits for
    /// connections in use to be returned.
    pub async fn close(&self) {
        if let Some(pages) = &self.pages {
            pages.close();
        }
        self.pool.close().await;
    }

    /// Puts statements built at run time in the form of this store's backend.
    fn dialect(&self) -> sql::Dialect {
        sql::Dialect(self.backend)
    }

    /// Runs one statement with retries of transient failures; `op` names the
    /// operation in errors and logs.
    async fn run<T, F, Fut>(&self, op: &'static str, attempt: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        retry::retry(op, attempt)
            .await
            .map_err(|source| StoreError::Query { op, source })
    }
}

/// Checks a value's length against its column.
fn check_len(what: &'static str, len: usize, max: usize) -> Result<(), StoreError> {
    if len > max {
        Err(StoreError::TooLong { what, len, max })
    } else {
        Ok(())
    }
}

/// An INSERT with its arguments bound, as built by the callers of [`insert`].
type Insert<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Runs an INSERT and returns the id of the row it created, or `None` if the
/// database reported none.
///
/// MySQL has no `RETURNING`: its statement is a plain INSERT and the id is the
/// result's `last_insert_id`. sqlx's `Any` driver drops SQLite's last insert
/// rowid (0.9 reports `None`), and PostgreSQL has no such thing, so their
/// statements must end in `RETURNING id` and the id is read from the returned
/// row.
async fn insert(
    backend: Backend,
    pool: &sqlx::AnyPool,
    query: Insert<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    use sqlx::Row;
    match backend {
        Backend::Sqlite | Backend::Postgres => query.fetch_one(pool).await?.try_get(0).map(Some),
        Backend::MySql => Ok(query.execute(pool).await?.last_insert_id()),
    }
}

/// The id [`insert`] returned, or an error if there was none.
fn inserted_id(op: &'static str, id: Option<i64>) -> Result<i64, StoreError> {
    id.ok_or(StoreError::Unexpected {
        op,
        detail: "the database reported no id for the inserted row",
    })
}
