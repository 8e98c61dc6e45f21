//! In-process clusters over the real gRPC Raft network on 127.0.0.1 with
//! OS-chosen ports: election, replication, a new leader after the old one
//! stops, and a snapshot sent to a node that joins after the log was purged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use fulcrum_node::cluster_id::{CLUSTER_ID_HEADER, ClusterIdentity};
use fulcrum_node::raft_network::PeerNetwork;
use fulcrum_node::raft_service::RaftService;
use fulcrum_node::replica::Replica;
use fulcrum_raft_store::raft::{
    ClusterNode, Proposal, SharedState, StateMachine, Store, TypeConfig,
};
use openraft::async_runtime::WatchReceiver;
use openraft::{Config, Raft, SnapshotPolicy};
use v1::command::Kind;

const WAIT: Option<Duration> = Some(Duration::from_secs(20));
const RETRY_BACKOFF: Duration = Duration::from_millis(50);

struct TestNode {
    id: u64,
    raft: Raft<TypeConfig, StateMachine>,
    state: SharedState,
    server: tokio::task::JoinHandle<()>,
    address: String,
    /// Held for the node's life: the service ends its append streams when
    /// this says stop, or is dropped.
    _stop: tokio::sync::watch::Sender<bool>,
    _directory: tempfile::TempDir,
}

/// The cluster id every test node shares.
const CLUSTER_ID: &str = "00000000000000a1";

/// A Raft network whose messages carry `CLUSTER_ID`.
fn peer_network() -> PeerNetwork {
    PeerNetwork::new(Arc::new(ClusterIdentity::in_memory(CLUSTER_ID)), None)
}

fn config() -> Arc<Config> {
    let config = Config {
        cluster_name: "fulcrum-test".into(),
        heartbeat_interval: 50,
        election_timeout_min: 300,
        election_timeout_max: 600,
        // Snapshot often and keep no logs behind it, so a late joiner needs the snapshot.
        snapshot_policy: SnapshotPolicy::LogsSinceLast(10),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Default::default()
    };
    Arc::new(config.validate().unwrap())
}

async fn start(id: u64) -> TestNode {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let state_machine = store.state_machine().unwrap();
    let state = state_machine.shared_state();
    let applied = state_machine.applied_index();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let raft = Raft::new(
        id,
        config(),
        peer_network(),
        store.log_store(),
        state_machine,
    )
    .await
    .unwrap();
    let replica = Replica::new(
        id,
        raft.clone(),
        state.clone(),
        applied,
        peer_network(),
        fulcrum_node::admission::AddressPolicy {
            loopback_binder: true,
            allow_remote_members: true,
        },
    );
    let data_plane = std::sync::Arc::new(
        fulcrum_node::dataplane::NodeDataPlane::start(
            &fulcrum_dataplane::Settings {
                threads: 1,
                ..fulcrum_dataplane::Settings::default()
            },
            {
                let key_file = directory.path().join("data.key");
                std::fs::write(&key_file, fulcrum_node::secrets::new_key_file().unwrap()).unwrap();
                fulcrum_node::secrets::DataKeyRing::open(&key_file, false).unwrap()
            },
        )
        .unwrap(),
    );
    let (stop, stopping) = tokio::sync::watch::channel(false);
    // Votes refused for the voters' lease after a start, as the agent does.
    let service = RaftService::new(
        replica,
        store.snapshot_directory(),
        data_plane,
        Duration::from_millis(600),
        stopping,
    );
    service
        .ready()
        .store(true, std::sync::atomic::Ordering::Release);
    let service = service.into_server();
    let server = tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let _ = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await;
    });
    TestNode {
        id,
        raft,
        state,
        server,
        address,
        _stop: stop,
        _directory: directory,
    }
}

fn member(node: &TestNode) -> ClusterNode {
    ClusterNode {
        raft_address: node.address.clone(),
        api_address: String::new(),
    }
}

async fn leader_of(nodes: &[&TestNode]) -> u64 {
    let first = nodes[0];
    let metrics = first
        .raft
        .wait(WAIT)
        .metrics(
            |metrics| metrics.current_leader.is_some(),
            "a leader is known",
        )
        .await
        .unwrap();
    metrics.current_leader.unwrap()
}

fn network(n: u64) -> Proposal {
    Proposal::new(v1::LogEnvelope {
        format_version: LOG_FORMAT_VERSION,
        client_token: format!("net-{n}"),
        accepted_at_unix_ms: 1_700_000_000_000 + n as i64,
        principal: String::new(),
        command: Some(v1::Command {
            kind: Some(Kind::CreateNetwork(v1::CreateNetworkRequest {
                name: format!("net{n}"),
                cidr: "10.0.0.0/16".into(),
                ..Default::default()
            })),
        }),
    })
}

