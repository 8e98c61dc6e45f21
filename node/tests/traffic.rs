//! The node runs the data plane: the guide's four steps through the API,
//! then HTTP traffic to the EIP reaches the group's instances by weight, and
//! the API reports what the data plane applied.

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::time::Duration;

use fulcrum_api::{Client, v1};
use fulcrum_node::agent::Agent;
use fulcrum_node::config::{AgentConfig, Given};
use tokio::net::TcpListener;
use tokio::time::Instant;

use support::backends::{backend, get, get_path};

/// `count` agents on loopback forming one cluster, with the loopback EIP pool.
async fn cluster(count: usize) -> (Vec<Option<Agent>>, Vec<tempfile::TempDir>) {
    let mut listeners = Vec::new();
    for _ in 0..count {
        listeners.push((
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
        ));
    }
    let initial: Vec<String> = listeners
        .iter()
        .enumerate()
        .map(|(n, (api, raft))| {
            format!(
                "{}={}/{}",
                n + 1,
                raft.local_addr().unwrap(),
                api.local_addr().unwrap()
            )
        })
        .collect();
    let (mut agents, mut directories) = (Vec::new(), Vec::new());
    let data_key = fulcrum_node::secrets::new_key_file().unwrap();
    for (n, (api, raft)) in listeners.into_iter().enumerate() {
        let directory = tempfile::tempdir().unwrap();
        let key_file = directory.path().join("data.key");
        std::fs::write(&key_file, &data_key).unwrap();
        let overrides = Given::from_pairs([
            ("node.id", (n + 1).to_string()),
            (
                "node.data_dir",
                directory.path().join("data").display().to_string(),
            ),
            ("node.api_address", api.local_addr().unwrap().to_string()),
            ("node.raft_address", raft.local_addr().unwrap().to_string()),
            ("cluster.initial_members", initial.join(",")),
            ("cluster.eip_pool", "127.77.0.0/16".to_owned()),
            ("secrets.data_key_file", key_file.display().to_string()),
            ("dataplane.threads", "1".to_owned()),
            ("raft.heartbeat_ms", "50".to_owned()),
            ("raft.election_timeout_min_ms", "300".to_owned()),
            ("raft.election_timeout_max_ms", "600".to_owned()),
        ])
        .unwrap();
        let config = AgentConfig::resolve(None, overrides, false).unwrap();
        agents.push(Some(Agent::start_on(config, api, raft).await.unwrap()));
        directories.push(directory);
    }
    (agents, directories)
}

async fn client_of(agent: &Agent) -> Client {
    Client::connect(&agent.api_address().to_string(), Duration::from_secs(2))
        .await
        .unwrap()
}

