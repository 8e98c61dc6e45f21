//! The Fulcrum node: what runs on every member of a cluster. So far, the
//! Raft network: the gRPC service nodes use to replicate the log among
//! themselves, client and server.

pub mod raft_network;
pub mod raft_service;
