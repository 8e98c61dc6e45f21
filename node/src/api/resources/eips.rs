//! `EipService`: the cluster's Elastic IPs.

use fulcrum_api::v1;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use crate::api::Api;

#[tonic::async_trait]
impl v1::eip_service_server::EipService for Api {
    async fn allocate_eip(
        &self,
        request: Request<v1::AllocateEipRequest>,
    ) -> Result<Response<v1::AllocateEipResponse>, Status> {
        let (eip, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::AllocateEip)
            .await?;
        Ok(Response::new(v1::AllocateEipResponse { eip, revision }))
    }

    async fn get_eip(
        &self,
        request: Request<v1::GetEipRequest>,
    ) -> Result<Response<v1::GetEipResponse>, Status> {
        let (eip, revision) = self.get_one(&request).await?;
        Ok(Response::new(v1::GetEipResponse {
            eip: Some(eip),
            revision,
        }))
    }

    async fn list_eips(
        &self,
        request: Request<v1::ListEipsRequest>,
    ) -> Result<Response<v1::ListEipsResponse>, Status> {
        let (eips, next_page_token, revision) = self.list_page(&request).await?;
        Ok(Response::new(v1::ListEipsResponse {
            eips,
            next_page_token,
            revision,
        }))
    }

    async fn release_eip(
        &self,
        request: Request<v1::ReleaseEipRequest>,
    ) -> Result<Response<v1::ReleaseEipResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::ReleaseEip)
            .await?;
        Ok(Response::new(v1::ReleaseEipResponse {
            revision: receipt.revision,
        }))
    }
}
