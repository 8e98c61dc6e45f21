//! Layer 4: a client connection relayed to a member, bytes copied both ways.
//!
//! Each direction has its own loop with its own buffer (one of the thread's
//! spares, given back when the direction ends), reused for the whole
//! connection. End of stream on one side shuts down the write side of the
//! other (half close), and the other direction goes on until it ends too. A
//! watchdog closes the connection when neither direction has moved a byte
//! for the idle timeout.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};
use monoio::net::TcpStream;

use crate::access_log::Entry;
use crate::backends::Member;
use crate::counters::{ErrorKind, ListenerCounters, MemberCounters};
use crate::io::Duplex;
use crate::proxy_protocol;
use crate::worker::{Service, ThreadContext};

/// The size of each direction's buffer.
const COPY_BUFFER: usize = 64 * 1024;

/// Serves one accepted TCP connection, and queues its access-log line when
/// the listener asks for them.
pub(crate) async fn serve(
    service: Rc<Service>,
    client: TcpStream,
    peer: SocketAddr,
    thread: &ThreadContext,
) {
    // The clocks are read for the access log only.
    let accepted = service
        .listener
        .access_log
        .then(|| (Instant::now(), SystemTime::now()));
    let member = service.backends.pick(peer.ip());
    let tally = member
        .as_ref()
        .map(|member| Tally::new(&service.counters, &member.counters));
    let error = match (&member, &tally) {
        (Some(member), Some(tally)) => relay_to(&service, member, (client, peer), tally).await,
        _ => Some(ErrorKind::NoMember),
    };
    if let Some(error) = error {
        service.counters.error(error);
    }
    if let Some((started, at)) = accepted {
        let (received, sent) =
            tally.map_or((0, 0), |tally| (tally.received.get(), tally.sent.get()));
        thread.access_log.push(Entry {
            at,
            listener: Arc::clone(&service.id),
            protocol: service.listener.protocol,
            client: peer,
            member: member.map(|member| (Arc::clone(&member.id), member.spec.address)),
            request: None,
            status: None,
            received,
            sent,
            duration: started.elapsed(),
            member_duration: None,
            tls: None,
            error,
        });
    }
}

/// Connects to `member`, sends it the PROXY protocol header if its group
/// asks for one, and relays until both sides are done; what went wrong, if
/// anything.
async fn relay_to(
    service: &Service,
    member: &Member,
    (client, peer): (TcpStream, SocketAddr),
    tally: &Tally<'_>,
) -> Option<ErrorKind> {
    let _open = member.gauge.acquire();
    member.counters.connection();
    let mut backend = match connect(member.spec.address, service.http.connect_timeout).await {
        Ok(backend) => backend,
        Err(error) => {
            tracing::debug!(member = %member.spec.id, %error, "connect failed");
            member.counters.failure();
            service.backends.record(member, false);
            return Some(ErrorKind::MemberConnect);
        }
    };
    service.backends.record(member, true);
    if let Some(version) = service.listener.group.proxy_protocol {
        // The address the client reached: the listener's, or the one the
        // kernel chose when the listener is on a wildcard address.
        let local = client.local_addr().unwrap_or(service.listener.address);
        let header = proxy_protocol::header(version, peer, local);
        let (written, _) = backend.write_all(header).await;
        if let Err(error) = written {
            tracing::debug!(member = %member.spec.id, %error, "PROXY header not sent");
            member.counters.failure();
            return Some(ErrorKind::MemberConnect);
        }
    }
    match relay(client, backend, service.listener.idle_timeout, tally).await {
        RelayEnd::Idle => Some(ErrorKind::IdleTimeout),
        RelayEnd::Closed => None,
    }
}

/// Connects to a member within `timeout`, with Nagle off.
pub(crate) async fn connect(address: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = monoio::time::timeout(timeout, TcpStream::connect_addr(address))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Where relayed bytes are counted: the listener's and member's counters,
/// and this connection's own sums (for its access-log line).
pub(crate) struct Tally<'a> {
    listener: &'a ListenerCounters,
    member: &'a MemberCounters,
    /// Bytes from the client.
    received: Cell<u64>,
    /// Bytes to the client.
    sent: Cell<u64>,
}

impl<'a> Tally<'a> {
    pub(crate) fn new(listener: &'a ListenerCounters, member: &'a MemberCounters) -> Self {
        Self {
            listener,
            member,
            received: Cell::new(0),
            sent: Cell::new(0),
        }
    }
    fn client_to_member(&self, n: usize) {
        self.listener.bytes_in(n);
        self.member.bytes_out(n);
        self.received.set(self.received.get() + n as u64);
    }
    fn member_to_client(&self, n: usize) {
        self.member.bytes_in(n);
        self.listener.bytes_out(n);
        self.sent.set(self.sent.get() + n as u64);
    }
}

/// How a relay ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RelayEnd {
    /// Both directions reached end of stream, or one failed.
    Closed,
    /// Neither direction moved for the idle timeout.
    Idle,
}

/// Copies `client` ↔ `member` until both directions end, or until neither
/// moves for `idle`.
pub(crate) async fn relay<C: Duplex, M: Duplex>(
    client: C,
    member: M,
    idle: Duration,
    tally: &Tally<'_>,
) -> RelayEnd {
    let last_activity = Cell::new(Instant::now());
    let (client_read, client_write) = client.into_split();
    let (member_read, member_write) = member.into_split();
    let upstream = copy(client_read, member_write, &last_activity, |n| {
        tally.client_to_member(n)
    });
    let downstream = copy(member_read, client_write, &last_activity, |n| {
        tally.member_to_client(n)
    });
    let both = async { monoio::join!(upstream, downstream) };
    // When the watchdog wins, the copies are dropped with their reads in
    // flight: the connection closes, so bytes they might still receive
    // have nowhere to go anyway.
    monoio::select! {
        _ = both => RelayEnd::Closed,
        _ = idle_watchdog(&last_activity, idle) => RelayEnd::Idle,
    }
}

/// One direction: read into the buffer, write it all, again; at end of
/// stream, shut down the writer's side so the peer sees it too.
async fn copy<R: AsyncReadRent, W: AsyncWriteRent>(
    mut reader: R,
    mut writer: W,
    last_activity: &Cell<Instant>,
    count: impl Fn(usize),
) -> io::Result<()> {
    let mut buffer = crate::io::take_buffer(COPY_BUFFER);
    let ended = loop {
        let read;
        (read, buffer) = reader.read(buffer).await;
        match read {
            Ok(0) => break Ok(()),
            Ok(n) => {
                last_activity.set(Instant::now());
                let written;
                (written, buffer) = writer.write_all(buffer).await;
                if let Err(error) = written {
                    break Err(error);
                }
                count(n);
                buffer.clear();
            }
            Err(error) => break Err(error),
        }
    };
    crate::io::give_buffer(buffer);
    // Also after an error: the other side must learn that nothing more comes.
    let shut = writer.shutdown().await;
    ended.and(shut)
}

/// Returns once `last_activity` is `idle` in the past.
async fn idle_watchdog(last_activity: &Cell<Instant>, idle: Duration) {
    loop {
        let deadline = last_activity.get() + idle;
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        monoio::time::sleep(deadline - now).await;
    }
}
