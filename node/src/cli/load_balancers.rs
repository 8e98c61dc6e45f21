//! `fulcrum lb`: Load Balancers, their EIP association and the detail view
//! (listeners, groups, statuses and counters).

use fulcrum_api::v1;
use serde_json::json;

use super::args::{Describe, LoadBalancerCommand};
use super::output::{Table, fields, operating, or_dash, provisioning};
use super::{Outcome, Session, admin_state, meta_table, output, resolve, revision_line, tags};

pub(super) fn load_balancer_fields(lb: &v1::LoadBalancer) -> String {
    fields(&[
        ("ID", lb.id.clone()),
        ("NAME", lb.name.clone()),
        ("DESCRIPTION", or_dash(&lb.description)),
        ("NETWORK", lb.network_id.clone()),
        ("SUBNET", lb.subnet_id.clone()),
        ("EIP", or_dash(&lb.eip_id)),
        ("EIP ADDRESS", or_dash(&lb.eip_address)),
        (
            "ADMIN STATE",
            if lb.admin_state_up { "UP" } else { "DOWN" }.to_owned(),
        ),
        ("DELETE PROTECTION", lb.delete_protection.to_string()),
        ("PROVISIONING", provisioning(lb.provisioning_status)),
        ("OPERATING", operating(lb.operating_status)),
        ("REVISION", lb.revision.to_string()),
    ])
}

pub(super) async fn load_balancer(session: &Session, command: LoadBalancerCommand) -> Outcome {
    let mut client = session.client.load_balancers();
    let lb_reply = |lb: Option<v1::LoadBalancer>| lb.unwrap_or_default();
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
            let lb = lb_reply(reply.load_balancer.clone());
            session.print(
                || load_balancer_fields(&lb),
                || output::json(&reply, "fulcrum.v1.CreateLoadBalancerResponse"),
            );
        }
        LoadBalancerCommand::List => {
            let lbs = resolve::load_balancers(session).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "EIP ADDRESS", "PROVISIONING", "OPERATING"],
                        lbs.iter().map(|lb| {
                            vec![
                                lb.id.clone(),
                                lb.name.clone(),
                                or_dash(&lb.eip_address),
                                provisioning(lb.provisioning_status),
                                operating(lb.operating_status),
                            ]
                        }),
                    )
                },
                || output::json_list(&lbs, "fulcrum.v1.LoadBalancer"),
            );
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
            let lb = lb_reply(reply.load_balancer.clone());
            session.print(
                || load_balancer_fields(&lb),
                || output::json(&reply, "fulcrum.v1.UpdateLoadBalancerResponse"),
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
            let lb = lb_reply(reply.load_balancer.clone());
            session.print(
                || load_balancer_fields(&lb),
                || output::json(&reply, "fulcrum.v1.AssociateEipResponse"),
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
            let lb = lb_reply(reply.load_balancer.clone());
            session.print(
                || load_balancer_fields(&lb),
                || output::json(&reply, "fulcrum.v1.DisassociateEipResponse"),
            );
        }
    }
    Ok(())
}

/// `fulcrum lb show`: the Load Balancer, its EIP, listeners and groups (with
/// members), all with their statuses.
pub(super) async fn show_load_balancer(session: &Session, id: &str) -> Outcome {
    let lb = session
        .client
        .load_balancers()
        .get_load_balancer(session.request(v1::GetLoadBalancerRequest {
            id: id.to_owned(),
            read: session.read(),
        }))
        .await?
        .into_inner()
        .load_balancer
        .unwrap_or_default();
    let listeners = resolve::listeners(session, id).await?;
    let groups = resolve::groups(session, id).await?;
    let text = || {
        let mut text = load_balancer_fields(&lb);
        text.push_str("\nLISTENERS\n");
        let group_name = |group_id: &str| {
            groups
                .iter()
                .find(|group| group.id == group_id)
                .map_or_else(|| or_dash(group_id), |group| group.name.clone())
        };
        text.push_str(&meta_table(
            &[
                "ID",
                "NAME",
                "PROTOCOL",
                "PORT",
                "GROUP",
                "CONN LIMIT",
                "PROVISIONING",
                "OPERATING",
            ],
            listeners.iter().map(|listener| {
                vec![
                    listener.id.clone(),
                    listener.name.clone(),
                    output::protocol(listener.protocol),
                    listener.port.to_string(),
                    group_name(&listener.default_group_id),
                    listener.connection_limit.to_string(),
                    provisioning(listener.provisioning_status),
                    operating(listener.operating_status),
                ]
            }),
        ));
        text.push_str("\nGROUPS\n");
        text.push_str(&meta_table(
            &[
                "ID",
                "NAME",
                "ALGORITHM",
                "MEMBERS",
                "PROVISIONING",
                "OPERATING",
            ],
            groups.iter().map(|group| {
                vec![
                    group.id.clone(),
                    group.name.clone(),
                    output::algorithm(group.algorithm),
                    group.members.len().to_string(),
                    provisioning(group.provisioning_status),
                    operating(group.operating_status),
                ]
            }),
        ));
        text.push_str("\nMEMBERS\n");
        text.push_str(&meta_table(
            &["GROUP", "ID", "ADDRESS", "PORT", "WEIGHT", "OPERATING"],
            groups.iter().flat_map(|group| {
                group.members.iter().map(|member| {
                    vec![
                        group.name.clone(),
                        member.id.clone(),
                        member.address.clone(),
                        member.port.to_string(),
                        member.weight.to_string(),
                        operating(member.operating_status),
                    ]
                })
            }),
        ));
        text
    };
    session.print(text, || {
        json!({
            "loadBalancer": output::json(&lb, "fulcrum.v1.LoadBalancer"),
            "listeners": listeners.iter().map(|l| output::json(l, "fulcrum.v1.Listener")).collect::<Vec<_>>(),
            "groups": groups.iter().map(|g| output::json(g, "fulcrum.v1.VirtualServerGroup")).collect::<Vec<_>>(),
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
