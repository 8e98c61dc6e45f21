//! Fulcrum's data plane: a thread-per-core forwarder (monoio) that serves a
//! plain configuration value. It depends on no other Fulcrum crate but the
//! API's, and on neither tokio nor openraft: the node fills in a
//! [`Config`] and hands it to a [`Forwarder`].
//!
//! - [`config`]: what to serve (listeners, groups, members, health checks,
//!   certificates, HTTP limits), and [`file`](mod@file) to read it from TOML.
//! - [`balance`]: the balancing algorithms, pure.
//! - [`access_log`]: where the access-log lines go and in what format; the
//!   worker threads queue entries, one writer thread writes them.
//! - [`Forwarder`]: the worker threads; [`Forwarder::apply`] swaps a new
//!   configuration in, and the handle answers applied generations, listener
//!   errors, health and counters.
//!
//! Inside: `worker` (one thread: runtime, listeners, services), `backends`
//! (a group on one thread: balancer, persistence, passive health), `tcp` (L4
//! relay), `proxy_protocol` (the header a TCP member may be sent), `http`
//! (L7 proxy), `tls`, `health` (probes), `passive` (ejection by what the
//! traffic says), `counters`. The hidden
//! `fuzzing` module is the fuzz targets' logic (see `fuzz/`).

pub mod access_log;
mod backends;
pub mod balance;
pub mod config;
mod counters;
pub mod file;
mod forwarder;
#[doc(hidden)]
pub mod fuzzing;
mod health;
mod http;
mod io;
mod passive;
mod plan;
mod proxy_protocol;
mod tcp;
mod tls;
mod worker;

pub use config::Config;
pub use counters::{ErrorKind, LATENCY_BUCKETS, Latency, ListenerStats, MemberStats, Snapshot};
pub use forwarder::{ApplyError, DEFAULT_NODE_CONNECTION_LIMIT, Driver, Forwarder, Settings};
pub use health::MemberHealth;
pub use plan::ListenerChange;
