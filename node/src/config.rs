//! The agent's configuration: a versioned TOML file, overridden by the
//! environment, overridden by flags, then checked as a whole. Every error
//! names the key at fault; the binary exits with code 64 (EX_USAGE) on one.
//!
//! The environment is passed in as a list of pairs, so tests never touch the
//! process environment.
//!
//! ```toml
//! version = 1
//!
//! [node]
//! id = 1
//! data_dir = "/var/lib/fulcrum"
//! api_address = "10.0.0.1:7400"
//! raft_address = "10.0.0.1:7401"
//!
//! [cluster]
//! # Either the members to bootstrap a new cluster with (the same list on
//! # every one of them), or the API address of a member to join.
//! initial_members = [
//!   { id = 1, raft_address = "10.0.0.1:7401", api_address = "10.0.0.1:7400" },
//! ]
//! # join = "10.0.0.1:7400"
//! # The EIP pool a new cluster starts with (later: UpdateClusterSettings).
//! eip_pool = ["203.0.113.0/24"]
//!
//! [eip]
//! # "linux": EIP addresses on an interface, gated by nftables, announced by
//! # gratuitous ARP (needs CAP_NET_ADMIN and CAP_NET_RAW, and the nft
//! # command). "loopback": 127.0.0.0/8 pools on one machine, no privileges.
//! # Default: loopback when every cluster.eip_pool block is loopback.
//! binder = "linux"
//! interface = "eth0"
//!
//! # On the loopback binder, members outside 127.0.0.0/8 are refused unless
//! # this says they are yours to send traffic to.
//! allow_remote_members = false
//!
//! [api]
//! max_request_bytes = 1572864     # larger requests: RESOURCE_EXHAUSTED, unread
//! max_connections = 4096          # per port; beyond it new ones are closed
//! max_concurrent_streams = 128    # per connection
//! max_watch_streams = 1024        # per node; beyond it RESOURCE_EXHAUSTED
//! max_deadline_ms = 60000         # a longer client deadline is cut to this
//! first_request_timeout_ms = 10000  # a connection that sends nothing is closed
//! keepalive_interval_ms = 30000   # HTTP/2 pings; no answer in 10 s closes
//!
//! [dataplane]
//! threads = 1
//! driver = "auto"          # or "epoll"
//! max_connections = 100000 # client connections over every listener at once
//!
//! [raft]
//! heartbeat_ms = 50
//! election_timeout_min_ms = 300
//! election_timeout_max_ms = 600
//! request_timeout_ms = 10000
//! snapshot_interval_entries = 100000
//! log_entries_kept_after_snapshot = 5000
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// The configuration file format this build reads.
pub const CONFIG_VERSION: u32 = 1;
/// Where `--dev` keeps its data, relative to the working directory.
pub const DEV_DATA_DIR: &str = "fulcrum-data";
/// The dev agent's public API address.
pub const DEV_API_ADDRESS: &str = "127.0.0.1:7400";
/// The dev agent's Raft address.
pub const DEV_RAFT_ADDRESS: &str = "127.0.0.1:7401";
/// The dev agent's EIP pool: loopback, which needs no address added.
pub const DEV_EIP_POOL: &str = "127.77.0.0/16";

/// A configuration error: the key at fault and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The key, as written in the file (`raft.heartbeat_ms`), or `config` for
    /// the file as a whole.
    pub key: String,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// A member of the cluster to bootstrap.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialMember {
    /// Its node id.
    pub id: u64,
    /// Its Raft address.
    pub raft_address: String,
    /// Its public API address.
    pub api_address: String,
}

