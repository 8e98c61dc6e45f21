//! The layouts older builds wrote, read back and brought to today's types.
//!
//! Snapshot format 1 and the settings record of the first store layout hold
//! `Quotas` with four fields; today's has nine. Postcard is not
//! self-describing, so each older layout keeps its own type here, and the
//! quotas it lacks take their defaults, which is what a replay of that
//! build's log gives (format-1 entries cannot set them).

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use super::history::History;
use super::model::{Quotas, Revision, Settings};
use super::state::State;
use super::tokens::TokenMemory;

/// Quotas as format 1 stored them.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct QuotasV1 {
    load_balancers: u32,
    listeners_per_load_balancer: u32,
    groups_per_load_balancer: u32,
    members_per_group: u32,
}

/// Settings as format 1 stored them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SettingsV1 {
    eip_pool: Vec<Ipv4Net>,
    quotas: QuotasV1,
    client_token_retention_ms: u64,
    client_token_capacity: u32,
    history_retention_revisions: u64,
    revision: Revision,
}

impl From<SettingsV1> for Settings {
    fn from(old: SettingsV1) -> Self {
        Settings {
            eip_pool: old.eip_pool,
            quotas: Quotas {
                load_balancers: old.quotas.load_balancers,
                listeners_per_load_balancer: old.quotas.listeners_per_load_balancer,
                groups_per_load_balancer: old.quotas.groups_per_load_balancer,
                members_per_group: old.quotas.members_per_group,
                ..Quotas::default()
            },
            client_token_retention_ms: old.client_token_retention_ms,
            client_token_capacity: old.client_token_capacity,
            history_retention_revisions: old.history_retention_revisions,
            revision: old.revision,
        }
    }
}

/// The state as snapshot format 1 stored it.
#[derive(Debug, Deserialize)]
pub(crate) struct StateV1 {
    last_log_index: u64,
    revision: Revision,
    clock_ms: i64,
    settings: SettingsV1,
    catalog: Catalog,
    tokens: TokenMemory,
    history: History,
}

impl From<StateV1> for State {
    fn from(old: StateV1) -> Self {
        State {
            last_log_index: old.last_log_index,
            revision: old.revision,
            clock_ms: old.clock_ms,
            settings: old.settings.into(),
            catalog: old.catalog,
            tokens: old.tokens,
            history: old.history,
        }
    }
}

/// Reads a settings record of either layout: today's, or format 1's
/// (shorter by five quotas, so one layout never decodes as the other).
pub(crate) fn decode_settings(bytes: &[u8]) -> Result<Settings, postcard::Error> {
    match postcard::take_from_bytes::<Settings>(bytes) {
        Ok((settings, [])) => Ok(settings),
        _ => match postcard::take_from_bytes::<SettingsV1>(bytes)? {
            (old, []) => Ok(old.into()),
            _ => Err(postcard::Error::DeserializeBadEncoding),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// A format-1 snapshot's body, written as that build wrote it.
    #[derive(Serialize)]
    struct StateV1Out<'a> {
        last_log_index: u64,
        revision: Revision,
        clock_ms: i64,
        settings: &'a SettingsV1,
        catalog: &'a Catalog,
        tokens: &'a TokenMemory,
        history: &'a History,
    }

    #[test]
    fn a_format_one_snapshot_reads_with_default_new_quotas() {
        let settings = SettingsV1 {
            eip_pool: Vec::new(),
            quotas: QuotasV1 {
                load_balancers: 1,
                listeners_per_load_balancer: 2,
                groups_per_load_balancer: 3,
                members_per_group: 4,
            },
            client_token_retention_ms: 1000,
            client_token_capacity: 5,
            history_retention_revisions: 6,
            revision: 7,
        };
        let body = postcard::to_stdvec(&StateV1Out {
            last_log_index: 9,
            revision: 7,
            clock_ms: 1_700_000_000_000,
            settings: &settings,
            catalog: &Catalog::default(),
            tokens: &TokenMemory::default(),
            history: &History::default(),
        })
        .expect("encode");
        let mut bytes = super::super::snapshot::SNAPSHOT_MAGIC.to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&Sha256::digest(&body));
        let state = State::from_snapshot_bytes(&bytes).expect("a format-1 snapshot reads");
        assert_eq!(state.last_log_index(), 9);
        assert_eq!(state.settings().quotas.members_per_group, 4);
        assert_eq!(
            state.settings().quotas.instances,
            Quotas::default().instances
        );
    }

    #[test]
    fn a_format_one_settings_record_reads_with_default_new_quotas() {
        let old = SettingsV1 {
            eip_pool: vec!["203.0.113.0/24".parse().expect("cidr")],
            quotas: QuotasV1 {
                load_balancers: 7,
                listeners_per_load_balancer: 8,
                groups_per_load_balancer: 9,
                members_per_group: 10,
            },
            client_token_retention_ms: 1000,
            client_token_capacity: 5,
            history_retention_revisions: 6,
            revision: 3,
        };
        let bytes = postcard::to_stdvec(&old).expect("encode");
        let settings = decode_settings(&bytes).expect("decode");
        assert_eq!(settings.quotas.members_per_group, 10);
        assert_eq!(settings.quotas.instances, Quotas::default().instances);
        assert_eq!(settings.revision, 3);
        let today = postcard::to_stdvec(&settings).expect("encode");
        assert_eq!(decode_settings(&today).expect("decode"), settings);
    }
}
