//! Leadership owns the EIP, on a 3-node cluster in network namespaces
//! (`deploy/local-cluster`, Linux EIP binder): traffic from the client
//! namespace through the EIP reaches the instances by weight, and follows
//! the leader through SIGKILL, SIGSTOP, a partition and a graceful
//! transfer, while an ARP watch from the client namespace (every 20 ms)
//! never sees two nodes answer for the EIP. Needs root (CI runs as root).

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use fulcrum_chaos_tests::cluster::{LocalCluster, Signal};
use fulcrum_chaos_tests::probe::{
    ArpRound, Backend, Outcome, Sample, probe_many, probe_steadily, watch_arp,
};
use fulcrum_eip::arp::{Mac, format_mac};

const HTTP_PORT: u16 = 80;
const TCP_PORT: u16 = 9000;
const ARP_PERIOD: Duration = Duration::from_millis(20);

/// A cluster with the guide's four steps done: an HTTP listener on port 80
/// to web1 (weight 3) and web2 (weight 1), a TCP listener on 9000 to tcp1
/// (3) and tcp2 (1); every backend in the client namespace.
struct Guide {
    cluster: LocalCluster,
    eip: Ipv4Addr,
    _state: tempfile::TempDir,
}

fn guide() -> Guide {
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "network-namespace tests need root (CI runs as root)"
    );
    let state = tempfile::tempdir().unwrap();
    let cluster = LocalCluster::up(
        Path::new(env!("CARGO_BIN_EXE_fulcrum")),
        3,
        &state.path().join("cluster"),
    )
    .unwrap();
    for (name, port) in [("web1", 8081), ("web2", 8082)] {
        Backend::http(name, port).unwrap();
    }
    for (name, port) in [("tcp1", 9001), ("tcp2", 9002)] {
        Backend::tcp(name, port).unwrap();
    }
    let steps: &[&[&str]] = &[
        &["network", "create", "vpc", "--cidr", "10.88.0.0/24"],
        &[
            "subnet",
            "create",
            "backend",
            "--network",
            "vpc",
            "--cidr",
            "10.88.0.0/24",
        ],
        &[
            "instance",
            "create",
            "client",
            "--subnet",
            "backend",
            "--address",
            "10.88.0.100",
        ],
        &[
            "lb",
            "create",
            "shop",
            "--network",
            "vpc",
            "--subnet",
            "backend",
        ],
    ];
    for step in steps {
        cluster.cli_ok(step).unwrap();
    }
    let allocated = cluster
        .cli_ok(&["--output", "json", "eip", "allocate", "public"])
        .unwrap();
    let eip: Ipv4Addr =
        serde_json::from_str::<serde_json::Value>(&allocated).unwrap()["eip"]["address"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    let steps: &[&[&str]] = &[
        &["lb", "associate-eip", "shop", "public"],
        &[
            "group",
            "create",
            "web",
            "--lb",
            "shop",
            "--member",
            "client:8081:3",
            "--member",
            "client:8082:1",
        ],
        &[
            "listener",
            "create",
            "http",
            "--lb",
            "shop",
            "--protocol",
            "http",
            "--port",
            "80",
            "--group",
            "web",
        ],
        &[
            "group",
            "create",
            "raw",
            "--lb",
            "shop",
            "--member",
            "client:9001:3",
            "--member",
            "client:9002:1",
        ],
        &[
            "listener",
            "create",
            "tcp",
            "--lb",
            "shop",
            "--protocol",
            "tcp",
            "--port",
            "9000",
            "--group",
            "raw",
        ],
    ];
    for step in steps {
        cluster.cli_ok(step).unwrap();
    }
    let guide = Guide {
        cluster,
        eip,
        _state: state,
    };
    guide.wait_served(HTTP_PORT, true, Duration::from_secs(30));
    guide.wait_served(TCP_PORT, false, Duration::from_secs(30));
    guide
}

