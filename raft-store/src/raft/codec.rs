//! Fulcrum's on-disk encoding of Raft's records (protobuf from `api`), and
//! the checksum frame around every stored value.
//!
//! A stored value is `crc32(payload)` (4 bytes, little endian) followed by the
//! payload. A value whose checksum does not match is reported with its key,
//! never used.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use fulcrum_api::internal::v1 as internal;
use openraft::EntryPayload;
use openraft::vote::RaftLeaderId;
use prost::Message;

use super::types::{ClusterNode, Entry, LogId, Membership, SnapshotMeta, StoredMembership, Vote};

type LeaderId = openraft::impls::leader_id_adv::LeaderId<u64, u64>;

/// Wraps a payload in its checksum frame.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(4 + payload.len());
    value.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    value.extend_from_slice(payload);
    value
}

/// Checks a stored value's frame and returns its payload.
pub(crate) fn unframe<'a>(place: &str, key: &[u8], value: &'a [u8]) -> io::Result<&'a [u8]> {
    let corrupt = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("corrupt value in {place} at key {}: {why}", key_text(key)),
        )
    };
    if value.len() < 4 {
        return Err(corrupt("shorter than its checksum"));
    }
    let (checksum, payload) = value.split_at(4);
    let expected = u32::from_le_bytes([checksum[0], checksum[1], checksum[2], checksum[3]]);
    if crc32fast::hash(payload) != expected {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(payload)
}

/// A key as people read it: text when it is text, hex otherwise.
pub(crate) fn key_text(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(text) if text.chars().all(|c| c.is_ascii_graphic()) => text.to_owned(),
        _ => key.iter().map(|byte| format!("{byte:02x}")).collect(),
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed stored {what}"),
    )
}

pub(crate) fn decode_message<M: Message + Default>(what: &str, payload: &[u8]) -> io::Result<M> {
    M::decode(payload).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed stored {what}: {error}"),
        )
    })
}

pub(crate) fn log_id_to_wire(log_id: &LogId) -> internal::RaftLogId {
    internal::RaftLogId {
        term: log_id.leader_id.term,
        node_id: log_id.leader_id.node_id,
        index: log_id.index,
    }
}

pub(crate) fn log_id_from_wire(wire: &internal::RaftLogId) -> LogId {
    LogId {
        leader_id: LeaderId {
            term: wire.term,
            node_id: wire.node_id,
        },
        index: wire.index,
    }
}

/// A vote to the wire.
pub fn vote_to_wire(vote: &Vote) -> internal::RaftVote {
    internal::RaftVote {
        term: vote.leader_id.term(),
        node_id: vote.leader_id.node_id,
        committed: vote.committed,
    }
}

/// A vote from the wire.
pub fn vote_from_wire(wire: &internal::RaftVote) -> Vote {
    if wire.committed {
        Vote::new_committed(wire.term, wire.node_id)
    } else {
        Vote::new(wire.term, wire.node_id)
    }
}

pub(crate) fn membership_to_wire(membership: &Membership) -> internal::RaftMembership {
    internal::RaftMembership {
        configs: membership
            .get_joint_config()
            .iter()
            .map(|voters| internal::RaftVoterSet {
                voters: voters.iter().copied().collect(),
            })
            .collect(),
        nodes: membership
            .nodes()
            .map(|(id, node)| {
                (
                    *id,
                    internal::RaftNode {
                        raft_address: node.raft_address.clone(),
                        api_address: node.api_address.clone(),
                    },
                )
            })
            .collect(),
    }
}

pub(crate) fn membership_from_wire(wire: &internal::RaftMembership) -> io::Result<Membership> {
    let configs: Vec<BTreeSet<u64>> = wire
        .configs
        .iter()
        .map(|set| set.voters.iter().copied().collect())
        .collect();
    let nodes: BTreeMap<u64, ClusterNode> = wire
        .nodes
        .iter()
        .map(|(id, node)| {
            (
                *id,
                ClusterNode {
                    raft_address: node.raft_address.clone(),
                    api_address: node.api_address.clone(),
                },
            )
        })
        .collect();
    Membership::new(configs, nodes).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("malformed stored membership: {error}"),
        )
    })
}

pub(crate) fn stored_membership_to_wire(
    stored: &StoredMembership,
) -> internal::RaftStoredMembership {
    internal::RaftStoredMembership {
        log_id: stored.log_id().as_ref().map(log_id_to_wire),
        membership: Some(membership_to_wire(stored.membership())),
    }
}

