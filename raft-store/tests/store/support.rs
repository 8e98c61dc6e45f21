//! Building entries and driving the store as openraft would.

use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use fulcrum_raft_store::raft::{Entry, LogId, LogStore, Proposal, StateMachine, TypeConfig};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage, RaftStateMachine};
use openraft::type_config::TypeConfigExt;

pub const START_MS: i64 = 1_700_000_000_000;

pub fn log_id(term: u64, index: u64) -> LogId {
    LogId {
        leader_id: openraft::impls::leader_id_adv::LeaderId { term, node_id: 1 },
        index,
    }
}

/// The envelope of the `n`th command of a test log: a small, valid command
/// (a network, then subnets in it), so that the state changes with each one.
pub fn envelope(n: u64) -> v1::LogEnvelope {
    use v1::command::Kind;
    let kind = if n == 1 {
        Kind::UpdateClusterSettings(v1::UpdateClusterSettingsRequest {
            eip_pool: Some(v1::EipPool {
                cidrs: vec!["203.0.113.0/24".into()],
            }),
            ..Default::default()
        })
    } else {
        Kind::CreateNetwork(v1::CreateNetworkRequest {
            name: format!("net{n}"),
            cidr: "10.0.0.0/16".into(),
            ..Default::default()
        })
    };
    v1::LogEnvelope {
        format_version: LOG_FORMAT_VERSION,
        client_token: format!("token-{n}"),
        accepted_at_unix_ms: START_MS + n as i64,
        command: Some(v1::Command { kind: Some(kind) }),
    }
}

/// Entries `first..=last` of a test log, all in term 1.
pub fn command_entries(first: u64, last: u64) -> Vec<Entry> {
    (first..=last)
        .map(|n| Entry::new_normal(log_id(1, n), Proposal(envelope(n))))
        .collect()
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