/// The guide's steps for a listener on `eip` (an address in 127.0.0.0/8)
/// over two backends on 127.0.0.1 and 127.0.0.2 weighted 3:1; returns the
/// listener's id and the EIP's socket address.
async fn guide(client: &Client, eip: &str) -> (String, SocketAddr) {
    let (heavy, light) = (
        backend("heavy", Ipv4Addr::new(127, 0, 0, 1)),
        backend("light", Ipv4Addr::new(127, 0, 0, 2)),
    );
    let network = client
        .networks()
        .create_network(v1::CreateNetworkRequest {
            name: "vpc".into(),
            cidr: "127.0.0.0/16".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .network
        .unwrap();
    let subnet = client
        .networks()
        .create_subnet(v1::CreateSubnetRequest {
            name: "backend".into(),
            network_id: network.id.clone(),
            cidr: "127.0.0.0/24".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subnet
        .unwrap();
    let mut instances = Vec::new();
    for (name, address) in [("web1", "127.0.0.1"), ("web2", "127.0.0.2")] {
        let instance = client
            .networks()
            .create_instance(v1::CreateInstanceRequest {
                name: name.into(),
                subnet_id: subnet.id.clone(),
                address: address.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .instance
            .unwrap();
        instances.push(instance);
    }
    // 1. The Load Balancer. 2. Its EIP.
    let lb = client
        .load_balancers()
        .create_load_balancer(v1::CreateLoadBalancerRequest {
            name: "shop".into(),
            network_id: network.id.clone(),
            subnet_id: subnet.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .load_balancer
        .unwrap();
    // The bootstrap proposes the EIP pool just after the cluster forms.
    let deadline = Instant::now() + Duration::from_secs(10);
    let eip = loop {
        let allocated = client
            .eips()
            .allocate_eip(v1::AllocateEipRequest {
                name: "public".into(),
                address: eip.into(),
                ..Default::default()
            })
            .await;
        match allocated {
            Ok(response) => break response.into_inner().eip.unwrap(),
            Err(status)
                if status.code() == tonic::Code::FailedPrecondition
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("{status}"),
        }
    };
    client
        .load_balancers()
        .associate_eip(v1::AssociateEipRequest {
            load_balancer_id: lb.id.clone(),
            eip_id: eip.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    // 3. The group, weights 3:1.
    let group = client
        .groups()
        .create_group(v1::CreateGroupRequest {
            load_balancer_id: lb.id.clone(),
            name: "web".into(),
            members: vec![
                v1::MemberSpec {
                    instance_id: instances[0].id.clone(),
                    port: u32::from(heavy.port()),
                    weight: Some(3),
                    ..Default::default()
                },
                v1::MemberSpec {
                    instance_id: instances[1].id.clone(),
                    port: u32::from(light.port()),
                    weight: Some(1),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    // 4. The listener.
    let eip_ip: Ipv4Addr = eip.address.parse().unwrap();
    let port = StdListener::bind((eip_ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listener = client
        .listeners()
        .create_listener(v1::CreateListenerRequest {
            load_balancer_id: lb.id.clone(),
            name: "http".into(),
            protocol: v1::Protocol::Http.into(),
            port: u32::from(port),
            default_group_id: group.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .listener
        .unwrap();

    (listener.id, SocketAddr::from((eip_ip, port)))
}

async fn listener_view(client: &Client, id: &str) -> v1::Listener {
    client
        .listeners()
        .get_listener(v1::GetListenerRequest {
            id: id.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .listener
        .unwrap()
}

async fn status_tree(client: &Client, load_balancer_id: &str) -> v1::LoadBalancerStatus {
    client
        .load_balancers()
        .get_status_tree(v1::GetStatusTreeRequest {
            load_balancer_id: load_balancer_id.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .load_balancer
        .unwrap()
}

/// Polls `GET /` on `address` until it answers, for up to `patience`.
async fn answered_within(address: SocketAddr, patience: Duration) -> bool {
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + patience;
        while std::time::Instant::now() < deadline {
            if get(address).is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_listener_serves_traffic_by_weight_on_the_eip() {
    let (agents, _directories) = cluster(1).await;
    let agent = agents[0].as_ref().unwrap();
    let client = client_of(agent).await;
    let (listener_id, eip_address) = guide(&client, "127.77.0.1").await;
    assert!(
        answered_within(eip_address, Duration::from_secs(10)).await,
        "the EIP never answered"
    );
    let answers = tokio::task::spawn_blocking(move || {
        (0..400)
            .map(|_| get(eip_address).unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let heavy_share = answers.iter().filter(|name| *name == "heavy").count() as f64 / 400.0;
    assert!(
        (0.72..=0.78).contains(&heavy_share),
        "heavy took {heavy_share}"
    );

    // The API says the listener reached the data plane.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = listener_view(&client, &listener_id)
            .await
            .provisioning_status();
        if status == v1::ProvisioningStatus::Active {
            break;
        }
        assert!(Instant::now() < deadline, "still {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The status tree carries the owner's counters, observed at most a
    // poll interval ago: they show the 400 requests soon.
    let lb_id = listener_view(&client, &listener_id).await.load_balancer_id;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let tree = status_tree(&client, &lb_id).await;
        let counters = tree.listeners[0].counters.clone().unwrap_or_default();
        let member_requests: u64 = tree.groups[0]
            .members
            .iter()
            .map(|member| member.counters.as_ref().map_or(0, |c| c.requests))
            .sum();
        let answered_2xx = counters.responses_by_class.get(1).copied().unwrap_or(0);
        if counters.requests >= 400 && answered_2xx >= 400 && member_requests >= 400 {
            break;
        }
        assert!(Instant::now() < deadline, "{tree:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A listener whose port the host cannot bind is ERROR, with the OS's reason.
    let occupied = StdListener::bind((eip_address.ip(), 0)).unwrap();
    let taken = client
        .listeners()
        .create_listener(v1::CreateListenerRequest {
            load_balancer_id: lb_id,
            name: "taken".into(),
            protocol: v1::Protocol::Tcp.into(),
            port: u32::from(occupied.local_addr().unwrap().port()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .listener
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let errored = loop {
        let view = listener_view(&client, &taken.id).await;
        if view.provisioning_status() == v1::ProvisioningStatus::Error || Instant::now() > deadline
        {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(errored.provisioning_status(), v1::ProvisioningStatus::Error);
    assert!(
        errored.provisioning_error.contains("in use"),
        "{}",
        errored.provisioning_error
    );
    drop(occupied);
    for agent in agents.into_iter().flatten() {
        agent.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eip_follows_the_leader_through_a_transfer_and_a_stop() {
    let (mut agents, _directories) = cluster(3).await;
    let client = client_of(agents[0].as_ref().unwrap()).await;
    let (_, eip_address) = guide(&client, "127.77.0.2").await;
    assert!(
        answered_within(eip_address, Duration::from_secs(10)).await,
        "the EIP never answered"
    );

    // A graceful transfer: the old leader releases, the new one serves.
    let leader_of = |client: Client| async move {
        client
            .cluster()
            .get_cluster_status(v1::GetClusterStatusRequest::default())
            .await
            .ok()
            .and_then(|status| status.into_inner().leader_id)
    };
    let leader = leader_of(client.clone()).await.unwrap();
    let next = (1..=3).find(|id| *id != leader).unwrap();
    client
        .cluster()
        .transfer_leadership(v1::TransferLeadershipRequest { to_node_id: next })
        .await
        .unwrap();
    assert!(
        answered_within(eip_address, Duration::from_secs(10)).await,
        "not served after the transfer"
    );

    // The leader stops: another node takes the EIP over.
    let mut current = None;
    for agent in agents.iter().flatten() {
        current = current.or(leader_of(client_of(agent).await).await);
    }
    let current = current.unwrap();
    assert_eq!(current, next, "leadership moved to the node asked for");
    let stopped = agents[(current - 1) as usize].take().unwrap();
    stopped.shutdown().await;
    assert!(
        answered_within(eip_address, Duration::from_secs(15)).await,
        "not served after the leader stopped"
    );
    for agent in agents.into_iter().flatten() {
        agent.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_health_checks_set_operating_statuses() {
    let (agents, _directories) = cluster(1).await;
    let client = client_of(agents[0].as_ref().unwrap()).await;
    let (listener_id, eip_address) = guide(&client, "127.77.0.3").await;
    assert!(answered_within(eip_address, Duration::from_secs(10)).await);
    let listener = listener_view(&client, &listener_id).await;
    let group = client
        .groups()
        .update_group(v1::UpdateGroupRequest {
            id: listener.default_group_id.clone(),
            health_check: Some(v1::HealthCheck {
                r#type: v1::HealthCheckType::Tcp.into(),
                interval_s: Some(1),
                timeout_s: Some(1),
                healthy_threshold: Some(1),
                unhealthy_threshold: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    // A member on a port where nothing listens.
    let dead_port = StdListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    client
        .groups()
        .add_member(v1::AddMemberRequest {
            group_id: group.id.clone(),
            member: Some(v1::MemberSpec {
                instance_id: group.members[0].instance_id.clone(),
                port: u32::from(dead_port),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let tree = status_tree(&client, &listener.load_balancer_id).await;
        let members: Vec<(u32, v1::OperatingStatus)> = tree.groups[0]
            .members
            .iter()
            .map(|member| (member.port, member.operating_status()))
            .collect();
        let settled = members.iter().all(|(port, status)| {
            *status
                == if *port == u32::from(dead_port) {
                    v1::OperatingStatus::Error
                } else {
                    v1::OperatingStatus::Online
                }
        });
        if settled {
            assert_eq!(
                tree.groups[0].operating_status(),
                v1::OperatingStatus::Degraded
            );
            assert_eq!(tree.operating_status(), v1::OperatingStatus::Degraded);
            break;
        }
        assert!(Instant::now() < deadline, "{members:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for agent in agents.into_iter().flatten() {
        agent.shutdown().await;
    }
}

/// The whole response to `GET path` on a new connection.
fn whole_response(address: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_rules_set_through_the_api_route_the_eips_requests() {
    let (agents, _directories) = cluster(1).await;
    let agent = agents[0].as_ref().unwrap();
    let client = client_of(agent).await;
    let (listener_id, eip_address) = guide(&client, "127.77.0.3").await;
    assert!(answered_within(eip_address, Duration::from_secs(10)).await);
    let listener = listener_view(&client, &listener_id).await;
    // A group of the light backend alone, for the API's paths.
    let web = client
        .groups()
        .get_group(v1::GetGroupRequest {
            id: listener.default_group_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    let light = &web.members[1];
    let api = client
        .groups()
        .create_group(v1::CreateGroupRequest {
            load_balancer_id: listener.load_balancer_id.clone(),
            name: "api".into(),
            members: vec![v1::MemberSpec {
                instance_id: light.instance_id.clone(),
                port: light.port,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    use v1::forwarding_rule::Action;
    let set = client
        .listeners()
        .set_listener_rules(v1::SetListenerRulesRequest {
            id: listener_id.clone(),
            rules: vec![
                v1::ForwardingRule {
                    name: "api".into(),
                    path: "/api/".into(),
                    action: Some(Action::ForwardGroupId(api.id.clone())),
                    ..Default::default()
                },
                v1::ForwardingRule {
                    name: "moved".into(),
                    path: "/old".into(),
                    path_match: v1::PathMatch::Exact.into(),
                    action: Some(Action::Redirect(v1::RedirectAction {
                        status: 308,
                        path: "/new".into(),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
            ],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let view = set.listener.unwrap();
    assert_eq!(view.rules.len(), 2);
    assert_eq!(view.rules[0].path_match(), v1::PathMatch::Prefix);

    let routed = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !whole_response(eip_address, "/old?x=1").starts_with("HTTP/1.1 308") {
            assert!(
                std::time::Instant::now() < deadline,
                "the rules never arrived"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let moved = whole_response(eip_address, "/old?x=1");
        let api: Vec<String> = (0..20)
            .map(|_| get_path(eip_address, "/api/orders").unwrap())
            .collect();
        let rest: Vec<String> = (0..20).map(|_| get(eip_address).unwrap()).collect();
        (moved, api, rest)
    })
    .await
    .unwrap();
    let (moved, api, rest) = routed;
    assert!(
        moved.contains("\r\nLocation: http://shop/new?x=1\r\n"),
        "{moved}"
    );
    assert!(api.iter().all(|name| name == "light"), "{api:?}");
    assert!(rest.iter().any(|name| name == "heavy"), "{rest:?}");

    // Cookie persistence on the default group, set through the API too.
    client
        .groups()
        .update_group(v1::UpdateGroupRequest {
            id: web.id.clone(),
            persistence: Some(v1::SessionPersistence {
                r#type: v1::PersistenceType::Cookie.into(),
                cookie_name: "FULCRUM".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let sticky = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let response = whole_response(eip_address, "/");
            if response.contains("\r\nSet-Cookie: FULCRUM=") {
                return response;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no cookie: {response}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap();
    assert!(sticky.contains("; Path=/; HttpOnly\r\n"), "{sticky}");
    for agent in agents.into_iter().flatten() {
        agent.shutdown().await;
    }
}
