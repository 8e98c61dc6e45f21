//! A node whose log holds a committed entry of a newer log format than this
//! build applies (a newer build wrote it during an upgrade). Starting Raft
//! would fail on that entry at every start, so instead the agent stays up
//! without Raft: it answers the health service NOT_SERVING and every other
//! call FAILED_PRECONDITION with the reason (which version it needs), and
//! serves no peer port, so it neither votes nor leads. Upgrading the binary
//! and restarting is the way out; nothing is lost meanwhile (the log is
//! untouched).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic_health::ServingStatus;

use crate::agent::AgentError;
use crate::config::AgentConfig;
use crate::tls::Tls;
use crate::transport::{ConnectionLimits, Handshake, Port, limited_incoming};

/// The path prefix of the health service, which still answers.
const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// Serves the API port as a blocked node until `stop`: health NOT_SERVING,
/// everything else FAILED_PRECONDITION naming `reason`.
pub async fn serve(
    config: &AgentConfig,
    reason: String,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    let listener = tokio::net::TcpListener::bind(config.api_address)
        .await
        .map_err(|source| AgentError::Bind {
            key: "node.api_address",
            address: config.api_address,
            source,
        })?;
    let handshake = match config.tls.clone().map(Tls::load).transpose()? {
        Some(tls) => Handshake::Tls {
            tls,
            port: Port::Api,
        },
        None => Handshake::Plain,
    };
    let limits = ConnectionLimits {
        max_connections: config.api.max_connections,
        first_request_timeout: config.api.first_request_timeout,
    };
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for service in crate::api::PUBLIC_SERVICES {
        reporter
            .set_service_status(*service, ServingStatus::NotServing)
            .await;
    }
    let (incoming, acceptor) = limited_incoming(listener, limits, handshake);
    tracing::error!(%reason, "this node takes no part in its cluster until it is upgraded; it answers only health checks (NOT_SERVING)");
    let served = tonic::transport::Server::builder()
        .layer(Refuse { reason })
        .add_service(health)
        .serve_with_incoming_shutdown(incoming, stop)
        .await;
    let _ = acceptor.await;
    served.map_err(|error| AgentError::Api(error.to_string()))
}

/// Answers every call but the health service's with FAILED_PRECONDITION.
#[derive(Clone, Debug)]
struct Refuse {
    reason: String,
}

impl<S> tower::Layer<S> for Refuse {
    type Service = RefuseService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RefuseService {
            inner,
            reason: self.reason.clone(),
        }
    }
}

/// The service [`Refuse`] wraps around the health service.
#[derive(Clone, Debug)]
struct RefuseService<S> {
    inner: S,
    reason: String,
}

impl<S, RequestBody, Body> tower::Service<http::Request<RequestBody>> for RefuseService<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    Body: Default + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        if request.uri().path().starts_with(HEALTH_PREFIX) {
            return Box::pin(self.inner.call(request));
        }
        let refusal = tonic::Status::failed_precondition(self.reason.clone()).into_http();
        Box::pin(async move { Ok(refusal) })
    }
}
