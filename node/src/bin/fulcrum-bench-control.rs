//! The control-plane benchmark: committed commands per second and commit
//! latency of a three-node Fulcrum cluster against a three-node etcd cluster,
//! both as processes on this machine, measured in the same run by the same
//! client code through gRPC. It reports; it never fails on a figure.
//!
//! Fulcrum's operation is its smallest mutating command, a tag update on one
//! Load Balancer; etcd's is a `Put` of a value as large as that command's log
//! envelope. Both are sent round-robin to the three members, as their own
//! clients do. Rounds alternate Fulcrum → etcd at each concurrency.
//!
//! ```text
//! fulcrum-bench-control FULCRUM_BIN ETCD_BIN DIR [SECONDS] [ROUNDS] [all|leader]
//! fulcrum-bench-control tls FULCRUM_BIN DIR [SECONDS] [ROUNDS] [all|leader]
//! ```
//!
//! `leader` sends every operation to the leader of each system instead:
//! consensus alone, without a follower's forwarding. `tls` compares two
//! Fulcrum clusters instead, in the same run: one in the clear, one as a
//! deployment runs (TLS on both ports, mutual TLS between peers, the client
//! authenticated by its certificate and held to its role).

// A report printed for people: printing is its job.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fulcrum_api::{Client, Credentials, v1};
use prost::Message;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};

#[path = "bench_support/cluster.rs"]
mod cluster;

use cluster::{
    CONNECT_BACKOFF, Processes, SETUP_BACKOFF, SETUP_PATIENCE, fail, free_ports, fulcrum_leader,
    setup_failed, spawn,
};

const CONCURRENCY: [usize; 3] = [1, 16, 256];

/// etcd's `PutRequest` (etcdserverpb, rpc.proto): the fields this benchmark sets.
#[derive(Clone, PartialEq, prost::Message)]
struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// etcd's `PutResponse`: only the header's revision is read.
#[derive(Clone, PartialEq, prost::Message)]
struct PutResponse {
    #[prost(message, optional, tag = "1")]
    header: Option<ResponseHeader>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ResponseHeader {
    #[prost(uint64, tag = "2")]
    member_id: u64,
    #[prost(uint64, tag = "3")]
    revision: u64,
}

/// etcd's `StatusRequest` (Maintenance service): empty.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusRequest {}

/// etcd's `StatusResponse`: who answered and whom it follows.
#[derive(Clone, PartialEq, prost::Message)]
struct StatusResponse {
    #[prost(message, optional, tag = "1")]
    header: Option<ResponseHeader>,
    #[prost(uint64, tag = "4")]
    leader: u64,
}

/// Which members the client sends to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Targets {
    /// Round-robin over all members, as their clients do.
    All,
    /// The leader only: consensus without forwarding.
    Leader,
}

async fn etcd_leader(channels: &[Channel]) -> Option<usize> {
    for (n, channel) in channels.iter().enumerate() {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.ok()?;
        let status = grpc
            .unary::<_, StatusResponse, _>(
                tonic::Request::new(StatusRequest {}),
                PathAndQuery::from_static("/etcdserverpb.Maintenance/Status"),
                tonic_prost::ProstCodec::default(),
            )
            .await
            .ok()?
            .into_inner();
        if status
            .header
            .is_some_and(|header| header.member_id == status.leader)
        {
            return Some(n);
        }
    }
    None
}

/// The certificates of a secure cluster, and the client's credentials.
struct Secure {
    directory: PathBuf,
    credentials: Credentials,
}

impl Secure {
    /// A CA, node certificates for 127.0.0.1 and an operator's client
    /// certificate under `directory`.
    fn create(directory: &Path) -> Self {
        fn failed<T>(error: fulcrum_pki::PkiError) -> T {
            fail(&format!("certificates: {error}"))
        }
        let ca = fulcrum_pki::create_ca(&fulcrum_pki::CaOptions::default()).unwrap_or_else(failed);
        let authority = fulcrum_pki::Authority::from_pem(&ca.certificate, &ca.private_key)
            .unwrap_or_else(failed);
        let write = |name: &str, text: &str| {
            let path = directory.join(name);
            std::fs::write(&path, text)
                .unwrap_or_else(|error| fail(&format!("cannot write {}: {error}", path.display())));
        };
        std::fs::create_dir_all(directory).unwrap_or_else(|error| {
            fail(&format!("cannot create {}: {error}", directory.display()))
        });
        write("ca.crt", &ca.certificate);
        for id in 1..=3 {
            let node = authority
                .issue_node(&fulcrum_pki::NodeOptions {
                    name: format!("node-{id}"),
                    hosts: vec!["127.0.0.1".into()],
                    validity_days: None,
                })
                .unwrap_or_else(failed);
            write(&format!("node-{id}.crt"), &node.certificate);
            write(&format!("node-{id}.key"), &node.private_key);
        }
        let client = authority
            .issue_client(&fulcrum_pki::ClientOptions {
                principal: "bench".into(),
                role: fulcrum_pki::Role::Operator,
                validity_days: None,
            })
            .unwrap_or_else(failed);
        Self {
            directory: directory.to_owned(),
            credentials: Credentials {
                ca_pem: Some(ca.certificate),
                identity: Some((client.certificate, client.private_key)),
                token: None,
            },
        }
    }

