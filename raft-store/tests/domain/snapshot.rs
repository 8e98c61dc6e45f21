//! Snapshot bytes: deterministic, versioned, and checked on read.

use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use fulcrum_raft_store::domain::{
    ApplyError, Event, GroupId, ListenerId, RecordKey, SNAPSHOT_FORMAT_VERSION, SnapshotError,
    State,
};
use v1::command::Kind;

use crate::harness::*;

#[test]
fn a_snapshot_round_trips_byte_for_byte() {
    let fixture = Fixture::new();
    let bytes = fixture.log.snapshot();
    let decoded = State::from_snapshot_bytes(&bytes).unwrap();
    assert_eq!(decoded, fixture.log.state);
    assert_eq!(decoded.to_snapshot_bytes().unwrap(), bytes);
}

#[test]
fn corrupt_or_foreign_snapshots_are_refused_with_the_reason() {
    let bytes = Fixture::new().log.snapshot();
    let check = |bytes: &[u8]| State::from_snapshot_bytes(bytes).unwrap_err();

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    assert!(matches!(check(&flipped), SnapshotError::ChecksumMismatch));

    let mut foreign = bytes.clone();
    foreign[0] = b'X';
    assert!(matches!(check(&foreign), SnapshotError::BadMagic));

    let mut newer = bytes.clone();
    newer[8] = 99;
    assert!(matches!(
        check(&newer),
        SnapshotError::UnsupportedVersion {
            found: 99,
            supported: SNAPSHOT_FORMAT_VERSION
        }
    ));

    assert!(matches!(
        check(&bytes[..bytes.len() - 1]),
        SnapshotError::Truncated { .. }
    ));
    assert!(matches!(
        check(&bytes[..5]),
        SnapshotError::Truncated { .. }
    ));
}

#[test]
fn an_entry_of_an_unknown_format_stops_apply() {
    let mut state = State::default();
    let mut entry = envelope("", START_MS, network("n", "10.0.0.0/16"));
    entry.format_version = LOG_FORMAT_VERSION + 1;
    assert_eq!(
        state.apply(1, &entry),
        Err(ApplyError::UnsupportedFormat {
            log_index: 1,
            found: LOG_FORMAT_VERSION + 1,
            supported: LOG_FORMAT_VERSION
        })
    );
    assert_eq!(state, State::default(), "nothing was applied");
}

#[test]
fn an_entry_without_a_command_is_refused_not_fatal() {
    let mut state = State::default();
    let entry = v1::LogEnvelope {
        format_version: 1,
        accepted_at_unix_ms: START_MS,
        ..Default::default()
    };
    let applied = state.apply(1, &entry).unwrap();
    assert_rejection(
        applied.answer.as_ref().unwrap_err(),
        fulcrum_raft_store::domain::RejectionKind::InvalidArgument,
        "command",
    );
}

#[test]
#[should_panic(expected = "applied after")]
fn applying_out_of_log_order_stops_the_node() {
    let mut state = State::default();
    let entry = envelope("", START_MS, network("n", "10.0.0.0/16"));
    state.apply(5, &entry).unwrap();
    let _ = state.apply(5, &entry);
}

/// The log whose state `testdata/state-v2.snapshot` holds: the previous
/// build (log and snapshot format 2) applied it and wrote that snapshot.
/// Its entries are format 2, so its certificate's key is clear PEM.
fn format_two_log() -> Log {
    let mut log = Log::at_format(2);
    let net = log.ok(network("net", "10.0.0.0/16")).resource_id;
    let sub = log.ok(subnet("subnet", &net, "10.0.1.0/24")).resource_id;
    let web = log.ok(instance("web", &sub, "10.0.1.11")).resource_id;
    let cert = log
        .submit_with_token("t-cert", certificate_at(2, "site"))
        .answer
        .unwrap()
        .resource_id;
    let eip = log.ok(allocate_eip("")).resource_id;
    let lb = log.ok(load_balancer("lb", &net, &sub)).resource_id;
    log.ok(associate(&lb, &eip));
    let pool = log
        .ok(Kind::CreateGroup(group(
            &lb,
            "pool",
            vec![member(&web, 8080, None)],
        )))
        .resource_id;
    let mut http = listener(&lb, "http", v1::Protocol::Http, 80);
    http.default_group_id = pool;
    log.ok(Kind::CreateListener(http));
    let mut https = listener(&lb, "https", v1::Protocol::Https, 443);
    https.certificate_id = cert;
    let https = log.ok(Kind::CreateListener(https)).resource_id;
    let _ = log.submit_with_token("t-dup", load_balancer("lb", &net, &sub));
    log.ok(Kind::DeleteListener(v1::DeleteListenerRequest {
        id: https,
        ..Default::default()
    }));
    log
}

