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

use std::sync::Arc;

use crate::core::{Peer, Relay};
use crate::store::{NewMessage, Store};

/// Rows of an insert that overflowed a peer's queue: the row's index and
/// the peer.
pub type Spills = Vec<(usize, Arc<Peer>)>;

/// Jobs waiting for the writer before senders wait for room.
const QUEUE: usize = 1024;

/// Most messages merged into one transaction.
const MAX_BATCH: usize = 4096;

/// What the writer is asked to do.
enum Job {
    /// Store these messages, in this order; those named in `spilled` (by
    /// index) overflowed that peer's queue, and it learns their ids.
    Insert {
        rows: Vec<Relay>,
        spilled: Spills,
        done: async_channel::Sender<bool>,
    },
    /// Store what a peer's connection still had queued when it ended,
    /// ahead of the messages that overflowed its queue (sent after them).
    InsertAhead {
        peer: Arc<Peer>,
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
        self.insert_noting(rows, Vec::new()).await
    }

    /// As [`Self::insert`]; the peers in `spilled` (row index, peer: the
    /// message overflowed that peer's queue) learn the ids of those rows
    /// before the caller hears back (see [`Peer::note_spilled`]).
    pub async fn insert_noting(&self, rows: Vec<Relay>, spilled: Spills) -> bool {
        if rows.is_empty() {
            return true;
        }
        let (done, result) = async_channel::bounded(1);
        let job = Job::Insert {
            rows,
            spilled,
            done,
        };
        self.run(job, result).await
    }

    async fn run(&self, job: Job, result: async_channel::Receiver<bool>) -> bool {
        if self.tx.send(job).await.is_err() {
            return false;
        }
        result.recv().await.unwrap_or(false)
    }

    /// Stores `rows` that were already acknowledged to their senders, trying
    /// again for up to `patience` while the database fails; logs what it
    /// could not keep. With `ahead_of` (the recipient, whose connection
    /// ended with them queued) they go before the messages that overflowed
    /// its queue, which were sent after them.
    pub async fn insert_acknowledged(
        &self,
        rows: Vec<Relay>,
        ahead_of: Option<&Arc<Peer>>,
        patience: Duration,
    ) {
        if rows.is_empty() {
            return;
        }
        let count = rows.len();
        let deadline = std::time::Instant::now() + patience;
        let mut delay = Duration::from_millis(100);
        loop {
            let (done, result) = async_channel::bounded(1);
            let rows = rows.clone();
            let job = match ahead_of {
                Some(peer) => Job::InsertAhead {
                    peer: peer.clone(),
                    rows,
                    done,
                },
                None => Job::Insert {
                    rows,
                    spilled: Vec::new(),
                    done,
                },
            };
            if self.run(job, result).await {
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
                Job::Insert {
                    rows,
                    spilled,
                    done,
                } => inserts.push((rows, spilled, done)),
                Job::InsertAhead { peer, rows, done } => {
                    insert_merged(&store, std::mem::take(&mut inserts)).await;
                    let _ = done.try_send(insert_ahead(&store, &peer, &rows).await);
                }
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
        Job::Insert { rows, .. } | Job::InsertAhead { rows, .. } => rows.len(),
        Job::Delete { ids, .. } => ids.len(),
    }
}

/// An insert waiting in a batch: its rows, those that overflowed a peer's
/// queue, and where its result goes.
type InsertJob = (Vec<Relay>, Spills, async_channel::Sender<bool>);

/// Inserts every job's rows in one transaction; if that fails, each job on
/// its own, so that one bad job does not fail the others.
async fn insert_merged(store: &Store, jobs: Vec<InsertJob>) {
    if jobs.is_empty() {
        return;
    }
    let all: Vec<NewMessage<'_>> = jobs
        .iter()
        .flat_map(|(rows, _, _)| rows.iter().map(new_message))
        .collect();
    match store.store_messages(&all).await {
        Ok(ids) => {
            let mut at = 0;
            for (rows, spilled, done) in &jobs {
                note_spilled(spilled, &ids[at.min(ids.len())..]);
                at += rows.len();
                let _ = done.try_send(true);
            }
        }
        Err(e) if jobs.len() == 1 => {
            warn!("storing {} messages failed: {e}", all.len());
            let _ = jobs[0].2.try_send(false);
        }
        Err(_) => {
            for (rows, spilled, done) in &jobs {
                let one: Vec<NewMessage<'_>> = rows.iter().map(new_message).collect();
                let ok = match store.store_messages(&one).await {
                    Ok(ids) => {
                        note_spilled(spilled, &ids);
                        true
                    }
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

/// Tells each peer in `spilled` the id its row got (`ids` are the job's).
fn note_spilled(spilled: &Spills, ids: &[i64]) {
    for (index, peer) in spilled {
        if let Some(&id) = ids.get(*index) {
            peer.note_spilled(id);
        }
    }
}

/// Stores `rows` for `peer` ahead of what overflowed its queue, if anything
/// did; whether they are stored.
async fn insert_ahead(store: &Store, peer: &Peer, rows: &[Relay]) -> bool {
    let messages: Vec<NewMessage<'_>> = rows.iter().map(new_message).collect();
    let stored = match peer.spill_floor() {
        Some(floor) => store
            .store_messages_ahead(peer.user_id, floor, &messages)
            .await
            .map(|_| ()),
        None => store.store_messages(&messages).await.map(|_| ()),
    };
    stored
        .inspect_err(|e| warn!("storing {} messages failed: {e}", rows.len()))
        .is_ok()
}

fn new_message(r: &Relay) -> NewMessage<'_> {
    NewMessage {
        src: r.sender_id,
        dst: r.recipient_id,
        stamp: r.stamp,
        ciphertext: &r.ciphertext,
    }
}
