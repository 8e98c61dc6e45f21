//! The node's data plane: this node's forwarder, fed from its own copy of
//! the data-plane projection, serving the listeners of the EIP addresses the
//! node holds and keeping the others warm.
//!
//! Every node follows the projection at each new revision by what changed
//! ([`Followed`]), translates only the listeners that changed
//! ([`translate::Translations`]), and gives the forwarder a new generation
//! only when what it serves changed. Only the listeners on held addresses
//! are bound. Forwarder generations are local and strictly increasing (a
//! change of held addresses is a new generation at the same revision); the
//! node remembers which revision each generation carries, so it can say
//! which revision its forwarder has applied.
//!
//! Statuses are the EIP owner's ([`report::OwnerReport`]).

pub mod report;
pub mod translate;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::v1;
use fulcrum_dataplane as dataplane;
use fulcrum_raft_store::domain::projection::dataplane::{DataPlaneChanges, ForwardingEntry};
use fulcrum_raft_store::domain::{ListenerId, Revision, State};

use crate::secrets::DataKeyRing;
use translate::Translations;

pub use report::{OWNER_POLL, Observed, OwnerReport};

/// How long the data plane's observations (health verdicts, listener
/// errors, counters), once gathered, answer for it: gathering sums every
/// thread's counters for every listener and member, a cost that grows with
/// the catalog, so a busy node does not pay it per request. The owner's
/// status reaches other nodes every [`OWNER_POLL`] anyway.
pub const OBSERVATIONS_REUSE: Duration = OWNER_POLL;

/// Observations that took `t` to gather answer for at least this many
/// times `t`: gathering takes at most 5 % of a core however large the
/// catalog (at 6,000 Load Balancers a gather every 200 ms took a fifth).
const OBSERVATIONS_COST_FACTOR: u32 = 20;

/// This node's copy of the data-plane projection, caught up by what changed.
#[derive(Debug, Default)]
pub struct Followed {
    revision: Revision,
    entries: BTreeMap<ListenerId, Arc<ForwardingEntry>>,
    /// How many serving listeners each EIP address has.
    listeners_at: BTreeMap<Ipv4Addr, usize>,
    /// Increases whenever an address gains its first listener or loses its
    /// last one: the set of addresses changed.
    addresses_version: u64,
    /// The listeners changed since the forwarder was last fed
    /// ([`Followed::take_changed`]).
    changed: Changed,
}

/// Which listeners changed since the forwarder was last fed.
#[derive(Debug, PartialEq, Eq)]
pub enum Changed {
    /// These (added, changed or gone).
    Listeners(BTreeSet<ListenerId>),
    /// Any of them: the copy was read afresh.
    Everything,
}

impl Default for Changed {
    /// A copy never fed has everything to give.
    fn default() -> Self {
        Self::Everything
    }
}

impl Changed {
    /// Whether nothing changed.
    pub fn is_nothing(&self) -> bool {
        matches!(self, Self::Listeners(ids) if ids.is_empty())
    }
}

impl Followed {
    /// Catches up with `state`: reads what changed since the revision last
    /// read (everything, when that is older than the projection's journal).
    pub fn catch_up(&mut self, state: &State) {
        match state.data_plane_changes_since(self.revision) {
            DataPlaneChanges::Everything(entries) => {
                self.entries.clear();
                self.listeners_at.clear();
                self.addresses_version += 1;
                entries.into_iter().for_each(|entry| self.insert(entry));
                self.changed = Changed::Everything;
            }
            DataPlaneChanges::Since(changes) => {
                for (id, entry) in changes {
                    self.remove(&id);
                    entry.into_iter().for_each(|entry| self.insert(entry));
                    if let Changed::Listeners(ids) = &mut self.changed {
                        ids.insert(id);
                    }
                }
            }
        }
        self.revision = state.revision();
    }

    /// The listeners changed since the last call (or since it was made).
    pub fn take_changed(&mut self) -> Changed {
        std::mem::replace(&mut self.changed, Changed::Listeners(BTreeSet::new()))
    }

    fn insert(&mut self, entry: Arc<ForwardingEntry>) {
        let count = self.listeners_at.entry(entry.address).or_default();
        if *count == 0 {
            self.addresses_version += 1;
        }
        *count += 1;
        self.entries.insert(entry.listener_id.clone(), entry);
    }

    fn remove(&mut self, id: &ListenerId) {
        let Some(entry) = self.entries.remove(id) else {
            return;
        };
        if let Some(count) = self.listeners_at.get_mut(&entry.address) {
            *count -= 1;
            if *count == 0 {
                self.listeners_at.remove(&entry.address);
                self.addresses_version += 1;
            }
        }
    }

