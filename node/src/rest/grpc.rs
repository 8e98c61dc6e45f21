//! The in-process gRPC call a REST request becomes: the request message
//! framed as gRPC (a 5-byte prefix), sent through the same service stack
//! the API port serves (the size layer, authentication and roles, then the
//! services), and the answer's messages and status read back from its body
//! and trailers.
//!
//! The call carries what the gRPC port would have: the caller's address in
//! a [`PeerInfo`] (never a certificate identity: the HTTP port takes bearer
//! tokens only), the `authorization` header as given, and the deadline as
//! `grpc-timeout`, so that authentication, roles, admission, deadlines and
//! client tokens are exactly the gRPC path's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use tonic::Status;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::transport::PeerInfo;

/// The public gRPC stack, layers included, as one cloneable service.
pub type GrpcStack =
    BoxCloneSyncService<Request<tonic::body::Body>, Response<tonic::body::Body>, Infallible>;

/// The gRPC frame prefix: a compression flag and a 4-byte length.
const PREFIX_BYTES: usize = 5;
/// The largest answer message read back (the API's own encoding limit).
const MAX_ANSWER_BYTES: usize = crate::api::MAX_MESSAGE_BYTES;
/// The longest deadline `grpc-timeout` can say in milliseconds (8 digits).
const MAX_GRPC_TIMEOUT_MS: u128 = 99_999_999;

/// One call: the RPC, its encoded request and what travels with it.
pub struct Call {
    /// `/package.Service/Method`.
    pub path: String,
    /// The encoded request message.
    pub message: Vec<u8>,
    /// The caller's `authorization` header, if any.
    pub authorization: Option<HeaderValue>,
    /// The caller's address.
    pub remote: Option<SocketAddr>,
    /// The deadline, if the call has one (a watch has none).
    pub timeout: Option<Duration>,
    /// The call's request id (`crate::request_id`), if the REST request set it.
    pub request_id: Option<HeaderValue>,
}

/// Sends `call` through `stack`; the answer's messages, or the status the
/// stack refused it with before answering any.
pub async fn send(stack: &GrpcStack, call: Call) -> Result<Messages, Status> {
    let mut framed = Vec::with_capacity(PREFIX_BYTES + call.message.len());
    framed.push(0);
    let length = u32::try_from(call.message.len())
        .map_err(|_| Status::resource_exhausted("request: larger than 4 GiB"))?;
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(&call.message);
    let mut request = Request::post(call.path.as_str())
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(tonic::body::Body::new(Full::new(Bytes::from(framed))))
        .map_err(|error| {
            Status::internal(format!("the gRPC request could not be made: {error}"))
        })?;
    if let Some(timeout) = call.timeout {
        let millis = timeout.as_millis().clamp(1, MAX_GRPC_TIMEOUT_MS);
        let value = HeaderValue::from_str(&format!("{millis}m"))
            .map_err(|error| Status::internal(format!("grpc-timeout: {error}")))?;
        request.headers_mut().insert("grpc-timeout", value);
    }
    if let Some(authorization) = call.authorization {
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, authorization);
    }
    if let Some(id) = call.request_id {
        request.headers_mut().insert(crate::request_id::HEADER, id);
    }
    request.extensions_mut().insert(PeerInfo {
        remote: call.remote,
        identity: None,
    });
    let Ok(response) = stack.clone().oneshot(request).await;
    let (parts, body) = response.into_parts();
    // A refusal before any message is "trailers only": the status is in
    // the headers.
    if let Some(status) = Status::from_header_map(&parts.headers)
        && status.code() != tonic::Code::Ok
    {
        return Err(status);
    }
    if parts.status != http::StatusCode::OK {
        return Err(Status::internal(format!(
            "the gRPC stack answered HTTP {}",
            parts.status
        )));
    }
    Ok(Messages {
        body,
        buffer: BytesMut::new(),
        ended: false,
    })
}

/// The messages of an answer, read as its body yields them.
pub struct Messages {
    body: tonic::body::Body,
    buffer: BytesMut,
    ended: bool,
}

