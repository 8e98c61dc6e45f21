//! Fulcrum's replicated state.
//!
//! [`domain`] is the pure, deterministic core that every replica runs on the
//! same log: commands are checked by `decide` at their log position, turned
//! into events, and folded by `evolve` into the projections (catalog,
//! data-plane configuration, EIP ownership, event history).
//!
//! [`raft`] holds openraft's types, the Raft codec and, with the `store`
//! feature (on by default), the RocksDB log store and state machine. The
//! hidden `fuzzing` module is the fuzz targets' logic (see `fuzz/`).
//! [`backup`] is the backup file a new cluster is seeded from.

pub mod backup;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod raft;
