//! The store under openraft's real engine: a single-node Raft initialises,
//! commits the guide's commands through `client_write`, answers rejections as
//! results, and after a restart from the same directory has the same state
//! and goes on writing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use fulcrum_raft_store::domain::RejectionKind;
use fulcrum_raft_store::raft::{
    ClusterNode, Proposal, SnapshotFile, StateMachine, Store, TypeConfig, Vote,
};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{AnyError, Config, OptionalSend, Raft};
use v1::command::Kind;

/// A network with no peers: a single-node cluster never uses it.
struct NoPeers;
struct NoPeer;

fn no_peer() -> Unreachable<TypeConfig> {
    Unreachable::new(&AnyError::error("a single-node cluster has no peers"))
}

impl RaftNetworkFactory<TypeConfig> for NoPeers {
    type Network = NoPeer;
    async fn new_client(&mut self, _target: u64, _node: &ClusterNode) -> NoPeer {
        NoPeer
    }
}

impl RaftNetworkV2<TypeConfig> for NoPeer {
    type SnapshotData = SnapshotFile;

    async fn append_entries(
        &mut self,
        _request: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(no_peer()))
    }

    async fn vote(
        &mut self,
        _request: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(no_peer()))
    }

    async fn full_snapshot(
        &mut self,
        _vote: Vote,
        _snapshot: openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotFile>,
        _cancel: impl std::future::Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        Err(StreamingError::Unreachable(no_peer()))
    }
}

/// Opens the store once the previous Raft's tasks have let go of it: after
/// `shutdown` returns, openraft's workers may hold the database a moment longer.
async fn open_when_released(directory: &std::path::Path) -> Store {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(directory) {
            Ok(store) => return store,
            Err(error)
                if error.to_string().contains("lock") && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("cannot reopen the store: {error}"),
        }
    }
}

async fn start(
    directory: &std::path::Path,
) -> (
    Raft<TypeConfig, StateMachine>,
    fulcrum_raft_store::raft::SharedState,
) {
    let store = open_when_released(directory).await;
    let state_machine = store.state_machine().unwrap();
    let state = state_machine.shared_state();
    let config = Config {
        cluster_name: "fulcrum-test".into(),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let raft = Raft::new(
        1,
        Arc::new(config),
        NoPeers,
        store.log_store(),
        state_machine,
    )
    .await
    .unwrap();
    (raft, state)
}

fn proposal(token: &str, kind: Kind) -> Proposal {
    Proposal::new(v1::LogEnvelope {
        format_version: LOG_FORMAT_VERSION,
        client_token: token.into(),
        // Leader-stamped time; a test clock is enough here.
        accepted_at_unix_ms: 1_700_000_000_000,
        principal: String::new(),
        command: Some(v1::Command { kind: Some(kind) }),
    })
}

async fn write(
    raft: &Raft<TypeConfig, StateMachine>,
    token: &str,
    kind: Kind,
) -> fulcrum_raft_store::domain::Answer {
    let response = raft
        .client_write(proposal(token, kind))
        .await
        .expect("committed");
    response.data.applied.expect("a command entry").answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_raft_commits_restarts_and_goes_on() {
    let directory = tempfile::tempdir().unwrap();
    let (raft, state) = start(directory.path()).await;
    let node = ClusterNode {
        raft_address: "127.0.0.1:1".into(),
        api_address: "127.0.0.1:2".into(),
    };
    raft.initialize(BTreeMap::from([(1u64, node)]))
        .await
        .unwrap();
    raft.wait(Some(Duration::from_secs(10)))
        .current_leader(1, "elects itself")
        .await
        .unwrap();

    let settings = Kind::UpdateClusterSettings(v1::UpdateClusterSettingsRequest {
        eip_pool: Some(v1::EipPool {
            cidrs: vec!["203.0.113.0/24".into()],
        }),
        ..Default::default()
    });
    write(&raft, "", settings).await.unwrap();
    let network = write(
        &raft,
        "n1",
        Kind::CreateNetwork(v1::CreateNetworkRequest {
            name: "vpc".into(),
            cidr: "10.0.0.0/16".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let subnet = write(
        &raft,
        "s1",
        Kind::CreateSubnet(v1::CreateSubnetRequest {
            name: "web".into(),
            network_id: network.resource_id.clone(),
            cidr: "10.0.1.0/24".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let create_lb = Kind::CreateLoadBalancer(v1::CreateLoadBalancerRequest {
        name: "web".into(),
        network_id: network.resource_id.clone(),
        subnet_id: subnet.resource_id.clone(),
        ..Default::default()
    });
    let lb = write(&raft, "lb1", create_lb.clone()).await.unwrap();
    // A retry with the same token is answered from memory through the log.
    assert_eq!(write(&raft, "lb1", create_lb.clone()).await.unwrap(), lb);
    // A rule broken at the log position is an answer, not a Raft error.
    let duplicate = write(&raft, "lb2", create_lb).await.unwrap_err();
    assert_eq!(duplicate.kind, RejectionKind::AlreadyExists);
    let before = state.read().unwrap().to_snapshot_bytes().unwrap();
    assert_eq!(state.read().unwrap().catalog().load_balancers().len(), 1);
    raft.shutdown().await.unwrap();
    drop(raft);

    // Restart from the same directory: same state, still the leader, writes go on.
    let (raft, state) = start(directory.path()).await;
    raft.wait(Some(Duration::from_secs(10)))
        .current_leader(1, "leads again")
        .await
        .unwrap();
    // openraft commits a blank entry as the new term's first; the state is unchanged by it.
    assert_eq!(state.read().unwrap().to_snapshot_bytes().unwrap(), before);
    let eip = write(
        &raft,
        "e1",
        Kind::AllocateEip(v1::AllocateEipRequest::default()),
    )
    .await
    .unwrap();
    write(
        &raft,
        "a1",
        Kind::AssociateEip(v1::AssociateEipRequest {
            load_balancer_id: lb.resource_id.clone(),
            eip_id: eip.resource_id,
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let ownership = state.read().unwrap().eip_ownership();
    assert_eq!(ownership.held.len(), 1);
    raft.shutdown().await.unwrap();
}
