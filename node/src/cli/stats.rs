//! `fulcrum lb stats`: a live table of a Load Balancer's listeners and
//! members, from its status tree (the EIP owner's counters), refreshed every
//! interval. Rates are the difference of two samples over their interval.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use fulcrum_api::v1;
use serde_json::json;

use super::{Outcome, Session, print_out};
use crate::resources::text::{Table, operating};

/// Requests and errors of one listener or member at one sample.
#[derive(Clone, Copy, Default)]
struct Sample {
    requests: u64,
    errors: u64,
}

fn errors_of(counters: Option<&v1::TrafficCounters>) -> u64 {
    counters.map_or(0, |counters| counters.errors.values().sum())
}

fn per_second(now: u64, before: Option<u64>, elapsed: Duration) -> f64 {
    match before {
        Some(before) if elapsed > Duration::ZERO => {
            now.saturating_sub(before) as f64 / elapsed.as_secs_f64()
        }
        _ => 0.0,
    }
}

/// Prints the Load Balancer's figures every `interval`, `count` times or
/// until interrupted.
pub(super) async fn watch(
    session: &Session,
    load_balancer_id: &str,
    interval: Duration,
    count: Option<u64>,
) -> Outcome {
    let mut client = session.client.load_balancers();
    let mut previous: Option<(Instant, BTreeMap<String, Sample>)> = None;
    let clear = session.format == super::output::Format::Table && std::io::stdout().is_terminal();
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut taken = 0u64;
    while count.is_none_or(|count| taken < count) {
        ticks.tick().await;
        let tree = client
            .get_status_tree(session.request(v1::GetStatusTreeRequest {
                load_balancer_id: load_balancer_id.to_owned(),
                read: session.read(),
            }))
            .await?
            .into_inner()
            .load_balancer
            .unwrap_or_default();
        let now = Instant::now();
        let elapsed = previous
            .as_ref()
            .map_or(Duration::ZERO, |(at, _)| now - *at);
        let before = |id: &str| {
            previous
                .as_ref()
                .and_then(|(_, samples)| samples.get(id).copied())
        };
        let mut samples = BTreeMap::new();
        let mut listeners = Table::new(&[
            "LISTENER",
            "OPERATING",
            "OPEN",
            "CONNECTIONS",
            "REQ/S",
            "ERR/S",
        ]);
        let mut listener_rows = Vec::new();
        for listener in &tree.listeners {
            let counters = listener.counters.as_ref();
            let sample = Sample {
                requests: counters.map_or(0, |c| c.requests),
                errors: errors_of(counters),
            };
            let (requests, errors) = (
                per_second(
                    sample.requests,
                    before(&listener.id).map(|s| s.requests),
                    elapsed,
                ),
                per_second(
                    sample.errors,
                    before(&listener.id).map(|s| s.errors),
                    elapsed,
                ),
            );
            listeners.row(vec![
                listener.name.clone(),
                operating(listener.operating_status),
                counters.map_or(0, |c| c.active_connections).to_string(),
                counters.map_or(0, |c| c.total_connections).to_string(),
                format!("{requests:.1}"),
                format!("{errors:.1}"),
            ]);
            listener_rows.push(json!({
                "id": listener.id, "name": listener.name,
                "operatingStatus": operating(listener.operating_status),
                "openConnections": counters.map_or(0, |c| c.active_connections),
                "connections": counters.map_or(0, |c| c.total_connections),
                "requests": sample.requests, "requestsPerSecond": requests,
                "errors": sample.errors, "errorsPerSecond": errors,
            }));
            samples.insert(listener.id.clone(), sample);
        }
        let mut members = Table::new(&["GROUP", "MEMBER", "HEALTH", "OPEN", "REQ/S", "FAILURES"]);
        let mut member_rows = Vec::new();
        for group in &tree.groups {
            for member in &group.members {
                let counters = member.counters.as_ref();
                let sample = Sample {
                    requests: counters.map_or(0, |c| c.requests),
                    errors: errors_of(counters),
                };
                let requests = per_second(
                    sample.requests,
                    before(&member.id).map(|s| s.requests),
                    elapsed,
                );
                members.row(vec![
                    group.name.clone(),
                    format!("{}:{}", member.address, member.port),
                    operating(member.operating_status),
                    counters.map_or(0, |c| c.active_connections).to_string(),
                    format!("{requests:.1}"),
                    sample.errors.to_string(),
                ]);
                member_rows.push(json!({
                    "group": group.name, "id": member.id,
                    "address": format!("{}:{}", member.address, member.port),
                    "operatingStatus": operating(member.operating_status),
                    "openConnections": counters.map_or(0, |c| c.active_connections),
                    "requests": sample.requests, "requestsPerSecond": requests,
                    "failures": sample.errors,
                }));
                samples.insert(member.id.clone(), sample);
            }
        }
        match session.format {
            super::output::Format::Table => {
                let mut text = String::new();
                if clear {
                    text.push_str("\x1b[2J\x1b[H");
                }
                text.push_str(&format!(
                    "{} ({})  {}\n\n{}\n{}",
                    tree.name,
                    tree.id,
                    operating(tree.operating_status),
                    listeners.render(),
                    members.render()
                ));
                print_out(&text);
            }
            super::output::Format::Json => print_out(
                &(json!({
                    "loadBalancerId": tree.id,
                    "operatingStatus": operating(tree.operating_status),
                    "intervalSeconds": elapsed.as_secs_f64(),
                    "listeners": listener_rows,
                    "members": member_rows,
                })
                .to_string()
                    + "\n"),
            ),
        }
        previous = Some((now, samples));
        taken += 1;
    }
    Ok(())
}
