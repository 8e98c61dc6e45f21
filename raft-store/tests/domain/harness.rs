//! A log in memory: builds envelopes, applies them in order, and offers a
//! fixture state that every rule can be broken against.

use std::collections::BTreeMap;

use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use fulcrum_raft_store::domain::limits::Rules;
use fulcrum_raft_store::domain::projection::dataplane::ForwardingEntry;
use fulcrum_raft_store::domain::{
    Applied, Group, Listener, Receipt, Rejection, RejectionKind, State,
};
use v1::command::Kind;

pub use crate::sealed_stand_in::sealed_stand_in;

pub const START_MS: i64 = 1_700_000_000_000;
pub const STEP_MS: i64 = 1_000;
pub const EIP_POOL: &str = "203.0.113.0/28";

pub const CERTIFICATE_PEM: &str = include_str!("testdata/site.cert.pem");
/// The test certificate's key, clear: what a client uploads, and what
/// entries before log format 3 carry.
pub const PRIVATE_KEY_PEM: &str = include_str!("testdata/site.key.pem");

/// A state and the next log position and time.
#[derive(Clone)]
pub struct Log {
    pub state: State,
    pub next_index: u64,
    pub now_ms: i64,
    /// The log format its `submit*` and `ok`/`refused` entries are written in.
    pub format_version: u32,
    /// Every envelope applied, with its index, to replay elsewhere.
    pub entries: Vec<(u64, v1::LogEnvelope)>,
}

pub fn envelope(token: &str, at_ms: i64, kind: Kind) -> v1::LogEnvelope {
    envelope_from("", token, at_ms, kind)
}

/// An envelope sent by `principal` (empty: no authenticated sender).
pub fn envelope_from(principal: &str, token: &str, at_ms: i64, kind: Kind) -> v1::LogEnvelope {
    v1::LogEnvelope {
        format_version: LOG_FORMAT_VERSION,
        client_token: token.to_owned(),
        accepted_at_unix_ms: at_ms,
        principal: principal.to_owned(),
        command: Some(v1::Command { kind: Some(kind) }),
    }
}

impl Log {
    /// An empty state whose first entry sets an EIP pool, written in the
    /// current log format.
    pub fn new() -> Self {
        Self::at_format(LOG_FORMAT_VERSION)
    }

    /// An empty state whose first entry sets an EIP pool, every entry
    /// written in log format `format_version`, as an older build wrote them.
    pub fn at_format(format_version: u32) -> Self {
        let mut log = Self {
            state: State::default(),
            next_index: 1,
            now_ms: START_MS,
            format_version,
            entries: Vec::new(),
        };
        log.ok(Kind::UpdateClusterSettings(
            v1::UpdateClusterSettingsRequest {
                eip_pool: Some(v1::EipPool {
                    cidrs: vec![EIP_POOL.to_owned()],
                }),
                ..Default::default()
            },
        ));
        log
    }

    pub fn apply_envelope(&mut self, envelope: v1::LogEnvelope) -> Applied {
        let index = self.next_index;
        self.next_index += 1;
        let applied = self
            .state
            .apply(index, &envelope)
            .expect("format version is supported");
        self.entries.push((index, envelope));
        applied
    }

    pub fn submit_with_token(&mut self, token: &str, kind: Kind) -> Applied {
        self.now_ms += STEP_MS;
        let mut entry = envelope(token, self.now_ms, kind);
        entry.format_version = self.format_version;
        self.apply_envelope(entry)
    }

    /// Submits one entry written in log format `format_version`, whatever
    /// the log's own format: an older entry replayed after newer ones.
    pub fn submit_at(&mut self, format_version: u32, kind: Kind) -> Applied {
        self.now_ms += STEP_MS;
        let mut entry = envelope("", self.now_ms, kind);
        entry.format_version = format_version;
        self.apply_envelope(entry)
    }

    pub fn submit(&mut self, kind: Kind) -> Applied {
        self.submit_with_token("", kind)
    }

    /// Submits `kind` as sent by `principal`.
    pub fn submit_as(&mut self, principal: &str, kind: Kind) -> Applied {
        self.now_ms += STEP_MS;
        let mut entry = envelope_from(principal, "", self.now_ms, kind);
        entry.format_version = self.format_version;
        self.apply_envelope(entry)
    }

    #[track_caller]
    pub fn ok(&mut self, kind: Kind) -> Receipt {
        let described = format!("{kind:?}");
        match self.submit(kind).answer {
            Ok(receipt) => receipt,
            Err(rejection) => panic!("{described} was refused: {rejection:?}"),
        }
    }

