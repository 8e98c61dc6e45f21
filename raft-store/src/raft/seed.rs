//! Starting a store from a state instead of from a log: what a restore from
//! a backup and a forced new cluster both do.
//!
//! [`seed`] installs a state into an empty store as a snapshot of a
//! one-member cluster: the state machine holds the state, its applied log
//! id is the state's own last index (so revisions go on from there, never
//! back), its membership names this node alone, and the log is empty. On
//! start, openraft purges the log to the applied id, finds itself the only
//! voter and elects itself; other nodes then join as usual and receive the
//! state as a snapshot.
//!
//! [`recover`] reads what a store's log leads to: the state machine, then
//! every entry after it in the log, committed or not (the way etcd's
//! `--force-new-cluster` keeps its whole log).
//!
//! [`unappliable`] finds a committed entry this build cannot apply (written
//! by a newer format) before Raft starts and would fail on it.

use std::io;

use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{EntryPayload, RaftLogReader};

use crate::domain::State;
use crate::domain::limits::Rules;

use super::state_machine::{SnapshotFile, write_snapshot_file};
use super::store::Store;
use super::types::{ClusterNode, LogId, Membership, SnapshotMeta, StoredMembership};

/// The term of the seeded position: below any term an election reaches.
const SEED_TERM: u64 = 0;

/// Installs `state` into the empty `store` as the state of a cluster of
/// `node_id` alone (reached at `node`). Refuses a store that holds a log
/// or a state already.
pub async fn seed(store: &Store, node_id: u64, node: ClusterNode, state: State) -> io::Result<()> {
    let mut log = store.log_store();
    let log_state = log.get_log_state().await?;
    let mut machine = store.state_machine().map_err(io::Error::other)?;
    let (applied, _) = machine.applied_state().await?;
    if log_state.last_log_id.is_some() || applied.is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the data directory already holds a cluster: seed an empty one",
        ));
    }
    let position = LogId {
        leader_id: openraft::impls::leader_id_adv::LeaderId {
            term: SEED_TERM,
            node_id,
        },
        index: state.last_log_index(),
    };
    let membership = Membership::new(
        vec![std::collections::BTreeSet::from([node_id])],
        std::collections::BTreeMap::from([(node_id, node)]),
    )
    .map_err(|error| io::Error::other(error.to_string()))?;
    let meta = SnapshotMeta {
        last_log_id: Some(position),
        last_membership: StoredMembership::new(Some(position), membership),
    };
    let path = store.snapshot_directory().join("seed.partial-snapshot");
    let (write_path, write_meta) = (path.clone(), meta.clone());
    tokio::task::spawn_blocking(move || write_snapshot_file(&write_path, &write_meta, &state))
        .await
        .map_err(io::Error::other)??;
    machine.install_snapshot(&meta, SnapshotFile { path }).await
}

/// The state `store`'s log leads to: its state machine's state, then every
/// command entry after it in the log. An entry this build cannot apply is
/// an error naming it.
pub async fn recover(store: &Store) -> io::Result<State> {
    let machine = store.state_machine().map_err(io::Error::other)?;
    let shared = machine.shared_state();
    let mut state = shared
        .read()
        .map_err(|_| io::Error::other("the state lock is poisoned"))?
        .clone();
    let mut log = store.log_store();
    let log_state = log.get_log_state().await?;
    let Some(last) = log_state.last_log_id else {
        return Ok(state);
    };
    // Entries up to the last purged one are in the state already.
    let purged = log_state.last_purged_log_id.map_or(0, |id| id.index);
    let from = (state.last_log_index() + 1).max(purged + 1);
    for entry in log.try_get_log_entries(from..=last.index).await? {
        if let EntryPayload::Normal(proposal) = &entry.payload {
            state
                .apply(entry.log_id.index, proposal.envelope())
                .map_err(io::Error::other)?;
        }
    }
    Ok(state)
}

/// A committed entry that is not applied yet: its index and log format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unappliable {
    /// Where in the log.
    pub log_index: u64,
    /// The format it was written in, which this build does not know.
    pub format_version: u32,
}

/// The first committed entry after the state machine's position that this
/// build cannot apply, if any: starting Raft would fail on it.
pub async fn unappliable(store: &Store) -> io::Result<Option<Unappliable>> {
    let mut machine = store.state_machine().map_err(io::Error::other)?;
    let (applied, _) = machine.applied_state().await?;
    let mut log = store.log_store();
    let Some(committed) = log.read_committed().await? else {
        return Ok(None);
    };
    let purged = log
        .get_log_state()
        .await?
        .last_purged_log_id
        .map_or(0, |id| id.index);
    let from = applied.map_or(0, |id| id.index).max(purged) + 1;
    if from > committed.index {
        return Ok(None);
    }
    for entry in log.try_get_log_entries(from..=committed.index).await? {
        if let EntryPayload::Normal(proposal) = &entry.payload
            && Rules::of_format(proposal.envelope().format_version).is_none()
        {
            return Ok(Some(Unappliable {
                log_index: entry.log_id.index,
                format_version: proposal.envelope().format_version,
            }));
        }
    }
    Ok(None)
}
