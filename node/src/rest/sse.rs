//! A server-streaming RPC as Server-Sent Events: each message the gRPC
//! stream yields is one `data: <proto3 JSON>` event, sent as it arrives. A
//! stream that fails ends with one `event: error` whose data is the error
//! body every REST error has.
//!
//! Resuming: an event whose message holds revisions (a `revision` field, or
//! messages with one in a repeated field, as the watch's events) has the
//! highest as its `id:`. A client that reconnects with `Last-Event-ID: N`
//! (browsers' `EventSource` does so by itself) to a call whose request has
//! a `from_revision` it left unset resumes from `N + 1` ([`resume`]): no
//! event is repeated or skipped across the reconnect. A comment line every [`KEEPALIVE`] keeps
//! proxies from timing the stream out and finds a client that left, so
//! that its watch slot (`api.max_watch_streams`) is given back.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use hyper::body::Frame;
use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage, Value};

use super::errors::RestError;
use super::grpc::Messages;
use super::json;

/// How often an idle stream sends a comment line.
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// The header a reconnecting client names its last event's id in.
pub const LAST_EVENT_ID: &str = "last-event-id";
/// The request field a resume fills.
const FROM_REVISION: &str = "from_revision";
/// The field an event's id comes from.
const REVISION: &str = "revision";

/// The state of one event stream.
struct Events {
    messages: Messages,
    output: MessageDescriptor,
    keepalive: tokio::time::Interval,
    /// True when the server drains: the stream ends.
    end: tokio::sync::watch::Receiver<bool>,
    ended: bool,
}

/// The frames of the event stream of `messages`, each of type `output`,
/// until `end` turns true (the server stops).
pub fn events(
    messages: Messages,
    output: MessageDescriptor,
    end: tokio::sync::watch::Receiver<bool>,
) -> impl Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static {
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Events {
        messages,
        output,
        keepalive,
        end,
        ended: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        let event = tokio::select! {
            next = state.messages.next() => match next {
                Ok(Some(message)) => match json::decode(&state.output, message)
                    .and_then(|m| Ok((json::render(&m)?, highest_revision(&m))))
                {
                    Ok((rendered, id)) => data_event(&rendered, id),
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
            () = super::drained(&mut state.end) => return None,
        };
        Some((Ok(Frame::data(event)), state))
    })
}

/// Fills the unset `from_revision` of a streaming call's `request` from
/// the client's `Last-Event-ID`; a request without the field, or with it
/// set, is left as it is. A `Last-Event-ID` that is not a revision is a
/// 400 naming the header.
pub fn resume(request: &mut DynamicMessage, last_event_id: Option<&str>) -> Result<(), RestError> {
    let Some(last) = last_event_id.map(str::trim).filter(|id| !id.is_empty()) else {
        return Ok(());
    };
    let Some(field) = request.descriptor().get_field_by_name(FROM_REVISION) else {
        return Ok(());
    };
    if request
        .get_field(&field)
        .as_u64()
        .is_some_and(|from| from != 0)
    {
        return Ok(());
    }
    let from = last
        .parse::<u64>()
        .ok()
        .and_then(|last| last.checked_add(1))
        .ok_or_else(|| {
            RestError::invalid(
                LAST_EVENT_ID,
                format!("{last:?} is not the id of an event (a revision)"),
            )
        })?;
    request.set_field(&field, Value::U64(from));
    Ok(())
}

/// The highest revision `message` holds: its own `revision`, or the
/// highest of the messages in its repeated fields.
fn highest_revision(message: &DynamicMessage) -> Option<u64> {
    let own = |message: &DynamicMessage| {
        message
            .descriptor()
            .get_field_by_name(REVISION)
            .and_then(|field| message.get_field(&field).as_u64())
            .filter(|revision| *revision != 0)
    };
    own(message).or_else(|| {
        message
            .fields()
            .filter_map(|(_, value)| value.as_list())
            .flatten()
            .filter_map(|item| item.as_message().and_then(own))
            .max()
    })
}

/// `id: <revision>` when the message has one, `data: <json>`, and the blank
/// line that ends an event (proto3 JSON has no newline in it, so one
/// `data:` line holds it).
fn data_event(json: &[u8], id: Option<u64>) -> Bytes {
    let mut event = Vec::with_capacity(json.len() + 32);
    if let Some(id) = id {
        event.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
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
            &data_event(br#"{"events":[]}"#, None)[..],
            b"data: {\"events\":[]}\n\n"
        );
        assert_eq!(&data_event(br#"{}"#, Some(7))[..], b"id: 7\ndata: {}\n\n");
        let error = RestError::new(tonic::Code::OutOfRange, "from_revision: compacted");
        assert_eq!(
            &error_event(&error)[..],
            b"event: error\ndata: {\"code\":400,\"status\":\"OUT_OF_RANGE\",\"message\":\"from_revision: compacted\"}\n\n"
        );
    }

    fn message(name: &str) -> DynamicMessage {
        let pool = prost_reflect::DescriptorPool::decode(fulcrum_api::FILE_DESCRIPTOR_SET).unwrap();
        DynamicMessage::new(pool.get_message_by_name(name).unwrap())
    }

    #[test]
    fn a_watch_answer_is_identified_by_its_last_revision() {
        let mut answer = message("fulcrum.v1.WatchResponse");
        let event = |revision: u64| {
            let mut event = message("fulcrum.v1.Event");
            event.set_field_by_name("revision", Value::U64(revision));
            Value::Message(event)
        };
        assert_eq!(highest_revision(&answer), None, "no events, no id");
        answer.set_field_by_name("events", Value::List(vec![event(5), event(9), event(7)]));
        assert_eq!(highest_revision(&answer), Some(9));
    }

    #[test]
    fn last_event_id_resumes_an_unset_from_revision_only() {
        let mut request = message("fulcrum.v1.WatchRequest");
        resume(&mut request, Some("41")).unwrap();
        assert_eq!(
            request.get_field_by_name("from_revision").unwrap().as_u64(),
            Some(42)
        );
        resume(&mut request, Some("99")).unwrap();
        assert_eq!(
            request.get_field_by_name("from_revision").unwrap().as_u64(),
            Some(42),
            "a given from_revision wins"
        );
        let mut fresh = message("fulcrum.v1.WatchRequest");
        let error = resume(&mut fresh, Some("soon")).unwrap_err();
        assert!(
            error.message.starts_with("last-event-id: "),
            "{}",
            error.message
        );
        assert!(resume(&mut fresh, Some(&u64::MAX.to_string())).is_err());
        resume(&mut fresh, None).unwrap();
        let mut other = message("fulcrum.v1.ListNetworksRequest");
        resume(&mut other, Some("3")).unwrap();
    }
}
