//! What the worker threads serve, made once for all of them: each listener
//! with whether it is served (or kept warm on standby), its TLS
//! configuration and why it cannot be served; the HTTP limits; and which
//! listeners the last generations changed.
//!
//! A plan is persistent: the next one shares with it every listener it does
//! not change, so making one costs what the generation changed (each change
//! O(log n) in the catalog), and a thread that applies it looks only at the
//! listeners its steps name.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::ServerConfig;

use crate::config::{Config, HttpLimits, Listener, Protocol};
use crate::forwarder::ApplyError;
use crate::tls;

/// Generations a plan remembers the steps of: a thread that fell further
/// behind than this (it never should: threads look every few milliseconds)
/// looks at every listener once.
pub(crate) const STEPS_KEPT: usize = 64;

/// One listener's change in a generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerChange {
    /// Serve this listener (new, changed, or from standby).
    Serve(Arc<Listener>),
    /// Keep this listener warm without serving it: TLS built, members
    /// checked, nothing bound.
    Standby(Arc<Listener>),
    /// The listener with this id is gone.
    Remove(String),
}

impl ListenerChange {
    fn id(&self) -> &str {
        match self {
            Self::Serve(listener) | Self::Standby(listener) => &listener.id,
            Self::Remove(id) => id,
        }
    }
}

/// A listener as a plan holds it.
#[derive(Clone, Debug)]
pub(crate) struct Placed {
    pub(crate) listener: Arc<Listener>,
    pub(crate) served: bool,
    /// HTTPS: its certificates, ready (standby listeners too).
    pub(crate) tls: Option<Arc<ServerConfig>>,
    /// Why it cannot be served (an unusable certificate, rules on TCP);
    /// served listeners only.
    pub(crate) error: Option<String>,
}

/// What one generation changed against the one before it.
#[derive(Clone, Debug)]
struct Step {
    generation: u64,
    previous: u64,
    /// The listeners that appeared, went, changed, or moved between served
    /// and standby; `None` when any may have (the HTTP limits changed).
    changed: Option<Arc<Vec<String>>>,
}

/// What the threads serve at one generation.
///
/// Invariant: `addresses` holds exactly the served listeners' addresses,
/// each for its listener's id; no two served listeners share an address.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    generation: u64,
    http: HttpLimits,
    listeners: imbl::OrdMap<String, Placed>,
    addresses: imbl::HashMap<SocketAddr, String>,
    /// The last [`STEPS_KEPT`] generations' steps, oldest first, this
    /// plan's last.
    steps: VecDeque<Step>,
}

impl Plan {
    /// The plan of `config`, the first of a forwarder.
    pub(crate) fn first(config: Config) -> Result<Self, ApplyError> {
        let empty = Self {
            generation: 0,
            http: config.http.clone(),
            ..Self::default()
        };
        let changes = empty.changes_to(&config)?;
        let mut plan = empty.with(config.generation, config.http, &changes)?;
        plan.steps.clear();
        Ok(plan)
    }

    /// The plan after this one with `changes` and the `http` limits.
    ///
    /// # Errors
    /// A generation not above this one's, a listener changed twice, or two
    /// served listeners on one address.
    pub(crate) fn next(
        &self,
        generation: u64,
        http: HttpLimits,
        changes: &[ListenerChange],
    ) -> Result<Self, ApplyError> {
        if generation <= self.generation {
            return Err(ApplyError::StaleGeneration {
                offered: generation,
                current: self.generation,
            });
        }
        self.with(generation, http, changes)
    }

    fn with(
        &self,
        generation: u64,
        http: HttpLimits,
        changes: &[ListenerChange],
    ) -> Result<Self, ApplyError> {
        let mut seen = HashSet::with_capacity(changes.len());
        for change in changes {
            if !seen.insert(change.id()) {
                return Err(ApplyError::DuplicateListener(change.id().to_owned()));
            }
        }
        let mut next = self.clone();
        // Every address the changed listeners served is let go before any
        // is taken: two listeners may swap addresses in one generation.
        for change in changes {
            if let Some(before) = self.listeners.get(change.id())
                && before.served
            {
                next.addresses.remove(&before.listener.address);
            }
        }
        for change in changes {
            let (listener, served) = match change {
                ListenerChange::Serve(listener) => (listener, true),
                ListenerChange::Standby(listener) => (listener, false),
                ListenerChange::Remove(id) => {
                    next.listeners.remove(id);
                    continue;
                }
            };
            if served
                && let Some(other) = next.addresses.insert(listener.address, listener.id.clone())
            {
                return Err(ApplyError::DuplicateAddress(
                    other,
                    listener.id.clone(),
                    listener.address,
                ));
            }
            let placed = self.place(listener, served);
            next.listeners.insert(listener.id.clone(), placed);
        }
        let step = Step {
            generation,
            previous: self.generation,
            changed: (http == self.http).then(|| {
                Arc::new(
                    changes
                        .iter()
                        .map(|change| change.id().to_owned())
                        .collect(),
                )
            }),
        };
        if next.steps.len() == STEPS_KEPT {
            next.steps.pop_front();
        }
        next.steps.push_back(step);
        next.generation = generation;
        next.http = http;
        Ok(next)
    }