/// Writes networks `first..=last` through whichever of `nodes` leads, as a
/// client would: a "not the leader" or "lease expired" refusal means back off
/// and send again to whoever leads, until a deadline. Answers the last log index.
async fn write(nodes: &[&TestNode], first: u64, last: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + WAIT.unwrap();
    let mut index = 0;
    for n in first..=last {
        loop {
            let leader_id = leader_of(nodes).await;
            let Some(leader) = nodes.iter().find(|node| node.id == leader_id) else {
                panic!("leader {leader_id} is not among the nodes written to");
            };
            match leader.raft.client_write(network(n)).await {
                Ok(response) => {
                    response
                        .data
                        .applied
                        .expect("a command")
                        .answer
                        .expect("accepted");
                    index = response.log_id.index;
                    break;
                }
                Err(error)
                    if error.forward_to_leader().is_some()
                        && tokio::time::Instant::now() < deadline =>
                {
                    // A client's retry backoff, bounded by the deadline.
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
                Err(error) => panic!("write {n} failed: {error}"),
            }
        }
    }
    index
}

async fn converged(nodes: &[&TestNode], index: u64) -> Vec<u8> {
    let mut states = Vec::new();
    for node in nodes {
        node.raft
            .wait(WAIT)
            .applied_index_at_least(Some(index), "caught up")
            .await
            .unwrap();
        states.push(node.state.read().unwrap().to_snapshot_bytes().unwrap());
    }
    assert!(
        states.windows(2).all(|pair| pair[0] == pair[1]),
        "projections differ between nodes"
    );
    states.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_replicate_fail_over_and_ship_snapshots() {
    let nodes = [start(1).await, start(2).await, start(3).await];
    let members: BTreeMap<u64, ClusterNode> =
        nodes.iter().map(|node| (node.id, member(node))).collect();
    nodes[0].raft.initialize(members).await.unwrap();

    // Election and replication.
    let all: Vec<&TestNode> = nodes.iter().collect();
    let leader_id = leader_of(&all).await;
    let leader = nodes.iter().find(|node| node.id == leader_id).unwrap();
    let index = write(&all, 1, 25).await;
    let state = converged(&all, index).await;
    assert!(!state.is_empty());
    assert_eq!(leader.state.read().unwrap().catalog().networks().len(), 25);

    // The leader stops; the two others elect a new one and writes go on.
    leader.raft.shutdown().await.unwrap();
    leader.server.abort();
    let survivors: Vec<&TestNode> = nodes.iter().filter(|node| node.id != leader_id).collect();
    let new_leader_id = survivors[0]
        .raft
        .wait(WAIT)
        .metrics(
            |metrics| metrics.current_leader.is_some_and(|id| id != leader_id),
            "a new leader among the survivors",
        )
        .await
        .unwrap()
        .current_leader
        .unwrap();
    let new_leader = survivors
        .iter()
        .find(|node| node.id == new_leader_id)
        .unwrap();
    let index = write(&survivors, 26, 50).await;
    converged(&survivors, index).await;

    // A node joining now is behind the purged log: it must be sent a snapshot.
    let purged = new_leader
        .raft
        .metrics()
        .borrow_watched()
        .purged
        .map(|log_id| log_id.index);
    assert!(
        purged.is_some_and(|purged| purged > 1),
        "the leader purged its log ({purged:?})"
    );
    let late = start(4).await;
    new_leader
        .raft
        .add_learner(4, member(&late), true)
        .await
        .unwrap();
    let index = write(&survivors, 51, 55).await;
    let mut caught_up = survivors.clone();
    caught_up.push(&late);
    converged(&caught_up, index).await;
    let snapshot = late.raft.metrics().borrow_watched().snapshot;
    assert!(snapshot.is_some(), "the late node installed a snapshot");
    assert_eq!(late.state.read().unwrap().catalog().networks().len(), 55);
}

/// A message from another cluster (or carrying no cluster id) is refused
/// before Raft sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_from_another_cluster_is_refused() {
    let node = start(1).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", node.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = internal::raft_service_client::RaftServiceClient::new(channel);
    let vote = || internal::RaftVoteRequest {
        vote: Some(internal::RaftVote {
            term: 1,
            node_id: 2,
            committed: false,
        }),
        ..Default::default()
    };
    let refused = client.vote(vote()).await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(refused.message().contains(CLUSTER_ID_HEADER), "{refused:?}");

    let mut foreign = tonic::Request::new(vote());
    foreign
        .metadata_mut()
        .insert(CLUSTER_ID_HEADER, "00000000000000b2".parse().unwrap());
    let refused = client.vote(foreign).await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(refused.message().contains("never mix"), "{refused:?}");

    let mut own = tonic::Request::new(vote());
    own.metadata_mut()
        .insert(CLUSTER_ID_HEADER, CLUSTER_ID.parse().unwrap());
    let answered = client.vote(own).await;
    assert!(
        answered
            .as_ref()
            .err()
            .is_none_or(|status| status.code() != tonic::Code::FailedPrecondition),
        "{answered:?}"
    );
    node.server.abort();
}
