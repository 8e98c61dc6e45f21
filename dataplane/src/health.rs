//! Health checks: probes of each member of each group that has a check, run
//! by the first worker thread, and the board where every thread reads the
//! verdicts.
//!
//! A member starts healthy (traffic flows before the first probe), leaves the
//! rotation after `unhealthy_threshold` consecutive failed probes and comes
//! back after `healthy_threshold` consecutive successes. Every change of
//! verdict bumps the board's epoch, which tells the threads to rebuild their
//! balancers.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;

use crate::config::{Group, HealthCheck, HealthCheckKind, Listener};
use crate::io::read_more;

/// A member's health as its checks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberHealth {
    /// Whether the member is in the rotation as far as health goes.
    pub healthy: bool,
    /// The outcome of the latest probe: `None` before the first, or when it
    /// succeeded; the reason when it failed.
    pub last_failure: Option<String>,
    /// Probes made since the check started.
    pub probes: u64,
}

#[derive(Clone, Debug)]
struct Tally {
    health: MemberHealth,
    successes_in_a_row: u32,
    failures_in_a_row: u32,
}

/// Verdicts by (group id, member id).
#[derive(Debug, Default)]
pub(crate) struct Board {
    epoch: AtomicU64,
    members: Mutex<HashMap<(String, String), Tally>>,
}

impl Board {
    /// Increases whenever a verdict changes.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether the member may take traffic; members without a check always may.
    pub(crate) fn is_healthy(&self, group: &str, member: &str) -> bool {
        let members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        members
            .get(&(group.to_owned(), member.to_owned()))
            .is_none_or(|tally| tally.health.healthy)
    }

    /// Every checked member's health.
    pub(crate) fn report(&self) -> BTreeMap<(String, String), MemberHealth> {
        let members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        members
            .iter()
            .map(|(key, tally)| (key.clone(), tally.health.clone()))
            .collect()
    }

