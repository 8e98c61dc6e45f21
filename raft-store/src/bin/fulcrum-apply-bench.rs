//! The largest commands the limits allow, applied on a large catalog built
//! within them: how long `State::apply` takes, and the memory the catalog
//! holds. A benchmark: it reports and asserts nothing.
//!
//! ```text
//! fulcrum-apply-bench [LOAD_BALANCERS]
//! ```
//!
//! The catalog: the instance quota's ceiling (100,000 instances), up to
//! LOAD_BALANCERS Load Balancers (default 1,000; the ceiling is 10,000), each
//! with one group at the member ceiling (1,000 members) and one listener.
//! Then, each 21 times on different targets: a group created with 1,000
//! members, a replacement of all 1,000 members of a group by 1,000 others,
//! an instance deleted (its groups looked up), and a Load Balancer deleted
//! with cascade; the minimum, median and maximum of each.

// This tool's output is its report.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use fulcrum_api::{LOG_FORMAT_VERSION, v1};
use fulcrum_raft_store::domain::State;
use fulcrum_raft_store::domain::limits::{MAX_MEMBERS_PER_GROUP, quota};
use v1::command::Kind;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Each largest command is applied this many times (on different targets).
const RUNS: usize = 21;

/// Applies commands in log order, at one millisecond apart.
struct Log {
    state: State,
    index: u64,
}

impl Log {
    fn apply(&mut self, kind: Kind) -> Result<(String, Duration), Error> {
        self.index += 1;
        let envelope = v1::LogEnvelope {
            format_version: LOG_FORMAT_VERSION,
            client_token: String::new(),
            accepted_at_unix_ms: 1_700_000_000_000 + self.index as i64,
            principal: String::new(),
            command: Some(v1::Command { kind: Some(kind) }),
        };
        let started = Instant::now();
        let applied = self.state.apply(self.index, &envelope)?;
        let took = started.elapsed();
        let receipt = applied
            .answer
            .map_err(|rejection| format!("refused: {}", rejection.message))?;
        Ok((receipt.resource_id, took))
    }
}

/// The process's peak resident memory, from /proc (Linux), in MiB.
fn peak_resident_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn members(instances: &[String], first: usize, count: usize, port: u32) -> Vec<v1::MemberSpec> {
    (first..first + count)
        .map(|n| v1::MemberSpec {
            instance_id: instances[n % instances.len()].clone(),
            port,
            weight: None,
            admin_state_up: None,
        })
        .collect()
}

