//! `fulcrum lb`: Load Balancers, their EIP association and the detail view
//! (listeners, groups, statuses and counters).

use fulcrum_api::v1;
use serde_json::json;

use super::args::{Describe, LoadBalancerCommand};
use super::{Outcome, Session, admin_state, list, output, resolve, revision_line, tags};
use crate::resources::Resource;
use crate::resources::text::{self, Table, operating, provisioning};

pub(super) async fn load_balancer(session: &Session, command: LoadBalancerCommand) -> Outcome {
    let mut client = session.client.load_balancers();
    match command {
        LoadBalancerCommand::Create {
            name,
            network,
            subnet,
            delete_protection,
            describe,
        } => {
            let network_id = resolve::network(session, &network).await?;
            let subnet_id = resolve::subnet(session, &subnet).await?;
            let reply = client
                .create_load_balancer(session.request(v1::CreateLoadBalancerRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    network_id,
                    subnet_id,
                    admin_state_up: None,
                    delete_protection: Some(delete_protection),
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.load_balancer.as_ref(),
                &reply,
                "fulcrum.v1.CreateLoadBalancerResponse",
            );
        }
        LoadBalancerCommand::List => {
            list::<v1::LoadBalancer>(session, "").await?;
        }
        LoadBalancerCommand::Show { load_balancer } => {
            let id = resolve::load_balancer(session, &load_balancer).await?;
            show_load_balancer(session, &id).await?;
        }
        LoadBalancerCommand::Update {
            load_balancer,
            name,
            description,
            admin_state: state,
            delete_protection,
            tags: new_tags,
            clear_tags,
            expected_revision,
        } => {
            let id = resolve::load_balancer(session, &load_balancer).await?;
            let tags = if clear_tags || !new_tags.is_empty() {
                let describe = Describe {
                    description: String::new(),
                    tags: new_tags,
                };
                Some(v1::Tags {
                    entries: tags(&describe)?,
                })
            } else {
                None
            };
            let reply = client
                .update_load_balancer(session.request(v1::UpdateLoadBalancerRequest {
                    client_token: session.token(),
                    id,
                    expected_revision,
                    name,
                    description,
                    tags,
                    admin_state_up: admin_state(state),
                    delete_protection,
                    network_id: None,
                    subnet_id: None,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.load_balancer.as_ref(),
                &reply,
                "fulcrum.v1.UpdateLoadBalancerResponse",
            );
        }
        LoadBalancerCommand::Delete {
            load_balancer,
            cascade,
        } => {
            let id = resolve::load_balancer(session, &load_balancer).await?;
            let reply = client
                .delete_load_balancer(session.request(v1::DeleteLoadBalancerRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                    cascade,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteLoadBalancerResponse"),
            );
        }
        LoadBalancerCommand::Status { load_balancer } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let reply = client
                .get_status_tree(session.request(v1::GetStatusTreeRequest {
                    load_balancer_id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let tree = reply.load_balancer.clone().unwrap_or_default();
            session.print(
                || status_tree_text(&tree),
                || output::json(&reply, "fulcrum.v1.GetStatusTreeResponse"),
            );
        }
        LoadBalancerCommand::Stats {
            load_balancer,
            interval_ms,
            count,
        } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            super::stats::watch(
                session,
                &load_balancer_id,
                std::time::Duration::from_millis(interval_ms),
                count,
            )
            .await?;
        }
        LoadBalancerCommand::AssociateEip { load_balancer, eip } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let eip_id = resolve::eip(session, &eip).await?;
            let reply = client
                .associate_eip(session.request(v1::AssociateEipRequest {
                    client_token: session.token(),
                    load_balancer_id,
                    eip_id,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.load_balancer.as_ref(),
                &reply,
                "fulcrum.v1.AssociateEipResponse",
            );
        }
        LoadBalancerCommand::DisassociateEip { load_balancer } => {
            let load_balancer_id = resolve::load_balancer(session, &load_balancer).await?;
            let reply = client
                .disassociate_eip(session.request(v1::DisassociateEipRequest {
                    client_token: session.token(),
                    load_balancer_id,
                }))
                .await?
                .into_inner();
            session.print_resource(
                reply.load_balancer.as_ref(),
                &reply,
                "fulcrum.v1.DisassociateEipResponse",
            );
        }
    }
    Ok(())
}

/// `fulcrum lb show`: the Load Balancer, its EIP, listeners and groups (with
/// members), all with their statuses.
pub(super) async fn show_load_balancer(session: &Session, id: &str) -> Outcome {
    let (lb, _) = v1::LoadBalancer::get(&session.client, &session.reading(), id.to_owned()).await?;
    let listeners = resolve::all::<v1::Listener>(session, id).await?;
    let groups = resolve::all::<v1::VirtualServerGroup>(session, id).await?;
    let text = || {
        let mut members = Table::new(&["GROUP", "ID", "ADDRESS", "PORT", "WEIGHT", "OPERATING"]);
        for group in &groups {
            for member in &group.members {
                members.row(vec![
                    group.name.clone(),
                    member.id.clone(),
                    member.address.clone(),
                    member.port.to_string(),
                    member.weight.to_string(),
                    operating(member.operating_status),
                ]);
            }
        }
        format!(
            "{}\nLISTENERS\n{}\nGROUPS\n{}\nMEMBERS\n{}",
            text::shown(&lb),
            text::listed(&listeners),
            text::listed(&groups),
            members.render()
        )
    };
    session.print(text, || {
        json!({
            "loadBalancer": output::json(&lb, v1::LoadBalancer::MESSAGE),
            "listeners": output::json_list(&listeners, v1::Listener::MESSAGE),
            "groups": output::json_list(&groups, v1::VirtualServerGroup::MESSAGE),
        })
    });
    Ok(())
}

pub(super) fn status_tree_text(tree: &v1::LoadBalancerStatus) -> String {
    let mut table = Table::new(&[
        "KIND",
        "NAME",
        "ID",
        "PROVISIONING",
        "OPERATING",
        "CONNECTIONS",
        "REQUESTS",
        "NOTE",
    ]);
    table.row(vec![
        "load balancer".into(),
        tree.name.clone(),
        tree.id.clone(),
        provisioning(tree.provisioning_status),
        operating(tree.operating_status),
        "-".into(),
        "-".into(),
        String::new(),
    ]);
    for listener in &tree.listeners {
        let (connections, requests) = traffic(listener.counters.as_ref());
        table.row(vec![
            "  listener".into(),
            listener.name.clone(),
            listener.id.clone(),
            provisioning(listener.provisioning_status),
            operating(listener.operating_status),
            connections,
            requests,
            listener.provisioning_error.clone(),
        ]);
    }
    for group in &tree.groups {
        table.row(vec![
            "  group".into(),
            group.name.clone(),
            group.id.clone(),
            provisioning(group.provisioning_status),
            operating(group.operating_status),
            "-".into(),
            "-".into(),
            String::new(),
        ]);
        for member in &group.members {
            let (connections, requests) = traffic(member.counters.as_ref());
            table.row(vec![
                "    member".into(),
                format!("{}:{}", member.address, member.port),
                member.id.clone(),
                provisioning(member.provisioning_status),
                operating(member.operating_status),
                connections,
                requests,
                String::new(),
            ]);
        }
    }
    table.render()
}

/// Connections (open/total) and requests, from the EIP owner's counters.
pub(super) fn traffic(counters: Option<&v1::TrafficCounters>) -> (String, String) {
    match counters {
        Some(counters) => (
            format!(
                "{}/{}",
                counters.active_connections, counters.total_connections
            ),
            counters.requests.to_string(),
        ),
        None => ("-".into(), "-".into()),
    }
}
