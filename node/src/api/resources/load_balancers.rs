//! `LoadBalancerService`: Load Balancers, EIP association and the status tree.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::LoadBalancerId;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::{find, matches, named};
use crate::api::{Api, page};

#[tonic::async_trait]
impl v1::load_balancer_service_server::LoadBalancerService for Api {
    async fn create_load_balancer(
        &self,
        request: Request<v1::CreateLoadBalancerRequest>,
    ) -> Result<Response<v1::CreateLoadBalancerResponse>, Status> {
        let receipt = self
            .write(
                request,
                |r| r.client_token.clone(),
                Kind::CreateLoadBalancer,
            )
            .await?;
        self.render(|views, state| {
            Ok(v1::CreateLoadBalancerResponse {
                load_balancer: find(
                    state.catalog().load_balancers(),
                    LoadBalancerId::parse,
                    &receipt.resource_id,
                )
                .map(|lb| views.load_balancer(lb)),
                revision: receipt.revision,
            })
        })
    }

    async fn get_load_balancer(
        &self,
        request: Request<v1::GetLoadBalancerRequest>,
    ) -> Result<Response<v1::GetLoadBalancerResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let lb = named(
                state.catalog().load_balancers(),
                LoadBalancerId::parse,
                "id",
                LoadBalancerId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetLoadBalancerResponse {
                load_balancer: Some(views.load_balancer(lb)),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_load_balancers(
        &self,
        request: Request<v1::ListLoadBalancersRequest>,
    ) -> Result<Response<v1::ListLoadBalancersResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let (load_balancers, next_page_token) = page(
                state
                    .catalog()
                    .load_balancers()
                    .values()
                    .filter(|lb| matches(&message.name, &lb.meta.name)),
                |lb| lb.id.as_str(),
                message.page_size,
                &message.page_token,
                |lb| views.load_balancer(lb),
            );
            Ok(v1::ListLoadBalancersResponse {
                load_balancers,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn update_load_balancer(
        &self,
        request: Request<v1::UpdateLoadBalancerRequest>,
    ) -> Result<Response<v1::UpdateLoadBalancerResponse>, Status> {
        let receipt = self
            .write(
                request,
                |r| r.client_token.clone(),
                Kind::UpdateLoadBalancer,
            )
            .await?;
        self.render(|views, state| {
            Ok(v1::UpdateLoadBalancerResponse {
                load_balancer: find(
                    state.catalog().load_balancers(),
                    LoadBalancerId::parse,
                    &receipt.resource_id,
                )
                .map(|lb| views.load_balancer(lb)),
                revision: receipt.revision,
            })
        })
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
        let load_balancer_id = request.get_ref().load_balancer_id.clone();
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::AssociateEip)
            .await?;
        self.render(|views, state| {
            Ok(v1::AssociateEipResponse {
                load_balancer: find(
                    state.catalog().load_balancers(),
                    LoadBalancerId::parse,
                    &load_balancer_id,
                )
                .map(|lb| views.load_balancer(lb)),
                revision: receipt.revision,
            })
        })
    }

    async fn disassociate_eip(
        &self,
        request: Request<v1::DisassociateEipRequest>,
    ) -> Result<Response<v1::DisassociateEipResponse>, Status> {
        let load_balancer_id = request.get_ref().load_balancer_id.clone();
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DisassociateEip)
            .await?;
        self.render(|views, state| {
            Ok(v1::DisassociateEipResponse {
                load_balancer: find(
                    state.catalog().load_balancers(),
                    LoadBalancerId::parse,
                    &load_balancer_id,
                )
                .map(|lb| views.load_balancer(lb)),
                revision: receipt.revision,
            })
        })
    }

    async fn get_status_tree(
        &self,
        request: Request<v1::GetStatusTreeRequest>,
    ) -> Result<Response<v1::GetStatusTreeResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let lb = named(
                state.catalog().load_balancers(),
                LoadBalancerId::parse,
                "load_balancer_id",
                LoadBalancerId::NOUN,
                &message.load_balancer_id,
            )?;
            Ok(v1::GetStatusTreeResponse {
                load_balancer: Some(views.status_tree(lb)),
                revision: state.revision(),
            })
        })
        .await
    }
}
