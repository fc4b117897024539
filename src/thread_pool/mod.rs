//! A pool of OS threads over a [`Pool`](crate::Pool): a worker count chosen at run time,
//! parked idle workers, blocking back-pressure, closures without ceremony,
//! submit-and-wait, panic isolation and synchronous shutdown. Needs the
//! `std` feature.
//!
//! ```
//! use taskring::ThreadPool;
//!
//! // 4 worker threads; the queue holds 1024 jobs (the default `N`).
//! let pool: ThreadPool = ThreadPool::new(4)?;
//! for i in 0..10_000 {
//!     // Blocks while the queue is full, until a worker frees a slot.
//!     pool.execute(move || { std::hint::black_box(i * 2); })?;
//! }
//! let answer = pool.submit_wait_with(|| 6 * 7)?;
//! assert_eq!(answer, 42);
//! pool.stop_wait()?; // Runs what is queued, then joins the threads.
//! assert_eq!(pool.stats().completed, 10_001);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Waking idle workers
//!
//! The threads run the [`Pool`](crate::Pool)'s own worker loop and wake-up protocol
//! (see [the pool docs](crate::pool#waking-idle-workers)): a thread that
//! finds no job backs off (spins, then yields), announces itself, re-checks
//! the queue and then waits for a wake-up token on a condition variable. A
//! submit that sees an announced thread claims it and adds one token, so a
//! submit wakes at most one thread, only if one waits, and a pool with no
//! work uses no CPU once its threads wait. Stop and resume wake every
//! thread. The loom models in `loom-tests/thread_pool.rs` check these
//! hand-offs on the code the pool runs.
//!
//! # Back-pressure
//!
//! [`submit`](ThreadPool::submit) and [`execute`](ThreadPool::execute)
//! block while the queue is full: they back off, then wait on a condition
//! variable until a worker frees a slot. No user code (job, event handler)
//! ever runs while the pool holds one of its locks.
//! [`stop`](ThreadPool::stop) wakes every blocked submitter with
//! [`SubmitError::Stopped`].
//!
//! # Async code
//!
//! The pool depends on no runtime; its futures use only the `Waker` they
//! are polled with.
//!
//! - [`submit_async`](ThreadPool::submit_async) and
//!   [`execute_async`](ThreadPool::execute_async) wait for room without
//!   blocking the executor's thread: a task that finds the queue full
//!   leaves its waker in the same room as blocked threads, and the worker
//!   that frees a slot wakes it. A worker pays one `SeqCst` load per job
//!   when nobody waits. Dropping the future before it resolves drops its
//!   job unqueued ([`SubmitAsync`]).
//! - [`spawn`](ThreadPool::spawn) returns a [`JoinHandle`], a future of the
//!   closure's value (and a blocking [`join`](JoinHandle::join)); a panic
//!   or a job that never ran resolves it with a [`JoinError`].
//!   [`try_spawn`](ThreadPool::try_spawn) never waits, for shedding load;
//!   [`spawn_async`](ThreadPool::spawn_async) waits for room without
//!   blocking.
//!
//! ```
//! # fn block_on<F: core::future::Future>(f: F) -> F::Output {
//! #     let mut f = core::pin::pin!(f);
//! #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
//! #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } std::thread::yield_now(); }
//! # }
//! use taskring::ThreadPool;
//!
//! let pool: ThreadPool = ThreadPool::new(2)?;
//! let sum = block_on(async {
//!     pool.execute_async(|| println!("queued without blocking")).await?;
//!     let checksum = pool.spawn(|| (1..=100u32).sum::<u32>()).await?;
//!     Ok::<u32, Box<dyn std::error::Error>>(checksum)
//! })?;
//! assert_eq!(sum, 5050);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Inside a job, or an event handler
//!
//! A job may use its own pool, with these rules, so that no worker ever
//! waits for itself:
//!
//! - `try_submit`, `try_execute` and `stop` work as usual.
//! - `submit`, `execute` and `submit_timeout` never block: a full queue
//!   returns [`SubmitError::Full`] at once.
//! - `submit_wait` and `submit_wait_with` return [`WaitError::FromOwnJob`].
//! - `stop_wait` and `pause_wait` return [`StopError::FromOwnJob`]: with
//!   `stop_wait` the pool is closed, its workers finish the queue and then
//!   exit; a later `stop_wait` or `Drop` from outside joins them.
//! - Dropping the pool (say, the job held the last `Arc` of it) detaches:
//!   the pool is closed, the workers finish the queue and exit on their
//!   own, and nobody joins them.
//!
//! An event handler ([`Builder::on_event`]) runs on the submitter or worker
//! that raised the event, outside every lock: it may call `try_submit`,
//! `stop`, or anything a plain caller may, but a blocking call there blocks
//! that submitter or worker.

