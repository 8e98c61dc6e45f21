//! The state as records: one key per piece of state, so that a store can
//! write only what an entry changed, in one batch, and read it all back.
//!
//! Keys: a tag byte, then the resource id, the revision (big endian, so keys
//! sort by revision) or the token. Values: postcard of the piece; a history
//! record starts with layout bytes (see [`HISTORY_RECORD_PREFIX`]), and so
//! do listener and group records (see [`LISTENER_RECORD_LAYOUT`] and
//! [`GROUP_RECORD_LAYOUT`]), so that the
//! records older builds wrote still read (`legacy.rs`). Every record is a
//! pure function of the state; [`State::from_records`] of all records gives
//! back an equal state.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::event::Event;
use super::ids::{
    AccessTokenId, CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId,
    NetworkId, SubnetId,
};
use super::model::Revision;
use super::state::State;
use super::tokens::Remembered;

/// Names one record of the state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum RecordKey {
    /// Log position, revision, clock and the history's first kept revision.
    Meta,
    Settings,
    Network(NetworkId),
    Subnet(SubnetId),
    Instance(InstanceId),
    Eip(EipId),
    LoadBalancer(LoadBalancerId),
    Listener(ListenerId),
    Group(GroupId),
    Certificate(CertificateId),
    AccessToken(AccessTokenId),
    /// The events of one revision.
    History(Revision),
    /// One client token's entry.
    Token(String),
}

const TAG_META: u8 = 0x01;
const TAG_SETTINGS: u8 = 0x02;
const TAG_NETWORK: u8 = 0x10;
const TAG_SUBNET: u8 = 0x11;
const TAG_INSTANCE: u8 = 0x12;
const TAG_EIP: u8 = 0x13;
const TAG_LOAD_BALANCER: u8 = 0x14;
const TAG_LISTENER: u8 = 0x15;
const TAG_GROUP: u8 = 0x16;
const TAG_CERTIFICATE: u8 = 0x17;
const TAG_ACCESS_TOKEN: u8 = 0x18;
const TAG_HISTORY: u8 = 0x30;
const TAG_TOKEN: u8 = 0x40;

/// The first byte of a history record written since format 3. An older
/// record is postcard of events without a principal, and starts with their
/// count, never 0 (a kept revision holds at least one event): the layouts
/// cannot be mistaken.
pub(super) const HISTORY_RECORD_LAYOUT: u8 = 0x00;

/// The first bytes of a history record of format 4, followed by postcard
/// of the revision's events, whose listeners have `access_log` but no
/// rules. A format-3 record is [`HISTORY_RECORD_LAYOUT`] followed by
/// postcard of the events, which starts with their count, never 0: the
/// layouts cannot be mistaken.
pub(super) const HISTORY_RECORD_PREFIX_V4: [u8; 2] = [HISTORY_RECORD_LAYOUT, 0x00];

/// The first bytes of a history record written since format 5, followed by
/// postcard of the events, whose listeners have rules. A format-4 record's
/// third byte is its event count, never 0, so the layouts cannot be
/// mistaken (nor with format 3's, whose second byte is that count).
pub(super) const HISTORY_RECORD_PREFIX: [u8; 3] = [HISTORY_RECORD_LAYOUT, 0x00, 0x00];

/// The first byte of a listener record of format 4, followed by postcard
/// of the listener without rules. An older record is postcard of a
/// listener without `access_log`, and starts with the length of its id,
/// never 0: the layouts cannot be mistaken.
pub(super) const LISTENER_RECORD_LAYOUT_V4: u8 = 0x00;

/// The first byte of a listener record written since format 5, followed by
/// postcard of the listener with its rules. Listener ids are longer than
/// one byte, so an older record never starts with 1 either.
pub(super) const LISTENER_RECORD_LAYOUT: u8 = 0x01;

/// The first byte of a group record written since format 5, followed by
/// postcard of the group with its persistence, PROXY protocol and passive
/// health. An older record is postcard of a group without them, and starts
/// with the length of its id, never 1: the layouts cannot be mistaken.
pub(super) const GROUP_RECORD_LAYOUT: u8 = 0x01;

