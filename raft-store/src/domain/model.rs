//! The resources of the resource model, as the domain keeps them.
//!
//! Every value here has passed validation: a `Listener`'s port is in range, a
//! `Member`'s weight is at most 100. Fields are plain data; the rules that
//! relate resources to each other live in `decide`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::ids::{
    AccessTokenId, CertificateId, EipId, GroupId, InstanceId, ListenerId, LoadBalancerId, MemberId,
    NetworkId, SubnetId,
};
use super::legacy;

/// A revision: the number of commands accepted so far. Each accepted command
/// gets the next one; rejected commands get none.
pub type Revision = u64;

/// Fields every resource carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Empty only for EIPs, whose name is optional.
    pub name: String,
    /// At most 256 characters.
    pub description: String,
    /// At most 50 tags.
    pub tags: BTreeMap<String, String>,
    /// Leader-stamped time of creation.
    pub created_at_ms: i64,
    /// Leader-stamped time of the last change.
    pub updated_at_ms: i64,
    /// The revision of the last change.
    pub revision: Revision,
}

/// An isolated address space.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Its id.
    pub id: NetworkId,
    /// Name, description, tags, times and revision.
    pub meta: Meta,
    /// Its address range.
    pub cidr: Ipv4Net,
}

/// A range of a network's addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    /// Its id.
    pub id: SubnetId,
    /// Name, description, tags, times and revision.
    pub meta: Meta,
    /// The network it belongs to.
    pub network_id: NetworkId,
    /// Inside the network's range, overlapping no sibling.
    pub cidr: Ipv4Net,
}

/// A backend server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Its id.
    pub id: InstanceId,
    /// Name, description, tags, times and revision.
    pub meta: Meta,
    /// The subnet it lives in.
    pub subnet_id: SubnetId,
    /// Inside the subnet, unique in it.
    pub address: Ipv4Addr,
}

/// An Elastic IP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eip {
    /// Its id.
    pub id: EipId,
    /// Name (may be empty), description, tags, times and revision.
    pub meta: Meta,
    /// Inside the cluster's EIP pool.
    pub address: Ipv4Addr,
    /// The Load Balancer it is associated with, if any.
    pub load_balancer_id: Option<LoadBalancerId>,
}

/// A Load Balancer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancer {
    /// Its id.
    pub id: LoadBalancerId,
    /// Name (unique in the cluster), description, tags, times and revision.
    pub meta: Meta,
    /// Immutable.
    pub network_id: NetworkId,
    /// Immutable; inside the network.
    pub subnet_id: SubnetId,
    /// Its EIP, if one is associated.
    pub eip_id: Option<EipId>,
    /// When false the Load Balancer serves nothing.
    pub admin_state_up: bool,
    /// When true, deletion is refused even with cascade.
    pub delete_protection: bool,
}

/// Listener protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// Layer 4: bytes are copied both ways.
    Tcp,
    /// Layer 7: HTTP/1.1.
    Http,
    /// Layer 7: HTTP/1.1 over TLS terminated by Fulcrum.
    Https,
}

impl Protocol {
    /// Whether the listener speaks HTTP (plain or over TLS).
    pub fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }

    /// The protocol's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }
}

/// The limit on concurrent client connections of a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnectionLimit {
    /// No limit (the API's -1).
    Unlimited,
    /// At most this many, 1 to 1,000,000.
    AtMost(u32),
}