pub(crate) fn stored_membership_from_wire(
    wire: &internal::RaftStoredMembership,
) -> io::Result<StoredMembership> {
    let membership = match &wire.membership {
        Some(membership) => membership_from_wire(membership)?,
        None => Membership::default(),
    };
    Ok(StoredMembership::new(
        wire.log_id.as_ref().map(log_id_from_wire),
        membership,
    ))
}

/// Snapshot meta to the wire.
pub fn snapshot_meta_to_wire(meta: &SnapshotMeta) -> internal::RaftSnapshotMeta {
    internal::RaftSnapshotMeta {
        last_log_id: meta.last_log_id.as_ref().map(log_id_to_wire),
        last_membership: Some(stored_membership_to_wire(&meta.last_membership)),
    }
}

/// Snapshot meta from the wire.
pub fn snapshot_meta_from_wire(wire: &internal::RaftSnapshotMeta) -> io::Result<SnapshotMeta> {
    Ok(SnapshotMeta {
        last_log_id: wire.last_log_id.as_ref().map(log_id_from_wire),
        last_membership: match &wire.last_membership {
            Some(stored) => stored_membership_from_wire(stored)?,
            None => StoredMembership::default(),
        },
    })
}

pub(crate) fn entry_to_wire(entry: &Entry) -> internal::RaftEntry {
    use internal::raft_entry::Payload;
    internal::RaftEntry {
        log_id: Some(log_id_to_wire(&entry.log_id)),
        payload: Some(match &entry.payload {
            EntryPayload::Blank => Payload::Blank(internal::RaftBlank {}),
            EntryPayload::Normal(proposal) => Payload::Command(proposal.encoded().clone()),
            EntryPayload::Membership(membership) => {
                Payload::Membership(membership_to_wire(membership))
            }
        }),
    }
}

/// How many bytes an entry takes in the log store, checksum included.
pub fn encoded_entry_len(entry: &Entry) -> usize {
    4 + entry_to_wire(entry).encoded_len()
}

pub(crate) fn entry_from_wire(wire: internal::RaftEntry) -> io::Result<Entry> {
    use internal::raft_entry::Payload;
    let log_id = wire
        .log_id
        .as_ref()
        .map(log_id_from_wire)
        .ok_or_else(|| invalid("entry without log id"))?;
    let payload = match wire
        .payload
        .ok_or_else(|| invalid("entry without payload"))?
    {
        Payload::Blank(_) => EntryPayload::Blank,
        Payload::Command(encoded) => EntryPayload::Normal(
            super::types::Proposal::decode(encoded)
                .map_err(|_| invalid("entry command (not a log envelope)"))?,
        ),
        Payload::Membership(membership) => {
            // A membership entry names at least one set of voters (openraft
            // would take a membership with none as a quorum of any nodes);
            // only the stored "no membership yet" value has none.
            if membership.configs.is_empty() {
                return Err(invalid("membership entry without voters"));
            }
            EntryPayload::Membership(membership_from_wire(&membership)?)
        }
    };
    Ok(Entry { log_id, payload })
}

/// The Raft RPC messages: openraft's types to the wire and back, for the
/// Raft network. A message missing a required field is `InvalidData`.
pub mod rpc {
    use std::io;

    use fulcrum_api::internal::v1 as internal;
    use openraft::raft::{
        AppendEntriesRequest, AppendEntriesResponse, StreamAppendError, StreamAppendResult,
        TransferLeaderRequest, VoteRequest, VoteResponse,
    };

    use super::{entry_from_wire, entry_to_wire, invalid, log_id_from_wire, log_id_to_wire};
    use crate::raft::types::{LogId, TypeConfig, Vote};

    fn required_vote(vote: Option<&internal::RaftVote>) -> io::Result<Vote> {
        vote.map(vote_from_wire)
            .ok_or_else(|| invalid("message without a vote"))
    }

    /// An append request to the wire.
    pub fn append_request_to_wire(
        request: &AppendEntriesRequest<TypeConfig>,
    ) -> internal::RaftAppendRequest {
        internal::RaftAppendRequest {
            vote: Some(vote_to_wire(&request.vote)),
            prev_log_id: request.prev_log_id.as_ref().map(log_id_to_wire),
            entries: request.entries.iter().map(entry_to_wire).collect(),
            leader_commit: request.leader_commit.as_ref().map(log_id_to_wire),
        }
    }

