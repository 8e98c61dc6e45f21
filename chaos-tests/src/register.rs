//! Linearizability of register histories: a Wing & Gong search with
//! memoisation, in the manner of Porcupine, split per register.
//!
//! The history becomes a list of call and return events in time order. The
//! search walks it: at a call, it tries to linearize that operation now (the
//! register's model must accept it) and, if the pair (set of operations
//! linearized so far, register value) was not seen before, removes the
//! operation's events and starts again from the head; at a return, the
//! operation returning was not linearized before it, so the search backs
//! up. The history is linearizable when every event is removed.
//! Operations of unknown outcome have no return event: they may be
//! linearized anywhere after their call, including after everything else
//! (which is how "it never took effect" is accounted for).
//!
//! Before the search, operations of unknown outcome whose effect no one
//! could have seen are set aside (see [`without_unobserved_unknowns`]):
//! faults leave hundreds of them, each open to the end of the history, and
//! they are what makes the search explode.
//!
//! The search is exponential in the worst case; a time limit stops it, and
//! running out of time is a verdict of its own that callers count as a
//! failure, never as a pass.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use crate::history::{Action, Operation};

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of the operations, consistent with real time, explains
    /// every result.
    Linearizable,
    /// No such order exists; the register whose history has none.
    NotLinearizable {
        /// The register ("" for single-register histories).
        key: String,
    },
    /// The search ran out of time before deciding.
    TimedOut,
}

/// Checks every register's history within `limit` in all.
pub fn check(operations: &[Operation], limit: Duration) -> Verdict {
    let deadline = Instant::now() + limit;
    let mut by_key: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for operation in operations {
        by_key.entry(&operation.key).or_default().push(operation);
    }
    for (key, operations) in by_key {
        let operations = without_unobserved_unknowns(&operations);
        match check_one(&operations, deadline) {
            Some(true) => {}
            Some(false) => {
                return Verdict::NotLinearizable {
                    key: key.to_owned(),
                };
            }
            None => return Verdict::TimedOut,
        }
    }
    Verdict::Linearizable
}

/// `operations` without the writes and compare-and-sets of unknown outcome
/// whose written value no read returned and no compare-and-set expected,
/// and that were invoked after every failed compare-and-set had completed.
///
/// Sound both ways: such an operation, if it took effect, was overwritten
/// before anyone looked (a look would have returned or expected its value),
/// so the rest of the history is explained as well with it as without it;
/// and an operation of unknown outcome may always not have taken effect. A
/// failed compare-and-set is a look that does not say what it saw (only
/// that it was not `from`), so an unknown operation that may have taken
/// effect before one completed is kept.
pub fn without_unobserved_unknowns<'a>(operations: &[&'a Operation]) -> Vec<&'a Operation> {
    let mut observed = std::collections::BTreeSet::new();
    let mut last_failed_compare = None;
    for operation in operations {
        if let Action::Cas {
            swapped: Some(false),
            ..
        } = operation.action
        {
            last_failed_compare = last_failed_compare.max(operation.completed);
        }
        match operation.action {
            Action::Read { value: Some(value) } if operation.completed.is_some() => {
                observed.insert(value);
            }
            Action::Cas { from, .. } => {
                observed.insert(from);
            }
            _ => {}
        }
    }
    operations
        .iter()
        .copied()
        .filter(|operation| {
            let written = match operation.action {
                Action::Write { value } => value,
                Action::Cas { to, .. } => to,
                Action::Read { .. } => return true,
            };
            operation.completed.is_some()
                || observed.contains(&written)
                || last_failed_compare.is_some_and(|last| operation.invoked < last)
        })
        .collect()
}

/// The register model: the value after `action` from `value`, or `None`
/// when the action's result is impossible from `value`.
fn step(value: Option<i64>, action: &Action) -> Option<Option<i64>> {
    match *action {
        Action::Read { value: read } => (read == value).then_some(value),
        Action::Write { value: written } => Some(Some(written)),
        Action::Cas {
            from,
            to,
            swapped: Some(true),
        } => (value == Some(from)).then_some(Some(to)),
        Action::Cas {
            from,
            swapped: Some(false),
            ..
        } => (value != Some(from)).then_some(value),
        // Unknown outcome: it swapped if the register held `from`.
        Action::Cas {
            from,
            to,
            swapped: None,
        } => Some(if value == Some(from) { Some(to) } else { value }),
    }
}

