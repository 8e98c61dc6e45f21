//! The servers' transport limits: how many connections a port holds,
//! how long a new connection may stay silent, and how a request over the
//! size limit is answered.
//!
//! - [`limited_incoming`] accepts connections while fewer than
//!   `max_connections` are open; past that, a new connection is closed at
//!   once (the ones open keep working). Each connection must send its first
//!   byte (and, with TLS, finish its handshake) within
//!   `first_request_timeout`, or it is closed: a client that opens sockets
//!   and says nothing cannot hold the port's slots. Each served connection
//!   carries a [`PeerInfo`]: the client's address and the identity its
//!   client certificate names.
//! - [`OversizeAsExhausted`] answers a request message over
//!   `api.max_request_bytes` with RESOURCE_EXHAUSTED, as etcd does. tonic
//!   refuses such a message from its 5-byte length prefix, before reading or
//!   decoding it, but calls it OUT_OF_RANGE.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tonic::transport::server::Connected;

use crate::tls::Tls;

/// How long the accept loop pauses after the OS refused an accept (out of
/// file descriptors, say), so that it does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// The limits of one listening port.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// How long a new connection may send nothing.
    pub first_request_timeout: Duration,
}

/// The longest TLS handshake the peer port waits for.
const PEER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// How many accepted (and, with TLS, handshaken) connections wait for the
/// server to take them.
const READY_CONNECTIONS: usize = 64;

/// What a port does with a new connection before serving it.
#[derive(Clone)]
pub enum Handshake {
    /// Nothing: plain TCP (loopback, or `tls.insecure`).
    Plain,
    /// TLS with the node's current certificate, for this port.
    Tls {
        /// The node's TLS set (reloaded when its files change).
        tls: Arc<Tls>,
        /// Which port: its client-certificate rule differs.
        port: Port,
    },
}

/// The node's ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// The public API: client certificates optional.
    Api,
    /// The peers' port: node certificates only.
    Peer,
    /// The REST/JSON port: no client certificates, HTTP/1.1 or h2.
    Http,
}

/// The connections `listener` accepts, within `limits`, after `handshake`,
/// and the accept loop's task: it ends, closing the listener, once the
/// stream is dropped (await it to know the port is free again). TLS
/// handshakes run on tasks of their own (each under
/// `first_request_timeout`), so a slow client never holds up the next accept.
pub fn limited_incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
    handshake: Handshake,
) -> (
    impl Stream<Item = io::Result<Connection>> + Send + 'static,
    tokio::task::JoinHandle<()>,
) {
    let (ready, connections) = tokio::sync::mpsc::channel(READY_CONNECTIONS);
    let acceptor = tokio::spawn(accept_loop(listener, limits, handshake, ready));
    (
        tokio_stream::wrappers::ReceiverStream::new(connections),
        acceptor,
    )
}

async fn accept_loop(
    listener: TcpListener,
    limits: ConnectionLimits,
    handshake: Handshake,
    ready: tokio::sync::mpsc::Sender<io::Result<Connection>>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = ready.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, max_connections = limits.max_connections, "connection refused: the port is full");
            drop(stream);
            continue;
        };
        // Nagle's algorithm off: a small answer (a Raft acknowledgement,
        // an API reply) must not wait for the peer's delayed ACK.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %error, "TCP_NODELAY could not be set");
        }
        let connection = LimitedConnection {
            stream,
            _slot: slot,
            silence: Some(Box::pin(tokio::time::sleep(limits.first_request_timeout))),
        };
        match &handshake {
            Handshake::Plain => {
                let plain = Connection {
                    io: Io::Plain(connection),
                    info: PeerInfo {
                        remote: Some(peer),
                        identity: None,
                    },
                    silence: None,
                };
                if ready.send(Ok(plain)).await.is_err() {
                    return;
                }
            }
            Handshake::Tls { tls, port } => {
                let current = tls.current();
                let (config, handshake_timeout) = match port {
                    Port::Api => (current.api.clone(), limits.first_request_timeout),
                    Port::Http => (current.http.clone(), limits.first_request_timeout),
                    // Peers are close and their handshakes quick: a stalled
                    // one gives its slot back sooner.
                    Port::Peer => (
                        current.peer.clone(),
                        limits.first_request_timeout.min(PEER_HANDSHAKE_TIMEOUT),
                    ),
                };
                let deadline = tokio::time::Instant::now() + limits.first_request_timeout;
                tokio::spawn(secure(
                    connection,
                    peer,
                    config,
                    (handshake_timeout, deadline),
                    ready.clone(),
                ));
            }
        }
    }
}

