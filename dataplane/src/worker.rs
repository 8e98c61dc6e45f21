//! One worker thread: a monoio runtime pinned to a core, with its own
//! SO_REUSEPORT socket per listener, its own balancers, member connection
//! pool and counters. Nothing on the path of a connection is shared with
//! other threads but the open-connection gauges.
//!
//! The thread checks the shared plan's generation every few milliseconds.
//! A new generation is applied in one step on this thread: listeners that
//! appeared are bound, those that left stop accepting, and a running
//! listener's [`Service`] is replaced only when what it serves changed (its
//! listener and group, the HTTP limits or its TLS configuration), so the
//! cost of a generation follows what it changed, not the catalog's size.
//! Connections already open keep the `Service` they started with (TCP) or
//! take the new one at their next request (HTTP), so no swap drops anything
//! in flight.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::io::Canceller;
use monoio::net::{TcpListener, TcpStream};

use crate::access_log::{Handshake, Queue};
use crate::backends::Backends;
use crate::config::{self, HttpLimits, Listener, Protocol};
use crate::counters::{ErrorKind, Gauge, ListenerCounters, ThreadCounters};
use crate::forwarder::{Driver, Shared};
use crate::health::Checker;
use crate::http::{self, Pool, Scheme};
use crate::plan::Plan;
use crate::{tcp, tls};

/// How often a thread looks for a new plan or a stop request.
const POLL: Duration = Duration::from_millis(2);

/// How long a listener that could not be bound waits before the next try.
const REBIND_AFTER: Duration = Duration::from_secs(1);

/// Pending connections per listening socket.
const BACKLOG: i32 = 4096;

/// Runs worker `index` until the forwarder stops; `ready` learns whether the
/// runtime could be built.
pub(crate) fn run(
    shared: Arc<Shared>,
    index: usize,
    cpu: Option<usize>,
    driver: Driver,
    ready: std::sync::mpsc::Sender<io::Result<()>>,
) {
    if let Some(cpu) = cpu
        && let Err(error) = monoio::utils::bind_to_cpu_set([cpu])
    {
        tracing::warn!(
            thread = index,
            cpu,
            ?error,
            "could not pin the thread to its core"
        );
    }
    let mut runtime = match runtime(driver) {
        Ok(runtime) => {
            let _ = ready.send(Ok(()));
            runtime
        }
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    runtime.block_on(Worker::new(shared, index).run());
}

type Runtime = monoio::FusionRuntime<
    monoio::time::TimeDriver<monoio::IoUringDriver>,
    monoio::time::TimeDriver<monoio::LegacyDriver>,
>;

/// Submission queue entries of each thread's io_uring.
const URING_ENTRIES: u32 = 1024;

/// How a thread's io_uring is set up, best first: a kernel that refuses a
/// setup (older than 6.1 for [`UringSetup::Deferred`], 6.0 for
/// [`UringSetup::Cooperative`]) gets the next.
#[derive(Clone, Copy, Debug)]
enum UringSetup {
    /// [`UringSetup::Cooperative`], and completions are reaped only when the
    /// thread enters the kernel to wait (`IORING_SETUP_DEFER_TASKRUN`).
    Deferred,
    /// The kernel never interrupts the thread to post a completion
    /// (`IORING_SETUP_COOP_TASKRUN`), and it knows one thread alone submits
    /// (`IORING_SETUP_SINGLE_ISSUER`), as on every worker: its ring is
    /// built on the thread that uses it and never leaves it.
    Cooperative,
    /// io_uring's defaults.
    Plain,
}

impl UringSetup {
    const BEST_FIRST: [Self; 3] = [Self::Deferred, Self::Cooperative, Self::Plain];

    fn builder(self) -> io_uring::Builder {
        let mut builder = io_uring::IoUring::builder();
        match self {
            Self::Deferred => {
                builder
                    .setup_coop_taskrun()
                    .setup_single_issuer()
                    .setup_defer_taskrun();
            }
            Self::Cooperative => {
                builder.setup_coop_taskrun().setup_single_issuer();
            }
            Self::Plain => {}
        }
        builder
    }
}

/// A runtime with timers on `driver`. On io_uring, the setup that suits one
/// pinned thread: measured with `scripts/bench-dataplane`, it forwarded
/// 17-43 % more requests per second than io_uring's defaults, with a third
/// less CPU per request on L4 (README, "Benchmarks").
fn runtime(driver: Driver) -> io::Result<Runtime> {
    match driver {
        Driver::Auto => {
            let mut refused = None;
            for setup in UringSetup::BEST_FIRST {
                match monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                    .enable_timer()
                    .with_entries(URING_ENTRIES)
                    .uring_builder(setup.builder())
                    .build()
                {
                    Ok(runtime) => return Ok(runtime),
                    Err(error) => {
                        tracing::debug!(?setup, %error, "io_uring setup refused");
                        refused = Some(error);
                    }
                }
            }
            Err(refused.unwrap_or_else(|| io::Error::other("no io_uring setup to try")))
        }
        Driver::Epoll => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .map(Runtime::from),
    }
}

/// What every connection task of this thread shares.
pub(crate) struct ThreadContext {
    pub(crate) pool: Pool,
    /// This thread's queue into the access log.
    pub(crate) access_log: Queue,
    open: Cell<usize>,
    /// Accept loops running (each owns a listening socket).
    accepting: Cell<usize>,
    draining: Cell<bool>,
}

impl ThreadContext {
    fn new(access_log: Queue) -> Self {
        Self {
            pool: Pool::default(),
            access_log,
            open: Cell::new(0),
            accepting: Cell::new(0),
            draining: Cell::new(false),
        }
    }

    /// Whether the forwarder is stopping: connections close after their
    /// current request.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.get()
    }

    fn track(self: &Rc<Self>) -> OpenConnection {
        self.open.set(self.open.get() + 1);
        OpenConnection(Rc::clone(self))
    }
}

