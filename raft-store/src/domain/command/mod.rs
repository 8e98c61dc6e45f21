//! Commands: what a client asks the cluster to change, checked field by field.
//!
//! The log stores the request exactly as the client sent it (`v1::Command`);
//! `Command::try_from` turns it into a value whose every field has passed its
//! rule, naming the field when one fails. Rules that relate the command to the
//! state (uniqueness, references, quotas) are `decide`'s.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use fulcrum_api::v1;
use ipnet::Ipv4Net;

use super::certificate;
use super::ids::{
    AccessTokenId, CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId, MemberId,
    NetworkId, SubnetId,
};
use super::limits::{self, Rules};
use super::model::{Algorithm, ConnectionLimit, HealthCheck, Protocol};
use super::rejection::Rejection;
use super::validate;

mod access;
mod forwarding;
mod group;
mod listener;
mod settings;

pub use access::IssueAccessToken;
pub(crate) use access::fingerprinted;
pub use forwarding::{DEFAULT_FIXED_RESPONSE_CONTENT_TYPE, DEFAULT_REDIRECT_STATUS};
pub use group::DEFAULT_MAX_EJECTED_PERCENT;
pub use group::health_check_defaults;
use group::{algorithm, health_check, member_spec, member_specs};
pub(crate) use listener::{check_certificate_fits, check_forwarded_for_fits};
use listener::{create_listener, update_listener};
pub(crate) use settings::UpdateSettings;
use settings::settings_update;

/// Name, description and tags of a resource being created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMeta {
    /// Validated name (empty only for an EIP without one).
    pub name: String,
    /// Validated description.
    pub description: String,
    /// Validated tags.
    pub tags: BTreeMap<String, String>,
}

/// The changes an update may make to name, description and tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// New tags, replacing all.
    pub tags: Option<BTreeMap<String, String>>,
}

/// Which resource to delete, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteTarget<Id> {
    /// The resource.
    pub id: Id,
    /// Refuse unless the resource is at this revision.
    pub expected_revision: Option<u64>,
    /// Remove or detach dependents too.
    pub cascade: bool,
}

/// A member as a client describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSpec {
    /// The instance.
    pub instance_id: InstanceId,
    /// The port on the instance.
    pub port: u16,
    /// 0 to 100.
    pub weight: u8,
    /// Whether it takes new connections.
    pub admin_state_up: bool,
}

/// Create a Load Balancer (the guide's step 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateLoadBalancer {
    /// Name, description, tags.
    pub meta: NewMeta,
    /// Its network.
    pub network_id: NetworkId,
    /// Its subnet, inside the network.
    pub subnet_id: SubnetId,
    /// Default true.
    pub admin_state_up: bool,
    /// Default false.
    pub delete_protection: bool,
}

/// Change what may change on a Load Balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateLoadBalancer {
    /// The Load Balancer.
    pub id: LoadBalancerId,
    /// Refuse unless it is at this revision.
    pub expected_revision: Option<u64>,
    /// Name, description, tags.
    pub meta: MetaUpdate,
    /// New admin state.
    pub admin_state_up: Option<bool>,
    /// New delete protection.
    pub delete_protection: Option<bool>,
    /// Immutable: must equal the current network when given.
    pub network_id: Option<String>,
    /// Immutable: must equal the current subnet when given.
    pub subnet_id: Option<String>,
}

/// Create a listener (the guide's step 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateListener {
    /// The Load Balancer.
    pub load_balancer_id: LoadBalancerId,
    /// Name, description, tags.
    pub meta: NewMeta,
    /// TCP, HTTP or HTTPS.
    pub protocol: Protocol,
    /// 1 to 65535.
    pub port: u16,
    /// -1 or 1 to 1,000,000.
    pub connection_limit: ConnectionLimit,
    /// A group of the same Load Balancer.
    pub default_group_id: Option<GroupId>,
    /// Required for HTTPS.
    pub certificate_id: Option<CertificateId>,
    /// 1 to 4000 s.
    pub idle_timeout_s: u32,
    /// HTTP and HTTPS only.
    pub insert_x_forwarded_for: bool,
    /// Default true.
    pub admin_state_up: bool,
    /// Default false; any protocol. Always false under log formats before 4.
    pub access_log: bool,
}