    /// The revision it was caught up at.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// A number that changes whenever [`Followed::addresses`] does.
    pub fn addresses_version(&self) -> u64 {
        self.addresses_version
    }

    /// The EIP addresses with a serving listener: what the owner holds.
    pub fn addresses(&self) -> BTreeSet<Ipv4Addr> {
        self.listeners_at.keys().copied().collect()
    }
}

/// This node's forwarder and what it was given.
pub struct NodeDataPlane {
    forwarder: dataplane::Forwarder,
    state: Mutex<Fed>,
    /// Opens the certificate keys the projection holds sealed: the clear
    /// keys exist only in the forwarder's memory.
    data_keys: Arc<DataKeyRing>,
    /// The last observations gathered: when, and how long it took.
    observed: Mutex<Option<Gathered>>,
}

/// Observations as gathered.
struct Gathered {
    at: Instant,
    cost: Duration,
    observed: Arc<Observed>,
}

/// What the forwarder was last given.
struct Fed {
    /// Whether this node serves the EIPs (it leads).
    owner: bool,
    /// The revision of the projection it was fed; `None` before the first
    /// and after the forwarder refused one (it is then given everything).
    revision: Option<Revision>,
    /// The addresses it serves.
    held: BTreeSet<Ipv4Addr>,
    /// The listeners as the forwarder takes them.
    translations: Translations,
    /// Generation → the revision it carries, for generations not yet
    /// applied by every thread (and the last applied one).
    generations: BTreeMap<u64, Revision>,
    next_generation: u64,
}

impl NodeDataPlane {
    /// Starts a forwarder with `settings` and nothing to serve.
    ///
    /// # Errors
    /// When the forwarder's threads cannot start, or the access log's file
    /// cannot be opened.
    pub fn start(
        settings: &dataplane::Settings,
        data_keys: Arc<DataKeyRing>,
    ) -> std::io::Result<Self> {
        let forwarder = dataplane::Forwarder::start(settings, dataplane::Config::default())?;
        Ok(Self {
            forwarder,
            state: Mutex::new(Fed {
                owner: false,
                revision: None,
                held: BTreeSet::new(),
                translations: Translations::default(),
                generations: BTreeMap::new(),
                next_generation: 1,
            }),
            data_keys,
            observed: Mutex::new(None),
        })
    }

    /// Serves `followed` on the `held` addresses, if either changed since
    /// the last call; `owner` says whether this node is the EIP owner.
    ///
    /// What it costs follows what changed: a revision that changed no
    /// listener (a description, a tag, a resource of no listener) on the
    /// same held addresses costs no pass over the catalog.
    pub fn feed(&self, followed: &mut Followed, held: &BTreeSet<Ipv4Addr>, owner: bool) {
        let mut fed = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let fed = &mut *fed;
        fed.owner = owner;
        let changed = followed.take_changed();
        let data_keys = self.data_keys.current();
        if fed.revision.is_some()
            && changed.is_nothing()
            && &fed.held == held
            && fed.translations.opened_with(&data_keys)
        {
            // The generation in place serves this revision too.
            if fed.revision != Some(followed.revision) {
                fed.generations
                    .insert(fed.next_generation - 1, followed.revision);
                fed.revision = Some(followed.revision);
            }
            return;
        }
        let mut ids = fed
            .translations
            .update(&followed.entries, &changed, &data_keys);
        for address in held.symmetric_difference(&fed.held) {
            ids.extend(fed.translations.at(*address).cloned());
        }
        let generation = fed.next_generation;
        let in_sync = fed.revision.is_some();
        fed.revision = Some(followed.revision);
        if in_sync && ids.is_empty() {
            // A revision that changed nothing the forwarder serves: the
            // generation in place serves it too, and no thread rebuilds
            // anything.
            fed.generations.insert(generation - 1, followed.revision);
            fed.held = held.clone();
            return;
        }
        // In step with the forwarder, it is given what changed; otherwise
        // (the first time, or after it refused a change) all of it.
        let applied = if in_sync {
            let changes = fed.translations.changes(&ids, held);
            self.forwarder.apply_changes(generation, &changes)
        } else {
            self.forwarder
                .apply(fed.translations.config(held, generation))
        };
        match applied {
            Ok(()) => {
                fed.next_generation += 1;
                fed.generations.insert(generation, followed.revision);
                fed.held = held.clone();
            }
            Err(error) => {
                fed.revision = None;
                tracing::error!(%error, "the data plane refused a configuration");
            }
        }
    }

    /// The forwarder itself (counters, health, listener errors).
    pub fn forwarder(&self) -> &dataplane::Forwarder {
        &self.forwarder
    }

