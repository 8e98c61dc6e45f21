//! The EIP failover benchmark (`../shared/bench-protocol.md`): a 3-node
//! cluster in network namespaces (`deploy/local-cluster`), HTTP requests
//! through the EIP from the client namespace every 10 ms (each on a new
//! connection, 200 ms timeout), an ARP watch every 20 ms; then
//!
//! - KILLS rounds: SIGKILL the leader; time from the kill to the first
//!   request served through the new owner, and requests failed; the killed
//!   node is started again before the next round;
//! - PARTITIONS rounds: isolate the leader from the other nodes (clients
//!   still reach it); the same figures; then heal;
//! - TRANSFERS rounds: a graceful leadership transfer; the EIP's silence
//!   (ARP), requests failed and the slowest request.
//!
//! Over all rounds: the instants at which two nodes answered ARP for the EIP.
//!
//! ```text
//! cargo build --release -p fulcrum-node --bin fulcrum
//! sudo target/release/examples/bench_failover [KILLS] [PARTITIONS] [TRANSFERS]
//! ```
//! (or `cargo run --release -p fulcrum-node --example bench_failover -- 20 20 20`
//! as root). Runs `target/release/fulcrum`, or `$FULCRUM_BIN`.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fulcrum_chaos_tests::cluster::{LocalCluster, Signal};
use fulcrum_chaos_tests::guide::{Guide, HTTP_PORT};
use fulcrum_chaos_tests::probe::{Outcome, Sample, failures, probe_steadily, watch_arp};

const PROBE_PERIOD: Duration = Duration::from_millis(10);
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);
const ARP_PERIOD: Duration = Duration::from_millis(20);

/// One fault's figures.
struct Recovery {
    /// From the fault to the first request served through the new owner.
    time: Duration,
    /// Requests that failed in the round.
    failed: usize,
}

fn recovery(samples: &[Sample], fault: Instant, new_owner: usize) -> Option<Recovery> {
    let first = samples.iter().find(|sample| {
        sample.sent >= fault
            && matches!(&sample.outcome,
                Outcome::Served(greeting) if LocalCluster::node_at(greeting.via) == new_owner)
    })?;
    Some(Recovery {
        time: first.sent + first.took - fault,
        failed: failures(samples).len(),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(name: &str, recoveries: &[Recovery]) {
    let mut times: Vec<Duration> = recoveries.iter().map(|r| r.time).collect();
    times.sort();
    let mut failed: Vec<usize> = recoveries.iter().map(|r| r.failed).collect();
    failed.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: {} rounds; recovery p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; \
         failed requests per round p50 {}, max {}, total {}",
        recoveries.len(),
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 99.0)),
        ms(times.last().copied().unwrap_or_default()),
        failed.get(failed.len() / 2).copied().unwrap_or(0),
        failed.last().copied().unwrap_or(0),
        failed.iter().sum::<usize>(),
    );
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().unwrap());
    let kills = args.next().unwrap_or(20);
    let partitions = args.next().unwrap_or(20);
    let transfers = args.next().unwrap_or(20);
    let binary = std::env::var_os("FULCRUM_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/fulcrum"),
        PathBuf::from,
    );
    let state = std::env::temp_dir().join(format!("fulcrum-bench-failover-{}", std::process::id()));
    let cluster = LocalCluster::up(&binary, 3, &state).unwrap();
    let guide = Guide::set_up(&cluster).unwrap();
    let mut two_owner_instants = 0;
    let mut arp_rounds = 0;
    let target = guide.target(HTTP_PORT);

    // One fault per round: the traffic and the ARP watch run around it.
    let mut fault_rounds = |rounds: usize, inject: &dyn Fn(usize), repair: &dyn Fn(usize)| {
        let mut recoveries = Vec::new();
        for round in 0..rounds {
            let leader = cluster
                .wait_for_leader(None, Duration::from_secs(15))
                .unwrap();
            let watch = watch_arp(guide.eip, ARP_PERIOD);
            let traffic = probe_steadily(target, true, PROBE_PERIOD, PROBE_TIMEOUT);
            std::thread::sleep(Duration::from_millis(300));
            let fault = Instant::now();
            inject(leader);
            let successor = cluster
                .wait_for_leader(Some(leader), Duration::from_secs(15))
                .unwrap();
            guide.serving_node().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let samples = traffic.finish().unwrap();
            let ownership = watch.finish().unwrap();
            two_owner_instants += ownership.instants_of_two_owners();
            arp_rounds += ownership.rounds.len();
            match recovery(&samples, fault, successor) {
                Some(figures) => recoveries.push(figures),
                None => println!("round {round}: node {successor} never served"),
            }
            repair(leader);
            std::thread::sleep(Duration::from_secs(2));
        }
        recoveries
    };
    let killed = fault_rounds(
        kills,
        &|leader| cluster.signal(leader, Signal::Kill).unwrap(),
        &|leader| cluster.start(leader).unwrap(),
    );
    let isolated = fault_rounds(
        partitions,
        &|leader| cluster.isolate(leader).unwrap(),
        &|_| cluster.heal().unwrap(),
    );

    let mut silences = Vec::new();
    let mut transfer_failures = 0;
    let mut slowest = Duration::ZERO;
    for _ in 0..transfers {
        let leader = cluster
            .wait_for_leader(None, Duration::from_secs(15))
            .unwrap();
        let to = (1..=3).find(|node| *node != leader).unwrap();
        let watch = watch_arp(guide.eip, ARP_PERIOD);
        let traffic = probe_steadily(target, true, PROBE_PERIOD, Duration::from_secs(3));
        std::thread::sleep(Duration::from_millis(300));
        cluster
            .cli_ok(&["cluster", "transfer-leadership", &to.to_string()])
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let samples = traffic.finish().unwrap();
        let ownership = watch.finish().unwrap();
        two_owner_instants += ownership.instants_of_two_owners();
        arp_rounds += ownership.rounds.len();
        silences.push(ownership.longest_silence());
        transfer_failures += failures(&samples).len();
        slowest = slowest.max(samples.iter().map(|s| s.took).max().unwrap_or_default());
    }

    println!("EIP failover, 3 nodes in namespaces, HTTP every 10 ms (200 ms timeout):");
    report("SIGKILL of the leader", &killed);
    report("leader isolated by a partition", &isolated);
    silences.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "graceful transfer: {} rounds; EIP silent (ARP, 20 ms resolution) p50 {:.0} ms, \
         p99 {:.0} ms, max {:.0} ms; failed requests {transfer_failures}; slowest request {:.0} ms",
        silences.len(),
        ms(percentile(&silences, 50.0)),
        ms(percentile(&silences, 99.0)),
        ms(silences.last().copied().unwrap_or_default()),
        ms(slowest),
    );
    println!(
        "instants of two owners: {two_owner_instants} in {arp_rounds} ARP rounds \
         (keepalived's default failover, for reference: about 3 s)"
    );
}
