//! `decide`: the rules that relate a command to the state. Pure: it reads the
//! catalog and settings, and answers with the events to apply or a rejection.
//!
//! Checks run in a fixed order so that the answer is predictable: the resource
//! exists (NOT_FOUND), is at the expected revision (ABORTED), the change is
//! allowed (FAILED_PRECONDITION), names, ports and members are unique
//! (ALREADY_EXISTS), references are valid, quotas are respected (RESOURCE_EXHAUSTED).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use super::catalog::Catalog;
use super::command::{
    Command, CreateGroup, CreateListener, CreateLoadBalancer, DeleteTarget, MemberSpec, MetaUpdate,
    NewMeta, UpdateGroup, UpdateListener, UpdateLoadBalancer, UpdateSettings,
    check_certificate_fits, check_forwarded_for_fits, overlaps,
};
use super::event::Event;
use super::ids::{
    CertificateId, EipId, GroupId, IdSeed, InstanceId, ListenerId, LoadBalancerId, MemberId,
    NetworkId, SubnetId,
};
use super::model::{
    Certificate, Eip, Group, Instance, Listener, LoadBalancer, Member, Meta, Network, Revision,
    Settings, Subnet,
};
use super::rejection::Rejection;

/// What `decide` knows of the command's place in the log.
#[derive(Debug)]
pub(crate) struct Context {
    /// The revision the command gets if accepted.
    pub(crate) revision: Revision,
    /// The command's leader-stamped time (never earlier than any before it).
    pub(crate) now_ms: i64,
    /// The command's log index, the seed of new ids.
    pub(crate) log_index: u64,
    next_ordinal: u16,
}

impl Context {
    pub(crate) fn new(revision: Revision, now_ms: i64, log_index: u64) -> Self {
        Self {
            revision,
            now_ms,
            log_index,
            next_ordinal: 0,
        }
    }

    fn seed(&mut self) -> IdSeed {
        let ordinal = self.next_ordinal;
        // A command creates at most 1 + members_per_group resources, far below 2^16.
        self.next_ordinal = self.next_ordinal.checked_add(1).unwrap_or_else(|| {
            panic!(
                "command at log index {} creates over 65535 resources",
                self.log_index
            )
        });
        IdSeed {
            log_index: self.log_index,
            ordinal,
        }
    }

    fn meta(&self, new: &NewMeta) -> Meta {
        Meta {
            name: new.name.clone(),
            description: new.description.clone(),
            tags: new.tags.clone(),
            created_at_ms: self.now_ms,
            updated_at_ms: self.now_ms,
            revision: self.revision,
        }
    }

    fn touch(&self, meta: &mut Meta) {
        meta.updated_at_ms = self.now_ms;
        meta.revision = self.revision;
    }

    fn touch_updated(&self, meta: &mut Meta, update: &MetaUpdate) {
        if let Some(name) = &update.name {
            meta.name.clone_from(name);
        }
        if let Some(description) = &update.description {
            meta.description.clone_from(description);
        }
        if let Some(tags) = &update.tags {
            meta.tags.clone_from(tags);
        }
        self.touch(meta);
    }
}

fn check_revision(
    noun: &str,
    id: &dyn std::fmt::Display,
    expected: Option<u64>,
    actual: Revision,
) -> Result<(), Rejection> {
    match expected {
        Some(expected) if expected != actual => Err(Rejection::aborted(noun, id, expected, actual)),
        _ => Ok(()),
    }
}

fn within_quota(count: usize, quota: u32, what: &str) -> Result<(), Rejection> {
    if count >= quota as usize {
        return Err(Rejection::exhausted(format!(
            "the quota of {quota} {what} is reached; delete some or raise the quota"
        )));
    }
    Ok(())
}

fn list_ids<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let ids: Vec<&str> = ids.collect();
    ids.join(", ")
}

