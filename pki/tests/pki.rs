//! The cluster's certificates end to end: a CA issues node and client
//! certificates, webpki verifies them as the TLS stack will, `identity_of` and
//! `describe` read them back, and `write_private` stores them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use fulcrum_pki::{
    Authority, CaOptions, ClientOptions, Identity, NodeOptions, Pem, PkiError, Role, create_ca,
    describe, identity_of, write_private,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::prelude::{FromDer as _, X509Certificate};

const NODE_HOSTS: [&str; 3] = ["10.0.0.1", "node-1.fulcrum.internal", "fd00::1"];

fn ca(name: &str) -> (Pem, Authority) {
    let pem = create_ca(&CaOptions {
        name: Some(name.to_owned()),
        validity_days: None,
    })
    .unwrap();
    let authority = Authority::from_pem(&pem.certificate, &pem.private_key).unwrap();
    (pem, authority)
}

fn node(authority: &Authority) -> Pem {
    authority
        .issue_node(&NodeOptions {
            name: "node-1".to_owned(),
            hosts: NODE_HOSTS.map(str::to_owned).to_vec(),
            validity_days: None,
        })
        .unwrap()
}

fn client(authority: &Authority, principal: &str, role: Role) -> Pem {
    authority
        .issue_client(&ClientOptions {
            principal: principal.to_owned(),
            role,
            validity_days: None,
        })
        .unwrap()
}

fn der(pem: &Pem) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.certificate.as_bytes()).unwrap()
}

/// The error's field, for `Invalid`; the whole message otherwise.
fn field_of(result: Result<Pem, PkiError>) -> String {
    match result {
        Ok(_) => "issued".to_owned(),
        Err(PkiError::Invalid { field, .. }) => field,
        Err(error) => error.to_string(),
    }
}

#[test]
fn identities_read_back() {
    let (_, authority) = ca("test");
    assert_eq!(
        identity_of(&der(&node(&authority))).unwrap(),
        Identity {
            principal: "node-1".to_owned(),
            role: Role::Node
        }
    );
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        let pem = client(&authority, "ops@example.com", role);
        assert_eq!(
            identity_of(&der(&pem)).unwrap(),
            Identity {
                principal: "ops@example.com".to_owned(),
                role
            }
        );
    }
}

#[test]
fn identity_of_refuses_certificates_without_the_encoding() {
    let (ca_pem, _) = ca("test");
    // The CA: its CN has spaces and it has no OU.
    let message = identity_of(&der(&ca_pem)).unwrap_err().to_string();
    assert!(message.contains("organizational unit (OU)"), "{message}");
    // A certificate from elsewhere: no OU either.
    let foreign = rcgen::generate_simple_self_signed(vec!["example.com".to_owned()]).unwrap();
    let message = identity_of(foreign.cert.der()).unwrap_err().to_string();
    assert_eq!(
        message,
        "certificate: the subject must have exactly one organizational unit (OU), the role"
    );
    // Trailing bytes.
    let mut padded = der(&node(&ca("test").1)).to_vec();
    padded.push(0);
    let message = identity_of(&padded).unwrap_err().to_string();
    assert_eq!(message, "certificate: 1 bytes follow the certificate");
}