/// The file as written: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Option<u32>,
    #[serde(default)]
    node: NodeSection,
    #[serde(default)]
    cluster: ClusterSection,
    #[serde(default)]
    dataplane: DataplaneSection,
    #[serde(default)]
    eip: EipSection,
    #[serde(default)]
    raft: RaftSection,
    #[serde(default)]
    api: ApiSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiSection {
    max_request_bytes: Option<u64>,
    max_connections: Option<u64>,
    max_concurrent_streams: Option<u64>,
    max_watch_streams: Option<u64>,
    max_deadline_ms: Option<u64>,
    first_request_timeout_ms: Option<u64>,
    keepalive_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSection {
    id: Option<u64>,
    data_dir: Option<PathBuf>,
    api_address: Option<String>,
    raft_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterSection {
    initial_members: Option<Vec<InitialMember>>,
    join: Option<String>,
    eip_pool: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataplaneSection {
    threads: Option<u32>,
    driver: Option<String>,
    max_connections: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EipSection {
    binder: Option<String>,
    interface: Option<String>,
    allow_remote_members: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RaftSection {
    heartbeat_ms: Option<u64>,
    election_timeout_min_ms: Option<u64>,
    election_timeout_max_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    snapshot_interval_entries: Option<u64>,
    log_entries_kept_after_snapshot: Option<u64>,
}

/// Values given on the command line or in the environment, each overriding
/// the file's key of the same meaning.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `node.id`.
    pub id: Option<String>,
    /// `node.data_dir`.
    pub data_dir: Option<String>,
    /// `node.api_address`.
    pub api_address: Option<String>,
    /// `node.raft_address`.
    pub raft_address: Option<String>,
    /// `cluster.initial_members`, as `ID=RAFT_ADDRESS/API_ADDRESS,...`.
    pub initial_members: Option<String>,
    /// `cluster.join`.
    pub join: Option<String>,
    /// `cluster.eip_pool`, as `CIDR,CIDR`.
    pub eip_pool: Option<String>,
    /// `dataplane.threads`.
    pub dataplane_threads: Option<String>,
    /// `dataplane.driver`.
    pub dataplane_driver: Option<String>,
    /// `eip.binder`.
    pub eip_binder: Option<String>,
    /// `eip.interface`.
    pub eip_interface: Option<String>,
    /// `raft.heartbeat_ms`.
    pub heartbeat_ms: Option<String>,
    /// `raft.election_timeout_min_ms`.
    pub election_timeout_min_ms: Option<String>,
    /// `raft.election_timeout_max_ms`.
    pub election_timeout_max_ms: Option<String>,
}

/// The environment variables the agent reads, and the keys they set.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("FULCRUM_NODE_ID", "node.id"),
    ("FULCRUM_DATA_DIR", "node.data_dir"),
    ("FULCRUM_API_ADDRESS", "node.api_address"),
    ("FULCRUM_RAFT_ADDRESS", "node.raft_address"),
    ("FULCRUM_INITIAL_MEMBERS", "cluster.initial_members"),
    ("FULCRUM_JOIN", "cluster.join"),
    ("FULCRUM_EIP_POOL", "cluster.eip_pool"),
    ("FULCRUM_DATAPLANE_THREADS", "dataplane.threads"),
    ("FULCRUM_DATAPLANE_DRIVER", "dataplane.driver"),
    ("FULCRUM_EIP_BINDER", "eip.binder"),
    ("FULCRUM_EIP_INTERFACE", "eip.interface"),
    ("FULCRUM_HEARTBEAT_MS", "raft.heartbeat_ms"),
    (
        "FULCRUM_ELECTION_TIMEOUT_MIN_MS",
        "raft.election_timeout_min_ms",
    ),
    (
        "FULCRUM_ELECTION_TIMEOUT_MAX_MS",
        "raft.election_timeout_max_ms",
    ),
];

impl Overrides {
    /// The overrides the environment `vars` hold (`FULCRUM_*`, see [`ENVIRONMENT`]).
    pub fn from_environment(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut overrides = Self::default();
        for (name, value) in vars {
            let slot = match name.as_str() {
                "FULCRUM_NODE_ID" => &mut overrides.id,
                "FULCRUM_DATA_DIR" => &mut overrides.data_dir,
                "FULCRUM_API_ADDRESS" => &mut overrides.api_address,
                "FULCRUM_RAFT_ADDRESS" => &mut overrides.raft_address,
                "FULCRUM_INITIAL_MEMBERS" => &mut overrides.initial_members,
                "FULCRUM_JOIN" => &mut overrides.join,
                "FULCRUM_EIP_POOL" => &mut overrides.eip_pool,
                "FULCRUM_DATAPLANE_THREADS" => &mut overrides.dataplane_threads,
                "FULCRUM_DATAPLANE_DRIVER" => &mut overrides.dataplane_driver,
                "FULCRUM_EIP_BINDER" => &mut overrides.eip_binder,
                "FULCRUM_EIP_INTERFACE" => &mut overrides.eip_interface,
                "FULCRUM_HEARTBEAT_MS" => &mut overrides.heartbeat_ms,
                "FULCRUM_ELECTION_TIMEOUT_MIN_MS" => &mut overrides.election_timeout_min_ms,
                "FULCRUM_ELECTION_TIMEOUT_MAX_MS" => &mut overrides.election_timeout_max_ms,
                _ => continue,
            };
            *slot = Some(value);
        }
        overrides
    }

    /// `self`, with `over`'s values winning where it has them.
    pub fn overridden_by(self, over: Self) -> Self {
        Self {
            id: over.id.or(self.id),
            data_dir: over.data_dir.or(self.data_dir),
            api_address: over.api_address.or(self.api_address),
            raft_address: over.raft_address.or(self.raft_address),
            initial_members: over.initial_members.or(self.initial_members),
            join: over.join.or(self.join),
            eip_pool: over.eip_pool.or(self.eip_pool),
            dataplane_threads: over.dataplane_threads.or(self.dataplane_threads),
            dataplane_driver: over.dataplane_driver.or(self.dataplane_driver),
            eip_binder: over.eip_binder.or(self.eip_binder),
            eip_interface: over.eip_interface.or(self.eip_interface),
            heartbeat_ms: over.heartbeat_ms.or(self.heartbeat_ms),
            election_timeout_min_ms: over
                .election_timeout_min_ms
                .or(self.election_timeout_min_ms),
            election_timeout_max_ms: over
                .election_timeout_max_ms
                .or(self.election_timeout_max_ms),
        }
    }
}

/// How the node enters its cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Membership {
    /// Bootstrap a new cluster of these members (this node among them), unless
    /// the data directory already holds one.
    Bootstrap(Vec<InitialMember>),
    /// Ask the member at this API address to add this node.
    Join(String),
    /// Neither: the node already belongs to a cluster (its data says so), or
    /// waits to be added by an operator.
    Restart,
}

/// How this node makes its host answer for EIP addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EipBinderChoice {
    /// 127.0.0.0/8 on one machine: nothing to add to the kernel.
    Loopback,
    /// Addresses on this interface, gated by nftables, announced by ARP.
    Linux {
        /// The interface the EIPs go on.
        interface: String,
    },
}

/// Raft's timing and log compaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftSettings {
    /// How often the leader sends heartbeats.
    pub heartbeat: Duration,
    /// The shortest election timeout.
    pub election_timeout_min: Duration,
    /// The longest election timeout.
    pub election_timeout_max: Duration,
    /// A snapshot is built after this many entries since the last one.
    pub snapshot_interval_entries: u64,
    /// How many entries a snapshot leaves in the log (for followers that lag a little).
    pub log_entries_kept_after_snapshot: u64,
}

