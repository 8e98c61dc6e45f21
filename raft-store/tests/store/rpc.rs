//! The Raft RPC messages survive the trip to the wire and back.

use std::collections::{BTreeMap, BTreeSet};

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::v1;
use fulcrum_raft_store::raft::{ClusterNode, Entry, Membership, TypeConfig, Vote, rpc};
use openraft::entry::RaftEntry;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use prost::Message;

use crate::support::*;

fn through_bytes<M: Message + Default>(message: M) -> M {
    M::decode(message.encode_to_vec().as_slice()).unwrap()
}

#[test]
fn append_requests_with_every_payload_round_trip() {
    let membership = Membership::new(
        vec![BTreeSet::from([1, 2, 3])],
        BTreeMap::from([
            (
                1,
                ClusterNode {
                    raft_address: "10.0.0.1:7000".into(),
                    api_address: "10.0.0.1:8000".into(),
                },
            ),
            (2, ClusterNode::default()),
            (3, ClusterNode::default()),
            (4, ClusterNode::default()),
        ]),
    )
    .unwrap();
    let mut entries = vec![
        Entry::new_blank(log_id(1, 1)),
        Entry::new_membership(log_id(1, 2), membership),
    ];
    entries.extend(command_entries(3, 4));
    let request = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(1, 1),
        prev_log_id: Some(log_id(1, 0)),
        entries,
        leader_commit: Some(log_id(1, 2)),
    };
    let back = rpc::append_request_from_wire(through_bytes(rpc::append_request_to_wire(&request)))
        .unwrap();
    assert_eq!(back.vote, request.vote);
    assert_eq!(back.prev_log_id, request.prev_log_id);
    assert_eq!(back.entries, request.entries);
    assert_eq!(back.leader_commit, request.leader_commit);
}

#[test]
fn every_append_response_round_trips() {
    for response in [
        AppendEntriesResponse::<TypeConfig>::Success,
        AppendEntriesResponse::PartialSuccess(Some(log_id(1, 7))),
        AppendEntriesResponse::PartialSuccess(None),
        AppendEntriesResponse::Conflict,
        AppendEntriesResponse::HigherVote(Vote::new(5, 3)),
    ] {
        let back =
            rpc::append_response_from_wire(&through_bytes(rpc::append_response_to_wire(&response)))
                .unwrap();
        assert_eq!(back, response);
    }
}

#[test]
fn votes_round_trip_and_a_missing_vote_is_refused() {
    for leadership_transfer in [false, true] {
        let request = VoteRequest::<TypeConfig> {
            vote: Vote::new(4, 2),
            last_log_id: Some(log_id(1, 9)),
            leadership_transfer,
        };
        let back = rpc::vote_request_from_wire(&through_bytes(rpc::vote_request_to_wire(&request)));
        assert_eq!(back.unwrap(), request);
    }
    let response = VoteResponse::<TypeConfig> {
        vote: Vote::new_committed(4, 2),
        vote_granted: true,
        last_log_id: None,
    };
    assert_eq!(
        rpc::vote_response_from_wire(&through_bytes(rpc::vote_response_to_wire(&response)))
            .unwrap(),
        response
    );

    let error = rpc::vote_request_from_wire(&internal::RaftVoteRequest::default()).unwrap_err();
    assert!(error.to_string().contains("without a vote"), "{error}");
    let error =
        rpc::append_response_from_wire(&internal::RaftAppendResponse::default()).unwrap_err();
    assert!(error.to_string().contains("without a result"), "{error}");
}

/// A normal entry whose envelope carries `bytes` bytes of client token.
fn large_entry(index: u64, bytes: usize) -> Entry {
    Entry::new_normal(
        log_id(1, index),
        fulcrum_raft_store::raft::Proposal::new(v1::LogEnvelope {
            format_version: fulcrum_api::LOG_FORMAT_VERSION,
            client_token: "x".repeat(bytes),
            accepted_at_unix_ms: 0,
            principal: String::new(),
            command: None,
        }),
    )
}

