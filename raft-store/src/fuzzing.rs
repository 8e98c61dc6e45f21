//! The fuzz targets' logic, as plain functions over bytes: `fuzz/` runs them
//! under libFuzzer, and `tests/fuzz_corpus.rs` replays the committed corpus
//! and every crash found through them in the normal `cargo test`.
//!
//! Each function is its own oracle: it panics when the code under test breaks
//! a property (a panic inside that code, a broken invariant, a round trip
//! that changes the value). Inputs the code rejects are fine; rejection is an
//! answer, not a finding. Not an API: the module is hidden from the docs.

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::v1;
use prost::Message;

use crate::domain::{ApplyError, State};
use crate::raft::codec::{
    self, decode_message, entry_from_wire, entry_to_wire, frame, log_id_from_wire, log_id_to_wire,
    stored_membership_from_wire, stored_membership_to_wire, unframe, vote_from_wire, vote_to_wire,
};
use crate::raft::{encoded_entry_len, rpc};

/// The most log entries one `log_apply` input applies: keeps each run short,
/// so that the fuzzer spends its time on new inputs rather than long ones.
pub const LOG_APPLY_MAX_ENTRIES: usize = 64;

/// Bytes of the length before each envelope in a `log_apply` input.
const LENGTH_PREFIX_BYTES: usize = 2;

/// The envelopes of a `log_apply` input: each is a little-endian `u16`
/// length followed by that many bytes (fewer for the last, cut short).
fn records(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if data.len() < LENGTH_PREFIX_BYTES {
            return None;
        }
        let length = usize::from(u16::from_le_bytes([data[0], data[1]]));
        let rest = &data[LENGTH_PREFIX_BYTES..];
        let (record, after) = rest.split_at(length.min(rest.len()));
        data = after;
        Some(record)
    })
}

/// Encodes envelopes as a `log_apply` input, for seeds.
///
/// # Panics
/// When an envelope encodes to more than `u16::MAX` bytes: seeds are small.
pub fn log_apply_input(envelopes: &[v1::LogEnvelope]) -> Vec<u8> {
    let mut input = Vec::new();
    for envelope in envelopes {
        let bytes = envelope.encode_to_vec();
        let length = u16::try_from(bytes.len())
            .unwrap_or_else(|_| panic!("a seed envelope of {} bytes", bytes.len()));
        input.extend_from_slice(&length.to_le_bytes());
        input.extend_from_slice(&bytes);
    }
    input
}

/// Applies envelopes decoded from `data` (see [`log_apply_input`]) to a fresh
/// state at log indexes 1, 2, 3… (a record that does not decode leaves its
/// index unused, as blank and membership entries do), stopping at an entry of
/// an unsupported format.
///
/// Oracle: no panic; the invariants hold half way and at the end; a snapshot
/// taken half way reads back as an equal state, and that state applies the
/// second half with the same answers to the same final state; the final state
/// survives a snapshot round trip too.
pub fn log_apply(data: &[u8]) {
    let records: Vec<&[u8]> = records(data).take(LOG_APPLY_MAX_ENTRIES).collect();
    let half = records.len() / 2;
    let mut state = State::default();
    let mut log_index = 0;
    let mut stopped = false;
    for record in &records[..half] {
        log_index += 1;
        let Ok(envelope) = v1::LogEnvelope::decode(*record) else {
            continue;
        };
        if apply(&mut state, log_index, &envelope).is_none() {
            stopped = true;
            break;
        }
    }
    check_state(&state);
    let mut restored = snapshot_round_trip(&state);
    let second_half = if stopped { &[][..] } else { &records[half..] };
    for record in second_half {
        log_index += 1;
        let Ok(envelope) = v1::LogEnvelope::decode(*record) else {
            continue;
        };
        let answer = apply(&mut state, log_index, &envelope);
        let restored_answer = apply(&mut restored, log_index, &envelope);
        assert!(
            answer == restored_answer,
            "log index {log_index}: the state read from a snapshot answered {restored_answer:?}, the original {answer:?}"
        );
        if answer.is_none() {
            break;
        }
    }
    assert!(
        state == restored,
        "the state read from a snapshot diverged from the original after the same entries"
    );
    check_state(&state);
    snapshot_round_trip(&state);
}