/// One event of the search's list.
#[derive(Clone, Copy, Debug)]
struct Event {
    operation: usize,
    is_call: bool,
    /// For a call: the index of its return event, if it has one.
    matching: Option<usize>,
    previous: usize,
    next: usize,
}

/// A doubly linked list of events with a sentinel at index 0.
struct Events {
    nodes: Vec<Event>,
}

const SENTINEL: usize = 0;

impl Events {
    fn new(operations: &[&Operation]) -> Self {
        // (time, is return, operation): calls before returns at equal times.
        let mut timeline: Vec<(u64, bool, usize)> = Vec::new();
        for (index, operation) in operations.iter().enumerate() {
            timeline.push((operation.invoked, false, index));
            if let Some(completed) = operation.completed {
                timeline.push((completed, true, index));
            }
        }
        timeline.sort_unstable();
        let mut nodes = vec![Event {
            operation: usize::MAX,
            is_call: false,
            matching: None,
            previous: SENTINEL,
            next: SENTINEL,
        }];
        let mut call_of = vec![usize::MAX; operations.len()];
        for (time_index, (_, is_return, operation)) in timeline.iter().enumerate() {
            let node = time_index + 1;
            nodes.push(Event {
                operation: *operation,
                is_call: !is_return,
                matching: None,
                previous: node - 1,
                next: if node == timeline.len() {
                    SENTINEL
                } else {
                    node + 1
                },
            });
            if *is_return {
                let call = call_of[*operation];
                nodes[call].matching = Some(node);
            } else {
                call_of[*operation] = node;
            }
        }
        nodes[SENTINEL].next = if timeline.is_empty() { SENTINEL } else { 1 };
        nodes[SENTINEL].previous = timeline.len();
        Self { nodes }
    }

    fn head(&self) -> usize {
        self.nodes[SENTINEL].next
    }

    fn unlink(&mut self, node: usize) {
        let Event { previous, next, .. } = self.nodes[node];
        self.nodes[previous].next = next;
        self.nodes[next].previous = previous;
    }

    fn relink(&mut self, node: usize) {
        let Event { previous, next, .. } = self.nodes[node];
        self.nodes[previous].next = node;
        self.nodes[next].previous = node;
    }