    /// `listener` as this plan's successor holds it: unchanged certificates
    /// keep their TLS configuration (and its session cache) across
    /// generations, and from standby to served.
    fn place(&self, listener: &Arc<Listener>, served: bool) -> Placed {
        let mut placed = Placed {
            listener: Arc::clone(listener),
            served,
            tls: None,
            error: None,
        };
        if let Some(error) = unservable(listener) {
            placed.error = served.then(|| error.to_owned());
            return placed;
        }
        if listener.protocol != Protocol::Https {
            return placed;
        }
        let kept = self.listeners.get(&listener.id).and_then(|before| {
            (before.listener.certificates == listener.certificates)
                .then(|| before.tls.clone())
                .flatten()
        });
        match kept.map_or_else(|| tls::server_config(&listener.certificates), Ok) {
            Ok(server_config) => placed.tls = Some(server_config),
            Err(reason) => placed.error = served.then_some(reason),
        }
        placed
    }

    /// The changes that make this plan serve `config` (its generation and
    /// limits aside): a listener that is the same allocation, in the same
    /// place, is left as it is.
    ///
    /// # Errors
    /// Two listeners of `config` with one id.
    pub(crate) fn changes_to(&self, config: &Config) -> Result<Vec<ListenerChange>, ApplyError> {
        let mut ids = HashSet::with_capacity(config.listeners.len() + config.standby.len());
        let mut changes = Vec::new();
        let served = config.listeners.iter().map(|listener| (listener, true));
        let standby = config.standby.iter().map(|listener| (listener, false));
        for (listener, serving) in served.chain(standby) {
            if !ids.insert(listener.id.as_str()) {
                return Err(ApplyError::DuplicateListener(listener.id.clone()));
            }
            let unchanged = self.listeners.get(&listener.id).is_some_and(|before| {
                Arc::ptr_eq(&before.listener, listener) && before.served == serving
            });
            if !unchanged {
                changes.push(if serving {
                    ListenerChange::Serve(Arc::clone(listener))
                } else {
                    ListenerChange::Standby(Arc::clone(listener))
                });
            }
        }
        changes.extend(
            self.listeners
                .keys()
                .filter(|id| !ids.contains(id.as_str()))
                .map(|id| ListenerChange::Remove(id.clone())),
        );
        Ok(changes)
    }

    /// Its generation.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// The HTTP limits of every HTTP and HTTPS listener.
    pub(crate) fn http(&self) -> &HttpLimits {
        &self.http
    }

    /// The listener `id` as placed.
    pub(crate) fn placed(&self, id: &str) -> Option<&Placed> {
        self.listeners.get(id)
    }

    /// The listener `id` and whether it is served (else standby).
    pub(crate) fn listener(&self, id: &str) -> Option<(&Arc<Listener>, bool)> {
        self.placed(id)
            .map(|placed| (&placed.listener, placed.served))
    }

    /// The listener `id` if it is served and can be.
    pub(crate) fn served(&self, id: &str) -> Option<&Arc<Listener>> {
        self.placed(id)
            .filter(|placed| placed.served && placed.error.is_none())
            .map(|placed| &placed.listener)
    }

