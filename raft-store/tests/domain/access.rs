//! Access tokens: issued with only a secret's hash, found by that hash,
//! revoked everywhere at one log position, bounded, and retried safely.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::limits::MAX_ACCESS_TOKENS;
use fulcrum_raft_store::domain::wire::event_view;
use fulcrum_raft_store::domain::{AccessTokenId, RecordKey, RejectionKind, Role, State};
use v1::command::Kind;

use crate::harness::*;

fn hash(seed: u8) -> [u8; 32] {
    [seed; 32]
}

#[test]
fn an_issued_token_is_listed_and_found_by_its_hash() {
    let mut log = Log::new();
    let mut request = issue_token("ops@example.com", v1::Role::Operator, secret_hash(1));
    if let Kind::IssueAccessToken(issue) = &mut request {
        issue.request.as_mut().unwrap().description = "deploys".into();
    }
    let applied = log.submit(request);
    let receipt = applied.answer.clone().unwrap();
    assert!(receipt.resource_id.starts_with("tok-"), "{receipt:?}");
    let id = AccessTokenId::parse("id", &receipt.resource_id).unwrap();
    assert!(
        applied
            .changed
            .contains(&RecordKey::AccessToken(id.clone()))
    );

    let listed: Vec<_> = log.state.access_tokens().values().collect();
    assert_eq!(listed.len(), 1);
    let token = listed[0];
    assert_eq!(token.id, id);
    assert_eq!(token.principal, "ops@example.com");
    assert_eq!(token.role, Role::Operator);
    assert_eq!(token.description, "deploys");
    assert_eq!(token.created_at_ms, log.now_ms);
    assert_eq!(token.revision, receipt.revision);
    assert_eq!(
        log.state
            .access_token_by_secret_hash(&hash(1))
            .map(|t| &t.id),
        Some(&id)
    );
    assert!(log.state.access_token_by_secret_hash(&hash(2)).is_none());

    let view = v1::AccessToken::from(token);
    assert_eq!(
        view,
        v1::AccessToken {
            id: receipt.resource_id.clone(),
            description: "deploys".into(),
            created_at_unix_ms: log.now_ms,
            revision: receipt.revision,
            principal: "ops@example.com".into(),
            role: v1::Role::Operator as i32,
        }
    );
    log.state.check_invariants().unwrap();
}

#[test]
fn a_revoked_token_is_found_no_more() {
    let mut log = Log::new();
    let id = log
        .ok(issue_token("alice", v1::Role::Admin, secret_hash(1)))
        .resource_id;
    let other = log
        .ok(issue_token("bob", v1::Role::Viewer, secret_hash(2)))
        .resource_id;
    let issued_at = log
        .state
        .access_tokens()
        .values()
        .find(|token| token.id.as_str() == id)
        .unwrap()
        .revision;

    let stale = log.refused(revoke_token(&id, Some(issued_at + 1)));
    assert_rejection(&stale, RejectionKind::Aborted, "expected_revision");
    let applied = log.submit(revoke_token(&id, Some(issued_at)));
    assert_eq!(applied.answer.as_ref().unwrap().resource_id, id);
    assert!(applied.changed.contains(&RecordKey::AccessToken(
        AccessTokenId::parse("id", &id).unwrap()
    )));
    assert!(log.state.access_token_by_secret_hash(&hash(1)).is_none());
    let left: Vec<String> = log
        .state
        .access_tokens()
        .keys()
        .map(ToString::to_string)
        .collect();
    assert_eq!(left, [other]);

    let again = log.refused(revoke_token(&id, None));
    assert_rejection(&again, RejectionKind::NotFound, "id");
    let wrong_kind = log.refused(revoke_token("cert-1", None));
    assert_rejection(&wrong_kind, RejectionKind::InvalidArgument, "id");
    log.state.check_invariants().unwrap();
}

/// Each request is refused with its kind and the field it names, and changes nothing.
#[track_caller]
fn check_refused(log: &mut Log, kind: Kind, expected: RejectionKind, field: &str) {
    let revision = log.state.revision();
    let rejection = log.refused(kind);
    assert_rejection(&rejection, expected, field);
    assert_eq!(rejection.field.as_deref(), Some(field), "{rejection:?}");
    assert_eq!(log.state.revision(), revision);
    assert!(log.state.access_tokens().is_empty());
}

