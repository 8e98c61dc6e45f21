//! The node's data plane: this node's forwarder, fed from its own data-plane
//! projection, serving the listeners of the EIP addresses the node holds.
//!
//! Every node compiles the projection into a forwarder configuration at each
//! new revision (so a node that gains an EIP serves it at once); only the
//! listeners on held addresses are bound.
//!
//! Statuses are the EIP owner's: [`OwnerReport`] answers from this node's
//! data plane while it is the owner, and otherwise from what the owner last
//! said through the internal `DataPlaneStatus` call, asked every
//! [`OWNER_POLL`]. Forwarder generations are local and
//! strictly increasing (a change of held addresses is a new generation at the
//! same revision); the node remembers which revision each generation carries,
//! so it can say which revision its forwarder has applied.

use crate::secrets::{DataKeyRing, DataKeys};
use fulcrum_raft_store::domain::sealed;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fulcrum_api::internal::v1 as internal;
use fulcrum_api::v1;
use fulcrum_dataplane as dataplane;
use fulcrum_raft_store::domain::projection::dataplane::{
    DataPlaneConfig, ForwardingEntry, GroupConfig,
};
use fulcrum_raft_store::domain::{
    Algorithm, ConnectionLimit, HealthCheck, HealthCheckKind, ListenerId, MemberId, Protocol,
    Revision,
};

use openraft::async_runtime::WatchReceiver;

use tokio::time::Instant;

use crate::api::statuses::DataPlaneReport;
use crate::eip::lease::{Decision, Leadership, LeaseTiming, Why, decide};
use fulcrum_eip::Binder;

/// This node's forwarder and what it was given.
pub struct NodeDataPlane {
    forwarder: dataplane::Forwarder,
    state: Mutex<Fed>,
    /// Opens the certificate keys the projection holds sealed: the clear
    /// keys exist only in the forwarder's memory.
    data_keys: Arc<DataKeyRing>,
}

