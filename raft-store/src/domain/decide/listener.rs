//! The rules for listeners: a port and a name unique within their Load
//! Balancer, fixed protocol and port, and valid group and certificate references.

use super::{Context, check_name_free_within, current, within_quota};
use crate::domain::catalog::Catalog;
use crate::domain::command::{
    CreateListener, DeleteTarget, UpdateListener, check_certificate_fits, check_forwarded_for_fits,
};
use crate::domain::event::Event;
use crate::domain::ids::{GroupId, ListenerId, LoadBalancerId};
use crate::domain::limits::quota;
use crate::domain::model::{ForwardingRule, Listener, RuleAction, Settings};
use crate::domain::rejection::Rejection;

fn check_listener_name_free(
    catalog: &Catalog,
    load_balancer_id: &LoadBalancerId,
    name: &str,
    except: Option<&ListenerId>,
) -> Result<(), Rejection> {
    let siblings = catalog
        .listeners_of(load_balancer_id)
        .map(|listener| (&listener.id, listener.meta.name.as_str()));
    check_name_free_within("listener", load_balancer_id, name, except, siblings)
}

/// Checks that `field`'s group `group_id` exists and belongs to the Load
/// Balancer.
fn check_group_reference(
    catalog: &Catalog,
    field: &str,
    load_balancer_id: &LoadBalancerId,
    group_id: Option<&GroupId>,
) -> Result<(), Rejection> {
    if let Some(group_id) = group_id {
        let group = catalog.group(field, group_id)?;
        if &group.load_balancer_id != load_balancer_id {
            return Err(Rejection::invalid(
                field,
                format!(
                    "group {group_id} belongs to load balancer {}, not {load_balancer_id}",
                    group.load_balancer_id
                ),
            ));
        }
    }
    Ok(())
}

pub(super) fn create_listener(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    create: &CreateListener,
) -> Result<Vec<Event>, Rejection> {
    let lb = catalog.load_balancer("load_balancer_id", &create.load_balancer_id)?;
    if let Some(other) = catalog
        .listeners_of(&lb.id)
        .find(|listener| listener.port == create.port)
    {
        return Err(Rejection::already_exists(
            "port",
            format!(
                "port {} is already used by {} listener {} on load balancer {}; a listening port is unique within a load balancer, whatever the protocol",
                create.port,
                other.protocol.name(),
                other.id,
                lb.id
            ),
        ));
    }
    check_listener_name_free(catalog, &lb.id, &create.meta.name, None)?;
    check_group_reference(
        catalog,
        "default_group_id",
        &lb.id,
        create.default_group_id.as_ref(),
    )?;
    if let Some(certificate_id) = &create.certificate_id {
        catalog.certificate("certificate_id", certificate_id)?;
    }
    within_quota(
        catalog.listeners_of(&lb.id).count(),
        context.quota(
            settings.quotas.listeners_per_load_balancer,
            &quota::LISTENERS_PER_LOAD_BALANCER,
        ),
        "listeners per load balancer",
    )?;
    Ok(vec![Event::ListenerCreated(Listener {
        id: ListenerId::derive(context.seed()?),
        meta: context.meta(&create.meta),
        load_balancer_id: lb.id.clone(),
        protocol: create.protocol,
        port: create.port,
        connection_limit: create.connection_limit,
        default_group_id: create.default_group_id.clone(),
        certificate_id: create.certificate_id.clone(),
        idle_timeout_s: create.idle_timeout_s,
        insert_x_forwarded_for: create.insert_x_forwarded_for,
        admin_state_up: create.admin_state_up,
        access_log: create.access_log,
        rules: Vec::new(),
    })])
}

pub(super) fn update_listener(
    catalog: &Catalog,
    context: &Context,
    update: &UpdateListener,
) -> Result<Vec<Event>, Rejection> {
    let listener = current(catalog.listener("id", &update.id), update.expected_revision)?;
    if let Some(protocol) = update.protocol
        && protocol != listener.protocol
    {
        return Err(Rejection::precondition(
            Some("protocol"),
            format!(
                "cannot change from {} to {}: a listener's protocol is fixed when it is created; create a new listener instead",
                listener.protocol.name(),
                protocol.name()
            ),
        ));
    }
    if let Some(port) = update.port
        && port != u32::from(listener.port)
    {
        return Err(Rejection::precondition(
            Some("port"),
            format!(
                "cannot change from {} to {port}: a listener's port is fixed when it is created; create a new listener instead",
                listener.port
            ),
        ));
    }
    if let Some(name) = &update.meta.name {
        check_listener_name_free(
            catalog,
            &listener.load_balancer_id,
            name,
            Some(&listener.id),
        )?;
    }
    let mut listener = listener.clone();
    if let Some(group_id) = &update.default_group_id {
        check_group_reference(
            catalog,
            "default_group_id",
            &listener.load_balancer_id,
            group_id.as_ref(),
        )?;
        listener.default_group_id.clone_from(group_id);
    }
    if let Some(certificate_id) = &update.certificate_id {
        check_certificate_fits(listener.protocol, certificate_id.as_ref())?;
        if let Some(certificate_id) = certificate_id {
            catalog.certificate("certificate_id", certificate_id)?;
        }
        listener.certificate_id.clone_from(certificate_id);
    }
    if let Some(insert) = update.insert_x_forwarded_for {
        check_forwarded_for_fits(listener.protocol, insert)?;
        listener.insert_x_forwarded_for = insert;
    }
    if let Some(limit) = update.connection_limit {
        listener.connection_limit = limit;
    }
    if let Some(seconds) = update.idle_timeout_s {
        listener.idle_timeout_s = seconds;
    }
    if let Some(admin_state_up) = update.admin_state_up {
        listener.admin_state_up = admin_state_up;
    }
    if let Some(access_log) = update.access_log {
        listener.access_log = access_log;
    }
    context.touch_updated(&mut listener.meta, &update.meta);
    Ok(vec![Event::ListenerUpdated(listener)])
}

/// Replaces the forwarding rules of an HTTP or HTTPS listener; each rule's
/// group must be one of the listener's Load Balancer.
pub(super) fn set_listener_rules(
    catalog: &Catalog,
    context: &Context,
    listener_id: &ListenerId,
    expected_revision: Option<u64>,
    rules: &[ForwardingRule],
) -> Result<Vec<Event>, Rejection> {
    let listener = current(catalog.listener("id", listener_id), expected_revision)?;
    if !listener.protocol.is_http() && !rules.is_empty() {
        return Err(Rejection::invalid(
            "rules",
            format!(
                "listener {} is {}: only HTTP and HTTPS listeners have forwarding rules",
                listener.id,
                listener.protocol.name()
            ),
        ));
    }
    for (n, rule) in rules.iter().enumerate() {
        if let RuleAction::Forward(group_id) = &rule.action {
            check_group_reference(
                catalog,
                &format!("rules[{n}].forward_group_id"),
                &listener.load_balancer_id,
                Some(group_id),
            )?;
        }
    }
    let mut listener = listener.clone();
    listener.rules = rules.to_vec();
    context.touch(&mut listener.meta);
    Ok(vec![Event::ListenerUpdated(listener)])
}

pub(super) fn delete_listener(
    catalog: &Catalog,
    target: &DeleteTarget<ListenerId>,
) -> Result<Vec<Event>, Rejection> {
    let listener = current(catalog.listener("id", &target.id), target.expected_revision)?;
    Ok(vec![Event::ListenerDeleted {
        id: listener.id.clone(),
        load_balancer_id: listener.load_balancer_id.clone(),
    }])
}
