//! The REST/JSON API on real agents: the guide's steps through HTTP, the
//! errors a client sees, the OpenAPI document, the watch as Server-Sent
//! Events, and, with TLS, bearer tokens held to their roles.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fulcrum_api::{Client, Credentials, v1};
use fulcrum_pki::{ClientOptions, Role};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;

use support::pki::Pki;
use support::{Member, PATIENCE, cluster, cluster_with, leader};

/// A small HTTP/1.1 client of one node's REST port: a connection per
/// request, TLS when given the CA, a bearer token when given one.
#[derive(Clone)]
struct Http {
    address: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: Option<String>,
}

impl Http {
    fn plain(member: &Member) -> Self {
        Self {
            address: member.http(),
            tls: None,
            token: None,
        }
    }

    fn with_token(&self, token: &str) -> Self {
        Self {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    /// Sends a request and answers its response, body unread.
    async fn open(&self, request: Request<Full<Bytes>>) -> hyper::Response<Incoming> {
        let tcp = TcpStream::connect(&self.address).await.unwrap();
        macro_rules! over {
            ($io:expr) => {{
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new($io))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                sender.send_request(request).await.unwrap()
            }};
        }
        match &self.tls {
            None => over!(tcp),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .unwrap();
                over!(tls)
            }
        }
    }

    fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Request<Full<Bytes>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, &self.address);
        if let Some(token) = &self.token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                request = request.header(http::header::CONTENT_TYPE, "application/json");
                Bytes::from(body.to_string())
            }
            None => Bytes::new(),
        };
        request.body(Full::new(body)).unwrap()
    }

    /// The status and JSON body of `method path` with `body`.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let response = self.open(self.request(method, path, body)).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|error| panic!("{path}: not JSON ({error}): {bytes:?}"));
        (status, json)
    }

    /// The JSON answer of a call that must succeed.
    async fn ok(&self, method: Method, path: &str, body: Value) -> Value {
        let body = (method != Method::GET && method != Method::DELETE).then_some(body);
        let (status, json) = self.call(method.clone(), path, body.as_ref()).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {json}");
        json
    }

    /// The status, headers and body of `request`, read whole.
    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
    ) -> (StatusCode, http::HeaderMap, Bytes) {
        let response = self.open(request).await;
        let (parts, body) = response.into_parts();
        (
            parts.status,
            parts.headers,
            body.collect().await.unwrap().to_bytes(),
        )
    }

    /// The status and JSON body of a request sent as raw bytes.
    async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: &'static str,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path, None);
        if let Some(content_type) = content_type {
            request
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        }
        *request.body_mut() = Full::new(Bytes::from_static(body.as_bytes()));
        let response = self.open(request).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }
}

/// Checks an error answer: its HTTP status, its code's name, and words its
/// message must hold.
fn refused(answer: &(StatusCode, Value), status: u16, code: &str, words: &str) {
    let (got, body) = answer;
    assert_eq!(got.as_u16(), status, "{body}");
    assert_eq!(body["code"], status, "{body}");
    assert_eq!(body["status"], code, "{body}");
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains(words), "{message:?} lacks {words:?}");
}

