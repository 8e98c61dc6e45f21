//! `NetworkService`: networks, subnets and instances.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{InstanceId, NetworkId, SubnetId};
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::{find, matches, named};
use crate::api::{Api, page};

#[tonic::async_trait]
impl v1::network_service_server::NetworkService for Api {
    async fn create_network(
        &self,
        request: Request<v1::CreateNetworkRequest>,
    ) -> Result<Response<v1::CreateNetworkResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateNetwork)
            .await?;
        self.render(|_, state| {
            Ok(v1::CreateNetworkResponse {
                network: find(
                    state.catalog().networks(),
                    NetworkId::parse,
                    &receipt.resource_id,
                )
                .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_network(
        &self,
        request: Request<v1::GetNetworkRequest>,
    ) -> Result<Response<v1::GetNetworkResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let network = named(
                state.catalog().networks(),
                NetworkId::parse,
                "id",
                NetworkId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetNetworkResponse {
                network: Some(network.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_networks(
        &self,
        request: Request<v1::ListNetworksRequest>,
    ) -> Result<Response<v1::ListNetworksResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (networks, next_page_token) = page(
                state.catalog().networks().values(),
                |network| network.id.as_str(),
                message.page_size,
                &message.page_token,
                Into::into,
            );
            Ok(v1::ListNetworksResponse {
                networks,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn delete_network(
        &self,
        request: Request<v1::DeleteNetworkRequest>,
    ) -> Result<Response<v1::DeleteNetworkResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteNetwork)
            .await?;
        Ok(Response::new(v1::DeleteNetworkResponse {
            revision: receipt.revision,
        }))
    }

    async fn create_subnet(
        &self,
        request: Request<v1::CreateSubnetRequest>,
    ) -> Result<Response<v1::CreateSubnetResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateSubnet)
            .await?;
        self.render(|_, state| {
            Ok(v1::CreateSubnetResponse {
                subnet: find(
                    state.catalog().subnets(),
                    SubnetId::parse,
                    &receipt.resource_id,
                )
                .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_subnet(
        &self,
        request: Request<v1::GetSubnetRequest>,
    ) -> Result<Response<v1::GetSubnetResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let subnet = named(
                state.catalog().subnets(),
                SubnetId::parse,
                "id",
                SubnetId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetSubnetResponse {
                subnet: Some(subnet.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_subnets(
        &self,
        request: Request<v1::ListSubnetsRequest>,
    ) -> Result<Response<v1::ListSubnetsResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (subnets, next_page_token) = page(
                state
                    .catalog()
                    .subnets()
                    .values()
                    .filter(|subnet| matches(&message.network_id, subnet.network_id.as_str())),
                |subnet| subnet.id.as_str(),
                message.page_size,
                &message.page_token,
                Into::into,
            );
            Ok(v1::ListSubnetsResponse {
                subnets,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn delete_subnet(
        &self,
        request: Request<v1::DeleteSubnetRequest>,
    ) -> Result<Response<v1::DeleteSubnetResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteSubnet)
            .await?;
        Ok(Response::new(v1::DeleteSubnetResponse {
            revision: receipt.revision,
        }))
    }

    async fn create_instance(
        &self,
        request: Request<v1::CreateInstanceRequest>,
    ) -> Result<Response<v1::CreateInstanceResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateInstance)
            .await?;
        self.render(|_, state| {
            Ok(v1::CreateInstanceResponse {
                instance: find(
                    state.catalog().instances(),
                    InstanceId::parse,
                    &receipt.resource_id,
                )
                .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_instance(
        &self,
        request: Request<v1::GetInstanceRequest>,
    ) -> Result<Response<v1::GetInstanceResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let instance = named(
                state.catalog().instances(),
                InstanceId::parse,
                "id",
                InstanceId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetInstanceResponse {
                instance: Some(instance.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_instances(
        &self,
        request: Request<v1::ListInstancesRequest>,
    ) -> Result<Response<v1::ListInstancesResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (instances, next_page_token) =
                page(
                    state.catalog().instances().values().filter(|instance| {
                        matches(&message.subnet_id, instance.subnet_id.as_str())
                    }),
                    |instance| instance.id.as_str(),
                    message.page_size,
                    &message.page_token,
                    Into::into,
                );
            Ok(v1::ListInstancesResponse {
                instances,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn delete_instance(
        &self,
        request: Request<v1::DeleteInstanceRequest>,
    ) -> Result<Response<v1::DeleteInstanceResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteInstance)
            .await?;
        Ok(Response::new(v1::DeleteInstanceResponse {
            revision: receipt.revision,
        }))
    }
}
