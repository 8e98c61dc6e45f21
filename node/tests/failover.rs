//! Leadership owns the EIP, on a 3-node cluster in network namespaces
//! (`deploy/local-cluster`, Linux EIP binder): traffic from the client
//! namespace through the EIP reaches the instances by weight, and follows
//! the leader through SIGKILL, SIGSTOP, a partition and a graceful
//! transfer, while an ARP watch from the client namespace (every 20 ms)
//! never sees two nodes answer for the EIP. Needs root (CI runs as root).

#![allow(unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use fulcrum_chaos_tests::cluster::{LocalCluster, Signal};
use fulcrum_chaos_tests::guide::{Guide, HTTP_PORT, TCP_PORT};
use fulcrum_chaos_tests::probe::{
    Outcome, failures, probe_many, probe_steadily, share_of, watch_arp,
};
use fulcrum_eip::arp::Mac;

const ARP_PERIOD: Duration = Duration::from_millis(20);

fn mac_of(macs: &BTreeMap<Mac, usize>, node: usize) -> Mac {
    macs.iter()
        .find(|(_, n)| **n == node)
        .map(|(mac, _)| *mac)
        .unwrap()
}

#[test]
fn the_eip_serves_the_guides_listeners_by_weight_and_follows_the_leader_through_faults() {
    fulcrum_chaos_tests::cluster::assert_root();
    let state = tempfile::tempdir().unwrap();
    let cluster = LocalCluster::up(
        Path::new(env!("CARGO_BIN_EXE_fulcrum")),
        3,
        &state.path().join("cluster"),
    )
    .unwrap();
    let guide = Guide::set_up(&cluster).unwrap();
    let macs = cluster.macs().unwrap();

    // 1. HTTP and TCP through the EIP, from the client namespace, by weight.
    let leader = cluster.leader().unwrap();
    assert_eq!(
        guide.serving_node().unwrap(),
        leader,
        "the leader serves the EIP"
    );
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
    cluster.signal(leader, Signal::Kill).unwrap();
    let successor = cluster
        .wait_for_leader(Some(leader), Duration::from_secs(15))
        .expect("a new leader after SIGKILL");
    assert_eq!(
        guide.serving_node().unwrap(),
        successor,
        "the new leader serves the EIP"
    );
    std::thread::sleep(Duration::from_millis(500));
    let samples = traffic.finish().unwrap();
    let ownership = watch.finish().unwrap();
    assert!(
        ownership.most_owners_at_once() <= 1,
        "two nodes answered ARP for the EIP at once: {}",
        ownership.describe(&macs)
    );
    let killed_mac = mac_of(&macs, leader);
    let successor_mac = mac_of(&macs, successor);
    assert_eq!(
        ownership.owner_sequence(),
        vec![killed_mac, successor_mac],
        "owners: {}",
        ownership.describe(&macs)
    );
    let served_after = samples
        .iter()
        .filter(|sample| sample.sent > killed_at)
        .any(|sample| matches!(&sample.outcome, Outcome::Served(g) if LocalCluster::node_at(g.via) == successor));
    assert!(served_after, "no request was served by the new leader");
    eprintln!(
        "SIGKILL: EIP silent for {:?} (ARP), {} of {} requests failed",
        ownership.longest_silence(),
        failures(&samples).len(),
        samples.len()
    );
    cluster.start(leader).unwrap();

    // 3. SIGSTOP the leader longer than its lease, then SIGCONT.
    let stopped = successor;
    let stopped_mac = successor_mac;
    let watch = watch_arp(guide.eip, ARP_PERIOD);
    std::thread::sleep(Duration::from_millis(200));
    cluster.signal(stopped, Signal::Stop).unwrap();
    let next = cluster
        .wait_for_leader(Some(stopped), Duration::from_secs(15))
        .expect("a new leader while the old one is stopped");
    assert_eq!(guide.serving_node().unwrap(), next);
    std::thread::sleep(Duration::from_secs(2));
    cluster.signal(stopped, Signal::Cont).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let ownership = watch.finish().unwrap();
    let next_mac = mac_of(&macs, next);
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
    assert_eq!(guide.serving_node().unwrap(), next);

    // 4. Isolate the leader from the other nodes (clients still reach it).
    let isolated = next;
    let isolated_mac = next_mac;
    let watch = watch_arp(guide.eip, ARP_PERIOD);
    std::thread::sleep(Duration::from_millis(200));
    cluster.isolate(isolated).unwrap();
    let elected = cluster
        .wait_for_leader(Some(isolated), Duration::from_secs(15))
        .expect("the majority elected a leader");
    assert_eq!(
        guide.serving_node().unwrap(),
        elected,
        "the majority's leader serves the EIP"
    );
    cluster.heal().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let ownership = watch.finish().unwrap();
    let elected_mac = mac_of(&macs, elected);
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
    cluster
        .cli_ok(&["cluster", "transfer-leadership", &target.to_string()])
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let samples = traffic.finish().unwrap();
    let ownership = watch.finish().unwrap();
    assert_eq!(guide.serving_node().unwrap(), target);
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