/// A record that could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The key is not one this build writes.
    #[error("unknown record key {key:02x?}")]
    UnknownKey {
        /// The raw key.
        key: Vec<u8>,
    },
    /// The value does not decode.
    #[error("record {key:02x?} does not decode: {source}")]
    Malformed {
        /// The raw key.
        key: Vec<u8>,
        /// Why.
        source: postcard::Error,
    },
    /// A value could not be encoded.
    #[error("record could not be encoded: {0}")]
    Encode(postcard::Error),
}

impl RecordKey {
    /// The key's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (tag, rest): (u8, &[u8]) = match self {
            RecordKey::Meta => (TAG_META, &[]),
            RecordKey::Settings => (TAG_SETTINGS, &[]),
            RecordKey::Network(id) => (TAG_NETWORK, id.as_str().as_bytes()),
            RecordKey::Subnet(id) => (TAG_SUBNET, id.as_str().as_bytes()),
            RecordKey::Instance(id) => (TAG_INSTANCE, id.as_str().as_bytes()),
            RecordKey::Eip(id) => (TAG_EIP, id.as_str().as_bytes()),
            RecordKey::LoadBalancer(id) => (TAG_LOAD_BALANCER, id.as_str().as_bytes()),
            RecordKey::Listener(id) => (TAG_LISTENER, id.as_str().as_bytes()),
            RecordKey::Group(id) => (TAG_GROUP, id.as_str().as_bytes()),
            RecordKey::Certificate(id) => (TAG_CERTIFICATE, id.as_str().as_bytes()),
            RecordKey::AccessToken(id) => (TAG_ACCESS_TOKEN, id.as_str().as_bytes()),
            RecordKey::History(revision) => {
                let mut key = vec![TAG_HISTORY];
                key.extend_from_slice(&revision.to_be_bytes());
                return key;
            }
            RecordKey::Token(token) => (TAG_TOKEN, token.as_bytes()),
        };
        let mut key = Vec::with_capacity(1 + rest.len());
        key.push(tag);
        key.extend_from_slice(rest);
        key
    }
}

