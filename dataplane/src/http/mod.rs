//! Layer 7: an HTTP/1.1 reverse proxy, for HTTP listeners and for HTTPS ones
//! once TLS is terminated.
//!
//! Each request on a client connection is routed on its own, with the
//! listener's configuration of the moment: the first forwarding rule that
//! matches it (`route`) chooses its group or answers it, and a request no
//! rule takes goes to the listener's group. The group's persistence or
//! balancer chooses the member (`crate::backends`), and the request goes
//! to it over a connection from this thread's pool (or a new one). Bodies are streamed
//! both ways. The proxy answers by itself only when it must:
//!
//! | case | answer |
//! |---|---|
//! | request head not HTTP/1.x, ambiguous framing, bad chunked body | 400, close |
//! | HTTP/1.1 request without `Host`, any request with two `Host` fields | 400, close |
//! | request head over the size or field-count limit | 431, close |
//! | request head not complete within the header timeout of its first byte | 408, close |
//! | no byte of a first request within the header timeout of the accept (HTTPS: handshake included) | close, counted as a header timeout |
//! | no member may take the request (all down, drained or unhealthy) | 503, close |
//! | the listener is at its connection limit (HTTP) | 503, close |
//! | the listener is at its connection limit (HTTPS) | close before the TLS handshake |
//! | connecting to the member fails, or its answer is not HTTP | 502, close |
//! | the member does not start its answer within the response timeout | 504, close |
//! | a redirect or fixed-response rule takes the request | the rule's answer; close only if the request has a body |
//!
//! A request without a body that finds a pooled connection closed by the
//! member is sent again once, on a new connection. After an answer of its
//! own to a bad request, the proxy reads and discards what the client still
//! sends for up to 500 ms before closing (a lingering close): closing with
//! unread input would send a reset that can destroy the answer in flight.

// Visible to the crate for its fuzz targets (`crate::fuzzing`).
pub(crate) mod body;
pub(crate) mod head;
mod pool;
mod route;

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

pub(crate) use head::MAX_HEADERS;
pub(crate) use pool::Pool;

use self::body::BodyError;
use self::head::{Forwarded, Framing, HeadError, Request, Response};
use crate::access_log::{self, Entry, Handshake};
use crate::backends::{Backends, Member};
use crate::config;
use crate::counters::{ErrorKind, ListenerCounters};
use crate::io::{Conn, Duplex};
use crate::proxy_protocol;
use crate::tcp::{self, Tally};
use crate::worker::{Service, ServiceSlot, Target, ThreadContext};

/// Read buffer of each side's connection: a whole request head fits.
fn buffer_capacity(service: &Service) -> usize {
    (service.http.max_header_bytes + 1).max(32 * 1024)
}

/// How the client reached the listener: for `X-Forwarded-Proto`, and the
/// access log's TLS fields.
#[derive(Clone, Debug)]
pub(crate) enum Scheme {
    Http,
    Https(Handshake),
}

/// Serves one client connection: requests one after another until the
/// client or the proxy closes it. The first request's head must be whole
/// by `first_head_deadline` (the accept plus the header timeout); later
/// ones may wait the idle timeout for their first byte.
pub(crate) async fn serve<S: Duplex>(
    slot: ServiceSlot,
    stream: S,
    peer: SocketAddr,
    scheme: Scheme,
    thread: Rc<ThreadContext>,
    first_head_deadline: Instant,
) {
    let mut client = Conn::new(stream, buffer_capacity(&slot.current()));
    let mut heads = Heads::default();
    let mut head_deadline = Some(first_head_deadline);
    loop {
        let service = slot.current();
        let forwarded = service.listener.insert_x_forwarded_for.then(|| Forwarded {
            client: peer.ip(),
            proto: match scheme {
                Scheme::Http => "http",
                Scheme::Https(_) => "https",
            },
            port: service.listener.address.port(),
        });
        let mut outcome = Outcome::default();
        let read = read_request(
            &mut client,
            &service,
            forwarded,
            &mut heads.request,
            head_deadline.take(),
            &mut outcome,
        );
        let mut request = match read.await {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(kind) => {
                service.counters.error(kind);
                outcome.refused(refuse(&mut client.io, &service, kind).await, kind);
                log(&service, &thread, peer, &scheme, None, &outcome);
                linger(&mut client).await;
                break;
            }
        };
        // The exchange follows the configuration of the moment the request
        // arrived, not of the moment the connection started waiting for it.
        let service = slot.current();
        service.counters.request();
        if thread.is_draining() {
            request.keep_alive = false;
        }
        let line = service
            .listener
            .access_log
            .then(|| access_log::request_line(client.buffered()));
        let next = exchange(
            &service,
            &mut client,
            (&request, &scheme),
            &mut heads,
            peer,
            &thread,
            &mut outcome,
        )
        .await;
        service.counters.latency(outcome.elapsed());
        log(&service, &thread, peer, &scheme, line, &outcome);
        match next {
            Next::Request => {}
            Next::Close => break,
            Next::Upgrade(member, backend) => {
                upgrade(&service, &member, client, backend).await;
                return;
            }
        }
    }
    client.recycle();
}

