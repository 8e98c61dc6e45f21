//! The Raft side of the replicated state: openraft's type configuration, the
//! RocksDB log store and state machine, and Fulcrum's own encoding of Raft's
//! records. openraft types stay behind this module's adapters.

mod codec;
mod flusher;
mod log_store;
pub mod sample;
mod state_machine;
mod store;
mod types;

pub use codec::{encoded_entry_len, rpc};
pub use log_store::LogStore;
pub use state_machine::{SharedState, SnapshotBuilder, SnapshotFile, StateMachine};
pub use store::{OpenError, STORE_FORMAT_VERSION, Store, StoreMetrics};
pub use types::{
    ClusterNode, Entry, LogId, Membership, Proposal, Response, SnapshotMeta, StoredMembership,
    TypeConfig, Vote,
};
