//! `ListenerService`: a Load Balancer's listeners.

use fulcrum_api::v1;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use crate::api::Api;

#[tonic::async_trait]
impl v1::listener_service_server::ListenerService for Api {
    async fn create_listener(
        &self,
        request: Request<v1::CreateListenerRequest>,
    ) -> Result<Response<v1::CreateListenerResponse>, Status> {
        let (listener, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::CreateListener)
            .await?;
        Ok(Response::new(v1::CreateListenerResponse {
            listener,
            revision,
        }))
    }

    async fn get_listener(
        &self,
        request: Request<v1::GetListenerRequest>,
    ) -> Result<Response<v1::GetListenerResponse>, Status> {
        let (listener, revision) = self.get_one(&request).await?;
        Ok(Response::new(v1::GetListenerResponse {
            listener: Some(listener),
            revision,
        }))
    }

    async fn list_listeners(
        &self,
        request: Request<v1::ListListenersRequest>,
    ) -> Result<Response<v1::ListListenersResponse>, Status> {
        let (listeners, next_page_token, revision) = self.list_page(&request).await?;
        Ok(Response::new(v1::ListListenersResponse {
            listeners,
            next_page_token,
            revision,
        }))
    }

    async fn update_listener(
        &self,
        request: Request<v1::UpdateListenerRequest>,
    ) -> Result<Response<v1::UpdateListenerResponse>, Status> {
        let (listener, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::UpdateListener)
            .await?;
        Ok(Response::new(v1::UpdateListenerResponse {
            listener,
            revision,
        }))
    }

    async fn set_listener_rules(
        &self,
        request: Request<v1::SetListenerRulesRequest>,
    ) -> Result<Response<v1::SetListenerRulesResponse>, Status> {
        let (listener, revision) = self
            .write_and_show(request, |r| r.client_token.clone(), Kind::SetListenerRules)
            .await?;
        Ok(Response::new(v1::SetListenerRulesResponse {
            listener,
            revision,
        }))
    }

    async fn delete_listener(
        &self,
        request: Request<v1::DeleteListenerRequest>,
    ) -> Result<Response<v1::DeleteListenerResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::DeleteListener)
            .await?;
        Ok(Response::new(v1::DeleteListenerResponse {
            revision: receipt.revision,
        }))
    }
}
