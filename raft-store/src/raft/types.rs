//! openraft's type configuration for Fulcrum, and the names used elsewhere.

use std::fmt;

use fulcrum_api::v1;

use crate::domain::Applied;

/// A command on its way through Raft: the envelope the leader stamped.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal(pub v1::LogEnvelope);

impl fmt::Display for Proposal {
    /// Cheap enough for every log line: the token and the leader's stamp,
    /// never the command's contents (which may hold a private key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "command accepted at {} ms, token {:?}",
            self.0.accepted_at_unix_ms, self.0.client_token
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
