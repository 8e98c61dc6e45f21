//! The fuzz targets `log_apply` and `raft_codec` in the normal test run: every
//! file of their seed corpus (`fuzz/corpus/<target>/`) and of their crashes
//! (`fuzz/regressions/<target>/`) goes through the same function the fuzz
//! target calls. A missing or empty directory fails, so that the replay
//! cannot pass by finding nothing.
//!
//! The seeds (`seed-*` files) are written by this test from real commands and
//! messages: a seed missing or different from what the generator makes is
//! (re)written and the test fails, asking for the new file to be committed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::{LOG_FORMAT_VERSION, OLDEST_LOG_FORMAT_VERSION, v1};
use fulcrum_raft_store::domain::State;
use fulcrum_raft_store::fuzzing::{self, CodecKind};
use fulcrum_raft_store::raft::sample::{sample_entries, sample_envelope, sample_log_id};
use fulcrum_raft_store::raft::{
    ClusterNode, Entry, LogId, Membership, SnapshotMeta, StoredMembership, TypeConfig, Vote, rpc,
};
use openraft::entry::RaftEntry;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, TransferLeaderRequest, VoteRequest, VoteResponse,
};
use v1::command::Kind;

#[path = "domain/sealed_stand_in.rs"]
#[allow(unreachable_pub)]
mod sealed_stand_in;

use sealed_stand_in::sealed_stand_in;

fn fuzz_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("raft-store sits in the workspace")
        .join("fuzz")
}

/// Runs every file of the target's corpus and regressions through `run`,
/// and names every file that panicked.
fn replay(target: &str, run: fn(&[u8])) {
    let mut failed = Vec::new();
    for kind in ["corpus", "regressions"] {
        let directory = fuzz_directory().join(kind).join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
            .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        assert!(
            !files.is_empty(),
            "{} holds no input: the replay would pass vacuously",
            directory.display()
        );
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{target} fails on:\n{}",
        failed.join("\n")
    );
}

/// Checks that each seed is committed as `fuzz/corpus/<target>/seed-<name>`;
/// writes the missing and changed ones and fails, so that they get committed.
fn check_seeds(target: &str, seeds: Vec<(&str, Vec<u8>)>) {
    let directory = fuzz_directory().join("corpus").join(target);
    std::fs::create_dir_all(&directory).unwrap();
    let mut written = Vec::new();
    for (name, bytes) in seeds {
        let path = directory.join(format!("seed-{name}"));
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            std::fs::write(&path, &bytes).unwrap();
            written.push(path.display().to_string());
        }
    }
    assert!(
        written.is_empty(),
        "seeds written from their generator; commit them:\n{}",
        written.join("\n")
    );
}

#[test]
fn log_apply_corpus_and_regressions_pass() {
    replay("log_apply", fuzzing::log_apply);
}

#[test]
fn raft_codec_corpus_and_regressions_pass() {
    replay("raft_codec", fuzzing::raft_codec);
}

#[test]
fn log_apply_seeds_are_committed() {
    check_seeds("log_apply", log_apply_seeds());
}

#[test]
fn raft_codec_seeds_are_committed() {
    check_seeds("raft_codec", raft_codec_seeds());
}

/// A log in the making: each command is applied as it is added, so that the
/// next can name what the previous created.
struct Log {
    state: State,
    envelopes: Vec<v1::LogEnvelope>,
    now_ms: i64,
}

impl Log {
    fn new() -> Self {
        let mut log = Self {
            state: State::default(),
            envelopes: Vec::new(),
            now_ms: 1_700_000_000_000,
        };
        log.add(Kind::UpdateClusterSettings(
            v1::UpdateClusterSettingsRequest {
                eip_pool: Some(v1::EipPool {
                    cidrs: vec!["203.0.113.0/28".into()],
                }),
                ..Default::default()
            },
        ));
        log
    }

    fn envelope(&mut self, format_version: u32, token: &str, kind: Kind) -> v1::LogEnvelope {
        self.now_ms += 1_000;
        v1::LogEnvelope {
            format_version,
            client_token: token.into(),
            accepted_at_unix_ms: self.now_ms,
            principal: String::new(),
            command: Some(v1::Command { kind: Some(kind) }),
        }
    }

