//! The control plane at scale: three Fulcrum agents as processes on this
//! machine, a catalog grown to each size in turn (every Load Balancer with an
//! EIP, a group of ten members and an HTTP listener), and at each size:
//!
//! - propagation: `CreateListener` returning (sent to a follower) → the first
//!   `GET /` answered 200 through the EIP on the new port, p50 and p99;
//! - the commit latency of a description update, p50 and p99, sent
//!   round-robin to the members;
//! - each agent's resident memory, and per Load Balancer above the smallest
//!   size;
//! - the snapshots built while the catalog grew (count, mean build time, size).
//!
//! At the largest size, forwarding while the catalog changes: HTTP latency
//! through one listener (keep-alive clients) with and without 200 member
//! weight changes per second on other Load Balancers, rounds alternating.
//! It reports; it never fails on a figure.
//!
//! ```text
//! fulcrum-bench-scale FULCRUM_BIN DIR [SIZES] [SAMPLES] [SECONDS] [ROUNDS]
//! ```
//!
//! SIZES is a comma-separated list (default `10,1000,10000`); SAMPLES the
//! propagation and update samples per size (default 50); SECONDS and ROUNDS
//! the forwarding runs (default 10 s, 3 rounds each way).

// A report printed for people: printing is its job.
#![allow(clippy::print_stdout)]

#[path = "bench_support/cluster.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fulcrum_api::{Client, Credentials, v1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use cluster::{Processes, SETUP_BACKOFF, SETUP_PATIENCE, fail, setup_failed};

/// Members per group, each on its own instance and backend.
const MEMBERS: usize = 10;
/// Load Balancers created at once while the catalog grows.
const POPULATE_CONCURRENCY: usize = 32;
/// The port of every Load Balancer's listener (each on its own EIP).
const LISTENER_PORT: u16 = 8080;
/// The first port of the listeners created to measure propagation.
const PROBE_PORT: u16 = 9000;
/// Member weight changes per second on other Load Balancers while
/// forwarding is measured.
const UPDATES_PER_SECOND: u64 = 200;
/// Keep-alive HTTP clients through the measured listener.
const HTTP_CLIENTS: usize = 8;
/// How long a new listener may take to answer before the run fails.
const PROPAGATION_PATIENCE: Duration = Duration::from_secs(10);
/// The pause between two polls of a new listener: the resolution of the
/// propagation figure.
const PROPAGATION_POLL: Duration = Duration::from_micros(200);
/// Attempts at one write that found no leader or timed out.
const WRITE_ATTEMPTS: usize = 20;
/// The largest HTTP response head the clients read.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// A Load Balancer of the catalog, as the measurements use it.
#[derive(Clone)]
struct Built {
    load_balancer_id: String,
    group_id: String,
    member_id: String,
    address: Ipv4Addr,
}

/// The cluster and what every Load Balancer is built on.
struct Setup {
    clients: Vec<Client>,
    /// Index of a member that does not lead: writes that measure go there.
    follower: usize,
    network_id: String,
    subnet_id: String,
    /// Instance id and its backend's port.
    instances: Vec<(String, u16)>,
}

/// A backend at `address`: answers every request `200 ok`, keep-alive.
async fn backend(address: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(address).await?;
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 4096];
                let mut seen = Vec::new();
                loop {
                    let Ok(n) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                    while let Some(end) = find(&seen, b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// How one exchange on a keep-alive connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exchange {
    /// A 200.
    Ok,
    /// A whole response, not a 200.
    NotOk,
    /// The connection ended (or the response was too long) first.
    Cut,
}

/// Failed exchanges by how they failed.
#[derive(Clone, Copy, Debug, Default)]
struct Failures {
    /// The connection was refused or timed out.
    connect: usize,
    /// The connection was cut before a whole response.
    cut: usize,
    /// A response that was not a 200.
    not_ok: usize,
}

impl Failures {
    fn add(&mut self, other: Failures) {
        self.connect += other.connect;
        self.cut += other.cut;
        self.not_ok += other.not_ok;
    }
}

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "failures: {} connect, {} cut, {} not 200",
            self.connect, self.cut, self.not_ok
        )
    }
}

/// Reads one response on a keep-alive connection.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Exchange {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return Exchange::Cut,
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                }
            }
            return if head.starts_with("http/1.1 200") {
                Exchange::Ok
            } else {
                Exchange::NotOk
            };
        }
        if buffer.len() > MAX_RESPONSE_BYTES {
            return Exchange::Cut;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Exchange::Cut,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Whether `address` answers `GET /` with 200 now.
async fn served(address: SocketAddr) -> bool {
    let connected = tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(address));
    let Ok(Ok(mut stream)) = connected.await else {
        return false;
    };
    if stream
        .write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buffer = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(1),
        read_response(&mut stream, &mut buffer),
    )
    .await
        == Ok(Exchange::Ok)
}