/// What one request's latency and access-log line need, filled in as the
/// request goes.
#[derive(Default)]
struct Outcome {
    /// When its first byte arrived (set by `read_request`).
    started: Option<Instant>,
    /// The same on the wall clock, read only for the access log.
    at: Option<SystemTime>,
    member: Option<Rc<Member>>,
    status: Option<u16>,
    error: Option<ErrorKind>,
    /// Bytes from the client, head included.
    received: Cell<u64>,
    /// Bytes to the client.
    sent: Cell<u64>,
    /// From the request sent to the member to its response head.
    member_duration: Option<Duration>,
}

impl Outcome {
    /// The request's first byte is here; `logged`: its listener writes access logs.
    fn begin(&mut self, logged: bool) {
        self.started = Some(Instant::now());
        self.at = logged.then(SystemTime::now);
    }

    /// From the first byte in until now.
    fn elapsed(&self) -> Duration {
        self.started
            .map_or(Duration::ZERO, |started| started.elapsed())
    }
    fn received(&self, counters: &ListenerCounters, n: usize) {
        counters.bytes_in(n);
        self.received.set(self.received.get() + n as u64);
    }
    fn sent(&self, counters: &ListenerCounters, n: usize) {
        counters.bytes_out(n);
        self.sent.set(self.sent.get() + n as u64);
    }
    /// The proxy answered by itself for `kind` (`answer` is what it sent, if it could).
    fn refused(&mut self, answer: Option<Answer>, kind: ErrorKind) {
        self.error = Some(kind);
        if let Some(answer) = answer {
            self.status = Some(answer.status);
            self.sent.set(self.sent.get() + answer.bytes as u64);
        }
    }
}

/// Queues the access-log line of a request, when its listener asks for them.
fn log(
    service: &Service,
    thread: &ThreadContext,
    peer: SocketAddr,
    scheme: &Scheme,
    request: Option<String>,
    outcome: &Outcome,
) {
    if !service.listener.access_log {
        return;
    }
    thread.access_log.push(Entry {
        at: outcome.at.unwrap_or_else(SystemTime::now),
        listener: Arc::clone(&service.id),
        protocol: service.listener.protocol,
        client: peer,
        member: outcome
            .member
            .as_ref()
            .map(|member| (Arc::clone(&member.id), member.spec.address)),
        request,
        status: outcome.status,
        received: outcome.received.get(),
        sent: outcome.sent.get(),
        duration: outcome.elapsed(),
        member_duration: outcome.member_duration,
        tls: match scheme {
            Scheme::Http => None,
            Scheme::Https(handshake) => Some(handshake.clone()),
        },
        error: outcome.error,
    });
}

/// Reusable buffers for the heads sent on.
#[derive(Default)]
struct Heads {
    request: Vec<u8>,
    response: Vec<u8>,
}

/// What the connection does after an exchange.
enum Next {
    /// Read the next request.
    Request,
    /// Close the client connection.
    Close,
    /// The member switched protocols: relay bytes both ways from now on.
    Upgrade(Rc<Member>, Conn<TcpStream>),
}