use alloc::{sync::Arc as StdArc, vec::Vec};
use core::{fmt, time::Duration};
use std::time::Instant;

use crate::{
    loom::sync::{Arc, JoinHandle as ThreadHandle, Mutex},
    Job, Stats, StopError, SubmitError, Task,
};

mod asynch;
mod builder;
mod shared;
mod spawn;
mod wait;

pub use self::{
    asynch::SubmitAsync,
    builder::{BuildError, Builder, PanicPolicy},
    spawn::{JoinError, JoinHandle, PANIC_SENT_TO_HANDLE},
    wait::{FnJob, WaitError},
};
use self::{
    shared::{Envelope, Shared},
    wait::{Done, Ended, Notify},
};

/// A pool of OS threads running jobs of type `J` from a queue of `N`.
///
/// The worker count is chosen when the pool starts
/// ([`new`](Self::new), [`Builder::workers`]); the queue capacity `N` is a
/// constant. The default job type, [`Task`], holds any closure: inline
/// when it fits, boxed otherwise, so `ThreadPool` with no parameters is a
/// general-purpose pool. See the [module docs](self) for the wake-up
/// protocol and the rules for calls made from inside a job.
///
/// Dropping the pool is [`stop_wait`](Self::stop_wait): queued jobs run,
/// and every thread has been joined when `drop` returns.
pub struct ThreadPool<J: Job + 'static = Task, const N: usize = 1024> {
    shared: Arc<Shared<J, N>>,
    /// Taken and joined by the first `stop_wait`; the lock is held while
    /// joining, so a concurrent `stop_wait` returns only after the join.
    handles: Mutex<Vec<ThreadHandle<()>>>,
}

// === impl ThreadPool ===

