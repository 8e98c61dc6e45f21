//! Tests of the domain through its one entry point, `State::apply`, fed with
//! the same protobuf envelopes the replicated log carries.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod access;
mod access_logs;
mod dataplane_projection;
mod forwarding_rules;
mod group_traffic;
mod guide;
mod harness;
mod history;
mod limits;
mod properties;
mod random_log;
mod rules;
mod sealed_keys;
mod sealed_stand_in;
mod snapshot;
mod tokens;