/// What the `Meta` record holds.
#[derive(Serialize, Deserialize)]
struct MetaRecord {
    last_log_index: u64,
    revision: Revision,
    clock_ms: i64,
    history_first_kept: Revision,
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, RecordError> {
    postcard::to_stdvec(value).map_err(RecordError::Encode)
}

fn decode<'a, T: Deserialize<'a>>(key: &[u8], value: &'a [u8]) -> Result<T, RecordError> {
    postcard::from_bytes(value).map_err(|source| RecordError::Malformed {
        key: key.to_vec(),
        source,
    })
}

impl Event {
    /// The records an event changes.
    pub(crate) fn record_keys(&self) -> Vec<RecordKey> {
        match self {
            Event::NetworkCreated(network) => vec![RecordKey::Network(network.id.clone())],
            Event::NetworkDeleted { id } => vec![RecordKey::Network(id.clone())],
            Event::SubnetCreated(subnet) => vec![RecordKey::Subnet(subnet.id.clone())],
            Event::SubnetDeleted { id, .. } => vec![RecordKey::Subnet(id.clone())],
            Event::InstanceCreated(instance) => vec![RecordKey::Instance(instance.id.clone())],
            Event::InstanceDeleted { id, .. } => vec![RecordKey::Instance(id.clone())],
            Event::EipAllocated(eip) => vec![RecordKey::Eip(eip.id.clone())],
            Event::EipReleased { id } => vec![RecordKey::Eip(id.clone())],
            Event::LoadBalancerCreated(lb) | Event::LoadBalancerUpdated(lb) => {
                vec![RecordKey::LoadBalancer(lb.id.clone())]
            }
            Event::LoadBalancerDeleted { id } => vec![RecordKey::LoadBalancer(id.clone())],
            Event::EipAssociated { eip, load_balancer }
            | Event::EipDisassociated { eip, load_balancer } => vec![
                RecordKey::Eip(eip.id.clone()),
                RecordKey::LoadBalancer(load_balancer.id.clone()),
            ],
            Event::ListenerCreated(listener) | Event::ListenerUpdated(listener) => {
                vec![RecordKey::Listener(listener.id.clone())]
            }
            Event::ListenerDeleted { id, .. } => vec![RecordKey::Listener(id.clone())],
            Event::GroupCreated(group) | Event::GroupUpdated(group) => {
                vec![RecordKey::Group(group.id.clone())]
            }
            Event::GroupDeleted { id, .. } => vec![RecordKey::Group(id.clone())],
            Event::MemberAdded { group_id, .. }
            | Event::MemberUpdated { group_id, .. }
            | Event::MemberRemoved { group_id, .. } => vec![RecordKey::Group(group_id.clone())],
            Event::CertificateUploaded(certificate)
            | Event::CertificateKeyResealed(certificate) => {
                vec![RecordKey::Certificate(certificate.id.clone())]
            }
            Event::CertificateDeleted { id } => vec![RecordKey::Certificate(id.clone())],
            Event::SettingsUpdated(_) => vec![RecordKey::Settings],
            Event::AccessTokenIssued(token) | Event::AccessTokenRevoked(token) => {
                vec![RecordKey::AccessToken(token.id.clone())]
            }
        }
    }
}

impl State {
    /// The value of one record now; `None` when the state holds nothing under
    /// that key (a deleted resource, a forgotten token, a compacted revision).
    pub fn record(&self, key: &RecordKey) -> Result<Option<Vec<u8>>, RecordError> {
        let catalog = &self.catalog;
        Ok(match key {
            RecordKey::Meta => Some(encode(&MetaRecord {
                last_log_index: self.last_log_index,
                revision: self.revision,
                clock_ms: self.clock_ms,
                history_first_kept: self.history.first_kept,
            })?),
            RecordKey::Settings => Some(encode(&self.settings)?),
            RecordKey::Network(id) => catalog.networks.get(id).map(encode).transpose()?,
            RecordKey::Subnet(id) => catalog.subnets.get(id).map(encode).transpose()?,
            RecordKey::Instance(id) => catalog.instances.get(id).map(encode).transpose()?,
            RecordKey::Eip(id) => catalog.eips.get(id).map(encode).transpose()?,
            RecordKey::LoadBalancer(id) => {
                catalog.load_balancers.get(id).map(encode).transpose()?
            }
            RecordKey::Listener(id) => catalog
                .listeners
                .get(id)
                .map(|listener| {
                    postcard::to_extend(listener, vec![LISTENER_RECORD_LAYOUT])
                        .map_err(RecordError::Encode)
                })
                .transpose()?,
            RecordKey::Group(id) => catalog
                .groups
                .get(id)
                .map(|group| {
                    postcard::to_extend(group, vec![GROUP_RECORD_LAYOUT])
                        .map_err(RecordError::Encode)
                })
                .transpose()?,
            RecordKey::Certificate(id) => catalog.certificates.get(id).map(encode).transpose()?,
            RecordKey::AccessToken(id) => catalog.access_tokens.get(id).map(encode).transpose()?,
            RecordKey::History(revision) => self
                .history
                .events
                .get(revision)
                .map(|events| {
                    let record = HISTORY_RECORD_PREFIX.to_vec();
                    postcard::to_extend(events, record).map_err(RecordError::Encode)
                })
                .transpose()?,
            RecordKey::Token(token) => self.tokens.by_token.get(token).map(encode).transpose()?,
        })
    }

    /// Every key the state holds a record under, in key order.
    pub fn record_keys(&self) -> BTreeSet<RecordKey> {
        let catalog = &self.catalog;
        let mut keys = BTreeSet::from([RecordKey::Meta, RecordKey::Settings]);
        keys.extend(catalog.networks.keys().cloned().map(RecordKey::Network));
        keys.extend(catalog.subnets.keys().cloned().map(RecordKey::Subnet));
        keys.extend(catalog.instances.keys().cloned().map(RecordKey::Instance));
        keys.extend(catalog.eips.keys().cloned().map(RecordKey::Eip));
        keys.extend(
            catalog
                .load_balancers
                .keys()
                .cloned()
                .map(RecordKey::LoadBalancer),
        );
        keys.extend(catalog.listeners.keys().cloned().map(RecordKey::Listener));
        keys.extend(catalog.groups.keys().cloned().map(RecordKey::Group));
        keys.extend(
            catalog
                .certificates
                .keys()
                .cloned()
                .map(RecordKey::Certificate),
        );
        keys.extend(
            catalog
                .access_tokens
                .keys()
                .cloned()
                .map(RecordKey::AccessToken),
        );
        keys.extend(self.history.events.keys().copied().map(RecordKey::History));
        keys.extend(self.tokens.by_token.keys().cloned().map(RecordKey::Token));
        keys
    }

