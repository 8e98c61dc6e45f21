//! Passive health: what the traffic itself says about a member. A member
//! that fails `consecutive_failures` requests or connections in a row (its
//! connection refused or timed out; for HTTP, an answer of 500 or above) is
//! ejected for the group's ejection time: no new connection or request goes
//! to it until then, without waiting for the next health probe. Never more
//! than `max_ejected_percent` of a group is ejected at once (at least one
//! member may always be); a group whose usable members are all ejected is
//! served by them anyway rather than refused.
//!
//! The state is per member and shared by every thread (atomics): a failure
//! seen on one thread counts for all.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use crate::config::PassiveHealth;

/// One member's recent outcomes.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    /// Failures since the last success or ejection.
    consecutive_failures: AtomicU32,
    /// Until when the member is ejected, in milliseconds of [`now_ms`]; 0
    /// when it never was.
    ejected_until_ms: AtomicU64,
}

/// Milliseconds since the first call in this process: the clock of
/// [`Outcomes`] (monotonic, and small enough for an atomic).
pub(crate) fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Outcomes {
    /// Whether the member is ejected at `now` (milliseconds of [`now_ms`]).
    pub(crate) fn is_ejected(&self, now: u64) -> bool {
        self.ejected_until_ms.load(Ordering::Acquire) > now
    }

    /// A request or connection the member served.
    pub(crate) fn succeeded(&self) {
        if self.consecutive_failures.load(Ordering::Relaxed) != 0 {
            self.consecutive_failures.store(0, Ordering::Relaxed);
        }
    }

    /// A failure. Answers whether it ejects the member now: when it makes
    /// `policy.consecutive_failures` in a row and `may_eject` (the group's
    /// bound) allows.
    pub(crate) fn failed(
        &self,
        policy: &PassiveHealth,
        now: u64,
        may_eject: impl FnOnce() -> bool,
    ) -> bool {
        let failures = self.consecutive_failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures < policy.consecutive_failures || self.is_ejected(now) || !may_eject() {
            return false;
        }
        let ejection = u64::try_from(policy.ejection.as_millis()).unwrap_or(u64::MAX);
        self.ejected_until_ms
            .store(now.saturating_add(ejection), Ordering::Release);
        self.consecutive_failures.store(0, Ordering::Release);
        true
    }
}

/// How many members of a group of `members` may be ejected at once under
/// `policy`: its share, rounded down, but at least one.
pub(crate) fn ejectable(policy: &PassiveHealth, members: usize) -> usize {
    (members * policy.max_ejected_percent as usize / 100).max(1)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn policy() -> PassiveHealth {
        PassiveHealth {
            consecutive_failures: 3,
            ejection: Duration::from_millis(1000),
            max_ejected_percent: 50,
        }
    }

    #[test]
    fn consecutive_failures_eject_for_the_ejection_time() {
        let outcomes = Outcomes::default();
        assert!(!outcomes.failed(&policy(), 100, || true));
        outcomes.succeeded();
        assert!(!outcomes.failed(&policy(), 100, || true));
        assert!(!outcomes.failed(&policy(), 100, || true));
        assert!(
            outcomes.failed(&policy(), 100, || true),
            "the third in a row"
        );
        assert!(outcomes.is_ejected(100));
        assert!(outcomes.is_ejected(1099));
        assert!(!outcomes.is_ejected(1100), "back after the ejection time");
    }

    #[test]
    fn the_group_bound_keeps_a_member_in() {
        let outcomes = Outcomes::default();
        for _ in 0..10 {
            assert!(!outcomes.failed(&policy(), 0, || false));
        }
        assert!(!outcomes.is_ejected(0));
        assert_eq!(ejectable(&policy(), 2), 1);
        assert_eq!(ejectable(&policy(), 5), 2);
        assert_eq!(ejectable(&policy(), 1), 1);
    }
}
