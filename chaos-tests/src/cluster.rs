//! A local cluster in network namespaces, driven through
//! `deploy/local-cluster`: nodes started, killed, stopped, continued,
//! restarted and partitioned; the API reached with the `fulcrum` CLI from the
//! client namespace.
//!
//! The cluster runs with TLS and authentication, as a real deployment: the
//! script makes the CA, the node certificates, an admin client certificate
//! and the data key under the state directory's `pki/`, and every CLI call
//! and gRPC client here presents that admin certificate
//! ([`LocalCluster::credentials`]).
//!
//! The namespaces have fixed names, so one cluster runs at a time in this
//! machine: [`LocalCluster::up`] takes a process-wide lock and, against other
//! processes, refuses when a cluster is already up.

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fulcrum_api::Credentials;
use fulcrum_eip::arp::Mac;

/// The client namespace's name.
pub const CLIENT_NAMESPACE: &str = "fulcrum-client";
/// The client's address.
pub const CLIENT_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 100);

/// Fails the calling test unless it runs as root: network namespaces need
/// it (CI runs as root), and such a test must fail rather than pass
/// without having run.
///
/// # Panics
/// When the effective user is not root.
pub fn assert_root() {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    assert_eq!(
        uid, "0",
        "network-namespace tests need root (CI runs as root)"
    );
}

/// Where `deploy/local-cluster` keeps the cluster's credentials, under its
/// state directory.
const PKI_DIRECTORY: &str = "pki";
/// The cluster CA's certificate, in [`PKI_DIRECTORY`].
const CA_FILE: &str = "ca.crt";
/// The admin client certificate and its key, in [`PKI_DIRECTORY`].
const ADMIN_CERTIFICATE_FILE: &str = "client.admin.crt";
const ADMIN_KEY_FILE: &str = "client.admin.key";

/// One local cluster per process at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A running local cluster; taken down (data purged) when dropped.
pub struct LocalCluster {
    script: PathBuf,
    binary: PathBuf,
    state: PathBuf,
    nodes: usize,
    purge: bool,
    _turn: MutexGuard<'static, ()>,
}

/// Signals the cluster's processes can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Killed at once; nothing is cleaned up.
    Kill,
    /// Stopped (frozen) until continued.
    Stop,
    /// Continued after a stop.
    Cont,
    /// Asked to stop gracefully.
    Term,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Self::Kill => "KILL",
            Self::Stop => "STOP",
            Self::Cont => "CONT",
            Self::Term => "TERM",
        }
    }
}

impl LocalCluster {
    /// Brings up `nodes` nodes running `binary`, with their data and logs
    /// under `state`, and waits for a leader.
    ///
    /// # Errors
    /// Not root, a cluster already up, or no leader in time; the error
    /// carries the script's output.
    pub fn up(binary: &Path, nodes: usize, state: &Path) -> io::Result<Self> {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let cluster = Self {
            script: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/local-cluster"),
            binary: binary.to_owned(),
            state: state.to_owned(),
            nodes,
            purge: true,
            _turn: turn,
        };
        cluster.script(&["up", &nodes.to_string()])?;
        Ok(cluster)
    }

    /// Keeps the data and logs when the cluster is taken down (they are
    /// removed by default).
    pub fn keep_logs(&mut self) {
        self.purge = false;
    }

