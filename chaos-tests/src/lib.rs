//! Fulcrum's Jepsen-style tests: the cluster as a black box, driven through
//! its gRPC API and sockets only, with faults injected and a history of
//! every operation recorded and checked.
//!
//! So far: the register history format, its recorder and its
//! linearizability checker ([`history`], [`recorder`], [`register`]), tested
//! on real Jepsen etcd histories; the set checker ([`set`]: lost and
//! phantom adds); a local cluster in network namespaces to run against
//! ([`cluster`]), the guide's steps with real backends ([`guide`]) and
//! probes of its data plane ([`probe`]). The runner, the
//! nemeses and the workloads come next.

pub mod cluster;
pub mod guide;
pub mod history;
pub mod nemesis;
pub mod probe;
pub mod recorder;
pub mod register;
pub mod rng;
pub mod run;
pub mod set;
pub mod workload;
