//! The statuses of the EIP owner's data plane, as this node knows them:
//! its own while it is the owner, otherwise what the owner last said through
//! the internal `DataPlaneStatus` call, asked every [`OWNER_POLL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::v1;
use fulcrum_raft_store::domain::{ListenerId, MemberId, Revision};

use super::NodeDataPlane;
use crate::api::statuses::DataPlaneReport;

/// How often a node that is not the EIP owner asks the owner for its status.
pub const OWNER_POLL: Duration = Duration::from_millis(200);

/// A data plane's status with its health verdicts indexed by member, so
/// that rendering one member's status costs one lookup, not a scan of
/// every member of the catalog.
pub struct Observed {
    /// As the data plane answered it.
    pub status: internal::DataPlaneStatusResponse,
    /// Member id → healthy.
    health: HashMap<String, bool>,
}

impl Observed {
    /// Indexes `status`.
    pub fn new(status: internal::DataPlaneStatusResponse) -> Self {
        let health = status
            .members
            .iter()
            .map(|verdict| (verdict.member_id.clone(), verdict.healthy))
            .collect();
        Self { status, health }
    }
}

/// The statuses of the EIP owner's data plane, as this node knows them.
pub struct OwnerReport {
    local: Arc<NodeDataPlane>,
    /// The owner's last answer, while another node is the owner.
    remote: Mutex<Option<Arc<Observed>>>,
}

impl OwnerReport {
    /// A report that answers from `local` while this node owns the EIPs.
    pub fn new(local: Arc<NodeDataPlane>) -> Self {
        Self {
            local,
            remote: Mutex::new(None),
        }
    }

    /// The owner's observations: this node's own (gathered at most every
    /// [`super::OBSERVATIONS_REUSE`], longer when gathering is costly)
    /// while it is the owner.
    fn owners_status(&self) -> Option<Arc<Observed>> {
        if self.local.is_owner() {
            return Some(self.local.observed());
        }
        self.remote
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(|observed| observed.status.owner)
    }

    /// Keeps the owner's status fresh while another node is the owner.
    pub async fn follow_owner(self: Arc<Self>, replica: Arc<crate::replica::Replica>) {
        loop {
            let status = if self.local.is_owner() {
                None
            } else {
                replica
                    .leader_data_plane_status(OWNER_POLL * 2)
                    .await
                    .ok()
                    .map(|status| Arc::new(Observed::new(status)))
            };
            *self.remote.lock().unwrap_or_else(PoisonError::into_inner) = status;
            tokio::time::sleep(OWNER_POLL).await;
        }
    }
}

impl DataPlaneReport for OwnerReport {
    fn applied_revision(&self) -> Option<Revision> {
        if self.local.is_owner() {
            // Cheap, and a write's answer waits on it: always fresh.
            return self.local.applied_revision();
        }
        self.owners_status()?.status.applied_revision
    }

    fn member_health(&self, member: &MemberId) -> Option<bool> {
        self.owners_status()?.health.get(member.as_str()).copied()
    }

    fn listener_error(&self, listener: &ListenerId) -> Option<String> {
        self.owners_status()?
            .status
            .listener_errors
            .get(listener.as_str())
            .cloned()
    }

    fn listener_counters(&self, listener: &ListenerId) -> Option<v1::TrafficCounters> {
        self.owners_status()?
            .status
            .listener_counters
            .get(listener.as_str())
            .cloned()
    }

    fn member_counters(&self, member: &MemberId) -> Option<v1::TrafficCounters> {
        self.owners_status()?
            .status
            .member_counters
            .get(member.as_str())
            .cloned()
    }
}
