//! Opening a [`Store`]: URL normalization, pool settings per backend, SQLite
//! pragmas, and the embedded schema migrations.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlSafeStr;
use std::str::FromStr;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::SqliteConnectOptions;

use super::retry::retry;
use super::{Backend, Statements, Store, StoreError};

/// Pool size for an SQLite file (writers serialize anyway; WAL lets readers run).
const SQLITE_POOL_SIZE: u32 = 4;

/// Pool size for MySQL/MariaDB and PostgreSQL.
const NETWORK_POOL_SIZE: u32 = 10;

/// How long a statement waits for a pooled connection before the (transient)
/// pool timeout.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Run on every new SQLite connection, after its `busy_timeout`
/// ([`StoreOptions::sqlite_busy_timeout`]). `foreign_keys` is also sqlx's
/// default; stated here so it holds whatever sqlx's defaults become.
const SQLITE_CONNECTION_PRAGMAS: &[&str] =
    &["PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL"];

/// How a store is opened, beyond its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long an SQLite statement waits for another writer's lock before it
    /// fails with `SQLITE_BUSY` (and is retried); 5 s by default, as sqlx's.
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The schema migrations, `(version, description, SQL)`, one list per backend;
/// the files follow sqlx's `<version>_<description>.sql` naming.
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../../migrations/sqlite/0001_init.sql"),
)];

/// See [`SQLITE_MIGRATIONS`].
const MYSQL_MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../../migrations/mysql/0001_init.sql"),
)];

/// See [`SQLITE_MIGRATIONS`].
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "init",
    include_str!("../../migrations/postgres/0001_init.sql"),
)];

/// A database URL understood and normalized for sqlx's `Any` driver.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    backend: Backend,
    url: String,
    in_memory: bool,
}

impl Target {
    /// Accepts `sqlite://path`, `sqlite:path`, `sqlite::memory:`,
    /// `sqlite://:memory:`, a bare `:memory:`, `mysql://` / `mariadb://` and
    /// `postgres://` / `postgresql://` URLs.
    /// SQLite files are created if missing unless the URL gives a `mode`.
    fn parse(url: &str) -> Result<Target, StoreError> {
        let url = url.trim();
        if url == ":memory:" {
            return Ok(Target::sqlite_memory(None));
        }
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(StoreError::UnsupportedUrl(String::new()));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Target::sqlite(rest)),
            "mysql" | "mariadb" => Ok(Target {
                backend: Backend::MySql,
                url: url.to_owned(),
                in_memory: false,
            }),
            "postgres" | "postgresql" => Ok(Target {
                backend: Backend::Postgres,
                url: url.to_owned(),
                in_memory: false,
            }),
            // Only the scheme: the rest may hold a password.
            _ => Err(StoreError::UnsupportedUrl(scheme.to_owned())),
        }
    }

    /// `rest` is what follows `sqlite:`. The result always has the form
    /// `sqlite:<path>[?params]`, which sqlx parses without treating the first
    /// path segment as a (lowercased) host name.
    fn sqlite(rest: &str) -> Target {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, params) = match rest.split_once('?') {
            Some((path, params)) => (path, Some(params)),
            None => (rest, None),
        };
        let params = params.filter(|p| !p.is_empty());
        let has_param =
            |name: &str| params.is_some_and(|p| p.split('&').any(|kv| kv.starts_with(name)));
        if path.is_empty() || path == ":memory:" || has_param("mode=memory") {
            return Target::sqlite_memory(params);
        }
        let mut url = format!("sqlite:{path}");
        let mut params = params.map(str::to_owned).unwrap_or_default();
        if !has_param("mode=") {
            if !params.is_empty() {
                params.push('&');
            }
            params.push_str("mode=rwc");
        }
        url.push('?');
        url.push_str(&params);
        Target {
            backend: Backend::Sqlite,
            url,
            in_memory: false,
        }
    }

    fn sqlite_memory(params: Option<&str>) -> Target {
        let url = match params {
            Some(params) => format!("sqlite::memory:?{params}"),
            None => "sqlite::memory:".to_owned(),
        };
        Target {
            backend: Backend::Sqlite,
            url,
            in_memory: true,
        }
    }
}

