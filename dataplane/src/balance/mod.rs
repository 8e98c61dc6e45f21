//! Balancing: which member of a group takes a new connection.
//!
//! Each algorithm works on a list of candidates (a weight per member, 0 for a
//! member that must take nothing new: drained, administratively down or
//! unhealthy) and answers the index of the chosen one, or `None` when no
//! candidate may take it. Each thread keeps its own balancer per group and
//! rebuilds it when the configuration or the health verdicts change.
//!
//! *Invariant:* a candidate of weight 0 is never chosen.

mod least_connections;
mod rendezvous;
mod round_robin;

pub use least_connections::WeightedLeastConnections;
pub use rendezvous::{WeightedRendezvous, fnv1a};
pub use round_robin::SmoothWeightedRoundRobin;

use std::net::IpAddr;

use crate::config::{Algorithm, Group};

/// A member as a balancer sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Stable identity (the member's id): hashing keys on it.
    pub key: String,
    /// Its share; 0 takes nothing new.
    pub weight: u32,
}

/// One group's balancer, of the group's algorithm.
#[derive(Clone, Debug)]
pub enum Balancer {
    /// Smooth weighted round robin.
    RoundRobin(SmoothWeightedRoundRobin),
    /// Weighted least connections.
    LeastConnections(WeightedLeastConnections),
    /// Weighted rendezvous hashing of the client address.
    SourceIp(WeightedRendezvous),
}

/// The members of `group` as balancers see them, with `healthy(i)` telling
/// whether member `i` passes its health check: a member out of rotation or
/// unhealthy has weight 0.
pub fn candidates(group: &Group, healthy: impl Fn(usize) -> bool) -> Vec<Candidate> {
    group
        .members
        .iter()
        .enumerate()
        .map(|(n, member)| Candidate {
            key: member.id.clone(),
            weight: if member.in_rotation() && healthy(n) {
                member.weight
            } else {
                0
            },
        })
        .collect()
}

impl Balancer {
    /// The balancer of `group`, with `healthy(i)` telling whether member `i`
    /// passes its health check.
    pub fn for_group(group: &Group, healthy: impl Fn(usize) -> bool) -> Self {
        Self::over(group.algorithm, &candidates(group, healthy))
    }

    /// A balancer of `algorithm` over `candidates`.
    pub fn over(algorithm: Algorithm, candidates: &[Candidate]) -> Self {
        match algorithm {
            Algorithm::WeightedRoundRobin => {
                Self::RoundRobin(SmoothWeightedRoundRobin::new(candidates))
            }
            Algorithm::WeightedLeastConnections => {
                Self::LeastConnections(WeightedLeastConnections::new(candidates))
            }
            Algorithm::SourceIpHash => Self::SourceIp(WeightedRendezvous::new(candidates)),
        }
    }

    /// The member for a new connection from `client`; `open(i)` is the number
    /// of connections member `i` has open (least connections reads it).
    pub fn pick(&mut self, client: IpAddr, open: impl Fn(usize) -> u64) -> Option<usize> {
        self.pick_where(client, open, |_| true)
    }

    /// The same among the members `usable` says may take it (not one that
    /// just failed, nor an ejected one): the one the algorithm chooses
    /// among them.
    pub fn pick_where(
        &mut self,
        client: IpAddr,
        open: impl Fn(usize) -> u64,
        usable: impl Fn(usize) -> bool + Copy,
    ) -> Option<usize> {
        let chosen = match self {
            Self::RoundRobin(balancer) => balancer.pick(usable),
            Self::LeastConnections(balancer) => balancer.pick(open, usable),
            Self::SourceIp(balancer) => balancer.pick(client, usable),
        };
        debug_assert!(chosen.is_none_or(usable));
        chosen
    }
}

/// Helpers shared by the balancers' tests.
#[cfg(test)]
mod test_support {
    use super::Candidate;

    /// Candidates `m0`, `m1`, … with these weights.
    pub(crate) fn candidates(weights: &[u32]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(n, weight)| Candidate {
                key: format!("m{n}"),
                weight: *weight,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    use super::*;
    use crate::config::Member;

    fn member(id: &str, weight: u32, admin_state_up: bool) -> Member {
        Member {
            id: id.to_owned(),
            address: SocketAddr::from(([127, 0, 0, 1], 9000)),
            weight,
            admin_state_up,
        }
    }

    const ALGORITHMS: [Algorithm; 3] = [
        Algorithm::WeightedRoundRobin,
        Algorithm::WeightedLeastConnections,
        Algorithm::SourceIpHash,
    ];

    fn group(algorithm: Algorithm, members: Vec<Member>) -> Group {
        Group {
            id: "vsg-1".to_owned(),
            algorithm,
            health_check: None,
            members,
            proxy_protocol: None,
            passive_health: None,
            persistence: None,
        }
    }

    #[test]
    fn drained_down_and_unhealthy_members_take_nothing_new() {
        for algorithm in ALGORITHMS {
            let group = group(
                algorithm,
                vec![
                    member("drained", 0, true),
                    member("down", 10, false),
                    member("unhealthy", 10, true),
                    member("serving", 10, true),
                ],
            );
            let mut balancer = Balancer::for_group(&group, |n| n != 2);
            for n in 0..200u32 {
                let client = IpAddr::V4(Ipv4Addr::from(n));
                assert_eq!(balancer.pick(client, |_| 0), Some(3), "{algorithm:?}");
            }
            let mut none = Balancer::for_group(&group, |_| false);
            assert_eq!(none.pick(IpAddr::V4(Ipv4Addr::LOCALHOST), |_| 0), None);
            // Without the one serving member, nobody may take it.
            let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
            assert_eq!(balancer.pick_where(client, |_| 0, |n| n != 3), None);
        }
    }

    #[test]
    fn a_pick_except_a_failed_member_is_another_serving_one() {
        for algorithm in ALGORITHMS {
            let group = group(
                algorithm,
                vec![
                    member("a", 10, true),
                    member("b", 10, true),
                    member("c", 10, true),
                ],
            );
            let mut balancer = Balancer::for_group(&group, |_| true);
            for n in 0..300u32 {
                let client = IpAddr::V4(Ipv4Addr::from(n));
                let first = balancer.pick(client, |_| 0).unwrap();
                let other = balancer.pick_where(client, |_| 0, |n| n != first);
                assert!(other.is_some_and(|other| other != first), "{algorithm:?}");
            }
        }
    }
}
