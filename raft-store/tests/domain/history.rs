//! The event history: kept in revision order, compacted to its retention,
//! and refusing reads older than what it keeps.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{Compacted, Event};
use v1::command::Kind;

use crate::harness::*;

#[test]
fn history_is_compacted_to_its_retention_and_refuses_older_reads() {
    let mut log = Log::new();
    log.ok(Kind::UpdateClusterSettings(
        v1::UpdateClusterSettingsRequest {
            history_retention_revisions: Some(3),
            ..Default::default()
        },
    ));
    for i in 0..5 {
        log.ok(network(&format!("n{i}"), "10.0.0.0/16"));
    }
    let revision = log.state.revision();
    assert_eq!(revision, 7);
    let history = log.state.history();
    assert_eq!(history.first_kept(), 5);
    let kept: Vec<u64> = history
        .read(0, usize::MAX, |_| true)
        .unwrap()
        .iter()
        .map(|e| e.revision)
        .collect();
    assert_eq!(kept, vec![5, 6, 7]);
    assert_eq!(
        history.read(4, 10, |_| true),
        Err(Compacted {
            asked: 4,
            first_kept: 5
        })
    );
    // Reading from the first kept revision, or from the future, is fine.
    assert_eq!(history.read(5, 1, |_| true).unwrap().len(), 1);
    assert!(history.read(revision + 1, 10, |_| true).unwrap().is_empty());
}

#[test]
fn one_command_appends_all_its_events_at_one_revision() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let receipt = fixture
        .log
        .ok(Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
            id: lb.clone(),
            cascade: true,
            ..Default::default()
        }));
    let events = fixture
        .log
        .state
        .history()
        .read(receipt.revision, 1, |_| true)
        .unwrap();
    let names: Vec<&str> = events
        .iter()
        .map(|recorded| match &recorded.event {
            Event::ListenerDeleted { .. } => "listener deleted",
            Event::GroupDeleted { .. } => "group deleted",
            Event::EipDisassociated { .. } => "EIP disassociated",
            Event::LoadBalancerDeleted { .. } => "load balancer deleted",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "listener deleted",
            "listener deleted",
            "group deleted",
            "EIP disassociated",
            "load balancer deleted"
        ]
    );
    assert!(
        events
            .iter()
            .all(|recorded| recorded.revision == receipt.revision)
    );
    // The listener events name the Load Balancer as their parent, for history by resource.
    assert!(
        events
            .iter()
            .take(3)
            .all(|recorded| recorded.event.parent_id() == lb)
    );
}
