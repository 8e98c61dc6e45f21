//! The cluster service: settings (replicated like any resource) and the
//! membership of the Raft cluster (status, learners, promotion, removal,
//! leadership transfer). Membership changes run on the leader; a follower
//! hands them to the leader's public API.

use std::collections::BTreeSet;
use std::time::Duration;

use fulcrum_api::{Client, v1};
use fulcrum_raft_store::raft::{ClusterNode, TypeConfig};
use openraft::error::{ClientWriteError, RaftError};
use openraft::{ChangeMembers, RaftMetrics};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::Api;
use crate::deadline::remaining;
use crate::errors::{invalid, no_leader};
use crate::ownership::TransferError;
use crate::replica::Consistency;

/// How long connecting to the leader may take when handing it a request.
const LEADER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Who answers a membership request.
pub(super) enum Leader {
    /// This node leads.
    Here,
    /// Another node leads; a client of its public API.
    There(Client),
}

impl Api {
    pub(super) async fn find_leader(&self, deadline: Instant) -> Result<Leader, Status> {
        loop {
            match self.replica.leader() {
                Some((leader, _)) if leader == self.replica.id() => return Ok(Leader::Here),
                Some((leader, node)) => {
                    return Client::connect_with(
                        &node.api_address,
                        LEADER_CONNECT_TIMEOUT,
                        &self.replica.node_credentials(),
                    )
                    .await
                    .map(Leader::There)
                    .map_err(|error| no_leader(format!("leader {leader}: {error}")));
                }
                None if remaining(deadline).is_zero() => {
                    return Err(no_leader("no leader is known"));
                }
                None => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }

    /// The cluster as this node's metrics show it.
    fn local_status(&self) -> Result<v1::GetClusterStatusResponse, Status> {
        let metrics = self.replica.metrics();
        let revision = self.replica.state()?.revision();
        let mut status = status_of(&metrics, revision);
        status.cluster_id = self.replica.cluster_identity().get().unwrap_or_default();
        Ok(status)
    }

    async fn change_membership(
        &self,
        change: ChangeMembers<u64, ClusterNode>,
    ) -> Result<v1::GetClusterStatusResponse, Status> {
        self.replica
            .raft()
            .change_membership(change, false)
            .await
            .map_err(membership_error)?;
        self.local_status()
    }
}

/// What a membership change's failure means to the caller.
fn membership_error(error: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> Status {
    match error {
        RaftError::APIError(ClientWriteError::ChangeMembershipError(error)) => {
            Status::failed_precondition(error.to_string())
        }
        RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
            no_leader(format!("leadership moved to {:?}", forward.leader_id))
        }
        RaftError::APIError(other) => Status::failed_precondition(other.to_string()),
        RaftError::Fatal(fatal) => Status::unavailable(fatal.to_string()),
    }
}

/// The status response from one node's metrics.
fn status_of(metrics: &RaftMetrics<TypeConfig>, revision: u64) -> v1::GetClusterStatusResponse {
    let membership = metrics.membership_config.membership();
    let voters: BTreeSet<u64> = membership.voter_ids().collect();
    let last_log_index = metrics.last_log_index.unwrap_or(0);
    let members = membership
        .nodes()
        .map(|(id, node)| {
            let matched = if Some(*id) == metrics.current_leader && *id == metrics.id {
                metrics.last_log_index
            } else {
                metrics
                    .replication
                    .as_ref()
                    .and_then(|replication| replication.get(id))
                    .map(|matched| matched.as_ref().map_or(0, |log_id| log_id.index))
            };
            v1::ClusterMember {
                node_id: *id,
                raft_address: node.raft_address.clone(),
                api_address: node.api_address.clone(),
                role: if voters.contains(id) {
                    v1::ClusterRole::Voter
                } else {
                    v1::ClusterRole::Learner
                } as i32,
                matched_index: matched,
                lag: matched.map(|matched| last_log_index.saturating_sub(matched)),
            }
        })
        .collect();
    v1::GetClusterStatusResponse {
        node_id: metrics.id,
        leader_id: metrics.current_leader,
        term: metrics.current_term,
        applied_index: metrics
            .last_applied
            .as_ref()
            .map_or(0, |log_id| log_id.index),
        revision,
        members,
        state_digest: Vec::new(),
        state_log_index: 0,
        cluster_id: String::new(),
    }
}

fn check_address(field: &str, address: &str) -> Result<(), Status> {
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(())
        }
        _ => Err(invalid(
            field,
            format!("{address:?} is not a host:port address"),
        )),
    }
}

#[tonic::async_trait]
impl v1::cluster_service_server::ClusterService for Api {
    type CreateBackupStream = super::backup::BackupStream;

    async fn create_backup(
        &self,
        request: Request<v1::CreateBackupRequest>,
    ) -> Result<Response<Self::CreateBackupStream>, Status> {
        Api::create_backup(self, request).await
    }

