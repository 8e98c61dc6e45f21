//! Wire to domain for groups: the algorithm, the health check (with its
//! defaults) and the members.

use fulcrum_api::v1;

use super::MemberSpec;
use crate::domain::ids::InstanceId;
use crate::domain::limits::{self, Rules};
use crate::domain::model::{
    Algorithm, HealthCheck, HealthCheckKind, PassiveHealth, Persistence, ProxyProtocol,
};
use crate::domain::rejection::Rejection;
use crate::domain::validate;

pub(super) fn algorithm(field: &str, raw: i32) -> Result<Algorithm, Rejection> {
    match v1::Algorithm::try_from(raw) {
        Ok(v1::Algorithm::Unspecified | v1::Algorithm::WeightedRoundRobin) => {
            Ok(Algorithm::WeightedRoundRobin)
        }
        Ok(v1::Algorithm::WeightedLeastConnections) => Ok(Algorithm::WeightedLeastConnections),
        Ok(v1::Algorithm::SourceIpHash) => Ok(Algorithm::SourceIpHash),
        Err(_) => Err(Rejection::invalid(
            field,
            format!(
                "{raw} is not an algorithm; they are WEIGHTED_ROUND_ROBIN, WEIGHTED_LEAST_CONNECTIONS and SOURCE_IP_HASH"
            ),
        )),
    }
}

/// Health check defaults where the client gives none.
pub mod health_check_defaults {
    /// Seconds between checks.
    pub const INTERVAL_S: u32 = 5;
    /// Seconds a check may take.
    pub const TIMEOUT_S: u32 = 3;
    /// Successes in a row that bring a member up.
    pub const HEALTHY_THRESHOLD: u32 = 2;
    /// Failures in a row that take a member down.
    pub const UNHEALTHY_THRESHOLD: u32 = 2;
    /// Path an HTTP check asks for.
    pub const HTTP_PATH: &str = "/";
    /// Codes an HTTP check accepts.
    pub const EXPECTED_CODES: &str = "200";
}

pub(super) fn health_check(raw: &v1::HealthCheck) -> Result<HealthCheck, Rejection> {
    use health_check_defaults as defaults;
    let kind = match v1::HealthCheckType::try_from(raw.r#type) {
        Ok(v1::HealthCheckType::Tcp) => HealthCheckKind::Tcp,
        Ok(v1::HealthCheckType::Http) => HealthCheckKind::Http,
        _ => {
            return Err(Rejection::invalid(
                "health_check.type",
                "is required: TCP or HTTP",
            ));
        }
    };
    let interval_s = validate::bounded(
        "health_check.interval_s",
        raw.interval_s,
        1..=300,
        defaults::INTERVAL_S,
        " s",
    )?;
    let timeout_s = validate::bounded(
        "health_check.timeout_s",
        raw.timeout_s,
        1..=60,
        defaults::TIMEOUT_S,
        " s",
    )?;
    if timeout_s > interval_s {
        return Err(Rejection::invalid(
            "health_check.timeout_s",
            format!(
                "{timeout_s} s is above the interval of {interval_s} s; the timeout may not exceed the interval"
            ),
        ));
    }
    let healthy_threshold = validate::bounded(
        "health_check.healthy_threshold",
        raw.healthy_threshold,
        1..=10,
        defaults::HEALTHY_THRESHOLD,
        "",
    )?;
    let unhealthy_threshold = validate::bounded(
        "health_check.unhealthy_threshold",
        raw.unhealthy_threshold,
        1..=10,
        defaults::UNHEALTHY_THRESHOLD,
        "",
    )?;
    let (http_path, expected_codes) = match kind {
        HealthCheckKind::Http => (
            validate::http_path(
                "health_check.http_path",
                raw.http_path.as_deref().unwrap_or(defaults::HTTP_PATH),
            )?,
            validate::expected_codes(
                "health_check.expected_codes",
                raw.expected_codes
                    .as_deref()
                    .unwrap_or(defaults::EXPECTED_CODES),
            )?,
        ),
        HealthCheckKind::Tcp => {
            for (field, value) in [
                ("health_check.http_path", &raw.http_path),
                ("health_check.expected_codes", &raw.expected_codes),
            ] {
                if value.is_some() {
                    return Err(Rejection::invalid(
                        field,
                        "applies only to HTTP health checks",
                    ));
                }
            }
            (String::new(), Vec::new())
        }
    };
    Ok(HealthCheck {
        kind,
        interval_s,
        timeout_s,
        healthy_threshold,
        unhealthy_threshold,
        http_path,
        expected_codes,
    })
}

pub(super) fn member_spec(field: &str, raw: &v1::MemberSpec) -> Result<MemberSpec, Rejection> {
    Ok(MemberSpec {
        instance_id: InstanceId::parse(&format!("{field}.instance_id"), &raw.instance_id)?,
        port: validate::port(&format!("{field}.port"), raw.port)?,
        weight: validate::weight(&format!("{field}.weight"), raw.weight)?,
        admin_state_up: raw.admin_state_up.unwrap_or(true),
    })
}