impl<J: Job + 'static, const N: usize> ThreadPool<J, N> {
    /// The largest worker count a pool accepts.
    pub const MAX_WORKERS: usize = 4096;

    /// Starts a pool of `workers` threads with the default settings:
    /// threads named `taskring-worker-{i}`, panics isolated and counted.
    ///
    /// # Errors
    ///
    /// [`BuildError::NoWorkers`] for 0, [`BuildError::TooManyWorkers`]
    /// above [`MAX_WORKERS`](Self::MAX_WORKERS), [`BuildError::Spawn`] if
    /// a thread cannot be started (those already started are stopped and
    /// joined first).
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{BuildError, ThreadPool};
    ///
    /// let pool: ThreadPool = ThreadPool::new(2)?;
    /// pool.execute(|| println!("hello from the pool"))?;
    /// assert_eq!(pool.workers(), 2);
    /// assert!(matches!(ThreadPool::<fn()>::new(0), Err(BuildError::NoWorkers)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(workers: usize) -> Result<Self, BuildError> {
        Self::builder().workers(workers).build()
    }

    /// A [`Builder`] for a pool with custom settings.
    pub fn builder() -> Builder<J, N> {
        Builder::new()
    }

    /// Queues `job`, waiting while the queue is full.
    ///
    /// Waits by backing off briefly and then parking until a worker frees
    /// a slot. From inside a job of this pool it never waits (see the
    /// [module docs](self)). A refusal is counted once in
    /// [`Stats::rejected`](crate::Stats::rejected), when it is returned.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Stopped`] once the pool is stopped, also when the
    /// stop comes while this call waits. [`SubmitError::Full`] only from
    /// inside a job of this pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{SubmitError, ThreadPool};
    ///
    /// let pool: ThreadPool<fn(), 1> = ThreadPool::new(1)?;
    /// for _ in 0..10 {
    ///     pool.submit(|| {})?; // One slot: each waits for the last.
    /// }
    /// let _ = pool.stop();
    /// assert!(matches!(pool.submit(|| {}), Err(SubmitError::Stopped(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.shared
            .submit_blocking(Envelope { job, done: None }, None)
            .map_err(unwrap_error)
    }

    /// Like [`submit`](Self::submit), but waits at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] if the queue stayed full for `timeout`;
    /// [`SubmitError::Stopped`] once the pool is stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskring::{SubmitError, ThreadPool};
    ///
    /// let pool: ThreadPool<fn(), 1> = ThreadPool::new(1)?;
    /// pool.pause(); // Nothing runs, so the queue stays full.
    /// pool.submit(|| {})?;
    /// let late = pool.submit_timeout(|| {}, Duration::from_millis(10));
    /// assert!(matches!(late, Err(SubmitError::Full(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_timeout(&self, job: J, timeout: Duration) -> Result<(), SubmitError<J>> {
        let deadline = Instant::now().checked_add(timeout);
        self.shared
            .submit_blocking(Envelope { job, done: None }, deadline)
            .map_err(unwrap_error)
    }

    /// Queues `job`, or gives it back at once; never waits.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`], [`SubmitError::Busy`] (a racing call was
    /// mid-operation on the slot; retry) or [`SubmitError::Stopped`].
    pub fn try_submit(&self, job: J) -> Result<(), SubmitError<J>> {
        self.shared
            .try_submit(Envelope { job, done: None })
            .map_err(unwrap_error)
    }

    /// Runs the closure `f` on the pool: wraps it as a job (for [`Task`],
    /// inline when it fits, boxed otherwise) and [`submit`](Self::submit)s
    /// it, waiting while the queue is full.
    ///
    /// # Errors
    ///
    /// As for [`submit`](Self::submit), with the wrapped job inside.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use taskring::ThreadPool;
    ///
    /// let pool: ThreadPool = ThreadPool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let name = String::from("session-7"); // Four words with the index:
    /// let index = 7usize;                    // boxed by the default Task.
    /// pool.execute(move || tx.send(format!("{name}/{index}")).unwrap())?;
    /// assert_eq!(rx.recv()?, "session-7/7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn execute<F>(&self, f: F) -> Result<(), SubmitError<J>>
    where
        J: FnJob,
        F: FnOnce() + Send + 'static,
    {
        self.submit(J::from_fn(f))
    }

    /// Like [`execute`](Self::execute), but never waits (see
    /// [`try_submit`](Self::try_submit)).
    ///
    /// # Errors
    ///
    /// As for [`try_submit`](Self::try_submit), with the wrapped job inside.
    pub fn try_execute<F>(&self, f: F) -> Result<(), SubmitError<J>>
    where
        J: FnJob,
        F: FnOnce() + Send + 'static,
    {
        self.try_submit(J::from_fn(f))
    }

    /// Queues `job` (waiting for room like [`submit`](Self::submit)) and
    /// returns once it has run.
    ///
    /// The worker counts the job in [`stats`](Self::stats) just after it
    /// reports the end to this call, so a snapshot taken right after the
    /// return may not include it yet; after `stop_wait` the counts are
    /// exact.
    ///
    /// # Errors
    ///
    /// [`WaitError::Panicked`] if the job panicked; [`WaitError::NotRun`]
    /// if [`stop`](Self::stop) handed it back before it ran;
    /// [`WaitError::Stopped`] if the pool was stopped before it was
    /// queued; [`WaitError::FromOwnJob`] from inside a job of this pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{thread_pool::WaitError, ThreadPool};
    ///
    /// let pool: ThreadPool<fn(), 8> = ThreadPool::new(2)?;
    /// assert_eq!(pool.submit_wait(|| {}), Ok(()));
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// assert!(matches!(pool.submit_wait(|| panic!("boom")), Err(WaitError::Panicked)));
    /// pool.stop_wait()?;
    /// assert_eq!(pool.stats().panicked, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_wait(&self, job: J) -> Result<(), WaitError<J>> {
        if self.shared.pool.in_own_job() {
            return Err(WaitError::FromOwnJob(job));
        }
        let done = Done::for_current_thread();
        let envelope = Envelope {
            job,
            done: Some(Notify(done.clone())),
        };
        if let Err(error) = self.shared.submit_blocking(envelope, None) {
            // Only `Stopped`: `Full` comes only from inside a job.
            return Err(WaitError::Stopped(error.into_inner().job));
        }
        match done.wait() {
            Ended::Completed => Ok(()),
            Ended::Panicked => Err(WaitError::Panicked),
            Ended::NotRun => Err(WaitError::NotRun),
        }
    }

    /// Runs `f` on the pool and returns its value, like
    /// [`submit_wait`](Self::submit_wait).
    ///
    /// # Errors
    ///
    /// As for [`submit_wait`](Self::submit_wait), without the job.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::ThreadPool;
    ///
    /// let pool: ThreadPool = ThreadPool::new(2)?;
    /// let words = vec!["a", "bb", "ccc"];
    /// let total = pool.submit_wait_with(move || words.iter().map(|w| w.len()).sum::<usize>());
    /// assert_eq!(total, Ok(6));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_wait_with<R, F>(&self, f: F) -> Result<R, WaitError<()>>
    where
        J: FnJob,
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let slot: StdArc<std::sync::Mutex<Option<R>>> = StdArc::new(std::sync::Mutex::new(None));
        let out = slot.clone();
        let job = J::from_fn(move || {
            let value = f();
            *out.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
        });
        self.submit_wait(job).map_err(|error| error.map(drop))?;
        let value = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        // The job completed, so it stored its value before `submit_wait`
        // saw it complete.
        Ok(value.expect("this is a bug in taskring"))
    }

    /// Stops the pool and hands back every queued job that did not start.
    ///
    /// Submits fail with [`SubmitError::Stopped`] from now on, also those
    /// blocked in [`submit`](Self::submit); `submit_wait` callers whose job
    /// is handed back get [`WaitError::NotRun`]. Jobs already running
    /// finish. Does not join the threads: [`stop_wait`](Self::stop_wait)
    /// or `Drop` does. Idempotent; safe inside a job and an event handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::ThreadPool;
    ///
    /// let pool: ThreadPool<fn(), 8> = ThreadPool::new(1)?;
    /// pool.pause();
    /// pool.submit(|| {})?;
    /// assert_eq!(pool.stop().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "the jobs handed back have not run; dropping them loses them"]
    pub fn stop(&self) -> Vec<J> {
        let mut jobs = Vec::new();
        self.shared
            .pool
            .stop_with(|envelope| jobs.push(envelope.job));
        self.shared.room.notify_all();
        jobs
    }

    /// Stops accepting jobs, lets the workers run every queued job, then
    /// joins every worker thread.
    ///
    /// The caller does not run jobs itself, so no more than
    /// [`workers`](Self::workers) jobs ever run at once, also while
    /// stopping. A pause is lifted (once stopping, pause has no effect).
    /// Every concurrent caller returns after the threads have been joined.
    ///
    /// # Errors
    ///
    /// [`StopError::FromOwnJob`] from inside a job of this pool: the pool
    /// is closed, its workers finish the queue and exit, and a later
    /// `stop_wait` or `Drop` from outside joins them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
    /// use taskring::ThreadPool;
    ///
    /// let pool: ThreadPool = ThreadPool::new(2)?;
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..20 {
    ///     let done = done.clone();
    ///     pool.execute(move || {
    ///         done.fetch_add(1, Ordering::Relaxed);
    ///     })?;
    /// }
    /// pool.stop_wait()?;
    /// assert_eq!(done.load(Ordering::Relaxed), 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop_wait(&self) -> Result<(), StopError> {
        let shared = &*self.shared;
        shared.close();
        if shared.pool.in_own_job() {
            return Err(StopError::FromOwnJob);
        }
        self.join();
        Ok(())
    }

    /// Stops accepting jobs, lets the workers run queued jobs until
    /// `timeout` has passed, then hands back every job that has not
    /// started, and joins the threads.
    ///
    /// The same lossless contract as [`stop`](Self::stop): every job either
    /// ran or is in the returned [`Stopped::handed_back`]. Jobs already
    /// running when the deadline passes are not interrupted: the call
    /// returns once they have finished.
    ///
    /// # Errors
    ///
    /// [`StopError::FromOwnJob`] from inside a job of this pool (the pool
    /// is closed, as with `stop_wait`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskring::ThreadPool;
    ///
    /// let pool: ThreadPool = ThreadPool::new(1)?;
    /// pool.pause(); // Nothing starts: every job is still queued.
    /// for _ in 0..3 {
    ///     pool.execute(|| {})?;
    /// }
    /// // A stop lifts the pause, so the worker drains in time here.
    /// let stopped = pool.stop_timeout(Duration::from_secs(10))?;
    /// assert!(!stopped.timed_out);
    /// assert!(stopped.handed_back.is_empty());
    /// assert_eq!(pool.stats().completed, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop_timeout(&self, timeout: Duration) -> Result<Stopped<J>, StopError> {
        let deadline = Instant::now().checked_add(timeout);
        let shared = &*self.shared;
        shared.close();
        if shared.pool.in_own_job() {
            return Err(StopError::FromOwnJob);
        }
        let drained = shared.wait_drained(deadline);
        let mut handed_back = Vec::new();
        if !drained {
            handed_back = self.stop();
        }
        self.join();
        Ok(Stopped {
            handed_back,
            timed_out: !drained,
        })
    }

    /// Joins every worker thread (once; later callers wait for the first).
    fn join(&self) {
        let mut handles = self
            .handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for handle in handles.drain(..) {
            // Cannot be `Err`: job panics are caught inside the thread.
            let _ = handle.join();
        }
    }

    /// Pauses the pool: workers start no new job until
    /// [`resume`](Self::resume); submits still queue (and block once the
    /// queue is full). Returns at once, while running jobs finish; see
    /// [`pause_wait`](Self::pause_wait). No effect once the pool is
    /// stopping.
    pub fn pause(&self) {
        self.shared.pool.pause();
    }

    /// Pauses the pool and waits until no job is running (queued jobs stay
    /// queued).
    ///
    /// # Errors
    ///
    /// [`StopError::FromOwnJob`] from inside a job of this pool, which
    /// would wait for itself. The pool is paused all the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskring::ThreadPool;
    ///
    /// let pool: ThreadPool = ThreadPool::new(2)?;
    /// pool.execute(|| std::thread::sleep(Duration::from_millis(20)))?;
    /// pool.pause_wait()?;
    /// assert_eq!(pool.stats().running, 0);
    /// pool.resume();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pause_wait(&self) -> Result<(), StopError> {
        self.pause_until(None)
    }

    /// Like [`pause_wait`](Self::pause_wait), waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`StopError::TimedOut`] if jobs were still running at the deadline
    /// (the pool stays paused); [`StopError::FromOwnJob`] as for
    /// `pause_wait`.
    pub fn pause_wait_timeout(&self, timeout: Duration) -> Result<(), StopError> {
        self.pause_until(Instant::now().checked_add(timeout))
    }

    fn pause_until(&self, deadline: Option<Instant>) -> Result<(), StopError> {
        self.pause();
        if self.shared.pool.in_own_job() {
            return Err(StopError::FromOwnJob);
        }
        if self.shared.wait_quiescent(deadline) {
            Ok(())
        } else {
            Err(StopError::TimedOut)
        }
    }

    /// Waits until every job submitted before this call has finished (or
    /// was handed back by [`stop`](Self::stop)); the pool keeps accepting
    /// and running jobs meanwhile, like `threadpool`'s `join`.
    ///
    /// It never returns while a job submitted before the call runs; it may
    /// also wait for at most one later job per worker, one that a worker
    /// took while the earlier ones finished. A paused pool's queued jobs
    /// do not run, so waiting for them waits for [`resume`](Self::resume).
    ///
    /// # Errors
    ///
    /// [`StopError::FromOwnJob`] from inside a job of this pool, which
    /// would wait for itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
    /// use taskring::ThreadPool;
    ///
    /// let pool: ThreadPool = ThreadPool::new(2)?;
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..100 {
    ///     let done = done.clone();
    ///     pool.execute(move || {
    ///         done.fetch_add(1, Ordering::Relaxed);
    ///     })?;
    /// }
    /// pool.wait_idle()?;
    /// assert_eq!(done.load(Ordering::Relaxed), 100);
    /// pool.execute(|| {})?; // Still accepting.
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_idle(&self) -> Result<(), StopError> {
        self.wait_idle_until(None)
    }

    /// Like [`wait_idle`](Self::wait_idle), waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`StopError::TimedOut`] if earlier jobs were still queued or
    /// running at the deadline; [`StopError::FromOwnJob`] as for
    /// `wait_idle`.
    pub fn wait_idle_timeout(&self, timeout: Duration) -> Result<(), StopError> {
        self.wait_idle_until(Instant::now().checked_add(timeout))
    }

    fn wait_idle_until(&self, deadline: Option<Instant>) -> Result<(), StopError> {
        if self.shared.pool.in_own_job() {
            return Err(StopError::FromOwnJob);
        }
        if self.shared.wait_idle(deadline) {
            Ok(())
        } else {
            Err(StopError::TimedOut)
        }
    }

    /// Lifts a [`pause`](Self::pause) and wakes the workers.
    pub fn resume(&self) {
        self.shared.pool.resume();
    }

    /// True while paused (and not stopping).
    pub fn is_paused(&self) -> bool {
        self.shared.pool.is_paused()
    }

    /// True once [`stop`](Self::stop) or [`stop_wait`](Self::stop_wait)
    /// has been called.
    pub fn is_stopped(&self) -> bool {
        self.shared.pool.is_stopped()
    }

    /// True between an overload and the next recovery (see
    /// [`Builder::watermarks`]).
    pub fn is_overloaded(&self) -> bool {
        self.shared.pool.is_overloaded()
    }

    /// Jobs queued now.
    pub fn queued(&self) -> usize {
        self.shared.pool.queued()
    }

    /// The queue capacity, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.counters.len()
    }

    /// A snapshot of the pool's counters; `max_wait` and `lag` are in
    /// nanoseconds, and 0 unless [`Builder::lag_metrics`] turned them on.
    /// See [`Stats`].
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.pool.stats_with(&self.shared.counters)
    }
}

