//! `LoadBalancerService`: Load Balancers, EIP association and the status tree.

use fulcrum_api::v1;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::named;
use crate::api::Api;

#[tonic::async_trait]
impl v1::load_balancer_service_server::LoadBalancerService for Api {
    async fn create_load_balancer(
        &self,
        request: Request<v1::CreateLoadBalancerRequest>,
    ) -> Result<Response<v1::CreateLoadBalancerResponse>, Status> {
        let (load_balancer, revision) = self
            .write_and_show(
                request,
                |r| r.client_token.clone(),
                Kind::CreateLoadBalancer,
            )
            .await?;
        Ok(Response::new(v1::CreateLoadBalancerResponse {
            load_balancer,
            revision,
        }))
    }

    async fn get_load_balancer(
        &self,
        request: Request<v1::GetLoadBalancerRequest>,
    ) -> Result<Response<v1::GetLoadBalancerResponse>, Status> {
        let (load_balancer, revision) = self.get_one(&request).await?;
        Ok(Response::new(v1::GetLoadBalancerResponse {
            load_balancer: Some(load_balancer),
            revision,
        }))
    }

    async fn list_load_balancers(
        &self,
        request: Request<v1::ListLoadBalancersRequest>,
    ) -> Result<Response<v1::ListLoadBalancersResponse>, Status> {
        let (load_balancers, next_page_token, revision) = self.list_page(&request).await?;
        Ok(Response::new(v1::ListLoadBalancersResponse {
            load_balancers,
            next_page_token,
            revision,
        }))
    }

    async fn update_load_balancer(
        &self,
        request: Request<v1::UpdateLoadBalancerRequest>,
    ) -> Result<Response<v1::UpdateLoadBalancerResponse>, Status> {
        let (load_balancer, revision) = self
            .write_and_show(
                request,
                |r| r.client_token.clone(),
                Kind::UpdateLoadBalancer,
            )
            .await?;
        Ok(Response::new(v1::UpdateLoadBalancerResponse {
            load_balancer,
            revision,
        }))
    }

    async fn delete_load_balancer(
        &self,
        request: Request<v1::DeleteLoadBalancerRequest>,
    ) -> Result<Response<v1::DeleteLoadBalancerResponse>, Status> {
        let receipt = self
            .write(
                request,
                |r| r.client_token.clone(),
                Kind::DeleteLoadBalancer,
            )
            .await?;
        Ok(Response::new(v1::DeleteLoadBalancerResponse {
            revision: receipt.revision,
        }))
    }

    async fn associate_eip(
        &self,
        request: Request<v1::AssociateEipRequest>,
    ) -> Result<Response<v1::AssociateEipResponse>, Status> {
        let id = request.get_ref().load_balancer_id.clone();
        let (load_balancer, revision) = self
            .write_and_show_named(id, request, |r| r.client_token.clone(), Kind::AssociateEip)
            .await?;
        Ok(Response::new(v1::AssociateEipResponse {
            load_balancer,
            revision,
        }))
    }

    async fn disassociate_eip(
        &self,
        request: Request<v1::DisassociateEipRequest>,
    ) -> Result<Response<v1::DisassociateEipResponse>, Status> {
        let id = request.get_ref().load_balancer_id.clone();
        let (load_balancer, revision) = self
            .write_and_show_named(
                id,
                request,
                |r| r.client_token.clone(),
                Kind::DisassociateEip,
            )
            .await?;
        Ok(Response::new(v1::DisassociateEipResponse {
            load_balancer,
            revision,
        }))
    }

    async fn get_status_tree(
        &self,
        request: Request<v1::GetStatusTreeRequest>,
    ) -> Result<Response<v1::GetStatusTreeResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let load_balancer = named::<v1::LoadBalancer>(
                state.catalog(),
                "load_balancer_id",
                &message.load_balancer_id,
            )?;
            Ok(v1::GetStatusTreeResponse {
                load_balancer: Some(views.status_tree(load_balancer)),
                revision: state.revision(),
            })
        })
        .await
    }
}