    /// Rebuilds a state from all of its records (as raw key and value bytes).
    /// An empty set of records gives the default state.
    pub fn from_records<K, V>(
        records: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, RecordError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut state = Self::stored_from_records(records)?;
        state.history.recount();
        state.rebuild_derived();
        Ok(state)
    }

    /// The stored part of a state from all of its records: what a snapshot
    /// holds. What is derived from it (the data-plane projection, the
    /// history's size) is left empty; [`State::from_records`] rebuilds it.
    pub fn stored_from_records<K, V>(
        records: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, RecordError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let mut state = State::default();
        for (key, value) in records {
            let (key, value) = (key.as_ref(), value.as_ref());
            let unknown = || RecordError::UnknownKey { key: key.to_vec() };
            let (&tag, rest) = key.split_first().ok_or_else(unknown)?;
            let text = || {
                std::str::from_utf8(rest)
                    .map(str::to_owned)
                    .map_err(|_| unknown())
            };
            let catalog = &mut state.catalog;
            match tag {
                TAG_META => {
                    let meta: MetaRecord = decode(key, value)?;
                    state.last_log_index = meta.last_log_index;
                    state.revision = meta.revision;
                    state.clock_ms = meta.clock_ms;
                    state.history.first_kept = meta.history_first_kept;
                }
                TAG_SETTINGS => {
                    state.settings = super::legacy::decode_settings(value).map_err(|source| {
                        RecordError::Malformed {
                            key: key.to_vec(),
                            source,
                        }
                    })?;
                }
                TAG_NETWORK => insert(
                    &mut catalog.networks,
                    key,
                    value,
                    |r: &super::model::Network| r.id.clone(),
                )?,
                TAG_SUBNET => insert(
                    &mut catalog.subnets,
                    key,
                    value,
                    |r: &super::model::Subnet| r.id.clone(),
                )?,
                TAG_INSTANCE => insert(
                    &mut catalog.instances,
                    key,
                    value,
                    |r: &super::model::Instance| r.id.clone(),
                )?,
                TAG_EIP => insert(&mut catalog.eips, key, value, |r: &super::model::Eip| {
                    r.id.clone()
                })?,
                TAG_LOAD_BALANCER => insert(
                    &mut catalog.load_balancers,
                    key,
                    value,
                    |r: &super::model::LoadBalancer| r.id.clone(),
                )?,
                TAG_LISTENER => {
                    let listener = super::legacy::decode_listener(value).map_err(|source| {
                        RecordError::Malformed {
                            key: key.to_vec(),
                            source,
                        }
                    })?;
                    catalog.listeners.insert(listener.id.clone(), listener);
                }
                TAG_GROUP => {
                    let group = super::legacy::decode_group(value).map_err(|source| {
                        RecordError::Malformed {
                            key: key.to_vec(),
                            source,
                        }
                    })?;
                    catalog.groups.insert(group.id.clone(), group);
                }
                TAG_CERTIFICATE => insert(
                    &mut catalog.certificates,
                    key,
                    value,
                    |r: &super::model::Certificate| r.id.clone(),
                )?,
                TAG_ACCESS_TOKEN => insert(
                    &mut catalog.access_tokens,
                    key,
                    value,
                    |r: &super::model::AccessToken| r.id.clone(),
                )?,
                TAG_HISTORY => {
                    let revision = <[u8; 8]>::try_from(rest)
                        .map(u64::from_be_bytes)
                        .map_err(|_| unknown())?;
                    let events = super::legacy::decode_history(value).map_err(|source| {
                        RecordError::Malformed {
                            key: key.to_vec(),
                            source,
                        }
                    })?;
                    state.history.events.insert(revision, events);
                }
                TAG_TOKEN => {
                    let remembered: Remembered = decode(key, value)?;
                    state.tokens.restore(text()?, remembered);
                }
                _ => return Err(unknown()),
            }
        }
        Ok(state)
    }
}

fn insert<Id: Ord, R: for<'a> Deserialize<'a>>(
    map: &mut BTreeMap<Id, R>,
    key: &[u8],
    value: &[u8],
    id: impl Fn(&R) -> Id,
) -> Result<(), RecordError> {
    let resource: R = decode(key, value)?;
    map.insert(id(&resource), resource);
    Ok(())
}
