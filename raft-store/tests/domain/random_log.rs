//! The random command sequences of the property tests: the operations, the
//! strategies that draw them, and the world they act in (ids that exist
//! before the first step, and the request each operation makes of the
//! current state).

use fulcrum_api::v1;
use proptest::prelude::*;
use v1::command::Kind;

use crate::harness::*;

const PORTS: [u32; 5] = [80, 443, 8080, 0, 65535];
const LIMITS: [i64; 5] = [-1, 0, 1, 100, 2_000_000];
pub const TOKEN_RETENTION_MS: i64 = 60_000;
const NAMES: [&str; 4] = ["alpha", "beta", "gamma", "bad name"];
/// Principals: of tokens, and of the senders of entries.
pub const PRINCIPALS: [&str; 3] = ["alice", "bob@example.com", "bad principal"];

#[derive(Clone, Debug)]
pub enum Op {
    CreateLb {
        name: usize,
        wrong_subnet: bool,
    },
    UpdateLb {
        lb: usize,
        name: Option<usize>,
        stale: bool,
        admin_state_up: Option<bool>,
        protect: Option<bool>,
    },
    DeleteLb {
        lb: usize,
        cascade: bool,
    },
    AllocateEip,
    ReleaseEip {
        eip: usize,
    },
    Associate {
        lb: usize,
        eip: usize,
    },
    Disassociate {
        lb: usize,
    },
    CreateListener {
        lb: usize,
        name: usize,
        protocol: i32,
        port: usize,
        group: Option<usize>,
        limit: usize,
    },
    UpdateListener {
        listener: usize,
        port: Option<usize>,
        protocol: Option<i32>,
        limit: Option<usize>,
        /// `Some(None)`: no default group.
        group: Option<Option<usize>>,
        admin_state_up: Option<bool>,
        describe: bool,
    },
    DeleteListener {
        listener: usize,
    },
    CreateGroup {
        lb: usize,
        name: usize,
        members: Vec<(usize, usize, u32)>,
    },
    DeleteGroup {
        group: usize,
        cascade: bool,
    },
    AddMember {
        group: usize,
        member: (usize, usize, u32),
    },
    RemoveMember {
        group: usize,
        member: usize,
    },
    UpdateMember {
        group: usize,
        member: usize,
        weight: Option<u32>,
        admin_state_up: Option<bool>,
    },
    UpdateGroup {
        group: usize,
        algorithm: Option<i32>,
        describe: bool,
    },
    DeleteInstance {
        instance: usize,
    },
    ReplaceMembers {
        group: usize,
        members: Vec<(usize, usize, u32)>,
    },
    IssueToken {
        principal: usize,
        role: i32,
        secret: u8,
    },
    RevokeToken {
        token: usize,
        stale: bool,
    },
    RetryPrevious,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub op: Op,
    pub token: Option<u8>,
    pub sender: Option<usize>,
    pub time_step_ms: i64,
}

