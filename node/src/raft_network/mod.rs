//! The Raft network, client side: one cached gRPC channel per peer,
//! openraft's deadlines on every call, an unreachable peer reported as such
//! (so openraft backs off), appends pipelined on one stream per follower
//! (`stream_append.rs`), and snapshots sent as a stream of bounded chunks.

mod stream_append;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fulcrum_api::internal::v1 as internal;
use fulcrum_raft_store::raft::{ClusterNode, SnapshotFile, TypeConfig, Vote, rpc};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use internal::raft_service_client::RaftServiceClient;
use openraft::error::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{AnyError, OptionalSend};
use tokio::io::AsyncReadExt;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::cluster_id::{CLUSTER_ID_HEADER, ClusterIdentity};
use crate::tls::Tls;

/// The bytes of a snapshot sent in one message.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;
/// The largest Raft message either side accepts (a batch of entries).
pub const MAX_RAFT_MESSAGE_BYTES: usize = 64 << 20;
/// The encoded entries one append message carries at most (a single larger
/// entry still goes alone): well inside [`MAX_RAFT_MESSAGE_BYTES`], since one
/// entry is at most `api.max_request_bytes` (32 MiB at most) plus its envelope.
pub const APPEND_BATCH_BYTES: usize = 8 << 20;
/// How long connecting to a peer may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Hands openraft a client per peer, sharing one channel per address; every
/// message carries this node's cluster id. With TLS, each channel presents
/// this node's certificate and trusts only the cluster CA; a channel made
/// before the certificate was reloaded is replaced by one that uses the new
/// one (calls already under way finish on the old).
#[derive(Clone)]
pub struct PeerNetwork {
    channels: Arc<Mutex<BTreeMap<String, (u64, Channel)>>>,
    identity: Arc<ClusterIdentity>,
    tls: Option<Arc<Tls>>,
}

/// A Raft service client whose every request carries the cluster id.
pub type RaftClient = RaftServiceClient<InterceptedService<Channel, ClusterIdHeader>>;

/// Puts this node's cluster id on a request (none while it has none: the
/// receiver then refuses the request, and says why).
#[derive(Clone)]
pub struct ClusterIdHeader {
    identity: Arc<ClusterIdentity>,
}

impl Interceptor for ClusterIdHeader {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(id) = self.identity.header() {
            request.metadata_mut().insert(CLUSTER_ID_HEADER, id);
        }
        Ok(request)
    }
}

impl PeerNetwork {
    /// The network of a node of the cluster `identity` names, over TLS
    /// when `tls` is given.
    pub fn new(identity: Arc<ClusterIdentity>, tls: Option<Arc<Tls>>) -> Self {
        Self {
            channels: Arc::default(),
            identity,
            tls,
        }
    }

    /// The credentials of this node's own calls to a member's public API:
    /// the cluster CA and the node certificate (none without TLS).
    pub fn api_credentials(&self) -> fulcrum_api::Credentials {
        match &self.tls {
            Some(tls) => {
                let current = tls.current();
                fulcrum_api::Credentials {
                    ca_pem: Some(current.ca_pem.clone()),
                    identity: Some(current.identity_pem.clone()),
                    token: None,
                }
            }
            None => fulcrum_api::Credentials::default(),
        }
    }

    /// This node's cluster id.
    pub fn identity(&self) -> &Arc<ClusterIdentity> {
        &self.identity
    }

    fn channel(&self, address: &str) -> Result<Channel, String> {
        let tls = self.tls.as_ref().map(|tls| tls.current());
        let generation = tls.as_ref().map_or(0, |tls| tls.generation);
        let mut channels = self
            .channels
            .lock()
            .map_err(|_| "the channel cache lock is poisoned".to_owned())?;
        if let Some((made_with, channel)) = channels.get(address)
            && *made_with >= generation
        {
            // A newer one than ours (a reload landed since we looked) wins too.
            return Ok(channel.clone());
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
            .map_err(|error| format!("peer address {address:?}: {error}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        if let Some(tls) = &tls {
            endpoint = endpoint
                .tls_config(tls.peer_client.clone())
                .map_err(|error| format!("peer address {address:?}: TLS: {error}"))?;
        }
        let channel = endpoint.connect_lazy();
        channels.insert(address.to_owned(), (generation, channel.clone()));
        Ok(channel)
    }
}

impl PeerNetwork {
    /// A client of the Raft service at `address`, on the cached channel.
    pub(crate) fn raft_client(&self, address: &str) -> Result<RaftClient, String> {
        let header = ClusterIdHeader {
            identity: self.identity.clone(),
        };
        self.channel(address).map(|channel| {
            RaftServiceClient::with_interceptor(channel, header)
                .max_decoding_message_size(MAX_RAFT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_RAFT_MESSAGE_BYTES)
        })
    }
}

impl RaftNetworkFactory<TypeConfig> for PeerNetwork {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &ClusterNode) -> PeerClient {
        PeerClient {
            target,
            network: self.clone(),
            address: node.raft_address.clone(),
        }
    }
}

/// The client for one peer.
pub struct PeerClient {
    target: u64,
    /// openraft keeps a client for a replication stream's whole life: the
    /// channel is looked up at every call, so a reloaded certificate reaches
    /// the streams that are already running.
    network: PeerNetwork,
    address: String,
}

/// Why a call to a peer failed, as openraft wants to hear it.
#[derive(Debug, thiserror::Error)]
#[error("peer {target}: {reason}")]
struct PeerError {
    target: u64,
    reason: String,
}

impl PeerClient {
    fn unreachable(&self, reason: impl std::fmt::Display) -> Unreachable<TypeConfig> {
        Unreachable::new(&PeerError {
            target: self.target,
            reason: reason.to_string(),
        })
    }

