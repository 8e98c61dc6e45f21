//! The Raft side of the replicated state: openraft's type configuration, the
//! RocksDB log store and state machine, and Fulcrum's own encoding of Raft's
//! records. openraft types stay behind this module's adapters.
//!
//! The RocksDB-backed half (log store, state machine, store, flusher) comes
//! with the `store` feature, on by default; without it the types, the codec
//! and the sample log remain, for builds that must not compile RocksDB (the
//! fuzz targets).

pub(crate) mod codec;
#[cfg(feature = "store")]
mod flusher;
#[cfg(feature = "store")]
mod log_store;
pub mod sample;
#[cfg(feature = "store")]
mod seed;
#[cfg(feature = "store")]
mod state_machine;
#[cfg(feature = "store")]
mod store;
mod types;

pub use codec::{encoded_entry_len, rpc};
#[cfg(feature = "store")]
pub use log_store::LogStore;
#[cfg(feature = "store")]
pub use seed::{Unappliable, recover, seed, unappliable};
#[cfg(feature = "store")]
pub use state_machine::{
    RECEIVING_PREFIX, SharedState, SnapshotBuilder, SnapshotFile, StateMachine,
};
#[cfg(feature = "store")]
pub use store::{Durations, OpenError, STORE_FORMAT_VERSION, Store, StoreMetrics};
pub use types::{
    ClusterNode, Entry, LogId, Membership, Proposal, Response, SnapshotMeta, StoredMembership,
    TypeConfig, Vote,
};