    /// An append request to the wire as one or more messages whose entries
    /// are each at most `max_entry_bytes` (encoded), a larger entry alone in
    /// its own: sent in order, they append what the request does. Each
    /// message's `prev_log_id` is the last entry of the one before, and its
    /// commit index is capped at its own last entry, so a follower commits
    /// nothing it was not sent. A request without entries is one message.
    pub fn append_request_to_wire_pieces(
        request: &AppendEntriesRequest<TypeConfig>,
        max_entry_bytes: usize,
    ) -> Vec<internal::RaftAppendRequest> {
        let vote = vote_to_wire(&request.vote);
        // Each piece with the log id of its last entry.
        let mut pieces: Vec<(internal::RaftAppendRequest, LogId)> = Vec::new();
        let mut bytes = 0usize;
        for entry in &request.entries {
            let wire = entry_to_wire(entry);
            let len = prost::Message::encoded_len(&wire);
            match pieces.last_mut() {
                Some((piece, last)) if bytes.saturating_add(len) <= max_entry_bytes => {
                    bytes = bytes.saturating_add(len);
                    piece.entries.push(wire);
                    *last = entry.log_id;
                }
                previous => {
                    let prev_log_id = previous.map_or(request.prev_log_id, |(_, last)| Some(*last));
                    bytes = len;
                    let piece = internal::RaftAppendRequest {
                        vote: Some(vote),
                        prev_log_id: prev_log_id.as_ref().map(log_id_to_wire),
                        entries: vec![wire],
                        leader_commit: None,
                    };
                    pieces.push((piece, entry.log_id));
                }
            }
        }
        if pieces.is_empty() {
            return vec![append_request_to_wire(request)];
        }
        pieces
            .into_iter()
            .map(|(mut piece, last)| {
                piece.leader_commit = request
                    .leader_commit
                    .min(Some(last))
                    .as_ref()
                    .map(log_id_to_wire);
                piece
            })
            .collect()
    }

    /// An append request to the wire, its entries cut to at most
    /// `max_entry_bytes` (encoded) but never to none, so that a follower
    /// behind large entries still moves on one message at a time: the first
    /// of [`append_request_to_wire_pieces`]. Answers the last entry's log id
    /// when the batch was cut: the caller then owes openraft a partial
    /// success up to it.
    pub fn append_request_to_wire_bounded(
        request: &AppendEntriesRequest<TypeConfig>,
        max_entry_bytes: usize,
    ) -> (
        internal::RaftAppendRequest,
        Option<crate::raft::types::LogId>,
    ) {
        let mut pieces = append_request_to_wire_pieces(request, max_entry_bytes).into_iter();
        let first = pieces
            .next()
            .unwrap_or_else(|| append_request_to_wire(request));
        let cut = pieces.next().is_some().then(|| {
            // 1 <= sent < entries: the batch was cut after at least one entry.
            request.entries[first.entries.len() - 1].log_id
        });
        (first, cut)
    }

    /// An append request from the wire.
    pub fn append_request_from_wire(
        wire: internal::RaftAppendRequest,
    ) -> io::Result<AppendEntriesRequest<TypeConfig>> {
        Ok(AppendEntriesRequest {
            vote: required_vote(wire.vote.as_ref())?,
            prev_log_id: wire.prev_log_id.as_ref().map(log_id_from_wire),
            entries: wire
                .entries
                .into_iter()
                .map(entry_from_wire)
                .collect::<io::Result<_>>()?,
            leader_commit: wire.leader_commit.as_ref().map(log_id_from_wire),
        })
    }

    /// An append response to the wire.
    pub fn append_response_to_wire(
        response: &AppendEntriesResponse<TypeConfig>,
    ) -> internal::RaftAppendResponse {
        use internal::raft_append_response::Result as Wire;
        let result = match response {
            AppendEntriesResponse::Success => Wire::Success(internal::RaftBlank {}),
            AppendEntriesResponse::PartialSuccess(matching) => {
                Wire::PartialSuccess(internal::RaftPartialSuccess {
                    matching: matching.as_ref().map(log_id_to_wire),
                })
            }
            AppendEntriesResponse::Conflict => Wire::Conflict(internal::RaftBlank {}),
            AppendEntriesResponse::HigherVote(vote) => Wire::HigherVote(vote_to_wire(vote)),
        };
        internal::RaftAppendResponse {
            result: Some(result),
        }
    }

    /// An append response from the wire.
    pub fn append_response_from_wire(
        wire: &internal::RaftAppendResponse,
    ) -> io::Result<AppendEntriesResponse<TypeConfig>> {
        use internal::raft_append_response::Result as Wire;
        Ok(
            match wire
                .result
                .as_ref()
                .ok_or_else(|| invalid("append response without a result"))?
            {
                Wire::Success(_) => AppendEntriesResponse::Success,
                Wire::PartialSuccess(partial) => AppendEntriesResponse::PartialSuccess(
                    partial.matching.as_ref().map(log_id_from_wire),
                ),
                Wire::Conflict(_) => AppendEntriesResponse::Conflict,
                Wire::HigherVote(vote) => AppendEntriesResponse::HigherVote(vote_from_wire(vote)),
            },
        )
    }

