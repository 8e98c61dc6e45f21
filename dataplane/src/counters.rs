//! Counters per listener and per member.
//!
//! The hot path only ever adds to counters that belong to its own thread
//! (relaxed atomics on memory no other thread writes), and a reader sums the
//! threads' values. The open-connection gauges are the exception: they are
//! shared by all threads, because the connection limit and least-connections
//! balancing need the exact cluster-wide figure at the moment of a decision.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What went wrong with a connection or request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// Refused because the listener was at its connection limit.
    ConnectionLimit,
    /// Closed at once because the whole forwarder was at its connection
    /// limit (`Settings::node_connection_limit`).
    NodeConnectionLimit,
    /// No member could take it (503 for HTTP).
    NoMember,
    /// Connecting to the chosen member failed or timed out (502 for HTTP).
    MemberConnect,
    /// The member broke the connection or answered something that is not HTTP (502).
    MemberProtocol,
    /// The member did not start its response in time (504).
    MemberTimeout,
    /// The client sent something that is not HTTP/1.1 (400).
    BadRequest,
    /// The client's request head was over the size or count limit (431).
    HeaderTooLarge,
    /// The client did not send its request head in time (408).
    HeaderTimeout,
    /// The TLS handshake failed.
    TlsHandshake,
    /// A connection closed for having no traffic either way for its idle timeout.
    IdleTimeout,
}

impl ErrorKind {
    /// Every kind, in a fixed order (the order of the counter slots).
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::ConnectionLimit,
        ErrorKind::NodeConnectionLimit,
        ErrorKind::NoMember,
        ErrorKind::MemberConnect,
        ErrorKind::MemberProtocol,
        ErrorKind::MemberTimeout,
        ErrorKind::BadRequest,
        ErrorKind::HeaderTooLarge,
        ErrorKind::HeaderTimeout,
        ErrorKind::TlsHandshake,
        ErrorKind::IdleTimeout,
    ];

    fn slot(self) -> usize {
        self as usize
    }

    /// Its name in snake case, as the API reports it (`connection_limit`, …).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectionLimit => "connection_limit",
            ErrorKind::NodeConnectionLimit => "node_connection_limit",
            ErrorKind::NoMember => "no_member",
            ErrorKind::MemberConnect => "member_connect",
            ErrorKind::MemberProtocol => "member_protocol",
            ErrorKind::MemberTimeout => "member_timeout",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::HeaderTooLarge => "header_too_large",
            ErrorKind::HeaderTimeout => "header_timeout",
            ErrorKind::TlsHandshake => "tls_handshake",
            ErrorKind::IdleTimeout => "idle_timeout",
        }
    }
}

/// The upper bounds, in seconds, of the request-latency histogram's
/// buckets (a last bucket takes the rest).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One thread's counters of one listener.
#[derive(Debug, Default)]
pub(crate) struct ListenerCounters {
    connections: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    requests: AtomicU64,
    responses: [AtomicU64; 5],
    errors: [AtomicU64; ErrorKind::ALL.len()],
    tls_handshakes: AtomicU64,
    /// Requests by latency bucket (not cumulative), the last past every bound.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
}

