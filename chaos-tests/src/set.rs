//! The set checker: after a workload that adds unique elements (listeners
//! with unique ports, say) and a final read once every fault has healed,
//! every acknowledged add must be present (else it was lost) and nothing may
//! be present that was never added or whose add was refused (else it is a
//! phantom). Adds of unknown outcome may go either way.

use std::collections::BTreeSet;

/// How an add ended, as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged.
    Ok,
    /// Refused: it did not happen.
    Failed,
    /// Unknown (a timeout, a broken connection).
    Unknown,
}

/// One add of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Add {
    /// The element (unique per add).
    pub element: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// What the final read shows against the adds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetReport {
    /// Acknowledged adds missing from the final read.
    pub lost: BTreeSet<u64>,
    /// Elements in the final read that were refused or never added.
    pub phantom: BTreeSet<u64>,
    /// Acknowledged adds present.
    pub acknowledged_present: usize,
    /// Adds of unknown outcome that are present, and absent.
    pub unknown_present: usize,
    /// See `unknown_present`.
    pub unknown_absent: usize,
}

impl SetReport {
    /// No lost and no phantom element.
    pub fn is_valid(&self) -> bool {
        self.lost.is_empty() && self.phantom.is_empty()
    }
}

/// Checks `final_read` against `adds`.
pub fn check(adds: &[Add], final_read: &BTreeSet<u64>) -> SetReport {
    let mut report = SetReport::default();
    let mut allowed = BTreeSet::new();
    for add in adds {
        let present = final_read.contains(&add.element);
        match add.outcome {
            Outcome::Ok if present => report.acknowledged_present += 1,
            Outcome::Ok => {
                report.lost.insert(add.element);
            }
            Outcome::Unknown if present => report.unknown_present += 1,
            Outcome::Unknown => report.unknown_absent += 1,
            Outcome::Failed => continue,
        }
        allowed.insert(add.element);
    }
    report.phantom = final_read.difference(&allowed).copied().collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(element: u64, outcome: Outcome) -> Add {
        Add { element, outcome }
    }

    #[test]
    fn lost_and_phantom_elements_are_found_and_unknowns_go_either_way() {
        let adds = [
            add(1, Outcome::Ok),
            add(2, Outcome::Ok),
            add(3, Outcome::Failed),
            add(4, Outcome::Unknown),
            add(5, Outcome::Unknown),
        ];
        let valid = check(&adds, &BTreeSet::from([1, 2, 4]));
        assert!(valid.is_valid(), "{valid:?}");
        assert_eq!((valid.unknown_present, valid.unknown_absent), (1, 1));

        let broken = check(&adds, &BTreeSet::from([1, 3, 9]));
        assert_eq!(broken.lost, BTreeSet::from([2]));
        assert_eq!(broken.phantom, BTreeSet::from([3, 9]));
        assert!(!broken.is_valid());
    }
}
