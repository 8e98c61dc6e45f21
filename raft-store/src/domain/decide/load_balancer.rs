//! The rules for Load Balancers: unique names, fixed placement, delete
//! protection, and the cascade that deletes what a Load Balancer holds.

use super::eip::disassociate;
use super::{Context, current, within_quota};
use crate::domain::catalog::Catalog;
use crate::domain::command::{CreateLoadBalancer, DeleteTarget, UpdateLoadBalancer};
use crate::domain::event::Event;
use crate::domain::ids::LoadBalancerId;
use crate::domain::limits::quota;
use crate::domain::model::{Group, Listener, LoadBalancer, Settings};
use crate::domain::rejection::Rejection;

fn check_lb_name_free(
    catalog: &Catalog,
    name: &str,
    except: Option<&LoadBalancerId>,
) -> Result<(), Rejection> {
    match catalog.load_balancer_named(name) {
        Some(other) if Some(&other.id) != except => Err(Rejection::already_exists(
            "name",
            format!(
                "load balancer {} is already named {name:?}; load balancer names are unique in the cluster",
                other.id
            ),
        )),
        _ => Ok(()),
    }
}

pub(super) fn create_load_balancer(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    create: &CreateLoadBalancer,
) -> Result<Vec<Event>, Rejection> {
    catalog.network("network_id", &create.network_id)?;
    let subnet = catalog.subnet("subnet_id", &create.subnet_id)?;
    if subnet.network_id != create.network_id {
        return Err(Rejection::invalid(
            "subnet_id",
            format!(
                "subnet {} belongs to network {}, not {}",
                subnet.id, subnet.network_id, create.network_id
            ),
        ));
    }
    check_lb_name_free(catalog, &create.meta.name, None)?;
    within_quota(
        catalog.load_balancers.len(),
        context.quota(settings.quotas.load_balancers, &quota::LOAD_BALANCERS),
        "load balancers",
    )?;
    Ok(vec![Event::LoadBalancerCreated(LoadBalancer {
        id: LoadBalancerId::derive(context.seed()?),
        meta: context.meta(&create.meta),
        network_id: create.network_id.clone(),
        subnet_id: create.subnet_id.clone(),
        eip_id: None,
        admin_state_up: create.admin_state_up,
        delete_protection: create.delete_protection,
    })])
}

fn check_immutable(
    field: &str,
    noun: &str,
    given: Option<&str>,
    current: &str,
) -> Result<(), Rejection> {
    match given {
        Some(given) if given != current => Err(Rejection::precondition(
            Some(field),
            format!(
                "cannot change from {current} to {given}: a {noun}'s {field} is fixed when it is created"
            ),
        )),
        _ => Ok(()),
    }
}

pub(super) fn update_load_balancer(
    catalog: &Catalog,
    context: &Context,
    update: &UpdateLoadBalancer,
) -> Result<Vec<Event>, Rejection> {
    let lb = current(
        catalog.load_balancer("id", &update.id),
        update.expected_revision,
    )?;
    check_immutable(
        "network_id",
        LoadBalancerId::NOUN,
        update.network_id.as_deref(),
        lb.network_id.as_str(),
    )?;
    check_immutable(
        "subnet_id",
        LoadBalancerId::NOUN,
        update.subnet_id.as_deref(),
        lb.subnet_id.as_str(),
    )?;
    if let Some(name) = &update.meta.name {
        check_lb_name_free(catalog, name, Some(&lb.id))?;
    }
    let mut lb = lb.clone();
    context.touch_updated(&mut lb.meta, &update.meta);
    if let Some(admin_state_up) = update.admin_state_up {
        lb.admin_state_up = admin_state_up;
    }
    if let Some(delete_protection) = update.delete_protection {
        lb.delete_protection = delete_protection;
    }
    Ok(vec![Event::LoadBalancerUpdated(lb)])
}

pub(super) fn delete_load_balancer(
    catalog: &Catalog,
    context: &Context,
    target: &DeleteTarget<LoadBalancerId>,
) -> Result<Vec<Event>, Rejection> {
    let lb = current(
        catalog.load_balancer("id", &target.id),
        target.expected_revision,
    )?;
    if lb.delete_protection {
        return Err(Rejection::precondition(
            Some("id"),
            format!(
                "load balancer {} has delete protection; turn it off first (cascade does not override it)",
                lb.id
            ),
        ));
    }
    let listeners: Vec<&Listener> = catalog.listeners_of(&lb.id).collect();
    let groups: Vec<&Group> = catalog.groups_of(&lb.id).collect();
    if !target.cascade && (!listeners.is_empty() || !groups.is_empty() || lb.eip_id.is_some()) {
        return Err(Rejection::precondition(
            Some("id"),
            format!(
                "load balancer {} still has {} listeners, {} groups and {} EIP; delete them first or ask for cascade",
                lb.id,
                listeners.len(),
                groups.len(),
                if lb.eip_id.is_some() { "an" } else { "no" },
            ),
        ));
    }
    let mut events: Vec<Event> = listeners
        .iter()
        .map(|listener| Event::ListenerDeleted {
            id: listener.id.clone(),
            load_balancer_id: lb.id.clone(),
        })
        .collect();
    events.extend(groups.iter().map(|group| Event::GroupDeleted {
        id: group.id.clone(),
        load_balancer_id: lb.id.clone(),
    }));
    if lb.eip_id.is_some() {
        events.push(disassociate(catalog, context, lb)?);
    }
    events.push(Event::LoadBalancerDeleted { id: lb.id.clone() });
    Ok(events)
}
