//! The configuration the data plane serves: listeners on addresses, each
//! with a group of members to spread connections over. Plain values, built by
//! the node from its data-plane projection; a new one replaces the old as a
//! whole, with a higher generation.

use std::net::SocketAddr;
use std::time::Duration;

/// Everything the data plane serves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Increases with every new configuration; threads report the one they apply.
    pub generation: u64,
    /// The listeners, each on its own address and port.
    pub listeners: Vec<Listener>,
}

/// The protocols a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Layer 4: bytes copied both ways.
    Tcp,
    /// HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

/// One listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The control plane's id of the listener (counters and statuses are keyed by it).
    pub id: String,
    /// Where it accepts connections (the EIP's address and the listener's port).
    pub address: SocketAddr,
    /// What it speaks.
    pub protocol: Protocol,
    /// Concurrent client connections at most; `None` for no limit.
    pub connection_limit: Option<u32>,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
    /// Where its connections go.
    pub group: Group,
}

/// How a group spreads new connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Smooth weighted round robin.
    WeightedRoundRobin,
    /// The fewest open connections relative to weight.
    WeightedLeastConnections,
    /// Weighted rendezvous hashing of the client's address.
    SourceIpHash,
}

/// A group of members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The control plane's id of the group.
    pub id: String,
    /// How new connections are spread.
    pub algorithm: Algorithm,
    /// The members, in the control plane's order.
    pub members: Vec<Member>,
}

/// A member of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The control plane's id of the member (hashing keys on it, so a member
    /// keeps its clients across reconfigurations).
    pub id: String,
    /// The backend's address and port.
    pub address: SocketAddr,
    /// 0 to 100; 0 takes no new connections (drains).
    pub weight: u32,
    /// When false the member takes no new connections.
    pub admin_state_up: bool,
}

impl Member {
    /// Whether the member may take new connections (health aside).
    pub fn in_rotation(&self) -> bool {
        self.admin_state_up && self.weight > 0
    }
}
