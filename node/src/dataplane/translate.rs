//! The forwarder's configuration, translated from the data-plane projection
//! one listener at a time: a listener whose projection entry is the same
//! allocation as last time keeps its translation (and its certificate key,
//! opened once), and the forwarder is given the listeners that changed, so
//! a new generation costs what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use fulcrum_dataplane as dataplane;
use fulcrum_raft_store::domain::projection::dataplane::{
    ForwardingEntry, GroupConfig, RuleConfig, RuleTarget,
};
use fulcrum_raft_store::domain::{
    Algorithm, ConnectionLimit, HealthCheck, HealthCheckKind, HostCondition, ListenerId,
    PathCondition, Persistence, Protocol, ProxyProtocol, sealed,
};

use super::Changed;
use crate::secrets::DataKeys;

/// Each listener's forwarder configuration, with the projection entry it
/// was translated from.
#[derive(Default)]
pub struct Translations {
    listeners: BTreeMap<ListenerId, Translated>,
    /// Listener ids by the EIP address they listen on.
    at: BTreeMap<Ipv4Addr, BTreeSet<ListenerId>>,
    /// The data keys the certificate keys were opened with.
    data_keys: Option<Arc<DataKeys>>,
}

struct Translated {
    entry: Arc<ForwardingEntry>,
    listener: Arc<dataplane::config::Listener>,
    address: Ipv4Addr,
}

impl Translations {
    /// Whether the certificate keys were opened with `data_keys`.
    pub fn opened_with(&self, data_keys: &Arc<DataKeys>) -> bool {
        self.data_keys
            .as_ref()
            .is_some_and(|used| Arc::ptr_eq(used, data_keys))
    }

    /// Brings the translations to `entries`, of which `changed` says which
    /// changed since the last update: only those are looked at (every one
    /// when the data keys changed too), the listeners gone are forgotten,
    /// and a listener whose entry is the same allocation keeps its
    /// translation. Answers the ids whose translation changed or went.
    pub fn update(
        &mut self,
        entries: &BTreeMap<ListenerId, Arc<ForwardingEntry>>,
        changed: &Changed,
        data_keys: &Arc<DataKeys>,
    ) -> BTreeSet<ListenerId> {
        let mut translated = BTreeSet::new();
        let ids: Box<dyn Iterator<Item = &ListenerId>> = match changed {
            Changed::Listeners(ids) if self.opened_with(data_keys) => Box::new(ids.iter()),
            _ => {
                let keys_changed = !self.opened_with(data_keys);
                let gone: Vec<ListenerId> = self
                    .listeners
                    .keys()
                    .filter(|id| keys_changed || !entries.contains_key(*id))
                    .cloned()
                    .collect();
                for id in gone {
                    self.remove(&id);
                    translated.insert(id);
                }
                self.data_keys = Some(Arc::clone(data_keys));
                Box::new(entries.keys())
            }
        };
        for id in ids {
            let Some(entry) = entries.get(id) else {
                if self.remove(id) {
                    translated.insert(id.clone());
                }
                continue;
            };
            let current = self
                .listeners
                .get(id)
                .is_some_and(|translated| Arc::ptr_eq(&translated.entry, entry));
            if !current {
                self.remove(id);
                self.at.entry(entry.address).or_default().insert(id.clone());
                self.listeners.insert(
                    id.clone(),
                    Translated {
                        entry: Arc::clone(entry),
                        listener: Arc::new(listener(entry, data_keys)),
                        address: entry.address,
                    },
                );
                translated.insert(id.clone());
            }
        }
        translated
    }

    /// Forgets listener `id`; answers whether it was there.
    fn remove(&mut self, id: &ListenerId) -> bool {
        let Some(gone) = self.listeners.remove(id) else {
            return false;
        };
        if let Some(ids) = self.at.get_mut(&gone.address) {
            ids.remove(id);
            if ids.is_empty() {
                self.at.remove(&gone.address);
            }
        }
        true
    }

    /// The ids of the listeners on `address`.
    pub fn at(&self, address: Ipv4Addr) -> impl Iterator<Item = &ListenerId> {
        self.at.get(&address).into_iter().flatten()
    }

