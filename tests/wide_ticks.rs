//! Lag and longest wait past 2^32 ticks, with a clock the test sets.
//!
//! On a target without 64-bit atomics the pool keeps its tick counts as
//! two 32-bit halves: in a critical section with the `critical-section`
//! feature, behind a sequence word without it. The host has 64-bit
//! atomics, so run these tests also with both forced:
//!
//! ```sh
//! RUSTFLAGS="--cfg taskring_narrow_ticks" cargo test --features std --test wide_ticks
//! RUSTFLAGS="--cfg taskring_narrow_ticks" cargo test --features std,critical-section --test wide_ticks
//! ```

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex,
};

use taskring::{Config, Env, Pool, PoolEvent};

/// 2^32 ticks and then some: a count kept in 32 bits reads 7 here.
const PAST_U32: u64 = (1 << 32) + 7;

/// A clock that only moves when a test sets it, and a log of events.
struct FakeClock {
    now: AtomicU64,
    events: Mutex<Vec<PoolEvent>>,
}

impl FakeClock {
    const fn new() -> Self {
        Self {
            now: AtomicU64::new(0),
            events: Mutex::new(Vec::new()),
        }
    }

    fn set(&self, ticks: u64) {
        self.now.store(ticks, Ordering::Relaxed);
    }

    fn events(&self) -> Vec<PoolEvent> {
        self.events.lock().unwrap().clone()
    }
}

impl Env for FakeClock {
    type Stamp = u64;
    fn now(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
    fn ticks(&self, stamp: u64) -> u64 {
        stamp
    }
    fn on_event(&self, event: PoolEvent) {
        self.events.lock().unwrap().push(event);
    }
}

#[test]
fn lag_and_max_wait_past_u32_ticks() {
    let pool: Pool<fn(), 4, 0, FakeClock> = Pool::with_env(Config::new(), FakeClock::new());
    // Start just below a 2^32 boundary, so that the low halves of the
    // stamps differ from the true differences.
    let start = (3 << 32) - 5;
    pool.env().set(start);
    pool.try_submit(|| {}).unwrap();
    pool.env().set(start + PAST_U32);
    let stats = pool.stats();
    assert_eq!(stats.lag, PAST_U32, "lag of the queued job");
    #[cfg(feature = "std")]
    assert_eq!(
        stats.lag_duration(),
        std::time::Duration::from_nanos(PAST_U32)
    );
    assert_eq!(pool.run_pending(1), 1);
    let stats = pool.stats();
    assert_eq!(stats.max_wait, PAST_U32, "longest wait");
    #[cfg(feature = "std")]
    assert_eq!(
        stats.max_wait_duration(),
        std::time::Duration::from_nanos(PAST_U32)
    );
    assert_eq!(stats.lag, 0, "an empty queue has no lag");
    // A shorter wait later leaves the longest one.
    pool.try_submit(|| {}).unwrap();
    pool.env().set(start + PAST_U32 + 3);
    assert_eq!(pool.run_pending(1), 1);
    assert_eq!(pool.stats().max_wait, PAST_U32);
}

#[test]
fn longest_wait_across_the_low_half_wrap() {
    // The second wait is longer, but its low 32 bits are smaller.
    let pool: Pool<fn(), 4, 0, FakeClock> = Pool::with_env(Config::new(), FakeClock::new());
    pool.try_submit(|| {}).unwrap();
    pool.env().set(u64::from(u32::MAX));
    pool.run_pending(1);
    assert_eq!(pool.stats().max_wait, u64::from(u32::MAX));
    pool.try_submit(|| {}).unwrap();
    pool.env().set(u64::from(u32::MAX) + (1 << 32) + 1);
    pool.run_pending(1);
    assert_eq!(pool.stats().max_wait, (1 << 32) + 1);
}

#[test]
fn lag_alert_past_u32_ticks() {
    // Alert at 2^32 + 1 ticks: a lag kept in 32 bits never gets there.
    let config = Config::new().lag_alert((1 << 32) + 1, 10);
    let pool: Pool<fn(), 4, 0, FakeClock> = Pool::with_env(config, FakeClock::new());
    pool.try_submit(|| {}).unwrap();
    pool.env().set(PAST_U32);
    // The second submit looks at the age of the front job.
    pool.try_submit(|| {}).unwrap();
    assert_eq!(pool.env().events(), [PoolEvent::Lagging { lag: PAST_U32 }]);
    assert!(pool.stats().lagging);
    // The first job waited PAST_U32; the second, 0 ticks, empties the
    // queue: recovered.
    assert_eq!(pool.run_pending(2), 2);
    assert_eq!(
        pool.env().events(),
        [
            PoolEvent::Lagging { lag: PAST_U32 },
            PoolEvent::LagRecovered { lag: 0 }
        ]
    );
    assert_eq!(pool.stats().max_wait, PAST_U32);
}
