//! The node's handle on consensus: how a command reaches the log from any
//! node, and how a read is made linearizable on any node.
//!
//! Writes: the leader stamps its clock on the command, commits it and answers
//! with the domain's receipt. A follower hands the command to the leader over
//! the internal Raft service and then waits until its own projections have
//! applied the entry, so that what it answers next is at least as new.
//!
//! Retries inside one call are made only where nothing can have been applied
//! twice: after a "not the leader" refusal (the entry was never appended), or
//! when the client gave a token (the token memory answers a repeat with the
//! first answer).
//!
//! Reads: a linearizable read waits until the local state machine has applied
//! a read index the leader confirmed with a quorum (openraft's ReadIndex).

use std::net::Ipv4Addr;
use std::sync::{Arc, RwLockReadGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use fulcrum_raft_store::domain::{Receipt, State};
use fulcrum_raft_store::raft::{ClusterNode, Proposal, SharedState, StateMachine, TypeConfig};
use openraft::async_runtime::WatchReceiver;
use openraft::{Raft, RaftMetrics, ReadPolicy};
use tokio::time::Instant;
use tonic::Status;

use crate::admission::{self, AddressPolicy};
use crate::deadline::remaining;
use crate::errors::{no_leader, outcome_unknown, rejection_status};
use crate::raft_network::PeerNetwork;

/// How long to wait before asking again who leads, while an election runs.
const LEADER_BACKOFF: Duration = Duration::from_millis(25);

/// How a read is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// After a read index confirmed by the leader's quorum has been applied here.
    Linearizable,
    /// From this node's projections as they are: fast, possibly stale.
    Local,
}

impl Consistency {
    /// The consistency a request asks for; linearizable unless it says local.
    pub fn of(read: Option<&v1::ReadOptions>) -> Self {
        match read.map(|read| read.consistency()) {
            Some(v1::ReadConsistency::Local) => Self::Local,
            _ => Self::Linearizable,
        }
    }
}

/// The answer of the leader to a command, or the leader it points to.
pub enum LeaderAnswer<T> {
    /// The leader answered.
    Answered(T),
    /// This node does not lead; `Some` names the node it believes does.
    NotLeader(Option<u64>),
}

/// One node's view of the cluster's consensus.
pub struct Replica {
    id: u64,
    raft: Raft<TypeConfig, StateMachine>,
    state: SharedState,
    /// The state machine's last applied index.
    applied: tokio::sync::watch::Receiver<u64>,
    peers: PeerNetwork,
    addresses: AddressPolicy,
    proposals: Proposals,
}

/// What became of the writes this node proposed as the leader, and how long
/// their commit and apply took (read by `crate::metrics`).
#[derive(Clone, Debug)]
pub struct Proposals {
    /// Committed and applied; `outcome`: `accepted` (a receipt) or
    /// `rejected` (the domain refused it at its log position).
    pub applied: prometheus_client::metrics::family::Family<
        [(&'static str, &'static str); 1],
        prometheus_client::metrics::counter::Counter,
    >,
    /// Not committed: leadership moved, or the deadline passed.
    pub failed: prometheus_client::metrics::counter::Counter,
    /// From the proposal to its answer: appended, replicated to a quorum,
    /// synced and applied.
    pub commit_latency: prometheus_client::metrics::histogram::Histogram,
    /// Writes this node handed to the leader, by outcome: `answered`
    /// (committed, or refused by the leader with an answer) or `failed`
    /// (not sent, or the leader moved or could not be reached).
    pub forwarded: prometheus_client::metrics::family::Family<
        [(&'static str, &'static str); 1],
        prometheus_client::metrics::counter::Counter,
    >,
}

impl Default for Proposals {
    fn default() -> Self {
        Self {
            applied: prometheus_client::metrics::family::Family::default(),
            failed: prometheus_client::metrics::counter::Counter::default(),
            commit_latency: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 14),
            ),
            forwarded: prometheus_client::metrics::family::Family::default(),
        }
    }
}

impl Replica {
    /// The replica of node `id`, admitting commands by `addresses`.
    pub fn new(
        id: u64,
        raft: Raft<TypeConfig, StateMachine>,
        state: SharedState,
        applied: tokio::sync::watch::Receiver<u64>,
        peers: PeerNetwork,
        addresses: AddressPolicy,
    ) -> Arc<Self> {
        Arc::new(Self {
            id,
            raft,
            state,
            applied,
            peers,
            addresses,
            proposals: Proposals::default(),
        })
    }

