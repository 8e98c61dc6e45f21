//! Weighted least connections: the member with the fewest open connections
//! per unit of weight; among equals, the next one after the last chosen, so
//! that an idle group is still spread evenly.

use super::Candidate;

/// The state of one group's weighted least connections.
#[derive(Clone, Debug)]
pub struct WeightedLeastConnections {
    weights: Vec<u64>,
    next: usize,
}

impl WeightedLeastConnections {
    /// A balancer over `candidates`.
    pub fn new(candidates: &[Candidate]) -> Self {
        Self {
            weights: candidates.iter().map(|c| u64::from(c.weight)).collect(),
            next: 0,
        }
    }

    /// The `usable` member with the lowest `open(i) / weight(i)`, or `None`
    /// when every usable weight is 0.
    pub fn pick(
        &mut self,
        open: impl Fn(usize) -> u64,
        usable: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let count = self.weights.len();
        let mut best: Option<(usize, u64)> = None;
        for step in 0..count {
            let n = (self.next + step) % count;
            let weight = self.weights[n];
            if weight == 0 || !usable(n) {
                continue;
            }
            let load = open(n);
            // load / weight < best_load / best_weight, without division.
            let better = best.is_none_or(|(b, best_load)| {
                u128::from(load) * u128::from(self.weights[b])
                    < u128::from(best_load) * u128::from(weight)
            });
            if better {
                best = Some((n, load));
            }
        }
        let (chosen, _) = best?;
        self.next = (chosen + 1) % count;
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::test_support::candidates;

    #[test]
    fn the_member_with_fewer_open_connections_per_weight_wins() {
        let mut balancer = WeightedLeastConnections::new(&candidates(&[1, 1]));
        let open = [5u64, 2];
        assert_eq!(balancer.pick(|n| open[n], |_| true), Some(1));
        // Weight 3 with 6 open (2 per unit) beats weight 1 with 3 open.
        let mut balancer = WeightedLeastConnections::new(&candidates(&[1, 3]));
        let open = [3u64, 6];
        assert_eq!(balancer.pick(|n| open[n], |_| true), Some(1));
    }

    #[test]
    fn equals_take_turns_and_weight_zero_takes_nothing() {
        let mut balancer = WeightedLeastConnections::new(&candidates(&[1, 0, 1]));
        let picks: Vec<usize> = (0..4)
            .filter_map(|_| balancer.pick(|_| 0, |_| true))
            .collect();
        assert_eq!(picks, vec![0, 2, 0, 2]);
        let mut nothing = WeightedLeastConnections::new(&candidates(&[0]));
        assert_eq!(nothing.pick(|_| 0, |_| true), None);
    }
}
