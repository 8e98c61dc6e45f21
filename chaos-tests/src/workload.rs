//! The control-plane workloads, through the public gRPC API only.
//!
//! - **Register**: each of a few Load Balancers is a register whose value is
//!   its description (an integer). Reads are linearizable reads; writes set
//!   the description; a compare-and-set reads the Load Balancer and, if the
//!   value is the expected one, updates it with the revision it read as the
//!   expected revision (ABORTED when anything changed in between, which
//!   makes it a real compare-and-set). Every operation is recorded
//!   ([`Recorder`]).
//! - **Set**: listeners with unique ports and unique client tokens added to
//!   one Load Balancer; each add's outcome is kept for the set checker.
//!
//! An error whose gRPC code says the request was refused is a failure; any
//! other (timeouts, unavailable, broken connections) leaves the outcome
//! unknown.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use fulcrum_api::{Client, Credentials, v1};
use tonic::{Code, Status};

use crate::recorder::{Completion, Recorder, Request};
use crate::rng::Rng;
use crate::set::{Add, Outcome};

/// How long one operation may take before its outcome is unknown.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether `status` says the request was certainly not applied.
pub fn refused(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::FailedPrecondition
            | Code::ResourceExhausted
            | Code::OutOfRange
            | Code::Aborted
            | Code::PermissionDenied
            | Code::Unauthenticated
    )
}

/// A request with the workload's deadline.
fn request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(OPERATION_TIMEOUT);
    request
}

fn linearizable() -> Option<v1::ReadOptions> {
    Some(v1::ReadOptions {
        consistency: v1::ReadConsistency::Linearizable as i32,
    })
}

/// A connection to one node, made again after it breaks.
pub struct Node {
    endpoint: String,
    credentials: Arc<Credentials>,
    client: Option<Client>,
}

impl Node {
    /// The node at `endpoint`, reached with `credentials` (the cluster's
    /// [`crate::cluster::LocalCluster::credentials`]); connects on first use.
    pub fn new(endpoint: String, credentials: Arc<Credentials>) -> Self {
        Self {
            endpoint,
            credentials,
            client: None,
        }
    }