    #[track_caller]
    pub fn refused(&mut self, kind: Kind) -> Rejection {
        let described = format!("{kind:?}");
        match self.submit(kind).answer {
            Ok(receipt) => panic!("{described} was accepted at revision {}", receipt.revision),
            Err(rejection) => rejection,
        }
    }

    pub fn snapshot(&self) -> Vec<u8> {
        self.state.to_snapshot_bytes().expect("state encodes")
    }
}

#[track_caller]
pub fn assert_rejection(rejection: &Rejection, kind: RejectionKind, field: &str) {
    assert_eq!(rejection.kind, kind, "wrong kind for {rejection:?}");
    assert!(
        rejection.message.contains(field),
        "message {:?} does not name the field {field:?}",
        rejection.message
    );
}

// Request builders: the smallest valid request of each kind.

pub fn network(name: &str, cidr: &str) -> Kind {
    Kind::CreateNetwork(v1::CreateNetworkRequest {
        name: name.into(),
        cidr: cidr.into(),
        ..Default::default()
    })
}

pub fn subnet(name: &str, network_id: &str, cidr: &str) -> Kind {
    Kind::CreateSubnet(v1::CreateSubnetRequest {
        name: name.into(),
        network_id: network_id.into(),
        cidr: cidr.into(),
        ..Default::default()
    })
}

pub fn instance(name: &str, subnet_id: &str, address: &str) -> Kind {
    Kind::CreateInstance(v1::CreateInstanceRequest {
        name: name.into(),
        subnet_id: subnet_id.into(),
        address: address.into(),
        ..Default::default()
    })
}

pub fn allocate_eip(address: &str) -> Kind {
    Kind::AllocateEip(v1::AllocateEipRequest {
        address: address.into(),
        ..Default::default()
    })
}

pub fn load_balancer(name: &str, network_id: &str, subnet_id: &str) -> Kind {
    Kind::CreateLoadBalancer(v1::CreateLoadBalancerRequest {
        name: name.into(),
        network_id: network_id.into(),
        subnet_id: subnet_id.into(),
        ..Default::default()
    })
}

pub fn associate(load_balancer_id: &str, eip_id: &str) -> Kind {
    Kind::AssociateEip(v1::AssociateEipRequest {
        load_balancer_id: load_balancer_id.into(),
        eip_id: eip_id.into(),
        ..Default::default()
    })
}

pub fn member(instance_id: &str, port: u32, weight: Option<u32>) -> v1::MemberSpec {
    v1::MemberSpec {
        instance_id: instance_id.into(),
        port,
        weight,
        admin_state_up: None,
    }
}

pub fn group(
    load_balancer_id: &str,
    name: &str,
    members: Vec<v1::MemberSpec>,
) -> v1::CreateGroupRequest {
    v1::CreateGroupRequest {
        load_balancer_id: load_balancer_id.into(),
        name: name.into(),
        members,
        ..Default::default()
    }
}

pub fn listener(
    load_balancer_id: &str,
    name: &str,
    protocol: v1::Protocol,
    port: u32,
) -> v1::CreateListenerRequest {
    v1::CreateListenerRequest {
        load_balancer_id: load_balancer_id.into(),
        name: name.into(),
        protocol: protocol as i32,
        port,
        ..Default::default()
    }
}

/// An upload of the test certificate in the current log format: its key
/// sealed (a stand-in, see [`sealed_stand_in`]), as the node proposes it.
pub fn certificate(name: &str) -> Kind {
    certificate_at(LOG_FORMAT_VERSION, name)
}

/// An upload of the test certificate as an entry of log format
/// `format_version` carries it: the key sealed from format 3 on, clear PEM
/// before.
pub fn certificate_at(format_version: u32, name: &str) -> Kind {
    let rules = Rules::of_format(format_version)
        .unwrap_or_else(|| panic!("log format {format_version} is unknown to this build"));
    let private_key = if rules.sealed_keys() {
        sealed_stand_in(PRIVATE_KEY_PEM)
    } else {
        PRIVATE_KEY_PEM.to_owned()
    };
    Kind::UploadCertificate(v1::UploadCertificateRequest {
        name: name.into(),
        certificate_chain: CERTIFICATE_PEM.into(),
        private_key,
        ..Default::default()
    })
}

/// A secret's SHA-256 as a test makes one up: `seed` repeated.
pub fn secret_hash(seed: u8) -> Vec<u8> {
    vec![seed; 32]
}

