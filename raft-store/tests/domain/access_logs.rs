//! A listener's access-log switch: off unless asked for, on any protocol,
//! changed by an update like any field, carried to the data plane, kept by
//! snapshots and records, and unknown to entries before log format 4.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::limits::Rules;
use fulcrum_raft_store::domain::{Command, Event, Listener, State};
use v1::command::Kind;

use crate::harness::*;

/// Whether the data plane's entry for listener `id` logs access.
fn served_with_access_log(log: &Log, id: &str) -> bool {
    served_entry(log, id).access_log
}

fn set_access_log(id: &str, access_log: Option<bool>) -> Kind {
    Kind::UpdateListener(v1::UpdateListenerRequest {
        id: id.into(),
        access_log,
        ..Default::default()
    })
}

#[test]
fn the_access_log_is_off_unless_asked_for_and_fits_every_protocol() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let log = &mut fixture.log;
    // (protocol, port, asked, expected)
    let cases = [
        (v1::Protocol::Tcp, 81, None, false),
        (v1::Protocol::Tcp, 82, Some(true), true),
        (v1::Protocol::Http, 83, Some(true), true),
        (v1::Protocol::Http, 84, Some(false), false),
        (v1::Protocol::Https, 85, Some(true), true),
    ];
    for (protocol, port, asked, expected) in cases {
        let mut request = listener(&lb, &format!("l{port}"), protocol, port);
        request.access_log = asked;
        if protocol == v1::Protocol::Https {
            request.certificate_id = fixture.ids["site"].clone();
        }
        let id = log.ok(Kind::CreateListener(request)).resource_id;
        let stored = listener_of(log, &id);
        assert_eq!(stored.access_log, expected, "{protocol:?} asked {asked:?}");
        assert_eq!(v1::Listener::from(stored).access_log, expected);
        assert_eq!(served_with_access_log(log, &id), expected);
    }
    let http = fixture.id("http");
    assert!(!listener_of(&fixture.log, &http).access_log);
    fixture.log.state.check_invariants().unwrap();
}

#[test]
fn turning_the_access_log_on_or_off_is_a_change_with_its_own_revision() {
    let mut fixture = Fixture::new();
    let http = fixture.id("http");
    let log = &mut fixture.log;
    let before = listener_of(log, &http).clone();
    let revision = log.state.revision();

    let on = log.ok(set_access_log(&http, Some(true)));
    assert_eq!(on.revision, revision + 1, "a change of its own");
    assert_eq!(on.resource_id, http);
    let after = listener_of(log, &http).clone();
    assert!(after.access_log);
    assert_eq!(after.meta.revision, on.revision);
    assert_eq!(after.meta.updated_at_ms, log.now_ms);
    assert_eq!(
        Listener {
            access_log: false,
            meta: before.meta.clone(),
            ..after.clone()
        },
        before,
        "only the access log and the change's stamp moved"
    );
    let (_, events) = log.state.history().revisions().last().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, Event::ListenerUpdated(after.clone()));
    let entry = log
        .state
        .data_plane_config()
        .listeners
        .into_iter()
        .find(|entry| entry.listener_id == after.id)
        .unwrap();
    assert!(entry.access_log);

    // An update that leaves it out keeps it.
    log.ok(Kind::UpdateListener(v1::UpdateListenerRequest {
        id: http.clone(),
        idle_timeout_s: Some(90),
        ..Default::default()
    }));
    assert!(listener_of(log, &http).access_log);

    let off = log.ok(set_access_log(&http, Some(false)));
    assert_eq!(off.revision, on.revision + 2);
    assert!(!listener_of(log, &http).access_log);
    assert!(!served_with_access_log(log, &http));
    log.state.check_invariants().unwrap();
}

