//! The forwarder's handle: starts the worker threads, swaps configurations
//! in, and answers what the threads have applied, which listeners failed,
//! how members' health checks go and what the counters say.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::access_log::{AccessLog, AccessLogSettings};
use crate::config::Config;
use crate::counters::{Gauge, Registry, Snapshot};
use crate::health::{Board, MemberHealth};
use crate::plan::{ListenerChange, Plan};
use crate::worker;

/// Client connections open at once in the whole forwarder (every thread and
/// listener) at most, unless [`Settings::node_connection_limit`] says
/// otherwise. Each takes a descriptor, and its HTTP connection to a member
/// another: the process's open-file limit should be at least twice this.
pub const DEFAULT_NODE_CONNECTION_LIMIT: u32 = 100_000;

/// How the forwarder runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Worker threads, one per core; at least 1.
    pub threads: usize,
    /// Pin thread `i` to core `i` (modulo the cores there are).
    pub pin_threads: bool,
    /// The I/O driver of every thread.
    pub driver: Driver,
    /// Client connections open at once over all threads and listeners at
    /// most; at least 1. Connections beyond it are accepted and closed at
    /// once (counted as `node_connection_limit` errors of their listener),
    /// so that the process keeps descriptors for the open ones.
    pub node_connection_limit: u32,
    /// Where the access-log lines of listeners that ask for them go.
    pub access_log: AccessLogSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            pin_threads: true,
            driver: Driver::Auto,
            node_connection_limit: DEFAULT_NODE_CONNECTION_LIMIT,
            access_log: AccessLogSettings::default(),
        }
    }
}

/// The I/O driver of the worker threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Driver {
    /// monoio's fusion driver: io_uring where the kernel offers the
    /// operations monoio needs, epoll otherwise.
    #[default]
    Auto,
    /// epoll (readiness), whatever the kernel offers. On the 6.x kernel of
    /// this project's benchmark machine it forwarded small requests with
    /// about a quarter less CPU than io_uring (see the README).
    Epoll,
}

impl Driver {
    /// The driver a thread will run, as logged: `io_uring` or `epoll`.
    pub fn resolved(self) -> &'static str {
        match self {
            Self::Auto if monoio::utils::detect_uring() => "io_uring",
            Self::Auto | Self::Epoll => "epoll",
        }
    }
}

/// Why a configuration was not applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    /// Generations only go up.
    #[error("generation {offered} is not above the current generation {current}")]
    StaleGeneration {
        /// The offered configuration's generation.
        offered: u64,
        /// The generation in place.
        current: u64,
    },
    /// Two listeners with one id.
    #[error("listeners: two listeners have the id {0}")]
    DuplicateListener(String),
    /// Two listeners on one address and port (SO_REUSEPORT would let both
    /// bind and split the connections between them).
    #[error("listeners: {0} and {1} both listen on {2}")]
    DuplicateAddress(String, String, std::net::SocketAddr),
}

/// What the worker threads share with the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    plan: ArcSwap<Plan>,
    applied: Vec<AtomicU64>,
    stopping: AtomicBool,
    drain_deadline: Mutex<Option<Instant>>,
    /// (listener id, thread) → the OS error of binding it.
    bind_errors: Mutex<BTreeMap<(String, usize), String>>,
    pub(crate) counters: Registry,
    pub(crate) health: Arc<Board>,
    /// Open client connections, all threads and listeners.
    pub(crate) node_connections: Arc<Gauge>,
    /// [`Settings::node_connection_limit`].
    pub(crate) node_connection_limit: u32,
    /// The writer every thread's access-log queue feeds.
    pub(crate) access_log: Arc<AccessLog>,
    /// Services built by every thread (a listener bound, or its service
    /// replaced because what it serves changed).
    services_built: AtomicU64,
}

