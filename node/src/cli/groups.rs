//! `fulcrum group`: virtual server groups and their members.

use fulcrum_api::v1;

use super::args::{AlgorithmArg, GroupCommand, HealthCheckArg, ProxyProtocolArg};
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

/// `--persistence`: cookie:NAME, app-cookie:NAME or none.
fn persistence_value(text: &str) -> Result<v1::SessionPersistence, CliError> {
    let (kind, cookie_name) = match text.split_once(':') {
        Some(("cookie", name)) => (v1::PersistenceType::Cookie, name),
        Some(("app-cookie", name)) => (v1::PersistenceType::AppCookie, name),
        None if text == "none" => (v1::PersistenceType::None, ""),
        _ => {
            return Err(CliError::usage(format!(
                "--persistence {text:?}: write cookie:NAME, app-cookie:NAME or none"
            )));
        }
    };
    Ok(v1::SessionPersistence {
        r#type: kind as i32,
        cookie_name: cookie_name.to_owned(),
    })
}

/// `--passive-health`: FAILURES,EJECTION_S[,MAX_EJECTED_PERCENT], or none
/// (`Ok(None)`).
fn passive_health_value(text: &str) -> Result<Option<v1::PassiveHealth>, CliError> {
    if text == "none" {
        return Ok(None);
    }
    let usage = || {
        CliError::usage(format!(
            "--passive-health {text:?}: write FAILURES,EJECTION_S[,MAX_EJECTED_PERCENT] or none"
        ))
    };
    let numbers: Vec<u32> = text
        .split(',')
        .map(|part| part.trim().parse().map_err(|_| usage()))
        .collect::<Result<_, _>>()?;
    match numbers[..] {
        [consecutive_failures, ejection_s] => Ok(Some(v1::PassiveHealth {
            consecutive_failures,
            ejection_s,
            max_ejected_percent: None,
        })),
        [consecutive_failures, ejection_s, max] => Ok(Some(v1::PassiveHealth {
            consecutive_failures,
            ejection_s,
            max_ejected_percent: Some(max),
        })),
        _ => Err(usage()),
    }
}

fn proxy_protocol_value(version: ProxyProtocolArg) -> v1::ProxyProtocolVersion {
    match version {
        ProxyProtocolArg::None => v1::ProxyProtocolVersion::None,
        ProxyProtocolArg::V1 => v1::ProxyProtocolVersion::V1,
        ProxyProtocolArg::V2 => v1::ProxyProtocolVersion::V2,
    }
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
            persistence,
            proxy_protocol,
            passive_health,
            describe,
        } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let persistence = persistence.as_deref().map(persistence_value).transpose()?;
            let passive_health = passive_health
                .as_deref()
                .map(passive_health_value)
                .transpose()?
                .flatten();
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
                    persistence,
                    proxy_protocol:
                        proxy_protocol.map_or(0, |version| proxy_protocol_value(version) as i32),
                    passive_health,
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
            persistence,
            proxy_protocol,
            passive_health,
        } => {
            let lb = resolve::optional_load_balancer(session, load_balancer.as_deref()).await?;
            let id = resolve::group(session, &group, lb.as_deref()).await?;
            let persistence = persistence.as_deref().map(persistence_value).transpose()?;
            let passive_health = passive_health
                .as_deref()
                .map(passive_health_value)
                .transpose()?;
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
                        persistence,
                        proxy_protocol: proxy_protocol
                            .map(|version| proxy_protocol_value(version) as i32),
                        clear_passive_health: matches!(passive_health, Some(None)),
                        passive_health: passive_health.flatten(),
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
