//! A server-streaming RPC as Server-Sent Events: each message the gRPC
//! stream yields is one `data: <proto3 JSON>` event, sent as it arrives. A
//! stream that fails ends with one `event: error` whose data is the error
//! body every REST error has. A comment line every [`KEEPALIVE`] keeps
//! proxies from timing the stream out and finds a client that left, so
//! that its watch slot (`api.max_watch_streams`) is given back.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use hyper::body::Frame;
use prost_reflect::MessageDescriptor;

use super::errors::RestError;
use super::grpc::Messages;
use super::json;

/// How often an idle stream sends a comment line.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// The state of one event stream.
struct Events {
    messages: Messages,
    output: MessageDescriptor,
    keepalive: tokio::time::Interval,
    ended: bool,
}

/// The frames of the event stream of `messages`, each of type `output`.
pub fn events(
    messages: Messages,
    output: MessageDescriptor,
) -> impl Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static {
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Events {
        messages,
        output,
        keepalive,
        ended: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        let event = tokio::select! {
            next = state.messages.next() => match next {
                Ok(Some(message)) => match json::decode(&state.output, message).and_then(|m| json::render(&m)) {
                    Ok(rendered) => data_event(&rendered),
                    Err(error) => {
                        state.ended = true;
                        error_event(&error)
                    }
                },
                Ok(None) => return None,
                Err(status) => {
                    state.ended = true;
                    error_event(&RestError::from_status(&status))
                }
            },
            _ = state.keepalive.tick() => Bytes::from_static(b": keepalive\n\n"),
        };
        Some((Ok(Frame::data(event)), state))
    })
}

/// `data: <json>` and the blank line that ends an event (proto3 JSON has
/// no newline in it, so one `data:` line holds it).
fn data_event(json: &[u8]) -> Bytes {
    let mut event = Vec::with_capacity(json.len() + 8);
    event.extend_from_slice(b"data: ");
    event.extend_from_slice(json);
    event.extend_from_slice(b"\n\n");
    Bytes::from(event)
}

fn error_event(error: &RestError) -> Bytes {
    Bytes::from(format!("event: error\ndata: {}\n\n", error.body()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_one_data_line_each() {
        assert_eq!(
            &data_event(br#"{"events":[]}"#)[..],
            b"data: {\"events\":[]}\n\n"
        );
        let error = RestError::new(tonic::Code::OutOfRange, "from_revision: compacted");
        assert_eq!(
            &error_event(&error)[..],
            b"event: error\ndata: {\"code\":400,\"status\":\"OUT_OF_RANGE\",\"message\":\"from_revision: compacted\"}\n\n"
        );
    }
}
