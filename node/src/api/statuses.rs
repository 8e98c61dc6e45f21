//! Statuses: what the API says about whether a resource has reached the data
//! plane of the EIP owner (provisioning) and whether it serves (operating).
//!
//! The replicated projections know the configuration; the statuses come from
//! the data plane, through a [`DataPlaneReport`]. Until a data plane reports,
//! every resource is PENDING_CREATE or PENDING_UPDATE and every monitored
//! member NO_MONITOR: nothing is claimed that was not observed.
//!
//! Operating status rolls up member → group → listener → Load Balancer:
//! - member: OFFLINE when admin down, DRAINING at weight 0, NO_MONITOR without
//!   a health check or a result, else ONLINE or ERROR by its health check;
//! - group: NO_MONITOR without a health check; ERROR with no member in
//!   rotation up; DEGRADED when some are; ONLINE when all are;
//! - listener: OFFLINE when admin down or without a default group, else its
//!   default group's;
//! - Load Balancer: OFFLINE when admin down, else the roll-up of its listeners
//!   (ONLINE with none).

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{
    Group, Listener, ListenerId, LoadBalancer, Member, MemberId, Meta, Revision,
};
use v1::{OperatingStatus, ProvisioningStatus};

/// What the data plane of the EIP owner has applied and observed.
pub trait DataPlaneReport: Send + Sync {
    /// The newest revision the EIP owner's data plane has applied, if one has.
    fn applied_revision(&self) -> Option<Revision>;
    /// A member's health-check verdict: `Some(true)` up, `Some(false)` down,
    /// `None` when no verdict exists yet.
    fn member_health(&self, member: &MemberId) -> Option<bool>;
    /// Why the data plane cannot serve a listener, if it cannot.
    fn listener_error(&self, listener: &ListenerId) -> Option<String>;
    /// A listener's counters, when the data plane serves it.
    fn listener_counters(&self, listener: &ListenerId) -> Option<v1::TrafficCounters>;
    /// A member's counters, when the data plane has any.
    fn member_counters(&self, member: &MemberId) -> Option<v1::TrafficCounters>;
}

/// The report of a node with no data plane attached: nothing applied, no
/// health verdicts.
pub struct NoDataPlane;

impl DataPlaneReport for NoDataPlane {
    fn applied_revision(&self) -> Option<Revision> {
        None
    }

    fn member_health(&self, _member: &MemberId) -> Option<bool> {
        None
    }

    fn listener_error(&self, _listener: &ListenerId) -> Option<String> {
        None
    }

    fn listener_counters(&self, _listener: &ListenerId) -> Option<v1::TrafficCounters> {
        None
    }

    fn member_counters(&self, _member: &MemberId) -> Option<v1::TrafficCounters> {
        None
    }
}

/// Computes statuses from a data-plane report.
pub struct Statuses<'a> {
    report: &'a dyn DataPlaneReport,
}

impl<'a> Statuses<'a> {
    /// Statuses as `report` tells them.
    pub fn new(report: &'a dyn DataPlaneReport) -> Self {
        Self { report }
    }

    /// Whether a resource with `meta` has reached the data plane.
    pub fn provisioning(&self, meta: &Meta) -> ProvisioningStatus {
        match self.report.applied_revision() {
            Some(applied) if applied >= meta.revision => ProvisioningStatus::Active,
            _ if meta.created_at_ms == meta.updated_at_ms => ProvisioningStatus::PendingCreate,
            _ => ProvisioningStatus::PendingUpdate,
        }
    }

    /// A listener's provisioning status, and why when it is ERROR.
    pub fn listener_provisioning(&self, listener: &Listener) -> (ProvisioningStatus, String) {
        match self.report.listener_error(&listener.id) {
            Some(error) => (ProvisioningStatus::Error, error),
            None => (self.provisioning(&listener.meta), String::new()),
        }
    }

