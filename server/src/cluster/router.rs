//! The cluster's router: a user online here gets the message as on a single
//! server; a user online on another live node is [`Route::Remote`]; anyone
//! else is offline (stored).

use std::sync::Arc;

use gochat_proto::Username;

use super::link::Cluster;
use crate::core::{Hub, Relay, Route, Router};

/// Routes through this node's hub first, then the cluster's directory.
#[derive(Debug)]
pub struct ClusterRouter {
    hub: Arc<Hub>,
    cluster: Arc<Cluster>,
}

impl ClusterRouter {
    /// A router for `hub`'s node in `cluster`.
    pub fn new(hub: Arc<Hub>, cluster: Arc<Cluster>) -> Self {
        ClusterRouter { hub, cluster }
    }
}

impl Router for ClusterRouter {
    fn route(&self, to: &Username, relay: &dyn Fn(i64) -> Relay) -> Route {
        match self.hub.route(to, relay) {
            Route::Offline => match self.cluster.holder_elsewhere(to) {
                Some(holder) => Route::Remote { node: holder.node },
                None => Route::Offline,
            },
            local => local,
        }
    }
}