    /// The forwarder's changes for listeners `ids`: each served when its
    /// address is `held`, on standby otherwise, or removed when gone.
    pub fn changes<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a ListenerId>,
        held: &BTreeSet<Ipv4Addr>,
    ) -> Vec<dataplane::ListenerChange> {
        ids.into_iter()
            .map(|id| match self.listeners.get(id) {
                Some(translated) if held.contains(&translated.address) => {
                    dataplane::ListenerChange::Serve(Arc::clone(&translated.listener))
                }
                Some(translated) => {
                    dataplane::ListenerChange::Standby(Arc::clone(&translated.listener))
                }
                None => dataplane::ListenerChange::Remove(id.as_str().to_owned()),
            })
            .collect()
    }

    /// The forwarder configuration: the listeners on `held` addresses
    /// served, the others kept warm on standby (TLS built, members checked).
    pub fn config(&self, held: &BTreeSet<Ipv4Addr>, generation: u64) -> dataplane::Config {
        let (listeners, standby) = self
            .listeners
            .values()
            .partition::<Vec<&Translated>, _>(|translated| held.contains(&translated.address));
        let shared = |listeners: Vec<&Translated>| {
            listeners
                .into_iter()
                .map(|translated| Arc::clone(&translated.listener))
                .collect()
        };
        dataplane::Config {
            generation,
            listeners: shared(listeners),
            standby: shared(standby),
            http: dataplane::config::HttpLimits::default(),
        }
    }
}

/// A certificate's clear private key: opened with the data keys (log format
/// 3 on), or as an older entry stored it. A key that does not open is left
/// empty, so that the data plane reports the listener it serves as broken.
fn clear_key(certificate_id: &str, chain_pem: &str, stored: &str, data_keys: &DataKeys) -> String {
    if !sealed::is_sealed(stored) {
        return stored.to_owned();
    }
    data_keys
        .open(stored, &sealed::certificate_key_aad(chain_pem))
        .unwrap_or_else(|error| {
            tracing::warn!(certificate_id, %error, "a certificate's key does not open on this node");
            String::new()
        })
}

fn listener(entry: &ForwardingEntry, data_keys: &DataKeys) -> dataplane::config::Listener {
    dataplane::config::Listener {
        id: entry.listener_id.as_str().to_owned(),
        address: SocketAddr::from((entry.address, entry.port)),
        protocol: match entry.protocol {
            Protocol::Tcp => dataplane::config::Protocol::Tcp,
            Protocol::Http => dataplane::config::Protocol::Http,
            Protocol::Https => dataplane::config::Protocol::Https,
        },
        connection_limit: match entry.connection_limit {
            ConnectionLimit::Unlimited => None,
            ConnectionLimit::AtMost(limit) => Some(limit),
        },
        idle_timeout: Duration::from_secs(u64::from(entry.idle_timeout_s)),
        insert_x_forwarded_for: entry.insert_x_forwarded_for,
        access_log: entry.access_log,
        certificates: entry
            .certificate
            .iter()
            .map(|certificate| dataplane::config::Certificate {
                id: certificate.certificate_id.as_str().to_owned(),
                chain_pem: certificate.certificate_chain_pem.clone(),
                private_key_pem: clear_key(
                    certificate.certificate_id.as_str(),
                    &certificate.certificate_chain_pem,
                    &certificate.private_key_pem,
                    data_keys,
                ),
            })
            .collect(),
        group: entry.group.as_ref().map_or_else(
            // No default group: the listener holds its port and refuses
            // every request (503 for HTTP, a closed connection for TCP).
            || dataplane::config::Group {
                id: format!("{}-no-group", entry.listener_id.as_str()),
                algorithm: dataplane::config::Algorithm::WeightedRoundRobin,
                health_check: None,
                members: Vec::new(),
                proxy_protocol: None,
                passive_health: None,
                persistence: None,
            },
            group,
        ),
        rules: entry.rules.iter().map(rule).collect(),
    }
}

