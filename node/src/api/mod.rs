//! The public API: every service of the `fulcrum.v1` contract, served by
//! every node, plus gRPC server reflection and the standard health service.
//!
//! Writes go through [`Replica::propose`] (forwarded to the leader when this
//! node follows); reads through [`Replica::read_barrier`] and then this
//! node's projections. A write's answer is rendered from this node's state
//! once it has applied the write, so it shows the write or something newer.

mod access;
mod backup;
mod cluster;
mod events;
mod reseal;
mod resources;
pub mod statuses;
mod views;

pub use resources::{GetRequest, ListRequest, Listing, Served};
pub use std::sync::Arc;
use std::time::Duration;
pub use views::Views;

use fulcrum_api::v1;
use fulcrum_raft_store::domain::{Receipt, Rejection, State};
use tonic::{Request, Response, Status};
use tonic_health::server::HealthReporter;

use crate::config::ApiLimits;
use crate::deadline::Deadlines;
use crate::errors::rejection_status;
use crate::replica::{Consistency, Replica};
use crate::secrets::DataKeyRing;
use statuses::DataPlaneReport;

use crate::ownership::Handover;

/// The largest answer the public API sends (a page of a listing); requests
/// are bounded by `api.max_request_bytes`.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// The public services, as the health service and reflection name them.
pub const PUBLIC_SERVICES: &[&str] = &[
    v1::network_service_server::SERVICE_NAME,
    v1::eip_service_server::SERVICE_NAME,
    v1::load_balancer_service_server::SERVICE_NAME,
    v1::listener_service_server::SERVICE_NAME,
    v1::virtual_server_group_service_server::SERVICE_NAME,
    v1::certificate_service_server::SERVICE_NAME,
    v1::event_service_server::SERVICE_NAME,
    v1::cluster_service_server::SERVICE_NAME,
    v1::access_token_service_server::SERVICE_NAME,
];

/// Listings answer this many items when the caller names no page size.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Listings answer at most this many items per page.
pub const MAX_PAGE_SIZE: usize = 1000;

/// What every API service shares: the replica, the data plane's report,
/// the deadlines and the limits.
#[derive(Clone)]
pub struct Api {
    replica: Arc<Replica>,
    report: Arc<dyn DataPlaneReport>,
    handover: Arc<Handover>,
    deadlines: Deadlines,
    /// Seals the private key of every certificate upload before it is proposed.
    data_keys: Arc<DataKeyRing>,
    max_request_bytes: usize,
    watch_streams: WatchSlots,
}

/// The watch streams a node serves at once: one permit per open stream.
#[derive(Clone, Debug)]
pub struct WatchSlots {
    permits: Arc<tokio::sync::Semaphore>,
    max: usize,
}

impl WatchSlots {
    fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
        }
    }

    /// Watch streams open now.
    pub fn open(&self) -> usize {
        self.max - self.permits.available_permits()
    }
}

impl Api {
    /// The API of `replica`, with statuses from `report`; a leadership
    /// transfer releases the EIPs through `handover` first.
    pub fn new(
        replica: Arc<Replica>,
        report: Arc<dyn DataPlaneReport>,
        handover: Arc<Handover>,
        default_deadline: Duration,
        limits: &ApiLimits,
        data_keys: Arc<DataKeyRing>,
    ) -> Self {
        Self {
            data_keys,
            replica,
            report,
            handover,
            deadlines: Deadlines {
                default: default_deadline.min(limits.max_deadline),
                max: limits.max_deadline,
            },
            max_request_bytes: limits.max_request_bytes,
            watch_streams: WatchSlots::new(limits.max_watch_streams),
        }
    }

    /// Its watch streams' slots (for the metrics).
    pub fn watch_slots(&self) -> WatchSlots {
        self.watch_streams.clone()
    }

