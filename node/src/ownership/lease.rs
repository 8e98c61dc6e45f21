//! The EIP lease: when this node may hold the EIP addresses.
//!
//! openraft gives each voter a lease: a voter that accepted a heartbeat from
//! the leader refuses to vote for anyone else for `voter_lease` (openraft's
//! `election_timeout_max`) after receiving it, unless the leader itself asks
//! for a leadership transfer. The leader learns `last_quorum_acked`: the
//! send time, on its own clock, of the latest heartbeat a quorum
//! acknowledged.
//!
//! **The rule.** A node holds the EIPs only while all of these are true:
//! 1. it is the leader;
//! 2. it has applied an entry of its own term (its first commit in the term:
//!    it knows the committed state, and a quorum has accepted its term);
//! 3. `now < last_quorum_acked + hold`, with
//!    `hold = voter_lease × (1 − ρ) / (1 + ρ) − release_latency`, where `ρ`
//!    bounds the clock-rate error of any node and `release_latency` bounds
//!    how long a release takes to reach the kernel.
//!
//! **Why no two nodes hold at once.** Let `t` be the real time at which the
//! old leader sent its last heartbeat that a quorum acknowledged. It holds
//! until at most `t + hold × (1 + ρ)` in real time (its clock may run slow),
//! and its binder makes the release effective within `release_latency`, so
//! the address is gone by `t + voter_lease × (1 − ρ)`. Any new leader needs
//! votes from a quorum, which shares a voter with the quorum that
//! acknowledged `t`; that voter received the heartbeat after `t` and refuses
//! votes for `voter_lease` on its clock, at least `voter_lease × (1 − ρ)` in
//! real time (also when it restarts meanwhile: openraft forgets the lease
//! across a restart, so the node's Raft service refuses votes for
//! `voter_lease × (1 + ρ)` after it starts). So the new leader is elected after the old hold has ended,
//! and rule 2 puts its claim later still. A leadership transfer bypasses
//! the voters' lease, so a leader releases before it transfers.
//!
//! The binder must make a hold expire by itself (the kernel keeps an address
//! until someone deletes it, and a killed or stopped process deletes
//! nothing): each renewal tells it [`Decision::Hold::until`], and the hold
//! ends then unless renewed.

use std::time::Duration;

use tokio::time::Instant;

/// The timing that the rule rests on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeaseTiming {
    /// How long a voter refuses votes after a heartbeat (openraft's
    /// `election_timeout_max`).
    pub voter_lease: Duration,
    /// Bound on any node's clock-rate error, as a fraction (0.01 = 1 %).
    pub drift: f64,
    /// Bound on the time a release takes to be effective in the kernel.
    pub release_latency: Duration,
}

impl LeaseTiming {
    /// How long after `last_quorum_acked` the leader may hold.
    pub fn hold(&self) -> Duration {
        let scaled = self.voter_lease.as_secs_f64() * (1.0 - self.drift) / (1.0 + self.drift);
        Duration::from_secs_f64(scaled.max(0.0)).saturating_sub(self.release_latency)
    }
}

/// What the node knows about its leadership at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// It is the leader.
    pub leading: bool,
    /// Its current term.
    pub term: u64,
    /// The term of the last entry it applied.
    pub applied_term: Option<u64>,
    /// The send time of the latest heartbeat a quorum acknowledged (leaders only).
    pub last_quorum_acked: Option<Instant>,
}

/// Whether to hold the EIPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Hold them until `until` unless a later decision renews the hold.
    Hold {
        /// When the hold ends by itself.
        until: Instant,
    },
    /// Do not hold them, and why.
    Release(Why),
}

/// Why a node does not hold the EIPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Another node leads, or none.
    NotLeader,
    /// A new leader that has not applied an entry of its term yet.
    TermNotApplied,
    /// A new leader that no quorum has acknowledged yet.
    NoQuorumAck,
    /// The leader's hold ran out: no quorum acknowledged it recently
    /// (the lease rule's guard against two holders).
    LeaseExpired,
    /// The leader is handing its leadership over.
    HandingOver,
    /// A leadership transfer was triggered in this term.
    Transfer,
    /// The binder could not hold the addresses.
    BinderFailed,
}

