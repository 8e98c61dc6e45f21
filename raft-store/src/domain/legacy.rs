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
//!   1 and 2 carry neither);
//! - snapshot formats 1 to 3, listener records without a layout byte and
//!   history records before format 4 hold listeners without `access_log`
//!   ([`ListenerV3`]): it is false (entries before log format 4 cannot set
//!   it), and the history's byte budget does not count a false one, so that
//!   an older log compacts where its build compacted (`history.rs`);
//! - snapshot format 4 and the listener and history records of format 4
//!   hold listeners without `rules` and groups without `persistence`,
//!   `proxy_protocol` and `passive_health` (group records before format 5
//!   too, [`GroupV4`]): there are none (entries before log format 5 cannot
//!   set them), and the byte budget does not count an empty list or an
//!   absent setting either. A group is read by the listener's layout flag.
//!
//! The listener is read differently from the rest. It sits deep inside what
//! is stored (a catalog's map, an event of the history, a snapshot's whole
//! state), so a legacy copy of every type that holds it would repeat most of
//! the model; and postcard cannot tell the two layouts apart, as it writes no
//! field names nor lengths of structs. So `Listener` has one hand-written
//! `Deserialize`: it reads a [`ListenerV3`], then the `access_log` byte and
//! the rules, as far as the layout being read has them. Who reads knows
//! which layout it holds (the snapshot's format version, the record's layout
//! bytes, see `records.rs`) and says so by reading inside
//! [`reading_listeners_of`], which sets a thread-local layout for the span
//! of one synchronous decode and puts the previous value back when it ends,
//! by unwinding too. Nothing else reads it, and encoding never does: this
//! build writes only today's layout.

use std::cell::Cell;
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
    Algorithm, Certificate, ConnectionLimit, Eip, Group, HealthCheck, Instance, Listener,
    LoadBalancer, Member, Meta, Network, Protocol, Quotas, Revision, Settings, Subnet,
};
use super::projection::dataplane::DataPlaneProjection;
use super::records::{
    GROUP_RECORD_LAYOUT, HISTORY_RECORD_LAYOUT, HISTORY_RECORD_PREFIX, HISTORY_RECORD_PREFIX_V4,
    LISTENER_RECORD_LAYOUT, LISTENER_RECORD_LAYOUT_V4,
};
use super::state::State;
use super::tokens::TokenMemory;

/// The layout of the listeners being decoded: today's unless a reader says
/// otherwise with [`reading_listeners_of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListenerLayout {
    /// Snapshot formats 1 to 3, listener records without a layout byte,
    /// history records before format 4: no `access_log`, no `rules`.
    BeforeAccessLogs,
    /// Snapshot format 4, listener and history records of format 4: no `rules`.
    BeforeRules,
    /// Today's.
    Today,
}

thread_local! {
    /// The layout of the listeners being decoded on this thread: set only
    /// by [`reading_listeners_of`].
    static LISTENER_LAYOUT: Cell<ListenerLayout> = const { Cell::new(ListenerLayout::Today) };
}

/// Runs `read`, a synchronous decode, with every [`Listener`] it decodes read
/// in `layout`, and restores the layout that was in force before, also when
/// `read` panics.
pub(crate) fn reading_listeners_of<T>(layout: ListenerLayout, read: impl FnOnce() -> T) -> T {
    /// Puts the previous value back when dropped, by unwinding too.
    struct Restore(ListenerLayout);
    impl Drop for Restore {
        fn drop(&mut self) {
            LISTENER_LAYOUT.with(|layout| layout.set(self.0));
        }
    }
    let _restore = Restore(LISTENER_LAYOUT.with(|current| current.replace(layout)));
    read()
}

/// The layout of the listener being decoded.
pub(super) fn listener_layout() -> ListenerLayout {
    LISTENER_LAYOUT.with(Cell::get)
}

/// A listener as snapshot formats 1 to 3 and the records before format 4
/// stored it: today's fields but the last, in today's order. Today's layout
/// is this one followed by `access_log` (see `Listener`'s `Deserialize`).
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct ListenerV3 {
    id: ListenerId,
    meta: Meta,
    load_balancer_id: LoadBalancerId,
    protocol: Protocol,
    port: u16,
    connection_limit: ConnectionLimit,
    default_group_id: Option<GroupId>,
    certificate_id: Option<CertificateId>,
    idle_timeout_s: u32,
    insert_x_forwarded_for: bool,
    admin_state_up: bool,
}

