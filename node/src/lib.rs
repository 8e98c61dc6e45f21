//! The Fulcrum node: what runs on every member of a cluster, and the CLI.
//!
//! - [`config`]: the agent's checked configuration (file, environment, flags);
//! - [`agent`]: a running node: store, Raft, servers, background tasks;
//! - [`enter`]: how a node enters its cluster (bootstrap, join, restart);
//! - [`seeding`]: starting from a backup or from this node's own data
//!   alone (`--restore`, `--force-new-cluster`);
//! - [`replica`]: writes from any node (forwarded to the leader) and
//!   linearizable reads (read index);
//! - [`admission`]: the checks a command passes before it is proposed;
//! - [`transport`]: the servers' limits (connections, request size) and
//!   their TLS handshakes;
//! - [`tls`]: the node's certificates for its ports, reloaded on change;
//! - [`auth`]: who may call what on the public API (tokens, client
//!   certificates, roles);
//! - [`raft_network`], [`raft_service`]: the Raft network over gRPC;
//! - [`cluster_id`]: which cluster a node belongs to, checked on every Raft message;
//! - [`resources`]: each resource of the catalog described once, for the
//!   API's handlers and the CLI;
//! - [`api`]: the public `fulcrum.v1` services, reflection and health;
//! - [`rest`]: the same services as REST/JSON on the HTTP port, transcoded
//!   from the contract's `google.api.http` annotations, and their OpenAPI
//!   document;
//! - [`health`]: what the health service reports, and why;
//! - [`metrics`]: the Prometheus metrics at `/metrics` on the HTTP port;
//! - [`request_id`]: every API call's id, in its logs on every node it touches;
//! - [`blocked`]: a node whose log is newer than its build: up, not serving;
//! - [`cli`]: the `fulcrum` command line.

pub mod admission;
pub mod agent;
pub mod api;
pub mod auth;
pub mod blocked;
pub mod cli;
pub mod cluster_id;
pub mod config;
pub mod console;
pub mod dataplane;
pub mod deadline;
pub mod enter;
pub mod errors;
pub mod file_stamp;
pub mod health;
pub mod metrics;
pub mod ownership;
pub mod raft_network;
pub mod raft_service;
pub mod replica;
pub mod request_id;
pub mod resources;
pub mod rest;
pub mod secrets;
pub mod seeding;
pub mod tls;
pub mod transport;