/// Change what may change on a listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateListener {
    /// The listener.
    pub id: ListenerId,
    /// Refuse unless it is at this revision.
    pub expected_revision: Option<u64>,
    /// Name, description, tags.
    pub meta: MetaUpdate,
    /// New limit.
    pub connection_limit: Option<ConnectionLimit>,
    /// `Some(None)` detaches the group.
    pub default_group_id: Option<Option<GroupId>>,
    /// New certificate (HTTPS only).
    pub certificate_id: Option<Option<CertificateId>>,
    /// New idle timeout.
    pub idle_timeout_s: Option<u32>,
    /// New X-Forwarded-For setting.
    pub insert_x_forwarded_for: Option<bool>,
    /// New admin state.
    pub admin_state_up: Option<bool>,
    /// Immutable: must equal the current protocol when given.
    pub protocol: Option<Protocol>,
    /// Immutable: must equal the current port when given.
    pub port: Option<u32>,
    /// New access-log setting. Always `None` under log formats before 4.
    pub access_log: Option<bool>,
}

/// Create a virtual server group (the guide's step 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateGroup {
    /// The Load Balancer.
    pub load_balancer_id: LoadBalancerId,
    /// Name, description, tags.
    pub meta: NewMeta,
    /// How connections are spread.
    pub algorithm: Algorithm,
    /// Optional health check.
    pub health_check: Option<HealthCheck>,
    /// The initial members.
    pub members: Vec<MemberSpec>,
    /// Session persistence, for HTTP and HTTPS listeners.
    pub persistence: Option<super::model::Persistence>,
    /// The PROXY protocol header, for TCP listeners.
    pub proxy_protocol: Option<super::model::ProxyProtocol>,
    /// Ejection on what the traffic says.
    pub passive_health: Option<super::model::PassiveHealth>,
}

/// Change what may change on a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateGroup {
    /// The group.
    pub id: GroupId,
    /// Refuse unless it is at this revision.
    pub expected_revision: Option<u64>,
    /// Name, description, tags.
    pub meta: MetaUpdate,
    /// New algorithm.
    pub algorithm: Option<Algorithm>,
    /// `Some(None)` removes the health check.
    pub health_check: Option<Option<HealthCheck>>,
    /// `Some(None)` removes the persistence.
    pub persistence: Option<Option<super::model::Persistence>>,
    /// `Some(None)` removes the PROXY protocol header.
    pub proxy_protocol: Option<Option<super::model::ProxyProtocol>>,
    /// `Some(None)` removes the passive health.
    pub passive_health: Option<Option<super::model::PassiveHealth>>,
}

/// Upload a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadCertificate {
    /// Name, description, tags.
    pub meta: NewMeta,
    /// PEM, leaf first.
    pub certificate_chain_pem: String,
    /// A sealed text (`sealed.rs`) from log format 3 on; clear PEM before.
    pub private_key_pem: String,
    /// Read from the leaf.
    pub fingerprint: String,
    /// Read from the leaf.
    pub not_after_ms: i64,
}

