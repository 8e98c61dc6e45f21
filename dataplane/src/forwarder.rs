//! The forwarder's handle: starts the worker threads, swaps configurations
//! in, and answers what the threads have applied, which listeners failed,
//! how members' health checks go and what the counters say.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rustls::ServerConfig;

use crate::access_log::{AccessLog, AccessLogSettings};
use crate::config::{Config, Listener, Protocol};
use crate::counters::{Gauge, Registry, Snapshot};
use crate::health::{Board, MemberHealth};
use crate::{tls, worker};

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

/// Generations a plan remembers the steps of: a thread that fell further
/// behind than this (it never should: threads look every few milliseconds)
/// looks at every listener once.
const STEPS_KEPT: usize = 64;

/// A configuration with what the threads need made once for all of them:
/// the TLS configurations (of standby listeners too), the listeners that
/// cannot be served, an index by listener id, and what the last
/// generations changed, so that a thread's work on a new generation
/// follows what changed, not the catalog's size.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) config: Config,
    /// By listener id.
    pub(crate) tls: HashMap<String, Arc<ServerConfig>>,
    /// Listener id → why it cannot be served (an unusable certificate);
    /// served listeners only.
    pub(crate) errors: BTreeMap<String, String>,
    /// Listener id → where it is in `config`.
    index: HashMap<String, Place>,
    /// The last [`STEPS_KEPT`] generations' steps, oldest first, this
    /// plan's last.
    steps: VecDeque<Step>,
}

/// Where a listener is in a configuration.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// `listeners[i]`.
    Served(usize),
    /// `standby[i]`.
    Standby(usize),
}

/// What one generation changed against the one before it.
#[derive(Clone, Debug)]
struct Step {
    generation: u64,
    previous: u64,
    /// The listeners that appeared, went, changed, or moved between served
    /// and standby; `None` when anything may have (the HTTP limits changed).
    changed: Option<Arc<Vec<String>>>,
}

impl Plan {
    fn new(config: Config, previous: Option<&Plan>) -> Self {
        let mut tls_configs = HashMap::new();
        let mut errors = BTreeMap::new();
        let served = config.listeners.iter().map(|listener| (listener, true));
        let standby = config.standby.iter().map(|listener| (listener, false));
        for (listener, serving) in served.chain(standby) {
            if let Some(error) = unservable(listener) {
                if serving {
                    errors.insert(listener.id.clone(), error.to_owned());
                }
                continue;
            }
            if listener.protocol != Protocol::Https {
                continue;
            }
            // Unchanged certificates keep their TLS configuration (and its
            // session cache) across generations, and from standby to served.
            let unchanged = previous.and_then(|previous| {
                let (before, _) = previous.listener(&listener.id)?;
                (before.certificates == listener.certificates)
                    .then(|| previous.tls.get(&listener.id).cloned())
                    .flatten()
            });
            match unchanged.map_or_else(|| tls::server_config(&listener.certificates), Ok) {
                Ok(server_config) => {
                    tls_configs.insert(listener.id.clone(), server_config);
                }
                Err(reason) if serving => {
                    errors.insert(listener.id.clone(), reason);
                }
                Err(_) => {}
            }
        }
        let served = config.listeners.iter().enumerate();
        let standby = config.standby.iter().enumerate();
        let index = served
            .map(|(i, listener)| (listener.id.clone(), Place::Served(i)))
            .chain(standby.map(|(i, listener)| (listener.id.clone(), Place::Standby(i))))
            .collect();
        let mut plan = Self {
            config,
            tls: tls_configs,
            errors,
            index,
            steps: VecDeque::new(),
        };
        if let Some(previous) = previous {
            let step = Step {
                generation: plan.config.generation,
                previous: previous.config.generation,
                changed: (plan.config.http == previous.config.http)
                    .then(|| Arc::new(plan.changed_from(previous))),
            };
            plan.steps = previous.steps.clone();
            if plan.steps.len() == STEPS_KEPT {
                plan.steps.pop_front();
            }
            plan.steps.push_back(step);
        }
        plan
    }

    /// The listeners that differ between `previous` and this plan.
    fn changed_from(&self, previous: &Plan) -> Vec<String> {
        let differs = |id: &str, listener: &Arc<Listener>, serving: bool| {
            previous.listener(id).is_none_or(|(before, was_serving)| {
                !Arc::ptr_eq(before, listener) || was_serving != serving
            })
        };
        let appeared_or_changed = self
            .every_listener()
            .filter(|(listener, serving)| differs(&listener.id, listener, *serving))
            .map(|(listener, _)| listener.id.clone());
        let gone = previous
            .index
            .keys()
            .filter(|id| !self.index.contains_key(*id))
            .cloned();
        appeared_or_changed.chain(gone).collect()
    }

