//! openraft's own storage conformance suite against the RocksDB store.

use fulcrum_raft_store::raft::{LogStore, StateMachine, Store, TypeConfig};
use openraft::StorageError;
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use tempfile::TempDir;

/// A fresh store in a temporary directory for each case of the suite.
struct FreshStore;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for FreshStore {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let failed =
            |error: &dyn std::fmt::Display| StorageError::read(TypeConfig::err_from_string(error));
        let directory = tempfile::tempdir().map_err(|error| failed(&error))?;
        let store = Store::open(directory.path()).map_err(|error| failed(&error))?;
        let state_machine = store.state_machine().map_err(|error| failed(&error))?;
        Ok((directory, store.log_store(), state_machine))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rocksdb_store_passes_openraft_storage_suite() {
    Suite::test_all(FreshStore)
        .await
        .expect("storage conformance suite");
}
