//! One chaos run: a local cluster in namespaces, the guide's listeners with
//! real backends, the workloads and the data-plane probes running
//! throughout, a seeded schedule of faults, a final phase that heals
//! everything and reads, then the checkers.
//!
//! Checks, each a violation when it fails: the register history is
//! linearizable (a search that runs out of time counts as a failure); the
//! set lost nothing acknowledged and holds nothing refused; every node has
//! the same replicated state (same log index, same digest); no ARP question
//! about the EIP was answered by two nodes. Availability figures (requests
//! through the EIP that failed, the longest gap) are reported, not judged.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fulcrum_api::v1;

use crate::cluster::{CLIENT_NAMESPACE, LocalCluster, Signal};
use crate::guide::{Guide, HTTP_PORT};
use crate::history::parse_jepsen_register;
use crate::nemesis::{self, Nemesis};
use crate::probe::{Outcome as ProbeOutcome, Sample, probe_steadily, watch_arp};
use crate::recorder::{Completion, Recorder, Request};
use crate::register::{self, Verdict};
use crate::rng::Rng;
use crate::set;
use crate::workload::{self, Node, SetAdds};

/// What to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The `fulcrum` binary the nodes run.
    pub binary: PathBuf,
    /// Draws the schedule and the workloads' choices.
    pub seed: u64,
    /// Fault rounds to run; with `None`, rounds until `duration` is spent.
    pub rounds: Option<usize>,
    /// How long the fault phase lasts at most.
    pub duration: Duration,
    /// The fault families to draw from.
    pub nemeses: Vec<Nemesis>,
    /// Where the history, the report and the cluster's logs go.
    pub out: PathBuf,
}

/// How a run went.
#[derive(Debug)]
pub struct RunReport {
    /// Every check that failed, worded.
    pub violations: Vec<String>,
    /// The whole report, as saved in `report.txt`.
    pub text: String,
    /// Where the register history was saved.
    pub history: PathBuf,
}

/// Register keys (Load Balancers) of the register workload.
const REGISTERS: usize = 3;
/// Register clients; each talks to one node.
const REGISTER_CLIENTS: usize = 4;
/// Set clients.
const SET_CLIENTS: usize = 2;
/// A run whose registers completed fewer operations each has checked
/// nothing worth a pass.
const MIN_OPERATIONS_PER_KEY: usize = 50;
/// How long the register checker may search.
const CHECK_LIMIT: Duration = Duration::from_secs(120);

fn json_id(text: &str, field: &str) -> io::Result<String> {
    json_field(text, field, "id")
}

/// `field.name` of a JSON answer, as text.
fn json_field(text: &str, field: &str, name: &str) -> io::Result<String> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|value| value[field][name].as_str().map(str::to_owned))
        .ok_or_else(|| io::Error::other(format!("no {field}.{name} in {text}")))
}

