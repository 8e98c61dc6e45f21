//! A deterministic sample log: small, valid commands that change the state
//! with every entry. The crash-recovery test, its child process and the
//! storage benchmarks share it, so that what one writes the other can replay.

use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use openraft::entry::RaftEntry;

use super::types::{Entry, LogId, Proposal};

/// The leader-stamped time of sample entry 0.
pub const SAMPLE_START_MS: i64 = 1_700_000_000_000;

/// The log id of sample entry `index`: term 1, leader node 1.
pub fn sample_log_id(index: u64) -> LogId {
    LogId {
        leader_id: openraft::impls::leader_id_adv::LeaderId {
            term: 1,
            node_id: 1,
        },
        index,
    }
}

/// The `n`th sample command: an EIP pool first, then one network each.
pub fn sample_envelope(n: u64) -> v1::LogEnvelope {
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
        accepted_at_unix_ms: SAMPLE_START_MS + n as i64,
        principal: String::new(),
        command: Some(v1::Command { kind: Some(kind) }),
    }
}

/// Sample entries `first..=last`.
pub fn sample_entries(first: u64, last: u64) -> Vec<Entry> {
    (first..=last)
        .map(|n| Entry::new_normal(sample_log_id(n), Proposal::new(sample_envelope(n))))
        .collect()
}
