//! What a pool runs ([`Job`]), how it tells time ([`Clock`]) and how its
//! idle workers wait ([`Idle`]).

use crate::Task;

/// A unit of work that a [`Pool`](crate::Pool) runs once.
///
/// Implemented for plain `fn()` pointers, for [`Task`] (any closure, stored
/// inline) and, with the `alloc` feature, for `Box<dyn FnOnce() + Send>`.
/// Implement it for your own enum to get a pool of plain data with no
/// vtable and small slots:
///
/// ```
/// use taskring::{Job, Pool};
///
/// enum Work {
///     Sample(u16),
///     Flush,
/// }
///
/// impl Job for Work {
///     fn run(self) {
///         match self {
///             Work::Sample(v) => assert!(v < 4096),
///             Work::Flush => {}
///         }
///     }
/// }
///
/// static POOL: Pool<Work, 16, 0> = Pool::new();
/// POOL.try_submit(Work::Sample(42)).unwrap();
/// POOL.try_submit(Work::Flush).unwrap();
/// assert_eq!(POOL.run_pending(usize::MAX), 2);
/// ```
pub trait Job: Send {
    /// Runs the job, consuming it.
    fn run(self);
}

impl Job for fn() {
    fn run(self) {
        self();
    }
}

impl<const WORDS: usize> Job for Task<WORDS> {
    fn run(self) {
        Task::run(self);
    }
}

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
impl Job for alloc::boxed::Box<dyn FnOnce() + Send> {
    fn run(self) {
        self();
    }
}

/// A monotonic clock, which turns on the pool's lag metrics.
///
/// A pool with a clock stores a [`Stamp`](Clock::Stamp) beside every queued
/// job and reports queue waits and lag in ticks. With the default
/// [`NoClock`] the stamp is `()`, so the slots are no larger and nothing is
/// measured.
///
/// ```
/// use core::sync::atomic::{AtomicU64, Ordering};
/// use taskring::{Clock, Pool};
///
/// static NOW: AtomicU64 = AtomicU64::new(0);
///
/// /// Ticks of a hardware timer, here simulated.
/// struct Ticks;
/// impl Clock for Ticks {
///     type Stamp = u64;
///     fn now() -> u64 {
///         NOW.load(Ordering::Relaxed)
///     }
///     fn ticks(stamp: u64) -> u64 {
///         stamp
///     }
/// }
///
/// static POOL: Pool<fn(), 8, 0, Ticks> = Pool::new();
/// POOL.try_submit(|| {}).unwrap();
/// NOW.store(30, Ordering::Relaxed);
/// assert_eq!(POOL.stats().lag, 30);
/// POOL.run_pending(1);
/// assert_eq!(POOL.stats().max_wait, 30);
/// ```
pub trait Clock {
    /// What each queued job carries: a tick count, or `()`.
    type Stamp: Copy + Send;
    /// False only for [`NoClock`]: lets the pool skip the bookkeeping.
    const ENABLED: bool = true;
    /// The current time.
    fn now() -> Self::Stamp;
    /// A stamp as a tick count, for differences.
    fn ticks(stamp: Self::Stamp) -> u64;
}

/// No clock: lag metrics stay zero and cost nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClock;

impl Clock for NoClock {
    type Stamp = ();
    const ENABLED: bool = false;
    fn now() {}
    fn ticks((): ()) -> u64 {
        0
    }
}

/// Nanoseconds from [`std::time::Instant`], counted from the first use.
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct StdClock;

#[cfg(feature = "std")]
impl Clock for StdClock {
    type Stamp = u64;
    fn now() -> u64 {
        static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let epoch = *EPOCH.get_or_init(std::time::Instant::now);
        u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
    fn ticks(stamp: u64) -> u64 {
        stamp
    }
}

/// How a worker waits once it has found no job for a while.
///
/// Before calling [`idle`](Idle::idle) the worker has spun with
/// [`crossbeam_utils::Backoff`], announced itself as sleeping, and checked
/// the queue once more, so a job submitted from then on triggers the
/// pool's wake hook ([`Config::wake`](crate::Config::wake)). `idle` may
/// block until that hook runs (or an interrupt arrives) and may return
/// early at any time.
///
/// Any `FnMut()` is an `Idle`, for example `cortex_m::asm::wfi`.
pub trait Idle {
    /// Waits a little, or until woken. `worker` is the caller's index.
    fn idle(&mut self, worker: usize);
}

/// The default idle strategy: keep spinning with
/// [`crossbeam_utils::Backoff::snooze`]. Never blocks, never needs a wake.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spin;

impl Idle for Spin {
    fn idle(&mut self, _worker: usize) {
        crate::loom::Backoff::new().snooze();
    }
}

impl<F: FnMut()> Idle for F {
    fn idle(&mut self, _worker: usize) {
        self();
    }
}
