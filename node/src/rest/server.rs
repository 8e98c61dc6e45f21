//! The HTTP server of the REST port: it accepts the transport's connections
//! (HTTP/1.1 or h2, in TLS when the node has it), answers
//! `GET /openapi.json`, and turns every other request into one gRPC call
//! through [`super::grpc`], answering JSON, Server-Sent Events or an error.
//!
//! Guards besides the gRPC path's own:
//! - a body over `api.max_request_bytes` is refused (413) before it is
//!   read whole;
//! - a call waits at most its deadline: `x-request-timeout-ms`, else
//!   `raft.request_timeout_ms`, never beyond `api.max_deadline_ms`;
//! - a request that carries a body must say `content-type:
//!   application/json`: a browser cannot send that cross-site without
//!   asking first (CORS), so a page elsewhere cannot drive a node that
//!   checks no credential (`--dev`);
//! - without TLS, requests must be addressed to an IP address or
//!   `localhost`: a DNS name rebound to 127.0.0.1 cannot reach a dev node;
//! - with authentication, the console's page answers 401 until the browser
//!   has signed in ([`super::session`]); a 401 names the `Bearer` scheme.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::header::{
    ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HOST, SET_COOKIE,
    WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use prost::Message;
use tonic::Code;
use tonic::transport::server::Connected;

use super::errors::RestError;
use super::grpc::{self, Call, GrpcStack};
use super::routes::{BodyRule, Miss, RouteTable};
use super::session::{self, Sessions};
use super::{RestLimits, json, openapi, sse};
use crate::transport::Connection;

/// The body of every answer.
type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How long a call may run past its deadline before the REST side gives
/// up on it: the service's own DEADLINE_EXCEEDED (which says what the
/// client should do) comes first.
const ANSWER_GRACE: Duration = Duration::from_millis(500);
/// How long a stopping server lets its connections finish their requests.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);
/// How long an HTTP/2 keepalive ping may go unanswered.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
const JSON: &str = "application/json";

/// What a call answered: the messages of a stream, or a unary answer.
enum Answer {
    Stream(grpc::Messages),
    Unary(Bytes),
}