/// Runs the TLS handshake of one connection and hands it to the server.
async fn secure(
    connection: LimitedConnection,
    peer: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    (timeout, first_request_by): (Duration, tokio::time::Instant),
    ready: tokio::sync::mpsc::Sender<io::Result<Connection>>,
) {
    let accepted = tokio::time::timeout(
        timeout,
        tokio_rustls::TlsAcceptor::from(config).accept(connection),
    )
    .await;
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "no TLS handshake within api.first_request_timeout_ms");
            return;
        }
    };
    let identity = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|certificate| match fulcrum_pki::identity_of(certificate) {
            Ok(identity) => Some(Arc::new(identity)),
            Err(error) => {
                tracing::debug!(%peer, %error, "the client certificate names no identity");
                None
            }
        });
    let connection = Connection {
        io: Io::Tls(Box::new(stream)),
        info: PeerInfo {
            remote: Some(peer),
            identity,
        },
        silence: Some(Box::pin(tokio::time::sleep_until(first_request_by))),
    };
    let _ = ready.send(Ok(connection)).await;
}

/// Who is on the other end of a connection: what every request on it
/// carries in its extensions (tonic puts it there; the REST port puts one,
/// without an identity, on each call it makes).
#[derive(Clone, Debug)]
pub struct PeerInfo {
    /// The client's address.
    pub remote: Option<SocketAddr>,
    /// The identity its client certificate names, verified against the
    /// cluster CA during the handshake; `None` without one.
    pub identity: Option<Arc<fulcrum_pki::Identity>>,
}

/// A served connection: plain or TLS, holding its port slot.
pub struct Connection {
    io: Io,
    info: PeerInfo,
    /// Until its first bytes after the TLS handshake (the HTTP/2 preface):
    /// a client that completes a handshake and says nothing more cannot
    /// hold a slot either. `None` for plain connections (the TCP stream's
    /// own silence covers them).
    silence: Option<Pin<Box<Sleep>>>,
}

enum Io {
    Plain(LimitedConnection),
    Tls(Box<tokio_rustls::server::TlsStream<LimitedConnection>>),
}

impl Connected for Connection {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.info.clone()
    }
}

/// Calls `$method` on whichever stream `$io` holds.
macro_rules! either {
    ($io:expr, $stream:ident => $call:expr) => {
        match $io {
            Io::Plain($stream) => $call,
            Io::Tls($stream) => $call,
        }
    };
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buffer.filled().len();
        let read = either!(&mut self.io, stream => Pin::new(stream).poll_read(context, buffer));
        let brought_bytes = buffer.filled().len() > before;
        unless_silent_too_long(&mut self.silence, read, brought_bytes, context)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        either!(&mut self.io, stream => Pin::new(stream).poll_write(context, bytes))
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(&mut self.io, stream => Pin::new(stream).poll_flush(context))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(&mut self.io, stream => Pin::new(stream).poll_shutdown(context))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        either!(&mut self.io, stream => Pin::new(stream).poll_write_vectored(context, buffers))
    }

    fn is_write_vectored(&self) -> bool {
        either!(&self.io, stream => stream.is_write_vectored())
    }
}

/// An accepted TCP connection holding one of its port's slots until it closes.
struct LimitedConnection {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
    /// Until the first byte arrives: when it fires, the connection is closed.
    silence: Option<Pin<Box<Sleep>>>,
}

