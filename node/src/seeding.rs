//! Starting a node from a state instead of its log (`config.seed`): from a
//! backup file (`--restore`), or from its own data when the quorum is lost
//! for good (`--force-new-cluster`). Either way the store is seeded as a
//! cluster of this node alone, at the state's own log index (revisions go
//! on, never back), under a new cluster id, so that nodes of the old
//! cluster can never mix with the new one; the others then join it.
//!
//! A forced new cluster keeps the old store aside
//! (`DATA_DIR/before-force-new-cluster-<unix ms>/`) and records the new
//! cluster's id in `DATA_DIR/forced-new-cluster`: a restart that still
//! carries the flag is refused, instead of cutting the grown cluster down
//! to one node again.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use fulcrum_raft_store::backup;
use fulcrum_raft_store::domain::State;
use fulcrum_raft_store::raft::{ClusterNode, Store};
use openraft::storage::RaftLogStorage;
use sha2::{Digest, Sha256};

use crate::agent::AgentError;
use crate::cluster_id::{CLUSTER_ID_FILE, ClusterIdentity};
use crate::config::{AgentConfig, Seed};

/// Where a forced new cluster records its id.
pub const FORCED_MARKER_FILE: &str = "forced-new-cluster";
/// The prefix of the folder the old store is kept in.
pub const KEPT_ASIDE_PREFIX: &str = "before-force-new-cluster-";
/// What the store keeps in the data directory (moved aside when forcing).
const STORE_ENTRIES: [&str; 3] = ["db", "snapshots", CLUSTER_ID_FILE];

/// Seeds `store` as `config.seed` says (or hands it back untouched), for a
/// node reached at `node`; `reopen` opens the data directory's store again
/// (after the old one was moved aside).
pub(crate) async fn seed_if_asked<F, Fut>(
    store: Store,
    config: &AgentConfig,
    node: ClusterNode,
    reopen: F,
) -> Result<Store, AgentError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Store, AgentError>>,
{
    let store_error = |error: std::io::Error| AgentError::Store(error.to_string());
    match &config.seed {
        None => Ok(store),
        Some(Seed::Restore(file)) => {
            let path = file.clone();
            let (header, state) = tokio::task::spawn_blocking(move || backup::read(&path))
                .await
                .map_err(|error| AgentError::Store(error.to_string()))?
                .map_err(|error| AgentError::Store(format!("--restore: {error}")))?;
            if has_cluster(&store).await.map_err(store_error)? {
                return Err(AgentError::Store(format!(
                    "--restore seeds an empty data directory; {} holds a cluster already",
                    config.data_dir.display()
                )));
            }
            let id = new_cluster_id("restored", &state, config);
            fulcrum_raft_store::raft::seed(&store, config.node_id, node, state)
                .await
                .map_err(store_error)?;
            keep_cluster_id(&config.data_dir, &id)?;
            tracing::warn!(
                backup = %file.display(),
                log_index = header.log_index,
                from_cluster = %header.cluster_id,
                cluster_id = %id,
                "restored a backup: a new cluster of this node alone; add the others with --join"
            );
            Ok(store)
        }
        Some(Seed::ForceNewCluster) => {
            let marker = config.data_dir.join(FORCED_MARKER_FILE);
            let current = ClusterIdentity::load(&config.data_dir)
                .map_err(AgentError::ClusterId)?
                .get();
            if let (Ok(forced), Some(current)) =
                (std::fs::read_to_string(&marker), current.as_deref())
                && forced.trim() == current
            {
                return Err(AgentError::Store(format!(
                    "this data directory was already forced into cluster {current} ({}): remove --force-new-cluster",
                    marker.display()
                )));
            }
            if !has_cluster(&store).await.map_err(store_error)? {
                return Err(AgentError::Store(format!(
                    "--force-new-cluster starts from this node's data, and {} holds none",
                    config.data_dir.display()
                )));
            }
            let state = fulcrum_raft_store::raft::recover(&store)
                .await
                .map_err(|error| AgentError::Store(format!("--force-new-cluster: {error}")))?;
            drop(store);
            let aside = keep_aside(&config.data_dir)?;
            let store = reopen().await?;
            let id = new_cluster_id("forced", &state, config);
            let log_index = state.last_log_index();
            fulcrum_raft_store::raft::seed(&store, config.node_id, node, state)
                .await
                .map_err(store_error)?;
            keep_cluster_id(&config.data_dir, &id)?;
            std::fs::write(&marker, format!("{id}\n"))
                .map_err(|error| AgentError::Store(format!("{}: {error}", marker.display())))?;
            tracing::warn!(
                log_index,
                cluster_id = %id,
                old_store = %aside.display(),
                "forced a new cluster of this node alone from its own data; add the others with --join, then remove --force-new-cluster"
            );
            Ok(store)
        }
    }
}

/// Whether the store holds a log or a state.
async fn has_cluster(store: &Store) -> std::io::Result<bool> {
    let mut log = store.log_store();
    let log_state = log.get_log_state().await?;
    Ok(log_state.last_log_id.is_some() || log_state.last_purged_log_id.is_some())
}

/// A new cluster's id: from how it was made, its state, this node and the
/// time, so that two restores of one backup are two clusters.
fn new_cluster_id(how: &str, state: &State, config: &AgentConfig) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "fulcrum {how} cluster\0{}\0{}\0{}\0{nanos}",
        state.last_log_index(),
        config.node_id,
        config.raft_address
    ));
    hasher
        .finalize()
        .iter()
        .take(8)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn keep_cluster_id(data_dir: &Path, id: &str) -> Result<(), AgentError> {
    let _ = std::fs::remove_file(data_dir.join(CLUSTER_ID_FILE));
    ClusterIdentity::load(data_dir)
        .and_then(|identity| identity.adopt(id))
        .map_err(AgentError::ClusterId)
}

/// Moves the store's files into a new folder of the data directory.
fn keep_aside(data_dir: &Path) -> Result<PathBuf, AgentError> {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let aside = data_dir.join(format!("{KEPT_ASIDE_PREFIX}{millis}"));
    let failed = |what: &Path, error: std::io::Error| {
        AgentError::Store(format!("keeping {} aside: {error}", what.display()))
    };
    std::fs::create_dir(&aside).map_err(|error| failed(&aside, error))?;
    for entry in STORE_ENTRIES {
        let from = data_dir.join(entry);
        if from.exists() {
            std::fs::rename(&from, aside.join(entry)).map_err(|error| failed(&from, error))?;
        }
    }
    Ok(aside)
}
