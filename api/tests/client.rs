//! The client against a recording gRPC server on loopback: the bearer token
//! arrives on every service client's requests, and TLS connects with the
//! right CA (presenting the client's certificate) and fails with another.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use fulcrum_api::{Client, ConnectError, Credentials, v1};
use fulcrum_pki::{Authority, CaOptions, ClientOptions, NodeOptions, Pem, Role};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;
use tonic::transport::server::{TcpConnectInfo, TcpIncoming, TlsConnectInfo};
use tonic::transport::{Identity, Server, ServerTlsConfig};

const TIMEOUT: Duration = Duration::from_secs(5);

/// What the server saw of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Seen {
    path: String,
    authorization: Option<String>,
    /// The principal of the client's certificate, over TLS.
    client_principal: Option<String>,
}

/// Answers every call of the services below with UNIMPLEMENTED, after
/// writing down what it saw.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Service<http::Request<Body>> for Recorder {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let authorization = request
            .headers()
            .get("authorization")
            .map(|value| value.to_str().unwrap().to_owned());
        let client_principal = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs)
            .and_then(|certificates| certificates.first().cloned())
            .map(|certificate| fulcrum_pki::identity_of(&certificate).unwrap().principal);
        self.seen.lock().unwrap().push(Seen {
            path: request.uri().path().to_owned(),
            authorization,
            client_principal,
        });
        Box::pin(async { Ok(tonic::Status::unimplemented("recorded").into_http()) })
    }
}

/// The same recorder, registered under two service names.
#[derive(Clone)]
struct Named<const CLUSTER: bool>(Recorder);

impl<const CLUSTER: bool> NamedService for Named<CLUSTER> {
    const NAME: &'static str = if CLUSTER {
        "fulcrum.v1.ClusterService"
    } else {
        "fulcrum.v1.EventService"
    };
}

impl<const CLUSTER: bool> Service<http::Request<Body>> for Named<CLUSTER> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.0.call(request)
    }
}

/// Serves the recorder on 127.0.0.1 (a port the OS picks), with TLS when
/// given; the task ends with the test's runtime.
async fn serve(tls: Option<ServerTlsConfig>) -> (SocketAddr, Recorder) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let recorder = Recorder::default();
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).unwrap();
    }
    let router = builder
        .add_service(Named::<true>(recorder.clone()))
        .add_service(Named::<false>(recorder.clone()));
    tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));
    (address, recorder)
}

/// One call on the cluster service: the server's UNIMPLEMENTED means the
/// request got through.
async fn status(client: &Client) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(v1::GetClusterStatusRequest::default());
    request.set_timeout(TIMEOUT);
    match client.cluster().get_cluster_status(request).await {
        Err(status) if status.code() == tonic::Code::Unimplemented => Ok(()),
        Err(status) => Err(status),
        Ok(_) => panic!("the recorder answers nothing"),
    }
}

#[tokio::test]
async fn the_token_arrives_on_every_service_client() {
    let (address, recorder) = serve(None).await;
    let credentials = Credentials {
        token: Some("s3cret.token".to_owned()),
        ..Credentials::default()
    };
    let client = Client::connect_with(&address.to_string(), TIMEOUT, &credentials)
        .await
        .unwrap();
    status(&client).await.unwrap();
    let mut request = tonic::Request::new(v1::ListEventsRequest::default());
    request.set_timeout(TIMEOUT);
    let refused = client.events().list_events(request).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unimplemented);

    // Without credentials, no header.
    let plain = Client::connect(&address.to_string(), TIMEOUT)
        .await
        .unwrap();
    status(&plain).await.unwrap();

    let seen = recorder.seen.lock().unwrap().clone();
    let bearer = Some("Bearer s3cret.token".to_owned());
    assert_eq!(
        seen,
        vec![
            Seen {
                path: "/fulcrum.v1.ClusterService/GetClusterStatus".to_owned(),
                authorization: bearer.clone(),
                client_principal: None,
            },
            Seen {
                path: "/fulcrum.v1.EventService/ListEvents".to_owned(),
                authorization: bearer,
                client_principal: None,
            },
            Seen {
                path: "/fulcrum.v1.ClusterService/GetClusterStatus".to_owned(),
                authorization: None,
                client_principal: None,
            },
        ]
    );
}

#[tokio::test]
async fn a_token_is_not_sent_in_the_clear_beyond_loopback() {
    let credentials = Credentials {
        token: Some("t".to_owned()),
        ..Credentials::default()
    };
    // TEST-NET-1: refused before any packet is sent.
    let error = Client::connect_with("192.0.2.1:7400", TIMEOUT, &credentials)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Invalid { .. }), "{error:?}");
    assert!(error.to_string().contains("--ca"), "{error}");
}

