//! Building entries and driving the store as openraft would.

use fulcrum_raft_store::raft::{Entry, LogId, LogStore, StateMachine, TypeConfig};
use openraft::storage::{IOFlushed, RaftLogStorage, RaftStateMachine};
use openraft::type_config::TypeConfigExt;

pub use fulcrum_raft_store::raft::sample::{
    sample_entries as command_entries, sample_envelope as envelope, sample_log_id,
};

pub fn log_id(term: u64, index: u64) -> LogId {
    assert_eq!(term, 1, "the sample log is all in term 1");
    sample_log_id(index)
}

/// Appends and waits until the store says the entries are durable.
pub async fn append_durably(log: &mut LogStore, entries: Vec<Entry>) {
    let (done, durable) = TypeConfig::oneshot();
    log.append(entries, IOFlushed::signal(done))
        .await
        .expect("append");
    durable.await.expect("flush callback").expect("flushed");
}

/// Applies entries as openraft does, with no client waiting.
pub async fn apply(state_machine: &mut StateMachine, entries: Vec<Entry>) {
    let stream = futures::stream::iter(entries.into_iter().map(|entry| Ok((entry, None))));
    state_machine.apply(stream).await.expect("apply");
}

/// The domain state a replay of envelopes `1..=last` gives.
pub fn replay(last: u64) -> fulcrum_raft_store::domain::State {
    let mut state = fulcrum_raft_store::domain::State::default();
    for n in 1..=last {
        state.apply(n, &envelope(n)).expect("known format");
    }
    state
}
