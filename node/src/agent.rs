//! A running node: its store, its Raft node, its two gRPC servers (the
//! internal Raft service and the public API), and how it enters its cluster.
//!
//! Entering the cluster:
//! - bootstrap: when the store holds no cluster yet, the node initialises
//!   Raft with the configured members (every member may do so: openraft
//!   accepts one initialisation per log and refuses the others), then
//!   proposes the configured EIP pool under a fixed client token, so that it
//!   is applied once however many members propose it;
//! - join: when the store holds no cluster yet, the node asks a member to
//!   add it as a learner and then to promote it;
//! - restart: a store that holds a cluster is never initialised again.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fulcrum_api::{Client, v1};
use fulcrum_eip::Binder;
use fulcrum_raft_store::raft::{ClusterNode, OpenError, StateMachine, Store, TypeConfig};
use openraft::{Raft, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::admission::AddressPolicy;
use crate::api::Api;
use crate::cluster_id::{self, ClusterIdentity};
use crate::config::{AgentConfig, ApiLimits, EipBinderChoice, InitialMember, Membership};
use crate::dataplane::{NodeDataPlane, OwnerReport};
use crate::eip::Handover;
use crate::eip::lease::LeaseTiming;
use crate::health::TaskFailures;
use crate::raft_network::PeerNetwork;
use crate::raft_service::RaftService;
use crate::replica::Replica;
use crate::transport::{ConnectionLimits, OversizeAsExhausted, limited_incoming};

/// The client token under which bootstrapping members propose the EIP pool.
pub const BOOTSTRAP_EIP_POOL_TOKEN: &str = "fulcrum-bootstrap-eip-pool";
/// How long a bootstrapping or joining node keeps trying.
const ENTER_CLUSTER_PATIENCE: Duration = Duration::from_secs(120);
/// The pause between attempts to enter the cluster.
const ENTER_CLUSTER_BACKOFF: Duration = Duration::from_millis(200);
/// How long the store's lock may still be held by a node of this process
/// that is shutting down (an in-process restart).
const STORE_LOCK_PATIENCE: Duration = Duration::from_secs(10);

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The data directory cannot be created or the store opened.
    #[error("node.data_dir: {0}")]
    Store(String),
    /// An address cannot be bound.
    #[error("{key}: cannot listen on {address}: {source}")]
    Bind {
        /// The configuration key of the address.
        key: &'static str,
        /// The address.
        address: SocketAddr,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// Raft refused to start.
    #[error("raft: {0}")]
    Raft(String),
    /// The API could not be assembled.
    #[error("api: {0}")]
    Api(String),
    /// The data plane's threads could not start.
    #[error("dataplane: {0}")]
    DataPlane(std::io::Error),
    /// The EIP binder could not take charge of its interface.
    #[error("eip: {0}")]
    EipBinder(std::io::Error),
    /// The cluster id could not be read or kept.
    #[error("node.data_dir: cluster id: {0}")]
    ClusterId(std::io::Error),
    /// The node was a member whose data directory has been emptied: taking
    /// part again as if new could lose what it had acknowledged.
    #[error("node.data_dir is empty, but {0}")]
    DataLost(String),
}

/// A node that runs until [`Agent::shutdown`].
pub struct Agent {
    replica: Arc<Replica>,
    api_address: SocketAddr,
    raft_address: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    data_plane: Arc<NodeDataPlane>,
    binder: Arc<dyn Binder>,
}

/// How long open connections get to finish when a node stops.
const DRAIN_ON_STOP: Duration = Duration::from_secs(5);

/// The EIP lease's timing: openraft's voter lease is its
/// `election_timeout_max`; clocks are trusted to 1 % and a release to reach
/// the kernel within 50 ms.
fn lease_timing(config: &AgentConfig) -> LeaseTiming {
    LeaseTiming {
        voter_lease: config.raft.election_timeout_max,
        drift: 0.01,
        release_latency: Duration::from_millis(50),
    }
}

/// The binder `choice` names, started.
fn eip_binder(
    choice: &EipBinderChoice,
    timing: &LeaseTiming,
) -> Result<Arc<dyn Binder>, AgentError> {
    Ok(match choice {
        EipBinderChoice::Loopback => Arc::new(fulcrum_eip::Loopback::default()),
        EipBinderChoice::Linux { interface } => Arc::new(
            fulcrum_eip::Linux::start(interface, timing.release_latency)
                .map_err(AgentError::EipBinder)?,
        ),
    })
}

fn openraft_config(config: &AgentConfig) -> Result<Arc<openraft::Config>, AgentError> {
    let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    let raft = openraft::Config {
        cluster_name: "fulcrum".into(),
        heartbeat_interval: millis(config.raft.heartbeat),
        election_timeout_min: millis(config.raft.election_timeout_min),
        election_timeout_max: millis(config.raft.election_timeout_max),
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.raft.snapshot_interval_entries),
        max_in_snapshot_log_to_keep: config.raft.log_entries_kept_after_snapshot,
        ..Default::default()
    };
    raft.validate()
        .map(Arc::new)
        .map_err(|error| AgentError::Raft(error.to_string()))
}