impl From<ListenerV3> for Listener {
    fn from(old: ListenerV3) -> Self {
        Listener {
            id: old.id,
            meta: old.meta,
            load_balancer_id: old.load_balancer_id,
            protocol: old.protocol,
            port: old.port,
            connection_limit: old.connection_limit,
            default_group_id: old.default_group_id,
            certificate_id: old.certificate_id,
            idle_timeout_s: old.idle_timeout_s,
            insert_x_forwarded_for: old.insert_x_forwarded_for,
            admin_state_up: old.admin_state_up,
            access_log: false,
            rules: Vec::new(),
        }
    }
}

/// A group as the layouts before format 5 stored it: today's fields but
/// the last three, in today's order (see `Group`'s `Deserialize`).
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct GroupV4 {
    id: GroupId,
    meta: Meta,
    load_balancer_id: LoadBalancerId,
    algorithm: Algorithm,
    health_check: Option<HealthCheck>,
    members: Vec<Member>,
}

impl From<GroupV4> for Group {
    fn from(old: GroupV4) -> Self {
        Group {
            id: old.id,
            meta: old.meta,
            load_balancer_id: old.load_balancer_id,
            algorithm: old.algorithm,
            health_check: old.health_check,
            members: old.members,
            persistence: None,
            proxy_protocol: None,
            passive_health: None,
        }
    }
}

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
            data_plane: DataPlaneProjection::default(),
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
            data_plane: DataPlaneProjection::default(),
        }
    }
}

/// Reads a history record of any layout: today's (two layout bytes, then
/// events with their principal and listeners with rules), format 4's (the
/// same without rules), format 3's (one layout byte, then events whose
/// listeners have no `access_log`) or that of formats 1 and 2 (events
/// without a principal either).
pub(crate) fn decode_history(bytes: &[u8]) -> Result<Vec<RecordedEvent>, postcard::Error> {
    if let Some(today) = bytes.strip_prefix(&HISTORY_RECORD_PREFIX) {
        return postcard::from_bytes(today);
    }
    if let Some(format_four) = bytes.strip_prefix(&HISTORY_RECORD_PREFIX_V4) {
        return reading_listeners_of(ListenerLayout::BeforeRules, || {
            postcard::from_bytes(format_four)
        });
    }
    reading_listeners_of(ListenerLayout::BeforeAccessLogs, || {
        match bytes.split_first() {
            Some((&HISTORY_RECORD_LAYOUT, format_three)) => postcard::from_bytes(format_three),
            _ => {
                let old: Vec<RecordedEventV2> = postcard::from_bytes(bytes)?;
                Ok(old.into_iter().map(Into::into).collect())
            }
        }
    })
}

/// Reads a listener record of any layout: today's (its layout byte, then
/// the listener), format 4's (the layout byte of format 4, then the
/// listener without rules) or the one before (the listener without
/// `access_log`, which starts with its id's length, never 0).
pub(crate) fn decode_listener(bytes: &[u8]) -> Result<Listener, postcard::Error> {
    match bytes.split_first() {
        Some((&LISTENER_RECORD_LAYOUT, today)) => postcard::from_bytes(today),
        Some((&LISTENER_RECORD_LAYOUT_V4, format_four)) => {
            reading_listeners_of(ListenerLayout::BeforeRules, || {
                postcard::from_bytes(format_four)
            })
        }
        _ => reading_listeners_of(ListenerLayout::BeforeAccessLogs, || {
            postcard::from_bytes(bytes)
        }),
    }
}

