//! A running node: its store, its Raft node, its two gRPC servers (the
//! internal Raft service and the public API), the REST port when
//! configured, its background tasks, and how it stops. How it enters its
//! cluster is `enter.rs`.
//!
//! The public services and their layers (the size refusal, then
//! authentication and roles) are assembled once: the API port serves them,
//! and the REST port sends each of its requests through a clone of the
//! same stack, so both ports answer by the same rules.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fulcrum_eip::Binder;
use fulcrum_raft_store::raft::{OpenError, StateMachine, Store, TypeConfig};
use openraft::{Raft, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::admission::AddressPolicy;
use crate::api::Api;
use crate::auth::{Authentication, Authorize};
use crate::cluster_id::ClusterIdentity;
use crate::config::{AgentConfig, ApiLimits, EipBinderChoice};
use crate::dataplane::{NodeDataPlane, OwnerReport};
use crate::health::TaskFailures;
use crate::ownership::Handover;
use crate::ownership::lease::LeaseTiming;
use crate::raft_network::PeerNetwork;
use crate::raft_service::RaftService;
use crate::replica::Replica;
use crate::rest::RestLimits;
use crate::secrets::DataKeyRing;
use crate::tls::Tls;
use crate::transport::{ConnectionLimits, Handshake, OversizeAsExhausted, Port, limited_incoming};

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
    /// The data key file cannot be used.
    #[error("{0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    /// The TLS files cannot be used.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The node was a member whose data directory has been emptied: taking
    /// part again as if new could lose what it had acknowledged.
    #[error("node.data_dir is empty, but {0}")]
    DataLost(String),
    /// The log holds a committed entry of a newer log format than this
    /// build applies: Raft would fail on it at every start.
    #[error(
        "log entry {log_index} has format version {found}; this build applies version {supported}: upgrade this node"
    )]
    NewerLog {
        /// Where in the log.
        log_index: u64,
        /// The entry's format.
        found: u32,
        /// This build's format.
        supported: u32,
    },
}

/// A node that runs until [`Agent::shutdown`].
pub struct Agent {
    replica: Arc<Replica>,
    api_address: SocketAddr,
    raft_address: SocketAddr,
    http_address: Option<SocketAddr>,
    stop: tokio::sync::watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    data_plane: Arc<NodeDataPlane>,
    binder: Arc<dyn Binder>,
}

/// The data directory's mode: the agent's user only.
const DATA_DIR_MODE: u32 = 0o700;
/// The agent process's umask: files 0600, directories 0700.
const PRIVATE_UMASK: u32 = 0o077;

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

/// Where peers reach a port: the advertised address, or, when none was
/// given apart from the bind address, the address the listener got (a
/// configured port 0 is the OS's choice).
fn reached_at(advertised: &str, configured: SocketAddr, bound: SocketAddr) -> String {
    if advertised == configured.to_string() {
        bound.to_string()
    } else {
        advertised.to_owned()
    }
}