/// A port on a Load Balancer's EIP.
///
/// Stored with postcard, its fields in this order. `Deserialize` is written
/// by hand because older layouts lack `access_log` (`legacy::ListenerV3`)
/// or `rules` (`legacy::ListenerV4`): a new field goes last, and the layout
/// before it into `legacy.rs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listener {
    /// Its id.
    pub id: ListenerId,
    /// Name (unique within the Load Balancer), description, tags, times and revision.
    pub meta: Meta,
    /// The Load Balancer it belongs to.
    pub load_balancer_id: LoadBalancerId,
    /// Immutable.
    pub protocol: Protocol,
    /// Immutable; unique within the Load Balancer whatever the protocol.
    pub port: u16,
    /// Caps concurrent client connections.
    pub connection_limit: ConnectionLimit,
    /// The group that serves it; none means every request is refused.
    pub default_group_id: Option<GroupId>,
    /// Present exactly when the protocol is HTTPS.
    pub certificate_id: Option<CertificateId>,
    /// 1 to 4000 seconds.
    pub idle_timeout_s: u32,
    /// Only ever true for HTTP and HTTPS.
    pub insert_x_forwarded_for: bool,
    /// When false the listener serves nothing.
    pub admin_state_up: bool,
    /// Whether the node serving the EIP writes an access-log line per HTTP
    /// request (HTTP and HTTPS) or per connection (TCP). False for every
    /// listener of log formats before 4.
    pub access_log: bool,
    /// HTTP and HTTPS only: tried in order, the first that matches takes
    /// the request; names unique, at most `limits::MAX_RULES_PER_LISTENER`.
    /// Empty for every listener of log formats before 5.
    pub rules: Vec<ForwardingRule>,
}

impl Listener {
    /// The groups it sends to: its default group, then its rules' groups
    /// (a group may come more than once).
    pub fn group_ids(&self) -> impl Iterator<Item = &GroupId> {
        self.default_group_id
            .iter()
            .chain(self.rules.iter().filter_map(|rule| match &rule.action {
                RuleAction::Forward(group) => Some(group),
                RuleAction::Redirect(_) | RuleAction::FixedResponse(_) => None,
            }))
    }
}

impl<'de> Deserialize<'de> for Listener {
    /// Reads today's layout or, inside `legacy::reading_listeners_of`, an
    /// older one: before `access_log` (snapshot formats 1 to 3, older
    /// records) or before `rules` (snapshot format 4, records of format 4).
    /// Postcard cannot tell them apart, so the reader says which it reads.
    /// Postcard writes a struct as its fields in sequence, so today's
    /// listener is the bytes of `(ListenerV3, bool, Vec<ForwardingRule>)`.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match legacy::listener_layout() {
            legacy::ListenerLayout::BeforeAccessLogs => {
                legacy::ListenerV3::deserialize(deserializer).map(Listener::from)
            }
            legacy::ListenerLayout::BeforeRules => {
                let (before, access_log) = <(legacy::ListenerV3, bool)>::deserialize(deserializer)?;
                Ok(Listener {
                    access_log,
                    ..Listener::from(before)
                })
            }
            legacy::ListenerLayout::Today => {
                let (before, access_log, rules) =
                    <(legacy::ListenerV3, bool, Vec<ForwardingRule>)>::deserialize(deserializer)?;
                Ok(Listener {
                    access_log,
                    rules,
                    ..Listener::from(before)
                })
            }
        }
    }
}

/// A forwarding rule of an HTTP or HTTPS listener: conditions that must all
/// hold (none: every request), and what to do with the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardingRule {
    /// Unique within the listener.
    pub name: String,
    /// The request's host must match.
    pub host: Option<HostCondition>,
    /// The request's path must match.
    pub path: Option<PathCondition>,
    /// The request must carry this field with this value.
    pub header: Option<HeaderCondition>,
    /// What happens to the requests it takes.
    pub action: RuleAction,
}

/// A host condition, its name lowercase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostCondition {
    /// This name.
    Exact(String),
    /// Any name ending in `.` and this name (written `*.name`).
    Wildcard(String),
}

/// A path condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PathCondition {
    /// Paths starting with this.
    Prefix(String),
    /// This path.
    Exact(String),
}

/// A header field and the value it must have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderCondition {
    /// The field's name, as the client wrote it (compared without case).
    pub name: String,
    /// Its value, compared exactly.
    pub value: String,
}

/// What a rule does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleAction {
    /// Forward to this group, of the listener's Load Balancer.
    Forward(GroupId),
    /// Answer with a redirect.
    Redirect(RedirectAction),
    /// Answer with a fixed response.
    FixedResponse(FixedResponseAction),
}

/// A redirect; each part left out is the request's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectAction {
    /// 301, 302, 307 or 308.
    pub status: u16,
    /// Whether the location's scheme is `https` (`Some(false)`: `http`).
    pub https: Option<bool>,
    /// A host name.
    pub host: Option<String>,
    /// 1 to 65535.
    pub port: Option<u16>,
    /// Starts with `/`.
    pub path: Option<String>,
}

