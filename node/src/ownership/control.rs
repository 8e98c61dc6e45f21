//! The ownership loop: follows the data-plane projection, decides by the
//! lease rule ([`super::lease`]) whether this node holds the EIP addresses,
//! and feeds the node's forwarder accordingly.
//!
//! It wakes only when something it decides on may have changed: a new
//! applied index (the projection, a new leader's first entry of its term), a
//! change of leadership, vote or membership (openraft's server metrics,
//! which a heartbeat does not touch), a hand-over, or a deadline: a hold's
//! renewal point, halfway through the hold, or its end. It calls the binder
//! only when the held set changes or a renewal is due.
//!
//! Order: a claim binds the addresses before the forwarder listens on them;
//! a release stops the forwarder before the addresses go.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use fulcrum_eip::Binder;
use openraft::async_runtime::WatchReceiver;
use tokio::time::Instant;

use super::lease::{Decision, Leadership, LeaseTiming, Why, decide};
use super::{TransferMark, transfer_forbids};
use crate::dataplane::{Followed, NodeDataPlane};
use crate::metrics::OwnershipMetrics;
use crate::replica::Replica;

/// How soon a leader that may not hold yet (its term's first entry not
/// applied, no quorum acknowledgement yet, a hold run out, a transfer's
/// quiet time) decides again: none of these wakes the loop by itself.
const RETRY_WHILE_LEADING: Duration = Duration::from_millis(20);

/// How long a node that neither leads nor holds sleeps when nothing wakes it.
const IDLE: Duration = Duration::from_secs(3600);

/// What the loop needs besides the replica: where the decision goes and
/// what can forbid a hold.
pub struct Ownership {
    /// This node's forwarder.
    pub data_plane: Arc<NodeDataPlane>,
    /// Holds and releases the addresses.
    pub binder: Arc<dyn Binder>,
    /// The lease's timing.
    pub timing: LeaseTiming,
    /// True while the node hands its leadership over.
    pub yielding: tokio::sync::watch::Receiver<bool>,
    /// The last leadership transfer triggered.
    pub transfer: TransferMark,
    /// Claims, releases and the lease's remaining time.
    pub metrics: OwnershipMetrics,
}

/// Runs the ownership loop of `replica` until the replica stops.
pub async fn run(replica: Arc<Replica>, mut ownership: Ownership) {
    let mut server = replica.raft().server_metrics();
    let mut applied = replica.applied_index();
    let mut followed = Followed::default();
    let mut addresses = BTreeSet::new();
    let mut bound: Option<(BTreeSet<Ipv4Addr>, Instant)> = None;
    let mut owned = false;
    let mut last_error = None;
    loop {
        let now = Instant::now();
        let addresses_version = followed.addresses_version();
        match replica.state() {
            Ok(state) => followed.catch_up(&state),
            Err(_) => return,
        }
        if followed.addresses_version() != addresses_version {
            addresses = followed.addresses();
        }
        let current = replica.metrics();
        let leadership = leadership(&replica, &current, now);
        let decision = if *ownership.yielding.borrow_and_update() {
            Decision::Release(Why::HandingOver)
        } else if transfer_forbids(&ownership.transfer, current.current_term, now) {
            Decision::Release(Why::Transfer)
        } else {
            decide(&leadership, &ownership.timing, now)
        };
        let (owner, wake) = match decision {
            Decision::Hold { until } => {
                // Renew halfway through the hold; bind again only when the
                // set changed or the renewal is due.
                let renew_at = until
                    .checked_sub(ownership.timing.hold() / 2)
                    .unwrap_or(until);
                let due = bound
                    .as_ref()
                    .is_none_or(|(held, renewed_at)| *held != addresses || now >= *renewed_at);
                let held = if due {
                    bind(&ownership.binder, &addresses, until).await
                } else {
                    Ok(())
                };
                match held {
                    Ok(()) => {
                        if due {
                            bound = Some((addresses.clone(), renew_at));
                        }
                        last_error = None;
                        ownership.data_plane.feed(&mut followed, &addresses, true);
                        ownership.metrics.held(until);
                        let renewal = bound.as_ref().map_or(until, |(_, at)| *at);
                        // A renewal that gained nothing (no fresher quorum
                        // acknowledgement) looks again soon, not at the end.
                        let wake = if renewal > now {
                            renewal
                        } else {
                            until.min(now + RETRY_WHILE_LEADING)
                        };
                        (true, wake)
                    }
                    Err(error) => {
                        if last_error.as_ref() != Some(&error) {
                            tracing::error!(%error, "cannot hold the EIPs");
                            last_error = Some(error);
                        }
                        bound = None;
                        unbind(&ownership.data_plane, &ownership.binder, &mut followed).await;
                        ownership.metrics.not_held(Why::BinderFailed);
                        (false, until)
                    }
                }
            }
            Decision::Release(why) => {
                bound = None;
                unbind(&ownership.data_plane, &ownership.binder, &mut followed).await;
                ownership.metrics.not_held(why);
                let retry = if leadership.leading {
                    RETRY_WHILE_LEADING
                } else {
                    IDLE
                };
                (false, now + retry)
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
            changed = server.changed() => if changed.is_err() { return },
            changed = applied.changed() => if changed.is_err() { return },
            changed = ownership.yielding.changed() => if changed.is_err() { return },
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
async fn unbind(data_plane: &NodeDataPlane, binder: &Arc<dyn Binder>, followed: &mut Followed) {
    data_plane.feed(followed, &BTreeSet::new(), false);
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
    replica: &Replica,
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
