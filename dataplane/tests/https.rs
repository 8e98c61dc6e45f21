//! HTTPS listeners: TLS terminated with certificates made here, SNI
//! choosing between them, bad handshakes counted.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulcrum_dataplane::ErrorKind;
use fulcrum_dataplane::config::{Algorithm, Certificate, Protocol};
use rustls::pki_types::{CertificateDer, ServerName};
use support::*;

struct Issued {
    certificate: Certificate,
    der: CertificateDer<'static>,
}

fn issue(id: &str, name: &str) -> Issued {
    let issued = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    Issued {
        certificate: Certificate {
            id: id.to_owned(),
            chain_pem: issued.cert.pem(),
            private_key_pem: issued.signing_key.serialize_pem(),
        },
        der: issued.cert.der().clone(),
    }
}

/// A TLS client's configuration that trusts `roots`.
fn client_config(roots: &[&Issued]) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.der.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS connection (not yet handshaken) that trusts `roots` and sends SNI `name`.
fn connect(
    address: SocketAddr,
    name: &str,
    roots: &[&Issued],
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    connect_with(address, name, client_config(roots))
}

/// The same with the client configuration `client` (whose session store
/// connections made with it share).
fn connect_with(
    address: SocketAddr,
    name: &str,
    client: Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let connection =
        rustls::ClientConnection::new(client, ServerName::try_from(name.to_owned()).unwrap())
            .unwrap();
    let socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    rustls::StreamOwned::new(connection, socket)
}

/// Sends `GET /` on `tls` and reads the response.
fn get(tls: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>, name: &str) -> Response {
    tls.write_all(format!("GET / HTTP/1.1\r\nHost: {name}\r\n\r\n").as_bytes())
        .unwrap();
    let (head, body) = read_message(&mut BufReader::new(tls)).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Response {
        status,
        head,
        body: String::from_utf8(body).unwrap(),
    }
}

/// A TLS client that trusts `roots`, connecting with SNI `name`; returns
/// the certificate the server presented, the negotiated ALPN protocol and
/// the response to `GET /`.
fn fetch(
    address: SocketAddr,
    name: &str,
    roots: &[&Issued],
) -> (CertificateDer<'static>, Option<Vec<u8>>, Response) {
    let mut tls = connect(address, name, roots);
    let response = get(&mut tls, name);
    let presented = tls.conn.peer_certificates().unwrap()[0].clone();
    let alpn = tls.conn.alpn_protocol().map(<[u8]>::to_vec);
    (presented, alpn, response)
}

