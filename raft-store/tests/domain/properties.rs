//! Property tests over random command sequences, valid and invalid.
//!
//! After every step the invariants hold and revisions only move forward with
//! accepted commands; the same log gives the same snapshot bytes; a snapshot
//! taken midway plus the rest of the log equals the full replay; and a
//! retried client token never applies twice. A failure prints the shrunk
//! sequence; proptest keeps its seed in `proptest-regressions/`.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::State;
use proptest::prelude::*;
use v1::command::Kind;

use crate::harness::*;

const PORTS: [u32; 5] = [80, 443, 8080, 0, 65535];
const LIMITS: [i64; 5] = [-1, 0, 1, 100, 2_000_000];
const TOKEN_RETENTION_MS: i64 = 60_000;
const NAMES: [&str; 4] = ["alpha", "beta", "gamma", "bad name"];

#[derive(Clone, Debug)]
enum Op {
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
    ReplaceMembers {
        group: usize,
        members: Vec<(usize, usize, u32)>,
    },
    RetryPrevious,
}

#[derive(Clone, Debug)]
struct Step {
    op: Op,
    token: Option<u8>,
    time_step_ms: i64,
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
        2 => (index(), prop::option::of(0..PORTS.len()), prop::option::of(0..4i32), prop::option::of(0..LIMITS.len()))
            .prop_map(|(listener, port, protocol, limit)| Op::UpdateListener { listener, port, protocol, limit }),
        1 => index().prop_map(|listener| Op::DeleteListener { listener }),
        4 => (index(), 0..NAMES.len(), prop::collection::vec(member_strategy(), 0..4))
            .prop_map(|(lb, name, members)| Op::CreateGroup { lb, name, members }),
        1 => (index(), any::<bool>()).prop_map(|(group, cascade)| Op::DeleteGroup { group, cascade }),
        3 => (index(), member_strategy()).prop_map(|(group, member)| Op::AddMember { group, member }),
        1 => (index(), index()).prop_map(|(group, member)| Op::RemoveMember { group, member }),
        2 => (index(), prop::collection::vec(member_strategy(), 0..4))
            .prop_map(|(group, members)| Op::ReplaceMembers { group, members }),
        2 => Just(Op::RetryPrevious),
    ]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    (op_strategy(), prop::option::of(0..6u8), -2_000i64..30_000).prop_map(
        |(op, token, time_step_ms)| Step {
            op,
            token,
            time_step_ms,
        },
    )
}

/// The world the random commands act in: ids that exist before the first step.
struct World {
    log: Log,
    network: String,
    subnet: String,
    other_subnet: String,
    instances: Vec<String>,
    certificate: String,
}

impl World {
    fn new() -> Self {
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

    fn member(&self, (instance, port, weight): (usize, usize, u32)) -> v1::MemberSpec {
        member(&self.instances[instance], PORTS[port], Some(weight))
    }

    /// The request for `op`, against the current state.
    fn request(&self, op: &Op) -> Kind {
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
            } => Kind::UpdateListener(v1::UpdateListenerRequest {
                id: Self::nth(catalog.listeners(), *listener, "lsn-missing"),
                port: port.map(|p| PORTS[p]),
                protocol: *protocol,
                connection_limit: limit.map(|l| LIMITS[l]),
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
                let group_id = Self::nth(catalog.groups(), *group, "vsg-missing");
                let member_id = catalog
                    .groups()
                    .values()
                    .find(|g| g.id.as_str() == group_id)
                    .filter(|g| !g.members.is_empty())
                    .map(|g| g.members[member % g.members.len()].id.to_string())
                    .unwrap_or_else(|| "mbr-missing".to_owned());
                Kind::RemoveMember(v1::RemoveMemberRequest {
                    group_id,
                    member_id,
                    ..Default::default()
                })
            }
            Op::ReplaceMembers { group, members } => {
                Kind::ReplaceMembers(v1::ReplaceMembersRequest {
                    group_id: Self::nth(catalog.groups(), *group, "vsg-missing"),
                    members: members.iter().map(|m| self.member(*m)).collect(),
                    ..Default::default()
                })
            }
            Op::RetryPrevious => unreachable!("retries resubmit the previous envelope"),
        }
    }
}