/// What the forwarder was last given.
struct Fed {
    /// Whether this node serves the EIPs (it leads).
    owner: bool,
    /// The projection it was compiled from.
    source: Option<DataPlaneConfig>,
    /// The addresses it serves.
    held: BTreeSet<Ipv4Addr>,
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
                source: None,
                held: BTreeSet::new(),
                generations: BTreeMap::new(),
                next_generation: 1,
            }),
            data_keys,
        })
    }

    /// Serves `source` on the `held` addresses, if either changed since the
    /// last call; `owner` says whether this node is the EIP owner.
    pub fn feed(&self, source: &DataPlaneConfig, held: &BTreeSet<Ipv4Addr>, owner: bool) {
        let mut fed = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        fed.owner = owner;
        // A projection compiled at the same revision is the same projection.
        if fed.source.as_ref().map(|fed| fed.revision) == Some(source.revision) && &fed.held == held
        {
            return;
        }
        let generation = fed.next_generation;
        let config = translate(source, held, generation, &self.data_keys.current());
        if self.forwarder.serves_same(&config) {
            // A revision that changed nothing the forwarder serves (a
            // description, a tag, a resource of no listener): the generation
            // in place serves it too, and no thread rebuilds anything.
            fed.generations.insert(generation - 1, source.revision);
            fed.source = Some(source.clone());
            fed.held = held.clone();
            return;
        }
        match self.forwarder.apply(config) {
            Ok(()) => {
                fed.next_generation += 1;
                fed.generations.insert(generation, source.revision);
                fed.source = Some(source.clone());
                fed.held = held.clone();
            }
            Err(error) => tracing::error!(%error, "the data plane refused a configuration"),
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
    /// `DataPlaneStatus` call answers it.
    pub fn status(&self) -> internal::DataPlaneStatusResponse {
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

/// How often a node that is not the EIP owner asks the owner for its status.
pub const OWNER_POLL: Duration = Duration::from_millis(200);

/// How long this node's own status, once taken, answers for it: rendering a
/// status tree asks once per listener and member, and each fresh status sums
/// every thread's counters.
const LOCAL_STATUS_REUSE: Duration = Duration::from_millis(20);

/// The statuses of the EIP owner's data plane, as this node knows them.
pub struct OwnerReport {
    local: Arc<NodeDataPlane>,
    /// This node's status, and when it was taken.
    local_status: Mutex<Option<(Instant, Arc<internal::DataPlaneStatusResponse>)>>,
    /// The owner's last answer, while another node is the owner.
    remote: Mutex<Option<Arc<internal::DataPlaneStatusResponse>>>,
}

impl OwnerReport {
    /// A report that answers from `local` while this node owns the EIPs.
    pub fn new(local: Arc<NodeDataPlane>) -> Self {
        Self {
            local,
            local_status: Mutex::new(None),
            remote: Mutex::new(None),
        }
    }

    fn owners_status(&self) -> Option<Arc<internal::DataPlaneStatusResponse>> {
        if self.local.is_owner() {
            let mut cached = self
                .local_status
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if let Some((taken, status)) = cached.as_ref()
                && now.duration_since(*taken) < LOCAL_STATUS_REUSE
            {
                return Some(Arc::clone(status));
            }
            let status = Arc::new(self.local.status());
            *cached = Some((now, Arc::clone(&status)));
            return Some(status);
        }
        self.remote
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .filter(|status| status.owner)
    }

    /// Keeps the owner's status fresh while another node is the owner.
    pub async fn follow_owner(self: Arc<Self>, replica: Arc<crate::replica::Replica>) {
        loop {
            let status = if self.local.is_owner() {
                None
            } else {
                replica
                    .leader_data_plane_status(OWNER_POLL * 2)
                    .await
                    .ok()
                    .map(Arc::new)
            };
            *self.remote.lock().unwrap_or_else(PoisonError::into_inner) = status;
            tokio::time::sleep(OWNER_POLL).await;
        }
    }
}

impl DataPlaneReport for OwnerReport {
    fn applied_revision(&self) -> Option<Revision> {
        self.owners_status()?.applied_revision
    }

    fn member_health(&self, member: &MemberId) -> Option<bool> {
        self.owners_status()?
            .members
            .iter()
            .find(|verdict| verdict.member_id == member.as_str())
            .map(|verdict| verdict.healthy)
    }

    fn listener_error(&self, listener: &ListenerId) -> Option<String> {
        self.owners_status()?
            .listener_errors
            .get(listener.as_str())
            .cloned()
    }

    fn listener_counters(&self, listener: &ListenerId) -> Option<v1::TrafficCounters> {
        self.owners_status()?
            .listener_counters
            .get(listener.as_str())
            .cloned()
    }

    fn member_counters(&self, member: &MemberId) -> Option<v1::TrafficCounters> {
        self.owners_status()?
            .member_counters
            .get(member.as_str())
            .cloned()
    }
}

/// The forwarder configuration of `source`: the listeners on `held`
/// addresses served, the others on standby.
pub fn translate(
    source: &DataPlaneConfig,
    held: &BTreeSet<Ipv4Addr>,
    generation: u64,
    data_keys: &DataKeys,
) -> dataplane::Config {
    // What this node does not hold it keeps warm: TLS built, members checked.
    let (listeners, standby) = source
        .listeners
        .iter()
        .map(|entry| (held.contains(&entry.address), listener(entry, data_keys)))
        .partition::<Vec<_>, _>(|(served, _)| *served);
    let unzip = |listeners: Vec<(bool, dataplane::config::Listener)>| {
        listeners
            .into_iter()
            .map(|(_, listener)| listener)
            .collect()
    };
    dataplane::Config {
        generation,
        listeners: unzip(listeners),
        standby: unzip(standby),
        http: dataplane::config::HttpLimits::default(),
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
            },
            group,
        ),
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

/// Feeds `data_plane` from `replica`: the projection at every applied entry,
/// and the EIP addresses while the lease says this node may hold them
/// ([`crate::eip::lease`]), re-deciding at every change of Raft's metrics
/// (each quorum acknowledgement renews the hold) and when a hold runs out.
///
/// Order: a claim binds the addresses before the forwarder listens on them;
/// a release stops the forwarder before the addresses go.
pub async fn feed_from(
    replica: Arc<crate::replica::Replica>,
    data_plane: Arc<NodeDataPlane>,
    binder: Arc<dyn Binder>,
    timing: LeaseTiming,
    mut yielding: tokio::sync::watch::Receiver<bool>,
    transfer: crate::eip::TransferMark,
    ownership: crate::metrics::OwnershipMetrics,
) {
    let mut metrics = replica.raft().metrics();
    let mut compiled: Option<(Option<u64>, DataPlaneConfig)> = None;
    let mut owned = false;
    let mut last_error = None;
    loop {
        let now = Instant::now();
        let current = replica.metrics();
        let applied = current.last_applied.as_ref().map(|log_id| log_id.index);
        if compiled.as_ref().is_none_or(|(index, _)| *index != applied) {
            let source = match replica.state() {
                Ok(state) => state.data_plane_config(),
                Err(_) => return,
            };
            compiled = Some((applied, source));
        }
        let Some((_, source)) = compiled.as_ref() else {
            return;
        };
        let decision = if *yielding.borrow_and_update() {
            Decision::Release(Why::HandingOver)
        } else if crate::eip::transfer_forbids(&transfer, current.current_term, now) {
            Decision::Release(Why::Transfer)
        } else {
            decide(&leadership(&replica, &current, now), &timing, now)
        };
        let (owner, wake) = match decision {
            Decision::Hold { until } => {
                let held: BTreeSet<Ipv4Addr> =
                    source.listeners.iter().map(|entry| entry.address).collect();
                match bind(&binder, &held, until).await {
                    Ok(()) => {
                        last_error = None;
                        data_plane.feed(source, &held, true);
                        ownership.held(until);
                        (true, until)
                    }
                    Err(error) => {
                        if last_error.as_ref() != Some(&error) {
                            tracing::error!(%error, "cannot hold the EIPs");
                            last_error = Some(error);
                        }
                        unbind(&data_plane, &binder, source).await;
                        ownership.not_held(Why::BinderFailed);
                        (false, until)
                    }
                }
            }
            Decision::Release(why) => {
                unbind(&data_plane, &binder, source).await;
                ownership.not_held(why);
                (false, now + Duration::from_secs(3600))
            }
        };
        if owner != owned {
            match decision {
                Decision::Hold { .. } => tracing::info!("holding the EIPs"),
                Decision::Release(why) => tracing::info!(reason = %why, "released the EIPs"),
            }
            owned = owner;
        }
        tokio::select! {
            changed = metrics.changed() => if changed.is_err() { return },
            changed = yielding.changed() => if changed.is_err() { return },
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Holds `addresses` until `until` through `binder`, off the async workers
/// (the binder itself undoes a hold that reached the kernel too late).
async fn bind(
    binder: &Arc<dyn Binder>,
    addresses: &BTreeSet<Ipv4Addr>,
    until: Instant,
) -> Result<(), String> {
    let binder = Arc::clone(binder);
    let addresses = addresses.clone();
    tokio::task::spawn_blocking(move || binder.hold(&addresses, until.into_std()))
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())
}

/// Stops serving the EIPs: the forwarder first, then the addresses.
async fn unbind(data_plane: &NodeDataPlane, binder: &Arc<dyn Binder>, source: &DataPlaneConfig) {
    data_plane.feed(source, &BTreeSet::new(), false);
    if binder.held().is_empty() {
        return;
    }
    let binder = Arc::clone(binder);
    let released = tokio::task::spawn_blocking(move || binder.release()).await;
    match released {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot release the EIPs now; their holds end by themselves");
        }
        Err(error) => tracing::error!(%error, "the EIP release task failed"),
    }
}

/// The lease's view of this node's leadership. A sole voter holds without
/// acknowledgements: no other node can be elected.
fn leadership(
    replica: &crate::replica::Replica,
    metrics: &openraft::RaftMetrics<fulcrum_raft_store::raft::TypeConfig>,
    now: Instant,
) -> Leadership {
    let leading = metrics.current_leader == Some(replica.id())
        && metrics.state == openraft::ServerState::Leader;
    let mut voters = metrics.membership_config.membership().voter_ids();
    let sole_voter = voters.next() == Some(replica.id()) && voters.next().is_none();
    Leadership {
        leading,
        term: metrics.current_term,
        applied_term: metrics
            .last_applied
            .as_ref()
            .map(|log_id| log_id.leader_id.term),
        last_quorum_acked: if sole_voter {
            Some(now)
        } else {
            // openraft's instant, carried over to tokio's by its age.
            metrics
                .last_quorum_acked
                .as_ref()
                .map(|acked| now - age(**acked))
        },
    }
}

/// How long ago `instant` was, on its own runtime's clock.
fn age<I: openraft::Instant>(instant: I) -> Duration {
    I::now() - instant
}
