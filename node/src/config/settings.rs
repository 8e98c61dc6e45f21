//! The table of every agent setting: its key in the file, its environment
//! variable, its flag, its kind and bounds, its default and its help. The
//! file's accepted keys, the environment the agent reads, the flags of
//! `fulcrum agent` and the README's settings table all come from [`SETTINGS`];
//! a setting is added here once.

/// What a setting's value is, and its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number within `min..=max`.
    Integer {
        /// The smallest accepted value.
        min: u64,
        /// The largest accepted value.
        max: u64,
        /// The value when none is given (`None`: required, or derived).
        default: Option<u64>,
    },
    /// `true` or `false` (the default).
    Flag,
    /// Text (a path, an address, a name), checked where it is used.
    Text,
    /// One of a few words.
    Choice(&'static [&'static str]),
    /// A list: an array in the file, comma-separated in the environment and flags.
    List,
    /// `cluster.initial_members`: an array of tables in the file,
    /// `ID=RAFT_ADDRESS/API_ADDRESS,...` in the environment and flags.
    Members,
}

/// One setting.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// The key in the file: `section.name`.
    pub key: &'static str,
    /// The environment variable that overrides the file.
    pub env: &'static str,
    /// The flag (without `--`) that overrides the environment.
    pub flag: &'static str,
    /// Its kind and bounds.
    pub kind: Kind,
    /// One line for `--help` and the README.
    pub help: &'static str,
}

const fn integer(min: u64, max: u64, default: u64) -> Kind {
    Kind::Integer {
        min,
        max,
        default: Some(default),
    }
}

/// Default values that other code names.
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
    pub const DATAPLANE_THREADS: u64 = 1;
    /// `dataplane.max_connections`.
    pub const DATAPLANE_MAX_CONNECTIONS: u64 =
        fulcrum_dataplane::DEFAULT_NODE_CONNECTION_LIMIT as u64;
    /// `access_log.max_file_bytes`: 100 MiB.
    pub const ACCESS_LOG_MAX_FILE_BYTES: u64 = 100 << 20;
    /// `access_log.keep_files`.
    pub const ACCESS_LOG_KEEP_FILES: u64 = 5;
    /// `access_log.queue_lines`.
    pub const ACCESS_LOG_QUEUE_LINES: u64 =
        fulcrum_dataplane::access_log::DEFAULT_QUEUE_LINES as u64;
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
    /// `tls.reload_interval_ms`.
    pub const TLS_RELOAD_INTERVAL_MS: u64 = 2_000;
}

/// The longest timing a setting in milliseconds accepts: ten minutes.
const MAX_TIMING_MS: u64 = 600_000;

