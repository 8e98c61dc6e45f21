//! The public API's requests, counted as they pass: a tower layer outside
//! authentication, so refusals count too. A call's code is its
//! `grpc-status` header when the answer is trailers-only (every error a
//! handler returns is), else OK; its latency runs to the answer's headers
//! (for a unary call, the answer; for a stream, its start). The same layer
//! gives the call its request id and span.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::Instrument;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The latency buckets, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A call's service and method.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    service: String,
    method: String,
}

/// A call's service, method and answer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    service: String,
    method: String,
    code: String,
}

/// The API's counters, shared by the layer and the registry.
#[derive(Clone, Debug)]
pub struct ApiMetrics {
    requests: Family<CallLabels, Counter>,
    latency: Family<MethodLabels, Histogram>,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS)),
        }
    }
}

impl ApiMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "fulcrum_api_requests",
            "Public API calls, by service, method and gRPC code",
            self.requests.clone(),
        );
        registry.register(
            "fulcrum_api_request_duration_seconds",
            "Public API calls' time to their answer (a stream's: to its start)",
            self.latency.clone(),
        );
    }

    fn record(&self, path: &str, code: &str, seconds: f64) {
        // `/package.Service/Method`; anything else (a probe of a path that
        // does not exist) is counted under "unknown".
        let (service, method) = path
            .strip_prefix('/')
            .and_then(|rest| rest.split_once('/'))
            .filter(|(service, method)| {
                !service.is_empty() && !method.is_empty() && !method.contains('/')
            })
            .map_or(("unknown", "unknown"), |(service, method)| {
                (service, method)
            });
        let service = service.rsplit('.').next().unwrap_or(service).to_owned();
        self.requests
            .get_or_create(&CallLabels {
                service: service.clone(),
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&MethodLabels {
                service,
                method: method.to_owned(),
            })
            .observe(seconds);
    }
}

/// The layer that counts the calls it passes, and gives each its request
/// id (`crate::request_id`) and a tracing span naming the node, the id and
/// the method.
#[derive(Clone, Debug)]
pub struct Measure {
    metrics: ApiMetrics,
    node_id: u64,
}

impl Measure {
    /// A layer of node `node_id` counting into `metrics`.
    pub fn new(metrics: ApiMetrics, node_id: u64) -> Self {
        Self { metrics, node_id }
    }
}

impl<S> tower::Layer<S> for Measure {
    type Service = MeasureService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MeasureService {
            inner,
            metrics: self.metrics.clone(),
            node_id: self.node_id,
        }
    }
}

/// The service [`Measure`] wraps.
#[derive(Clone, Debug)]
pub struct MeasureService<S> {
    inner: S,
    metrics: ApiMetrics,
    node_id: u64,
}

impl<S, RequestBody, Body> tower::Service<http::Request<RequestBody>> for MeasureService<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let id = crate::request_id::of(request.headers().get(crate::request_id::HEADER));
        if let Ok(value) = http::HeaderValue::from_str(&id) {
            request
                .headers_mut()
                .insert(crate::request_id::HEADER, value);
        }
        let span =
            tracing::info_span!("api", node = self.node_id, request_id = %id, method = %path);
        let answer = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let answer = crate::request_id::scope(id.clone(), answer.instrument(span.clone()));
        Box::pin(async move {
            let mut answered = answer.await;
            if let Ok(response) = &mut answered
                && let Ok(value) = http::HeaderValue::from_str(&id)
            {
                response
                    .headers_mut()
                    .insert(crate::request_id::HEADER, value);
            }
            let code = match &answered {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<i32>().ok())
                    .map_or("OK", |code| {
                        crate::rest::code_name(tonic::Code::from_i32(code))
                    }),
                Err(_) => "UNAVAILABLE",
            };
            metrics.record(&path, code, started.elapsed().as_secs_f64());
            answered
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_service_method_and_code() {
        let metrics = ApiMetrics::default();
        metrics.record("/fulcrum.v1.NetworkService/ListNetworks", "OK", 0.001);
        metrics.record("/fulcrum.v1.NetworkService/ListNetworks", "OK", 0.002);
        metrics.record("/nonsense", "UNIMPLEMENTED", 0.0);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                r#"fulcrum_api_requests_total{service="NetworkService",method="ListNetworks",code="OK"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"service="unknown",method="unknown",code="UNIMPLEMENTED""#),
            "{text}"
        );
        assert!(
            text.contains("fulcrum_api_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