fn main() -> Result<(), Error> {
    let load_balancers: usize = match std::env::args().nth(1) {
        Some(text) => text.parse()?,
        None => 1000,
    };
    if load_balancers < 2 * RUNS {
        return Err(format!("LOAD_BALANCERS must be at least {}", 2 * RUNS).into());
    }
    let mut log = Log {
        state: State::default(),
        index: 0,
    };
    let built = Instant::now();
    log.apply(Kind::UpdateClusterSettings(
        v1::UpdateClusterSettingsRequest {
            quotas: Some(v1::Quotas {
                load_balancers: quota::LOAD_BALANCERS.ceiling,
                listeners_per_load_balancer: quota::LISTENERS_PER_LOAD_BALANCER.ceiling,
                groups_per_load_balancer: quota::GROUPS_PER_LOAD_BALANCER.ceiling,
                members_per_group: quota::MEMBERS_PER_GROUP.ceiling,
                networks: Some(quota::NETWORKS.ceiling),
                subnets: Some(quota::SUBNETS.ceiling),
                instances: Some(quota::INSTANCES.ceiling),
                eips: Some(quota::EIPS.ceiling),
                certificates: Some(quota::CERTIFICATES.ceiling),
            }),
            ..Default::default()
        },
    ))?;
    let (network, _) = log.apply(Kind::CreateNetwork(v1::CreateNetworkRequest {
        name: "net".into(),
        cidr: "10.0.0.0/8".into(),
        ..Default::default()
    }))?;
    let (subnet, _) = log.apply(Kind::CreateSubnet(v1::CreateSubnetRequest {
        name: "sub".into(),
        network_id: network.clone(),
        cidr: "10.0.0.0/8".into(),
        ..Default::default()
    }))?;
    let instance_count = quota::INSTANCES.ceiling as usize - 1;
    let mut instances = Vec::with_capacity(instance_count);
    for n in 0..instance_count {
        let (id, _) = log.apply(Kind::CreateInstance(v1::CreateInstanceRequest {
            name: format!("i{n}"),
            subnet_id: subnet.clone(),
            address: {
                let host = n + 1;
                format!("10.{}.{}.{}", host >> 16, (host >> 8) & 255, host & 255)
            },
            ..Default::default()
        }))?;
        instances.push(id);
    }
    let group_members = MAX_MEMBERS_PER_GROUP as usize;
    // The last RUNS instances are in no group: they are the ones deleted.
    let (member_pool, spare) = instances.split_at(instance_count - RUNS);
    let mut balancers = Vec::new();
    let mut groups = Vec::new();
    for n in 0..load_balancers {
        let (lb, _) = log.apply(Kind::CreateLoadBalancer(v1::CreateLoadBalancerRequest {
            name: format!("lb{n}"),
            network_id: network.clone(),
            subnet_id: subnet.clone(),
            ..Default::default()
        }))?;
        let (group, _) = log.apply(Kind::CreateGroup(v1::CreateGroupRequest {
            load_balancer_id: lb.clone(),
            name: "web".into(),
            members: members(member_pool, n * 97, group_members, 8080),
            ..Default::default()
        }))?;
        log.apply(Kind::CreateListener(v1::CreateListenerRequest {
            load_balancer_id: lb.clone(),
            name: "http".into(),
            protocol: v1::Protocol::Http as i32,
            port: 80,
            default_group_id: group.clone(),
            ..Default::default()
        }))?;
        balancers.push(lb);
        groups.push(group);
    }
    println!(
        "catalog: {} instances, {load_balancers} load balancers, {} members, {} log entries, built in {:.1} s; history {} MiB",
        instances.len(),
        load_balancers * group_members,
        log.index,
        built.elapsed().as_secs_f64(),
        log.state.history().bytes() >> 20,
    );

    let mut create = Vec::new();
    let mut replace = Vec::new();
    let mut delete_instance = Vec::new();
    let mut delete_lb = Vec::new();
    for run in 0..RUNS {
        create.push(
            log.apply(Kind::CreateGroup(v1::CreateGroupRequest {
                load_balancer_id: balancers[0].clone(),
                name: format!("largest{run}"),
                members: members(member_pool, 50_000 + run * 97, group_members, 9090),
                ..Default::default()
            }))?
            .1,
        );
        replace.push(
            log.apply(Kind::ReplaceMembers(v1::ReplaceMembersRequest {
                group_id: groups[run].clone(),
                members: members(member_pool, 70_000 + run * 97, group_members, 8080),
                ..Default::default()
            }))?
            .1,
        );
        delete_instance.push(
            log.apply(Kind::DeleteInstance(v1::DeleteInstanceRequest {
                id: spare[run].clone(),
                ..Default::default()
            }))?
            .1,
        );
        delete_lb.push(
            log.apply(Kind::DeleteLoadBalancer(v1::DeleteLoadBalancerRequest {
                id: balancers[RUNS + run].clone(),
                cascade: true,
                ..Default::default()
            }))?
            .1,
        );
    }
    println!("each over {RUNS} runs, min / median / max:");
    report(&format!("CreateGroup with {group_members} members"), create);
    report(
        &format!("ReplaceMembers, {group_members} out and {group_members} in"),
        replace,
    );
    report(
        &format!(
            "DeleteInstance (its groups looked up among {} members)",
            load_balancers * group_members
        ),
        delete_instance,
    );
    report(
        "DeleteLoadBalancer with cascade (a listener, a group of 1,000)",
        delete_lb,
    );
    if let Some(peak) = peak_resident_mib() {
        println!("peak resident memory: {peak} MiB");
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One line: what was measured, and its minimum, median and maximum.
fn report(what: &str, mut durations: Vec<Duration>) {
    durations.sort_unstable();
    let (Some(min), Some(max)) = (durations.first(), durations.last()) else {
        return;
    };
    let median = durations[durations.len() / 2];
    println!(
        "  {what}: {:.2} / {:.2} / {:.2} ms",
        ms(*min),
        ms(median),
        ms(*max)
    );
}
