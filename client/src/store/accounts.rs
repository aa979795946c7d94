//! Local accounts (bcrypt hash and sealed private key) and contacts (other
//! users' public keys).

use super::{LocalStore, db_error, is_unique_violation};
use crate::types::{Account, ClientError, Contact};

/// An `accounts` row: id, server_id, username, password_hash, sealed_key.
type AccountRow = (i64, i64, String, String, Vec<u8>);

fn account((id, server_id, username, password_hash, sealed_key): AccountRow) -> Account {
    Account {
        id,
        server_id,
        username,
        password_hash,
        sealed_key,
    }
}

fn contact((server_id, username, pubkey_pem): (i64, String, String)) -> Contact {
    Contact {
        server_id,
        username,
        pubkey_pem,
    }
}

impl LocalStore {
    /// The row `sql` selects with `server_id` and `username` bound, in that
    /// order, if any.
    async fn row_by_name<T>(
        &self,
        sql: &'static str,
        server_id: i64,
        username: &str,
    ) -> Result<Option<T>, ClientError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
    {
        sqlx::query_as(sql)
            .bind(server_id)
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }

    /// Adds a local account of server `server_id`. `sealed_key` must be the
    /// private key sealed with the password ([`crate::keys::seal_private_key`]):
    /// the store never sees a key in clear.
    ///
    /// [`ClientError::NotFound`] if the server does not exist,
    /// [`ClientError::Exists`] if the account does.
    pub async fn add_account(
        &self,
        server_id: i64,
        username: &str,
        password_hash: &str,
        sealed_key: &[u8],
    ) -> Result<Account, ClientError> {
        let server: Option<i64> = sqlx::query_scalar("SELECT id FROM remote_servers WHERE id = ?")
            .bind(server_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        if server.is_none() {
            return Err(ClientError::NotFound(format!("server #{server_id}")));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO accounts (server_id, username, password_hash, sealed_key) \
             VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(server_id)
        .bind(username)
        .bind(password_hash)
        .bind(sealed_key)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ClientError::Exists(format!("account {username}"))
            } else {
                db_error(e)
            }
        })?;
        Ok(Account {
            id,
            server_id,
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
            sealed_key: sealed_key.to_vec(),
        })
    }

    /// The local account `username` of server `server_id`.
    pub async fn account(
        &self,
        server_id: i64,
        username: &str,
    ) -> Result<Option<Account>, ClientError> {
        let row: Option<AccountRow> = self
            .row_by_name(
                "SELECT id, server_id, username, password_hash, sealed_key FROM accounts \
                 WHERE server_id = ? AND username = ?",
                server_id,
                username,
            )
            .await?;
        Ok(row.map(account))
    }

    /// The local accounts of one server, or of every server (dangling ones
    /// included) with `None`; by server id, then username.
    pub async fn accounts(&self, server_id: Option<i64>) -> Result<Vec<Account>, ClientError> {
        let rows: Vec<AccountRow> = match server_id {
            Some(server_id) => {
                sqlx::query_as(
                    "SELECT id, server_id, username, password_hash, sealed_key FROM accounts \
                 WHERE server_id = ? ORDER BY username",
                )
                .bind(server_id)
                .fetch_all(&self.pool)
                .await
            }
            None => {
                sqlx::query_as(
                    "SELECT id, server_id, username, password_hash, sealed_key FROM accounts \
                 ORDER BY server_id, username",
                )
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db_error)?;
        Ok(rows.into_iter().map(account).collect())
    }

    /// Accounts whose server has been deleted (the original's "dangling"
    /// users, shown as `(Unknown)` and recoverable); by username, then server id.
    pub async fn dangling_accounts(&self) -> Result<Vec<Account>, ClientError> {
        let rows: Vec<AccountRow> = sqlx::query_as(
            "SELECT id, server_id, username, password_hash, sealed_key FROM accounts \
             WHERE server_id NOT IN (SELECT id FROM remote_servers) \
             ORDER BY username, server_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(account).collect())
    }

    /// Deletes the account with its password hash and sealed key (the original
    /// left the key row behind); `false` if there was none. Its messages stay
    /// in the history, as in the original.
    pub async fn delete_account(
        &self,
        server_id: i64,
        username: &str,
    ) -> Result<bool, ClientError> {
        let done = sqlx::query("DELETE FROM accounts WHERE server_id = ? AND username = ?")
            .bind(server_id)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores the public key of `username` on server `server_id`, replacing a
    /// known one (a REQ of a known user refreshes the key; the original failed).
    pub async fn upsert_contact(
        &self,
        server_id: i64,
        username: &str,
        pubkey_pem: &str,
    ) -> Result<(), ClientError> {
        sqlx::query(
            "INSERT INTO contacts (server_id, username, pubkey_pem) VALUES (?, ?, ?) \
             ON CONFLICT (server_id, username) DO UPDATE SET pubkey_pem = excluded.pubkey_pem",
        )
        .bind(server_id)
        .bind(username)
        .bind(pubkey_pem)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    /// The contact `username` of server `server_id`.
    pub async fn contact(
        &self,
        server_id: i64,
        username: &str,
    ) -> Result<Option<Contact>, ClientError> {
        let row: Option<(i64, String, String)> = self
            .row_by_name(
                "SELECT server_id, username, pubkey_pem FROM contacts \
                 WHERE server_id = ? AND username = ?",
                server_id,
                username,
            )
            .await?;
        Ok(row.map(contact))
    }

    /// The contacts of server `server_id`, by username.
    pub async fn contacts(&self, server_id: i64) -> Result<Vec<Contact>, ClientError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT server_id, username, pubkey_pem FROM contacts \
             WHERE server_id = ? ORDER BY username",
        )
        .bind(server_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(contact).collect())
    }
}