/// Applies one envelope: `None` for an entry of an unsupported format (the
/// node would stop there), otherwise the answer, checked for consistency.
fn apply(
    state: &mut State,
    log_index: u64,
    envelope: &v1::LogEnvelope,
) -> Option<crate::domain::Answer> {
    let revision = state.revision();
    match state.apply(log_index, envelope) {
        Ok(applied) => {
            assert_eq!(state.last_log_index(), log_index, "index not recorded");
            if applied.replayed || applied.answer.is_err() {
                assert!(
                    applied.events.is_empty(),
                    "log index {log_index}: events from a refused or replayed command"
                );
            }
            if let Ok(receipt) = &applied.answer
                && !applied.replayed
            {
                assert_eq!(receipt.revision, state.revision(), "receipt revision");
                assert!(
                    state.revision() > revision,
                    "accepted without a new revision"
                );
            }
            Some(applied.answer)
        }
        Err(ApplyError::UnsupportedFormat { found, .. }) => {
            assert_eq!(found, envelope.format_version, "reported format");
            None
        }
    }
}

fn check_state(state: &State) {
    if let Err(broken) = state.check_invariants() {
        panic!(
            "invariant broken at log index {}: {broken}",
            state.last_log_index()
        );
    }
}

/// Writes and reads back a snapshot of `state`, which must come back equal.
fn snapshot_round_trip(state: &State) -> State {
    let bytes = state
        .to_snapshot_bytes()
        .unwrap_or_else(|error| panic!("the state does not encode: {error}"));
    let restored = State::from_snapshot_bytes(&bytes)
        .unwrap_or_else(|error| panic!("a snapshot just written does not read: {error}"));
    assert!(
        restored == *state,
        "the state read from a snapshot differs from the one written"
    );
    restored
}

/// What a `raft_codec` input holds: its first byte, modulo the number of
/// kinds, picks one; the rest is the message (or the stored value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CodecKind {
    /// `RaftAppendRequest` from the Raft network.
    AppendRequest,
    /// `RaftAppendResponse` from the Raft network.
    AppendResponse,
    /// `RaftVoteRequest` from the Raft network.
    VoteRequest,
    /// `RaftVoteResponse` from the Raft network.
    VoteResponse,
    /// `RaftTransferLeaderRequest` from the Raft network.
    TransferLeaderRequest,
    /// `RaftSnapshotMeta`, as a snapshot's header carries it.
    SnapshotMeta,
    /// A log entry as stored: checksum frame around a `RaftEntry`.
    StoredEntry,
    /// The vote as stored: checksum frame around a `RaftVote`.
    StoredVote,
    /// A log id as stored (committed, last purged, applied): checksum frame
    /// around a `RaftLogId`.
    StoredLogId,
    /// The applied membership as stored: checksum frame around a
    /// `RaftStoredMembership`.
    StoredMembership,
}

impl CodecKind {
    /// Every kind, in the order of their first byte.
    pub const ALL: [Self; 10] = [
        Self::AppendRequest,
        Self::AppendResponse,
        Self::VoteRequest,
        Self::VoteResponse,
        Self::TransferLeaderRequest,
        Self::SnapshotMeta,
        Self::StoredEntry,
        Self::StoredVote,
        Self::StoredLogId,
        Self::StoredMembership,
    ];

    fn is_stored(self) -> bool {
        matches!(
            self,
            Self::StoredEntry | Self::StoredVote | Self::StoredLogId | Self::StoredMembership
        )
    }
}

/// A `raft_codec` input for `message` as `kind`, framed with its checksum
/// when `kind` is a stored value, for seeds.
pub fn raft_codec_input(kind: CodecKind, message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    let body = if kind.is_stored() {
        frame(&payload)
    } else {
        payload
    };
    let mut input = vec![kind as u8];
    input.extend_from_slice(&body);
    input
}