impl Guide {
    fn target(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.eip, port))
    }

    /// Waits until a probe through `port` is served.
    fn wait_served(&self, port: u16, http: bool, patience: Duration) -> Sample {
        let deadline = Instant::now() + patience;
        loop {
            let sample = probe_many(self.target(port), http, 1, Duration::from_millis(500))
                .unwrap()
                .remove(0);
            if matches!(sample.outcome, Outcome::Served(_)) {
                return sample;
            }
            assert!(
                Instant::now() < deadline,
                "port {port} not served through the EIP: {:?}",
                sample.outcome
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node that forwards requests through the EIP now.
    fn serving_node(&self) -> usize {
        let Outcome::Served(greeting) = self
            .wait_served(HTTP_PORT, true, Duration::from_secs(10))
            .outcome
        else {
            unreachable!()
        };
        let last = greeting.via.octets()[3];
        usize::from(last - 10)
    }
}

/// What an ARP watch saw.
struct Ownership {
    rounds: Vec<ArpRound>,
}

impl Ownership {
    /// The most MAC addresses that answered one question.
    fn most_owners_at_once(&self) -> usize {
        self.rounds
            .iter()
            .map(|round| round.answers.len())
            .max()
            .unwrap_or(0)
    }

    /// The owners in the order they answered, each run of one owner once.
    fn owner_sequence(&self) -> Vec<Mac> {
        let mut sequence: Vec<Mac> = Vec::new();
        for round in &self.rounds {
            for mac in &round.answers {
                if sequence.last() != Some(mac) {
                    sequence.push(*mac);
                }
            }
        }
        sequence
    }

    /// When `mac` answered first and last.
    fn answered(&self, mac: &Mac) -> Option<(Instant, Instant)> {
        let mut times = self
            .rounds
            .iter()
            .filter(|round| round.answers.contains(mac))
            .map(|round| round.asked);
        let first = times.next()?;
        Some((first, times.next_back().unwrap_or(first)))
    }

    /// The longest time no one answered, between two answered rounds.
    fn longest_silence(&self) -> Duration {
        let answered: Vec<Instant> = self
            .rounds
            .iter()
            .filter(|round| !round.answers.is_empty())
            .map(|round| round.asked)
            .collect();
        answered
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .max()
            .unwrap_or_default()
    }

    fn describe(&self, macs: &std::collections::BTreeMap<Mac, usize>) -> String {
        self.owner_sequence()
            .iter()
            .map(|mac| match macs.get(mac) {
                Some(node) => format!("node {node}"),
                None => format_mac(mac),
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

fn failures(samples: &[Sample]) -> Vec<&Sample> {
    samples
        .iter()
        .filter(|sample| matches!(sample.outcome, Outcome::Failed(_)))
        .collect()
}

fn share_of(samples: &[Sample], backend: &str) -> f64 {
    let served: Vec<_> = samples
        .iter()
        .filter_map(|sample| match &sample.outcome {
            Outcome::Served(greeting) => Some(greeting),
            Outcome::Failed(_) => None,
        })
        .collect();
    let hits = served
        .iter()
        .filter(|greeting| greeting.backend == backend)
        .count();
    hits as f64 / served.len().max(1) as f64
}

#[test]
fn the_eip_serves_the_guides_listeners_by_weight_and_follows_the_leader_through_faults() {
    let guide = guide();
    let macs = guide.cluster.macs().unwrap();

    // 1. HTTP and TCP through the EIP, from the client namespace, by weight.
    let leader = guide.cluster.leader().unwrap();
    assert_eq!(guide.serving_node(), leader, "the leader serves the EIP");
    let http = probe_many(guide.target(HTTP_PORT), true, 400, Duration::from_secs(2)).unwrap();
    assert!(failures(&http).is_empty(), "{:?}", failures(&http).first());
    let web1 = share_of(&http, "web1");
    assert!(
        (0.70..=0.80).contains(&web1),
        "web1 took {web1} of HTTP requests, not 3/4"
    );
    let tcp = probe_many(guide.target(TCP_PORT), false, 400, Duration::from_secs(2)).unwrap();
    assert!(failures(&tcp).is_empty(), "{:?}", failures(&tcp).first());
    let tcp1 = share_of(&tcp, "tcp1");
    assert!(
        (0.70..=0.80).contains(&tcp1),
        "tcp1 took {tcp1} of TCP connections, not 3/4"
    );

    // 2. SIGKILL the leader with traffic running.
    let watch = watch_arp(guide.eip, ARP_PERIOD);
    let traffic = probe_steadily(
        guide.target(HTTP_PORT),
        true,
        Duration::from_millis(20),
        Duration::from_millis(300),
    );
    std::thread::sleep(Duration::from_millis(300));
    let killed_at = Instant::now();
    guide.cluster.signal(leader, Signal::Kill).unwrap();
    let successor = guide
        .cluster
        .wait_for_leader(Some(leader), Duration::from_secs(15))
        .expect("a new leader after SIGKILL");
    assert_eq!(
        guide.serving_node(),
        successor,
        "the new leader serves the EIP"
    );
    std::thread::sleep(Duration::from_millis(500));
    let samples = traffic.finish().unwrap();
    let ownership = Ownership {
        rounds: watch.finish().unwrap(),
    };
    assert!(
        ownership.most_owners_at_once() <= 1,
        "two nodes answered ARP for the EIP at once: {}",
        ownership.describe(&macs)
    );
    let killed_mac = macs
        .iter()
        .find(|(_, node)| **node == leader)
        .map(|(mac, _)| *mac)
        .unwrap();
    let successor_mac = macs
        .iter()
        .find(|(_, node)| **node == successor)
        .map(|(mac, _)| *mac)
        .unwrap();
    assert_eq!(
        ownership.owner_sequence(),
        vec![killed_mac, successor_mac],
        "owners: {}",
        ownership.describe(&macs)
    );
    let served_after = samples
        .iter()
        .filter(|sample| sample.sent > killed_at)
        .any(|sample| matches!(&sample.outcome, Outcome::Served(g) if usize::from(g.via.octets()[3] - 10) == successor));
    assert!(served_after, "no request was served by the new leader");
    eprintln!(
        "SIGKILL: EIP silent for {:?} (ARP), {} of {} requests failed",
        ownership.longest_silence(),
        failures(&samples).len(),
        samples.len()
    );
    guide.cluster.start(leader).unwrap();

    // 3. SIGSTOP the leader longer than its lease, then SIGCONT.
    let stopped = successor;
    let stopped_mac = successor_mac;
    let watch = watch_arp(guide.eip, ARP_PERIOD);
    std::thread::sleep(Duration::from_millis(200));
    guide.cluster.signal(stopped, Signal::Stop).unwrap();
    let next = guide
        .cluster
        .wait_for_leader(Some(stopped), Duration::from_secs(15))
        .expect("a new leader while the old one is stopped");
    assert_eq!(guide.serving_node(), next);
    std::thread::sleep(Duration::from_secs(2));
    guide.cluster.signal(stopped, Signal::Cont).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let ownership = Ownership {
        rounds: watch.finish().unwrap(),
    };
    let next_mac = macs
        .iter()
        .find(|(_, node)| **node == next)
        .map(|(mac, _)| *mac)
        .unwrap();
    assert!(
        ownership.most_owners_at_once() <= 1,
        "two owners at once: {}",
        ownership.describe(&macs)
    );
    let (_, stopped_last) = ownership
        .answered(&stopped_mac)
        .expect("the stopped node answered before");
    let (next_first, _) = ownership
        .answered(&next_mac)
        .expect("the new leader answered");
    assert!(
        stopped_last < next_first,
        "the stopped node still answered when the new owner claimed: {}",
        ownership.describe(&macs)
    );
    assert_eq!(
        ownership.owner_sequence(),
        vec![stopped_mac, next_mac],
        "the continued node claimed the EIP back: {}",
        ownership.describe(&macs)
    );
    assert_eq!(guide.serving_node(), next);

    // 4. Isolate the leader from the other nodes (clients still reach it).
    let isolated = next;
    let isolated_mac = next_mac;
    let watch = watch_arp(guide.eip, ARP_PERIOD);
    std::thread::sleep(Duration::from_millis(200));
    guide.cluster.isolate(isolated).unwrap();
    let majority_node = (1..=3).find(|node| *node != isolated).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let elected = loop {
        if let Some(leader) = guide.cluster.leader_seen_by(majority_node)
            && leader != isolated
        {
            break leader;
        }
        assert!(Instant::now() < deadline, "the majority elected no leader");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        guide.serving_node(),
        elected,
        "the majority's leader serves the EIP"
    );
    guide.cluster.heal().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let ownership = Ownership {
        rounds: watch.finish().unwrap(),
    };
    let elected_mac = macs
        .iter()
        .find(|(_, node)| **node == elected)
        .map(|(mac, _)| *mac)
        .unwrap();
    assert!(
        ownership.most_owners_at_once() <= 1,
        "two owners at once across the partition: {}",
        ownership.describe(&macs)
    );
    assert_eq!(
        ownership.owner_sequence(),
        vec![isolated_mac, elected_mac],
        "after healing, one owner: {}",
        ownership.describe(&macs)
    );

    // 5. A graceful transfer: no request fails.
    let target = (1..=3)
        .find(|node| *node != elected && *node != isolated)
        .unwrap_or(isolated);
    let watch = watch_arp(guide.eip, ARP_PERIOD);
    let traffic = probe_steadily(
        guide.target(HTTP_PORT),
        true,
        Duration::from_millis(10),
        Duration::from_secs(3),
    );
    std::thread::sleep(Duration::from_millis(300));
    guide
        .cluster
        .cli_ok(&["cluster", "transfer-leadership", &target.to_string()])
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let samples = traffic.finish().unwrap();
    let ownership = Ownership {
        rounds: watch.finish().unwrap(),
    };
    assert_eq!(guide.serving_node(), target);
    assert!(
        failures(&samples).is_empty(),
        "{} of {} requests failed in a graceful transfer: {:?}",
        failures(&samples).len(),
        samples.len(),
        failures(&samples).first()
    );
    assert!(
        ownership.most_owners_at_once() <= 1,
        "{}",
        ownership.describe(&macs)
    );
    let slowest = samples
        .iter()
        .map(|sample| sample.took)
        .max()
        .unwrap_or_default();
    eprintln!(
        "graceful transfer: EIP silent for {:?} (ARP), slowest request {slowest:?}, {} requests",
        ownership.longest_silence(),
        samples.len()
    );
}
