//! What the control-plane benchmarks share: three Fulcrum agents started as
//! processes on this machine (killed when the benchmark ends, however it
//! ends), clients for them, and how to find the leader.
//!
//! Each benchmark binary includes this file and uses part of it.

#![allow(
    dead_code,
    reason = "shared by two benchmark binaries, each using a part of it"
)]

use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fulcrum_api::{Client, Credentials, v1};

/// How long a cluster may take to start, elect and accept a first write.
pub(crate) const SETUP_PATIENCE: Duration = Duration::from_secs(60);
/// The pause between attempts to connect to a member that is starting.
pub(crate) const CONNECT_BACKOFF: Duration = Duration::from_millis(100);
/// The pause between attempts at a setup step (a leader, a first write).
pub(crate) const SETUP_BACKOFF: Duration = Duration::from_millis(200);

/// Processes killed when the benchmark ends, however it ends.
pub(crate) struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Ends the benchmark with `message`.
pub(crate) fn fail(message: &str) -> ! {
    let program = std::env::args().next().unwrap_or_default();
    eprintln!("{program}: {message}");
    std::process::exit(2)
}

/// Ends the benchmark: a setup step was refused.
pub(crate) fn setup_failed(step: &str, status: tonic::Status) -> ! {
    fail(&format!("setting up {step}: {status}"))
}

/// `count` distinct free loopback ports: all are held until all are chosen,
/// so none is handed out twice.
pub(crate) fn free_ports(count: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..count)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|error| fail(&format!("no free port: {error}")))
        })
        .collect();
    held.iter()
        .map(|listener| {
            listener
                .local_addr()
                .map(|address| address.port())
                .unwrap_or_else(|error| fail(&format!("no free port: {error}")))
        })
        .collect()
}

/// Starts `command` with its output discarded.
pub(crate) fn spawn(command: &mut Command) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| fail(&format!("cannot start {command:?}: {error}")))
}

/// One agent started: where its API and HTTP ports are, and its process id.
pub(crate) struct Agent {
    /// `127.0.0.1:port` of its gRPC API.
    pub(crate) api: String,
    /// `127.0.0.1:port` of its HTTP port (REST, console, `/metrics`).
    pub(crate) http: String,
    /// Its process.
    pub(crate) pid: u32,
}

/// Starts three Fulcrum agents under `directory`, each with the flags
/// `flags(id)` gives besides its own addresses and data.
pub(crate) fn start_fulcrum(
    binary: &Path,
    directory: &Path,
    processes: &mut Processes,
    flags: impl Fn(usize) -> Vec<OsString>,
) -> Vec<Agent> {
    let ports = free_ports(9);
    let address = |n: usize| format!("127.0.0.1:{}", ports[n]);
    let nodes: Vec<(usize, String, String, String)> = (1..=3)
        .map(|id| {
            let first = 3 * (id - 1);
            (id, address(first), address(first + 1), address(first + 2))
        })
        .collect();
    let initial = nodes
        .iter()
        .map(|(id, api, raft, _)| format!("{id}={raft}/{api}"))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::create_dir_all(directory)
        .unwrap_or_else(|error| fail(&format!("cannot create {}: {error}", directory.display())));
    let key_file = directory.join("data.key");
    let key = fulcrum_node::secrets::new_key_file()
        .unwrap_or_else(|error| fail(&format!("no data key: {error}")));
    std::fs::write(&key_file, key)
        .unwrap_or_else(|error| fail(&format!("cannot write {}: {error}", key_file.display())));
    nodes
        .into_iter()
        .map(|(id, api, raft, http)| {
            let child = spawn(
                Command::new(binary)
                    .args(["agent", "--id", &id.to_string()])
                    .arg("--data-key-file")
                    .arg(&key_file)
                    .arg("--data-dir")
                    .arg(directory.join(format!("fulcrum-{id}")))
                    .args(["--api-address", &api, "--raft-address", &raft])
                    .args(["--http-address", &http])
                    .args(["--initial-members", &initial])
                    .args(flags(id)),
            );
            let pid = child.id();
            processes.0.push(child);
            Agent { api, http, pid }
        })
        .collect()
}

/// Clients of the agents at `addresses`, waiting for each to answer.
pub(crate) async fn connect(addresses: &[String], credentials: &Credentials) -> Vec<Client> {
    let mut clients = Vec::new();
    for address in addresses {
        let deadline = Instant::now() + SETUP_PATIENCE;
        let client = loop {
            match Client::connect_with(address, Duration::from_secs(2), credentials).await {
                Ok(client) => break client,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(CONNECT_BACKOFF).await;
                }
                Err(error) => fail(&format!("{address}: {error}")),
            }
        };
        clients.push(client);
    }
    clients
}

/// Which of `addresses` the leader's API is at, as the first client sees it.
pub(crate) async fn fulcrum_leader(clients: &[Client], addresses: &[String]) -> Option<usize> {
    let status = clients[0]
        .cluster()
        .get_cluster_status(v1::GetClusterStatusRequest::default())
        .await
        .ok()?
        .into_inner();
    let leader = status.leader_id?;
    let address = status
        .members
        .iter()
        .find(|member| member.node_id == leader)?
        .api_address
        .clone();
    addresses.iter().position(|known| *known == address)
}