fn member_strategy() -> impl Strategy<Value = (usize, usize, u32)> {
    (0..4usize, 0..PORTS.len(), 0..=110u32)
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let index = || 0..6usize;
    prop_oneof![
        3 => (0..NAMES.len(), prop::bool::weighted(0.1)).prop_map(|(name, wrong_subnet)| Op::CreateLb { name, wrong_subnet }),
        2 => (index(), prop::option::of(0..NAMES.len()), any::<bool>(), prop::option::of(any::<bool>()), prop::option::of(any::<bool>()))
            .prop_map(|(lb, name, stale, admin_state_up, protect)| Op::UpdateLb { lb, name, stale, admin_state_up, protect }),
        1 => (index(), any::<bool>()).prop_map(|(lb, cascade)| Op::DeleteLb { lb, cascade }),
        2 => Just(Op::AllocateEip),
        1 => index().prop_map(|eip| Op::ReleaseEip { eip }),
        3 => (index(), index()).prop_map(|(lb, eip)| Op::Associate { lb, eip }),
        1 => index().prop_map(|lb| Op::Disassociate { lb }),
        6 => (index(), 0..NAMES.len(), 0..4i32, 0..PORTS.len(), prop::option::of(index()), 0..LIMITS.len())
            .prop_map(|(lb, name, protocol, port, group, limit)| Op::CreateListener { lb, name, protocol, port, group, limit }),
        3 => (
            (index(), prop::option::of(0..PORTS.len()), prop::option::of(0..4i32), prop::option::of(0..LIMITS.len())),
            (prop::option::of(prop::option::of(index())), prop::option::of(any::<bool>()), any::<bool>()),
        )
            .prop_map(|((listener, port, protocol, limit), (group, admin_state_up, describe))| Op::UpdateListener {
                listener, port, protocol, limit, group, admin_state_up, describe,
            }),
        1 => index().prop_map(|listener| Op::DeleteListener { listener }),
        4 => (index(), 0..NAMES.len(), prop::collection::vec(member_strategy(), 0..4))
            .prop_map(|(lb, name, members)| Op::CreateGroup { lb, name, members }),
        1 => (index(), any::<bool>()).prop_map(|(group, cascade)| Op::DeleteGroup { group, cascade }),
        3 => (index(), member_strategy()).prop_map(|(group, member)| Op::AddMember { group, member }),
        1 => (index(), index()).prop_map(|(group, member)| Op::RemoveMember { group, member }),
        2 => (index(), index(), prop::option::of(0..=110u32), prop::option::of(any::<bool>()))
            .prop_map(|(group, member, weight, admin_state_up)| Op::UpdateMember { group, member, weight, admin_state_up }),
        1 => (index(), prop::option::of(0..4i32), any::<bool>())
            .prop_map(|(group, algorithm, describe)| Op::UpdateGroup { group, algorithm, describe }),
        1 => (0..4usize).prop_map(|instance| Op::DeleteInstance { instance }),
        2 => (index(), prop::collection::vec(member_strategy(), 0..4))
            .prop_map(|(group, members)| Op::ReplaceMembers { group, members }),
        2 => (0..PRINCIPALS.len(), 0..5i32, 0..4u8)
            .prop_map(|(principal, role, secret)| Op::IssueToken { principal, role, secret }),
        1 => (index(), any::<bool>()).prop_map(|(token, stale)| Op::RevokeToken { token, stale }),
        2 => Just(Op::RetryPrevious),
    ]
}

pub fn step_strategy() -> impl Strategy<Value = Step> {
    (
        op_strategy(),
        prop::option::of(0..6u8),
        prop::option::of(prop::sample::select(vec![0, 0, 0, 1, 2])),
        -2_000i64..30_000,
    )
        .prop_map(|(op, token, sender, time_step_ms)| Step {
            op,
            token,
            sender,
            time_step_ms,
        })
}

/// The world the random commands act in: ids that exist before the first step.
pub struct World {
    pub log: Log,
    network: String,
    subnet: String,
    other_subnet: String,
    instances: Vec<String>,
    certificate: String,
}

impl World {
    pub fn new() -> Self {
        let mut log = Log::new();
        log.ok(Kind::UpdateClusterSettings(
            v1::UpdateClusterSettingsRequest {
                client_token_retention_s: Some(TOKEN_RETENTION_MS as u64 / 1000),
                client_token_capacity: Some(4),
                history_retention_revisions: Some(40),
                ..Default::default()
            },
        ));
        let network_id = log.ok(network("net", "10.0.0.0/16")).resource_id;
        let subnet_id = log
            .ok(subnet("subnet", &network_id, "10.0.1.0/24"))
            .resource_id;
        let mut instances: Vec<String> = (0..3)
            .map(|i| {
                log.ok(instance(
                    &format!("web{i}"),
                    &subnet_id,
                    &format!("10.0.1.{}", 10 + i),
                ))
                .resource_id
            })
            .collect();
        let other_network = log.ok(network("other", "10.9.0.0/16")).resource_id;
        let other_subnet = log
            .ok(subnet("other", &other_network, "10.9.1.0/24"))
            .resource_id;
        instances.push(
            log.ok(instance("stranger", &other_subnet, "10.9.1.5"))
                .resource_id,
        );
        let certificate = log.ok(certificate("site")).resource_id;
        Self {
            log,
            network: network_id,
            subnet: subnet_id,
            other_subnet,
            instances,
            certificate,
        }
    }