/// Every change a client can ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Command {
    CreateNetwork {
        meta: NewMeta,
        cidr: Ipv4Net,
    },
    DeleteNetwork(DeleteTarget<NetworkId>),
    CreateSubnet {
        meta: NewMeta,
        network_id: NetworkId,
        cidr: Ipv4Net,
    },
    DeleteSubnet(DeleteTarget<SubnetId>),
    CreateInstance {
        meta: NewMeta,
        subnet_id: SubnetId,
        address: Ipv4Addr,
    },
    DeleteInstance(DeleteTarget<InstanceId>),
    AllocateEip {
        meta: NewMeta,
        address: Option<Ipv4Addr>,
    },
    ReleaseEip(DeleteTarget<EipId>),
    CreateLoadBalancer(CreateLoadBalancer),
    UpdateLoadBalancer(UpdateLoadBalancer),
    DeleteLoadBalancer(DeleteTarget<LoadBalancerId>),
    AssociateEip {
        load_balancer_id: LoadBalancerId,
        eip_id: EipId,
    },
    DisassociateEip {
        load_balancer_id: LoadBalancerId,
    },
    CreateListener(CreateListener),
    UpdateListener(UpdateListener),
    /// Replaces a listener's forwarding rules.
    SetListenerRules {
        listener_id: ListenerId,
        expected_revision: Option<u64>,
        rules: Vec<super::model::ForwardingRule>,
    },
    DeleteListener(DeleteTarget<ListenerId>),
    CreateGroup(CreateGroup),
    UpdateGroup(UpdateGroup),
    DeleteGroup(DeleteTarget<GroupId>),
    AddMember {
        group_id: GroupId,
        expected_revision: Option<u64>,
        member: MemberSpec,
    },
    UpdateMember {
        group_id: GroupId,
        member_id: MemberId,
        expected_revision: Option<u64>,
        weight: Option<u8>,
        admin_state_up: Option<bool>,
    },
    RemoveMember {
        group_id: GroupId,
        member_id: MemberId,
        expected_revision: Option<u64>,
    },
    ReplaceMembers {
        group_id: GroupId,
        expected_revision: Option<u64>,
        members: Vec<MemberSpec>,
    },
    UploadCertificate(UploadCertificate),
    DeleteCertificate(DeleteTarget<CertificateId>),
    UpdateSettings(UpdateSettings),
    IssueAccessToken(IssueAccessToken),
    RevokeAccessToken(DeleteTarget<AccessTokenId>),
    /// Certificate keys sealed anew: each certificate's new sealed text.
    ResealCertificateKeys(Vec<(CertificateId, String)>),
}

fn new_meta(
    name: &str,
    description: &str,
    tags: &BTreeMap<String, String>,
) -> Result<NewMeta, Rejection> {
    Ok(NewMeta {
        name: validate::name("name", name)?,
        description: validate::description("description", description)?,
        tags: validate::tags("tags", tags)?,
    })
}

fn meta_update(
    name: Option<&String>,
    description: Option<&String>,
    tags: Option<&v1::Tags>,
) -> Result<MetaUpdate, Rejection> {
    Ok(MetaUpdate {
        name: name.map(|name| validate::name("name", name)).transpose()?,
        description: description
            .map(|description| validate::description("description", description))
            .transpose()?,
        tags: tags
            .map(|tags| validate::tags("tags", &tags.entries))
            .transpose()?,
    })
}

fn delete<Id>(id: Id, expected_revision: Option<u64>, cascade: bool) -> DeleteTarget<Id> {
    DeleteTarget {
        id,
        expected_revision,
        cascade,
    }
}

fn protocol(field: &str, raw: i32) -> Result<Protocol, Rejection> {
    match v1::Protocol::try_from(raw) {
        Ok(v1::Protocol::Tcp) => Ok(Protocol::Tcp),
        Ok(v1::Protocol::Http) => Ok(Protocol::Http),
        Ok(v1::Protocol::Https) => Ok(Protocol::Https),
        Ok(v1::Protocol::Unspecified) => Err(Rejection::invalid(
            field,
            "is required: one of TCP, HTTP, HTTPS",
        )),
        Err(_) => Err(Rejection::invalid(
            field,
            format!("{raw} is not a protocol; the protocols are TCP, HTTP and HTTPS"),
        )),
    }
}

