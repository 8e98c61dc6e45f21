//! openraft's type configuration for Fulcrum, and the names used elsewhere.

use std::fmt;

use fulcrum_api::v1;
use prost::Message;
use prost::bytes::Bytes;

use crate::domain::Applied;

/// A command on its way through Raft: the envelope the leader stamped,
/// and its encoding, made once on the leader (or read once from the log
/// store or the wire) and then shared by the log store and every
/// replication stream.
///
/// Invariant: `encoded` is the encoding of `envelope`, or bytes that
/// decode to it (a newer build's unknown fields are kept, not dropped).
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    envelope: v1::LogEnvelope,
    encoded: Bytes,
}

impl Proposal {
    /// A proposal of `envelope`, encoded now.
    pub fn new(envelope: v1::LogEnvelope) -> Self {
        let encoded = Bytes::from(envelope.encode_to_vec());
        Self { envelope, encoded }
    }

    /// The proposal whose encoding is `encoded`.
    ///
    /// # Errors
    /// The bytes are not an encoded envelope.
    pub fn decode(encoded: Bytes) -> Result<Self, prost::DecodeError> {
        let envelope = v1::LogEnvelope::decode(encoded.clone())?;
        Ok(Self { envelope, encoded })
    }

    /// The envelope.
    pub fn envelope(&self) -> &v1::LogEnvelope {
        &self.envelope
    }

    /// The envelope's encoding.
    pub fn encoded(&self) -> &Bytes {
        &self.encoded
    }
}

impl fmt::Display for Proposal {
    /// Cheap enough for every log line: the token and the leader's stamp,
    /// never the command's contents (which may hold a private key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command accepted at {} ms, token {:?}",
            self.envelope.accepted_at_unix_ms, self.envelope.client_token
        )
    }
}

/// What applying one entry answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The entry's log index.
    pub log_index: u64,
    /// The domain's answer; `None` for blank and membership entries.
    pub applied: Option<Applied>,
}

/// How to reach a cluster member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterNode {
    /// Where its internal Raft service listens.
    pub raft_address: String,
    /// Where its public API listens.
    pub api_address: String,
}

openraft::declare_raft_types!(
    /// Fulcrum's openraft configuration: u64 node ids and terms, the
    /// envelope as application data, tokio as runtime.
    pub TypeConfig:
        D = Proposal,
        R = Response,
        NodeId = u64,
        Node = ClusterNode,
);

/// A log id.
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
/// A vote.
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
/// A log entry.
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
/// A membership configuration.
pub type Membership = openraft::Membership<u64, ClusterNode>;
/// A membership and the log id it was applied at.
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
/// What a snapshot covers.
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