impl Messages {
    /// The next message; `Ok(None)` once the answer ended with OK.
    ///
    /// Cancel-safe: what was read stays in `self`, so a caller may race
    /// this against a timer and call it again.
    pub async fn next(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(message) = self.take_message()? {
                return Ok(Some(message));
            }
            if self.ended {
                return Err(Status::internal("the answer ended without a status"));
            }
            let Some(frame) = self.body.frame().await else {
                self.ended = true;
                if self.buffer.is_empty() {
                    return Err(Status::internal("the answer ended without a status"));
                }
                return Err(Status::internal("the answer ended inside a message"));
            };
            let frame = frame?;
            match frame.into_data() {
                Ok(data) => {
                    if self.buffer.len() + data.len() > MAX_ANSWER_BYTES + PREFIX_BYTES {
                        return Err(Status::resource_exhausted(format!(
                            "the answer is larger than {MAX_ANSWER_BYTES} bytes"
                        )));
                    }
                    self.buffer.extend_from_slice(&data);
                }
                Err(frame) => {
                    let Ok(trailers) = frame.into_trailers() else {
                        continue;
                    };
                    self.ended = true;
                    if !self.buffer.is_empty() {
                        return Err(Status::internal("the answer ended inside a message"));
                    }
                    return match Status::from_header_map(&trailers) {
                        Some(status) if status.code() == tonic::Code::Ok => Ok(None),
                        Some(status) => Err(status),
                        None => Err(Status::internal("the answer's trailers hold no status")),
                    };
                }
            }
        }
    }

    /// The one message of a unary answer.
    pub async fn only(mut self) -> Result<Bytes, Status> {
        let message = self
            .next()
            .await?
            .ok_or_else(|| Status::internal("the answer holds no message"))?;
        match self.next().await? {
            None => Ok(message),
            Some(_) => Err(Status::internal("a unary answer holds two messages")),
        }
    }

    /// A whole message from the front of the buffer, if one is there.
    fn take_message(&mut self) -> Result<Option<Bytes>, Status> {
        if self.buffer.len() < PREFIX_BYTES {
            return Ok(None);
        }
        if self.buffer[0] != 0 {
            return Err(Status::internal(
                "the answer is compressed; none was asked for",
            ));
        }
        let length = u32::from_be_bytes([
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
        ]) as usize;
        if length > MAX_ANSWER_BYTES {
            return Err(Status::resource_exhausted(format!(
                "an answer message of {length} bytes is over {MAX_ANSWER_BYTES}"
            )));
        }
        if self.buffer.len() < PREFIX_BYTES + length {
            return Ok(None);
        }
        self.buffer.advance(PREFIX_BYTES);
        Ok(Some(self.buffer.split_to(length).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack that checks the call it gets (path, deadline, token, peer,
    /// framed message), then answers the bytes `answer` and `status` in
    /// trailers, or `status` alone in the headers when `trailers_only`.
    fn stack(answer: Vec<u8>, status: &'static str, trailers_only: bool) -> GrpcStack {
        BoxCloneSyncService::new(tower::service_fn(
            move |request: Request<tonic::body::Body>| {
                let answer = answer.clone();
                async move {
                    assert_eq!(
                        request.uri().path(),
                        "/fulcrum.v1.NetworkService/GetNetwork"
                    );
                    assert_eq!(request.headers()["grpc-timeout"], "1500m");
                    assert_eq!(request.headers()["authorization"], "Bearer fct_x");
                    assert!(
                        request
                            .extensions()
                            .get::<PeerInfo>()
                            .is_some_and(|peer| peer.identity.is_none())
                    );
                    let sent = request
                        .into_body()
                        .collect()
                        .await
                        .expect("a body")
                        .to_bytes();
                    assert_eq!(&sent[..], &[0, 0, 0, 0, 2, 0x0a, 0x00]);
                    let mut response = Response::new(tonic::body::Body::empty());
                    if trailers_only {
                        response
                            .headers_mut()
                            .insert("grpc-status", HeaderValue::from_static(status));
                        response.headers_mut().insert(
                            "grpc-message",
                            HeaderValue::from_static("no%20such%20network"),
                        );
                        return Ok::<_, Infallible>(response);
                    }
                    let mut trailers = http::HeaderMap::new();
                    trailers.insert("grpc-status", HeaderValue::from_static(status));
                    let frames = vec![
                        Ok::<_, Status>(hyper::body::Frame::data(Bytes::from(answer))),
                        Ok(hyper::body::Frame::trailers(trailers)),
                    ];
                    let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
                    *response.body_mut() = tonic::body::Body::new(body);
                    Ok(response)
                }
            },
        ))
    }

    fn call() -> Call {
        Call {
            path: "/fulcrum.v1.NetworkService/GetNetwork".to_owned(),
            message: vec![0x0a, 0x00],
            authorization: Some(HeaderValue::from_static("Bearer fct_x")),
            remote: None,
            timeout: Some(Duration::from_millis(1500)),
            request_id: None,
        }
    }

    #[tokio::test]
    async fn a_unary_answer_is_one_message_then_ok() {
        let answer = vec![0, 0, 0, 0, 3, 1, 2, 3];
        let messages = send(&stack(answer, "0", false), call())
            .await
            .expect("sent");
        assert_eq!(&messages.only().await.expect("one message")[..], &[1, 2, 3]);
    }

    #[tokio::test]
    async fn refusals_come_back_as_the_servers_status() {
        let refused = send(&stack(Vec::new(), "5", true), call())
            .await
            .err()
            .expect("refused");
        assert_eq!(refused.code(), tonic::Code::NotFound);
        assert_eq!(refused.message(), "no such network");
        let messages = send(&stack(Vec::new(), "9", false), call())
            .await
            .expect("sent");
        let status = messages.only().await.expect_err("failed");
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    }

    #[tokio::test]
    async fn broken_frames_are_internal_errors() {
        for answer in [
            vec![0, 0, 0, 0, 9, 1],
            vec![1, 0, 0, 0, 1, 7],
            vec![0, 0xff, 0, 0, 0],
        ] {
            let messages = send(&stack(answer.clone(), "0", false), call())
                .await
                .expect("sent");
            let status = messages.only().await.expect_err("broken");
            assert!(
                matches!(
                    status.code(),
                    tonic::Code::Internal | tonic::Code::ResourceExhausted
                ),
                "{answer:?}: {status:?}"
            );
        }
    }
}