    /// The client, connecting if needed.
    ///
    /// # Errors
    /// The node could not be reached in time (UNAVAILABLE).
    pub async fn client(&mut self) -> Result<Client, Status> {
        if let Some(client) = &self.client {
            return Ok(client.clone());
        }
        let client = Client::connect_with(&self.endpoint, OPERATION_TIMEOUT, &self.credentials)
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Forgets the connection (after an error that may have broken it).
    pub fn reset(&mut self) {
        self.client = None;
    }
}

/// Whether the client holds a connection to its node; when it cannot make
/// one, it waits a little and says no. An operation is invoked only on a
/// connection: one refused at connect time was certainly never applied, and
/// need not enter the history as an unknown.
async fn connected(node: &mut Node) -> bool {
    if node.client().await.is_ok() {
        return true;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    false
}

/// The value of a register as its Load Balancer holds it, with the
/// revision it was read at.
async fn read_register(node: &mut Node, id: &str) -> Result<(i64, u64), Status> {
    let reply = node
        .client()
        .await?
        .load_balancers()
        .get_load_balancer(request(v1::GetLoadBalancerRequest {
            id: id.to_owned(),
            read: linearizable(),
        }))
        .await?
        .into_inner();
    let load_balancer = reply
        .load_balancer
        .ok_or_else(|| Status::internal("the answer holds no Load Balancer"))?;
    let value = load_balancer.description.parse().map_err(|_| {
        Status::internal(format!(
            "the register's description {:?} is not an integer",
            load_balancer.description
        ))
    })?;
    Ok((value, load_balancer.revision))
}

async fn write_register(
    node: &mut Node,
    id: &str,
    value: i64,
    expected_revision: Option<u64>,
    token: String,
) -> Result<(), Status> {
    node.client()
        .await?
        .load_balancers()
        .update_load_balancer(request(v1::UpdateLoadBalancerRequest {
            client_token: token,
            id: id.to_owned(),
            expected_revision,
            description: Some(value.to_string()),
            ..v1::UpdateLoadBalancerRequest::default()
        }))
        .await
        .map(drop)
}

/// One register client: random reads, writes and compare-and-sets on
/// `registers` (Load Balancer ids) until `stop`, recorded in `recorder`.
///
/// A compare-and-set is a recorded read, then, from the value read, an
/// update that expects the revision read: acknowledged, it swapped from
/// that value; ABORTED (the revision moved), it did nothing and is
/// recorded as refused, which the checker drops.
pub async fn register_client(
    mut node: Node,
    registers: Arc<Vec<String>>,
    recorder: Arc<Recorder>,
    mut rng: Rng,
    tokens: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let mut process = recorder.new_process();
    while !stop.load(Ordering::Relaxed) {
        if !connected(&mut node).await {
            continue;
        }
        let key = rng.pick(&registers).clone();
        let token = format!("reg-{}", tokens.fetch_add(1, Ordering::Relaxed));
        let value = i64::try_from(rng.below(1_000_000)).unwrap_or(0);
        match rng.below(4) {
            0 | 1 => {
                (process, _) = recorded_read(&mut node, &recorder, process, &key).await;
            }
            2 => {
                let invocation = recorder.invoke(process, &key, Request::Write(value));
                let written = write_register(&mut node, &key, value, None, token).await;
                process = recorder.complete(invocation, completion(&mut node, written, false));
            }
            _ => {
                let read;
                (process, read) = recorded_read(&mut node, &recorder, process, &key).await;
                if let Some((from, revision)) = read {
                    let invocation = recorder.invoke(process, &key, Request::Cas(from, value));
                    let swapped =
                        write_register(&mut node, &key, value, Some(revision), token).await;
                    process = recorder.complete(invocation, completion(&mut node, swapped, true));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.below(20))).await;
    }
}

/// A read, recorded; returns the process to continue under and what was read.
async fn recorded_read(
    node: &mut Node,
    recorder: &Recorder,
    process: u64,
    key: &str,
) -> (u64, Option<(i64, u64)>) {
    let invocation = recorder.invoke(process, key, Request::Read);
    match read_register(node, key).await {
        Ok((value, revision)) => (
            recorder.complete(invocation, Completion::Ok(Some(value))),
            Some((value, revision)),
        ),
        Err(status) => (
            recorder.complete(invocation, completion(node, Err(status), false)),
            None,
        ),
    }
}

/// How a write or compare-and-set ended: refused codes did nothing (a
/// compare-and-set's refusal says nothing about the value), others are
/// unknown (and the connection is made again).
fn completion(node: &mut Node, outcome: Result<(), Status>, compare: bool) -> Completion {
    match outcome {
        Ok(()) => Completion::Ok(None),
        Err(status) if refused(&status) && compare => Completion::Refused,
        Err(status) if refused(&status) => Completion::Fail,
        Err(_) => {
            node.reset();
            Completion::Info
        }
    }
}

/// The adds of the set workload, as their clients saw them.
#[derive(Debug, Default)]
pub struct SetAdds {
    adds: Mutex<Vec<Add>>,
}

impl SetAdds {
    /// Every add so far.
    pub fn all(&self) -> Vec<Add> {
        self.adds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, add: Add) {
        self.adds
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(add);
    }
}

/// The first port the set workload uses; element `n` is port `SET_BASE_PORT + n`.
pub const SET_BASE_PORT: u64 = 10_000;

/// Elements (listeners) per Load Balancer of the set: the ceiling of the
/// listeners-per-Load-Balancer quota (README, "Limits"), which the run
/// raises the quota to. (A client's knowledge: this crate uses the API only.)
pub const SET_ELEMENTS_PER_LOAD_BALANCER: u64 = 200;

/// The Load Balancers the set needs for every port above [`SET_BASE_PORT`].
pub const SET_LOAD_BALANCERS: u64 =
    (u16::MAX as u64 - SET_BASE_PORT).div_ceil(SET_ELEMENTS_PER_LOAD_BALANCER);

/// How long creating the set's Load Balancers may take (before any fault).
const SET_SETUP_PATIENCE: Duration = Duration::from_secs(60);
/// The pause before creating one of them again after a failure.
const SET_SETUP_BACKOFF: Duration = Duration::from_millis(50);

/// Creates the set's Load Balancers (`set-0`, `set-1`, ...) in `network_id`
/// and `subnet_id`, retrying each under its own client token until it is
/// acknowledged; answers their ids in order. Element `n` goes to the
/// Load Balancer `n / SET_ELEMENTS_PER_LOAD_BALANCER`.
///
/// # Errors
/// A creation was refused, or did not succeed within a minute.
pub async fn create_set_load_balancers(
    node: &mut Node,
    network_id: &str,
    subnet_id: &str,
) -> Result<Vec<String>, Status> {
    let deadline = tokio::time::Instant::now() + SET_SETUP_PATIENCE;
    let mut ids = Vec::new();
    for shard in 0..SET_LOAD_BALANCERS {
        loop {
            let created = match node.client().await {
                Ok(client) => {
                    client
                        .load_balancers()
                        .create_load_balancer(request(v1::CreateLoadBalancerRequest {
                            client_token: format!("set-lb-{shard}"),
                            name: format!("set-{shard}"),
                            network_id: network_id.to_owned(),
                            subnet_id: subnet_id.to_owned(),
                            ..v1::CreateLoadBalancerRequest::default()
                        }))
                        .await
                }
                Err(status) => Err(status),
            };
            match created {
                Ok(reply) => {
                    let id = reply
                        .into_inner()
                        .load_balancer
                        .map(|lb| lb.id)
                        .ok_or_else(|| Status::internal("a creation answered no Load Balancer"))?;
                    ids.push(id);
                    break;
                }
                Err(status) if refused(&status) => return Err(status),
                Err(status) if tokio::time::Instant::now() > deadline => return Err(status),
                Err(_) => {
                    node.reset();
                    tokio::time::sleep(SET_SETUP_BACKOFF).await;
                }
            }
        }
    }
    Ok(ids)
}

/// One set client: adds listeners with fresh ports (from `next`) to the
/// set's Load Balancers until `stop`.
pub async fn set_client(
    mut node: Node,
    load_balancers: Arc<Vec<String>>,
    adds: Arc<SetAdds>,
    next: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        if !connected(&mut node).await {
            continue;
        }
        let element = next.fetch_add(1, Ordering::Relaxed);
        let shard = usize::try_from(element / SET_ELEMENTS_PER_LOAD_BALANCER).unwrap_or(usize::MAX);
        let Some(load_balancer_id) = load_balancers.get(shard) else {
            return;
        };
        if SET_BASE_PORT + element > u64::from(u16::MAX) {
            return;
        }
        let created = match node.client().await {
            Ok(client) => {
                client
                    .listeners()
                    .create_listener(request(v1::CreateListenerRequest {
                        client_token: format!("set-{element}"),
                        load_balancer_id: load_balancer_id.clone(),
                        name: format!("s{element}"),
                        protocol: v1::Protocol::Tcp as i32,
                        port: u32::try_from(SET_BASE_PORT + element).unwrap_or(0),
                        ..v1::CreateListenerRequest::default()
                    }))
                    .await
            }
            Err(status) => Err(status),
        };
        let outcome = match created {
            Ok(_) => Outcome::Ok,
            Err(status) if refused(&status) => Outcome::Failed,
            Err(_) => {
                node.reset();
                Outcome::Unknown
            }
        };
        adds.push(Add { element, outcome });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The set's final read: every element (port − [`SET_BASE_PORT`]) among
/// the set's Load Balancers' listeners, read linearizably, and how many
/// listeners there were (more than elements: a listener was duplicated).
///
/// # Errors
/// The read failed.
pub async fn read_set(
    node: &mut Node,
    load_balancers: &[String],
) -> Result<(std::collections::BTreeSet<u64>, usize), Status> {
    let mut elements = std::collections::BTreeSet::new();
    let mut listeners = 0;
    for load_balancer_id in load_balancers {
        listeners += read_set_listeners(node, load_balancer_id, &mut elements).await?;
    }
    Ok((elements, listeners))
}

/// Adds the elements of one Load Balancer of the set to `elements`, and
/// answers how many listeners it has.
async fn read_set_listeners(
    node: &mut Node,
    load_balancer_id: &str,
    elements: &mut std::collections::BTreeSet<u64>,
) -> Result<usize, Status> {
    let mut listeners = 0;
    let mut page_token = String::new();
    loop {
        let reply = node
            .client()
            .await?
            .listeners()
            .list_listeners(request(v1::ListListenersRequest {
                load_balancer_id: load_balancer_id.to_owned(),
                page_size: 1000,
                page_token: page_token.clone(),
                read: linearizable(),
            }))
            .await?
            .into_inner();
        listeners += reply.listeners.len();
        elements.extend(
            reply
                .listeners
                .iter()
                .filter_map(|listener| u64::from(listener.port).checked_sub(SET_BASE_PORT)),
        );
        if reply.next_page_token.is_empty() {
            return Ok(listeners);
        }
        page_token = reply.next_page_token;
    }
}

/// A final read of each register, recorded as operations of a fresh process.
///
/// # Errors
/// A read failed (the run's final phase retries on another node).
pub async fn read_registers(
    node: &mut Node,
    registers: &[String],
    recorder: &Recorder,
) -> Result<(), Status> {
    for key in registers {
        let process = recorder.new_process();
        let invocation = recorder.invoke(process, key, Request::Read);
        match read_register(node, key).await {
            Ok((value, _)) => {
                recorder.complete(invocation, Completion::Ok(Some(value)));
            }
            Err(status) => {
                recorder.complete(invocation, Completion::Info);
                return Err(status);
            }
        }
    }
    Ok(())
}