    fn client(&self) -> Result<RaftClient, Unreachable<TypeConfig>> {
        self.network
            .raft_client(&self.address)
            .map_err(|reason| self.unreachable(reason))
    }

    /// Unavailable, timed-out and cancelled calls mean the peer cannot be
    /// reached; anything else is a network error.
    fn rpc_error(&self, status: tonic::Status) -> RPCError<TypeConfig> {
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
                RPCError::Unreachable(self.unreachable(status))
            }
            _ => RPCError::Network(NetworkError::new(&PeerError {
                target: self.target,
                reason: status.to_string(),
            })),
        }
    }

    /// Awaits a unary call within openraft's deadline; a passed deadline means
    /// the peer cannot be reached in time.
    async fn within_deadline<T>(
        &self,
        what: &str,
        option: &RPCOption,
        call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, RPCError<TypeConfig>> {
        match tokio::time::timeout(option.hard_ttl(), call).await {
            Err(_) => Err(RPCError::Unreachable(
                self.unreachable(format!("{what} deadline passed")),
            )),
            Ok(reply) => reply
                .map(tonic::Response::into_inner)
                .map_err(|status| self.rpc_error(status)),
        }
    }

    fn invalid_reply(&self, error: std::io::Error) -> RPCError<TypeConfig> {
        RPCError::Network(NetworkError::new(&PeerError {
            target: self.target,
            reason: format!("invalid reply: {error}"),
        }))
    }
}

fn with_deadline<T>(message: T, option: &RPCOption) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(option.hard_ttl());
    request
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotFile;

    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> BoxFuture<
        's,
        Result<
            BoxStream<'s, Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>>,
            RPCError<TypeConfig>,
        >,
    >
    where
        S: futures::Stream<Item = AppendEntriesRequest<TypeConfig>>
            + OptionalSend
            + Unpin
            + 'static,
    {
        self.pipelined_append(input, option)
    }

    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let mut client = self.client().map_err(RPCError::Unreachable)?;
        let (wire, cut_at) = rpc::append_request_to_wire_bounded(&request, APPEND_BATCH_BYTES);
        let wire = with_deadline(wire, &option);
        let reply = self
            .within_deadline("append", &option, client.append_entries(wire))
            .await?;
        let response =
            rpc::append_response_from_wire(&reply).map_err(|error| self.invalid_reply(error))?;
        Ok(match (response, cut_at) {
            (AppendEntriesResponse::Success, Some(last_sent)) => {
                AppendEntriesResponse::PartialSuccess(Some(last_sent))
            }
            (response, _) => response,
        })
    }

    async fn transfer_leader(
        &mut self,
        request: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        let mut client = self.client().map_err(RPCError::Unreachable)?;
        let wire = with_deadline(rpc::transfer_leader_request_to_wire(&request), &option);
        let reply = self
            .within_deadline("transfer leader", &option, client.transfer_leader(wire))
            .await?;
        if reply.refused.is_empty() {
            Ok(Ok(()))
        } else {
            // openraft only logs a refusal; its reason crosses the wire as text.
            Err(self
                .unreachable(format!("transfer refused: {}", reply.refused))
                .into())
        }
    }

    async fn vote(
        &mut self,
        request: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let mut client = self.client().map_err(RPCError::Unreachable)?;
        let wire = with_deadline(rpc::vote_request_to_wire(&request), &option);
        let reply = self
            .within_deadline("vote", &option, client.vote(wire))
            .await?;
        rpc::vote_response_from_wire(&reply).map_err(|error| self.invalid_reply(error))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotFile>,
        cancel: impl std::future::Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let mut client = self.client()?;
        let file = tokio::fs::File::open(&snapshot.snapshot.path)
            .await
            .map_err(|error| {
                self.unreachable(format!(
                    "cannot open snapshot {}: {error}",
                    snapshot.snapshot.path.display()
                ))
            })?;
        let total_bytes = file
            .metadata()
            .await
            .map_err(|error| self.unreachable(error))?
            .len();
        let header = internal::RaftSnapshotChunk {
            part: Some(internal::raft_snapshot_chunk::Part::Header(
                internal::RaftSnapshotHeader {
                    vote: Some(rpc::vote_to_wire(&vote)),
                    meta: Some(rpc::snapshot_meta_to_wire(&snapshot.meta)),
                    total_bytes,
                },
            )),
        };
        // Chunks are read as they are sent: memory stays at one chunk. A read
        // error ends the stream early, and the receiver refuses the short file.
        let chunks = futures::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buffer = vec![0u8; SNAPSHOT_CHUNK_BYTES];
            match file.read(&mut buffer).await {
                Ok(0) | Err(_) => None,
                Ok(read) => {
                    buffer.truncate(read);
                    Some((
                        internal::RaftSnapshotChunk {
                            part: Some(internal::raft_snapshot_chunk::Part::Data(buffer)),
                        },
                        Some(file),
                    ))
                }
            }
        });
        let stream = futures::stream::once(async move { header }).chain(chunks);
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            reply = client.install_snapshot(stream) => {
                let reply = reply.map_err(|status| match self.rpc_error(status) {
                    RPCError::Unreachable(unreachable) => StreamingError::Unreachable(unreachable),
                    other => StreamingError::Network(NetworkError::new(&AnyError::error(other.to_string()))),
                })?;
                let vote = reply
                    .get_ref()
                    .vote
                    .as_ref()
                    .map(rpc::vote_from_wire)
                    .ok_or_else(|| StreamingError::Network(NetworkError::new(&AnyError::error("snapshot reply without a vote"))))?;
                Ok(SnapshotResponse { vote })
            }
        }
    }
}