    /// The TLS flags of node `id`.
    fn flags(&self, id: usize) -> Vec<std::ffi::OsString> {
        let file = |name: String| self.directory.join(name).into_os_string();
        vec![
            "--tls-ca-file".into(),
            file("ca.crt".into()),
            "--tls-cert-file".into(),
            file(format!("node-{id}.crt")),
            "--tls-key-file".into(),
            file(format!("node-{id}.key")),
        ]
    }
}

/// The API addresses of `agents`.
fn apis(agents: Vec<cluster::Agent>) -> Vec<String> {
    agents.into_iter().map(|agent| agent.api).collect()
}

/// Starts three etcd members; answers their client addresses.
fn start_etcd(binary: &Path, directory: &Path, processes: &mut Processes) -> Vec<String> {
    let ports = free_ports(6);
    let members: Vec<(String, u16, u16)> = (1..=3)
        .map(|n| (format!("e{n}"), ports[2 * n - 2], ports[2 * n - 1]))
        .collect();
    let initial = members
        .iter()
        .map(|(name, _, peer)| format!("{name}=http://127.0.0.1:{peer}"))
        .collect::<Vec<_>>()
        .join(",");
    for (name, client, peer) in &members {
        processes.0.push(spawn(
            Command::new(binary)
                .args(["--name", name])
                .arg("--data-dir")
                .arg(directory.join(format!("etcd-{name}")))
                .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
                .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
                .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
                .arg(format!(
                    "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
                ))
                .arg(format!("--initial-cluster={initial}"))
                .args(["--initial-cluster-state", "new", "--log-level", "error"]),
        ));
    }
    members
        .into_iter()
        .map(|(_, client, _)| format!("127.0.0.1:{client}"))
        .collect()
}

async fn channel(address: &str) -> Channel {
    let deadline = Instant::now() + SETUP_PATIENCE;
    loop {
        let connected = Endpoint::from_shared(format!("http://{address}"))
            .unwrap_or_else(|error| fail(&error.to_string()))
            .tcp_nodelay(true)
            .connect()
            .await;
        match connected {
            Ok(channel) => return channel,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(CONNECT_BACKOFF).await;
            }
            Err(error) => fail(&format!("cannot reach {address}: {error}")),
        }
    }
}

/// One system under test: how to send one operation to member `n`.
#[derive(Clone)]
enum System {
    Fulcrum {
        name: &'static str,
        clients: Vec<Client>,
        addresses: Vec<String>,
        load_balancer_id: String,
    },
    Etcd {
        channels: Vec<Channel>,
        value: Vec<u8>,
    },
}

impl System {
    fn name(&self) -> &'static str {
        match self {
            Self::Fulcrum { name, .. } => name,
            Self::Etcd { .. } => "etcd",
        }
    }

    async fn operate(&self, n: usize, sequence: u64) -> Result<(), String> {
        match self {
            Self::Fulcrum {
                clients,
                load_balancer_id,
                ..
            } => {
                let client = &clients[n % clients.len()];
                let tags = BTreeMap::from([("bench".to_owned(), format!("{sequence:08}"))]);
                client
                    .load_balancers()
                    .update_load_balancer(v1::UpdateLoadBalancerRequest {
                        id: load_balancer_id.clone(),
                        tags: Some(v1::Tags { entries: tags }),
                        ..Default::default()
                    })
                    .await
                    .map(drop)
                    .map_err(|status| status.to_string())
            }
            Self::Etcd { channels, value } => {
                let mut grpc = tonic::client::Grpc::new(channels[n % channels.len()].clone());
                grpc.ready().await.map_err(|error| error.to_string())?;
                let request = PutRequest {
                    key: format!("bench-{}", n % 64).into_bytes(),
                    value: value.clone(),
                };
                grpc.unary::<_, PutResponse, _>(
                    tonic::Request::new(request),
                    PathAndQuery::from_static("/etcdserverpb.KV/Put"),
                    tonic_prost::ProstCodec::default(),
                )
                .await
                .map(drop)
                .map_err(|status| status.to_string())
            }
        }
    }
}

/// Throughput and latency of one run.
struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

