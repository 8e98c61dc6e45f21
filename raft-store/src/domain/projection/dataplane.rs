//! The data-plane configuration: per listener on an EIP, what to accept and
//! where to send it. Every node keeps it warm; the EIP owner serves it.
//! [`DataPlaneProjection`] keeps it in step with the catalog per change;
//! [`DataPlaneConfig::compile`] builds it from scratch.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::domain::catalog::Catalog;
use crate::domain::ids::{CertificateId, GroupId, ListenerId, LoadBalancerId, MemberId};
use crate::domain::model::{
    Algorithm, ConnectionLimit, FixedResponseAction, Group, HeaderCondition, HealthCheck,
    HostCondition, Listener, PassiveHealth, PathCondition, Persistence, Protocol, ProxyProtocol,
    RedirectAction, Revision, RuleAction,
};
use crate::domain::records::RecordKey;

/// Everything the forwarder serves, at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataPlaneConfig {
    /// The revision this configuration was compiled at: the data plane's generation.
    pub revision: Revision,
    /// Sorted by (address, port); one entry per serving listener.
    pub listeners: Vec<ForwardingEntry>,
}

/// One listener: an address and port to accept on, and where traffic goes.
/// It holds what the data plane serves and nothing else (no revisions, no
/// descriptions), so a change of anything else leaves it equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardingEntry {
    /// The listener.
    pub listener_id: ListenerId,
    /// Its Load Balancer.
    pub load_balancer_id: LoadBalancerId,
    /// The Load Balancer's EIP address.
    pub address: Ipv4Addr,
    /// The listener's port.
    pub port: u16,
    /// TCP, HTTP or HTTPS.
    pub protocol: Protocol,
    /// Concurrent client connections allowed.
    pub connection_limit: ConnectionLimit,
    /// Seconds of inactivity before a connection is closed.
    pub idle_timeout_s: u32,
    /// Add X-Forwarded-For, -Proto and -Port (HTTP and HTTPS).
    pub insert_x_forwarded_for: bool,
    /// Write a line per HTTP request (HTTP and HTTPS) or per connection (TCP).
    pub access_log: bool,
    /// The certificate an HTTPS listener presents.
    pub certificate: Option<TlsCertificate>,
    /// None: every request is refused (503 for HTTP, close for TCP).
    pub group: Option<GroupConfig>,
    /// HTTP and HTTPS: the forwarding rules, in order.
    pub rules: Vec<RuleConfig>,
}

/// A forwarding rule, its group resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleConfig {
    /// The rule's name (unique within the listener).
    pub name: String,
    /// The host condition.
    pub host: Option<HostCondition>,
    /// The path condition.
    pub path: Option<PathCondition>,
    /// The header condition.
    pub header: Option<HeaderCondition>,
    /// What it does.
    pub action: RuleTarget,
}

/// What a rule does, its group resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleTarget {
    /// Forward to this group.
    Forward(GroupConfig),
    /// Answer with a redirect.
    Redirect(RedirectAction),
    /// Answer with a fixed response.
    FixedResponse(FixedResponseAction),
}

/// A certificate in the form the forwarder loads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsCertificate {
    /// The certificate.
    pub certificate_id: CertificateId,
    /// PEM, leaf first.
    pub certificate_chain_pem: String,
    /// The key as the catalog keeps it: a sealed text (`sealed.rs`) for an
    /// upload of log format 3 on, which the data plane opens; clear PEM for
    /// an older one.
    pub private_key_pem: String,
}

/// The group a listener forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// The group.
    pub group_id: GroupId,
    /// How new connections are spread.
    pub algorithm: Algorithm,
    /// None: no monitoring.
    pub health_check: Option<HealthCheck>,
    /// In the group's order.
    pub members: Vec<MemberConfig>,
    /// HTTP and HTTPS: what keeps a client on one member.
    pub persistence: Option<Persistence>,
    /// TCP: the PROXY protocol header each member gets.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Ejection on what the traffic says.
    pub passive_health: Option<PassiveHealth>,
}

/// One backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberConfig {
    /// The member.
    pub member_id: MemberId,
    /// The instance's address.
    pub address: Ipv4Addr,
    /// The instance's port.
    pub port: u16,
    /// 0 drains: no new connections.
    pub weight: u8,
    /// False: no new connections.
    pub admin_state_up: bool,
}

impl DataPlaneConfig {
    /// Compiles the listeners of every Load Balancer that has an EIP and is
    /// administratively up; listeners that are down are left out.
    pub fn compile(catalog: &Catalog, revision: Revision) -> Self {
        Self::sorted(
            revision,
            catalog
                .listeners()
                .values()
                .filter_map(|listener| ForwardingEntry::of(catalog, listener))
                .collect(),
        )
    }

