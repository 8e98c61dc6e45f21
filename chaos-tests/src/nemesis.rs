//! Nemeses: the faults a run injects, drawn from its seed.
//!
//! The kernel here has no netem, so network faults are nftables rules inside
//! the nodes' namespaces ([`LocalCluster::cut`]): partitions drop every
//! packet between two sides, a one-way partition only those arriving at one
//! node, packet loss a random share. Process faults are signals: SIGKILL
//! (with or without a restart before the round ends) and SIGSTOP held past
//! the EIP lease, then SIGCONT.
//!
//! A schedule is a list of rounds, each a quiet spell, a fault, how long it
//! is held, and its repair; the same seed and nemesis set give the same
//! schedule. Faults name their target as "the leader" or a node number,
//! resolved when the round runs.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::cluster::{Direction, LocalCluster, Signal};
use crate::rng::Rng;

/// A family of faults, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Nemesis {
    /// Partitions: the leader isolated, a random node isolated (with three
    /// nodes the halves are one node and two), a bridge (two nodes cannot
    /// reach each other, the third reaches both: the majorities ring of
    /// three nodes), one-way.
    Partition,
    /// SIGKILL, with or without a restart within the round, or restarted
    /// at once (a voter back before the lease it backed has ended).
    Kill,
    /// SIGSTOP past the EIP lease, then SIGCONT.
    Stop,
    /// Random packet loss between one node and the others.
    Loss,
    /// Two faults of different families at once.
    Mix,
}

impl Nemesis {
    /// Every family.
    pub const ALL: [Self; 5] = [
        Self::Partition,
        Self::Kill,
        Self::Stop,
        Self::Loss,
        Self::Mix,
    ];

    /// Parses `partition,kill,...` or `all`.
    ///
    /// # Errors
    /// An unknown name, quoted.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        if text == "all" {
            return Ok(Self::ALL.to_vec());
        }
        let mut list: Vec<Self> = text
            .split(',')
            .map(|name| match name.trim() {
                "partition" => Ok(Self::Partition),
                "kill" => Ok(Self::Kill),
                "stop" => Ok(Self::Stop),
                "loss" => Ok(Self::Loss),
                "mix" => Ok(Self::Mix),
                other => Err(format!(
                    "unknown nemesis {other:?}: use partition, kill, stop, loss, mix or all"
                )),
            })
            .collect::<Result<_, _>>()?;
        list.sort();
        list.dedup();
        Ok(list)
    }
}

/// Whom a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The leader when the fault starts.
    Leader,
    /// A fixed node.
    Node(usize),
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The target cut off from every other node (clients still reach it).
    Isolate(Target),
    /// `a` and `b` cannot reach each other; the third node reaches both.
    Bridge {
        /// One side.
        a: usize,
        /// The other.
        b: usize,
    },
    /// The target receives nothing from the other nodes, but sends.
    OneWay(Target),
    /// SIGKILL; started again when the fault is repaired if `restart`
    /// (otherwise at the final heal).
    Kill {
        /// Whom.
        target: Target,
        /// Restarted at the repair.
        restart: bool,
    },
    /// SIGKILL and an immediate restart.
    Bounce(Target),
    /// SIGSTOP, SIGCONT at the repair.
    Stop(Target),
    /// This share of packets between the node and the others dropped.
    Loss {
        /// Whom.
        node: usize,
        /// Percent.
        percent: u8,
    },
    /// Several at once.
    Mix(Vec<Fault>),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Leader => write!(f, "the leader"),
            Self::Node(node) => write!(f, "node {node}"),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Isolate(target) => write!(f, "isolate {target}"),
            Self::Bridge { a, b } => write!(f, "bridge: cut nodes {a} and {b} apart"),
            Self::OneWay(target) => write!(f, "one-way: {target} hears no peer"),
            Self::Kill { target, restart } => {
                write!(
                    f,
                    "SIGKILL {target}{}",
                    if *restart { ", restart" } else { "" }
                )
            }
            Self::Bounce(target) => write!(f, "SIGKILL {target} and restart at once"),
            Self::Stop(target) => write!(f, "SIGSTOP {target}, then SIGCONT"),
            Self::Loss { node, percent } => write!(f, "{percent}% packet loss at node {node}"),
            Self::Mix(faults) => {
                let parts: Vec<String> = faults.iter().map(ToString::to_string).collect();
                write!(f, "{}", parts.join(" + "))
            }
        }
    }
}

