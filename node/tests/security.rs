//! A cluster deployed as the README says: TLS on the API port, mutual TLS
//! with node certificates on the peer port, callers authenticated and held
//! to their roles, certificates rotated on disk without a failed request.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::{Client, v1};
use fulcrum_pki::{Authority, CaOptions, ClientOptions, NodeOptions, Pem, Role};
use tokio::time::Instant;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use support::pki::{Pki, RELOAD_INTERVAL, secure_cluster};
use support::{Member, PATIENCE, leader};

/// A TLS channel to `address` trusting `ca`, presenting `identity` if given.
async fn channel(
    address: &str,
    ca: &str,
    identity: Option<&Pem>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some(pem) = identity {
        tls = tls.identity(Identity::from_pem(&pem.certificate, &pem.private_key));
    }
    Endpoint::from_shared(format!("https://{address}"))?
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
}

async fn client_as(member: &Member, pki: &Pki, identity: Option<&Pem>) -> Client {
    Client::from_channel(
        channel(&member.api(), &pki.ca.certificate, identity)
            .await
            .unwrap(),
    )
}

async fn create_network(client: &Client, name: &str) -> Result<String, tonic::Status> {
    client
        .networks()
        .create_network(v1::CreateNetworkRequest {
            name: name.into(),
            cidr: "10.9.0.0/16".into(),
            ..Default::default()
        })
        .await
        .map(|answer| answer.into_inner().network.unwrap().id)
}

