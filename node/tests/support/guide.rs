//! The guide's set-up for traffic tests on an in-process cluster: what a
//! listener on an EIP needs, over two loopback backends.

use std::net::{Ipv4Addr, SocketAddr};

use fulcrum_api::{Client, v1};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::backends::{backend, get};
use super::{Member, PATIENCE, cluster_with, leader};

/// Creates what the guide's traffic needs: a network, a subnet, two
/// instances with backends, an EIP, a Load Balancer, a group of both and an
/// HTTP listener on `port`; answers the EIP's address.
pub async fn the_guide(client: &Client, port: u32) -> Ipv4Addr {
    let a = backend("a", Ipv4Addr::new(127, 0, 0, 21));
    let b = backend("b", Ipv4Addr::new(127, 0, 0, 22));
    let networks = client.networks();
    let network = networks
        .clone()
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
    let subnet = networks
        .clone()
        .create_subnet(v1::CreateSubnetRequest {
            name: "backends".into(),
            network_id: network.id.clone(),
            cidr: "127.0.0.0/24".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .subnet
        .unwrap();
    let mut members = Vec::new();
    for (name, address) in [("a", a), ("b", b)] {
        let instance = networks
            .clone()
            .create_instance(v1::CreateInstanceRequest {
                name: name.into(),
                subnet_id: subnet.id.clone(),
                address: address.ip().to_string(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .instance
            .unwrap();
        members.push(v1::MemberSpec {
            instance_id: instance.id,
            port: u32::from(address.port()),
            weight: Some(1),
            admin_state_up: None,
        });
    }
    let eip = client
        .eips()
        .allocate_eip(v1::AllocateEipRequest {
            name: "web".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .eip
        .unwrap();
    let lb = client
        .load_balancers()
        .create_load_balancer(v1::CreateLoadBalancerRequest {
            name: "shop".into(),
            network_id: network.id,
            subnet_id: subnet.id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .load_balancer
        .unwrap();
    let group = client
        .groups()
        .create_group(v1::CreateGroupRequest {
            name: "web".into(),
            load_balancer_id: lb.id.clone(),
            members,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    client
        .listeners()
        .create_listener(v1::CreateListenerRequest {
            name: "http".into(),
            load_balancer_id: lb.id.clone(),
            protocol: v1::Protocol::Http as i32,
            port,
            default_group_id: group.id,
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .load_balancers()
        .associate_eip(v1::AssociateEipRequest {
            load_balancer_id: lb.id,
            eip_id: eip.id,
            ..Default::default()
        })
        .await
        .unwrap();
    eip.address.parse().unwrap()
}

/// Waits until requests to `address` reach both backends.
pub async fn serves_both(address: SocketAddr) {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "{address} reached only {seen:?} before the deadline"
        );
        let answer = tokio::task::spawn_blocking(move || get(address))
            .await
            .unwrap();
        match answer {
            Some(name) => {
                seen.insert(name);
            }
            None => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

/// A port no one listens on (the listener's port on the EIP).
pub async fn free_port() -> u32 {
    let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
    u32::from(probe.local_addr().unwrap().port())
}

/// A three-node cluster serving the guide: its members, its leader's id,
/// and the listener's address on the EIP (both backends already reached).
pub async fn serving_cluster() -> (Vec<Member>, u64, SocketAddr) {
    let members = cluster_with(3, 3, |_| {}).await;
    let leader_id = leader(&members).await;
    let lead = &members[(leader_id - 1) as usize];
    lead.bootstrapped().await;
    let port = free_port().await;
    let eip = the_guide(&lead.client().await, port).await;
    let address = SocketAddr::from((eip, port as u16));
    serves_both(address).await;
    (members, leader_id, address)
}

/// The guide's one listener, as the API shows it.
pub async fn the_listener(client: &Client) -> v1::Listener {
    client
        .listeners()
        .list_listeners(v1::ListListenersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .listeners
        .remove(0)
}

/// The guide's one Virtual Server Group.
pub async fn the_group(client: &Client) -> v1::VirtualServerGroup {
    client
        .groups()
        .list_groups(v1::ListGroupsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .groups
        .remove(0)
}

/// The guide's one Load Balancer.
pub async fn the_load_balancer(client: &Client) -> v1::LoadBalancer {
    client
        .load_balancers()
        .list_load_balancers(v1::ListLoadBalancersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .load_balancers
        .remove(0)
}
