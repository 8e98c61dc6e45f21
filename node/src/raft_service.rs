//! The Raft network, server side: hands append and vote requests to the local
//! Raft (a leader's pipelined appends as one stream, answered in order), and
//! receives snapshots as a stream of chunks written to a file
//! (memory stays at one chunk), then installs the file. Also the leader's
//! side of forwarding: commands and read-index requests from followers.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use fulcrum_api::internal::v1 as internal;
use fulcrum_raft_store::raft::{RECEIVING_PREFIX, SnapshotFile, StateMachine, TypeConfig, rpc};
use futures::{Stream, StreamExt};
use openraft::Raft;
use tokio::io::AsyncWriteExt;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::cluster_id::Unknown;
use crate::dataplane::NodeDataPlane;
use crate::deadline::deadline_of;
use crate::replica::{LeaderAnswer, Replica};

/// The deadline of a forwarded request that carries none.
const FORWARDED_DEFAULT_DEADLINE: Duration = Duration::from_secs(10);

/// The largest snapshot a node accepts.
pub const MAX_SNAPSHOT_BYTES: u64 = 16 << 30;

/// The Raft service of one node.
pub struct RaftService {
    replica: Arc<Replica>,
    data_plane: Arc<NodeDataPlane>,
    raft: Raft<TypeConfig, StateMachine>,
    snapshot_directory: PathBuf,
    received: AtomicU64,
    /// True once the node stops: a leader's append stream, which it would
    /// keep open for good, then ends, so that the server's graceful
    /// shutdown has no call left to wait for.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// Until then, this node grants no vote except for a leadership
    /// transfer (see [`RaftService::new`]).
    votes_from: tokio::time::Instant,
    /// Whether the node has settled how it enters its cluster; until then
    /// it answers no Raft message (see [`RaftService::ready`]).
    ready: Arc<AtomicBool>,
}

impl RaftService {
    /// A write a follower handed over, proposed here as the leader.
    async fn propose_forwarded(
        &self,
        request: internal::ProposeRequest,
        deadline: tokio::time::Instant,
    ) -> Result<Response<internal::ProposeResponse>, Status> {
        tracing::debug!("a write handed over by a follower");
        let command = request
            .command
            .ok_or_else(|| Status::invalid_argument("command: a proposal carries a command"))?;
        self.replica.admit(&request.client_token, &command)?;
        let outcome = match self
            .replica
            .propose_as_leader(request.principal, request.client_token, command, deadline)
            .await?
        {
            LeaderAnswer::Answered((log_index, receipt)) => {
                internal::propose_response::Outcome::Receipt(internal::ProposeReceipt {
                    log_index,
                    revision: receipt.revision,
                    resource_id: receipt.resource_id,
                })
            }
            LeaderAnswer::NotLeader(leader_id) => {
                internal::propose_response::Outcome::NotLeader(internal::NotLeader { leader_id })
            }
        };
        Ok(Response::new(internal::ProposeResponse {
            outcome: Some(outcome),
        }))
    }