/// A connection counted in its thread's open count until dropped.
struct OpenConnection(Rc<ThreadContext>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get() - 1);
    }
}

/// A listener as one thread serves it, for one generation.
pub(crate) struct Service {
    pub(crate) listener: Arc<Listener>,
    /// `listener.id`, shared with the access-log entries that name it.
    pub(crate) id: Arc<str>,
    pub(crate) http: HttpLimits,
    /// Open client connections of this listener, all threads.
    pub(crate) gauge: Arc<Gauge>,
    pub(crate) counters: Arc<ListenerCounters>,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// The listener's own group: every connection (TCP), or the requests
    /// no rule takes.
    pub(crate) backends: Backends,
    /// What each of `listener.rules` does, in the same order (the rules'
    /// conditions are read from the listener itself).
    pub(crate) targets: Vec<Target>,
    pub(crate) shared: Arc<Shared>,
}

/// What a rule does with the requests it takes, its group built when it
/// forwards.
pub(crate) enum Target {
    Forward(Box<Backends>),
    Redirect(config::Redirect),
    Respond(config::FixedResponse),
}

impl Service {
    fn new(
        listener: &Arc<Listener>,
        plan: &Plan,
        shared: &Arc<Shared>,
        counters: &ThreadCounters,
    ) -> Self {
        shared.count_service_built();
        let targets = listener
            .rules
            .iter()
            .map(|rule| match &rule.action {
                config::RuleAction::Forward(group) => {
                    Target::Forward(Box::new(Backends::new(group, shared, counters)))
                }
                config::RuleAction::Redirect(redirect) => Target::Redirect(redirect.clone()),
                config::RuleAction::Respond(fixed) => Target::Respond(fixed.clone()),
            })
            .collect();
        Self {
            listener: Arc::clone(listener),
            id: Arc::from(listener.id.as_str()),
            http: plan.http().clone(),
            gauge: shared.counters.listener_gauge(&listener.id),
            counters: counters.listener(&listener.id),
            tls: plan
                .placed(&listener.id)
                .and_then(|placed| placed.tls.clone()),
            backends: Backends::new(&listener.group, shared, counters),
            targets,
            shared: Arc::clone(shared),
        }
    }

