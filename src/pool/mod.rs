//! A worker pool over the ring: submit, run, pause, stop without losing
//! work, and watch for overload and lag.
//!
//! A [`Pool<J, N, W>`](Pool) is a [`Ring`] of `N` jobs plus the state of
//! exactly `W` workers. It owns no threads: a worker is any context that
//! calls [`run_worker`](Pool::run_worker) (an OS thread, a core's main loop),
//! and any context may run queued jobs with
//! [`run_pending`](Pool::run_pending) (an idle loop, a low-priority
//! interrupt). `W` may be zero.
//!
//! # Single-core firmware
//!
//! An interrupt handler submits; the main loop drains and sleeps.
//!
//! ```
//! use taskring::{Job, Pool, SubmitError};
//!
//! enum Work {
//!     Sample(u16),
//! }
//!
//! impl Job for Work {
//!     fn run(self) {
//!         let Work::Sample(v) = self;
//!         let _ = v; // Filter, log, ...
//!     }
//! }
//!
//! static POOL: Pool<Work, 32, 0> = Pool::new();
//!
//! // The interrupt handler: never blocks, never spins.
//! fn on_adc_interrupt(sample: u16) {
//!     match POOL.try_submit(Work::Sample(sample)) {
//!         Ok(()) => {}
//!         // Full or Busy: count it and drop the sample, or retry later.
//!         Err(SubmitError::Full(_) | SubmitError::Busy(_)) => {}
//!         Err(SubmitError::Stopped(_)) => {}
//!     }
//! }
//!
//! // The main loop.
//! # let mut rounds = 0;
//! loop {
//!     # on_adc_interrupt(rounds);
//!     POOL.run_pending(8);
//!     // cortex_m::asm::wfi();
//!     # rounds += 1;
//!     # if rounds == 3 { break; }
//! }
//! assert_eq!(POOL.stats().completed, 3);
//! ```
//!
//! # Exactly once
//!
//! Every job passed to [`try_submit`](Pool::try_submit) ends as exactly one
//! of: **run** (by a worker, `run_pending` or `stop_wait`), **handed back**
//! by [`stop`](Pool::stop), or **returned to the submitter** inside
//! [`SubmitError`]. Until then it is queued. `stop` closes the ring's tail
//! with one atomic read-modify-write, so every submit is ordered either
//! before it (and its job is queued, then handed back or run) or after it
//! (and it gets `Stopped(job)`).
//!
//! # Waking idle workers
//!
//! A worker that has found nothing for a while announces itself in a
//! bitmask of sleepers, issues a `SeqCst` fence, and checks the queue once
//! more before it calls its [`Idle`] strategy. A submit publishes its job,
//! issues a `SeqCst` fence, and then reads the bitmask. The two fences are
//! ordered one way or the other, so either the worker sees the job or the
//! submit sees the sleeper and wakes it through [`Config::wake`]. There is
//! no lost wake-up; the loom models in `loom-tests/pool.rs` check it.

use core::fmt;

use crossbeam_utils::CachePadded;

use crate::{
    error::{PopError, SubmitError, WorkerError},
    loom::{fence, loom_const_fn, repeat, AtomicUsize, Backoff, Ordering},
    ring::{Rejected, Ring},
};

pub(crate) mod job;
mod lifecycle;
pub(crate) mod stats;

use self::{
    job::{Clock, Idle, Job, NoClock},
    stats::{Config, OverloadEvent, RunCounters, SubmitCounters},
};

/// `state` bit: workers and `run_pending` start no new job; `stop` ran.
const STOPPED: usize = 1;
/// `state` bit: workers and `run_pending` start no new job until `resume`.
const PAUSED: usize = 2;

/// What the ring holds: a job and, with a [`Clock`], when it was submitted.
pub(crate) struct Entry<J, S> {
    pub(crate) job: J,
    pub(crate) at: S,
}

/// How running one job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // `Panicked` is produced by the std thread pool.
pub(crate) enum Outcome {
    Completed,
    Panicked,
}