#[test]
fn a_format_two_snapshot_reads_as_the_state_its_log_builds() {
    let bytes = include_bytes!("testdata/state-v2.snapshot");
    assert_eq!(bytes[8..12], 2u32.to_le_bytes(), "the fixture is format 2");
    let read = State::from_snapshot_bytes(bytes).unwrap();
    read.check_invariants().unwrap();

    // The same log, as format-2 entries, replayed by this build.
    let mut replay = State::default();
    for (index, entry) in format_two_log().entries {
        assert_eq!(entry.format_version, 2, "entry {index} is format 2");
        replay.apply(index, &entry).unwrap();
    }
    assert_eq!(read, replay);
    assert!(read.access_tokens().is_empty());
    assert!(
        read.history()
            .revisions()
            .flat_map(|(_, events)| events)
            .all(|event| event.principal.is_empty())
    );
    assert!(
        read.history().bytes() > 0,
        "the history's size is recounted"
    );

    // Written again, it is a snapshot of today's format of the same state.
    let written = read.to_snapshot_bytes().unwrap();
    assert_eq!(written[8..12], SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    assert_eq!(State::from_snapshot_bytes(&written).unwrap(), read);
}

/// The log whose state `testdata/state-v3.snapshot` and
/// `testdata/state-v3.records` hold: the build before the listener's
/// `access_log` (log and snapshot format 3) applied it and wrote them. Its
/// history holds listeners created, updated and deleted, sent by a
/// principal, and an access token.
fn format_three_log() -> Log {
    let mut log = Log::at_format(3);
    let net = log.ok(network("net", "10.0.0.0/16")).resource_id;
    let sub = log.ok(subnet("subnet", &net, "10.0.1.0/24")).resource_id;
    let web = log.ok(instance("web", &sub, "10.0.1.11")).resource_id;
    let cert = log
        .submit_with_token("t-cert", certificate_at(3, "site"))
        .answer
        .unwrap()
        .resource_id;
    log.ok(issue_token(
        "ops@example.com",
        v1::Role::Operator,
        secret_hash(3),
    ));
    let eip = log.ok(allocate_eip("")).resource_id;
    let lb = log.ok(load_balancer("lb", &net, &sub)).resource_id;
    log.ok(associate(&lb, &eip));
    let pool = log
        .ok(Kind::CreateGroup(group(
            &lb,
            "pool",
            vec![member(&web, 8080, None)],
        )))
        .resource_id;
    let mut http = listener(&lb, "http", v1::Protocol::Http, 80);
    http.default_group_id = pool.clone();
    let http = log
        .submit_as("ops@example.com", Kind::CreateListener(http))
        .answer
        .unwrap()
        .resource_id;
    log.submit_as(
        "ops@example.com",
        Kind::UpdateListener(v1::UpdateListenerRequest {
            id: http,
            insert_x_forwarded_for: Some(false),
            idle_timeout_s: Some(120),
            ..Default::default()
        }),
    )
    .answer
    .unwrap();
    let mut tcp = listener(&lb, "tcp", v1::Protocol::Tcp, 5432);
    tcp.default_group_id = pool;
    tcp.connection_limit = Some(100);
    log.ok(Kind::CreateListener(tcp));
    let mut https = listener(&lb, "https", v1::Protocol::Https, 443);
    https.certificate_id = cert;
    let https = log.ok(Kind::CreateListener(https)).resource_id;
    log.ok(Kind::DeleteListener(v1::DeleteListenerRequest {
        id: https,
        ..Default::default()
    }));
    log
}

/// Every listener of `state`, and every listener its history records, has
/// its access log off.
fn no_access_logs(state: &State) -> bool {
    let recorded = state
        .history()
        .revisions()
        .flat_map(|(_, events)| events)
        .filter_map(|recorded| match &recorded.event {
            Event::ListenerCreated(listener) | Event::ListenerUpdated(listener) => Some(listener),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert!(recorded.len() >= 4, "the history holds listeners");
    state.catalog().listeners().len() == 2
        && state
            .catalog()
            .listeners()
            .values()
            .chain(recorded)
            .all(|listener| !listener.access_log)
}

/// The state of `format_three_log`, replayed by this build.
fn format_three_replay() -> State {
    let mut replay = State::default();
    for (index, entry) in format_three_log().entries {
        assert_eq!(entry.format_version, 3, "entry {index} is format 3");
        replay.apply(index, &entry).unwrap();
    }
    replay
}

#[test]
fn a_format_three_snapshot_reads_as_the_state_its_log_builds() {
    let bytes = include_bytes!("testdata/state-v3.snapshot");
    assert_eq!(bytes[8..12], 3u32.to_le_bytes(), "the fixture is format 3");
    let read = State::from_snapshot_bytes(bytes).unwrap();
    read.check_invariants().unwrap();
    assert_eq!(read, format_three_replay());
    assert!(no_access_logs(&read));
    assert_eq!(read.access_tokens().len(), 1);

    // Written again, it is a format-5 snapshot of the same state.
    let written = read.to_snapshot_bytes().unwrap();
    assert_eq!(written[8..12], SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    assert_eq!(SNAPSHOT_FORMAT_VERSION, 5);
    assert_eq!(State::from_snapshot_bytes(&written).unwrap(), read);
}

#[test]
fn format_three_records_read_as_the_state_their_log_builds() {
    let bytes = include_bytes!("testdata/state-v3.records");
    let records: Vec<(Vec<u8>, Vec<u8>)> = postcard::from_bytes(bytes).unwrap();
    let read = State::from_records(records.clone()).unwrap();
    read.check_invariants().unwrap();
    assert_eq!(read, format_three_replay());
    assert!(no_access_logs(&read));

    // Written again, listener, group and history records start with their
    // layout bytes (an older listener or group record starts with its id's
    // length, an older history record with one 0 and the event count), and
    // read back.
    let tag = |key: &RecordKey| key.to_bytes()[0];
    let (listener_tag, group_tag, history_tag) = (
        tag(&RecordKey::Listener(
            ListenerId::parse("id", "lsn-x").unwrap(),
        )),
        tag(&RecordKey::Group(GroupId::parse("id", "vsg-x").unwrap())),
        tag(&RecordKey::History(1)),
    );
    let mut rewritten = Vec::new();
    for key in read.record_keys() {
        let value = read.record(&key).unwrap().unwrap();
        let old = records
            .iter()
            .find(|(old_key, _)| *old_key == key.to_bytes())
            .map(|(_, old)| old.as_slice())
            .unwrap();
        if tag(&key) == listener_tag {
            assert!(old[0] > 1);
            assert_eq!(value[0], 1);
            assert_eq!(value.len(), old.len() + 3, "{key:?}: access log, rules");
        } else if tag(&key) == group_tag {
            assert!(old[0] > 1);
            assert_eq!(value[0], 1);
            assert_eq!(value.len(), old.len() + 4, "{key:?}: three settings");
        } else if tag(&key) == history_tag {
            assert_eq!(old[0], 0);
            assert_ne!(old[1], 0);
            assert_eq!(value[..3], [0, 0, 0]);
        } else {
            assert_eq!(value, old, "{key:?} keeps its layout");
        }
        rewritten.push((key.to_bytes(), value));
    }
    assert_eq!(State::from_records(rewritten).unwrap(), read);
}
