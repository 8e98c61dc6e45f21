//! Fulcrum's data plane: a thread-per-core forwarder (monoio) that serves a
//! plain configuration value. It depends on no other Fulcrum crate but the
//! API's, and on neither tokio nor openraft: the node fills in a
//! [`config::Config`] and hands it over.
//!
//! So far: the configuration types and the balancing algorithms
//! ([`balance`]), pure and tested on their own. The forwarder that uses them
//! comes next.

pub mod balance;
pub mod config;