/// What one attempt to run a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Ran(Outcome),
    /// The queue was empty.
    Idle,
    /// Another context was mid-operation on the front slot.
    Busy,
    Paused,
    Stopped,
}

/// A fixed-capacity worker pool: a queue of `N` jobs of type `J` drained by
/// up to `W` workers, with an optional [`Clock`] for lag metrics.
///
/// Needs no allocator and can live in a `static`. See the
/// [module docs](self) for the guarantees.
///
/// `N` follows [`Ring`]'s rules. `W` may be 0 (only `run_pending` callers
/// run jobs) and at most `usize::BITS`; other values fail to compile:
///
/// ```compile_fail
/// let pool: taskring::Pool<fn(), 4, 65> = taskring::Pool::new();
/// ```
///
/// # Examples
///
/// ```
/// use taskring::{Pool, Task};
///
/// static POOL: Pool<Task, 64, 2> = Pool::new();
///
/// POOL.try_submit(Task::new(|| println!("hello from the pool"))).unwrap();
/// std::thread::scope(|s| {
///     for i in 0..2 {
///         s.spawn(move || POOL.run_worker(i, &mut taskring::Spin).unwrap());
///     }
///     POOL.stop_wait().unwrap();
/// });
/// assert_eq!(POOL.stats().completed, 1);
/// ```
pub struct Pool<J, const N: usize, const W: usize, C: Clock = NoClock> {
    ring: Ring<Entry<J, C::Stamp>, N>,
    /// `STOPPED | PAUSED`.
    state: CachePadded<AtomicUsize>,
    /// Bit `i` set: worker `i` announced that it is going idle.
    sleepers: CachePadded<AtomicUsize>,
    submits: CachePadded<SubmitCounters>,
    workers: [CachePadded<RunCounters>; W],
    /// Shared by `run_pending` and `stop_wait` callers.
    others: CachePadded<RunCounters>,
    config: Config,
}

// === impl Pool ===

impl<J, const N: usize, const W: usize, C: Clock> Pool<J, N, W, C> {
    loom_const_fn! {
        /// Creates an empty pool with the default [`Config`].
        ///
        /// A `const fn` (a plain `fn` under `--cfg loom`).
        ///
        /// # Examples
        ///
        /// ```
        /// static POOL: taskring::Pool<fn(), 16, 4> = taskring::Pool::new();
        /// assert_eq!(POOL.capacity(), 16);
        /// ```
        pub fn new() -> Self {
            Self::with_config(Config::new())
        }
    }

    loom_const_fn! {
        /// Creates an empty pool with `config`.
        ///
        /// # Examples
        ///
        /// ```
        /// use taskring::{Config, Pool};
        /// static POOL: Pool<fn(), 16, 1> = Pool::with_config(Config::new().watermarks(12, 4));
        /// # let _ = &POOL;
        /// ```
        pub fn with_config(config: Config) -> Self {
            const {
                assert!(
                    W <= usize::BITS as usize,
                    "taskring: a Pool has at most usize::BITS workers (W)"
                );
            }
            Self {
                ring: Ring::new(),
                state: CachePadded::new(AtomicUsize::new(0)),
                sleepers: CachePadded::new(AtomicUsize::new(0)),
                submits: CachePadded::new(SubmitCounters::new()),
                workers: repeat!(CachePadded::new(RunCounters::new()); W),
                others: CachePadded::new(RunCounters::new()),
                config,
            }
        }
    }

    /// The queue capacity, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The number of workers, `W`.
    pub const fn workers(&self) -> usize {
        W
    }

    /// Jobs queued now; see [`Ring::len`] for the caveats.
    pub fn queued(&self) -> usize {
        self.ring.len()
    }