/// Unwraps the job from a submit error about an envelope.
fn unwrap_error<J>(error: SubmitError<Envelope<J>>) -> SubmitError<J> {
    match error {
        SubmitError::Full(envelope) => SubmitError::Full(envelope.job),
        SubmitError::Busy(envelope) => SubmitError::Busy(envelope.job),
        SubmitError::Stopped(envelope) => SubmitError::Stopped(envelope.job),
    }
}

// A panic while a caller holds `&ThreadPool` leaves no broken state: every
// shared field is an atomic, a lock that recovers from poisoning, or a
// handler that is only called.
impl<J: Job + 'static, const N: usize> core::panic::UnwindSafe for ThreadPool<J, N> {}
impl<J: Job + 'static, const N: usize> core::panic::RefUnwindSafe for ThreadPool<J, N> {}

impl<J: Job + 'static, const N: usize> Drop for ThreadPool<J, N> {
    /// [`stop_wait`](ThreadPool::stop_wait): runs the queue and joins every
    /// thread. From inside one of its own jobs, detaches instead (see the
    /// [module docs](self)): the pool is closed, and the handles are
    /// dropped with `self`.
    fn drop(&mut self) {
        let _ = self.stop_wait();
    }
}

impl<J: Job + 'static, const N: usize> fmt::Debug for ThreadPool<J, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("capacity", &N)
            .field("workers", &self.workers())
            .field("stopped", &self.is_stopped())
            .field("paused", &self.is_paused())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What [`ThreadPool::stop_timeout`] did.
#[derive(Debug)]
#[must_use = "the jobs handed back have not run; dropping them loses them"]
#[non_exhaustive]
pub struct Stopped<J> {
    /// The jobs that had not started when the deadline passed (empty if
    /// the queue drained in time).
    pub handed_back: Vec<J>,
    /// True if the deadline passed before the queue drained.
    pub timed_out: bool,
}
