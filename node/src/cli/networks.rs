//! `fulcrum network`, `subnet` and `instance`: the network side the guide
//! assumes exists.

use fulcrum_api::v1;

use super::args::{InstanceCommand, NetworkCommand, SubnetCommand};
use super::{Outcome, Session, list, output, resolve, revision_line, show, tags};

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
            session.print_resource(
                reply.network.as_ref(),
                &reply,
                "fulcrum.v1.CreateNetworkResponse",
            );
        }
        NetworkCommand::List => {
            list::<v1::Network>(session, "").await?;
        }
        NetworkCommand::Show { network } => {
            let id = resolve::network(session, &network).await?;
            show::<v1::Network>(session, id).await?;
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
            session.print_resource(
                reply.subnet.as_ref(),
                &reply,
                "fulcrum.v1.CreateSubnetResponse",
            );
        }
        SubnetCommand::List { network } => {
            let network_id = match network {
                Some(network) => resolve::network(session, &network).await?,
                None => String::new(),
            };
            list::<v1::Subnet>(session, &network_id).await?;
        }
        SubnetCommand::Show { subnet } => {
            let id = resolve::subnet(session, &subnet).await?;
            show::<v1::Subnet>(session, id).await?;
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
            session.print_resource(
                reply.instance.as_ref(),
                &reply,
                "fulcrum.v1.CreateInstanceResponse",
            );
        }
        InstanceCommand::List { subnet } => {
            let subnet_id = match subnet {
                Some(subnet) => resolve::subnet(session, &subnet).await?,
                None => String::new(),
            };
            list::<v1::Instance>(session, &subnet_id).await?;
        }
        InstanceCommand::Show { instance } => {
            let id = resolve::instance(session, &instance).await?;
            show::<v1::Instance>(session, id).await?;
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
