//! The one task that writes messages to the offline store: inserts of
//! messages for users who cannot take them now, and deletes of delivered ones.
//!
//! Every connection hands its writes here instead of running one statement
//! per message. Jobs that queue up while a transaction runs are merged into
//! the next one (group commit), so a flood of messages for a stalled or
//! offline user costs one multi-row INSERT per batch, not one statement per
//! message, and SQLite never sees two of our writers at once.
//!
//! A job's completion is reported only after its transaction committed: a
//! sender gets OK for a stored message only once it is durable.

use std::time::Duration;

use gochat_runtime::Runtime;
use tracing::{error, warn};

use crate::hub::Relay;
use crate::store::{NewMessage, Store};

/// Jobs waiting for the writer before senders wait for room.
const QUEUE: usize = 1024;

/// Most messages merged into one transaction.
const MAX_BATCH: usize = 4096;

/// What the writer is asked to do.
enum Job {
    /// Store these messages, in this order.
    Insert {
        rows: Vec<Relay>,
        done: async_channel::Sender<bool>,
    },
    /// Delete these delivered messages of account `dst`.
    Delete {
        dst: i64,
        ids: Vec<i64>,
        done: async_channel::Sender<bool>,
    },
}

/// A handle on the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    tx: async_channel::Sender<Job>,
}

/// Completes when a delete handed to [`Writer::delete`] has run.
#[derive(Debug)]
pub struct Pending(async_channel::Receiver<bool>);

impl Pending {
    /// Waits for the job; whether it succeeded.
    pub async fn wait(self) -> bool {
        self.0.recv().await.unwrap_or(false)
    }
}

impl Writer {
    /// Starts the writer task on `rt`; it ends when every handle is dropped.
    pub fn start<R: Runtime>(rt: &R, store: Store) -> Writer {
        let (tx, rx) = async_channel::bounded(QUEUE);
        rt.spawn(run(store, rx));
        Writer { tx }
    }

    /// Stores `rows` (in order) and waits until they are committed; `false`
    /// when they could not be stored (the error is logged).
    pub async fn insert(&self, rows: Vec<Relay>) -> bool {
        if rows.is_empty() {
            return true;
        }
        let (done, result) = async_channel::bounded(1);
        if self.tx.send(Job::Insert { rows, done }).await.is_err() {
            return false;
        }
        result.recv().await.unwrap_or(false)
    }

    /// Stores `rows` that were already acknowledged to their senders, trying
    /// again for up to `patience` while the database fails; logs what it
    /// could not keep.
    pub async fn insert_acknowledged(&self, rows: Vec<Relay>, patience: Duration) {
        let count = rows.len();
        let deadline = std::time::Instant::now() + patience;
        let mut delay = Duration::from_millis(100);
        loop {
            if self.insert(rows.clone()).await {
                return;
            }
            if std::time::Instant::now() + delay > deadline {
                error!("{count} acknowledged messages could not be stored and are lost");
                return;
            }
            async_io::Timer::after(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Queues a delete of delivered messages; the returned handle completes
    /// when it ran.
    pub async fn delete(&self, dst: i64, ids: Vec<i64>) -> Pending {
        let (done, result) = async_channel::bounded(1);
        if !ids.is_empty() {
            let _ = self.tx.send(Job::Delete { dst, ids, done }).await;
        }
        Pending(result)
    }
}

async fn run(store: Store, rx: async_channel::Receiver<Job>) {
    while let Ok(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut rows = job_rows(&jobs[0]);
        while rows < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => {
                    rows += job_rows(&job);
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut inserts = Vec::new();
        for job in jobs {
            match job {
                Job::Insert { rows, done } => inserts.push((rows, done)),
                Job::Delete { dst, ids, done } => {
                    // Keep the order: inserts queued before this delete first.
                    insert_merged(&store, std::mem::take(&mut inserts)).await;
                    let ok = match store.delete_messages(dst, &ids).await {
                        Ok(_) => true,
                        Err(e) => {
                            warn!("deleting {} delivered messages failed: {e}", ids.len());
                            false
                        }
                    };
                    let _ = done.try_send(ok);
                }
            }
        }
        insert_merged(&store, inserts).await;
    }
}

fn job_rows(job: &Job) -> usize {
    match job {
        Job::Insert { rows, .. } => rows.len(),
        Job::Delete { ids, .. } => ids.len(),
    }
}

/// Inserts every job's rows in one transaction; if that fails, each job on
/// its own, so that one bad job does not fail the others.
async fn insert_merged(store: &Store, jobs: Vec<(Vec<Relay>, async_channel::Sender<bool>)>) {
    if jobs.is_empty() {
        return;
    }
    let all: Vec<NewMessage<'_>> = jobs
        .iter()
        .flat_map(|(rows, _)| rows.iter().map(new_message))
        .collect();
    match store.store_messages(&all).await {
        Ok(()) => {
            for (_, done) in &jobs {
                let _ = done.try_send(true);
            }
        }
        Err(e) if jobs.len() == 1 => {
            warn!("storing {} messages failed: {e}", all.len());
            let _ = jobs[0].1.try_send(false);
        }
        Err(_) => {
            for (rows, done) in &jobs {
                let one: Vec<NewMessage<'_>> = rows.iter().map(new_message).collect();
                let ok = match store.store_messages(&one).await {
                    Ok(()) => true,
                    Err(e) => {
                        warn!("storing {} messages failed: {e}", one.len());
                        false
                    }
                };
                let _ = done.try_send(ok);
            }
        }
    }
}

fn new_message(r: &Relay) -> NewMessage<'_> {
    NewMessage {
        src: r.sender_id,
        dst: r.recipient_id,
        stamp: r.stamp,
        ciphertext: &r.ciphertext,
    }
}
