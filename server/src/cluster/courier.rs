//! One courier per destination node: the batches that this node's
//! connections hand to that node's users are gathered, while earlier
//! requests are on their way, into one request (up to NATS's payload
//! limit), so that a busy node sends a few large requests instead of one per
//! connection's run of MSGs.
//!
//! Order per sender holds: a connection hands over its next batch only once
//! it has the answer for the previous one, and a request keeps its batches
//! (and their messages) in order, which the owner takes in that order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::DELIVER_TIMEOUT;
use super::link::{Cluster, Handed};
use super::wire::Parcel;
use crate::core::lock;

/// Requests to one node on their way at once.
const IN_FLIGHT: usize = 8;

/// Batches waiting for a node's courier; past this, connections wait to
/// hand theirs over.
const WAITING: usize = 4096;

/// How long a batch may wait for its request. One that waited longer is
/// not sent but stored by its sender, so that every batch sent is answered
/// (within [`DELIVER_TIMEOUT`]) while its sender still waits: a sender never
/// moves on while an earlier batch of its may still reach the owner.
const QUEUE_DEADLINE: Duration = Duration::from_secs(4);

/// One connection's batch, and where its answer goes.
struct Batch {
    parcels: Vec<Parcel>,
    /// Its encoded size, without the request's count.
    size: usize,
    answer: oneshot::Sender<Vec<Handed>>,
    /// When it was handed over.
    queued: Instant,
}

impl Batch {
    /// The batch, if it is still to be sent: one whose sender stopped
    /// waiting is dropped (never sent); one that waited too long is answered
    /// "store it" (never sent).
    fn still_to_send(self) -> Option<Batch> {
        if self.answer.is_closed() {
            return None;
        }
        if self.queued.elapsed() > QUEUE_DEADLINE {
            let count = self.parcels.len();
            let _ = self.answer.send(vec![Handed::Store; count]);
            return None;
        }
        Some(self)
    }
}

/// The couriers of a node, by destination node (started on first use).
#[derive(Debug, Default)]
pub(super) struct Couriers {
    by_node: Mutex<HashMap<String, mpsc::Sender<Batch>>>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("parcels", &self.parcels.len())
            .finish_non_exhaustive()
    }
}

/// Hands `parcels` (one connection's batch, within NATS's payload limit)
/// to `node` through its courier; what became of each.
/// `size` is what the parcels take encoded.
pub(super) async fn hand(
    cluster: &Arc<Cluster>,
    node: &str,
    parcels: Vec<Parcel>,
    size: usize,
) -> Vec<Handed> {
    let count = parcels.len();
    let (answer, answered) = oneshot::channel();
    let batch = Batch {
        parcels,
        size,
        answer,
        queued: Instant::now(),
    };
    let courier = courier_for(cluster, node);
    if courier.send(batch).await.is_err() {
        // The courier is gone: nothing was sent.
        return vec![Handed::Store; count];
    }
    // Its turn comes within QUEUE_DEADLINE (or it is answered "store"), and
    // a request sent is answered within DELIVER_TIMEOUT: this bound is a
    // last guard (then the batch may or may not have reached the owner).
    match tokio::time::timeout(DELIVER_TIMEOUT * 2, answered).await {
        Ok(Ok(handed)) if handed.len() == count => handed,
        _ => vec![Handed::Unknown; count],
    }
}

/// The courier to `node`, started if there is none.
fn courier_for(cluster: &Arc<Cluster>, node: &str) -> mpsc::Sender<Batch> {
    let mut by_node = lock(&cluster.couriers().by_node);
    if let Some(courier) = by_node.get(node).filter(|c| !c.is_closed()) {
        return courier.clone();
    }
    let (tx, rx) = mpsc::channel(WAITING);
    tokio::spawn(run(cluster.clone(), node.to_string(), rx));
    by_node.insert(node.to_string(), tx.clone());
    tx
}

/// Gathers the batches waiting for `node` into requests within NATS's
/// payload limit, [`IN_FLIGHT`] on their way at once.
async fn run(cluster: Arc<Cluster>, node: String, mut batches: mpsc::Receiver<Batch>) {
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut held: Option<Batch> = None;
    loop {
        let first = match held.take() {
            Some(batch) => batch,
            None => match batches.recv().await {
                Some(batch) => batch,
                None => return,
            },
        };
        // Waiting for a free place lets more batches gather meanwhile.
        let Ok(permit) = gate.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = first.still_to_send() else {
            continue;
        };
        let limit = cluster.request_limit();
        let mut size = 4 + first.size;
        let mut gathered = vec![first];
        while let Ok(batch) = batches.try_recv() {
            let Some(batch) = batch.still_to_send() else {
                continue;
            };
            if size + batch.size > limit {
                held = Some(batch);
                break;
            }
            size += batch.size;
            gathered.push(batch);
        }
        let (cluster, node) = (cluster.clone(), node.clone());
        tokio::spawn(async move {
            send(&cluster, &node, gathered).await;
            drop(permit);
        });
    }
}

/// One request carrying `gathered`, in order; each batch gets its answer.
async fn send(cluster: &Cluster, node: &str, gathered: Vec<Batch>) {
    let mut answers = Vec::with_capacity(gathered.len());
    let mut parcels = Vec::new();
    for batch in gathered {
        answers.push((batch.parcels.len(), batch.answer));
        parcels.extend(batch.parcels);
    }
    let mut handed: Vec<Handed> = cluster
        .deliver_one(node, &parcels)
        .await
        .handed(parcels.len())
        .into_iter()
        .rev()
        .collect();
    for (count, answer) in answers {
        let own: Vec<Handed> = (0..count)
            .map(|_| handed.pop().unwrap_or(Handed::Unknown))
            .collect();
        let _ = answer.send(own);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bytes::Bytes;
    use gochat_proto::Username;

    fn batch(age: Duration) -> (Batch, oneshot::Receiver<Vec<Handed>>) {
        let name = |n: &str| Username::parse(n.as_bytes()).unwrap();
        let parcel = Parcel {
            to: name("bob"),
            sender: name("alice"),
            sender_id: 1,
            stamp: 0,
            ciphertext: Bytes::from_static(b"x"),
        };
        let (answer, answered) = oneshot::channel();
        let queued = Instant::now().checked_sub(age).unwrap();
        let batch = Batch {
            parcels: vec![parcel.clone(), parcel],
            size: 2,
            answer,
            queued,
        };
        (batch, answered)
    }

    #[test]
    fn only_batches_whose_sender_still_waits_in_time_are_sent() {
        let (fresh, _waiting) = batch(Duration::ZERO);
        assert!(fresh.still_to_send().is_some());
        // Its sender gave up: never sent, nobody to answer.
        let (abandoned, answered) = batch(Duration::ZERO);
        drop(answered);
        assert!(abandoned.still_to_send().is_none());
        // Waited past the deadline: never sent, stored by its sender.
        let (late, mut answered) = batch(QUEUE_DEADLINE + Duration::from_secs(1));
        assert!(late.still_to_send().is_none());
        assert_eq!(answered.try_recv().unwrap(), vec![Handed::Store; 2]);
    }
}