impl ListenerCounters {
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn bytes_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn bytes_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    /// A response of `status` sent to the client.
    pub(crate) fn response(&self, status: u16) {
        if let Some(slot) = status_class(status) {
            self.responses[slot].fetch_add(1, Ordering::Relaxed);
        }
    }
    pub(crate) fn error(&self, kind: ErrorKind) {
        self.errors[kind.slot()].fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn tls_handshake(&self) {
        self.tls_handshakes.fetch_add(1, Ordering::Relaxed);
    }
    /// An HTTP request that took `took`, first byte in to last byte out.
    pub(crate) fn latency(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// One thread's counters of one member.
#[derive(Debug, Default)]
pub(crate) struct MemberCounters {
    connections: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
}

impl MemberCounters {
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }
    /// Bytes received from the member.
    pub(crate) fn bytes_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Bytes sent to the member.
    pub(crate) fn bytes_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// 1xx → 0, …, 5xx → 4.
fn status_class(status: u16) -> Option<usize> {
    match status {
        100..=599 => Some(usize::from(status / 100 - 1)),
        _ => None,
    }
}

/// A count of open connections shared by every thread.
#[derive(Debug, Default)]
pub(crate) struct Gauge(AtomicU64);

impl Gauge {
    /// Takes a slot if fewer than `limit` are taken; `None` for no limit.
    /// Exact across threads: the increment and the check are one atomic step.
    pub(crate) fn try_acquire(self: &Arc<Self>, limit: Option<u32>) -> Option<GaugeSlot> {
        let before = self.0.fetch_add(1, Ordering::AcqRel);
        if limit.is_some_and(|limit| before >= u64::from(limit)) {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(GaugeSlot(Arc::clone(self)))
    }

    /// Takes a slot, whatever the count.
    pub(crate) fn acquire(self: &Arc<Self>) -> GaugeSlot {
        self.0.fetch_add(1, Ordering::AcqRel);
        GaugeSlot(Arc::clone(self))
    }

    pub(crate) fn open(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// An open connection counted in a [`Gauge`]; dropping it releases the slot.
#[derive(Debug)]
pub(crate) struct GaugeSlot(Arc<Gauge>);

impl Drop for GaugeSlot {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every thread's counters, and the shared gauges, by listener and member id.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    threads: Mutex<Vec<Arc<ThreadCounters>>>,
    listener_gauges: Mutex<HashMap<String, Arc<Gauge>>>,
    member_gauges: Mutex<HashMap<String, Arc<Gauge>>>,
    member_outcomes: Mutex<HashMap<String, Arc<crate::passive::Outcomes>>>,
}

/// One thread's counters.
#[derive(Debug, Default)]
pub(crate) struct ThreadCounters {
    listeners: Mutex<HashMap<String, Arc<ListenerCounters>>>,
    members: Mutex<HashMap<String, Arc<MemberCounters>>>,
}

impl ThreadCounters {
    pub(crate) fn listener(&self, id: &str) -> Arc<ListenerCounters> {
        entry(&self.listeners, id)
    }
    pub(crate) fn member(&self, id: &str) -> Arc<MemberCounters> {
        entry(&self.members, id)
    }
}

fn entry<T: Default>(map: &Mutex<HashMap<String, Arc<T>>>, id: &str) -> Arc<T> {
    let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(map.entry(id.to_owned()).or_default())
}

impl Registry {
    /// A new thread's counters, summed into every later snapshot.
    pub(crate) fn register_thread(&self) -> Arc<ThreadCounters> {
        let counters = Arc::new(ThreadCounters::default());
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&counters));
        counters
    }

    /// The open-connection gauge of a listener, the same for every thread and generation.
    pub(crate) fn listener_gauge(&self, id: &str) -> Arc<Gauge> {
        entry(&self.listener_gauges, id)
    }

    /// The open-connection gauge of a member.
    pub(crate) fn member_gauge(&self, id: &str) -> Arc<Gauge> {
        entry(&self.member_gauges, id)
    }

    /// The passive-health state of member `id`, shared by every thread.
    pub(crate) fn member_outcomes(&self, id: &str) -> Arc<crate::passive::Outcomes> {
        entry(&self.member_outcomes, id)
    }

    /// The sums over every thread.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::default();
        let threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        for thread in threads.iter() {
            let listeners = thread
                .listeners
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (id, counters) in listeners.iter() {
                snapshot
                    .listeners
                    .entry(id.clone())
                    .or_default()
                    .add(counters);
            }
            let members = thread
                .members
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for (id, counters) in members.iter() {
                snapshot
                    .members
                    .entry(id.clone())
                    .or_default()
                    .add(counters);
            }
        }
        drop(threads);
        let gauges = self
            .listener_gauges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (id, gauge) in gauges.iter() {
            snapshot
                .listeners
                .entry(id.clone())
                .or_default()
                .active_connections = gauge.open();
        }
        let gauges = self
            .member_gauges
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (id, gauge) in gauges.iter() {
            snapshot
                .members
                .entry(id.clone())
                .or_default()
                .active_connections = gauge.open();
        }
        snapshot
    }
}

/// Counters summed over every thread, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// By listener id.
    pub listeners: BTreeMap<String, ListenerStats>,
    /// By member id.
    pub members: BTreeMap<String, MemberStats>,
    /// The access log's lines written and dropped.
    pub access_log: crate::access_log::AccessLogStats,
}

/// One listener's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerStats {
    /// Client connections open now.
    pub active_connections: u64,
    /// Client connections accepted since start (refused ones included).
    pub total_connections: u64,
    /// Bytes received from clients.
    pub bytes_in: u64,
    /// Bytes sent to clients.
    pub bytes_out: u64,
    /// HTTP requests received.
    pub requests: u64,
    /// HTTP responses sent, by class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub responses: [u64; 5],
    /// Errors by kind (kinds that never happened are absent).
    pub errors: BTreeMap<ErrorKind, u64>,
    /// TLS handshakes completed (HTTPS); failed ones are errors of kind `tls_handshake`.
    pub tls_handshakes: u64,
    /// HTTP requests by latency, first byte in to last byte out.
    pub latency: Latency,
}

/// A latency histogram: counts per bucket of [`LATENCY_BUCKETS`] (not
/// cumulative; the last past every bound) and the sum of all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// By bucket, one more than there are bounds.
    pub buckets: [u64; LATENCY_BUCKETS.len() + 1],
    /// Sum of every latency, in microseconds.
    pub sum_micros: u64,
}

