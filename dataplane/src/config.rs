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
    /// Where its connections go: every connection (TCP), or the requests
    /// no rule takes (HTTP and HTTPS).
    pub group: Group,
    /// HTTP and HTTPS: forwarding rules, tried in order; the first whose
    /// conditions all hold takes the request. Empty for TCP.
    pub rules: Vec<Rule>,
}

impl Listener {
    /// Every group the listener sends to: its own, then its rules', in order.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        std::iter::once(&self.group).chain(self.rules.iter().filter_map(
            |rule| match &rule.action {
                RuleAction::Forward(group) => Some(group),
                RuleAction::Redirect(_) | RuleAction::Respond(_) => None,
            },
        ))
    }
}

/// A forwarding rule: conditions on the request, and what to do with a
/// request that meets them all. A rule without conditions takes everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The control plane's id of the rule.
    pub id: String,
    /// The request's host (from `Host`, its port left out) must match.
    pub host: Option<HostMatch>,
    /// The request's path (its target before any `?`) must match.
    pub path: Option<PathMatch>,
    /// The request must carry this field with exactly this value.
    pub header: Option<HeaderMatch>,
    /// What happens to a request the rule takes.
    pub action: RuleAction,
}

/// How a rule matches the host. Names compare without regard to case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// This name exactly.
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com` (one label or
    /// more before it), stored as the suffix `.example.com`.
    Wildcard(String),
}

/// How a rule matches the path. Paths compare byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    /// This path exactly.
    Exact(String),
    /// Any path that starts with this.
    Prefix(String),
}

/// A header field a rule asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderMatch {
    /// The field's name, compared without regard to case.
    pub name: String,
    /// Its value, compared exactly.
    pub value: String,
}

/// What a rule does with the requests it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleAction {
    /// Send them to this group.
    Forward(Group),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Answer with this response.
    Respond(FixedResponse),
}

/// A redirect's status and where it points. Each part left out is the
/// request's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, 307 or 308.
    pub status: u16,
    /// `http` or `https`.
    pub scheme: Option<Scheme>,
    /// The host to send the client to.
    pub host: Option<String>,
    /// The port; a scheme's default port is left out of the location.
    pub port: Option<u16>,
    /// The path, starting with `/`; the request's query is kept.
    pub path: Option<String>,
}

/// A URL scheme of a redirect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `http`, port 80 by default.
    Http,
    /// `https`, port 443 by default.
    Https,
}

impl Scheme {
    /// Its name in a URL.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// The port a URL of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// An answer the proxy gives by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedResponse {
    /// 200 to 599.
    pub status: u16,
    /// The `Content-Type` of the body.
    pub content_type: String,
    /// The body, at most [`MAX_FIXED_BODY`] bytes.
    pub body: String,
}

/// The largest body of a fixed response.
pub const MAX_FIXED_BODY: usize = 1024;

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
    /// The PROXY protocol header each member is sent before the client's
    /// bytes, so that it sees the client's address; `None` sends none. For
    /// HTTP and HTTPS, each request then goes on a member connection of its
    /// own, never pooled (a pooled one carries another client's header).
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Members taken out by what the traffic says (failed connections, and
    /// 5xx answers for HTTP), between health probes; `None` for never.
    pub passive_health: Option<PassiveHealth>,
    /// HTTP and HTTPS: what keeps a client's requests on one member; `None`
    /// balances every request on its own (`SourceIpHash` keeps clients by
    /// address whatever this says).
    pub persistence: Option<Persistence>,
}

/// How a group keeps a client's requests on one member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// The proxy sets a cookie of this name naming the member; a request
    /// carrying it goes to that member while it is in rotation, healthy and
    /// not ejected, and otherwise to a new one (whose cookie replaces it).
    Cookie(String),
    /// The application's cookie of this name: requests with the same value
    /// go to the same member (rendezvous hashing of the value); requests
    /// without it are balanced as usual.
    AppCookie(String),
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

/// The longest host name, path, header value or redirect part a rule may
/// hold.
pub const MAX_RULE_TEXT: usize = 1024;

/// A host condition as users write it: a name (`api.example.com`) or a
/// wildcard (`*.example.com`), letters, digits, `-` and `.` only.
///
/// # Errors
/// A message naming the rule the text breaks.
pub fn host_match(text: &str) -> Result<HostMatch, String> {
    let name = text.strip_prefix("*.").unwrap_or(text);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .split('.')
            .all(|label| !label.is_empty() && label.len() <= 63)
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.');
    if !valid {
        return Err(format!(
            "{text:?} is not a host name or *. followed by one (letters, digits, - and .)"
        ));
    }
    Ok(if text.starts_with("*.") {
        HostMatch::Wildcard(text[1..].to_ascii_lowercase())
    } else {
        HostMatch::Exact(text.to_ascii_lowercase())
    })
}

/// A path condition or a redirect's path: starts with `/`, printable ASCII
/// without spaces, at most [`MAX_RULE_TEXT`] bytes.
///
/// # Errors
/// A message naming the rule the path breaks.
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/')
        || path.len() > MAX_RULE_TEXT
        || !path.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(format!(
            "{path:?} must start with / and hold at most {MAX_RULE_TEXT} printable characters without spaces"
        ));
    }
    Ok(())
}

/// A header condition: a field name of token characters, not one the
/// proxy handles itself, and a value of visible characters and spaces.
///
/// # Errors
/// A message naming the rule the condition breaks.
pub fn check_header_match(header: &HeaderMatch) -> Result<(), String> {
    if header.name.is_empty() || header.name.len() > 256 || !is_token(&header.name) {
        return Err(format!("name {:?} is not a field name", header.name));
    }
    if ["host", "content-length", "transfer-encoding", "connection"]
        .iter()
        .any(|taken| header.name.eq_ignore_ascii_case(taken))
    {
        return Err(format!(
            "name {:?}: match hosts with the host condition; framing fields are not matched",
            header.name
        ));
    }
    if header.value.len() > MAX_RULE_TEXT
        || !header
            .value
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err(format!(
            "value: at most {MAX_RULE_TEXT} visible characters and spaces"
        ));
    }
    Ok(())
}

/// A redirect: status 301, 302, 307 or 308, a host name, a port from 1,
/// a path as [`check_path`] says.
///
/// # Errors
/// A message naming the part at fault.
pub fn check_redirect(redirect: &Redirect) -> Result<(), String> {
    if ![301, 302, 307, 308].contains(&redirect.status) {
        return Err(format!(
            "status: 301, 302, 307 or 308, not {}",
            redirect.status
        ));
    }
    if let Some(host) = &redirect.host
        && !matches!(host_match(host), Ok(HostMatch::Exact(_)))
    {
        return Err(format!("host: {host:?} is not a host name"));
    }
    if redirect.port == Some(0) {
        return Err("port: 1 to 65535".to_owned());
    }
    if let Some(path) = &redirect.path {
        check_path(path).map_err(|message| format!("path: {message}"))?;
    }
    Ok(())
}

/// A fixed response: status 200 to 599, a content type of visible
/// characters and spaces, a body of at most [`MAX_FIXED_BODY`] bytes.
///
/// # Errors
/// A message naming the part at fault.
pub fn check_fixed_response(fixed: &FixedResponse) -> Result<(), String> {
    if !(200..=599).contains(&fixed.status) {
        return Err(format!("status: 200 to 599, not {}", fixed.status));
    }
    if fixed.content_type.is_empty()
        || fixed.content_type.len() > 256
        || !fixed
            .content_type
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return Err("content_type: 1 to 256 visible characters and spaces".to_owned());
    }
    if fixed.body.len() > MAX_FIXED_BODY {
        return Err(format!("body: at most {MAX_FIXED_BODY} bytes"));
    }
    Ok(())
}

/// Whether `text` is all token characters (RFC 9110, 5.6.2): a field name
/// or a cookie name.
fn is_token(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// A cookie's name: 1 to 64 token characters (RFC 6265).
///
/// # Errors
/// A message naming the rule the name breaks.
pub fn check_cookie_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || !is_token(name) {
        return Err(format!(
            "{name:?} must be 1 to 64 letters, digits or !#$%&'*+-.^_`|~"
        ));
    }
    Ok(())
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
