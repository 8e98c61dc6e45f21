//! In-process clusters of real agents on 127.0.0.1 with OS-chosen ports,
//! driven through the public gRPC API as a client would.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use fulcrum_api::{Client, v1};
use tokio::time::Instant;

use support::{Member, PATIENCE, cluster, leader};

fn create_network(name: &str, token: &str) -> v1::CreateNetworkRequest {
    v1::CreateNetworkRequest {
        client_token: token.into(),
        name: name.into(),
        cidr: "10.0.0.0/16".into(),
        ..Default::default()
    }
}

/// Sends `request` to the members in turn until one commits it (a client's
/// retry loop: UNAVAILABLE and broken connections mean "try again").
async fn create_retrying(
    members: &[Member],
    request: v1::CreateNetworkRequest,
) -> v1::CreateNetworkResponse {
    let deadline = Instant::now() + PATIENCE;
    let mut attempt = 0usize;
    loop {
        let running: Vec<&Member> = members.iter().filter(|m| m.agent.is_some()).collect();
        let member = running[attempt % running.len()];
        attempt += 1;
        let reply = match Client::connect(&member.api(), Duration::from_secs(1)).await {
            Ok(client) => client.networks().create_network(request.clone()).await,
            Err(error) => Err(tonic::Status::unavailable(error.to_string())),
        };
        match reply {
            Ok(reply) => return reply.into_inner(),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown
                ) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("create {}: {status}", request.name),
        }
    }
}

