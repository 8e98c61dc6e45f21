//! Smooth weighted round robin (nginx's): over any window of sum-of-weights
//! picks, each member is chosen exactly its weight's times, interleaved
//! rather than in runs (weights 5, 1, 1 give a a b a c a a).

use super::Candidate;

/// The state of one group's smooth weighted round robin.
#[derive(Clone, Debug)]
pub struct SmoothWeightedRoundRobin {
    weights: Vec<i64>,
    current: Vec<i64>,
    total: i64,
}

impl SmoothWeightedRoundRobin {
    /// A balancer over `candidates`.
    pub fn new(candidates: &[Candidate]) -> Self {
        let weights: Vec<i64> = candidates.iter().map(|c| i64::from(c.weight)).collect();
        Self {
            total: weights.iter().sum(),
            current: vec![0; weights.len()],
            weights,
        }
    }

    /// The next member among those `usable`, or `None` when every usable
    /// weight is 0.
    pub fn pick(&mut self, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let mut total = 0;
        let mut best: Option<usize> = None;
        for (n, weight) in self.weights.iter().enumerate() {
            if *weight == 0 || !usable(n) {
                continue;
            }
            total += weight;
            self.current[n] += weight;
            if best.is_none_or(|b| self.current[n] > self.current[b]) {
                best = Some(n);
            }
        }
        let chosen = best?;
        self.current[chosen] -= total;
        debug_assert!(total <= self.total);
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::test_support::candidates;

    #[test]
    fn picks_follow_the_weights_exactly_and_interleave() {
        let mut balancer = SmoothWeightedRoundRobin::new(&candidates(&[5, 1, 1]));
        let picks: Vec<usize> = (0..7).filter_map(|_| balancer.pick(|_| true)).collect();
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);

        let mut balancer = SmoothWeightedRoundRobin::new(&candidates(&[3, 1]));
        let mut counts = [0u32; 2];
        for _ in 0..4000 {
            counts[balancer.pick(|_| true).unwrap()] += 1;
        }
        assert_eq!(counts, [3000, 1000]);
    }

    #[test]
    fn weight_zero_is_never_picked_and_all_zero_picks_nothing() {
        let mut balancer = SmoothWeightedRoundRobin::new(&candidates(&[0, 2, 0]));
        assert!((0..100).all(|_| balancer.pick(|_| true) == Some(1)));
        let mut nothing = SmoothWeightedRoundRobin::new(&candidates(&[0, 0]));
        assert_eq!(nothing.pick(|_| true), None);
        let mut empty = SmoothWeightedRoundRobin::new(&[]);
        assert_eq!(empty.pick(|_| true), None);
    }
}
