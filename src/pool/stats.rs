//! Pool configuration, counters and the [`Stats`] snapshot.

use crate::{
    error::ConfigError,
    loom::{AtomicUsize, Ordering},
};

/// Settings of a [`Pool`](crate::Pool), built in const context.
///
/// ```
/// use taskring::{Config, OverloadEvent, Pool};
///
/// fn alert(event: OverloadEvent) {
///     // Log it, bump a metric, light an LED...
///     let _ = event;
/// }
///
/// static POOL: Pool<fn(), 64, 2> =
///     Pool::with_config(Config::new().watermarks(48, 16).on_overload(alert));
/// # let _ = &POOL;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub(crate) high: usize,
    pub(crate) low: usize,
    pub(crate) on_overload: Option<fn(OverloadEvent)>,
    pub(crate) wake: Option<fn(usize)>,
}

impl Config {
    /// No watermarks, no callbacks.
    pub const fn new() -> Self {
        Self {
            high: usize::MAX,
            low: 0,
            on_overload: None,
            wake: None,
        }
    }

    /// Sets the overload watermarks on queue depth: reaching `high` reports
    /// [`OverloadEvent::Overloaded`] once; falling to `low` or below then
    /// reports [`OverloadEvent::Recovered`] once.
    ///
    /// # Panics
    ///
    /// If `low >= high` (at compile time when used in a `static`). Use
    /// [`try_watermarks`](Self::try_watermarks) for values known only at
    /// run time.
    pub const fn watermarks(self, high: usize, low: usize) -> Self {
        match self.try_watermarks(high, low) {
            Ok(config) => config,
            Err(_) => panic!("taskring: the low watermark must be below the high watermark"),
        }
    }

    /// Like [`watermarks`](Self::watermarks), but returns an error for
    /// `low >= high`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Watermarks`] if `low >= high`.
    pub const fn try_watermarks(mut self, high: usize, low: usize) -> Result<Self, ConfigError> {
        if low >= high {
            return Err(ConfigError::Watermarks { high, low });
        }
        self.high = high;
        self.low = low;
        Ok(self)
    }

    /// Calls `f` on each overload transition, from the context that caused
    /// it (a submitter for `Overloaded`, a worker for `Recovered`; possibly
    /// an interrupt handler). Keep it short.
    pub const fn on_overload(mut self, f: fn(OverloadEvent)) -> Self {
        self.on_overload = Some(f);
        self
    }

    /// Calls `f(worker)` to wake a sleeping worker, from the submitting
    /// context (possibly an interrupt handler). For example `|_|
    /// cortex_m::asm::sev()` with a WFE idle strategy. Not needed with the
    /// default [`Spin`](crate::Spin) strategy.
    pub const fn wake(mut self, f: fn(usize)) -> Self {
        self.wake = Some(f);
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// An overload transition, with the queue depth that caused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OverloadEvent {
    /// The queue depth reached the high watermark.
    Overloaded {
        /// Queue depth when it was noticed.
        depth: usize,
    },
    /// After an overload, the depth fell to the low watermark or below.
    Recovered {
        /// Queue depth when it was noticed.
        depth: usize,
    },
}

/// A snapshot of a pool's counters.
///
/// Counters are read one by one while the pool runs, so a snapshot of a
/// busy pool mixes slightly different instants. At quiescence (no call in
/// flight) `submitted == completed + panicked + handed_back + queued`.
/// Counts wrap around at `usize::MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Jobs in the queue now.
    pub queued: usize,
    /// Largest queue depth seen after a submit.
    pub high_water: usize,
    /// Jobs accepted. Submissions in flight count until they fail.
    pub submitted: usize,
    /// Jobs that ran to completion.
    pub completed: usize,
    /// Jobs that panicked (only with unwinding).
    pub panicked: usize,
    /// Jobs handed back un-run by `stop`.
    pub handed_back: usize,
    /// Jobs running now.
    pub running: usize,
    /// Submissions refused, for any reason: `full + busy + after_stop`.
    pub rejected: usize,
    /// Submissions refused because the queue was full.
    pub full: usize,
    /// Submissions refused as busy (another context mid-operation).
    pub busy: usize,
    /// Submissions refused because the pool was stopped.
    pub after_stop: usize,
    /// True between an `Overloaded` and the next `Recovered` event.
    pub overloaded: bool,
    /// How many `Overloaded` events have fired.
    pub overload_events: usize,
    /// Longest time a job waited in the queue, in clock ticks (0 without a
    /// [`Clock`](crate::Clock)).
    pub max_wait: u64,
    /// Age of the oldest queued job, in clock ticks (0 without a clock or
    /// with an empty queue). An upper bound: it is measured from the later
    /// of the last job to start and the last submit into an empty queue.
    pub lag: u64,
}

/// Counters bumped by one context that runs jobs (a worker, or the shared
/// entry for `run_pending` callers). Each lives on its own cache line.
#[derive(Debug)]
pub(crate) struct RunCounters {
    /// Set while a `run_worker` call owns this worker index.
    pub(crate) claimed: AtomicUsize,
    pub(crate) completed: AtomicUsize,
    pub(crate) panicked: AtomicUsize,
    pub(crate) running: AtomicUsize,
    pub(crate) max_wait: AtomicUsize,
}

impl RunCounters {
    crate::loom::loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                claimed: AtomicUsize::new(0),
                completed: AtomicUsize::new(0),
                panicked: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                max_wait: AtomicUsize::new(0),
            }
        }
    }

    /// Adds one to a counter that only this context writes.
    ///
    /// Release: pairs with the `Acquire` loads in `stop_wait`, so a job's
    /// effects happen before `stop_wait` returns.
    #[inline]
    pub(crate) fn bump(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Release);
    }
}

/// Counters bumped by submitters and `stop`.
#[derive(Debug)]
pub(crate) struct SubmitCounters {
    pub(crate) submitted: AtomicUsize,
    pub(crate) full: AtomicUsize,
    pub(crate) busy: AtomicUsize,
    pub(crate) after_stop: AtomicUsize,
    pub(crate) handed_back: AtomicUsize,
    pub(crate) high_water: AtomicUsize,
    pub(crate) overloaded: AtomicUsize,
    pub(crate) overload_events: AtomicUsize,
    /// Low bits of the enqueue tick of the front of the queue (see
    /// [`Stats::lag`]).
    pub(crate) front: AtomicUsize,
}

impl SubmitCounters {
    crate::loom::loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                submitted: AtomicUsize::new(0),
                full: AtomicUsize::new(0),
                busy: AtomicUsize::new(0),
                after_stop: AtomicUsize::new(0),
                handed_back: AtomicUsize::new(0),
                high_water: AtomicUsize::new(0),
                overloaded: AtomicUsize::new(0),
                overload_events: AtomicUsize::new(0),
                front: AtomicUsize::new(0),
            }
        }
    }
}
