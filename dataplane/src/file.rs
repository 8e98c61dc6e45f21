//! The data plane's configuration as a TOML file, for running the forwarder
//! on its own (benchmarks, debugging). The node never uses it: it fills in
//! a [`Config`] from its projection.
//!
//! ```toml
//! version = 1
//! generation = 1                      # optional; the binary counts reloads
//!
//! [http]                              # optional; these are the defaults
//! max_header_bytes = 16384
//! max_headers = 100
//! header_timeout_ms = 10000
//! connect_timeout_ms = 3000
//! response_timeout_ms = 60000
//! pooled_per_member = 64
//!
//! [[listeners]]
//! id = "web"
//! address = "127.0.0.1:8080"
//! protocol = "http"                   # tcp, http or https
//! connection_limit = 10000            # optional; no limit when absent
//! idle_timeout_s = 60
//! insert_x_forwarded_for = true
//! access_log = true                   # optional; a line per request (HTTP) or connection (TCP)
//! certificates = [{ id = "c1", chain = "chain.pem", key = "key.pem" }]  # https; paths relative to the file
//!
//! [listeners.group]
//! id = "backends"
//! algorithm = "weighted_round_robin"  # or weighted_least_connections, source_ip_hash
//! proxy_protocol = "v2"               # optional: v1 or v2 to each member
//! passive_health = { consecutive_failures = 5, ejection_s = 30, max_ejected_percent = 50 }  # optional
//! persistence = { type = "cookie", cookie_name = "FULCRUM" }  # optional, HTTP: or app_cookie
//! members = [
//!   { id = "a", address = "127.0.0.1:9001", weight = 3 },
//!   { id = "b", address = "127.0.0.1:9002", weight = 1, admin_state_up = true },
//! ]
//!
//! [listeners.group.health_check]      # optional
//! type = "http"                       # or tcp
//! path = "/healthz"
//! expected_codes = "200-299"
//! interval_s = 5
//! timeout_s = 2
//! healthy_threshold = 2
//! unhealthy_threshold = 3
//!
//! [[listeners.rules]]                 # optional, HTTP and HTTPS: tried in order
//! id = "api"
//! host = "*.example.com"              # optional: a name, or *. and a suffix
//! path_prefix = "/api/"               # optional: or path = "/exact"
//! header = { name = "x-canary", value = "yes" }  # optional
//! forward = { id = "api-backends", members = [{ id = "c", address = "127.0.0.1:9003" }] }
//! # or: redirect = { status = 301, scheme = "https", host = "x", port = 443, path = "/" }
//! # or: respond = { status = 404, content_type = "text/plain", body = "not here" }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{
    self, Algorithm, Certificate, Config, FixedResponse, Group, HeaderMatch, HealthCheck,
    HealthCheckKind, HttpLimits, Listener, Member, PassiveHealth, PathMatch, Persistence, Protocol,
    ProxyProtocol, Redirect, Rule, RuleAction, Scheme,
};

/// The most rules a listener may have.
pub const MAX_RULES: usize = 100;

/// A configuration file that could not be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    /// The file (or the certificate file) at fault.
    pub path: PathBuf,
    /// What is wrong, naming the key.
    pub message: String,
}

/// Reads the configuration in the file at `path`.
///
/// # Errors
/// An unreadable file, TOML that does not follow the format, a value out of
/// its range, or an unreadable certificate file.
pub fn load(path: &Path) -> Result<Config, FileError> {
    let text = std::fs::read_to_string(path).map_err(|error| FileError {
        path: path.to_owned(),
        message: error.to_string(),
    })?;
    parse(&text, path.parent().unwrap_or(Path::new("."))).map_err(|(path_at_fault, message)| {
        FileError {
            path: path_at_fault.unwrap_or_else(|| path.to_owned()),
            message,
        }
    })
}

type ParseError = (Option<PathBuf>, String);