/// Waits until the bootstrap's EIP pool (proposed just after the cluster
/// forms) shows in the settings.
async fn wait_for_the_eip_pool(http: &Http) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let settings = http
            .ok(Method::GET, "/v1/cluster/settings", json!(null))
            .await;
        if settings["settings"]["eipPool"] == json!(["127.77.0.0/16"]) {
            return;
        }
        assert!(Instant::now() < deadline, "no EIP pool: {settings}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_through_rest_with_every_answer_checked() {
    let members = cluster(1, 1).await;
    leader(&members).await;
    let http = Http::plain(&members[0]);
    wait_for_the_eip_pool(&http).await;

    let network = http
        .ok(
            Method::POST,
            "/v1/networks",
            json!({"name": "vpc", "cidr": "127.0.0.0/16", "tags": {"team": "web"}}),
        )
        .await;
    assert_eq!(network["network"]["name"], "vpc");
    assert_eq!(network["network"]["tags"], json!({"team": "web"}));
    let network_id = network["network"]["id"].as_str().unwrap().to_owned();
    assert!(
        network["revision"].is_string(),
        "uint64 as a string: {network}"
    );

    let subnet = http
        .ok(
            Method::POST,
            "/v1/subnets",
            json!({"name": "backend", "networkId": network_id, "cidr": "127.0.1.0/24"}),
        )
        .await;
    let subnet_id = subnet["subnet"]["id"].as_str().unwrap().to_owned();
    assert_eq!(subnet["subnet"]["networkId"], network_id.as_str());

    let mut instances = Vec::new();
    for (name, address) in [("web1", "127.0.1.10"), ("web2", "127.0.1.11")] {
        let instance = http
            .ok(
                Method::POST,
                "/v1/instances",
                json!({"name": name, "subnet_id": subnet_id, "address": address}),
            )
            .await;
        assert_eq!(instance["instance"]["address"], address);
        instances.push(instance["instance"]["id"].as_str().unwrap().to_owned());
    }
    let listed = http
        .ok(
            Method::GET,
            &format!("/v1/instances?subnet_id={subnet_id}"),
            json!(null),
        )
        .await;
    assert_eq!(listed["instances"].as_array().unwrap().len(), 2, "{listed}");

    let eip = http
        .ok(Method::POST, "/v1/eips", json!({"name": "public"}))
        .await;
    let eip_id = eip["eip"]["id"].as_str().unwrap().to_owned();
    let eip_address = eip["eip"]["address"].as_str().unwrap().to_owned();
    assert!(eip_address.starts_with("127.77."), "{eip}");

    // 1. Create a Load Balancer.
    let created = http
        .ok(
            Method::POST,
            "/v1/loadBalancers",
            json!({"name": "shop", "networkId": network_id, "subnetId": subnet_id}),
        )
        .await;
    let lb_id = created["loadBalancer"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["loadBalancer"]["name"], "shop");

    // 2. Associate the EIP.
    let associated = http
        .ok(
            Method::POST,
            &format!("/v1/loadBalancers/{lb_id}:associateEip"),
            json!({"eipId": eip_id}),
        )
        .await;
    assert_eq!(associated["loadBalancer"]["eipId"], eip_id.as_str());
    assert_eq!(
        associated["loadBalancer"]["eipAddress"],
        eip_address.as_str()
    );

    // 3. A virtual server group with two members, 3:1.
    let group = http
        .ok(
            Method::POST,
            "/v1/groups",
            json!({
                "loadBalancerId": lb_id,
                "name": "web",
                "algorithm": "ALGORITHM_WEIGHTED_ROUND_ROBIN",
                "healthCheck": {"type": "HEALTH_CHECK_TYPE_TCP"},
                "members": [
                    {"instanceId": instances[0], "port": 8080, "weight": 3},
                    {"instanceId": instances[1], "port": 8080, "weight": 1},
                ],
            }),
        )
        .await;
    let group_id = group["group"]["id"].as_str().unwrap().to_owned();
    let weights: Vec<&Value> = group["group"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| &member["weight"])
        .collect();
    assert_eq!(weights, [&json!(3), &json!(1)], "{group}");

    // 4. A listener.
    let listener_body = json!({
        "loadBalancerId": lb_id,
        "name": "http",
        "protocol": "PROTOCOL_HTTP",
        "port": 18080,
        "defaultGroupId": group_id,
        "connectionLimit": "10000",
    });
    let listener = http
        .ok(Method::POST, "/v1/listeners", listener_body.clone())
        .await;
    assert_eq!(listener["listener"]["port"], 18080);
    assert_eq!(listener["listener"]["protocol"], "PROTOCOL_HTTP");
    assert_eq!(listener["listener"]["connectionLimit"], "10000");
    let listener_id = listener["listener"]["id"].as_str().unwrap().to_owned();

    // The detail view and the listing agree.
    let shown = http
        .ok(
            Method::GET,
            &format!("/v1/loadBalancers/{lb_id}"),
            json!(null),
        )
        .await;
    assert_eq!(shown["loadBalancer"]["eipId"], eip_id.as_str());
    let listeners = http
        .ok(
            Method::GET,
            &format!(
                "/v1/listeners?load_balancer_id={lb_id}&read.consistency=READ_CONSISTENCY_LOCAL"
            ),
            json!(null),
        )
        .await;
    assert_eq!(listeners["listeners"][0]["id"], listener_id.as_str());
    let tree = http
        .ok(
            Method::GET,
            &format!("/v1/loadBalancers/{lb_id}/statusTree"),
            json!(null),
        )
        .await;
    assert_eq!(
        tree["loadBalancer"]["groups"][0]["members"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // An update through PATCH.
    let updated = http
        .ok(
            Method::PATCH,
            &format!("/v1/loadBalancers/{lb_id}"),
            json!({"description": "the shop"}),
        )
        .await;
    assert_eq!(updated["loadBalancer"]["description"], "the shop");

    // The same port again: the server's own words, as 409.
    let duplicate = http.call(Method::POST, "/v1/listeners", Some(&json!({"name": "again", "port": 18080, "loadBalancerId": lb_id, "protocol": "PROTOCOL_TCP"}))).await;
    refused(&duplicate, 409, "ALREADY_EXISTS", "18080");
    let grpc = members[0]
        .client()
        .await
        .listeners()
        .create_listener(v1::CreateListenerRequest {
            load_balancer_id: lb_id.clone(),
            name: "again".into(),
            protocol: v1::Protocol::Tcp.into(),
            port: 18080,
            ..Default::default()
        })
        .await
        .expect_err("a duplicate port");
    assert_eq!(
        duplicate.1["message"],
        grpc.message(),
        "the gRPC path's words"
    );

    // Requests the transcoder refuses itself.
    refused(
        &http
            .raw(
                Method::POST,
                "/v1/networks",
                Some("application/json"),
                r#"{"name": "#,
            )
            .await,
        400,
        "INVALID_ARGUMENT",
        "body: not JSON",
    );
    refused(
        &http
            .call(
                Method::POST,
                "/v1/networks",
                Some(&json!({"name": "x", "colour": "red"})),
            )
            .await,
        400,
        "INVALID_ARGUMENT",
        "colour: not a field of fulcrum.v1.CreateNetworkRequest",
    );
    refused(
        &http
            .raw(
                Method::POST,
                "/v1/networks",
                Some("text/plain"),
                r#"{"name": "x"}"#,
            )
            .await,
        415,
        "INVALID_ARGUMENT",
        "content-type",
    );
    refused(
        &http.call(Method::GET, "/v1/nothing", None).await,
        404,
        "NOT_FOUND",
        "no such path",
    );
    let wrong_method = http
        .open(http.request(Method::PUT, "/v1/networks", None))
        .await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers()["allow"], "GET, HEAD, POST, OPTIONS");
    // Errors of the services themselves.
    refused(
        &http
            .call(Method::GET, "/v1/networks/net-missing", None)
            .await,
        404,
        "NOT_FOUND",
        "net-missing",
    );
    refused(
        &http
            .call(Method::DELETE, &format!("/v1/networks/{network_id}"), None)
            .await,
        409,
        "FAILED_PRECONDITION",
        "subnet",
    );

    // Client tokens travel: a retried delete answers as the first did.
    let delete = format!("/v1/listeners/{listener_id}?client_token=delete-once");
    let first = http.ok(Method::DELETE, &delete, json!(null)).await;
    let again = http.ok(Method::DELETE, &delete, json!(null)).await;
    assert_eq!(first, again);
    refused(
        &http
            .call(Method::GET, &format!("/v1/listeners/{listener_id}"), None)
            .await,
        404,
        "NOT_FOUND",
        "",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_rpc() {
    let members = cluster(1, 1).await;
    leader(&members).await;
    let (status, document) = Http::plain(&members[0])
        .call(Method::GET, "/openapi.json", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.0.3");
    let mut operations = std::collections::BTreeMap::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            operations.insert(
                operation["operationId"].as_str().unwrap().to_owned(),
                (method.clone(), path.clone()),
            );
        }
    }
    let pool = prost_reflect::DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).unwrap();
    let mut rpcs = 0;
    for service in pool
        .services()
        .filter(|service| service.package_name() == "fulcrum.v1")
    {
        for method in service.methods() {
            rpcs += 1;
            let id = format!("{}_{}", service.name(), method.name());
            let (verb, path) = operations
                .get(&id)
                .unwrap_or_else(|| panic!("{id} is not in the document"));
            assert!(path.starts_with("/v1/"), "{id}: {path}");
            assert!(
                ["get", "post", "put", "patch", "delete"].contains(&verb.as_str()),
                "{id}: {verb}"
            );
        }
    }
    assert_eq!(
        operations.len(),
        rpcs + 1,
        "the RPCs and the document itself"
    );
    assert_eq!(
        operations["NetworkService_CreateNetwork"],
        ("post".to_owned(), "/v1/networks".to_owned())
    );
    assert_eq!(
        operations["EventService_Watch"],
        ("get".to_owned(), "/v1/events:watch".to_owned())
    );
    // Every reference resolves.
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{name} is referred to but missing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_streams_writes_made_after_it_opened_as_server_sent_events() {
    let members = cluster(1, 1).await;
    leader(&members).await;
    let http = Http::plain(&members[0]);
    let before = http.ok(Method::GET, "/v1/networks", json!(null)).await;
    let next: u64 = before["revision"].as_str().unwrap().parse::<u64>().unwrap() + 1;
    let response = http
        .open(http.request(
            Method::GET,
            &format!("/v1/events:watch?from_revision={next}"),
            None,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();

    // Written after the stream opened.
    let created = http
        .ok(
            Method::POST,
            "/v1/networks",
            json!({"name": "late", "cidr": "10.8.0.0/16"}),
        )
        .await;
    let network_id = created["network"]["id"].as_str().unwrap().to_owned();

    let (id, event) = first_event_of(&mut body, &network_id).await;
    assert_eq!(event["type"], "EVENT_TYPE_NETWORK_CREATED");
    assert_eq!(event["network"]["name"], "late");
    let revision: u64 = event["revision"].as_str().unwrap().parse().unwrap();
    assert!(revision >= next);
    assert_eq!(
        id, revision,
        "an event's id is its answer's highest revision"
    );
    drop(body);

    // A client that reconnects with Last-Event-ID (as EventSource does)
    // resumes after it: the next write, not the one it saw.
    let second = http
        .ok(
            Method::POST,
            "/v1/networks",
            json!({"name": "later", "cidr": "10.9.0.0/16"}),
        )
        .await;
    let second_id = second["network"]["id"].as_str().unwrap().to_owned();
    let mut request = http.request(Method::GET, "/v1/events:watch", None);
    request
        .headers_mut()
        .insert("last-event-id", id.to_string().parse().unwrap());
    let response = http.open(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let (_, event) = first_event_of(&mut body, &second_id).await;
    let resumed: u64 = event["revision"].as_str().unwrap().parse().unwrap();
    assert!(resumed > revision);

    let mut request = http.request(Method::GET, "/v1/events:watch", None);
    request
        .headers_mut()
        .insert("last-event-id", "yesterday".parse().unwrap());
    let response = http.open(request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // A stopping node ends its event streams cleanly (the client resumes
    // elsewhere) instead of cutting the connection.
    let mut other = body;
    let mut request = http.request(Method::GET, "/v1/events:watch", None);
    request
        .headers_mut()
        .insert("last-event-id", resumed.to_string().parse().unwrap());
    let response = http.open(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut stopping_member = members;
    let stopping = tokio::spawn(async move { stopping_member[0].stop().await });
    for stream in [&mut other, &mut response.into_body()] {
        let end = tokio::time::timeout(PATIENCE, async {
            loop {
                match stream.frame().await {
                    Some(Ok(_)) => continue,
                    ended => break ended.map(|frame| frame.map(|_| ())),
                }
            }
        })
        .await
        .expect("the stream ends when the node stops");
        assert!(end.is_none(), "the stream ends cleanly, not cut: {end:?}");
    }
    stopping.await.unwrap();
}

/// HEAD is GET without a body; OPTIONS says what a path takes; neither
/// grants another origin anything (no CORS headers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_options_answer_as_http_says() {
    let members = cluster(1, 1).await;
    leader(&members).await;
    let http = Http::plain(&members[0]);
    for path in ["/v1/networks", "/", "/openapi.json"] {
        let (status, headers, body) = http.exchange(http.request(Method::HEAD, path, None)).await;
        assert_eq!(status, StatusCode::OK, "HEAD {path}");
        assert!(body.is_empty(), "HEAD {path} has no body");
        assert!(
            headers.contains_key(http::header::CONTENT_TYPE),
            "HEAD {path}"
        );
    }
    let (status, headers, _) = http
        .exchange(http.request(Method::HEAD, "/v1/events:watch", None))
        .await;
    assert_eq!(
        status,
        StatusCode::METHOD_NOT_ALLOWED,
        "a stream is not started for HEAD"
    );
    assert_eq!(headers[http::header::ALLOW], "GET, OPTIONS");

    let options = |path: &str| http.request(Method::OPTIONS, path, None);
    let (status, headers, _) = http.exchange(options("/v1/networks")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers[http::header::ALLOW], "GET, HEAD, POST, OPTIONS");
    assert!(!headers.contains_key("access-control-allow-origin"));
    let (status, headers, _) = http.exchange(options("/v1/networks/net-1")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers[http::header::ALLOW], "GET, HEAD, DELETE, OPTIONS");
    let (status, headers, _) = http.exchange(options("/console/session")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers[http::header::ALLOW], "GET, POST, DELETE, OPTIONS");
    let (status, _, _) = http.exchange(options("/v1/nothing")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The health for HTTP probes, without a credential.
    let (status, body) = http.call(Method::GET, "/healthz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("SERVING"))
    );
}

/// Reads Server-Sent Events from `body` until one holds an event of
/// `resource_id`; answers the id of the SSE event that held it and it.
async fn first_event_of(body: &mut Incoming, resource_id: &str) -> (u64, Value) {
    let deadline = Instant::now() + PATIENCE;
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("an event before the deadline")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
        for block in text.split("\n\n") {
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("id: ") {
                    id = Some(value.parse::<u64>().unwrap());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str::<Value>(value).unwrap());
                }
            }
            let Some(data) = data else { continue };
            let found = data["events"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|event| event["resourceId"] == resource_id);
            if let Some(event) = found {
                return (id.expect("a watch event has an id"), event.clone());
            }
        }
    }
}

/// An HTTPS client of `member`'s HTTP port, trusting `pki`'s CA.
fn https(pki: &Pki, member: &Member) -> Http {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in
        rustls::pki_types::CertificateDer::pem_slice_iter(pki.ca.certificate.as_bytes())
    {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Http {
        address: member.http(),
        tls: Some(Arc::new(config)),
        token: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_tokens_are_required_and_held_to_their_roles() {
    let pki = Pki::new();
    pki.write_node(1);
    let files = pki.files(1);
    let members = cluster_with(1, 1, move |config| config.tls = Some(files.clone())).await;
    leader(&members).await;
    let member = &members[0];

    // An admin (by certificate, over gRPC) hands out two tokens.
    let root = pki
        .authority
        .issue_client(&ClientOptions {
            principal: "root".into(),
            role: Role::Admin,
            validity_days: None,
        })
        .unwrap();
    let admin = Client::connect_with(
        &member.api(),
        Duration::from_secs(2),
        &Credentials {
            ca_pem: Some(pki.ca.certificate.clone()),
            identity: Some((root.certificate.clone(), root.private_key.clone())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut secrets = Vec::new();
    for (principal, role) in [("vera", v1::Role::Viewer), ("otto", v1::Role::Operator)] {
        let answer = admin
            .access_tokens()
            .create_access_token(v1::CreateAccessTokenRequest {
                principal: principal.into(),
                role: role.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        secrets.push(answer.secret);
    }
    let https = https(&pki, member);
    let (viewer, operator) = (https.with_token(&secrets[0]), https.with_token(&secrets[1]));

    refused(
        &https.call(Method::GET, "/v1/networks", None).await,
        401,
        "UNAUTHENTICATED",
        "no credential",
    );
    refused(
        &https
            .with_token("fct_not_a_token")
            .call(Method::GET, "/v1/networks", None)
            .await,
        401,
        "UNAUTHENTICATED",
        "not valid",
    );
    let (status, listed) = viewer.call(Method::GET, "/v1/networks", None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let network = json!({"name": "vpc", "cidr": "10.1.0.0/16"});
    refused(
        &viewer
            .call(Method::POST, "/v1/networks", Some(&network))
            .await,
        403,
        "PERMISSION_DENIED",
        "needs the role operator",
    );
    let (status, created) = operator
        .call(Method::POST, "/v1/networks", Some(&network))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    // The audit trail names the token's principal.
    let history = viewer
        .ok(
            Method::GET,
            &format!(
                "/v1/events?resource_id={}",
                created["network"]["id"].as_str().unwrap()
            ),
            json!(null),
        )
        .await;
    assert_eq!(history["events"][0]["principal"], "otto", "{history}");
    // The document is served to anyone.
    let (status, _) = https.call(Method::GET, "/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);

    // The metrics need a token (any role) when authentication is on.
    let (status, headers, _) = https
        .exchange(https.request(Method::GET, "/metrics", None))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.contains_key(http::header::WWW_AUTHENTICATE));
    let (status, headers, body) = viewer
        .exchange(viewer.request(Method::GET, "/metrics", None))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[http::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert!(String::from_utf8_lossy(&body).contains("fulcrum_raft_term"));

    the_console_needs_a_session(&https, &secrets[0], &secrets[1]).await;
}

/// The console's page answers 401 until the browser signs in; signing in
/// sets an HttpOnly cookie that stands for the token on calls that say
/// they come from the console; signing out clears it.
async fn the_console_needs_a_session(https: &Http, viewer: &str, operator: &str) {
    let page = |cookie: Option<&str>| {
        let mut request = https.request(Method::GET, "/", None);
        if let Some(cookie) = cookie {
            request
                .headers_mut()
                .insert(http::header::COOKIE, cookie.parse().unwrap());
        }
        request
    };
    let (status, headers, body) = https.exchange(page(None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        headers[http::header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert!(
        String::from_utf8_lossy(&body).contains("<html"),
        "the console still loads, to sign in"
    );
    let (status, _, _) = https
        .exchange(page(Some("fulcrum_session=fct_not_a_token")))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an unknown token is no session"
    );

    let sign_in = |token: &str| {
        https.request(
            Method::POST,
            "/console/session",
            Some(&json!({"token": token})),
        )
    };
    let (status, _, body) = https.exchange(sign_in("fct_not_a_token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body:?}");
    let (status, _, body) = https
        .exchange(https.request(
            Method::POST,
            "/console/session",
            Some(&json!({"secret": operator})),
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
    assert!(
        String::from_utf8_lossy(&body).contains("body: "),
        "{body:?}"
    );

    let (status, headers, body) = https.exchange(sign_in(viewer)).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let who: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (who["principal"].as_str(), who["role"].as_str()),
        (Some("vera"), Some("viewer"))
    );
    let set_cookie = headers[http::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set_cookie.contains(part), "{set_cookie} lacks {part}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let (status, _, _) = https.exchange(page(Some(&cookie))).await;
    assert_eq!(status, StatusCode::OK, "signed in, the page loads");

    // The cookie stands for the token only with the console's header.
    let with_cookie = |method: Method, path: &str, body: Option<&Value>, from_console: bool| {
        let mut request = https.request(method, path, body);
        request
            .headers_mut()
            .insert(http::header::COOKIE, cookie.parse().unwrap());
        if from_console {
            request
                .headers_mut()
                .insert("x-fulcrum-console", "1".parse().unwrap());
        }
        request
    };
    let (status, _, _) = https
        .exchange(with_cookie(Method::GET, "/v1/networks", None, false))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a cookie alone is no credential"
    );
    let (status, _, body) = https
        .exchange(with_cookie(Method::GET, "/v1/networks", None, true))
        .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let network = json!({"name": "from-the-console", "cidr": "10.2.0.0/16"});
    let (status, _, body) = https
        .exchange(with_cookie(
            Method::POST,
            "/v1/networks",
            Some(&network),
            true,
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the viewer's session is read-only: {body:?}"
    );
    let (status, _, body) = https
        .exchange(with_cookie(Method::GET, "/console/session", None, true))
        .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");

    let (status, headers, _) = https
        .exchange(https.request(Method::DELETE, "/console/session", None))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        headers[http::header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}