impl Shared {
    pub(crate) fn plan(&self) -> Arc<Plan> {
        self.plan.load_full()
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn drain_deadline(&self) -> Instant {
        self.drain_deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or_else(Instant::now)
    }

    pub(crate) fn count_service_built(&self) {
        self.services_built.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn mark_applied(&self, thread: usize, generation: u64) {
        self.applied[thread].store(generation, Ordering::Release);
    }

    pub(crate) fn report_bind(&self, thread: usize, listener: &str, error: Option<String>) {
        let mut errors = self
            .bind_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (listener.to_owned(), thread);
        match error {
            Some(error) => errors.insert(key, error),
            None => errors.remove(&key),
        };
    }
}

/// A running data plane.
#[derive(Debug)]
pub struct Forwarder {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Forwarder {
    /// Starts the worker threads on `config` and returns once every thread
    /// has applied it (listeners that cannot be bound are reported by
    /// [`Self::listener_errors`], not here).
    ///
    /// # Errors
    /// When a thread's runtime cannot be built, or the configuration is invalid.
    pub fn start(settings: &Settings, config: Config) -> io::Result<Self> {
        let plan = Plan::first(config)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        if settings.node_connection_limit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "node_connection_limit: must be at least 1",
            ));
        }
        let threads = settings.threads.max(1);
        let generation = plan.generation();
        let access_log = AccessLog::start(&settings.access_log)?;
        let shared = Arc::new(Shared {
            plan: ArcSwap::from_pointee(plan),
            applied: (0..threads).map(|_| AtomicU64::new(u64::MAX)).collect(),
            stopping: AtomicBool::new(false),
            drain_deadline: Mutex::new(None),
            bind_errors: Mutex::new(BTreeMap::new()),
            counters: Registry::default(),
            health: Arc::new(Board::default()),
            node_connections: Arc::new(Gauge::default()),
            node_connection_limit: settings.node_connection_limit,
            access_log,
            services_built: AtomicU64::new(0),
        });
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        tracing::info!(
            threads,
            driver = if monoio::utils::detect_uring() {
                "io_uring"
            } else {
                "epoll"
            },
            "data plane starting"
        );
        let forwarder = Self {
            shared,
            threads: Mutex::new(Vec::with_capacity(threads)),
        };
        for index in 0..threads {
            let (ready, started) = std::sync::mpsc::channel();
            let shared = Arc::clone(&forwarder.shared);
            let cpu = settings.pin_threads.then_some(index % cores);
            let driver = settings.driver;
            let thread = std::thread::Builder::new()
                .name(format!("fulcrum-dp-{index}"))
                .spawn(move || worker::run(shared, index, cpu, driver, ready))?;
            forwarder
                .threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(thread);
            started
                .recv()
                .map_err(|_| io::Error::other("a data-plane thread died while starting"))??;
        }
        if !forwarder.wait_applied(generation, Duration::from_secs(10)) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "threads did not apply the first configuration",
            ));
        }
        Ok(forwarder)
    }

    /// Swaps `config` in. Threads pick it up within milliseconds; see
    /// [`Self::applied_generations`]. What the threads do follows what
    /// changed: the listeners that are the same allocations as in the
    /// configuration in place are left as they are.
    ///
    /// # Errors
    /// A generation not above the current one, or an invalid configuration;
    /// the current configuration stays.
    pub fn apply(&self, config: Config) -> Result<(), ApplyError> {
        let current = self.shared.plan();
        let changes = current.changes_to(&config)?;
        self.store(current.next(config.generation, config.http, &changes)?);
        Ok(())
    }

    /// Makes generation `generation` the configuration in place with
    /// `changes`, and nothing else, changed: it costs what it changes,
    /// however many listeners there are.
    ///
    /// # Errors
    /// A generation not above the current one, a listener changed twice, or
    /// two served listeners on one address; the current configuration stays.
    pub fn apply_changes(
        &self,
        generation: u64,
        changes: &[ListenerChange],
    ) -> Result<(), ApplyError> {
        let current = self.shared.plan();
        self.store(current.next(generation, current.http().clone(), changes)?);
        Ok(())
    }

    fn store(&self, plan: Plan) {
        self.shared.plan.store(Arc::new(plan));
    }

    /// The configuration in place (listeners in id order).
    pub fn config(&self) -> Config {
        self.shared.plan().config()
    }

    /// The generation each thread has applied, by thread.
    pub fn applied_generations(&self) -> Vec<u64> {
        self.shared
            .applied
            .iter()
            .map(|generation| generation.load(Ordering::Acquire))
            .collect()
    }

    /// Waits until every thread has applied `generation` or a later one.
    pub fn wait_applied(&self, generation: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .applied_generations()
                .iter()
                .all(|applied| *applied != u64::MAX && *applied >= generation)
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Listeners of the current configuration that are not served, by id,
    /// with the reason: the OS error of binding the address, or an unusable
    /// certificate.
    pub fn listener_errors(&self) -> BTreeMap<String, String> {
        let mut errors = self.shared.plan().errors();
        let bind_errors = self
            .shared
            .bind_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for ((listener, _), error) in bind_errors.iter() {
            errors
                .entry(listener.clone())
                .or_insert_with(|| error.clone());
        }
        errors
    }

    /// Health of every checked member, by (group id, member id).
    pub fn health(&self) -> BTreeMap<(String, String), MemberHealth> {
        self.shared.health.report()
    }

    /// Services built since start, over every thread: one per thread for
    /// each listener bound, and one per thread each time a generation
    /// changes what a listener serves. A generation that leaves a listener
    /// as it was builds nothing for it.
    pub fn services_built(&self) -> u64 {
        self.shared.services_built.load(Ordering::Relaxed)
    }

    /// The counters, summed over the threads.
    pub fn counters(&self) -> Snapshot {
        let mut snapshot = self.shared.counters.snapshot();
        snapshot.access_log = self.shared.access_log.stats();
        snapshot
    }

    /// Stops accepting, gives open connections until `drain` to finish
    /// (HTTP connections close after their current request), then closes
    /// the rest and joins the threads. Later calls return at once.
    pub fn shutdown(&self, drain: Duration) {
        let threads: Vec<JoinHandle<()>> = self
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        if threads.is_empty() {
            return;
        }
        *self
            .shared
            .drain_deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + drain);
        self.shared.stopping.store(true, Ordering::Release);
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a data-plane thread panicked");
            }
        }
        // The workers' last lines are queued: write them, then end the writer.
        self.shared.access_log.stop();
    }
}

impl Drop for Forwarder {
    /// Dropped without [`Forwarder::shutdown`]: stop at once.
    fn drop(&mut self) {
        self.shutdown(Duration::ZERO);
    }
}
