//! Figures read when scraped: Raft's metrics, the data plane's counters and
//! member health, the EIPs this node holds, and the process.

use std::sync::Arc;

use fulcrum_eip::Binder;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::dataplane::NodeDataPlane;
use crate::replica::Replica;

/// Writes one unlabelled gauge.
fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// Writes one unlabelled counter.
fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// Writes a family of metrics of type `kind`, one per label set.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder<'_>,
    (name, help): (&str, &str),
    kind: MetricType,
    values: impl IntoIterator<Item = (L, M)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in values {
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Writes a family of counters, one per label set.
fn counter_family<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (L, u64)>,
) -> Result<(), std::fmt::Error> {
    let values = values
        .into_iter()
        .map(|(labels, value)| (labels, ConstCounter::new(value)));
    family(encoder, (name, help), MetricType::Counter, values)
}

/// Writes a family of gauges, one per label set.
fn gauge_family<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (L, i64)>,
) -> Result<(), std::fmt::Error> {
    let values = values
        .into_iter()
        .map(|(labels, value)| (labels, ConstGauge::new(value)));
    family(encoder, (name, help), MetricType::Gauge, values)
}

/// A histogram read from counts kept elsewhere: buckets not cumulative,
/// the last one past every bound.
struct ConstHistogram {
    bounds: &'static [f64],
    buckets: Vec<u64>,
    sum: f64,
}

impl EncodeMetric for ConstHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.buckets.iter().copied())
            .collect();
        let count = self.buckets.iter().sum();
        encoder.encode_histogram::<NoLabelSet>(self.sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Raft as this node sees it.
pub(super) struct Raft(pub(super) Arc<Replica>);

impl std::fmt::Debug for Raft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Raft")
    }
}

impl Collector for Raft {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let metrics = self.0.metrics();
        let index =
            |id: Option<&fulcrum_raft_store::raft::LogId>| id.map_or(0, |id| id.index) as i64;
        gauge(
            &mut encoder,
            "fulcrum_raft_term",
            "The current term",
            metrics.current_term as i64,
        )?;
        gauge(
            &mut encoder,
            "fulcrum_raft_is_leader",
            "1 while this node leads",
            i64::from(metrics.current_leader == Some(metrics.id)),
        )?;
        gauge(
            &mut encoder,
            "fulcrum_raft_running",
            "1 while Raft runs; 0 once it has stopped (a store failure, an entry it cannot apply)",
            i64::from(metrics.running_state.is_ok()),
        )?;
        gauge(
            &mut encoder,
            "fulcrum_raft_last_log_index",
            "The last log index this node holds",
            metrics.last_log_index.unwrap_or(0) as i64,
        )?;
        gauge(
            &mut encoder,
            "fulcrum_raft_committed_index",
            "The last log index this node knows to be committed",
            index(metrics.local_committed.as_ref()),
        )?;
        gauge(
            &mut encoder,
            "fulcrum_raft_applied_index",
            "The last log index this node has applied",
            index(metrics.last_applied.as_ref()),
        )?;
        gauge(
            &mut encoder,
            "fulcrum_raft_snapshot_index",
            "The log index of this node's last snapshot",
            index(metrics.snapshot.as_ref()),
        )?;
        let last = metrics.last_log_index.unwrap_or(0);
        let lag = metrics
            .replication
            .iter()
            .flatten()
            .filter(|(node, _)| **node != metrics.id)
            .map(|(node, matched)| {
                let matched = matched.as_ref().map_or(0, |id| id.index);
                (
                    [("node", node.to_string())],
                    last.saturating_sub(matched) as i64,
                )
            });
        gauge_family(
            &mut encoder,
            "fulcrum_raft_follower_lag_entries",
            "On the leader: how many entries each follower is behind its last log index",
            lag,
        )
    }
}

/// The data plane's counters (summed over its threads when read) and its
/// members' health.
pub(super) struct DataPlane(pub(super) Arc<NodeDataPlane>);

impl std::fmt::Debug for DataPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataPlane")
    }
}

