//! Opening the store: the file and its mode, connection settings, the
//! embedded migrations, and the one-time import of an original client's
//! database.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection as _, SqlSafeStr as _, SqliteConnection};

use super::{LocalStore, db_error, legacy};
use crate::types::ClientError;

/// Connections of a file store (SQLite serializes writers; WAL lets readers run).
const POOL_SIZE: u32 = 4;
/// How long a statement waits for a locked database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema migrations `(version, description, SQL)`; the files follow
/// sqlx's `<version>_<description>.sql` naming.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "sealed_history",
        include_str!("../../migrations/0002_sealed_history.sql"),
    ),
    (
        3,
        "server_start",
        include_str!("../../migrations/0003_server_start.sql"),
    ),
];

impl LocalStore {
    /// Opens (creating it if needed) the database file at `path` and brings its
    /// schema up to date.
    ///
    /// - Missing parent folders are created (mode 0700), and the file is
    ///   created with mode 0600 before SQLite opens it; an existing file (and
    ///   its `-wal`/`-shm` companions) gets its mode fixed to 0600, since the
    ///   history in it is plaintext.
    /// - WAL journal, 5 s busy timeout, no foreign-key enforcement (dangling
    ///   accounts depend on it, and the original's schema breaks with it).
    /// - A database written by the ORIGINAL Go client (GORM tables `servers`,
    ///   `users`, `local_users`, `external_users`, `messages` and no
    ///   `_sqlx_migrations`) is migrated in place, in one transaction, on the
    ///   first open: every server, account (bcrypt hash and sealed key as
    ///   they were), contact and message is copied, dangling accounts
    ///   included; after the copy is verified the original tables are
    ///   **dropped** (a failure rolls everything back and leaves the file
    ///   untouched). Messages that cannot be tied to a local account are kept
    ///   in a table `orig_unattributed_messages`. Later opens are no-ops.
    pub async fn open(path: &Path) -> Result<LocalStore, ClientError> {
        prepare_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // What is deleted or overwritten (a text once it is sealed) is
            // zeroed in the file, not left in free pages.
            .pragma("secure_delete", "ON")
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(false)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| ClientError::Store(format!("cannot open {}: {e}", path.display())))?;
        let store = LocalStore::from_pool(pool);
        store.migrate().await?;
        // SQLite gives -wal/-shm the mode of the database file; fix stale ones.
        fix_companion_modes(path)?;
        tracing::debug!(path = %path.display(), "local store opened");
        Ok(store)
    }

    /// A private in-memory database (for tests): lives as long as the store
    /// and its clones.
    pub async fn open_memory() -> Result<LocalStore, ClientError> {
        let options = SqliteConnectOptions::new()
            .in_memory(true)
            .foreign_keys(false);
        // Every connection to `:memory:` is a different database: keep
        // exactly one, forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db_error)?;
        let store = LocalStore::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Runs the migrations, importing an original client's tables first if
    /// this is the first open of such a database. One IMMEDIATE transaction:
    /// a second process opening the same file waits, then finds it done.
    async fn migrate(&self) -> Result<(), ClientError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)?;
        let original = legacy::is_original_database(&mut tx).await?;
        run_migrations(&mut tx).await?;
        if original {
            tracing::info!("migrating a database written by the original gochat client");
            legacy::import(&mut tx).await?;
        }
        tx.commit().await.map_err(db_error)?;
        if original {
            // Compact the file now that the original tables are gone (best effort).
            if let Err(e) = sqlx::query("VACUUM").execute(&mut *conn).await {
                tracing::warn!(error = %e, "VACUUM after the migration failed");
            }
        }
        Ok(())
    }
}

/// Applies the embedded migrations on `conn` (inside the caller's transaction:
/// sqlx nests its own as a savepoint).
async fn run_migrations(conn: &mut SqliteConnection) -> Result<(), ClientError> {
    let migrator = Migrator::with_migrations(
        MIGRATIONS
            .iter()
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
    );
    migrator
        .run(&mut *conn)
        .await
        .map_err(|e| ClientError::Store(format!("schema migration failed: {e}")))
}

/// Creates the parent folders and the file itself (mode 0600), or fixes the
/// mode of an existing file.
fn prepare_file(path: &Path) -> Result<(), ClientError> {
    let io = |what: &str, e: std::io::Error| {
        ClientError::Store(format!("cannot {what} {}: {e}", path.display()))
    };
    if let Some(parent) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.exists())
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(parent)
            .map_err(|e| io("create the folder of", e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(|e| io("create", e))?;
    restrict(&file).map_err(|e| io("set the mode of", e))?;
    fix_companion_modes(path)
}

/// Sets the mode of the `-wal` and `-shm` files, when they exist, to 0600.
fn fix_companion_modes(path: &Path) -> Result<(), ClientError> {
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let companion = Path::new(&name);
        match std::fs::OpenOptions::new().read(true).open(companion) {
            Ok(file) => restrict(&file).map_err(|e| {
                ClientError::Store(format!(
                    "cannot set the mode of {}: {e}",
                    companion.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ClientError::Store(format!(
                    "cannot open {}: {e}",
                    companion.display()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn restrict(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}