impl Latency {
    /// Requests counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

impl ListenerStats {
    fn add(&mut self, counters: &ListenerCounters) {
        self.total_connections += counters.connections.load(Ordering::Relaxed);
        self.bytes_in += counters.bytes_in.load(Ordering::Relaxed);
        self.bytes_out += counters.bytes_out.load(Ordering::Relaxed);
        self.requests += counters.requests.load(Ordering::Relaxed);
        for (sum, counter) in self.responses.iter_mut().zip(&counters.responses) {
            *sum += counter.load(Ordering::Relaxed);
        }
        for kind in ErrorKind::ALL {
            let count = counters.errors[kind.slot()].load(Ordering::Relaxed);
            if count > 0 {
                *self.errors.entry(kind).or_default() += count;
            }
        }
        self.tls_handshakes += counters.tls_handshakes.load(Ordering::Relaxed);
        for (sum, counter) in self.latency.buckets.iter_mut().zip(&counters.latency) {
            *sum += counter.load(Ordering::Relaxed);
        }
        self.latency.sum_micros += counters.latency_sum_micros.load(Ordering::Relaxed);
    }

    /// The count of errors of `kind`.
    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.errors.get(&kind).copied().unwrap_or(0)
    }
}

/// One member's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberStats {
    /// Connections to the member open now.
    pub active_connections: u64,
    /// Connections opened to the member (TCP) or requests given a connection (HTTP).
    pub total_connections: u64,
    /// Bytes received from the member.
    pub bytes_in: u64,
    /// Bytes sent to the member.
    pub bytes_out: u64,
    /// HTTP requests sent to the member.
    pub requests: u64,
    /// Connections or requests that failed at the member (connect, timeout, protocol).
    pub failures: u64,
}

impl MemberStats {
    fn add(&mut self, counters: &MemberCounters) {
        self.total_connections += counters.connections.load(Ordering::Relaxed);
        self.bytes_in += counters.bytes_in.load(Ordering::Relaxed);
        self.bytes_out += counters.bytes_out.load(Ordering::Relaxed);
        self.requests += counters.requests.load(Ordering::Relaxed);
        self.failures += counters.failures.load(Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_admits_exactly_its_limit() {
        let gauge = Arc::new(Gauge::default());
        let held: Vec<_> = (0..3).map(|_| gauge.try_acquire(Some(3))).collect();
        assert!(held.iter().all(Option::is_some));
        assert!(gauge.try_acquire(Some(3)).is_none());
        assert_eq!(gauge.open(), 3);
        drop(held);
        assert_eq!(gauge.open(), 0);
        assert!(gauge.try_acquire(Some(3)).is_some());
    }

    #[test]
    fn snapshots_sum_every_thread() {
        let registry = Registry::default();
        for _ in 0..3 {
            let thread = registry.register_thread();
            let listener = thread.listener("lsn-1");
            listener.connection();
            listener.response(204);
            listener.response(503);
            listener.error(ErrorKind::NoMember);
            listener.latency(Duration::from_micros(700));
            listener.latency(Duration::from_secs(60));
        }
        let stats = &registry.snapshot().listeners["lsn-1"];
        assert_eq!(stats.total_connections, 3);
        assert_eq!(stats.responses, [0, 3, 0, 0, 3]);
        assert_eq!(stats.errors_of(ErrorKind::NoMember), 3);
        assert_eq!(stats.errors_of(ErrorKind::BadRequest), 0);
        // 0.7 ms falls in the 1 ms bucket, 60 s past the last bound.
        assert_eq!(stats.latency.buckets[1], 3);
        assert_eq!(stats.latency.buckets[LATENCY_BUCKETS.len()], 3);
        assert_eq!(stats.latency.count(), 6);
        assert_eq!(stats.latency.sum_micros, 3 * 60_000_700);
    }
}
