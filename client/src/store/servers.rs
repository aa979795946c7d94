//! Known servers: listing, lookup, the original's add-or-update, renaming and
//! deleting (which leaves the server's accounts dangling).

use sqlx::{Connection as _, SqliteConnection};

use super::{LocalStore, db_error, is_unique_violation, port_from_db};
use crate::types::{ClientError, ServerRecord};

/// A `remote_servers` row: id, name, address, port, tls.
type Row = (i64, String, String, i64, bool);

fn record((id, name, address, port, tls): Row) -> Result<ServerRecord, ClientError> {
    Ok(ServerRecord {
        id,
        name,
        address,
        port: port_from_db(port)?,
        tls,
    })
}

/// A user-given server name, trimmed; `None` when empty.
fn clean_name(name: Option<&str>) -> Option<&str> {
    name.map(str::trim).filter(|n| !n.is_empty())
}

impl LocalStore {
    /// Every known server, in id (creation) order.
    pub async fn servers(&self) -> Result<Vec<ServerRecord>, ClientError> {
        let rows: Vec<Row> =
            sqlx::query_as("SELECT id, name, address, port, tls FROM remote_servers ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        rows.into_iter().map(record).collect()
    }

    /// The server called `name` (exact match).
    pub async fn server_by_name(&self, name: &str) -> Result<Option<ServerRecord>, ClientError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, name, address, port, tls FROM remote_servers WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(record).transpose()
    }

    /// The server at `address:port` (exact match on the address text).
    pub async fn server_by_endpoint(
        &self,
        address: &str,
        port: u16,
    ) -> Result<Option<ServerRecord>, ClientError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        by_endpoint(&mut conn, address, port).await
    }

    /// Adds the server at `address:port`, or, when that endpoint is known
    /// already, updates its TLS flag and (if a name is given) its name: the
    /// original's `AddServer` behaviour. Unlike the original, updating without a
    /// name keeps the current name.
    ///
    /// A new server without a name is called `Default-<id>`. A name used by
    /// another endpoint gives [`ClientError::Exists`].
    pub async fn add_server(
        &self,
        name: Option<&str>,
        address: &str,
        port: u16,
        tls: bool,
    ) -> Result<ServerRecord, ClientError> {
        let address = address.trim();
        if address.is_empty() {
            return Err(ClientError::Invalid(
                "the server address is empty".to_owned(),
            ));
        }
        let name = clean_name(name);
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
        let existing = by_endpoint(&mut tx, address, port).await?;
        if let Some(name) = name {
            let owner: Option<i64> =
                sqlx::query_scalar("SELECT id FROM remote_servers WHERE name = ?")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
            if owner.is_some_and(|id| existing.as_ref().is_none_or(|s| s.id != id)) {
                return Err(ClientError::Exists(format!("server {name}")));
            }
        }
        let server = match existing {
            Some(mut server) => {
                if let Some(name) = name {
                    server.name = name.to_owned();
                }
                server.tls = tls;
                sqlx::query("UPDATE remote_servers SET name = ?, tls = ? WHERE id = ?")
                    .bind(&server.name)
                    .bind(tls)
                    .bind(server.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                server
            }
            None => {
                // An empty name cannot be given by users (see `clean_name`):
                // a placeholder until the id is known, within this transaction.
                let id = insert_server(&mut tx, None, name.unwrap_or(""), address, port, tls)
                    .await?
                    .ok_or_else(|| ClientError::Store("no id for the new server".to_owned()))?;
                let name = match name {
                    Some(name) => name.to_owned(),
                    None => default_name(&mut tx, id).await?,
                };
                ServerRecord {
                    id,
                    name,
                    address: address.to_owned(),
                    port,
                    tls,
                }
            }
        };
        tx.commit().await.map_err(db_error)?;
        Ok(server)
    }

    /// Stores `server` (found by its id) as given: name, address, port and TLS.
    /// [`ClientError::NotFound`] if the id is unknown, [`ClientError::Exists`]
    /// if the name or the endpoint belongs to another server.
    pub async fn update_server(&self, server: &ServerRecord) -> Result<(), ClientError> {
        let name = clean_name(Some(&server.name))
            .ok_or_else(|| ClientError::Invalid("the server name is empty".to_owned()))?;
        let address = server.address.trim();
        if address.is_empty() {
            return Err(ClientError::Invalid(
                "the server address is empty".to_owned(),
            ));
        }
        let done = sqlx::query(
            "UPDATE remote_servers SET name = ?, address = ?, port = ?, tls = ? WHERE id = ?",
        )
        .bind(name)
        .bind(address)
        .bind(i64::from(server.port))
        .bind(server.tls)
        .bind(server.id)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ClientError::Exists(format!("server {name} or {}", server.endpoint()))
            } else {
                db_error(e)
            }
        })?;
        if done.rows_affected() == 0 {
            return Err(ClientError::NotFound(format!("server #{}", server.id)));
        }
        Ok(())
    }

    /// Deletes the server called `name`; `false` if there is none. Its
    /// accounts, contacts and messages stay (dangling) and can be recovered:
    /// see [`LocalStore::dangling_accounts`].
    pub async fn delete_server(&self, name: &str) -> Result<bool, ClientError> {
        let done = sqlx::query("DELETE FROM remote_servers WHERE name = ?")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }
}

/// Adds a `remote_servers` row under `id`, or under a new id with `None`;
/// its id, or `None` when `id` is taken (nothing is added then).
pub(super) async fn insert_server(
    conn: &mut SqliteConnection,
    id: Option<i64>,
    name: &str,
    address: &str,
    port: u16,
    tls: bool,
) -> Result<Option<i64>, ClientError> {
    sqlx::query_scalar(
        "INSERT INTO remote_servers (id, name, address, port, tls) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(name)
    .bind(address)
    .bind(i64::from(port))
    .bind(tls)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)
}

async fn by_endpoint(
    conn: &mut SqliteConnection,
    address: &str,
    port: u16,
) -> Result<Option<ServerRecord>, ClientError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, name, address, port, tls FROM remote_servers WHERE address = ? AND port = ?",
    )
    .bind(address.trim())
    .bind(i64::from(port))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error)?;
    row.map(record).transpose()
}

/// Names server `id` `Default-<id>` (or `Default-<id>-<n>` should a user have
/// taken that name for another server) and returns the name.
async fn default_name(conn: &mut SqliteConnection, id: i64) -> Result<String, ClientError> {
    let base = format!("Default-{id}");
    let mut name = base.clone();
    for n in 2u32.. {
        let done = sqlx::query("UPDATE remote_servers SET name = ? WHERE id = ?")
            .bind(&name)
            .bind(id)
            .execute(&mut *conn)
            .await;
        match done {
            Ok(_) => return Ok(name),
            Err(e) if is_unique_violation(&e) && n < 1000 => name = format!("{base}-{n}"),
            Err(e) => return Err(db_error(e)),
        }
    }
    Err(ClientError::Exists(base))
}