/// A fixed answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedResponseAction {
    /// 200 to 599.
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: String,
    /// At most `limits::MAX_FIXED_RESPONSE_BODY` bytes.
    pub body: String,
}

/// How a group spreads new connections over its members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// Smooth weighted round robin (the default).
    WeightedRoundRobin,
    /// Fewest open connections relative to weight.
    WeightedLeastConnections,
    /// Consistent hashing of the client address.
    SourceIpHash,
}

/// Health check kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthCheckKind {
    /// A TCP connect succeeds.
    Tcp,
    /// An HTTP GET answers with an expected status code.
    Http,
}

/// An inclusive range of HTTP status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCodeRange {
    /// First code of the range.
    pub first: u16,
    /// Last code of the range, at least `first`.
    pub last: u16,
}

/// A group's health check, with every field validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// TCP or HTTP.
    pub kind: HealthCheckKind,
    /// 1 to 300 seconds.
    pub interval_s: u32,
    /// 1 to 60 seconds, not above the interval.
    pub timeout_s: u32,
    /// 1 to 10.
    pub healthy_threshold: u32,
    /// 1 to 10.
    pub unhealthy_threshold: u32,
    /// HTTP checks only: starts with `/`.
    pub http_path: String,
    /// HTTP checks only: the codes that count as healthy.
    pub expected_codes: Vec<StatusCodeRange>,
}

/// A backend of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Its id.
    pub id: MemberId,
    /// The instance that serves.
    pub instance_id: InstanceId,
    /// The port on the instance.
    pub port: u16,
    /// 0 to 100; 0 drains.
    pub weight: u8,
    /// When false the member gets no new connections.
    pub admin_state_up: bool,
}

/// A virtual server group.
///
/// Stored with postcard, its fields in this order; `Deserialize` is
/// written by hand because the layouts before format 5 lack the last three
/// (`legacy::GroupV4`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Its id.
    pub id: GroupId,
    /// Name (unique within the Load Balancer), description, tags, times and revision.
    pub meta: Meta,
    /// The Load Balancer it belongs to.
    pub load_balancer_id: LoadBalancerId,
    /// How new connections are spread.
    pub algorithm: Algorithm,
    /// None means no monitoring: every member counts as healthy.
    pub health_check: Option<HealthCheck>,
    /// In the order they were added; (instance, port) unique.
    pub members: Vec<Member>,
    /// HTTP and HTTPS listeners: what keeps a client on one member.
    pub persistence: Option<Persistence>,
    /// The PROXY protocol header sent to each member (over HTTP, on a
    /// member connection of each request's own).
    pub proxy_protocol: Option<ProxyProtocol>,
    /// Members taken out on what the traffic says, between health checks.
    pub passive_health: Option<PassiveHealth>,
}

impl<'de> Deserialize<'de> for Group {
    /// Reads today's layout or, inside `legacy::reading_listeners_of` with
    /// a layout before format 5, the one without the last three fields.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if legacy::listener_layout() != legacy::ListenerLayout::Today {
            return legacy::GroupV4::deserialize(deserializer).map(Group::from);
        }
        let (before, persistence, proxy_protocol, passive_health) =
            <(
                legacy::GroupV4,
                Option<Persistence>,
                Option<ProxyProtocol>,
                Option<PassiveHealth>,
            )>::deserialize(deserializer)?;
        Ok(Group {
            persistence,
            proxy_protocol,
            passive_health,
            ..Group::from(before)
        })
    }
}

/// How a group keeps a client's requests on one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Persistence {
    /// The Load Balancer sets a cookie of this name naming the member.
    Cookie(String),
    /// The application's cookie of this name: equal values, one member.
    AppCookie(String),
}

/// A version of the PROXY protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProxyProtocol {
    /// The text header.
    V1,
    /// The binary header.
    V2,
}

/// When a member's own failures take it out for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassiveHealth {
    /// Failures in a row that eject a member: 1 to 100.
    pub consecutive_failures: u32,
    /// Seconds an ejected member takes nothing new: 1 to 3,600.
    pub ejection_s: u32,
    /// The share of the group that may be out at once: 0 to 100.
    pub max_ejected_percent: u32,
}

