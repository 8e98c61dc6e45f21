//! The node's Prometheus metrics, served at `GET /metrics` on the HTTP port
//! (with authentication on: any valid token, a viewer's is enough).
//!
//! Most figures are read when scraped, from what the node keeps anyway
//! (`collectors`): Raft's metrics channel, the data plane's per-thread
//! counters summed on read, the binder's held addresses, `/proc/self`. So a
//! scrape takes no lock that the forwarding path or `apply` holds. The API's
//! requests are counted as they pass ([`api`]), and leader changes by a task
//! that follows Raft's metrics.
//!
//! Labels are bounded: ids of listeners, members, nodes and methods, never
//! client addresses.

pub mod api;
pub mod binder;
mod collectors;
pub mod ownership;

use std::sync::Arc;

use openraft::async_runtime::WatchReceiver;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use crate::dataplane::NodeDataPlane;
use crate::replica::Replica;
use fulcrum_eip::Binder;

pub use api::{ApiMetrics, Measure};
pub use binder::{BinderMetrics, TimedBinder};
pub use ownership::OwnershipMetrics;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What other parts of the node count as they go, for the registry.
pub struct Recorded<'a> {
    /// The public API's calls.
    pub api: &'a ApiMetrics,
    /// The EIP binder's calls.
    pub binder: &'a BinderMetrics,
    /// The store's appends and syncs.
    pub store: Arc<fulcrum_raft_store::raft::StoreMetrics>,
    /// The EIP ownership loop's claims and releases.
    pub ownership: &'a OwnershipMetrics,
    /// The API's watch streams.
    pub watch_streams: crate::api::WatchSlots,
}

/// Every metric of one node.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// The metrics of the node made of `replica`, `data_plane` and `binder`,
    /// with the figures `recorded` elsewhere; follows leader changes until
    /// the node's Raft stops.
    pub fn new(
        replica: Arc<Replica>,
        data_plane: Arc<NodeDataPlane>,
        binder: Arc<dyn Binder>,
        recorded: Recorded<'_>,
    ) -> Self {
        let mut registry = Registry::default();
        recorded.api.register(&mut registry);
        recorded.binder.register(&mut registry);
        recorded.ownership.register(&mut registry);
        registry.register_collector(Box::new(collectors::Store(recorded.store)));
        let leader_changes = Counter::default();
        registry.register(
            "fulcrum_raft_leader_changes",
            "Times this node has seen the leader change (a new leader, or none)",
            leader_changes.clone(),
        );
        tokio::spawn(follow_leader(replica.clone(), leader_changes));
        let proposals = replica.proposals();
        registry.register(
            "fulcrum_raft_proposals_applied",
            "Writes this node proposed as the leader, committed and applied, by outcome (accepted or rejected by the domain)",
            proposals.applied.clone(),
        );
        registry.register(
            "fulcrum_raft_proposals_failed",
            "Writes this node proposed as the leader that were not committed (leadership moved, deadline passed)",
            proposals.failed.clone(),
        );
        registry.register(
            "fulcrum_api_forwarded_writes",
            "Writes this node handed to the leader, by outcome (answered, or failed: not sent, leader moved or unreachable)",
            proposals.forwarded.clone(),
        );
        registry.register(
            "fulcrum_raft_commit_duration_seconds",
            "From a write's proposal on the leader to its answer: appended, replicated to a quorum, synced, applied",
            proposals.commit_latency.clone(),
        );
        registry.register_collector(Box::new(collectors::Raft(replica)));
        registry.register_collector(Box::new(collectors::DataPlane(data_plane)));
        registry.register_collector(Box::new(collectors::Eip(binder)));
        registry.register_collector(Box::new(collectors::Process));
        registry.register_collector(Box::new(collectors::WatchStreams(recorded.watch_streams)));
        Self { registry }
    }

    /// The metrics in the text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; a collector's error ends the text early.
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
        {
            tracing::warn!(%error, "the metrics could not be rendered whole");
        }
        text
    }
}

/// Counts changes of the leader this node sees, until Raft's metrics end.
async fn follow_leader(replica: Arc<Replica>, changes: Counter) {
    let mut metrics = replica.raft().metrics();
    let mut leader = metrics.borrow_watched().current_leader;
    while metrics.changed().await.is_ok() {
        let now = metrics.borrow_watched().current_leader;
        if now != leader {
            changes.inc();
            leader = now;
        }
    }
}