/// Decides what `command` changes, or why it cannot.
pub(crate) fn decide(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    command: &Command,
) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::CreateNetwork { meta, cidr } => Ok(vec![Event::NetworkCreated(Network {
            id: NetworkId::derive(context.seed()),
            meta: context.meta(meta),
            cidr: *cidr,
        })]),
        Command::DeleteNetwork(target) => delete_network(catalog, target),
        Command::CreateSubnet {
            meta,
            network_id,
            cidr,
        } => {
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
                .subnets
                .values()
                .find(|subnet| &subnet.network_id == network_id && overlaps(&subnet.cidr, cidr))
            {
                return Err(Rejection::already_exists(
                    "cidr",
                    format!(
                        "{cidr} overlaps subnet {} ({}); subnets of a network may not overlap",
                        sibling.id, sibling.cidr
                    ),
                ));
            }
            Ok(vec![Event::SubnetCreated(Subnet {
                id: SubnetId::derive(context.seed()),
                meta: context.meta(meta),
                network_id: network_id.clone(),
                cidr: *cidr,
            })])
        }
        Command::DeleteSubnet(target) => delete_subnet(catalog, target),
        Command::CreateInstance {
            meta,
            subnet_id,
            address,
        } => {
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
            if let Some(other) = catalog
                .instances
                .values()
                .find(|instance| &instance.subnet_id == subnet_id && &instance.address == address)
            {
                return Err(Rejection::already_exists(
                    "address",
                    format!(
                        "{address} is already instance {}'s address in subnet {subnet_id}",
                        other.id
                    ),
                ));
            }
            Ok(vec![Event::InstanceCreated(Instance {
                id: InstanceId::derive(context.seed()),
                meta: context.meta(meta),
                subnet_id: subnet_id.clone(),
                address: *address,
            })])
        }
        Command::DeleteInstance(target) => delete_instance(catalog, target),
        Command::AllocateEip { meta, address } => {
            allocate_eip(catalog, settings, context, meta, *address)
        }
        Command::ReleaseEip(target) => {
            let eip = catalog.eip("id", &target.id)?;
            check_revision(
                EipId::NOUN,
                &eip.id,
                target.expected_revision,
                eip.meta.revision,
            )?;
            if let Some(lb) = &eip.load_balancer_id {
                return Err(Rejection::precondition(
                    Some("id"),
                    format!(
                        "EIP {} is associated with load balancer {lb}; disassociate it first",
                        eip.id
                    ),
                ));
            }
            Ok(vec![Event::EipReleased { id: eip.id.clone() }])
        }
        Command::CreateLoadBalancer(create) => {
            create_load_balancer(catalog, settings, context, create)
        }
        Command::UpdateLoadBalancer(update) => update_load_balancer(catalog, context, update),
        Command::DeleteLoadBalancer(target) => delete_load_balancer(catalog, context, target),
        Command::AssociateEip {
            load_balancer_id,
            eip_id,
        } => {
            let lb = catalog.load_balancer("load_balancer_id", load_balancer_id)?;
            let eip = catalog.eip("eip_id", eip_id)?;
            if let Some(current) = &lb.eip_id {
                return Err(Rejection::precondition(
                    Some("load_balancer_id"),
                    format!(
                        "load balancer {load_balancer_id} already has EIP {current}; a load balancer has at most one EIP"
                    ),
                ));
            }
            if let Some(owner) = &eip.load_balancer_id {
                return Err(Rejection::precondition(
                    Some("eip_id"),
                    format!(
                        "EIP {eip_id} ({}) is already bound to load balancer {owner}",
                        eip.address
                    ),
                ));
            }
            let (mut lb, mut eip) = (lb.clone(), eip.clone());
            lb.eip_id = Some(eip.id.clone());
            eip.load_balancer_id = Some(lb.id.clone());
            context.touch(&mut lb.meta);
            context.touch(&mut eip.meta);
            Ok(vec![Event::EipAssociated {
                eip,
                load_balancer: lb,
            }])
        }
        Command::DisassociateEip { load_balancer_id } => {
            let lb = catalog.load_balancer("load_balancer_id", load_balancer_id)?;
            Ok(vec![disassociate(catalog, context, lb)?])
        }
        Command::CreateListener(create) => create_listener(catalog, settings, context, create),
        Command::UpdateListener(update) => update_listener(catalog, context, update),
        Command::DeleteListener(target) => {
            let listener = catalog.listener("id", &target.id)?;
            check_revision(
                ListenerId::NOUN,
                &listener.id,
                target.expected_revision,
                listener.meta.revision,
            )?;
            Ok(vec![Event::ListenerDeleted {
                id: listener.id.clone(),
                load_balancer_id: listener.load_balancer_id.clone(),
            }])
        }
        Command::CreateGroup(create) => create_group(catalog, settings, context, create),
        Command::UpdateGroup(update) => update_group(catalog, context, update),
        Command::DeleteGroup(target) => delete_group(catalog, context, target),
        Command::AddMember {
            group_id,
            expected_revision,
            member,
        } => {
            let group = catalog.group("group_id", group_id)?;
            check_revision(
                GroupId::NOUN,
                group_id,
                *expected_revision,
                group.meta.revision,
            )?;
            check_members(
                catalog,
                group,
                std::slice::from_ref(member),
                &group.members,
                "member",
            )?;
            within_quota(
                group.members.len(),
                settings.quotas.members_per_group,
                "members per group",
            )?;
            Ok(vec![Event::MemberAdded {
                group_id: group_id.clone(),
                member: new_member(context, member),
            }])
        }
        Command::UpdateMember {
            group_id,
            member_id,
            expected_revision,
            weight,
            admin_state_up,
        } => {
            let group = catalog.group("group_id", group_id)?;
            check_revision(
                GroupId::NOUN,
                group_id,
                *expected_revision,
                group.meta.revision,
            )?;
            let mut member = find_member(group, member_id)?.clone();
            if let Some(weight) = weight {
                member.weight = *weight;
            }
            if let Some(admin_state_up) = admin_state_up {
                member.admin_state_up = *admin_state_up;
            }
            Ok(vec![Event::MemberUpdated {
                group_id: group_id.clone(),
                member,
            }])
        }
        Command::RemoveMember {
            group_id,
            member_id,
            expected_revision,
        } => {
            let group = catalog.group("group_id", group_id)?;
            check_revision(
                GroupId::NOUN,
                group_id,
                *expected_revision,
                group.meta.revision,
            )?;
            find_member(group, member_id)?;
            Ok(vec![Event::MemberRemoved {
                group_id: group_id.clone(),
                member_id: member_id.clone(),
            }])
        }
        Command::ReplaceMembers {
            group_id,
            expected_revision,
            members,
        } => {
            let group = catalog.group("group_id", group_id)?;
            check_revision(
                GroupId::NOUN,
                group_id,
                *expected_revision,
                group.meta.revision,
            )?;
            replace_members(catalog, settings, context, group, members)
        }
        Command::UploadCertificate(upload) => Ok(vec![Event::CertificateUploaded(Certificate {
            id: CertificateId::derive(context.seed()),
            meta: context.meta(&upload.meta),
            certificate_chain_pem: upload.certificate_chain_pem.clone(),
            private_key_pem: upload.private_key_pem.clone(),
            fingerprint: upload.fingerprint.clone(),
            not_after_ms: upload.not_after_ms,
        })]),
        Command::DeleteCertificate(target) => delete_certificate(catalog, target),
        Command::UpdateSettings(update) => update_settings(catalog, settings, context, update),
    }
}

