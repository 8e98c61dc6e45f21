//! The Fulcrum node: what runs on every member of a cluster, and the CLI.
//!
//! - [`config`]: the agent's checked configuration (file, environment, flags);
//! - [`agent`]: a running node: store, Raft, servers, entering the cluster;
//! - [`replica`]: writes from any node (forwarded to the leader) and
//!   linearizable reads (read index);
//! - [`raft_network`], [`raft_service`]: the Raft network over gRPC;
//! - [`api`]: the public `fulcrum.v1` services, reflection and health;
//! - [`cli`]: the `fulcrum` command line.

pub mod agent;
pub mod api;
pub mod cli;
pub mod config;
pub mod dataplane;
pub mod deadline;
pub mod eip;
pub mod errors;
pub mod raft_network;
pub mod raft_service;
pub mod replica;