#[test]
fn commands_before_log_format_four_leave_the_access_log_out() {
    let raw = |kind: Kind| v1::Command { kind: Some(kind) };
    let mut create = listener("lb-0000000000001", "l", v1::Protocol::Tcp, 81);
    create.access_log = Some(true);
    let create = raw(Kind::CreateListener(create));
    let update = raw(set_access_log("lsn-0000000000001", Some(true)));
    for rules in [Rules::V1, Rules::V2, Rules::V3, Rules::V4] {
        let expected = rules >= Rules::V4;
        match Command::parse(&create, rules).unwrap() {
            Command::CreateListener(create) => assert_eq!(create.access_log, expected, "{rules:?}"),
            other => panic!("{other:?}"),
        }
        match Command::parse(&update, rules).unwrap() {
            Command::UpdateListener(update) => {
                assert_eq!(update.access_log, expected.then_some(true), "{rules:?}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn entries_before_log_format_four_apply_as_their_build_applied_them() {
    let mut fixture = Fixture::new();
    let lb = fixture.id("lb");
    let log = &mut fixture.log;
    let mut request = listener(&lb, "old", v1::Protocol::Tcp, 81);
    request.access_log = Some(true);
    let id = log
        .submit_at(3, Kind::CreateListener(request))
        .answer
        .unwrap()
        .resource_id;
    assert!(
        !listener_of(log, &id).access_log,
        "format 3 knew no access log"
    );
    // An update of only the access log is, under format 3, an empty update:
    // accepted, at a new revision, changing nothing else.
    let receipt = log
        .submit_at(3, set_access_log(&id, Some(true)))
        .answer
        .unwrap();
    let listener = listener_of(log, &id);
    assert!(!listener.access_log);
    assert_eq!(listener.meta.revision, receipt.revision);
    log.ok(set_access_log(&id, Some(true)));
    assert!(listener_of(log, &id).access_log, "format 4 sets it");
}

#[test]
fn a_retry_of_a_format_three_entry_is_recognised_without_its_access_log() {
    let fixture = Fixture::new();
    let lb = fixture.id("lb");
    let mut log = fixture.log;
    log.format_version = 3;
    let mut first = listener(&lb, "old", v1::Protocol::Tcp, 81);
    first.access_log = Some(true);
    let mut retry = first.clone();
    retry.access_log = None;
    let created = log.submit_with_token("t-old", Kind::CreateListener(first));
    let again = log.submit_with_token("t-old", Kind::CreateListener(retry));
    assert!(
        again.replayed,
        "a format-3 build never saw the field: {again:?}"
    );
    assert_eq!(again.answer, created.answer);

    // From format 4 on the field is part of the request.
    log.format_version = 4;
    let mut first = listener(&lb, "new", v1::Protocol::Tcp, 82);
    first.access_log = Some(true);
    let mut other = first.clone();
    other.access_log = Some(false);
    log.submit_with_token("t-new", Kind::CreateListener(first))
        .answer
        .unwrap();
    let conflict = log.submit_with_token("t-new", Kind::CreateListener(other));
    assert_rejection(
        conflict.answer.as_ref().unwrap_err(),
        fulcrum_raft_store::domain::RejectionKind::InvalidArgument,
        "client_token",
    );
}

#[test]
fn snapshots_and_records_keep_the_access_log() {
    let mut fixture = Fixture::new();
    let http = fixture.id("http");
    fixture.log.ok(set_access_log(&http, Some(true)));
    let state = &fixture.log.state;
    let logged = state
        .catalog()
        .listeners()
        .values()
        .filter(|listener| listener.access_log)
        .count();
    assert_eq!(logged, 1);

    let read = State::from_snapshot_bytes(&fixture.log.snapshot()).unwrap();
    assert_eq!(&read, state);
    let records: Vec<(Vec<u8>, Vec<u8>)> = state
        .record_keys()
        .iter()
        .map(|key| (key.to_bytes(), state.record(key).unwrap().unwrap()))
        .collect();
    assert_eq!(&State::from_records(records).unwrap(), state);
}