    /// The writes this node proposed as the leader.
    pub fn proposals(&self) -> &Proposals {
        &self.proposals
    }

    /// This node's cluster id.
    pub fn cluster_identity(&self) -> &Arc<crate::cluster_id::ClusterIdentity> {
        self.peers.identity()
    }

    /// Checks a command before it is proposed (see [`crate::admission`]):
    /// a refusal here means it never reaches the log.
    pub fn admit(&self, client_token: &str, command: &v1::Command) -> Result<(), Status> {
        let metrics = self.raft.metrics();
        let nodes: Vec<Ipv4Addr> = admission::ipv4_hosts(
            metrics
                .borrow_watched()
                .membership_config
                .membership()
                .nodes()
                .flat_map(|(_, node)| [node.api_address.as_str(), node.raft_address.as_str()]),
        );
        admission::admit(&self.addresses, client_token, command, &nodes)
    }

    /// What this node presents when it calls another member's public API
    /// (joining, forwarding a membership change): its node certificate.
    pub fn node_credentials(&self) -> fulcrum_api::Credentials {
        self.peers.api_credentials()
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The state machine's last applied index, watched.
    pub fn applied_index(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.clone()
    }

    /// The Raft node.
    pub fn raft(&self) -> &Raft<TypeConfig, StateMachine> {
        &self.raft
    }

    /// The projections as this node has applied them.
    pub fn state(&self) -> Result<RwLockReadGuard<'_, State>, Status> {
        self.state
            .read()
            .map_err(|_| Status::internal("the state lock is poisoned"))
    }

    /// Raft's metrics as they are now.
    pub fn metrics(&self) -> RaftMetrics<TypeConfig> {
        self.raft.metrics().borrow_watched().clone()
    }

    /// The leader as this node knows it, and how to reach it.
    pub fn leader(&self) -> Option<(u64, ClusterNode)> {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow_watched();
        let leader = metrics.current_leader?;
        let node = metrics
            .membership_config
            .membership()
            .get_node(&leader)
            .cloned()?;
        Some((leader, node))
    }

    /// Commits `command`, sent by `principal` (the audit trail's name for
    /// the caller), from any node and answers with its receipt.
    pub async fn propose(
        &self,
        principal: String,
        client_token: String,
        command: v1::Command,
        deadline: Instant,
    ) -> Result<Receipt, Status> {
        self.admit(&client_token, &command)?;
        let retry_is_safe = !client_token.is_empty();
        loop {
            let failure = match self.leader() {
                Some((leader, _)) if leader == self.id => {
                    match self
                        .propose_as_leader(
                            principal.clone(),
                            client_token.clone(),
                            command.clone(),
                            deadline,
                        )
                        .await?
                    {
                        LeaderAnswer::Answered((_, receipt)) => return Ok(receipt),
                        LeaderAnswer::NotLeader(_) => "leadership moved".to_owned(),
                    }
                }
                Some((leader, node)) => {
                    let forwarded = self
                        .forward(
                            leader,
                            &node,
                            (&principal, &client_token),
                            &command,
                            deadline,
                        )
                        .await;
                    let outcome = match &forwarded {
                        Ok(LeaderAnswer::Answered(_)) | Err(Forwarding::Refused(_)) => "answered",
                        _ => "failed",
                    };
                    self.proposals
                        .forwarded
                        .get_or_create(&[("outcome", outcome)])
                        .inc();
                    match forwarded {
                        Ok(LeaderAnswer::Answered((log_index, receipt))) => {
                            self.wait_applied(log_index, deadline).await?;
                            return Ok(receipt);
                        }
                        Ok(LeaderAnswer::NotLeader(_)) => format!("node {leader} no longer leads"),
                        Err(Forwarding::Refused(status)) => return Err(status),
                        Err(Forwarding::NotSent(reason)) => reason,
                        Err(Forwarding::Lost(reason)) if retry_is_safe => reason,
                        Err(Forwarding::Lost(reason)) => return Err(outcome_unknown(reason)),
                    }
                }
                None => "no leader is known".to_owned(),
            };
            if remaining(deadline) <= LEADER_BACKOFF {
                return Err(no_leader(failure));
            }
            tokio::time::sleep(LEADER_BACKOFF).await;
        }
    }