/// Runs `config` and checks it.
///
/// # Errors
/// The cluster or the harness failed (not a violation: the run could not be
/// judged).
pub fn run(config: &RunConfig) -> io::Result<RunReport> {
    std::fs::create_dir_all(&config.out)?;
    let mut rng = Rng::new(config.seed);
    let schedule_rng = &mut rng.fork();
    let mut cluster = LocalCluster::up(&config.binary, 3, &config.out.join("cluster"))?;
    cluster.keep_logs();
    let credentials = Arc::new(cluster.credentials()?);
    let guide = Guide::set_up(&cluster)?;
    let mut log = String::new();
    let started = Instant::now();
    let note = |log: &mut String, line: String| {
        let line = format!("[{:>7.1} s] {line}", started.elapsed().as_secs_f64());
        eprintln!("{line}");
        let _ = writeln!(log, "{line}");
    };

    // The workloads' resources.
    cluster.cli_ok(&[
        "cluster",
        "update-settings",
        "--quota-listeners",
        &workload::SET_ELEMENTS_PER_LOAD_BALANCER.to_string(),
    ])?;
    let recorder = Arc::new(Recorder::default());
    let mut registers = Vec::new();
    let mut network_and_subnet = None;
    for key in 0..REGISTERS {
        let name = format!("reg-{key}");
        let created = cluster.cli_ok(&[
            "--output",
            "json",
            "lb",
            "create",
            &name,
            "--network",
            "vpc",
            "--subnet",
            "backend",
            "--description",
            "0",
        ])?;
        let id = json_id(&created, "loadBalancer")?;
        network_and_subnet = Some((
            json_field(&created, "loadBalancer", "networkId")?,
            json_field(&created, "loadBalancer", "subnetId")?,
        ));
        // The register's initial value, as a write that precedes every
        // other operation on it (the workload starts later).
        let process = recorder.new_process();
        let invocation = recorder.invoke(process, &id, Request::Write(0));
        recorder.complete(invocation, Completion::Ok(None));
        registers.push(id);
    }

    // Workloads on a runtime whose threads live in the client namespace.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(|| {
            if let Err(error) = fulcrum_eip::netns::enter(CLIENT_NAMESPACE) {
                eprintln!("cannot enter {CLIENT_NAMESPACE}: {error}");
            }
        })
        .build()?;
    let (network_id, subnet_id) =
        network_and_subnet.ok_or_else(|| io::Error::other("no register was created"))?;
    let set_load_balancers = runtime
        .block_on(runtime.spawn({
            let credentials = Arc::clone(&credentials);
            async move {
                let mut node = Node::new(LocalCluster::endpoint(1), credentials);
                workload::create_set_load_balancers(&mut node, &network_id, &subnet_id).await
            }
        }))
        .map_err(io::Error::other)?
        .map_err(|status| {
            io::Error::other(format!("creating the set's Load Balancers: {status}"))
        })?;
    let set_load_balancers = Arc::new(set_load_balancers);
    note(
        &mut log,
        format!(
            "seed {}; registers {registers:?}; set on {} Load Balancers",
            config.seed,
            set_load_balancers.len()
        ),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let registers = Arc::new(registers);
    let tokens = Arc::new(AtomicU64::new(0));
    let adds = Arc::new(SetAdds::default());
    let next_element = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for client in 0..REGISTER_CLIENTS {
        tasks.push(runtime.spawn(workload::register_client(
            Node::new(
                LocalCluster::endpoint(1 + client % 3),
                Arc::clone(&credentials),
            ),
            Arc::clone(&registers),
            Arc::clone(&recorder),
            rng.fork(),
            Arc::clone(&tokens),
            Arc::clone(&stop),
        )));
    }
    for client in 0..SET_CLIENTS {
        tasks.push(runtime.spawn(workload::set_client(
            Node::new(
                LocalCluster::endpoint(2 + client % 2),
                Arc::clone(&credentials),
            ),
            Arc::clone(&set_load_balancers),
            Arc::clone(&adds),
            Arc::clone(&next_element),
            Arc::clone(&stop),
        )));
    }
    let arp = watch_arp(guide.eip, Duration::from_millis(20));
    let traffic = probe_steadily(
        guide.target(HTTP_PORT),
        true,
        Duration::from_millis(20),
        Duration::from_millis(300),
    );

    // The faults.
    let planned = config.rounds.unwrap_or(10_000);
    let schedule = nemesis::schedule(schedule_rng, &config.nemeses, cluster.nodes(), planned);
    let mut dead: Vec<usize> = Vec::new();
    let mut rounds_run = 0;
    for (number, round) in schedule.iter().enumerate() {
        if config.rounds.is_none() && started.elapsed() + round.calm + round.hold > config.duration
        {
            break;
        }
        std::thread::sleep(round.calm);
        note(
            &mut log,
            format!("round {number}: {} for {:?}", round.fault, round.hold),
        );
        let injected = nemesis::inject(&cluster, &round.fault, &dead)?;
        for line in &injected.notes {
            note(&mut log, format!("round {number}: {line}"));
        }
        std::thread::sleep(round.hold);
        nemesis::repair(&cluster, &injected)?;
        dead.extend_from_slice(injected.left_dead());
        note(&mut log, format!("round {number}: repaired"));
        rounds_run += 1;
    }

    // Heal everything, let the workloads run on a healthy cluster, stop.
    cluster.heal()?;
    for node in 1..=cluster.nodes() {
        let _ = cluster.signal(node, Signal::Cont);
    }
    for node in dead.drain(..) {
        cluster.start(node)?;
    }
    note(&mut log, "healed; every node running".to_owned());
    let healed_at = Instant::now();
    if cluster
        .wait_for_leader(None, Duration::from_secs(30))
        .is_none()
    {
        note(&mut log, "no leader 30 s after healing".to_owned());
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = runtime.block_on(task);
    }

    // Final reads, from whichever node answers.
    let final_reads = {
        let registers = Arc::clone(&registers);
        let recorder = Arc::clone(&recorder);
        let set_load_balancers = Arc::clone(&set_load_balancers);
        let credentials = Arc::clone(&credentials);
        runtime.block_on(runtime.spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            let mut last = String::new();
            while tokio::time::Instant::now() < deadline {
                for node in 1..=3 {
                    let mut client =
                        Node::new(LocalCluster::endpoint(node), Arc::clone(&credentials));
                    let read = async {
                        workload::read_registers(&mut client, &registers, &recorder).await?;
                        workload::read_set(&mut client, &set_load_balancers).await
                    };
                    match read.await {
                        Ok(set) => return Ok(set),
                        Err(status) => last = status.to_string(),
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(last)
        }))
    };
    let (final_set, final_listeners) = final_reads
        .map_err(|error| io::Error::other(error.to_string()))?
        .map_err(|error| io::Error::other(format!("no final read succeeded: {error}")))?;
    let states = runtime
        .block_on(runtime.spawn(converged_states(cluster.nodes(), Arc::clone(&credentials))));
    let samples = traffic.finish()?;
    let ownership = arp.finish()?;

    // Checks.
    let mut violations = Vec::new();
    let history_path = config.out.join("history.txt");
    recorder.save(&history_path)?;
    let operations = parse_jepsen_register(&recorder.text())
        .map_err(|error| io::Error::other(error.to_string()))?;
    let verdict = register::check(&operations, CHECK_LIMIT);
    match &verdict {
        Verdict::Linearizable => {}
        Verdict::NotLinearizable { key } => {
            violations.push(format!("register {key:?}: not linearizable"));
        }
        Verdict::TimedOut => violations.push(format!(
            "register: no verdict within {} s (counted as a failure)",
            CHECK_LIMIT.as_secs()
        )),
    }
    let all_adds = adds.all();
    let set_report = set::check(&all_adds, &final_set);
    if !set_report.lost.is_empty() {
        violations.push(format!(
            "set: acknowledged adds lost: {:?}",
            set_report.lost
        ));
    }
    if !set_report.phantom.is_empty() {
        violations.push(format!(
            "set: refused adds present: {:?}",
            set_report.phantom
        ));
    }
    match &states {
        Ok(Ok(states)) => {
            let digests: BTreeSet<&(u64, Vec<u8>)> = states.iter().collect();
            if states.iter().any(|(_, digest)| digest.len() != 32) {
                violations.push("projections: a node returned no state digest".to_owned());
            } else if digests.len() != 1 {
                violations.push(format!(
                    "projections differ between nodes: {:?}",
                    states
                        .iter()
                        .map(|(index, digest)| format!("index {index}, digest {}", hex(digest)))
                        .collect::<Vec<_>>()
                ));
            }
        }
        Ok(Err(error)) => violations.push(format!("projections: {error}")),
        Err(error) => violations.push(format!("projections: {error}")),
    }
    let two_owners = ownership.instants_of_two_owners();
    if two_owners > 0 {
        violations.push(format!(
            "EIP: {two_owners} ARP questions answered by two nodes"
        ));
    }
    // Guards against passing by seeing nothing: the watch must have seen
    // one owner often (a tenth of the questions: faults on the leader leave
    // the EIP unanswered for a while, which the report's availability
    // figures give) and again once everything healed.
    let answered_once = ownership
        .rounds
        .iter()
        .filter(|round| round.answers.len() == 1)
        .count();
    if answered_once * 10 < ownership.rounds.len() {
        violations.push(format!(
            "EIP: only {answered_once} of {} ARP questions answered by one node",
            ownership.rounds.len()
        ));
    }
    let served_after_healing = ownership
        .rounds
        .iter()
        .any(|round| round.asked > healed_at && round.answers.len() == 1);
    if !served_after_healing {
        violations.push("EIP: no node answered for it after the final heal".to_owned());
    }
    if rounds_run == 0 {
        violations.push("no fault round ran (the duration is shorter than one round)".to_owned());
    }
    let mut acknowledged_per_key: std::collections::BTreeMap<&str, usize> =
        registers.iter().map(|key| (key.as_str(), 0)).collect();
    for operation in &operations {
        if operation.completed.is_some() {
            *acknowledged_per_key.entry(&operation.key).or_default() += 1;
        }
    }
    if let Some((key, count)) = acknowledged_per_key
        .iter()
        .find(|(_, count)| **count < MIN_OPERATIONS_PER_KEY)
    {
        violations.push(format!(
            "register {key}: only {count} completed operations (at least {MIN_OPERATIONS_PER_KEY} expected)"
        ));
    }
    if final_listeners != final_set.len() {
        violations.push(format!(
            "set: {final_listeners} listeners for {} distinct ports: a listener was duplicated",
            final_set.len()
        ));
    }

    // The report.
    let unknown = operations
        .iter()
        .filter(|op| op.completed.is_none())
        .count();
    let failed_probes = samples
        .iter()
        .filter(|sample| matches!(sample.outcome, ProbeOutcome::Failed(_)))
        .count();
    let mut text = log;
    let _ = writeln!(
        text,
        "\nseed {}, {rounds_run} fault rounds, nemeses {:?}",
        config.seed, config.nemeses
    );
    let _ = writeln!(
        text,
        "register: {} operations kept for the check ({} of unknown outcome) over {REGISTERS} keys: {}",
        operations.len(),
        unknown,
        match verdict {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable { .. } => "NOT linearizable",
            Verdict::TimedOut => "no verdict in time",
        }
    );
    let _ = writeln!(
        text,
        "set: {} adds ({} acknowledged, {} refused, {} unknown); final read {} elements; lost {}, phantom {}",
        all_adds.len(),
        all_adds
            .iter()
            .filter(|a| a.outcome == set::Outcome::Ok)
            .count(),
        all_adds
            .iter()
            .filter(|a| a.outcome == set::Outcome::Failed)
            .count(),
        all_adds
            .iter()
            .filter(|a| a.outcome == set::Outcome::Unknown)
            .count(),
        final_set.len(),
        set_report.lost.len(),
        set_report.phantom.len(),
    );
    let _ = writeln!(
        text,
        "projections: {}",
        match &states {
            Ok(Ok(states)) => states
                .iter()
                .map(|(index, digest)| format!("index {index} digest {}", &hex(digest)[..16]))
                .collect::<Vec<_>>()
                .join("; "),
            Ok(Err(error)) => error.clone(),
            Err(error) => error.to_string(),
        }
    );
    let _ = writeln!(
        text,
        "EIP: {} ARP rounds, {two_owners} with two owners, {answered_once} with one; {} probes, \
         {failed_probes} failed; longest gap {:.2} s; failover gaps {}",
        ownership.rounds.len(),
        samples.len(),
        longest_gap(&samples).as_secs_f64(),
        gaps(&samples),
    );
    let _ = writeln!(
        text,
        "violations: {}",
        if violations.is_empty() {
            "none".to_owned()
        } else {
            violations.join("; ")
        }
    );
    std::fs::write(config.out.join("report.txt"), &text)?;
    Ok(RunReport {
        violations,
        text,
        history: history_path,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Spans of consecutive failed probes, from the first failure to the next
/// success.
fn failure_spans(samples: &[Sample]) -> Vec<Duration> {
    let mut spans = Vec::new();
    let mut failing_since: Option<Instant> = None;
    for sample in samples {
        match (&sample.outcome, failing_since) {
            (ProbeOutcome::Failed(_), None) => failing_since = Some(sample.sent),
            (ProbeOutcome::Served(_), Some(since)) => {
                spans.push(sample.sent - since);
                failing_since = None;
            }
            _ => {}
        }
    }
    spans
}

fn longest_gap(samples: &[Sample]) -> Duration {
    failure_spans(samples).into_iter().max().unwrap_or_default()
}

/// The failure spans of at least 100 ms, as a count and their median.
fn gaps(samples: &[Sample]) -> String {
    let mut spans: Vec<Duration> = failure_spans(samples)
        .into_iter()
        .filter(|span| *span >= Duration::from_millis(100))
        .collect();
    spans.sort();
    match spans.get(spans.len() / 2) {
        Some(median) => format!("{} (median {:.2} s)", spans.len(), median.as_secs_f64()),
        None => "0".to_owned(),
    }
}

/// Every node's (log index, state digest) once all have applied the same
/// index (up to 30 s).
async fn converged_states(
    nodes: usize,
    credentials: Arc<fulcrum_api::Credentials>,
) -> Result<Vec<(u64, Vec<u8>)>, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = Vec::new();
    while tokio::time::Instant::now() < deadline {
        let mut states = Vec::new();
        for node in 1..=nodes {
            let mut client = Node::new(LocalCluster::endpoint(node), Arc::clone(&credentials));
            let status = match client.client().await {
                Ok(client) => client
                    .cluster()
                    .get_cluster_status(tonic::Request::new(v1::GetClusterStatusRequest {
                        read: Some(v1::ReadOptions {
                            consistency: v1::ReadConsistency::Local as i32,
                        }),
                        include_state_digest: true,
                    }))
                    .await
                    .map(tonic::Response::into_inner),
                Err(status) => Err(status),
            };
            match status {
                Ok(status) => states.push((status.state_log_index, status.state_digest)),
                Err(error) => states.push((0, error.to_string().into_bytes())),
            }
        }
        let indexes: BTreeSet<u64> = states.iter().map(|(index, _)| *index).collect();
        if indexes.len() == 1 && !indexes.contains(&0) {
            return Ok(states);
        }
        last = states;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "the nodes did not reach the same log index in 30 s: {:?}",
        last.iter().map(|(index, _)| index).collect::<Vec<_>>()
    ))
}
