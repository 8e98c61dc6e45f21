//! `fulcrum cluster`: members, leadership, settings, the EIP pool, keys.

use fulcrum_api::v1;

use super::args::ClusterCommand;
use super::{CliError, Outcome, Session, meta_table, output};
use crate::resources::text::fields;

pub(super) fn cluster_status_text(status: &v1::GetClusterStatusResponse) -> String {
    let mut text = fields(&[
        ("ANSWERED BY", status.node_id.to_string()),
        ("CLUSTER ID", status.cluster_id.clone()),
        (
            "LEADER",
            status
                .leader_id
                .map_or_else(|| "none".to_owned(), |id| id.to_string()),
        ),
        ("TERM", status.term.to_string()),
        ("APPLIED INDEX", status.applied_index.to_string()),
        ("REVISION", status.revision.to_string()),
    ]);
    if !status.state_digest.is_empty() {
        let hex: String = status
            .state_digest
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        text.push_str(&fields(&[(
            "STATE DIGEST",
            format!("{hex} (at log index {})", status.state_log_index),
        )]));
    }
    text.push('\n');
    text.push_str(&meta_table(
        &[
            "NODE",
            "ROLE",
            "RAFT ADDRESS",
            "API ADDRESS",
            "MATCHED",
            "LAG",
        ],
        status.members.iter().map(|member| {
            let role = if Some(member.node_id) == status.leader_id {
                "LEADER".to_owned()
            } else {
                v1::ClusterRole::try_from(member.role)
                    .map(|role| {
                        role.as_str_name()
                            .trim_start_matches("CLUSTER_ROLE_")
                            .to_owned()
                    })
                    .unwrap_or_default()
            };
            vec![
                member.node_id.to_string(),
                role,
                member.raft_address.clone(),
                member.api_address.clone(),
                member
                    .matched_index
                    .map_or_else(|| "-".to_owned(), |index| index.to_string()),
                member
                    .lag
                    .map_or_else(|| "-".to_owned(), |lag| lag.to_string()),
            ]
        }),
    ));
    text
}

/// A quota the server may leave out (an older server has none of these).
pub(super) fn optional_quota(value: Option<u32>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| value.to_string())
}

pub(super) fn settings_text(settings: &v1::ClusterSettings) -> String {
    let quotas = settings.quotas.unwrap_or_default();
    fields(&[
        ("EIP POOL", settings.eip_pool.join(", ")),
        ("LOAD BALANCERS (QUOTA)", quotas.load_balancers.to_string()),
        (
            "LISTENERS PER LB",
            quotas.listeners_per_load_balancer.to_string(),
        ),
        ("GROUPS PER LB", quotas.groups_per_load_balancer.to_string()),
        ("MEMBERS PER GROUP", quotas.members_per_group.to_string()),
        ("NETWORKS (QUOTA)", optional_quota(quotas.networks)),
        ("SUBNETS (QUOTA)", optional_quota(quotas.subnets)),
        ("INSTANCES (QUOTA)", optional_quota(quotas.instances)),
        ("EIPS (QUOTA)", optional_quota(quotas.eips)),
        ("CERTIFICATES (QUOTA)", optional_quota(quotas.certificates)),
        (
            "TOKEN RETENTION (S)",
            settings.client_token_retention_s.to_string(),
        ),
        ("TOKEN CAPACITY", settings.client_token_capacity.to_string()),
        (
            "HISTORY (REVISIONS)",
            settings.history_retention_revisions.to_string(),
        ),
        ("REVISION", settings.revision.to_string()),
    ])
}