async fn measure(system: &System, concurrency: usize, seconds: u64) -> Figures {
    let system = Arc::new(system.clone());
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let system = system.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut first_error = None;
            let mut sequence = 0u64;
            while Instant::now() < end {
                let sent = Instant::now();
                match system.operate(worker, sequence).await {
                    Ok(()) => latencies.push(sent.elapsed()),
                    Err(error) => {
                        errors += 1;
                        first_error.get_or_insert(error);
                    }
                }
                sequence += 1;
            }
            if let Some(error) = first_error {
                eprintln!(
                    "{}: worker {worker}: {errors} errors, the first: {error}",
                    system.name()
                );
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((mine, failed)) = worker.await {
            latencies.extend(mine);
            errors += failed;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |quantile: f64| {
        latencies
            .get(
                ((latencies.len() as f64 * quantile) as usize)
                    .min(latencies.len().saturating_sub(1)),
            )
            .copied()
            .unwrap_or_default()
    };
    Figures {
        per_second: latencies.len() as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
        errors,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// A Fulcrum cluster ready to measure: its clients, and the Load Balancer
/// whose tags the operations update.
async fn fulcrum_system(
    name: &'static str,
    addresses: Vec<String>,
    credentials: &Credentials,
) -> System {
    let clients = cluster::connect(&addresses, credentials).await;
    let deadline = Instant::now() + SETUP_PATIENCE;
    let network = loop {
        match clients[0]
            .networks()
            .create_network(v1::CreateNetworkRequest {
                client_token: "bench-network".into(),
                name: "bench".into(),
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
            })
            .await
        {
            Ok(reply) => break reply.into_inner().network.unwrap_or_default(),
            Err(_) if Instant::now() < deadline => tokio::time::sleep(SETUP_BACKOFF).await,
            Err(status) => setup_failed("a network", status),
        }
    };
    let subnet = clients[0]
        .networks()
        .create_subnet(v1::CreateSubnetRequest {
            name: "bench".into(),
            network_id: network.id,
            cidr: "10.0.1.0/24".into(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| setup_failed("a subnet", status))
        .into_inner()
        .subnet
        .unwrap_or_default();
    let load_balancer = clients[0]
        .load_balancers()
        .create_load_balancer(v1::CreateLoadBalancerRequest {
            name: "bench".into(),
            network_id: subnet.network_id.clone(),
            subnet_id: subnet.id,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| setup_failed("a Load Balancer", status))
        .into_inner()
        .load_balancer
        .unwrap_or_default();
    System::Fulcrum {
        name,
        clients,
        addresses,
        load_balancer_id: load_balancer.id,
    }
}

/// The size of one Fulcrum operation's log envelope.
fn envelope_bytes(load_balancer_id: &str) -> usize {
    v1::LogEnvelope {
        format_version: fulcrum_api::LOG_FORMAT_VERSION,
        client_token: String::new(),
        accepted_at_unix_ms: 1_700_000_000_000,
        principal: "bench".into(),
        command: Some(v1::Command {
            kind: Some(v1::command::Kind::UpdateLoadBalancer(
                v1::UpdateLoadBalancerRequest {
                    id: load_balancer_id.to_owned(),
                    tags: Some(v1::Tags {
                        entries: BTreeMap::from([("bench".to_owned(), "00000000".to_owned())]),
                    }),
                    ..Default::default()
                },
            )),
        }),
    }
    .encoded_len()
}

/// `system` reduced to its leader.
async fn leader_only(system: System) -> System {
    let deadline = Instant::now() + SETUP_PATIENCE;
    loop {
        match &system {
            System::Fulcrum {
                name,
                clients,
                addresses,
                load_balancer_id,
            } => {
                if let Some(leader) = fulcrum_leader(clients, addresses).await {
                    return System::Fulcrum {
                        name,
                        clients: vec![clients[leader].clone()],
                        addresses: vec![addresses[leader].clone()],
                        load_balancer_id: load_balancer_id.clone(),
                    };
                }
            }
            System::Etcd { channels, value } => {
                if let Some(leader) = etcd_leader(channels).await {
                    return System::Etcd {
                        channels: vec![channels[leader].clone()],
                        value: value.clone(),
                    };
                }
            }
        }
        if Instant::now() > deadline {
            fail(&format!("no leader found in {}", system.name()));
        }
        tokio::time::sleep(SETUP_BACKOFF).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: fulcrum-bench-control FULCRUM_BIN ETCD_BIN DIR [SECONDS] [ROUNDS] [all|leader]\n   or: fulcrum-bench-control tls FULCRUM_BIN DIR [SECONDS] [ROUNDS] [all|leader]";
    let tls = args.get(1).map(String::as_str) == Some("tls");
    let (fulcrum_binary, etcd_binary, directory, rest) = match tls {
        true if args.len() >= 4 => (
            PathBuf::from(&args[2]),
            None,
            PathBuf::from(&args[3]),
            &args[4..],
        ),
        false if args.len() >= 4 => (
            PathBuf::from(&args[1]),
            Some(PathBuf::from(&args[2])),
            PathBuf::from(&args[3]),
            &args[4..],
        ),
        _ => fail(usage),
    };
    let seconds: u64 = rest
        .first()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10);
    let rounds: usize = rest.get(1).and_then(|text| text.parse().ok()).unwrap_or(3);
    let targets = match rest.get(2).map(String::as_str) {
        None | Some("all") => Targets::All,
        Some("leader") => Targets::Leader,
        Some(other) => fail(&format!("targets {other:?}: write all or leader")),
    };

    let mut processes = Processes(Vec::new());
    let plain_addresses = apis(cluster::start_fulcrum(
        &fulcrum_binary,
        &directory.join("plain"),
        &mut processes,
        |_| Vec::new(),
    ));
    let first = fulcrum_system("fulcrum", plain_addresses, &Credentials::default()).await;
    let System::Fulcrum {
        load_balancer_id, ..
    } = &first
    else {
        fail("the first system is Fulcrum");
    };
    let envelope = envelope_bytes(load_balancer_id);
    let second = match &etcd_binary {
        Some(etcd_binary) => {
            let etcd_addresses = start_etcd(etcd_binary, &directory, &mut processes);
            let mut channels = Vec::new();
            for address in &etcd_addresses {
                channels.push(channel(address).await);
            }
            // etcd's value: as many bytes as Fulcrum's command's log envelope.
            System::Etcd {
                channels,
                value: vec![b'x'; envelope],
            }
        }
        None => {
            let secure = Secure::create(&directory.join("pki"));
            let addresses = apis(cluster::start_fulcrum(
                &fulcrum_binary,
                &directory.join("secure"),
                &mut processes,
                |id| secure.flags(id),
            ));
            fulcrum_system("fulcrum+tls", addresses, &secure.credentials).await
        }
    };
    let (first, second) = match targets {
        Targets::All => (first, second),
        Targets::Leader => (leader_only(first).await, leader_only(second).await),
    };
    // Warm both up (and let etcd elect its leader).
    for system in [&first, &second] {
        let deadline = Instant::now() + SETUP_PATIENCE;
        while system.operate(0, 0).await.is_err() {
            if Instant::now() > deadline {
                fail(&format!("{} does not accept writes", system.name()));
            }
            tokio::time::sleep(SETUP_BACKOFF).await;
        }
        measure(system, 16, 2).await;
    }

    let (a, b) = (first.name(), second.name());
    println!(
        "control plane: 3 members each, {seconds} s per run, {rounds} rounds, medians; envelope {envelope} bytes; sent to {}",
        if targets == Targets::All {
            "all members, round-robin"
        } else {
            "the leader"
        }
    );
    println!(
        "{:>11}  {:>14} {:>14} {:>7}  {:>9} {:>9} {:>7}  {:>9} {:>9} {:>7}  {:>6}",
        "concurrency",
        format!("{a} op/s"),
        format!("{b} op/s"),
        "ratio",
        "1 p50 ms",
        "2 p50 ms",
        "ratio",
        "1 p99 ms",
        "2 p99 ms",
        "ratio",
        "errors"
    );
    for concurrency in CONCURRENCY {
        let mut results: BTreeMap<&str, Vec<Figures>> = BTreeMap::new();
        for _ in 0..rounds {
            for system in [&first, &second] {
                let figures = measure(system, concurrency, seconds).await;
                results.entry(system.name()).or_default().push(figures);
            }
        }
        let summary = |name: &str| {
            let runs = results.get(name).map(Vec::as_slice).unwrap_or_default();
            (
                median(runs.iter().map(|f| f.per_second).collect()),
                median(runs.iter().map(|f| f.p50.as_secs_f64() * 1e3).collect()),
                median(runs.iter().map(|f| f.p99.as_secs_f64() * 1e3).collect()),
                runs.iter().map(|f| f.errors).sum::<usize>(),
            )
        };
        let (a_rate, a_p50, a_p99, a_errors) = summary(a);
        let (b_rate, b_p50, b_p99, b_errors) = summary(b);
        println!(
            "{concurrency:>11}  {a_rate:>14.0} {b_rate:>14.0} {:>7.2}  {a_p50:>9.2} {b_p50:>9.2} {:>7.2}  {a_p99:>9.2} {b_p99:>9.2} {:>7.2}  {:>6}",
            a_rate / b_rate,
            a_p50 / b_p50,
            a_p99 / b_p99,
            format!("{a_errors}/{b_errors}"),
        );
    }
}