/// The REST port's shared state.
pub struct Server {
    routes: RouteTable,
    stack: GrpcStack,
    openapi: Bytes,
    limits: RestLimits,
    /// Without TLS: only requests addressed to an IP or `localhost`.
    loopback_hosts_only: bool,
    sessions: Sessions,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Server {
    /// A server of `routes` over `stack`; `sessions` checks the console's
    /// sign-ins as `stack` checks calls.
    pub fn new(
        routes: RouteTable,
        stack: GrpcStack,
        limits: RestLimits,
        loopback_hosts_only: bool,
        sessions: Sessions,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        let openapi = Bytes::from(openapi::document(&routes).to_string());
        Self {
            routes,
            stack,
            openapi,
            limits,
            loopback_hosts_only,
            sessions,
            metrics,
        }
    }

    /// Serves the connections of `incoming` until `stop`. Then it drains:
    /// no new connection is taken, event streams end (a client resumes
    /// elsewhere with `Last-Event-ID`), each connection finishes the
    /// requests it is answering and closes; whatever is still open after
    /// [`DRAIN_TIME`] is closed.
    pub async fn serve<I>(self: Arc<Self>, incoming: I, stop: impl Future<Output = ()>)
    where
        I: Stream<Item = std::io::Result<Connection>>,
    {
        let mut incoming = std::pin::pin!(incoming);
        let mut stop = std::pin::pin!(stop);
        let mut connections = tokio::task::JoinSet::new();
        let (draining, drain) = tokio::sync::watch::channel(false);
        loop {
            tokio::select! {
                () = &mut stop => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                next = incoming.next() => match next {
                    Some(Ok(connection)) => {
                        connections.spawn(self.clone().connection(connection, drain.clone()));
                    }
                    Some(Err(error)) => tracing::debug!(%error, "an HTTP connection failed before serving"),
                    None => break,
                },
            }
        }
        draining.send_replace(true);
        let drained = tokio::time::timeout(DRAIN_TIME, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::info!(
                open = connections.len(),
                "HTTP connections still open after the drain time are closed"
            );
        }
        connections.shutdown().await;
    }

    /// Serves one connection until it closes, or until `drain` says so
    /// (then it finishes what it is answering first).
    async fn connection(
        self: Arc<Self>,
        connection: Connection,
        mut drain: tokio::sync::watch::Receiver<bool>,
    ) {
        let remote = connection.connect_info().remote;
        let server = self.clone();
        let streams_end = drain.clone();
        let service = hyper::service::service_fn(move |request| {
            let server = server.clone();
            let streams_end = streams_end.clone();
            async move { Ok::<_, Infallible>(server.handle(request, remote, streams_end).await) }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.first_request_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.limits.max_concurrent_streams)
            .keep_alive_interval(self.limits.keepalive_interval)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT);
        let served = builder.serve_connection(TokioIo::new(connection), service);
        let mut served = std::pin::pin!(served);
        let ended = tokio::select! {
            ended = served.as_mut() => ended,
            () = super::drained(&mut drain) => {
                served.as_mut().graceful_shutdown();
                served.await
            }
        };
        if let Err(error) = ended {
            tracing::debug!(?remote, %error, "an HTTP connection ended with an error");
        }
    }

    /// The answer to one request.
    async fn handle(
        &self,
        request: Request<Incoming>,
        remote: Option<SocketAddr>,
        streams_end: tokio::sync::watch::Receiver<bool>,
    ) -> Response<Body> {
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        match self.answer(request, remote, streams_end).await {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%method, %path, %error, "REST request refused");
                error_response(&error)
            }
        }
    }

    async fn answer(
        &self,
        request: Request<Incoming>,
        remote: Option<SocketAddr>,
        streams_end: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Response<Body>, RestError> {
        if self.loopback_hosts_only {
            check_host(&request)?;
        }
        let (mut parts, body) = request.into_parts();
        if parts.method == Method::OPTIONS {
            return self.options(parts.uri.path());
        }
        // HEAD is GET without the body (hyper leaves the body out).
        let head = parts.method == Method::HEAD;
        if head {
            parts.method = Method::GET;
        }
        let path = parts.uri.path();
        if path == openapi::PATH {
            if parts.method != Method::GET {
                return Err(RestError::method_not_allowed(
                    &parts.method,
                    path,
                    FILE_METHODS,
                ));
            }
            return Ok(json_response(StatusCode::OK, self.openapi.clone()));
        }
        if path == session::PATH {
            return self.session(&parts, body).await;
        }
        if path == METRICS_PATH {
            if parts.method != Method::GET {
                return Err(RestError::method_not_allowed(
                    &parts.method,
                    path,
                    FILE_METHODS,
                ));
            }
            return self.metrics_answer(&parts.headers);
        }
        if path == HEALTH_PATH {
            if parts.method != Method::GET {
                return Err(RestError::method_not_allowed(
                    &parts.method,
                    path,
                    FILE_METHODS,
                ));
            }
            return Ok(self.health(remote).await);
        }
        if parts.method == Method::GET
            && !path.starts_with(API_PREFIX)
            && let Some(asset) = crate::console::asset(path)
        {
            let mut response = asset_response(asset);
            if asset.is_page
                && let Err(error) = self.sessions.principal(&parts.headers)
            {
                // The page still loads: it is the sign-in form until then.
                *response.status_mut() = error.status;
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE));
            }
            return Ok(response);
        }
        let matched = self
            .routes
            .find(&parts.method, path)
            .map_err(|miss| match miss {
                Miss::NotFound => RestError::no_route(&parts.method, path),
                Miss::MethodNotAllowed(allowed) => {
                    RestError::method_not_allowed(&parts.method, path, &allow_header(&allowed))
                }
            })?;
        let route = matched.route;
        if head && route.method.is_server_streaming() {
            return Err(RestError::method_not_allowed(
                &Method::HEAD,
                path,
                "GET, OPTIONS",
            ));
        }
        if route.body != BodyRule::None {
            check_json_content_type(&parts.headers)?;
        }
        let timeout = self.timeout(&parts.headers)?;
        let body = read_body(body, &parts.headers, self.limits.max_request_bytes).await?;
        let mut message = json::request(route, &matched.variables, parts.uri.query(), &body)?;
        let streaming = route.method.is_server_streaming();
        if streaming {
            let last_event_id = parts
                .headers
                .get(sse::LAST_EVENT_ID)
                .map(|value| value.to_str().unwrap_or("?"));
            sse::resume(&mut message, last_event_id)?;
        }
        let request_id = HeaderValue::from_str(&crate::request_id::of(
            parts.headers.get(crate::request_id::HEADER),
        ))
        .ok();
        let call = Call {
            request_id: request_id.clone(),
            path: route.grpc_path(),
            message: message.encode_to_vec(),
            authorization: parts
                .headers
                .get(AUTHORIZATION)
                .cloned()
                .or_else(|| Sessions::cookie_authorization(&parts.headers)),
            remote,
            // A stream lives as long as its client wants; only its start
            // is bounded.
            timeout: (!streaming).then_some(timeout),
        };
        let output = route.method.output();
        let answered = tokio::time::timeout(timeout + ANSWER_GRACE, async {
            let messages = grpc::send(&self.stack, call).await?;
            if streaming {
                Ok(Answer::Stream(messages))
            } else {
                messages.only().await.map(Answer::Unary)
            }
        })
        .await
        .map_err(|_| deadline_passed(timeout))?
        .map_err(|status| RestError::from_status(&status))?;
        let mut response = match answered {
            Answer::Stream(messages) => event_stream(messages, output, streams_end),
            Answer::Unary(message) => {
                let message = json::decode(&output, message)?;
                json_response(StatusCode::OK, Bytes::from(json::render(&message)?))
            }
        };
        if let Some(id) = request_id {
            response.headers_mut().insert(crate::request_id::HEADER, id);
        }
        Ok(response)
    }

    /// `GET /metrics`: the node's metrics; with authentication on, for any
    /// valid bearer token (a viewer's is enough).
    fn metrics_answer(&self, headers: &HeaderMap) -> Result<Response<Body>, RestError> {
        if self.sessions.required() {
            let header = headers.get(AUTHORIZATION).ok_or_else(|| {
                RestError::from_status(&tonic::Status::unauthenticated(
                    "authorization: the metrics need `Bearer TOKEN` (any role)",
                ))
            })?;
            self.sessions
                .bearer_principal(header)
                .map_err(|status| RestError::from_status(&status))?;
        }
        let mut response =
            Response::new(Full::new(Bytes::from(self.metrics.render())).boxed_unsync());
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    /// `GET /healthz`: the node's health as the gRPC health service reports
    /// it (`SERVING` 200, anything else 503), without a credential, for
    /// probes that speak HTTPS but not gRPC over TLS (Kubernetes' kubelet).
    async fn health(&self, remote: Option<SocketAddr>) -> Response<Body> {
        let call = Call {
            path: "/grpc.health.v1.Health/Check".to_owned(),
            message: tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            }
            .encode_to_vec(),
            authorization: None,
            remote,
            timeout: Some(self.limits.default_deadline),
            request_id: None,
        };
        let answered = match grpc::send(&self.stack, call).await {
            Ok(messages) => messages.only().await,
            Err(status) => Err(status),
        };
        let status = answered
            .ok()
            .and_then(|bytes| tonic_health::pb::HealthCheckResponse::decode(bytes).ok())
            .map(|answer| answer.status());
        let (code, word) = match status {
            Some(tonic_health::pb::health_check_response::ServingStatus::Serving) => {
                (StatusCode::OK, "SERVING")
            }
            Some(other) => (StatusCode::SERVICE_UNAVAILABLE, other.as_str_name()),
            None => (StatusCode::SERVICE_UNAVAILABLE, "UNKNOWN"),
        };
        json_response(code, Bytes::from(format!("{{\"status\":\"{word}\"}}")))
    }

    /// What `OPTIONS path` answers: 204 and the methods the path takes in
    /// `Allow` (no CORS headers: no other origin is granted anything).
    fn options(&self, path: &str) -> Result<Response<Body>, RestError> {
        let allowed = if path == openapi::PATH
            || path == HEALTH_PATH
            || path == METRICS_PATH
            || (!path.starts_with(API_PREFIX) && crate::console::asset(path).is_some())
        {
            FILE_METHODS.to_owned()
        } else if path == session::PATH {
            SESSION_METHODS.to_owned()
        } else {
            match self.routes.find(&Method::OPTIONS, path) {
                Ok(_) | Err(Miss::NotFound) => {
                    return Err(RestError::no_route(&Method::OPTIONS, path));
                }
                Err(Miss::MethodNotAllowed(allowed)) => allow_header(&allowed),
            }
        };
        let mut response = Response::new(Full::new(Bytes::new()).boxed_unsync());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if let Ok(allowed) = HeaderValue::from_str(&allowed) {
            response.headers_mut().insert(ALLOW, allowed);
        }
        Ok(response)
    }

    /// The console's session: sign in (POST), who am I (GET), sign out
    /// (DELETE).
    async fn session(
        &self,
        parts: &http::request::Parts,
        body: Incoming,
    ) -> Result<Response<Body>, RestError> {
        let required = self.sessions.required();
        let (principal, cookie) = match parts.method {
            Method::GET => (self.sessions.principal(&parts.headers)?, None),
            Method::POST => {
                check_json_content_type(&parts.headers)?;
                let body = read_body(body, &parts.headers, self.limits.max_request_bytes).await?;
                self.sessions.sign_in(&body)?
            }
            Method::DELETE => {
                let mut response = Response::new(Full::new(Bytes::new()).boxed_unsync());
                *response.status_mut() = StatusCode::NO_CONTENT;
                set_cookie(&mut response, &self.sessions.sign_out());
                return Ok(response);
            }
            _ => {
                return Err(RestError::method_not_allowed(
                    &parts.method,
                    session::PATH,
                    SESSION_METHODS,
                ));
            }
        };
        let mut response = json_response(
            StatusCode::OK,
            Bytes::from(session::describe(&principal, required).to_string()),
        );
        if let Some(cookie) = cookie {
            set_cookie(&mut response, &cookie);
        }
        Ok(response)
    }

    /// The call's deadline: the client's, else the default, within the cap.
    fn timeout(&self, headers: &HeaderMap) -> Result<Duration, RestError> {
        let given = match headers.get(openapi::TIMEOUT_HEADER) {
            None => None,
            Some(value) => {
                let millis = value
                    .to_str()
                    .ok()
                    .and_then(|text| text.trim().parse::<u64>().ok())
                    .filter(|millis| *millis >= openapi::MIN_TIMEOUT_MS)
                    .ok_or_else(|| {
                        RestError::invalid(
                            openapi::TIMEOUT_HEADER,
                            format!(
                                "{value:?} is not a whole number of milliseconds, {} or more (a write must have time to commit)",
                                openapi::MIN_TIMEOUT_MS
                            ),
                        )
                    })?;
                Some(Duration::from_millis(millis))
            }
        };
        Ok(given
            .unwrap_or(self.limits.default_deadline)
            .min(self.limits.max_deadline))
    }
}

