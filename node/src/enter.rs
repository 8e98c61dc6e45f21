//! How a node enters its cluster, once its servers run:
//! - bootstrap: when the store holds no cluster yet, the node first asks the
//!   other initial members whether it was a member whose data is lost (see
//!   `refuse_if_data_lost`), keeps the cluster id derived from the members,
//!   then initialises Raft with them (every member may do so: openraft
//!   accepts one initialisation per log and refuses the others), and
//!   proposes the configured EIP pool under a fixed client token, so that it
//!   is applied once however many members propose it;
//! - join: when the store holds no cluster yet, the node learns the cluster
//!   id from a member, refuses if the leader knows it had acknowledged
//!   entries, then asks to be added as a learner and promoted;
//! - restart: a store that holds a cluster is never initialised again.
//!
//! Until this is settled the node answers no Raft message (`raft_ready`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fulcrum_api::{Client, Credentials, v1};
use fulcrum_raft_store::raft::ClusterNode;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::agent::AgentError;
use crate::cluster_id::{self, ClusterIdentity};
use crate::config::{AgentConfig, InitialMember, Membership};
use crate::replica::Replica;

/// The client token under which bootstrapping members propose the EIP pool.
pub const BOOTSTRAP_EIP_POOL_TOKEN: &str = "fulcrum-bootstrap-eip-pool";
/// How long a bootstrapping or joining node keeps trying.
const ENTER_CLUSTER_PATIENCE: Duration = Duration::from_secs(120);
/// The pause between attempts to enter the cluster.
const ENTER_CLUSTER_BACKOFF: Duration = Duration::from_millis(200);

/// Enters the cluster as `config.membership` says (`this_node`: where the
/// others reach this node), opening `raft_ready` once settled;
/// answers the background tasks it started (the EIP pool's proposal, the join).
pub(crate) async fn enter_cluster(
    replica: &Arc<Replica>,
    config: &AgentConfig,
    this_node: &ClusterNode,
    raft_ready: Arc<AtomicBool>,
) -> Result<Vec<JoinHandle<()>>, AgentError> {
    let raft = replica.raft();
    let identity = replica.cluster_identity().clone();
    let mut tasks = Vec::new();
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|error| AgentError::Raft(error.to_string()))?;
    if initialized {
        tracing::info!("the store holds a cluster: restarting, not initialising");
        // A store of an older build has no cluster id kept: a member of
        // a bootstrapped cluster derives it again; others learn it from
        // the first leader that replicates to them.
        if identity.get().is_none()
            && let Membership::Bootstrap(members) = &config.membership
        {
            identity
                .adopt(&cluster_id::derive(members))
                .map_err(AgentError::ClusterId)?;
        }
        raft_ready.store(true, Ordering::Release);
        return Ok(tasks);
    }
    match &config.membership {
        Membership::Restart => {
            tracing::info!("no cluster yet: waiting to be added by a member");
            raft_ready.store(true, Ordering::Release);
        }
        Membership::Bootstrap(members) => {
            refuse_if_data_lost(members, config.node_id, &replica.node_credentials()).await?;
            identity
                .adopt(&cluster_id::derive(members))
                .map_err(AgentError::ClusterId)?;
            raft_ready.store(true, Ordering::Release);
            let members = members
                .iter()
                .map(
                    |InitialMember {
                         id,
                         raft_address,
                         api_address,
                     }| {
                        (
                            *id,
                            ClusterNode {
                                raft_address: raft_address.clone(),
                                api_address: api_address.clone(),
                            },
                        )
                    },
                )
                .collect::<std::collections::BTreeMap<_, _>>();
            if let Err(error) = raft.initialize(members).await {
                // Another member initialised first: this node learns the
                // membership from the leader.
                tracing::info!(%error, "not initialising");
            }
            if !config.eip_pool.is_empty() {
                let cidrs = config.eip_pool.iter().map(ToString::to_string).collect();
                tasks.push(tokio::spawn(propose_eip_pool(replica.clone(), cidrs)));
            }
        }
        Membership::Join(member) => {
            let request = v1::AddLearnerRequest {
                node_id: config.node_id,
                raft_address: this_node.raft_address.clone(),
                api_address: this_node.api_address.clone(),
            };
            tasks.push(tokio::spawn(join(
                member.clone(),
                request,
                (identity, replica.node_credentials()),
                raft_ready,
            )));
        }
    }
    Ok(tasks)
}

/// Proposes the configured EIP pool of a new cluster, once.
async fn propose_eip_pool(replica: Arc<Replica>, cidrs: Vec<String>) {
    let command = v1::Command {
        kind: Some(v1::command::Kind::UpdateClusterSettings(
            v1::UpdateClusterSettingsRequest {
                client_token: BOOTSTRAP_EIP_POOL_TOKEN.to_owned(),
                eip_pool: Some(v1::EipPool { cidrs }),
                ..Default::default()
            },
        )),
    };
    let deadline = Instant::now() + ENTER_CLUSTER_PATIENCE;
    loop {
        let attempt = replica
            .propose(
                crate::auth::Principal::node(replica.id()).name,
                BOOTSTRAP_EIP_POOL_TOKEN.to_owned(),
                command.clone(),
                deadline,
            )
            .await;
        match attempt {
            Ok(receipt) => {
                tracing::info!(
                    revision = receipt.revision,
                    "the EIP pool of the new cluster is set"
                );
                return;
            }
            Err(status)
                if status.code() == tonic::Code::Unavailable && Instant::now() < deadline =>
            {
                tokio::time::sleep(ENTER_CLUSTER_BACKOFF).await;
            }
            Err(status) => {
                tracing::error!(%status, "the EIP pool of the new cluster could not be set");
                return;
            }
        }
    }
}