    /// Every listener id.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.listeners.keys().map(String::as_str)
    }

    /// Served listeners that cannot be served, with why (a pass over every
    /// listener: for statuses, not for generations).
    pub(crate) fn errors(&self) -> BTreeMap<String, String> {
        self.listeners
            .iter()
            .filter_map(|(id, placed)| Some((id.clone(), placed.error.clone()?)))
            .collect()
    }

    /// The configuration this plan serves (listeners in id order).
    pub(crate) fn config(&self) -> Config {
        let (served, standby): (Vec<&Placed>, Vec<&Placed>) =
            self.listeners.values().partition(|placed| placed.served);
        let listeners = |placed: Vec<&Placed>| {
            placed
                .into_iter()
                .map(|placed| Arc::clone(&placed.listener))
                .collect()
        };
        Config {
            generation: self.generation,
            listeners: listeners(served),
            standby: listeners(standby),
            http: self.http.clone(),
        }
    }

    /// The ids of the listeners that may differ between the generation
    /// `applied` and this plan's; `None` when that is not known (the
    /// generation is too old, or the HTTP limits changed): then any may.
    pub(crate) fn changed_since(&self, applied: u64) -> Option<HashSet<&str>> {
        let mut changed = HashSet::new();
        let mut at = self.generation;
        for step in self.steps.iter().rev() {
            if at == applied {
                break;
            }
            if step.generation != at {
                return None;
            }
            changed.extend(step.changed.as_ref()?.iter().map(String::as_str));
            at = step.previous;
        }
        (at == applied).then_some(changed)
    }
}

