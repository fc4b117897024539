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
//! This is the one wake-up protocol of the crate; the thread pool runs it
//! too, with an [`Env`] that parks threads.
//!
//! A worker that has found nothing for a while adds one to the pool's count
//! of sleepers, issues a `SeqCst` fence, and checks the queue once more
//! before it calls its [`Idle`] strategy. A submit claims its slot with a
//! `SeqCst` compare-and-swap and then reads the count with a `SeqCst` load.
//! All of these are in the single `SeqCst` order, so either the worker's
//! re-check sees the job or the submit sees the sleeper. A submit that sees
//! one claims it and calls [`Env::wake`], so two submits wake two workers
//! and a burst of submits into a pool with one sleeper wakes it once.
//!
//! The count does not say which worker sleeps, and a wake-up reaches any
//! one of them, so a claim is recorded, not lost: the sleeper word holds the
//! count of unclaimed sleepers in its low half and the count of claims in
//! its high half, and a claim moves one from the first to the second in one
//! compare-and-swap. A worker that returns from `Idle` (woken or not) takes
//! one claim if there is one, and otherwise leaves the count. Either way it
//! removes exactly one of the two, so the word always adds up to the
//! workers still announced, and a sleeper is never taken off the count by
//! another worker's return: that would leave it asleep through the next
//! submit, with a job queued. There is no lost wake-up; the loom
//! models in `loom-tests/pool.rs` and `loom-tests/thread_pool.rs` check it,
//! and a `--cfg taskring_mutant="park"` build, which skips the re-check,
//! must fail them.
//!
//! An async drainer ([`wait_pending`](Pool::wait_pending),
//! [`run_async`](Pool::run_async)) runs the same steps: it stores its
//! waker in the pool's drainer slot, adds itself to the count, fences and
//! looks again before it returns `Pending`; a submit that claims a sleeper
//! wakes that slot as well as the environment. The loom models in
//! `loom-tests/asynch.rs` check it, and a
//! `--cfg taskring_mutant="waker_recheck"` build, which skips the look,
//! must fail them.
//!
//! A submit that finds no sleeper costs the ring's claim, write and
//! publish, one load of the sleeper count (a line written only when a
//! worker goes idle) and one load of the high-water mark (written only when
//! it rises). The depth it reports comes from the position it claimed.
//!
//! # Pause and stop
//!
//! [`pause`](Pool::pause) holds queued jobs back until
//! [`resume`](Pool::resume). Once a stop has begun (the ring is closed by
//! [`stop`](Pool::stop) or [`stop_wait`](Pool::stop_wait)), a pause has no
//! effect: workers and `stop_wait` drain the queue whatever `pause` says,
//! so `stop_wait` always returns.

use core::fmt;

use crate::ring::CachePadded;

use crate::{
    error::{PopError, SubmitError, WorkerError},
    loom::{fence, load_sc, loom_const_fn, repeat, AtomicUsize, Backoff, Ordering},
    ring::{Rejected, Ring},
};

pub(crate) mod config;
pub(crate) mod env;
pub(crate) mod event;
pub(crate) mod job;
mod lifecycle;
pub(crate) mod stats;
mod ticks;
#[cfg(feature = "async-drain")]
mod wait;

#[cfg(feature = "async-drain")]
pub use self::wait::WaitPending;

use self::{
    config::Config,
    env::{Bare, Env},
    event::PoolEvent,
    job::{Idle, Job},
    stats::{RunCounters, SubmitCounters, WorkerCounters},
};

/// One claim in the pool's sleeper word: its high half counts claims.
const CLAIM: usize = 1 << (usize::BITS / 2);
/// The low half of the sleeper word: contexts announced idle, unclaimed.
const SLEEPERS: usize = CLAIM - 1;

/// `state` bit: workers and `run_pending` start no new job; `stop` ran.
const STOPPED: usize = 1;
/// `state` bit: workers and `run_pending` start no new job until `resume`,
/// unless the ring is closed.
const PAUSED: usize = 2;
/// `state` bit: a stop has begun (set just before the ring is closed); a
/// pause has no effect from now on. Kept in `state` so that one load tells
/// a worker both whether it is paused and whether the pause still counts;
/// `stop` sets `STOPPED` first, so a load that sees `CLOSING` from `stop`
/// also sees `STOPPED` (both are RMWs on `state`).
const CLOSING: usize = 4;