    /// Whether this service serves what `plan` says for `listener`.
    fn serves(&self, listener: &Arc<Listener>, plan: &Plan) -> bool {
        let tls = plan
            .placed(&listener.id)
            .and_then(|placed| placed.tls.as_ref());
        // `Arc`'s equality compares the pointers first: a listener the
        // generation left as it was costs no field-by-field comparison.
        self.listener == *listener
            && self.http == *plan.http()
            && match (&self.tls, tls) {
                (None, None) => true,
                (Some(ours), Some(theirs)) => Arc::ptr_eq(ours, theirs),
                _ => false,
            }
    }
}

/// The service a listener's new connections (and HTTP requests) get: the
/// worker replaces it when a new generation arrives.
#[derive(Clone)]
pub(crate) struct ServiceSlot(Rc<RefCell<Rc<Service>>>);

impl ServiceSlot {
    pub(crate) fn current(&self) -> Rc<Service> {
        Rc::clone(&self.0.borrow())
    }
}

/// A listener this thread accepts on.
struct Running {
    address: SocketAddr,
    protocol: Protocol,
    slot: ServiceSlot,
    stop: Canceller,
}

struct Worker {
    shared: Arc<Shared>,
    index: usize,
    counters: Arc<ThreadCounters>,
    context: Rc<ThreadContext>,
    running: HashMap<String, Running>,
    /// Listeners that could not be bound, and when that was last tried.
    unbound: HashMap<String, Instant>,
    /// The served listeners whose members' connections the pool keeps,
    /// as counted into it.
    pooled: HashMap<String, Arc<Listener>>,
    /// Health probes, on the first thread only.
    checker: Option<Checker>,
    applied: Option<Arc<Plan>>,
}