/// A checked agent configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// This node's id, 1 or more.
    pub node_id: u64,
    /// Where the node keeps its RocksDB store.
    pub data_dir: PathBuf,
    /// Where the public API listens.
    pub api_address: SocketAddr,
    /// Where the Raft service listens.
    pub raft_address: SocketAddr,
    /// How the node enters its cluster.
    pub membership: Membership,
    /// The EIP pool a bootstrapped cluster starts with.
    pub eip_pool: Vec<IpNet>,
    /// Data-plane threads.
    pub dataplane_threads: u32,
    /// The data plane's I/O driver.
    pub dataplane_driver: fulcrum_dataplane::Driver,
    /// Client connections the data plane holds at once, over every listener.
    pub dataplane_max_connections: u32,
    /// The EIP binder.
    pub eip_binder: EipBinderChoice,
    /// Raft's timing.
    pub raft: RaftSettings,
    /// The deadline of a request that carries none.
    pub request_timeout: Duration,
    /// On the loopback binder, accept members outside 127.0.0.0/8.
    pub allow_remote_members: bool,
    /// The limits of the gRPC servers.
    pub api: ApiLimits,
}

/// The limits of the gRPC servers (`[api]`), each with a default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiLimits {
    /// A request message over this many bytes is refused before decoding.
    pub max_request_bytes: usize,
    /// Open connections per port; past it new ones are closed at once.
    pub max_connections: usize,
    /// Concurrent requests (HTTP/2 streams) per connection.
    pub max_concurrent_streams: u32,
    /// Watch streams open on this node.
    pub max_watch_streams: usize,
    /// The longest deadline a request may ask for.
    pub max_deadline: Duration,
    /// A connection that sends no byte for this long after it opens is closed.
    pub first_request_timeout: Duration,
    /// How often an idle HTTP/2 connection is pinged.
    pub keepalive_interval: Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: defaults::MAX_REQUEST_BYTES as usize,
            max_connections: defaults::MAX_CONNECTIONS as usize,
            max_concurrent_streams: defaults::MAX_CONCURRENT_STREAMS as u32,
            max_watch_streams: defaults::MAX_WATCH_STREAMS as usize,
            max_deadline: Duration::from_millis(defaults::MAX_DEADLINE_MS),
            first_request_timeout: Duration::from_millis(defaults::FIRST_REQUEST_TIMEOUT_MS),
            keepalive_interval: Duration::from_millis(defaults::KEEPALIVE_INTERVAL_MS),
        }
    }
}