#[test]
fn node_certificate_contents() {
    let (ca_pem, authority) = ca("test");
    let pem = node(&authority);
    let [description] = describe(&pem.certificate).unwrap().try_into().unwrap();
    assert_eq!(description.subject, "CN=node-1, OU=node");
    assert_eq!(description.issuer, "CN=Fulcrum cluster CA test");
    assert_eq!(description.principal.as_deref(), Some("node-1"));
    assert_eq!(description.role, Some(Role::Node));
    assert!(!description.is_ca);
    assert_eq!(description.subject_alt_names, NODE_HOSTS);
    assert_eq!(description.key_usages, ["digital_signature"]);
    assert_eq!(
        description.extended_key_usages,
        ["server_auth", "client_auth"]
    );
    assert_eq!(description.serial.len(), 32, "{}", description.serial);
    assert_eq!(description.sha256_fingerprint.len(), 64);
    assert!(
        description
            .sha256_fingerprint
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    );

    // A year from an hour ago, and random serials.
    let node_der = der(&pem);
    let (_, certificate) = X509Certificate::from_der(&node_der).unwrap();
    let validity = certificate.validity();
    let seconds = validity.not_after.timestamp() - validity.not_before.timestamp();
    assert_eq!(seconds, (365 * 24 + 1) * 3600);
    assert_ne!(node(&authority).certificate, pem.certificate);
    let other = describe(&node(&authority).certificate).unwrap();
    assert_ne!(other[0].serial, description.serial);

    // The CA.
    let [ca_description] = describe(&ca_pem.certificate).unwrap().try_into().unwrap();
    assert!(ca_description.is_ca);
    assert_eq!(ca_description.subject, ca_description.issuer);
    assert_eq!(
        ca_description.principal.as_deref(),
        Some("Fulcrum cluster CA test")
    );
    assert_eq!(ca_description.role, None);
    assert_eq!(
        ca_description.key_usages,
        ["digital_signature", "key_cert_sign", "crl_sign"]
    );
    let ca_der = der(&ca_pem);
    let (_, ca_certificate) = X509Certificate::from_der(&ca_der).unwrap();
    let constraints = ca_certificate.basic_constraints().unwrap().unwrap().value;
    assert!(constraints.ca);
    assert_eq!(constraints.path_len_constraint, Some(0));
    let validity = ca_certificate.validity();
    let seconds = validity.not_after.timestamp() - validity.not_before.timestamp();
    assert_eq!(seconds, (3650 * 24 + 1) * 3600);
}

#[test]
fn client_certificate_contents() {
    let (_, authority) = ca("test");
    let pem = client(&authority, "alice", Role::Admin);
    let [description] = describe(&pem.certificate).unwrap().try_into().unwrap();
    assert_eq!(description.subject, "CN=alice, OU=admin");
    assert!(description.subject_alt_names.is_empty());
    assert_eq!(description.extended_key_usages, ["client_auth"]);
    assert!(pem.private_key.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!format!("{pem:?}").contains("PRIVATE KEY"));
}

/// Verifies `leaf` against `ca` for `usage` the way rustls will.
fn verify(ca: &Pem, leaf: &Pem, usage: KeyUsage) -> Result<(), webpki::Error> {
    let ca_der = der(ca);
    let anchors = [webpki::anchor_from_trusted_cert(&ca_der)?.to_owned()];
    let leaf_der = der(leaf);
    let leaf = EndEntityCert::try_from(&leaf_der)?;
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &[],
        UnixTime::now(),
        usage,
        None,
        None,
    )
    .map(|_| ())
}

fn valid_for(leaf: &Pem, name: &str) -> Result<(), webpki::Error> {
    let leaf_der = der(leaf);
    let leaf = EndEntityCert::try_from(&leaf_der)?;
    leaf.verify_is_valid_for_subject_name(&ServerName::try_from(name).unwrap())
}

#[test]
fn chains_verify_as_tls_will() {
    let (ca_pem, authority) = ca("test");
    let (other_ca_pem, other_authority) = ca("other");
    let node_pem = node(&authority);
    let client_pem = client(&authority, "alice", Role::Operator);

    verify(&ca_pem, &node_pem, KeyUsage::server_auth()).unwrap();
    verify(&ca_pem, &node_pem, KeyUsage::client_auth()).unwrap();
    for host in NODE_HOSTS {
        valid_for(&node_pem, host).unwrap();
    }
    assert!(valid_for(&node_pem, "node-2.fulcrum.internal").is_err());
    assert!(valid_for(&node_pem, "10.0.0.2").is_err());
    // The CN is not a name the node answers to: only SANs are.
    assert!(valid_for(&node_pem, "node-1").is_err());

    verify(&ca_pem, &client_pem, KeyUsage::client_auth()).unwrap();
    assert!(
        verify(&ca_pem, &client_pem, KeyUsage::server_auth()).is_err(),
        "a client certificate must not serve"
    );

    // Another cluster's CA trusts none of it, and this CA none of its.
    assert_eq!(
        verify(&other_ca_pem, &node_pem, KeyUsage::server_auth()),
        Err(webpki::Error::UnknownIssuer)
    );
    assert_eq!(
        verify(&other_ca_pem, &client_pem, KeyUsage::client_auth()),
        Err(webpki::Error::UnknownIssuer)
    );
    let foreign_node = node(&other_authority);
    assert_eq!(
        verify(&ca_pem, &foreign_node, KeyUsage::server_auth()),
        Err(webpki::Error::UnknownIssuer)
    );
}