    /// Every listener, with whether it is served (else standby).
    fn every_listener(&self) -> impl Iterator<Item = (&Arc<Listener>, bool)> {
        let served = self
            .config
            .listeners
            .iter()
            .map(|listener| (listener, true));
        served.chain(self.config.standby.iter().map(|listener| (listener, false)))
    }

    /// The listener `id` and whether it is served (else standby).
    pub(crate) fn listener(&self, id: &str) -> Option<(&Arc<Listener>, bool)> {
        Some(match *self.index.get(id)? {
            Place::Served(i) => (&self.config.listeners[i], true),
            Place::Standby(i) => (&self.config.standby[i], false),
        })
    }

    /// The listener `id` if it is served and can be.
    pub(crate) fn served(&self, id: &str) -> Option<&Arc<Listener>> {
        match self.listener(id)? {
            (listener, true) if !self.errors.contains_key(id) => Some(listener),
            _ => None,
        }
    }

    /// The ids of the listeners that may differ between the generation
    /// `applied` and this plan's; `None` when that is not known (the
    /// generation is too old, or the HTTP limits changed): then any may.
    pub(crate) fn changed_since(&self, applied: u64) -> Option<HashSet<&str>> {
        let mut changed = HashSet::new();
        let mut at = self.config.generation;
        for step in self.steps.iter().rev() {
            if at == applied {
                break;
            }
            if step.generation != at {
                return None;
            }
            changed.extend(step.changed.as_ref()?.iter().map(String::as_str));
            at = step.previous;
        }
        (at == applied).then_some(changed)
    }

