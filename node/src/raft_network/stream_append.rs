//! Pipelined replication, client side: openraft's append requests go to the
//! follower on one gRPC stream as fast as openraft makes them, and the
//! answers come back in the same order, several requests in flight at once.
//!
//! A request larger than [`APPEND_BATCH_BYTES`] goes as several messages
//! that chain (each after the one before); the follower answers each, and
//! the request's answer is that of its last message, or the first refusal.
//! An answer that does not come within openraft's deadline while a request
//! waits for one means the follower cannot be reached: the stream ends with
//! that, and openraft backs off and starts another.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use fulcrum_api::internal::v1 as internal;
use fulcrum_raft_store::raft::{TypeConfig, rpc};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use openraft::error::RPCError;
use openraft::network::RPCOption;
use openraft::raft::{AppendEntriesRequest, StreamAppendResult};
use tokio::sync::Notify;
use tonic::Streaming;

use super::{APPEND_BATCH_BYTES, PeerClient};

/// How many messages each request sent went as, oldest first: the answers
/// owed, shared by the sending side (which adds) and the answering side
/// (which takes).
#[derive(Default)]
struct Owed {
    messages: Mutex<VecDeque<usize>>,
    /// Wakes an answering side that waits with nothing owed.
    sent: Notify,
}

impl Owed {
    fn push(&self, messages: usize) {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(messages);
        self.sent.notify_one();
    }

    fn front(&self) -> Option<usize> {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .front()
            .copied()
    }

    fn pop(&self) {
        self.messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
    }
}

type Answer = Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>;

impl PeerClient {
    /// Streams `input` to the peer; see the module's documentation.
    pub(super) fn pipelined_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<'s, Result<BoxStream<'s, Answer>, RPCError<TypeConfig>>>
    where
        S: Stream<Item = AppendEntriesRequest<TypeConfig>> + Send + Unpin + 'static,
    {
        Box::pin(async move {
            let mut client = self.client().map_err(RPCError::Unreachable)?;
            let owed = Arc::new(Owed::default());
            let sending = Arc::clone(&owed);
            let outbound = input.flat_map(move |request| {
                let messages = rpc::append_request_to_wire_pieces(&request, APPEND_BATCH_BYTES);
                sending.push(messages.len());
                futures::stream::iter(messages)
            });
            let answers = self
                .within_deadline("stream append", &option, client.stream_append(outbound))
                .await?;
            let answering = Answering {
                peer: self,
                answers,
                owed,
                option,
                done: false,
            };
            Ok(
                futures::stream::unfold(answering, |mut answering| async move {
                    let answer = answering.next().await?;
                    Some((answer, answering))
                })
                .boxed(),
            )
        })
    }
}

/// The answering side of one stream.
struct Answering<'s> {
    peer: &'s PeerClient,
    answers: Streaming<internal::RaftStreamAppendResponse>,
    owed: Arc<Owed>,
    option: RPCOption,
    /// Set once the stream gave its last answer (a refusal or an error).
    done: bool,
}

impl Answering<'_> {
    /// The answer to the oldest request sent; `None` when the stream ended.
    async fn next(&mut self) -> Option<Answer> {
        if self.done {
            return None;
        }
        let messages = loop {
            if let Some(messages) = self.owed.front() {
                break messages;
            }
            // Nothing owed: an answer now is the follower ending the stream
            // (or breaking the protocol); a request sent wakes the wait.
            tokio::select! {
                () = self.owed.sent.notified() => {}
                answer = self.answers.message() => {
                    self.done = true;
                    return match answer {
                        Ok(None) => None,
                        Ok(Some(_)) => Some(Err(self.peer.invalid_reply(std::io::Error::other(
                            "an answer to no request",
                        )))),
                        Err(status) => Some(Err(self.peer.rpc_error(status))),
                    };
                }
            }
        };
        let mut answer = None;
        for _ in 0..messages {
            let one = self.one().await;
            let refused = !matches!(one, Ok(Ok(_)));
            answer = Some(one);
            if refused {
                self.done = true;
                break;
            }
        }
        self.owed.pop();
        answer
    }

    /// One message's answer, within openraft's deadline.
    async fn one(&mut self) -> Answer {
        match tokio::time::timeout(self.option.hard_ttl(), self.answers.message()).await {
            Err(_) => Err(RPCError::Unreachable(
                self.peer.unreachable("stream append deadline passed"),
            )),
            Ok(Err(status)) => Err(self.peer.rpc_error(status)),
            Ok(Ok(None)) => Err(RPCError::Unreachable(
                self.peer
                    .unreachable("the follower ended the append stream"),
            )),
            Ok(Ok(Some(wire))) => rpc::stream_append_result_from_wire(&wire)
                .map_err(|error| self.peer.invalid_reply(error)),
        }
    }
}
