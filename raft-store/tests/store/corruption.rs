//! A value whose bytes changed on disk is reported with its key, never used.

use fulcrum_raft_store::raft::Store;
use openraft::RaftLogReader;
use openraft::storage::RaftLogStorage;

use crate::support::*;

/// Rewrites one stored value with a flipped byte, through RocksDB itself, as a
/// bit flip below our checksums but above RocksDB's would look.
fn flip_byte(directory: &std::path::Path, family: &str, key: &[u8]) {
    let db_path = directory.join("db");
    let families = ["raft_log", "raft_meta", "sm_records", "sm_meta"];
    let db =
        rocksdb::DB::open_cf(&rocksdb::Options::default(), &db_path, families).expect("raw open");
    let handle = db.cf_handle(family).expect("family");
    let mut value = db
        .get_cf(handle, key)
        .expect("read")
        .expect("value present");
    let last = value.len() - 1;
    value[last] ^= 0x01;
    db.put_cf(handle, key, value).expect("write");
}

#[tokio::test]
async fn a_corrupt_log_entry_is_reported_with_its_key() {
    let directory = tempfile::tempdir().unwrap();
    {
        let store = Store::open(directory.path()).unwrap();
        append_durably(&mut store.log_store(), command_entries(1, 5)).await;
    }
    flip_byte(directory.path(), "raft_log", &3u64.to_be_bytes());

    let store = Store::open(directory.path()).unwrap();
    let mut log = store.log_store();
    let error = log.try_get_log_entries(1..=5).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("raft_log at key 0000000000000003"),
        "{error}"
    );
    assert!(error.to_string().contains("checksum mismatch"), "{error}");
    // Entries before it are still readable.
    assert_eq!(log.try_get_log_entries(1..3).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_corrupt_state_record_stops_the_state_machine_from_loading() {
    let directory = tempfile::tempdir().unwrap();
    {
        let store = Store::open(directory.path()).unwrap();
        let mut state_machine = store.state_machine().unwrap();
        apply(&mut state_machine, command_entries(1, 3)).await;
    }
    // The settings record (key 0x02) holds the EIP pool of entry 1.
    flip_byte(directory.path(), "sm_records", &[0x02]);
    let error = Store::open(directory.path())
        .unwrap()
        .state_machine()
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("sm_records at key 02"),
        "{error}"
    );
}

#[tokio::test]
async fn a_database_of_a_newer_format_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    drop(Store::open(directory.path()).unwrap());
    {
        let db_path = directory.path().join("db");
        let families = ["raft_log", "raft_meta", "sm_records", "sm_meta"];
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &db_path, families).unwrap();
        let payload = 99u32.to_le_bytes();
        let mut value = crc32fast::hash(&payload).to_le_bytes().to_vec();
        value.extend_from_slice(&payload);
        db.put_cf(db.cf_handle("raft_meta").unwrap(), b"format_version", value)
            .unwrap();
    }
    let error = Store::open(directory.path()).err().expect("refused");
    assert!(error.to_string().contains("format version 99"), "{error}");
    assert!(error.to_string().contains("upgrade"), "{error}");
}

#[tokio::test]
async fn the_vote_and_log_survive_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let vote = fulcrum_raft_store::raft::Vote::new_committed(3, 2);
    {
        let store = Store::open(directory.path()).unwrap();
        let mut log = store.log_store();
        log.save_vote(&vote).await.unwrap();
        append_durably(&mut log, command_entries(1, 4)).await;
        log.purge(log_id(1, 2)).await.unwrap();
    }
    let store = Store::open(directory.path()).unwrap();
    let mut log = store.log_store();
    assert_eq!(log.read_vote().await.unwrap(), Some(vote));
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 2)));
    assert_eq!(state.last_log_id, Some(log_id(1, 4)));
    assert_eq!(log.try_get_log_entries(0..10).await.unwrap().len(), 2);
}