/// The body, refused once it passes `limit` bytes.
async fn read_body(body: Incoming, headers: &HeaderMap, limit: usize) -> Result<Bytes, RestError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(RestError::body_too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(RestError::body_too_large(limit))
        }
        Err(error) => Err(RestError::invalid(
            "body",
            format!("could not be read: {error}"),
        )),
    }
}

/// A body must be declared JSON (see the module's documentation).
fn check_json_content_type(headers: &HeaderMap) -> Result<(), RestError> {
    let declared = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|media_type| media_type.trim().eq_ignore_ascii_case(JSON));
    if declared == Some(true) {
        return Ok(());
    }
    Err(RestError::with_status(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Code::InvalidArgument,
        "content-type: must be application/json for a method that takes a body (even an empty one)",
    ))
}

/// Without TLS, the host a request names must be an IP address or
/// `localhost` (a missing one is let through: no browser omits it).
fn check_host<B>(request: &Request<B>) -> Result<(), RestError> {
    let host = request
        .headers()
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str().to_owned())
        });
    match host {
        None => Ok(()),
        Some(host) if host_is_loopback_or_ip(&host) => Ok(()),
        Some(host) => Err(RestError::new(
            Code::PermissionDenied,
            format!(
                "host: {host:?}: without TLS this port answers requests addressed to an IP address or localhost only (a guard against DNS rebinding)"
            ),
        )),
    }
}