/// Whether the peer closed `read`'s stream (end of stream or reset) rather
/// than sending something or leaving it open until the read timeout.
fn closed(read: std::io::Result<usize>) -> bool {
    match read {
        Ok(n) => n == 0,
        Err(error) => !matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// Certificates for `alpha.test` and `beta.test`, and an HTTPS listener
/// serving both (alpha first) in front of `backend`.
fn alpha_and_beta(backend: &Backend) -> (Issued, Issued, fulcrum_dataplane::config::Listener) {
    let (alpha, beta) = (
        issue("cert-alpha", "alpha.test"),
        issue("cert-beta", "beta.test"),
    );
    let mut listener = listener(
        Protocol::Https,
        Algorithm::WeightedRoundRobin,
        vec![member(backend, 1)],
    );
    listener.certificates = vec![alpha.certificate.clone(), beta.certificate.clone()];
    (alpha, beta, listener)
}

#[test]
fn sni_chooses_the_certificate_and_requests_reach_the_members() {
    let backend = Backend::start("a", Kind::Http);
    let (alpha, beta, listener) = alpha_and_beta(&backend);
    let address = listener.address;
    let forwarder = start(config(1, vec![listener]));
    assert!(forwarder.listener_errors().is_empty());

    let (presented, alpn, response) = fetch(address, "alpha.test", &[&alpha, &beta]);
    assert_eq!(presented, alpha.der);
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!((response.status, response.body.as_str()), (200, "a"));
    let (presented, _, response) = fetch(address, "beta.test", &[&alpha, &beta]);
    assert_eq!(presented, beta.der);
    assert_eq!(response.status, 200);
    let head = backend.seen.last_head.lock().unwrap().clone();
    assert!(head.contains("X-Forwarded-Proto: https\r\n"), "{head}");

    // Not TLS at all: the handshake fails, is counted, and the listener goes on.
    let mut plain = TcpStream::connect(address).unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(eventually(Duration::from_secs(5), || {
        forwarder.counters().listeners["lsn-1"].errors_of(ErrorKind::TlsHandshake) == 1
    }));
    assert_eq!(fetch(address, "alpha.test", &[&alpha]).2.status, 200);
}

#[test]
fn an_unusable_certificate_is_reported_for_its_listener() {
    let backend = Backend::start("a", Kind::Http);
    let mut broken = issue("cert-broken", "broken.test").certificate;
    broken.private_key_pem =
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned();
    let mut listener = listener(
        Protocol::Https,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    listener.certificates = vec![broken];
    let forwarder = start(config(1, vec![listener]));
    let errors = forwarder.listener_errors();
    assert!(
        errors["lsn-1"].starts_with("certificate cert-broken: "),
        "{errors:?}"
    );
}

#[test]
fn over_the_connection_limit_https_closes_before_the_handshake() {
    let backend = Backend::start("a", Kind::Http);
    let issued = issue("cert-alpha", "alpha.test");
    let mut listener = listener(
        Protocol::Https,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    listener.certificates = vec![issued.certificate.clone()];
    listener.connection_limit = Some(1);
    let address = listener.address;
    let forwarder = start(config(1, vec![listener]));

    let mut held = connect(address, "alpha.test", &[&issued]);
    assert_eq!(get(&mut held, "alpha.test").status, 200);
    // A second client sends its ClientHello; not a byte of a ServerHello
    // comes back, only the close.
    let mut hello = Vec::new();
    rustls::ClientConnection::new(
        client_config(&[&issued]),
        ServerName::try_from("alpha.test").unwrap(),
    )
    .unwrap()
    .write_tls(&mut hello)
    .unwrap();
    let mut refused = TcpStream::connect(address).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = refused.write_all(&hello);
    let mut buffer = [0u8; 1024];
    let read = refused.read(&mut buffer);
    let shown = format!("{read:?}");
    assert!(closed(read), "{shown}");
    assert!(eventually(Duration::from_secs(5), || {
        forwarder.counters().listeners["lsn-1"].errors_of(ErrorKind::ConnectionLimit) == 1
    }));
    let stats = &forwarder.counters().listeners["lsn-1"];
    assert_eq!(
        stats.errors_of(ErrorKind::TlsHandshake),
        0,
        "no handshake began"
    );
    assert_eq!(stats.responses[4], 0, "and no 503 was sent");

    drop(held);
    assert!(eventually(Duration::from_secs(5), || forwarder
        .counters()
        .listeners["lsn-1"]
        .active_connections
        == 0));
    assert_eq!(fetch(address, "alpha.test", &[&issued]).2.status, 200);
}

#[test]
fn the_handshake_and_first_head_share_the_header_timeout() {
    let backend = Backend::start("a", Kind::Http);
    let issued = issue("cert-alpha", "alpha.test");
    let mut listener = listener(
        Protocol::Https,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    listener.certificates = vec![issued.certificate.clone()];
    assert_eq!(listener.idle_timeout, Duration::from_secs(30));
    let address = listener.address;
    let mut config = config(1, vec![listener]);
    config.http.header_timeout = Duration::from_millis(300);
    let forwarder = start(config);

    // No handshake at all.
    let mut silent = TcpStream::connect(address).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 64];
    assert!(closed(silent.read(&mut buffer)));
    assert!(started.elapsed() < Duration::from_secs(5));

    // A handshake, then no request.
    let mut tls = connect(address, "alpha.test", &[&issued]);
    let started = Instant::now();
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    assert!(closed(tls.read(&mut buffer)), "closed without a request");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(eventually(Duration::from_secs(2), || {
        let stats = &forwarder.counters().listeners["lsn-1"];
        stats.errors_of(ErrorKind::TlsHandshake) == 1
            && stats.errors_of(ErrorKind::HeaderTimeout) == 1
    }));
    assert_eq!(fetch(address, "alpha.test", &[&issued]).2.status, 200);
}

#[test]
fn access_log_lines_carry_the_tls_version_and_sni() {
    let dir = TempDir::new("fulcrum-access-tls");
    let path = dir.0.join("access.log");
    let backend = Backend::start("a", Kind::Http);
    let (alpha, beta, mut listener) = alpha_and_beta(&backend);
    listener.access_log = true;
    let address = listener.address;
    let forwarder = start_with(logging_to(&path, 64), config(1, vec![listener]));

    assert_eq!(fetch(address, "alpha.test", &[&alpha]).2.status, 200);
    // A client that offers TLS 1.2 only.
    let mut store = rustls::RootCertStore::empty();
    store.add(beta.der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls12 = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let connection =
        rustls::ClientConnection::new(Arc::new(tls12), ServerName::try_from("beta.test").unwrap())
            .unwrap();
    let socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    assert_eq!(get(&mut tls, "beta.test").status, 200);
    drop(tls);
    forwarder.shutdown(Duration::from_secs(1));

    let lines = access_log_lines(&path);
    // Each worker thread has its queue: lines of two threads come in either order.
    let mut summary: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|line| {
            (
                line["protocol"].as_str().unwrap(),
                line["tls_version"].as_str().unwrap(),
                line["sni"].as_str().unwrap(),
            )
        })
        .collect();
    summary.sort_unstable();
    assert_eq!(
        summary,
        [
            ("https", "TLSv1.2", "beta.test"),
            ("https", "TLSv1.3", "alpha.test")
        ]
    );
    assert_eq!(forwarder.counters().listeners["lsn-1"].tls_handshakes, 2);
}

#[test]
fn a_client_resumes_its_session_on_a_second_connection() {
    let backend = Backend::start("a", Kind::Http);
    let (alpha, _beta, listener) = alpha_and_beta(&backend);
    let address = listener.address;
    let _forwarder = start(config(1, vec![listener]));
    // One client configuration, so one session store, for both connections.
    let client = client_config(&[&alpha]);
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let mut tls = connect_with(address, "alpha.test", Arc::clone(&client));
        // The response's read also takes in the tickets sent after the handshake.
        assert_eq!(get(&mut tls, "alpha.test").status, 200);
        kinds.push(tls.conn.handshake_kind());
    }
    assert_eq!(
        kinds,
        [
            Some(rustls::HandshakeKind::Full),
            Some(rustls::HandshakeKind::Resumed)
        ]
    );
}