fn parse(text: &str, base: &Path) -> Result<Config, ParseError> {
    let file: FileConfig = toml::from_str(text).map_err(|error| (None, error.to_string()))?;
    if file.version != 1 {
        return Err((None, format!("version: must be 1, not {}", file.version)));
    }
    let defaults = HttpLimits::default();
    let http = file.http.unwrap_or_default();
    let http = HttpLimits {
        max_header_bytes: http.max_header_bytes.unwrap_or(defaults.max_header_bytes),
        max_headers: http.max_headers.unwrap_or(defaults.max_headers),
        header_timeout: http
            .header_timeout_ms
            .map_or(defaults.header_timeout, Duration::from_millis),
        connect_timeout: http
            .connect_timeout_ms
            .map_or(defaults.connect_timeout, Duration::from_millis),
        response_timeout: http
            .response_timeout_ms
            .map_or(defaults.response_timeout, Duration::from_millis),
        pooled_per_member: http.pooled_per_member.unwrap_or(defaults.pooled_per_member),
    };
    if !(1..=crate::http::MAX_HEADERS).contains(&http.max_headers) {
        return Err((
            None,
            format!(
                "http.max_headers: must be 1 to {}",
                crate::http::MAX_HEADERS
            ),
        ));
    }
    let listeners = file
        .listeners
        .into_iter()
        .map(|listener| listener.into_config(base).map(Arc::new))
        .collect::<Result<_, _>>()?;
    Ok(Config {
        generation: file.generation.unwrap_or(1),
        listeners,
        standby: Vec::new(),
        http,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    version: u32,
    generation: Option<u64>,
    http: Option<HttpSection>,
    #[serde(default)]
    listeners: Vec<ListenerSection>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    max_header_bytes: Option<usize>,
    max_headers: Option<usize>,
    header_timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    response_timeout_ms: Option<u64>,
    pooled_per_member: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerSection {
    id: String,
    address: SocketAddr,
    protocol: FileProtocol,
    connection_limit: Option<u32>,
    #[serde(default = "default_idle_timeout_s")]
    idle_timeout_s: u64,
    #[serde(default)]
    insert_x_forwarded_for: bool,
    #[serde(default)]
    access_log: bool,
    #[serde(default)]
    certificates: Vec<CertificateFiles>,
    group: GroupSection,
    #[serde(default)]
    rules: Vec<RuleSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSection {
    id: String,
    host: Option<String>,
    path: Option<String>,
    path_prefix: Option<String>,
    header: Option<HeaderSection>,
    forward: Option<GroupSection>,
    redirect: Option<RedirectSection>,
    respond: Option<RespondSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderSection {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RedirectSection {
    status: u16,
    scheme: Option<FileScheme>,
    host: Option<String>,
    port: Option<u16>,
    path: Option<String>,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileScheme {
    Http,
    Https,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RespondSection {
    status: u16,
    #[serde(default = "default_content_type")]
    content_type: String,
    #[serde(default)]
    body: String,
}

fn default_content_type() -> String {
    "text/plain".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersistenceSection {
    #[serde(rename = "type")]
    kind: FilePersistence,
    cookie_name: String,
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FilePersistence {
    Cookie,
    AppCookie,
}

fn default_idle_timeout_s() -> u64 {
    60
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileProtocol {
    Tcp,
    Http,
    Https,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateFiles {
    id: String,
    chain: PathBuf,
    key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSection {
    id: String,
    #[serde(default)]
    algorithm: FileAlgorithm,
    health_check: Option<HealthCheckSection>,
    #[serde(default)]
    members: Vec<MemberSection>,
    proxy_protocol: Option<FileProxyProtocol>,
    passive_health: Option<PassiveHealthSection>,
    persistence: Option<PersistenceSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PassiveHealthSection {
    consecutive_failures: u32,
    ejection_s: u64,
    #[serde(default = "default_max_ejected_percent")]
    max_ejected_percent: u32,
}

fn default_max_ejected_percent() -> u32 {
    50
}

/// The longest ejection a file may ask for.
const MAX_EJECTION_S: u64 = 3600;

impl PassiveHealthSection {
    fn into_config(self) -> Result<PassiveHealth, String> {
        if self.consecutive_failures == 0 {
            return Err("consecutive_failures: at least 1".to_owned());
        }
        if !(1..=MAX_EJECTION_S).contains(&self.ejection_s) {
            return Err(format!("ejection_s: 1 to {MAX_EJECTION_S}"));
        }
        if self.max_ejected_percent > 100 {
            return Err("max_ejected_percent: 0 to 100".to_owned());
        }
        Ok(PassiveHealth {
            consecutive_failures: self.consecutive_failures,
            ejection: Duration::from_secs(self.ejection_s),
            max_ejected_percent: self.max_ejected_percent,
        })
    }
}

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileProxyProtocol {
    V1,
    V2,
}

#[derive(Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FileAlgorithm {
    #[default]
    WeightedRoundRobin,
    WeightedLeastConnections,
    SourceIpHash,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberSection {
    id: String,
    address: SocketAddr,
    #[serde(default = "default_weight")]
    weight: u32,
    #[serde(default = "default_true")]
    admin_state_up: bool,
}

fn default_weight() -> u32 {
    10
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthCheckSection {
    #[serde(rename = "type")]
    kind: String,
    path: Option<String>,
    expected_codes: Option<String>,
    interval_s: u64,
    timeout_s: u64,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
}

impl ListenerSection {
    fn into_config(self, base: &Path) -> Result<Listener, ParseError> {
        let key = |field: &str| format!("listeners[{}].{field}", self.id);
        let protocol = match self.protocol {
            FileProtocol::Tcp => Protocol::Tcp,
            FileProtocol::Http => Protocol::Http,
            FileProtocol::Https => Protocol::Https,
        };
        if (protocol == Protocol::Https) == self.certificates.is_empty() {
            return Err((
                None,
                format!(
                    "{}: HTTPS listeners need certificates, others must not have any",
                    key("certificates")
                ),
            ));
        }
        let certificates = self
            .certificates
            .iter()
            .map(|files| {
                let read = |file: &Path| {
                    let path = base.join(file);
                    std::fs::read_to_string(&path).map_err(|error| (Some(path), error.to_string()))
                };
                Ok(Certificate {
                    id: files.id.clone(),
                    chain_pem: read(&files.chain)?,
                    private_key_pem: read(&files.key)?,
                })
            })
            .collect::<Result<_, ParseError>>()?;
        if protocol == Protocol::Tcp && self.group.persistence.is_some() {
            return Err((
                None,
                format!(
                    "{}: only HTTP and HTTPS listeners keep sessions",
                    key("group.persistence")
                ),
            ));
        }
        if protocol == Protocol::Tcp && !self.rules.is_empty() {
            return Err((
                None,
                format!("{}: only HTTP and HTTPS listeners have rules", key("rules")),
            ));
        }
        if self.rules.len() > MAX_RULES {
            return Err((None, format!("{}: at most {MAX_RULES}", key("rules"))));
        }
        let group = self
            .group
            .into_config()
            .map_err(|message| (None, format!("{}.{message}", key("group"))))?;
        let mut rules: Vec<Rule> = Vec::with_capacity(self.rules.len());
        for rule in self.rules {
            let at = key(&format!("rules[{}]", rule.id));
            if rules.iter().any(|seen| seen.id == rule.id) {
                return Err((None, format!("{at}: a rule of this id comes earlier")));
            }
            rules.push(
                rule.into_config()
                    .map_err(|message| (None, format!("{at}.{message}")))?,
            );
        }
        Ok(Listener {
            id: self.id,
            address: self.address,
            protocol,
            connection_limit: self.connection_limit,
            idle_timeout: Duration::from_secs(self.idle_timeout_s),
            insert_x_forwarded_for: self.insert_x_forwarded_for,
            access_log: self.access_log,
            certificates,
            group,
            rules,
        })
    }
}

impl GroupSection {
    /// The group, or what is wrong with it, named from inside the group.
    fn into_config(self) -> Result<Group, String> {
        let passive_health = self
            .passive_health
            .map(PassiveHealthSection::into_config)
            .transpose()
            .map_err(|message| format!("passive_health.{message}"))?;
        let health_check = self
            .health_check
            .map(HealthCheckSection::into_config)
            .transpose()
            .map_err(|message| format!("health_check: {message}"))?;
        for member in &self.members {
            if member.weight > 100 {
                return Err(format!("members[{}]: weight must be 0 to 100", member.id));
            }
        }
        let persistence = match self.persistence {
            None => None,
            Some(section) => {
                config::check_cookie_name(&section.cookie_name)
                    .map_err(|message| format!("persistence.cookie_name: {message}"))?;
                Some(match section.kind {
                    FilePersistence::Cookie => Persistence::Cookie(section.cookie_name),
                    FilePersistence::AppCookie => Persistence::AppCookie(section.cookie_name),
                })
            }
        };
        Ok(Group {
            id: self.id,
            algorithm: match self.algorithm {
                FileAlgorithm::WeightedRoundRobin => Algorithm::WeightedRoundRobin,
                FileAlgorithm::WeightedLeastConnections => Algorithm::WeightedLeastConnections,
                FileAlgorithm::SourceIpHash => Algorithm::SourceIpHash,
            },
            health_check,
            members: self
                .members
                .into_iter()
                .map(|member| Member {
                    id: member.id,
                    address: member.address,
                    weight: member.weight,
                    admin_state_up: member.admin_state_up,
                })
                .collect(),
            passive_health,
            proxy_protocol: self.proxy_protocol.map(|version| match version {
                FileProxyProtocol::V1 => ProxyProtocol::V1,
                FileProxyProtocol::V2 => ProxyProtocol::V2,
            }),
            persistence,
        })
    }
}

impl RuleSection {
    /// The rule, or what is wrong with it, named from inside the rule.
    fn into_config(self) -> Result<Rule, String> {
        let host = self
            .host
            .map(|host| config::host_match(&host).map_err(|message| format!("host: {message}")))
            .transpose()?;
        let path = match (self.path, self.path_prefix) {
            (Some(_), Some(_)) => return Err("path: path or path_prefix, not both".to_owned()),
            (Some(path), None) => Some(PathMatch::Exact(path)),
            (None, Some(prefix)) => Some(PathMatch::Prefix(prefix)),
            (None, None) => None,
        };
        if let Some(PathMatch::Exact(path) | PathMatch::Prefix(path)) = &path {
            config::check_path(path).map_err(|message| format!("path: {message}"))?;
        }
        let header = self.header.map(|header| HeaderMatch {
            name: header.name,
            value: header.value,
        });
        if let Some(header) = &header {
            config::check_header_match(header).map_err(|message| format!("header: {message}"))?;
        }
        let action = match (self.forward, self.redirect, self.respond) {
            (Some(group), None, None) => RuleAction::Forward(
                group
                    .into_config()
                    .map_err(|message| format!("forward.{message}"))?,
            ),
            (None, Some(redirect), None) => {
                let redirect = Redirect {
                    status: redirect.status,
                    scheme: redirect.scheme.map(|scheme| match scheme {
                        FileScheme::Http => Scheme::Http,
                        FileScheme::Https => Scheme::Https,
                    }),
                    host: redirect.host,
                    port: redirect.port,
                    path: redirect.path,
                };
                config::check_redirect(&redirect)
                    .map_err(|message| format!("redirect.{message}"))?;
                RuleAction::Redirect(redirect)
            }
            (None, None, Some(respond)) => {
                let fixed = FixedResponse {
                    status: respond.status,
                    content_type: respond.content_type,
                    body: respond.body,
                };
                config::check_fixed_response(&fixed)
                    .map_err(|message| format!("respond.{message}"))?;
                RuleAction::Respond(fixed)
            }
            _ => {
                return Err("action: exactly one of forward, redirect and respond".to_owned());
            }
        };
        Ok(Rule {
            id: self.id,
            host,
            path,
            header,
            action,
        })
    }
}

impl HealthCheckSection {
    fn into_config(self) -> Result<HealthCheck, String> {
        let kind = match self.kind.as_str() {
            "tcp" => HealthCheckKind::Tcp,
            "http" => HealthCheckKind::Http {
                path: self.path.unwrap_or_else(|| "/".to_owned()),
                expected_codes: config::parse_expected_codes(
                    self.expected_codes.as_deref().unwrap_or("200-299"),
                )?,
            },
            other => return Err(format!("type: tcp or http, not {other:?}")),
        };
        Ok(HealthCheck {
            kind,
            interval: Duration::from_secs(self.interval_s),
            timeout: Duration::from_secs(self.timeout_s),
            healthy_threshold: self.healthy_threshold,
            unhealthy_threshold: self.unhealthy_threshold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_becomes_a_config_and_mistakes_are_named() {
        let config = parse(
            r#"
version = 1
[[listeners]]
id = "web"
address = "127.0.0.1:8080"
protocol = "http"
[listeners.group]
id = "g"
members = [{ id = "a", address = "127.0.0.1:9001", weight = 3 }]
[listeners.group.health_check]
type = "http"
expected_codes = "200,302"
interval_s = 5
timeout_s = 2
healthy_threshold = 2
unhealthy_threshold = 3
"#,
            Path::new("."),
        )
        .unwrap();
        let listener = &config.listeners[0];
        assert_eq!(listener.group.members[0].weight, 3);
        assert_eq!(
            listener.group.health_check.as_ref().unwrap().kind,
            HealthCheckKind::Http {
                path: "/".to_owned(),
                expected_codes: vec![(200, 200), (302, 302)]
            }
        );
        let error = parse("version = 1\nbogus = 2\n", Path::new(".")).unwrap_err();
        assert!(error.1.contains("bogus"), "{}", error.1);
        let error = parse(
            "version = 1\n[[listeners]]\nid = \"s\"\naddress = \"127.0.0.1:1\"\nprotocol = \"https\"\n[listeners.group]\nid = \"g\"\n",
            Path::new("."),
        )
        .unwrap_err();
        assert!(
            error.1.starts_with("listeners[s].certificates"),
            "{}",
            error.1
        );
    }

    #[test]
    fn passive_health_is_read_and_its_bounds_named() {
        let file = |section: &str| {
            format!(
                "version = 1\n[[listeners]]\nid = \"l\"\naddress = \"127.0.0.1:1\"\n\
                 protocol = \"http\"\n[listeners.group]\nid = \"g\"\npassive_health = {section}\n"
            )
        };
        let config = parse(
            &file("{ consecutive_failures = 5, ejection_s = 30 }"),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            config.listeners[0].group.passive_health,
            Some(PassiveHealth {
                consecutive_failures: 5,
                ejection: Duration::from_secs(30),
                max_ejected_percent: 50,
            })
        );
        for (section, named) in [
            (
                "{ consecutive_failures = 0, ejection_s = 30 }",
                "listeners[l].group.passive_health.consecutive_failures: at least 1",
            ),
            (
                "{ consecutive_failures = 1, ejection_s = 0 }",
                "listeners[l].group.passive_health.ejection_s: 1 to 3600",
            ),
            (
                "{ consecutive_failures = 1, ejection_s = 1, max_ejected_percent = 101 }",
                "listeners[l].group.passive_health.max_ejected_percent: 0 to 100",
            ),
        ] {
            let error = parse(&file(section), Path::new(".")).unwrap_err();
            assert_eq!(error.1, named);
        }
    }

    #[test]
    fn the_proxy_protocol_is_read_for_any_listener() {
        let file = |protocol: &str| {
            format!(
                "version = 1\n[[listeners]]\nid = \"l\"\naddress = \"127.0.0.1:1\"\n\
                 protocol = \"{protocol}\"\n[listeners.group]\nid = \"g\"\nproxy_protocol = \"v2\"\n"
            )
        };
        for protocol in ["tcp", "http"] {
            let config = parse(&file(protocol), Path::new(".")).unwrap();
            assert_eq!(
                config.listeners[0].group.proxy_protocol,
                Some(ProxyProtocol::V2)
            );
        }
    }

    #[test]
    fn rules_and_persistence_are_read_and_their_mistakes_named() {
        let file = |rules: &str| {
            format!(
                "version = 1\n[[listeners]]\nid = \"l\"\naddress = \"127.0.0.1:1\"\n\
                 protocol = \"http\"\n[listeners.group]\nid = \"g\"\n\
                 persistence = {{ type = \"cookie\", cookie_name = \"FULCRUM\" }}\n{rules}"
            )
        };
        let config = parse(
            &file(
                "[[listeners.rules]]\nid = \"api\"\nhost = \"*.Example.com\"\npath_prefix = \"/api/\"\n\
                 forward = { id = \"g2\", members = [{ id = \"c\", address = \"127.0.0.1:9\" }] }\n\
                 [[listeners.rules]]\nid = \"tls\"\nredirect = { status = 301, scheme = \"https\" }\n",
            ),
            Path::new("."),
        )
        .unwrap();
        let listener = &config.listeners[0];
        assert_eq!(
            listener.group.persistence,
            Some(Persistence::Cookie("FULCRUM".to_owned()))
        );
        assert_eq!(
            listener.rules[0].host,
            Some(config::HostMatch::Wildcard(".example.com".to_owned()))
        );
        assert_eq!(
            listener.rules[0].path,
            Some(PathMatch::Prefix("/api/".to_owned()))
        );
        assert_eq!(listener.groups().count(), 2);
        assert!(matches!(listener.rules[1].action, RuleAction::Redirect(_)));
        for (rules, named) in [
            (
                "[[listeners.rules]]\nid = \"r\"\nhost = \"a b\"\nrespond = { status = 200 }\n",
                "listeners[l].rules[r].host: ",
            ),
            (
                "[[listeners.rules]]\nid = \"r\"\npath = \"x\"\nrespond = { status = 200 }\n",
                "listeners[l].rules[r].path: ",
            ),
            (
                "[[listeners.rules]]\nid = \"r\"\nredirect = { status = 200 }\n",
                "listeners[l].rules[r].redirect.status: ",
            ),
            (
                "[[listeners.rules]]\nid = \"r\"\n",
                "listeners[l].rules[r].action: exactly one of",
            ),
            (
                "[[listeners.rules]]\nid = \"r\"\nrespond = { status = 200 }\n\
                 [[listeners.rules]]\nid = \"r\"\nrespond = { status = 200 }\n",
                "listeners[l].rules[r]: a rule of this id comes earlier",
            ),
        ] {
            let error = parse(&file(rules), Path::new(".")).unwrap_err();
            assert!(error.1.starts_with(named), "{} vs {named}", error.1);
        }
        let tcp = "version = 1\n[[listeners]]\nid = \"l\"\naddress = \"127.0.0.1:1\"\n\
                   protocol = \"tcp\"\n[listeners.group]\nid = \"g\"\n\
                   persistence = { type = \"app_cookie\", cookie_name = \"S\" }\n";
        let error = parse(tcp, Path::new(".")).unwrap_err();
        assert_eq!(
            error.1,
            "listeners[l].group.persistence: only HTTP and HTTPS listeners keep sessions"
        );
    }
}
