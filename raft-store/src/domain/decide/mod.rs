//! `decide`: the rules that relate a command to the state. Pure: it reads the
//! catalog and settings, and answers with the events to apply or a rejection.
//!
//! Checks run in a fixed order so that the answer is predictable: the resource
//! exists (NOT_FOUND), is at the expected revision (ABORTED), the change is
//! allowed (FAILED_PRECONDITION), names, ports and members are unique
//! (ALREADY_EXISTS), references are valid, quotas are respected (RESOURCE_EXHAUSTED).
//!
//! The first two hold by construction: a command that names a resource with an
//! expected revision looks it up through `current`. Each submodule holds the
//! commands of one kind of resource; this module dispatches to them and keeps
//! the helpers they share.

mod access;
mod certificate;
mod eip;
mod group;
mod listener;
mod load_balancer;
mod network;
mod settings;

use super::catalog::Catalog;
use super::command::{Command, MetaUpdate, NewMeta};
use super::event::Event;
use super::ids::{
    AccessTokenId, CertificateId, EipId, GroupId, IdSeed, InstanceId, ListenerId, LoadBalancerId,
    NetworkId, SubnetId,
};
use super::limits::{self, QuotaLimit, Rules, quota};
use super::model::{
    AccessToken, Certificate, Eip, Group, Instance, Listener, LoadBalancer, Meta, Network,
    Revision, Settings, Subnet,
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
    /// The rules of the entry's log format.
    pub(crate) rules: Rules,
    next_ordinal: u16,
}

impl Context {
    pub(crate) fn new(revision: Revision, now_ms: i64, log_index: u64, rules: Rules) -> Self {
        Self {
            revision,
            now_ms,
            log_index,
            rules,
            next_ordinal: 0,
        }
    }

    /// The seed of the next new resource's id. Ids hold a 16-bit ordinal, so
    /// a command that would create more resources is refused: under format 2
    /// the member bound keeps every command far below it, but a format-1
    /// entry may ask for more, and it must get an answer, not stop the node.
    fn seed(&mut self) -> Result<IdSeed, Rejection> {
        let ordinal = self.next_ordinal;
        self.next_ordinal = self.next_ordinal.checked_add(1).ok_or_else(|| {
            Rejection::exhausted(format!(
                "the command creates over {} resources, more than one command may",
                limits::MAX_RESOURCES_PER_COMMAND
            ))
        })?;
        Ok(IdSeed {
            log_index: self.log_index,
            ordinal,
        })
    }

    /// The quota to enforce: the operator's, never past its ceiling under
    /// format 2 (a format-1 entry may have raised it further).
    fn quota(&self, value: u32, limit: &QuotaLimit) -> u32 {
        if self.rules.bounded() {
            value.min(limit.ceiling)
        } else {
            value
        }
    }

