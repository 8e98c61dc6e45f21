//! `evolve`: applies one event to the catalog and settings. Total and pure.
//!
//! Events come only from `decide` on the same state, so an event that does
//! not fit the state (removing a resource that is not there) means replicas
//! have diverged: `evolve` panics rather than go on from a wrong state.

use super::catalog::Catalog;
use super::event::{Event, RecordedEvent};
use super::ids::GroupId;
use super::model::{Group, Settings};

fn group_mut<'a>(
    catalog: &'a mut Catalog,
    group_id: &GroupId,
    log_index: u64,
    recorded: &RecordedEvent,
) -> &'a mut Group {
    let group = catalog.groups.get_mut(group_id).unwrap_or_else(|| {
        panic!(
            "log index {log_index}, revision {}: event for missing group {group_id}",
            recorded.revision
        )
    });
    group.meta.updated_at_ms = recorded.at_ms;
    group.meta.revision = recorded.revision;
    group
}

macro_rules! remove_or_diverge {
    ($catalog:expr, $remove:ident, $id:expr, $log_index:expr, $recorded:expr) => {
        if $catalog.$remove($id).is_none() {
            panic!(
                "log index {}, revision {}: deleting {}, which does not exist",
                $log_index, $recorded.revision, $id
            );
        }
    };
}

/// Applies `recorded` to the catalog and settings.
pub(crate) fn evolve(
    catalog: &mut Catalog,
    settings: &mut Settings,
    log_index: u64,
    recorded: &RecordedEvent,
) {
    match &recorded.event {
        Event::NetworkCreated(network) => catalog.put_network(network.clone()),
        Event::NetworkDeleted { id } => {
            remove_or_diverge!(catalog, remove_network, id, log_index, recorded)
        }
        Event::SubnetCreated(subnet) => catalog.put_subnet(subnet.clone()),
        Event::SubnetDeleted { id, .. } => {
            remove_or_diverge!(catalog, remove_subnet, id, log_index, recorded)
        }
        Event::InstanceCreated(instance) => catalog.put_instance(instance.clone()),
        Event::InstanceDeleted { id, .. } => {
            remove_or_diverge!(catalog, remove_instance, id, log_index, recorded)
        }
        Event::EipAllocated(eip) => catalog.put_eip(eip.clone()),
        Event::EipReleased { id } => {
            remove_or_diverge!(catalog, remove_eip, id, log_index, recorded)
        }
        Event::LoadBalancerCreated(lb) | Event::LoadBalancerUpdated(lb) => {
            catalog.put_load_balancer(lb.clone());
        }
        Event::LoadBalancerDeleted { id } => {
            remove_or_diverge!(catalog, remove_load_balancer, id, log_index, recorded)
        }
        Event::EipAssociated { eip, load_balancer }
        | Event::EipDisassociated { eip, load_balancer } => {
            catalog.put_eip(eip.clone());
            catalog.put_load_balancer(load_balancer.clone());
        }
        Event::ListenerCreated(listener) | Event::ListenerUpdated(listener) => {
            catalog.put_listener(listener.clone());
        }
        Event::ListenerDeleted { id, .. } => {
            remove_or_diverge!(catalog, remove_listener, id, log_index, recorded)
        }
        Event::GroupCreated(group) | Event::GroupUpdated(group) => {
            catalog.put_group(group.clone());
        }
        Event::GroupDeleted { id, .. } => {
            remove_or_diverge!(catalog, remove_group, id, log_index, recorded)
        }
        Event::MemberAdded { group_id, member } => {
            group_mut(catalog, group_id, log_index, recorded)
                .members
                .push(member.clone());
            catalog.relations.add_member(group_id, &member.instance_id);
        }
        Event::MemberUpdated { group_id, member } => {
            let group = group_mut(catalog, group_id, log_index, recorded);
            let slot = group
                .members
                .iter_mut()
                .find(|existing| existing.id == member.id)
                .unwrap_or_else(|| {
                    panic!(
                        "log index {log_index}, revision {}: updating missing member {}",
                        recorded.revision, member.id
                    )
                });
            *slot = member.clone();
        }
        Event::MemberRemoved {
            group_id,
            member_id,
        } => {
            let group = group_mut(catalog, group_id, log_index, recorded);
            let position = group
                .members
                .iter()
                .position(|member| &member.id == member_id)
                .unwrap_or_else(|| {
                    panic!(
                        "log index {log_index}, revision {}: removing missing member {member_id}",
                        recorded.revision
                    )
                });
            let removed = group.members.remove(position);
            catalog
                .relations
                .remove_member(group_id, &removed.instance_id);
        }
        Event::CertificateUploaded(certificate) | Event::CertificateKeyResealed(certificate) => {
            catalog.put_certificate(certificate.clone())
        }
        Event::CertificateDeleted { id } => {
            remove_or_diverge!(catalog, remove_certificate, id, log_index, recorded)
        }
        Event::SettingsUpdated(new) => *settings = new.clone(),
        Event::AccessTokenIssued(token) => catalog.put_access_token(token.clone()),
        Event::AccessTokenRevoked(token) => {
            remove_or_diverge!(catalog, remove_access_token, &token.id, log_index, recorded)
        }
    }
}
