//! The event service: the history of the cluster or of one resource, and the
//! watch stream, which delivers every event from a revision on, in order,
//! then new ones as this node applies them.

use std::pin::Pin;

use fulcrum_api::v1;
use fulcrum_raft_store::domain::wire::event_view;
use fulcrum_raft_store::domain::{Compacted, State};
use futures::Stream;
use openraft::async_runtime::WatchReceiver;
use tonic::{Request, Response, Status};

use super::{Api, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// How many revisions one watch message carries at most.
const WATCH_BATCH_REVISIONS: usize = 256;
/// How many messages a slow watcher may leave unread before the stream waits.
const WATCH_BUFFER: usize = 16;

fn out_of_range(compacted: Compacted) -> Status {
    Status::out_of_range(format!(
        "from_revision: {compacted}; start from {} or later, or from 0 for the oldest kept",
        compacted.first_kept
    ))
}

/// Events from `from` on, at most `revisions` revisions' worth, those about
/// `resource_id` (or its children) when it is not empty.
fn events_from(
    state: &State,
    from: u64,
    revisions: usize,
    resource_id: &str,
) -> Result<Vec<v1::Event>, Compacted> {
    let events = state.history().read(from, revisions, |recorded| {
        resource_id.is_empty()
            || recorded.event.resource_id() == resource_id
            || recorded.event.parent_id() == resource_id
    })?;
    Ok(events
        .into_iter()
        .map(|recorded| event_view(state.catalog(), recorded))
        .collect())
}

/// The first kept revision after the `revisions` revisions that a read from
/// `from` covered, if there is one: where the next page starts.
fn next_page(state: &State, from: u64, revisions: usize) -> Option<u64> {
    state.history().revisions_from(from).nth(revisions)
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl v1::event_service_server::EventService for Api {
    async fn list_events(
        &self,
        request: Request<v1::ListEventsRequest>,
    ) -> Result<Response<v1::ListEventsResponse>, Status> {
        let message = request.get_ref();
        let revisions = match message.page_size as usize {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        };
        self.read(&request, message.read.as_ref(), |_, state| {
            let from = message.from_revision;
            let events =
                events_from(state, from, revisions, &message.resource_id).map_err(out_of_range)?;
            Ok(v1::ListEventsResponse {
                events,
                next_revision: next_page(state, from, revisions).unwrap_or(0),
                compacted_revision: state.history().first_kept(),
                revision: state.revision(),
            })
        })
        .await
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        request: Request<v1::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let permit = self
            .watch_streams
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                Status::resource_exhausted(format!(
                    "this node serves {} watch streams already (api.max_watch_streams); close one, or watch through another node",
                    self.watch_streams.max
                ))
            })?;
        let mut from = request.into_inner().from_revision;
        {
            let state = self.replica.state()?;
            events_from(&state, from, 0, "").map_err(out_of_range)?;
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(WATCH_BUFFER);
        let replica = self.replica.clone();
        tokio::spawn(async move {
            // Held while the stream lives: the task ends when the watcher leaves.
            let _permit = permit;
            let mut applied = replica.raft().metrics();
            loop {
                // The metrics are marked seen before the read, so an entry
                // applied after the read wakes the wait below.
                drop(applied.borrow_and_update());
                let batch = replica.state().and_then(|state| {
                    events_from(&state, from, WATCH_BATCH_REVISIONS, "").map_err(out_of_range)
                });
                match batch {
                    Ok(events) if !events.is_empty() => {
                        from = events.last().map_or(from, |event| event.revision + 1);
                        if sender.send(Ok(v1::WatchResponse { events })).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Ok(_) => {}
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                }
                tokio::select! {
                    changed = applied.changed() => if changed.is_err() { return },
                    () = sender.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }
}