#[test]
fn bad_principals_roles_descriptions_and_hashes_are_named() {
    let mut log = Log::new();
    for principal in ["", "-x", ".x", "a b", "ünicode", "a/b", &"p".repeat(129)] {
        check_refused(
            &mut log,
            issue_token(principal, v1::Role::Viewer, secret_hash(1)),
            RejectionKind::InvalidArgument,
            "principal",
        );
    }
    check_refused(
        &mut log,
        issue_token("alice", v1::Role::Unspecified, secret_hash(1)),
        RejectionKind::InvalidArgument,
        "role",
    );
    let mut unknown_role = issue_token("alice", v1::Role::Viewer, secret_hash(1));
    if let Kind::IssueAccessToken(issue) = &mut unknown_role {
        issue.request.as_mut().unwrap().role = 99;
    }
    check_refused(
        &mut log,
        unknown_role,
        RejectionKind::InvalidArgument,
        "role",
    );
    for length in [0, 31, 33] {
        check_refused(
            &mut log,
            issue_token("alice", v1::Role::Viewer, vec![1; length]),
            RejectionKind::InvalidArgument,
            "secret_sha256",
        );
    }
    let mut long = issue_token("alice", v1::Role::Viewer, secret_hash(1));
    if let Kind::IssueAccessToken(issue) = &mut long {
        issue.request.as_mut().unwrap().description = "d".repeat(257);
    }
    check_refused(
        &mut log,
        long,
        RejectionKind::InvalidArgument,
        "description",
    );
    check_refused(
        &mut log,
        Kind::IssueAccessToken(v1::IssueAccessToken {
            request: None,
            secret_sha256: secret_hash(1),
        }),
        RejectionKind::InvalidArgument,
        "request",
    );
    // The longest principal and description pass.
    let mut longest = issue_token(&"p".repeat(128), v1::Role::Viewer, secret_hash(1));
    if let Kind::IssueAccessToken(issue) = &mut longest {
        issue.request.as_mut().unwrap().description = "d".repeat(256);
    }
    log.ok(longest);
}

#[test]
fn a_hash_already_held_is_refused() {
    let mut log = Log::new();
    let first = log
        .ok(issue_token("alice", v1::Role::Admin, secret_hash(7)))
        .resource_id;
    let rejection = log.refused(issue_token("mallory", v1::Role::Admin, secret_hash(7)));
    assert_rejection(&rejection, RejectionKind::AlreadyExists, "secret_sha256");
    assert!(rejection.message.contains(&first), "{rejection:?}");
    assert_eq!(
        log.state
            .access_token_by_secret_hash(&hash(7))
            .map(|token| token.principal.as_str()),
        Some("alice")
    );
    // Once revoked, the hash is free again.
    log.ok(revoke_token(&first, None));
    log.ok(issue_token("alice", v1::Role::Admin, secret_hash(7)));
}

#[test]
fn the_cluster_takes_its_token_ceiling_and_refuses_one_more() {
    let mut log = Log::new();
    let secret = |n: usize| {
        let mut hash = vec![0; 32];
        hash[..8].copy_from_slice(&(n as u64).to_be_bytes());
        hash
    };
    for n in 0..MAX_ACCESS_TOKENS {
        log.ok(issue_token("bot", v1::Role::Viewer, secret(n)));
    }
    assert_eq!(log.state.access_tokens().len(), MAX_ACCESS_TOKENS);
    let rejection = log.refused(issue_token(
        "bot",
        v1::Role::Viewer,
        secret(MAX_ACCESS_TOKENS),
    ));
    assert_eq!(rejection.kind, RejectionKind::ResourceExhausted);
    assert!(rejection.message.contains("10000"), "{rejection:?}");
    let first = log.state.access_tokens().keys().next().unwrap().to_string();
    log.ok(revoke_token(&first, None));
    log.ok(issue_token(
        "bot",
        v1::Role::Viewer,
        secret(MAX_ACCESS_TOKENS),
    ));
    log.state.check_invariants().unwrap();
}

#[test]
fn a_retry_with_a_new_secret_gets_the_first_receipt() {
    let mut log = Log::new();
    let first = log.submit_with_token(
        "create-ci",
        issue_token("ci", v1::Role::Operator, secret_hash(1)),
    );
    // The node that takes the retry generates another secret.
    let retry = log.submit_with_token(
        "create-ci",
        issue_token("ci", v1::Role::Operator, secret_hash(2)),
    );
    assert!(retry.replayed);
    assert_eq!(retry.answer, first.answer);
    assert_eq!(log.state.access_tokens().len(), 1);
    assert!(log.state.access_token_by_secret_hash(&hash(1)).is_some());
    assert!(log.state.access_token_by_secret_hash(&hash(2)).is_none());

    // Another request under the same client token is a conflict.
    let other = log.submit_with_token(
        "create-ci",
        issue_token("ci", v1::Role::Admin, secret_hash(3)),
    );
    assert_rejection(
        other.answer.as_ref().unwrap_err(),
        RejectionKind::InvalidArgument,
        "client_token",
    );
    assert_eq!(log.state.access_tokens().len(), 1);
}

