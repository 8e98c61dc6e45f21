//! Bad input of every kind against real agents: it gets a clear answer, it
//! never reaches the log, and the cluster keeps serving. Also the servers'
//! limits, the health service's truth and a wiped data directory.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use fulcrum_api::{Client, v1};
use fulcrum_node::agent::{Agent, AgentError};
use fulcrum_raft_store::domain::limits::{MAX_MEMBERS_PER_GROUP, quota};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use support::{Member, PATIENCE, cluster, cluster_with, leader};

/// Waits until `check` holds, or fails naming `what`.
async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen in time");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The guide's catalog on loopback: a network, a subnet, `instances`
/// instances and a Load Balancer; answers (lb, instance ids).
async fn catalog(client: &Client, instances: usize) -> (String, Vec<String>) {
    let network = client
        .networks()
        .create_network(v1::CreateNetworkRequest {
            name: "lo".into(),
            cidr: "127.0.0.0/16".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .network
        .unwrap()
        .id;
    let subnet = client
        .networks()
        .create_subnet(v1::CreateSubnetRequest {
            name: "lo-backends".into(),
            network_id: network.clone(),
            cidr: "127.0.1.0/24".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subnet
        .unwrap()
        .id;
    let mut ids = Vec::new();
    for n in 0..instances {
        ids.push(
            client
                .networks()
                .create_instance(v1::CreateInstanceRequest {
                    name: format!("i{n}"),
                    subnet_id: subnet.clone(),
                    address: format!("127.0.1.{}", n + 1),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .instance
                .unwrap()
                .id,
        );
    }
    let lb = client
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
        .id;
    (lb, ids)
}

fn members(instances: &[String], count: usize) -> Vec<v1::MemberSpec> {
    (0..count)
        .map(|n| v1::MemberSpec {
            instance_id: instances[n % instances.len()].clone(),
            port: 1 + (n / instances.len()) as u32,
            weight: None,
            admin_state_up: None,
        })
        .collect()
}

async fn raise_quotas_to_their_ceilings(client: &Client) {
    client
        .cluster()
        .update_cluster_settings(v1::UpdateClusterSettingsRequest {
            quotas: Some(v1::Quotas {
                load_balancers: quota::LOAD_BALANCERS.ceiling,
                listeners_per_load_balancer: quota::LISTENERS_PER_LOAD_BALANCER.ceiling,
                groups_per_load_balancer: quota::GROUPS_PER_LOAD_BALANCER.ceiling,
                members_per_group: quota::MEMBERS_PER_GROUP.ceiling,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// The group that stopped every node of an older build for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seventy_thousand_members_are_refused_before_the_log_and_the_node_serves_on() {
    // A request large enough to carry them, so that the member limit is what refuses.
    let mut nodes = cluster_with(1, 1, |config| config.api.max_request_bytes = 16 << 20).await;
    leader(&nodes).await;
    nodes[0].bootstrapped().await;
    let client = nodes[0].client().await;
    raise_quotas_to_their_ceilings(&client).await;
    let (lb, instances) = catalog(&client, 20).await;
    let before = nodes[0].applied_index();

    let refused = client
        .groups()
        .create_group(v1::CreateGroupRequest {
            load_balancer_id: lb.clone(),
            name: "huge".into(),
            members: members(&instances, 70_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().starts_with("members"), "{refused:?}");
    assert!(
        refused
            .message()
            .contains(&MAX_MEMBERS_PER_GROUP.to_string()),
        "{refused:?}"
    );
    assert_eq!(
        nodes[0].applied_index(),
        before,
        "the refusal never reached the log"
    );

    let at_limit = client
        .groups()
        .create_group(v1::CreateGroupRequest {
            load_balancer_id: lb.clone(),
            name: "full".into(),
            members: members(&instances, MAX_MEMBERS_PER_GROUP as usize),
            ..Default::default()
        })
        .await;
    assert!(at_limit.is_ok(), "{at_limit:?}");

    nodes[0].stop().await;
    nodes[0].start().await;
    leader(&nodes).await;
    let client = nodes[0].client().await;
    let groups = client
        .groups()
        .list_groups(v1::ListGroupsRequest {
            load_balancer_id: lb,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(groups.groups.len(), 1, "{groups:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forty_megabyte_request_is_refused_by_the_transport() {
    let nodes = cluster(1, 1).await;
    leader(&nodes).await;
    let client = nodes[0].client().await;
    // A client that sends whatever it is given (ours stops at 16 MiB).
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", nodes[0].api()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let refused = v1::certificate_service_client::CertificateServiceClient::new(channel)
        .max_encoding_message_size(usize::MAX)
        .upload_certificate(v1::UploadCertificateRequest {
            name: "huge".into(),
            certificate_chain: "A".repeat(40 << 20),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("api.max_request_bytes"),
        "{refused:?}"
    );
    let served = client
        .networks()
        .list_networks(v1::ListNetworksRequest::default())
        .await;
    assert!(served.is_ok(), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loopback_binder_keeps_members_and_eips_on_this_machine() {
    let nodes = cluster(1, 1).await;
    leader(&nodes).await;
    let client = nodes[0].client().await;
    let (_, _) = catalog(&client, 1).await;
    let subnet = client
        .networks()
        .list_subnets(v1::ListSubnetsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .subnets
        .remove(0)
        .id;
    let refused = client
        .networks()
        .create_instance(v1::CreateInstanceRequest {
            name: "lan".into(),
            subnet_id: subnet,
            address: "10.0.1.10".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().starts_with("address"), "{refused:?}");
    assert!(refused.message().contains("loopback binder"), "{refused:?}");

    // 127.0.0.0/24 holds the node's own API and Raft address (127.0.0.1).
    let refused = client
        .cluster()
        .update_cluster_settings(v1::UpdateClusterSettingsRequest {
            eip_pool: Some(v1::EipPool {
                cidrs: vec!["127.0.0.0/24".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert!(
        refused.message().starts_with("eip_pool.cidrs[0]"),
        "{refused:?}"
    );
    assert!(refused.message().contains("node's own"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_ceiling_are_refused_while_open_ones_work() {
    let nodes = cluster_with(1, 1, |config| config.api.max_connections = 2).await;
    leader(&nodes).await;
    let list = |client: Client| async move {
        client
            .networks()
            .list_networks(v1::ListNetworksRequest::default())
            .await
    };
    let first = nodes[0].client().await;
    let second = nodes[0].client().await;
    assert!(list(first.clone()).await.is_ok());
    assert!(list(second.clone()).await.is_ok());
    let third = match Client::connect(&nodes[0].api(), Duration::from_secs(2)).await {
        Ok(client) => list(client).await.map(|_| ()),
        Err(error) => Err(tonic::Status::unavailable(error.to_string())),
    };
    assert!(third.is_err(), "a third connection was served: {third:?}");
    assert!(
        list(first).await.is_ok(),
        "an open connection stopped working"
    );
    assert!(
        list(second).await.is_ok(),
        "an open connection stopped working"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_ceiling_answers_resource_exhausted() {
    let nodes = cluster_with(1, 1, |config| config.api.max_watch_streams = 1).await;
    leader(&nodes).await;
    let client = nodes[0].client().await;
    let watch = || async {
        client
            .events()
            .watch(v1::WatchRequest { from_revision: 0 })
            .await
    };
    let open = watch().await.unwrap();
    let refused = watch().await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("api.max_watch_streams"),
        "{refused:?}"
    );
    drop(open);
    eventually("a watch slot freed by a closed stream", || async {
        watch().await.is_ok()
    })
    .await;
}

async fn health(member: &Member) -> Option<ServingStatus> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", member.api()))
        .ok()?
        .connect()
        .await
        .ok()?;
    let answer = HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    Some(answer.into_inner().status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_raft_stopped_reports_not_serving() {
    let nodes = cluster(1, 1).await;
    leader(&nodes).await;
    let member = &nodes[0];
    eventually("SERVING", || async {
        health(member).await == Some(ServingStatus::Serving)
    })
    .await;
    let agent = member.agent.as_ref().expect("running");
    agent.replica().raft().shutdown().await.unwrap();
    eventually("NOT_SERVING after Raft stopped", || async {
        health(member).await == Some(ServingStatus::NotServing)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_restarted_with_a_wiped_data_directory_does_not_rejoin() {
    let mut nodes = cluster(3, 3).await;
    let first = leader(&nodes).await;
    let leader_index = nodes.iter().position(|node| node.id() == first).unwrap();
    let client = nodes[leader_index].client().await;
    client
        .networks()
        .create_network(v1::CreateNetworkRequest {
            name: "before".into(),
            cidr: "10.0.0.0/16".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let victim = nodes.iter().position(|node| node.id() != first).unwrap();
    // The leader has seen the victim acknowledge entries.
    eventually("the victim's acknowledgement", || async {
        let status = nodes[leader_index]
            .client()
            .await
            .cluster()
            .get_cluster_status(v1::GetClusterStatusRequest::default())
            .await
            .unwrap()
            .into_inner();
        status
            .members
            .iter()
            .any(|member| member.node_id == nodes[victim].id() && member.matched_index > Some(0))
    })
    .await;
    nodes[victim].stop().await;
    // The store closes when the last of Raft's tasks ends, which may write
    // a file as the directory goes: wipe until nothing is left.
    let deadline = Instant::now() + PATIENCE;
    let data_dir = nodes[victim].config.data_dir.clone();
    loop {
        let mut left = 0;
        for entry in std::fs::read_dir(&data_dir).unwrap() {
            let path = entry.unwrap().path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if removed.is_err() {
                left += 1;
            }
        }
        if left == 0 && std::fs::read_dir(&data_dir).unwrap().next().is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} could not be emptied",
            data_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let config = nodes[victim].config.clone();
    let started = Agent::start_on(
        config.clone(),
        TcpListener::bind(config.api_address).await.unwrap(),
        TcpListener::bind(config.raft_address).await.unwrap(),
    )
    .await;
    match started {
        Err(AgentError::DataLost(reason)) => {
            assert!(reason.contains("remove-node"), "{reason}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(agent) => {
            agent.shutdown().await;
            panic!("a node whose data was wiped started again as a member");
        }
    }
    // The two others serve on.
    let served = client
        .networks()
        .create_network(v1::CreateNetworkRequest {
            name: "after".into(),
            cidr: "10.1.0.0/16".into(),
            ..Default::default()
        })
        .await;
    assert!(served.is_ok(), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed() {
    use tokio::io::AsyncReadExt;
    let nodes = cluster_with(1, 1, |config| {
        config.api.first_request_timeout = Duration::from_millis(200);
    })
    .await;
    leader(&nodes).await;
    let mut silent = tokio::net::TcpStream::connect(nodes[0].api())
        .await
        .unwrap();
    // The server speaks first (its HTTP/2 settings), then closes: reading
    // ends (end of stream or a reset) well before the patience runs out.
    let mut buffer = [0u8; 1024];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match silent.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a silent connection was kept open");
    // A client that speaks is served.
    let served = nodes[0]
        .client()
        .await
        .networks()
        .list_networks(v1::ListNetworksRequest::default())
        .await;
    assert!(served.is_ok(), "{served:?}");
}