#[test]
fn appends_are_cut_by_bytes_but_never_to_nothing() {
    const MIB: usize = 1 << 20;
    let request = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(1, 1),
        prev_log_id: Some(log_id(1, 0)),
        entries: (1..=10).map(|index| large_entry(index, MIB)).collect(),
        leader_commit: Some(log_id(1, 10)),
    };
    // Ten entries of 1 MiB in batches of 3.5 MiB: three go, the commit
    // index sent stops at the last of them.
    let (wire, cut_at) = rpc::append_request_to_wire_bounded(&request, 7 * MIB / 2);
    assert_eq!(wire.entries.len(), 3);
    assert_eq!(cut_at, Some(log_id(1, 3)));
    let sent = rpc::append_request_from_wire(wire).unwrap();
    assert_eq!(sent.leader_commit, Some(log_id(1, 3)));
    assert_eq!(sent.entries, request.entries[..3]);

    // One entry larger than a batch still goes, alone.
    let (wire, cut_at) = rpc::append_request_to_wire_bounded(&request, MIB / 2);
    assert_eq!((wire.entries.len(), cut_at), (1, Some(log_id(1, 1))));

    // A batch that fits is sent whole, its commit index untouched.
    let (wire, cut_at) = rpc::append_request_to_wire_bounded(&request, 64 * MIB);
    assert_eq!((wire.entries.len(), cut_at), (10, None));
    assert_eq!(
        rpc::append_request_from_wire(wire).unwrap().leader_commit,
        Some(log_id(1, 10))
    );
}

#[test]
fn a_streamed_append_goes_in_pieces_that_chain() {
    const MIB: usize = 1 << 20;
    let request = AppendEntriesRequest::<TypeConfig> {
        vote: Vote::new_committed(1, 1),
        prev_log_id: Some(log_id(1, 0)),
        entries: (1..=10).map(|index| large_entry(index, MIB)).collect(),
        leader_commit: Some(log_id(1, 5)),
    };
    // Ten entries of 1 MiB in pieces of 3.5 MiB: 3 + 3 + 3 + 1, each after
    // the one before, each committing no further than its own last entry.
    let pieces: Vec<_> = rpc::append_request_to_wire_pieces(&request, 7 * MIB / 2)
        .into_iter()
        .map(|piece| rpc::append_request_from_wire(piece).unwrap())
        .collect();
    let sizes: Vec<_> = pieces.iter().map(|piece| piece.entries.len()).collect();
    assert_eq!(sizes, [3, 3, 3, 1]);
    let prevs: Vec<_> = pieces.iter().map(|piece| piece.prev_log_id).collect();
    assert_eq!(
        prevs,
        [0, 3, 6, 9].map(|index| Some(log_id(1, index))).to_vec()
    );
    let commits: Vec<_> = pieces.iter().map(|piece| piece.leader_commit).collect();
    assert_eq!(
        commits,
        [3, 5, 5, 5].map(|index| Some(log_id(1, index))).to_vec()
    );
    let entries: Vec<_> = pieces.into_iter().flat_map(|piece| piece.entries).collect();
    assert_eq!(entries, request.entries);

    // A heartbeat (no entries) is one message, as it was.
    let heartbeat = AppendEntriesRequest::<TypeConfig> {
        entries: Vec::new(),
        ..request
    };
    let pieces = rpc::append_request_to_wire_pieces(&heartbeat, MIB);
    assert_eq!(pieces, [rpc::append_request_to_wire(&heartbeat)]);
}

#[test]
fn streamed_append_answers_cross_the_wire() {
    use openraft::raft::StreamAppendError;
    let answers: [openraft::raft::StreamAppendResult<TypeConfig>; 4] = [
        Ok(None),
        Ok(Some(log_id(1, 7))),
        Err(StreamAppendError::Conflict(log_id(1, 3))),
        Err(StreamAppendError::HigherVote(Vote::new(3, 2))),
    ];
    for answer in answers {
        let back = rpc::stream_append_result_from_wire(&rpc::stream_append_result_to_wire(&answer))
            .unwrap();
        assert_eq!(back, answer);
    }
    let error = rpc::stream_append_result_from_wire(&internal::RaftStreamAppendResponse::default())
        .unwrap_err();
    assert!(error.to_string().contains("without a result"), "{error}");
}
