//! The data-plane projection kept per change: after any command sequence it
//! equals a compile from scratch; a reader that follows its journal reaches
//! the same entries; a change that serves nothing new journals nothing; a
//! change to a group journals only the listeners of that group.

use std::collections::BTreeMap;
use std::sync::Arc;

use fulcrum_api::v1;
use fulcrum_raft_store::domain::projection::dataplane::{
    DataPlaneChanges, DataPlaneConfig, ForwardingEntry, MAX_JOURNAL_REVISIONS,
};
use fulcrum_raft_store::domain::{ListenerId, Revision, State};
use proptest::prelude::*;
use v1::command::Kind;

use crate::harness::*;
use crate::random_log::{Op, PRINCIPALS, World, step_strategy};

/// A reader of the projection, as a node's data plane is: its own copy of
/// the entries and the revision it copied them at.
#[derive(Default)]
struct Reader {
    revision: Revision,
    entries: BTreeMap<ListenerId, Arc<ForwardingEntry>>,
}

impl Reader {
    /// Catches up with `state`; returns how many listeners it was told of.
    fn catch_up(&mut self, state: &State) -> usize {
        let told = match state.data_plane_changes_since(self.revision) {
            DataPlaneChanges::Everything(entries) => {
                let told = entries.len();
                self.entries = entries
                    .into_iter()
                    .map(|entry| (entry.listener_id.clone(), entry))
                    .collect();
                told
            }
            DataPlaneChanges::Since(changes) => {
                let told = changes.len();
                for (id, entry) in changes {
                    match entry {
                        Some(entry) => self.entries.insert(id, entry),
                        None => self.entries.remove(&id),
                    };
                }
                told
            }
        };
        self.revision = state.revision();
        told
    }
}

fn compiled(state: &State) -> DataPlaneConfig {
    DataPlaneConfig::compile(state.catalog(), state.revision())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// After every step of a random sequence the kept projection equals a
    /// compile from scratch; a reader that catches up now and then (some
    /// steps apart) holds exactly the kept entries.
    #[test]
    fn the_projection_kept_per_change_equals_a_compile_from_scratch(
        steps in prop::collection::vec((step_strategy(), any::<bool>()), 1..120),
    ) {
        let mut world = World::new();
        let mut reader = Reader::default();
        for (step, read) in &steps {
            if matches!(step.op, Op::RetryPrevious) {
                continue;
            }
            world.log.now_ms += step.time_step_ms.max(0);
            let sender = step.sender.map_or("", |sender| PRINCIPALS[sender]);
            let token = step.token.map(|t| format!("t{t}")).unwrap_or_default();
            let kind = world.request(&step.op);
            world.log.apply_envelope(envelope_from(sender, &token, world.log.now_ms, kind));
            let state = &world.log.state;
            prop_assert_eq!(state.data_plane_config(), compiled(state));
            if *read {
                reader.catch_up(state);
                prop_assert_eq!(&reader.entries, state.data_plane().entries());
            }
        }
        reader.catch_up(&world.log.state);
        prop_assert_eq!(&reader.entries, world.log.state.data_plane().entries());
    }
}

/// The fixture's projection with a reader caught up with it.
fn fixture_and_reader() -> (Fixture, Reader) {
    let fixture = Fixture::new();
    let mut reader = Reader::default();
    reader.catch_up(&fixture.log.state);
    assert_eq!(reader.entries.len(), 2, "the fixture serves http and https");
    (fixture, reader)
}

#[test]
fn a_description_or_tag_update_changes_no_entry() {
    let (mut fixture, mut reader) = fixture_and_reader();
    let (lb, http, pool) = (fixture.id("lb"), fixture.id("http"), fixture.id("pool"));
    let log = &mut fixture.log;
    log.ok(Kind::UpdateLoadBalancer(v1::UpdateLoadBalancerRequest {
        id: lb,
        description: Some("the shop".into()),
        ..Default::default()
    }));
    log.ok(Kind::UpdateListener(v1::UpdateListenerRequest {
        id: http,
        description: Some("port 80".into()),
        tags: Some(v1::Tags {
            entries: [("team".to_owned(), "web".to_owned())].into(),
        }),
        ..Default::default()
    }));
    log.ok(Kind::UpdateGroup(v1::UpdateGroupRequest {
        id: pool,
        description: Some("web servers".into()),
        ..Default::default()
    }));
    assert_eq!(
        reader.catch_up(&log.state),
        0,
        "nothing the data plane serves changed"
    );
    assert_eq!(&reader.entries, log.state.data_plane().entries());
}