/// One round of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    /// Quiet time before the fault.
    pub calm: Duration,
    /// The fault.
    pub fault: Fault,
    /// How long it is held before its repair.
    pub hold: Duration,
}

/// Draws `rounds` rounds from `rng` for `nodes` nodes over `nemeses`.
pub fn schedule(rng: &mut Rng, nemeses: &[Nemesis], nodes: usize, rounds: usize) -> Vec<Round> {
    (0..rounds)
        .map(|_| {
            let family = *rng.pick(nemeses);
            let fault = draw(rng, family, nodes);
            Round {
                calm: Duration::from_millis(rng.between(1500, 4000)),
                fault,
                // Past the EIP lease (538 ms) and an election or two.
                hold: Duration::from_millis(rng.between(2500, 6000)),
            }
        })
        .collect()
}

fn target(rng: &mut Rng, nodes: usize) -> Target {
    if rng.below(2) == 0 {
        Target::Leader
    } else {
        Target::Node(node(rng, nodes))
    }
}

fn node(rng: &mut Rng, nodes: usize) -> usize {
    1 + usize::try_from(rng.below(nodes as u64)).unwrap_or(0)
}

fn draw(rng: &mut Rng, family: Nemesis, nodes: usize) -> Fault {
    match family {
        Nemesis::Partition => match rng.below(4) {
            0 => Fault::Isolate(Target::Leader),
            1 => Fault::Isolate(Target::Node(node(rng, nodes))),
            2 => {
                let a = node(rng, nodes);
                let b = 1 + a % nodes;
                Fault::Bridge { a, b }
            }
            _ => Fault::OneWay(target(rng, nodes)),
        },
        Nemesis::Kill => match rng.below(4) {
            0 => Fault::Bounce(target(rng, nodes)),
            n => Fault::Kill {
                target: target(rng, nodes),
                restart: n > 1,
            },
        },
        Nemesis::Stop => Fault::Stop(target(rng, nodes)),
        Nemesis::Loss => Fault::Loss {
            node: node(rng, nodes),
            percent: u8::try_from(rng.between(20, 60)).unwrap_or(30),
        },
        Nemesis::Mix => {
            let first = *rng.pick(&[Nemesis::Partition, Nemesis::Loss]);
            let second = *rng.pick(&[Nemesis::Kill, Nemesis::Stop]);
            Fault::Mix(vec![draw(rng, first, nodes), draw(rng, second, nodes)])
        }
    }
}

/// A fault in force, and what its repair must undo.
#[derive(Debug, Default)]
pub struct Injected {
    killed_for_restart: Vec<usize>,
    killed_for_good: Vec<usize>,
    stopped: Vec<usize>,
    cut: bool,
    /// What was not done as drawn (a target already down, no leader found).
    pub notes: Vec<String>,
}

impl Injected {
    /// Nodes killed and not to be restarted until the final heal.
    pub fn left_dead(&self) -> &[usize] {
        &self.killed_for_good
    }
}

fn resolve(
    cluster: &LocalCluster,
    target: Target,
    down: &[usize],
    notes: &mut Vec<String>,
) -> usize {
    match target {
        Target::Node(node) => node,
        Target::Leader => match cluster.wait_for_leader(None, Duration::from_secs(5)) {
            Some(leader) if !down.contains(&leader) => leader,
            other => {
                let node = (1..=cluster.nodes())
                    .find(|node| !down.contains(node))
                    .unwrap_or(1);
                notes.push(format!(
                    "leader {other:?} unavailable: the fault hits node {node} instead"
                ));
                node
            }
        },
    }
}