    /// A streamed append's answer to the wire.
    pub fn stream_append_result_to_wire(
        result: &StreamAppendResult<TypeConfig>,
    ) -> internal::RaftStreamAppendResponse {
        use internal::raft_stream_append_response::Result as Wire;
        let result = match result {
            Ok(matching) => Wire::Matched(internal::RaftPartialSuccess {
                matching: matching.as_ref().map(log_id_to_wire),
            }),
            Err(StreamAppendError::Conflict(log_id)) => Wire::Conflict(log_id_to_wire(log_id)),
            Err(StreamAppendError::HigherVote(vote)) => Wire::HigherVote(vote_to_wire(vote)),
        };
        internal::RaftStreamAppendResponse {
            result: Some(result),
        }
    }

    /// A streamed append's answer from the wire.
    pub fn stream_append_result_from_wire(
        wire: &internal::RaftStreamAppendResponse,
    ) -> io::Result<StreamAppendResult<TypeConfig>> {
        use internal::raft_stream_append_response::Result as Wire;
        Ok(
            match wire
                .result
                .as_ref()
                .ok_or_else(|| invalid("streamed append response without a result"))?
            {
                Wire::Matched(matched) => Ok(matched.matching.as_ref().map(log_id_from_wire)),
                Wire::Conflict(log_id) => {
                    Err(StreamAppendError::Conflict(log_id_from_wire(log_id)))
                }
                Wire::HigherVote(vote) => Err(StreamAppendError::HigherVote(vote_from_wire(vote))),
            },
        )
    }

    /// A vote request to the wire.
    pub fn vote_request_to_wire(request: &VoteRequest<TypeConfig>) -> internal::RaftVoteRequest {
        internal::RaftVoteRequest {
            vote: Some(vote_to_wire(&request.vote)),
            last_log_id: request.last_log_id.as_ref().map(log_id_to_wire),
            leadership_transfer: request.leadership_transfer,
        }
    }

    /// A vote request from the wire.
    pub fn vote_request_from_wire(
        wire: &internal::RaftVoteRequest,
    ) -> io::Result<VoteRequest<TypeConfig>> {
        Ok(VoteRequest {
            vote: required_vote(wire.vote.as_ref())?,
            last_log_id: wire.last_log_id.as_ref().map(log_id_from_wire),
            leadership_transfer: wire.leadership_transfer,
        })
    }

    /// A vote response to the wire.
    pub fn vote_response_to_wire(
        response: &VoteResponse<TypeConfig>,
    ) -> internal::RaftVoteResponse {
        internal::RaftVoteResponse {
            vote: Some(vote_to_wire(&response.vote)),
            vote_granted: response.vote_granted,
            last_log_id: response.last_log_id.as_ref().map(log_id_to_wire),
        }
    }

    /// A vote response from the wire.
    pub fn vote_response_from_wire(
        wire: &internal::RaftVoteResponse,
    ) -> io::Result<VoteResponse<TypeConfig>> {
        Ok(VoteResponse {
            vote: required_vote(wire.vote.as_ref())?,
            vote_granted: wire.vote_granted,
            last_log_id: wire.last_log_id.as_ref().map(log_id_from_wire),
        })
    }

    /// A transfer-leader request to the wire.
    pub fn transfer_leader_request_to_wire(
        request: &TransferLeaderRequest<TypeConfig>,
    ) -> internal::RaftTransferLeaderRequest {
        internal::RaftTransferLeaderRequest {
            from_leader: Some(vote_to_wire(request.from_leader())),
            to_node_id: *request.to_node_id(),
            last_log_id: request.last_log_id().map(log_id_to_wire),
        }
    }

    /// A transfer-leader request from the wire.
    ///
    /// # Errors
    /// `InvalidData` when the leader's vote is missing.
    pub fn transfer_leader_request_from_wire(
        wire: &internal::RaftTransferLeaderRequest,
    ) -> io::Result<TransferLeaderRequest<TypeConfig>> {
        Ok(TransferLeaderRequest::new(
            required_vote(wire.from_leader.as_ref())?,
            wire.to_node_id,
            wire.last_log_id.as_ref().map(log_id_from_wire),
        ))
    }

    pub use super::{snapshot_meta_from_wire, snapshot_meta_to_wire, vote_from_wire, vote_to_wire};
}
