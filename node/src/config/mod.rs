//! The agent's configuration: a versioned TOML file, overridden by the
//! environment, overridden by flags, then checked as a whole. Every setting
//! is one row of [`settings::SETTINGS`], which drives all three sources and
//! the README's table. Every error names the key at fault; the binary exits
//! with code 64 (EX_USAGE) on one.
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
//! http_address = "10.0.0.1:7402"   # optional: the REST/JSON API
//!
//! [cluster]
//! # Either the members to bootstrap a new cluster with (the same list on
//! # every one of them), or the API address of a member to join.
//! initial_members = [
//!   { id = 1, raft_address = "10.0.0.1:7401", api_address = "10.0.0.1:7400" },
//! ]
//! # join = "10.0.0.1:7400"
//! eip_pool = ["203.0.113.0/24"]
//!
//! [tls]
//! # Required unless both addresses are loopback (or `insecure = true`).
//! ca_file = "/etc/fulcrum/ca.crt"
//! cert_file = "/etc/fulcrum/node.crt"
//! key_file = "/etc/fulcrum/node.key"
//!
//! [secrets]
//! data_key_file = "/etc/fulcrum/data.key"   # the same on every node
//!
//! [eip]
//! binder = "linux"
//! interface = "eth0"
//! ```
//!
//! The other keys (`[api]`, `[dataplane]`, `[raft]`) and their bounds are in
//! [`settings::SETTINGS`] and the README.

pub mod settings;
pub mod sources;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

pub use settings::defaults;
pub use sources::Given;

/// The configuration file format this build reads.
pub const CONFIG_VERSION: u32 = 1;
/// Where `--dev` keeps its data, relative to the working directory.
pub const DEV_DATA_DIR: &str = "fulcrum-data";
/// The dev agent's public API address.
pub const DEV_API_ADDRESS: &str = "127.0.0.1:7400";
/// The dev agent's Raft address.
pub const DEV_RAFT_ADDRESS: &str = "127.0.0.1:7401";
/// The dev agent's REST/JSON API address.
pub const DEV_HTTP_ADDRESS: &str = "127.0.0.1:7402";
/// The dev agent's EIP pool: loopback, which needs no address added.
pub const DEV_EIP_POOL: &str = "127.77.0.0/16";
/// The shortest election timeout spans at least this many heartbeats: a
/// follower must miss several before it campaigns, and the EIP lease (the
/// longest election timeout) stays well above the heartbeat.
pub const MIN_HEARTBEATS_PER_ELECTION_TIMEOUT: u64 = 3;

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

/// The files of this node's TLS identity (`[tls]`), read at start and
/// reloaded when they change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The cluster CA: peers and clients must present a certificate it signed.
    pub ca_file: PathBuf,
    /// This node's certificate chain (role `node`).
    pub cert_file: PathBuf,
    /// This node's private key.
    pub key_file: PathBuf,
    /// How often the files are checked for a change.
    pub reload_interval: Duration,
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
    /// Where the REST/JSON API listens; `None`: no HTTP port.
    pub http_address: Option<SocketAddr>,
    /// Where other nodes and clients reach this node.
    pub advertised: Advertised,
    /// How the node enters its cluster.
    pub membership: Membership,
    /// A state to start from instead of the log (`--restore`,
    /// `--force-new-cluster`); flags only, never from the file.
    pub seed: Option<Seed>,
    /// The EIP pool a bootstrapped cluster starts with.
    pub eip_pool: Vec<IpNet>,
    /// Data-plane threads.
    pub dataplane_threads: u32,
    /// The data plane's I/O driver.
    pub dataplane_driver: fulcrum_dataplane::Driver,
    /// How the log is written.
    pub log_format: LogFormat,
    /// Client connections the data plane holds at once, over every listener.
    pub dataplane_max_connections: u32,
    /// Where and how the data plane writes access logs.
    pub access_log: fulcrum_dataplane::access_log::AccessLogSettings,
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
    /// TLS on both ports and authentication on the API; `None`: both ports
    /// in the clear, every caller an admin (loopback, or `tls.insecure`).
    pub tls: Option<TlsFiles>,
    /// The cluster's data key file (`secrets.data_key_file`).
    pub data_key: DataKeyFile,
}

