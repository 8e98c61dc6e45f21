//! The resource services, one module each: networks, EIPs, Load Balancers,
//! listeners, virtual server groups and certificates. Each call is a write
//! (a command for the log) or a read (of this node's catalog, after the read
//! barrier); this module holds the lookups they share.

mod certificates;
mod eips;
mod groups;
mod listeners;
mod load_balancers;
mod networks;

use std::collections::BTreeMap;

use fulcrum_raft_store::domain::Rejection;
use tonic::Status;

use super::refused;

/// The resource `raw` names in `map`, if `raw` is a well-formed id of it.
pub(super) fn find<'a, Id: Ord, V>(
    map: &'a BTreeMap<Id, V>,
    parse: fn(&str, &str) -> Result<Id, Rejection>,
    raw: &str,
) -> Option<&'a V> {
    parse("id", raw).ok().and_then(|id| map.get(&id))
}

/// The resource the request's `field` names, or INVALID_ARGUMENT for a
/// malformed id, or NOT_FOUND.
pub(super) fn named<'a, Id: Ord + std::fmt::Display, V>(
    map: &'a BTreeMap<Id, V>,
    parse: fn(&str, &str) -> Result<Id, Rejection>,
    field: &str,
    noun: &str,
    raw: &str,
) -> Result<&'a V, Status> {
    let id = parse(field, raw).map_err(refused)?;
    map.get(&id)
        .ok_or_else(|| refused(Rejection::not_found(field, noun, &id)))
}

/// True when `filter` is empty or equals `value`.
pub(super) fn matches(filter: &str, value: &str) -> bool {
    filter.is_empty() || filter == value
}