async fn open_store(directory: &Path) -> Result<Store, AgentError> {
    std::fs::create_dir_all(directory).map_err(|error| {
        AgentError::Store(format!("cannot create {}: {error}", directory.display()))
    })?;
    let deadline = Instant::now() + STORE_LOCK_PATIENCE;
    loop {
        let path = directory.to_owned();
        let opened = tokio::task::spawn_blocking(move || Store::open(&path))
            .await
            .map_err(|error| AgentError::Store(error.to_string()))?;
        match opened {
            Ok(store) => return Ok(store),
            Err(OpenError::Database { source, .. })
                if source.to_string().contains("lock") && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => return Err(AgentError::Store(error.to_string())),
        }
    }
}

/// How long an HTTP/2 keepalive ping may go unanswered before the
/// connection is closed.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A gRPC server with the `[api]` limits: streams per connection and
/// HTTP/2 keepalive (connections and request size are the transport's).
fn server_builder(limits: &ApiLimits) -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .max_concurrent_streams(Some(limits.max_concurrent_streams))
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
}

async fn bind(key: &'static str, address: SocketAddr) -> Result<TcpListener, AgentError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| AgentError::Bind {
            key,
            address,
            source,
        })
}

impl Agent {
    /// Starts a node on the configured addresses.
    pub async fn start(config: AgentConfig) -> Result<Self, AgentError> {
        let api = bind("node.api_address", config.api_address).await?;
        let raft = bind("node.raft_address", config.raft_address).await?;
        Self::start_on(config, api, raft).await
    }

    /// Starts a node serving on listeners the caller bound (tests bind port 0
    /// first to learn the addresses their configuration names).
    pub async fn start_on(
        config: AgentConfig,
        api_listener: TcpListener,
        raft_listener: TcpListener,
    ) -> Result<Self, AgentError> {
        let io = |key: &'static str, address| {
            move |source| AgentError::Bind {
                key,
                address,
                source,
            }
        };
        let api_address = api_listener
            .local_addr()
            .map_err(io("node.api_address", config.api_address))?;
        let raft_address = raft_listener
            .local_addr()
            .map_err(io("node.raft_address", config.raft_address))?;

