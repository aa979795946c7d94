//! The client's local database: known servers, local accounts (bcrypt hash and
//! sealed private key), contacts (public keys) and conversation history.
//!
//! One SQLite file (WAL journal, mode 0600) opened through [`LocalStore::open`],
//! with its schema in embedded sqlx migrations (`client/migrations`). A
//! database written by the original Go client is recognised and migrated in
//! place the first time it is opened (see [`LocalStore::open`]).
//!
//! What is on disk:
//! - private keys only sealed with the account's password
//!   ([`crate::keys::seal_private_key`]); no private key in clear ever reaches
//!   the file;
//! - passwords only as bcrypt hashes;
//! - messages **sealed** (AES-256-GCM) with a key derived from their account's
//!   password ([`crate::keys::HistoryKey`]), unlocked in memory while the
//!   account is logged in ([`LocalStore::unlock_history`]); stamps,
//!   conversation names and directions stay readable (they order and page the
//!   history). Plaintext rows (written before sealing existed, or taken over
//!   from the original client, which keeps history in plaintext) are sealed at
//!   the account's next login. The file is created with mode 0600.
//!
//! Deleting a server leaves its accounts, contacts and messages in place
//! ("dangling", see [`LocalStore::dangling_accounts`]) so they can be
//! recovered; server ids are never reused, so a new server never adopts them.

mod accounts;
mod gotime;
mod legacy;
mod messages;
mod open;
mod servers;
mod start;

pub use gotime::{format_rfc850, parse_go_time};
pub use messages::{NewMessage, SEALED_PLACEHOLDER};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::SqlitePool;

use crate::keys::HistoryKey;
use crate::types::ClientError;

/// The history keys of the accounts logged in, by (server id, account).
type Unlocked = Arc<Mutex<HashMap<(i64, String), HistoryKey>>>;

/// The local database. Cheap to clone: clones share one connection pool and
/// the unlocked history keys.
#[derive(Clone, Debug)]
pub struct LocalStore {
    pool: SqlitePool,
    unlocked: Unlocked,
}

impl LocalStore {
    fn from_pool(pool: SqlitePool) -> Self {
        LocalStore {
            pool,
            unlocked: Arc::default(),
        }
    }

    /// Closes the pool and waits for its connections to finish (checkpointing
    /// the WAL). Clones become unusable.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Locks the unlocked keys, whatever a panicking holder left behind.
fn lock(unlocked: &Unlocked) -> std::sync::MutexGuard<'_, HashMap<(i64, String), HistoryKey>> {
    unlocked.lock().unwrap_or_else(|p| p.into_inner())
}

/// A database failure in words a user reads.
fn db_error(e: sqlx::Error) -> ClientError {
    ClientError::Store(e.to_string())
}

/// Whether `e` is a UNIQUE or PRIMARY KEY violation.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// A port read back from the database.
fn port_from_db(port: i64) -> Result<u16, ClientError> {
    u16::try_from(port).map_err(|_| ClientError::Store(format!("invalid port {port} in database")))
}
