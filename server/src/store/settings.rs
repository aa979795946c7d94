//! The small key/value settings table (the MOTD lives there).

/// Key of the persisted MOTD.
pub const MOTD_SETTING: &str = "motd";

use sqlx::Row;

use super::{MAX_SETTING_NAME_LEN, Store, StoreError, check_len};

const UPSERT_SQLITE: &str = "INSERT INTO settings (name, value) VALUES (?, ?) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
const UPSERT_MYSQL: &str = "INSERT INTO settings (name, value) VALUES (?, ?) \
     ON DUPLICATE KEY UPDATE value = VALUES(value)";

impl Store {
    /// The value of setting `key`, or `None` if it was never set.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        const OP: &str = "read a setting";
        let pool = &self.pool;
        let row = self
            .run(OP, move || {
                sqlx::query("SELECT value FROM settings WHERE name = ?")
                    .bind(key)
                    .fetch_optional(pool)
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
        let sql = self.pick(UPSERT_SQLITE, UPSERT_MYSQL);
        let pool = &self.pool;
        self.run("change a setting", move || {
            sqlx::query(sql).bind(key).bind(value).execute(pool)
        })
        .await?;
        Ok(())
    }
}