/// What a Load Balancer needs and the guide's first step, made by
/// `client`: network `vpc`, subnet `backends`, Load Balancer `shop`; answers
/// the Load Balancer's id.
async fn the_shop(client: &Client) -> String {
    let network = create_network(client, "vpc").await.unwrap();
    let subnet = client
        .networks()
        .create_subnet(v1::CreateSubnetRequest {
            name: "backends".into(),
            network_id: network.clone(),
            cidr: "10.9.1.0/24".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subnet
        .unwrap()
        .id;
    client
        .load_balancers()
        .create_load_balancer(v1::CreateLoadBalancerRequest {
            name: "shop".into(),
            network_id: network,
            subnet_id: subnet,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .load_balancer
        .unwrap()
        .id
}

async fn list_networks(client: &Client) -> Result<usize, tonic::Status> {
    client
        .networks()
        .list_networks(v1::ListNetworksRequest::default())
        .await
        .map(|answer| answer.into_inner().networks.len())
}

async fn raise_quota(client: &Client) -> Result<(), tonic::Status> {
    client
        .cluster()
        .update_cluster_settings(v1::UpdateClusterSettingsRequest {
            history_retention_revisions: Some(50_000),
            ..Default::default()
        })
        .await
        .map(|_| ())
}

fn refused(outcome: Result<impl std::fmt::Debug, tonic::Status>, code: tonic::Code, words: &str) {
    let status = outcome.expect_err("the call is refused");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(words),
        "{words:?} not in {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_are_authenticated_and_held_to_their_roles() {
    let pki = Pki::new();
    let members = secure_cluster(&pki).await;
    let leader_id = leader(&members).await;
    let follower = members
        .iter()
        .find(|member| member.id() != leader_id)
        .unwrap();

    let nobody = client_as(follower, &pki, None).await;
    refused(
        list_networks(&nobody).await,
        tonic::Code::Unauthenticated,
        "no credential",
    );
    // Health answers without a credential (orchestrators' probes).
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        channel(&follower.api(), &pki.ca.certificate, None)
            .await
            .unwrap(),
    );
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .unwrap();

    let viewer = client_as(follower, &pki, Some(&pki.client("vera", Role::Viewer))).await;
    assert_eq!(list_networks(&viewer).await.unwrap(), 0);
    refused(
        create_network(&viewer, "by-viewer").await,
        tonic::Code::PermissionDenied,
        "needs the role operator",
    );

    let operator = client_as(follower, &pki, Some(&pki.client("olga", Role::Operator))).await;
    create_network(&operator, "by-operator").await.unwrap();
    refused(
        raise_quota(&operator).await,
        tonic::Code::PermissionDenied,
        "needs the role admin",
    );
    refused(
        operator
            .cluster()
            .remove_node(v1::RemoveNodeRequest { node_id: 3 })
            .await,
        tonic::Code::PermissionDenied,
        "needs the role admin",
    );
    refused(
        operator
            .cluster()
            .transfer_leadership(v1::TransferLeadershipRequest { to_node_id: 3 })
            .await,
        tonic::Code::PermissionDenied,
        "needs the role admin",
    );

    let admin = client_as(follower, &pki, Some(&pki.client("root", Role::Admin))).await;
    raise_quota(&admin).await.unwrap();
    assert_eq!(list_networks(&admin).await.unwrap(), 1);

    // A client certificate from another CA does not get through the handshake.
    let stranger_ca = fulcrum_pki::create_ca(&CaOptions::default()).unwrap();
    let stranger = Authority::from_pem(&stranger_ca.certificate, &stranger_ca.private_key)
        .unwrap()
        .issue_client(&ClientOptions {
            principal: "root".into(),
            role: Role::Admin,
            validity_days: None,
        })
        .unwrap();
    let outsider = channel(&follower.api(), &pki.ca.certificate, Some(&stranger)).await;
    if let Ok(channel) = outsider {
        // TLS 1.3 reports the client certificate's refusal after the
        // handshake: the first call fails.
        assert!(list_networks(&Client::from_channel(channel)).await.is_err());
    }
}

/// The peer service at `member`, over a connection presenting `identity`.
async fn raft_client(
    member: &Member,
    ca: &str,
    identity: Option<&Pem>,
) -> Result<internal::raft_service_client::RaftServiceClient<Channel>, tonic::transport::Error> {
    let address = member.config.raft_address.to_string();
    channel(&address, ca, identity)
        .await
        .map(internal::raft_service_client::RaftServiceClient::new)
}

/// Whether a vote request reaches `member`'s Raft service at all (its answer
/// then is a refusal for the missing cluster id, not a transport failure).
async fn reaches_raft(member: &Member, ca: &str, identity: Option<&Pem>) -> bool {
    let Ok(mut client) = raft_client(member, ca, identity).await else {
        return false;
    };
    let vote = client
        .vote(internal::RaftVoteRequest {
            vote: Some(internal::RaftVote {
                term: 1_000,
                node_id: 9,
                committed: false,
            }),
            ..Default::default()
        })
        .await;
    // The service itself refuses a vote without the cluster id; anything
    // else is the transport refusing the connection.
    match vote {
        Ok(_) => true,
        Err(status) => {
            status.code() == tonic::Code::FailedPrecondition && status.message().contains("cluster")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_node_certificates_reach_the_peer_port_and_nothing_is_served_in_the_clear() {
    let pki = Pki::new();
    let members = secure_cluster(&pki).await;
    let leader_id = leader(&members).await;
    let target = members
        .iter()
        .find(|member| member.id() == leader_id)
        .unwrap();
    let ca = &pki.ca.certificate;

    // A node certificate of this cluster gets through (the control).
    let node = pki
        .authority
        .issue_node(&NodeOptions {
            name: "node-9".into(),
            hosts: vec!["127.0.0.1".into()],
            validity_days: None,
        })
        .unwrap();
    assert!(reaches_raft(target, ca, Some(&node)).await);
    // An admin's client certificate, no certificate, or a node certificate
    // of another CA: no append, no vote, no leadership transfer.
    assert!(!reaches_raft(target, ca, Some(&pki.client("root", Role::Admin))).await);
    assert!(!reaches_raft(target, ca, None).await);
    let other_ca = fulcrum_pki::create_ca(&CaOptions::default()).unwrap();
    let foreign_node = Authority::from_pem(&other_ca.certificate, &other_ca.private_key)
        .unwrap()
        .issue_node(&NodeOptions {
            name: "node-1".into(),
            hosts: vec!["127.0.0.1".into()],
            validity_days: None,
        })
        .unwrap();
    assert!(!reaches_raft(target, ca, Some(&foreign_node)).await);
    if let Ok(mut client) = raft_client(target, ca, Some(&pki.client("root", Role::Admin))).await {
        assert!(
            client
                .transfer_leader(internal::RaftTransferLeaderRequest::default())
                .await
                .is_err()
        );
        assert!(
            client
                .append_entries(internal::RaftAppendRequest::default())
                .await
                .is_err()
        );
    }
    // Joining is an admin's call on the API: an operator cannot add a node.
    let operator = client_as(target, &pki, Some(&pki.client("olga", Role::Operator))).await;
    refused(
        operator
            .cluster()
            .add_learner(v1::AddLearnerRequest {
                node_id: 9,
                raft_address: "127.0.0.1:1".into(),
                api_address: "127.0.0.1:2".into(),
            })
            .await,
        tonic::Code::PermissionDenied,
        "needs the role admin",
    );

    // Plaintext to either port fails.
    for address in [target.api(), target.config.raft_address.to_string()] {
        let plain = Client::connect(&address, Duration::from_secs(2)).await;
        if let Ok(client) = plain {
            assert!(
                list_networks(&client).await.is_err(),
                "{address} answered in the clear"
            );
        }
    }
    assert_eq!(
        members
            .iter()
            .filter(|member| member.agent.is_some())
            .count(),
        3,
        "every node still runs"
    );
}

/// The certificate `address` presents in a new TLS handshake.
async fn presented_certificate(address: std::net::SocketAddr, ca: &str) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in rustls::pki_types::pem::PemObject::pem_slice_iter(ca.as_bytes()) {
        roots.add(certificate.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(address.ip().into());
    let tls = connector.connect(name, stream).await.unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn der(pem: &str) -> Vec<u8> {
    rustls::pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes())
        .next()
        .map(
            |certificate: Result<rustls::pki_types::CertificateDer<'static>, _>| {
                certificate.unwrap().to_vec()
            },
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_certificate_rotated_on_disk_is_used_without_a_failed_request() {
    let pki = Pki::new();
    let members = secure_cluster(&pki).await;
    let leader_id = leader(&members).await;
    let rotated = members
        .iter()
        .find(|member| member.id() == leader_id)
        .unwrap();
    let ca = pki.ca.certificate.clone();
    let admin = client_as(rotated, &pki, Some(&pki.client("root", Role::Admin))).await;
    raise_quota(&admin).await.unwrap();

    // Writes through the node whose certificate changes, on one connection
    // opened before the change, for as long as the rotation takes.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = tokio::spawn({
        let (stop, written) = (stop.clone(), written.clone());
        async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("net-{n}");
                create_network(&admin, &name)
                    .await
                    .map_err(|status| (name, status))?;
                n += 1;
                written.store(n, Ordering::Relaxed);
            }
            Ok::<u64, (String, tonic::Status)>(n)
        }
    });
    let progressed = |from: u64| {
        let written = written.clone();
        async move {
            let deadline = Instant::now() + PATIENCE;
            while written.load(Ordering::Relaxed) < from + 5 {
                assert!(Instant::now() < deadline, "writes stalled");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    progressed(0).await;

    let old = presented_certificate(rotated.config.api_address, &ca).await;
    let new_pem = pki.write_node(leader_id);
    let new = der(&new_pem.certificate);
    assert_ne!(old, new);
    for address in [rotated.config.api_address, rotated.config.raft_address] {
        let deadline = Instant::now() + PATIENCE;
        while presented_certificate(address, &ca).await != new {
            assert!(
                Instant::now() < deadline,
                "{address} still presents the old certificate"
            );
            tokio::time::sleep(RELOAD_INTERVAL / 2).await;
        }
    }
    // The cluster keeps committing through the change (the peers' new
    // connections use the new certificate too).
    progressed(written.load(Ordering::Relaxed)).await;
    stop.store(true, Ordering::Relaxed);
    let total = writer
        .await
        .unwrap()
        .unwrap_or_else(|(name, status)| panic!("{name} failed during the rotation: {status:?}"));
    assert!(total >= 10, "{total} writes");
}

/// Puts a bearer token on every request.
#[derive(Clone)]
struct Bearer(String);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let value = format!("Bearer {}", self.0)
            .parse()
            .expect("an ASCII header");
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

type WithToken = tonic::service::interceptor::InterceptedService<Channel, Bearer>;

async fn networks_with_token(
    member: &Member,
    pki: &Pki,
    secret: &str,
) -> v1::network_service_client::NetworkServiceClient<WithToken> {
    let channel = channel(&member.api(), &pki.ca.certificate, None)
        .await
        .unwrap();
    v1::network_service_client::NetworkServiceClient::with_interceptor(
        channel,
        Bearer(secret.to_owned()),
    )
}

async fn issue_token(admin: &Client, principal: &str, role: v1::Role) -> (String, String) {
    let answer = admin
        .access_tokens()
        .create_access_token(v1::CreateAccessTokenRequest {
            principal: principal.into(),
            role: role.into(),
            description: "made by a test".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!answer.secret.is_empty());
    (answer.token.unwrap().id, answer.secret)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_token_is_refused_on_a_follower_within_a_second() {
    let pki = Pki::new();
    let members = secure_cluster(&pki).await;
    let leader_id = leader(&members).await;
    let follower = members
        .iter()
        .find(|member| member.id() != leader_id)
        .unwrap();
    let admin = client_as(follower, &pki, Some(&pki.client("root", Role::Admin))).await;
    let (id, secret) = issue_token(&admin, "ci", v1::Role::Operator).await;

    let mut networks = networks_with_token(follower, &pki, &secret).await;
    networks
        .create_network(v1::CreateNetworkRequest {
            name: "by-token".into(),
            cidr: "10.8.0.0/16".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    // Listed without the secret or its hash.
    let listed = admin
        .access_tokens()
        .list_access_tokens(v1::ListAccessTokensRequest::default())
        .await
        .unwrap()
        .into_inner()
        .access_tokens;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].principal, "ci");
    // An operator's token cannot make tokens.
    let mut tokens = v1::access_token_service_client::AccessTokenServiceClient::with_interceptor(
        channel(&follower.api(), &pki.ca.certificate, None)
            .await
            .unwrap(),
        Bearer(secret.clone()),
    );
    refused(
        tokens
            .create_access_token(v1::CreateAccessTokenRequest {
                principal: "mallory".into(),
                role: v1::Role::Admin.into(),
                ..Default::default()
            })
            .await,
        tonic::Code::PermissionDenied,
        "needs the role admin",
    );

    // Revoked through the leader; the follower refuses it within a second.
    let leader_member = members
        .iter()
        .find(|member| member.id() == leader_id)
        .unwrap();
    let admin_on_leader =
        client_as(leader_member, &pki, Some(&pki.client("root", Role::Admin))).await;
    admin_on_leader
        .access_tokens()
        .revoke_access_token(v1::RevokeAccessTokenRequest {
            id,
            ..Default::default()
        })
        .await
        .unwrap();
    let revoked_at = Instant::now();
    loop {
        let listed = networks
            .list_networks(v1::ListNetworksRequest::default())
            .await;
        match listed {
            Err(status) if status.code() == tonic::Code::Unauthenticated => break,
            Err(status) => panic!("unexpected refusal {status:?}"),
            Ok(_) => {
                assert!(
                    revoked_at.elapsed() < Duration::from_secs(1),
                    "the follower still accepts the revoked token after a second"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_audit_trail_names_the_principal_of_each_step_of_the_guide() {
    let pki = Pki::new();
    let members = secure_cluster(&pki).await;
    leader(&members).await;
    let node = &members[0];
    let admin = client_as(node, &pki, Some(&pki.client("root", Role::Admin))).await;
    let (_, secret) = issue_token(&admin, "ci-bot", v1::Role::Operator).await;
    let olga = client_as(node, &pki, Some(&pki.client("olga", Role::Operator))).await;

    // The guide's steps: olga (certificate) builds the network side and the
    // Load Balancer, the ci-bot (token) takes an EIP.
    the_shop(&olga).await;
    let mut eips = v1::eip_service_client::EipServiceClient::with_interceptor(
        channel(&node.api(), &pki.ca.certificate, None)
            .await
            .unwrap(),
        Bearer(secret),
    );
    eips.allocate_eip(v1::AllocateEipRequest::default())
        .await
        .unwrap();

    let events = admin
        .events()
        .list_events(v1::ListEventsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .events;
    let by_type = |kind: v1::EventType| -> Vec<String> {
        events
            .iter()
            .filter(|event| event.r#type == kind as i32)
            .map(|event| event.principal.clone())
            .collect()
    };
    assert_eq!(by_type(v1::EventType::AccessTokenIssued), ["root"]);
    assert_eq!(by_type(v1::EventType::NetworkCreated), ["olga"]);
    assert_eq!(by_type(v1::EventType::SubnetCreated), ["olga"]);
    assert_eq!(by_type(v1::EventType::LoadBalancerCreated), ["olga"]);
    assert_eq!(by_type(v1::EventType::EipAllocated), ["ci-bot"]);
}

/// Every file under `directory`, recursively.
fn files_under(directory: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![directory.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The lines of a PEM block's base64 body: what a clear key would leave in
/// a file, whatever encoding surrounds it.
fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|line| !line.starts_with("-----") && line.len() >= 40)
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn certificate_keys_rest_and_travel_sealed_and_the_data_plane_serves_https_with_them() {
    let pki = Pki::new();
    let members = secure_cluster(&pki).await;
    let leader_id = leader(&members).await;
    // Through a follower: the sealed key reaches the leader and the other
    // follower only by the peer stream.
    let follower = members
        .iter()
        .find(|member| member.id() != leader_id)
        .unwrap();
    let admin = client_as(follower, &pki, Some(&pki.client("root", Role::Admin))).await;
    let lb = the_shop(&admin).await;
    let deadline = Instant::now() + PATIENCE;
    let eip = loop {
        // The bootstrap proposes the EIP pool just after the cluster forms.
        match admin
            .eips()
            .allocate_eip(v1::AllocateEipRequest::default())
            .await
        {
            Ok(answer) => break answer.into_inner().eip.unwrap(),
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                assert!(Instant::now() < deadline, "no EIP pool: {status:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    };
    admin
        .load_balancers()
        .associate_eip(v1::AssociateEipRequest {
            load_balancer_id: lb.clone(),
            eip_id: eip.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let site = pki
        .authority
        .issue_node(&NodeOptions {
            name: "shop".into(),
            hosts: vec![eip.address.clone()],
            validity_days: None,
        })
        .unwrap();
    let certificate = admin
        .certificates()
        .upload_certificate(v1::UploadCertificateRequest {
            name: "shop".into(),
            certificate_chain: site.certificate.clone(),
            private_key: site.private_key.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap()
        .id;
    let group = admin
        .groups()
        .create_group(v1::CreateGroupRequest {
            load_balancer_id: lb.clone(),
            name: "web".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap()
        .id;
    let eip_ip: std::net::Ipv4Addr = eip.address.parse().unwrap();
    let port = std::net::TcpListener::bind((eip_ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    admin
        .listeners()
        .create_listener(v1::CreateListenerRequest {
            load_balancer_id: lb,
            name: "https".into(),
            protocol: v1::Protocol::Https.into(),
            port: u32::from(port),
            default_group_id: group,
            certificate_id: certificate,
            ..Default::default()
        })
        .await
        .unwrap();

    // The leader's data plane opened the sealed key: it completes TLS
    // handshakes with the uploaded certificate.
    let address = std::net::SocketAddr::from((eip_ip, port));
    let expected = der(&site.certificate);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let served = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::net::TcpStream::connect(address),
        )
        .await;
        if matches!(served, Ok(Ok(_)))
            && presented_certificate(address, &pki.ca.certificate).await == expected
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the HTTPS listener never served the uploaded certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // No file of any node's data directory (log, state records, snapshots,
    // history: written by the leader, and by followers from the peer
    // stream) holds the key in the clear.
    let body = pem_body_lines(&site.private_key);
    assert!(!body.is_empty());
    let mut searched = 0;
    for member in &members {
        for file in files_under(&member.config.data_dir) {
            let bytes = std::fs::read(&file).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for line in &body {
                assert!(
                    !text.contains(line.as_str()),
                    "{} holds the private key in the clear",
                    file.display()
                );
            }
            searched += 1;
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&member.config.data_dir)
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o700, "{}", member.config.data_dir.display());
    }
    assert!(searched > 6, "only {searched} files searched");
    // The control: the certificate (public) is found, so the search sees
    // what the stores hold.
    let chain_line = pem_body_lines(&site.certificate).remove(0);
    assert!(
        members.iter().any(
            |member| files_under(&member.config.data_dir).iter().any(|file| {
                String::from_utf8_lossy(&std::fs::read(file).unwrap()).contains(chain_line.as_str())
            })
        ),
        "the search never finds the certificate itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_data_key_rotates_by_resealing_every_certificate_key_in_the_log() {
    let pki = Pki::new();
    let members = secure_cluster(&pki).await;
    leader(&members).await;
    let admin_pem = pki.client("root", Role::Admin);
    let admin = client_as(&members[0], &pki, Some(&admin_pem)).await;
    let site = pki
        .authority
        .issue_node(&NodeOptions {
            name: "shop".into(),
            hosts: vec!["shop.example".into()],
            validity_days: None,
        })
        .unwrap();
    let certificate = admin
        .certificates()
        .upload_certificate(v1::UploadCertificateRequest {
            name: "shop".into(),
            certificate_chain: site.certificate.clone(),
            private_key: site.private_key.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap()
        .id;

    // The new key goes first in every node's file, the old one stays to
    // open what it sealed; each node reloads its file by itself.
    let key_file = |member: &Member| member.directory.path().join("data.key");
    let old = std::fs::read_to_string(key_file(&members[0])).unwrap();
    let new = fulcrum_node::secrets::new_key_file().unwrap();
    for member in &members {
        std::fs::write(key_file(member), format!("{new}{old}")).unwrap();
    }
    let only_new = fulcrum_node::secrets::DataKeys::parse(Path::new("new"), &new).unwrap();
    // Each node answers with the key it seals with: once all answer the new
    // one, every node has reloaded; exactly one key was sealed anew.
    let mut resealed = 0;
    let deadline = Instant::now() + PATIENCE;
    for member in &members {
        let admin = client_as(member, &pki, Some(&admin_pem)).await;
        loop {
            match admin
                .cluster()
                .reseal_certificate_keys(v1::ResealCertificateKeysRequest {})
                .await
            {
                Ok(answer) => {
                    let answer = answer.into_inner();
                    resealed += answer.resealed;
                    if answer.data_key_id == only_new.current_id() {
                        break;
                    }
                }
                // Sealed with the new key by a node that reloaded first,
                // while this one has not yet.
                Err(status) if status.code() == tonic::Code::FailedPrecondition => {}
                Err(status) => panic!("{status:?}"),
            }
            assert!(
                Instant::now() < deadline,
                "node {} never took the new key",
                member.id()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(resealed, 1);
    let admin = client_as(&members[0], &pki, Some(&admin_pem)).await;

    // Every replica holds the key sealed with the new data key alone, and it
    // opens to the uploaded key.
    let aad = fulcrum_raft_store::domain::sealed::certificate_key_aad(&site.certificate);
    let deadline = Instant::now() + PATIENCE;
    for member in &members {
        loop {
            let stored = {
                let state = member.agent.as_ref().unwrap().replica().state().unwrap();
                state
                    .catalog()
                    .certificates()
                    .values()
                    .find(|stored| stored.id.as_str() == certificate)
                    .map(|stored| stored.private_key_pem.clone())
                    .unwrap()
            };
            if only_new.is_current(&stored) {
                assert_eq!(only_new.open(&stored, &aad).unwrap(), site.private_key);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {} kept the old sealing",
                member.id()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let events = admin
        .events()
        .list_events(v1::ListEventsRequest {
            resource_id: certificate,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let resealed: Vec<&str> = events
        .iter()
        .filter(|event| event.r#type == v1::EventType::CertificateKeyResealed as i32)
        .map(|event| event.principal.as_str())
        .collect();
    assert_eq!(resealed, ["root"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_whose_key_is_not_its_own_is_refused_before_the_log() {
    let members = support::cluster(1, 1).await;
    leader(&members).await;
    members[0].bootstrapped().await;
    let client = members[0].client().await;
    let pki = Pki::new();
    let issue = |name: &str| {
        pki.authority
            .issue_node(&NodeOptions {
                name: name.into(),
                hosts: vec![format!("{name}.example")],
                validity_days: None,
            })
            .unwrap()
    };
    let (site, other) = (issue("site"), issue("other"));
    let before = members[0].applied_index();
    refused(
        client
            .certificates()
            .upload_certificate(v1::UploadCertificateRequest {
                name: "site".into(),
                certificate_chain: site.certificate,
                private_key: other.private_key,
                ..Default::default()
            })
            .await,
        tonic::Code::InvalidArgument,
        "private_key: is not the key of the first certificate",
    );
    assert_eq!(
        members[0].applied_index(),
        before,
        "the refusal reached the log"
    );
}