/// Injects `fault`; `down` are nodes already dead or stopped (a fault on the
/// leader resolves among the others).
///
/// # Errors
/// A signal or nftables change failed.
pub fn inject(cluster: &LocalCluster, fault: &Fault, down: &[usize]) -> io::Result<Injected> {
    let mut injected = Injected::default();
    inject_into(cluster, fault, down, &mut injected)?;
    Ok(injected)
}

fn inject_into(
    cluster: &LocalCluster,
    fault: &Fault,
    down: &[usize],
    injected: &mut Injected,
) -> io::Result<()> {
    let others = |node: usize| -> Vec<usize> {
        (1..=cluster.nodes())
            .filter(|other| *other != node)
            .collect()
    };
    match fault {
        Fault::Isolate(target) => {
            let node = resolve(cluster, *target, down, &mut injected.notes);
            cluster.cut(node, &others(node), Direction::Both, None)?;
            injected.cut = true;
        }
        Fault::Bridge { a, b } => {
            cluster.cut(*a, &[*b], Direction::Both, None)?;
            injected.cut = true;
        }
        Fault::OneWay(target) => {
            let node = resolve(cluster, *target, down, &mut injected.notes);
            cluster.cut(node, &others(node), Direction::Inbound, None)?;
            injected.cut = true;
        }
        Fault::Loss { node, percent } => {
            cluster.cut(*node, &others(*node), Direction::Both, Some(*percent))?;
            injected.cut = true;
        }
        Fault::Kill { target, restart } => {
            let node = resolve(cluster, *target, down, &mut injected.notes);
            if down.contains(&node) {
                injected
                    .notes
                    .push(format!("node {node} is down already: not killed"));
            } else {
                cluster.signal(node, Signal::Kill)?;
                // One node at most stays dead past its round: the run
                // tests failover, not a cluster without a quorum.
                if *restart || !down.is_empty() {
                    injected.killed_for_restart.push(node);
                } else {
                    injected.killed_for_good.push(node);
                }
            }
        }
        Fault::Bounce(target) => {
            let node = resolve(cluster, *target, down, &mut injected.notes);
            if down.contains(&node) {
                injected
                    .notes
                    .push(format!("node {node} is down already: not bounced"));
            } else {
                cluster.signal(node, Signal::Kill)?;
                cluster.start(node)?;
            }
        }
        Fault::Stop(target) => {
            let node = resolve(cluster, *target, down, &mut injected.notes);
            if down.contains(&node) {
                injected
                    .notes
                    .push(format!("node {node} is down already: not stopped"));
            } else {
                cluster.signal(node, Signal::Stop)?;
                injected.stopped.push(node);
            }
        }
        Fault::Mix(faults) => {
            for fault in faults {
                inject_into(cluster, fault, down, injected)?;
            }
        }
    }
    Ok(())
}

/// Repairs what `injected` did, except kills meant to last until the final
/// heal.
///
/// # Errors
/// A signal, restart or nftables change failed.
pub fn repair(cluster: &LocalCluster, injected: &Injected) -> io::Result<()> {
    if injected.cut {
        cluster.heal()?;
    }
    for node in &injected.stopped {
        cluster.signal(*node, Signal::Cont)?;
    }
    for node in &injected.killed_for_restart {
        cluster.start(*node)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_schedule_from_the_chosen_families() {
        let nemeses = Nemesis::parse_list("partition,stop").unwrap_or_default();
        let first = schedule(&mut Rng::new(42), &nemeses, 3, 20);
        assert_eq!(first, schedule(&mut Rng::new(42), &nemeses, 3, 20));
        assert_ne!(first, schedule(&mut Rng::new(43), &nemeses, 3, 20));
        for round in &first {
            assert!(
                matches!(
                    round.fault,
                    Fault::Isolate(_) | Fault::Bridge { .. } | Fault::OneWay(_) | Fault::Stop(_)
                ),
                "{}",
                round.fault
            );
            assert!(round.hold >= Duration::from_millis(2500));
        }
        assert_eq!(Nemesis::parse_list("all").unwrap_or_default().len(), 5);
        assert!(
            Nemesis::parse_list("kill,flood")
                .err()
                .unwrap_or_default()
                .contains("\"flood\"")
        );
    }
}