async fn network_names(client: &Client, consistency: v1::ReadConsistency) -> Vec<String> {
    client
        .networks()
        .list_networks(v1::ListNetworksRequest {
            read: Some(v1::ReadOptions {
                consistency: consistency as i32,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .networks
        .into_iter()
        .map(|network| network.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_through_followers_survive_leader_loss_and_restart_converges() {
    let mut members = cluster(3, 3).await;
    let first_leader = leader(&members).await;
    let follower = members.iter().find(|m| m.id() != first_leader).unwrap();

    // A write sent to a follower succeeds and every node reads it, linearizably.
    let created = follower
        .client()
        .await
        .networks()
        .create_network(create_network("through-follower", "t-follower"))
        .await
        .unwrap()
        .into_inner();
    let network = created.network.expect("the created network");
    assert_eq!(network.name, "through-follower");
    for member in &members {
        let names = network_names(&member.client().await, v1::ReadConsistency::Linearizable).await;
        assert!(
            names.contains(&"through-follower".to_owned()),
            "node {}: {names:?}",
            member.id()
        );
    }

    // The bootstrap EIP pool was applied once, whichever member proposed it.
    let settings = follower
        .client()
        .await
        .cluster()
        .get_cluster_settings(v1::GetClusterSettingsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(settings.eip_pool, vec!["127.77.0.0/16".to_owned()]);

    // A token's first answer, then the leader stops: the retry of the same
    // command lands on a new leader and answers the same, applied once.
    let first = create_retrying(&members, create_network("retried", "t-retried")).await;
    let stopped = members.iter().position(|m| m.id() == first_leader).unwrap();
    members[stopped].stop().await;
    let second_leader = leader(&members).await;
    assert_ne!(second_leader, first_leader);
    let again = create_retrying(&members, create_network("retried", "t-retried")).await;
    assert_eq!(again.revision, first.revision);
    assert_eq!(again.network.unwrap().id, first.network.unwrap().id);

    // Writes continue, enough to snapshot and purge the log past the stopped node.
    for n in 0..30 {
        create_retrying(
            &members,
            create_network(&format!("after-{n}"), &format!("t-after-{n}")),
        )
        .await;
    }
    let reader = members.iter().find(|m| m.agent.is_some()).unwrap();
    let names = network_names(&reader.client().await, v1::ReadConsistency::Linearizable).await;
    assert_eq!(names.iter().filter(|name| *name == "retried").count(), 1);
    assert_eq!(names.len(), 32);

    // The old leader restarts with its data, catches up (from a snapshot: the
    // log it lacks is purged), and all projections are byte-identical.
    members[stopped].start().await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let indexes: Vec<u64> = members.iter().map(Member::applied_index).collect();
        let images: Vec<Vec<u8>> = members.iter().map(Member::projection_bytes).collect();
        if indexes.iter().all(|index| *index == indexes[0])
            && images.iter().all(|image| *image == images[0])
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "projections did not converge: applied {indexes:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let local = network_names(&members[stopped].client().await, v1::ReadConsistency::Local).await;
    assert_eq!(local.len(), 32);

    for member in &mut members {
        member.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn membership_grows_to_five_and_shrinks_to_three_while_writes_run() {
    let mut members = cluster(5, 3).await;
    leader(&members[..3]).await;
    let entry = members[0].api();

    let writer_entry = entry.clone();
    let writer = tokio::spawn(async move {
        let client = Client::connect(&writer_entry, Duration::from_secs(2))
            .await
            .unwrap();
        let mut written = 0u32;
        for n in 0..60 {
            let request = create_network(&format!("w{n}"), &format!("t-w{n}"));
            let deadline = Instant::now() + PATIENCE;
            loop {
                match client.networks().create_network(request.clone()).await {
                    Ok(_) => break,
                    Err(status)
                        if status.code() == tonic::Code::Unavailable
                            && Instant::now() < deadline =>
                    {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(status) => panic!("write {n}: {status}"),
                }
            }
            written += 1;
        }
        written
    });

    let admin = members[0].client().await;
    for joining in &members[3..] {
        admin
            .cluster()
            .add_learner(v1::AddLearnerRequest {
                node_id: joining.id(),
                raft_address: joining.config.raft_address.to_string(),
                api_address: joining.api(),
            })
            .await
            .unwrap();
        admin
            .cluster()
            .promote_node(v1::PromoteNodeRequest {
                node_id: joining.id(),
            })
            .await
            .unwrap();
    }
    let status = admin
        .cluster()
        .get_cluster_status(v1::GetClusterStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    let voters = status
        .members
        .iter()
        .filter(|member| member.role == v1::ClusterRole::Voter as i32)
        .count();
    assert_eq!(voters, 5, "{status:?}");

    // Back to three: remove two of the original members (the leader may be one).
    for removed in [2u64, 3] {
        admin
            .cluster()
            .remove_node(v1::RemoveNodeRequest { node_id: removed })
            .await
            .unwrap();
    }
    assert_eq!(writer.await.unwrap(), 60);
    let status = members[3]
        .client()
        .await
        .cluster()
        .get_cluster_status(v1::GetClusterStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut ids: Vec<u64> = status.members.iter().map(|member| member.node_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 4, 5], "{status:?}");
    assert!(status.leader_id.is_some());
    let names = network_names(
        &members[4].client().await,
        v1::ReadConsistency::Linearizable,
    )
    .await;
    assert_eq!(names.len(), 60);

    for member in &mut members {
        member.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watcher_sees_every_event_in_order_across_a_restart_of_its_node() {
    let mut members = cluster(3, 3).await;
    let first_leader = leader(&members).await;
    let watched = members.iter().position(|m| m.id() != first_leader).unwrap();

    let mut revisions: Vec<u64> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut stream = members[watched]
        .client()
        .await
        .events()
        .watch(v1::WatchRequest { from_revision: 0 })
        .await
        .unwrap()
        .into_inner();
    for n in 0..5 {
        create_retrying(
            &members,
            create_network(&format!("a{n}"), &format!("t-a{n}")),
        )
        .await;
    }
    let collect = |batch: v1::WatchResponse, revisions: &mut Vec<u64>, names: &mut Vec<String>| {
        for event in batch.events {
            revisions.push(event.revision);
            if let Some(v1::event::Resource::Network(network)) = event.resource {
                names.push(network.name);
            }
        }
    };
    while names.len() < 5 {
        let batch = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        collect(batch, &mut revisions, &mut names);
    }

    // The watcher's node restarts; the watcher reconnects from the next revision.
    members[watched].stop().await;
    for n in 5..8 {
        create_retrying(
            &members,
            create_network(&format!("a{n}"), &format!("t-a{n}")),
        )
        .await;
    }
    members[watched].start().await;
    let next = revisions.last().unwrap() + 1;
    let mut stream = members[watched]
        .client()
        .await
        .events()
        .watch(v1::WatchRequest {
            from_revision: next,
        })
        .await
        .unwrap()
        .into_inner();
    for n in 8..10 {
        create_retrying(
            &members,
            create_network(&format!("a{n}"), &format!("t-a{n}")),
        )
        .await;
    }
    while names.len() < 10 {
        let batch = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        collect(batch, &mut revisions, &mut names);
    }
    let expected: Vec<String> = (0..10).map(|n| format!("a{n}")).collect();
    let networks: Vec<String> = names
        .iter()
        .filter(|name| name.starts_with('a'))
        .cloned()
        .collect();
    assert_eq!(networks, expected);
    assert!(
        revisions.windows(2).all(|pair| pair[0] < pair[1]),
        "{revisions:?}"
    );

    for member in &mut members {
        if member.agent.is_some() {
            member.stop().await;
        }
    }
}

fn code_of<T>(result: Result<tonic::Response<T>, tonic::Status>) -> (tonic::Code, String) {
    match result {
        Ok(_) => panic!("expected a refusal"),
        Err(status) => (status.code(), status.message().to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_speaks_grpc_conventions_and_the_resource_models_codes() {
    let mut members = cluster(1, 1).await;
    leader(&members).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", members[0].api()))
        .unwrap()
        .connect()
        .await
        .unwrap();

    // The standard health service.
    let health = tonic_health::pb::health_client::HealthClient::new(channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // Server reflection names every public service (no .proto files needed).
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut answers = ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let names: Vec<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for expected in [
        "fulcrum.v1.LoadBalancerService",
        "fulcrum.v1.ClusterService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} not in {names:?}"
        );
    }

    // The resource model's codes, each with a message naming the field.
    let client = members[0].client().await;
    let (code, message) = code_of(
        client
            .networks()
            .create_network(v1::CreateNetworkRequest {
                name: "bad".into(),
                cidr: "10.0.0.0/33".into(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(code, tonic::Code::InvalidArgument);
    assert!(message.contains("cidr"), "{message}");
    let (code, _) = code_of(
        client
            .load_balancers()
            .get_load_balancer(v1::GetLoadBalancerRequest {
                id: "lb-nothere".into(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(code, tonic::Code::NotFound);
    let (code, message) = code_of(
        client
            .load_balancers()
            .get_load_balancer(v1::GetLoadBalancerRequest {
                id: "vsg-1".into(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(code, tonic::Code::InvalidArgument);
    assert!(message.starts_with("id:"), "{message}");

    let network = client
        .networks()
        .create_network(create_network("n", "t-n"))
        .await
        .unwrap()
        .into_inner()
        .network
        .unwrap();
    let subnet = client
        .networks()
        .create_subnet(v1::CreateSubnetRequest {
            name: "s".into(),
            network_id: network.id.clone(),
            cidr: "10.0.1.0/24".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subnet
        .unwrap();
    let lb_request = v1::CreateLoadBalancerRequest {
        name: "shop".into(),
        network_id: network.id.clone(),
        subnet_id: subnet.id.clone(),
        ..Default::default()
    };
    let lb = client
        .load_balancers()
        .create_load_balancer(lb_request.clone())
        .await
        .unwrap()
        .into_inner()
        .load_balancer
        .unwrap();
    let (code, _) = code_of(
        client
            .load_balancers()
            .create_load_balancer(lb_request)
            .await,
    );
    assert_eq!(code, tonic::Code::AlreadyExists);
    let (code, _) = code_of(
        client
            .load_balancers()
            .update_load_balancer(v1::UpdateLoadBalancerRequest {
                id: lb.id.clone(),
                expected_revision: Some(lb.revision + 100),
                description: Some("stale".into()),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(code, tonic::Code::Aborted);
    let (code, _) = code_of(
        client
            .networks()
            .delete_network(v1::DeleteNetworkRequest {
                id: network.id.clone(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(code, tonic::Code::FailedPrecondition);
    let (code, message) = code_of(
        client
            .networks()
            .create_network(create_network("other-name", "t-n"))
            .await,
    );
    assert_eq!(code, tonic::Code::InvalidArgument);
    assert!(message.contains("client_token"), "{message}");

    // History compacted to two revisions: older revisions are OUT_OF_RANGE.
    client
        .cluster()
        .update_cluster_settings(v1::UpdateClusterSettingsRequest {
            history_retention_revisions: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    for n in 0..4 {
        client
            .networks()
            .create_network(create_network(&format!("c{n}"), ""))
            .await
            .unwrap();
    }
    let (code, _) = code_of(
        client
            .events()
            .list_events(v1::ListEventsRequest {
                from_revision: 1,
                ..Default::default()
            })
            .await,
    );
    assert_eq!(code, tonic::Code::OutOfRange);
    let (code, _) = code_of(
        client
            .events()
            .watch(v1::WatchRequest { from_revision: 1 })
            .await,
    );
    assert_eq!(code, tonic::Code::OutOfRange);

    members[0].stop().await;
}