/// Whether `a` and `b` are the same listener allocation (or both none).
fn same(a: Option<&Arc<Listener>>, b: Option<&Arc<Listener>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl Worker {
    fn new(shared: Arc<Shared>, index: usize) -> Self {
        let queue = shared.access_log.queue();
        Self {
            counters: shared.counters.register_thread(),
            shared,
            index,
            context: Rc::new(ThreadContext::new(queue)),
            running: HashMap::new(),
            unbound: HashMap::new(),
            pooled: HashMap::new(),
            checker: (index == 0).then(Checker::default),
            applied: None,
        }
    }

    async fn run(mut self) {
        while !self.shared.is_stopping() {
            let plan = self.shared.plan();
            if self
                .applied
                .as_ref()
                .is_none_or(|applied| applied.generation() != plan.generation())
            {
                self.apply(&plan);
            } else if !self.unbound.is_empty() {
                self.bind_missing(&plan, false);
            }
            monoio::time::sleep(POLL).await;
        }
        self.drain().await;
    }

    /// Makes this thread serve `plan`: looks at the listeners the
    /// generations since the one applied changed (at every listener when
    /// that is not known, as on the first generation).
    fn apply(&mut self, plan: &Arc<Plan>) {
        let changed = self
            .applied
            .as_ref()
            .and_then(|applied| plan.changed_since(applied.generation()));
        let ids: Vec<String> = match changed {
            Some(changed) => changed.into_iter().map(str::to_owned).collect(),
            None => {
                let mut every: HashSet<&str> = plan.ids().collect();
                every.extend(self.running.keys().map(String::as_str));
                every.extend(self.unbound.keys().map(String::as_str));
                every.extend(self.pooled.keys().map(String::as_str));
                if let Some(checker) = &self.checker {
                    every.extend(checker.watched());
                }
                every.into_iter().map(str::to_owned).collect()
            }
        };
        for id in &ids {
            self.apply_listener(id, plan);
        }
        // What a listener let go of and another took up in this generation
        // stays; the rest goes now.
        self.context.pool.settle();
        if let Some(checker) = &mut self.checker {
            checker.settle(&self.shared.health);
        }
        self.bind_missing(plan, true);
        self.applied = Some(Arc::clone(plan));
        self.shared.mark_applied(self.index, plan.generation());
    }

    /// Brings listener `id` to what `plan` says of it: its socket, its
    /// service, the members its connections may be pooled for, and (on the
    /// first thread) its members' health checks.
    fn apply_listener(&mut self, id: &str, plan: &Plan) {
        let wanted = plan.served(id);
        let keeps_socket = self.running.get(id).map(|running| {
            wanted.is_some_and(|listener| {
                listener.address == running.address && listener.protocol == running.protocol
            })
        });
        match (keeps_socket, wanted) {
            (Some(true), Some(listener)) => {
                if let Some(running) = self.running.get(id)
                    && !running.slot.current().serves(listener, plan)
                {
                    let service = Service::new(listener, plan, &self.shared, &self.counters);
                    *running.slot.0.borrow_mut() = Rc::new(service);
                }
            }
            (Some(_), _) => {
                if let Some(running) = self.running.remove(id) {
                    running.stop.cancel();
                }
                if wanted.is_some() {
                    self.unbound
                        .insert(id.to_owned(), Instant::now() - REBIND_AFTER);
                }
            }
            (None, Some(_)) => {
                self.unbound
                    .insert(id.to_owned(), Instant::now() - REBIND_AFTER);
            }
            (None, None) => {}
        }
        if wanted.is_none() && self.unbound.remove(id).is_some() {
            self.shared.report_bind(self.index, id, None);
        }
        // Connections to members are pooled for every served listener (an
        // unservable one too: it serves again once mended).
        let served = plan
            .listener(id)
            .and_then(|(listener, serving)| serving.then(|| Arc::clone(listener)));
        let before = match &served {
            Some(listener) => self.pooled.insert(id.to_owned(), Arc::clone(listener)),
            None => self.pooled.remove(id),
        };
        if !same(before.as_ref(), served.as_ref()) {
            self.context
                .pool
                .count(served.as_deref(), before.as_deref());
        }
        if let Some(checker) = &mut self.checker {
            // Standby listeners' members too: a forwarder that starts
            // serving them knows their health at once.
            let watched = plan.listener(id).map(|(listener, _)| listener);
            checker.watch(id, watched, &self.shared.health);
        }
    }

    /// Tries to bind the listeners not bound yet (all of them when `now`,
    /// otherwise those whose last try is old enough).
    fn bind_missing(&mut self, plan: &Plan, now: bool) {
        let due: Vec<String> = self
            .unbound
            .iter()
            .filter(|(_, tried)| now || tried.elapsed() >= REBIND_AFTER)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let Some(listener) = plan.served(&id) else {
                self.unbound.remove(&id);
                self.shared.report_bind(self.index, &id, None);
                continue;
            };
            match bind(listener.address) {
                Ok(socket) => {
                    self.unbound.remove(&id);
                    self.shared.report_bind(self.index, &id, None);
                    let service =
                        Rc::new(Service::new(listener, plan, &self.shared, &self.counters));
                    let slot = ServiceSlot(Rc::new(RefCell::new(service)));
                    let stop = Canceller::new();
                    monoio::spawn(accept_loop(
                        socket,
                        slot.clone(),
                        stop.handle(),
                        Rc::clone(&self.context),
                    ));
                    self.running.insert(
                        id,
                        Running {
                            address: listener.address,
                            protocol: listener.protocol,
                            slot,
                            stop,
                        },
                    );
                }
                Err(error) => {
                    if self.index == 0 {
                        tracing::warn!(listener = %id, address = %listener.address, %error, "cannot bind");
                    }
                    self.shared
                        .report_bind(self.index, &id, Some(error.to_string()));
                    self.unbound.insert(id, Instant::now());
                }
            }
        }
    }

    /// Stops accepting, lets open connections finish until the drain
    /// deadline, then returns (dropping whatever is still open).
    async fn drain(mut self) {
        for (_, running) in self.running.drain() {
            running.stop.cancel();
        }
        if let Some(checker) = &mut self.checker {
            checker.stop_all();
        }
        self.context.draining.set(true);
        self.context.pool.clear();
        // The listening sockets close as their accept loops end, which the
        // cancellations above bring about within a turn of the ring.
        while self.context.accepting.get() > 0 {
            monoio::time::sleep(POLL).await;
        }
        let deadline = self.shared.drain_deadline();
        while self.context.open.get() > 0 && Instant::now() < deadline {
            monoio::time::sleep(POLL).await;
        }
        if self.context.open.get() > 0 {
            tracing::info!(
                thread = self.index,
                open = self.context.open.get(),
                "drain deadline passed; closing"
            );
        }
    }
}

