//! EIP ownership: which node holds the EIP addresses, and when.
//!
//! [`lease`] holds the rule and its timing argument; [`control`] is the one
//! loop that applies it: while the rule says hold, the node's binder
//! ([`fulcrum_eip`]) holds the addresses until the lease's end, renewed
//! halfway through, and the node's forwarder serves the listeners of every
//! associated EIP; otherwise it serves none and keeps them warm. A leader's
//! hand-over ([`Handover`]) and a leadership transfer
//! ([`Handover::transfer_to`], which leaves a [`TransferMark`]) make the loop
//! release first.
//!
//! Dependencies run one way: this module uses the data plane and the
//! replica; neither uses it.

pub mod control;
pub mod lease;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use fulcrum_eip::Binder;

use crate::dataplane::NodeDataPlane;
use crate::deadline::remaining;
use crate::replica::Replica;

/// A leader's graceful hand-over: before it asks another node to take
/// leadership (which the voters grant without waiting for the lease), it
/// lets go of the EIPs, so the new leader may claim them at once.
pub struct Handover {
    yielding: watch::Sender<bool>,
    data_plane: Arc<NodeDataPlane>,
    binder: Arc<dyn Binder>,
    /// The term in which a transfer was last triggered, and when. For
    /// [`TRANSFER_QUIET`] after that, in that term, the node holds no EIP
    /// even if the transfer seems to have failed: a late transfer message
    /// still lets its target win an election that skips the voters' leases.
    transferred_in: TransferMark,
}

/// How long after triggering a transfer the node stays without EIPs in
/// that term (a transfer message is a single RPC with a deadline well under it).
pub const TRANSFER_QUIET: Duration = Duration::from_secs(3);

/// Why a leadership transfer did not complete.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The target is not a voter (only a voter may lead).
    #[error("node {0} is not a voter of the cluster")]
    NotVoter(u64),
    /// The deadline passed first: the target did not catch up, or did not
    /// win its election, in time.
    #[error("{0}")]
    TimedOut(String),
    /// The EIPs could not be released, or Raft refused the transfer.
    #[error("{0}")]
    Unavailable(String),
}

/// The term and time of the last transfer triggered.
pub type TransferMark = Arc<std::sync::Mutex<Option<(u64, tokio::time::Instant)>>>;

/// Whether `mark` forbids holding in `term` at `now`.
pub fn transfer_forbids(mark: &TransferMark, term: u64, now: tokio::time::Instant) -> bool {
    mark.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .is_some_and(|(marked, at)| marked == term && now < at + TRANSFER_QUIET)
}

/// How long a hand-over lets open connections on the EIPs finish before it
/// releases them; new connections wait meanwhile (their SYNs are dropped,
/// and clients send them again, to the new owner).
pub const HANDOVER_DRAIN: Duration = Duration::from_millis(500);

/// Released EIPs; dropping it lets the node claim them again if it still
/// leads (a transfer that failed).
pub struct Released<'a>(&'a Handover);

impl Drop for Released<'_> {
    fn drop(&mut self) {
        self.0.yielding.send_replace(false);
        // A release ends the draining; this ends one a failed release left.
        if !self.0.binder.held().is_empty() {
            let binder = Arc::clone(&self.0.binder);
            tokio::task::spawn_blocking(move || binder.drain(false));
        }
    }
}

impl Handover {
    /// The hand-over of the node that serves through `data_plane` on the
    /// addresses `binder` holds.
    pub fn new(data_plane: Arc<NodeDataPlane>, binder: Arc<dyn Binder>) -> Self {
        Self {
            yielding: watch::Sender::new(false),
            data_plane,
            binder,
            transferred_in: TransferMark::default(),
        }
    }

    /// Records that a transfer is triggered in `term`; call it before
    /// triggering.
    fn transferring_in(&self, term: u64) {
        *self
            .transferred_in
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((term, tokio::time::Instant::now()));
    }

