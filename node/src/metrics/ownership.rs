//! The EIP ownership loop's figures: claims, releases by reason, the
//! releases that a guard against two holders forced on a leader, and how
//! much of the current hold is left.

use std::sync::{Arc, Mutex, PoisonError};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

use crate::ownership::lease::Why;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// What the ownership loop did, shared between the loop and the registry.
#[derive(Clone, Debug, Default)]
pub struct OwnershipMetrics {
    claims: Counter,
    releases: Family<ReasonLabels, Counter>,
    guards: Family<ReasonLabels, Counter>,
    /// When the current hold ends by itself; `None` while nothing is held.
    hold_until: Arc<Mutex<Option<Instant>>>,
}

impl OwnershipMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        // Every series from the start, at 0: a rate over a series that
        // appears at its first increment misses that increment.
        for why in Why::ALL {
            let labels = ReasonLabels {
                reason: why.label(),
            };
            drop(self.releases.get_or_create(&labels));
            if why.is_guard() {
                drop(self.guards.get_or_create(&labels));
            }
        }
        registry.register(
            "fulcrum_eip_claims",
            "Times this node started holding the EIPs",
            self.claims.clone(),
        );
        registry.register(
            "fulcrum_eip_releases",
            "Times this node stopped holding the EIPs, by reason",
            self.releases.clone(),
        );
        registry.register(
            "fulcrum_eip_guard_events",
            "Times a leader gave the EIPs up to rule out two holders: its lease ran out, or it handed over or transferred leadership",
            self.guards.clone(),
        );
        registry.register_collector(Box::new(self.clone()));
    }

    /// The node holds the EIPs until `until` (a claim when it held none).
    pub fn held(&self, until: Instant) {
        let mut hold = self.lock();
        if hold.is_none() {
            self.claims.inc();
        }
        *hold = Some(until);
    }

    /// The node does not hold the EIPs, for `why` (a release when it held them).
    pub fn not_held(&self, why: Why) {
        if self.lock().take().is_none() {
            return;
        }
        let labels = ReasonLabels {
            reason: why.label(),
        };
        self.releases.get_or_create(&labels).inc();
        if why.is_guard() {
            self.guards.get_or_create(&labels).inc();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.hold_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Collector for OwnershipMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let left = (*self.lock()).map_or(0.0, |until| {
            until
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
        });
        let metric = ConstGauge::new(left);
        metric.encode(encoder.encode_descriptor(
            "fulcrum_eip_lease_remaining_seconds",
            "Time left of this node's hold on the EIPs unless renewed (0 while it holds none)",
            None,
            metric.metric_type(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claims_and_releases_count_transitions_only() {
        let metrics = OwnershipMetrics::default();
        let until = Instant::now() + std::time::Duration::from_secs(5);
        metrics.not_held(Why::NotLeader);
        metrics.held(until);
        metrics.held(until);
        metrics.not_held(Why::LeaseExpired);
        metrics.not_held(Why::LeaseExpired);
        metrics.held(until);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        for series in [
            "fulcrum_eip_claims_total 2",
            r#"fulcrum_eip_releases_total{reason="lease_expired"} 1"#,
            r#"fulcrum_eip_guard_events_total{reason="lease_expired"} 1"#,
        ] {
            assert!(text.contains(series), "{series} in {text}");
        }
        let left: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix("fulcrum_eip_lease_remaining_seconds "))
            .and_then(|value| value.parse().ok())
            .unwrap();
        assert!((4.0..=5.0).contains(&left), "{left}");
    }
}