pub(super) async fn cluster(session: &Session, command: ClusterCommand) -> Outcome {
    let mut client = session.client.cluster();
    match command {
        ClusterCommand::Status { digest } => {
            let reply = client
                .get_cluster_status(session.request(v1::GetClusterStatusRequest {
                    read: session.read(),
                    include_state_digest: digest,
                }))
                .await?
                .into_inner();
            session.print(
                || cluster_status_text(&reply),
                || output::json(&reply, "fulcrum.v1.GetClusterStatusResponse"),
            );
        }
        ClusterCommand::Settings => {
            let reply = client
                .get_cluster_settings(session.request(v1::GetClusterSettingsRequest {
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let settings = reply.settings.clone().unwrap_or_default();
            session.print(
                || settings_text(&settings),
                || output::json(&reply, "fulcrum.v1.GetClusterSettingsResponse"),
            );
        }
        ClusterCommand::SetEipPool { cidrs } => {
            let reply = client
                .update_cluster_settings(session.request(v1::UpdateClusterSettingsRequest {
                    client_token: session.token(),
                    eip_pool: Some(v1::EipPool { cidrs }),
                    ..Default::default()
                }))
                .await?
                .into_inner();
            let settings = reply.settings.clone().unwrap_or_default();
            session.print(
                || settings_text(&settings),
                || output::json(&reply, "fulcrum.v1.UpdateClusterSettingsResponse"),
            );
        }
        ClusterCommand::UpdateSettings {
            quota_load_balancers,
            quota_listeners,
            quota_groups,
            quota_members,
            quota_networks,
            quota_subnets,
            quota_instances,
            quota_eips,
            quota_certificates,
            token_retention_s,
            token_capacity,
            history_revisions,
        } => {
            let quota_given = quota_load_balancers.is_some()
                || quota_listeners.is_some()
                || quota_groups.is_some()
                || quota_members.is_some()
                || quota_networks.is_some()
                || quota_subnets.is_some()
                || quota_instances.is_some()
                || quota_eips.is_some()
                || quota_certificates.is_some();
            let quotas = if quota_given {
                // Quotas are replaced as a whole: start from the current ones.
                let current = client
                    .get_cluster_settings(session.request(v1::GetClusterSettingsRequest {
                        read: session.read(),
                    }))
                    .await?
                    .into_inner()
                    .settings
                    .unwrap_or_default()
                    .quotas
                    .unwrap_or_default();
                Some(v1::Quotas {
                    load_balancers: quota_load_balancers.unwrap_or(current.load_balancers),
                    listeners_per_load_balancer: quota_listeners
                        .unwrap_or(current.listeners_per_load_balancer),
                    groups_per_load_balancer: quota_groups
                        .unwrap_or(current.groups_per_load_balancer),
                    members_per_group: quota_members.unwrap_or(current.members_per_group),
                    // The optional quotas keep their value when absent.
                    networks: quota_networks,
                    subnets: quota_subnets,
                    instances: quota_instances,
                    eips: quota_eips,
                    certificates: quota_certificates,
                })
            } else {
                None
            };
            let reply = client
                .update_cluster_settings(session.request(v1::UpdateClusterSettingsRequest {
                    client_token: session.token(),
                    quotas,
                    client_token_retention_s: token_retention_s,
                    client_token_capacity: token_capacity,
                    history_retention_revisions: history_revisions,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            let settings = reply.settings.clone().unwrap_or_default();
            session.print(
                || settings_text(&settings),
                || output::json(&reply, "fulcrum.v1.UpdateClusterSettingsResponse"),
            );
        }
        ClusterCommand::AddLearner {
            node_id,
            raft_address,
            api_address,
        } => {
            let reply = client
                .add_learner(session.request(v1::AddLearnerRequest {
                    node_id,
                    raft_address,
                    api_address,
                }))
                .await?
                .into_inner();
            let status = reply.status.clone().unwrap_or_default();
            session.print(
                || cluster_status_text(&status),
                || output::json(&reply, "fulcrum.v1.AddLearnerResponse"),
            );
        }
        ClusterCommand::Promote { node_id } => {
            let reply = client
                .promote_node(session.request(v1::PromoteNodeRequest { node_id }))
                .await?
                .into_inner();
            let status = reply.status.clone().unwrap_or_default();
            session.print(
                || cluster_status_text(&status),
                || output::json(&reply, "fulcrum.v1.PromoteNodeResponse"),
            );
        }
        ClusterCommand::Remove { node_id } => {
            let reply = client
                .remove_node(session.request(v1::RemoveNodeRequest { node_id }))
                .await?
                .into_inner();
            let status = reply.status.clone().unwrap_or_default();
            session.print(
                || cluster_status_text(&status),
                || output::json(&reply, "fulcrum.v1.RemoveNodeResponse"),
            );
        }
        ClusterCommand::TransferLeadership { node_id } => {
            let reply = client
                .transfer_leadership(session.request(v1::TransferLeadershipRequest {
                    to_node_id: node_id,
                }))
                .await?
                .into_inner();
            session.print(
                || {
                    format!(
                        "leader {}\n",
                        reply
                            .leader_id
                            .map_or_else(|| "none".to_owned(), |id| id.to_string())
                    )
                },
                || output::json(&reply, "fulcrum.v1.TransferLeadershipResponse"),
            );
        }
        ClusterCommand::Drain { node_id } => drain(session, node_id).await?,
        ClusterCommand::ResealKeys => {
            // Every batch is a write: no deadline shorter than the work.
            let reply = client
                .reseal_certificate_keys(v1::ResealCertificateKeysRequest {})
                .await?
                .into_inner();
            session.print(
                || {
                    format!(
                        "resealed {} certificate keys with data key {} (revision {})\n",
                        reply.resealed, reply.data_key_id, reply.revision
                    )
                },
                || output::json(&reply, "fulcrum.v1.ResealCertificateKeysResponse"),
            );
        }
    }
    Ok(())
}

/// `cluster drain NODE`: moves leadership, and with it the EIPs, off NODE
/// to the most caught-up other voter, so that NODE may stop without an
/// election (the data plane hands the EIPs over drained).
async fn drain(session: &Session, node_id: u64) -> Outcome {
    let mut client = session.client.cluster();
    let status = client
        .get_cluster_status(session.request(v1::GetClusterStatusRequest {
            read: session.read(),
            include_state_digest: false,
        }))
        .await?
        .into_inner();
    if !status
        .members
        .iter()
        .any(|member| member.node_id == node_id)
    {
        return Err(CliError::usage(format!(
            "node {node_id} is not a member of the cluster"
        )));
    }
    if status.leader_id != Some(node_id) {
        let leader = status
            .leader_id
            .map_or_else(|| "none".to_owned(), |id| id.to_string());
        session.print(
            || format!("node {node_id} does not lead (leader: {leader}): nothing to move, it may stop\n"),
            || serde_json::json!({ "nodeId": node_id, "leaderId": status.leader_id, "moved": false }),
        );
        return Ok(());
    }
    let target = status
        .members
        .iter()
        .filter(|member| member.node_id != node_id && member.role == v1::ClusterRole::Voter as i32)
        .min_by_key(|member| (member.lag.unwrap_or(u64::MAX), member.node_id))
        .map(|member| member.node_id)
        .ok_or_else(|| {
            CliError::failed(format!(
                "node {node_id} is the only voter: add and promote another node before draining it"
            ))
        })?;
    let reply = client
        .transfer_leadership(session.request(v1::TransferLeadershipRequest { to_node_id: target }))
        .await?
        .into_inner();
    session.print(
        || format!("leadership and the EIPs moved from node {node_id} to node {target}: node {node_id} may stop\n"),
        || serde_json::json!({ "nodeId": node_id, "leaderId": reply.leader_id, "moved": true }),
    );
    Ok(())
}
