//! Statement text per backend: written once with `?` placeholders, put in each
//! backend's form when a [`Store`](super::Store) is opened.
//!
//! SQLite and MySQL/MariaDB take `?`; PostgreSQL numbers its parameters (`$1`,
//! `$2`, ...), and sqlx's `Any` driver passes the text through unchanged. So
//! every statement is written with `?` and, for PostgreSQL, numbered once:
//! fixed statements when the store is opened (see the `Sql` tables of
//! `users.rs`, `messages.rs` and `settings.rs`), statements whose length depends
//! on the call (multi-row INSERTs, `IN` lists) when they are built.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::Backend;

/// Puts statement text in the form of one backend (the one it holds).
#[derive(Debug, Clone, Copy)]
pub(super) struct Dialect(pub(super) Backend);

impl Dialect {
    /// One of three texts (or lists of them), by backend; each may still
    /// hold `?` placeholders.
    pub(super) fn pick<T>(self, sqlite: T, mysql: T, postgres: T) -> T {
        match self.0 {
            Backend::Sqlite => sqlite,
            Backend::MySql => mysql,
            Backend::Postgres => postgres,
        }
    }

    /// A fixed statement written with `?`, ready for this backend.
    pub(super) fn fixed(self, sql: &'static str) -> SqlStr {
        match self.0 {
            Backend::Sqlite | Backend::MySql => sql.into_sql_str(),
            // Arc: cloning the statement for each attempt copies nothing.
            Backend::Postgres => {
                AssertSqlSafe(Arc::<str>::from(number_placeholders(sql))).into_sql_str()
            }
        }
    }

    /// A statement built at run time with `?` (only placeholders, never
    /// values, are put into it), ready for this backend.
    pub(super) fn built(self, sql: String) -> SqlStr {
        let sql = match self.0 {
            Backend::Sqlite | Backend::MySql => sql,
            Backend::Postgres => number_placeholders(&sql),
        };
        AssertSqlSafe(Arc::<str>::from(sql)).into_sql_str()
    }
}

/// `sql` with each `?` placeholder replaced by `$1`, `$2`, ... in order. A `?`
/// inside a quoted string or identifier (`'...'`, `"..."`, `` `...` ``) is
/// text, not a placeholder, and is left alone.
pub(super) fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + sql.len() / 4);
    let mut n = 0u32;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            // A doubled quote inside a quoted part closes and reopens it,
            // which this handles as it goes.
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '\'' | '"' | '`') => quote = Some(c),
            None if c == '?' => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            number_placeholders("SELECT a FROM t WHERE b = ? AND c > ? LIMIT ?"),
            "SELECT a FROM t WHERE b = $1 AND c > $2 LIMIT $3"
        );
        assert_eq!(
            number_placeholders("VALUES (?, ?), (?, ?)"),
            "VALUES ($1, $2), ($3, $4)"
        );
        let many = ["?"; 12].join(",");
        assert_eq!(
            number_placeholders(&many),
            (1..=12)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(number_placeholders("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn quoted_question_marks_are_text() {
        assert_eq!(
            number_placeholders("SELECT '?', \"a?\", 'it''s ?' FROM t WHERE x = ?"),
            "SELECT '?', \"a?\", 'it''s ?' FROM t WHERE x = $1"
        );
    }

    #[test]
    fn only_postgres_is_rewritten() {
        let sql = "DELETE FROM t WHERE id = ?";
        assert_eq!(Dialect(Backend::Sqlite).fixed(sql).as_str(), sql);
        assert_eq!(Dialect(Backend::MySql).fixed(sql).as_str(), sql);
        assert_eq!(
            Dialect(Backend::Postgres).fixed(sql).as_str(),
            "DELETE FROM t WHERE id = $1"
        );
        assert_eq!(
            Dialect(Backend::Postgres)
                .built(format!("{sql} OR id = ?"))
                .as_str(),
            "DELETE FROM t WHERE id = $1 OR id = $2"
        );
        assert_eq!(Dialect(Backend::Postgres).pick("a", "b", "c"), "c");
    }
}
