//! The guide's four steps on a local cluster, with real backends: what the
//! failover tests, the failover benchmark and the chaos runs serve traffic
//! through.
//!
//! An HTTP listener on port [`HTTP_PORT`] forwards to `web1` (weight 3) and
//! `web2` (weight 1); a TCP listener on [`TCP_PORT`] to `tcp1` (3) and
//! `tcp2` (1). Every backend runs in the client namespace, on the client's
//! address, and says which node forwarded to it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::cluster::LocalCluster;
use crate::probe::{Backend, Outcome, Sample, probe_many};

/// The HTTP listener's port.
pub const HTTP_PORT: u16 = 80;
/// The TCP listener's port.
pub const TCP_PORT: u16 = 9000;

/// The EIP and listeners the guide made.
#[derive(Clone, Copy, Debug)]
pub struct Guide {
    /// The Load Balancer's EIP.
    pub eip: Ipv4Addr,
}

impl Guide {
    /// Starts the backends and runs the guide's steps through the CLI, then
    /// waits until both listeners serve through the EIP.
    ///
    /// # Errors
    /// A backend could not start, a step was refused, or the EIP did not
    /// serve within 30 s.
    pub fn set_up(cluster: &LocalCluster) -> io::Result<Self> {
        for (name, port) in [("web1", 8081), ("web2", 8082)] {
            Backend::http(name, port)?;
        }
        for (name, port) in [("tcp1", 9001), ("tcp2", 9002)] {
            Backend::tcp(name, port)?;
        }
        let before: &[&[&str]] = &[
            &["network", "create", "vpc", "--cidr", "10.88.0.0/24"],
            &[
                "subnet",
                "create",
                "backend",
                "--network",
                "vpc",
                "--cidr",
                "10.88.0.0/24",
            ],
            &[
                "instance",
                "create",
                "client",
                "--subnet",
                "backend",
                "--address",
                "10.88.0.100",
            ],
            &[
                "lb",
                "create",
                "shop",
                "--network",
                "vpc",
                "--subnet",
                "backend",
            ],
        ];
        for step in before {
            cluster.cli_ok(step)?;
        }
        let allocated = cluster.cli_ok(&["--output", "json", "eip", "allocate", "public"])?;
        let eip = serde_json::from_str::<serde_json::Value>(&allocated)
            .ok()
            .and_then(|reply| reply["eip"]["address"].as_str()?.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no EIP address in {allocated}")))?;
        let after: &[&[&str]] = &[
            &["lb", "associate-eip", "shop", "public"],
            &[
                "group",
                "create",
                "web",
                "--lb",
                "shop",
                "--member",
                "client:8081:3",
                "--member",
                "client:8082:1",
            ],
            &[
                "listener",
                "create",
                "http",
                "--lb",
                "shop",
                "--protocol",
                "http",
                "--port",
                "80",
                "--group",
                "web",
            ],
            &[
                "group",
                "create",
                "raw",
                "--lb",
                "shop",
                "--member",
                "client:9001:3",
                "--member",
                "client:9002:1",
            ],
            &[
                "listener",
                "create",
                "tcp",
                "--lb",
                "shop",
                "--protocol",
                "tcp",
                "--port",
                "9000",
                "--group",
                "raw",
            ],
        ];
        for step in after {
            cluster.cli_ok(step)?;
        }
        let guide = Self { eip };
        guide.wait_served(HTTP_PORT, Duration::from_secs(30))?;
        guide.wait_served(TCP_PORT, Duration::from_secs(30))?;
        Ok(guide)
    }

    /// The EIP's `port`.
    pub fn target(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.eip, port))
    }

    /// Probes `port` until a request is served; returns that sample.
    ///
    /// # Errors
    /// Nothing was served within `patience`: the last failure.
    pub fn wait_served(&self, port: u16, patience: Duration) -> io::Result<Sample> {
        let deadline = Instant::now() + patience;
        loop {
            let sample = probe_many(
                self.target(port),
                port == HTTP_PORT,
                1,
                Duration::from_millis(500),
            )?
            .remove(0);
            match &sample.outcome {
                Outcome::Served(_) => return Ok(sample),
                Outcome::Failed(reason) if Instant::now() >= deadline => {
                    return Err(io::Error::other(format!(
                        "port {port} not served through the EIP: {reason}"
                    )));
                }
                Outcome::Failed(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The node that forwards requests through the EIP now.
    ///
    /// # Errors
    /// Nothing was served within 10 s.
    pub fn serving_node(&self) -> io::Result<usize> {
        match self
            .wait_served(HTTP_PORT, Duration::from_secs(10))?
            .outcome
        {
            Outcome::Served(greeting) => Ok(LocalCluster::node_at(greeting.via)),
            Outcome::Failed(reason) => Err(io::Error::other(reason)),
        }
    }
}
