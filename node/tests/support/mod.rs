//! The in-process cluster the node's tests share: real agents on 127.0.0.1
//! with OS-chosen ports, each with its own data directory.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod backends;
pub mod guide;
pub mod pki;

use std::time::Duration;

use fulcrum_api::Client;
use fulcrum_node::agent::{Agent, Listeners};
use fulcrum_node::config::{AgentConfig, Given, Membership};
use tokio::net::TcpListener;
use tokio::time::Instant;

pub const PATIENCE: Duration = Duration::from_secs(30);

/// One member: its configuration (kept across restarts), the listeners bound
/// for its first start (API, Raft, HTTP), and, while it runs, its agent.
pub struct Member {
    pub config: AgentConfig,
    pub listeners: Option<(TcpListener, TcpListener, TcpListener)>,
    pub agent: Option<Agent>,
    pub directory: tempfile::TempDir,
}

impl Member {
    pub fn id(&self) -> u64 {
        self.config.node_id
    }

    pub fn api(&self) -> String {
        self.config.api_address.to_string()
    }

    /// The REST API's address.
    pub fn http(&self) -> String {
        self.config.http_address.expect("an HTTP port").to_string()
    }

    pub async fn start(&mut self) {
        let agent = match self.listeners.take() {
            Some((api, raft, http)) => {
                let listeners = Listeners {
                    api,
                    raft,
                    http: Some(http),
                };
                Agent::start_with(self.config.clone(), listeners).await
            }
            // A restart: the ports were released by the shutdown, and the
            // agent binds the HTTP port itself.
            None => {
                Agent::start_on(
                    self.config.clone(),
                    TcpListener::bind(self.config.api_address).await.unwrap(),
                    TcpListener::bind(self.config.raft_address).await.unwrap(),
                )
                .await
            }
        };
        self.agent = Some(agent.unwrap());
    }

    pub async fn stop(&mut self) {
        self.agent.take().expect("running").shutdown().await;
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.api(), Duration::from_secs(2))
            .await
            .unwrap()
    }

    /// The projections, serialized: equal bytes mean equal replicas.
    pub fn projection_bytes(&self) -> Vec<u8> {
        let agent = self.agent.as_ref().expect("running");
        let state = agent.replica().state().unwrap();
        let mut bytes = Vec::new();
        state.write_snapshot(&mut bytes).unwrap();
        bytes
    }

    /// Waits until the cluster's bootstrap has proposed and applied its EIP
    /// pool (a background proposal that may otherwise land in the middle
    /// of a test that counts log entries).
    pub async fn bootstrapped(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let agent = self.agent.as_ref().expect("running");
            if !agent
                .replica()
                .state()
                .expect("a readable state")
                .settings()
                .eip_pool
                .is_empty()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the bootstrap never set the EIP pool"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The log index of the last command this node's state applied. Read
    /// from the state itself, which a write's answer waits for (Raft's
    /// metrics catch up a moment later, so they may lag behind an answer).
    pub fn applied_index(&self) -> u64 {
        let agent = self.agent.as_ref().expect("running");
        agent
            .replica()
            .state()
            .expect("a readable state")
            .last_log_index()
    }
}

/// A listener on an OS-chosen loopback port, kept bound until the agent
/// takes it (so no other test can take the port meanwhile).
pub async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// Configurations and bound listeners (API, Raft, HTTP) of `count`
/// members; those in `bootstrap` start the cluster.
pub async fn configs(
    count: u64,
    bootstrap: u64,
) -> Vec<(
    AgentConfig,
    (TcpListener, TcpListener, TcpListener),
    tempfile::TempDir,
)> {
    let mut listeners = Vec::new();
    for _ in 0..count {
        listeners.push((listener().await, listener().await, listener().await));
    }
    let addresses: Vec<_> = listeners
        .iter()
        .map(|(api, raft, http)| {
            (
                api.local_addr().unwrap(),
                raft.local_addr().unwrap(),
                http.local_addr().unwrap(),
            )
        })
        .collect();
    let initial: Vec<String> = (0..bootstrap)
        .map(|n| {
            let (api, raft, _) = addresses[n as usize];
            format!("{}={raft}/{api}", n + 1)
        })
        .collect();
    let mut configs = Vec::new();
    // One data key for the whole cluster, as a deployment shares it.
    let data_key = fulcrum_node::secrets::new_key_file().unwrap();
    for (n, ((api, raft, http), bound)) in addresses.into_iter().zip(listeners).enumerate() {
        let directory = tempfile::tempdir().unwrap();
        let key_file = directory.path().join("data.key");
        std::fs::write(&key_file, &data_key).unwrap();
        let mut overrides = Given::from_pairs([
            ("node.id", (n + 1).to_string()),
            (
                "node.data_dir",
                directory.path().join("data").display().to_string(),
            ),
            ("node.api_address", api.to_string()),
            ("node.raft_address", raft.to_string()),
            ("node.http_address", http.to_string()),
            ("cluster.eip_pool", "127.77.0.0/16".to_owned()),
            ("raft.heartbeat_ms", "50".to_owned()),
            ("raft.election_timeout_min_ms", "300".to_owned()),
            ("raft.election_timeout_max_ms", "600".to_owned()),
            ("secrets.data_key_file", key_file.display().to_string()),
        ])
        .unwrap();
        if let Some(value) = ((n as u64) < bootstrap).then(|| initial.join(",")) {
            overrides.set("cluster.initial_members", value).unwrap();
        }
        let mut config = AgentConfig::resolve(None, overrides, false).unwrap();
        // Snapshot often and keep no log behind it, so a member that falls
        // behind can only catch up from a snapshot.
        config.raft.snapshot_interval_entries = 10;
        config.raft.log_entries_kept_after_snapshot = 0;
        if n as u64 >= bootstrap {
            assert_eq!(config.membership, Membership::Restart);
        }
        configs.push((config, bound, directory));
    }
    configs
}

pub async fn cluster(count: u64, bootstrap: u64) -> Vec<Member> {
    cluster_with(count, bootstrap, |_| {}).await
}

/// A cluster whose members' configurations `tweak` changes first.
pub async fn cluster_with(
    count: u64,
    bootstrap: u64,
    tweak: impl Fn(&mut AgentConfig),
) -> Vec<Member> {
    let mut members = Vec::new();
    for (mut config, listeners, directory) in configs(count, bootstrap).await {
        tweak(&mut config);
        let mut member = Member {
            config,
            listeners: Some(listeners),
            agent: None,
            directory,
        };
        member.start().await;
        members.push(member);
    }
    members
}

/// The leader, as the running members agree on it.
pub async fn leader(members: &[Member]) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let leaders: Vec<Option<u64>> = members
            .iter()
            .filter_map(|member| member.agent.as_ref())
            .map(|agent| agent.replica().metrics().current_leader)
            .collect();
        if let Some(Some(leader)) = leaders.first()
            && leaders.iter().all(|known| *known == Some(*leader))
            && members
                .iter()
                .any(|member| member.id() == *leader && member.agent.is_some())
        {
            return *leader;
        }
        assert!(Instant::now() < deadline, "no agreed leader: {leaders:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET /metrics` on a node's HTTP port (plain HTTP: these clusters run
/// without TLS).
pub async fn scrape(http: &str) -> String {
    let http = http.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&http).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    })
    .await
    .unwrap()
}

/// The value of the unlabelled sample `name` in a scrape's `text`.
pub fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} is not in the scrape"))
        .trim()
        .parse()
        .unwrap()
}