fn host_is_loopback_or_ip(host: &str) -> bool {
    let name = if let Some(bracketed) = host.strip_prefix('[') {
        // [v6] or [v6]:port
        return bracketed
            .split(']')
            .next()
            .is_some_and(|address| address.parse::<std::net::Ipv6Addr>().is_ok());
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.parse::<u16>().is_ok())
            .map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

fn deadline_passed(timeout: Duration) -> RestError {
    RestError::new(
        Code::DeadlineExceeded,
        format!(
            "the deadline ({} ms) passed before the node answered; a write may or may not have been applied: retry with the same client_token to learn its outcome",
            timeout.as_millis()
        ),
    )
}

fn json_response(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body).boxed_unsync());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    // Answers may carry a token's secret, shown once: never cached.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The paths of the REST API; everything else may be a console file.
const API_PREFIX: &str = "/v1/";

fn asset_response(asset: crate::console::Asset) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(asset.bytes)).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Never framed by another site (clickjacking).
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// The health of the node, for HTTP probes.
pub const HEALTH_PATH: &str = "/healthz";
/// The node's Prometheus metrics.
pub const METRICS_PATH: &str = "/metrics";
/// The methods of the document, the health and the console's files.
const FILE_METHODS: &str = "GET, HEAD, OPTIONS";
/// The methods of the console's session.
const SESSION_METHODS: &str = "GET, POST, DELETE, OPTIONS";

