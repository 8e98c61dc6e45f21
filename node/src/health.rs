//! The node's health as the gRPC health service reports it: SERVING only
//! while every part the node needs is alive.
//!
//! A node is unhealthy when its Raft has stopped (a fatal error, which is
//! also how a failed store shows: openraft stops on a storage error), when
//! its state lock is poisoned (a panic while it was held), or when one of its
//! background tasks (the EIP ownership loop, the owner's report) has ended,
//! which they never do while the node runs. Each cause is logged once, at
//! error, when it is first seen.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::replica::Replica;

/// How often the health is looked at besides on every Raft metrics change.
const HEALTH_POLL: Duration = Duration::from_millis(250);

/// Background tasks that have ended, by name: shared by the tasks' guards
/// and the reporter.
#[derive(Clone, Default)]
pub struct TaskFailures {
    ended: Arc<Mutex<Vec<&'static str>>>,
}

impl TaskFailures {
    /// `task`, watched: if it ever returns, it is logged and the node turns
    /// unhealthy.
    pub fn watch(
        &self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let ended = self.ended.clone();
        async move {
            task.await;
            tracing::error!(
                task = name,
                "a background task of the node has stopped; the node reports NOT_SERVING"
            );
            // A poisoned list still holds the names: recover it.
            ended
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(name);
        }
    }

    fn ended(&self) -> Vec<&'static str> {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Why the node is unhealthy, or `None` when it is healthy. `raft_gone`:
/// Raft's metrics channel has closed (its core task has ended).
pub fn diagnose(replica: &Replica, failures: &TaskFailures, raft_gone: bool) -> Option<String> {
    // Read in place: the metrics change at every heartbeat, so no copy.
    if let Err(fatal) = &replica.raft().metrics().borrow_watched().running_state {
        return Some(format!("Raft has stopped: {fatal}"));
    }
    if raft_gone {
        return Some("Raft has stopped".to_owned());
    }
    if replica.state().is_err() {
        return Some("the state lock is poisoned".to_owned());
    }
    let ended = failures.ended();
    if !ended.is_empty() {
        return Some(format!("background tasks stopped: {}", ended.join(", ")));
    }
    None
}

/// Keeps the health service's overall status ("") and every service's
/// status true to [`diagnose`], until the node stops (the task is aborted).
pub async fn report(
    replica: Arc<Replica>,
    failures: TaskFailures,
    reporter: HealthReporter,
    services: &'static [&'static str],
) {
    let mut metrics = replica.raft().metrics();
    let mut raft_gone = false;
    let mut reported: Option<Option<String>> = None;
    loop {
        let diagnosis = diagnose(&replica, &failures, raft_gone);
        if reported.as_ref() != Some(&diagnosis) {
            let status = match &diagnosis {
                None => ServingStatus::Serving,
                Some(reason) => {
                    tracing::error!(%reason, "the node is unhealthy");
                    ServingStatus::NotServing
                }
            };
            reporter.set_service_status("", status).await;
            for service in services {
                reporter.set_service_status(*service, status).await;
            }
            reported = Some(diagnosis);
        }
        if raft_gone {
            tokio::time::sleep(HEALTH_POLL).await;
            continue;
        }
        tokio::select! {
            changed = metrics.changed() => raft_gone = changed.is_err(),
            () = tokio::time::sleep(HEALTH_POLL) => {}
        }
    }
}
