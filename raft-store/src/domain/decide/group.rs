//! The rules for virtual server groups and their members: names unique within
//! the Load Balancer, members unique within the group and in its network, and
//! the members quota.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Context, check_name_free_within, current, diverged, listeners_using, within_member_quota,
    within_quota,
};
use crate::domain::catalog::Catalog;
use crate::domain::command::{CreateGroup, DeleteTarget, MemberSpec, UpdateGroup};
use crate::domain::event::Event;
use crate::domain::ids::{GroupId, InstanceId, LoadBalancerId, MemberId};
use crate::domain::limits::quota;
use crate::domain::model::{Group, LoadBalancer, Member, RuleAction, Settings};
use crate::domain::rejection::Rejection;

fn check_group_name_free(
    catalog: &Catalog,
    load_balancer_id: &LoadBalancerId,
    name: &str,
    except: Option<&GroupId>,
) -> Result<(), Rejection> {
    let siblings = catalog
        .groups_of(load_balancer_id)
        .map(|group| (&group.id, group.meta.name.as_str()));
    check_name_free_within("group", load_balancer_id, name, except, siblings)
}

/// Checks new members against the catalog, each other and the members that
/// stay. Linear: the members that stay are looked up by (instance, port).
fn check_members(
    catalog: &Catalog,
    context: &Context,
    group: &Group,
    new: &[MemberSpec],
    staying: &[Member],
    field: &str,
) -> Result<(), Rejection> {
    let Some(lb) = catalog.load_balancers.get(&group.load_balancer_id) else {
        diverged(
            context,
            format!(
                "group {} names load balancer {}, which does not exist",
                group.id, group.load_balancer_id
            ),
        )
    };
    check_member_specs(catalog, lb, new, field)?;
    let staying: BTreeMap<(&InstanceId, u16), &Member> = staying
        .iter()
        .map(|member| ((&member.instance_id, member.port), member))
        .collect();
    for (position, spec) in new.iter().enumerate() {
        if let Some(existing) = staying.get(&(&spec.instance_id, spec.port)) {
            return Err(Rejection::already_exists(
                &member_field(field, position, new.len()),
                format!(
                    "instance {} port {} is already member {} of group {}",
                    spec.instance_id, spec.port, existing.id, group.id
                ),
            ));
        }
    }
    Ok(())
}

fn member_field(field: &str, position: usize, count: usize) -> String {
    if field == "members" || count > 1 {
        format!("{field}[{position}]")
    } else {
        field.to_owned()
    }
}

/// Each member's instance exists in the Load Balancer's network, and
/// (instance, port) pairs are distinct (checked with a set: linear).
fn check_member_specs(
    catalog: &Catalog,
    lb: &LoadBalancer,
    specs: &[MemberSpec],
    field: &str,
) -> Result<(), Rejection> {
    let mut seen: BTreeSet<(&InstanceId, u16)> = BTreeSet::new();
    for (position, spec) in specs.iter().enumerate() {
        let entry = member_field(field, position, specs.len());
        let instance = catalog.instance(&format!("{entry}.instance_id"), &spec.instance_id)?;
        if catalog.network_of_instance(instance) != Some(&lb.network_id) {
            return Err(Rejection::invalid(
                &format!("{entry}.instance_id"),
                format!(
                    "instance {} is not in network {}, the network of load balancer {}",
                    instance.id, lb.network_id, lb.id
                ),
            ));
        }
        if !seen.insert((&spec.instance_id, spec.port)) {
            return Err(Rejection::already_exists(
                &entry,
                format!(
                    "instance {} port {} is listed twice; a member is unique within its group",
                    spec.instance_id, spec.port
                ),
            ));
        }
    }
    Ok(())
}

fn new_member(context: &mut Context, spec: &MemberSpec) -> Result<Member, Rejection> {
    Ok(Member {
        id: MemberId::derive(context.seed()?),
        instance_id: spec.instance_id.clone(),
        port: spec.port,
        weight: spec.weight,
        admin_state_up: spec.admin_state_up,
    })
}

fn find_member<'a>(group: &'a Group, member_id: &MemberId) -> Result<&'a Member, Rejection> {
    group
        .members
        .iter()
        .find(|member| &member.id == member_id)
        .ok_or_else(|| {
            Rejection::not_found(
                "member_id",
                MemberId::NOUN,
                format!("{member_id} in group {}", group.id),
            )
        })
}

pub(super) fn create_group(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    create: &CreateGroup,
) -> Result<Vec<Event>, Rejection> {
    let lb = catalog.load_balancer("load_balancer_id", &create.load_balancer_id)?;
    check_group_name_free(catalog, &lb.id, &create.meta.name, None)?;
    check_member_specs(catalog, lb, &create.members, "members")?;
    within_quota(
        catalog.groups_of(&lb.id).count(),
        context.quota(
            settings.quotas.groups_per_load_balancer,
            &quota::GROUPS_PER_LOAD_BALANCER,
        ),
        "groups per load balancer",
    )?;
    within_member_quota(context, settings, create.members.len())?;
    let id = GroupId::derive(context.seed()?);
    let members = create
        .members
        .iter()
        .map(|spec| new_member(context, spec))
        .collect::<Result<_, _>>()?;
    Ok(vec![Event::GroupCreated(Group {
        id,
        meta: context.meta(&create.meta),
        load_balancer_id: lb.id.clone(),
        algorithm: create.algorithm,
        health_check: create.health_check.clone(),
        members,
        persistence: create.persistence.clone(),
        proxy_protocol: create.proxy_protocol,
        passive_health: create.passive_health,
    })])
}

