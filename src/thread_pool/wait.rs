//! Waiting for one job: the completion signal behind
//! [`ThreadPool::submit_wait`](super::ThreadPool::submit_wait), its error
//! type, and [`FnJob`] for jobs built from closures.

use core::fmt;

use crate::{
    loom::{
        sync::{current, park, Arc, Thread},
        AtomicUsize, Ordering,
    },
    Job, Task,
};

/// `Done::state`: the job has not finished yet.
const PENDING: usize = 0;
/// `Done::state`: the job ran to completion.
const COMPLETED: usize = 1;
/// `Done::state`: the job panicked.
const PANICKED: usize = 2;
/// `Done::state`: the job left the pool without running (handed back by
/// `stop`, or dropped).
const NOT_RUN: usize = 3;

/// How a waited-for job ended, as seen by its submitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Completed,
    Panicked,
    NotRun,
}

/// The completion signal of one waited-for job: a state word and the
/// thread to unpark when it changes.
#[derive(Debug)]
pub(crate) struct Done {
    state: AtomicUsize,
    waiter: Thread,
}

impl Done {
    /// A signal that wakes the calling thread.
    pub(crate) fn for_current_thread() -> Arc<Self> {
        Arc::new(Self {
            state: AtomicUsize::new(PENDING),
            waiter: current(),
        })
    }

    /// Parks until the job has ended. Spurious unparks and stale park
    /// tokens only cost another look at the state.
    pub(crate) fn wait(&self) -> Ended {
        loop {
            // Acquire: pairs with the `Release` in `set`, so the job's
            // effects are visible to the waiter.
            match self.state.load(Ordering::Acquire) {
                PENDING => park(),
                COMPLETED => return Ended::Completed,
                PANICKED => return Ended::Panicked,
                _ => return Ended::NotRun,
            }
        }
    }

    /// Records the end once (later calls do nothing) and wakes the waiter.
    fn set(&self, state: usize) {
        // Release: pairs with the `Acquire` load in `wait`. The unpark
        // comes after the store, and park tokens are sticky, so the waiter
        // either sees the state or is woken after it was written.
        if self
            .state
            .compare_exchange(PENDING, state, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            self.waiter.unpark();
        }
    }
}

/// The pool's handle on a [`Done`]: reports how the job ended, or, if it
/// is dropped first (the job was handed back by `stop`), that it never ran.
#[derive(Debug)]
pub(crate) struct Notify(pub(crate) Arc<Done>);

impl Notify {
    /// Reports that the job ran, and how.
    pub(crate) fn finish(self, panicked: bool) {
        self.0.set(if panicked { PANICKED } else { COMPLETED });
    }
}

impl Drop for Notify {
    fn drop(&mut self) {
        // A no-op after `finish`.
        self.0.set(NOT_RUN);
    }
}

/// Why [`ThreadPool::submit_wait`](super::ThreadPool::submit_wait) did not
/// see its job complete.
///
/// `J` is the job type; [`submit_wait_with`](super::ThreadPool::submit_wait_with)
/// uses `WaitError<()>`, since its job wraps the closure.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitError<J> {
    /// The job ran and panicked. The payload went to the pool's panic
    /// handler, if any.
    Panicked,
    /// The job was queued but never ran: [`stop`](super::ThreadPool::stop)
    /// handed it back.
    NotRun,
    /// The pool was stopped before the job was queued; here it is back.
    Stopped(J),
    /// Called from inside a job of the same pool, where waiting could
    /// deadlock (every worker waiting for a job that only a worker can
    /// run). The job was not queued; here it is back. Queue it with
    /// [`try_submit`](super::ThreadPool::try_submit), or run it inline.
    FromOwnJob(J),
}

impl<J> WaitError<J> {
    /// True for [`WaitError::Panicked`].
    pub const fn is_panicked(&self) -> bool {
        matches!(self, Self::Panicked)
    }

    /// Returns the job, for the variants that hold it.
    pub fn into_job(self) -> Option<J> {
        match self {
            Self::Stopped(job) | Self::FromOwnJob(job) => Some(job),
            Self::Panicked | Self::NotRun => None,
        }
    }

    /// Replaces the job inside with `f(job)`.
    pub fn map<K>(self, f: impl FnOnce(J) -> K) -> WaitError<K> {
        match self {
            Self::Panicked => WaitError::Panicked,
            Self::NotRun => WaitError::NotRun,
            Self::Stopped(job) => WaitError::Stopped(f(job)),
            Self::FromOwnJob(job) => WaitError::FromOwnJob(f(job)),
        }
    }
}

// Not derived: the job need not be `Debug`.
impl<J> fmt::Debug for WaitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panicked => f.write_str("Panicked"),
            Self::NotRun => f.write_str("NotRun"),
            Self::Stopped(_) => f.write_str("Stopped(..)"),
            Self::FromOwnJob(_) => f.write_str("FromOwnJob(..)"),
        }
    }
}

impl<J> fmt::Display for WaitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Panicked => "the job panicked",
            Self::NotRun => "the job was handed back by stop without running",
            Self::Stopped(_) => "the pool is stopped",
            Self::FromOwnJob(_) => "cannot wait for a job from inside a job of the same pool",
        })
    }
}

impl<J> core::error::Error for WaitError<J> {}

/// A [`Job`] that can be built from any `FnOnce() + Send + 'static`, which
/// [`submit_wait_with`](super::ThreadPool::submit_wait_with) needs to wrap
/// a closure that returns a value.
///
/// Implemented for `Box<dyn FnOnce() + Send>` and for [`Task`] (inline when
/// the closure fits, boxed otherwise).
pub trait FnJob: Job + Sized {
    /// Wraps `f` as a job.
    fn from_fn<F: FnOnce() + Send + 'static>(f: F) -> Self;
}

impl FnJob for alloc::boxed::Box<dyn FnOnce() + Send> {
    fn from_fn<F: FnOnce() + Send + 'static>(f: F) -> Self {
        alloc::boxed::Box::new(f)
    }
}

impl<const WORDS: usize> FnJob for Task<WORDS> {
    fn from_fn<F: FnOnce() + Send + 'static>(f: F) -> Self {
        Task::from_closure(f)
    }
}