    /// The data plane's report (counters, for views).
    pub fn report(&self) -> &dyn DataPlaneReport {
        self.report
    }

    /// A member's operating status within `group`.
    pub fn member(&self, group: &Group, member: &Member) -> OperatingStatus {
        if !member.admin_state_up {
            return OperatingStatus::Offline;
        }
        if member.weight == 0 {
            return OperatingStatus::Draining;
        }
        if group.health_check.is_none() {
            return OperatingStatus::NoMonitor;
        }
        match self.report.member_health(&member.id) {
            Some(true) => OperatingStatus::Online,
            Some(false) => OperatingStatus::Error,
            None => OperatingStatus::NoMonitor,
        }
    }

    /// A group's operating status: how many of its members in rotation are up.
    pub fn group(&self, group: &Group) -> OperatingStatus {
        if group.health_check.is_none() {
            return OperatingStatus::NoMonitor;
        }
        let in_rotation: Vec<OperatingStatus> = group
            .members
            .iter()
            .map(|member| self.member(group, member))
            .filter(|status| {
                !matches!(status, OperatingStatus::Offline | OperatingStatus::Draining)
            })
            .collect();
        if in_rotation.contains(&OperatingStatus::NoMonitor) {
            return OperatingStatus::NoMonitor;
        }
        let up = in_rotation
            .iter()
            .filter(|status| **status == OperatingStatus::Online)
            .count();
        match up {
            0 => OperatingStatus::Error,
            up if up == in_rotation.len() => OperatingStatus::Online,
            _ => OperatingStatus::Degraded,
        }
    }

    /// A listener's operating status: its default group's.
    pub fn listener(&self, listener: &Listener, default_group: Option<&Group>) -> OperatingStatus {
        match default_group {
            _ if !listener.admin_state_up => OperatingStatus::Offline,
            None => OperatingStatus::Offline,
            Some(group) => self.group(group),
        }
    }

    /// A Load Balancer's operating status: the roll-up of its listeners'.
    pub fn load_balancer(
        &self,
        load_balancer: &LoadBalancer,
        listeners: impl IntoIterator<Item = OperatingStatus>,
    ) -> OperatingStatus {
        if !load_balancer.admin_state_up {
            return OperatingStatus::Offline;
        }
        roll_up(listeners)
    }
}

/// The status of a parent from its children's: ERROR when all failed,
/// DEGRADED when some did, NO_MONITOR when any is unmonitored, else ONLINE.
/// Children that are administratively down do not count.
pub fn roll_up(children: impl IntoIterator<Item = OperatingStatus>) -> OperatingStatus {
    let counted: Vec<OperatingStatus> = children
        .into_iter()
        .filter(|status| *status != OperatingStatus::Offline)
        .collect();
    let failed = counted
        .iter()
        .filter(|status| matches!(status, OperatingStatus::Error | OperatingStatus::Degraded))
        .count();
    if failed > 0 {
        let all_error = counted
            .iter()
            .all(|status| *status == OperatingStatus::Error);
        return if all_error {
            OperatingStatus::Error
        } else {
            OperatingStatus::Degraded
        };
    }
    if counted.contains(&OperatingStatus::NoMonitor) {
        OperatingStatus::NoMonitor
    } else {
        OperatingStatus::Online
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OperatingStatus::*;

    #[test]
    fn roll_up_ranks_failures_over_monitoring_gaps() {
        assert_eq!(roll_up([]), Online);
        assert_eq!(roll_up([Online, Online]), Online);
        assert_eq!(roll_up([Online, NoMonitor]), NoMonitor);
        assert_eq!(roll_up([Online, Error]), Degraded);
        assert_eq!(roll_up([Degraded]), Degraded);
        assert_eq!(roll_up([Error, Error]), Error);
        assert_eq!(roll_up([Error, Offline]), Error);
        assert_eq!(roll_up([Offline]), Online);
    }
}
