//! The EIP binder, timed: every call gets a span (`binder`, with the call's
//! name) and is counted with its duration and outcome, whatever binder it
//! wraps.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use fulcrum_eip::Binder;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Binder calls take microseconds (loopback) to tens of milliseconds
/// (netlink and an `nft` transaction): 50 µs to 2.5 s.
const BUCKETS: [f64; 12] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5,
];

/// A binder call and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: &'static str,
    outcome: &'static str,
}

/// The binder's calls, by call and outcome.
#[derive(Clone, Debug)]
pub struct BinderMetrics {
    calls: Family<CallLabels, Histogram>,
}

impl Default for BinderMetrics {
    fn default() -> Self {
        Self {
            calls: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
        }
    }
}

impl BinderMetrics {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "fulcrum_eip_binder_call_duration_seconds",
            "EIP binder calls (hold, drain, release, shut_down) by outcome, and how long they took",
            self.calls.clone(),
        );
    }

    fn observe(&self, call: &'static str, ok: bool, started: Instant) {
        self.calls
            .get_or_create(&CallLabels {
                call,
                outcome: if ok { "ok" } else { "error" },
            })
            .observe(started.elapsed().as_secs_f64());
    }
}

/// A binder whose calls are timed into `metrics`.
pub struct TimedBinder {
    inner: Arc<dyn Binder>,
    metrics: BinderMetrics,
}

impl TimedBinder {
    /// `inner`, timed into `metrics`.
    pub fn new(inner: Arc<dyn Binder>, metrics: BinderMetrics) -> Self {
        Self { inner, metrics }
    }

    fn timed(
        &self,
        call: &'static str,
        run: impl FnOnce() -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let _span = tracing::debug_span!("binder", call).entered();
        let started = Instant::now();
        let outcome = run();
        self.metrics.observe(call, outcome.is_ok(), started);
        outcome
    }
}

impl Binder for TimedBinder {
    fn hold(&self, addresses: &BTreeSet<Ipv4Addr>, until: Instant) -> std::io::Result<()> {
        self.timed("hold", || self.inner.hold(addresses, until))
    }

    fn drain(&self, on: bool) -> std::io::Result<()> {
        self.timed("drain", || self.inner.drain(on))
    }

    fn release(&self) -> std::io::Result<()> {
        self.timed("release", || self.inner.release())
    }

    fn shut_down(&self) -> std::io::Result<()> {
        self.timed("shut_down", || self.inner.shut_down())
    }

    fn held(&self) -> BTreeSet<Ipv4Addr> {
        self.inner.held()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_timed_by_outcome() {
        let metrics = BinderMetrics::default();
        let binder = TimedBinder::new(Arc::new(fulcrum_eip::Loopback::default()), metrics.clone());
        let local = BTreeSet::from([Ipv4Addr::new(127, 77, 0, 1)]);
        binder
            .hold(&local, Instant::now() + std::time::Duration::from_secs(1))
            .unwrap();
        assert!(
            binder
                .hold(
                    &BTreeSet::from([Ipv4Addr::new(10, 0, 0, 1)]),
                    Instant::now()
                )
                .is_err()
        );
        binder.release().unwrap();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        for series in [
            r#"fulcrum_eip_binder_call_duration_seconds_count{call="hold",outcome="ok"} 1"#,
            r#"fulcrum_eip_binder_call_duration_seconds_count{call="hold",outcome="error"} 1"#,
            r#"fulcrum_eip_binder_call_duration_seconds_count{call="release",outcome="ok"} 1"#,
        ] {
            assert!(text.contains(series), "{series} in {text}");
        }
    }
}