/// A TLS certificate and its private key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Its id.
    pub id: CertificateId,
    /// Name, description, tags, times and revision.
    pub meta: Meta,
    /// PEM, leaf first.
    pub certificate_chain_pem: String,
    /// Exactly as its upload's entry carried it: a sealed text (`sealed.rs`)
    /// from log format 3 on, clear PEM before. Replicated so that every data
    /// plane can serve it; never returned by the API.
    pub private_key_pem: String,
    /// SHA-256 of the leaf's DER, lowercase hex.
    pub fingerprint: String,
    /// The leaf's expiry.
    pub not_after_ms: i64,
}

/// The SHA-256 of an access token's secret.
pub type SecretHash = [u8; 32];

/// What a caller may do. Each role may do what the roles before it may, so
/// roles compare: `Role::Viewer < Role::Operator < Role::Admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Reads.
    Viewer,
    /// Reads, and changes to the resources.
    Operator,
    /// Everything, access tokens and cluster settings included.
    Admin,
}

impl Role {
    /// The role's name as users write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

/// A bearer token of the API. The cluster keeps the SHA-256 of its secret,
/// never the secret; the API shows neither.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// Its id.
    pub id: AccessTokenId,
    /// Who the token authenticates (see `validate::principal`).
    pub principal: String,
    /// What its bearer may do.
    pub role: Role,
    /// At most 256 characters.
    pub description: String,
    /// Leader-stamped time of issue.
    pub created_at_ms: i64,
    /// The revision that issued it (a token never changes).
    pub revision: Revision,
    /// SHA-256 of the secret; unique among the cluster's tokens.
    pub secret_sha256: SecretHash,
}

/// Limits on how many resources the cluster accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    /// Load Balancers in the cluster.
    pub load_balancers: u32,
    /// Listeners per Load Balancer.
    pub listeners_per_load_balancer: u32,
    /// Groups per Load Balancer.
    pub groups_per_load_balancer: u32,
    /// Members per group.
    pub members_per_group: u32,
    /// Networks in the cluster.
    pub networks: u32,
    /// Subnets in the cluster.
    pub subnets: u32,
    /// Instances in the cluster.
    pub instances: u32,
    /// EIPs allocated in the cluster.
    pub eips: u32,
    /// Certificates in the cluster.
    pub certificates: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        use super::limits::quota;
        Self {
            load_balancers: quota::LOAD_BALANCERS.default,
            listeners_per_load_balancer: quota::LISTENERS_PER_LOAD_BALANCER.default,
            groups_per_load_balancer: quota::GROUPS_PER_LOAD_BALANCER.default,
            members_per_group: quota::MEMBERS_PER_GROUP.default,
            networks: quota::NETWORKS.default,
            subnets: quota::SUBNETS.default,
            instances: quota::INSTANCES.default,
            eips: quota::EIPS.default,
            certificates: quota::CERTIFICATES.default,
        }
    }
}

/// Cluster-wide settings, replicated like any resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The ranges EIPs are allocated from.
    pub eip_pool: Vec<Ipv4Net>,
    /// Resource limits.
    pub quotas: Quotas,
    /// How long, by leader-stamped time, a client token is remembered.
    pub client_token_retention_ms: u64,
    /// How many client tokens are remembered at most.
    pub client_token_capacity: u32,
    /// How many revisions of event history are kept.
    pub history_retention_revisions: u64,
    /// The revision of the last change.
    pub revision: Revision,
}

pub use super::limits::settings_limits;

impl Default for Settings {
    fn default() -> Self {
        Self {
            eip_pool: Vec::new(),
            quotas: Quotas::default(),
            client_token_retention_ms: settings_limits::DEFAULT_CLIENT_TOKEN_RETENTION_MS,
            client_token_capacity: settings_limits::DEFAULT_CLIENT_TOKEN_CAPACITY,
            history_retention_revisions: settings_limits::DEFAULT_HISTORY_RETENTION_REVISIONS,
            revision: 0,
        }
    }
}