    /// Queues `job`, or gives it back at once.
    ///
    /// Never blocks and never spins on another context, so it is safe in an
    /// interrupt handler. Wakes one sleeping worker if there is one.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`], [`SubmitError::Busy`] (retry later) or
    /// [`SubmitError::Stopped`], each holding `job`.
    ///
    /// # Examples
    ///
    /// ```
    /// static POOL: taskring::Pool<fn(), 4, 0> = taskring::Pool::new();
    /// POOL.try_submit(|| {}).unwrap();
    /// assert_eq!(POOL.queued(), 1);
    /// ```
    pub fn try_submit(&self, job: J) -> Result<(), SubmitError<J>> {
        let wake = self.submit(job)?;
        self.wake(wake);
        Ok(())
    }

    /// The submit algorithm. Returns the bit of one sleeping worker that
    /// this call claimed and must wake (0 for none).
    #[inline]
    pub(crate) fn submit(&self, job: J) -> Result<usize, SubmitError<J>> {
        let counters = &*self.submits;
        // Counted before the push, so that `stop_wait` never sees a job
        // complete that `submitted` does not yet include. Relaxed: the
        // push's claim (`Release`) and `close` (`Acquire`) order it before
        // `stop_wait`'s reads.
        counters.submitted.fetch_add(1, Ordering::Relaxed);
        let at = C::now();
        let entry = Entry { job, at };
        if let Err(rejected) = self.ring.push(entry) {
            counters.submitted.fetch_sub(1, Ordering::Relaxed);
            let (counter, error): (_, fn(J) -> SubmitError<J>) = match rejected {
                Rejected::Full(_) => (&counters.full, SubmitError::Full),
                Rejected::Busy(_) => (&counters.busy, SubmitError::Busy),
                Rejected::Closed(_) => (&counters.after_stop, SubmitError::Stopped),
            };
            counter.fetch_add(1, Ordering::Relaxed);
            let (Rejected::Full(entry) | Rejected::Busy(entry) | Rejected::Closed(entry)) =
                rejected;
            return Err(error(entry.job));
        }
        let depth = self.ring.len();
        if depth > counters.high_water.load(Ordering::Relaxed) {
            counters.high_water.fetch_max(depth, Ordering::Relaxed);
        }
        if C::ENABLED && depth == 1 {
            // This job is now the front of the queue.
            // Its stamp, not a second clock read.
            let ticks = C::ticks(at) as usize;
            counters.front.store(ticks, Ordering::Relaxed);
        }
        if depth >= self.config.high
            && counters.overloaded.load(Ordering::Relaxed) == 0
            && counters
                .overloaded
                .compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            counters.overload_events.fetch_add(1, Ordering::Relaxed);
            self.report(OverloadEvent::Overloaded { depth });
        }
        // SeqCst fence: pairs with the fence in `worker_loop` after a worker
        // announces itself idle. Either that worker's re-check sees our job,
        // or this load sees its bit.
        fence(Ordering::SeqCst);
        let mut sleepers = self.sleepers.load(Ordering::Relaxed);
        // Claim one sleeper, so that two submits wake two workers. At most
        // `W` rounds: each failed claim clears a bit from `sleepers`.
        while sleepers != 0 {
            let bit = sleepers & sleepers.wrapping_neg();
            let before = self.sleepers.fetch_and(!bit, Ordering::Relaxed);
            if before & bit != 0 {
                return Ok(bit);
            }
            sleepers = before & !bit;
        }
        Ok(0)
    }

    /// Calls the wake hook for every worker in `mask`.
    fn wake(&self, mut mask: usize) {
        if let Some(wake) = self.config.wake {
            while mask != 0 {
                wake(mask.trailing_zeros() as usize);
                mask &= mask - 1;
            }
        }
    }

    /// Marks every sleeping worker as woken and returns their bits.
    pub(crate) fn take_sleepers(&self) -> usize {
        // SeqCst fence: pairs with the fence in `worker_loop`, as in
        // `submit`, for the `state` change our caller just made.
        fence(Ordering::SeqCst);
        self.sleepers.swap(0, Ordering::Relaxed)
    }

    fn report(&self, event: OverloadEvent) {
        if let Some(on_overload) = self.config.on_overload {
            on_overload(event);
        }
    }

    /// Runs up to `max` queued jobs on the calling context and returns how
    /// many ran.
    ///
    /// Stops early when the queue is empty, when the front slot is busy
    /// (another context is mid-operation: no spinning), or when the pool
    /// is paused or stopped. Safe to call from an interrupt handler, as
    /// long as the jobs are.
    ///
    /// A panicking job (with unwinding) propagates out of `run_pending`
    /// after being counted in [`Stats::panicked`](crate::Stats::panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// static POOL: taskring::Pool<fn(), 8, 0> = taskring::Pool::new();
    /// for _ in 0..3 {
    ///     POOL.try_submit(|| {}).unwrap();
    /// }
    /// assert_eq!(POOL.run_pending(2), 2);
    /// assert_eq!(POOL.run_pending(usize::MAX), 1);
    /// ```
    pub fn run_pending(&self, max: usize) -> usize
    where
        J: Job,
    {
        let mut ran = 0;
        while ran < max {
            match self.run_one(&self.others, run_job) {
                Step::Ran(_) => ran += 1,
                _ => break,
            }
        }
        ran
    }

    /// Runs jobs as worker `index` until the pool stops, waiting through
    /// `idle` when there is nothing to do. Returns how many jobs it ran.
    ///
    /// Call it from the context that should be worker `index`: a thread, a
    /// core's main loop. It returns once [`stop`](Self::stop) or
    /// [`stop_wait`](Self::stop_wait) has finished with the pool. Waiting
    /// first spins with [`crossbeam_utils::Backoff`], then calls
    /// [`Idle::idle`] ([`Spin`](crate::Spin) keeps spinning; a WFE/WFI hook
    /// needs [`Config::wake`] to be woken by submits).
    ///
    /// Thread context only: it waits for other contexts.
    ///
    /// # Errors
    ///
    /// [`WorkerError::NoSuchWorker`] if `index >= W`;
    /// [`WorkerError::AlreadyRunning`] if another context runs `index`.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{Pool, Spin, WorkerError};
    ///
    /// static POOL: Pool<fn(), 8, 1> = Pool::new();
    /// assert_eq!(
    ///     POOL.run_worker(1, &mut Spin),
    ///     Err(WorkerError::NoSuchWorker { index: 1, workers: 1 })
    /// );
    /// POOL.try_submit(|| {}).unwrap();
    /// let _ = POOL.stop();
    /// assert_eq!(POOL.run_worker(0, &mut Spin), Ok(0));
    /// ```
    pub fn run_worker(&self, index: usize, idle: &mut impl Idle) -> Result<usize, WorkerError>
    where
        J: Job,
    {
        self.worker_loop(index, idle, run_job)
    }

    /// The worker loop, with a custom way to run each job.
    pub(crate) fn worker_loop(
        &self,
        index: usize,
        idle: &mut impl Idle,
        mut exec: impl FnMut(J) -> Outcome,
    ) -> Result<usize, WorkerError> {
        let Some(counters) = self.workers.get(index) else {
            return Err(WorkerError::NoSuchWorker { index, workers: W });
        };
        // Acquire: pairs with the `Release` that ended the previous owner's
        // run, so its counter updates are visible.
        if counters.claimed.swap(1, Ordering::Acquire) != 0 {
            return Err(WorkerError::AlreadyRunning { index });
        }
        /// Gives the index back, also when a job's panic unwinds.
        struct Release<'a>(&'a AtomicUsize);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                // Release: pairs with the `Acquire` swap above.
                self.0.store(0, Ordering::Release);
            }
        }
        let _release = Release(&counters.claimed);
        let bit = 1usize << index;
        let backoff = Backoff::new();
        let mut ran = 0;
        loop {
            match self.run_one(counters, &mut exec) {
                Step::Ran(_) => {
                    ran += 1;
                    backoff.reset();
                    continue;
                }
                Step::Stopped => return Ok(ran),
                Step::Busy => {
                    backoff.spin();
                    continue;
                }
                Step::Idle | Step::Paused => {}
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            // Announce, fence, re-check, then wait.
            self.sleepers.fetch_or(bit, Ordering::Relaxed);
            // SeqCst fence: pairs with the fences in `submit` and
            // `take_sleepers`; see the module docs.
            fence(Ordering::SeqCst);
            // The `park` mutant skips the re-check, so a job published just
            // before the announcement is never seen: a lost wake-up that the
            // thread-pool loom models must catch.
            #[cfg(not(taskring_mutant = "park"))]
            let sleep = !self.has_work();
            #[cfg(taskring_mutant = "park")]
            let sleep = true;
            if sleep {
                idle.idle(index);
            }
            self.sleepers.fetch_and(!bit, Ordering::Relaxed);
            backoff.reset();
        }
    }

    /// True if a worker must not sleep: a job is queued and the pool is not
    /// paused, or the pool stopped.
    fn has_work(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        state & STOPPED != 0 || (state & PAUSED == 0 && !self.ring.is_empty())
    }

    /// Takes the front job, if allowed, and runs it with `exec`.
    #[inline]
    pub(crate) fn run_one(&self, counters: &RunCounters, exec: impl FnOnce(J) -> Outcome) -> Step {
        let state = self.state.load(Ordering::Relaxed);
        if state & STOPPED != 0 {
            return Step::Stopped;
        }
        if state & PAUSED != 0 {
            return Step::Paused;
        }
        let entry = match self.ring.try_pop() {
            Ok(entry) => entry,
            Err(PopError::Empty) => return Step::Idle,
            Err(PopError::Busy) => return Step::Busy,
        };
        self.took(counters, entry.at);
        Step::Ran(self.execute(counters, entry.job, exec))
    }

    /// Bookkeeping after a job left the queue.
    #[inline]
    fn took(&self, counters: &RunCounters, at: C::Stamp) {
        if C::ENABLED {
            let enqueued = C::ticks(at);
            let waited = C::ticks(C::now()).saturating_sub(enqueued);
            let waited = usize::try_from(waited).unwrap_or(usize::MAX);
            if waited > counters.max_wait.load(Ordering::Relaxed) {
                counters.max_wait.fetch_max(waited, Ordering::Relaxed);
            }
            self.submits
                .front
                .store(enqueued as usize, Ordering::Relaxed);
        }
        let submits = &*self.submits;
        if submits.overloaded.load(Ordering::Relaxed) != 0 {
            let depth = self.ring.len();
            if depth <= self.config.low
                && submits
                    .overloaded
                    .compare_exchange(1, 0, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.report(OverloadEvent::Recovered { depth });
            }
        }
    }

    /// Runs one job that left the queue, counting how it ended.
    fn execute(&self, counters: &RunCounters, job: J, exec: impl FnOnce(J) -> Outcome) -> Outcome {
        /// Counts the job as panicked if `exec` unwinds.
        struct Unwinding<'a>(&'a RunCounters);
        impl Drop for Unwinding<'_> {
            fn drop(&mut self) {
                self.0.running.fetch_sub(1, Ordering::Relaxed);
                RunCounters::bump(&self.0.panicked);
            }
        }
        counters.running.fetch_add(1, Ordering::Relaxed);
        let guard = Unwinding(counters);
        let outcome = lifecycle::own_job::running(self as *const Self as usize, || exec(job));
        core::mem::forget(guard);
        counters.running.fetch_sub(1, Ordering::Relaxed);
        match outcome {
            Outcome::Completed => RunCounters::bump(&counters.completed),
            Outcome::Panicked => RunCounters::bump(&counters.panicked),
        }
        outcome
    }
}

/// Runs a job without catching panics.
fn run_job<J: Job>(job: J) -> Outcome {
    job.run();
    Outcome::Completed
}

impl<J, const N: usize, const W: usize, C: Clock> Default for Pool<J, N, W, C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<J, const N: usize, const W: usize, C: Clock> fmt::Debug for Pool<J, N, W, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("capacity", &N)
            .field("workers", &W)
            .field("stopped", &self.is_stopped())
            .field("paused", &self.is_paused())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
