//! `EipService`: Elastic IPs from the cluster's pool.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::EipId;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::{find, named};
use crate::api::{Api, page};

#[tonic::async_trait]
impl v1::eip_service_server::EipService for Api {
    async fn allocate_eip(
        &self,
        request: Request<v1::AllocateEipRequest>,
    ) -> Result<Response<v1::AllocateEipResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::AllocateEip)
            .await?;
        self.render(|_, state| {
            Ok(v1::AllocateEipResponse {
                eip: find(state.catalog().eips(), EipId::parse, &receipt.resource_id)
                    .map(Into::into),
                revision: receipt.revision,
            })
        })
    }

    async fn get_eip(
        &self,
        request: Request<v1::GetEipRequest>,
    ) -> Result<Response<v1::GetEipResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let eip = named(
                state.catalog().eips(),
                EipId::parse,
                "id",
                EipId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetEipResponse {
                eip: Some(eip.into()),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_eips(
        &self,
        request: Request<v1::ListEipsRequest>,
    ) -> Result<Response<v1::ListEipsResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |_, state| {
            let (eips, next_page_token) = page(
                state.catalog().eips().values(),
                |eip| eip.id.as_str(),
                message.page_size,
                &message.page_token,
                Into::into,
            );
            Ok(v1::ListEipsResponse {
                eips,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
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
