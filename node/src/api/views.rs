//! The API's views of Load Balancers, listeners, groups and members, with
//! their statuses filled in, and the status tree.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::wire::{group_view, load_balancer_view};
use fulcrum_raft_store::domain::{Group, Listener, LoadBalancer, State};

use super::statuses::{DataPlaneReport, Statuses};

/// Renders views of one state, as one data-plane report tells statuses.
pub struct Views<'a> {
    state: &'a State,
    statuses: Statuses<'a>,
}

impl<'a> Views<'a> {
    /// Views of `state` with statuses from `report`.
    pub fn new(state: &'a State, report: &'a dyn DataPlaneReport) -> Self {
        Self {
            state,
            statuses: Statuses::new(report),
        }
    }

    fn default_group(&self, listener: &Listener) -> Option<&'a Group> {
        listener
            .default_group_id
            .as_ref()
            .and_then(|id| self.state.catalog().groups().get(id))
    }

    fn listener_status(&self, listener: &Listener) -> v1::OperatingStatus {
        self.statuses
            .listener(listener, self.default_group(listener))
    }

    fn load_balancer_status(&self, load_balancer: &LoadBalancer) -> v1::OperatingStatus {
        let listeners = self
            .state
            .catalog()
            .listeners_of(&load_balancer.id)
            .map(|listener| self.listener_status(listener));
        self.statuses.load_balancer(load_balancer, listeners)
    }

    /// A Load Balancer with its EIP address and statuses.
    pub fn load_balancer(&self, load_balancer: &LoadBalancer) -> v1::LoadBalancer {
        let mut view = load_balancer_view(self.state.catalog(), load_balancer);
        view.provisioning_status = self.statuses.provisioning(&load_balancer.meta) as i32;
        view.operating_status = self.load_balancer_status(load_balancer) as i32;
        view
    }

    /// A listener with its statuses.
    pub fn listener(&self, listener: &Listener) -> v1::Listener {
        let mut view = v1::Listener::from(listener);
        let (provisioning, error) = self.statuses.listener_provisioning(listener);
        view.provisioning_status = provisioning as i32;
        view.provisioning_error = error;
        view.operating_status = self.listener_status(listener) as i32;
        view
    }

    /// A group with its members, all with their statuses.
    pub fn group(&self, group: &Group) -> v1::VirtualServerGroup {
        let mut view = group_view(self.state.catalog(), group);
        let provisioning = self.statuses.provisioning(&group.meta) as i32;
        view.provisioning_status = provisioning;
        view.operating_status = self.statuses.group(group) as i32;
        for (member_view, member) in view.members.iter_mut().zip(&group.members) {
            member_view.provisioning_status = provisioning;
            member_view.operating_status = self.statuses.member(group, member) as i32;
        }
        view
    }

    /// The group `group` (a view) and its member `member_id`, if both exist.
    pub fn group_and_member(
        &self,
        group: &Group,
        member_id: &str,
    ) -> Option<(v1::VirtualServerGroup, v1::Member)> {
        let view = self.group(group);
        let member = view.members.iter().find(|m| m.id == member_id)?.clone();
        Some((view, member))
    }

    /// The whole status tree of a Load Balancer.
    pub fn status_tree(&self, load_balancer: &LoadBalancer) -> v1::LoadBalancerStatus {
        let catalog = self.state.catalog();
        let listeners = catalog
            .listeners_of(&load_balancer.id)
            .map(|listener| {
                let (provisioning, error) = self.statuses.listener_provisioning(listener);
                v1::ListenerStatus {
                    id: listener.id.to_string(),
                    name: listener.meta.name.clone(),
                    provisioning_status: provisioning as i32,
                    operating_status: self.listener_status(listener) as i32,
                    default_group_id: listener
                        .default_group_id
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    provisioning_error: error,
                    counters: self.statuses.report().listener_counters(&listener.id),
                }
            })
            .collect();
        let groups = catalog
            .groups_of(&load_balancer.id)
            .map(|group| {
                let view = self.group(group);
                v1::GroupStatus {
                    id: view.id,
                    name: view.name,
                    provisioning_status: view.provisioning_status,
                    operating_status: view.operating_status,
                    members: view
                        .members
                        .into_iter()
                        .zip(&group.members)
                        .map(|(member, domain)| v1::MemberStatus {
                            counters: self.statuses.report().member_counters(&domain.id),
                            id: member.id,
                            address: member.address,
                            port: member.port,
                            provisioning_status: member.provisioning_status,
                            operating_status: member.operating_status,
                        })
                        .collect(),
                }
            })
            .collect();
        v1::LoadBalancerStatus {
            id: load_balancer.id.to_string(),
            name: load_balancer.meta.name.clone(),
            provisioning_status: self.statuses.provisioning(&load_balancer.meta) as i32,
            operating_status: self.load_balancer_status(load_balancer) as i32,
            listeners,
            groups,
        }
    }
}