/// Sends `request` through `write` until it is answered, retrying while the cluster has no
/// leader or is slow to answer (the client token makes a retry safe).
async fn retried<R, T, F, Fut>(step: &str, request: R, mut write: F) -> T
where
    R: Clone,
    F: FnMut(R) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let mut attempt = 0;
    loop {
        match write(request.clone()).await {
            Ok(reply) => return reply.into_inner(),
            Err(status)
                if attempt + 1 < WRITE_ATTEMPTS
                    && matches!(
                        status.code(),
                        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                    ) =>
            {
                attempt += 1;
                tokio::time::sleep(SETUP_BACKOFF).await;
            }
            Err(status) => setup_failed(step, status),
        }
    }
}

/// Creates Load Balancer number `n`: its EIP, its group and its listener.
async fn build(setup: &Setup, client: &Client, n: usize) -> Built {
    let token = |step: &str| format!("scale-{n}-{step}");
    let lb = retried(
        "a Load Balancer",
        v1::CreateLoadBalancerRequest {
            client_token: token("lb"),
            name: format!("lb-{n:05}"),
            network_id: setup.network_id.clone(),
            subnet_id: setup.subnet_id.clone(),
            ..Default::default()
        },
        |request| async move { client.load_balancers().create_load_balancer(request).await },
    )
    .await
    .load_balancer
    .unwrap_or_default();
    let eip = retried(
        "an EIP",
        v1::AllocateEipRequest {
            client_token: token("eip"),
            ..Default::default()
        },
        |request| async move { client.eips().allocate_eip(request).await },
    )
    .await
    .eip
    .unwrap_or_default();
    retried(
        "an association",
        v1::AssociateEipRequest {
            client_token: token("associate"),
            load_balancer_id: lb.id.clone(),
            eip_id: eip.id.clone(),
        },
        |request| async move { client.load_balancers().associate_eip(request).await },
    )
    .await;
    let group = retried(
        "a group",
        v1::CreateGroupRequest {
            client_token: token("group"),
            load_balancer_id: lb.id.clone(),
            name: "web".into(),
            members: setup
                .instances
                .iter()
                .map(|(instance_id, port)| v1::MemberSpec {
                    instance_id: instance_id.clone(),
                    port: u32::from(*port),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        |request| async move { client.groups().create_group(request).await },
    )
    .await
    .group
    .unwrap_or_default();
    retried(
        "a listener",
        v1::CreateListenerRequest {
            client_token: token("listener"),
            load_balancer_id: lb.id.clone(),
            name: "http".into(),
            protocol: v1::Protocol::Http.into(),
            port: u32::from(LISTENER_PORT),
            default_group_id: group.id.clone(),
            ..Default::default()
        },
        |request| async move { client.listeners().create_listener(request).await },
    )
    .await;
    Built {
        load_balancer_id: lb.id,
        member_id: group
            .members
            .first()
            .map(|member| member.id.clone())
            .unwrap_or_default(),
        group_id: group.id,
        address: eip.address.parse().unwrap_or(Ipv4Addr::UNSPECIFIED),
    }
}

/// Grows the catalog to `size` Load Balancers, spreading the writes over
/// the members.
async fn grow(setup: &Arc<Setup>, built: &mut Vec<Built>, size: usize) -> Duration {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(built.len()));
    let mut workers = Vec::new();
    for worker in 0..POPULATE_CONCURRENCY {
        let setup = Arc::clone(setup);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            let client = &setup.clients[worker % setup.clients.len()];
            let mut built = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= size {
                    return built;
                }
                built.push((n, build(&setup, client, n).await));
            }
        }));
    }
    let mut created = Vec::new();
    for worker in workers {
        created.extend(
            worker
                .await
                .unwrap_or_else(|error| fail(&error.to_string())),
        );
    }
    created.sort_by_key(|(n, _)| *n);
    built.extend(created.into_iter().map(|(_, lb)| lb));
    started.elapsed()
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Propagation samples: a listener created on the first Load Balancer
/// through a follower, polled until it answers, then deleted.
async fn propagation(setup: &Setup, probe: &Built, samples: usize) -> Vec<Duration> {
    let client = &setup.clients[setup.follower];
    let mut latencies = Vec::with_capacity(samples);
    for n in 0..samples {
        let port = PROBE_PORT + n as u16;
        let listener = client
            .listeners()
            .create_listener(v1::CreateListenerRequest {
                load_balancer_id: probe.load_balancer_id.clone(),
                name: format!("probe-{n}"),
                protocol: v1::Protocol::Http.into(),
                port: u32::from(port),
                default_group_id: probe.group_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|status| setup_failed("a probe listener", status))
            .into_inner()
            .listener
            .unwrap_or_default();
        let created = Instant::now();
        let address = SocketAddr::from((probe.address, port));
        while !served(address).await {
            if created.elapsed() > PROPAGATION_PATIENCE {
                fail(&format!("{address} was not served within 10 s"));
            }
            tokio::time::sleep(PROPAGATION_POLL).await;
        }
        latencies.push(created.elapsed());
        client
            .listeners()
            .delete_listener(v1::DeleteListenerRequest {
                id: listener.id,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|status| setup_failed("deleting a probe listener", status));
    }
    latencies.sort();
    latencies
}

/// Description updates, one after another, round-robin over the members.
async fn description_updates(
    setup: &Setup,
    built: &[Built],
    samples: usize,
    round: usize,
) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(samples);
    for n in 0..samples {
        // Spread over the catalog, not always the newest Load Balancers.
        let lb = &built[(n * 7919) % built.len()];
        let sent = Instant::now();
        setup.clients[n % setup.clients.len()]
            .load_balancers()
            .update_load_balancer(v1::UpdateLoadBalancerRequest {
                id: lb.load_balancer_id.clone(),
                description: Some(format!("round {round}, update {n}")),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|status| setup_failed("a description update", status));
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    latencies
}

/// Resident memory of process `pid`, in bytes.
fn resident_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmRSS:")
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .map_or(0, |kib: u64| kib * 1024)
}

/// The value of `name` (no labels) on `/metrics` at `http`.
async fn scrape(http: &str, name: &str) -> f64 {
    let Ok(mut stream) = TcpStream::connect(http).await else {
        return f64::NAN;
    };
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return f64::NAN;
    }
    let mut text = String::new();
    if stream.read_to_string(&mut text).await.is_err() {
        return f64::NAN;
    }
    text.lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|value| value.trim().parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// Snapshot figures summed over the agents: built, seconds spent, and the
/// largest last size.
async fn snapshots(agents: &[cluster::Agent]) -> (f64, f64, f64) {
    let mut built = 0.0;
    let mut seconds = 0.0;
    let mut size: f64 = 0.0;
    for agent in agents {
        built += scrape(
            &agent.http,
            "fulcrum_raft_snapshot_build_duration_seconds_count",
        )
        .await;
        seconds += scrape(
            &agent.http,
            "fulcrum_raft_snapshot_build_duration_seconds_sum",
        )
        .await;
        size = size.max(scrape(&agent.http, "fulcrum_raft_snapshot_size_bytes").await);
    }
    (built, seconds, size)
}

/// HTTP latencies through `address` for `seconds`, keep-alive clients.
async fn forward(address: SocketAddr, seconds: u64) -> (Vec<Duration>, Failures) {
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for _ in 0..HTTP_CLIENTS {
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = Failures::default();
            let mut buffer = Vec::with_capacity(4096);
            'connections: while Instant::now() < end {
                let Ok(mut stream) = TcpStream::connect(address).await else {
                    failures.connect += 1;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                while Instant::now() < end {
                    let sent = Instant::now();
                    let exchange = if stream
                        .write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
                        .await
                        .is_err()
                    {
                        Exchange::Cut
                    } else {
                        read_response(&mut stream, &mut buffer).await
                    };
                    match exchange {
                        Exchange::Ok => latencies.push(sent.elapsed()),
                        Exchange::NotOk => failures.not_ok += 1,
                        Exchange::Cut => {
                            failures.cut += 1;
                            continue 'connections;
                        }
                    }
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = Failures::default();
    for client in clients {
        if let Ok((mine, failed)) = client.await {
            latencies.extend(mine);
            failures.add(failed);
        }
    }
    latencies.sort();
    (latencies, failures)
}

/// Member weight changes on Load Balancers other than the first, at
/// [`UPDATES_PER_SECOND`], until `stop`; answers how many were committed.
async fn churn(setup: Arc<Setup>, built: Arc<Vec<Built>>, stop: Arc<AtomicBool>) -> usize {
    let period = Duration::from_micros(1_000_000 / UPDATES_PER_SECOND);
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let committed = Arc::new(AtomicUsize::new(0));
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let others = built.len() - 1;
        if others == 0 {
            break;
        }
        let target = built[1 + n % others].clone();
        let client = setup.clients[n % setup.clients.len()].clone();
        let committed = Arc::clone(&committed);
        let weight = 1 + (n / others) as u32 % 50;
        tokio::spawn(async move {
            let updated = client
                .groups()
                .update_member(v1::UpdateMemberRequest {
                    group_id: target.group_id,
                    member_id: target.member_id,
                    weight: Some(weight),
                    ..Default::default()
                })
                .await;
            if updated.is_ok() {
                committed.fetch_add(1, Ordering::Relaxed);
            }
        });
        n += 1;
    }
    committed.load(Ordering::Relaxed)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: fulcrum-bench-scale FULCRUM_BIN DIR [SIZES] [SAMPLES] [SECONDS] [ROUNDS]";
    if args.len() < 3 {
        fail(usage);
    }
    let (binary, directory) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let sizes: Vec<usize> = args
        .get(3)
        .map_or("10,1000,10000", String::as_str)
        .split(',')
        .map(|size| {
            size.parse()
                .unwrap_or_else(|_| fail(&format!("size {size:?}: a number")))
        })
        .collect();
    let number = |n: usize, default: u64| {
        args.get(n)
            .map_or(Ok(default), |text| text.parse())
            .unwrap_or_else(|_| fail(usage))
    };
    let samples = number(4, 50) as usize;
    let seconds = number(5, 10);
    let rounds = number(6, 3) as usize;
    let largest = sizes.iter().copied().max().unwrap_or(0);
    if largest == 0 || sizes.contains(&0) {
        fail("every size must be at least 1");
    }

    let mut processes = Processes(Vec::new());
    let agents = cluster::start_fulcrum(&binary, &directory, &mut processes, |_| {
        [
            "--eip-pool",
            "127.77.0.0/16",
            "--dataplane-threads",
            "1",
            "--snapshot-interval-entries",
            "10000",
        ]
        .map(Into::into)
        .to_vec()
    });
    let addresses: Vec<String> = agents.iter().map(|agent| agent.api.clone()).collect();
    let clients = cluster::connect(&addresses, &Credentials::default()).await;
    let deadline = Instant::now() + SETUP_PATIENCE;
    let leader = loop {
        if let Some(leader) = cluster::fulcrum_leader(&clients, &addresses).await {
            break leader;
        }
        if Instant::now() > deadline {
            fail("no leader");
        }
        tokio::time::sleep(SETUP_BACKOFF).await;
    };
    let follower = (leader + 1) % clients.len();
    let leader_client = &clients[leader];
    let settings = retried(
        "the quotas",
        v1::UpdateClusterSettingsRequest {
            client_token: "scale-quotas".into(),
            quotas: Some(v1::Quotas {
                load_balancers: 10_000,
                listeners_per_load_balancer: 50,
                groups_per_load_balancer: 50,
                members_per_group: 200,
                eips: Some(10_000),
                ..Default::default()
            }),
            ..Default::default()
        },
        |request| async move {
            leader_client
                .cluster()
                .update_cluster_settings(request)
                .await
        },
    )
    .await;
    drop(settings);
    let network = retried(
        "a network",
        v1::CreateNetworkRequest {
            client_token: "scale-network".into(),
            name: "loopback".into(),
            cidr: "127.0.0.0/16".into(),
            ..Default::default()
        },
        |request| async move { leader_client.networks().create_network(request).await },
    )
    .await
    .network
    .unwrap_or_default();
    let subnet = retried(
        "a subnet",
        v1::CreateSubnetRequest {
            client_token: "scale-subnet".into(),
            name: "backends".into(),
            network_id: network.id.clone(),
            cidr: "127.0.1.0/24".into(),
            ..Default::default()
        },
        |request| async move { leader_client.networks().create_subnet(request).await },
    )
    .await
    .subnet
    .unwrap_or_default();
    let ports = cluster::free_ports(MEMBERS);
    let mut instances = Vec::new();
    for (n, port) in ports.iter().enumerate() {
        let address = Ipv4Addr::new(127, 0, 1, 10 + n as u8);
        backend(SocketAddr::from((address, *port)))
            .await
            .unwrap_or_else(|error| fail(&format!("backend {address}:{port}: {error}")));
        let instance = retried(
            "an instance",
            v1::CreateInstanceRequest {
                client_token: format!("scale-instance-{n}"),
                name: format!("web-{n}"),
                subnet_id: subnet.id.clone(),
                address: address.to_string(),
                ..Default::default()
            },
            |request| async move { leader_client.networks().create_instance(request).await },
        )
        .await
        .instance
        .unwrap_or_default();
        instances.push((instance.id, *port));
    }
    let setup = Arc::new(Setup {
        clients,
        follower,
        network_id: network.id,
        subnet_id: subnet.id,
        instances,
    });
    let mut built = Vec::new();

    println!(
        "control plane at scale: 3 agents (processes), each Load Balancer with an EIP, a group of {MEMBERS} members and an HTTP listener; {samples} samples per figure"
    );
    println!(
        "{:>6}  {:>9}  {:>9} {:>9}  {:>9} {:>9}  {:>26}  {:>9}  {:>22}",
        "LBs",
        "grown s",
        "prop p50",
        "prop p99",
        "desc p50",
        "desc p99",
        "RSS MiB per agent",
        "KiB / LB",
        "snapshots n, mean s, MiB"
    );
    let mut baseline: Option<(usize, Vec<u64>)> = None;
    let mut previous = (0.0, 0.0);
    for (round, size) in sizes.iter().copied().enumerate() {
        let grown = grow(&setup, &mut built, size).await;
        let propagated = propagation(&setup, &built[0], samples).await;
        let updates = description_updates(&setup, &built, samples, round).await;
        let resident: Vec<u64> = agents
            .iter()
            .map(|agent| resident_bytes(agent.pid))
            .collect();
        let per_lb = match &baseline {
            Some((lbs, before)) if size > *lbs => {
                let grown_bytes: f64 = resident
                    .iter()
                    .zip(before)
                    .map(|(now, then)| *now as f64 - *then as f64)
                    .sum::<f64>()
                    / resident.len() as f64;
                format!("{:.1}", grown_bytes / 1024.0 / (size - lbs) as f64)
            }
            _ => "-".to_owned(),
        };
        if baseline.is_none() {
            baseline = Some((size, resident.clone()));
        }
        let (built, spent, size_bytes) = snapshots(&agents).await;
        let (new_built, new_spent) = (built - previous.0, spent - previous.1);
        previous = (built, spent);
        println!(
            "{size:>6}  {:>9.1}  {:>9.2} {:>9.2}  {:>9.2} {:>9.2}  {:>26}  {per_lb:>9}  {:>22}",
            grown.as_secs_f64(),
            ms(percentile(&propagated, 0.50)),
            ms(percentile(&propagated, 0.99)),
            ms(percentile(&updates, 0.50)),
            ms(percentile(&updates, 0.99)),
            resident
                .iter()
                .map(|bytes| format!("{:.0}", *bytes as f64 / f64::from(1 << 20)))
                .collect::<Vec<_>>()
                .join(" / "),
            if new_built > 0.0 {
                format!(
                    "{new_built:.0}, {:.3}, {:.1}",
                    new_spent / new_built,
                    size_bytes / f64::from(1 << 20)
                )
            } else {
                "none built".to_owned()
            },
        );
    }

    let built = Arc::new(built);
    let address = SocketAddr::from((built[0].address, LISTENER_PORT));
    println!(
        "forwarding at {} LBs: GET / through {address}, {HTTP_CLIENTS} keep-alive clients, {seconds} s per run, {rounds} rounds each way, medians",
        built.len()
    );
    let mut figures: BTreeMap<bool, Vec<(f64, f64, f64, Failures)>> = BTreeMap::new();
    let mut committed = 0;
    for _ in 0..rounds {
        for churning in [false, true] {
            let stop = Arc::new(AtomicBool::new(false));
            let updater = churning.then(|| {
                tokio::spawn(churn(
                    Arc::clone(&setup),
                    Arc::clone(&built),
                    Arc::clone(&stop),
                ))
            });
            let (latencies, failures) = forward(address, seconds).await;
            stop.store(true, Ordering::Relaxed);
            if let Some(updater) = updater {
                committed += updater.await.unwrap_or(0);
            }
            figures.entry(churning).or_default().push((
                latencies.len() as f64 / seconds as f64,
                ms(percentile(&latencies, 0.50)),
                ms(percentile(&latencies, 0.99)),
                failures,
            ));
        }
    }
    for (churning, runs) in &figures {
        println!(
            "  {:<34} {:>9.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  {}",
            if *churning {
                format!("{UPDATES_PER_SECOND} weight changes/s elsewhere")
            } else {
                "no changes".to_owned()
            },
            median(runs.iter().map(|run| run.0).collect()),
            median(runs.iter().map(|run| run.1).collect()),
            median(runs.iter().map(|run| run.2).collect()),
            runs.iter().fold(Failures::default(), |mut all, run| {
                all.add(run.3);
                all
            }),
        );
    }
    println!(
        "  weight changes committed while churning: {committed} in {} s",
        seconds * rounds as u64
    );
}