/// Default values: the public ones documented in the README.
pub mod defaults {
    /// `raft.heartbeat_ms`.
    pub const HEARTBEAT_MS: u64 = 50;
    /// `raft.election_timeout_min_ms`.
    pub const ELECTION_TIMEOUT_MIN_MS: u64 = 300;
    /// `raft.election_timeout_max_ms`.
    pub const ELECTION_TIMEOUT_MAX_MS: u64 = 600;
    /// `raft.request_timeout_ms`.
    pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
    /// `dataplane.threads`.
    pub const DATAPLANE_THREADS: u32 = 1;
    /// `eip.interface`.
    pub const EIP_INTERFACE: &str = "eth0";
    /// `raft.snapshot_interval_entries`: etcd's default snapshot count. A
    /// snapshot carries the whole kept event history, so it is not cheap.
    pub const SNAPSHOT_INTERVAL_ENTRIES: u64 = 100_000;
    /// `raft.log_entries_kept_after_snapshot`.
    pub const LOG_ENTRIES_KEPT_AFTER_SNAPSHOT: u64 = 5_000;
    /// `api.max_request_bytes`: 1.5 MiB, etcd's `--max-request-bytes`.
    pub const MAX_REQUEST_BYTES: u64 = 3 << 19;
    /// `api.max_connections`.
    pub const MAX_CONNECTIONS: u64 = 4096;
    /// `api.max_concurrent_streams`.
    pub const MAX_CONCURRENT_STREAMS: u64 = 128;
    /// `api.max_watch_streams`.
    pub const MAX_WATCH_STREAMS: u64 = 1024;
    /// `api.max_deadline_ms`.
    pub const MAX_DEADLINE_MS: u64 = 60_000;
    /// `api.first_request_timeout_ms`.
    pub const FIRST_REQUEST_TIMEOUT_MS: u64 = 10_000;
    /// `api.keepalive_interval_ms`.
    pub const KEEPALIVE_INTERVAL_MS: u64 = 30_000;
}

/// `[api]`: each key within its bounds, or its default when absent.
fn api_limits(section: &ApiSection) -> Result<ApiLimits, ConfigError> {
    let bounded =
        |key: &str, value: Option<u64>, default: u64, bounds: std::ops::RangeInclusive<u64>| {
            let value = value.unwrap_or(default);
            if bounds.contains(&value) {
                Ok(value)
            } else {
                Err(ConfigError::new(
                    key,
                    format!(
                        "{value} is out of range; it is {} to {}",
                        bounds.start(),
                        bounds.end()
                    ),
                ))
            }
        };
    Ok(ApiLimits {
        // At least 64 KiB: a certificate's PEM (64 KiB) and its key must fit.
        max_request_bytes: bounded(
            "api.max_request_bytes",
            section.max_request_bytes,
            defaults::MAX_REQUEST_BYTES,
            (256 << 10)..=(32 << 20),
        )? as usize,
        max_connections: bounded(
            "api.max_connections",
            section.max_connections,
            defaults::MAX_CONNECTIONS,
            1..=1_000_000,
        )? as usize,
        max_concurrent_streams: bounded(
            "api.max_concurrent_streams",
            section.max_concurrent_streams,
            defaults::MAX_CONCURRENT_STREAMS,
            1..=10_000,
        )? as u32,
        max_watch_streams: bounded(
            "api.max_watch_streams",
            section.max_watch_streams,
            defaults::MAX_WATCH_STREAMS,
            1..=1_000_000,
        )? as usize,
        max_deadline: Duration::from_millis(bounded(
            "api.max_deadline_ms",
            section.max_deadline_ms,
            defaults::MAX_DEADLINE_MS,
            1..=3_600_000,
        )?),
        first_request_timeout: Duration::from_millis(bounded(
            "api.first_request_timeout_ms",
            section.first_request_timeout_ms,
            defaults::FIRST_REQUEST_TIMEOUT_MS,
            1..=600_000,
        )?),
        keepalive_interval: Duration::from_millis(bounded(
            "api.keepalive_interval_ms",
            section.keepalive_interval_ms,
            defaults::KEEPALIVE_INTERVAL_MS,
            1000..=3_600_000,
        )?),
    })
}