    /// The last transfer's mark, for the feed ([`transfer_forbids`]).
    pub fn transfer_mark(&self) -> TransferMark {
        Arc::clone(&self.transferred_in)
    }

    /// Whether the node is handing leadership over (the feed releases then).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.yielding.subscribe()
    }

    /// Makes node `to` the leader by `deadline`, EIPs first: this leader
    /// waits until `to` has its whole log (a lagging target refuses a
    /// transfer, and another node wins the next election), lets go of the
    /// EIPs ([`Handover::release`]) so that `to` may claim them as soon as it
    /// has committed (the voters grant a transfer's election without waiting
    /// for the lease), marks the term, and triggers the transfer. Answers
    /// the leader then seen. Asked of this node itself, it only waits to
    /// lead. Call it on the leader.
    ///
    /// # Errors
    /// [`TransferError`]: `to` is no voter, the deadline passed, or the
    /// release or the trigger failed. A failed transfer lets the node claim
    /// the EIPs again once [`TRANSFER_QUIET`] has passed.
    pub async fn transfer_to(
        &self,
        replica: &Replica,
        to: u64,
        deadline: tokio::time::Instant,
    ) -> Result<Option<u64>, TransferError> {
        let metrics = replica.metrics();
        if !metrics
            .membership_config
            .membership()
            .voter_ids()
            .any(|id| id == to)
        {
            return Err(TransferError::NotVoter(to));
        }
        let _released = if to == replica.id() {
            None
        } else {
            replica
                .raft()
                .wait(Some(remaining(deadline)))
                .metrics(
                    |metrics| {
                        let last = metrics.last_log_index;
                        metrics.replication.as_ref().is_some_and(|replication| {
                            replication.get(&to).is_some_and(|matched| {
                                matched.as_ref().map(|log_id| log_id.index) >= last
                            })
                        })
                    },
                    "the transfer's target caught up",
                )
                .await
                .map_err(|error| TransferError::TimedOut(error.to_string()))?;
            let released = self
                .release(remaining(deadline))
                .await
                .map_err(|why| TransferError::Unavailable(why.to_owned()))?;
            self.transferring_in(replica.metrics().current_term);
            replica
                .raft()
                .trigger()
                .transfer_leader(to)
                .await
                .map_err(|fatal| TransferError::Unavailable(fatal.to_string()))?;
            Some(released)
        };
        let metrics = replica
            .raft()
            .wait(Some(remaining(deadline)))
            .metrics(
                |metrics| metrics.current_leader == Some(to),
                "leadership transferred",
            )
            .await
            .map_err(|error| TransferError::TimedOut(error.to_string()))?;
        Ok(metrics.current_leader)
    }

    /// Releases the EIPs and waits, up to `patience`, until this node's
    /// forwarder has stopped serving them and its binder holds none. First,
    /// for up to [`HANDOVER_DRAIN`], new connections wait while open ones
    /// finish.
    ///
    /// # Errors
    /// The forwarder did not confirm the release in time (the EIPs stay
    /// released until the returned guard would have been dropped).
    pub async fn release(&self, patience: Duration) -> Result<Released<'_>, &'static str> {
        let released = Released(self);
        let deadline = tokio::time::Instant::now() + patience;
        let binder = Arc::clone(&self.binder);
        match tokio::task::spawn_blocking(move || binder.drain(true)).await {
            Ok(Ok(())) => {
                let drained = tokio::time::Instant::now() + HANDOVER_DRAIN.min(patience / 2);
                while self.data_plane.active_connections() > 0
                    && tokio::time::Instant::now() < drained
                {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "cannot drain the EIPs; releasing at once"),
            Err(error) => tracing::warn!(%error, "the drain task failed; releasing at once"),
        }
        self.yielding.send_replace(true);
        while !(self.data_plane.serves_nothing() && self.binder.held().is_empty()) {
            if tokio::time::Instant::now() >= deadline {
                return Err("the data plane did not release the EIPs in time");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(released)
    }
}