/// Every setting the agent reads.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "node.id",
        env: "FULCRUM_NODE_ID",
        flag: "id",
        kind: Kind::Integer {
            min: 1,
            max: u64::MAX,
            default: None,
        },
        help: "This node's id, 1 or more (required; --dev: 1)",
    },
    Setting {
        key: "node.data_dir",
        env: "FULCRUM_DATA_DIR",
        flag: "data-dir",
        kind: Kind::Text,
        help: "Where the node keeps its store (required; --dev: ./fulcrum-data)",
    },
    Setting {
        key: "node.api_address",
        env: "FULCRUM_API_ADDRESS",
        flag: "api-address",
        kind: Kind::Text,
        help: "IP:port of the public API (required; --dev: 127.0.0.1:7400)",
    },
    Setting {
        key: "node.raft_address",
        env: "FULCRUM_RAFT_ADDRESS",
        flag: "raft-address",
        kind: Kind::Text,
        help: "IP:port of the peer service: Raft and the internal RPCs (required; --dev: 127.0.0.1:7401)",
    },
    Setting {
        key: "node.advertise_api_address",
        env: "FULCRUM_ADVERTISE_API_ADDRESS",
        flag: "advertise-api-address",
        kind: Kind::Text,
        help: "HOST:port other nodes and clients reach the public API at, a DNS name or an IP (default: node.api_address; set it when that is 0.0.0.0, as in Kubernetes)",
    },
    Setting {
        key: "node.advertise_raft_address",
        env: "FULCRUM_ADVERTISE_RAFT_ADDRESS",
        flag: "advertise-raft-address",
        kind: Kind::Text,
        help: "HOST:port other nodes reach the peer service at, a DNS name or an IP (default: node.raft_address)",
    },
    Setting {
        key: "node.http_address",
        env: "FULCRUM_HTTP_ADDRESS",
        flag: "http-address",
        kind: Kind::Text,
        help: "IP:port of the REST/JSON API and its OpenAPI document, HTTPS with the tls files (optional: none when absent; --dev: 127.0.0.1:7402)",
    },
    Setting {
        key: "cluster.initial_members",
        env: "FULCRUM_INITIAL_MEMBERS",
        flag: "initial-members",
        kind: Kind::Members,
        help: "The members to bootstrap a new cluster with, the same on each: ID=RAFT_ADDRESS/API_ADDRESS,...",
    },
    Setting {
        key: "cluster.join",
        env: "FULCRUM_JOIN",
        flag: "join",
        kind: Kind::Text,
        help: "The API address of a member to join (instead of cluster.initial_members)",
    },
    Setting {
        key: "cluster.eip_pool",
        env: "FULCRUM_EIP_POOL",
        flag: "eip-pool",
        kind: Kind::List,
        help: "The EIP pool a new cluster starts with: CIDR,CIDR (--dev: 127.77.0.0/16)",
    },
    Setting {
        key: "dataplane.threads",
        env: "FULCRUM_DATAPLANE_THREADS",
        flag: "dataplane-threads",
        kind: integer(1, 1024, defaults::DATAPLANE_THREADS),
        help: "Data-plane threads, one per core",
    },
    Setting {
        key: "dataplane.driver",
        env: "FULCRUM_DATAPLANE_DRIVER",
        flag: "dataplane-driver",
        kind: Kind::Choice(&["auto", "epoll"]),
        help: "The data plane's I/O driver: auto (io_uring where available) or epoll",
    },
    Setting {
        key: "dataplane.max_connections",
        env: "FULCRUM_DATAPLANE_MAX_CONNECTIONS",
        flag: "dataplane-max-connections",
        kind: integer(1, 10_000_000, defaults::DATAPLANE_MAX_CONNECTIONS),
        help: "Client connections over every listener at once",
    },
    Setting {
        key: "access_log.destination",
        env: "FULCRUM_ACCESS_LOG",
        flag: "access-log",
        kind: Kind::Text,
        help: "Where the access-log lines of listeners with access_log on go: stdout (the default) or a file's path",
    },
    Setting {
        key: "access_log.format",
        env: "FULCRUM_ACCESS_LOG_FORMAT",
        flag: "access-log-format",
        kind: Kind::Choice(&["json", "common"]),
        help: "Access-log lines: json (one object per line, the default) or common (the common log format)",
    },
    Setting {
        key: "access_log.max_file_bytes",
        env: "FULCRUM_ACCESS_LOG_MAX_FILE_BYTES",
        flag: "access-log-max-file-bytes",
        kind: integer(4096, 1 << 40, defaults::ACCESS_LOG_MAX_FILE_BYTES),
        help: "An access-log file is rotated (FILE.1, FILE.2, ...) before it grows past this",
    },
    Setting {
        key: "access_log.keep_files",
        env: "FULCRUM_ACCESS_LOG_KEEP_FILES",
        flag: "access-log-keep-files",
        kind: integer(1, 1000, defaults::ACCESS_LOG_KEEP_FILES),
        help: "Rotated access-log files kept",
    },
    Setting {
        key: "access_log.queue_lines",
        env: "FULCRUM_ACCESS_LOG_QUEUE_LINES",
        flag: "access-log-queue-lines",
        kind: integer(1, 1 << 20, defaults::ACCESS_LOG_QUEUE_LINES),
        help: "Access-log lines each data-plane thread queues at most; beyond, lines are dropped and counted (fulcrum_access_log_dropped_total), never waited for",
    },
    Setting {
        key: "eip.binder",
        env: "FULCRUM_EIP_BINDER",
        flag: "eip-binder",
        kind: Kind::Choice(&["linux", "loopback"]),
        help: "linux (an interface, nftables, ARP) or loopback (127.0.0.0/8); default: loopback when the whole pool is",
    },
    Setting {
        key: "eip.interface",
        env: "FULCRUM_EIP_INTERFACE",
        flag: "eip-interface",
        kind: Kind::Text,
        help: "Where the Linux binder puts EIP addresses (default eth0)",
    },
    Setting {
        key: "eip.allow_remote_members",
        env: "FULCRUM_EIP_ALLOW_REMOTE_MEMBERS",
        flag: "eip-allow-remote-members",
        kind: Kind::Flag,
        help: "On the loopback binder, accept members outside 127.0.0.0/8",
    },
    Setting {
        key: "api.max_request_bytes",
        env: "FULCRUM_API_MAX_REQUEST_BYTES",
        flag: "api-max-request-bytes",
        // At least 256 KiB: a certificate's PEM (64 KiB) and its key must fit.
        kind: integer(256 << 10, 32 << 20, defaults::MAX_REQUEST_BYTES),
        help: "A larger request is RESOURCE_EXHAUSTED, unread",
    },
    Setting {
        key: "api.max_connections",
        env: "FULCRUM_API_MAX_CONNECTIONS",
        flag: "api-max-connections",
        kind: integer(1, 1_000_000, defaults::MAX_CONNECTIONS),
        help: "Connections per port; beyond it new ones are closed",
    },
    Setting {
        key: "api.max_concurrent_streams",
        env: "FULCRUM_API_MAX_CONCURRENT_STREAMS",
        flag: "api-max-concurrent-streams",
        kind: integer(1, 10_000, defaults::MAX_CONCURRENT_STREAMS),
        help: "Concurrent requests per connection",
    },
    Setting {
        key: "api.max_watch_streams",
        env: "FULCRUM_API_MAX_WATCH_STREAMS",
        flag: "api-max-watch-streams",
        kind: integer(1, 1_000_000, defaults::MAX_WATCH_STREAMS),
        help: "Watch streams per node; beyond it RESOURCE_EXHAUSTED",
    },
    Setting {
        key: "api.max_deadline_ms",
        env: "FULCRUM_API_MAX_DEADLINE_MS",
        flag: "api-max-deadline-ms",
        kind: integer(1, 3_600_000, defaults::MAX_DEADLINE_MS),
        help: "A longer client deadline is cut to this",
    },
    Setting {
        key: "api.first_request_timeout_ms",
        env: "FULCRUM_API_FIRST_REQUEST_TIMEOUT_MS",
        flag: "api-first-request-timeout-ms",
        kind: integer(1, MAX_TIMING_MS, defaults::FIRST_REQUEST_TIMEOUT_MS),
        help: "A connection that sends nothing (or no TLS handshake) for this long is closed",
    },
    Setting {
        key: "api.keepalive_interval_ms",
        env: "FULCRUM_API_KEEPALIVE_INTERVAL_MS",
        flag: "api-keepalive-interval-ms",
        kind: integer(1_000, 3_600_000, defaults::KEEPALIVE_INTERVAL_MS),
        help: "HTTP/2 pings on idle connections; no answer in 10 s closes",
    },
    Setting {
        key: "raft.heartbeat_ms",
        env: "FULCRUM_HEARTBEAT_MS",
        flag: "heartbeat-ms",
        kind: integer(1, MAX_TIMING_MS, defaults::HEARTBEAT_MS),
        help: "How often the leader sends heartbeats",
    },
    Setting {
        key: "raft.election_timeout_min_ms",
        env: "FULCRUM_ELECTION_TIMEOUT_MIN_MS",
        flag: "election-timeout-min-ms",
        kind: integer(1, MAX_TIMING_MS, defaults::ELECTION_TIMEOUT_MIN_MS),
        help: "The shortest election timeout: at least 3 heartbeats",
    },
    Setting {
        key: "raft.election_timeout_max_ms",
        env: "FULCRUM_ELECTION_TIMEOUT_MAX_MS",
        flag: "election-timeout-max-ms",
        kind: integer(1, MAX_TIMING_MS, defaults::ELECTION_TIMEOUT_MAX_MS),
        help: "The longest election timeout, which is also the EIP lease",
    },
    Setting {
        key: "raft.request_timeout_ms",
        env: "FULCRUM_REQUEST_TIMEOUT_MS",
        flag: "request-timeout-ms",
        kind: integer(1, MAX_TIMING_MS, defaults::REQUEST_TIMEOUT_MS),
        help: "The deadline of a request that carries none: above the longest election timeout",
    },
    Setting {
        key: "raft.snapshot_interval_entries",
        env: "FULCRUM_SNAPSHOT_INTERVAL_ENTRIES",
        flag: "snapshot-interval-entries",
        kind: integer(1, 100_000_000, defaults::SNAPSHOT_INTERVAL_ENTRIES),
        help: "A snapshot is built after this many entries since the last",
    },
    Setting {
        key: "raft.log_entries_kept_after_snapshot",
        env: "FULCRUM_LOG_ENTRIES_KEPT_AFTER_SNAPSHOT",
        flag: "log-entries-kept-after-snapshot",
        kind: integer(0, 100_000_000, defaults::LOG_ENTRIES_KEPT_AFTER_SNAPSHOT),
        help: "Entries a snapshot leaves in the log, for followers that lag a little",
    },
    Setting {
        key: "tls.ca_file",
        env: "FULCRUM_TLS_CA_FILE",
        flag: "tls-ca-file",
        kind: Kind::Text,
        help: "The cluster CA (PEM): peers and client certificates must be signed by it",
    },
    Setting {
        key: "tls.cert_file",
        env: "FULCRUM_TLS_CERT_FILE",
        flag: "tls-cert-file",
        kind: Kind::Text,
        help: "This node's certificate chain (PEM, role node), for both ports",
    },
    Setting {
        key: "tls.key_file",
        env: "FULCRUM_TLS_KEY_FILE",
        flag: "tls-key-file",
        kind: Kind::Text,
        help: "This node's private key (PEM)",
    },
    Setting {
        key: "tls.reload_interval_ms",
        env: "FULCRUM_TLS_RELOAD_INTERVAL_MS",
        flag: "tls-reload-interval-ms",
        kind: integer(100, 3_600_000, defaults::TLS_RELOAD_INTERVAL_MS),
        help: "How often the TLS files are checked for a change (reloaded without a restart)",
    },
    Setting {
        key: "secrets.data_key_file",
        env: "FULCRUM_DATA_KEY_FILE",
        flag: "data-key-file",
        kind: Kind::Text,
        help: "The cluster's data key (the same file on every node) that seals certificate keys (required; --dev: DATA_DIR/data-key)",
    },
    Setting {
        key: "log.format",
        env: "FULCRUM_LOG_FORMAT",
        flag: "log-format",
        kind: Kind::Choice(&["text", "json"]),
        help: "How the agent writes its log to stderr: text, or json (one object per line, the call's span fields, request_id among them, included); the level is FULCRUM_LOG",
    },
    Setting {
        key: "tls.insecure",
        env: "FULCRUM_INSECURE",
        flag: "insecure",
        kind: Kind::Flag,
        help: "Serve without TLS and authentication on addresses other than loopback (never in production)",
    },
];

