//! Snapshots: built from a consistent view while applying goes on, installed
//! on a fresh store, found again after a restart.

use fulcrum_raft_store::raft::{SnapshotFile, Store};
use openraft::RaftSnapshotBuilder;
use openraft::storage::RaftStateMachine;

use crate::support::*;

fn state_bytes(state_machine: &fulcrum_raft_store::raft::StateMachine) -> Vec<u8> {
    state_machine
        .shared_state()
        .read()
        .unwrap()
        .to_snapshot_bytes()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_built_while_applying_installs_to_a_full_replay() {
    let leader_directory = tempfile::tempdir().unwrap();
    let leader = Store::open(leader_directory.path()).unwrap();
    let mut leader_machine = leader.state_machine().unwrap();
    apply(&mut leader_machine, command_entries(1, 100)).await;

    // The builder captures the state at 100; applying goes on to 200 first.
    let mut builder = leader_machine.get_snapshot_builder().await;
    apply(&mut leader_machine, command_entries(101, 200)).await;
    let snapshot = builder.build_snapshot().await.unwrap();
    assert_eq!(snapshot.meta.last_log_id, Some(log_id(1, 100)));

    // The follower receives the file into its own snapshot folder, then installs it.
    let follower_directory = tempfile::tempdir().unwrap();
    let follower = Store::open(follower_directory.path()).unwrap();
    let mut follower_machine = follower.state_machine().unwrap();
    let received = follower_directory
        .path()
        .join("snapshots")
        .join("incoming.partial-receive");
    std::fs::copy(&snapshot.snapshot.path, &received).unwrap();
    follower_machine
        .install_snapshot(&snapshot.meta, SnapshotFile { path: received })
        .await
        .unwrap();
    assert_eq!(
        state_bytes(&follower_machine),
        replay(100).to_snapshot_bytes().unwrap()
    );
    assert_eq!(
        follower_machine.applied_state().await.unwrap().0,
        Some(log_id(1, 100))
    );

    // The rest of the log brings it to the leader's state, byte for byte.
    apply(&mut follower_machine, command_entries(101, 200)).await;
    assert_eq!(state_bytes(&follower_machine), state_bytes(&leader_machine));
    assert_eq!(
        state_bytes(&follower_machine),
        replay(200).to_snapshot_bytes().unwrap()
    );

    // After a restart, both find their records and their snapshot again.
    drop((follower_machine, follower));
    let reopened = Store::open(follower_directory.path()).unwrap();
    let mut reopened_machine = reopened.state_machine().unwrap();
    assert_eq!(
        state_bytes(&reopened_machine),
        replay(200).to_snapshot_bytes().unwrap()
    );
    let current = reopened_machine
        .get_current_snapshot()
        .await
        .unwrap()
        .expect("snapshot found again");
    assert_eq!(current.meta, snapshot.meta);
}

#[tokio::test]
async fn a_snapshot_file_for_other_log_ids_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(directory.path()).unwrap();
    let mut state_machine = store.state_machine().unwrap();
    apply(&mut state_machine, command_entries(1, 10)).await;
    let snapshot = state_machine
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let mut claimed = snapshot.meta.clone();
    claimed.last_log_id = Some(log_id(1, 11));
    let error = state_machine
        .install_snapshot(&claimed, snapshot.snapshot)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("covers"), "{error}");
}
