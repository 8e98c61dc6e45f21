//! `fulcrum group`: virtual server groups and their members.

use fulcrum_api::v1;

use super::args::{AlgorithmArg, GroupCommand, HealthCheckArg};
use super::{
    CliError, Outcome, Session, admin_state, list, output, resolve, revision_line, show, tags,
};

pub(super) fn algorithm_value(algorithm: AlgorithmArg) -> v1::Algorithm {
    match algorithm {
        AlgorithmArg::RoundRobin => v1::Algorithm::WeightedRoundRobin,
        AlgorithmArg::LeastConnections => v1::Algorithm::WeightedLeastConnections,
        AlgorithmArg::SourceIp => v1::Algorithm::SourceIpHash,
    }
}

pub(super) fn health_check_value(
    kind: HealthCheckArg,
    http_path: Option<String>,
    expected_codes: Option<String>,
) -> v1::HealthCheck {
    v1::HealthCheck {
        r#type: match kind {
            HealthCheckArg::Tcp => v1::HealthCheckType::Tcp,
            HealthCheckArg::Http => v1::HealthCheckType::Http,
        } as i32,
        http_path,
        expected_codes,
        ..Default::default()
    }
}

/// Parses `INSTANCE:PORT` or `INSTANCE:PORT:WEIGHT`, resolving the instance.
pub(super) async fn member_spec(session: &Session, text: &str) -> Result<v1::MemberSpec, CliError> {
    let parts: Vec<&str> = text.split(':').collect();
    let usage = || {
        CliError::usage(format!(
            "member {text:?}: write INSTANCE:PORT or INSTANCE:PORT:WEIGHT"
        ))
    };
    let (instance, port, weight) = match parts.as_slice() {
        [instance, port] => (*instance, *port, None),
        [instance, port, weight] => (*instance, *port, Some(*weight)),
        _ => return Err(usage()),
    };
    let port = port.parse().map_err(|_| usage())?;
    let weight = weight.map(str::parse).transpose().map_err(|_| usage())?;
    Ok(v1::MemberSpec {
        instance_id: resolve::instance(session, instance).await?,
        port,
        weight,
        admin_state_up: None,
    })
}

pub(super) async fn group(session: &Session, command: GroupCommand) -> Outcome {
    let mut client = session.client.groups();
    match command {
        GroupCommand::Create {
            name,
            load_balancer,
            algorithm,
            health_check,
            health_path,
            health_codes,
            members,
            describe,
        } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let mut specs = Vec::with_capacity(members.len());
            for member in &members {
                specs.push(member_spec(session, member).await?);
            }
            let algorithm = algorithm.map_or(v1::Algorithm::Unspecified, algorithm_value);
            let health_check =
                health_check.map(|kind| health_check_value(kind, health_path, health_codes));
            let reply = client
                .create_group(session.request(v1::CreateGroupRequest {
                    client_token: session.token(),
                    load_balancer_id,
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    algorithm: algorithm as i32,
                    health_check,
                    members: specs,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.group.as_ref(),
                &reply,
                "fulcrum.v1.CreateGroupResponse",
            );
        }
        GroupCommand::List { load_balancer } => {
            let load_balancer_id =
                resolve::optional_load_balancer(session, load_balancer.as_deref())
                    .await?
                    .unwrap_or_default();
            list::<v1::VirtualServerGroup>(session, &load_balancer_id).await?;
        }
        GroupCommand::Show {
            group,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::group(session, &group, lb.as_deref()).await?;
            show::<v1::VirtualServerGroup>(session, id).await?;
        }
        GroupCommand::Update {
            group,
            load_balancer,
            name,
            algorithm,
            health_check,
            health_path,
            health_codes,
            no_health_check,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .update_group(
                    session.request(v1::UpdateGroupRequest {
                        client_token: session.token(),
                        id,
                        name,
                        algorithm: algorithm.map(|algorithm| algorithm_value(algorithm) as i32),
                        health_check: health_check
                            .map(|kind| health_check_value(kind, health_path, health_codes)),
                        clear_health_check: no_health_check,
                        ..Default::default()
                    }),
                )
                .await?
                .into_inner();
            session.print_resource(
                reply.group.as_ref(),
                &reply,
                "fulcrum.v1.UpdateGroupResponse",
            );
        }
        GroupCommand::ReplaceMembers {
            group,
            members,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let group_id = resolve::group(session, &group, lb.as_deref()).await?;
            let mut specs = Vec::with_capacity(members.len());
            for member in &members {
                specs.push(member_spec(session, member).await?);
            }
            let reply = client
                .replace_members(session.request(v1::ReplaceMembersRequest {
                    client_token: session.token(),
                    group_id,
                    members: specs,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.group.as_ref(),
                &reply,
                "fulcrum.v1.ReplaceMembersResponse",
            );
        }
        GroupCommand::Delete {
            group,
            load_balancer,
            cascade,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .delete_group(session.request(v1::DeleteGroupRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                    cascade,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteGroupResponse"),
            );
        }
        GroupCommand::AddMember {
            group,
            member,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let group_id = resolve::group(session, &group, lb.as_deref()).await?;
            let spec = member_spec(session, &member).await?;
            let reply = client
                .add_member(session.request(v1::AddMemberRequest {
                    client_token: session.token(),
                    group_id,
                    member: Some(spec),
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print_resource(reply.group.as_ref(), &reply, "fulcrum.v1.AddMemberResponse");
        }
        GroupCommand::UpdateMember {
            group,
            member,
            weight,
            admin_state: state,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let group_id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .update_member(session.request(v1::UpdateMemberRequest {
                    client_token: session.token(),
                    group_id,
                    member_id: member,
                    expected_revision: None,
                    weight,
                    admin_state_up: admin_state(state),
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.group.as_ref(),
                &reply,
                "fulcrum.v1.UpdateMemberResponse",
            );
        }
        GroupCommand::RemoveMember {
            group,
            member,
            load_balancer,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let group_id = resolve::group(session, &group, lb.as_deref()).await?;
            let reply = client
                .remove_member(session.request(v1::RemoveMemberRequest {
                    client_token: session.token(),
                    group_id,
                    member_id: member,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.group.as_ref(),
                &reply,
                "fulcrum.v1.RemoveMemberResponse",
            );
        }
    }
    Ok(())
}