/// How the agent writes its log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// Where other nodes reach this one: `host:port` texts, DNS names or IPs
/// (a node bound to 0.0.0.0 is reached at its own name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertised {
    /// The public API.
    pub api: String,
    /// The peer service.
    pub raft: String,
}

/// A state a node starts from instead of its log: both make a new cluster
/// of this node alone, with a new cluster id, that others then join.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seed {
    /// The state of a backup file (`fulcrum backup create`), into an empty
    /// data directory.
    Restore(PathBuf),
    /// The state this node's own data leads to, when the cluster's quorum
    /// is lost for good; the old data is kept aside.
    ForceNewCluster,
}

/// Where the cluster's data key is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataKeyFile {
    /// The file.
    pub path: PathBuf,
    /// Make a new key there when there is none (`--dev`'s single node only:
    /// the nodes of a cluster must share one key).
    pub create_if_missing: bool,
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

/// Saturating conversions from a bounded setting (the bounds fit).
fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
fn to_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// `[api]`: each key within its bounds, or its default when absent.
/// The `access_log.*` settings.
fn access_log(
    given: &Given,
) -> Result<fulcrum_dataplane::access_log::AccessLogSettings, ConfigError> {
    use fulcrum_dataplane::access_log::{AccessLogSettings, Destination, LogFormat};
    let destination = match given.text("access_log.destination")? {
        None => Destination::Stdout,
        Some(text) if text == "stdout" => Destination::Stdout,
        Some(text) if text.trim().is_empty() => {
            return Err(ConfigError::new(
                "access_log.destination",
                "must be stdout or a file's path",
            ));
        }
        Some(path) => Destination::File {
            path: path.into(),
            max_bytes: given.integer_or_default("access_log.max_file_bytes")?,
            keep: to_u32(given.integer_or_default("access_log.keep_files")?),
        },
    };
    Ok(AccessLogSettings {
        destination,
        format: match given.text("access_log.format")?.as_deref() {
            Some("common") => LogFormat::Common,
            _ => LogFormat::Json,
        },
        queue_lines: to_usize(given.integer_or_default("access_log.queue_lines")?),
    })
}

fn api_limits(given: &Given) -> Result<ApiLimits, ConfigError> {
    let millis = |key: &str| given.integer_or_default(key).map(Duration::from_millis);
    Ok(ApiLimits {
        max_request_bytes: to_usize(given.integer_or_default("api.max_request_bytes")?),
        max_connections: to_usize(given.integer_or_default("api.max_connections")?),
        max_concurrent_streams: to_u32(given.integer_or_default("api.max_concurrent_streams")?),
        max_watch_streams: to_usize(given.integer_or_default("api.max_watch_streams")?),
        max_deadline: millis("api.max_deadline_ms")?,
        first_request_timeout: millis("api.first_request_timeout_ms")?,
        keepalive_interval: millis("api.keepalive_interval_ms")?,
    })
}

/// `[tls]`: the three files together, or none of them.
fn tls_files(given: &Given) -> Result<Option<TlsFiles>, ConfigError> {
    const FILES: [&str; 3] = ["tls.ca_file", "tls.cert_file", "tls.key_file"];
    let [ca, cert, key] = FILES.map(|key| given.text(key));
    let (ca, cert, key) = (ca?, cert?, key?);
    match (ca, cert, key) {
        (None, None, None) => Ok(None),
        (Some(ca_file), Some(cert_file), Some(key_file)) => {
            for (key, path) in FILES.iter().zip([&ca_file, &cert_file, &key_file]) {
                if path.trim().is_empty() {
                    return Err(ConfigError::new(*key, "must not be empty"));
                }
            }
            Ok(Some(TlsFiles {
                ca_file: ca_file.into(),
                cert_file: cert_file.into(),
                key_file: key_file.into(),
                reload_interval: Duration::from_millis(
                    given.integer_or_default("tls.reload_interval_ms")?,
                ),
            }))
        }
        (ca, cert, _) => {
            let missing = if ca.is_none() {
                "tls.ca_file"
            } else if cert.is_none() {
                "tls.cert_file"
            } else {
                "tls.key_file"
            };
            Err(ConfigError::new(
                missing,
                "is required with the other tls files: give tls.ca_file, tls.cert_file and tls.key_file together (`fulcrum certs` makes them)",
            ))
        }
    }
}