    /// Every listener id of this plan.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }
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
        check(&config).map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        if settings.node_connection_limit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "node_connection_limit: must be at least 1",
            ));
        }
        let threads = settings.threads.max(1);
        let generation = config.generation;
        let access_log = AccessLog::start(&settings.access_log)?;
        let shared = Arc::new(Shared {
            plan: ArcSwap::from_pointee(Plan::new(config, None)),
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
    /// [`Self::applied_generations`].
    ///
    /// # Errors
    /// A generation not above the current one, or an invalid configuration;
    /// the current configuration stays.
    pub fn apply(&self, config: Config) -> Result<(), ApplyError> {
        check(&config)?;
        let current = self.shared.plan();
        if config.generation <= current.config.generation {
            return Err(ApplyError::StaleGeneration {
                offered: config.generation,
                current: current.config.generation,
            });
        }
        self.shared
            .plan
            .store(Arc::new(Plan::new(config, Some(&current))));
        Ok(())
    }

    /// Whether `config` serves exactly what the configuration in place
    /// serves (its generation aside): applying it would change nothing.
    pub fn serves_same(&self, config: &Config) -> bool {
        let current = &self.shared.plan().config;
        current.listeners == config.listeners
            && current.standby == config.standby
            && current.http == config.http
    }

    /// The configuration in place (the last one given).
    pub fn config(&self) -> Config {
        self.shared.plan().config.clone()
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
        let mut errors = self.shared.plan().errors.clone();
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

/// The rules a configuration must follow whatever filled it in.
fn check(config: &Config) -> Result<(), ApplyError> {
    let mut ids = std::collections::HashSet::new();
    let mut addresses = HashMap::new();
    for listener in &config.listeners {
        if !ids.insert(listener.id.as_str()) {
            return Err(ApplyError::DuplicateListener(listener.id.clone()));
        }
        if let Some(other) = addresses.insert(listener.address, listener.id.as_str()) {
            return Err(ApplyError::DuplicateAddress(
                other.to_owned(),
                listener.id.clone(),
                listener.address,
            ));
        }
    }
    // Standby listeners bind nothing, but share the id space (TLS
    // configurations and health are keyed by listener id).
    for listener in &config.standby {
        if !ids.insert(listener.id.as_str()) {
            return Err(ApplyError::DuplicateListener(listener.id.clone()));
        }
    }
    Ok(())
}

/// Why `listener` cannot be served as it is, if it cannot.
fn unservable(listener: &Listener) -> Option<&'static str> {
    (listener.protocol == Protocol::Tcp && !listener.rules.is_empty())
        .then_some("rules: only HTTP and HTTPS listeners have forwarding rules")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    use crate::config::{Algorithm, Group, HttpLimits};

    fn listener(id: &str, port: u16) -> Arc<Listener> {
        Arc::new(Listener {
            id: id.to_owned(),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            protocol: Protocol::Tcp,
            connection_limit: None,
            idle_timeout: Duration::from_secs(60),
            insert_x_forwarded_for: false,
            access_log: false,
            certificates: Vec::new(),
            group: Group {
                id: format!("{id}-group"),
                algorithm: Algorithm::WeightedRoundRobin,
                health_check: None,
                members: Vec::new(),
                proxy_protocol: None,
                passive_health: None,
                persistence: None,
            },
            rules: Vec::new(),
        })
    }

    fn config(generation: u64, listeners: &[&Arc<Listener>], standby: &[&Arc<Listener>]) -> Config {
        Config {
            generation,
            listeners: listeners.iter().map(|l| Arc::clone(l)).collect(),
            standby: standby.iter().map(|l| Arc::clone(l)).collect(),
            http: HttpLimits::default(),
        }
    }

    fn sorted(changed: Option<HashSet<&str>>) -> Option<Vec<&str>> {
        changed.map(|ids| {
            let mut ids: Vec<&str> = ids.into_iter().collect();
            ids.sort_unstable();
            ids
        })
    }

    #[test]
    fn a_plan_names_the_listeners_its_generations_changed_since_any_it_remembers() {
        let (a, b, c) = (listener("a", 1), listener("b", 2), listener("c", 3));
        let first = Plan::new(config(1, &[&a, &b], &[&c]), None);
        assert_eq!(first.changed_since(1), Some(HashSet::new()));
        assert_eq!(first.changed_since(0), None, "before the first: unknown");

        // b changes, c moves from standby to served.
        let b2 = listener("b", 2);
        let second = Plan::new(config(2, &[&a, &b2, &c], &[]), Some(&first));
        assert_eq!(sorted(second.changed_since(1)), Some(vec!["b", "c"]));
        // a goes; generations need not be consecutive.
        let third = Plan::new(config(5, &[&b2, &c], &[]), Some(&second));
        assert_eq!(sorted(third.changed_since(2)), Some(vec!["a"]));
        assert_eq!(sorted(third.changed_since(1)), Some(vec!["a", "b", "c"]));
        assert_eq!(
            third.changed_since(3),
            None,
            "a generation it never followed"
        );
        assert_eq!(third.changed_since(5), Some(HashSet::new()));

        // New HTTP limits change every HTTP service: nothing is known.
        let mut limits = config(6, &[&b2, &c], &[]);
        limits.http.max_header_bytes += 1;
        let fourth = Plan::new(limits.clone(), Some(&third));
        assert_eq!(fourth.changed_since(5), None);
        let fifth = Plan::new(
            Config {
                generation: 7,
                ..limits
            },
            Some(&fourth),
        );
        assert_eq!(fifth.changed_since(6), Some(HashSet::new()));
        assert_eq!(fifth.changed_since(5), None);
    }

    #[test]
    fn a_plan_remembers_a_bounded_number_of_steps() {
        let a = listener("a", 1);
        let mut plan = Plan::new(config(1, &[&a], &[]), None);
        for generation in 2..=(STEPS_KEPT as u64 + 2) {
            plan = Plan::new(config(generation, &[&a], &[]), Some(&plan));
            assert!(plan.steps.len() <= STEPS_KEPT);
        }
        let last = plan.config.generation;
        assert_eq!(
            plan.changed_since(last - STEPS_KEPT as u64),
            Some(HashSet::new())
        );
        assert_eq!(plan.changed_since(last - STEPS_KEPT as u64 - 1), None);
    }

    #[test]
    fn a_plan_finds_a_listener_by_id_and_knows_whether_it_is_served() {
        let (a, b) = (listener("a", 1), listener("b", 2));
        let plan = Plan::new(config(1, &[&a], &[&b]), None);
        assert!(
            plan.listener("a")
                .is_some_and(|(l, served)| Arc::ptr_eq(l, &a) && served)
        );
        assert!(
            plan.listener("b")
                .is_some_and(|(l, served)| Arc::ptr_eq(l, &b) && !served)
        );
        assert!(plan.served("a").is_some());
        assert!(plan.served("b").is_none(), "standby is not served");
        assert!(plan.listener("c").is_none());
    }
}