impl Collector for DataPlane {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let forwarder = self.0.forwarder();
        let counters = forwarder.counters();
        gauge(
            &mut encoder,
            "fulcrum_dataplane_owner",
            "1 while this node's data plane serves the EIPs",
            i64::from(self.0.is_owner()),
        )?;
        gauge(
            &mut encoder,
            "fulcrum_dataplane_generation",
            "The data-plane configuration every forwarding thread has applied (a revision that changes nothing served makes none)",
            forwarder
                .applied_generations()
                .into_iter()
                .min()
                .map_or(0, |generation| {
                    i64::try_from(generation).unwrap_or(i64::MAX)
                }),
        )?;
        counter(
            &mut encoder,
            "fulcrum_dataplane_services_built",
            "Listener services the forwarding threads built: one per thread for each listener bound or changed",
            forwarder.services_built(),
        )?;
        let listener = |id: &String| [("listener", id.clone())];
        gauge_family(
            &mut encoder,
            "fulcrum_listener_open_connections",
            "Client connections open now",
            counters
                .listeners
                .iter()
                .map(|(id, s)| (listener(id), s.active_connections as i64)),
        )?;
        counter_family(
            &mut encoder,
            "fulcrum_listener_connections",
            "Client connections accepted (refused ones included)",
            counters
                .listeners
                .iter()
                .map(|(id, s)| (listener(id), s.total_connections)),
        )?;
        counter_family(
            &mut encoder,
            "fulcrum_listener_received_bytes",
            "Bytes received from clients",
            counters
                .listeners
                .iter()
                .map(|(id, s)| (listener(id), s.bytes_in)),
        )?;
        counter_family(
            &mut encoder,
            "fulcrum_listener_sent_bytes",
            "Bytes sent to clients",
            counters
                .listeners
                .iter()
                .map(|(id, s)| (listener(id), s.bytes_out)),
        )?;
        counter_family(
            &mut encoder,
            "fulcrum_listener_requests",
            "HTTP requests received",
            counters
                .listeners
                .iter()
                .map(|(id, s)| (listener(id), s.requests)),
        )?;
        const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
        counter_family(
            &mut encoder,
            "fulcrum_listener_responses",
            "HTTP responses sent, by status class",
            counters.listeners.iter().flat_map(|(id, s)| {
                CLASSES.iter().zip(s.responses).map(move |(class, count)| {
                    (
                        [("listener", id.clone()), ("class", (*class).to_owned())],
                        count,
                    )
                })
            }),
        )?;
        counter_family(
            &mut encoder,
            "fulcrum_listener_errors",
            "Errors by kind (connection-limit refusals, timeouts, bad requests, member failures, TLS)",
            counters.listeners.iter().flat_map(|(id, s)| {
                s.errors.iter().map(move |(kind, count)| {
                    (
                        [("listener", id.clone()), ("kind", kind.name().to_owned())],
                        *count,
                    )
                })
            }),
        )?;
        counter_family(
            &mut encoder,
            "fulcrum_listener_tls_handshakes",
            "TLS handshakes completed (failed ones are errors of kind tls_handshake)",
            counters
                .listeners
                .iter()
                .map(|(id, s)| (listener(id), s.tls_handshakes)),
        )?;
        family(
            &mut encoder,
            (
                "fulcrum_listener_request_duration_seconds",
                "HTTP requests by time from their first byte in to their last byte out",
            ),
            MetricType::Histogram,
            counters.listeners.iter().map(|(id, s)| {
                let histogram = ConstHistogram {
                    bounds: &fulcrum_dataplane::LATENCY_BUCKETS,
                    buckets: s.latency.buckets.to_vec(),
                    sum: s.latency.sum_micros as f64 / 1e6,
                };
                (listener(id), histogram)
            }),
        )?;
        let access_log = counters.access_log;
        for (name, help, value) in [
            (
                "fulcrum_access_log_lines",
                "Access-log lines written",
                access_log.written,
            ),
            (
                "fulcrum_access_log_dropped",
                "Access-log lines dropped because a data-plane thread's queue was full",
                access_log.dropped,
            ),
            (
                "fulcrum_access_log_failed",
                "Access-log lines lost because writing them failed",
                access_log.failed,
            ),
        ] {
            counter(&mut encoder, name, help, value)?;
        }
        let member = |id: &String| [("member", id.clone())];
        gauge_family(
            &mut encoder,
            "fulcrum_member_open_connections",
            "Connections to the member open now",
            counters
                .members
                .iter()
                .map(|(id, s)| (member(id), s.active_connections as i64)),
        )?;
        counter_family(
            &mut encoder,
            "fulcrum_member_requests",
            "HTTP requests sent to the member",
            counters
                .members
                .iter()
                .map(|(id, s)| (member(id), s.requests)),
        )?;
        counter_family(
            &mut encoder,
            "fulcrum_member_failures",
            "Connections or requests that failed at the member",
            counters
                .members
                .iter()
                .map(|(id, s)| (member(id), s.failures)),
        )?;
        gauge_family(
            &mut encoder,
            "fulcrum_member_healthy",
            "1 while the member passes its health check, 0 while it fails it (monitored members only)",
            forwarder
                .health()
                .into_iter()
                .map(|((group, member), health)| {
                    (
                        [("group", group), ("member", member)],
                        i64::from(health.healthy),
                    )
                }),
        )
    }
}