    fn nth<K: ToString, V>(
        map: &std::collections::BTreeMap<K, V>,
        index: usize,
        missing: &str,
    ) -> String {
        if map.is_empty() {
            return missing.to_owned();
        }
        map.keys()
            .nth(index % map.len())
            .map(ToString::to_string)
            .unwrap_or_else(|| missing.to_owned())
    }

    fn lb(&self, index: usize) -> String {
        Self::nth(
            self.log.state.catalog().load_balancers(),
            index,
            "lb-missing",
        )
    }

    /// The ids of the `member`th member of the `group`th group (or ids
    /// that name none).
    fn member_of(&self, group: usize, member: usize) -> (String, String) {
        let catalog = self.log.state.catalog();
        let group_id = Self::nth(catalog.groups(), group, "vsg-missing");
        let member_id = catalog
            .groups()
            .values()
            .find(|g| g.id.as_str() == group_id)
            .filter(|g| !g.members.is_empty())
            .map(|g| g.members[member % g.members.len()].id.to_string())
            .unwrap_or_else(|| "mbr-missing".to_owned());
        (group_id, member_id)
    }

    fn member(&self, (instance, port, weight): (usize, usize, u32)) -> v1::MemberSpec {
        member(&self.instances[instance], PORTS[port], Some(weight))
    }