impl Why {
    /// Every reason.
    pub const ALL: [Why; 7] = [
        Why::NotLeader,
        Why::TermNotApplied,
        Why::NoQuorumAck,
        Why::LeaseExpired,
        Why::HandingOver,
        Why::Transfer,
        Why::BinderFailed,
    ];

    /// A short label, for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Why::NotLeader => "not_leader",
            Why::TermNotApplied => "term_not_applied",
            Why::NoQuorumAck => "no_quorum_ack",
            Why::LeaseExpired => "lease_expired",
            Why::HandingOver => "handing_over",
            Why::Transfer => "transfer",
            Why::BinderFailed => "binder_failed",
        }
    }

    /// Whether this keeps a leader from holding to rule out two holders
    /// (the lease running out, a hand-over, a transfer).
    pub fn is_guard(self) -> bool {
        matches!(self, Why::LeaseExpired | Why::HandingOver | Why::Transfer)
    }
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Why::NotLeader => "not the leader",
            Why::TermNotApplied => "no entry of this term applied yet",
            Why::NoQuorumAck => "no quorum acknowledgement yet",
            Why::LeaseExpired => "lease expired: no recent quorum acknowledgement",
            Why::HandingOver => "handing leadership over",
            Why::Transfer => "leadership transfer triggered in this term",
            Why::BinderFailed => "the binder cannot hold the addresses",
        })
    }
}

/// Applies the rule at `now`.
pub fn decide(leadership: &Leadership, timing: &LeaseTiming, now: Instant) -> Decision {
    if !leadership.leading {
        return Decision::Release(Why::NotLeader);
    }
    if leadership.applied_term != Some(leadership.term) {
        return Decision::Release(Why::TermNotApplied);
    }
    let Some(acked) = leadership.last_quorum_acked else {
        return Decision::Release(Why::NoQuorumAck);
    };
    let until = acked + timing.hold();
    if now < until {
        Decision::Hold { until }
    } else {
        Decision::Release(Why::LeaseExpired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: LeaseTiming = LeaseTiming {
        voter_lease: Duration::from_millis(1000),
        drift: 0.01,
        release_latency: Duration::from_millis(50),
    };

    fn leading(now: Instant, acked_ago: Duration) -> Leadership {
        Leadership {
            leading: true,
            term: 3,
            applied_term: Some(3),
            last_quorum_acked: Some(now - acked_ago),
        }
    }

    #[test]
    fn the_hold_stays_inside_the_voters_lease_with_drift_and_release_time() {
        let hold = TIMING.hold();
        // 1000 ms × 0.99 / 1.01 − 50 ms.
        assert_eq!(hold.as_millis(), 930);
        // Even on a clock running 1 % slow, the hold plus the release (a
        // bound in real time) ends before a voter on a clock running 1 %
        // fast lets its lease go.
        let real_end = hold.as_secs_f64() * 1.01 + TIMING.release_latency.as_secs_f64();
        assert!(
            real_end <= TIMING.voter_lease.as_secs_f64() * 0.99,
            "{real_end}"
        );
    }

    #[test]
    fn a_leader_holds_only_with_a_fresh_quorum_acknowledgement_in_its_own_term() {
        let now = Instant::now() + Duration::from_secs(10);
        assert_eq!(
            decide(&leading(now, Duration::from_millis(100)), &TIMING, now),
            Decision::Hold {
                until: now - Duration::from_millis(100) + TIMING.hold()
            }
        );
        assert!(matches!(
            decide(&leading(now, Duration::from_millis(931)), &TIMING, now),
            Decision::Release(_)
        ));
        let mut first_entry_pending = leading(now, Duration::ZERO);
        first_entry_pending.applied_term = Some(2);
        assert!(matches!(
            decide(&first_entry_pending, &TIMING, now),
            Decision::Release(_)
        ));
        let mut follower = leading(now, Duration::ZERO);
        follower.leading = false;
        assert!(matches!(
            decide(&follower, &TIMING, now),
            Decision::Release(_)
        ));
        let mut never_acked = leading(now, Duration::ZERO);
        never_acked.last_quorum_acked = None;
        assert!(matches!(
            decide(&never_acked, &TIMING, now),
            Decision::Release(_)
        ));
    }
}
