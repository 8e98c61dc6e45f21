//! The statuses of the EIP owner's data plane, as this node knows them:
//! its own while it is the owner, otherwise what the owner last said through
//! the internal `DataPlaneStatus` call, asked every [`OWNER_POLL`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::v1;
use fulcrum_raft_store::domain::{ListenerId, MemberId, Revision};
use tokio::time::Instant;

use super::NodeDataPlane;
use crate::api::statuses::DataPlaneReport;

/// How often a node that is not the EIP owner asks the owner for its status.
pub const OWNER_POLL: Duration = Duration::from_millis(200);

/// How long this node's own status, once taken, answers for it: rendering a
/// status tree asks once per listener and member, and each fresh status sums
/// every thread's counters.
const LOCAL_STATUS_REUSE: Duration = Duration::from_millis(20);

/// The statuses of the EIP owner's data plane, as this node knows them.
pub struct OwnerReport {
    local: Arc<NodeDataPlane>,
    /// This node's status, and when it was taken.
    local_status: Mutex<Option<(Instant, Arc<internal::DataPlaneStatusResponse>)>>,
    /// The owner's last answer, while another node is the owner.
    remote: Mutex<Option<Arc<internal::DataPlaneStatusResponse>>>,
}

impl OwnerReport {
    /// A report that answers from `local` while this node owns the EIPs.
    pub fn new(local: Arc<NodeDataPlane>) -> Self {
        Self {
            local,
            local_status: Mutex::new(None),
            remote: Mutex::new(None),
        }
    }

    fn owners_status(&self) -> Option<Arc<internal::DataPlaneStatusResponse>> {
        if self.local.is_owner() {
            let mut cached = self
                .local_status
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if let Some((taken, status)) = cached.as_ref()
                && now.duration_since(*taken) < LOCAL_STATUS_REUSE
            {
                return Some(Arc::clone(status));
            }
            let status = Arc::new(self.local.status());
            *cached = Some((now, Arc::clone(&status)));
            return Some(status);
        }
        self.remote
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(|status| status.owner)
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
                    .map(Arc::new)
            };
            *self.remote.lock().unwrap_or_else(PoisonError::into_inner) = status;
            tokio::time::sleep(OWNER_POLL).await;
        }
    }
}

impl DataPlaneReport for OwnerReport {
    fn applied_revision(&self) -> Option<Revision> {
        self.owners_status()?.applied_revision
    }

    fn member_health(&self, member: &MemberId) -> Option<bool> {
        self.owners_status()?
            .members
            .iter()
            .find(|verdict| verdict.member_id == member.as_str())
            .map(|verdict| verdict.healthy)
    }

    fn listener_error(&self, listener: &ListenerId) -> Option<String> {
        self.owners_status()?
            .listener_errors
            .get(listener.as_str())
            .cloned()
    }

    fn listener_counters(&self, listener: &ListenerId) -> Option<v1::TrafficCounters> {
        self.owners_status()?
            .listener_counters
            .get(listener.as_str())
            .cloned()
    }

    fn member_counters(&self, member: &MemberId) -> Option<v1::TrafficCounters> {
        self.owners_status()?
            .member_counters
            .get(member.as_str())
            .cloned()
    }
}