    /// How many nodes it has; they are numbered from 1.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Node `node`'s address.
    pub fn node_address(node: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 88, 0, 10 + u8::try_from(node).unwrap_or(0))
    }

    /// The node at `address` (0 when it is no node's).
    pub fn node_at(address: Ipv4Addr) -> usize {
        let [a, b, c, last] = address.octets();
        if [a, b, c] == [10, 88, 0] && last > 10 {
            usize::from(last - 10)
        } else {
            0
        }
    }

    /// Node `node`'s API endpoint.
    pub fn endpoint(node: usize) -> String {
        format!("{}:7400", Self::node_address(node))
    }

    /// Node `node`'s network namespace.
    pub fn namespace(node: usize) -> String {
        format!("fulcrum-node{node}")
    }

    /// Where node `node` writes its log.
    pub fn log(&self, node: usize) -> PathBuf {
        self.state.join(format!("node{node}.log"))
    }

    /// The directory of the cluster's CA, certificates and data key.
    pub fn pki(&self) -> PathBuf {
        self.state.join(PKI_DIRECTORY)
    }

    /// The CA and the admin client certificate the script made: what a
    /// [`fulcrum_api::Client`] connects with (`Client::connect_with`).
    ///
    /// # Errors
    /// A file cannot be read.
    pub fn credentials(&self) -> io::Result<Credentials> {
        let read = |file: &str| {
            let path = self.pki().join(file);
            std::fs::read_to_string(&path).map_err(|error| {
                io::Error::new(error.kind(), format!("{}: {error}", path.display()))
            })
        };
        Ok(Credentials {
            ca_pem: Some(read(CA_FILE)?),
            identity: Some((read(ADMIN_CERTIFICATE_FILE)?, read(ADMIN_KEY_FILE)?)),
            token: None,
        })
    }

    /// Runs the `fulcrum` CLI against `node` from the client namespace, with
    /// the admin client certificate.
    ///
    /// # Errors
    /// The CLI could not be run; a refusal is in the output's status.
    pub fn cli(&self, node: usize, args: &[&str]) -> io::Result<Output> {
        self.cli_within(node, 5, args)
    }

    fn cli_within(&self, node: usize, seconds: u32, args: &[&str]) -> io::Result<Output> {
        let pki = self.pki();
        Command::new("ip")
            .args(["netns", "exec", CLIENT_NAMESPACE])
            .arg(&self.binary)
            .args(["--endpoint", &Self::endpoint(node)])
            .arg("--ca")
            .arg(pki.join(CA_FILE))
            .arg("--cert")
            .arg(pki.join(ADMIN_CERTIFICATE_FILE))
            .arg("--key")
            .arg(pki.join(ADMIN_KEY_FILE))
            .args(["--timeout", &seconds.to_string()])
            .args(args)
            .output()
    }

    /// Runs the CLI against the first node that accepts the command.
    ///
    /// # Errors
    /// Every node refused; the error carries the last refusal.
    pub fn cli_ok(&self, args: &[&str]) -> io::Result<String> {
        let mut refusal = String::new();
        for node in 1..=self.nodes {
            let output = self.cli(node, args)?;
            if output.status.success() {
                return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
            }
            refusal = format!(
                "node {node}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Err(io::Error::other(format!("fulcrum {args:?}: {refusal}")))
    }

    /// The leader, as the first node that answers within a second sees it.
    pub fn leader(&self) -> Option<usize> {
        (1..=self.nodes).find_map(|node| self.leader_seen_by(node))
    }

    /// The leader, as node `node` sees it (it answers within a second).
    pub fn leader_seen_by(&self, node: usize) -> Option<usize> {
        let output = self
            .cli_within(node, 1, &["--output", "json", "cluster", "status"])
            .ok()?;
        let status: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        status["leaderId"]
            .as_u64()
            .and_then(|id| usize::try_from(id).ok())
    }

    /// Waits until a leader other than `not` is known, for up to
    /// `patience`, asking the nodes other than `not` (which may be stopped,
    /// or cut off and still believe it leads).
    pub fn wait_for_leader(&self, not: Option<usize>, patience: Duration) -> Option<usize> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            let seen = (1..=self.nodes)
                .filter(|node| Some(*node) != not)
                .find_map(|node| self.leader_seen_by(node));
            if let Some(leader) = seen
                && Some(leader) != not
            {
                return Some(leader);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Node `node`'s process id.
    ///
    /// # Errors
    /// The node has no pid file.
    pub fn pid(&self, node: usize) -> io::Result<u32> {
        let text = std::fs::read_to_string(self.state.join(format!("node{node}.pid")))?;
        text.trim()
            .parse()
            .map_err(|_| io::Error::other(format!("node {node}'s pid file holds {text:?}")))
    }

    /// Sends `signal` to node `node`'s process.
    ///
    /// # Errors
    /// No such process.
    pub fn signal(&self, node: usize, signal: Signal) -> io::Result<()> {
        let pid = self.pid(node)?;
        let output = Command::new("kill")
            .args(["-s", signal.name(), &pid.to_string()])
            .output()?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "kill -s {} {pid}: {}",
                signal.name(),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        if signal == Signal::Kill {
            // Reaped by the script's shell long gone: wait until it is gone.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }

    /// Starts node `node` again, with its data.
    ///
    /// # Errors
    /// It is running, or the script failed.
    pub fn start(&self, node: usize) -> io::Result<()> {
        self.script(&["start", &node.to_string()]).map(drop)
    }

    /// Cuts node `node` off from the other nodes; clients still reach it.
    ///
    /// # Errors
    /// The script failed.
    pub fn isolate(&self, node: usize) -> io::Result<()> {
        self.script(&["isolate", &node.to_string()]).map(drop)
    }

    /// Drops packets between `node` and each of `peers` (only those
    /// arriving at `node` when `direction` is [`Direction::Inbound`]), all of
    /// them or, with `loss_percent`, that share of them at random.
    ///
    /// # Errors
    /// nft refused the rules.
    pub fn cut(
        &self,
        node: usize,
        peers: &[usize],
        direction: Direction,
        loss_percent: Option<u8>,
    ) -> io::Result<()> {
        if peers.is_empty() {
            return Ok(());
        }
        let addresses = peers
            .iter()
            .map(|peer| Self::node_address(*peer).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let share = loss_percent.map_or_else(String::new, |percent| {
            format!("numgen random mod 100 < {percent} ")
        });
        let mut script = format!(
            "add table inet {CHAOS_TABLE}\n\
             add chain inet {CHAOS_TABLE} input {{ type filter hook input priority -20; policy accept; }}\n\
             add chain inet {CHAOS_TABLE} output {{ type filter hook output priority -20; policy accept; }}\n\
             add rule inet {CHAOS_TABLE} input ip saddr {{ {addresses} }} {share}drop\n"
        );
        if direction == Direction::Both {
            script.push_str(&format!(
                "add rule inet {CHAOS_TABLE} output ip daddr {{ {addresses} }} {share}drop\n"
            ));
        }
        nft_in(&Self::namespace(node), &script)
    }

    /// Removes every partition and packet loss.
    ///
    /// # Errors
    /// The script failed.
    pub fn heal(&self) -> io::Result<()> {
        for node in 1..=self.nodes {
            // Absent when this node had no cut: not an error.
            let _ = nft_in(
                &Self::namespace(node),
                &format!("delete table inet {CHAOS_TABLE}\n"),
            );
        }
        self.script(&["heal"]).map(drop)
    }

    /// Each node's MAC address on the cluster's bridge → the node.
    ///
    /// # Errors
    /// `ip` failed or printed no MAC address.
    pub fn macs(&self) -> io::Result<BTreeMap<Mac, usize>> {
        (1..=self.nodes)
            .map(|node| {
                let output = Command::new("ip")
                    .args(["-n", &Self::namespace(node), "-o", "link", "show", "eth0"])
                    .output()?;
                let text = String::from_utf8_lossy(&output.stdout);
                let mac = text
                    .split_whitespace()
                    .skip_while(|word| *word != "link/ether")
                    .nth(1)
                    .and_then(parse_mac)
                    .ok_or_else(|| io::Error::other(format!("no MAC for node {node}: {text}")))?;
                Ok((mac, node))
            })
            .collect()
    }

    fn script(&self, args: &[&str]) -> io::Result<String> {
        let output = Command::new(&self.script)
            .args(args)
            .env("FULCRUM_CLUSTER_DIR", &self.state)
            .env("FULCRUM_BIN", &self.binary)
            .output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(text)
        } else {
            Err(io::Error::other(format!(
                "deploy/local-cluster {args:?}: {text}"
            )))
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What a failed test needs to be understood, before `down` purges it.
            for node in 1..=self.nodes {
                let log = std::fs::read_to_string(self.log(node)).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- node {node}'s log, last lines ---");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
        // Continue stopped nodes, so that they can be killed.
        for node in 1..=self.nodes {
            let _ = self.signal(node, Signal::Cont);
        }
        let _ = if self.purge {
            self.script(&["down", "--purge"])
        } else {
            self.script(&["down"])
        };
    }
}

/// The nftables table the harness's cuts live in, in each node's namespace.
const CHAOS_TABLE: &str = "fulcrum-chaos";

/// Which packets a cut drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Both ways.
    Both,
    /// Only those arriving at the cut node (it still sends).
    Inbound,
}

/// Runs an nftables `script` inside namespace `namespace`.
fn nft_in(namespace: &str, script: &str) -> io::Result<()> {
    use std::io::Write as _;
    let mut child = Command::new("ip")
        .args(["netns", "exec", namespace, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes())?;
    }
    let output = child.wait_with_output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "nft in {namespace}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

fn parse_mac(text: &str) -> Option<Mac> {
    let mut mac = [0_u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_as_ip_prints_them() {
        assert_eq!(
            parse_mac("12:cb:96:fc:05:8a"),
            Some([0x12, 0xcb, 0x96, 0xfc, 0x05, 0x8a])
        );
        assert_eq!(parse_mac("12:cb:96:fc:05"), None);
        assert_eq!(parse_mac("12:cb:96:fc:05:8a:00"), None);
        assert_eq!(LocalCluster::node_address(3), Ipv4Addr::new(10, 88, 0, 13));
        assert_eq!(LocalCluster::node_at(Ipv4Addr::new(10, 88, 0, 13)), 3);
        assert_eq!(LocalCluster::node_at(Ipv4Addr::new(10, 88, 0, 100)), 90);
        assert_eq!(LocalCluster::node_at(Ipv4Addr::new(10, 9, 0, 13)), 0);
    }
}