/// Decodes `data` as the Raft message or stored value its first byte picks
/// (see [`CodecKind`]) and converts it to openraft's type.
///
/// Oracle: no panic; when the conversion succeeds, converting back to the
/// wire and from it again gives the same value; an append request cut to a
/// byte budget keeps a non-empty prefix of its entries and a commit index no
/// later than the last one sent. Stored values: the checksum frame is checked
/// on the input as it is, and the payload after the checksum is decoded
/// whether or not the checksum matched (so that the fuzzer reaches the
/// decoder without having to forge CRCs).
pub fn raft_codec(data: &[u8]) {
    let Some((&selector, message)) = data.split_first() else {
        return;
    };
    let kind = CodecKind::ALL[usize::from(selector) % CodecKind::ALL.len()];
    match kind {
        CodecKind::AppendRequest => append_request(message),
        CodecKind::AppendResponse => {
            let Ok(wire) = internal::RaftAppendResponse::decode(message) else {
                return;
            };
            if let Ok(response) = rpc::append_response_from_wire(&wire) {
                let again = rpc::append_response_to_wire(&response);
                let back = rpc::append_response_from_wire(&again);
                assert!(matches!(&back, Ok(back) if *back == response), "{back:?}");
            }
        }
        CodecKind::VoteRequest => {
            let Ok(wire) = internal::RaftVoteRequest::decode(message) else {
                return;
            };
            if let Ok(request) = rpc::vote_request_from_wire(&wire) {
                let back = rpc::vote_request_from_wire(&rpc::vote_request_to_wire(&request));
                assert!(matches!(&back, Ok(back) if *back == request), "{back:?}");
            }
        }
        CodecKind::VoteResponse => {
            let Ok(wire) = internal::RaftVoteResponse::decode(message) else {
                return;
            };
            if let Ok(response) = rpc::vote_response_from_wire(&wire) {
                let back = rpc::vote_response_from_wire(&rpc::vote_response_to_wire(&response));
                assert!(matches!(&back, Ok(back) if *back == response), "{back:?}");
            }
        }
        CodecKind::TransferLeaderRequest => {
            let Ok(wire) = internal::RaftTransferLeaderRequest::decode(message) else {
                return;
            };
            if let Ok(request) = rpc::transfer_leader_request_from_wire(&wire) {
                let again = rpc::transfer_leader_request_to_wire(&request);
                let back = rpc::transfer_leader_request_from_wire(&again);
                assert!(matches!(&back, Ok(back) if *back == request), "{back:?}");
            }
        }
        CodecKind::SnapshotMeta => {
            let Ok(wire) = internal::RaftSnapshotMeta::decode(message) else {
                return;
            };
            if let Ok(meta) = rpc::snapshot_meta_from_wire(&wire) {
                let back = rpc::snapshot_meta_from_wire(&rpc::snapshot_meta_to_wire(&meta));
                assert!(matches!(&back, Ok(back) if *back == meta), "{back:?}");
            }
        }
        CodecKind::StoredEntry
        | CodecKind::StoredVote
        | CodecKind::StoredLogId
        | CodecKind::StoredMembership => stored(kind, message),
    }
}

fn append_request(message: &[u8]) {
    let Ok(wire) = internal::RaftAppendRequest::decode(message) else {
        return;
    };
    let Ok(request) = rpc::append_request_from_wire(wire) else {
        return;
    };
    let again = rpc::append_request_to_wire(&request);
    let back = match rpc::append_request_from_wire(again.clone()) {
        Ok(back) => back,
        Err(error) => panic!("an append request converted to the wire does not read: {error}"),
    };
    assert_eq!(back.vote, request.vote, "vote");
    assert_eq!(back.prev_log_id, request.prev_log_id, "prev_log_id");
    assert_eq!(back.leader_commit, request.leader_commit, "leader_commit");
    assert!(back.entries == request.entries, "entries changed");

    let total: usize = again.entries.iter().map(Message::encoded_len).sum();
    for budget in [0, 1, total / 2, total, usize::MAX] {
        let (cut, last_sent) = rpc::append_request_to_wire_bounded(&request, budget);
        assert!(
            again.entries.starts_with(&cut.entries),
            "budget {budget}: the entries sent are not a prefix of the request's"
        );
        assert_eq!(cut.vote, again.vote, "budget {budget}: vote");
        assert_eq!(
            cut.prev_log_id, again.prev_log_id,
            "budget {budget}: prev_log_id"
        );
        match last_sent {
            None => assert_eq!(cut, again, "budget {budget}: not cut, yet changed"),
            Some(last_sent) => {
                assert!(
                    !cut.entries.is_empty() && cut.entries.len() < again.entries.len(),
                    "budget {budget}: cut to {} of {} entries",
                    cut.entries.len(),
                    again.entries.len()
                );
                assert_eq!(
                    request.entries[cut.entries.len() - 1].log_id,
                    last_sent,
                    "budget {budget}: last entry sent"
                );
                let commit = cut.leader_commit.as_ref().map(log_id_from_wire);
                assert!(
                    commit.as_ref().is_none_or(|commit| *commit <= last_sent),
                    "budget {budget}: commit {commit:?} past the last entry sent {last_sent:?}"
                );
            }
        }
        pieces_cover(&request, &again, budget);
    }
}