/// Waits for a request head: until `deadline` when given (a connection's
/// first request), otherwise up to the idle timeout for its first byte; then
/// up to the header timeout for the rest. `Ok(None)`: the client closed or
/// stayed idle (or sent nothing by `deadline`, which is counted), and the
/// connection ends quietly.
async fn read_request<S: AsyncReadRent>(
    client: &mut Conn<S>,
    service: &Service,
    forwarded: Option<Forwarded>,
    out: &mut Vec<u8>,
    deadline: Option<Instant>,
    outcome: &mut Outcome,
) -> Result<Option<Request>, ErrorKind> {
    let limits = &service.http;
    let mut received = !client.buffered().is_empty();
    let logged = service.listener.access_log;
    if received {
        outcome.begin(logged);
    }
    let mut deadline =
        deadline.or_else(|| received.then(|| Instant::now() + limits.header_timeout));
    loop {
        if !client.buffered().is_empty() {
            match head::parse_request(client.buffered(), limits.max_headers, forwarded, out) {
                Ok(Some(request)) if request.length <= limits.max_header_bytes => {
                    return Ok(Some(request));
                }
                Ok(Some(_)) | Err(HeadError::TooManyHeaders) => {
                    return Err(ErrorKind::HeaderTooLarge);
                }
                Ok(None) if client.buffered().len() >= limits.max_header_bytes => {
                    return Err(ErrorKind::HeaderTooLarge);
                }
                Ok(None) => {}
                Err(HeadError::Malformed(reason)) => {
                    tracing::debug!(reason, "bad request");
                    return Err(ErrorKind::BadRequest);
                }
            }
        }
        let wait = match deadline {
            None => service.listener.idle_timeout,
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
        };
        match monoio::time::timeout(wait, client.fill()).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
            Ok(Ok(n)) => {
                if !received {
                    outcome.begin(logged);
                }
                outcome.received(&service.counters, n);
                received = true;
                deadline.get_or_insert_with(|| Instant::now() + limits.header_timeout);
            }
            Err(_) if deadline.is_none() => return Ok(None),
            // A read cut short by the timeout loses the buffer it was
            // lent, so `buffered()` says nothing here: `received` does.
            Err(_) if !received => {
                // A client that sent nothing gets no 408, only the close.
                service.counters.error(ErrorKind::HeaderTimeout);
                return Ok(None);
            }
            Err(_) => return Err(ErrorKind::HeaderTimeout),
        }
    }
}

/// Where a request goes: a group, or an answer of a rule's own.
enum Routed<'s> {
    Forward(&'s Backends),
    Answer(Vec<u8>, u16),
}

/// The group or the answer for the request whose head `head` is, reached
/// over `scheme`: the first rule that matches, or the listener's group.
fn route<'s>(
    service: &'s Service,
    head: &route::Head<'_>,
    scheme: &Scheme,
    keep_alive: bool,
) -> Routed<'s> {
    let rules = service.listener.rules.iter();
    let Some((_, target)) = rules
        .zip(&service.targets)
        .find(|(rule, _)| head.matches(rule))
    else {
        return Routed::Forward(&service.backends);
    };
    match target {
        Target::Forward(backends) => Routed::Forward(backends),
        Target::Redirect(redirect) => {
            let scheme = match scheme {
                Scheme::Http => config::Scheme::Http,
                Scheme::Https(_) => config::Scheme::Https,
            };
            Routed::Answer(head.redirect(redirect, scheme, keep_alive), redirect.status)
        }
        Target::Respond(fixed) => Routed::Answer(route::respond(fixed, keep_alive), fixed.status),
    }
}

/// Sends a rule's own answer; the connection stays open only when the
/// request had no body (a body would have to be read and thrown away).
async fn answer<S: Duplex>(
    service: &Service,
    client: &mut Conn<S>,
    (answer, status): (Vec<u8>, u16),
    keep_alive: bool,
    outcome: &mut Outcome,
) -> Next {
    let length = answer.len();
    let (sent, _) = client.io.write_all(answer).await;
    if sent.is_err() {
        return Next::Close;
    }
    outcome.status = Some(status);
    outcome.sent(&service.counters, length);
    service.counters.response(status);
    if keep_alive {
        Next::Request
    } else {
        let _ = client.io.shutdown().await;
        linger(client).await;
        Next::Close
    }
}