/// The EIPs this node holds.
pub(super) struct Eip(pub(super) Arc<dyn Binder>);

impl std::fmt::Debug for Eip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Eip")
    }
}

impl Collector for Eip {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let held = self.0.held();
        gauge(
            &mut encoder,
            "fulcrum_eip_held_addresses",
            "EIP addresses this node holds now",
            held.len() as i64,
        )?;
        gauge_family(
            &mut encoder,
            "fulcrum_eip_held",
            "1 for each EIP address this node holds",
            held.into_iter()
                .map(|address| ([("address", address.to_string())], 1)),
        )
    }
}

/// The process, from `/proc/self`.
#[derive(Debug)]
pub(super) struct Process;

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|value| value.parse::<i64>().ok())
                .unwrap_or(0)
        };
        gauge(
            &mut encoder,
            "process_resident_memory_bytes",
            "Resident memory",
            field("VmRSS:") * 1024,
        )?;
        gauge(
            &mut encoder,
            "process_threads",
            "Threads",
            field("Threads:"),
        )?;
        let open = std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count() as i64);
        gauge(
            &mut encoder,
            "process_open_fds",
            "Open file descriptors",
            open,
        )?;
        gauge_family(
            &mut encoder,
            "fulcrum_build_info",
            "The build: 1, with its version and log format as labels",
            [(
                [
                    ("version", env!("CARGO_PKG_VERSION").to_owned()),
                    ("log_format", fulcrum_api::LOG_FORMAT_VERSION.to_string()),
                ],
                1,
            )],
        )
    }
}

/// The store's counters (atomics its writers keep anyway).
pub(super) struct Store(pub(super) Arc<fulcrum_raft_store::raft::StoreMetrics>);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Collector for Store {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let store = &self.0;
        for (name, help, value) in [
            (
                "fulcrum_store_appended_entries",
                "Raft log entries appended",
                store.entries_appended.load(Relaxed),
            ),
            (
                "fulcrum_store_appends",
                "Append calls (each may hold many entries)",
                store.appends.load(Relaxed),
            ),
            (
                "fulcrum_store_wal_syncs",
                "Write-ahead log syncs (each covers every append waiting: group commit)",
                store.wal_syncs.load(Relaxed),
            ),
            (
                "fulcrum_raft_applied_entries",
                "Committed entries this node applied to its state",
                store.entries_applied.load(Relaxed),
            ),
            (
                "fulcrum_raft_snapshots_built",
                "Snapshots this node built",
                store.snapshots_built.load(Relaxed),
            ),
            (
                "fulcrum_raft_snapshots_installed",
                "Snapshots this node received from the leader and installed",
                store.snapshots_installed.load(Relaxed),
            ),
        ] {
            counter(&mut encoder, name, help, value)?;
        }
        for (name, help, durations) in [
            (
                "fulcrum_raft_apply_duration_seconds",
                "How long each batch of committed entries took to apply on this node (leader and followers)",
                &store.apply_duration,
            ),
            (
                "fulcrum_raft_snapshot_build_duration_seconds",
                "How long each snapshot this node built took, written and synced",
                &store.snapshot_build_duration,
            ),
        ] {
            let (buckets, sum) = durations.read();
            let histogram = ConstHistogram {
                bounds: durations.bounds(),
                buckets,
                sum,
            };
            histogram.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Histogram,
            )?)?;
        }
        gauge(
            &mut encoder,
            "fulcrum_raft_snapshot_size_bytes",
            "The size of the latest snapshot this node built or installed",
            i64::try_from(store.snapshot_bytes.load(Relaxed)).unwrap_or(i64::MAX),
        )
    }
}

/// The API's open watch streams.
#[derive(Debug)]
pub(super) struct WatchStreams(pub(super) crate::api::WatchSlots);

impl Collector for WatchStreams {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        gauge(
            &mut encoder,
            "fulcrum_api_watch_streams",
            "Watch streams open on this node (gRPC and Server-Sent Events)",
            i64::try_from(self.0.open()).unwrap_or(i64::MAX),
        )
    }
}
