//! Cluster settings as a client asks to change them: the EIP pool, the
//! quotas (each within its ceiling under format 2) and the retention limits.

use fulcrum_api::v1;
use ipnet::Ipv4Net;

use super::overlaps;
use crate::domain::limits::{self, QuotaLimit, Rules};
use crate::domain::model::{Quotas, settings_limits};
use crate::domain::rejection::Rejection;
use crate::domain::validate;

/// New quotas: the four that an update always names, and the five it may.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotasUpdate {
    /// Load Balancers in the cluster.
    pub load_balancers: u32,
    /// Listeners per Load Balancer.
    pub listeners_per_load_balancer: u32,
    /// Groups per Load Balancer.
    pub groups_per_load_balancer: u32,
    /// Members per group.
    pub members_per_group: u32,
    /// Networks, unless unchanged.
    pub networks: Option<u32>,
    /// Subnets, unless unchanged.
    pub subnets: Option<u32>,
    /// Instances, unless unchanged.
    pub instances: Option<u32>,
    /// EIPs, unless unchanged.
    pub eips: Option<u32>,
    /// Certificates, unless unchanged.
    pub certificates: Option<u32>,
}

impl QuotasUpdate {
    /// The quotas after this update.
    pub fn applied_to(&self, current: &Quotas) -> Quotas {
        Quotas {
            load_balancers: self.load_balancers,
            listeners_per_load_balancer: self.listeners_per_load_balancer,
            groups_per_load_balancer: self.groups_per_load_balancer,
            members_per_group: self.members_per_group,
            networks: self.networks.unwrap_or(current.networks),
            subnets: self.subnets.unwrap_or(current.subnets),
            instances: self.instances.unwrap_or(current.instances),
            eips: self.eips.unwrap_or(current.eips),
            certificates: self.certificates.unwrap_or(current.certificates),
        }
    }
}

/// Change cluster settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateSettings {
    /// Refuse unless the settings are at this revision.
    pub expected_revision: Option<u64>,
    /// A new pool.
    pub eip_pool: Option<Vec<Ipv4Net>>,
    /// New quotas.
    pub quotas: Option<QuotasUpdate>,
    /// New token retention.
    pub client_token_retention_ms: Option<u64>,
    /// New token capacity.
    pub client_token_capacity: Option<u32>,
    /// New history retention.
    pub history_retention_revisions: Option<u64>,
}

/// New quotas: the first four replace the current ones, the optional ones
/// keep theirs when absent.
fn quotas(raw: &v1::Quotas, rules: Rules) -> Result<QuotasUpdate, Rejection> {
    use limits::quota;
    let check = |limit: &QuotaLimit, value: u32| {
        let ceiling = if rules.bounded() {
            limit.ceiling
        } else {
            limits::MAX_QUOTA_V1
        };
        if (1..=ceiling).contains(&value) {
            Ok(value)
        } else {
            Err(Rejection::invalid(
                &format!("quotas.{}", limit.field),
                format!("{value} is out of range; this quota is 1 to {ceiling}"),
            ))
        }
    };
    let optional =
        |limit: &QuotaLimit, value: Option<u32>| value.map(|value| check(limit, value)).transpose();
    Ok(QuotasUpdate {
        load_balancers: check(&quota::LOAD_BALANCERS, raw.load_balancers)?,
        listeners_per_load_balancer: check(
            &quota::LISTENERS_PER_LOAD_BALANCER,
            raw.listeners_per_load_balancer,
        )?,
        groups_per_load_balancer: check(
            &quota::GROUPS_PER_LOAD_BALANCER,
            raw.groups_per_load_balancer,
        )?,
        members_per_group: check(&quota::MEMBERS_PER_GROUP, raw.members_per_group)?,
        networks: optional(&quota::NETWORKS, raw.networks)?,
        subnets: optional(&quota::SUBNETS, raw.subnets)?,
        instances: optional(&quota::INSTANCES, raw.instances)?,
        eips: optional(&quota::EIPS, raw.eips)?,
        certificates: optional(&quota::CERTIFICATES, raw.certificates)?,
    })
}

pub(super) fn settings_update(
    raw: &v1::UpdateClusterSettingsRequest,
    rules: Rules,
) -> Result<UpdateSettings, Rejection> {
    let eip_pool = match &raw.eip_pool {
        None => None,
        Some(pool) => Some(
            pool.cidrs
                .iter()
                .enumerate()
                .map(|(position, cidr)| {
                    validate::pool_cidr(&format!("eip_pool.cidrs[{position}]"), cidr)
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    if let Some(pool) = &eip_pool {
        if rules.bounded() && pool.len() > limits::MAX_EIP_POOL_BLOCKS {
            return Err(Rejection::invalid(
                "eip_pool.cidrs",
                format!(
                    "has {} blocks; the pool has at most {}",
                    pool.len(),
                    limits::MAX_EIP_POOL_BLOCKS
                ),
            ));
        }
        for (position, cidr) in pool.iter().enumerate() {
            if rules.bounded()
                && let Some(range) = limits::forbidden_range_of(cidr)
            {
                return Err(Rejection::invalid(
                    &format!("eip_pool.cidrs[{position}]"),
                    format!(
                        "{cidr} reaches into {}; EIPs must be unicast host addresses",
                        range.what
                    ),
                ));
            }
            if let Some(other) = pool[..position].iter().find(|other| overlaps(other, cidr)) {
                return Err(Rejection::invalid(
                    &format!("eip_pool.cidrs[{position}]"),
                    format!("{cidr} overlaps {other}; pool ranges may not overlap"),
                ));
            }
        }
    }
    let client_token_retention_ms = match raw.client_token_retention_s {
        None => None,
        Some(seconds) => {
            let ms = seconds.saturating_mul(1000);
            if !(1000..=settings_limits::MAX_CLIENT_TOKEN_RETENTION_MS).contains(&ms) {
                return Err(Rejection::invalid(
                    "client_token_retention_s",
                    format!(
                        "{seconds} s is out of range; it is 1 to {} s",
                        settings_limits::MAX_CLIENT_TOKEN_RETENTION_MS / 1000
                    ),
                ));
            }
            Some(ms)
        }
    };
    let client_token_capacity = raw
        .client_token_capacity
        .map(|capacity| {
            validate::bounded(
                "client_token_capacity",
                Some(capacity),
                1..=settings_limits::MAX_CLIENT_TOKEN_CAPACITY,
                0,
                "",
            )
        })
        .transpose()?;
    let history_retention_revisions = match raw.history_retention_revisions {
        Some(revisions)
            if !(1..=settings_limits::MAX_HISTORY_RETENTION_REVISIONS).contains(&revisions) =>
        {
            return Err(Rejection::invalid(
                "history_retention_revisions",
                format!(
                    "{revisions} is out of range; it is 1 to {}",
                    settings_limits::MAX_HISTORY_RETENTION_REVISIONS
                ),
            ));
        }
        other => other,
    };
    Ok(UpdateSettings {
        expected_revision: raw.expected_revision,
        eip_pool,
        quotas: raw
            .quotas
            .as_ref()
            .map(|raw| quotas(raw, rules))
            .transpose()?,
        client_token_retention_ms,
        client_token_capacity,
        history_retention_revisions,
    })
}