        let store = open_store(&config.data_dir).await?;
        let state_machine = store
            .state_machine()
            .map_err(|error| AgentError::Store(error.to_string()))?;
        let state = state_machine.shared_state();
        let identity =
            Arc::new(ClusterIdentity::load(&config.data_dir).map_err(AgentError::ClusterId)?);
        let peers = PeerNetwork::new(identity);
        let raft: Raft<TypeConfig, StateMachine> = Raft::new(
            config.node_id,
            openraft_config(&config)?,
            peers.clone(),
            store.log_store(),
            state_machine,
        )
        .await
        .map_err(|error| AgentError::Raft(error.to_string()))?;
        let addresses = AddressPolicy {
            loopback_binder: config.eip_binder == EipBinderChoice::Loopback,
            allow_remote_members: config.allow_remote_members,
        };
        let replica = Replica::new(config.node_id, raft.clone(), state, peers, addresses);

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let data_plane = Arc::new(
            NodeDataPlane::start(
                config.dataplane_threads as usize,
                config.dataplane_driver,
                config.dataplane_max_connections,
            )
            .map_err(AgentError::DataPlane)?,
        );
        let timing = lease_timing(&config);
        let raft_service = RaftService::new(
            replica.clone(),
            store.snapshot_directory(),
            data_plane.clone(),
            timing.voter_lease.mul_f64(1.0 + timing.drift),
        );
        let raft_ready = raft_service.ready();
        let raft_server = raft_service.into_server();
        let raft_stop = until_stopped();
        let connection_limits = ConnectionLimits {
            max_connections: config.api.max_connections,
            first_request_timeout: config.api.first_request_timeout,
        };
        let mut raft_builder = server_builder(&config.api);
        let raft_task = tokio::spawn(async move {
            let served = raft_builder
                .add_service(raft_server)
                .serve_with_incoming_shutdown(
                    limited_incoming(raft_listener, connection_limits),
                    raft_stop,
                )
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the Raft server stopped");
            }
        });
        let report = Arc::new(OwnerReport::new(data_plane.clone()));
        let binder = eip_binder(&config.eip_binder, &lease_timing(&config))?;
        let handover = Arc::new(Handover::new(data_plane.clone(), binder.clone()));
        let (routes, health_reporter) = Api::new(
            replica.clone(),
            report.clone(),
            handover.clone(),
            config.request_timeout,
            &config.api,
        )
        .into_router()
        .map_err(|error| AgentError::Api(error.to_string()))?;
        let api_stop = until_stopped();
        let api_builder = server_builder(&config.api);
        let api_task = tokio::spawn(async move {
            let served = api_builder
                .layer(OversizeAsExhausted)
                .add_routes(routes)
                .serve_with_incoming_shutdown(
                    limited_incoming(api_listener, connection_limits),
                    api_stop,
                )
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the API server stopped");
            }
        });

        let failures = TaskFailures::default();
        let feeder = tokio::spawn(failures.watch(
            "the data-plane feed",
            crate::dataplane::feed_from(
                replica.clone(),
                data_plane.clone(),
                binder.clone(),
                lease_timing(&config),
                handover.subscribe(),
                handover.transfer_mark(),
            ),
        ));
        let follower = tokio::spawn(
            failures.watch("the owner's report", report.follow_owner(replica.clone())),
        );
        let health = tokio::spawn(crate::health::report(
            replica.clone(),
            failures,
            health_reporter,
            crate::api::PUBLIC_SERVICES,
        ));
        let mut agent = Self {
            replica,
            api_address,
            raft_address,
            stop,
            servers: vec![raft_task, api_task],
            background: vec![feeder, follower, health],
            data_plane,
            binder,
        };
        agent.enter_cluster(&config, raft_ready).await?;
        tracing::info!(
            node_id = config.node_id,
            %api_address,
            %raft_address,
            data_dir = %config.data_dir.display(),
            "node started"
        );
        Ok(agent)
    }

    async fn enter_cluster(
        &mut self,
        config: &AgentConfig,
        raft_ready: Arc<AtomicBool>,
    ) -> Result<(), AgentError> {
        let raft = self.replica.raft();
        let identity = self.replica.cluster_identity().clone();
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|error| AgentError::Raft(error.to_string()))?;
        if initialized {
            tracing::info!("the store holds a cluster: restarting, not initialising");
            // A store of an older build has no cluster id kept: a member of
            // a bootstrapped cluster derives it again; others learn it from
            // the first leader that replicates to them.
            if identity.get().is_none()
                && let Membership::Bootstrap(members) = &config.membership
            {
                identity
                    .adopt(&cluster_id::derive(members))
                    .map_err(AgentError::ClusterId)?;
            }
            raft_ready.store(true, Ordering::Release);
            return Ok(());
        }
        match &config.membership {
            Membership::Restart => {
                tracing::info!("no cluster yet: waiting to be added by a member");
                raft_ready.store(true, Ordering::Release);
            }
            Membership::Bootstrap(members) => {
                refuse_if_data_lost(members, config.node_id).await?;
                identity
                    .adopt(&cluster_id::derive(members))
                    .map_err(AgentError::ClusterId)?;
                raft_ready.store(true, Ordering::Release);
                let members = members
                    .iter()
                    .map(
                        |InitialMember {
                             id,
                             raft_address,
                             api_address,
                         }| {
                            (
                                *id,
                                ClusterNode {
                                    raft_address: raft_address.clone(),
                                    api_address: api_address.clone(),
                                },
                            )
                        },
                    )
                    .collect::<std::collections::BTreeMap<_, _>>();
                if let Err(error) = raft.initialize(members).await {
                    // Another member initialised first: this node learns the
                    // membership from the leader.
                    tracing::info!(%error, "not initialising");
                }
                if !config.eip_pool.is_empty() {
                    let replica = self.replica.clone();
                    let cidrs = config.eip_pool.iter().map(ToString::to_string).collect();
                    self.background
                        .push(tokio::spawn(propose_eip_pool(replica, cidrs)));
                }
            }
            Membership::Join(member) => {
                let request = v1::AddLearnerRequest {
                    node_id: config.node_id,
                    raft_address: self.raft_address.to_string(),
                    api_address: self.api_address.to_string(),
                };
                self.background.push(tokio::spawn(join(
                    member.clone(),
                    request,
                    identity,
                    raft_ready,
                )));
            }
        }
        Ok(())
    }

    /// The replica, for in-process callers.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    /// Where the public API listens.
    pub fn api_address(&self) -> SocketAddr {
        self.api_address
    }

    /// Where the Raft service listens.
    pub fn raft_address(&self) -> SocketAddr {
        self.raft_address
    }

    /// Stops serving and shuts Raft down; the store is closed once the last
    /// of Raft's tasks ends.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in &self.background {
            task.abort();
        }
        // The addresses go at once (the kernel would silence them when the
        // hold ends, but leave them on the interface).
        let binder = self.binder.clone();
        if let Ok(Err(error)) = tokio::task::spawn_blocking(move || binder.shut_down()).await {
            tracing::warn!(%error, "the EIPs were not released; their holds end by themselves");
        }
        let data_plane = self.data_plane.clone();
        let drained = tokio::task::spawn_blocking(move || data_plane.shutdown(DRAIN_ON_STOP)).await;
        if drained.is_err() {
            tracing::warn!("the data plane did not stop cleanly");
        }
        if let Err(error) = self.replica.raft().shutdown().await {
            tracing::warn!(%error, "Raft did not shut down cleanly");
        }
        for server in self.servers {
            let _ = server.await;
        }
    }
}

