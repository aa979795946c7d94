//! One-time import of a database written by the ORIGINAL Go client (GORM
//! tables, docs/PROTOCOL.md §11.2) into this store's schema, in place.
//!
//! Runs inside the opening transaction, after the migrations created the new
//! tables (whose names differ from the original's). Copies:
//! - `servers` → `remote_servers`, keeping each `server_id` as the id;
//! - `users` ⋈ `local_users` → `accounts`: bcrypt hash and key blob byte for
//!   byte (the blob is raw bytes in a TEXT column; read back as a BLOB), dangling
//!   accounts (server row deleted) included;
//! - `users` ⋈ `external_users` → `contacts`;
//! - `messages` → `chat_messages`: source/destination user ids become
//!   account/peer/outgoing (a message between two local accounts becomes one
//!   row in each account's history), Go time stamps become Unix seconds.
//!   Messages that cannot be tied to a local account (a user row is missing,
//!   or neither side is local) are kept in `orig_unattributed_messages`.
//!
//! Then the copy is checked against the originals and the original tables are
//! dropped. `local_users`/`external_users` rows without a `users` row (left by
//! the original's `DeleteLocalUser` bug, which deleted the user row but not the
//! key row) belong to deleted accounts and are dropped with them. Any failure
//! rolls the whole transaction back, leaving the file as it was.

use std::collections::HashMap;

use sqlx::SqliteConnection;

use super::servers::insert_server;
use super::{db_error, parse_go_time, port_from_db};
use crate::types::ClientError;

/// The original client's tables.
const ORIGINAL_TABLES: [&str; 5] = [
    "servers",
    "users",
    "local_users",
    "external_users",
    "messages",
];

/// Whether the database on `conn` was written by the original client and not
/// yet migrated: the five GORM tables (with the original's key columns) and no
/// `_sqlx_migrations`.
pub(super) async fn is_original_database(conn: &mut SqliteConnection) -> Result<bool, ClientError> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?;
    if tables.iter().any(|t| t == "_sqlx_migrations")
        || !ORIGINAL_TABLES
            .iter()
            .all(|o| tables.iter().any(|t| t == o))
    {
        return Ok(false);
    }
    let columns: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM pragma_table_info('servers') \
                 WHERE name IN ('address', 'port', 'tls', 'server_id', 'name')) \
              + (SELECT COUNT(*) FROM pragma_table_info('users') \
                 WHERE name IN ('user_id', 'server_id', 'username')) \
              + (SELECT COUNT(*) FROM pragma_table_info('local_users') \
                 WHERE name IN ('user_id', 'password', 'prv_key')) \
              + (SELECT COUNT(*) FROM pragma_table_info('external_users') \
                 WHERE name IN ('user_id', 'pub_key')) \
              + (SELECT COUNT(*) FROM pragma_table_info('messages') \
                 WHERE name IN ('message_id', 'source_id', 'destination_id', 'stamp', 'text'))",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(columns == 18)
}

/// One `users` row.
#[derive(Clone, Debug)]
struct User {
    server_id: i64,
    username: String,
    local: bool,
}

/// What was copied, for the check and the log.
#[derive(Debug, Default)]
struct Counts {
    servers: i64,
    accounts: i64,
    contacts: i64,
    messages_in: i64,
    message_rows: i64,
    unattributed: i64,
    bad_stamps: i64,
}