    /// Commits `command` if this node leads: stamps the leader's clock on it,
    /// appends it, and answers with the entry's log index and the receipt.
    pub async fn propose_as_leader(
        &self,
        principal: String,
        client_token: String,
        command: v1::Command,
        deadline: Instant,
    ) -> Result<LeaderAnswer<(u64, Receipt)>, Status> {
        tracing::debug!(%client_token, "proposing a write");
        let envelope = v1::LogEnvelope {
            format_version: LOG_FORMAT_VERSION,
            client_token,
            accepted_at_unix_ms: unix_now_ms(),
            principal,
            command: Some(command),
        };
        let started = std::time::Instant::now();
        let written = tokio::time::timeout(
            remaining(deadline),
            self.raft.client_write(Proposal::new(envelope)),
        )
        .await
        .map_err(|_| {
            self.proposals.failed.inc();
            outcome_unknown("not committed in time")
        })?;
        let response = match written {
            Ok(response) => response,
            Err(error) => {
                self.proposals.failed.inc();
                if let Some(forward) = error.forward_to_leader() {
                    return Ok(LeaderAnswer::NotLeader(forward.leader_id));
                }
                return Err(no_leader(error));
            }
        };
        self.proposals
            .commit_latency
            .observe(started.elapsed().as_secs_f64());
        let log_index = response.log_id.index;
        let applied = response
            .data
            .applied
            .ok_or_else(|| Status::internal("a command entry was applied without an answer"))?;
        let outcome = if applied.answer.is_ok() {
            "accepted"
        } else {
            "rejected"
        };
        self.proposals
            .applied
            .get_or_create(&[("outcome", outcome)])
            .inc();
        match applied.answer {
            Ok(receipt) => Ok(LeaderAnswer::Answered((log_index, receipt))),
            Err(rejection) => Err(rejection_status(&rejection)),
        }
    }

    async fn forward(
        &self,
        leader: u64,
        node: &ClusterNode,
        (principal, client_token): (&str, &str),
        command: &v1::Command,
        deadline: Instant,
    ) -> Result<LeaderAnswer<(u64, Receipt)>, Forwarding> {
        let mut client = self
            .peers
            .raft_client(&node.raft_address)
            .map_err(Forwarding::NotSent)?;
        let mut request = tonic::Request::new(internal::ProposeRequest {
            principal: principal.to_owned(),
            client_token: client_token.to_owned(),
            command: Some(command.clone()),
        });
        request.set_timeout(remaining(deadline));
        if let Some(id) = crate::request_id::current()
            && let Ok(value) = id.parse()
        {
            request
                .metadata_mut()
                .insert(crate::request_id::HEADER, value);
        }
        tracing::debug!(leader, "handing the write to the leader");
        let reply = client
            .propose(request)
            .await
            .map_err(|status| Forwarding::classify(leader, status))?
            .into_inner();
        match reply.outcome {
            Some(internal::propose_response::Outcome::Receipt(receipt)) => {
                Ok(LeaderAnswer::Answered((
                    receipt.log_index,
                    Receipt {
                        revision: receipt.revision,
                        resource_id: receipt.resource_id,
                    },
                )))
            }
            Some(internal::propose_response::Outcome::NotLeader(not_leader)) => {
                Ok(LeaderAnswer::NotLeader(not_leader.leader_id))
            }
            None => Err(Forwarding::Lost(format!(
                "node {leader} answered a proposal with no outcome"
            ))),
        }
    }

    /// Makes the next read from [`Self::state`] satisfy `consistency`.
    pub async fn read_barrier(
        &self,
        consistency: Consistency,
        deadline: Instant,
    ) -> Result<(), Status> {
        if consistency == Consistency::Local {
            return Ok(());
        }
        loop {
            let failure = match self.leader() {
                Some((leader, _)) if leader == self.id => {
                    match self.read_index_as_leader(deadline).await? {
                        LeaderAnswer::Answered(_) => return Ok(()),
                        LeaderAnswer::NotLeader(_) => "leadership moved".to_owned(),
                    }
                }
                Some((leader, node)) => match self.remote_read_index(leader, &node, deadline).await
                {
                    Ok(LeaderAnswer::Answered(index)) => {
                        return self.wait_applied(index, deadline).await;
                    }
                    Ok(LeaderAnswer::NotLeader(_)) => format!("node {leader} no longer leads"),
                    Err(reason) => reason,
                },
                None => "no leader is known".to_owned(),
            };
            if remaining(deadline) <= LEADER_BACKOFF {
                return Err(no_leader(failure));
            }
            tokio::time::sleep(LEADER_BACKOFF).await;
        }
    }