struct Pki {
    ca: Pem,
    node: Pem,
    client: Pem,
    other_ca: Pem,
}

fn pki() -> Pki {
    let ca = fulcrum_pki::create_ca(&CaOptions::default()).unwrap();
    let authority = Authority::from_pem(&ca.certificate, &ca.private_key).unwrap();
    let node = authority
        .issue_node(&NodeOptions {
            name: "node-1".to_owned(),
            hosts: vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            validity_days: None,
        })
        .unwrap();
    let client = authority
        .issue_client(&ClientOptions {
            principal: "alice".to_owned(),
            role: Role::Admin,
            validity_days: None,
        })
        .unwrap();
    let other_ca = fulcrum_pki::create_ca(&CaOptions {
        name: Some("other".to_owned()),
        validity_days: None,
    })
    .unwrap();
    Pki {
        ca,
        node,
        client,
        other_ca,
    }
}

fn server_tls(pki: &Pki) -> ServerTlsConfig {
    ServerTlsConfig::new()
        .identity(Identity::from_pem(
            &pki.node.certificate,
            &pki.node.private_key,
        ))
        .client_ca_root(tonic::transport::Certificate::from_pem(&pki.ca.certificate))
}

#[tokio::test]
async fn tls_verifies_the_node_and_presents_the_client() {
    let pki = pki();
    let (address, recorder) = serve(Some(server_tls(&pki))).await;
    let credentials = Credentials {
        ca_pem: Some(pki.ca.certificate.clone()),
        identity: Some((
            pki.client.certificate.clone(),
            pki.client.private_key.clone(),
        )),
        token: Some("over-tls".to_owned()),
    };
    // By IP address (an IP SAN) and by DNS name, with and without a scheme.
    let port = address.port();
    for endpoint in [
        format!("127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
    ] {
        let client = Client::connect_with(&endpoint, TIMEOUT, &credentials)
            .await
            .unwrap_or_else(|error| panic!("{endpoint}: {error:?}"));
        status(&client).await.unwrap();
    }
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for seen in seen {
        assert_eq!(seen.client_principal.as_deref(), Some("alice"));
        assert_eq!(seen.authorization.as_deref(), Some("Bearer over-tls"));
    }
}

#[tokio::test]
async fn tls_with_another_ca_fails() {
    let pki = pki();
    let (address, recorder) = serve(Some(server_tls(&pki))).await;
    let credentials = Credentials {
        ca_pem: Some(pki.other_ca.certificate.clone()),
        identity: Some((
            pki.client.certificate.clone(),
            pki.client.private_key.clone(),
        )),
        token: None,
    };
    let error = Client::connect_with(&address.to_string(), TIMEOUT, &credentials)
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Transport { .. }), "{error:?}");
    let chain = chain(&error);
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    assert!(recorder.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_server_that_wants_a_client_certificate_refuses_one_without() {
    let pki = pki();
    let (address, recorder) = serve(Some(server_tls(&pki))).await;
    let credentials = Credentials {
        ca_pem: Some(pki.ca.certificate.clone()),
        ..Credentials::default()
    };
    // TLS 1.3: the client may finish its side of the handshake before the
    // server refuses, so the refusal shows at connect or on the first call.
    if let Ok(client) = Client::connect_with(&address.to_string(), TIMEOUT, &credentials).await {
        let refused = status(&client).await.unwrap_err();
        assert_ne!(refused.code(), tonic::Code::Unimplemented, "{refused:?}");
    }
    assert!(recorder.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn plaintext_refuses_tls_only_credentials() {
    let pki = pki();
    let cases = [
        (
            "https://127.0.0.1:1",
            Credentials::default(),
            "an https:// address needs the CA",
        ),
        (
            "127.0.0.1:1",
            Credentials {
                identity: Some((pki.client.certificate, pki.client.private_key)),
                ..Credentials::default()
            },
            "a client certificate needs TLS",
        ),
        (
            "http://127.0.0.1:1",
            Credentials {
                ca_pem: Some(pki.ca.certificate),
                ..Credentials::default()
            },
            "http:// is plaintext",
        ),
    ];
    for (address, credentials, expected) in cases {
        let error = Client::connect_with(address, TIMEOUT, &credentials)
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectError::Invalid { .. }), "{error:?}");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

/// The error and its sources, one after another.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