/// Refuses an agent that would serve in the clear where others can reach it.
fn check_exposure(
    addresses: &[(&'static str, SocketAddr)],
    tls: Option<&TlsFiles>,
    insecure: bool,
) -> Result<(), ConfigError> {
    if tls.is_some() || insecure {
        return Ok(());
    }
    for &(key, address) in addresses {
        if !address.ip().is_loopback() {
            return Err(ConfigError::new(
                key,
                format!(
                    "{address} is not a loopback address, and there is no TLS: give tls.ca_file, tls.cert_file and tls.key_file (`fulcrum certs` makes them), or --insecure to serve without TLS and authentication"
                ),
            ));
        }
    }
    Ok(())
}

impl AgentConfig {
    /// The configuration from a file's text (if any), overridden by `over`
    /// (the environment, then the flags); `dev` fills in the single-node
    /// defaults first.
    pub fn resolve(file_text: Option<&str>, over: Given, dev: bool) -> Result<Self, ConfigError> {
        let file = match file_text {
            Some(text) => Given::from_file(text)?,
            None => Given::default(),
        };
        Self::from_given(&file.overridden_by(over), dev)
    }

    /// The configuration `given` describes.
    pub fn from_given(given: &Given, dev: bool) -> Result<Self, ConfigError> {
        let node_id = given
            .integer("node.id")?
            .or(dev.then_some(1))
            .ok_or_else(|| {
                ConfigError::new("node.id", "is required (or run `fulcrum agent --dev`)")
            })?;
        let data_dir = given
            .text("node.data_dir")?
            .map(PathBuf::from)
            .or(dev.then(|| PathBuf::from(DEV_DATA_DIR)))
            .ok_or_else(|| ConfigError::new("node.data_dir", "is required"))?;
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("node.data_dir", "must not be empty"));
        }
        let address_text = |key: &str, dev_default: &str| {
            given
                .text(key)?
                .or(dev.then(|| dev_default.to_owned()))
                .ok_or_else(|| ConfigError::new(key, "is required"))
        };
        let api_text = address_text("node.api_address", DEV_API_ADDRESS)?;
        let api_address = socket_address("node.api_address", &api_text)?;
        let raft_text = address_text("node.raft_address", DEV_RAFT_ADDRESS)?;
        let raft_address = socket_address("node.raft_address", &raft_text)?;
        if raft_address == api_address {
            return Err(ConfigError::new(
                "node.raft_address",
                format!("must differ from node.api_address ({api_address})"),
            ));
        }
        let http_address = given
            .text("node.http_address")?
            .or(dev.then(|| DEV_HTTP_ADDRESS.to_owned()))
            .map(|text| socket_address("node.http_address", &text))
            .transpose()?;
        if let Some(http) = http_address {
            for (key, other) in [
                ("node.api_address", api_address),
                ("node.raft_address", raft_address),
            ] {
                // Port 0 asks the OS for a port: two of them never collide.
                if http == other && http.port() != 0 {
                    return Err(ConfigError::new(
                        "node.http_address",
                        format!("must differ from {key} ({other})"),
                    ));
                }
            }
        }

        // What peers are told: the bind addresses unless named otherwise.
        let advertised = Advertised {
            api: given
                .text("node.advertise_api_address")?
                .unwrap_or(api_text),
            raft: given
                .text("node.advertise_raft_address")?
                .unwrap_or(raft_text),
        };
        host_port("node.advertise_api_address", &advertised.api)?;
        host_port("node.advertise_raft_address", &advertised.raft)?;
        let membership = membership(given, dev, node_id, &advertised.raft, &advertised.api)?;
        let pool_texts = given.list("cluster.eip_pool")?.unwrap_or_else(|| {
            if dev {
                vec![DEV_EIP_POOL.to_owned()]
            } else {
                Vec::new()
            }
        });
        let eip_pool = pool_texts
            .iter()
            .enumerate()
            .map(|(n, text)| {
                parse::<IpNet>(&format!("cluster.eip_pool[{n}]"), text, "a CIDR block")
            })
            .collect::<Result<Vec<_>, _>>()?;

        let dataplane_driver = match given.text("dataplane.driver")?.as_deref() {
            Some("epoll") => fulcrum_dataplane::Driver::Epoll,
            _ => fulcrum_dataplane::Driver::Auto,
        };
        let eip_binder = eip_binder(given, &eip_pool)?;
        let raft = raft_settings(given)?;
        let request_timeout =
            Duration::from_millis(given.integer_or_default("raft.request_timeout_ms")?);
        if request_timeout <= raft.election_timeout_max {
            return Err(ConfigError::new(
                "raft.request_timeout_ms",
                format!(
                    "must be above raft.election_timeout_max_ms ({} ms): a request must outlast an election",
                    raft.election_timeout_max.as_millis()
                ),
            ));
        }
        let tls = tls_files(given)?;
        let data_key = match given.text("secrets.data_key_file")? {
            Some(path) if path.trim().is_empty() => {
                return Err(ConfigError::new(
                    "secrets.data_key_file",
                    "must not be empty",
                ));
            }
            Some(path) => DataKeyFile {
                path: path.into(),
                create_if_missing: false,
            },
            None if dev => DataKeyFile {
                path: data_dir.join(crate::secrets::DEV_DATA_KEY_FILE),
                create_if_missing: true,
            },
            None => {
                return Err(ConfigError::new(
                    "secrets.data_key_file",
                    "is required: the same data key on every node seals certificate keys (`fulcrum certs create-data-key` makes one)",
                ));
            }
        };
        let mut exposed = vec![
            ("node.api_address", api_address),
            ("node.raft_address", raft_address),
        ];
        exposed.extend(http_address.map(|address| ("node.http_address", address)));
        check_exposure(&exposed, tls.as_ref(), given.flag("tls.insecure")?)?;

        Ok(Self {
            node_id,
            data_dir,
            api_address,
            raft_address,
            http_address,
            advertised,
            membership,
            seed: None,
            eip_pool,
            dataplane_threads: to_u32(given.integer_or_default("dataplane.threads")?),
            dataplane_driver,
            log_format: match given.text("log.format")?.as_deref() {
                Some("json") => LogFormat::Json,
                _ => LogFormat::Text,
            },
            dataplane_max_connections: to_u32(
                given.integer_or_default("dataplane.max_connections")?,
            ),
            access_log: access_log(given)?,
            eip_binder,
            raft,
            request_timeout,
            allow_remote_members: given.flag("eip.allow_remote_members")?,
            api: api_limits(given)?,
            tls,
            data_key,
        })
    }
}