/// Refuses an address of a forbidden class (link-local, multicast, ...).
fn usable_address(field: &str, address: Ipv4Addr, what: &str) -> Result<Ipv4Addr, Rejection> {
    let host = Ipv4Net::from(address);
    if let Some(range) = limits::forbidden_range_of(&host) {
        return Err(Rejection::invalid(
            field,
            format!("{address} is {}; {what} may not be", range.what),
        ));
    }
    Ok(address)
}

/// Whether two CIDR blocks share an address.
pub(crate) fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl TryFrom<&v1::Command> for Command {
    type Error = Rejection;

    /// Checks `raw` by the rules of the log format this build writes.
    fn try_from(raw: &v1::Command) -> Result<Self, Rejection> {
        Command::parse(raw, Rules::CURRENT)
    }
}

impl Command {
    /// Checks every field of `raw` by `rules` (those of the entry's log format).
    pub fn parse(raw: &v1::Command, rules: Rules) -> Result<Self, Rejection> {
        use v1::command::Kind;
        let no_command = || Rejection::invalid("command", "is required");
        let Some(kind) = &raw.kind else {
            return Err(no_command());
        };
        Ok(match kind {
            Kind::CreateNetwork(request) => Command::CreateNetwork {
                meta: new_meta(&request.name, &request.description, &request.tags)?,
                cidr: validate::cidr("cidr", &request.cidr)?,
            },
            Kind::DeleteNetwork(request) => Command::DeleteNetwork(delete(
                NetworkId::parse("id", &request.id)?,
                request.expected_revision,
                false,
            )),
            Kind::CreateSubnet(request) => Command::CreateSubnet {
                meta: new_meta(&request.name, &request.description, &request.tags)?,
                network_id: NetworkId::parse("network_id", &request.network_id)?,
                cidr: validate::cidr("cidr", &request.cidr)?,
            },
            Kind::DeleteSubnet(request) => Command::DeleteSubnet(delete(
                SubnetId::parse("id", &request.id)?,
                request.expected_revision,
                false,
            )),
            Kind::CreateInstance(request) => Command::CreateInstance {
                meta: new_meta(&request.name, &request.description, &request.tags)?,
                subnet_id: SubnetId::parse("subnet_id", &request.subnet_id)?,
                address: {
                    let address = validate::address("address", &request.address)?;
                    if rules.bounded() {
                        usable_address("address", address, "an instance's address")?
                    } else {
                        address
                    }
                },
            },
            Kind::DeleteInstance(request) => Command::DeleteInstance(delete(
                InstanceId::parse("id", &request.id)?,
                request.expected_revision,
                false,
            )),
            Kind::AllocateEip(request) => Command::AllocateEip {
                meta: NewMeta {
                    name: validate::optional_name("name", &request.name)?,
                    description: validate::description("description", &request.description)?,
                    tags: validate::tags("tags", &request.tags)?,
                },
                address: if request.address.is_empty() {
                    None
                } else {
                    Some(validate::address("address", &request.address)?)
                },
            },
            Kind::ReleaseEip(request) => Command::ReleaseEip(delete(
                EipId::parse("id", &request.id)?,
                request.expected_revision,
                false,
            )),
            Kind::CreateLoadBalancer(request) => Command::CreateLoadBalancer(CreateLoadBalancer {
                meta: new_meta(&request.name, &request.description, &request.tags)?,
                network_id: NetworkId::parse("network_id", &request.network_id)?,
                subnet_id: SubnetId::parse("subnet_id", &request.subnet_id)?,
                admin_state_up: request.admin_state_up.unwrap_or(true),
                delete_protection: request.delete_protection.unwrap_or(false),
            }),
            Kind::UpdateLoadBalancer(request) => Command::UpdateLoadBalancer(UpdateLoadBalancer {
                id: LoadBalancerId::parse("id", &request.id)?,
                expected_revision: request.expected_revision,
                meta: meta_update(
                    request.name.as_ref(),
                    request.description.as_ref(),
                    request.tags.as_ref(),
                )?,
                admin_state_up: request.admin_state_up,
                delete_protection: request.delete_protection,
                network_id: request.network_id.clone(),
                subnet_id: request.subnet_id.clone(),
            }),
            Kind::DeleteLoadBalancer(request) => Command::DeleteLoadBalancer(delete(
                LoadBalancerId::parse("id", &request.id)?,
                request.expected_revision,
                request.cascade,
            )),
            Kind::AssociateEip(request) => Command::AssociateEip {
                load_balancer_id: LoadBalancerId::parse(
                    "load_balancer_id",
                    &request.load_balancer_id,
                )?,
                eip_id: EipId::parse("eip_id", &request.eip_id)?,
            },
            Kind::DisassociateEip(request) => Command::DisassociateEip {
                load_balancer_id: LoadBalancerId::parse(
                    "load_balancer_id",
                    &request.load_balancer_id,
                )?,
            },
            Kind::CreateListener(request) => {
                Command::CreateListener(create_listener(request, rules)?)
            }
            Kind::UpdateListener(request) => {
                Command::UpdateListener(update_listener(request, rules)?)
            }
            Kind::DeleteListener(request) => Command::DeleteListener(delete(
                ListenerId::parse("id", &request.id)?,
                request.expected_revision,
                false,
            )),
            Kind::CreateGroup(request) => Command::CreateGroup(CreateGroup {
                load_balancer_id: LoadBalancerId::parse(
                    "load_balancer_id",
                    &request.load_balancer_id,
                )?,
                meta: new_meta(&request.name, &request.description, &request.tags)?,
                algorithm: algorithm("algorithm", request.algorithm)?,
                health_check: request
                    .health_check
                    .as_ref()
                    .map(health_check)
                    .transpose()?,
                members: member_specs(&request.members, rules)?,
                persistence: if rules.group_traffic_settings() {
                    request
                        .persistence
                        .as_ref()
                        .map(|raw| group::persistence("persistence", raw))
                        .transpose()?
                        .flatten()
                } else {
                    None
                },
                proxy_protocol: if rules.group_traffic_settings() {
                    group::proxy_protocol("proxy_protocol", request.proxy_protocol)?
                } else {
                    None
                },
                passive_health: if rules.group_traffic_settings() {
                    request
                        .passive_health
                        .as_ref()
                        .map(|raw| group::passive_health("passive_health", raw))
                        .transpose()?
                } else {
                    None
                },
            }),
            Kind::UpdateGroup(request) => {
                if request.clear_health_check && request.health_check.is_some() {
                    return Err(Rejection::invalid(
                        "clear_health_check",
                        "cannot be set together with health_check",
                    ));
                }
                let health_check = if request.clear_health_check {
                    Some(None)
                } else {
                    request
                        .health_check
                        .as_ref()
                        .map(health_check)
                        .transpose()?
                        .map(Some)
                };
                let (persistence, proxy_protocol, passive_health) =
                    group::traffic_settings_update(request, rules)?;
                Command::UpdateGroup(UpdateGroup {
                    id: GroupId::parse("id", &request.id)?,
                    expected_revision: request.expected_revision,
                    meta: meta_update(
                        request.name.as_ref(),
                        request.description.as_ref(),
                        request.tags.as_ref(),
                    )?,
                    algorithm: request
                        .algorithm
                        .map(|raw| algorithm("algorithm", raw))
                        .transpose()?,
                    health_check,
                    persistence,
                    proxy_protocol,
                    passive_health,
                })
            }
            Kind::DeleteGroup(request) => Command::DeleteGroup(delete(
                GroupId::parse("id", &request.id)?,
                request.expected_revision,
                request.cascade,
            )),
            Kind::AddMember(request) => Command::AddMember {
                group_id: GroupId::parse("group_id", &request.group_id)?,
                expected_revision: request.expected_revision,
                member: match &request.member {
                    Some(member) => member_spec("member", member)?,
                    None => return Err(Rejection::invalid("member", "is required")),
                },
            },
            Kind::UpdateMember(request) => Command::UpdateMember {
                group_id: GroupId::parse("group_id", &request.group_id)?,
                member_id: MemberId::parse("member_id", &request.member_id)?,
                expected_revision: request.expected_revision,
                weight: request
                    .weight
                    .map(|weight| validate::weight("weight", Some(weight)))
                    .transpose()?,
                admin_state_up: request.admin_state_up,
            },
            Kind::RemoveMember(request) => Command::RemoveMember {
                group_id: GroupId::parse("group_id", &request.group_id)?,
                member_id: MemberId::parse("member_id", &request.member_id)?,
                expected_revision: request.expected_revision,
            },
            Kind::ReplaceMembers(request) => Command::ReplaceMembers {
                group_id: GroupId::parse("group_id", &request.group_id)?,
                expected_revision: request.expected_revision,
                members: member_specs(&request.members, rules)?,
            },
            Kind::UploadCertificate(request) => {
                let meta = new_meta(&request.name, &request.description, &request.tags)?;
                let parsed =
                    certificate::parse(&request.certificate_chain, &request.private_key, rules)?;
                Command::UploadCertificate(UploadCertificate {
                    meta,
                    certificate_chain_pem: request.certificate_chain.clone(),
                    private_key_pem: request.private_key.clone(),
                    fingerprint: parsed.fingerprint,
                    not_after_ms: parsed.not_after_ms,
                })
            }
            Kind::DeleteCertificate(request) => Command::DeleteCertificate(delete(
                CertificateId::parse("id", &request.id)?,
                request.expected_revision,
                request.cascade,
            )),
            Kind::UpdateClusterSettings(request) => {
                Command::UpdateSettings(settings_update(request, rules)?)
            }
            // A build of an older format decoded these unknown kinds as no
            // command at all: such an entry gets that build's answer.
            Kind::SetListenerRules(_) if !rules.forwarding_rules() => return Err(no_command()),
            Kind::SetListenerRules(request) => Command::SetListenerRules {
                listener_id: ListenerId::parse("id", &request.id)?,
                expected_revision: request.expected_revision,
                rules: forwarding::forwarding_rules(&request.rules)?,
            },
            Kind::IssueAccessToken(_)
            | Kind::RevokeAccessToken(_)
            | Kind::ResealCertificateKeys(_)
                if !rules.access_control() =>
            {
                return Err(no_command());
            }
            Kind::ResealCertificateKeys(reseal) => {
                Command::ResealCertificateKeys(resealed_keys(reseal)?)
            }
            Kind::IssueAccessToken(request) => {
                Command::IssueAccessToken(access::issue_access_token(request)?)
            }
            Kind::RevokeAccessToken(request) => {
                Command::RevokeAccessToken(access::revoke_access_token(request)?)
            }
        })
    }
}

/// The keys of a `ResealCertificateKeys`: known ids, sealed texts, within
/// the per-command limit.
fn resealed_keys(
    reseal: &v1::ResealCertificateKeys,
) -> Result<Vec<(CertificateId, String)>, Rejection> {
    if reseal.keys.len() > limits::MAX_RESEALED_KEYS_PER_COMMAND {
        return Err(Rejection::invalid(
            "keys",
            format!(
                "holds {} keys; at most {} per command",
                reseal.keys.len(),
                limits::MAX_RESEALED_KEYS_PER_COMMAND
            ),
        ));
    }
    reseal
        .keys
        .iter()
        .enumerate()
        .map(|(n, key)| {
            let id =
                CertificateId::parse(&format!("keys[{n}].certificate_id"), &key.certificate_id)?;
            crate::domain::sealed::Sealed::parse(
                &format!("keys[{n}].private_key"),
                &key.private_key,
            )?;
            Ok((id, key.private_key.clone()))
        })
        .collect()
}