fn rule(rule: &RuleConfig) -> dataplane::config::Rule {
    use dataplane::config::{
        FixedResponse, HeaderMatch, HostMatch, PathMatch, Redirect, RuleAction, Scheme,
    };
    dataplane::config::Rule {
        id: rule.name.clone(),
        host: rule.host.as_ref().map(|host| match host {
            HostCondition::Exact(name) => HostMatch::Exact(name.clone()),
            // The forwarder keeps the suffix with its leading dot.
            HostCondition::Wildcard(name) => HostMatch::Wildcard(format!(".{name}")),
        }),
        path: rule.path.as_ref().map(|path| match path {
            PathCondition::Exact(path) => PathMatch::Exact(path.clone()),
            PathCondition::Prefix(path) => PathMatch::Prefix(path.clone()),
        }),
        header: rule.header.as_ref().map(|header| HeaderMatch {
            name: header.name.clone(),
            value: header.value.clone(),
        }),
        action: match &rule.action {
            RuleTarget::Forward(to) => RuleAction::Forward(group(to)),
            RuleTarget::Redirect(redirect) => RuleAction::Redirect(Redirect {
                status: redirect.status,
                scheme: redirect
                    .https
                    .map(|https| if https { Scheme::Https } else { Scheme::Http }),
                host: redirect.host.clone(),
                port: redirect.port,
                path: redirect.path.clone(),
            }),
            RuleTarget::FixedResponse(fixed) => RuleAction::Respond(FixedResponse {
                status: fixed.status,
                content_type: fixed.content_type.clone(),
                body: fixed.body.clone(),
            }),
        },
    }
}

fn group(group: &GroupConfig) -> dataplane::config::Group {
    dataplane::config::Group {
        id: group.group_id.as_str().to_owned(),
        algorithm: match group.algorithm {
            Algorithm::WeightedRoundRobin => dataplane::config::Algorithm::WeightedRoundRobin,
            Algorithm::WeightedLeastConnections => {
                dataplane::config::Algorithm::WeightedLeastConnections
            }
            Algorithm::SourceIpHash => dataplane::config::Algorithm::SourceIpHash,
        },
        health_check: group.health_check.as_ref().map(health_check),
        members: group
            .members
            .iter()
            .map(|member| dataplane::config::Member {
                id: member.member_id.as_str().to_owned(),
                address: SocketAddr::from((member.address, member.port)),
                weight: u32::from(member.weight),
                admin_state_up: member.admin_state_up,
            })
            .collect(),
        persistence: group
            .persistence
            .as_ref()
            .map(|persistence| match persistence {
                Persistence::Cookie(name) => dataplane::config::Persistence::Cookie(name.clone()),
                Persistence::AppCookie(name) => {
                    dataplane::config::Persistence::AppCookie(name.clone())
                }
            }),
        proxy_protocol: group.proxy_protocol.map(|version| match version {
            ProxyProtocol::V1 => dataplane::config::ProxyProtocol::V1,
            ProxyProtocol::V2 => dataplane::config::ProxyProtocol::V2,
        }),
        passive_health: group
            .passive_health
            .map(|policy| dataplane::config::PassiveHealth {
                consecutive_failures: policy.consecutive_failures,
                ejection: Duration::from_secs(u64::from(policy.ejection_s)),
                max_ejected_percent: policy.max_ejected_percent,
            }),
    }
}

fn health_check(check: &HealthCheck) -> dataplane::config::HealthCheck {
    dataplane::config::HealthCheck {
        kind: match check.kind {
            HealthCheckKind::Tcp => dataplane::config::HealthCheckKind::Tcp,
            HealthCheckKind::Http => dataplane::config::HealthCheckKind::Http {
                path: check.http_path.clone(),
                expected_codes: check
                    .expected_codes
                    .iter()
                    .map(|range| (range.first, range.last))
                    .collect(),
            },
        },
        interval: Duration::from_secs(u64::from(check.interval_s)),
        timeout: Duration::from_secs(u64::from(check.timeout_s)),
        healthy_threshold: check.healthy_threshold,
        unhealthy_threshold: check.unhealthy_threshold,
    }
}