fn run(steps: &[Step], split: usize) -> Result<(), TestCaseError> {
    let mut world = World::new();
    let setup_entries = world.log.entries.len();
    // The records a store would hold, written from each entry's changes only.
    let mut store: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = world
        .log
        .state
        .record_keys()
        .into_iter()
        .map(|key| {
            (
                key.to_bytes(),
                world.log.state.record(&key).unwrap().unwrap(),
            )
        })
        .collect();
    let mut previous: Option<v1::LogEnvelope> = None;
    let mut previous_answer: Option<fulcrum_raft_store::domain::Answer> = None;
    // When the memory took each token, by the log's clock: a token is
    // remembered for the retention from then on, whatever retries follow.
    let mut remembered_at: std::collections::BTreeMap<String, i64> =
        std::collections::BTreeMap::new();
    for step in steps {
        world.log.now_ms += step.time_step_ms;
        let envelope = match (&step.op, &previous) {
            (Op::RetryPrevious, Some(previous)) => envelope(
                &previous.client_token,
                world.log.now_ms,
                previous.command.clone().unwrap().kind.unwrap(),
            ),
            (Op::RetryPrevious, None) => continue,
            (op, _) => {
                let token = step.token.map(|t| format!("t{t}")).unwrap_or_default();
                envelope(&token, world.log.now_ms, world.request(op))
            }
        };
        let revision_before = world.log.state.revision();
        let catalog_before = world.log.state.catalog().clone();
        let applied = world.log.apply_envelope(envelope.clone());
        // A store writes only the records an entry changed.
        for key in &applied.changed {
            match world.log.state.record(key).unwrap() {
                Some(value) => store.insert(key.to_bytes(), value),
                None => store.remove(&key.to_bytes()),
            };
        }

        world
            .log
            .state
            .check_invariants()
            .map_err(TestCaseError::fail)?;
        let token = envelope.client_token.clone();
        let clock = world.log.state.clock_ms();
        let is_retry = matches!(step.op, Op::RetryPrevious);
        let within_retention = remembered_at
            .get(&token)
            .is_some_and(|at| clock - at <= TOKEN_RETENTION_MS);
        if is_retry && !token.is_empty() && within_retention {
            // Within the retention window, the same token and request get the
            // first answer again and nothing is applied twice. The answer comes
            // from memory unless the first attempt reused a token for another
            // request: such a conflict is refused and never remembered.
            let was_conflict = matches!(&previous_answer, Some(Err(r)) if r.field.as_deref() == Some("client_token"));
            prop_assert_eq!(
                applied.replayed,
                !was_conflict,
                "retry of token {:?}",
                envelope.client_token
            );
            prop_assert_eq!(Some(&applied.answer), previous_answer.as_ref());
        }
        match (&applied.answer, applied.replayed) {
            (Ok(receipt), false) => {
                prop_assert_eq!(receipt.revision, revision_before + 1);
                prop_assert_eq!(world.log.state.revision(), revision_before + 1);
                prop_assert!(!applied.events.is_empty());
            }
            _ => {
                prop_assert_eq!(world.log.state.revision(), revision_before);
                prop_assert_eq!(world.log.state.catalog(), &catalog_before);
                prop_assert!(applied.events.is_empty());
            }
        }
        let conflict =
            matches!(&applied.answer, Err(r) if r.field.as_deref() == Some("client_token"));
        if !token.is_empty() && !applied.replayed && !conflict {
            remembered_at.insert(token, clock);
        }
        previous_answer = Some(applied.answer.clone());
        previous = Some(envelope);
    }

    // The records written from changes alone rebuild the same state.
    let rebuilt = State::from_records(&store).unwrap();
    prop_assert_eq!(
        &rebuilt,
        &world.log.state,
        "records written from changes differ from the state"
    );

    // The same log gives the same bytes.
    let full = world.log.snapshot();
    let mut replay = State::default();
    for (index, envelope) in &world.log.entries {
        replay.apply(*index, envelope).unwrap();
    }
    prop_assert_eq!(
        &replay.to_snapshot_bytes().unwrap(),
        &full,
        "a replay of the same log differs"
    );

    // A snapshot midway plus the rest of the log equals the full replay.
    let entries = &world.log.entries;
    let split = setup_entries + split % (entries.len() - setup_entries + 1);
    let mut prefix = State::default();
    for (index, envelope) in &entries[..split] {
        prefix.apply(*index, envelope).unwrap();
    }
    let mut restored = State::from_snapshot_bytes(&prefix.to_snapshot_bytes().unwrap()).unwrap();
    for (index, envelope) in &entries[split..] {
        restored.apply(*index, envelope).unwrap();
    }
    prop_assert_eq!(
        &restored.to_snapshot_bytes().unwrap(),
        &full,
        "snapshot at {} plus the rest differs",
        split
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_invariant(
        steps in prop::collection::vec(step_strategy(), 1..80),
        split in any::<usize>(),
    ) {
        run(&steps, split)?;
    }
}
