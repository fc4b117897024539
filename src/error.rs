//! Errors returned by the ring.

use core::fmt;

/// Why [`Ring::try_push`](crate::Ring::try_push) gave the value back.
///
/// The value inside is the exact one that was passed in: it was neither
/// cloned nor dropped.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushError<T> {
    /// The ring held `N` items when the push looked. Pushes in flight count
    /// as held: they have claimed their slot and will complete.
    Full(T),
    /// Another context (a thread, or an interrupt handler that this call
    /// preempted or that preempted it) is in the middle of an operation on
    /// the slot this push needs, or the push lost the claim race more often
    /// than its retry budget allows. Retrying later can succeed; the ring is
    /// not known to be full.
    Busy(T),
}

impl<T> PushError<T> {
    /// Returns the value that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{PushError, Ring};
    ///
    /// let ring: Ring<&str, 1> = Ring::new();
    /// ring.try_push("a").unwrap();
    /// let err = ring.try_push("b").unwrap_err();
    /// assert_eq!(err, PushError::Full("b"));
    /// assert_eq!(err.into_inner(), "b");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(value) | Self::Busy(value) => value,
        }
    }

    /// True for [`PushError::Full`].
    pub const fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// True for [`PushError::Busy`].
    pub const fn is_busy(&self) -> bool {
        matches!(self, Self::Busy(_))
    }
}

// Not derived: the value need not be `Debug`, so `unwrap()` works for any
// item type.
impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Busy(_) => f.write_str("Busy(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("ring is full"),
            Self::Busy(_) => f.write_str("ring slot is busy: another context is mid-operation"),
        }
    }
}

impl<T> core::error::Error for PushError<T> {}

/// Why [`Ring::try_pop`](crate::Ring::try_pop) returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PopError {
    /// The ring held no items when the pop looked. Pops in flight count as
    /// done: they have claimed their item.
    Empty,
    /// Another context is in the middle of an operation on the slot this pop
    /// needs (typically a push that has claimed it and not yet published its
    /// value), or the pop lost the claim race more often than its retry
    /// budget allows. Retrying later can succeed.
    Busy,
}

impl PopError {
    /// True for [`PopError::Empty`].
    pub const fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// True for [`PopError::Busy`].
    pub const fn is_busy(&self) -> bool {
        matches!(self, Self::Busy)
    }
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("ring is empty"),
            Self::Busy => f.write_str("ring slot is busy: another context is mid-operation"),
        }
    }
}

impl core::error::Error for PopError {}

/// Why [`Pool::try_submit`](crate::Pool::try_submit) gave the job back.
///
/// The job inside is the exact one that was passed in.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubmitError<J> {
    /// The queue held `N` jobs.
    Full(J),
    /// Another context is mid-operation on the slot this submit needs; a
    /// retry can succeed. See [`PushError::Busy`].
    Busy(J),
    /// The pool was stopped (by `stop` or `stop_wait`).
    Stopped(J),
}

impl<J> SubmitError<J> {
    /// Returns the job that was not submitted.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{Pool, SubmitError};
    ///
    /// static POOL: Pool<fn(), 1, 0> = Pool::new();
    /// POOL.try_submit(|| {}).unwrap();
    /// let err = POOL.try_submit(|| {}).unwrap_err();
    /// assert!(matches!(err, SubmitError::Full(_)));
    /// let job: fn() = err.into_inner();
    /// job();
    /// ```
    pub fn into_inner(self) -> J {
        match self {
            Self::Full(job) | Self::Busy(job) | Self::Stopped(job) => job,
        }
    }

    /// True for [`SubmitError::Full`].
    pub const fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// True for [`SubmitError::Busy`].
    pub const fn is_busy(&self) -> bool {
        matches!(self, Self::Busy(_))
    }

    /// True for [`SubmitError::Stopped`].
    pub const fn is_stopped(&self) -> bool {
        matches!(self, Self::Stopped(_))
    }
}

impl<J> fmt::Debug for SubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Busy(_) => f.write_str("Busy(..)"),
            Self::Stopped(_) => f.write_str("Stopped(..)"),
        }
    }
}

impl<J> fmt::Display for SubmitError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("pool queue is full"),
            Self::Busy(_) => {
                f.write_str("pool queue slot is busy: another context is mid-operation")
            }
            Self::Stopped(_) => f.write_str("pool is stopped"),
        }
    }
}

impl<J> core::error::Error for SubmitError<J> {}

/// Why [`Pool::run_worker`](crate::Pool::run_worker) refused to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WorkerError {
    /// The index is not below `W`.
    NoSuchWorker {
        /// The index asked for.
        index: usize,
        /// The pool's `W`.
        workers: usize,
    },
    /// Another context is already running worker `index`.
    AlreadyRunning {
        /// The index asked for.
        index: usize,
    },
}

impl fmt::Display for WorkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchWorker { index, workers } => {
                write!(f, "no worker {index}: the pool has {workers} workers")
            }
            Self::AlreadyRunning { index } => write!(f, "worker {index} is already running"),
        }
    }
}

impl core::error::Error for WorkerError {}

/// Why a wait for the pool ([`Pool::stop_wait`](crate::Pool::stop_wait),
/// and the thread pool's `stop_wait` and `pause_wait`) did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum StopError {
    /// Called from inside a job of the same pool, which would wait for
    /// itself. The pool has been stopped from accepting jobs; the queued
    /// jobs still run. (Detected with the `std` feature.)
    FromOwnJob,
    /// The deadline of a timed wait passed first.
    TimedOut,
}

impl fmt::Display for StopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FromOwnJob => {
                f.write_str("cannot wait for the pool from inside one of its own jobs")
            }
            Self::TimedOut => f.write_str("the deadline passed before the pool finished"),
        }
    }
}

impl core::error::Error for StopError {}

/// A rejected [`Config`](crate::Config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// The low watermark was not below the high one.
    Watermarks {
        /// The high watermark given.
        high: usize,
        /// The low watermark given.
        low: usize,
    },
    /// The low lag mark was not below the high one.
    LagAlert {
        /// The high mark given.
        high: u64,
        /// The low mark given.
        low: u64,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Watermarks { high, low } => {
                write!(f, "low watermark {low} must be below high watermark {high}")
            }
            Self::LagAlert { high, low } => {
                write!(f, "low lag mark {low} must be below high lag mark {high}")
            }
        }
    }
}

impl core::error::Error for ConfigError {}