/// How long a starting node waits for its peers' status (asked at once).
const PEER_STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// The status of the member at `api_address`, as it knows it (a local read:
/// no leader needed), or why there is none.
async fn peer_status(
    api_address: &str,
    credentials: &Credentials,
) -> Result<v1::GetClusterStatusResponse, String> {
    // A peer whose port is bound but not yet served accepts the connection
    // and then says nothing: the whole exchange has one deadline.
    tokio::time::timeout(
        PEER_STATUS_TIMEOUT,
        ask_peer_status(api_address, credentials),
    )
    .await
    .map_err(|_| format!("{api_address} did not answer within {PEER_STATUS_TIMEOUT:?}"))?
}

async fn ask_peer_status(
    api_address: &str,
    credentials: &Credentials,
) -> Result<v1::GetClusterStatusResponse, String> {
    let client = Client::connect_with(api_address, PEER_STATUS_TIMEOUT, credentials)
        .await
        .map_err(|error| error.to_string())?;
    let mut request = tonic::Request::new(v1::GetClusterStatusRequest {
        read: Some(v1::ReadOptions {
            consistency: v1::ReadConsistency::Local as i32,
        }),
        include_state_digest: false,
    });
    request.set_timeout(PEER_STATUS_TIMEOUT);
    client
        .cluster()
        .get_cluster_status(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| status.message().to_owned())
}

/// The reason `node_id` must not start as new, if `status` (a leader's)
/// shows that it had acknowledged log entries: its data is lost, not new.
fn lost_data_of(node_id: u64, status: &v1::GetClusterStatusResponse) -> Option<String> {
    let member = status
        .members
        .iter()
        .find(|member| member.node_id == node_id)?;
    let matched = member.matched_index.filter(|&matched| matched > 0)?;
    Some(format!(
        "node {node_id} is a member of cluster {} whose leader (node {}) knows it had the log up to index {matched}: its data was lost, and taking part as new could lose acknowledged writes. Remove it (fulcrum cluster remove-node {node_id}) and add it again with --join",
        status.cluster_id, status.node_id
    ))
}

/// Refuses to bootstrap a node whose data directory was emptied while its
/// cluster runs: asks every other initial member, and the leader among
/// them knows whether this node had acknowledged entries.
async fn refuse_if_data_lost(
    members: &[InitialMember],
    node_id: u64,
    credentials: &Credentials,
) -> Result<(), AgentError> {
    // All at once: a peer that is not up yet costs one timeout, not one each.
    let peers = members.iter().filter(|member| member.id != node_id);
    let answers = futures::future::join_all(peers.map(|member| async move {
        (
            member.id,
            peer_status(&member.api_address, credentials).await,
        )
    }))
    .await;
    for (peer, answer) in answers {
        match answer {
            Ok(status) => {
                if let Some(reason) = lost_data_of(node_id, &status) {
                    return Err(AgentError::DataLost(reason));
                }
            }
            Err(reason) => {
                tracing::debug!(peer, %reason, "no status from a peer while starting");
            }
        }
    }
    Ok(())
}

/// Asks the member at `member` to add this node as a learner, then to promote
/// it; first learns the cluster's id from it, and refuses to join a cluster
/// that knows this node had acknowledged entries (its data is lost).
async fn join(
    member: String,
    request: v1::AddLearnerRequest,
    (identity, credentials): (Arc<ClusterIdentity>, Credentials),
    raft_ready: Arc<AtomicBool>,
) {
    let deadline = Instant::now() + ENTER_CLUSTER_PATIENCE;
    let node_id = request.node_id;
    loop {
        let attempt = async {
            if identity.get().is_none() {
                let status = peer_status(&member, &credentials).await?;
                if status.cluster_id.is_empty() {
                    return Err(format!("{member} belongs to no cluster yet"));
                }
                let leader = match status.leader_id {
                    Some(leader) if leader != status.node_id => status
                        .members
                        .iter()
                        .find(|candidate| candidate.node_id == leader)
                        .map(|candidate| candidate.api_address.clone()),
                    _ => None,
                };
                let leader_status = match leader {
                    Some(address) => peer_status(&address, &credentials).await?,
                    None => status.clone(),
                };
                if let Some(reason) = lost_data_of(node_id, &leader_status) {
                    return Err(format!(
                        "refusing to join: node.data_dir is empty, but {reason}"
                    ));
                }
                identity
                    .adopt(&status.cluster_id)
                    .map_err(|error| error.to_string())?;
                raft_ready.store(true, Ordering::Release);
            }
            let client = Client::connect_with(&member, Duration::from_secs(2), &credentials)
                .await
                .map_err(|error| error.to_string())?;
            let added = client.cluster().add_learner(request.clone()).await;
            match added {
                Ok(_) => {}
                Err(status) if status.code() == tonic::Code::AlreadyExists => {}
                Err(status) => return Err(status.message().to_owned()),
            }
            client
                .cluster()
                .promote_node(v1::PromoteNodeRequest { node_id })
                .await
                .map_err(|status| status.message().to_owned())
        };
        match attempt.await {
            Ok(_) => {
                tracing::info!(%member, "joined the cluster as a voter");
                return;
            }
            Err(reason) if reason.starts_with("refusing to join") => {
                tracing::error!(%member, %reason, "not joining the cluster");
                return;
            }
            Err(reason) if Instant::now() < deadline => {
                tracing::info!(%member, %reason, "joining the cluster: trying again");
                tokio::time::sleep(ENTER_CLUSTER_BACKOFF).await;
            }
            Err(reason) => {
                tracing::error!(%member, %reason, "could not join the cluster");
                return;
            }
        }
    }
}
