//! Events: what an accepted command changed, the only input of `evolve`.
//!
//! Events that create or change a resource carry the resource as it is after
//! the change, already stamped with the command's revision and time, so that
//! `evolve` only stores them and the history shows full resources.
//!
//! Snapshots and history records encode events with postcard, by variant
//! index: a new variant goes at the end, so that older bytes still read.

use serde::{Deserialize, Serialize};

use super::ids::{
    CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId, MemberId, NetworkId,
    SubnetId,
};
use super::model::{
    AccessToken, Certificate, Eip, Group, Instance, Listener, LoadBalancer, Member, Network,
    Revision, Settings, Subnet,
};

/// One change to the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Event {
    NetworkCreated(Network),
    NetworkDeleted {
        id: NetworkId,
    },
    SubnetCreated(Subnet),
    SubnetDeleted {
        id: SubnetId,
        network_id: NetworkId,
    },
    InstanceCreated(Instance),
    InstanceDeleted {
        id: InstanceId,
        subnet_id: SubnetId,
    },
    EipAllocated(Eip),
    EipReleased {
        id: EipId,
    },
    LoadBalancerCreated(LoadBalancer),
    LoadBalancerUpdated(LoadBalancer),
    LoadBalancerDeleted {
        id: LoadBalancerId,
    },
    EipAssociated {
        eip: Eip,
        load_balancer: LoadBalancer,
    },
    EipDisassociated {
        eip: Eip,
        load_balancer: LoadBalancer,
    },
    ListenerCreated(Listener),
    ListenerUpdated(Listener),
    ListenerDeleted {
        id: ListenerId,
        load_balancer_id: LoadBalancerId,
    },
    GroupCreated(Group),
    GroupUpdated(Group),
    GroupDeleted {
        id: GroupId,
        load_balancer_id: LoadBalancerId,
    },
    MemberAdded {
        group_id: GroupId,
        member: Member,
    },
    MemberUpdated {
        group_id: GroupId,
        member: Member,
    },
    MemberRemoved {
        group_id: GroupId,
        member_id: MemberId,
    },
    CertificateUploaded(Certificate),
    CertificateDeleted {
        id: CertificateId,
    },
    SettingsUpdated(Settings),
    AccessTokenIssued(AccessToken),
    /// Carries the token as it was, for the audit trail.
    AccessTokenRevoked(AccessToken),
    /// The certificate with its key sealed anew (with the current data key).
    CertificateKeyResealed(Certificate),
}

impl Event {
    /// The id of the resource the event is about (empty for settings).
    pub fn resource_id(&self) -> &str {
        match self {
            Event::NetworkCreated(network) => network.id.as_str(),
            Event::NetworkDeleted { id } => id.as_str(),
            Event::SubnetCreated(subnet) => subnet.id.as_str(),
            Event::SubnetDeleted { id, .. } => id.as_str(),
            Event::InstanceCreated(instance) => instance.id.as_str(),
            Event::InstanceDeleted { id, .. } => id.as_str(),
            Event::EipAllocated(eip) => eip.id.as_str(),
            Event::EipReleased { id } => id.as_str(),
            Event::LoadBalancerCreated(lb) | Event::LoadBalancerUpdated(lb) => lb.id.as_str(),
            Event::LoadBalancerDeleted { id } => id.as_str(),
            Event::EipAssociated { eip, .. } | Event::EipDisassociated { eip, .. } => {
                eip.id.as_str()
            }
            Event::ListenerCreated(listener) | Event::ListenerUpdated(listener) => {
                listener.id.as_str()
            }
            Event::ListenerDeleted { id, .. } => id.as_str(),
            Event::GroupCreated(group) | Event::GroupUpdated(group) => group.id.as_str(),
            Event::GroupDeleted { id, .. } => id.as_str(),
            Event::MemberAdded { member, .. } | Event::MemberUpdated { member, .. } => {
                member.id.as_str()
            }
            Event::MemberRemoved { member_id, .. } => member_id.as_str(),
            Event::CertificateUploaded(certificate)
            | Event::CertificateKeyResealed(certificate) => certificate.id.as_str(),
            Event::CertificateDeleted { id } => id.as_str(),
            Event::SettingsUpdated(_) => "",
            Event::AccessTokenIssued(token) | Event::AccessTokenRevoked(token) => token.id.as_str(),
        }
    }

    /// The id of the owning resource: the Load Balancer of a listener, group or
    /// EIP association, the network of a subnet, the subnet of an instance, the
    /// group of a member; empty otherwise.
    pub fn parent_id(&self) -> &str {
        match self {
            Event::SubnetCreated(subnet) => subnet.network_id.as_str(),
            Event::SubnetDeleted { network_id, .. } => network_id.as_str(),
            Event::InstanceCreated(instance) => instance.subnet_id.as_str(),
            Event::InstanceDeleted { subnet_id, .. } => subnet_id.as_str(),
            Event::EipAssociated { load_balancer, .. }
            | Event::EipDisassociated { load_balancer, .. } => load_balancer.id.as_str(),
            Event::ListenerCreated(listener) | Event::ListenerUpdated(listener) => {
                listener.load_balancer_id.as_str()
            }
            Event::ListenerDeleted {
                load_balancer_id, ..
            }
            | Event::GroupDeleted {
                load_balancer_id, ..
            } => load_balancer_id.as_str(),
            Event::GroupCreated(group) | Event::GroupUpdated(group) => {
                group.load_balancer_id.as_str()
            }
            Event::MemberAdded { group_id, .. }
            | Event::MemberUpdated { group_id, .. }
            | Event::MemberRemoved { group_id, .. } => group_id.as_str(),
            _ => "",
        }
    }
}

/// An event as the history keeps it: with the revision, time and sender of
/// its command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// The revision of the command; one command's events share it.
    pub revision: Revision,
    /// The leader-stamped time of the command.
    pub at_ms: i64,
    /// What changed.
    pub event: Event,
    /// Who sent the command: its log entry's principal. Empty for entries of
    /// log formats 1 and 2, and when the cluster does not authenticate.
    pub principal: String,
}
