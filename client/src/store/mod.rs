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
//! - **messages in plaintext**, with their stamps, as the original client keeps
//!   them: anyone who can read the file can read the history. The file is
//!   created with mode 0600 for that reason.
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

pub use gotime::{format_rfc850, parse_go_time};
pub use messages::NewMessage;

use sqlx::SqlitePool;

use crate::types::ClientError;

/// The local database. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct LocalStore {
    pool: SqlitePool,
}

impl LocalStore {
    /// Closes the pool and waits for its connections to finish (checkpointing
    /// the WAL). Clones become unusable.
    pub async fn close(&self) {
        self.pool.close().await;
    }
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