pub(super) fn update_group(
    catalog: &Catalog,
    context: &Context,
    update: &UpdateGroup,
) -> Result<Vec<Event>, Rejection> {
    let group = current(catalog.group("id", &update.id), update.expected_revision)?;
    if let Some(name) = &update.meta.name {
        check_group_name_free(catalog, &group.load_balancer_id, name, Some(&group.id))?;
    }
    let mut group = group.clone();
    context.touch_updated(&mut group.meta, &update.meta);
    if let Some(algorithm) = update.algorithm {
        group.algorithm = algorithm;
    }
    if let Some(health_check) = &update.health_check {
        group.health_check.clone_from(health_check);
    }
    if let Some(persistence) = &update.persistence {
        group.persistence.clone_from(persistence);
    }
    if let Some(proxy_protocol) = update.proxy_protocol {
        group.proxy_protocol = proxy_protocol;
    }
    if let Some(passive_health) = update.passive_health {
        group.passive_health = passive_health;
    }
    Ok(vec![Event::GroupUpdated(group)])
}

pub(super) fn delete_group(
    catalog: &Catalog,
    context: &Context,
    target: &DeleteTarget<GroupId>,
) -> Result<Vec<Event>, Rejection> {
    let group = current(catalog.group("id", &target.id), target.expected_revision)?;
    let users = listeners_using(
        catalog.listeners_using_group(&group.id),
        target.cascade,
        |users| {
            format!(
                "group {} is used by listeners [{users}] (as their default group or a rule's); detach it first or ask for cascade",
                group.id
            )
        },
    )?;
    let mut events: Vec<Event> = users
        .into_iter()
        .map(|listener| {
            let mut listener = listener.clone();
            if listener.default_group_id.as_ref() == Some(&group.id) {
                listener.default_group_id = None;
            }
            listener
                .rules
                .retain(|rule| !matches!(&rule.action, RuleAction::Forward(to) if *to == group.id));
            context.touch(&mut listener.meta);
            Event::ListenerUpdated(listener)
        })
        .collect();
    events.push(Event::GroupDeleted {
        id: group.id.clone(),
        load_balancer_id: group.load_balancer_id.clone(),
    });
    Ok(events)
}

pub(super) fn add_member(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    group_id: &GroupId,
    expected_revision: Option<u64>,
    member: &MemberSpec,
) -> Result<Vec<Event>, Rejection> {
    let group = current(catalog.group("group_id", group_id), expected_revision)?;
    check_members(
        catalog,
        context,
        group,
        std::slice::from_ref(member),
        &group.members,
        "member",
    )?;
    within_quota(
        group.members.len(),
        context.quota(settings.quotas.members_per_group, &quota::MEMBERS_PER_GROUP),
        "members per group",
    )?;
    Ok(vec![Event::MemberAdded {
        group_id: group_id.clone(),
        member: new_member(context, member)?,
    }])
}

pub(super) fn update_member(
    catalog: &Catalog,
    group_id: &GroupId,
    member_id: &MemberId,
    expected_revision: Option<u64>,
    weight: Option<u8>,
    admin_state_up: Option<bool>,
) -> Result<Vec<Event>, Rejection> {
    let group = current(catalog.group("group_id", group_id), expected_revision)?;
    let mut member = find_member(group, member_id)?.clone();
    if let Some(weight) = weight {
        member.weight = weight;
    }
    if let Some(admin_state_up) = admin_state_up {
        member.admin_state_up = admin_state_up;
    }
    Ok(vec![Event::MemberUpdated {
        group_id: group_id.clone(),
        member,
    }])
}

pub(super) fn remove_member(
    catalog: &Catalog,
    group_id: &GroupId,
    member_id: &MemberId,
    expected_revision: Option<u64>,
) -> Result<Vec<Event>, Rejection> {
    let group = current(catalog.group("group_id", group_id), expected_revision)?;
    find_member(group, member_id)?;
    Ok(vec![Event::MemberRemoved {
        group_id: group_id.clone(),
        member_id: member_id.clone(),
    }])
}

/// Members whose (instance, port) stays keep their id; the rest are removed or added.
pub(super) fn replace_members(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    group_id: &GroupId,
    expected_revision: Option<u64>,
    specs: &[MemberSpec],
) -> Result<Vec<Event>, Rejection> {
    let group = current(catalog.group("group_id", group_id), expected_revision)?;
    check_members(catalog, context, group, specs, &[], "members")?;
    within_member_quota(context, settings, specs.len())?;
    let existing: BTreeMap<(&InstanceId, u16), &Member> = group
        .members
        .iter()
        .map(|member| ((&member.instance_id, member.port), member))
        .collect();
    let wanted: BTreeSet<(&InstanceId, u16)> = specs
        .iter()
        .map(|spec| (&spec.instance_id, spec.port))
        .collect();
    let mut events: Vec<Event> = group
        .members
        .iter()
        .filter(|member| !wanted.contains(&(&member.instance_id, member.port)))
        .map(|member| Event::MemberRemoved {
            group_id: group.id.clone(),
            member_id: member.id.clone(),
        })
        .collect();
    for spec in specs {
        match existing.get(&(&spec.instance_id, spec.port)) {
            Some(member)
                if member.weight == spec.weight && member.admin_state_up == spec.admin_state_up => {
            }
            Some(member) => events.push(Event::MemberUpdated {
                group_id: group.id.clone(),
                member: Member {
                    weight: spec.weight,
                    admin_state_up: spec.admin_state_up,
                    ..(*member).clone()
                },
            }),
            None => events.push(Event::MemberAdded {
                group_id: group.id.clone(),
                member: new_member(context, spec)?,
            }),
        }
    }
    if events.is_empty() {
        // Nothing changes, but the command is accepted: touch the group so the
        // revision the client gets back names a real change of the group.
        let mut group = group.clone();
        context.touch(&mut group.meta);
        events.push(Event::GroupUpdated(group));
    }
    Ok(events)
}
