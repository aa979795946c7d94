//! Scratch databases: a fresh SQLite file, MariaDB database or PostgreSQL
//! schema per test, removed when dropped (also when the test fails).

use std::path::PathBuf;

use crate::names::unique;
use crate::services::{
    MARIADB_ADMIN_URL, POSTGRES_ADMIN_URL, mariadb_available, postgres_available,
};

/// The database a test runs on.
// `MariaDb` ends in the enum's name; it is the product's name.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// A file in the temp dir.
    Sqlite,
    /// A database on the MariaDB at 127.0.0.1:3306.
    MariaDb,
    /// A schema of database `test` on the PostgreSQL at 127.0.0.1:5432.
    Postgres,
}

/// A database of its own for one test; dropping it removes the SQLite file
/// (with its WAL and shared-memory files), the MariaDB database or the
/// PostgreSQL schema.
#[derive(Debug)]
pub struct ScratchDb {
    db: Db,
    name: String,
    url: String,
}

impl ScratchDb {
    /// Makes a fresh database of kind `db`; `None` when MariaDB or
    /// PostgreSQL does not answer (outside CI; under CI that panics).
    pub async fn create(db: Db) -> Option<ScratchDb> {
        let name = unique("gochat_it");
        let url = match db {
            Db::Sqlite => return Some(Self::sqlite()),
            Db::MariaDb => {
                if !mariadb_available().await {
                    return None;
                }
                let sql = format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4");
                admin::<sqlx::MySqlConnection>(MARIADB_ADMIN_URL, sql)
                    .await
                    .expect("create a MariaDB database");
                format!("mysql://root@127.0.0.1:3306/{name}")
            }
            Db::Postgres => {
                if !postgres_available().await {
                    return None;
                }
                admin::<sqlx::PgConnection>(POSTGRES_ADMIN_URL, format!("CREATE SCHEMA {name}"))
                    .await
                    .expect("create a PostgreSQL schema");
                format!("{POSTGRES_ADMIN_URL}?options[search_path]={name}")
            }
        };
        Some(ScratchDb { db, name, url })
    }

    /// A fresh SQLite file name in the temp dir (the store creates the file).
    pub fn sqlite() -> ScratchDb {
        let name = unique("gochat_it");
        let url = format!("sqlite://{}", Self::sqlite_path(&name).display());
        ScratchDb {
            db: Db::Sqlite,
            name,
            url,
        }
    }

    fn sqlite_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("{name}.db"))
    }

    /// The kind of database.
    pub fn kind(&self) -> Db {
        self.db
    }

    /// The URL a store opens it with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The file stem (SQLite), database (MariaDB) or schema (PostgreSQL).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let (db, name) = (self.db, self.name.clone());
        if db == Db::Sqlite {
            let path = Self::sqlite_path(&name);
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
            return;
        }
        // Dropping can happen inside any runtime (or none): the statement
        // runs on a thread of its own with a runtime of its own.
        let dropping = name.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop a scratch database");
            rt.block_on(drop_database(db, &dropping));
        })
        .join();
        if done.is_err() {
            eprintln!("note: scratch database {name} was not removed");
        }
    }
}

/// Removes MariaDB database or PostgreSQL schema `name`; a failure is
/// reported, not raised (the test's own outcome matters more).
async fn drop_database(db: Db, name: &str) {
    let outcome = match db {
        Db::Sqlite => Ok(()),
        Db::MariaDb => {
            let sql = format!("DROP DATABASE IF EXISTS `{name}`");
            admin::<sqlx::MySqlConnection>(MARIADB_ADMIN_URL, sql).await
        }
        Db::Postgres => {
            let sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
            admin::<sqlx::PgConnection>(POSTGRES_ADMIN_URL, sql).await
        }
    };
    if let Err(e) = outcome {
        eprintln!("note: scratch database {name} was not removed: {e}");
    }
}

/// Runs one statement on a connection of type `C` to `url`.
async fn admin<C>(url: &str, sql: String) -> Result<(), sqlx::Error>
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c>,
{
    use sqlx::Executor;
    let mut conn = C::connect(url).await?;
    let outcome = conn.execute(sqlx::AssertSqlSafe(sql)).await.map(drop);
    let _ = conn.close().await;
    outcome
}
