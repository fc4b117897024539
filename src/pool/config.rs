//! A pool's settings: overload watermarks and lag alerts.

use crate::error::ConfigError;
#[cfg(doc)]
use crate::{PoolEvent, Stats};

/// Settings of a [`Pool`](crate::Pool), built in const context.
///
/// Only data: what the pool does on an event, how it wakes a worker and how
/// it tells time belong to its [`Env`](crate::Env).
///
/// ```
/// use taskring::{Config, Hooks, Pool, PoolEvent};
///
/// fn alert(event: PoolEvent) {
///     // Log it, bump a metric, light an LED...
///     let _ = event;
/// }
///
/// static POOL: Pool<fn(), 64, 2, Hooks> = Pool::with_env(
///     Config::new().watermarks(48, 16),
///     Hooks::new().on_event(alert),
/// );
/// # let _ = &POOL;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub(crate) high: usize,
    pub(crate) low: usize,
    pub(crate) lag_high: u64,
    pub(crate) lag_low: u64,
}

impl Config {
    /// No watermarks.
    pub const fn new() -> Self {
        Self {
            high: usize::MAX,
            low: 0,
            lag_high: u64::MAX,
            lag_low: 0,
        }
    }

    /// Sets the overload watermarks on queue depth: reaching `high` raises
    /// [`PoolEvent::Overloaded`] once; falling to `low` or below then
    /// raises [`PoolEvent::Recovered`] once.
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
}

impl Config {
    /// Sets the lag alert, in ticks of the pool's clock (see
    /// [`Env`](crate::Env); nanoseconds for the thread pool): when the age
    /// of the oldest queued job reaches `high`, the pool raises
    /// [`PoolEvent::Lagging`] once; when it falls to `low` or below, one
    /// [`PoolEvent::LagRecovered`]. Needs a clock; without one no lag is
    /// ever seen.
    ///
    /// The lag is looked at by every submit (the age of the front of the
    /// queue, an upper bound: see [`Stats::lag`]) and by every job that
    /// leaves the queue (how long that job, the oldest, waited). So a pool
    /// whose workers are all stuck in long jobs still alerts while
    /// submissions arrive. When nothing is submitted and nothing finishes,
    /// nothing looks, and no event is raised until something does.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
    /// use taskring::{Config, Env, Pool, PoolEvent};
    ///
    /// static NOW: AtomicU32 = AtomicU32::new(0);
    /// static ALERTS: AtomicUsize = AtomicUsize::new(0);
    ///
    /// struct Board;
    /// impl Env for Board {
    ///     type Stamp = u32;
    ///     fn now(&self) -> u32 {
    ///         NOW.load(Ordering::Relaxed)
    ///     }
    ///     fn ticks(&self, stamp: u32) -> u64 {
    ///         u64::from(stamp)
    ///     }
    ///     fn on_event(&self, event: PoolEvent) {
    ///         if let PoolEvent::Lagging { .. } = event {
    ///             ALERTS.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     }
    /// }
    ///
    /// static POOL: Pool<fn(), 8, 0, Board> =
    ///     Pool::with_env(Config::new().lag_alert(100, 10), Board);
    ///
    /// POOL.try_submit(|| {}).unwrap(); // Queued at tick 0.
    /// NOW.store(150, Ordering::Relaxed);
    /// POOL.try_submit(|| {}).unwrap(); // Sees the front 150 ticks old.
    /// assert_eq!(ALERTS.load(Ordering::Relaxed), 1);
    /// assert!(POOL.stats().lagging);
    /// POOL.run_pending(2); // The second job waited 0 ticks: recovered.
    /// assert!(!POOL.stats().lagging);
    /// assert_eq!(POOL.stats().lag_events, 1);
    /// ```
    ///
    /// # Panics
    ///
    /// If `low >= high` (at compile time in a `static`); see
    /// [`try_lag_alert`](Self::try_lag_alert).
    pub const fn lag_alert(self, high: u64, low: u64) -> Self {
        match self.try_lag_alert(high, low) {
            Ok(config) => config,
            Err(_) => panic!("taskring: the low lag mark must be below the high lag mark"),
        }
    }

    /// Like [`lag_alert`](Self::lag_alert), but returns an error for
    /// `low >= high`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::LagAlert`] if `low >= high`.
    pub const fn try_lag_alert(mut self, high: u64, low: u64) -> Result<Self, ConfigError> {
        if low >= high {
            return Err(ConfigError::LagAlert { high, low });
        }
        self.lag_high = high;
        self.lag_low = low;
        Ok(self)
    }

    /// True if a lag alert is set.
    pub(crate) const fn lag_alert_on(&self) -> bool {
        self.lag_high != u64::MAX
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}
