//! What a pool runs ([`Job`]) and how its idle workers wait ([`Idle`]).

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

/// How a worker waits once it has found no job for a while.
///
/// Before calling [`idle`](Idle::idle) the worker has spun with
/// [`crossbeam_utils::Backoff`], announced itself as sleeping, and checked
/// the queue once more, so a job submitted from then on triggers the
/// pool's [`Env::wake`](crate::Env::wake). `idle` may block until that
/// call (or an interrupt arrives) and may return early at any time.
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
