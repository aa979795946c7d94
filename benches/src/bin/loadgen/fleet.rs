//! What one load run starts: a single target, or the nodes of a gochat
//! cluster with the clients of each pair placed on the same node or on two.

use clap::ValueEnum;

use crate::Result;
use crate::child::{Target, TargetKind};

/// Where the two clients of a pair are placed in a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Placement {
    /// Both on one node (pair k on node k mod N).
    Same,
    /// On two nodes (client i on node i mod N): every message crosses.
    Cross,
}

/// What a run loads.
#[derive(Clone, Debug)]
pub enum RunKind {
    /// One process.
    Single(TargetKind),
    /// `nodes` gochat processes joined through the NATS server at `url`.
    Cluster {
        /// The node (its database must be shared: MariaDB or PostgreSQL).
        node: TargetKind,
        /// The NATS server.
        url: String,
        /// How many nodes.
        nodes: usize,
        /// Where each pair goes.
        placement: Placement,
    },
}

impl RunKind {
    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            RunKind::Single(kind) => kind.name(),
            RunKind::Cluster {
                node,
                nodes,
                placement,
                ..
            } => format!(
                "{} x{nodes} {}",
                node.name(),
                match placement {
                    Placement::Same => "same-node",
                    Placement::Cross => "cross-node",
                }
            ),
        }
    }

    /// Whether clients log in (gochat) or not (the relay).
    pub fn is_gochat(&self) -> bool {
        match self {
            RunKind::Single(kind) => kind.is_gochat(),
            RunKind::Cluster { .. } => true,
        }
    }
}

/// The running processes of one run; killed when dropped.
pub struct Fleet {
    targets: Vec<Target>,
    placement: Placement,
}

impl Fleet {
    /// Starts what `kind` names and waits until every process listens.
    pub async fn spawn(kind: &RunKind) -> Result<Fleet> {
        match kind {
            RunKind::Single(kind) => Ok(Fleet {
                targets: vec![Target::spawn(kind).await?],
                placement: Placement::Same,
            }),
            RunKind::Cluster {
                node,
                url,
                nodes,
                placement,
            } => {
                let mut targets = Vec::with_capacity(*nodes);
                for n in 0..*nodes {
                    let mut kind = node.clone();
                    if let TargetKind::Gochat { args, .. } = &mut kind {
                        args.extend([
                            "--cluster-url".to_owned(),
                            url.clone(),
                            "--node-id".to_owned(),
                            format!("load{n}"),
                        ]);
                    }
                    targets.push(Target::spawn(&kind).await?);
                }
                // Let the nodes hear each other's heartbeats.
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                Ok(Fleet {
                    targets,
                    placement: *placement,
                })
            }
        }
    }

    /// The port client `index` connects to.
    pub fn port_for(&self, index: usize) -> u16 {
        let n = self.targets.len().max(1);
        let node = match self.placement {
            Placement::Same => (index / 2) % n,
            Placement::Cross => index % n,
        };
        self.targets[node].port
    }

    /// The first process's id (for profilers).
    pub fn pid(&self) -> u32 {
        self.targets.first().map_or(0, Target::pid)
    }

    /// Resident memory of every process now, in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.targets.iter().map(Target::rss_kib).sum()
    }

    /// Peak resident memory of every process, in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        self.targets.iter().map(Target::peak_rss_kib).sum()
    }

    /// CPU seconds every process has used so far.
    pub fn cpu_seconds(&self) -> Result<f64> {
        self.targets.iter().map(Target::cpu_seconds).sum()
    }

    /// An error if a process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        self.targets.iter_mut().try_for_each(Target::check_alive)
    }

    /// Kills every process.
    pub async fn shutdown(self) -> Result<()> {
        for target in self.targets {
            target.shutdown().await?;
        }
        Ok(())
    }
}
