//! HTTPS listeners: TLS terminated with certificates made here, SNI
//! choosing between them, bad handshakes counted.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

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

/// A TLS client that trusts `roots`, connecting with SNI `name`; returns
/// the certificate the server presented, the negotiated ALPN protocol and
/// the response to `GET /`.
fn fetch(
    address: SocketAddr,
    name: &str,
    roots: &[&Issued],
) -> (CertificateDer<'static>, Option<Vec<u8>>, Response) {
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
    let connection = rustls::ClientConnection::new(
        Arc::new(config),
        ServerName::try_from(name.to_owned()).unwrap(),
    )
    .unwrap();
    let socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(format!("GET / HTTP/1.1\r\nHost: {name}\r\n\r\n").as_bytes())
        .unwrap();
    let presented = tls.conn.peer_certificates().unwrap()[0].clone();
    let alpn = tls.conn.alpn_protocol().map(<[u8]>::to_vec);
    let (head, body) = read_message(&mut BufReader::new(&mut tls)).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let response = Response {
        status,
        head,
        body: String::from_utf8(body).unwrap(),
    };
    (presented, alpn, response)
}

#[test]
fn sni_chooses_the_certificate_and_requests_reach_the_members() {
    let backend = Backend::start("a", Kind::Http);
    let (alpha, beta) = (
        issue("cert-alpha", "alpha.test"),
        issue("cert-beta", "beta.test"),
    );
    let mut listener = listener(
        Protocol::Https,
        Algorithm::WeightedRoundRobin,
        vec![member(&backend, 1)],
    );
    listener.certificates = vec![alpha.certificate.clone(), beta.certificate.clone()];
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