pub(super) fn member_specs(
    raw: &[v1::MemberSpec],
    rules: Rules,
) -> Result<Vec<MemberSpec>, Rejection> {
    if rules.bounded() && raw.len() > limits::MAX_MEMBERS_PER_GROUP as usize {
        return Err(Rejection::invalid(
            "members",
            format!(
                "has {} members; a request or a group has at most {}, whatever the quota",
                raw.len(),
                limits::MAX_MEMBERS_PER_GROUP
            ),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(position, member)| member_spec(&format!("members[{position}]"), member))
        .collect()
}

/// A persistence as requested: `None` for NONE.
pub(super) fn persistence(
    field: &str,
    raw: &v1::SessionPersistence,
) -> Result<Option<Persistence>, Rejection> {
    let cookie_name = || validate::cookie_name(&format!("{field}.cookie_name"), &raw.cookie_name);
    match v1::PersistenceType::try_from(raw.r#type) {
        Ok(v1::PersistenceType::None) => {
            if !raw.cookie_name.is_empty() {
                return Err(Rejection::invalid(
                    &format!("{field}.cookie_name"),
                    "applies only to COOKIE and APP_COOKIE persistence",
                ));
            }
            Ok(None)
        }
        Ok(v1::PersistenceType::Cookie) => Ok(Some(Persistence::Cookie(cookie_name()?))),
        Ok(v1::PersistenceType::AppCookie) => Ok(Some(Persistence::AppCookie(cookie_name()?))),
        _ => Err(Rejection::invalid(
            &format!("{field}.type"),
            "is required: NONE, COOKIE or APP_COOKIE",
        )),
    }
}

/// A PROXY protocol version as requested: `None` for NONE or unspecified.
pub(super) fn proxy_protocol(field: &str, raw: i32) -> Result<Option<ProxyProtocol>, Rejection> {
    match v1::ProxyProtocolVersion::try_from(raw) {
        Ok(v1::ProxyProtocolVersion::Unspecified | v1::ProxyProtocolVersion::None) => Ok(None),
        Ok(v1::ProxyProtocolVersion::V1) => Ok(Some(ProxyProtocol::V1)),
        Ok(v1::ProxyProtocolVersion::V2) => Ok(Some(ProxyProtocol::V2)),
        Err(_) => Err(Rejection::invalid(
            field,
            format!("{raw} is not a PROXY protocol version; they are NONE, V1 and V2"),
        )),
    }
}

/// The default share of a group passive health may eject at once.
pub const DEFAULT_MAX_EJECTED_PERCENT: u32 = 50;

pub(super) fn passive_health(
    field: &str,
    raw: &v1::PassiveHealth,
) -> Result<PassiveHealth, Rejection> {
    let consecutive_failures = validate::bounded(
        &format!("{field}.consecutive_failures"),
        Some(raw.consecutive_failures),
        1..=100,
        0,
        "",
    )?;
    let ejection_s = validate::bounded(
        &format!("{field}.ejection_s"),
        Some(raw.ejection_s),
        1..=3600,
        0,
        " s",
    )?;
    let max_ejected_percent = validate::bounded(
        &format!("{field}.max_ejected_percent"),
        raw.max_ejected_percent,
        0..=100,
        DEFAULT_MAX_EJECTED_PERCENT,
        " %",
    )?;
    Ok(PassiveHealth {
        consecutive_failures,
        ejection_s,
        max_ejected_percent,
    })
}

/// What an update changes of a group's traffic settings (persistence,
/// PROXY protocol, passive health), each `Some(None)` to remove: nothing
/// for an entry before format 5, whose build dropped these fields.
pub(super) type TrafficUpdate = (
    Option<Option<Persistence>>,
    Option<Option<ProxyProtocol>>,
    Option<Option<PassiveHealth>>,
);

pub(super) fn traffic_settings_update(
    request: &v1::UpdateGroupRequest,
    rules: Rules,
) -> Result<TrafficUpdate, Rejection> {
    if !rules.group_traffic_settings() {
        return Ok((None, None, None));
    }
    if request.clear_passive_health && request.passive_health.is_some() {
        return Err(Rejection::invalid(
            "clear_passive_health",
            "cannot be set together with passive_health",
        ));
    }
    let persistence = request
        .persistence
        .as_ref()
        .map(|raw| persistence("persistence", raw))
        .transpose()?;
    let proxy_protocol = request
        .proxy_protocol
        .map(|raw| proxy_protocol("proxy_protocol", raw))
        .transpose()?;
    let passive_health = if request.clear_passive_health {
        Some(None)
    } else {
        request
            .passive_health
            .as_ref()
            .map(|raw| passive_health("passive_health", raw))
            .transpose()?
            .map(Some)
    };
    Ok((persistence, proxy_protocol, passive_health))
}
