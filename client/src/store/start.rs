//! What the TUI does with each server when it starts ([`StartOptions`]):
//! connect to it, and log in as an account once connected. Kept beside the
//! server's record, which stays as the original client has it.

use super::{LocalStore, db_error};
use crate::types::{ClientError, StartOptions};

/// A row: id, auto_connect, auto_login.
type Row = (i64, bool, Option<String>);

impl LocalStore {
    /// The start options of every known server, in id order.
    pub async fn start_options(&self) -> Result<Vec<(i64, StartOptions)>, ClientError> {
        let rows: Vec<Row> =
            sqlx::query_as("SELECT id, auto_connect, auto_login FROM remote_servers ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, auto_connect, auto_login)| {
                (
                    id,
                    StartOptions {
                        auto_connect,
                        auto_login: auto_login.filter(|u| !u.is_empty()),
                    },
                )
            })
            .collect())
    }

    /// Stores the start options of server `server_id`;
    /// [`ClientError::NotFound`] if there is no such server.
    pub async fn set_start_options(
        &self,
        server_id: i64,
        options: &StartOptions,
    ) -> Result<(), ClientError> {
        let done =
            sqlx::query("UPDATE remote_servers SET auto_connect = ?, auto_login = ? WHERE id = ?")
                .bind(options.auto_connect)
                .bind(options.auto_login.as_deref())
                .bind(server_id)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(ClientError::NotFound(format!("server #{server_id}")));
        }
        Ok(())
    }
}
