//! The Raft RPC messages survive the trip to the wire and back.

use std::collections::{BTreeMap, BTreeSet};

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

    let error = rpc::vote_request_from_wire(&v1::RaftVoteRequest::default()).unwrap_err();
    assert!(error.to_string().contains("without a vote"), "{error}");
    let error = rpc::append_response_from_wire(&v1::RaftAppendResponse::default()).unwrap_err();
    assert!(error.to_string().contains("without a result"), "{error}");
}