/// The setting `key` names.
pub fn setting(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.key == key)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn keys_variables_and_flags_are_unique_and_well_formed() {
        let mut keys = BTreeSet::new();
        let mut envs = BTreeSet::new();
        let mut flags = BTreeSet::new();
        for setting in SETTINGS {
            assert!(keys.insert(setting.key), "{} twice", setting.key);
            assert!(envs.insert(setting.env), "{} twice", setting.env);
            assert!(flags.insert(setting.flag), "{} twice", setting.flag);
            assert_eq!(setting.key.matches('.').count(), 1, "{}", setting.key);
            assert!(setting.env.starts_with("FULCRUM_"), "{}", setting.env);
            assert!(!setting.help.is_empty(), "{}", setting.key);
            if let Kind::Integer {
                min,
                max,
                default: Some(default),
            } = setting.kind
            {
                assert!((min..=max).contains(&default), "{}", setting.key);
            }
        }
    }

    /// The README's settings table lists every setting with its variable
    /// and flag: documentation and code cannot drift apart.
    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../../README.md");
        for setting in SETTINGS {
            let row = format!(
                "| `{}` | `{}` | `--{}` |",
                setting.key, setting.env, setting.flag
            );
            assert!(readme.contains(&row), "README lacks the row {row}");
        }
    }
}
