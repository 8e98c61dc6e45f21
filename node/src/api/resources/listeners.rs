//! `ListenerService`: a Load Balancer's listeners.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::ListenerId;
use tonic::{Request, Response, Status};
use v1::command::Kind;

use super::{find, matches, named};
use crate::api::{Api, page};

#[tonic::async_trait]
impl v1::listener_service_server::ListenerService for Api {
    async fn create_listener(
        &self,
        request: Request<v1::CreateListenerRequest>,
    ) -> Result<Response<v1::CreateListenerResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::CreateListener)
            .await?;
        self.render(|views, state| {
            Ok(v1::CreateListenerResponse {
                listener: find(
                    state.catalog().listeners(),
                    ListenerId::parse,
                    &receipt.resource_id,
                )
                .map(|listener| views.listener(listener)),
                revision: receipt.revision,
            })
        })
    }

    async fn get_listener(
        &self,
        request: Request<v1::GetListenerRequest>,
    ) -> Result<Response<v1::GetListenerResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let listener = named(
                state.catalog().listeners(),
                ListenerId::parse,
                "id",
                ListenerId::NOUN,
                &message.id,
            )?;
            Ok(v1::GetListenerResponse {
                listener: Some(views.listener(listener)),
                revision: state.revision(),
            })
        })
        .await
    }

    async fn list_listeners(
        &self,
        request: Request<v1::ListListenersRequest>,
    ) -> Result<Response<v1::ListListenersResponse>, Status> {
        let message = request.get_ref();
        self.read(&request, message.read.as_ref(), |views, state| {
            let (listeners, next_page_token) = page(
                state.catalog().listeners().values().filter(|listener| {
                    matches(
                        &message.load_balancer_id,
                        listener.load_balancer_id.as_str(),
                    )
                }),
                |listener| listener.id.as_str(),
                message.page_size,
                &message.page_token,
                |listener| views.listener(listener),
            );
            Ok(v1::ListListenersResponse {
                listeners,
                next_page_token,
                revision: state.revision(),
            })
        })
        .await
    }

    async fn update_listener(
        &self,
        request: Request<v1::UpdateListenerRequest>,
    ) -> Result<Response<v1::UpdateListenerResponse>, Status> {
        let receipt = self
            .write(request, |r| r.client_token.clone(), Kind::UpdateListener)
            .await?;
        self.render(|views, state| {
            Ok(v1::UpdateListenerResponse {
                listener: find(
                    state.catalog().listeners(),
                    ListenerId::parse,
                    &receipt.resource_id,
                )
                .map(|listener| views.listener(listener)),
                revision: receipt.revision,
            })
        })
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
