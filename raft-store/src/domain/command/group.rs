//! Wire to domain for groups: the algorithm, the health check (with its
//! defaults) and the members.

use fulcrum_api::v1;

use super::MemberSpec;
use crate::domain::ids::InstanceId;
use crate::domain::limits::{self, Rules};
use crate::domain::model::{Algorithm, HealthCheck, HealthCheckKind};
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
