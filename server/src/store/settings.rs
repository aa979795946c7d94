//! The small key/value settings table (the MOTD lives there).

/// Key of the persisted MOTD.
pub const MOTD_SETTING: &str = "motd";

use sqlx::{Row, SqlStr};

use super::sql::Dialect;
use super::{MAX_SETTING_NAME_LEN, Store, StoreError, check_len};

const SELECT: &str = "SELECT value FROM settings WHERE name = ?";

/// SQLite's and PostgreSQL's upsert.
const UPSERT: &str = "INSERT INTO settings (name, value) VALUES (?, ?) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
const UPSERT_MYSQL: &str = "INSERT INTO settings (name, value) VALUES (?, ?) \
     ON DUPLICATE KEY UPDATE value = VALUES(value)";

/// The statements of this module, in the form of one backend.
#[derive(Debug)]
pub(super) struct Sql {
    select: SqlStr,
    upsert: SqlStr,
}

impl Sql {
    /// The statements in the form of `dialect`'s backend.
    pub(super) fn new(dialect: Dialect) -> Sql {
        Sql {
            select: dialect.fixed(SELECT),
            upsert: dialect.fixed(dialect.pick(UPSERT, UPSERT_MYSQL, UPSERT)),
        }
    }
}

impl Store {
    /// The value of setting `key`, or `None` if it was never set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        const OP: &str = "read a setting";
        let (pool, sql) = (&self.pool, &self.sql.settings.select);
        let row = self
            .run(OP, move || {
                sqlx::query(sql.clone()).bind(key).fetch_optional(pool)
            })
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        row.try_get::<Option<String>, _>(0)
            .map_err(|source| StoreError::Query { op: OP, source })
    }

    /// Sets (inserts or replaces) setting `key` to `value`.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        check_len("setting name", key.len(), MAX_SETTING_NAME_LEN)?;
        let (pool, sql) = (&self.pool, &self.sql.settings.upsert);
        self.run("change a setting", move || {
            sqlx::query(sql.clone()).bind(key).bind(value).execute(pool)
        })
        .await?;
        Ok(())
    }
}