/// `[cluster]`: bootstrap, join or restart.
fn membership(
    given: &Given,
    dev: bool,
    node_id: u64,
    raft_text: &str,
    api_text: &str,
) -> Result<Membership, ConfigError> {
    const KEY: &str = "cluster.initial_members";
    let initial = match given.raw(KEY) {
        None => None,
        Some(sources::Raw::Text(text)) => Some(initial_members_flag(text)?),
        Some(sources::Raw::File(value)) => Some(
            value
                .clone()
                .try_into::<Vec<InitialMember>>()
                .map_err(|error| ConfigError::new(KEY, error.to_string()))?,
        ),
    };
    let join = given.text("cluster.join")?;
    Ok(match (initial, join) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "cluster.join",
                "cannot be given with cluster.initial_members: a node either bootstraps a new cluster or joins one",
            ));
        }
        (Some(members), None) => {
            check_initial_members(&members, node_id, raft_text, api_text)?;
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
            raft_address: raft_text.to_owned(),
            api_address: api_text.to_owned(),
        }]),
        (None, None) => Membership::Restart,
    })
}

/// `[eip]`: the binder, loopback by default when the whole pool is.
fn eip_binder(given: &Given, eip_pool: &[IpNet]) -> Result<EipBinderChoice, ConfigError> {
    let all_loopback = !eip_pool.is_empty()
        && eip_pool
            .iter()
            .all(|block| matches!(block, IpNet::V4(v4) if v4.addr().is_loopback()));
    let interface = given
        .text("eip.interface")?
        .unwrap_or_else(|| defaults::EIP_INTERFACE.to_owned());
    if interface.is_empty() || interface.len() > 11 {
        return Err(ConfigError::new(
            "eip.interface",
            format!(
                "{interface:?} must be 1 to 11 bytes (the EIP label <interface>:eip must fit in 15)"
            ),
        ));
    }
    Ok(match given.text("eip.binder")?.as_deref() {
        None if all_loopback => EipBinderChoice::Loopback,
        Some("loopback") => EipBinderChoice::Loopback,
        _ => EipBinderChoice::Linux { interface },
    })
}