    fn record(&self, key: &(String, String), check: &HealthCheck, outcome: Result<(), String>) {
        let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        let tally = members.entry(key.clone()).or_insert_with(|| Tally {
            health: MemberHealth {
                healthy: true,
                last_failure: None,
                probes: 0,
            },
            successes_in_a_row: 0,
            failures_in_a_row: 0,
        });
        tally.health.probes += 1;
        let was_healthy = tally.health.healthy;
        match outcome {
            Ok(()) => {
                tally.successes_in_a_row += 1;
                tally.failures_in_a_row = 0;
                tally.health.last_failure = None;
                if tally.successes_in_a_row >= check.healthy_threshold {
                    tally.health.healthy = true;
                }
            }
            Err(reason) => {
                tally.failures_in_a_row += 1;
                tally.successes_in_a_row = 0;
                tally.health.last_failure = Some(reason);
                if tally.failures_in_a_row >= check.unhealthy_threshold {
                    tally.health.healthy = false;
                }
            }
        }
        if tally.health.healthy != was_healthy {
            tracing::info!(
                group = %key.0, member = %key.1, healthy = tally.health.healthy,
                reason = ?tally.health.last_failure, "member health changed"
            );
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Forgets a member that no longer has a check.
    fn forget(&self, key: &(String, String)) {
        let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        if members.remove(key).is_some() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// What one probe task checks; a change of any part restarts the task.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ProbeSpec {
    group: String,
    member: String,
    address: SocketAddr,
    check: HealthCheckKey,
}

/// The health check's fields, hashable.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct HealthCheckKey {
    kind: String,
    expected_codes: Vec<(u16, u16)>,
    interval: Duration,
    timeout: Duration,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl HealthCheckKey {
    fn of(check: &HealthCheck) -> Self {
        let (kind, expected_codes) = match &check.kind {
            HealthCheckKind::Tcp => ("tcp".to_owned(), Vec::new()),
            HealthCheckKind::Http {
                path,
                expected_codes,
            } => (format!("http {path}"), expected_codes.clone()),
        };
        Self {
            kind,
            expected_codes,
            interval: check.interval,
            timeout: check.timeout,
            healthy_threshold: check.healthy_threshold,
            unhealthy_threshold: check.unhealthy_threshold,
        }
    }
}

/// The probe tasks of one thread, started and stopped as the listeners
/// that ask for them come, change and go.
///
/// Invariant: each probe's count is the number of watched listeners'
/// groups that ask for it, and each (group, member) key's count the number
/// of running probes for it; between generations, a probe runs, and a key
/// stays on the board, exactly while its count is above zero.
#[derive(Default)]
pub(crate) struct Checker {
    /// The listeners whose members are checked, as last counted.
    watched: HashMap<String, Arc<Listener>>,
    running: HashMap<ProbeSpec, Probe>,
    /// (group id, member id) → running probes for it.
    keys: HashMap<(String, String), usize>,
    /// Probes whose count fell to zero in this generation.
    unwanted: Vec<ProbeSpec>,
}

/// A running probe task: how many groups ask for it, and its stop flag.
struct Probe {
    wanted_by: usize,
    stop: Rc<Cell<bool>>,
}

impl Checker {
    /// Checks the members of `listener` (its groups' that have a health
    /// check) as listener `id` from now on, in place of what it had, and
    /// stops the probes no listener asks for any more. `None`: the
    /// listener is gone.
    pub(crate) fn watch(&mut self, id: &str, listener: Option<&Arc<Listener>>, board: &Arc<Board>) {
        let before = match listener {
            Some(listener) => self.watched.insert(id.to_owned(), Arc::clone(listener)),
            None => self.watched.remove(id),
        };
        if let (Some(before), Some(listener)) = (&before, listener)
            && Arc::ptr_eq(before, listener)
        {
            return;
        }
        // Started before the old ones stop: a probe both ask for keeps
        // running (and its member's verdict).
        for (spec, check) in listener
            .into_iter()
            .flat_map(|listener| probes_of_listener(listener))
        {
            self.start(spec, check, board);
        }
        for (spec, _) in before
            .iter()
            .flat_map(|listener| probes_of_listener(listener))
        {
            self.stop(&spec);
        }
    }

    /// The ids of the listeners whose members are checked.
    pub(crate) fn watched(&self) -> impl Iterator<Item = &str> {
        self.watched.keys().map(String::as_str)
    }

    fn start(&mut self, spec: ProbeSpec, check: HealthCheck, board: &Arc<Board>) {
        if let Some(probe) = self.running.get_mut(&spec) {
            probe.wanted_by += 1;
            return;
        }
        *self
            .keys
            .entry((spec.group.clone(), spec.member.clone()))
            .or_default() += 1;
        let stop = Rc::new(Cell::new(false));
        self.running.insert(
            spec.clone(),
            Probe {
                wanted_by: 1,
                stop: Rc::clone(&stop),
            },
        );
        monoio::spawn(probe_loop(spec, check, Arc::clone(board), stop));
    }

    /// One asking group fewer for `spec`; a probe no group asks for any
    /// more stops at [`Checker::settle`], so that one that another listener
    /// takes up in the same generation keeps running (and its verdict).
    fn stop(&mut self, spec: &ProbeSpec) {
        let Some(probe) = self.running.get_mut(spec) else {
            return;
        };
        probe.wanted_by -= 1;
        if probe.wanted_by == 0 {
            self.unwanted.push(spec.clone());
        }
    }

    /// Stops the probes no listener asks for any more, and forgets the
    /// verdicts of members no probe checks: at the end of a generation.
    pub(crate) fn settle(&mut self, board: &Board) {
        for spec in std::mem::take(&mut self.unwanted) {
            let Some(probe) = self.running.get(&spec) else {
                continue;
            };
            if probe.wanted_by > 0 {
                continue;
            }
            probe.stop.set(true);
            self.running.remove(&spec);
            let key = (spec.group.clone(), spec.member.clone());
            if let Some(count) = self.keys.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    self.keys.remove(&key);
                    board.forget(&key);
                }
            }
        }
    }

    /// Stops every probe.
    pub(crate) fn stop_all(&mut self) {
        for probe in self.running.values() {
            probe.stop.set(true);
        }
        self.running.clear();
        self.keys.clear();
        self.unwanted.clear();
        self.watched.clear();
    }
}

fn probes_of_listener(listener: &Listener) -> Vec<(ProbeSpec, HealthCheck)> {
    listener.groups().flat_map(probes_of).collect()
}

fn probes_of(group: &Group) -> Vec<(ProbeSpec, HealthCheck)> {
    let Some(check) = &group.health_check else {
        return Vec::new();
    };
    group
        .members
        .iter()
        .map(|member| {
            let spec = ProbeSpec {
                group: group.id.clone(),
                member: member.id.clone(),
                address: member.address,
                check: HealthCheckKey::of(check),
            };
            (spec, check.clone())
        })
        .collect()
}

async fn probe_loop(spec: ProbeSpec, check: HealthCheck, board: Arc<Board>, stop: Rc<Cell<bool>>) {
    let key = (spec.group.clone(), spec.member.clone());
    while !stop.get() {
        let started = std::time::Instant::now();
        let outcome =
            match monoio::time::timeout(check.timeout, probe(spec.address, &check.kind)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no answer within {} ms", check.timeout.as_millis())),
            };
        if stop.get() {
            break;
        }
        board.record(&key, &check, outcome);
        let next = check.interval.saturating_sub(started.elapsed());
        monoio::time::sleep(next).await;
    }
}

/// One probe: connect, and for HTTP send `GET path` and read the status.
async fn probe(address: SocketAddr, kind: &HealthCheckKind) -> Result<(), String> {
    let mut stream = TcpStream::connect_addr(address)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    let HealthCheckKind::Http {
        path,
        expected_codes,
    } = kind
    else {
        return Ok(());
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: fulcrum-health-check\r\nConnection: close\r\n\r\n"
    );
    let (written, _) = stream.write_all(request.into_bytes()).await;
    written.map_err(|error| format!("send: {error}"))?;
    let mut head = Vec::with_capacity(4096);
    loop {
        if head.len() == head.capacity() {
            return Err("response head over 4096 bytes".to_owned());
        }
        let read;
        (read, head) = read_more(&mut stream, head).await;
        match read {
            Ok(0) => return Err("closed before a complete response head".to_owned()),
            Ok(_) => {}
            Err(error) => return Err(format!("receive: {error}")),
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut headers);
        match response.parse(&head) {
            Ok(httparse::Status::Partial) => continue,
            Ok(httparse::Status::Complete(_)) => {
                let status = response.code.unwrap_or(0);
                return if expected_codes
                    .iter()
                    .any(|(low, high)| (*low..=*high).contains(&status))
                {
                    Ok(())
                } else {
                    Err(format!("status {status}"))
                };
            }
            Err(error) => return Err(format!("not HTTP: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(healthy: u32, unhealthy: u32) -> HealthCheck {
        HealthCheck {
            kind: HealthCheckKind::Tcp,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
        }
    }

    #[test]
    fn verdicts_change_only_at_the_thresholds() {
        let board = Board::default();
        let key = ("vsg-1".to_owned(), "m-1".to_owned());
        let check = check(2, 3);
        assert!(board.is_healthy("vsg-1", "m-1"));
        for _ in 0..2 {
            board.record(&key, &check, Err("refused".to_owned()));
            assert!(board.is_healthy("vsg-1", "m-1"));
        }
        let epoch = board.epoch();
        board.record(&key, &check, Err("refused".to_owned()));
        assert!(!board.is_healthy("vsg-1", "m-1"));
        assert_eq!(board.epoch(), epoch + 1);
        board.record(&key, &check, Ok(()));
        assert!(!board.is_healthy("vsg-1", "m-1"));
        board.record(&key, &check, Ok(()));
        assert!(board.is_healthy("vsg-1", "m-1"));
        assert_eq!(board.report()[&key].probes, 5);
    }
}