    /// Removes a call and its return (unlinking in this order lets
    /// `restore` undo it in reverse).
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        if let Some(ret) = self.nodes[call].matching {
            self.unlink(ret);
        }
    }

    fn restore(&mut self, call: usize) {
        if let Some(ret) = self.nodes[call].matching {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// `Some(linearizable)`, or `None` when `deadline` passed first.
fn check_one(operations: &[&Operation], deadline: Instant) -> Option<bool> {
    let mut events = Events::new(operations);
    let words = operations.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, Option<i64>)> = HashSet::new();
    let mut stack: Vec<(usize, Option<i64>)> = Vec::new();
    let mut value: Option<i64> = None;
    let mut entry = events.head();
    let mut steps: u64 = 0;
    while events.head() != SENTINEL {
        steps += 1;
        if steps.is_multiple_of(4096) && Instant::now() >= deadline {
            return None;
        }
        let event = events.nodes[entry];
        if entry != SENTINEL && event.is_call {
            let operation = event.operation;
            if let Some(after) = step(value, &operations[operation].action) {
                linearized[operation / 64] |= 1 << (operation % 64);
                if seen.insert((linearized.clone(), after)) {
                    stack.push((entry, value));
                    value = after;
                    events.lift(entry);
                    entry = events.head();
                    continue;
                }
                linearized[operation / 64] &= !(1 << (operation % 64));
            }
            entry = event.next;
        } else {
            // The operation returning here was not linearized before its
            // return (or, at the end of the list, every remaining call is
            // stuck): undo the last choice.
            let Some((call, before)) = stack.pop() else {
                return Some(false);
            };
            let operation = events.nodes[call].operation;
            linearized[operation / 64] &= !(1 << (operation % 64));
            value = before;
            events.restore(call);
            entry = events.nodes[call].next;
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(invoked: u64, completed: Option<u64>, action: Action) -> Operation {
        Operation {
            key: String::new(),
            process: invoked,
            invoked,
            completed,
            action,
        }
    }

    fn read(invoked: u64, completed: u64, value: Option<i64>) -> Operation {
        op(invoked, Some(completed), Action::Read { value })
    }

    fn write(invoked: u64, completed: Option<u64>, value: i64) -> Operation {
        op(invoked, completed, Action::Write { value })
    }

    const LIMIT: Duration = Duration::from_secs(10);

    #[test]
    fn unknown_writes_no_one_saw_are_set_aside_and_seen_ones_kept() {
        // 300 writes of unknown outcome between reads that all see 1: a
        // search over them all would not end; none was seen, so none matters.
        let mut history = vec![write(0, Some(1), 1)];
        for n in 0..300_u64 {
            history.push(write(2 + 3 * n, None, 1000 + n as i64));
            history.push(read(3 + 3 * n, 4 + 3 * n, Some(1)));
        }
        let started = Instant::now();
        assert_eq!(check(&history, LIMIT), Verdict::Linearizable);
        assert!(started.elapsed() < Duration::from_secs(2));
        // An unknown write whose value is read is kept: it explains the read.
        let seen = [write(0, Some(1), 1), write(2, None, 7), read(3, 4, Some(7))];
        assert_eq!(check(&seen, LIMIT), Verdict::Linearizable);
        let refs: Vec<&Operation> = seen.iter().collect();
        assert_eq!(without_unobserved_unknowns(&refs).len(), 3);
        // Setting unseen ones aside hides no violation: the stale read of
        // the first test is still caught among them.
        let mut stale = vec![write(0, Some(1), 1), write(2, Some(3), 2)];
        stale.push(write(4, None, 99));
        stale.push(read(5, 6, Some(1)));
        assert!(matches!(
            check(&stale, LIMIT),
            Verdict::NotLinearizable { .. }
        ));
        // A failed compare-and-set saw some value other than its `from`: an
        // unknown write before it may be what it saw, and is kept.
        let failed_compare = [
            write(0, Some(1), 1),
            write(2, None, 7),
            op(
                3,
                Some(4),
                Action::Cas {
                    from: 1,
                    to: 5,
                    swapped: Some(false),
                },
            ),
            write(5, Some(6), 2),
            read(7, 8, Some(2)),
        ];
        assert_eq!(check(&failed_compare, LIMIT), Verdict::Linearizable);
    }

    #[test]
    fn a_stale_read_is_caught() {
        // w1 ends, then w2 ends, then a read sees 1.
        let history = [
            write(0, Some(1), 1),
            write(2, Some(3), 2),
            read(4, 5, Some(1)),
        ];
        assert!(matches!(
            check(&history, LIMIT),
            Verdict::NotLinearizable { .. }
        ));
    }

    #[test]
    fn a_lost_write_is_caught() {
        // An acknowledged write of 1, then reads that never see it.
        let history = [write(0, Some(1), 1), read(2, 3, None)];
        assert!(matches!(
            check(&history, LIMIT),
            Verdict::NotLinearizable { .. }
        ));
    }

    #[test]
    fn a_write_applied_twice_is_caught() {
        // w1, then w2 overwrites it, then 1 shows again: w1 took effect twice.
        let history = [
            write(0, Some(1), 1),
            write(2, Some(3), 2),
            read(4, 5, Some(2)),
            read(6, 7, Some(1)),
        ];
        assert!(matches!(
            check(&history, LIMIT),
            Verdict::NotLinearizable { .. }
        ));
    }

    #[test]
    fn concurrent_and_unknown_operations_are_accepted_when_some_order_explains_them() {
        let history = [
            // Two concurrent writes; reads after both see the later one.
            write(0, Some(3), 1),
            write(1, Some(2), 2),
            read(4, 5, Some(1)),
            // A write of unknown outcome that shows up later...
            write(6, None, 3),
            read(7, 8, Some(1)),
            read(9, 10, Some(3)),
            // ...and one that never shows up.
            write(11, None, 4),
            op(
                12,
                Some(13),
                Action::Cas {
                    from: 3,
                    to: 5,
                    swapped: Some(true),
                },
            ),
            op(
                14,
                Some(15),
                Action::Cas {
                    from: 3,
                    to: 6,
                    swapped: Some(false),
                },
            ),
            read(16, 17, Some(5)),
        ];
        assert_eq!(check(&history, LIMIT), Verdict::Linearizable);
    }

    #[test]
    fn registers_are_checked_apart() {
        let mut one = write(0, Some(1), 1);
        one.key = "a".into();
        let mut other = read(2, 3, None);
        other.key = "b".into();
        assert_eq!(check(&[one, other], LIMIT), Verdict::Linearizable);
        let mut stale = read(2, 3, None);
        stale.key = "a".into();
        let mut first = write(0, Some(1), 1);
        first.key = "a".into();
        assert_eq!(
            check(&[first, stale], LIMIT),
            Verdict::NotLinearizable { key: "a".into() }
        );
    }
}