    /// The newest revision every forwarder thread has applied.
    pub fn applied_revision(&self) -> Option<Revision> {
        let applied = self.forwarder.applied_generations().into_iter().min()?;
        let mut fed = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let revision = fed
            .generations
            .range(..=applied)
            .next_back()
            .map(|(_, r)| *r)?;
        // Generations below the applied one will never be asked about again.
        fed.generations = fed.generations.split_off(&applied);
        Some(revision)
    }

    /// Whether every forwarder thread has applied a configuration that
    /// serves no EIP address.
    pub fn serves_nothing(&self) -> bool {
        let (owner, held_none, generation) = {
            let fed = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            (fed.owner, fed.held.is_empty(), fed.next_generation - 1)
        };
        !owner
            && held_none
            && self
                .forwarder
                .applied_generations()
                .iter()
                .all(|applied| *applied >= generation)
    }

    /// Client connections open on this node's listeners, all threads.
    pub fn active_connections(&self) -> u64 {
        self.forwarder
            .counters()
            .listeners
            .values()
            .map(|stats| stats.active_connections)
            .sum()
    }

    /// Whether this node is the EIP owner, as last fed.
    pub fn is_owner(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .owner
    }

    /// What this node's data plane has applied and observed, as the internal
    /// `DataPlaneStatus` call answers it: whether it owns and what it applied
    /// as of now, the observations as of at most [`OBSERVATIONS_REUSE`] ago.
    pub fn status(&self) -> internal::DataPlaneStatusResponse {
        internal::DataPlaneStatusResponse {
            owner: self.is_owner(),
            applied_revision: self.applied_revision(),
            ..self.observed().status.clone()
        }
    }

    /// The observations, gathered anew when the last are older than
    /// [`OBSERVATIONS_REUSE`], or than 20 times what gathering them took.
    pub fn observed(&self) -> Arc<Observed> {
        let mut cached = self.observed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(gathered) = cached.as_ref() {
            let reuse = OBSERVATIONS_REUSE.max(gathered.cost * OBSERVATIONS_COST_FACTOR);
            if gathered.at.elapsed() < reuse {
                return Arc::clone(&gathered.observed);
            }
        }
        let at = Instant::now();
        let observed = Arc::new(Observed::new(self.gather()));
        *cached = Some(Gathered {
            at,
            cost: at.elapsed(),
            observed: Arc::clone(&observed),
        });
        observed
    }

    fn gather(&self) -> internal::DataPlaneStatusResponse {
        let counters = self.forwarder.counters();
        internal::DataPlaneStatusResponse {
            owner: self.is_owner(),
            applied_revision: self.applied_revision(),
            members: self
                .forwarder
                .health()
                .into_iter()
                .map(|((_, member_id), health)| internal::MemberVerdict {
                    member_id,
                    healthy: health.healthy,
                })
                .collect(),
            listener_errors: self.forwarder.listener_errors().into_iter().collect(),
            listener_counters: counters
                .listeners
                .iter()
                .map(|(id, stats)| (id.clone(), listener_counters(stats)))
                .collect(),
            member_counters: counters
                .members
                .iter()
                .map(|(id, stats)| (id.clone(), member_counters(stats)))
                .collect(),
        }
    }

    /// Stops the forwarder, giving open connections `drain` to finish.
    pub fn shutdown(&self, drain: Duration) {
        self.forwarder.shutdown(drain);
    }
}

fn listener_counters(stats: &dataplane::ListenerStats) -> v1::TrafficCounters {
    v1::TrafficCounters {
        active_connections: stats.active_connections,
        total_connections: stats.total_connections,
        bytes_in: stats.bytes_in,
        bytes_out: stats.bytes_out,
        requests: stats.requests,
        responses_by_class: stats.responses.to_vec(),
        errors: stats
            .errors
            .iter()
            .map(|(kind, count)| (kind.name().to_owned(), *count))
            .collect(),
    }
}

fn member_counters(stats: &dataplane::MemberStats) -> v1::TrafficCounters {
    v1::TrafficCounters {
        active_connections: stats.active_connections,
        total_connections: stats.total_connections,
        bytes_in: stats.bytes_in,
        bytes_out: stats.bytes_out,
        requests: stats.requests,
        responses_by_class: Vec::new(),
        errors: (stats.failures > 0)
            .then(|| ("failures".to_owned(), stats.failures))
            .into_iter()
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_followed_copy_gives_everything_once_then_only_what_changed() {
        let mut followed = Followed::default();
        followed.catch_up(&State::default());
        assert_eq!(followed.take_changed(), Changed::Everything);
        assert!(followed.take_changed().is_nothing());
        // Caught up again with nothing new: still nothing to give.
        followed.catch_up(&State::default());
        assert!(followed.take_changed().is_nothing());
    }
}
