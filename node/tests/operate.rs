//! Operating a cluster: a backup taken under write load restores into a
//! new cluster with the same state, which grows back to three and serves
//! the guide's traffic; a cluster that lost its quorum for good is forced
//! into a new one from a survivor's data and grows back by joins.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use fulcrum_api::{Client, v1};
use fulcrum_node::agent::Agent;
use fulcrum_node::config::{Membership, Seed};
use fulcrum_raft_store::domain::State;
use fulcrum_raft_store::raft::Store;
use openraft::{EntryPayload, RaftLogReader};
use sha2::{Digest, Sha256};
use support::guide::{free_port, serves_both, serving_cluster, the_guide};
use support::{Member, PATIENCE, cluster_with, configs, leader};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// The cluster's status as `member` answers it alone, with its digest.
async fn local_status(member: &Member) -> v1::GetClusterStatusResponse {
    member
        .client()
        .await
        .cluster()
        .get_cluster_status(v1::GetClusterStatusRequest {
            read: Some(v1::ReadOptions {
                consistency: v1::ReadConsistency::Local as i32,
            }),
            include_state_digest: true,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Creates networks until `stop`, each with a client token, retrying an
/// unknown outcome with the same token; counts the acknowledged ones.
fn write_load(
    client: Client,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0u32;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let request = v1::CreateNetworkRequest {
                client_token: format!("load-{n}"),
                name: format!("load-{n}"),
                cidr: format!("10.{}.{}.0/24", n / 256 % 256, n % 256),
                ..Default::default()
            };
            loop {
                match client.networks().create_network(request.clone()).await {
                    Ok(_) => {
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(status) if status.code() == tonic::Code::Unavailable => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    Err(status) => panic!("a load write failed: {status}"),
                }
            }
        }
    })
}

/// The state a stopped member's own log leads to at `index`, replayed from
/// the start: an account of the source that does not go through backups.
async fn replayed_at(data_dir: &Path, index: u64) -> State {
    let store = Store::open(data_dir).unwrap();
    let mut log = store.log_store();
    let mut state = State::default();
    for entry in log.try_get_log_entries(1..=index).await.unwrap() {
        if let EntryPayload::Normal(proposal) = &entry.payload {
            state
                .apply(entry.log_id.index, proposal.envelope())
                .unwrap();
        }
    }
    state
}

fn sha256_of(state: &State) -> Vec<u8> {
    Sha256::digest(state.to_snapshot_bytes().unwrap()).to_vec()
}

/// Waits until `members` hold equal projections.
async fn converged(members: &[Member]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let first = members[0].projection_bytes();
        if members
            .iter()
            .all(|member| member.projection_bytes() == first)
        {
            return;
        }
        assert!(Instant::now() < deadline, "the members did not converge");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Starts a new member `id` that joins the cluster through `through` (an
/// API address), with an empty data directory.
async fn joiner(id: u64, through: &str) -> Member {
    let (mut config, listeners, directory) = configs(1, 0).await.pop().unwrap();
    config.node_id = id;
    config.membership = Membership::Join(through.to_owned());
    let mut member = Member {
        config,
        listeners: Some(listeners),
        agent: None,
        directory,
    };
    member.start().await;
    member
}

/// Waits until the cluster `member` leads has these voters.
async fn voters(member: &Member, expected: usize) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = local_status(member).await;
        let count = status
            .members
            .iter()
            .filter(|m| m.role == v1::ClusterRole::Voter as i32)
            .count();
        if count == expected {
            return;
        }
        assert!(Instant::now() < deadline, "{count} voters, not {expected}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_restores_the_same_state_and_serves_the_guide() {
    // Logs are kept (no snapshot) so a source's own log can account for
    // the backup's index independently.
    let mut source = cluster_with(3, 3, |config| {
        config.raft.snapshot_interval_entries = 1_000_000;
    })
    .await;
    let leader_id = leader(&source).await;
    let lead = &source[(leader_id - 1) as usize];
    lead.bootstrapped().await;
    let client = lead.client().await;
    let port = free_port().await;
    let eip = the_guide(&client, port).await;
    serves_both(SocketAddr::from((eip, port as u16))).await;

    // The backup, with the CLI, through a follower (it hands the call to
    // the leader), while writes go on.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let load = write_load(client.clone(), stop.clone(), acknowledged.clone());
    while acknowledged.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let follower = source.iter().find(|m| m.id() != leader_id).unwrap();
    let file = follower.directory.path().join("cluster.backup");
    let (endpoint, target) = (follower.api(), file.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
            .args(["--endpoint", &endpoint, "-o", "json", "backup", "create"])
            .arg(&target)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let written: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    while acknowledged.load(Ordering::Relaxed) < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();

    let (header, backed_up) = fulcrum_raft_store::backup::read(&file).unwrap();
    assert_eq!(written["logIndex"].as_u64(), Some(header.log_index));
    assert_eq!(header.node_id, leader_id, "the leader read it");
    let source_id = local_status(lead).await.cluster_id;
    assert_eq!(header.cluster_id, source_id);
    assert!(
        local_status(lead).await.state_log_index > header.log_index,
        "the load went on after the backup"
    );

    // Every source node stops (the EIP is free again); a follower's own log,
    // replayed to the backup's index, is the backup's state exactly.
    for member in &mut source {
        member.stop().await;
    }
    let replayed = replayed_at(&follower_dir(&source, leader_id), header.log_index).await;
    assert_eq!(
        sha256_of(&replayed),
        header.state_sha256,
        "the source at that index"
    );
    assert_eq!(replayed, backed_up);

    // A new cluster from the backup: one node, the same state at the same
    // index, a new cluster id; then two nodes join it.
    let (mut config, listeners, directory) = configs(1, 0).await.pop().unwrap();
    config.seed = Some(Seed::Restore(file.clone()));
    let mut restored = Member {
        config,
        listeners: Some(listeners),
        agent: None,
        directory,
    };
    restored.start().await;
    leader(std::slice::from_ref(&restored)).await;
    let status = local_status(&restored).await;
    assert_eq!(status.state_log_index, header.log_index);
    assert_eq!(
        status.state_digest, header.state_sha256,
        "the restored state is the backup's"
    );
    assert_ne!(
        status.cluster_id, source_id,
        "a restored cluster is a new cluster"
    );

    let mut cluster = vec![restored];
    let through = cluster[0].api();
    cluster.push(joiner(2, &through).await);
    cluster.push(joiner(3, &through).await);
    voters(&cluster[0], 3).await;
    converged(&cluster).await;

    // The guide's traffic, served by the restored cluster's leader.
    serves_both(SocketAddr::from((eip, port as u16))).await;
    // And it takes writes, at the revision after the backup's.
    let created = cluster[0]
        .client()
        .await
        .networks()
        .create_network(v1::CreateNetworkRequest {
            name: "after-restore".into(),
            cidr: "10.250.0.0/16".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        created.revision,
        backed_up.revision() + 1,
        "revisions go on from the backup's"
    );
    for member in &mut cluster {
        member.stop().await;
    }
}

/// The data directory of a member that followed.
fn follower_dir(members: &[Member], leader_id: u64) -> std::path::PathBuf {
    members
        .iter()
        .find(|m| m.id() != leader_id)
        .unwrap()
        .config
        .data_dir
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_quorum_is_forced_into_a_new_cluster_that_grows_back() {
    let mut members = cluster_with(3, 3, |_| {}).await;
    let leader_id = leader(&members).await;
    let client = members[(leader_id - 1) as usize].client().await;
    let mut names = Vec::new();
    for n in 0..5 {
        let name = format!("kept-{n}");
        client
            .networks()
            .create_network(v1::CreateNetworkRequest {
                name: name.clone(),
                cidr: format!("10.{n}.0.0/16"),
                ..Default::default()
            })
            .await
            .unwrap();
        names.push(name);
    }
    // Every member has everything; then nodes 2 and 3 lose their data for good.
    converged(&members).await;
    let old_id = local_status(&members[0]).await.cluster_id;
    for member in &mut members {
        member.stop().await;
    }
    for member in &members[1..] {
        std::fs::remove_dir_all(&member.config.data_dir).unwrap();
    }

    // Node 1 alone cannot lead a cluster of three; forced, it leads one of itself.
    let survivor = &mut members[0];
    survivor.config.seed = Some(Seed::ForceNewCluster);
    survivor.start().await;
    leader(std::slice::from_ref(&*survivor)).await;
    let status = local_status(survivor).await;
    assert_ne!(status.cluster_id, old_id);
    assert_eq!(status.members.len(), 1);
    let listed = survivor
        .client()
        .await
        .networks()
        .list_networks(v1::ListNetworksRequest::default())
        .await
        .unwrap()
        .into_inner();
    for name in &names {
        assert!(
            listed.networks.iter().any(|n| &n.name == name),
            "{name} survived"
        );
    }
    let kept_aside = std::fs::read_dir(&survivor.config.data_dir)
        .unwrap()
        .flatten()
        .any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(fulcrum_node::seeding::KEPT_ASIDE_PREFIX)
        });
    assert!(kept_aside, "the old store is kept aside");

    // Still carrying the flag, a restart is refused rather than cutting the
    // cluster down again.
    survivor.stop().await;
    let refused = Agent::start_on(
        survivor.config.clone(),
        TcpListener::bind(survivor.config.api_address)
            .await
            .unwrap(),
        TcpListener::bind(survivor.config.raft_address)
            .await
            .unwrap(),
    )
    .await;
    let error = refused
        .err()
        .expect("a second forcing is refused")
        .to_string();
    assert!(error.contains("remove --force-new-cluster"), "{error}");
    survivor.config.seed = None;
    survivor.start().await;
    leader(std::slice::from_ref(&*survivor)).await;

    // Nodes 2 and 3 come back empty and join: three voters, one state.
    let through = survivor.api();
    for member in &mut members[1..] {
        member.config.membership = Membership::Join(through.clone());
        member.start().await;
    }
    voters(&members[0], 3).await;
    converged(&members).await;
    let written = members[1]
        .client()
        .await
        .networks()
        .create_network(v1::CreateNetworkRequest {
            name: "after".into(),
            cidr: "10.99.0.0/16".into(),
            ..Default::default()
        })
        .await;
    assert!(
        written.is_ok(),
        "the grown cluster takes writes: {written:?}"
    );
    for member in &mut members {
        member.stop().await;
    }
}

/// What a client of the EIP saw: answers, and failures (an error answer, a
/// connection cut mid-request, or no connection within the patience).
#[derive(Debug, Default)]
struct Traffic {
    answered: AtomicU64,
    failed: AtomicU64,
    /// Requests sent again after a refused or reset connection.
    reconnects: AtomicU64,
}

/// How long a client keeps resending a request that found no node holding
/// the EIP.
const CONNECT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// One `GET /` through `address`, as an HTTP client does it across an EIP
/// hand-over: a connection attempt that is refused (the loopback binder
/// answers a SYN with RST while no node holds the EIP; the Linux binder
/// drops it and the client's kernel resends it) is tried again, and so is
/// a request whose connection is reset before any byte of its answer (a
/// listener that closes resets the connections still in its accept queue;
/// browsers and `curl --retry` resend an idempotent GET then), until
/// `CONNECT_PATIENCE`. Anything else but a 200 is a failure: an error
/// answer, an answer cut short, no answer in time.
fn one_request(address: SocketAddr, traffic: &Traffic) -> Result<(), String> {
    use std::io::{Read, Write};
    let started = std::time::Instant::now();
    let resend = |why: String| {
        if started.elapsed() < CONNECT_PATIENCE {
            traffic.reconnects.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_millis(10));
            Ok(())
        } else {
            Err(format!("no answer within {CONNECT_PATIENCE:?}: {why}"))
        }
    };
    loop {
        let mut stream =
            match std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(2))
            {
                Ok(stream) => stream,
                Err(error) => {
                    resend(format!("connecting: {error}"))?;
                    continue;
                }
            };
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        if let Err(error) =
            stream.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        {
            resend(format!("writing: {error}"))?;
            continue;
        }
        let mut response = Vec::new();
        match stream.read_to_end(&mut response) {
            Err(error)
                if response.is_empty() && error.kind() == std::io::ErrorKind::ConnectionReset =>
            {
                resend(format!("reset before an answer: {error}"))?;
                continue;
            }
            Err(error) => return Err(format!("reading: {error}")),
            Ok(_) => {}
        }
        let response = String::from_utf8_lossy(&response);
        return if response.starts_with("HTTP/1.1 200") {
            Ok(())
        } else {
            Err(format!("answered {:?}", response.lines().next()))
        };
    }
}

/// Requests through `address` one after another until `stop`.
fn traffic_loop(
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    traffic: Arc<Traffic>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut failures = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match one_request(address, &traffic) {
                Ok(()) => {
                    traffic.answered.fetch_add(1, Ordering::Relaxed);
                }
                Err(why) => {
                    traffic.failed.fetch_add(1, Ordering::Relaxed);
                    failures.push(why);
                }
            }
        }
        failures
    })
}