/// `read`, unless the connection is still silent and `silence` has run out:
/// a read that brought bytes ends the silence.
fn unless_silent_too_long(
    silence: &mut Option<Pin<Box<Sleep>>>,
    read: Poll<io::Result<()>>,
    brought_bytes: bool,
    context: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    if silence.is_some() {
        match &read {
            Poll::Ready(Ok(())) if brought_bytes => *silence = None,
            Poll::Pending => {
                if let Some(deadline) = silence.as_mut()
                    && deadline.as_mut().poll(context).is_ready()
                {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the connection sent no request within api.first_request_timeout_ms",
                    )));
                }
            }
            _ => {}
        }
    }
    read
}

impl AsyncRead for LimitedConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buffer.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(context, buffer);
        let brought_bytes = buffer.filled().len() > before;
        unless_silent_too_long(&mut self.silence, read, brought_bytes, context)
    }
}

impl AsyncWrite for LimitedConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(context, bytes)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(context)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A layer that turns tonic's refusal of an oversized request message
/// (OUT_OF_RANGE) into RESOURCE_EXHAUSTED naming the setting.
#[derive(Clone, Copy, Debug, Default)]
pub struct OversizeAsExhausted;

impl<S> tower::Layer<S> for OversizeAsExhausted {
    type Service = OversizeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OversizeService { inner }
    }
}

/// The service [`OversizeAsExhausted`] wraps around another.
#[derive(Clone, Debug)]
pub struct OversizeService<S> {
    inner: S,
}

/// tonic's words for a message over the decoding limit (percent-encoded in
/// the `grpc-message` header, spaces as `%20`).
const OVERSIZE_MESSAGE_PREFIX: &str = "Error,%20decoded%20message%20length%20too%20large";
const GRPC_OUT_OF_RANGE: &[u8] = b"11";

impl<S, Request, Body> tower::Service<Request> for OversizeService<S>
where
    S: tower::Service<Request, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let answer = self.inner.call(request);
        Box::pin(async move { answer.await.map(oversize_as_exhausted) })
    }
}

/// Rewrites a trailers-only OUT_OF_RANGE answer for an oversized message.
fn oversize_as_exhausted<Body>(mut response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers_mut();
    if headers.get("grpc-status").map(HeaderValue::as_bytes) != Some(GRPC_OUT_OF_RANGE) {
        return response;
    }
    let Some(detail) = headers
        .get("grpc-message")
        .and_then(|message| message.to_str().ok())
        .and_then(|message| message.strip_prefix(OVERSIZE_MESSAGE_PREFIX))
    else {
        return response;
    };
    let message = format!(
        "request:%20larger%20than%20this%20node%20accepts%20(api.max_request_bytes){detail}"
    );
    headers.insert("grpc-status", HeaderValue::from_static("8"));
    if let Ok(message) = HeaderValue::from_str(&message) {
        headers.insert("grpc-message", message);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_oversize_refusal_is_rewritten() {
        let answer = |status: &'static str, message: &'static str| {
            let mut response = http::Response::new(());
            response
                .headers_mut()
                .insert("grpc-status", HeaderValue::from_static(status));
            response
                .headers_mut()
                .insert("grpc-message", HeaderValue::from_static(message));
            oversize_as_exhausted(response)
        };
        let rewritten = answer(
            "11",
            "Error,%20decoded%20message%20length%20too%20large:%20found%2040000000%20bytes,%20the%20limit%20is:%201572864%20bytes",
        );
        assert_eq!(rewritten.headers()["grpc-status"], "8");
        let message = rewritten.headers()["grpc-message"].to_str().expect("ascii");
        assert!(message.contains("api.max_request_bytes"), "{message}");
        assert!(message.contains("40000000"), "{message}");
        let compacted = answer("11", "from_revision:%20compacted");
        assert_eq!(compacted.headers()["grpc-status"], "11");
    }
}
