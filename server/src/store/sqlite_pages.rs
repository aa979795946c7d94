//! Pages of cached messages read straight from an SQLite file, one blocking
//! call per page.
//!
//! sqlx's SQLite driver runs each connection on a thread of its own and hands
//! every row of a result to the async side through a channel: one wake-up,
//! one `AnyRow` and one thread switch per row, and SQLite copied each page of
//! the file into its cache. A catch-up of 100,000 stored messages took 690 to
//! 1,300 ms of server CPU that way, 200 to 300 ms with this reader, which opens
//! its own read-only connections on the same file (WAL: readers never wait
//! for the writer) and reads a whole page in one call on a blocking thread,
//! so a page costs one hand-off whatever its size. Writes still go through
//! the pool; a page sees every transaction committed before it began.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_lock::Semaphore;
use rusqlite::{Connection, OpenFlags};

use super::messages::PENDING;
use super::{StoreError, StoredMessage};

/// Read connections, and pages read at once: more catch-ups wait for a turn
/// (a page takes about a millisecond), so the reader holds at most this many
/// connections and blocking threads whatever the number of catch-ups.
const READERS: usize = 4;

/// How much of the file a read connection maps into memory instead of
/// copying page by page (`PRAGMA mmap_size`): stored messages are read once,
/// so copying them through the page cache is pure overhead.
const MMAP_SIZE: i64 = 256 << 20;

/// What a failed page read was doing, for [`StoreError::Read`].
const OP: &str = "read cached messages";

/// Read-only connections on one SQLite file.
pub(super) struct PageReader {
    /// `file:` URI of the database, read-only.
    uri: String,
    /// How long a read waits for a lock (only WAL recovery takes one).
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    /// One permit per read in progress ([`READERS`]), held by the blocking
    /// read itself (it runs on even if its caller gives up waiting).
    turns: Arc<Semaphore>,
    /// Set by [`PageReader::close`]: later reads fail.
    closed: AtomicBool,
}

impl std::fmt::Debug for PageReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageReader")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl PageReader {
    /// A reader of the SQLite file at `path` (the file sqlx's pool opened,
    /// as sqlx parsed it from the URL). Connections open on first use.
    pub(super) fn new(path: &Path, busy_timeout: Duration) -> Arc<PageReader> {
        Arc::new(PageReader {
            uri: read_only_uri(path),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            turns: Arc::new(Semaphore::new(READERS)),
            closed: AtomicBool::new(false),
        })
    }

    /// Up to `limit` messages cached for account `dst` with an id above
    /// `after_id`, oldest first, read on a blocking thread.
    pub(super) async fn page(
        self: &Arc<Self>,
        dst: i64,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let turn = self.turns.acquire_arc().await;
        let reader = Arc::clone(self);
        blocking::unblock(move || {
            let page = reader.page_now(dst, after_id, limit);
            drop(turn);
            page
        })
        .await
    }

    /// Closes the idle connections; later reads fail (as the pool's do once
    /// it is closed). A read in progress finishes and closes its connection.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    fn page_now(
        &self,
        dst: i64,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Read {
                op: OP,
                detail: "the store is closed".into(),
            });
        }
        let conn = match self.idle.lock().map(|mut idle| idle.pop()) {
            Ok(Some(conn)) => conn,
            _ => self.open().map_err(failed)?,
        };
        let page = read_page(&conn, dst, after_id, limit).map_err(failed)?;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < READERS
            && !self.closed.load(Ordering::SeqCst)
        {
            idle.push(conn);
        }
        Ok(page)
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.uri, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
        Ok(conn)
    }
}

/// One page, with the statement kept prepared on `conn`.
fn read_page(
    conn: &Connection,
    dst: i64,
    after_id: i64,
    limit: u32,
) -> rusqlite::Result<Vec<StoredMessage>> {
    let mut statement = conn.prepare_cached(PENDING)?;
    let rows = statement.query_map((dst, after_id, limit), |row| {
        Ok(StoredMessage {
            id: row.get(0)?,
            sender: row.get(1)?,
            stamp: row.get(2)?,
            ciphertext: row.get(3)?,
        })
    })?;
    let mut page = Vec::with_capacity(usize::try_from(limit).unwrap_or(0).min(4096));
    for row in rows {
        page.push(row?);
    }
    Ok(page)
}

/// A read failure as the store reports it (not retried: a reader waits for
/// locks itself, for the busy timeout).
fn failed(e: rusqlite::Error) -> StoreError {
    StoreError::Read {
        op: OP,
        detail: e.to_string(),
    }
}

/// The read-only `file:` URI of `path`, every byte but letters and digits
/// percent-encoded (as sqlx builds its own), so that no character of the
/// name is taken for URI syntax.
fn read_only_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri.push_str("?mode=ro");
    uri
}

#[cfg(test)]
mod tests {
    use super::read_only_uri;
    use std::path::Path;

    #[test]
    fn uris_are_read_only() {
        assert_eq!(
            read_only_uri(Path::new("/tmp/x/gochat.db")),
            "file:%2Ftmp%2Fx%2Fgochat%2Edb?mode=ro"
        );
        assert_eq!(
            read_only_uri(Path::new("a?b#c %3F.db")),
            "file:a%3Fb%23c%20%253F%2Edb?mode=ro"
        );
    }
}