/// One request and its response.
async fn exchange<S: Duplex>(
    service: &Service,
    client: &mut Conn<S>,
    (request, scheme): (&Request, &Scheme),
    heads: &mut Heads,
    peer: SocketAddr,
    thread: &ThreadContext,
    outcome: &mut Outcome,
) -> Next {
    let backends = if service.targets.is_empty() {
        &service.backends
    } else {
        let keep_alive = request.keep_alive && request.framing == Framing::Empty;
        let head = route::Head::new(client.buffered(), request);
        match route(service, &head, scheme, keep_alive) {
            Routed::Forward(backends) => backends,
            Routed::Answer(bytes, status) => {
                client.consume(request.length);
                return answer(service, client, (bytes, status), keep_alive, outcome).await;
            }
        }
    };
    let cookies = request
        .cookie
        .map(|span| &client.buffered()[span.start..span.end]);
    let Some(choice) = backends.choose(peer.ip(), cookies, None) else {
        service.counters.error(ErrorKind::NoMember);
        let answer = refuse(&mut client.io, service, ErrorKind::NoMember).await;
        outcome.refused(answer, ErrorKind::NoMember);
        return Next::Close;
    };
    let mut member = choice.member;
    let mut set_cookie = choice.set_cookie;
    outcome.member = Some(Rc::clone(&member));
    client.consume(request.length);
    if request.expect_continue && request.framing != Framing::Empty {
        let (sent, _) = client
            .io
            .write_all(&b"HTTP/1.1 100 Continue\r\n\r\n"[..])
            .await;
        if sent.is_err() {
            return Next::Close;
        }
    }
    let mut _open = member.gauge.acquire();
    member.counters.request();
    let idle = service.listener.idle_timeout;
    // A member that reads a PROXY header gets a connection of this
    // request's own: a pooled one was opened for another client.
    let proxy_header = backends.group.proxy_protocol;
    let mut reuse_pooled = proxy_header.is_none();
    // An idempotent request whose member refused the connection (nothing
    // was sent) goes once to another member.
    let mut may_try_another = request.idempotent;
    let (mut backend, response) = loop {
        let pooled = if reuse_pooled {
            thread.pool.take(member.spec.address)
        } else {
            None
        };
        let fresh = pooled.is_none();
        let mut backend = match pooled {
            Some(backend) => backend,
            None => match tcp::connect(member.spec.address, service.http.connect_timeout).await {
                Ok(stream) => {
                    member.counters.connection();
                    let mut backend = Conn::new(stream, buffer_capacity(service));
                    if let Some(version) = proxy_header {
                        let header =
                            proxy_protocol::header(version, peer, service.listener.address);
                        if backend.io.write_all(header).await.0.is_err() {
                            return fail(
                                service,
                                &member,
                                client,
                                ErrorKind::MemberConnect,
                                outcome,
                            )
                            .await;
                        }
                    }
                    backend
                }
                Err(error) => {
                    tracing::debug!(member = %member.spec.id, %error, "connect failed");
                    backends.record(&member, false);
                    let another = may_try_another
                        .then(|| backends.choose(peer.ip(), None, Some(&member)))
                        .flatten();
                    let Some(another) = another else {
                        return fail(service, &member, client, ErrorKind::MemberConnect, outcome)
                            .await;
                    };
                    member.counters.failure();
                    may_try_another = false;
                    member = another.member;
                    set_cookie = another.set_cookie;
                    _open = member.gauge.acquire();
                    member.counters.request();
                    outcome.member = Some(Rc::clone(&member));
                    reuse_pooled = proxy_header.is_none();
                    continue;
                }
            },
        };
        // A pooled connection the member closed shows here or at the first
        // read of the response; only a request without a body can be sent again.
        let retry_allowed = !fresh && request.framing == Framing::Empty;
        let sent_at = service.listener.access_log.then(Instant::now);
        let sent;
        (sent, heads.request) = backend
            .io
            .write_all(std::mem::take(&mut heads.request))
            .await;
        if sent.is_err() {
            if retry_allowed {
                reuse_pooled = false;
                continue;
            }
            return fail(service, &member, client, ErrorKind::MemberProtocol, outcome).await;
        }
        member.counters.bytes_out(heads.request.len());
        let to_member = |n| {
            outcome.received(&service.counters, n);
            member.counters.bytes_out(n);
        };
        match body::forward(request.framing, client, &mut backend.io, idle, &to_member).await {
            Ok(()) => {}
            Err(BodyError::Source(reason)) => {
                tracing::debug!(reason, "request body");
                service.counters.error(ErrorKind::BadRequest);
                let answer = refuse(&mut client.io, service, ErrorKind::BadRequest).await;
                outcome.refused(answer, ErrorKind::BadRequest);
                linger(client).await;
                return Next::Close;
            }
            Err(BodyError::Sink(error)) => {
                tracing::debug!(member = %member.spec.id, %error, "sending the request body");
                return fail(service, &member, client, ErrorKind::MemberProtocol, outcome).await;
            }
        }
        match read_response(&mut backend, client, request, service, &mut heads.response).await {
            Ok(response) => {
                outcome.member_duration = sent_at.map(|sent_at| sent_at.elapsed());
                break (backend, response);
            }
            Err(ResponseError::ClosedEarly) if retry_allowed => reuse_pooled = false,
            Err(ResponseError::ClientGone) => return Next::Close,
            Err(ResponseError::TimedOut) => {
                backends.record(&member, false);
                return fail(service, &member, client, ErrorKind::MemberTimeout, outcome).await;
            }
            Err(ResponseError::ClosedEarly | ResponseError::Malformed) => {
                return fail(service, &member, client, ErrorKind::MemberProtocol, outcome).await;
            }
        }
    };
    outcome.status = Some(response.status);
    backends.record(&member, response.status < 500);
    if let Some(cookie) = &set_cookie {
        // Before the empty line that ends the head.
        heads.response.truncate(heads.response.len() - 2);
        heads.response.extend_from_slice(b"Set-Cookie: ");
        heads.response.extend_from_slice(cookie.as_bytes());
        heads.response.extend_from_slice(b"\r\n\r\n");
    }
    let to_client = |n| {
        member.counters.bytes_in(n);
        outcome.sent(&service.counters, n);
    };
    // A body that arrived whole with its head leaves with it, in one write.
    let mut framing = response.framing;
    if let Framing::Length(length) = framing
        && let Ok(length) = usize::try_from(length)
        && backend.buffered().len() >= length
    {
        heads
            .response
            .extend_from_slice(&backend.buffered()[..length]);
        backend.consume(length);
        member.counters.bytes_in(length);
        framing = Framing::Empty;
    }
    let sent;
    (sent, heads.response) = client
        .io
        .write_all(std::mem::take(&mut heads.response))
        .await;
    if sent.is_err() {
        return Next::Close;
    }
    outcome.sent(&service.counters, heads.response.len());
    service.counters.response(response.status);
    if response.status == 101 {
        return Next::Upgrade(member, backend);
    }
    if body::forward(framing, &mut backend, &mut client.io, idle, &to_client)
        .await
        .is_err()
    {
        return Next::Close;
    }
    if response.reusable && backend.buffered().is_empty() && proxy_header.is_none() {
        thread
            .pool
            .put(member.spec.address, backend, service.http.pooled_per_member);
    }
    if response.closes_client {
        Next::Close
    } else {
        Next::Request
    }
}

