//! The REST/JSON API: every public RPC reached over HTTP as its
//! `google.api.http` annotation in the `.proto` contract says, on a port
//! of its own (`node.http_address`), for browsers, scripts and the web
//! console. It is a generic transcoder: nothing here knows a resource.
//!
//! A request's way through:
//! 1. [`server`] accepts the connection from the transport (connection
//!    cap, silence timeout, TLS with the node's certificate) and reads the
//!    request (body within `api.max_request_bytes`).
//! 2. [`routes`] finds the RPC by method and path in the table built from
//!    the descriptors' annotations (404 for an unknown path, 405 for a
//!    known path with another method).
//! 3. [`json`] builds the request message from the path variables, the
//!    query string and the JSON body (proto3 JSON mapping; a bad field is
//!    a 400 naming it).
//! 4. [`grpc`] frames it as gRPC and sends it through the very service
//!    stack the API port serves (size layer, authentication and roles,
//!    the services), with the caller's `authorization` header, address and
//!    deadline: authentication, roles, admission, deadlines and client
//!    tokens are the gRPC path's, not a copy of them.
//! 5. The answer is decoded with the method's output descriptor and
//!    rendered as proto3 JSON; a server stream becomes Server-Sent Events
//!    ([`sse`]); a status becomes an HTTP error ([`errors`]).
//!
//! [`session`] lets the console sign in once and carry its token in a
//! cookie. [`openapi`] describes the same routes as an OpenAPI 3.0 document,
//! served at `GET /openapi.json` without a credential.

pub mod errors;
pub mod grpc;
pub mod json;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod session;
pub mod sse;

use std::time::Duration;

pub use errors::{RestError, code_name, http_status};
pub use grpc::GrpcStack;
pub use openapi::TIMEOUT_HEADER;
pub use routes::{RouteError, RouteTable};
pub use server::Server;
pub use session::Sessions;

/// Returns when `draining` turns true (or its sender is gone: the server
/// has stopped).
pub async fn drained(draining: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` answers is not held across this function's end.
    let _ = draining.wait_for(|draining| *draining).await;
}

/// The package whose services the REST API serves.
pub const PACKAGE: &str = "fulcrum.v1";

/// The REST port's limits, from `[api]` and `[raft]`.
#[derive(Clone, Debug)]
pub struct RestLimits {
    /// The largest request body (`api.max_request_bytes`).
    pub max_request_bytes: usize,
    /// The deadline of a request that names none (`raft.request_timeout_ms`).
    pub default_deadline: Duration,
    /// The longest deadline a request may ask for (`api.max_deadline_ms`).
    pub max_deadline: Duration,
    /// Concurrent requests per h2 connection (`api.max_concurrent_streams`).
    pub max_concurrent_streams: u32,
    /// How often an idle h2 connection is pinged (`api.keepalive_interval_ms`).
    pub keepalive_interval: Duration,
    /// How long a request's headers may take (`api.first_request_timeout_ms`).
    pub first_request_timeout: Duration,
}

/// Why the REST API could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The descriptor set does not decode.
    #[error("the descriptor set: {0}")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    /// An annotation cannot be served.
    #[error(transparent)]
    Routes(#[from] RouteError),
}

/// The routes of the public contract (`fulcrum_api::FILE_DESCRIPTOR_SET`).
pub fn contract_routes() -> Result<RouteTable, SetupError> {
    let pool = prost_reflect::DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET)?;
    Ok(RouteTable::from_pool(&pool, PACKAGE)?)
}