    async fn get_cluster_settings(
        &self,
        request: Request<v1::GetClusterSettingsRequest>,
    ) -> Result<Response<v1::GetClusterSettingsResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            Ok(v1::GetClusterSettingsResponse {
                settings: Some(state.settings().into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn update_cluster_settings(
        &self,
        request: Request<v1::UpdateClusterSettingsRequest>,
    ) -> Result<Response<v1::UpdateClusterSettingsResponse>, Status> {
        let receipt = self
            .write(
                request,
                |r| r.client_token.clone(),
                Kind::UpdateClusterSettings,
            )
            .await?;
        self.render(|_, state| {
            Ok(v1::UpdateClusterSettingsResponse {
                settings: Some(state.settings().into()),
                revision: receipt.revision,
            })
        })
    }

    async fn get_cluster_status(
        &self,
        request: Request<v1::GetClusterStatusRequest>,
    ) -> Result<Response<v1::GetClusterStatusResponse>, Status> {
        let deadline = self.deadlines.of(request.metadata());
        let digest = request.get_ref().include_state_digest;
        let with_digest = |mut status: v1::GetClusterStatusResponse| {
            if digest {
                let state = self.replica.state()?;
                let bytes = state
                    .to_snapshot_bytes()
                    .map_err(|error| Status::internal(error.to_string()))?;
                status.state_digest = Sha256::digest(&bytes).to_vec();
                status.state_log_index = state.last_log_index();
            }
            Ok(Response::new(status))
        };
        if Consistency::of(request.get_ref().read.as_ref()) == Consistency::Local {
            return with_digest(self.local_status()?);
        }
        match self.find_leader(deadline).await? {
            Leader::Here => with_digest(self.local_status()?),
            Leader::There(client) => {
                client
                    .cluster()
                    .get_cluster_status(request.into_inner())
                    .await
            }
        }
    }

    async fn add_learner(
        &self,
        request: Request<v1::AddLearnerRequest>,
    ) -> Result<Response<v1::AddLearnerResponse>, Status> {
        let deadline = self.deadlines.of(request.metadata());
        let message = request.get_ref();
        if message.node_id == 0 {
            return Err(invalid("node_id", "must be 1 or more"));
        }
        check_address("raft_address", &message.raft_address)?;
        check_address("api_address", &message.api_address)?;
        let node = ClusterNode {
            raft_address: message.raft_address.clone(),
            api_address: message.api_address.clone(),
        };
        match self.find_leader(deadline).await? {
            Leader::There(client) => client.cluster().add_learner(request.into_inner()).await,
            Leader::Here => {
                if self
                    .replica
                    .metrics()
                    .membership_config
                    .membership()
                    .get_node(&message.node_id)
                    .is_some()
                {
                    return Err(Status::already_exists(format!(
                        "node_id: node {} is already a member of the cluster",
                        message.node_id
                    )));
                }
                let added = tokio::time::timeout(
                    remaining(deadline),
                    self.replica.raft().add_learner(message.node_id, node, true),
                )
                .await
                .map_err(|_| {
                    Status::deadline_exceeded(
                        "the learner was added but had not caught up by the deadline; \
                         see `fulcrum cluster status`",
                    )
                })?;
                added.map_err(membership_error)?;
                Ok(Response::new(v1::AddLearnerResponse {
                    status: Some(self.local_status()?),
                }))
            }
        }
    }

    async fn promote_node(
        &self,
        request: Request<v1::PromoteNodeRequest>,
    ) -> Result<Response<v1::PromoteNodeResponse>, Status> {
        let deadline = self.deadlines.of(request.metadata());
        let node_id = request.get_ref().node_id;
        match self.find_leader(deadline).await? {
            Leader::There(client) => client.cluster().promote_node(request.into_inner()).await,
            Leader::Here => {
                let membership = self.replica.metrics().membership_config.clone();
                if membership.membership().get_node(&node_id).is_none() {
                    return Err(Status::not_found(format!(
                        "node_id: node {node_id} is not a member; add it as a learner first"
                    )));
                }
                let status = self
                    .change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([node_id])))
                    .await?;
                Ok(Response::new(v1::PromoteNodeResponse {
                    status: Some(status),
                }))
            }
        }
    }

    async fn remove_node(
        &self,
        request: Request<v1::RemoveNodeRequest>,
    ) -> Result<Response<v1::RemoveNodeResponse>, Status> {
        let deadline = self.deadlines.of(request.metadata());
        let node_id = request.get_ref().node_id;
        match self.find_leader(deadline).await? {
            Leader::There(client) => client.cluster().remove_node(request.into_inner()).await,
            Leader::Here => {
                let membership = self.replica.metrics().membership_config.clone();
                let membership = membership.membership();
                if membership.get_node(&node_id).is_none() {
                    return Err(Status::not_found(format!(
                        "node_id: node {node_id} is not a member of the cluster"
                    )));
                }
                let ids = BTreeSet::from([node_id]);
                let change = if membership.voter_ids().any(|id| id == node_id) {
                    ChangeMembers::RemoveVoters(ids)
                } else {
                    ChangeMembers::RemoveNodes(ids)
                };
                let status = self.change_membership(change).await?;
                Ok(Response::new(v1::RemoveNodeResponse {
                    status: Some(status),
                }))
            }
        }
    }

    async fn reseal_certificate_keys(
        &self,
        request: Request<v1::ResealCertificateKeysRequest>,
    ) -> Result<Response<v1::ResealCertificateKeysResponse>, Status> {
        self.reseal_certificate_keys_now(request).await
    }

    async fn transfer_leadership(
        &self,
        request: Request<v1::TransferLeadershipRequest>,
    ) -> Result<Response<v1::TransferLeadershipResponse>, Status> {
        let deadline = self.deadlines.of(request.metadata());
        let to = request.get_ref().to_node_id;
        match self.find_leader(deadline).await? {
            Leader::There(client) => {
                client
                    .cluster()
                    .transfer_leadership(request.into_inner())
                    .await
            }
            Leader::Here => {
                let leader_id = self
                    .handover
                    .transfer_to(&self.replica, to, deadline)
                    .await
                    .map_err(|error| match error {
                        TransferError::NotVoter(_) => invalid("to_node_id", error.to_string()),
                        TransferError::TimedOut(why) => Status::deadline_exceeded(why),
                        TransferError::Unavailable(why) => Status::unavailable(why),
                    })?;
                Ok(Response::new(v1::TransferLeadershipResponse { leader_id }))
            }
        }
    }
}
