//! `fulcrum network`, `subnet` and `instance`: the network side the guide
//! assumes exists.

use fulcrum_api::v1;

use super::args::{InstanceCommand, NetworkCommand, SubnetCommand};
use super::output::{fields, or_dash};
use super::{Outcome, Session, meta_table, output, resolve, revision_line, tags};

pub(super) async fn network(session: &Session, command: NetworkCommand) -> Outcome {
    let mut client = session.client.networks();
    match command {
        NetworkCommand::Create {
            name,
            cidr,
            describe,
        } => {
            let reply = client
                .create_network(session.request(v1::CreateNetworkRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    cidr,
                }))
                .await?
                .into_inner();
            let network = reply.network.clone().unwrap_or_default();
            session.print(
                || network_fields(&network),
                || output::json(&reply, "fulcrum.v1.CreateNetworkResponse"),
            );
        }
        NetworkCommand::List => {
            let networks = resolve::networks(session).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "CIDR", "REVISION"],
                        networks.iter().map(|n| {
                            vec![
                                n.id.clone(),
                                n.name.clone(),
                                n.cidr.clone(),
                                n.revision.to_string(),
                            ]
                        }),
                    )
                },
                || output::json_list(&networks, "fulcrum.v1.Network"),
            );
        }
        NetworkCommand::Show { network } => {
            let id = resolve::network(session, &network).await?;
            let reply = client
                .get_network(session.request(v1::GetNetworkRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let network = reply.network.clone().unwrap_or_default();
            session.print(
                || network_fields(&network),
                || output::json(&reply, "fulcrum.v1.GetNetworkResponse"),
            );
        }
        NetworkCommand::Delete { network } => {
            let id = resolve::network(session, &network).await?;
            let reply = client
                .delete_network(session.request(v1::DeleteNetworkRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteNetworkResponse"),
            );
        }
    }
    Ok(())
}

pub(super) fn network_fields(network: &v1::Network) -> String {
    fields(&[
        ("ID", network.id.clone()),
        ("NAME", network.name.clone()),
        ("CIDR", network.cidr.clone()),
        ("DESCRIPTION", or_dash(&network.description)),
        ("REVISION", network.revision.to_string()),
    ])
}

pub(super) async fn subnet(session: &Session, command: SubnetCommand) -> Outcome {
    let mut client = session.client.networks();
    match command {
        SubnetCommand::Create {
            name,
            network,
            cidr,
            describe,
        } => {
            let network_id = resolve::network(session, &network).await?;
            let reply = client
                .create_subnet(session.request(v1::CreateSubnetRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    network_id,
                    cidr,
                }))
                .await?
                .into_inner();
            let subnet = reply.subnet.clone().unwrap_or_default();
            session.print(
                || subnet_fields(&subnet),
                || output::json(&reply, "fulcrum.v1.CreateSubnetResponse"),
            );
        }
        SubnetCommand::List { network } => {
            let network_id = match network {
                Some(network) => resolve::network(session, &network).await?,
                None => String::new(),
            };
            let subnets = resolve::subnets(session, &network_id).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "NETWORK", "CIDR"],
                        subnets.iter().map(|s| {
                            vec![
                                s.id.clone(),
                                s.name.clone(),
                                s.network_id.clone(),
                                s.cidr.clone(),
                            ]
                        }),
                    )
                },
                || output::json_list(&subnets, "fulcrum.v1.Subnet"),
            );
        }
        SubnetCommand::Show { subnet } => {
            let id = resolve::subnet(session, &subnet).await?;
            let reply = client
                .get_subnet(session.request(v1::GetSubnetRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let subnet = reply.subnet.clone().unwrap_or_default();
            session.print(
                || subnet_fields(&subnet),
                || output::json(&reply, "fulcrum.v1.GetSubnetResponse"),
            );
        }
        SubnetCommand::Delete { subnet } => {
            let id = resolve::subnet(session, &subnet).await?;
            let reply = client
                .delete_subnet(session.request(v1::DeleteSubnetRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteSubnetResponse"),
            );
        }
    }
    Ok(())
}

pub(super) fn subnet_fields(subnet: &v1::Subnet) -> String {
    fields(&[
        ("ID", subnet.id.clone()),
        ("NAME", subnet.name.clone()),
        ("NETWORK", subnet.network_id.clone()),
        ("CIDR", subnet.cidr.clone()),
        ("REVISION", subnet.revision.to_string()),
    ])
}

pub(super) async fn instance(session: &Session, command: InstanceCommand) -> Outcome {
    let mut client = session.client.networks();
    match command {
        InstanceCommand::Create {
            name,
            subnet,
            address,
            describe,
        } => {
            let subnet_id = resolve::subnet(session, &subnet).await?;
            let reply = client
                .create_instance(session.request(v1::CreateInstanceRequest {
                    client_token: session.token(),
                    name,
                    description: describe.description.clone(),
                    tags: tags(&describe)?,
                    subnet_id,
                    address,
                }))
                .await?
                .into_inner();
            let instance = reply.instance.clone().unwrap_or_default();
            session.print(
                || instance_fields(&instance),
                || output::json(&reply, "fulcrum.v1.CreateInstanceResponse"),
            );
        }
        InstanceCommand::List { subnet } => {
            let subnet_id = match subnet {
                Some(subnet) => resolve::subnet(session, &subnet).await?,
                None => String::new(),
            };
            let instances = resolve::instances(session, &subnet_id).await?;
            session.print(
                || {
                    meta_table(
                        &["ID", "NAME", "SUBNET", "ADDRESS"],
                        instances.iter().map(|i| {
                            vec![
                                i.id.clone(),
                                i.name.clone(),
                                i.subnet_id.clone(),
                                i.address.clone(),
                            ]
                        }),
                    )
                },
                || output::json_list(&instances, "fulcrum.v1.Instance"),
            );
        }
        InstanceCommand::Show { instance } => {
            let id = resolve::instance(session, &instance).await?;
            let reply = client
                .get_instance(session.request(v1::GetInstanceRequest {
                    id,
                    read: session.read(),
                }))
                .await?
                .into_inner();
            let instance = reply.instance.clone().unwrap_or_default();
            session.print(
                || instance_fields(&instance),
                || output::json(&reply, "fulcrum.v1.GetInstanceResponse"),
            );
        }
        InstanceCommand::Delete { instance } => {
            let id = resolve::instance(session, &instance).await?;
            let reply = client
                .delete_instance(session.request(v1::DeleteInstanceRequest {
                    client_token: session.token(),
                    id,
                    expected_revision: None,
                }))
                .await?
                .into_inner();
            session.print(
                || revision_line(reply.revision),
                || output::json(&reply, "fulcrum.v1.DeleteInstanceResponse"),
            );
        }
    }
    Ok(())
}

pub(super) fn instance_fields(instance: &v1::Instance) -> String {
    fields(&[
        ("ID", instance.id.clone()),
        ("NAME", instance.name.clone()),
        ("SUBNET", instance.subnet_id.clone()),
        ("ADDRESS", instance.address.clone()),
        ("REVISION", instance.revision.to_string()),
    ])
}