    /// Checks a quota that format 1 did not have: only under format 2.
    fn within_new_quota(
        &self,
        count: usize,
        value: u32,
        limit: &QuotaLimit,
    ) -> Result<(), Rejection> {
        if self.rules.bounded() {
            within_quota(count, value.min(limit.ceiling), limit.field)
        } else {
            Ok(())
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

/// Decides what `command` changes, or why it cannot.
pub(crate) fn decide(
    catalog: &Catalog,
    settings: &Settings,
    context: &mut Context,
    command: &Command,
) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::CreateNetwork { meta, cidr } => {
            network::create_network(catalog, settings, context, meta, cidr)
        }
        Command::DeleteNetwork(target) => network::delete_network(catalog, target),
        Command::CreateSubnet {
            meta,
            network_id,
            cidr,
        } => network::create_subnet(catalog, settings, context, meta, network_id, cidr),
        Command::DeleteSubnet(target) => network::delete_subnet(catalog, target),
        Command::CreateInstance {
            meta,
            subnet_id,
            address,
        } => network::create_instance(catalog, settings, context, meta, subnet_id, address),
        Command::DeleteInstance(target) => network::delete_instance(catalog, target),
        Command::AllocateEip { meta, address } => {
            eip::allocate_eip(catalog, settings, context, meta, *address)
        }
        Command::ReleaseEip(target) => eip::release_eip(catalog, target),
        Command::CreateLoadBalancer(create) => {
            load_balancer::create_load_balancer(catalog, settings, context, create)
        }
        Command::UpdateLoadBalancer(update) => {
            load_balancer::update_load_balancer(catalog, context, update)
        }
        Command::DeleteLoadBalancer(target) => {
            load_balancer::delete_load_balancer(catalog, context, target)
        }
        Command::AssociateEip {
            load_balancer_id,
            eip_id,
        } => eip::associate_eip(catalog, context, load_balancer_id, eip_id),
        Command::DisassociateEip { load_balancer_id } => {
            eip::disassociate_eip(catalog, context, load_balancer_id)
        }
        Command::CreateListener(create) => {
            listener::create_listener(catalog, settings, context, create)
        }
        Command::UpdateListener(update) => listener::update_listener(catalog, context, update),
        Command::SetListenerRules {
            listener_id,
            expected_revision,
            rules,
        } => listener::set_listener_rules(catalog, context, listener_id, *expected_revision, rules),
        Command::DeleteListener(target) => listener::delete_listener(catalog, target),
        Command::CreateGroup(create) => group::create_group(catalog, settings, context, create),
        Command::UpdateGroup(update) => group::update_group(catalog, context, update),
        Command::DeleteGroup(target) => group::delete_group(catalog, context, target),
        Command::AddMember {
            group_id,
            expected_revision,
            member,
        } => group::add_member(
            catalog,
            settings,
            context,
            group_id,
            *expected_revision,
            member,
        ),
        Command::UpdateMember {
            group_id,
            member_id,
            expected_revision,
            weight,
            admin_state_up,
        } => group::update_member(
            catalog,
            group_id,
            member_id,
            *expected_revision,
            *weight,
            *admin_state_up,
        ),
        Command::RemoveMember {
            group_id,
            member_id,
            expected_revision,
        } => group::remove_member(catalog, group_id, member_id, *expected_revision),
        Command::ReplaceMembers {
            group_id,
            expected_revision,
            members,
        } => group::replace_members(
            catalog,
            settings,
            context,
            group_id,
            *expected_revision,
            members,
        ),
        Command::UploadCertificate(upload) => {
            certificate::upload_certificate(catalog, settings, context, upload)
        }
        Command::DeleteCertificate(target) => certificate::delete_certificate(catalog, target),
        Command::UpdateSettings(update) => {
            settings::update_settings(catalog, settings, context, update)
        }
        Command::IssueAccessToken(issue) => access::issue_access_token(catalog, context, issue),
        Command::RevokeAccessToken(target) => access::revoke_access_token(catalog, target),
        Command::ResealCertificateKeys(keys) => certificate::reseal_certificate_keys(catalog, keys),
    }
}

/// A resource that a command may name with an expected revision.
trait Revisioned {
    /// What users call this kind of resource, in messages.
    const NOUN: &'static str;
    /// The resource's id as the API shows it.
    fn id_text(&self) -> &str;
    /// The revision of the resource's last change.
    fn revision(&self) -> Revision;
}

macro_rules! revisioned {
    ($($resource:ty => $id:ty;)*) => {
        $(
            impl Revisioned for $resource {
                const NOUN: &'static str = <$id>::NOUN;

                fn id_text(&self) -> &str {
                    self.id.as_str()
                }

                fn revision(&self) -> Revision {
                    self.meta.revision
                }
            }
        )*
    };
}

revisioned! {
    Network => NetworkId;
    Subnet => SubnetId;
    Instance => InstanceId;
    Eip => EipId;
    LoadBalancer => LoadBalancerId;
    Listener => ListenerId;
    Group => GroupId;
    Certificate => CertificateId;
}

impl Revisioned for AccessToken {
    const NOUN: &'static str = AccessTokenId::NOUN;

    fn id_text(&self) -> &str {
        self.id.as_str()
    }

    fn revision(&self) -> Revision {
        self.revision
    }
}

/// Looks a resource up (NOT_FOUND) and checks the revision the client expects
/// (ABORTED), in that order.
fn current<R: Revisioned>(
    found: Result<&R, Rejection>,
    expected: Option<u64>,
) -> Result<&R, Rejection> {
    let resource = found?;
    match expected {
        Some(expected) if expected != resource.revision() => Err(Rejection::aborted(
            R::NOUN,
            resource.id_text(),
            expected,
            resource.revision(),
        )),
        _ => Ok(resource),
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

/// A group of `count` members fits the members quota (and its ceiling).
fn within_member_quota(
    context: &Context,
    settings: &Settings,
    count: usize,
) -> Result<(), Rejection> {
    let quota = context.quota(settings.quotas.members_per_group, &quota::MEMBERS_PER_GROUP);
    if count > quota as usize {
        return Err(Rejection::exhausted(format!(
            "{count} members exceed the quota of {quota} members per group"
        )));
    }
    Ok(())
}

fn list_ids<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let ids: Vec<&str> = ids.collect();
    ids.join(", ")
}

/// Stops the node: the state contradicts itself, so this replica has
/// diverged, and going on would spread the damage. Names the log index.
fn diverged(context: &Context, what: String) -> ! {
    panic!(
        "log index {}: the state is inconsistent: {what}",
        context.log_index
    )
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

/// The listeners that depend on a resource being deleted. Without `cascade`
/// any dependent refuses the deletion, with `explain` given their ids.
fn listeners_using<'a>(
    users: impl Iterator<Item = &'a Listener>,
    cascade: bool,
    explain: impl FnOnce(String) -> String,
) -> Result<Vec<&'a Listener>, Rejection> {
    let users: Vec<&Listener> = users.collect();
    if !users.is_empty() && !cascade {
        let ids = list_ids(users.iter().map(|listener| listener.id.as_str()));
        return Err(Rejection::precondition(Some("id"), explain(ids)));
    }
    Ok(users)
}