fn delete_network(
    catalog: &Catalog,
    target: &DeleteTarget<NetworkId>,
) -> Result<Vec<Event>, Rejection> {
    let network = catalog.network("id", &target.id)?;
    check_revision(
        NetworkId::NOUN,
        &network.id,
        target.expected_revision,
        network.meta.revision,
    )?;
    let subnets: Vec<&str> = catalog
        .subnets
        .values()
        .filter(|subnet| subnet.network_id == network.id)
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

fn delete_subnet(
    catalog: &Catalog,
    target: &DeleteTarget<SubnetId>,
) -> Result<Vec<Event>, Rejection> {
    let subnet = catalog.subnet("id", &target.id)?;
    check_revision(
        SubnetId::NOUN,
        &subnet.id,
        target.expected_revision,
        subnet.meta.revision,
    )?;
    let instances = list_ids(
        catalog
            .instances
            .values()
            .filter(|instance| instance.subnet_id == subnet.id)
            .map(|instance| instance.id.as_str()),
    );
    let load_balancers = list_ids(
        catalog
            .load_balancers
            .values()
            .filter(|lb| lb.subnet_id == subnet.id)
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

fn delete_instance(
    catalog: &Catalog,
    target: &DeleteTarget<InstanceId>,
) -> Result<Vec<Event>, Rejection> {
    let instance = catalog.instance("id", &target.id)?;
    check_revision(
        InstanceId::NOUN,
        &instance.id,
        target.expected_revision,
        instance.meta.revision,
    )?;
    let groups = list_ids(
        catalog
            .groups
            .values()
            .filter(|group| {
                group
                    .members
                    .iter()
                    .any(|member| member.instance_id == instance.id)
            })
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

fn allocate_eip(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    meta: &NewMeta,
    address: Option<Ipv4Addr>,
) -> Result<Vec<Event>, Rejection> {
    if settings.eip_pool.is_empty() {
        return Err(Rejection::precondition(
            None,
            "the cluster has no EIP pool; set one with UpdateClusterSettings (eip_pool)",
        ));
    }
    let taken: BTreeSet<Ipv4Addr> = catalog.eips.values().map(|eip| eip.address).collect();
    let address = match address {
        Some(address) => {
            if !settings.eip_pool.iter().any(|cidr| cidr.contains(&address)) {
                return Err(Rejection::invalid(
                    "address",
                    format!(
                        "{address} is outside the EIP pool ({})",
                        pool_text(settings)
                    ),
                ));
            }
            if taken.contains(&address) {
                return Err(Rejection::already_exists(
                    "address",
                    format!("EIP {address} is already allocated"),
                ));
            }
            address
        }
        None => settings
            .eip_pool
            .iter()
            .flat_map(|cidr| cidr.hosts())
            .find(|candidate| !taken.contains(candidate))
            .ok_or_else(|| {
                Rejection::exhausted(format!(
                    "every address of the EIP pool ({}) is allocated",
                    pool_text(settings)
                ))
            })?,
    };
    Ok(vec![Event::EipAllocated(Eip {
        id: EipId::derive(context.seed()),
        meta: context.meta(meta),
        address,
        load_balancer_id: None,
    })])
}

fn pool_text(settings: &Settings) -> String {
    settings
        .eip_pool
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

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

fn create_load_balancer(
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
        settings.quotas.load_balancers,
        "load balancers",
    )?;
    Ok(vec![Event::LoadBalancerCreated(LoadBalancer {
        id: LoadBalancerId::derive(context.seed()),
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

fn update_load_balancer(
    catalog: &Catalog,
    context: &Context,
    update: &UpdateLoadBalancer,
) -> Result<Vec<Event>, Rejection> {
    let lb = catalog.load_balancer("id", &update.id)?;
    check_revision(
        LoadBalancerId::NOUN,
        &lb.id,
        update.expected_revision,
        lb.meta.revision,
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

fn disassociate(
    catalog: &Catalog,
    context: &Context,
    lb: &LoadBalancer,
) -> Result<Event, Rejection> {
    let Some(eip_id) = &lb.eip_id else {
        return Err(Rejection::precondition(
            Some("load_balancer_id"),
            format!("load balancer {} has no EIP", lb.id),
        ));
    };
    let mut eip = catalog
        .eips
        .get(eip_id)
        .unwrap_or_else(|| {
            panic!(
                "load balancer {} names EIP {eip_id}, which does not exist",
                lb.id
            )
        })
        .clone();
    let mut lb = lb.clone();
    lb.eip_id = None;
    eip.load_balancer_id = None;
    context.touch(&mut lb.meta);
    context.touch(&mut eip.meta);
    Ok(Event::EipDisassociated {
        eip,
        load_balancer: lb,
    })
}

fn delete_load_balancer(
    catalog: &Catalog,
    context: &Context,
    target: &DeleteTarget<LoadBalancerId>,
) -> Result<Vec<Event>, Rejection> {
    let lb = catalog.load_balancer("id", &target.id)?;
    check_revision(
        LoadBalancerId::NOUN,
        &lb.id,
        target.expected_revision,
        lb.meta.revision,
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

/// A name is unique among the siblings of one Load Balancer (its listeners,
/// or its groups); `except` is the resource being renamed.
fn check_name_free_within<'a, Id: PartialEq + std::fmt::Display + 'a>(
    noun: &str,
    load_balancer_id: &LoadBalancerId,
    name: &str,
    except: Option<&Id>,
    mut siblings: impl Iterator<Item = (&'a Id, &'a str)>,
) -> Result<(), Rejection> {
    match siblings.find(|(_, sibling)| *sibling == name) {
        Some((other, _)) if Some(other) != except => Err(Rejection::already_exists(
            "name",
            format!("{noun} {other} of load balancer {load_balancer_id} is already named {name:?}"),
        )),
        _ => Ok(()),
    }
}

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

fn check_group_reference(
    catalog: &Catalog,
    load_balancer_id: &LoadBalancerId,
    group_id: Option<&GroupId>,
) -> Result<(), Rejection> {
    if let Some(group_id) = group_id {
        let group = catalog.group("default_group_id", group_id)?;
        if &group.load_balancer_id != load_balancer_id {
            return Err(Rejection::invalid(
                "default_group_id",
                format!(
                    "group {group_id} belongs to load balancer {}, not {load_balancer_id}",
                    group.load_balancer_id
                ),
            ));
        }
    }
    Ok(())
}

fn create_listener(
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
    check_group_reference(catalog, &lb.id, create.default_group_id.as_ref())?;
    if let Some(certificate_id) = &create.certificate_id {
        catalog.certificate("certificate_id", certificate_id)?;
    }
    within_quota(
        catalog.listeners_of(&lb.id).count(),
        settings.quotas.listeners_per_load_balancer,
        "listeners per load balancer",
    )?;
    Ok(vec![Event::ListenerCreated(Listener {
        id: ListenerId::derive(context.seed()),
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
    })])
}

fn update_listener(
    catalog: &Catalog,
    context: &Context,
    update: &UpdateListener,
) -> Result<Vec<Event>, Rejection> {
    let listener = catalog.listener("id", &update.id)?;
    check_revision(
        ListenerId::NOUN,
        &listener.id,
        update.expected_revision,
        listener.meta.revision,
    )?;
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
        check_group_reference(catalog, &listener.load_balancer_id, group_id.as_ref())?;
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
    context.touch_updated(&mut listener.meta, &update.meta);
    Ok(vec![Event::ListenerUpdated(listener)])
}

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

/// Checks new members against the catalog, each other and the members that stay.
fn check_members(
    catalog: &Catalog,
    group: &Group,
    new: &[MemberSpec],
    staying: &[Member],
    field: &str,
) -> Result<(), Rejection> {
    let lb = catalog
        .load_balancers
        .get(&group.load_balancer_id)
        .unwrap_or_else(|| {
            panic!(
                "group {} names load balancer {}, which does not exist",
                group.id, group.load_balancer_id
            )
        });
    check_member_specs(catalog, lb, new, field)?;
    for (position, spec) in new.iter().enumerate() {
        if let Some(existing) = staying
            .iter()
            .find(|member| member.instance_id == spec.instance_id && member.port == spec.port)
        {
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

/// Each member's instance exists in the Load Balancer's network, and (instance, port) pairs are distinct.
fn check_member_specs(
    catalog: &Catalog,
    lb: &LoadBalancer,
    specs: &[MemberSpec],
    field: &str,
) -> Result<(), Rejection> {
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
        if specs[..position]
            .iter()
            .any(|earlier| earlier.instance_id == spec.instance_id && earlier.port == spec.port)
        {
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

fn new_member(context: &mut Context, spec: &MemberSpec) -> Member {
    Member {
        id: MemberId::derive(context.seed()),
        instance_id: spec.instance_id.clone(),
        port: spec.port,
        weight: spec.weight,
        admin_state_up: spec.admin_state_up,
    }
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

fn create_group(
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
        settings.quotas.groups_per_load_balancer,
        "groups per load balancer",
    )?;
    if create.members.len() > settings.quotas.members_per_group as usize {
        return Err(Rejection::exhausted(format!(
            "{} members exceed the quota of {} members per group",
            create.members.len(),
            settings.quotas.members_per_group
        )));
    }
    let id = GroupId::derive(context.seed());
    let members = create
        .members
        .iter()
        .map(|spec| new_member(context, spec))
        .collect();
    Ok(vec![Event::GroupCreated(Group {
        id,
        meta: context.meta(&create.meta),
        load_balancer_id: lb.id.clone(),
        algorithm: create.algorithm,
        health_check: create.health_check.clone(),
        members,
    })])
}

fn update_group(
    catalog: &Catalog,
    context: &Context,
    update: &UpdateGroup,
) -> Result<Vec<Event>, Rejection> {
    let group = catalog.group("id", &update.id)?;
    check_revision(
        GroupId::NOUN,
        &group.id,
        update.expected_revision,
        group.meta.revision,
    )?;
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
    Ok(vec![Event::GroupUpdated(group)])
}

fn delete_group(
    catalog: &Catalog,
    context: &Context,
    target: &DeleteTarget<GroupId>,
) -> Result<Vec<Event>, Rejection> {
    let group = catalog.group("id", &target.id)?;
    check_revision(
        GroupId::NOUN,
        &group.id,
        target.expected_revision,
        group.meta.revision,
    )?;
    let users = listeners_using(
        catalog,
        |listener| listener.default_group_id.as_ref() == Some(&group.id),
        target.cascade,
        |users| {
            format!(
                "group {} is used by listeners [{users}]; detach it first or ask for cascade",
                group.id
            )
        },
    )?;
    let mut events: Vec<Event> = users
        .into_iter()
        .map(|listener| {
            let mut listener = listener.clone();
            listener.default_group_id = None;
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

/// The listeners that depend on a resource being deleted. Without `cascade`
/// any dependent refuses the deletion, with `explain` given their ids.
fn listeners_using(
    catalog: &Catalog,
    uses: impl Fn(&Listener) -> bool,
    cascade: bool,
    explain: impl FnOnce(String) -> String,
) -> Result<Vec<&Listener>, Rejection> {
    let users: Vec<&Listener> = catalog
        .listeners
        .values()
        .filter(|listener| uses(listener))
        .collect();
    if !users.is_empty() && !cascade {
        let ids = list_ids(users.iter().map(|listener| listener.id.as_str()));
        return Err(Rejection::precondition(Some("id"), explain(ids)));
    }
    Ok(users)
}

/// Members whose (instance, port) stays keep their id; the rest are removed or added.
fn replace_members(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    group: &Group,
    specs: &[MemberSpec],
) -> Result<Vec<Event>, Rejection> {
    check_members(catalog, group, specs, &[], "members")?;
    if specs.len() > settings.quotas.members_per_group as usize {
        return Err(Rejection::exhausted(format!(
            "{} members exceed the quota of {} members per group",
            specs.len(),
            settings.quotas.members_per_group
        )));
    }
    let same = |member: &Member, spec: &MemberSpec| {
        member.instance_id == spec.instance_id && member.port == spec.port
    };
    let mut events: Vec<Event> = group
        .members
        .iter()
        .filter(|member| !specs.iter().any(|spec| same(member, spec)))
        .map(|member| Event::MemberRemoved {
            group_id: group.id.clone(),
            member_id: member.id.clone(),
        })
        .collect();
    for spec in specs {
        match group.members.iter().find(|member| same(member, spec)) {
            Some(member)
                if member.weight == spec.weight && member.admin_state_up == spec.admin_state_up => {
            }
            Some(member) => events.push(Event::MemberUpdated {
                group_id: group.id.clone(),
                member: Member {
                    weight: spec.weight,
                    admin_state_up: spec.admin_state_up,
                    ..member.clone()
                },
            }),
            None => events.push(Event::MemberAdded {
                group_id: group.id.clone(),
                member: new_member(context, spec),
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

fn delete_certificate(
    catalog: &Catalog,
    target: &DeleteTarget<CertificateId>,
) -> Result<Vec<Event>, Rejection> {
    let certificate = catalog.certificate("id", &target.id)?;
    check_revision(
        CertificateId::NOUN,
        &certificate.id,
        target.expected_revision,
        certificate.meta.revision,
    )?;
    let users = listeners_using(
        catalog,
        |listener| listener.certificate_id.as_ref() == Some(&certificate.id),
        target.cascade,
        |users| {
            format!(
                "certificate {} is used by listeners [{users}]; give them another certificate first, or ask for cascade (which deletes them)",
                certificate.id
            )
        },
    )?;
    let mut events: Vec<Event> = users
        .into_iter()
        .map(|listener| Event::ListenerDeleted {
            id: listener.id.clone(),
            load_balancer_id: listener.load_balancer_id.clone(),
        })
        .collect();
    events.push(Event::CertificateDeleted {
        id: certificate.id.clone(),
    });
    Ok(events)
}

fn update_settings(
    catalog: &Catalog,
    settings: &Settings,
    context: &Context,
    update: &UpdateSettings,
) -> Result<Vec<Event>, Rejection> {
    if let Some(expected) = update.expected_revision
        && expected != settings.revision
    {
        return Err(Rejection::aborted(
            "cluster settings",
            "",
            expected,
            settings.revision,
        ));
    }
    let mut settings = settings.clone();
    if let Some(pool) = &update.eip_pool {
        if let Some(stranded) = catalog
            .eips
            .values()
            .find(|eip| !pool.iter().any(|cidr| cidr.contains(&eip.address)))
        {
            return Err(Rejection::precondition(
                Some("eip_pool"),
                format!(
                    "EIP {} ({}) would fall outside the new pool; release it first",
                    stranded.id, stranded.address
                ),
            ));
        }
        settings.eip_pool.clone_from(pool);
    }
    if let Some(quotas) = update.quotas {
        settings.quotas = quotas;
    }
    if let Some(retention) = update.client_token_retention_ms {
        settings.client_token_retention_ms = retention;
    }
    if let Some(capacity) = update.client_token_capacity {
        settings.client_token_capacity = capacity;
    }
    if let Some(retention) = update.history_retention_revisions {
        settings.history_retention_revisions = retention;
    }
    settings.revision = context.revision;
    Ok(vec![Event::SettingsUpdated(settings)])
}