/// The pieces of a streamed append carry the request's entries in order,
/// each after the one before, within `budget` unless a single entry is
/// larger, and commit nothing past their own last entry.
fn pieces_cover(
    request: &openraft::raft::AppendEntriesRequest<crate::raft::TypeConfig>,
    whole: &internal::RaftAppendRequest,
    budget: usize,
) {
    let pieces = rpc::append_request_to_wire_pieces(request, budget);
    let entries: Vec<_> = pieces
        .iter()
        .flat_map(|piece| piece.entries.clone())
        .collect();
    assert_eq!(
        entries, whole.entries,
        "budget {budget}: pieces lose or reorder entries"
    );
    let mut prev = whole.prev_log_id;
    for piece in &pieces {
        assert_eq!(
            piece.prev_log_id, prev,
            "budget {budget}: a piece not after the last"
        );
        assert_eq!(piece.vote, whole.vote, "budget {budget}: vote");
        let bytes: usize = piece.entries.iter().map(Message::encoded_len).sum();
        assert!(
            bytes <= budget || piece.entries.len() == 1,
            "budget {budget}: a piece of {bytes} bytes in {} entries",
            piece.entries.len()
        );
        let last = piece.entries.last().and_then(|entry| entry.log_id);
        let commit = piece.leader_commit.as_ref().map(log_id_from_wire);
        let whole_commit = whole.leader_commit.as_ref().map(log_id_from_wire);
        let last_id = last
            .as_ref()
            .map(log_id_from_wire)
            .or(prev.as_ref().map(log_id_from_wire));
        if !piece.entries.is_empty() {
            assert_eq!(commit, whole_commit.min(last_id), "budget {budget}: commit");
        }
        if last.is_some() {
            prev = last;
        }
    }
}

/// Where a stored kind lives, for the checksum error's text.
fn stored_place(kind: CodecKind) -> (&'static str, &'static [u8]) {
    match kind {
        CodecKind::StoredEntry => ("raft_log", &[0, 0, 0, 0, 0, 0, 0, 1]),
        CodecKind::StoredVote => ("raft_meta", b"vote"),
        CodecKind::StoredLogId => ("raft_meta", b"committed"),
        _ => ("sm_meta", b"membership"),
    }
}

fn stored(kind: CodecKind, value: &[u8]) {
    let (place, key) = stored_place(kind);
    match unframe(place, key, value) {
        Ok(payload) => assert_eq!(payload, value.get(4..).unwrap_or_default(), "payload"),
        Err(error) => {
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
        }
    }
    let _ = codec::key_text(value);
    let Some(payload) = value.get(4..) else {
        return;
    };
    let framed = frame(payload);
    assert!(
        matches!(unframe(place, key, &framed), Ok(back) if back == payload),
        "a value just framed does not unframe"
    );
    match kind {
        CodecKind::StoredEntry => {
            let Ok(entry) = decode_message::<internal::RaftEntry>("log entry", payload)
                .and_then(entry_from_wire)
            else {
                return;
            };
            let stored = frame(&entry_to_wire(&entry).encode_to_vec());
            assert_eq!(encoded_entry_len(&entry), stored.len(), "encoded_entry_len");
            let back = unframe(place, key, &stored)
                .and_then(|payload| decode_message::<internal::RaftEntry>("log entry", payload))
                .and_then(entry_from_wire);
            assert!(matches!(&back, Ok(back) if *back == entry), "{back:?}");
        }
        CodecKind::StoredVote => {
            let Ok(wire) = decode_message::<internal::RaftVote>("vote", payload) else {
                return;
            };
            let vote = vote_from_wire(&wire);
            assert_eq!(vote_from_wire(&vote_to_wire(&vote)), vote, "vote");
        }
        CodecKind::StoredLogId => {
            let Ok(wire) = decode_message::<internal::RaftLogId>("log id", payload) else {
                return;
            };
            let log_id = log_id_from_wire(&wire);
            assert_eq!(
                log_id_to_wire(&log_id),
                wire,
                "a log id is its three numbers"
            );
        }
        _ => {
            let Ok(stored) =
                decode_message::<internal::RaftStoredMembership>("membership", payload)
                    .and_then(|wire| stored_membership_from_wire(&wire))
            else {
                return;
            };
            let back = stored_membership_from_wire(&stored_membership_to_wire(&stored));
            assert!(matches!(&back, Ok(back) if *back == stored), "{back:?}");
        }
    }
}
