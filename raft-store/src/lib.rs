//! Fulcrum's replicated state.
//!
//! [`domain`] is the pure, deterministic core that every replica runs on the
//! same log: commands are checked by `decide` at their log position, turned
//! into events, and folded by `evolve` into the projections (catalog,
//! data-plane configuration, EIP ownership, event history). The RocksDB log
//! store and the openraft state machine around it arrive with the storage work.

pub mod domain;
pub mod raft;
