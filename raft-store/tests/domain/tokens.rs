//! Client tokens: the same token and request answer from memory and apply once.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::RejectionKind;
use v1::command::Kind;

use crate::harness::*;

fn create_lb(fixture: &Fixture, name: &str) -> Kind {
    load_balancer(name, &fixture.ids["net"], &fixture.ids["subnet"])
}

#[test]
fn a_retry_is_answered_from_memory_and_applied_once() {
    let mut fixture = Fixture::new();
    let request = create_lb(&fixture, "retried");
    let first = fixture
        .log
        .submit_with_token("create-retried", request.clone());
    let receipt = first.answer.clone().expect("accepted");
    assert!(!first.replayed);
    let catalog = fixture.log.state.catalog().clone();
    let retry = fixture.log.submit_with_token("create-retried", request);
    assert!(retry.replayed);
    assert_eq!(retry.answer, Ok(receipt));
    assert!(retry.events.is_empty());
    assert_eq!(
        fixture.log.state.catalog(),
        &catalog,
        "the retry changed the catalog"
    );
}

#[test]
fn a_refusal_is_remembered_too() {
    let mut fixture = Fixture::new();
    let request = create_lb(&fixture, "lb");
    let first = fixture.log.submit_with_token("dup", request.clone());
    assert_eq!(
        first.answer.as_ref().unwrap_err().kind,
        RejectionKind::AlreadyExists
    );
    // Even once the name is free, the token keeps its first answer.
    let lb = fixture.id("lb");
    fixture
        .log
        .ok(Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
            id: lb,
            cascade: true,
            ..Default::default()
        }));
    let retry = fixture.log.submit_with_token("dup", request);
    assert!(retry.replayed);
    assert_eq!(retry.answer, first.answer);
}

#[test]
fn the_same_token_with_another_request_is_invalid() {
    let mut fixture = Fixture::new();
    fixture
        .log
        .submit_with_token("t", create_lb(&fixture, "one"))
        .answer
        .unwrap();
    let revision = fixture.log.state.revision();
    let other = fixture
        .log
        .submit_with_token("t", create_lb(&fixture, "two"));
    assert_rejection(
        other.answer.as_ref().unwrap_err(),
        RejectionKind::InvalidArgument,
        "client_token",
    );
    assert_eq!(fixture.log.state.revision(), revision);
}

#[test]
fn tokens_longer_than_64_characters_are_invalid() {
    let mut fixture = Fixture::new();
    let applied = fixture
        .log
        .submit_with_token(&"t".repeat(65), create_lb(&fixture, "long"));
    assert_rejection(
        applied.answer.as_ref().unwrap_err(),
        RejectionKind::InvalidArgument,
        "client_token",
    );
    fixture
        .log
        .submit_with_token(&"t".repeat(64), create_lb(&fixture, "long"))
        .answer
        .unwrap();
}

#[test]
fn tokens_are_forgotten_by_age_and_by_count() {
    let mut log = Log::new();
    log.ok(Kind::UpdateClusterSettings(
        v1::UpdateClusterSettingsRequest {
            client_token_retention_s: Some(60),
            client_token_capacity: Some(3),
            ..Default::default()
        },
    ));
    let create = |name: &str| network(name, "10.0.0.0/16");
    for token in ["a", "b", "c", "d"] {
        log.submit_with_token(token, create(token)).answer.unwrap();
    }
    assert_eq!(log.state.tokens().len(), 3, "capacity bounds the memory");
    // "a" was the oldest: forgotten, so a retry applies again (a new network).
    let networks = log.state.catalog().networks().len();
    assert!(!log.submit_with_token("a", create("a")).replayed);
    assert_eq!(log.state.catalog().networks().len(), networks + 1);
    // "d" is still remembered.
    assert!(log.submit_with_token("d", create("d")).replayed);
    // A minute of log time later, everything is forgotten.
    log.now_ms += 61_000;
    assert!(!log.submit_with_token("d", create("d")).replayed);
}

#[test]
fn the_clock_never_goes_back_when_a_new_leader_stamps_an_earlier_time() {
    let mut log = Log::new();
    let late = log.now_ms + 10_000;
    log.apply_envelope(envelope("", late, network("late", "10.0.0.0/16")));
    log.apply_envelope(envelope("", late - 5_000, network("early", "10.1.0.0/16")));
    assert_eq!(log.state.clock_ms(), late);
    let early = log
        .state
        .catalog()
        .networks()
        .values()
        .find(|n| n.meta.name == "early")
        .unwrap();
    assert_eq!(
        early.meta.created_at_ms, late,
        "times are taken from the monotonic log clock"
    );
}