    /// If this node leads: confirms it with a quorum and waits until its state
    /// machine has applied the read index, which it answers.
    pub async fn read_index_as_leader(
        &self,
        deadline: Instant,
    ) -> Result<LeaderAnswer<u64>, Status> {
        let confirmed = tokio::time::timeout(
            remaining(deadline),
            self.raft.ensure_linearizable(ReadPolicy::ReadIndex),
        )
        .await
        .map_err(|_| no_leader("leadership not confirmed by a quorum in time"))?;
        match confirmed {
            Ok(read_log_id) => Ok(LeaderAnswer::Answered(read_log_id.index())),
            Err(error) => match error.forward_to_leader() {
                Some(forward) => Ok(LeaderAnswer::NotLeader(forward.leader_id)),
                None => Err(no_leader(error)),
            },
        }
    }

    async fn remote_read_index(
        &self,
        leader: u64,
        node: &ClusterNode,
        deadline: Instant,
    ) -> Result<LeaderAnswer<u64>, String> {
        let mut client = self.peers.raft_client(&node.raft_address)?;
        let mut request = tonic::Request::new(internal::ReadIndexRequest {});
        request.set_timeout(remaining(deadline));
        let reply = client
            .read_index(request)
            .await
            .map_err(|status| format!("node {leader}: {}", status.message()))?
            .into_inner();
        match reply.outcome {
            Some(internal::read_index_response::Outcome::ReadIndex(index)) => {
                Ok(LeaderAnswer::Answered(index))
            }
            Some(internal::read_index_response::Outcome::NotLeader(not_leader)) => {
                Ok(LeaderAnswer::NotLeader(not_leader.leader_id))
            }
            None => Err(format!(
                "node {leader} answered a read index with no outcome"
            )),
        }
    }

    /// The leader's answer to the internal `DataPlaneStatus` call.
    ///
    /// # Errors
    /// No leader known, or it did not answer within `timeout`.
    pub async fn leader_data_plane_status(
        &self,
        timeout: Duration,
    ) -> Result<internal::DataPlaneStatusResponse, String> {
        let (leader, node) = self.leader().ok_or("no leader is known")?;
        let mut client = self.peers.raft_client(&node.raft_address)?;
        let mut request = tonic::Request::new(internal::DataPlaneStatusRequest {});
        request.set_timeout(timeout);
        client
            .data_plane_status(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| format!("node {leader}: {}", status.message()))
    }

    /// Waits until this node has applied `log_index`: woken by the state
    /// machine when it applies a batch, not by every change of Raft's metrics.
    pub async fn wait_applied(&self, log_index: u64, deadline: Instant) -> Result<(), Status> {
        let mut applied = self.applied.clone();
        match tokio::time::timeout_at(deadline, applied.wait_for(|index| *index >= log_index)).await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(Status::unavailable(
                "this node's state machine has stopped; ask another node",
            )),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "this node had not applied log index {log_index} by the deadline; \
                 ask again, or ask another node"
            ))),
        }
    }
}

/// Why handing a command to the leader failed.
enum Forwarding {
    /// The leader could not be asked: nothing was sent.
    NotSent(String),
    /// The request may have reached the leader, but no answer came back.
    Lost(String),
    /// The leader answered with a refusal: the client's answer.
    Refused(Status),
}

impl Forwarding {
    fn classify(leader: u64, status: Status) -> Self {
        let reason = format!("node {leader}: {}", status.message());
        match status.code() {
            // The transport layer's own failures to connect.
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled => {
                Self::Lost(reason)
            }
            tonic::Code::DeadlineExceeded => Self::Refused(outcome_unknown(reason)),
            _ => Self::Refused(status),
        }
    }
}

/// Milliseconds since the Unix epoch on this node's clock (the leader's
/// stamp on a command; the domain keeps the log clock monotonic).
fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl crate::auth::TokenTable for Replica {
    fn principal(&self, secret_sha256: &[u8; 32]) -> Option<crate::auth::Principal> {
        let state = self.state().ok()?;
        let token = state.access_token_by_secret_hash(secret_sha256)?;
        Some(crate::auth::Principal {
            name: token.principal.clone(),
            role: crate::auth::role_of(token.role),
        })
    }
}