fn parse<T: std::str::FromStr>(key: &str, text: &str, expected: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    text.trim()
        .parse()
        .map_err(|error| ConfigError::new(key, format!("{text:?} is not {expected} ({error})")))
}

fn socket_address(key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    parse(key, text, "an IP:port address")
}

fn address_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `ID=RAFT_ADDRESS/API_ADDRESS,...`.
fn initial_members_flag(text: &str) -> Result<Vec<InitialMember>, ConfigError> {
    const KEY: &str = "cluster.initial_members";
    address_list(text)
        .into_iter()
        .map(|member| {
            let (id, addresses) = member.split_once('=').ok_or_else(|| {
                ConfigError::new(
                    KEY,
                    format!("{member:?} is not ID=RAFT_ADDRESS/API_ADDRESS"),
                )
            })?;
            let (raft_address, api_address) = addresses.split_once('/').ok_or_else(|| {
                ConfigError::new(
                    KEY,
                    format!("{member:?} is not ID=RAFT_ADDRESS/API_ADDRESS"),
                )
            })?;
            Ok(InitialMember {
                id: parse(KEY, id, "a node id")?,
                raft_address: raft_address.to_owned(),
                api_address: api_address.to_owned(),
            })
        })
        .collect()
}

impl AgentConfig {
    /// The configuration from a file's text (if any), overridden by
    /// `overrides`; `dev` fills in the single-node defaults first.
    pub fn resolve(
        file_text: Option<&str>,
        overrides: Overrides,
        dev: bool,
    ) -> Result<Self, ConfigError> {
        let file: File = match file_text {
            Some(text) => toml::from_str(text)
                .map_err(|error| ConfigError::new("config", error.to_string()))?,
            None => File::default(),
        };
        if file_text.is_some() {
            match file.version {
                Some(CONFIG_VERSION) => {}
                Some(other) => {
                    return Err(ConfigError::new(
                        "version",
                        format!(
                            "{other} is not a version this build reads (it reads {CONFIG_VERSION})"
                        ),
                    ));
                }
                None => {
                    return Err(ConfigError::new(
                        "version",
                        format!("is required: write `version = {CONFIG_VERSION}` at the top"),
                    ));
                }
            }
        }

        let id = match overrides.id.as_deref() {
            Some(text) => Some(parse::<u64>("node.id", text, "a node id")?),
            None => file.node.id.or(dev.then_some(1)),
        };
        let node_id = id.ok_or_else(|| {
            ConfigError::new("node.id", "is required (or run `fulcrum agent --dev`)")
        })?;
        if node_id == 0 {
            return Err(ConfigError::new("node.id", "must be 1 or more"));
        }
        let data_dir = overrides
            .data_dir
            .map(PathBuf::from)
            .or(file.node.data_dir)
            .or(dev.then(|| PathBuf::from(DEV_DATA_DIR)))
            .ok_or_else(|| ConfigError::new("node.data_dir", "is required"))?;
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("node.data_dir", "must not be empty"));
        }
        let api_text = overrides
            .api_address
            .or(file.node.api_address)
            .or(dev.then(|| DEV_API_ADDRESS.to_owned()))
            .ok_or_else(|| ConfigError::new("node.api_address", "is required"))?;
        let api_address = socket_address("node.api_address", &api_text)?;
        let raft_text = overrides
            .raft_address
            .or(file.node.raft_address)
            .or(dev.then(|| DEV_RAFT_ADDRESS.to_owned()))
            .ok_or_else(|| ConfigError::new("node.raft_address", "is required"))?;
        let raft_address = socket_address("node.raft_address", &raft_text)?;
        if raft_address == api_address {
            return Err(ConfigError::new(
                "node.raft_address",
                format!("must differ from node.api_address ({api_address})"),
            ));
        }

        let initial = match overrides.initial_members.as_deref() {
            Some(text) => Some(initial_members_flag(text)?),
            None => file.cluster.initial_members,
        };
        let join = overrides.join.or(file.cluster.join);
        let membership = match (initial, join) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "cluster.join",
                    "cannot be given with cluster.initial_members: a node either bootstraps a new cluster or joins one",
                ));
            }
            (Some(members), None) => {
                check_initial_members(&members, node_id, &raft_text, &api_text)?;
                Membership::Bootstrap(members)
            }
            (None, Some(join)) => {
                if join.trim().is_empty() {
                    return Err(ConfigError::new("cluster.join", "must not be empty"));
                }
                Membership::Join(join)
            }
            (None, None) if dev => Membership::Bootstrap(vec![InitialMember {
                id: node_id,
                raft_address: raft_text.clone(),
                api_address: api_text.clone(),
            }]),
            (None, None) => Membership::Restart,
        };

        let pool_texts = match overrides.eip_pool.as_deref() {
            Some(text) => address_list(text),
            None => file.cluster.eip_pool.unwrap_or_else(|| {
                if dev {
                    vec![DEV_EIP_POOL.to_owned()]
                } else {
                    Vec::new()
                }
            }),
        };
        let eip_pool = pool_texts
            .iter()
            .enumerate()
            .map(|(n, text)| {
                parse::<IpNet>(&format!("cluster.eip_pool[{n}]"), text, "a CIDR block")
            })
            .collect::<Result<Vec<_>, _>>()?;

        let dataplane_threads = match overrides.dataplane_threads.as_deref() {
            Some(text) => parse("dataplane.threads", text, "a thread count")?,
            None => file
                .dataplane
                .threads
                .unwrap_or(defaults::DATAPLANE_THREADS),
        };
        if !(1..=1024).contains(&dataplane_threads) {
            return Err(ConfigError::new("dataplane.threads", "must be 1 to 1024"));
        }
        let dataplane_driver = match overrides
            .dataplane_driver
            .as_deref()
            .or(file.dataplane.driver.as_deref())
        {
            None | Some("auto") => fulcrum_dataplane::Driver::Auto,
            Some("epoll") => fulcrum_dataplane::Driver::Epoll,
            Some(other) => {
                return Err(ConfigError::new(
                    "dataplane.driver",
                    format!("\"auto\" (io_uring where available) or \"epoll\", not {other:?}"),
                ));
            }
        };

        let dataplane_max_connections = file
            .dataplane
            .max_connections
            .unwrap_or(fulcrum_dataplane::DEFAULT_NODE_CONNECTION_LIMIT);
        if !(1..=10_000_000).contains(&dataplane_max_connections) {
            return Err(ConfigError::new(
                "dataplane.max_connections",
                "must be 1 to 10000000",
            ));
        }

        let all_loopback = !eip_pool.is_empty()
            && eip_pool
                .iter()
                .all(|block| matches!(block, IpNet::V4(v4) if v4.addr().is_loopback()));
        let interface = overrides
            .eip_interface
            .or(file.eip.interface)
            .unwrap_or_else(|| defaults::EIP_INTERFACE.to_owned());
        if interface.is_empty() || interface.len() > 11 {
            return Err(ConfigError::new(
                "eip.interface",
                format!(
                    "{interface:?} must be 1 to 11 bytes (the EIP label <interface>:eip must fit in 15)"
                ),
            ));
        }
        let eip_binder = match overrides.eip_binder.or(file.eip.binder).as_deref() {
            None if all_loopback => EipBinderChoice::Loopback,
            Some("loopback") => EipBinderChoice::Loopback,
            None | Some("linux") => EipBinderChoice::Linux { interface },
            Some(other) => {
                return Err(ConfigError::new(
                    "eip.binder",
                    format!("\"linux\" or \"loopback\", not {other:?}"),
                ));
            }
        };

        let millis = |key: &str, flag: Option<&str>, file: Option<u64>, default: u64| {
            let value = match flag {
                Some(text) => parse::<u64>(key, text, "milliseconds")?,
                None => file.unwrap_or(default),
            };
            if !(1..=600_000).contains(&value) {
                return Err(ConfigError::new(key, "must be 1 to 600000 milliseconds"));
            }
            Ok(value)
        };
        let heartbeat = millis(
            "raft.heartbeat_ms",
            overrides.heartbeat_ms.as_deref(),
            file.raft.heartbeat_ms,
            defaults::HEARTBEAT_MS,
        )?;
        let election_min = millis(
            "raft.election_timeout_min_ms",
            overrides.election_timeout_min_ms.as_deref(),
            file.raft.election_timeout_min_ms,
            defaults::ELECTION_TIMEOUT_MIN_MS,
        )?;
        let election_max = millis(
            "raft.election_timeout_max_ms",
            overrides.election_timeout_max_ms.as_deref(),
            file.raft.election_timeout_max_ms,
            defaults::ELECTION_TIMEOUT_MAX_MS,
        )?;
        if election_min <= heartbeat {
            return Err(ConfigError::new(
                "raft.election_timeout_min_ms",
                format!("must be above raft.heartbeat_ms ({heartbeat})"),
            ));
        }
        if election_max <= election_min {
            return Err(ConfigError::new(
                "raft.election_timeout_max_ms",
                format!("must be above raft.election_timeout_min_ms ({election_min})"),
            ));
        }
        let request_timeout = millis(
            "raft.request_timeout_ms",
            None,
            file.raft.request_timeout_ms,
            defaults::REQUEST_TIMEOUT_MS,
        )?;

        Ok(Self {
            node_id,
            data_dir,
            api_address,
            raft_address,
            membership,
            eip_pool,
            dataplane_threads,
            dataplane_driver,
            dataplane_max_connections,
            eip_binder,
            raft: RaftSettings {
                heartbeat: Duration::from_millis(heartbeat),
                election_timeout_min: Duration::from_millis(election_min),
                election_timeout_max: Duration::from_millis(election_max),
                snapshot_interval_entries: file
                    .raft
                    .snapshot_interval_entries
                    .unwrap_or(defaults::SNAPSHOT_INTERVAL_ENTRIES)
                    .max(1),
                log_entries_kept_after_snapshot: file
                    .raft
                    .log_entries_kept_after_snapshot
                    .unwrap_or(defaults::LOG_ENTRIES_KEPT_AFTER_SNAPSHOT),
            },
            request_timeout: Duration::from_millis(request_timeout),
            allow_remote_members: file.eip.allow_remote_members.unwrap_or(false),
            api: api_limits(&file.api)?,
        })
    }
}

