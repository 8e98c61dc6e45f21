//! The configuration the data plane serves: listeners on addresses, each
//! with a group of members to spread connections over. Plain values, built by
//! the node from its data-plane projection; a new one replaces the old as a
//! whole, with a higher generation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Everything the data plane serves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Increases with every new configuration; threads report the one they apply.
    pub generation: u64,
    /// The listeners, each on its own address and port. Shared: a listener
    /// that a new generation leaves as it was is the same allocation, which
    /// the threads recognise without comparing it field by field.
    pub listeners: Vec<Arc<Listener>>,
    /// Listeners this forwarder does not serve now but keeps warm for when
    /// it does (a follower's, whose EIPs the leader holds): their TLS
    /// configurations are built and their groups' members health-checked,
    /// but nothing is bound and no traffic taken.
    pub standby: Vec<Arc<Listener>>,
    /// Limits and deadlines of the HTTP proxy, for every HTTP and HTTPS listener.
    pub http: HttpLimits,
}

impl Config {
    /// The served listeners, then the standby ones.
    pub fn every_listener(&self) -> impl Iterator<Item = &Listener> {
        self.listeners
            .iter()
            .chain(&self.standby)
            .map(|listener| &**listener)
    }
}

/// The HTTP proxy's limits and deadlines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request head (request line and headers) longer than this is answered 431.
    pub max_header_bytes: usize,
    /// A request with more header fields than this is answered 431.
    pub max_headers: usize,
    /// A request head must arrive whole within this time of its first byte,
    /// or the connection is closed (slow clients cannot hold it). A new
    /// connection's first head must also arrive within this time of the
    /// accept, TLS handshake included: one that sends nothing is closed then,
    /// not at the idle timeout.
    pub header_timeout: Duration,
    /// Connecting to a member must succeed within this time, or the answer is 502.
    pub connect_timeout: Duration,
    /// The member must start its response within this time of the request's
    /// end, or the answer is 504.
    pub response_timeout: Duration,
    /// Idle keep-alive connections to members kept per thread and member.
    pub pooled_per_member: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            header_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            response_timeout: Duration::from_secs(60),
            pooled_per_member: 64,
        }
    }
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
    /// HTTP and HTTPS: add `X-Forwarded-For`, `X-Forwarded-Proto` and
    /// `X-Forwarded-Port` to requests.
    pub insert_x_forwarded_for: bool,
    /// Write an access-log line for every HTTP request (HTTP and HTTPS) or
    /// every connection (TCP) of this listener.
    pub access_log: bool,
    /// HTTPS: the certificates to serve; the client's SNI name chooses among
    /// them, and the first one answers clients that send no name or an
    /// unknown one. Empty for TCP and HTTP.
    pub certificates: Vec<Certificate>,
    /// Where its connections go.
    pub group: Group,
}

/// A certificate chain and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The control plane's id of the certificate.
    pub id: String,
    /// The chain, leaf first, PEM.
    pub chain_pem: String,
    /// The leaf's private key, PEM.
    pub private_key_pem: String,
}

impl std::fmt::Debug for Certificate {
    /// The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
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
    /// How members are checked; `None` for no check (every member counts as healthy).
    pub health_check: Option<HealthCheck>,
    /// The members, in the control plane's order.
    pub members: Vec<Member>,
    /// TCP listeners: the PROXY protocol header each member is sent before
    /// the client's bytes, so that it sees the client's address; `None`
    /// sends none. An HTTP or HTTPS listener whose group asks for one is
    /// not served (its member connections are shared by clients), and says
    /// so in the forwarder's listener errors.
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Members taken out by what the traffic says (failed connections, and
    /// 5xx answers for HTTP), between health probes; `None` for never.
    pub passive_health: Option<PassiveHealth>,
}

/// When a member's own failures take it out for a while.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassiveHealth {
    /// Failures in a row (at least 1) that eject a member.
    pub consecutive_failures: u32,
    /// How long an ejected member takes nothing new.
    pub ejection: Duration,
    /// The share of the group (0 to 100) that may be ejected at once; at
    /// least one member may always be.
    pub max_ejected_percent: u32,
}

/// A version of the PROXY protocol (HAProxy's specification).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// The text header: `PROXY TCP4 client listener client-port listener-port`.
    V1,
    /// The binary header.
    V2,
}

/// How a group's members are checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// What a probe does.
    pub kind: HealthCheckKind,
    /// Time between the starts of two probes of one member.
    pub interval: Duration,
    /// A probe that takes longer fails.
    pub timeout: Duration,
    /// Consecutive successes that bring an unhealthy member back.
    pub healthy_threshold: u32,
    /// Consecutive failures that take a healthy member out.
    pub unhealthy_threshold: u32,
}

/// What a health probe does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthCheckKind {
    /// Connect over TCP; success is an established connection.
    Tcp,
    /// `GET path` over HTTP/1.1; success is a status in `expected_codes`.
    Http {
        /// The request's path, starting with `/`.
        path: String,
        /// Inclusive ranges of the statuses that count as success.
        expected_codes: Vec<(u16, u16)>,
    },
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

/// Parses expected HTTP statuses as the resource model writes them: `200`,
/// `200-299`, `200,302`, or a mix, each status 100 to 599.
///
/// # Errors
/// A message naming the part that is not a status or a range of them.
pub fn parse_expected_codes(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let status = |part: &str| {
        part.trim()
            .parse::<u16>()
            .ok()
            .filter(|code| (100..=599).contains(code))
            .ok_or_else(|| format!("expected_codes: {part:?} is not a status from 100 to 599"))
    };
    text.split(',')
        .map(|part| match part.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (status(low)?, status(high)?);
                if low > high {
                    return Err(format!("expected_codes: range {part:?} runs backwards"));
                }
                Ok((low, high))
            }
            None => status(part).map(|code| (code, code)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_codes_are_statuses_and_ranges() {
        assert_eq!(parse_expected_codes("200"), Ok(vec![(200, 200)]));
        assert_eq!(
            parse_expected_codes("200-299, 302"),
            Ok(vec![(200, 299), (302, 302)])
        );
        for bad in ["", "2xx", "99", "600", "300-200", "200,"] {
            assert!(parse_expected_codes(bad).is_err(), "{bad}");
        }
    }
}