#[test]
fn errors_name_the_field() {
    let (_, authority) = ca("test");
    let client_with = |principal: &str, role| {
        field_of(authority.issue_client(&ClientOptions {
            principal: principal.to_owned(),
            role,
            validity_days: None,
        }))
    };
    assert_eq!(client_with("a b", Role::Viewer), "principal");
    assert_eq!(client_with("", Role::Viewer), "principal");
    assert_eq!(client_with("alice", Role::Node), "role");
    assert_eq!(client_with("alice", Role::Viewer), "issued");
    let message = authority
        .issue_client(&ClientOptions {
            principal: "alice".to_owned(),
            role: Role::Node,
            validity_days: None,
        })
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "role: \"node\" is for node certificates; a client certificate takes viewer, operator or admin"
    );
    let message = "root".parse::<Role>().unwrap_err().to_string();
    assert_eq!(
        message,
        "role: \"root\" must be one of viewer, operator, admin, node"
    );

    let node_with = |name: &str, hosts: &[&str], validity_days| {
        field_of(authority.issue_node(&NodeOptions {
            name: name.to_owned(),
            hosts: hosts.iter().map(|host| (*host).to_owned()).collect(),
            validity_days,
        }))
    };
    assert_eq!(node_with("node 1", &["10.0.0.1"], None), "name");
    assert_eq!(node_with("node-1", &[], None), "hosts");
    assert_eq!(
        node_with("node-1", &["10.0.0.1", "bad host"], None),
        "hosts[1]"
    );
    assert_eq!(
        node_with("node-1", &["10.0.0.1", "10.0.0"], None),
        "hosts[1]"
    );
    assert_eq!(node_with("node-1", &["10.0.0.1"], Some(0)), "validity_days");
    assert_eq!(
        node_with("node-1", &["10.0.0.1"], Some(3651)),
        "validity_days"
    );
    // The longest validity would end moments after the ten-year CA's.
    assert_eq!(
        node_with("node-1", &["10.0.0.1"], Some(3650)),
        "validity_days"
    );
    assert_eq!(node_with("node-1", &["10.0.0.1"], Some(3649)), "issued");

    let ca_with = |name: Option<&str>, validity_days| {
        field_of(create_ca(&CaOptions {
            name: name.map(str::to_owned),
            validity_days,
        }))
    };
    assert_eq!(ca_with(Some("a b"), None), "name");
    assert_eq!(ca_with(Some(&"a".repeat(46)), None), "name");
    assert_eq!(ca_with(Some(&"a".repeat(45)), None), "issued");
    assert_eq!(ca_with(None, Some(0)), "validity_days");
    assert_eq!(ca_with(None, Some(36501)), "validity_days");
}

#[test]
fn certificates_do_not_outlive_their_ca() {
    let pem = create_ca(&CaOptions {
        name: None,
        validity_days: Some(10),
    })
    .unwrap();
    let authority = Authority::from_pem(&pem.certificate, &pem.private_key).unwrap();
    let issue = |validity_days| {
        authority.issue_client(&ClientOptions {
            principal: "alice".to_owned(),
            role: Role::Viewer,
            validity_days,
        })
    };
    let message = issue(None).unwrap_err().to_string();
    assert!(
        message.starts_with("validity_days: 365 would outlive the CA, which expires "),
        "{message}"
    );
    issue(Some(9)).unwrap();
    let [description] = describe(&pem.certificate).unwrap().try_into().unwrap();
    assert_eq!(description.subject, "CN=Fulcrum cluster CA");
}