impl Store {
    /// Opens the database at `url` and brings its schema up to date.
    ///
    /// `url` is `sqlite://path/gochat.db` (also `sqlite:path`; the file is
    /// created if missing; WAL journal, 5 s busy timeout, foreign keys on),
    /// `sqlite::memory:` or `:memory:` (a private database living as long as
    /// the store, for tests), `mysql://user:pass@host:port/db` for MySQL or
    /// MariaDB (`mariadb://` works too), or `postgres://user:pass@host:port/db`
    /// for PostgreSQL (`postgresql://` works too; sqlx's connection parameters,
    /// such as `?sslmode=require`, apply). Runs the embedded migrations of
    /// `server/migrations/sqlite`, `server/migrations/mysql` or
    /// `server/migrations/postgres`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Self::open_with(url, &StoreOptions::default()).await
    }

    /// [`Store::open`] with `options`.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let options_busy_timeout = options.sqlite_busy_timeout;
        let busy_timeout_ms =
            u64::try_from(options.sqlite_busy_timeout.as_millis()).unwrap_or(u64::MAX);
        sqlx::any::install_default_drivers();
        let target = Target::parse(url)?;

        let mut options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        options = match (target.backend, target.in_memory) {
            // Every connection to `:memory:` is a different database: keep
            // exactly one, forever.
            (Backend::Sqlite, true) => options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            (Backend::Sqlite, false) => options.max_connections(SQLITE_POOL_SIZE),
            (Backend::MySql | Backend::Postgres, _) => options.max_connections(NETWORK_POOL_SIZE),
        };
        if target.backend == Backend::Sqlite {
            options = options.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    let busy = format!("PRAGMA busy_timeout = {busy_timeout_ms}");
                    sqlx::query(sqlx::AssertSqlSafe(busy))
                        .execute(&mut *conn)
                        .await?;
                    for pragma in SQLITE_CONNECTION_PRAGMAS {
                        sqlx::query(*pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            });
        }
        let pool = options
            .connect_lazy(&target.url)
            .map_err(StoreError::Connect)?;

        // Connect once now so that an unreachable database is reported as such.
        let pool_ref = &pool;
        let conn = retry("connect to the database", move || pool_ref.acquire())
            .await
            .map_err(StoreError::Connect)?;
        drop(conn);

        let store = Store {
            pool,
            backend: target.backend,
            sql: Arc::new(Statements::new(target.backend)),
            pages: sqlite_file(&target)?
                .map(|path| super::sqlite_pages::PageReader::new(&path, options_busy_timeout)),
        };
        if target.backend == Backend::Sqlite && !target.in_memory {
            // WAL is a property of the file: set once, it stays.
            let pool = &store.pool;
            store
                .run("enable the WAL journal", move || {
                    sqlx::query("PRAGMA journal_mode = WAL").execute(pool)
                })
                .await?;
        }
        migrator(target.backend).run(&store.pool).await?;
        tracing::debug!(backend = ?store.backend, "database opened and migrated");
        Ok(store)
    }
}

/// The SQLite file `target` names, as sqlx's pool parses it from the URL
/// (through the same `Any` options), for the store's own page reader; `None`
/// for the other backends and `:memory:`.
fn sqlite_file(target: &Target) -> Result<Option<std::path::PathBuf>, StoreError> {
    if target.backend != Backend::Sqlite || target.in_memory {
        return Ok(None);
    }
    let any = AnyConnectOptions::from_str(&target.url).map_err(StoreError::Connect)?;
    let sqlite = SqliteConnectOptions::try_from(&any).map_err(StoreError::Connect)?;
    Ok(Some(sqlite.get_filename().to_path_buf()))
}

/// The embedded migrations of `backend`.
fn migrator(backend: Backend) -> Migrator {
    let list = match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::MySql => MYSQL_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    };
    Migrator::with_migrations(
        list.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> (Backend, String, bool) {
        match Target::parse(url) {
            Ok(t) => (t.backend, t.url, t.in_memory),
            Err(e) => (Backend::Sqlite, format!("error: {e}"), false),
        }
    }

    #[test]
    fn sqlite_urls_are_normalized() {
        let file = |url: &str| (Backend::Sqlite, url.to_owned(), false);
        assert_eq!(
            parse("sqlite:///tmp/x/gochat.db"),
            file("sqlite:/tmp/x/gochat.db?mode=rwc")
        );
        assert_eq!(
            parse("sqlite://Data/gochat.db"),
            file("sqlite:Data/gochat.db?mode=rwc")
        );
        assert_eq!(parse("sqlite:gochat.db"), file("sqlite:gochat.db?mode=rwc"));
        assert_eq!(
            parse("sqlite:gochat.db?mode=ro"),
            file("sqlite:gochat.db?mode=ro")
        );
        assert_eq!(
            parse("SQLITE:gochat.db?cache=private"),
            file("sqlite:gochat.db?cache=private&mode=rwc")
        );
    }

    #[test]
    fn memory_urls() {
        for url in [
            ":memory:",
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite:",
        ] {
            assert_eq!(
                parse(url),
                (Backend::Sqlite, "sqlite::memory:".to_owned(), true),
                "{url}"
            );
        }
        assert!(parse("sqlite://?mode=memory").2);
    }

    #[test]
    fn network_and_unknown() {
        assert_eq!(
            parse("mysql://u:p@h:3306/db"),
            (Backend::MySql, "mysql://u:p@h:3306/db".to_owned(), false)
        );
        assert_eq!(parse("mariadb://h/db").0, Backend::MySql);
        assert_eq!(
            parse("postgres://u:p@h:5432/db"),
            (
                Backend::Postgres,
                "postgres://u:p@h:5432/db".to_owned(),
                false
            )
        );
        assert_eq!(parse("PostgreSQL://h/db").0, Backend::Postgres);
        let err = parse("oracle://u:secret@h/db").1;
        assert!(err.contains("`oracle`") && !err.contains("secret"), "{err}");
        assert!(parse("gochat.db").1.starts_with("error"));
    }
}