/// An `Allow` value: the route methods, HEAD beside GET, and OPTIONS, in
/// the order RFC 9110 lists them.
fn allow_header(methods: &[Method]) -> String {
    const ORDER: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    ORDER
        .iter()
        .filter(|method| {
            methods.contains(method)
                || (**method == Method::HEAD && methods.contains(&Method::GET))
                || **method == Method::OPTIONS
        })
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The challenge of every 401 (RFC 9110 §11.6.1).
const BEARER_CHALLENGE: &str = "Bearer realm=\"fulcrum\"";

fn set_cookie(response: &mut Response<Body>, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
}

fn error_response(error: &RestError) -> Response<Body> {
    let mut response = json_response(error.status, Bytes::from(error.body()));
    if error.status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE));
    }
    if let Some(allowed) = &error.allow
        && let Ok(allowed) = HeaderValue::from_str(allowed)
    {
        response.headers_mut().insert(ALLOW, allowed);
    }
    response
}

fn event_stream(
    messages: grpc::Messages,
    output: prost_reflect::MessageDescriptor,
    end: tokio::sync::watch::Receiver<bool>,
) -> Response<Body> {
    let body = StreamBody::new(sse::events(messages, output, end)).boxed_unsync();
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_answers_ip_addresses_and_localhost_only() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:7402",
            "localhost:7402",
            "LOCALHOST",
            "[::1]:7402",
            "[::1]",
            "10.0.0.1:80",
        ] {
            assert!(host_is_loopback_or_ip(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:7402",
            "127.0.0.1.nip.io",
            "[evil]:1",
            "localhost.evil:7402",
        ] {
            assert!(!host_is_loopback_or_ip(host), "{host}");
        }
        let request = |host: &str| {
            Request::get("/v1/networks")
                .header(HOST, host)
                .body(())
                .expect("request")
        };
        assert!(check_host(&request("127.0.0.1:7402")).is_ok());
        let refused = check_host(&request("rebound.example:7402")).expect_err("refused");
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn a_body_must_be_declared_json() {
        let headers = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            headers
        };
        assert!(check_json_content_type(&headers("application/json")).is_ok());
        assert!(check_json_content_type(&headers("Application/JSON; charset=utf-8")).is_ok());
        for refused in [
            headers("text/plain"),
            headers("application/x-www-form-urlencoded"),
            HeaderMap::new(),
        ] {
            let error = check_json_content_type(&refused).expect_err("refused");
            assert_eq!(error.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
    }

    #[test]
    fn errors_answer_json_and_405_says_what_is_allowed() {
        let error = RestError::method_not_allowed(&Method::PUT, "/v1/networks/n-1", "GET, DELETE");
        let response = error_response(&error);
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET, DELETE");
        assert_eq!(response.headers()[CONTENT_TYPE], JSON);
    }

    #[test]
    fn allow_names_head_beside_get_and_options_always() {
        assert_eq!(
            allow_header(&[Method::POST, Method::GET]),
            "GET, HEAD, POST, OPTIONS"
        );
        assert_eq!(allow_header(&[Method::DELETE]), "DELETE, OPTIONS");
    }
}