#[test]
fn a_member_weight_change_changes_only_the_listeners_of_its_group() {
    let (mut fixture, mut reader) = fixture_and_reader();
    let (pool, http) = (fixture.id("pool"), fixture.id("http"));
    let member_id = fixture
        .log
        .state
        .catalog()
        .groups()
        .values()
        .find(|group| group.id.as_str() == pool)
        .map(|group| group.members[0].id.to_string())
        .unwrap();
    let https = ListenerId::parse("id", &fixture.id("https")).unwrap();
    let before = Arc::clone(&reader.entries[&https]);
    fixture.log.ok(Kind::UpdateMember(v1::UpdateMemberRequest {
        group_id: pool,
        member_id,
        weight: Some(7),
        ..Default::default()
    }));
    let state = &fixture.log.state;
    let DataPlaneChanges::Since(changes) = state.data_plane_changes_since(reader.revision) else {
        panic!("a reader one revision behind gets the changes, not everything");
    };
    let changed: Vec<&str> = changes.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(changed, [http.as_str()]);
    let weights: Vec<u8> = changes[0]
        .1
        .as_ref()
        .unwrap()
        .group
        .as_ref()
        .unwrap()
        .members
        .iter()
        .map(|member| member.weight)
        .collect();
    assert_eq!(weights, [7, 10]);
    reader.catch_up(state);
    // The unchanged listener's entry is the very same, not a copy.
    assert!(Arc::ptr_eq(&before, &reader.entries[&https]));
}

#[test]
fn a_disassociated_eip_removes_its_listeners_and_an_association_brings_them_back() {
    let (mut fixture, mut reader) = fixture_and_reader();
    let (lb, eip) = (fixture.id("lb"), fixture.id("eip"));
    fixture
        .log
        .ok(Kind::DisassociateEip(v1::DisassociateEipRequest {
            load_balancer_id: lb.clone(),
            ..Default::default()
        }));
    assert_eq!(reader.catch_up(&fixture.log.state), 2);
    assert!(reader.entries.is_empty());
    fixture.log.ok(associate(&lb, &eip));
    assert_eq!(reader.catch_up(&fixture.log.state), 2);
    assert_eq!(&reader.entries, fixture.log.state.data_plane().entries());
    fixture.log.state.check_invariants().unwrap();
}

#[test]
fn a_reader_older_than_the_journal_reads_every_entry() {
    let (mut fixture, mut reader) = fixture_and_reader();
    let http = fixture.id("http");
    let stale = reader.revision;
    for limit in 0..=MAX_JOURNAL_REVISIONS as i64 {
        fixture
            .log
            .ok(Kind::UpdateListener(v1::UpdateListenerRequest {
                id: http.clone(),
                connection_limit: Some(limit + 1),
                ..Default::default()
            }));
    }
    let state = &fixture.log.state;
    assert!(matches!(
        state.data_plane_changes_since(stale),
        DataPlaneChanges::Everything(entries) if entries.len() == 2
    ));
    assert!(matches!(
        state.data_plane_changes_since(state.revision() - 1),
        DataPlaneChanges::Since(changes) if changes.len() == 1
    ));
    reader.catch_up(state);
    assert_eq!(&reader.entries, state.data_plane().entries());
}

#[test]
fn a_state_read_back_from_its_snapshot_serves_the_same_entries() {
    let (fixture, _) = fixture_and_reader();
    let state = &fixture.log.state;
    let read_back = State::read_snapshot(fixture.log.snapshot().as_slice()).unwrap();
    assert_eq!(read_back.data_plane(), state.data_plane());
    // Its journal starts at its revision: a reader from before reads everything.
    assert!(matches!(
        read_back.data_plane_changes_since(state.revision() - 1),
        DataPlaneChanges::Everything(_)
    ));
    assert!(matches!(
        read_back.data_plane_changes_since(state.revision()),
        DataPlaneChanges::Since(changes) if changes.is_empty()
    ));
}
