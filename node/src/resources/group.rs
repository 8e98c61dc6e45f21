//! A virtual server group and its members, with their statuses; listings are scoped by Load Balancer.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{Group, GroupId};

use super::Column;
use super::text::{Table, algorithm, operating, provisioning, up_down};

describe! {
    v1::VirtualServerGroup {
        field: "group",
        id: GroupId,
        stored: Group,
        catalog: groups,
        client: groups,
        list: list_groups(ListGroupsRequest) -> groups, scoped by load_balancer_id,
        get: get_group(GetGroupRequest) -> group,
        in_scope: |stored, scope| stored.load_balancer_id.as_str() == scope,
        view: |views, stored| views.group(stored),
    detail: members,
        columns: [
            Column::listed("ID", |r| r.id.clone()),
            Column::listed("NAME", |r| r.name.clone()),
            Column::listed("LOAD BALANCER", |r| r.load_balancer_id.clone()),
            Column::listed("ALGORITHM", |r| algorithm(r.algorithm)),
            Column::shown("HEALTH CHECK", health_check),
            Column::shown("PERSISTENCE", persistence),
            Column::shown("PROXY PROTOCOL", proxy_protocol),
            Column::shown("PASSIVE HEALTH", passive_health),
            Column::listed("MEMBERS", |r| r.members.len().to_string()),
            Column::shown("PROVISIONING", |r| provisioning(r.provisioning_status)),
            Column::listed("OPERATING", |r| operating(r.operating_status)),
            Column::shown("REVISION", |r| r.revision.to_string()),
        ],
    }
}

/// A group's members as a table, after its columns.
fn members(group: &v1::VirtualServerGroup) -> String {
    let mut members = Table::new(&[
        "ID",
        "INSTANCE",
        "ADDRESS",
        "PORT",
        "WEIGHT",
        "ADMIN",
        "OPERATING",
    ]);
    for member in &group.members {
        members.row(vec![
            member.id.clone(),
            member.instance_id.clone(),
            member.address.clone(),
            member.port.to_string(),
            member.weight.to_string(),
            up_down(member.admin_state_up),
            operating(member.operating_status),
        ]);
    }
    format!("\nMEMBERS\n{}", members.render())
}

/// The health check's type (`HTTP`), or `-` for none.
fn health_check(group: &v1::VirtualServerGroup) -> String {
    group.health_check.as_ref().map_or_else(
        || "-".to_owned(),
        |check| {
            v1::HealthCheckType::try_from(check.r#type)
                .map(|kind| {
                    kind.as_str_name()
                        .trim_start_matches("HEALTH_CHECK_TYPE_")
                        .to_owned()
                })
                .unwrap_or_else(|_| check.r#type.to_string())
        },
    )
}

fn persistence(group: &v1::VirtualServerGroup) -> String {
    match &group.persistence {
        Some(persistence) if persistence.r#type == v1::PersistenceType::Cookie as i32 => {
            format!("cookie {}", persistence.cookie_name)
        }
        Some(persistence) if persistence.r#type == v1::PersistenceType::AppCookie as i32 => {
            format!("application cookie {}", persistence.cookie_name)
        }
        _ => "-".to_owned(),
    }
}

fn proxy_protocol(group: &v1::VirtualServerGroup) -> String {
    match group.proxy_protocol() {
        v1::ProxyProtocolVersion::V1 => "v1".to_owned(),
        v1::ProxyProtocolVersion::V2 => "v2".to_owned(),
        _ => "-".to_owned(),
    }
}

fn passive_health(group: &v1::VirtualServerGroup) -> String {
    group.passive_health.as_ref().map_or_else(
        || "-".to_owned(),
        |policy| {
            format!(
                "{} failures eject for {} s, at most {}% out",
                policy.consecutive_failures,
                policy.ejection_s,
                policy
                    .max_ejected_percent
                    .unwrap_or(fulcrum_raft_store::domain::DEFAULT_MAX_EJECTED_PERCENT)
            )
        },
    )
}