fn check_initial_members(
    members: &[InitialMember],
    node_id: u64,
    raft_address: &str,
    api_address: &str,
) -> Result<(), ConfigError> {
    const KEY: &str = "cluster.initial_members";
    if members.is_empty() {
        return Err(ConfigError::new(KEY, "must list at least this node"));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (n, member) in members.iter().enumerate() {
        if member.id == 0 {
            return Err(ConfigError::new(
                format!("{KEY}[{n}].id"),
                "must be 1 or more",
            ));
        }
        if !ids.insert(member.id) {
            return Err(ConfigError::new(
                format!("{KEY}[{n}].id"),
                format!("node {} is listed twice", member.id),
            ));
        }
        socket_address(&format!("{KEY}[{n}].raft_address"), &member.raft_address)?;
        socket_address(&format!("{KEY}[{n}].api_address"), &member.api_address)?;
    }
    let Some(me) = members.iter().find(|member| member.id == node_id) else {
        return Err(ConfigError::new(
            KEY,
            format!("must list this node (node.id = {node_id})"),
        ));
    };
    if me.raft_address != raft_address || me.api_address != api_address {
        return Err(ConfigError::new(
            KEY,
            format!(
                "lists node {node_id} at {}/{}, but node.raft_address/node.api_address say {raft_address}/{api_address}",
                me.raft_address, me.api_address
            ),
        ));
    }
    Ok(())
}