/// What the ring holds: a job and, with a clock, when it was submitted.
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
    /// The queue was empty and open.
    Idle,
    /// Another context was mid-operation on the front slot.
    Busy,
    Paused,
    /// The ring is closed and empty: no job will ever come.
    Drained,
    /// `stop` ran.
    Stopped,
}

/// A fixed-capacity worker pool: a queue of `N` jobs of type `J` drained by
/// up to `W` workers, in the environment `E` (a clock, a wake-up, an event
/// handler; [`Bare`] by default).
///
/// Needs no allocator and can live in a `static`. See the
/// [module docs](self) for the guarantees.
///
/// `N` follows [`Ring`]'s rules. `W` may be 0 (only `run_pending` callers
/// run jobs); other contexts than the `W` workers may always run jobs with
/// `run_pending`.
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
pub struct Pool<J, const N: usize, const W: usize, E: Env = Bare> {
    ring: Ring<Entry<J, E::Stamp>, N>,
    /// `STOPPED | PAUSED | CLOSING`.
    state: CachePadded<AtomicUsize>,
    /// Low half ([`SLEEPERS`]): contexts announced idle and not claimed;
    /// high half (multiples of [`CLAIM`]): claims that no returning context
    /// took yet. See "Waking idle workers" in the module docs.
    sleepers: CachePadded<AtomicUsize>,
    submits: CachePadded<SubmitCounters>,
    workers: [CachePadded<WorkerCounters>; W],
    /// Shared by the contexts that run jobs from outside the worker set:
    /// `run_pending`, `run_async` and `stop_wait` callers.
    callers: CachePadded<RunCounters>,
    /// The waker of the task awaiting [`wait_pending`](Self::wait_pending),
    /// woken with every idle worker a submit claims (see the module docs).
    #[cfg(feature = "async-drain")]
    drainer: crate::loom::WakerSlot,
    config: Config,
    env: E,
}

// === impl Pool ===

impl<J, const N: usize, const W: usize> Pool<J, N, W, Bare> {
    loom_const_fn! {
        /// Creates an empty pool with the default [`Config`] and the
        /// [`Bare`] environment.
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
            Self::with_env(Config::new(), Bare)
        }
    }

    loom_const_fn! {
        /// Creates an empty pool with `config` and the [`Bare`] environment.
        ///
        /// # Examples
        ///
        /// ```
        /// use taskring::{Config, Pool};
        /// static POOL: Pool<fn(), 16, 1> = Pool::with_config(Config::new().watermarks(12, 4));
        /// # let _ = &POOL;
        /// ```
        pub fn with_config(config: Config) -> Self {
            Self::with_env(config, Bare)
        }
    }
}

impl<J, const N: usize, const W: usize, E: Env> Pool<J, N, W, E> {
    loom_const_fn! {
        /// Creates an empty pool with `config` in the environment `env`;
        /// see [`Env`] for an example.
        pub fn with_env(config: Config, env: E) -> Self {
            let () = Self::WORKERS_FIT;
            Self {
                ring: Ring::new(),
                state: CachePadded::new(AtomicUsize::new(0)),
                sleepers: CachePadded::new(AtomicUsize::new(0)),
                submits: CachePadded::new(SubmitCounters::new()),
                workers: repeat!(CachePadded::new(WorkerCounters::new()); W),
                callers: CachePadded::new(RunCounters::new()),
                #[cfg(feature = "async-drain")]
                drainer: crate::loom::WakerSlot::new(),
                config,
                env,
            }
        }
    }

    /// Evaluating it checks `W`: the workers, and a drainer, must fit the
    /// low half of the sleeper word.
    const WORKERS_FIT: () = assert!(
        W < SLEEPERS,
        "taskring: the worker count W of a Pool must be below 2^(usize::BITS / 2) - 1"
    );

    /// The queue capacity, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The number of workers, `W`.
    pub const fn workers(&self) -> usize {
        W
    }