/// Whether `status` stands for a broken connection rather than an answer.
fn from_transport(status: &tonic::Status) -> bool {
    std::error::Error::source(status)
        .is_some_and(|source| source.downcast_ref::<tonic::transport::Error>().is_some())
}

/// Updates the Load Balancer `load_balancer_id` until `stop` through any
/// of `endpoints`, each write under its own client token, retried (on
/// another node when one is down) until it is acknowledged; answers the
/// writes that never were.
fn writes_across_nodes(
    endpoints: Vec<String>,
    load_balancer_id: String,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut failed = Vec::new();
        let mut next = 0usize;
        let mut n = 0u32;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let request = v1::UpdateLoadBalancerRequest {
                client_token: format!("rolling-{n}"),
                id: load_balancer_id.clone(),
                description: Some(format!("write {n} of the rolling restart")),
                ..Default::default()
            };
            let deadline = Instant::now() + PATIENCE;
            loop {
                let endpoint = &endpoints[next % endpoints.len()];
                let answer =
                    match Client::connect(endpoint, std::time::Duration::from_secs(1)).await {
                        Ok(client) => client
                            .load_balancers()
                            .update_load_balancer(request.clone())
                            .await
                            .map(|_| ()),
                        Err(error) => Err(tonic::Status::unavailable(error.to_string())),
                    };
                match answer {
                    Ok(()) => {
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    // The outcome is unknown or the node is away (a node
                    // going down may end the connection with GOAWAY under
                    // the request, which tonic reports as an internal
                    // transport error): the same token again, on the next node.
                    Err(status)
                        if (matches!(
                            status.code(),
                            tonic::Code::Unavailable
                                | tonic::Code::DeadlineExceeded
                                | tonic::Code::Unknown
                                | tonic::Code::Cancelled
                        ) || from_transport(&status))
                            && Instant::now() < deadline =>
                    {
                        next += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    Err(status) => {
                        failed.push(format!("{}: {status}", request.client_token));
                        break;
                    }
                }
            }
        }
        failed
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_under_traffic_and_writes_fails_nothing() {
    let (mut members, first_leader, address) = serving_cluster().await;

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = Arc::new(Traffic::default());
    let requests = traffic_loop(address, stop.clone(), traffic.clone());
    let acknowledged = Arc::new(AtomicU64::new(0));
    let endpoints: Vec<String> = members.iter().map(Member::api).collect();
    let load_balancer_id = members[(first_leader - 1) as usize]
        .client()
        .await
        .load_balancers()
        .list_load_balancers(v1::ListLoadBalancersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .load_balancers[0]
        .id
        .clone();
    let writes = writes_across_nodes(
        endpoints,
        load_balancer_id,
        stop.clone(),
        acknowledged.clone(),
    );

    // The documented procedure, node by node, the leader last: drain it
    // (through another node), stop it, start it, wait until it has caught up.
    let mut order: Vec<u64> = members
        .iter()
        .map(Member::id)
        .filter(|id| *id != first_leader)
        .collect();
    order.push(first_leader);
    for id in order {
        let other = members.iter().find(|m| m.id() != id).unwrap().api();
        let drained = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_fulcrum"))
                .args(["--endpoint", &other, "cluster", "drain", &id.to_string()])
                .output()
        })
        .await
        .unwrap()
        .unwrap();
        assert!(
            drained.status.success(),
            "drain {id}: {}",
            String::from_utf8_lossy(&drained.stderr)
        );
        let member = &mut members[(id - 1) as usize];
        assert_ne!(
            member
                .agent
                .as_ref()
                .unwrap()
                .replica()
                .metrics()
                .current_leader,
            Some(id),
            "node {id} leads no more after the drain"
        );
        member.stop().await;
        member.start().await;
        let now_leader = leader(&members).await;
        let target = members[(now_leader - 1) as usize].applied_index();
        let deadline = Instant::now() + PATIENCE;
        while members[(id - 1) as usize].applied_index() < target {
            assert!(Instant::now() < deadline, "node {id} did not catch up");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Some traffic and writes on the cluster as it is now, before the next node.
        let (answered, written) = (
            traffic.answered.load(Ordering::Relaxed),
            acknowledged.load(Ordering::Relaxed),
        );
        let deadline = Instant::now() + PATIENCE;
        while traffic.answered.load(Ordering::Relaxed) < answered + 20
            || acknowledged.load(Ordering::Relaxed) < written + 5
        {
            assert!(
                Instant::now() < deadline,
                "traffic or writes stalled after node {id}: {} answered (from {answered}), {} failed, {} written (from {written})",
                traffic.answered.load(Ordering::Relaxed),
                traffic.failed.load(Ordering::Relaxed),
                acknowledged.load(Ordering::Relaxed)
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let failed_requests = tokio::task::spawn_blocking(move || requests.join().unwrap())
        .await
        .unwrap();
    let failed_writes = writes.await.unwrap();
    println!(
        "rolling restart: {} requests answered, {} failed, {} sent again after a refused or reset connection; {} writes acknowledged, {} failed",
        traffic.answered.load(Ordering::Relaxed),
        failed_requests.len(),
        traffic.reconnects.load(Ordering::Relaxed),
        acknowledged.load(Ordering::Relaxed),
        failed_writes.len()
    );
    assert!(
        failed_requests.is_empty(),
        "failed requests: {failed_requests:?}"
    );
    assert!(failed_writes.is_empty(), "failed writes: {failed_writes:?}");
    converged(&members).await;
    for member in &mut members {
        member.stop().await;
    }
}

/// The status line of `GET path` on the HTTP port at `address`.
fn status_line(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

/// The health the node at `address` reports, if it answers.
async fn health_at(
    address: &str,
) -> Option<tonic_health::pb::health_check_response::ServingStatus> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .ok()?
        .connect()
        .await
        .ok()?;
    let answer = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .ok()?;
    Some(answer.into_inner().status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_entry_of_a_newer_log_format_stops_applying_without_a_crash_loop() {
    use fulcrum_api::LOG_FORMAT_VERSION;
    use fulcrum_raft_store::raft::Proposal;
    use tonic_health::pb::health_check_response::ServingStatus;

    let mut members = cluster_with(3, 3, |_| {}).await;
    let leader_id = leader(&members).await;
    let lead = &members[(leader_id - 1) as usize];
    lead.bootstrapped().await;
    // What a newer build, leading during an upgrade, would write.
    let newer = LOG_FORMAT_VERSION + 1;
    let _ = lead
        .agent
        .as_ref()
        .unwrap()
        .replica()
        .raft()
        .client_write(Proposal::new(v1::LogEnvelope {
            format_version: newer,
            client_token: "from-the-future".into(),
            accepted_at_unix_ms: 1_800_000_000_000,
            principal: "admin".into(),
            command: Some(v1::Command {
                kind: Some(v1::command::Kind::CreateNetwork(v1::CreateNetworkRequest {
                    name: "future".into(),
                    cidr: "10.0.0.0/16".into(),
                    ..Default::default()
                })),
            }),
        }))
        .await;

    // Every node that applies the entry stops there, names the version and
    // reports NOT_SERVING (also as 503 on /healthz): the leader that wrote
    // it, then the one the other two elect, which commits it. (The last may
    // never learn that it is committed: alone, it cannot elect anyone.)
    // No node takes a write any more.
    let deadline = Instant::now() + PATIENCE;
    let stopped: Vec<usize> = loop {
        let mut stopped = Vec::new();
        for (n, member) in members.iter().enumerate() {
            let metrics = member.agent.as_ref().unwrap().replica().metrics();
            if let Err(fatal) = &metrics.running_state {
                let why = fatal.to_string();
                assert!(why.contains(&format!("format version {newer}")), "{why}");
                assert!(why.contains("upgrade this node"), "{why}");
                stopped.push(n);
            }
        }
        if stopped.len() >= 2 {
            break stopped;
        }
        assert!(
            Instant::now() < deadline,
            "only {stopped:?} stopped on the entry"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    for &n in &stopped {
        let member = &members[n];
        let deadline = Instant::now() + PATIENCE;
        while health_at(&member.api()).await != Some(ServingStatus::NotServing) {
            assert!(
                Instant::now() < deadline,
                "node {} still serving",
                member.id()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Kubernetes' probes read the same on the HTTP port.
        let http = member.http();
        let probe = tokio::task::spawn_blocking(move || status_line(&http, "/healthz"))
            .await
            .unwrap();
        assert!(probe.starts_with("HTTP/1.1 503"), "{probe}");
    }
    for member in &members {
        let written = member
            .client()
            .await
            .networks()
            .create_network(v1::CreateNetworkRequest {
                name: "after".into(),
                cidr: "10.1.0.0/16".into(),
                ..Default::default()
            })
            .await;
        assert!(written.is_err(), "node {} took a write", member.id());
    }

    // Started again (as systemd or Kubernetes would), it does not fail on
    // the entry over and over: the start says why, and the process serves
    // as a blocked node (health NOT_SERVING, every call refused with the
    // reason, no peer port) until it is stopped.
    let member = &mut members[stopped[0]];
    member.stop().await;
    let started = Agent::start_on(
        member.config.clone(),
        TcpListener::bind(member.config.api_address).await.unwrap(),
        TcpListener::bind(member.config.raft_address).await.unwrap(),
    )
    .await;
    let error = started
        .err()
        .expect("no Raft over an entry it cannot apply");
    let reason = error.to_string();
    assert!(
        reason.contains(&format!("format version {newer}")),
        "{reason}"
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = member.config.clone();
    let blocked = tokio::spawn(async move {
        fulcrum_node::blocked::serve(&config, reason, async {
            let _ = stopped.await;
        })
        .await
    });
    let deadline = Instant::now() + PATIENCE;
    while health_at(&member.api()).await != Some(ServingStatus::NotServing) {
        assert!(
            Instant::now() < deadline,
            "the blocked node does not answer health"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = member
        .client()
        .await
        .networks()
        .list_networks(v1::ListNetworksRequest::default())
        .await
        .expect_err("a blocked node serves nothing");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("upgrade this node"),
        "{}",
        refused.message()
    );
    assert!(
        std::net::TcpStream::connect(member.config.raft_address).is_err(),
        "a blocked node serves no peer port: it neither votes nor leads"
    );
    stop.send(()).unwrap();
    blocked.await.unwrap().unwrap();
    for member in &mut members {
        if member.agent.is_some() {
            member.stop().await;
        }
    }
}