    /// Serves `replica`'s Raft node, receiving snapshots into
    /// `snapshot_directory` (the store's), and answers for `data_plane`.
    ///
    /// For `vote_quiet` after it starts, it refuses vote requests (other
    /// than a leadership transfer's): openraft does not keep a voter's lease
    /// across a restart, so a voter that acknowledged a leader's heartbeat,
    /// was killed and came back at once would otherwise vote for another
    /// node while that leader still holds the EIPs under the lease the
    /// voter's acknowledgement backed. `vote_quiet` is the voters' lease
    /// with the clock-drift bound, so the old lease has surely ended.
    pub fn new(
        replica: Arc<Replica>,
        snapshot_directory: PathBuf,
        data_plane: Arc<NodeDataPlane>,
        vote_quiet: Duration,
        stopping: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            stopping,
            raft: replica.raft().clone(),
            replica,
            data_plane,
            snapshot_directory,
            received: AtomicU64::new(0),
            votes_from: tokio::time::Instant::now() + vote_quiet,
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The switch that opens the service. A node with an empty store first
    /// asks its peers whether it was a member whose data was lost (then it
    /// must not take part at all); answering a leader before that would make
    /// the leader's record of what it had acknowledged useless.
    pub fn ready(&self) -> Arc<AtomicBool> {
        self.ready.clone()
    }

    /// Whether a message may be answered: the node is ready, and the message
    /// carries this node's cluster id (or, for `Unknown::Adopt`, the node has
    /// none yet and takes the sender's).
    fn admit(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        unknown: Unknown,
    ) -> Result<(), Status> {
        if !self.ready.load(Ordering::Acquire) {
            return Err(Status::unavailable(
                "this node is starting: it answers Raft messages once it knows its place in the cluster",
            ));
        }
        self.replica.cluster_identity().check(metadata, unknown)
    }

    /// The gRPC server for this service, with Fulcrum's message limits.
    pub fn into_server(self) -> internal::raft_service_server::RaftServiceServer<Self> {
        internal::raft_service_server::RaftServiceServer::new(self)
            .max_decoding_message_size(crate::raft_network::MAX_RAFT_MESSAGE_BYTES)
            .max_encoding_message_size(crate::raft_network::MAX_RAFT_MESSAGE_BYTES)
    }

    async fn receive_snapshot(
        &self,
        mut stream: Streaming<internal::RaftSnapshotChunk>,
    ) -> Result<internal::RaftSnapshotResponse, Status> {
        let header = match stream.message().await?.and_then(|chunk| chunk.part) {
            Some(internal::raft_snapshot_chunk::Part::Header(header)) => header,
            _ => {
                return Err(Status::invalid_argument(
                    "a snapshot stream starts with its header",
                ));
            }
        };
        let invalid = |error: std::io::Error| Status::invalid_argument(error.to_string());
        let vote = header
            .vote
            .as_ref()
            .map(rpc::vote_from_wire)
            .ok_or_else(|| Status::invalid_argument("snapshot header without a vote"))?;
        let meta = rpc::snapshot_meta_from_wire(
            header
                .meta
                .as_ref()
                .ok_or_else(|| Status::invalid_argument("snapshot header without meta"))?,
        )
        .map_err(invalid)?;
        if header.total_bytes > MAX_SNAPSHOT_BYTES {
            return Err(Status::resource_exhausted(format!(
                "a snapshot of {} bytes is over the limit of {MAX_SNAPSHOT_BYTES}",
                header.total_bytes
            )));
        }
        let number = self.received.fetch_add(1, Ordering::Relaxed);
        let path = self
            .snapshot_directory
            .join(format!("{RECEIVING_PREFIX}{number}.partial"));
        let result = self
            .write_chunks(&mut stream, &path, header.total_bytes)
            .await;
        if let Err(status) = result {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(status);
        }
        let snapshot = openraft::storage::Snapshot {
            meta,
            snapshot: SnapshotFile { path },
        };
        let response = self
            .raft
            .install_full_snapshot(vote, snapshot)
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        Ok(internal::RaftSnapshotResponse {
            vote: Some(rpc::vote_to_wire(&response.vote)),
        })
    }

    async fn write_chunks(
        &self,
        stream: &mut Streaming<internal::RaftSnapshotChunk>,
        path: &std::path::Path,
        total_bytes: u64,
    ) -> Result<(), Status> {
        let io = |error: std::io::Error| {
            Status::internal(format!("writing snapshot {}: {error}", path.display()))
        };
        let mut file = tokio::fs::File::create(path).await.map_err(io)?;
        let mut received = 0u64;
        while let Some(chunk) = stream.message().await? {
            let Some(internal::raft_snapshot_chunk::Part::Data(data)) = chunk.part else {
                return Err(Status::invalid_argument(
                    "only the first snapshot chunk is a header",
                ));
            };
            received += data.len() as u64;
            if received > total_bytes {
                return Err(Status::invalid_argument(format!(
                    "snapshot is longer than its announced {total_bytes} bytes"
                )));
            }
            file.write_all(&data).await.map_err(io)?;
        }
        if received != total_bytes {
            return Err(Status::invalid_argument(format!(
                "snapshot stream ended after {received} of {total_bytes} bytes"
            )));
        }
        file.sync_all().await.map_err(io)
    }
}

/// The answers to a leader's streamed appends, in the order of its requests.
pub type AppendAnswers =
    Pin<Box<dyn Stream<Item = Result<internal::RaftStreamAppendResponse, Status>> + Send>>;

#[tonic::async_trait]
impl internal::raft_service_server::RaftService for RaftService {
    type StreamAppendStream = AppendAnswers;

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "stream_append"))]
    async fn stream_append(
        &self,
        request: Request<Streaming<internal::RaftAppendRequest>>,
    ) -> Result<Response<AppendAnswers>, Status> {
        self.admit(request.metadata(), Unknown::Adopt)?;
        // A message that does not read ends the requests; its reason is the
        // stream's last answer, after the answers to those before it.
        let unreadable = Arc::new(std::sync::Mutex::new(None::<Status>));
        let noted = Arc::clone(&unreadable);
        let stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        let requests = request
            .into_inner()
            .take_until(stopped(self.stopping.clone()));
        let requests = requests.scan((), move |_, message| {
            let request = message.and_then(|wire| {
                rpc::append_request_from_wire(wire)
                    .map_err(|error| Status::invalid_argument(error.to_string()))
            });
            let request = request
                .map_err(|status| {
                    *noted.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
                })
                .ok();
            std::future::ready(request)
        });
        let answers = self
            .raft
            .stream_append(requests)
            .take_until(stopped(self.stopping.clone()))
            .map(|answer| {
                answer
                    .map(|result| rpc::stream_append_result_to_wire(&result))
                    .map_err(|fatal| Status::unavailable(fatal.to_string()))
            })
            .chain(futures::stream::iter(std::iter::from_fn(move || {
                unreadable
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .map(Err)
            })));
        Ok(Response::new(Box::pin(answers)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "append_entries"))]
    async fn append_entries(
        &self,
        request: Request<internal::RaftAppendRequest>,
    ) -> Result<Response<internal::RaftAppendResponse>, Status> {
        self.admit(request.metadata(), Unknown::Adopt)?;
        let request = rpc::append_request_from_wire(request.into_inner())
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        let response = self
            .raft
            .append_entries(request)
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        Ok(Response::new(rpc::append_response_to_wire(&response)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "vote"))]
    async fn vote(
        &self,
        request: Request<internal::RaftVoteRequest>,
    ) -> Result<Response<internal::RaftVoteResponse>, Status> {
        self.admit(request.metadata(), Unknown::Refuse)?;
        let request = rpc::vote_request_from_wire(request.get_ref())
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        if !request.leadership_transfer && tokio::time::Instant::now() < self.votes_from {
            return Err(Status::unavailable(
                "this node started less than the voters' lease ago: it grants no vote yet",
            ));
        }
        let response = self
            .raft
            .vote(request)
            .await
            .map_err(|error| Status::unavailable(error.to_string()))?;
        Ok(Response::new(rpc::vote_response_to_wire(&response)))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "install_snapshot"))]
    async fn install_snapshot(
        &self,
        request: Request<Streaming<internal::RaftSnapshotChunk>>,
    ) -> Result<Response<internal::RaftSnapshotResponse>, Status> {
        self.admit(request.metadata(), Unknown::Adopt)?;
        self.receive_snapshot(request.into_inner())
            .await
            .map(Response::new)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "propose"))]
    async fn propose(
        &self,
        request: Request<internal::ProposeRequest>,
    ) -> Result<Response<internal::ProposeResponse>, Status> {
        self.admit(request.metadata(), Unknown::Refuse)?;
        let deadline = deadline_of(request.metadata(), FORWARDED_DEFAULT_DEADLINE);
        let id = crate::request_id::of(request.metadata().as_ref().get(crate::request_id::HEADER));
        let span = tracing::info_span!("forwarded", node = self.replica.id(), request_id = %id);
        crate::request_id::scope(id, self.propose_forwarded(request.into_inner(), deadline))
            .instrument(span)
            .await
    }
    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "read_index"))]
    async fn read_index(
        &self,
        request: Request<internal::ReadIndexRequest>,
    ) -> Result<Response<internal::ReadIndexResponse>, Status> {
        self.admit(request.metadata(), Unknown::Refuse)?;
        let deadline = deadline_of(request.metadata(), FORWARDED_DEFAULT_DEADLINE);
        let outcome = match self.replica.read_index_as_leader(deadline).await? {
            LeaderAnswer::Answered(index) => {
                internal::read_index_response::Outcome::ReadIndex(index)
            }
            LeaderAnswer::NotLeader(leader_id) => {
                internal::read_index_response::Outcome::NotLeader(internal::NotLeader { leader_id })
            }
        };
        Ok(Response::new(internal::ReadIndexResponse {
            outcome: Some(outcome),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "transfer_leader"))]
    async fn transfer_leader(
        &self,
        request: Request<internal::RaftTransferLeaderRequest>,
    ) -> Result<Response<internal::RaftTransferLeaderResponse>, Status> {
        self.admit(request.metadata(), Unknown::Refuse)?;
        let request = rpc::transfer_leader_request_from_wire(request.get_ref())
            .map_err(|error| Status::invalid_argument(error.to_string()))?;
        let outcome = self
            .raft
            .handle_transfer_leader(request)
            .await
            .map_err(|fatal| Status::unavailable(fatal.to_string()))?;
        Ok(Response::new(internal::RaftTransferLeaderResponse {
            refused: outcome
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default(),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(rpc = "data_plane_status"))]
    async fn data_plane_status(
        &self,
        request: Request<internal::DataPlaneStatusRequest>,
    ) -> Result<Response<internal::DataPlaneStatusResponse>, Status> {
        self.admit(request.metadata(), Unknown::Refuse)?;
        Ok(Response::new(self.data_plane.status()))
    }
}
