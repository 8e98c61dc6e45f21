//! Crash recovery: a child process appends and applies, and is killed with
//! SIGKILL at a point drawn from a seed. On reopen every entry whose flush was
//! acknowledged is there, the log has no hole, and the state machine equals a
//! replay of the log up to its applied id.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use fulcrum_raft_store::raft::Store;
use openraft::RaftLogReader;
use openraft::storage::{RaftLogStorage, RaftStateMachine};

use crate::support::*;

const RUNS: u64 = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_entries_survive_sigkill_at_random_points() {
    for seed in 1..=RUNS {
        let directory = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_fulcrum-store-bench"))
            .args([
                "append-until-killed",
                directory.path().to_str().unwrap(),
                &seed.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the child");
        // Kill after a number of acknowledged flushes drawn from the seed.
        let kill_after = 5 + (seed * 7919) % 60;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut durable = 0;
        for _ in 0..kill_after {
            let line = lines.next().expect("child still running").unwrap();
            durable = line.strip_prefix("durable ").unwrap().parse().unwrap();
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let store = Store::open(directory.path()).unwrap();
        let mut log = store.log_store();
        let last = log
            .get_log_state()
            .await
            .unwrap()
            .last_log_id
            .expect("log not empty")
            .index;
        assert!(
            last >= durable,
            "seed {seed}: acknowledged {durable}, only {last} survived"
        );
        let entries = log.try_get_log_entries(1..=last).await.unwrap();
        let indexes: Vec<u64> = entries.iter().map(|entry| entry.log_id.index).collect();
        assert_eq!(
            indexes,
            (1..=last).collect::<Vec<_>>(),
            "seed {seed}: the log has a hole"
        );
        for entry in &entries {
            match &entry.payload {
                openraft::EntryPayload::Normal(proposal) => {
                    assert_eq!(
                        proposal.envelope(),
                        &envelope(entry.log_id.index),
                        "seed {seed}: entry changed"
                    )
                }
                other => panic!("seed {seed}: unexpected {other:?}"),
            }
        }

        let mut state_machine = store.state_machine().unwrap();
        let applied = state_machine
            .applied_state()
            .await
            .unwrap()
            .0
            .map_or(0, |log_id| log_id.index);
        assert!(
            applied <= last,
            "seed {seed}: applied {applied} beyond the log's {last}"
        );
        let state = state_machine
            .shared_state()
            .read()
            .unwrap()
            .to_snapshot_bytes()
            .unwrap();
        assert_eq!(
            state,
            replay(applied).to_snapshot_bytes().unwrap(),
            "seed {seed}: state differs from a replay to {applied}"
        );
    }
}
