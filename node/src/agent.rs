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
use std::time::Duration;

use fulcrum_api::{Client, v1};
use fulcrum_eip::Binder;
use fulcrum_raft_store::raft::{ClusterNode, OpenError, StateMachine, Store, TypeConfig};
use openraft::{Raft, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tonic::transport::server::TcpIncoming;

use crate::api::Api;
use crate::config::{AgentConfig, EipBinderChoice, InitialMember, Membership};
use crate::dataplane::{NodeDataPlane, OwnerReport};
use crate::eip::Handover;
use crate::eip::lease::LeaseTiming;
use crate::raft_network::PeerNetwork;
use crate::raft_service::RaftService;
use crate::replica::Replica;

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

/// Accepted connections with Nagle's algorithm off: a small answer (a Raft
/// acknowledgement, an API reply) must not wait for the peer's delayed ACK.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
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
        let peers = PeerNetwork::default();
        let raft: Raft<TypeConfig, StateMachine> = Raft::new(
            config.node_id,
            openraft_config(&config)?,
            peers.clone(),
            store.log_store(),
            state_machine,
        )
        .await
        .map_err(|error| AgentError::Raft(error.to_string()))?;
        let replica = Replica::new(config.node_id, raft.clone(), state, peers);

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let data_plane = Arc::new(
            NodeDataPlane::start(config.dataplane_threads as usize, config.dataplane_driver)
                .map_err(AgentError::DataPlane)?,
        );
        let timing = lease_timing(&config);
        let raft_server = RaftService::new(
            replica.clone(),
            store.snapshot_directory(),
            data_plane.clone(),
            timing.voter_lease.mul_f64(1.0 + timing.drift),
        )
        .into_server();
        let raft_stop = until_stopped();
        let raft_task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_service(raft_server)
                .serve_with_incoming_shutdown(incoming(raft_listener), raft_stop)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the Raft server stopped");
            }
        });
        let report = Arc::new(OwnerReport::new(data_plane.clone()));
        let binder = eip_binder(&config.eip_binder, &lease_timing(&config))?;
        let handover = Arc::new(Handover::new(data_plane.clone(), binder.clone()));
        let routes = Api::new(
            replica.clone(),
            report.clone(),
            handover.clone(),
            config.request_timeout,
        )
        .into_router()
        .map_err(|error| AgentError::Api(error.to_string()))?;
        let api_stop = until_stopped();
        let api_task = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .add_routes(routes)
                .serve_with_incoming_shutdown(incoming(api_listener), api_stop)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the API server stopped");
            }
        });

        let feeder = tokio::spawn(crate::dataplane::feed_from(
            replica.clone(),
            data_plane.clone(),
            binder.clone(),
            lease_timing(&config),
            handover.subscribe(),
            handover.transfer_mark(),
        ));
        let follower = tokio::spawn(report.follow_owner(replica.clone()));
        let mut agent = Self {
            replica,
            api_address,
            raft_address,
            stop,
            servers: vec![raft_task, api_task],
            background: vec![feeder, follower],
            data_plane,
            binder,
        };
        agent.enter_cluster(&config).await?;
        tracing::info!(
            node_id = config.node_id,
            %api_address,
            %raft_address,
            data_dir = %config.data_dir.display(),
            "node started"
        );
        Ok(agent)
    }

    async fn enter_cluster(&mut self, config: &AgentConfig) -> Result<(), AgentError> {
        let raft = self.replica.raft();
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|error| AgentError::Raft(error.to_string()))?;
        if initialized {
            tracing::info!("the store holds a cluster: restarting, not initialising");
            return Ok(());
        }
        match &config.membership {
            Membership::Restart => {
                tracing::info!("no cluster yet: waiting to be added by a member");
            }
            Membership::Bootstrap(members) => {
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
                self.background
                    .push(tokio::spawn(join(member.clone(), request)));
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

/// Asks the member at `member` to add this node as a learner, then to promote it.
async fn join(member: String, request: v1::AddLearnerRequest) {
    let deadline = Instant::now() + ENTER_CLUSTER_PATIENCE;
    let node_id = request.node_id;
    loop {
        let attempt = async {
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