    fn sorted(revision: Revision, mut listeners: Vec<ForwardingEntry>) -> Self {
        listeners.sort_by_key(|entry| (entry.address, entry.port));
        Self {
            revision,
            listeners,
        }
    }
}

impl ForwardingEntry {
    /// What `listener` serves, or `None` when it serves nothing: it or its
    /// Load Balancer is down, or the Load Balancer has no EIP.
    pub fn of(catalog: &Catalog, listener: &Listener) -> Option<Self> {
        if !listener.admin_state_up {
            return None;
        }
        let lb = catalog.load_balancers().get(&listener.load_balancer_id)?;
        if !lb.admin_state_up {
            return None;
        }
        let eip = catalog.eip_of(lb)?;
        Some(Self {
            listener_id: listener.id.clone(),
            load_balancer_id: lb.id.clone(),
            address: eip.address,
            port: listener.port,
            protocol: listener.protocol,
            connection_limit: listener.connection_limit,
            idle_timeout_s: listener.idle_timeout_s,
            insert_x_forwarded_for: listener.insert_x_forwarded_for,
            access_log: listener.access_log,
            certificate: listener.certificate_id.as_ref().and_then(|id| {
                catalog
                    .certificates()
                    .get(id)
                    .map(|certificate| TlsCertificate {
                        certificate_id: certificate.id.clone(),
                        certificate_chain_pem: certificate.certificate_chain_pem.clone(),
                        private_key_pem: certificate.private_key_pem.clone(),
                    })
            }),
            group: listener
                .default_group_id
                .as_ref()
                .and_then(|id| catalog.groups().get(id))
                .map(|group| GroupConfig::of(catalog, group)),
            rules: listener
                .rules
                .iter()
                .filter_map(|rule| {
                    Some(RuleConfig {
                        name: rule.name.clone(),
                        host: rule.host.clone(),
                        path: rule.path.clone(),
                        header: rule.header.clone(),
                        action: match &rule.action {
                            RuleAction::Forward(id) => RuleTarget::Forward(GroupConfig::of(
                                catalog,
                                catalog.groups().get(id)?,
                            )),
                            RuleAction::Redirect(redirect) => {
                                RuleTarget::Redirect(redirect.clone())
                            }
                            RuleAction::FixedResponse(fixed) => {
                                RuleTarget::FixedResponse(fixed.clone())
                            }
                        },
                    })
                })
                .collect(),
        })
    }
}

impl GroupConfig {
    /// What the forwarder needs of `group`: its members with their
    /// instances' addresses (a member whose instance is gone is left out).
    fn of(catalog: &Catalog, group: &Group) -> Self {
        GroupConfig {
            group_id: group.id.clone(),
            algorithm: group.algorithm,
            health_check: group.health_check.clone(),
            members: group
                .members
                .iter()
                .filter_map(|member| {
                    let instance = catalog.instances().get(&member.instance_id)?;
                    Some(MemberConfig {
                        member_id: member.id.clone(),
                        address: instance.address,
                        port: member.port,
                        weight: member.weight,
                        admin_state_up: member.admin_state_up,
                    })
                })
                .collect(),
            persistence: group.persistence.clone(),
            proxy_protocol: group.proxy_protocol,
            passive_health: group.passive_health,
        }
    }
}

/// How many changing revisions the projection remembers the changes of: a
/// reader further behind than this reads every entry again.
pub const MAX_JOURNAL_REVISIONS: usize = 1024;

/// The data-plane projection, kept in step with the catalog entry by entry:
/// an applied command recompiles only the listeners whose records (or whose
/// Load Balancer's, EIP's, group's, members' instances' or certificate's
/// records) it changed, and a journal says which listeners changed at each
/// revision, so a reader catches up by what changed, not by the catalog.
///
/// Invariant (checked by `State::check_invariants` and a property test):
/// the entries equal [`DataPlaneConfig::compile`] of the same catalog.
/// Derived: never stored, rebuilt from the catalog when a state is read back.
#[derive(Clone, Debug, Default)]
pub struct DataPlaneProjection {
    entries: BTreeMap<ListenerId, Arc<ForwardingEntry>>,
    /// The listeners whose entry changed at each revision after `horizon`
    /// (added, changed or removed); revisions that changed none are absent.
    journal: BTreeMap<Revision, Vec<ListenerId>>,
    /// The journal is complete for every revision above this one.
    horizon: Revision,
}