pub fn issue_token(principal: &str, role: v1::Role, secret_sha256: Vec<u8>) -> Kind {
    Kind::IssueAccessToken(v1::IssueAccessToken {
        request: Some(v1::CreateAccessTokenRequest {
            principal: principal.into(),
            role: role as i32,
            ..Default::default()
        }),
        secret_sha256,
    })
}

pub fn revoke_token(id: &str, expected_revision: Option<u64>) -> Kind {
    Kind::RevokeAccessToken(v1::RevokeAccessTokenRequest {
        id: id.into(),
        expected_revision,
        ..Default::default()
    })
}

/// A state with one of everything, to break rules against.
///
/// - network `net` 10.0.0.0/16 with subnet `subnet` 10.0.1.0/24 and instances
///   `web1` 10.0.1.11, `web2` 10.0.1.12;
/// - network `other-net` 10.9.0.0/16 with subnet and instance `stranger`;
/// - certificate `site`;
/// - Load Balancer `lb` with EIP `eip` (203.0.113.1), group `pool` (web1:8080
///   weight 30, web2:8080 weight 10) and listener `http` HTTP:80 → pool;
/// - Load Balancer `guarded` with delete protection, EIP `free-eip` unassociated.
pub struct Fixture {
    pub log: Log,
    pub ids: BTreeMap<&'static str, String>,
}

impl Fixture {
    pub fn new() -> Self {
        let mut log = Log::new();
        let mut ids = BTreeMap::new();
        let mut id = |log: &mut Log, name: &'static str, kind: Kind| {
            let receipt = log.ok(kind);
            ids.insert(name, receipt.resource_id.clone());
            receipt.resource_id
        };
        let net = id(&mut log, "net", network("net", "10.0.0.0/16"));
        let sub = id(&mut log, "subnet", subnet("subnet", &net, "10.0.1.0/24"));
        let web1 = id(&mut log, "web1", instance("web1", &sub, "10.0.1.11"));
        let web2 = id(&mut log, "web2", instance("web2", &sub, "10.0.1.12"));
        let other_net = id(&mut log, "other-net", network("other-net", "10.9.0.0/16"));
        let other_sub = id(
            &mut log,
            "other-subnet",
            subnet("other-subnet", &other_net, "10.9.1.0/24"),
        );
        id(
            &mut log,
            "stranger",
            instance("stranger", &other_sub, "10.9.1.5"),
        );
        let cert = id(&mut log, "site", certificate("site"));
        let eip = id(&mut log, "eip", allocate_eip(""));
        id(&mut log, "free-eip", allocate_eip(""));
        let lb = id(&mut log, "lb", load_balancer("lb", &net, &sub));
        log.ok(associate(&lb, &eip));
        let pool = id(
            &mut log,
            "pool",
            Kind::CreateGroup(group(
                &lb,
                "pool",
                vec![member(&web1, 8080, Some(30)), member(&web2, 8080, Some(10))],
            )),
        );
        let mut http = listener(&lb, "http", v1::Protocol::Http, 80);
        http.default_group_id = pool.clone();
        id(&mut log, "http", Kind::CreateListener(http));
        let mut https = listener(&lb, "https", v1::Protocol::Https, 443);
        https.certificate_id = cert;
        id(&mut log, "https", Kind::CreateListener(https));
        let guarded = id(&mut log, "guarded", load_balancer("guarded", &net, &sub));
        log.ok(Kind::UpdateLoadBalancer(v1::UpdateLoadBalancerRequest {
            id: guarded,
            delete_protection: Some(true),
            ..Default::default()
        }));
        Self { log, ids }
    }

    pub fn id(&self, name: &str) -> String {
        self.ids
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no {name}"))
            .clone()
    }
}

/// The listener of id `id` in the log's catalog.
pub fn listener_of<'a>(log: &'a Log, id: &str) -> &'a Listener {
    log.state
        .catalog()
        .listeners()
        .values()
        .find(|listener| listener.id.as_str() == id)
        .unwrap_or_else(|| panic!("no listener {id}"))
}

/// The group of id `id` in the log's catalog.
pub fn group_of<'a>(log: &'a Log, id: &str) -> &'a Group {
    log.state
        .catalog()
        .groups()
        .values()
        .find(|group| group.id.as_str() == id)
        .unwrap_or_else(|| panic!("no group {id}"))
}

/// The data plane's entry for listener `id`, which must be served.
pub fn served_entry(log: &Log, id: &str) -> ForwardingEntry {
    log.state
        .data_plane_config()
        .listeners
        .into_iter()
        .find(|entry| entry.listener_id.as_str() == id)
        .unwrap_or_else(|| panic!("listener {id} is not served"))
}
