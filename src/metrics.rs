//! Publishing a pool's [`Stats`] through the [`metrics`] facade (feature
//! `metrics`).
//!
//! An [`Exporter`] registers one handle per gauge and counter when it is
//! built, labelled `pool = <name>`, and [`publish`](Exporter::publish) sets
//! them from a snapshot: no allocation and no lookup per call, and nothing
//! at all per job. Call it where your service exports its metrics (a scrape
//! handler, a timer); the pool itself never calls it, so a pool costs the
//! same with the feature on or off.
//!
//! | metric | kind | from |
//! |---|---|---|
//! | `taskring_queued` | gauge | [`Stats::queued`] |
//! | `taskring_high_water` | gauge | [`Stats::high_water`] |
//! | `taskring_running` | gauge | [`Stats::running`] |
//! | `taskring_lag_seconds` | gauge | [`Stats::lag`], in seconds |
//! | `taskring_max_wait_seconds` | gauge | [`Stats::max_wait`], in seconds |
//! | `taskring_overloaded`, `taskring_lagging` | gauge (0 or 1) | [`Stats::overloaded`], [`Stats::lagging`] |
//! | `taskring_submitted_total`, `taskring_completed_total`, `taskring_panicked_total`, `taskring_handed_back_total` | counter | the same fields |
//! | `taskring_rejected_total{cause="full" \| "busy" \| "stopped"}` | counter | [`Stats::full`], [`Stats::busy`], [`Stats::after_stop`] |
//! | `taskring_overload_events_total`, `taskring_lag_events_total` | counter | the same fields |
//!
//! ```
//! use taskring::{metrics::Exporter, ThreadPool};
//!
//! let pool: ThreadPool = ThreadPool::builder().workers(2).lag_metrics(true).build()?;
//! let exporter = Exporter::for_thread_pool("sessions");
//! pool.execute(|| {})?;
//! pool.wait_idle()?;
//! exporter.publish(&pool.stats()); // From a scrape handler or a timer.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use alloc::string::String;
use core::fmt;

use metrics::{counter, gauge, Counter, Gauge};

use crate::Stats;

/// Publishes [`Stats`] snapshots of one pool; see the [module docs](self).
pub struct Exporter {
    seconds_per_tick: f64,
    queued: Gauge,
    high_water: Gauge,
    running: Gauge,
    lag: Gauge,
    max_wait: Gauge,
    overloaded: Gauge,
    lagging: Gauge,
    submitted: Counter,
    completed: Counter,
    panicked: Counter,
    handed_back: Counter,
    full: Counter,
    busy: Counter,
    stopped: Counter,
    overload_events: Counter,
    lag_events: Counter,
}

impl Exporter {
    /// Registers the metrics of a pool named `pool` whose clock ticks
    /// `ticks_per_second` times a second (for a no_std pool's `Env`; use
    /// 1.0 to publish raw ticks).
    pub fn new(pool: impl Into<String>, ticks_per_second: f64) -> Self {
        let pool: String = pool.into();
        let labels = [("pool", pool)];
        let rejected = |cause: &'static str| {
            counter!(
                "taskring_rejected_total",
                "pool" => labels[0].1.clone(),
                "cause" => cause
            )
        };
        Self {
            seconds_per_tick: if ticks_per_second > 0.0 {
                1.0 / ticks_per_second
            } else {
                1.0
            },
            queued: gauge!("taskring_queued", &labels),
            high_water: gauge!("taskring_high_water", &labels),
            running: gauge!("taskring_running", &labels),
            lag: gauge!("taskring_lag_seconds", &labels),
            max_wait: gauge!("taskring_max_wait_seconds", &labels),
            overloaded: gauge!("taskring_overloaded", &labels),
            lagging: gauge!("taskring_lagging", &labels),
            submitted: counter!("taskring_submitted_total", &labels),
            completed: counter!("taskring_completed_total", &labels),
            panicked: counter!("taskring_panicked_total", &labels),
            handed_back: counter!("taskring_handed_back_total", &labels),
            full: rejected("full"),
            busy: rejected("busy"),
            stopped: rejected("stopped"),
            overload_events: counter!("taskring_overload_events_total", &labels),
            lag_events: counter!("taskring_lag_events_total", &labels),
        }
    }

    /// Registers the metrics of a [`ThreadPool`](crate::ThreadPool) named
    /// `pool` (its clock ticks in nanoseconds).
    pub fn for_thread_pool(pool: impl Into<String>) -> Self {
        Self::new(pool, 1e9)
    }

    /// Sets every gauge and counter from `stats`. Counters are set to the
    /// totals (they only grow, apart from wrapping at `usize::MAX`).
    pub fn publish(&self, stats: &Stats) {
        let count = |n: usize| n as u64;
        self.queued.set(stats.queued as f64);
        self.high_water.set(stats.high_water as f64);
        self.running.set(stats.running as f64);
        self.lag.set(stats.lag as f64 * self.seconds_per_tick);
        self.max_wait
            .set(stats.max_wait as f64 * self.seconds_per_tick);
        self.overloaded.set(f64::from(u8::from(stats.overloaded)));
        self.lagging.set(f64::from(u8::from(stats.lagging)));
        self.submitted.absolute(count(stats.submitted));
        self.completed.absolute(count(stats.completed));
        self.panicked.absolute(count(stats.panicked));
        self.handed_back.absolute(count(stats.handed_back));
        self.full.absolute(count(stats.full));
        self.busy.absolute(count(stats.busy));
        self.stopped.absolute(count(stats.after_stop));
        self.overload_events.absolute(count(stats.overload_events));
        self.lag_events.absolute(count(stats.lag_events));
    }
}

impl fmt::Debug for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exporter")
            .field("seconds_per_tick", &self.seconds_per_tick)
            .finish_non_exhaustive()
    }
}
