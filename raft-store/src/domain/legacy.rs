//! The layouts older builds wrote, read back and brought to today's types.
//!
//! Postcard is not self-describing, so each older layout keeps its own type
//! here, and what it lacks takes the value a replay of that build's log
//! gives:
//! - snapshot format 1 and the settings record of the first store layout
//!   hold `Quotas` with four fields, today's nine: the five others take their
//!   defaults (format-1 entries cannot set them);
//! - snapshot formats 1 and 2 and history records before format 3 have no
//!   access tokens in the catalog and no principal on recorded events: the
//!   catalog has no tokens and every principal is empty (entries of formats
//!   1 and 2 carry neither).

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use super::event::{Event, RecordedEvent};
use super::history::History;
use super::ids::{
    CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId, NetworkId, SubnetId,
};
use super::model::{
    Certificate, Eip, Group, Instance, Listener, LoadBalancer, Network, Quotas, Revision, Settings,
    Subnet,
};
use super::records::HISTORY_RECORD_LAYOUT;
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

/// A recorded event as formats 1 and 2 stored it: without its principal.
/// (New event kinds are appended to `Event`, so older events read as today's.)
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RecordedEventV2 {
    revision: Revision,
    at_ms: i64,
    event: Event,
}

impl From<RecordedEventV2> for RecordedEvent {
    fn from(old: RecordedEventV2) -> Self {
        RecordedEvent {
            revision: old.revision,
            at_ms: old.at_ms,
            event: old.event,
            principal: String::new(),
        }
    }
}

/// The history as snapshot formats 1 and 2 stored it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HistoryV2 {
    events: BTreeMap<Revision, Vec<RecordedEventV2>>,
    first_kept: Revision,
}

impl From<HistoryV2> for History {
    fn from(old: HistoryV2) -> Self {
        History {
            events: old
                .events
                .into_iter()
                .map(|(revision, events)| (revision, events.into_iter().map(Into::into).collect()))
                .collect(),
            first_kept: old.first_kept,
            // Recounted once the state is read.
            bytes: 0,
        }
    }
}

/// The catalog as snapshot formats 1 and 2 stored it: no access tokens.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct CatalogV2 {
    networks: BTreeMap<NetworkId, Network>,
    subnets: BTreeMap<SubnetId, Subnet>,
    instances: BTreeMap<InstanceId, Instance>,
    eips: BTreeMap<EipId, Eip>,
    load_balancers: BTreeMap<LoadBalancerId, LoadBalancer>,
    listeners: BTreeMap<ListenerId, Listener>,
    groups: BTreeMap<GroupId, Group>,
    certificates: BTreeMap<CertificateId, Certificate>,
}

impl From<CatalogV2> for Catalog {
    fn from(old: CatalogV2) -> Self {
        // The relations are rebuilt once the state is read.
        Catalog {
            networks: old.networks,
            subnets: old.subnets,
            instances: old.instances,
            eips: old.eips,
            load_balancers: old.load_balancers,
            listeners: old.listeners,
            groups: old.groups,
            certificates: old.certificates,
            ..Catalog::default()
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
    catalog: CatalogV2,
    tokens: TokenMemory,
    history: HistoryV2,
}

impl From<StateV1> for State {
    fn from(old: StateV1) -> Self {
        State {
            last_log_index: old.last_log_index,
            revision: old.revision,
            clock_ms: old.clock_ms,
            settings: old.settings.into(),
            catalog: old.catalog.into(),
            tokens: old.tokens,
            history: old.history.into(),
        }
    }
}

/// The state as snapshot format 2 stored it.
#[derive(Debug, Deserialize)]
pub(crate) struct StateV2 {
    last_log_index: u64,
    revision: Revision,
    clock_ms: i64,
    settings: Settings,
    catalog: CatalogV2,
    tokens: TokenMemory,
    history: HistoryV2,
}

impl From<StateV2> for State {
    fn from(old: StateV2) -> Self {
        State {
            last_log_index: old.last_log_index,
            revision: old.revision,
            clock_ms: old.clock_ms,
            settings: old.settings,
            catalog: old.catalog.into(),
            tokens: old.tokens,
            history: old.history.into(),
        }
    }
}

/// Reads a history record of either layout: today's (the layout byte, then
/// events with their principal) or that of formats 1 and 2 (events without).
pub(crate) fn decode_history(bytes: &[u8]) -> Result<Vec<RecordedEvent>, postcard::Error> {
    match bytes.split_first() {
        Some((&HISTORY_RECORD_LAYOUT, today)) => postcard::from_bytes(today),
        _ => {
            let old: Vec<RecordedEventV2> = postcard::from_bytes(bytes)?;
            Ok(old.into_iter().map(Into::into).collect())
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
        catalog: &'a CatalogV2,
        tokens: &'a TokenMemory,
        history: &'a HistoryV2,
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
            catalog: &CatalogV2::default(),
            tokens: &TokenMemory::default(),
            history: &HistoryV2 {
                events: BTreeMap::new(),
                first_kept: 0,
            },
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

    #[test]
    fn a_history_record_of_format_two_reads_with_no_principal() {
        use crate::domain::ids::EipId;
        let event = Event::EipReleased {
            id: EipId::parse("id", "eip-0000000000000").expect("id"),
        };
        let old = vec![RecordedEventV2 {
            revision: 4,
            at_ms: 1_700_000_000_000,
            event: event.clone(),
        }];
        let bytes = postcard::to_stdvec(&old).expect("encode");
        assert_ne!(bytes[0], HISTORY_RECORD_LAYOUT, "an event count is never 0");
        let read = decode_history(&bytes).expect("decode");
        assert_eq!(
            read,
            vec![RecordedEvent {
                revision: 4,
                at_ms: 1_700_000_000_000,
                event,
                principal: String::new(),
            }]
        );
        let mut today = read.clone();
        today[0].principal = "alice".to_owned();
        let bytes = postcard::to_extend(&today, vec![HISTORY_RECORD_LAYOUT]).expect("encode");
        assert_eq!(decode_history(&bytes).expect("decode"), today);
    }
}