#[test]
fn the_history_records_who_sent_each_command() {
    let mut log = Log::new();
    let net = log
        .submit_as("alice", network("net", "10.0.0.0/16"))
        .answer
        .unwrap();
    let token = log
        .submit_as("bob", issue_token("ci", v1::Role::Operator, secret_hash(1)))
        .answer
        .unwrap();
    log.submit_as("alice", revoke_token(&token.resource_id, None))
        .answer
        .unwrap();
    log.ok(network("anonymous", "10.1.0.0/16"));

    let history = log.state.history();
    let seen: Vec<(u64, &str)> = history
        .read(net.revision, usize::MAX, |_| true)
        .unwrap()
        .iter()
        .map(|event| (event.revision, event.principal.as_str()))
        .collect();
    let first = net.revision;
    assert_eq!(
        seen,
        [
            (first, "alice"),
            (first + 1, "bob"),
            (first + 2, "alice"),
            (first + 3, "")
        ]
    );

    // The API's view carries the principal, and a token without its hash.
    let views: Vec<v1::Event> = history
        .read(token.revision, 2, |_| true)
        .unwrap()
        .into_iter()
        .map(|event| event_view(log.state.catalog(), event))
        .collect();
    assert_eq!(views[0].principal, "bob");
    assert_eq!(views[0].r#type, v1::EventType::AccessTokenIssued as i32);
    assert_eq!(views[1].principal, "alice");
    assert_eq!(views[1].r#type, v1::EventType::AccessTokenRevoked as i32);
    for view in &views {
        assert_eq!(view.resource_id, token.resource_id);
        match &view.resource {
            Some(v1::event::Resource::AccessToken(shown)) => {
                assert_eq!(shown.principal, "ci");
                assert_eq!(shown.role, v1::Role::Operator as i32);
            }
            other => panic!("not an access token: {other:?}"),
        }
    }
}

#[test]
fn a_sender_principal_that_breaks_the_rule_is_refused() {
    let mut log = Log::new();
    let revision = log.state.revision();
    let applied = log.submit_as("not a principal", network("net", "10.0.0.0/16"));
    assert_rejection(
        applied.answer.as_ref().unwrap_err(),
        RejectionKind::InvalidArgument,
        "principal",
    );
    assert_eq!(log.state.revision(), revision);
}

/// Format 2 had no access tokens and no principal: its entries apply as a
/// build of format 2 applied them (an access-token kind was no command at all).
#[test]
fn a_format_two_entry_has_no_access_tokens_and_no_principal() {
    let mut log = Log::new();
    let mut issue = envelope_from(
        "alice",
        "",
        log.now_ms + STEP_MS,
        issue_token("alice", v1::Role::Admin, secret_hash(1)),
    );
    issue.format_version = 2;
    log.now_ms += STEP_MS;
    let rejection = log.apply_envelope(issue).answer.unwrap_err();
    assert_rejection(&rejection, RejectionKind::InvalidArgument, "command");
    assert!(rejection.message.contains("is required"), "{rejection:?}");
    assert!(log.state.access_tokens().is_empty());

    let mut create = envelope_from(
        "not even a valid principal",
        "",
        log.now_ms + STEP_MS,
        network("net", "10.0.0.0/16"),
    );
    create.format_version = 2;
    log.now_ms += STEP_MS;
    let receipt = log.apply_envelope(create).answer.unwrap();
    let recorded = log
        .state
        .history()
        .read(receipt.revision, 1, |_| true)
        .unwrap();
    assert_eq!(recorded[0].principal, "", "format 2 had no principal");
}

#[test]
fn tokens_survive_snapshots_and_records() {
    let mut log = Log::new();
    let kept = log
        .submit_as(
            "alice",
            issue_token("ci", v1::Role::Operator, secret_hash(1)),
        )
        .answer
        .unwrap();
    let revoked = log
        .ok(issue_token("old", v1::Role::Admin, secret_hash(2)))
        .resource_id;
    log.ok(revoke_token(&revoked, None));

    let bytes = log.snapshot();
    let read = State::from_snapshot_bytes(&bytes).unwrap();
    assert_eq!(read, log.state);
    assert_eq!(read.to_snapshot_bytes().unwrap(), bytes);
    read.check_invariants().unwrap();
    assert_eq!(
        read.access_token_by_secret_hash(&hash(1))
            .map(|token| token.id.to_string()),
        Some(kept.resource_id)
    );
    assert!(read.access_token_by_secret_hash(&hash(2)).is_none());

    let records: Vec<(Vec<u8>, Vec<u8>)> = log
        .state
        .record_keys()
        .into_iter()
        .map(|key| (key.to_bytes(), log.state.record(&key).unwrap().unwrap()))
        .collect();
    let rebuilt = State::from_records(records).unwrap();
    assert_eq!(rebuilt, log.state);
    assert!(rebuilt.access_token_by_secret_hash(&hash(1)).is_some());
}