    /// The pool's environment.
    pub const fn env(&self) -> &E {
        &self.env
    }

    /// Jobs queued now; see [`Ring::len`] for what a snapshot means.
    pub fn queued(&self) -> usize {
        self.ring.len()
    }

    /// True when a submit could find room now (not full, not stopped).
    #[cfg(feature = "std")]
    pub(crate) fn has_room(&self) -> bool {
        self.ring.has_room()
    }

    /// Queues `job`, or gives it back at once.
    ///
    /// Never blocks and never spins on another context, so it is safe in an
    /// interrupt handler. Wakes one idle worker if one announced itself.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`], [`SubmitError::Busy`] (retry later) or
    /// [`SubmitError::Stopped`], each holding `job`; each is counted in
    /// [`Stats`](crate::Stats).
    ///
    /// # Examples
    ///
    /// ```
    /// static POOL: taskring::Pool<fn(), 4, 0> = taskring::Pool::new();
    /// POOL.try_submit(|| {}).unwrap();
    /// assert_eq!(POOL.queued(), 1);
    /// ```
    pub fn try_submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.submit(job)
            .inspect_err(|error| self.count_rejection(error))
    }

    /// The submit algorithm, without counting a rejection: a caller that
    /// retries counts only the refusal it finally returns.
    #[inline]
    pub(crate) fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        // A no-op for a zero-sized stamp.
        let at = self.env.now();
        let depth = match self.ring.push_depth(Entry { job, at }) {
            Ok(depth) => depth,
            Err(Rejected::Full(entry)) => return Err(SubmitError::Full(entry.job)),
            Err(Rejected::Busy(entry)) => return Err(SubmitError::Busy(entry.job)),
            Err(Rejected::Closed(entry)) => return Err(SubmitError::Stopped(entry.job)),
        };
        if self.env.has_clock() && self.config.lag_alert_on() && depth > 1 {
            self.look_at_lag_on_submit();
        }
        if (self.env.has_clock() && depth == 1)
            || depth >= self.config.high
            || depth > self.submits.high_water.load(Ordering::Relaxed)
        {
            self.note_depth(depth, at);
        }
        // SeqCst load: pairs with the `SeqCst` fence a worker issues after
        // it adds itself to `sleepers`. Our claim of the slot (a `SeqCst`
        // CAS on the ring's tail) and this load are ordered with that fence
        // in the single `SeqCst` order: either the worker's re-check sees
        // our job, or this load sees the worker.
        #[cfg(any(not(target_has_atomic = "ptr"), taskring_force_cs))]
        fence(Ordering::SeqCst); // The claim was a critical section there.
        if load_sc(&self.sleepers) & SLEEPERS != 0 {
            self.wake_one();
        }
        Ok(())
    }

    /// The slow part of a submit: a new high-water mark, the front stamp,
    /// an overload event.
    #[cold]
    fn note_depth(&self, depth: usize, at: E::Stamp) {
        let submits = &*self.submits;
        if depth > submits.high_water.load(Ordering::Relaxed) {
            submits.high_water.fetch_max(depth, Ordering::Relaxed);
        }
        if self.env.has_clock() && depth == 1 {
            // This job is now the front of the queue: its stamp, not a
            // second clock read.
            submits.front.store(self.env.ticks(at));
        }
        if depth >= self.config.high && submits.overload.raise() {
            self.env.on_event(PoolEvent::Overloaded { depth });
        }
    }

    /// A submit's look at the lag: the age of the front of the queue.
    #[cold]
    fn look_at_lag_on_submit(&self) {
        let front = self.submits.front.load();
        let now = self.env.ticks(self.env.now());
        // Saturating: another context may have stored a front stamped
        // after our clock read.
        self.look_at_lag(now.saturating_sub(front));
    }

    /// Raises `Lagging` or `LagRecovered` if `lag` crossed a mark.
    fn look_at_lag(&self, lag: u64) {
        let submits = &*self.submits;
        let lagging = submits.lag.is_raised();
        if !lagging && lag >= self.config.lag_high {
            if submits.lag.raise() {
                self.env.on_event(PoolEvent::Lagging { lag });
            }
        } else if lagging && lag <= self.config.lag_low && submits.lag.clear() {
            self.env.on_event(PoolEvent::LagRecovered { lag });
        }
    }

    /// Claims one announced sleeper and wakes it through the environment.
    #[inline]
    fn wake_one(&self) {
        // One sleeper becomes one claim. At most one round per worker:
        // each retry means another context changed the word.
        let claimed =
            self.sleepers
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |sleepers| {
                    (sleepers & SLEEPERS != 0).then(|| sleepers - 1 + CLAIM)
                });
        if claimed.is_ok() {
            self.env.wake();
            // The claimed sleeper may be the task awaiting `wait_pending`,
            // which the environment cannot wake.
            #[cfg(feature = "async-drain")]
            self.drainer.wake();
        }
    }

    /// Wakes every idle worker after a state change (stop, resume, close).
    pub(crate) fn wake_all(&self) {
        // SeqCst fence: pairs with the fence a worker issues after it adds
        // itself to `sleepers`, for the state change our caller just made:
        // either its re-check sees the change, or it is counted and we
        // reset the count here. The environment is told in any case: a
        // worker's count may have been taken by a submit whose wake-up
        // went to another worker.
        fence(Ordering::SeqCst);
        // Every sleeper becomes a claim. The update always writes, so the
        // value it replaces is the latest one, as the fence requires.
        let _ = self
            .sleepers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |sleepers| {
                let count = sleepers & SLEEPERS;
                Some(sleepers - count + count * CLAIM)
            });
        self.env.wake_all();
        #[cfg(feature = "async-drain")]
        self.drainer.wake();
    }

    /// Counts a refusal that is handed back to the caller.
    pub(crate) fn count_rejection(&self, error: &SubmitError<J>) {
        let submits = &*self.submits;
        let counter = match error {
            SubmitError::Full(_) => &submits.full,
            SubmitError::Busy(_) => &submits.busy,
            SubmitError::Stopped(_) => &submits.after_stop,
        };
        counter.fetch_add(1, Ordering::Relaxed);
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
        if max == 0 {
            return 0;
        }
        let _active = self.enter_active(&self.callers);
        self.mark_own(|| {
            while ran < max {
                match self.run_one(&self.callers, run_job) {
                    Step::Ran(_) => ran += 1,
                    _ => break,
                }
            }
        });
        ran
    }

    /// Runs `f` marked as running jobs of this pool, so that a job's call
    /// that would wait for the pool returns an error instead (with `std`).
    /// Marked once per drain loop, not once per job.
    #[inline]
    pub(crate) fn mark_own<R>(&self, f: impl FnOnce() -> R) -> R {
        lifecycle::own_job::running(self as *const Self as usize, f)
    }

    /// Runs jobs as worker `index` until the pool stops (or is stopped and
    /// drained), waiting through `idle` when there is nothing to do.
    /// Returns how many jobs it ran.
    ///
    /// Call it from the context that should be worker `index`: a thread, a
    /// core's main loop. Waiting first backs off (spins, then yields), then
    /// calls [`Idle::idle`] ([`Spin`](crate::Spin) keeps spinning; a
    /// WFE/WFI strategy needs an [`Env::wake`] to be woken by submits).
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
        let Some(worker) = self.workers.get(index) else {
            return Err(WorkerError::NoSuchWorker { index, workers: W });
        };
        // Acquire: pairs with the `Release` that ended the previous owner's
        // run, so its counter updates are visible.
        if worker.claimed.swap(1, Ordering::Acquire) != 0 {
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
        let _release = Release(&worker.claimed);
        Ok(self.worker_loop(index, &worker.run, idle, run_job))
    }

    /// The worker loop over one worker's counters, with a custom way to
    /// run each job. The thread pool's threads run it too.
    pub(crate) fn worker_loop(
        &self,
        index: usize,
        counters: &RunCounters,
        idle: &mut impl Idle,
        exec: impl FnMut(J) -> Outcome,
    ) -> usize {
        self.mark_own(|| self.worker_loop_marked(index, counters, idle, exec))
    }

    fn worker_loop_marked(
        &self,
        index: usize,
        counters: &RunCounters,
        idle: &mut impl Idle,
        mut exec: impl FnMut(J) -> Outcome,
    ) -> usize {
        let mut active = self.enter_active(counters);
        let backoff = Backoff::new();
        let mut ran = 0;
        loop {
            match self.run_one(counters, &mut exec) {
                Step::Ran(_) => {
                    ran += 1;
                    backoff.reset();
                    continue;
                }
                Step::Stopped | Step::Drained => return ran,
                // Another context is mid-operation on the front slot: it
                // finishes in a few steps, unless it was preempted, so
                // yield after a few spins.
                Step::Busy => {
                    backoff.snooze();
                    continue;
                }
                Step::Idle | Step::Paused => {}
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            // Inactive while idle, so that `stop_wait` and `pause_wait` do
            // not wait for us.
            active.leave();
            // Announce, fence, re-check, then wait.
            self.sleepers.fetch_add(1, Ordering::Relaxed);
            // SeqCst fence: pairs with the `SeqCst` load of `sleepers` in
            // `submit` and the fence in `wake_all`; see the module docs.
            fence(Ordering::SeqCst);
            // The `park` mutant skips the re-check, so a job published just
            // before the announcement is never seen: a lost wake-up that the
            // loom models must catch.
            #[cfg(not(taskring_mutant = "park"))]
            let sleep = !self.has_work();
            #[cfg(taskring_mutant = "park")]
            let sleep = true;
            if sleep {
                idle.idle(index);
            }
            self.leave_sleepers();
            active = self.enter_active(counters);
            backoff.reset();
        }
    }

    /// A context that announced itself idle is back: it takes one claim
    /// if a submit or `wake_all` left one, and otherwise leaves the count
    /// of sleepers (see "Waking idle workers" in the module docs).
    pub(crate) fn leave_sleepers(&self) {
        // Never 0 here: from our announcement on, the two halves add up to
        // at least one (us) until we take one away.
        let _ = self
            .sleepers
            .fetch_update(
                Ordering::Relaxed,
                Ordering::Relaxed,
                |sleepers| match sleepers {
                    0 => None,
                    CLAIM.. => Some(sleepers - CLAIM),
                    _ => Some(sleepers - 1),
                },
            );
    }

    /// True if a worker must not sleep: a job is queued and the pool is not
    /// paused, or the pool is closed (it drains or exits).
    fn has_work(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        state & (STOPPED | CLOSING) != 0 || (state & PAUSED == 0 && !self.ring.is_empty())
    }

    /// Takes the front job, if allowed, and runs it with `exec`.
    #[inline]
    pub(crate) fn run_one(&self, counters: &RunCounters, exec: impl FnOnce(J) -> Outcome) -> Step {
        let state = self.state.load(Ordering::Relaxed);
        if state & STOPPED != 0 {
            return Step::Stopped;
        }
        // A pause has no effect once a stop has begun.
        if state & PAUSED != 0 && state & CLOSING == 0 {
            return Step::Paused;
        }
        let entry = match self.ring.try_pop() {
            Ok(entry) => entry,
            Err(PopError::Busy) => return Step::Busy,
            Err(PopError::Empty) => {
                if !self.ring.is_closed() {
                    return Step::Idle;
                }
                // Closed: pop once more. Look at the closed mark before
                // that pop, never after the first one alone: a job pushed
                // after an empty pop and before the close would otherwise
                // be taken for a drained queue and stranded. Every push
                // that got in claimed its slot before the close (both
                // change `tail`), so a pop that follows a look that saw the
                // mark sees those claims (read-read coherence on `tail`)
                // and answers `Ok` or `Busy`, never `Empty`. Only an empty
                // queue pays for this look.
                match self.ring.try_pop() {
                    Ok(entry) => entry,
                    Err(PopError::Empty) => return Step::Drained,
                    Err(PopError::Busy) => return Step::Busy,
                }
            }
        };
        self.after_take(counters, entry.at);
        Step::Ran(self.run_counted(counters, entry.job, exec))
    }

    /// Bookkeeping after a job left the queue.
    #[inline]
    fn after_take(&self, counters: &RunCounters, at: E::Stamp) {
        if self.env.has_clock() {
            let enqueued = self.env.ticks(at);
            let waited = self.env.ticks(self.env.now()).saturating_sub(enqueued);
            counters.max_wait.raise(waited);
            self.submits.front.store(enqueued);
            if self.config.lag_alert_on() {
                // This job was the oldest queued: its wait is the lag. If
                // it left the queue empty, no job waits any more: the lag
                // is 0, so a drained pool recovers without another job.
                let lagging = self.submits.lag.is_raised();
                let lag = if lagging && self.ring.is_empty() {
                    0
                } else {
                    waited
                };
                self.look_at_lag(lag);
            }
        }
        let submits = &*self.submits;
        if submits.overload.is_raised() {
            self.maybe_recovered();
        }
    }

    /// Raises `Recovered` if the depth fell to the low watermark.
    #[cold]
    fn maybe_recovered(&self) {
        let submits = &*self.submits;
        let depth = self.ring.len();
        if depth <= self.config.low && submits.overload.clear() {
            self.env.on_event(PoolEvent::Recovered { depth });
        }
    }

    /// Runs one job that left the queue, counting how it ended.
    fn run_counted(
        &self,
        counters: &RunCounters,
        job: J,
        exec: impl FnOnce(J) -> Outcome,
    ) -> Outcome {
        /// Counts the job as panicked if `exec` unwinds.
        struct Unwinding<'a>(&'a RunCounters, bool);
        impl Drop for Unwinding<'_> {
            fn drop(&mut self) {
                self.0.add(&self.0.running, usize::MAX, self.1);
                self.0.add(&self.0.panicked, 1, self.1);
            }
        }
        let shared = self.is_shared(counters);
        counters.add(&counters.running, 1, shared);
        let guard = Unwinding(counters, shared);
        let outcome = exec(job);
        core::mem::forget(guard);
        counters.add(&counters.running, usize::MAX, shared);
        match outcome {
            Outcome::Completed => counters.add(&counters.completed, 1, shared),
            Outcome::Panicked => counters.add(&counters.panicked, 1, shared),
        }
        outcome
    }

    /// True for the counters that several contexts share (the callers'),
    /// told apart by address so that they need no flag of their own.
    #[inline(always)]
    fn is_shared(&self, counters: &RunCounters) -> bool {
        core::ptr::eq(counters, &*self.callers)
    }

    /// Marks `counters` active for as long as the guard lives.
    #[inline]
    pub(crate) fn enter_active<'a>(&self, counters: &'a RunCounters) -> Active<'a> {
        Active::enter(counters, self.is_shared(counters))
    }
}

