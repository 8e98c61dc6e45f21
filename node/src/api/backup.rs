//! `CreateBackup`: a consistent copy of the replicated state, read by the
//! leader after a read barrier and streamed as a header, then chunks. A
//! follower hands the call to the leader and streams its answer through.

use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use fulcrum_api::v1;
use fulcrum_raft_store::backup;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::Api;
use super::cluster::Leader;
use crate::replica::Consistency;

/// The state's bytes per message.
pub(super) const BACKUP_CHUNK_BYTES: usize = 1 << 20;

/// The stream of a backup's messages.
pub(super) type BackupStream =
    Pin<Box<dyn Stream<Item = Result<v1::CreateBackupResponse, Status>> + Send>>;

impl Api {
    /// Answers `CreateBackup`.
    pub(super) async fn create_backup(
        &self,
        request: Request<v1::CreateBackupRequest>,
    ) -> Result<Response<BackupStream>, Status> {
        let deadline = self.deadlines.of(request.metadata());
        match self.find_leader(deadline).await? {
            Leader::There(client) => {
                let answers = client
                    .cluster()
                    .create_backup(request.into_inner())
                    .await?
                    .into_inner();
                Ok(Response::new(Box::pin(answers)))
            }
            Leader::Here => {
                self.replica
                    .read_barrier(Consistency::Linearizable, deadline)
                    .await?;
                let (bytes, log_index) = {
                    let state = self.replica.state()?;
                    let bytes = state
                        .to_snapshot_bytes()
                        .map_err(|error| Status::internal(error.to_string()))?;
                    (bytes, state.last_log_index())
                };
                let mut header = backup::header_of(&bytes, log_index);
                header.cluster_id = self.replica.cluster_identity().get().unwrap_or_default();
                header.node_id = self.replica.id();
                header.created_at_unix_ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |since| {
                        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
                    });
                tracing::info!(log_index, bytes = bytes.len(), "a backup was read");
                Ok(Response::new(Box::pin(messages(header, bytes))))
            }
        }
    }
}

/// The header, then the bytes in chunks.
fn messages(
    header: v1::BackupHeader,
    bytes: Vec<u8>,
) -> impl Stream<Item = Result<v1::CreateBackupResponse, Status>> + Send {
    let first = futures::stream::once(async move {
        Ok(v1::CreateBackupResponse {
            part: Some(v1::create_backup_response::Part::Header(header)),
        })
    });
    let chunks: Vec<Vec<u8>> = bytes
        .chunks(BACKUP_CHUNK_BYTES)
        .map(<[u8]>::to_vec)
        .collect();
    first.chain(futures::stream::iter(chunks).map(|chunk| {
        Ok(v1::CreateBackupResponse {
            part: Some(v1::create_backup_response::Part::Data(chunk)),
        })
    }))
}
