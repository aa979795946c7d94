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

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::DELIVER_TIMEOUT;
use super::link::{Cluster, Delivery, Handed};
use super::wire::Parcel;
use crate::core::lock;

/// Requests to one node on their way at once.
const IN_FLIGHT: usize = 8;

/// Batches waiting for a node's courier; past this, connections wait to
/// hand theirs over.
const WAITING: usize = 4096;

/// One connection's batch, and where its answer goes.
struct Batch {
    parcels: Vec<Parcel>,
    /// Its encoded size, without the request's count.
    size: usize,
    answer: oneshot::Sender<Vec<Handed>>,
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
    };
    let courier = courier_for(cluster, node);
    if courier.send(batch).await.is_err() {
        // The courier is gone: nothing was sent.
        return vec![Handed::Store; count];
    }
    // Waiting for its turn and the request's own deadline: past both, the
    // batch may or may not have reached the owner.
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
        let limit = cluster.request_limit();
        let mut size = 4 + first.size;
        let mut gathered = vec![first];
        while let Ok(batch) = batches.try_recv() {
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
    let mut handed: Vec<Handed> = match cluster.deliver_one(node, &parcels).await {
        Delivery::Answered(taken) => taken
            .into_iter()
            .map(|t| if t { Handed::Taken } else { Handed::Store })
            .collect(),
        Delivery::NotSent => vec![Handed::Store; parcels.len()],
        Delivery::Unknown => vec![Handed::Unknown; parcels.len()],
    }
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
