//! Snapshot bytes: deterministic, versioned, and checked on read.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{ApplyError, SnapshotError, State};

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
            supported: 2
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
    entry.format_version = 3;
    assert_eq!(
        state.apply(1, &entry),
        Err(ApplyError::UnsupportedFormat {
            log_index: 1,
            found: 3,
            supported: 2
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