    /// Every public service, reflection (v1 and v1alpha, for older generic
    /// clients) and health, ready to serve.
    pub fn into_router(
        self,
    ) -> Result<(tonic::service::Routes, HealthReporter), tonic_reflection::server::Error> {
        // Reflection lists the public services only (the descriptor set also
        // holds the internal Raft service, which this port does not serve).
        let reflection = || {
            PUBLIC_SERVICES
                .iter()
                .chain(["grpc.health.v1.Health"].iter())
                .fold(
                    tonic_reflection::server::Builder::configure()
                        .register_encoded_file_descriptor_set(fulcrum_api::FILE_DESCRIPTOR_SET)
                        .register_encoded_file_descriptor_set(
                            tonic_health::pb::FILE_DESCRIPTOR_SET,
                        ),
                    |builder, name| builder.with_service_name(*name),
                )
        };
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;
        // The overall status ("") and each service's are kept true to the
        // node's health by `health::report`, with this reporter.
        let (health_reporter, health) = tonic_health::server::health_reporter();
        let mut routes = tonic::service::Routes::default();
        macro_rules! add {
            ($($server:path),* $(,)?) => {
                $(
                    routes = routes.add_service(
                        <$server>::new(self.clone())
                            .max_decoding_message_size(self.max_request_bytes)
                            .max_encoding_message_size(MAX_MESSAGE_BYTES),
                    );
                )*
            };
        }
        add!(
            v1::network_service_server::NetworkServiceServer<Api>,
            v1::eip_service_server::EipServiceServer<Api>,
            v1::load_balancer_service_server::LoadBalancerServiceServer<Api>,
            v1::listener_service_server::ListenerServiceServer<Api>,
            v1::virtual_server_group_service_server::VirtualServerGroupServiceServer<Api>,
            v1::certificate_service_server::CertificateServiceServer<Api>,
            v1::event_service_server::EventServiceServer<Api>,
            v1::cluster_service_server::ClusterServiceServer<Api>,
            v1::access_token_service_server::AccessTokenServiceServer<Api>,
        );
        Ok((
            routes
                .add_service(reflection_v1)
                .add_service(reflection_v1alpha)
                .add_service(health),
            health_reporter,
        ))
    }

    /// Commits the command carried by `request` and answers its receipt.
    async fn write<Req>(
        &self,
        request: Request<Req>,
        client_token: impl FnOnce(&Req) -> String,
        kind: impl FnOnce(Req) -> v1::command::Kind,
    ) -> Result<Receipt, Status> {
        let deadline = self.deadlines.of(request.metadata());
        let principal = crate::auth::principal_of(&request).name;
        let request = request.into_inner();
        let token = client_token(&request);
        let command = v1::Command {
            kind: Some(kind(request)),
        };
        self.replica
            .propose(principal, token, command, deadline)
            .await
    }

    /// Renders an answer from this node's state as it is now.
    fn render<R>(
        &self,
        render: impl FnOnce(&Views<'_>, &State) -> Result<R, Status>,
    ) -> Result<Response<R>, Status> {
        let state = self.replica.state()?;
        let views = Views::new(&state, self.report.as_ref());
        render(&views, &state).map(Response::new)
    }

    /// Answers a read at the consistency it asks for.
    async fn read<Req, R>(
        &self,
        request: &Request<Req>,
        read: Option<&v1::ReadOptions>,
        render: impl FnOnce(&Views<'_>, &State) -> Result<R, Status>,
    ) -> Result<Response<R>, Status> {
        let deadline = self.deadlines.of(request.metadata());
        self.replica
            .read_barrier(Consistency::of(read), deadline)
            .await?;
        self.render(render)
    }
}

/// A domain rejection as the API's status.
fn refused(rejection: Rejection) -> Status {
    rejection_status(&rejection)
}

/// One page of a listing in id order: the items after `page_token` (the last
/// id of the previous page), and the token of the next page (empty at the end).
fn page<'s, V: 's, T>(
    items: impl Iterator<Item = &'s V>,
    id_of: impl Fn(&'s V) -> &'s str,
    page_size: u32,
    page_token: &str,
    view: impl Fn(&'s V) -> T,
) -> (Vec<T>, String) {
    let size = match page_size as usize {
        0 => DEFAULT_PAGE_SIZE,
        size => size.min(MAX_PAGE_SIZE),
    };
    let mut after = items.filter(|item| page_token.is_empty() || id_of(item) > page_token);
    let chosen: Vec<&'s V> = after.by_ref().take(size).collect();
    let next = match (after.next(), chosen.last()) {
        (Some(_), Some(last)) => id_of(last).to_owned(),
        _ => String::new(),
    };
    (chosen.into_iter().map(view).collect(), next)
}

#[cfg(test)]
mod tests {
    use super::page;

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let ids: Vec<String> = (0..25).map(|n| format!("lb-{n:02}")).collect();
        let mut token = String::new();
        let mut seen = Vec::new();
        loop {
            let (items, next) = page(ids.iter(), String::as_str, 10, &token, String::clone);
            assert!(items.len() <= 10);
            seen.extend(items);
            if next.is_empty() {
                break;
            }
            token = next;
        }
        assert_eq!(seen, ids);
        let (all, next) = page(ids.iter(), String::as_str, 0, "", String::clone);
        assert_eq!((all.len(), next.as_str()), (25, ""));
    }
}