    /// Applies and keeps an envelope; answers the id of what it created, or
    /// why it was refused or could not be applied.
    fn push(&mut self, envelope: v1::LogEnvelope) -> Result<String, String> {
        let index = self.envelopes.len() as u64 + 1;
        let answer = self.state.apply(index, &envelope);
        self.envelopes.push(envelope);
        match answer {
            Ok(applied) => applied
                .answer
                .map(|receipt| receipt.resource_id)
                .map_err(|rejection| format!("{rejection:?}")),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Adds a command that must be accepted.
    #[track_caller]
    fn add(&mut self, kind: Kind) -> String {
        let envelope = self.envelope(LOG_FORMAT_VERSION, "", kind);
        self.push(envelope)
            .unwrap_or_else(|refused| panic!("a seed command was refused: {refused}"))
    }

    fn input(&self) -> Vec<u8> {
        fuzzing::log_apply_input(&self.envelopes)
    }
}

fn network(name: &str, cidr: &str) -> Kind {
    Kind::CreateNetwork(v1::CreateNetworkRequest {
        name: name.into(),
        cidr: cidr.into(),
        ..Default::default()
    })
}

fn log_apply_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let sample: Vec<v1::LogEnvelope> = (1..=6).map(sample_envelope).collect();

    let mut load_balancer = Log::new();
    let net = load_balancer.add(network("net", "10.0.0.0/16"));
    let subnet = load_balancer.add(Kind::CreateSubnet(v1::CreateSubnetRequest {
        name: "subnet".into(),
        network_id: net.clone(),
        cidr: "10.0.1.0/24".into(),
        ..Default::default()
    }));
    let mut instances = Vec::new();
    for (name, address) in [("web1", "10.0.1.11"), ("web2", "10.0.1.12")] {
        instances.push(
            load_balancer.add(Kind::CreateInstance(v1::CreateInstanceRequest {
                name: name.into(),
                subnet_id: subnet.clone(),
                address: address.into(),
                ..Default::default()
            })),
        );
    }
    let eip = load_balancer.add(Kind::AllocateEip(v1::AllocateEipRequest::default()));
    let lb = load_balancer.add(Kind::CreateLoadBalancer(v1::CreateLoadBalancerRequest {
        name: "lb".into(),
        network_id: net,
        subnet_id: subnet,
        ..Default::default()
    }));
    load_balancer.add(Kind::AssociateEip(v1::AssociateEipRequest {
        load_balancer_id: lb.clone(),
        eip_id: eip,
        ..Default::default()
    }));
    let group = load_balancer.add(Kind::CreateGroup(v1::CreateGroupRequest {
        load_balancer_id: lb.clone(),
        name: "pool".into(),
        members: instances
            .iter()
            .map(|instance| v1::MemberSpec {
                instance_id: instance.clone(),
                port: 8080,
                weight: Some(10),
                admin_state_up: None,
            })
            .collect(),
        ..Default::default()
    }));
    let listener = load_balancer.add(Kind::CreateListener(v1::CreateListenerRequest {
        load_balancer_id: lb.clone(),
        name: "http".into(),
        protocol: v1::Protocol::Http as i32,
        port: 80,
        default_group_id: group,
        ..Default::default()
    }));
    load_balancer.add(Kind::UpdateListener(v1::UpdateListenerRequest {
        id: listener,
        insert_x_forwarded_for: Some(true),
        access_log: Some(true),
        ..Default::default()
    }));
    load_balancer.add(Kind::DisassociateEip(v1::DisassociateEipRequest {
        load_balancer_id: lb.clone(),
        ..Default::default()
    }));
    load_balancer.add(Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
        id: lb,
        cascade: true,
        ..Default::default()
    }));

    let mut tokens = Log::new();
    for (token, name) in [
        ("t-1", "a"),
        ("t-1", "a"),
        ("t-1", "b"),
        (&"x".repeat(65)[..], "c"),
    ] {
        let envelope = tokens.envelope(LOG_FORMAT_VERSION, token, network(name, "10.1.0.0/16"));
        let _ = tokens.push(envelope);
    }

    // The key sealed (a stand-in) in the current format; clear in a
    // format-2 entry; clear in the current format, which is refused.
    let upload = |name: &str, private_key: String| {
        Kind::UploadCertificate(v1::UploadCertificateRequest {
            name: name.into(),
            certificate_chain: include_str!("domain/testdata/site.cert.pem").into(),
            private_key,
            ..Default::default()
        })
    };
    let clear_key = include_str!("domain/testdata/site.key.pem");
    let mut certificate = Log::new();
    let id = certificate.add(upload("site", sealed_stand_in(clear_key)));
    let older = certificate.envelope(2, "", upload("older", clear_key.into()));
    certificate
        .push(older)
        .expect("a format-2 entry keeps its clear key");
    let clear = certificate.envelope(LOG_FORMAT_VERSION, "", upload("clear", clear_key.into()));
    certificate
        .push(clear)
        .expect_err("the current format refuses a clear key");
    certificate.add(Kind::DeleteCertificate(v1::DeleteCertificateRequest {
        id,
        ..Default::default()
    }));

    let mut access = Log::new();
    let issue = |secret: u8| {
        Kind::IssueAccessToken(v1::IssueAccessToken {
            request: Some(v1::CreateAccessTokenRequest {
                principal: "ci".into(),
                role: v1::Role::Operator as i32,
                ..Default::default()
            }),
            secret_sha256: vec![secret; 32],
        })
    };
    let mut first = access.envelope(LOG_FORMAT_VERSION, "t-issue", issue(1));
    first.principal = "alice".into();
    let id = access.push(first).expect("issued");
    // A retry with a new secret, a duplicate secret, and a format-2 entry.
    for (format, token, secret) in [
        (LOG_FORMAT_VERSION, "t-issue", 2),
        (LOG_FORMAT_VERSION, "", 1),
        (2, "", 3),
    ] {
        let envelope = access.envelope(format, token, issue(secret));
        let _ = access.push(envelope);
    }
    access.add(Kind::RevokeAccessToken(v1::RevokeAccessTokenRequest {
        id,
        ..Default::default()
    }));

    let mut formats = Log::new();
    for format in [
        OLDEST_LOG_FORMAT_VERSION,
        LOG_FORMAT_VERSION,
        LOG_FORMAT_VERSION + 1,
    ] {
        let name = format!("v{format}");
        let envelope = formats.envelope(format, "", network(&name, "10.2.0.0/16"));
        let _ = formats.push(envelope);
    }

    vec![
        ("sample-log", fuzzing::log_apply_input(&sample)),
        ("load-balancer", load_balancer.input()),
        ("client-tokens", tokens.input()),
        ("certificate", certificate.input()),
        ("format-versions", formats.input()),
        ("access-tokens", access.input()),
    ]
}