#[test]
fn authority_refuses_what_cannot_issue() {
    let (ca_pem, authority) = ca("test");
    let (other_pem, _) = ca("other");
    let node_pem = node(&authority);
    let message = |certificate: &str, key: &str| {
        Authority::from_pem(certificate, key)
            .map_or_else(|error| error.to_string(), |_| "loaded".to_owned())
    };
    assert_eq!(
        message(&node_pem.certificate, &node_pem.private_key),
        "ca: the certificate is not a CA (its basic constraints lack CA:TRUE)"
    );
    assert_eq!(
        message(&ca_pem.certificate, &other_pem.private_key),
        "ca: the private key is not the certificate's"
    );
    assert!(
        message(&ca_pem.certificate, "not a key").starts_with("ca private key: "),
        "{}",
        message(&ca_pem.certificate, "not a key")
    );
    assert_eq!(
        message("", &ca_pem.private_key),
        "ca certificate: no CERTIFICATE section"
    );
    let bundle = format!("{}{}", ca_pem.certificate, other_pem.certificate);
    assert_eq!(
        message(&bundle, &ca_pem.private_key),
        "ca certificate: more than one CERTIFICATE section; give the CA's alone"
    );
    assert_eq!(message(&ca_pem.certificate, &ca_pem.private_key), "loaded");
}

#[test]
fn describe_reads_every_certificate_of_a_bundle() {
    let (ca_pem, authority) = ca("test");
    let node_pem = node(&authority);
    let bundle = format!("{}{}", node_pem.certificate, ca_pem.certificate);
    let descriptions = describe(&bundle).unwrap();
    assert_eq!(descriptions.len(), 2);
    assert_eq!(descriptions[0].principal.as_deref(), Some("node-1"));
    assert!(descriptions[1].is_ca);
    assert_ne!(
        descriptions[0].sha256_fingerprint,
        descriptions[1].sha256_fingerprint
    );

    let text = descriptions[0].to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "{text}");
    assert!(lines.iter().all(|line| line.contains(": ")), "{text}");
    assert!(lines.contains(&"principal: node-1"), "{text}");
    assert!(lines.contains(&"role: node"), "{text}");
    assert!(
        lines.contains(&"subject_alt_names: 10.0.0.1, node-1.fulcrum.internal, fd00::1"),
        "{text}"
    );
    assert!(
        lines.contains(&"extended_key_usages: server_auth, client_auth"),
        "{text}"
    );
    let not_after = lines
        .iter()
        .find_map(|line| line.strip_prefix("not_after: "))
        .unwrap();
    assert_eq!(not_after.len(), "2026-01-31T12:00:05Z".len(), "{not_after}");
    assert!(not_after.ends_with('Z') && not_after.as_bytes()[10] == b'T');
    assert!(descriptions[1].to_string().contains("role: -\n"));
}

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn private_files_are_0600_and_kept_unless_overwritten() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("node.key");

    write_private(&path, "first", false).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "first");
    assert_eq!(mode(&path), 0o600);

    let error = write_private(&path, "second", false).unwrap_err();
    assert!(
        matches!(&error, PkiError::Exists { path: named } if *named == path),
        "{error:?}"
    );
    assert!(error.to_string().contains("node.key"), "{error}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "first");

    // Overwriting replaces the contents, and narrows a wider mode.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    write_private(&path, "second", true).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "second");
    assert_eq!(mode(&path), 0o600);
    let names: Vec<_> = fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["node.key"], "no temporary file is left behind");

    // Overwriting a file that does not exist creates it.
    let fresh = directory.path().join("ca.crt");
    write_private(&fresh, "third", true).unwrap();
    assert_eq!(fs::read_to_string(&fresh).unwrap(), "third");
    assert_eq!(mode(&fresh), 0o600);

    // Errors name the path.
    let missing = directory.path().join("missing").join("client.key");
    for overwrite in [false, true] {
        let message = write_private(&missing, "x", overwrite)
            .unwrap_err()
            .to_string();
        assert!(message.contains("missing"), "{message}");
        assert!(message.starts_with("creating "), "{message}");
    }
}
