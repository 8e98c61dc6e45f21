//! `NetworkService`: networks, subnets and instances.

use fulcrum_api::v1;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use crate::api::Api;

#[tonic::async_trait]
impl v1::network_service_server::NetworkService for Api {
    async fn create_network(
        &self,
        request: Request<v1::CreateNetworkRequest>,
    ) -> Result<Response<v1::CreateNetworkResponse>, Status> {
        let (network, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::CreateNetwork)
            .await?;
        Ok(Response::new(v1::CreateNetworkResponse {
            network,
            revision,
        }))
    }

    async fn get_network(
        &self,
        request: Request<v1::GetNetworkRequest>,
    ) -> Result<Response<v1::GetNetworkResponse>, Status> {
        let (network, revision) = self.get_one(&request).await?;
        Ok(Response::new(v1::GetNetworkResponse {
            network: Some(network),
            revision,
        }))
    }

    async fn list_networks(
        &self,
        request: Request<v1::ListNetworksRequest>,
    ) -> Result<Response<v1::ListNetworksResponse>, Status> {
        let (networks, next_page_token, revision) = self.list_page(&request).await?;
        Ok(Response::new(v1::ListNetworksResponse {
            networks,
            next_page_token,
            revision,
        }))
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
        let (subnet, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::CreateSubnet)
            .await?;
        Ok(Response::new(v1::CreateSubnetResponse { subnet, revision }))
    }

    async fn get_subnet(
        &self,
        request: Request<v1::GetSubnetRequest>,
    ) -> Result<Response<v1::GetSubnetResponse>, Status> {
        let (subnet, revision) = self.get_one(&request).await?;
        Ok(Response::new(v1::GetSubnetResponse {
            subnet: Some(subnet),
            revision,
        }))
    }

    async fn list_subnets(
        &self,
        request: Request<v1::ListSubnetsRequest>,
    ) -> Result<Response<v1::ListSubnetsResponse>, Status> {
        let (subnets, next_page_token, revision) = self.list_page(&request).await?;
        Ok(Response::new(v1::ListSubnetsResponse {
            subnets,
            next_page_token,
            revision,
        }))
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
        let (instance, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::CreateInstance)
            .await?;
        Ok(Response::new(v1::CreateInstanceResponse {
            instance,
            revision,
        }))
    }

    async fn get_instance(
        &self,
        request: Request<v1::GetInstanceRequest>,
    ) -> Result<Response<v1::GetInstanceResponse>, Status> {
        let (instance, revision) = self.get_one(&request).await?;
        Ok(Response::new(v1::GetInstanceResponse {
            instance: Some(instance),
            revision,
        }))
    }

    async fn list_instances(
        &self,
        request: Request<v1::ListInstancesRequest>,
    ) -> Result<Response<v1::ListInstancesResponse>, Status> {
        let (instances, next_page_token, revision) = self.list_page(&request).await?;
        Ok(Response::new(v1::ListInstancesResponse {
            instances,
            next_page_token,
            revision,
        }))
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