/// Copies the original tables into the new ones, checks the copy and drops
/// the originals. See the module docs.
pub(super) async fn import(conn: &mut SqliteConnection) -> Result<(), ClientError> {
    let mut counts = Counts::default();
    copy_servers(conn, &mut counts).await?;
    let users = copy_users(conn, &mut counts).await?;
    copy_messages(conn, &users, &mut counts).await?;
    verify(conn, &counts).await?;
    bump_server_sequence(conn).await?;
    for drop in [
        "DROP TABLE messages",
        "DROP TABLE external_users",
        "DROP TABLE local_users",
        "DROP TABLE users",
        "DROP TABLE servers",
    ] {
        sqlx::query(drop)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    if counts.bad_stamps > 0 {
        tracing::warn!(
            count = counts.bad_stamps,
            "original messages with an unreadable stamp were imported with stamp 0"
        );
    }
    if counts.unattributed > 0 {
        tracing::warn!(
            count = counts.unattributed,
            "original messages without a local account were kept in orig_unattributed_messages"
        );
    }
    tracing::info!(
        servers = counts.servers,
        accounts = counts.accounts,
        contacts = counts.contacts,
        messages = counts.messages_in,
        "original client database migrated; its tables were dropped"
    );
    Ok(())
}

async fn copy_servers(conn: &mut SqliteConnection, counts: &mut Counts) -> Result<(), ClientError> {
    /// server_id, name, address, port, tls.
    type Row = (i64, Option<String>, Option<String>, i64, bool);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT server_id, name, address, port, \
                (CAST(tls AS INTEGER) != 0 OR lower(CAST(tls AS TEXT)) IN ('true', 't')) \
         FROM servers ORDER BY server_id, address, port",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    for (id, name, address, port, tls) in rows {
        let port = port_from_db(port)?;
        let name = name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("Default-{id}"));
        let address = address.as_deref().unwrap_or("");
        if insert_server(conn, Some(id), &name, address, port, tls)
            .await?
            .is_none()
        {
            // Two rows with one server_id (MAX+1 is not atomic): keep the
            // second under a new id; the users follow the first.
            tracing::warn!(id, name, "duplicate server id in the original database");
            insert_server(conn, None, &name, address, port, tls).await?;
        }
        counts.servers += 1;
    }
    Ok(())
}

