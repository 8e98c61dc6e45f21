//! The rules for networks, their subnets and the instances in them.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::{Context, current, list_ids};
use crate::domain::catalog::Catalog;
use crate::domain::command::{DeleteTarget, NewMeta, overlaps};
use crate::domain::event::Event;
use crate::domain::ids::{InstanceId, NetworkId, SubnetId};
use crate::domain::limits::quota;
use crate::domain::model::{Instance, Network, Settings, Subnet};
use crate::domain::rejection::Rejection;

pub(super) fn create_network(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    meta: &NewMeta,
    cidr: &Ipv4Net,
) -> Result<Vec<Event>, Rejection> {
    context.within_new_quota(
        catalog.networks.len(),
        settings.quotas.networks,
        &quota::NETWORKS,
    )?;
    Ok(vec![Event::NetworkCreated(Network {
        id: NetworkId::derive(context.seed()?),
        meta: context.meta(meta),
        cidr: *cidr,
    })])
}

pub(super) fn delete_network(
    catalog: &Catalog,
    target: &DeleteTarget<NetworkId>,
) -> Result<Vec<Event>, Rejection> {
    let network = current(catalog.network("id", &target.id), target.expected_revision)?;
    let subnets: Vec<&str> = catalog
        .subnets_of(&network.id)
        .map(|subnet| subnet.id.as_str())
        .collect();
    if !subnets.is_empty() {
        return Err(Rejection::precondition(
            Some("id"),
            format!(
                "network {} still has subnets ({}); delete them first",
                network.id,
                subnets.join(", ")
            ),
        ));
    }
    Ok(vec![Event::NetworkDeleted {
        id: network.id.clone(),
    }])
}

pub(super) fn create_subnet(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    meta: &NewMeta,
    network_id: &NetworkId,
    cidr: &Ipv4Net,
) -> Result<Vec<Event>, Rejection> {
    let network = catalog.network("network_id", network_id)?;
    if !network.cidr.contains(cidr) {
        return Err(Rejection::invalid(
            "cidr",
            format!(
                "{cidr} is not inside network {network_id}'s range {}",
                network.cidr
            ),
        ));
    }
    if let Some(sibling) = catalog
        .subnets_of(network_id)
        .find(|subnet| overlaps(&subnet.cidr, cidr))
    {
        return Err(Rejection::already_exists(
            "cidr",
            format!(
                "{cidr} overlaps subnet {} ({}); subnets of a network may not overlap",
                sibling.id, sibling.cidr
            ),
        ));
    }
    context.within_new_quota(
        catalog.subnets.len(),
        settings.quotas.subnets,
        &quota::SUBNETS,
    )?;
    Ok(vec![Event::SubnetCreated(Subnet {
        id: SubnetId::derive(context.seed()?),
        meta: context.meta(meta),
        network_id: network_id.clone(),
        cidr: *cidr,
    })])
}

pub(super) fn delete_subnet(
    catalog: &Catalog,
    target: &DeleteTarget<SubnetId>,
) -> Result<Vec<Event>, Rejection> {
    let subnet = current(catalog.subnet("id", &target.id), target.expected_revision)?;
    let mut instances: Vec<&str> = catalog
        .instances_of(&subnet.id)
        .map(|instance| instance.id.as_str())
        .collect();
    instances.sort_unstable();
    let instances = list_ids(instances.into_iter());
    let load_balancers = list_ids(
        catalog
            .load_balancers_in(&subnet.id)
            .map(|lb| lb.id.as_str()),
    );
    if !instances.is_empty() || !load_balancers.is_empty() {
        return Err(Rejection::precondition(
            Some("id"),
            format!(
                "subnet {} is still used (instances: [{instances}], load balancers: [{load_balancers}]); delete them first",
                subnet.id
            ),
        ));
    }
    Ok(vec![Event::SubnetDeleted {
        id: subnet.id.clone(),
        network_id: subnet.network_id.clone(),
    }])
}

pub(super) fn create_instance(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    meta: &NewMeta,
    subnet_id: &SubnetId,
    address: &Ipv4Addr,
) -> Result<Vec<Event>, Rejection> {
    let subnet = catalog.subnet("subnet_id", subnet_id)?;
    if !subnet.cidr.contains(address) {
        return Err(Rejection::invalid(
            "address",
            format!(
                "{address} is not inside subnet {subnet_id}'s range {}",
                subnet.cidr
            ),
        ));
    }
    if let Some(other) = catalog.instance_at(subnet_id, address) {
        return Err(Rejection::already_exists(
            "address",
            format!(
                "{address} is already instance {}'s address in subnet {subnet_id}",
                other.id
            ),
        ));
    }
    context.within_new_quota(
        catalog.instances.len(),
        settings.quotas.instances,
        &quota::INSTANCES,
    )?;
    Ok(vec![Event::InstanceCreated(Instance {
        id: InstanceId::derive(context.seed()?),
        meta: context.meta(meta),
        subnet_id: subnet_id.clone(),
        address: *address,
    })])
}

pub(super) fn delete_instance(
    catalog: &Catalog,
    target: &DeleteTarget<InstanceId>,
) -> Result<Vec<Event>, Rejection> {
    let instance = current(catalog.instance("id", &target.id), target.expected_revision)?;
    let groups = list_ids(
        catalog
            .groups_with_member(&instance.id)
            .map(|group| group.id.as_str()),
    );
    if !groups.is_empty() {
        return Err(Rejection::precondition(
            Some("id"),
            format!(
                "instance {} is a member of groups [{groups}]; remove it from them first",
                instance.id
            ),
        ));
    }
    Ok(vec![Event::InstanceDeleted {
        id: instance.id.clone(),
        subnet_id: instance.subnet_id.clone(),
    }])
}