    /// The request for `op`, against the current state.
    pub fn request(&self, op: &Op) -> Kind {
        let catalog = self.log.state.catalog();
        match op {
            Op::CreateLb { name, wrong_subnet } => load_balancer(
                NAMES[*name],
                &self.network,
                if *wrong_subnet {
                    &self.other_subnet
                } else {
                    &self.subnet
                },
            ),
            Op::UpdateLb {
                lb,
                name,
                stale,
                admin_state_up,
                protect,
            } => {
                let id = self.lb(*lb);
                let revision = catalog
                    .load_balancers()
                    .values()
                    .find(|r| r.id.as_str() == id)
                    .map(|r| r.meta.revision);
                Kind::UpdateLoadBalancer(v1::UpdateLoadBalancerRequest {
                    id,
                    name: name.map(|n| NAMES[n].to_owned()),
                    expected_revision: revision
                        .map(|r| if *stale { r.saturating_sub(1) } else { r }),
                    admin_state_up: *admin_state_up,
                    delete_protection: *protect,
                    ..Default::default()
                })
            }
            Op::DeleteLb { lb, cascade } => {
                Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
                    id: self.lb(*lb),
                    cascade: *cascade,
                    ..Default::default()
                })
            }
            Op::AllocateEip => allocate_eip(""),
            Op::ReleaseEip { eip } => Kind::ReleaseEip(v1::ReleaseEipRequest {
                id: Self::nth(catalog.eips(), *eip, "eip-missing"),
                ..Default::default()
            }),
            Op::Associate { lb, eip } => associate(
                &self.lb(*lb),
                &Self::nth(catalog.eips(), *eip, "eip-missing"),
            ),
            Op::Disassociate { lb } => Kind::DisassociateEip(v1::DisassociateEipRequest {
                load_balancer_id: self.lb(*lb),
                ..Default::default()
            }),
            Op::CreateListener {
                lb,
                name,
                protocol,
                port,
                group,
                limit,
            } => {
                let mut request =
                    listener(&self.lb(*lb), NAMES[*name], v1::Protocol::Tcp, PORTS[*port]);
                request.protocol = *protocol;
                if *protocol == v1::Protocol::Https as i32 {
                    request.certificate_id = self.certificate.clone();
                }
                request.default_group_id = group
                    .map(|g| Self::nth(catalog.groups(), g, ""))
                    .unwrap_or_default();
                request.connection_limit = Some(LIMITS[*limit]);
                Kind::CreateListener(request)
            }
            Op::UpdateListener {
                listener,
                port,
                protocol,
                limit,
                group,
                admin_state_up,
                describe,
            } => Kind::UpdateListener(v1::UpdateListenerRequest {
                id: Self::nth(catalog.listeners(), *listener, "lsn-missing"),
                port: port.map(|p| PORTS[p]),
                protocol: *protocol,
                connection_limit: limit.map(|l| LIMITS[l]),
                default_group_id: group.map(|group| {
                    group
                        .map(|g| Self::nth(catalog.groups(), g, ""))
                        .unwrap_or_default()
                }),
                admin_state_up: *admin_state_up,
                description: describe.then(|| format!("at {}", self.log.now_ms)),
                ..Default::default()
            }),
            Op::DeleteListener { listener } => Kind::DeleteListener(v1::DeleteListenerRequest {
                id: Self::nth(catalog.listeners(), *listener, "lsn-missing"),
                ..Default::default()
            }),
            Op::CreateGroup { lb, name, members } => Kind::CreateGroup(group(
                &self.lb(*lb),
                NAMES[*name],
                members.iter().map(|m| self.member(*m)).collect(),
            )),
            Op::DeleteGroup { group, cascade } => Kind::DeleteGroup(v1::DeleteGroupRequest {
                id: Self::nth(catalog.groups(), *group, "vsg-missing"),
                cascade: *cascade,
                ..Default::default()
            }),
            Op::AddMember { group, member } => Kind::AddMember(v1::AddMemberRequest {
                group_id: Self::nth(catalog.groups(), *group, "vsg-missing"),
                member: Some(self.member(*member)),
                ..Default::default()
            }),
            Op::RemoveMember { group, member } => {
                let (group_id, member_id) = self.member_of(*group, *member);
                Kind::RemoveMember(v1::RemoveMemberRequest {
                    group_id,
                    member_id,
                    ..Default::default()
                })
            }
            Op::UpdateMember {
                group,
                member,
                weight,
                admin_state_up,
            } => {
                let (group_id, member_id) = self.member_of(*group, *member);
                Kind::UpdateMember(v1::UpdateMemberRequest {
                    group_id,
                    member_id,
                    weight: *weight,
                    admin_state_up: *admin_state_up,
                    ..Default::default()
                })
            }
            Op::UpdateGroup {
                group,
                algorithm,
                describe,
            } => Kind::UpdateGroup(v1::UpdateGroupRequest {
                id: Self::nth(catalog.groups(), *group, "vsg-missing"),
                algorithm: *algorithm,
                description: describe.then(|| format!("at {}", self.log.now_ms)),
                ..Default::default()
            }),
            Op::DeleteInstance { instance } => Kind::DeleteInstance(v1::DeleteInstanceRequest {
                id: self.instances[*instance].clone(),
                ..Default::default()
            }),
            Op::ReplaceMembers { group, members } => {
                Kind::ReplaceMembers(v1::ReplaceMembersRequest {
                    group_id: Self::nth(catalog.groups(), *group, "vsg-missing"),
                    members: members.iter().map(|m| self.member(*m)).collect(),
                    ..Default::default()
                })
            }
            Op::IssueToken {
                principal,
                role,
                secret,
            } => Kind::IssueAccessToken(v1::IssueAccessToken {
                request: Some(v1::CreateAccessTokenRequest {
                    principal: PRINCIPALS[*principal].to_owned(),
                    role: *role,
                    ..Default::default()
                }),
                secret_sha256: secret_hash(*secret),
            }),
            Op::RevokeToken { token, stale } => {
                let tokens = self.log.state.access_tokens();
                let found = (!tokens.is_empty())
                    .then(|| tokens.values().nth(token % tokens.len()))
                    .flatten();
                revoke_token(
                    &found.map_or_else(|| "tok-missing".to_owned(), |t| t.id.to_string()),
                    found.map(|t| if *stale { t.revision + 1 } else { t.revision }),
                )
            }
            Op::RetryPrevious => unreachable!("retries resubmit the previous envelope"),
        }
    }
}