/// Marks a context as one that may hold a job, for as long as it lives
/// (also when a job's panic unwinds).
pub(crate) struct Active<'a>(Option<(&'a RunCounters, bool)>);

impl<'a> Active<'a> {
    /// Marks `counters` active (`shared`: see [`RunCounters::add`]).
    #[inline]
    fn enter(counters: &'a RunCounters, shared: bool) -> Self {
        counters.add(&counters.active, 1, shared);
        // SeqCst fence: pairs with the `SeqCst` fence in `pause_wait` and
        // `stop_wait` after they change the state: either they see us
        // active, or our next look at the state sees the change.
        fence(Ordering::SeqCst);
        Self(Some((counters, shared)))
    }

    /// Marks the context inactive now.
    #[inline]
    pub(crate) fn leave(&mut self) {
        if let Some((counters, shared)) = self.0.take() {
            // Release (in `add`): pairs with the `Acquire` loads in
            // `is_quiescent`, so the jobs we ran happen before.
            counters.add(&counters.active, usize::MAX, shared);
        }
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Runs a job without catching panics.
fn run_job<J: Job>(job: J) -> Outcome {
    job.run();
    Outcome::Completed
}

impl<J, const N: usize, const W: usize, E: Env + Default> Default for Pool<J, N, W, E> {
    fn default() -> Self {
        Self::with_env(Config::new(), E::default())
    }
}

impl<J, const N: usize, const W: usize, E: Env> fmt::Debug for Pool<J, N, W, E> {
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