async fn open_store(directory: &Path) -> Result<Store, AgentError> {
    std::fs::create_dir_all(directory).map_err(|error| {
        AgentError::Store(format!("cannot create {}: {error}", directory.display()))
    })?;
    // The store holds the cluster's state: its directory is the agent's alone.
    std::fs::set_permissions(directory, std::fs::Permissions::from_mode(DATA_DIR_MODE)).map_err(
        |error| {
            AgentError::Store(format!(
                "cannot make {} private: {error}",
                directory.display()
            ))
        },
    )?;
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

/// The listening sockets a node serves on.
pub struct Listeners {
    /// The public gRPC API.
    pub api: TcpListener,
    /// The peer service.
    pub raft: TcpListener,
    /// The REST port, if the node has one.
    pub http: Option<TcpListener>,
}

impl Agent {
    /// Starts a node on the configured addresses.
    pub async fn start(config: AgentConfig) -> Result<Self, AgentError> {
        let api = bind("node.api_address", config.api_address).await?;
        let raft = bind("node.raft_address", config.raft_address).await?;
        Self::start_on(config, api, raft).await
    }

    /// Starts a node serving on listeners the caller bound (tests bind port 0
    /// first to learn the addresses their configuration names); the REST
    /// port, if configured, is bound here.
    pub async fn start_on(
        config: AgentConfig,
        api: TcpListener,
        raft: TcpListener,
    ) -> Result<Self, AgentError> {
        let http = match config.http_address {
            Some(address) => Some(bind("node.http_address", address).await?),
            None => None,
        };
        Self::start_with(config, Listeners { api, raft, http }).await
    }

    /// Starts a node serving on `listeners`, all bound by the caller.
    pub async fn start_with(config: AgentConfig, listeners: Listeners) -> Result<Self, AgentError> {
        let Listeners {
            api: api_listener,
            raft: raft_listener,
            http: http_listener,
        } = listeners;
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
        let http_address = match &http_listener {
            Some(listener) => {
                let configured = config.http_address.unwrap_or(api_address);
                Some(
                    listener
                        .local_addr()
                        .map_err(io("node.http_address", configured))?,
                )
            }
            None => None,
        };

        let store = open_store(&config.data_dir).await?;
        let this_node = fulcrum_raft_store::raft::ClusterNode {
            raft_address: reached_at(&config.advertised.raft, config.raft_address, raft_address),
            api_address: reached_at(&config.advertised.api, config.api_address, api_address),
        };
        let store = crate::seeding::seed_if_asked(store, &config, this_node.clone(), || {
            open_store(&config.data_dir)
        })
        .await?;
        if let Some(entry) = fulcrum_raft_store::raft::unappliable(&store)
            .await
            .map_err(|error| AgentError::Store(error.to_string()))?
        {
            return Err(AgentError::NewerLog {
                log_index: entry.log_index,
                found: entry.format_version,
                supported: fulcrum_api::LOG_FORMAT_VERSION,
            });
        }
        let store_metrics = store.metrics();
        let state_machine = store
            .state_machine()
            .map_err(|error| AgentError::Store(error.to_string()))?;
        let state = state_machine.shared_state();
        let applied = state_machine.applied_index();
        let identity =
            Arc::new(ClusterIdentity::load(&config.data_dir).map_err(AgentError::ClusterId)?);
        let tls = config.tls.clone().map(Tls::load).transpose()?;
        let data_keys =
            DataKeyRing::open(&config.data_key.path, config.data_key.create_if_missing)?;
        let peers = PeerNetwork::new(identity, tls.clone());
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
        let replica = Replica::new(
            config.node_id,
            raft.clone(),
            state,
            applied,
            peers,
            addresses,
        );

        let (stop, stopped) = tokio::sync::watch::channel(false);
        let stopping = stopped.clone();
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let data_plane = Arc::new(
            NodeDataPlane::start(
                &fulcrum_dataplane::Settings {
                    threads: config.dataplane_threads as usize,
                    driver: config.dataplane_driver,
                    node_connection_limit: config.dataplane_max_connections,
                    access_log: config.access_log.clone(),
                    ..fulcrum_dataplane::Settings::default()
                },
                data_keys.clone(),
            )
            .map_err(AgentError::DataPlane)?,
        );
        let timing = lease_timing(&config);
        let raft_service = RaftService::new(
            replica.clone(),
            store.snapshot_directory(),
            data_plane.clone(),
            timing.voter_lease.mul_f64(1.0 + timing.drift),
            stopping,
        );
        let raft_ready = raft_service.ready();
        let raft_server = raft_service.into_server();
        let raft_stop = until_stopped();
        let connection_limits = ConnectionLimits {
            max_connections: config.api.max_connections,
            first_request_timeout: config.api.first_request_timeout,
        };
        let handshake = |port| match &tls {
            Some(tls) => Handshake::Tls {
                tls: tls.clone(),
                port,
            },
            None => Handshake::Plain,
        };
        let (raft_handshake, api_handshake) = (handshake(Port::Peer), handshake(Port::Api));
        let mut raft_builder = server_builder(&config.api);
        let (raft_incoming, raft_acceptor) =
            limited_incoming(raft_listener, connection_limits, raft_handshake);
        let raft_task = tokio::spawn(async move {
            let served = raft_builder
                .add_service(raft_server)
                .serve_with_incoming_shutdown(raft_incoming, raft_stop)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the Raft server stopped");
            }
            // The port is closed before this server counts as stopped.
            let _ = raft_acceptor.await;
        });
        let report = Arc::new(OwnerReport::new(data_plane.clone()));
        let binder_metrics = crate::metrics::BinderMetrics::default();
        let ownership_metrics = crate::metrics::OwnershipMetrics::default();
        let binder: Arc<dyn Binder> = Arc::new(crate::metrics::TimedBinder::new(
            eip_binder(&config.eip_binder, &lease_timing(&config))?,
            binder_metrics.clone(),
        ));
        let handover = Arc::new(Handover::new(data_plane.clone(), binder.clone()));
        let api = Api::new(
            replica.clone(),
            report.clone(),
            handover.clone(),
            config.request_timeout,
            &config.api,
            data_keys.clone(),
        );
        let watch_slots = api.watch_slots();
        let (routes, health_reporter) = api
            .into_router()
            .map_err(|error| AgentError::Api(error.to_string()))?;
        let api_stop = until_stopped();
        let api_builder = server_builder(&config.api);
        let authentication = match &tls {
            Some(_) => Authentication::On(replica.clone()),
            None => Authentication::Off,
        };
        // The public stack's layers, once: the API port serves them, the
        // REST port calls through the same (outermost first).
        let sessions = crate::rest::Sessions::new(authentication.clone(), tls.is_some());
        let api_metrics = crate::metrics::ApiMetrics::default();
        let metrics = Arc::new(crate::metrics::Metrics::new(
            replica.clone(),
            data_plane.clone(),
            binder.clone(),
            crate::metrics::Recorded {
                api: &api_metrics,
                binder: &binder_metrics,
                store: store_metrics.clone(),
                ownership: &ownership_metrics,
                watch_streams: watch_slots,
            },
        ));
        let public_layers = tower::ServiceBuilder::new()
            .layer(crate::metrics::Measure::new(api_metrics, config.node_id))
            .layer(OversizeAsExhausted)
            .layer(Authorize::new(authentication));
        let public_stack = crate::rest::GrpcStack::new(public_layers.service(routes.clone()));
        let (api_incoming, api_acceptor) =
            limited_incoming(api_listener, connection_limits, api_handshake);
        let api_task = tokio::spawn(async move {
            let served = api_builder
                .layer(public_layers)
                .add_routes(routes)
                .serve_with_incoming_shutdown(api_incoming, api_stop)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the API server stopped");
            }
            let _ = api_acceptor.await;
        });
        let mut servers = vec![raft_task, api_task];
        if let Some(http_listener) = http_listener {
            let rest = crate::rest::Server::new(
                crate::rest::contract_routes()
                    .map_err(|error| AgentError::Api(error.to_string()))?,
                public_stack,
                RestLimits {
                    max_request_bytes: config.api.max_request_bytes,
                    default_deadline: config.request_timeout,
                    max_deadline: config.api.max_deadline,
                    max_concurrent_streams: config.api.max_concurrent_streams,
                    keepalive_interval: config.api.keepalive_interval,
                    first_request_timeout: config.api.first_request_timeout,
                },
                tls.is_none(),
                sessions,
                metrics,
            );
            let (incoming, acceptor) =
                limited_incoming(http_listener, connection_limits, handshake(Port::Http));
            let stopped = until_stopped();
            servers.push(tokio::spawn(async move {
                Arc::new(rest).serve(incoming, stopped).await;
                let _ = acceptor.await;
            }));
        }

        let failures = TaskFailures::default();
        let feeder = tokio::spawn(failures.watch(
            "the EIP ownership loop",
            crate::ownership::control::run(
                replica.clone(),
                crate::ownership::control::Ownership {
                    data_plane: data_plane.clone(),
                    binder: binder.clone(),
                    timing: lease_timing(&config),
                    yielding: handover.subscribe(),
                    transfer: handover.transfer_mark(),
                    metrics: ownership_metrics,
                },
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
        let mut background = vec![feeder, follower, health];
        if let Some(tls) = &tls {
            background.push(tokio::spawn(tls.clone().watch()));
        }
        background.push(tokio::spawn(data_keys.clone().watch()));
        let mut agent = Self {
            replica,
            api_address,
            raft_address,
            http_address,
            stop,
            servers,
            background,
            data_plane,
            binder,
        };
        let entering =
            crate::enter::enter_cluster(&agent.replica, &config, &this_node, raft_ready).await?;
        agent.background.extend(entering);
        tracing::info!(
            node_id = config.node_id,
            %api_address,
            %raft_address,
            http_address = ?http_address,
            data_dir = %config.data_dir.display(),
            "node started"
        );
        Ok(agent)
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

    /// Where the REST API listens, if the node has it.
    pub fn http_address(&self) -> Option<SocketAddr> {
        self.http_address
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
    // Everything the agent writes (the store, snapshots, the cluster id, a
    // dev data key) is readable by its own user only.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(PRIVATE_UMASK));
    let agent = match Agent::start(config.clone()).await {
        Ok(agent) => agent,
        // Not a crash loop: the node stays up, says why, and takes no part.
        Err(error @ AgentError::NewerLog { .. }) => {
            return match crate::blocked::serve(&config, error.to_string(), signalled()).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(%error, "the blocked node could not serve");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Err(error) => {
            tracing::error!(%error, "the node could not start");
            return std::process::ExitCode::FAILURE;
        }
    };
    signalled().await;
    tracing::info!("stopping");
    agent.shutdown().await;
    std::process::ExitCode::SUCCESS
}

/// Returns at SIGINT or SIGTERM.
async fn signalled() {
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
}