/// Why `listener` cannot be served as it is, if it cannot.
fn unservable(listener: &Listener) -> Option<&'static str> {
    (listener.protocol == Protocol::Tcp && !listener.rules.is_empty())
        .then_some("rules: only HTTP and HTTPS listeners have forwarding rules")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Algorithm, Group};

    fn listener(id: &str, port: u16) -> Arc<Listener> {
        Arc::new(Listener {
            id: id.to_owned(),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            protocol: Protocol::Tcp,
            connection_limit: None,
            idle_timeout: Duration::from_secs(60),
            insert_x_forwarded_for: false,
            access_log: false,
            certificates: Vec::new(),
            group: Group {
                id: format!("{id}-group"),
                algorithm: Algorithm::WeightedRoundRobin,
                health_check: None,
                members: Vec::new(),
                proxy_protocol: None,
                passive_health: None,
                persistence: None,
            },
            rules: Vec::new(),
        })
    }

    fn config(generation: u64, served: &[&Arc<Listener>], standby: &[&Arc<Listener>]) -> Config {
        Config {
            generation,
            listeners: served.iter().map(|l| Arc::clone(l)).collect(),
            standby: standby.iter().map(|l| Arc::clone(l)).collect(),
            http: HttpLimits::default(),
        }
    }

    /// The plan after `plan` that serves `config`.
    fn then(plan: &Plan, config: Config) -> Plan {
        let changes = plan.changes_to(&config).unwrap();
        plan.next(config.generation, config.http, &changes).unwrap()
    }

    fn sorted(changed: Option<HashSet<&str>>) -> Option<Vec<&str>> {
        changed.map(|ids| {
            let mut ids: Vec<&str> = ids.into_iter().collect();
            ids.sort_unstable();
            ids
        })
    }

    #[test]
    fn a_plan_names_the_listeners_its_generations_changed_since_any_it_remembers() {
        let (a, b, c) = (listener("a", 1), listener("b", 2), listener("c", 3));
        let first = Plan::first(config(1, &[&a, &b], &[&c])).unwrap();
        assert_eq!(first.changed_since(1), Some(HashSet::new()));
        assert_eq!(first.changed_since(0), None, "before the first: unknown");

        // b changes, c moves from standby to served.
        let b2 = listener("b", 2);
        let second = then(&first, config(2, &[&a, &b2, &c], &[]));
        assert_eq!(sorted(second.changed_since(1)), Some(vec!["b", "c"]));
        // a goes; generations need not be consecutive.
        let third = then(&second, config(5, &[&b2, &c], &[]));
        assert_eq!(sorted(third.changed_since(2)), Some(vec!["a"]));
        assert_eq!(sorted(third.changed_since(1)), Some(vec!["a", "b", "c"]));
        assert_eq!(
            third.changed_since(3),
            None,
            "a generation it never followed"
        );
        assert_eq!(third.changed_since(5), Some(HashSet::new()));

        // New HTTP limits change every HTTP service: nothing is known.
        let mut limits = config(6, &[&b2, &c], &[]);
        limits.http.max_header_bytes += 1;
        let fourth = then(&third, limits.clone());
        assert_eq!(fourth.changed_since(5), None);
        let fifth = then(
            &fourth,
            Config {
                generation: 7,
                ..limits
            },
        );
        assert_eq!(fifth.changed_since(6), Some(HashSet::new()));
        assert_eq!(fifth.changed_since(5), None);
    }

    #[test]
    fn a_plan_remembers_a_bounded_number_of_steps() {
        let a = listener("a", 1);
        let mut plan = Plan::first(config(1, &[&a], &[])).unwrap();
        for generation in 2..=(STEPS_KEPT as u64 + 2) {
            plan = then(&plan, config(generation, &[&a], &[]));
            assert!(plan.steps.len() <= STEPS_KEPT);
        }
        let last = plan.generation();
        assert_eq!(
            plan.changed_since(last - STEPS_KEPT as u64),
            Some(HashSet::new())
        );
        assert_eq!(plan.changed_since(last - STEPS_KEPT as u64 - 1), None);
    }

    #[test]
    fn a_plan_finds_a_listener_by_id_and_knows_whether_it_is_served() {
        let (a, b) = (listener("a", 1), listener("b", 2));
        let plan = Plan::first(config(1, &[&a], &[&b])).unwrap();
        assert!(
            plan.listener("a")
                .is_some_and(|(l, served)| Arc::ptr_eq(l, &a) && served)
        );
        assert!(
            plan.listener("b")
                .is_some_and(|(l, served)| Arc::ptr_eq(l, &b) && !served)
        );
        assert!(plan.served("a").is_some());
        assert!(plan.served("b").is_none(), "standby is not served");
        assert!(plan.listener("c").is_none());
        assert_eq!(plan.config(), config(1, &[&a], &[&b]));
    }

    #[test]
    fn changes_leave_every_other_listener_as_it_was() {
        let listeners: Vec<Arc<Listener>> = (0..100)
            .map(|i| listener(&format!("l{i:03}"), 1000 + i))
            .collect();
        let every: Vec<&Arc<Listener>> = listeners.iter().collect();
        let plan = Plan::first(config(1, &every, &[])).unwrap();
        let moved = listener("l050", 5000);
        let next = plan
            .next(
                2,
                HttpLimits::default(),
                &[
                    ListenerChange::Serve(Arc::clone(&moved)),
                    ListenerChange::Standby(Arc::clone(&listeners[7])),
                    ListenerChange::Remove("l099".to_owned()),
                ],
            )
            .unwrap();
        assert_eq!(
            sorted(next.changed_since(1)),
            Some(vec!["l007", "l050", "l099"])
        );
        assert!(next.served("l050").is_some_and(|l| Arc::ptr_eq(l, &moved)));
        assert!(next.listener("l007").is_some_and(|(_, served)| !served));
        assert!(next.listener("l099").is_none());
        assert!(
            next.served("l001")
                .is_some_and(|l| Arc::ptr_eq(l, &listeners[1]))
        );
        assert_eq!(next.ids().count(), 99);
        // The address l050 left is free for another; the one it took is not.
        let on_old_address = listener("new", 1050);
        assert!(
            next.next(
                3,
                HttpLimits::default(),
                &[ListenerChange::Serve(on_old_address)]
            )
            .is_ok()
        );
        let on_taken_address = listener("other", 5000);
        assert_eq!(
            next.next(
                3,
                HttpLimits::default(),
                &[ListenerChange::Serve(on_taken_address)]
            )
            .unwrap_err(),
            ApplyError::DuplicateAddress("l050".into(), "other".into(), moved.address)
        );
    }

    #[test]
    fn two_listeners_may_swap_addresses_in_one_generation() {
        let (a, b) = (listener("a", 1), listener("b", 2));
        let plan = Plan::first(config(1, &[&a, &b], &[])).unwrap();
        let (a2, b2) = (listener("a", 2), listener("b", 1));
        let next = plan
            .next(
                2,
                HttpLimits::default(),
                &[ListenerChange::Serve(a2), ListenerChange::Serve(b2)],
            )
            .unwrap();
        assert_eq!(next.served("a").map(|l| l.address.port()), Some(2));
    }

    #[test]
    fn a_bad_change_is_refused_and_names_what_is_wrong() {
        let a = listener("a", 1);
        let plan = Plan::first(config(1, &[&a], &[])).unwrap();
        assert_eq!(
            plan.next(1, HttpLimits::default(), &[]).unwrap_err(),
            ApplyError::StaleGeneration {
                offered: 1,
                current: 1
            }
        );
        assert_eq!(
            plan.next(
                2,
                HttpLimits::default(),
                &[
                    ListenerChange::Remove("a".into()),
                    ListenerChange::Serve(Arc::clone(&a))
                ]
            )
            .unwrap_err(),
            ApplyError::DuplicateListener("a".into())
        );
        assert_eq!(
            Plan::first(config(1, &[&a], &[&a])).unwrap_err(),
            ApplyError::DuplicateListener("a".into())
        );
    }
}