/// Why no response head came from the member.
enum ResponseError {
    /// The member closed or failed before sending a byte of it.
    ClosedEarly,
    /// It sent something that is not an HTTP/1.x response head.
    Malformed,
    /// It did not start within the response timeout.
    TimedOut,
    /// Forwarding an interim (1xx) response to the client failed.
    ClientGone,
}

/// Reads the member's response head into `out`, forwarding interim 1xx
/// responses to the client on the way.
async fn read_response<S: AsyncWriteRent>(
    backend: &mut Conn<TcpStream>,
    client: &mut Conn<S>,
    request: &Request,
    service: &Service,
    out: &mut Vec<u8>,
) -> Result<Response, ResponseError> {
    let deadline = Instant::now() + service.http.response_timeout;
    let mut received_any = false;
    loop {
        if !backend.buffered().is_empty() {
            match head::parse_response(backend.buffered(), request, out) {
                Ok(Some(response)) if response.status == 101 && !request.upgrade => {
                    return Err(ResponseError::Malformed);
                }
                Ok(Some(response))
                    if (100..200).contains(&response.status) && response.status != 101 =>
                {
                    backend.consume(response.length);
                    let sent;
                    (sent, *out) = client.io.write_all(std::mem::take(out)).await;
                    sent.map_err(|_| ResponseError::ClientGone)?;
                    continue;
                }
                Ok(Some(response)) => {
                    backend.consume(response.length);
                    return Ok(response);
                }
                Ok(None) if backend.is_full() => return Err(ResponseError::Malformed),
                Ok(None) => {}
                Err(_) => return Err(ResponseError::Malformed),
            }
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match monoio::time::timeout(wait, backend.fill()).await {
            Ok(Ok(0)) | Ok(Err(_)) if !received_any => return Err(ResponseError::ClosedEarly),
            Ok(Ok(0)) | Ok(Err(_)) => return Err(ResponseError::Malformed),
            Ok(Ok(_)) => received_any = true,
            Err(_) => return Err(ResponseError::TimedOut),
        }
    }
}

/// Counts a failure at the member and answers the client for it.
async fn fail<S: AsyncWriteRent>(
    service: &Service,
    member: &Member,
    client: &mut Conn<S>,
    kind: ErrorKind,
    outcome: &mut Outcome,
) -> Next {
    member.counters.failure();
    service.counters.error(kind);
    outcome.refused(refuse(&mut client.io, service, kind).await, kind);
    Next::Close
}

/// An answer the proxy sent by itself.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) bytes: usize,
}

