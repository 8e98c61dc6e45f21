//! `ClusterService.ResealCertificateKeys`: every certificate key not sealed
//! with the current data key (the first of this node's key file) is opened
//! here, sealed anew and proposed in batches, so that an older data key can
//! leave the key files. Keys of entries older than log format 3, kept in
//! the clear, are sealed too.

use fulcrum_api::v1;
use fulcrum_raft_store::domain::limits::MAX_RESEALED_KEYS_PER_COMMAND;
use fulcrum_raft_store::domain::sealed;
use tonic::{Request, Response, Status};

use super::Api;
use crate::replica::Consistency;

/// The sealed keys one command carries at most, in bytes: well inside the
/// smallest `api.max_request_bytes`.
const RESEAL_BATCH_BYTES: usize = 128 << 10;
/// Batches one call proposes at most: the certificate ceiling (10,000) in
/// batches of the smallest size, with room to spare.
const MAX_RESEAL_BATCHES: usize = 100_000;

impl Api {
    /// Seals anew, in the log, every key the current data key did not seal.
    pub(super) async fn reseal_certificate_keys_now(
        &self,
        request: Request<v1::ResealCertificateKeysRequest>,
    ) -> Result<Response<v1::ResealCertificateKeysResponse>, Status> {
        let deadline = self.deadlines.of(request.metadata());
        let principal = crate::auth::principal_of(&request).name;
        self.replica
            .read_barrier(Consistency::Linearizable, deadline)
            .await?;
        let mut resealed = 0_u32;
        let mut revision = self.replica.state()?.revision();
        for _ in 0..MAX_RESEAL_BATCHES {
            let batch = self.next_reseal_batch()?;
            if batch.is_empty() {
                return Ok(Response::new(v1::ResealCertificateKeysResponse {
                    resealed,
                    data_key_id: self.data_keys.current().current_id(),
                    revision,
                }));
            }
            let count = u32::try_from(batch.len()).unwrap_or(u32::MAX);
            let command = v1::Command {
                kind: Some(v1::command::Kind::ResealCertificateKeys(
                    v1::ResealCertificateKeys { keys: batch },
                )),
            };
            let receipt = self
                .replica
                .propose(principal.clone(), String::new(), command, deadline)
                .await?;
            resealed = resealed.saturating_add(count);
            revision = receipt.revision;
        }
        Err(Status::internal(
            "certificate keys were still being sealed anew after every batch allowed",
        ))
    }

    /// The next certificates whose keys the current data key did not seal,
    /// with their keys sealed anew.
    fn next_reseal_batch(&self) -> Result<Vec<v1::ResealedKey>, Status> {
        let keys = self.data_keys.current();
        let state = self.replica.state()?;
        let mut batch = Vec::new();
        let mut bytes = 0;
        for certificate in state.catalog().certificates().values() {
            let stored = &certificate.private_key_pem;
            if sealed::is_sealed(stored) && keys.is_current(stored) {
                continue;
            }
            let aad = sealed::certificate_key_aad(&certificate.certificate_chain_pem);
            let clear = if sealed::is_sealed(stored) {
                keys.open(stored, &aad).map_err(|error| {
                    Status::failed_precondition(format!(
                        "certificate {}: {error}; list that key after the current one in secrets.data_key_file on this node, then try again",
                        certificate.id
                    ))
                })?
            } else {
                stored.clone()
            };
            let private_key = keys
                .seal(&clear, &aad)
                .map_err(|error| Status::unavailable(error.to_string()))?;
            bytes += private_key.len();
            batch.push(v1::ResealedKey {
                certificate_id: certificate.id.as_str().to_owned(),
                private_key,
            });
            if batch.len() >= MAX_RESEALED_KEYS_PER_COMMAND || bytes >= RESEAL_BATCH_BYTES {
                break;
            }
        }
        Ok(batch)
    }
}