/// Reads a group record of either layout: today's (its layout byte, then
/// the group) or the one before format 5 (the group without its last three
/// fields, which starts with its id's length, never 1).
pub(crate) fn decode_group(bytes: &[u8]) -> Result<Group, postcard::Error> {
    match bytes.split_first() {
        Some((&GROUP_RECORD_LAYOUT, today)) => postcard::from_bytes(today),
        _ => reading_listeners_of(ListenerLayout::BeforeRules, || postcard::from_bytes(bytes)),
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

/// Writers of the layouts before `access_log`, for tests to make the bytes
/// an older build wrote.
#[cfg(test)]
pub(crate) mod before_access_logs {
    use std::collections::BTreeMap;

    use serde::{Serialize, Serializer};

    use super::ListenerV3;
    use crate::domain::event::{Event, RecordedEvent};
    use crate::domain::ids::{GroupId, ListenerId, LoadBalancerId};
    use crate::domain::model::{ConnectionLimit, Listener, Meta, Protocol};

    impl From<&Listener> for ListenerV3 {
        fn from(listener: &Listener) -> Self {
            ListenerV3 {
                id: listener.id.clone(),
                meta: listener.meta.clone(),
                load_balancer_id: listener.load_balancer_id.clone(),
                protocol: listener.protocol,
                port: listener.port,
                connection_limit: listener.connection_limit,
                default_group_id: listener.default_group_id.clone(),
                certificate_id: listener.certificate_id.clone(),
                idle_timeout_s: listener.idle_timeout_s,
                insert_x_forwarded_for: listener.insert_x_forwarded_for,
                admin_state_up: listener.admin_state_up,
            }
        }
    }

    /// An event as format 3 wrote it: its listener without `access_log`.
    pub(crate) struct EventV3<'a>(pub(crate) &'a Event);

    impl Serialize for EventV3<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            // Variant indexes of `Event`: the test that reads these bytes
            // back as today's event checks them.
            let (index, name, listener) = match self.0 {
                Event::ListenerCreated(listener) => (13, "ListenerCreated", listener),
                Event::ListenerUpdated(listener) => (14, "ListenerUpdated", listener),
                other => return other.serialize(serializer),
            };
            serializer.serialize_newtype_variant("Event", index, name, &ListenerV3::from(listener))
        }
    }

    /// A recorded event as format 3 wrote it.
    #[derive(Serialize)]
    pub(crate) struct RecordedEventV3<'a> {
        revision: u64,
        at_ms: i64,
        event: EventV3<'a>,
        principal: &'a str,
    }

    impl<'a> From<&'a RecordedEvent> for RecordedEventV3<'a> {
        fn from(recorded: &'a RecordedEvent) -> Self {
            RecordedEventV3 {
                revision: recorded.revision,
                at_ms: recorded.at_ms,
                event: EventV3(&recorded.event),
                principal: &recorded.principal,
            }
        }
    }

    /// A listener with every field set, its access log as asked.
    pub(crate) fn listener(access_log: bool) -> Listener {
        Listener {
            id: ListenerId::parse("id", "lsn-0000000000001").expect("id"),
            meta: Meta {
                name: "http".to_owned(),
                description: "the site".to_owned(),
                tags: BTreeMap::from([("team".to_owned(), "web".to_owned())]),
                created_at_ms: 1_700_000_000_000,
                updated_at_ms: 1_700_000_001_000,
                revision: 5,
            },
            load_balancer_id: LoadBalancerId::parse("id", "lb-0000000000001").expect("id"),
            protocol: Protocol::Http,
            port: 80,
            connection_limit: ConnectionLimit::AtMost(100),
            default_group_id: Some(GroupId::parse("id", "vsg-0000000000001").expect("id")),
            certificate_id: None,
            idle_timeout_s: 60,
            insert_x_forwarded_for: true,
            admin_state_up: true,
            access_log,
            rules: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::before_access_logs::{RecordedEventV3, listener};
    use super::*;
    use sha2::{Digest, Sha256};

    fn recorded(revision: Revision, event: Event) -> RecordedEvent {
        RecordedEvent {
            revision,
            at_ms: 1_700_000_000_000 + revision as i64,
            event,
            principal: "alice".to_owned(),
        }
    }

    /// Snapshot bytes of `version` around `body`, as every build frames them.
    fn snapshot_of(version: u32, body: &[u8]) -> Vec<u8> {
        let mut bytes = super::super::snapshot::SNAPSHOT_MAGIC.to_vec();
        bytes.extend_from_slice(&version.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(&Sha256::digest(body));
        bytes
    }

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
        let bytes = snapshot_of(1, &body);
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
        let bytes = postcard::to_extend(&today, HISTORY_RECORD_PREFIX.to_vec()).expect("encode");
        assert_eq!(decode_history(&bytes).expect("decode"), today);
    }

    /// The maps of a format-3 catalog that a test leaves empty: an empty map
    /// encodes alike whatever it would hold.
    type EmptyMap = BTreeMap<String, ()>;

    /// A format-3 snapshot's body holding listeners: today's state types,
    /// listeners without `access_log`.
    #[derive(Serialize)]
    struct StateV3Out<'a> {
        last_log_index: u64,
        revision: Revision,
        clock_ms: i64,
        settings: &'a Settings,
        catalog: CatalogV3Out,
        tokens: &'a TokenMemory,
        history: HistoryV3Out<'a>,
    }

    #[derive(Serialize)]
    struct CatalogV3Out {
        networks: EmptyMap,
        subnets: EmptyMap,
        instances: EmptyMap,
        eips: EmptyMap,
        load_balancers: EmptyMap,
        listeners: BTreeMap<ListenerId, ListenerV3>,
        groups: EmptyMap,
        certificates: EmptyMap,
        access_tokens: EmptyMap,
    }

    #[derive(Serialize)]
    struct HistoryV3Out<'a> {
        events: BTreeMap<Revision, Vec<RecordedEventV3<'a>>>,
        first_kept: Revision,
    }

    #[test]
    fn a_format_three_snapshot_reads_its_listeners_with_the_access_log_off() {
        let stored = listener(false);
        let created = recorded(5, Event::ListenerCreated(stored.clone()));
        let released = recorded(
            6,
            Event::EipReleased {
                id: EipId::parse("id", "eip-0000000000000").expect("id"),
            },
        );
        let body = postcard::to_stdvec(&StateV3Out {
            last_log_index: 9,
            revision: 6,
            clock_ms: 1_700_000_000_006,
            settings: &Settings::default(),
            catalog: CatalogV3Out {
                networks: EmptyMap::new(),
                subnets: EmptyMap::new(),
                instances: EmptyMap::new(),
                eips: EmptyMap::new(),
                load_balancers: EmptyMap::new(),
                listeners: BTreeMap::from([(stored.id.clone(), ListenerV3::from(&stored))]),
                groups: EmptyMap::new(),
                certificates: EmptyMap::new(),
                access_tokens: EmptyMap::new(),
            },
            tokens: &TokenMemory::default(),
            history: HistoryV3Out {
                events: BTreeMap::from([
                    (5, vec![RecordedEventV3::from(&created)]),
                    (6, vec![RecordedEventV3::from(&released)]),
                ]),
                first_kept: 0,
            },
        })
        .expect("encode");
        let state =
            State::from_snapshot_bytes(&snapshot_of(3, &body)).expect("a format-3 snapshot reads");
        assert_eq!(
            state.catalog.listeners,
            BTreeMap::from([(stored.id.clone(), stored)])
        );
        let events: Vec<RecordedEvent> = state
            .history
            .revisions()
            .flat_map(|(_, events)| events.clone())
            .collect();
        assert_eq!(events, vec![created, released]);
        assert!(
            !listeners_lack_access_logs(),
            "the scope ends with the read"
        );

        // The same body is not a format-4 snapshot: the layouts differ.
        assert!(State::from_snapshot_bytes(&snapshot_of(4, &body)).is_err());
        // Written again, it is format 4, and a listener's access log is kept.
        let mut state = state;
        let mut logged = listener(true);
        logged.port = 81;
        logged.id = ListenerId::parse("id", "lsn-0000000000002").expect("id");
        state.catalog.put_listener(logged);
        state
            .history
            .append(7, vec![recorded(7, Event::ListenerUpdated(listener(true)))]);
        let bytes = state.to_snapshot_bytes().expect("encode");
        assert_eq!(bytes[8..12], 5u32.to_le_bytes());
        let read = State::from_snapshot_bytes(&bytes).expect("a format-5 snapshot reads");
        assert_eq!(read, state);
    }

    #[test]
    fn a_listener_record_without_its_layout_byte_reads_with_the_access_log_off() {
        let stored = listener(false);
        let old = postcard::to_stdvec(&ListenerV3::from(&stored)).expect("encode");
        assert_ne!(old[0], LISTENER_RECORD_LAYOUT, "an id's length is never 0");
        assert_eq!(decode_listener(&old).expect("decode"), stored);

        let logged = listener(true);
        let format_four = postcard::to_extend(
            &(ListenerV3::from(&logged), logged.access_log),
            vec![LISTENER_RECORD_LAYOUT_V4],
        )
        .expect("encode");
        assert_eq!(
            format_four.len(),
            old.len() + 2,
            "the layout byte and the access log"
        );
        assert_eq!(decode_listener(&format_four).expect("decode"), logged);
        let today = postcard::to_extend(&logged, vec![LISTENER_RECORD_LAYOUT]).expect("encode");
        assert_eq!(today.len(), old.len() + 3, "and the (empty) rules");
        assert_eq!(decode_listener(&today).expect("decode"), logged);
        assert!(!listeners_lack_access_logs());
    }

    #[test]
    fn a_group_record_of_format_four_reads_without_traffic_settings() {
        use crate::domain::model::Algorithm;
        let group = Group {
            id: GroupId::parse("id", "vsg-0000000000001").expect("id"),
            meta: listener(false).meta,
            load_balancer_id: LoadBalancerId::parse("id", "lb-0000000000001").expect("id"),
            algorithm: Algorithm::SourceIpHash,
            health_check: None,
            members: Vec::new(),
            persistence: None,
            proxy_protocol: None,
            passive_health: None,
        };
        #[derive(Serialize)]
        struct GroupV4Out<'a>(
            &'a GroupId,
            &'a Meta,
            &'a LoadBalancerId,
            Algorithm,
            Option<()>,
            Vec<()>,
        );
        let old = postcard::to_stdvec(&GroupV4Out(
            &group.id,
            &group.meta,
            &group.load_balancer_id,
            group.algorithm,
            None,
            Vec::new(),
        ))
        .expect("encode");
        assert_ne!(old[0], GROUP_RECORD_LAYOUT, "an id's length is never 1");
        assert_eq!(decode_group(&old).expect("decode"), group);
        let today = postcard::to_extend(&group, vec![GROUP_RECORD_LAYOUT]).expect("encode");
        assert_eq!(
            today.len(),
            old.len() + 4,
            "the layout byte and three settings"
        );
        assert_eq!(decode_group(&today).expect("decode"), group);
    }

    #[test]
    fn a_history_record_of_format_three_reads_its_listeners_with_the_access_log_off() {
        let events = vec![
            recorded(5, Event::ListenerCreated(listener(false))),
            recorded(5, Event::ListenerUpdated(listener(false))),
        ];
        let old: Vec<RecordedEventV3<'_>> = events.iter().map(RecordedEventV3::from).collect();
        let bytes = postcard::to_extend(&old, vec![HISTORY_RECORD_LAYOUT]).expect("encode");
        assert_ne!(bytes[1], 0, "an event count is never 0");
        assert_eq!(decode_history(&bytes).expect("decode"), events);

        let mut today = events.clone();
        for event in &mut today {
            if let Event::ListenerCreated(listener) | Event::ListenerUpdated(listener) =
                &mut event.event
            {
                listener.access_log = true;
            }
        }
        let bytes = postcard::to_extend(&today, HISTORY_RECORD_PREFIX.to_vec()).expect("encode");
        assert_eq!(decode_history(&bytes).expect("decode"), today);
        assert!(!listeners_lack_access_logs());
    }

    /// Whether a layout before `access_log` is in force.
    fn listeners_lack_access_logs() -> bool {
        listener_layout() == ListenerLayout::BeforeAccessLogs
    }

    fn reading_listeners_before_access_logs<T>(read: impl FnOnce() -> T) -> T {
        reading_listeners_of(ListenerLayout::BeforeAccessLogs, read)
    }

    #[test]
    fn the_older_layout_ends_with_its_scope_even_when_the_read_panics() {
        assert!(!listeners_lack_access_logs());
        let inner = reading_listeners_before_access_logs(|| {
            reading_listeners_before_access_logs(listeners_lack_access_logs)
                && listeners_lack_access_logs()
        });
        assert!(inner, "a nested scope keeps the older layout to its end");
        assert!(!listeners_lack_access_logs());
        let panicked = std::panic::catch_unwind(|| {
            reading_listeners_before_access_logs(|| panic!("a decoder bug"))
        });
        assert!(panicked.is_err());
        assert!(!listeners_lack_access_logs(), "unwinding restored it");
    }
}