/// Sends the proxy's own answer for `kind`, if it has one; the connection
/// closes after it.
pub(crate) async fn refuse<S: AsyncWriteRent>(
    client: &mut S,
    service: &Service,
    kind: ErrorKind,
) -> Option<Answer> {
    let (status, text) = match kind {
        ErrorKind::BadRequest => (400, "400 Bad Request"),
        ErrorKind::HeaderTimeout => (408, "408 Request Timeout"),
        ErrorKind::HeaderTooLarge => (431, "431 Request Header Fields Too Large"),
        ErrorKind::MemberConnect | ErrorKind::MemberProtocol => (502, "502 Bad Gateway"),
        ErrorKind::NoMember | ErrorKind::ConnectionLimit => (503, "503 Service Unavailable"),
        ErrorKind::MemberTimeout => (504, "504 Gateway Timeout"),
        ErrorKind::TlsHandshake | ErrorKind::IdleTimeout | ErrorKind::NodeConnectionLimit => {
            return None;
        }
    };
    let answer = format!(
        "HTTP/1.1 {text}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}\n",
        text.len() + 1
    );
    let length = answer.len();
    let (sent, _) = client.write_all(answer.into_bytes()).await;
    let answered = sent.is_ok().then(|| {
        service.counters.bytes_out(length);
        service.counters.response(status);
        Answer {
            status,
            bytes: length,
        }
    });
    let _ = client.shutdown().await;
    answered
}

/// Reads and discards what the client still sends, for a moment, before the
/// connection closes: closing with unread input makes the kernel send a
/// reset, which can destroy the answer before the client reads it.
async fn linger<S: AsyncReadRent>(client: &mut Conn<S>) {
    const LINGER: Duration = Duration::from_millis(500);
    const AT_MOST: usize = 256 * 1024;
    let deadline = Instant::now() + LINGER;
    let mut discarded = 0;
    while discarded < AT_MOST {
        client.consume(client.buffered().len());
        let wait = deadline.saturating_duration_since(Instant::now());
        match monoio::time::timeout(wait, client.fill()).await {
            Ok(Ok(n)) if n > 0 => discarded += n,
            _ => return,
        }
    }
}

/// After `101 Switching Protocols`: what each side sent past the heads goes
/// first, then bytes flow both ways as on a TCP listener.
async fn upgrade<S: Duplex>(
    service: &Service,
    member: &Member,
    client: Conn<S>,
    backend: Conn<TcpStream>,
) {
    let (mut client, client_early) = client.into_parts();
    let (mut backend, member_early) = backend.into_parts();
    if !client_early.is_empty() && backend.write_all(client_early).await.0.is_err() {
        return;
    }
    if !member_early.is_empty() && client.write_all(member_early).await.0.is_err() {
        return;
    }
    let tally = Tally::new(&service.counters, &member.counters);
    let idle: Duration = service.listener.idle_timeout;
    tcp::relay(client, backend, idle, &tally).await;
}
