//! Propagation: from `CreateListener` returning to the first request served
//! on the new listener, through the EIP. Reports; never fails on a figure.
//!
//! ```text
//! cargo run --release -p fulcrum-node --example bench_propagation -- [LISTENERS] [NODES]
//! ```
//!
//! Starts NODES (default 3) agents in this process on loopback (EIP pool
//! 127.0.0.0/8), one HTTP backend, the guide's resources, then creates
//! LISTENERS (default 200) HTTP listeners one after another through a
//! follower's API, each time polling the new port with `GET /` until it
//! answers 200 (then deleting it), and prints p50, p99 and the maximum.

#![allow(clippy::print_stdout)] // The report is the program's output.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener, TcpStream};
use std::time::{Duration, Instant};

use fulcrum_api::{Client, v1};
use fulcrum_node::agent::Agent;
use fulcrum_node::config::{AgentConfig, Given};

const EIP: Ipv4Addr = Ipv4Addr::new(127, 88, 0, 1);

fn backend() -> std::io::Result<SocketAddr> {
    let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let address = listener.local_addr()?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 4096];
                let mut seen = Vec::new();
                while let Ok(n) = stream.read(&mut buffer) {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        if stream
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(address)
}

fn served(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(100)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listeners: usize = args.next().map_or(Ok(200), |n| n.parse())?;
    let nodes: usize = args.next().map_or(Ok(3), |n| n.parse())?;

    let mut bound = Vec::new();
    for _ in 0..nodes {
        bound.push((
            tokio::net::TcpListener::bind("127.0.0.1:0").await?,
            tokio::net::TcpListener::bind("127.0.0.1:0").await?,
        ));
    }
    let initial = bound
        .iter()
        .enumerate()
        .map(|(n, (api, raft))| {
            Ok(format!(
                "{}={}/{}",
                n + 1,
                raft.local_addr()?,
                api.local_addr()?
            ))
        })
        .collect::<std::io::Result<Vec<_>>>()?
        .join(",");
    let mut agents = Vec::new();
    let mut directories = Vec::new();
    let data_key = fulcrum_node::secrets::new_key_file()?;
    for (n, (api, raft)) in bound.into_iter().enumerate() {
        let directory = tempfile::tempdir()?;
        let key_file = directory.path().join("data.key");
        std::fs::write(&key_file, &data_key)?;
        let overrides = Given::from_pairs([
            ("node.id", (n + 1).to_string()),
            ("node.data_dir", directory.path().display().to_string()),
            ("node.api_address", api.local_addr()?.to_string()),
            ("node.raft_address", raft.local_addr()?.to_string()),
            ("cluster.initial_members", initial.clone()),
            ("cluster.eip_pool", "127.77.0.0/16".to_owned()),
            ("secrets.data_key_file", key_file.display().to_string()),
        ])?;
        let config = AgentConfig::resolve(None, overrides, false)?;
        agents.push(Agent::start_on(config, api, raft).await?);
        directories.push(directory);
    }
    let first =
        Client::connect(&agents[0].api_address().to_string(), Duration::from_secs(2)).await?;
    let status = loop {
        let status = first
            .cluster()
            .get_cluster_status(v1::GetClusterStatusRequest::default())
            .await?
            .into_inner();
        if status.leader_id.is_some() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Writes go through a follower when there is one: the path a client
    // that does not know the leader takes.
    let follower = agents
        .iter()
        .find(|agent| Some(agent.replica().id()) != status.leader_id)
        .unwrap_or(&agents[0]);
    let client =
        Client::connect(&follower.api_address().to_string(), Duration::from_secs(2)).await?;

    let backend = backend()?;
    let network = client
        .networks()
        .create_network(v1::CreateNetworkRequest {
            name: "lo".into(),
            cidr: "127.0.0.0/16".into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .network
        .ok_or("no network")?;
    let subnet = client
        .networks()
        .create_subnet(v1::CreateSubnetRequest {
            name: "lo".into(),
            network_id: network.id.clone(),
            cidr: "127.0.0.0/24".into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .subnet
        .ok_or("no subnet")?;
    let instance = client
        .networks()
        .create_instance(v1::CreateInstanceRequest {
            name: "web".into(),
            subnet_id: subnet.id.clone(),
            address: "127.0.0.1".into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .instance
        .ok_or("no instance")?;
    let lb = client
        .load_balancers()
        .create_load_balancer(v1::CreateLoadBalancerRequest {
            name: "bench".into(),
            network_id: network.id,
            subnet_id: subnet.id,
            ..Default::default()
        })
        .await?
        .into_inner()
        .load_balancer
        .ok_or("no load balancer")?;
    let eip = loop {
        match client
            .eips()
            .allocate_eip(v1::AllocateEipRequest {
                address: EIP.to_string(),
                ..Default::default()
            })
            .await
        {
            Ok(eip) => break eip.into_inner().eip.ok_or("no EIP")?,
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => return Err(status.into()),
        }
    };
    client
        .load_balancers()
        .associate_eip(v1::AssociateEipRequest {
            load_balancer_id: lb.id.clone(),
            eip_id: eip.id,
            ..Default::default()
        })
        .await?;
    let group = client
        .groups()
        .create_group(v1::CreateGroupRequest {
            load_balancer_id: lb.id.clone(),
            name: "web".into(),
            members: vec![v1::MemberSpec {
                instance_id: instance.id,
                port: u32::from(backend.port()),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await?
        .into_inner()
        .group
        .ok_or("no group")?;

    let mut samples = Vec::with_capacity(listeners);
    for n in 0..listeners {
        let port = StdListener::bind((EIP, 0))?.local_addr()?.port();
        let listener = client
            .listeners()
            .create_listener(v1::CreateListenerRequest {
                load_balancer_id: lb.id.clone(),
                name: format!("l{n}"),
                protocol: v1::Protocol::Http.into(),
                port: u32::from(port),
                default_group_id: group.id.clone(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .listener
            .ok_or("no listener")?;
        let created = Instant::now();
        let address = SocketAddr::from((EIP, port));
        let latency = tokio::task::spawn_blocking(move || {
            while !served(address) {
                if created.elapsed() > Duration::from_secs(10) {
                    return None;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            Some(created.elapsed())
        })
        .await?
        .ok_or("a listener was not served within 10 s")?;
        samples.push(latency);
        // One listener at a time (the quota is 50 per Load Balancer).
        client
            .listeners()
            .delete_listener(v1::DeleteListenerRequest {
                id: listener.id,
                ..Default::default()
            })
            .await?;
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "propagation, CreateListener returned → first 200 through the EIP, {listeners} listeners, {nodes} node(s), written through {}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        if nodes > 1 {
            "a follower"
        } else {
            "the leader"
        },
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(samples[samples.len() - 1]),
    );
    for agent in agents {
        agent.shutdown().await;
    }
    drop(directories);
    Ok(())
}
