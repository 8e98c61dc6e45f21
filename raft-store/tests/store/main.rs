//! Tests of the RocksDB log store and state machine: openraft's conformance
//! suite, corruption, crash recovery under SIGKILL, and snapshots.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod corruption;
mod crash;
mod rpc;
mod single_node;
mod snapshot;
mod suite;
mod support;