/// Equal when they serve the same entries; the journal is a reader's aid
/// and depends on how the state was reached (a replay or a snapshot).
impl PartialEq for DataPlaneProjection {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for DataPlaneProjection {}

/// What a reader at some revision must change to reach the projection's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataPlaneChanges {
    /// The listeners that changed, each with its entry now (`None`: it no
    /// longer serves), in id order.
    Since(Vec<(ListenerId, Option<Arc<ForwardingEntry>>)>),
    /// The reader is older than the journal: every entry, in id order.
    Everything(Vec<Arc<ForwardingEntry>>),
}

impl DataPlaneProjection {
    /// The projection of `catalog`, compiled from scratch at `revision`.
    pub fn rebuild(catalog: &Catalog, revision: Revision) -> Self {
        Self {
            entries: catalog
                .listeners()
                .values()
                .filter_map(|listener| ForwardingEntry::of(catalog, listener))
                .map(|entry| (entry.listener_id.clone(), Arc::new(entry)))
                .collect(),
            journal: BTreeMap::new(),
            horizon: revision,
        }
    }

    /// Brings the projection to `catalog` at `revision`, after a command
    /// whose events changed the records `changed`.
    pub fn update<'a>(
        &mut self,
        catalog: &Catalog,
        revision: Revision,
        changed: impl IntoIterator<Item = &'a RecordKey>,
    ) {
        let mut listeners = BTreeSet::new();
        for key in changed {
            affected_listeners(catalog, key, &mut listeners);
        }
        let mut journaled = Vec::new();
        for id in listeners {
            let entry = catalog
                .listeners()
                .get(&id)
                .and_then(|listener| ForwardingEntry::of(catalog, listener));
            let same = match (self.entries.get(&id), &entry) {
                (Some(kept), Some(entry)) => **kept == *entry,
                (None, None) => true,
                _ => false,
            };
            if same {
                continue;
            }
            match entry {
                Some(entry) => self.entries.insert(id.clone(), Arc::new(entry)),
                None => self.entries.remove(&id),
            };
            journaled.push(id);
        }
        if !journaled.is_empty() {
            self.journal.insert(revision, journaled);
        }
        while self.journal.len() > MAX_JOURNAL_REVISIONS {
            if let Some((forgotten, _)) = self.journal.pop_first() {
                self.horizon = forgotten;
            }
        }
    }

    /// Every serving listener's entry, by listener id.
    pub fn entries(&self) -> &BTreeMap<ListenerId, Arc<ForwardingEntry>> {
        &self.entries
    }

    /// What changed after `revision`: the changed listeners when the journal
    /// reaches back that far, else every entry.
    pub fn changes_since(&self, revision: Revision) -> DataPlaneChanges {
        if revision < self.horizon {
            return DataPlaneChanges::Everything(self.entries.values().cloned().collect());
        }
        let changed: BTreeSet<&ListenerId> = self
            .journal
            .range(revision + 1..)
            .flat_map(|(_, listeners)| listeners)
            .collect();
        DataPlaneChanges::Since(
            changed
                .into_iter()
                .map(|id| (id.clone(), self.entries.get(id).cloned()))
                .collect(),
        )
    }

    /// The whole configuration at `revision`, as [`DataPlaneConfig::compile`] gives it.
    pub fn config(&self, revision: Revision) -> DataPlaneConfig {
        DataPlaneConfig::sorted(
            revision,
            self.entries
                .values()
                .map(|entry| (**entry).clone())
                .collect(),
        )
    }
}

/// Adds to `listeners` every listener whose entry may depend on the record `key`.
fn affected_listeners(catalog: &Catalog, key: &RecordKey, listeners: &mut BTreeSet<ListenerId>) {
    let mut add = |found: &mut dyn Iterator<Item = &ListenerId>| {
        listeners.extend(found.cloned());
    };
    match key {
        RecordKey::Listener(id) => add(&mut std::iter::once(id)),
        RecordKey::LoadBalancer(id) => add(&mut catalog.listeners_of(id).map(|l| &l.id)),
        RecordKey::Eip(id) => {
            if let Some(lb) = catalog
                .eips()
                .get(id)
                .and_then(|eip| eip.load_balancer_id.as_ref())
            {
                add(&mut catalog.listeners_of(lb).map(|l| &l.id));
            }
        }
        RecordKey::Group(id) => add(&mut catalog.listeners_using_group(id).map(|l| &l.id)),
        RecordKey::Instance(id) => {
            for group in catalog.groups_with_member(id) {
                add(&mut catalog.listeners_using_group(&group.id).map(|l| &l.id));
            }
        }
        RecordKey::Certificate(id) => {
            add(&mut catalog.listeners_using_certificate(id).map(|l| &l.id));
        }
        RecordKey::Meta
        | RecordKey::Settings
        | RecordKey::Network(_)
        | RecordKey::Subnet(_)
        | RecordKey::AccessToken(_)
        | RecordKey::History(_)
        | RecordKey::Token(_) => {}
    }
}