fn log_id(term: u64, index: u64) -> LogId {
    LogId {
        leader_id: openraft::impls::leader_id_adv::LeaderId { term, node_id: 1 },
        index,
    }
}

fn membership() -> Membership {
    let node = |n: u64| ClusterNode {
        raft_address: format!("10.0.0.{n}:7401"),
        api_address: format!("10.0.0.{n}:7400"),
    };
    Membership::new(
        vec![BTreeSet::from([1, 2, 3])],
        BTreeMap::from([(1, node(1)), (2, node(2)), (3, node(3)), (4, node(4))]),
    )
    .expect("voters have nodes")
}

fn raft_codec_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use fuzzing::raft_codec_input as input;

    let mut entries: Vec<Entry> = vec![Entry::new_blank(sample_log_id(1))];
    entries.push(Entry::new_membership(sample_log_id(2), membership()));
    entries.extend(sample_entries(3, 5));
    let append = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(1, 1),
        prev_log_id: None,
        entries,
        leader_commit: Some(sample_log_id(2)),
    };
    let append_wire = rpc::append_request_to_wire(&append);
    let heartbeat = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(2, 3),
        prev_log_id: Some(log_id(1, 5)),
        entries: Vec::new(),
        leader_commit: Some(log_id(1, 5)),
    };
    let stored_membership = StoredMembership::new(Some(sample_log_id(2)), membership());
    let meta = SnapshotMeta {
        last_log_id: Some(log_id(1, 5)),
        last_membership: stored_membership,
    };
    let meta_wire = rpc::snapshot_meta_to_wire(&meta);
    let append_response = |response: AppendEntriesResponse<TypeConfig>| {
        input(
            CodecKind::AppendResponse,
            &rpc::append_response_to_wire(&response),
        )
    };
    vec![
        (
            "append-request",
            input(CodecKind::AppendRequest, &append_wire),
        ),
        (
            "append-heartbeat",
            input(
                CodecKind::AppendRequest,
                &rpc::append_request_to_wire(&heartbeat),
            ),
        ),
        (
            "append-success",
            append_response(AppendEntriesResponse::Success),
        ),
        (
            "append-partial",
            append_response(AppendEntriesResponse::PartialSuccess(Some(log_id(1, 4)))),
        ),
        (
            "append-conflict",
            append_response(AppendEntriesResponse::Conflict),
        ),
        (
            "append-higher-vote",
            append_response(AppendEntriesResponse::HigherVote(Vote::new(3, 2))),
        ),
        (
            "vote-request",
            input(
                CodecKind::VoteRequest,
                &rpc::vote_request_to_wire(&VoteRequest {
                    vote: Vote::new(2, 2),
                    last_log_id: Some(log_id(1, 5)),
                    leadership_transfer: true,
                }),
            ),
        ),
        (
            "vote-response",
            input(
                CodecKind::VoteResponse,
                &rpc::vote_response_to_wire(&VoteResponse {
                    vote: Vote::new(2, 2),
                    vote_granted: true,
                    last_log_id: Some(log_id(1, 5)),
                }),
            ),
        ),
        (
            "transfer-leader",
            input(
                CodecKind::TransferLeaderRequest,
                &rpc::transfer_leader_request_to_wire(&TransferLeaderRequest::new(
                    Vote::new_committed(2, 1),
                    3,
                    Some(log_id(2, 9)),
                )),
            ),
        ),
        ("snapshot-meta", input(CodecKind::SnapshotMeta, &meta_wire)),
        (
            "stored-command",
            input(CodecKind::StoredEntry, &append_wire.entries[2]),
        ),
        (
            "stored-membership-entry",
            input(CodecKind::StoredEntry, &append_wire.entries[1]),
        ),
        (
            "stored-vote",
            input(
                CodecKind::StoredVote,
                &rpc::vote_to_wire(&Vote::new_committed(3, 2)),
            ),
        ),
        (
            "stored-log-id",
            input(
                CodecKind::StoredLogId,
                &internal::RaftLogId {
                    term: 3,
                    node_id: 2,
                    index: 41,
                },
            ),
        ),
        (
            "stored-membership",
            input(
                CodecKind::StoredMembership,
                meta_wire
                    .last_membership
                    .as_ref()
                    .expect("meta has a membership"),
            ),
        ),
    ]
}
