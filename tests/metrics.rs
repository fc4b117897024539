//! The `metrics` feature publishes a pool's stats into a recorder.
#![cfg(feature = "metrics")]

use metrics_util::{
    debugging::{DebugValue, DebuggingRecorder},
    CompositeKey,
};
use taskring::{metrics::Exporter, Config, Hooks, Pool};

/// The value of `name` with labels `labels`, if published.
fn value<'a>(
    snapshot: &'a [(
        CompositeKey,
        Option<metrics::Unit>,
        Option<metrics::SharedString>,
        DebugValue,
    )],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a DebugValue> {
    snapshot.iter().find_map(|(key, _, _, value)| {
        let key = key.key();
        let same_labels = labels.iter().all(|(k, v)| {
            key.labels()
                .any(|label| label.key() == *k && label.value() == *v)
        });
        (key.name() == name && same_labels).then_some(value)
    })
}

#[test]
fn exporter_publishes_gauges_and_counters_with_the_pool_label() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let pool: Pool<fn(), 4, 0, Hooks> =
        Pool::with_env(Config::new().watermarks(3, 1), Hooks::new());
    metrics::with_local_recorder(&recorder, || {
        let exporter = Exporter::new("firmware", 1.0);
        for _ in 0..4 {
            pool.try_submit(|| {}).unwrap();
        }
        assert!(pool.try_submit(|| {}).unwrap_err().is_full());
        assert_eq!(pool.run_pending(1), 1);
        exporter.publish(&pool.stats());
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let pool_label = [("pool", "firmware")];
    assert_eq!(
        value(&snapshot, "taskring_queued", &pool_label),
        Some(&DebugValue::Gauge(3.0.into()))
    );
    assert_eq!(
        value(&snapshot, "taskring_high_water", &pool_label),
        Some(&DebugValue::Gauge(4.0.into()))
    );
    assert_eq!(
        value(&snapshot, "taskring_overloaded", &pool_label),
        Some(&DebugValue::Gauge(1.0.into()))
    );
    assert_eq!(
        value(&snapshot, "taskring_submitted_total", &pool_label),
        Some(&DebugValue::Counter(4))
    );
    assert_eq!(
        value(&snapshot, "taskring_completed_total", &pool_label),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(
            &snapshot,
            "taskring_rejected_total",
            &[("pool", "firmware"), ("cause", "full")]
        ),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(
            &snapshot,
            "taskring_rejected_total",
            &[("pool", "firmware"), ("cause", "busy")]
        ),
        Some(&DebugValue::Counter(0))
    );
    assert_eq!(
        value(&snapshot, "taskring_overload_events_total", &pool_label),
        Some(&DebugValue::Counter(1))
    );
}