/// Runs a node until SIGINT or SIGTERM, then shuts it down; the exit code
/// says whether it started.
pub async fn run_until_signalled(config: AgentConfig) -> std::process::ExitCode {
    let agent = match Agent::start(config).await {
        Ok(agent) => agent,
        Err(error) => {
            tracing::error!(%error, "the node could not start");
            return std::process::ExitCode::FAILURE;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("stopping");
    agent.shutdown().await;
    std::process::ExitCode::SUCCESS
}

/// Proposes the configured EIP pool of a new cluster, once.
async fn propose_eip_pool(replica: Arc<Replica>, cidrs: Vec<String>) {
    let command = v1::Command {
        kind: Some(v1::command::Kind::UpdateClusterSettings(
            v1::UpdateClusterSettingsRequest {
                client_token: BOOTSTRAP_EIP_POOL_TOKEN.to_owned(),
                eip_pool: Some(v1::EipPool { cidrs }),
                ..Default::default()
            },
        )),
    };
    let deadline = Instant::now() + ENTER_CLUSTER_PATIENCE;
    loop {
        let attempt = replica
            .propose(
                BOOTSTRAP_EIP_POOL_TOKEN.to_owned(),
                command.clone(),
                deadline,
            )
            .await;
        match attempt {
            Ok(receipt) => {
                tracing::info!(
                    revision = receipt.revision,
                    "the EIP pool of the new cluster is set"
                );
                return;
            }
            Err(status)
                if status.code() == tonic::Code::Unavailable && Instant::now() < deadline =>
            {
                tokio::time::sleep(ENTER_CLUSTER_BACKOFF).await;
            }
            Err(status) => {
                tracing::error!(%status, "the EIP pool of the new cluster could not be set");
                return;
            }
        }
    }
}

/// How long a starting node waits for its peers' status (asked at once).
const PEER_STATUS_TIMEOUT: Duration = Duration::from_secs(1);

/// The status of the member at `api_address`, as it knows it (a local read:
/// no leader needed), or why there is none.
async fn peer_status(api_address: &str) -> Result<v1::GetClusterStatusResponse, String> {
    // A peer whose port is bound but not yet served accepts the connection
    // and then says nothing: the whole exchange has one deadline.
    tokio::time::timeout(PEER_STATUS_TIMEOUT, ask_peer_status(api_address))
        .await
        .map_err(|_| format!("{api_address} did not answer within {PEER_STATUS_TIMEOUT:?}"))?
}

async fn ask_peer_status(api_address: &str) -> Result<v1::GetClusterStatusResponse, String> {
    let client = Client::connect(api_address, PEER_STATUS_TIMEOUT)
        .await
        .map_err(|error| error.to_string())?;
    let mut request = tonic::Request::new(v1::GetClusterStatusRequest {
        read: Some(v1::ReadOptions {
            consistency: v1::ReadConsistency::Local as i32,
        }),
        include_state_digest: false,
    });
    request.set_timeout(PEER_STATUS_TIMEOUT);
    client
        .cluster()
        .get_cluster_status(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| status.message().to_owned())
}

/// The reason `node_id` must not start as new, if `status` (a leader's)
/// shows that it had acknowledged log entries: its data is lost, not new.
fn lost_data_of(node_id: u64, status: &v1::GetClusterStatusResponse) -> Option<String> {
    let member = status
        .members
        .iter()
        .find(|member| member.node_id == node_id)?;
    let matched = member.matched_index.filter(|&matched| matched > 0)?;
    Some(format!(
        "node {node_id} is a member of cluster {} whose leader (node {}) knows it had the log up to index {matched}: its data was lost, and taking part as new could lose acknowledged writes. Remove it (fulcrum cluster remove-node {node_id}) and add it again with --join",
        status.cluster_id, status.node_id
    ))
}

/// Refuses to bootstrap a node whose data directory was emptied while its
/// cluster runs: asks every other initial member, and the leader among
/// them knows whether this node had acknowledged entries.
async fn refuse_if_data_lost(members: &[InitialMember], node_id: u64) -> Result<(), AgentError> {
    // All at once: a peer that is not up yet costs one timeout, not one each.
    let peers = members.iter().filter(|member| member.id != node_id);
    let answers = futures::future::join_all(
        peers.map(|member| async move { (member.id, peer_status(&member.api_address).await) }),
    )
    .await;
    for (peer, answer) in answers {
        match answer {
            Ok(status) => {
                if let Some(reason) = lost_data_of(node_id, &status) {
                    return Err(AgentError::DataLost(reason));
                }
            }
            Err(reason) => {
                tracing::debug!(peer, %reason, "no status from a peer while starting");
            }
        }
    }
    Ok(())
}

/// Asks the member at `member` to add this node as a learner, then to promote
/// it; first learns the cluster's id from it, and refuses to join a cluster
/// that knows this node had acknowledged entries (its data is lost).
async fn join(
    member: String,
    request: v1::AddLearnerRequest,
    identity: Arc<ClusterIdentity>,
    raft_ready: Arc<AtomicBool>,
) {
    let deadline = Instant::now() + ENTER_CLUSTER_PATIENCE;
    let node_id = request.node_id;
    loop {
        let attempt = async {
            if identity.get().is_none() {
                let status = peer_status(&member).await?;
                if status.cluster_id.is_empty() {
                    return Err(format!("{member} belongs to no cluster yet"));
                }
                let leader = match status.leader_id {
                    Some(leader) if leader != status.node_id => status
                        .members
                        .iter()
                        .find(|candidate| candidate.node_id == leader)
                        .map(|candidate| candidate.api_address.clone()),
                    _ => None,
                };
                let leader_status = match leader {
                    Some(address) => peer_status(&address).await?,
                    None => status.clone(),
                };
                if let Some(reason) = lost_data_of(node_id, &leader_status) {
                    return Err(format!(
                        "refusing to join: node.data_dir is empty, but {reason}"
                    ));
                }
                identity
                    .adopt(&status.cluster_id)
                    .map_err(|error| error.to_string())?;
                raft_ready.store(true, Ordering::Release);
            }
            let client = Client::connect(&member, Duration::from_secs(2))
                .await
                .map_err(|error| error.to_string())?;
            let added = client.cluster().add_learner(request.clone()).await;
            match added {
                Ok(_) => {}
                Err(status) if status.code() == tonic::Code::AlreadyExists => {}
                Err(status) => return Err(status.message().to_owned()),
            }
            client
                .cluster()
                .promote_node(v1::PromoteNodeRequest { node_id })
                .await
                .map_err(|status| status.message().to_owned())
        };
        match attempt.await {
            Ok(_) => {
                tracing::info!(%member, "joined the cluster as a voter");
                return;
            }
            Err(reason) if reason.starts_with("refusing to join") => {
                tracing::error!(%member, %reason, "not joining the cluster");
                return;
            }
            Err(reason) if Instant::now() < deadline => {
                tracing::info!(%member, %reason, "joining the cluster: trying again");
                tokio::time::sleep(ENTER_CLUSTER_BACKOFF).await;
            }
            Err(reason) => {
                tracing::error!(%member, %reason, "could not join the cluster");
                return;
            }
        }
    }
}