/// A listening socket that shares its port with the other threads' sockets.
/// Nagle is off on it, and so on every connection it accepts (Linux copies
/// `TCP_NODELAY` to them): no system call per connection for it.
fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // The epoll driver needs it; io_uring does not mind.
    socket.set_nonblocking(true)?;
    socket.set_reuse_port(true)?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

/// Accepts until `stop` is cancelled. The accept is cancelled through
/// io_uring rather than dropped: a dropped accept in flight would leak the
/// connection it completes with.
async fn accept_loop(
    socket: TcpListener,
    slot: ServiceSlot,
    stop: monoio::io::CancelHandle,
    context: Rc<ThreadContext>,
) {
    context.accepting.set(context.accepting.get() + 1);
    let _accepting = scopeguard(|| context.accepting.set(context.accepting.get() - 1));
    loop {
        match socket.cancelable_accept(stop.clone()).await {
            Ok((stream, peer)) => {
                let service = slot.current();
                service.counters.connection();
                let shared = &service.shared;
                let limit = Some(shared.node_connection_limit);
                let Some(in_node) = shared.node_connections.try_acquire(limit) else {
                    // Over the node's ceiling: closed at once, so that open
                    // connections keep their descriptors.
                    service.counters.error(ErrorKind::NodeConnectionLimit);
                    drop(stream);
                    continue;
                };
                let admitted = service.gauge.try_acquire(service.listener.connection_limit);
                let open = context.track();
                let slot = slot.clone();
                let context = Rc::clone(&context);
                monoio::spawn(async move {
                    let _open = (open, in_node);
                    match admitted {
                        Some(_admitted) => serve(slot, service, stream, peer, context).await,
                        None => {
                            service.counters.error(ErrorKind::ConnectionLimit);
                            refuse(service, stream).await;
                        }
                    }
                });
            }
            Err(error) if error.raw_os_error() == Some(libc_ecanceled()) => return,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                // Out of descriptors or memory: let connections close first.
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

/// ECANCELED, which a cancelled io_uring operation ends with.
const fn libc_ecanceled() -> i32 {
    125
}

/// Serves an admitted connection by its listener's protocol.
async fn serve(
    slot: ServiceSlot,
    service: Rc<Service>,
    stream: TcpStream,
    peer: SocketAddr,
    context: Rc<ThreadContext>,
) {
    // Nagle is off already: accepted sockets inherit it from the listener.
    // The handshake (HTTPS) and the first request head share one deadline.
    let head_deadline = Instant::now() + service.http.header_timeout;
    match service.listener.protocol {
        Protocol::Tcp => tcp::serve(service, stream, peer, &context).await,
        Protocol::Http => {
            http::serve(slot, stream, peer, Scheme::Http, context, head_deadline).await;
        }
        Protocol::Https => {
            let Some((stream, negotiated)) = handshake(&service, stream, head_deadline).await
            else {
                return;
            };
            let scheme = Scheme::Https(negotiated);
            http::serve(slot, stream, peer, scheme, context, head_deadline).await;
        }
    }
}

/// Refuses a connection over the listener's limit: HTTP answers 503, TCP
/// and HTTPS close it at once (HTTPS before the handshake, whose cost the
/// limit is there to bound).
async fn refuse(service: Rc<Service>, mut stream: TcpStream) {
    match service.listener.protocol {
        Protocol::Tcp | Protocol::Https => drop(stream),
        Protocol::Http => {
            http::refuse(&mut stream, &service, ErrorKind::ConnectionLimit).await;
        }
    }
}

/// The TLS handshake, by `deadline`, and what it negotiated; failures are
/// counted and the connection closed.
async fn handshake(
    service: &Service,
    stream: TcpStream,
    deadline: Instant,
) -> Option<(monoio_rustls::ServerTlsStream<TcpStream>, Handshake)> {
    let config = service.tls.clone()?;
    let acceptor = monoio_rustls::TlsAcceptor::from(config);
    let wait = deadline.saturating_duration_since(Instant::now());
    match monoio::time::timeout(wait, tls::accept(&acceptor, stream)).await {
        Ok(Ok(accepted)) => {
            service.counters.tls_handshake();
            Some(accepted)
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            service.counters.error(ErrorKind::TlsHandshake);
            None
        }
        Err(_) => {
            service.counters.error(ErrorKind::TlsHandshake);
            None
        }
    }
}