/// `[raft]`, with the timings checked against each other.
fn raft_settings(given: &Given) -> Result<RaftSettings, ConfigError> {
    let heartbeat = given.integer_or_default("raft.heartbeat_ms")?;
    let election_min = given.integer_or_default("raft.election_timeout_min_ms")?;
    let election_max = given.integer_or_default("raft.election_timeout_max_ms")?;
    if election_min < heartbeat.saturating_mul(MIN_HEARTBEATS_PER_ELECTION_TIMEOUT) {
        return Err(ConfigError::new(
            "raft.election_timeout_min_ms",
            format!(
                "must be at least {MIN_HEARTBEATS_PER_ELECTION_TIMEOUT} × raft.heartbeat_ms ({heartbeat}): a follower must miss several heartbeats before it campaigns"
            ),
        ));
    }
    if election_max <= election_min {
        return Err(ConfigError::new(
            "raft.election_timeout_max_ms",
            format!("must be above raft.election_timeout_min_ms ({election_min})"),
        ));
    }
    Ok(RaftSettings {
        heartbeat: Duration::from_millis(heartbeat),
        election_timeout_min: Duration::from_millis(election_min),
        election_timeout_max: Duration::from_millis(election_max),
        snapshot_interval_entries: given.integer_or_default("raft.snapshot_interval_entries")?,
        log_entries_kept_after_snapshot: given
            .integer_or_default("raft.log_entries_kept_after_snapshot")?,
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

/// Checks a `HOST:port` text (a DNS name or an IP, and a port 1-65535).
fn host_port(key: &str, text: &str) -> Result<(), ConfigError> {
    let valid_host = |host: &str| {
        host.parse::<std::net::IpAddr>().is_ok()
            || (!host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                }))
    };
    match text.rsplit_once(':') {
        Some((host, port))
            if valid_host(host.trim_start_matches('[').trim_end_matches(']'))
                && port.parse::<u16>().is_ok_and(|port| port > 0) =>
        {
            Ok(())
        }
        _ => Err(ConfigError::new(
            key,
            format!("{text:?} is not HOST:PORT (a DNS name or an IP, and a port 1-65535)"),
        )),
    }
}

/// Parses `ID=RAFT_ADDRESS/API_ADDRESS,...`.
fn initial_members_flag(text: &str) -> Result<Vec<InitialMember>, ConfigError> {
    const KEY: &str = "cluster.initial_members";
    sources::comma_separated(text)
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
        host_port(&format!("{KEY}[{n}].raft_address"), &member.raft_address)?;
        host_port(&format!("{KEY}[{n}].api_address"), &member.api_address)?;
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
                "lists node {node_id} at {}/{}, but this node is reached at {raft_address}/{api_address} (node.advertise_raft_address/node.advertise_api_address, else node.raft_address/node.api_address)",
                me.raft_address, me.api_address
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