/// Copies accounts and contacts; returns the users by `user_id` (several rows
/// may share one id: it is not unique in the original).
async fn copy_users(
    conn: &mut SqliteConnection,
    counts: &mut Counts,
) -> Result<HashMap<i64, Vec<User>>, ClientError> {
    type Row = (
        i64,
        i64,
        String,
        bool,
        Option<String>,
        Option<Vec<u8>>,
        bool,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT u.user_id, u.server_id, u.username, \
                lu.user_id IS NOT NULL, lu.password, CAST(lu.prv_key AS BLOB), \
                eu.user_id IS NOT NULL, eu.pub_key \
         FROM users u \
         LEFT JOIN local_users lu ON lu.user_id = u.user_id \
         LEFT JOIN external_users eu ON eu.user_id = u.user_id \
         ORDER BY u.user_id, u.server_id, u.username",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let mut users: HashMap<i64, Vec<User>> = HashMap::new();
    for (user_id, server_id, username, local, password, key, external, pubkey) in rows {
        if local {
            sqlx::query(
                "INSERT INTO accounts (server_id, username, password_hash, sealed_key) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(server_id)
            .bind(&username)
            .bind(password.unwrap_or_default())
            .bind(key.unwrap_or_default())
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
            counts.accounts += 1;
        }
        if external {
            sqlx::query(
                "INSERT INTO contacts (server_id, username, pubkey_pem) VALUES (?, ?, ?) \
                 ON CONFLICT (server_id, username) DO UPDATE SET pubkey_pem = excluded.pubkey_pem",
            )
            .bind(server_id)
            .bind(&username)
            .bind(pubkey.unwrap_or_default())
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
            counts.contacts += 1;
        }
        users.entry(user_id).or_default().push(User {
            server_id,
            username,
            local,
        });
    }
    Ok(users)
}

/// The user behind `id`, preferring a local one when the id is shared.
fn resolve(users: &HashMap<i64, Vec<User>>, id: Option<i64>) -> Option<&User> {
    let list = users.get(&id?)?;
    list.iter().find(|u| u.local).or_else(|| list.first())
}

async fn copy_messages(
    conn: &mut SqliteConnection,
    users: &HashMap<i64, Vec<User>>,
    counts: &mut Counts,
) -> Result<(), ClientError> {
    type Row = (
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<Vec<u8>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT message_id, source_id, destination_id, CAST(stamp AS TEXT), CAST(text AS BLOB) \
         FROM messages ORDER BY message_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    let mut unattributed_table = false;
    for (message_id, source_id, destination_id, stamp_text, text) in rows {
        counts.messages_in += 1;
        let stamp = stamp_text.as_deref().and_then(parse_go_time);
        let text = String::from_utf8_lossy(text.as_deref().unwrap_or_default()).into_owned();
        let src = resolve(users, source_id);
        let dst = resolve(users, destination_id);
        let mut rows = Vec::with_capacity(2);
        if let (Some(src), Some(dst)) = (src, dst) {
            if src.local {
                rows.push((src.server_id, &src.username, &dst.username, true));
            }
            if dst.local && (source_id != destination_id || !src.local) {
                rows.push((dst.server_id, &dst.username, &src.username, false));
            }
        }
        if rows.is_empty() {
            if !unattributed_table {
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS orig_unattributed_messages (\
                         message_id INTEGER PRIMARY KEY, source_id INTEGER, destination_id INTEGER, \
                         source_name TEXT, destination_name TEXT, server_id INTEGER, \
                         stamp INTEGER, stamp_text TEXT, text TEXT)",
                )
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
                unattributed_table = true;
            }
            sqlx::query(
                "INSERT INTO orig_unattributed_messages (message_id, source_id, destination_id, \
                 source_name, destination_name, server_id, stamp, stamp_text, text) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(message_id)
            .bind(source_id)
            .bind(destination_id)
            .bind(src.map(|u| u.username.as_str()))
            .bind(dst.map(|u| u.username.as_str()))
            .bind(src.or(dst).map(|u| u.server_id))
            .bind(stamp)
            .bind(stamp_text.as_deref())
            .bind(&text)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
            counts.unattributed += 1;
            continue;
        }
        if stamp.is_none() {
            counts.bad_stamps += 1;
        }
        for (server_id, account, peer, outgoing) in rows {
            sqlx::query(
                "INSERT INTO chat_messages (server_id, account, peer, outgoing, stamp, text) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(server_id)
            .bind(account)
            .bind(peer)
            .bind(outgoing)
            .bind(stamp.unwrap_or(0))
            .bind(&text)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
            counts.message_rows += 1;
        }
    }
    Ok(())
}

/// Checks the copy against the original tables; an error rolls it all back.
async fn verify(conn: &mut SqliteConnection, counts: &Counts) -> Result<(), ClientError> {
    let (
        servers,
        orig_servers,
        accounts,
        keys_equal,
        orig_accounts,
        contacts,
        messages,
        orig_messages,
    ): (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM remote_servers), \
                (SELECT COUNT(*) FROM servers), \
                (SELECT COUNT(*) FROM accounts), \
                (SELECT COUNT(*) FROM accounts a \
                   JOIN users u ON u.server_id = a.server_id AND u.username = a.username \
                   JOIN local_users lu ON lu.user_id = u.user_id \
                  WHERE a.password_hash = lu.password \
                    AND a.sealed_key = COALESCE(CAST(lu.prv_key AS BLOB), X'')), \
                (SELECT COUNT(*) FROM users u JOIN local_users lu ON lu.user_id = u.user_id), \
                (SELECT COUNT(*) FROM contacts), \
                (SELECT COUNT(*) FROM chat_messages), \
                (SELECT COUNT(*) FROM messages)",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error)?;
    let ok = servers == orig_servers
        && servers == counts.servers
        && accounts == orig_accounts
        && accounts == counts.accounts
        && keys_equal == accounts
        && contacts <= counts.contacts
        && messages == counts.message_rows
        && orig_messages == counts.messages_in
        && counts.messages_in >= counts.unattributed;
    if ok {
        Ok(())
    } else {
        Err(ClientError::Store(format!(
            "migration of the original client's database failed its check \
             (servers {servers}/{orig_servers}, accounts {accounts}/{orig_accounts} \
             with {keys_equal} identical keys, messages {messages} from {orig_messages}); \
             the file was left unchanged"
        )))
    }
}

/// Makes new server ids start above every id the copied rows refer to, so a
/// new server never adopts a deleted server's dangling accounts.
async fn bump_server_sequence(conn: &mut SqliteConnection) -> Result<(), ClientError> {
    sqlx::query(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'remote_servers', 0 \
         WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'remote_servers')",
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    sqlx::query(
        "UPDATE sqlite_sequence SET seq = MAX(seq, \
             COALESCE((SELECT MAX(id) FROM remote_servers), 0), \
             COALESCE((SELECT MAX(server_id) FROM accounts), 0), \
             COALESCE((SELECT MAX(server_id) FROM contacts), 0), \
             COALESCE((SELECT MAX(server_id) FROM chat_messages), 0)) \
         WHERE name = 'remote_servers'",
    )
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(())
}
