//! A pool of OS threads over a [`Pool`]: parked idle workers, blocking
//! back-pressure, submit-and-wait, panic isolation and synchronous
//! shutdown. Needs the `std` feature.
//!
//! ```
//! use taskring::{thread_pool::ThreadPool, Task};
//!
//! // 256 queued jobs at most, 4 worker threads.
//! let pool: ThreadPool<Task, 256, 4> = ThreadPool::new();
//! for i in 0..1000 {
//!     // Blocks while 256 jobs are queued, until a worker frees a slot.
//!     pool.submit(Task::new(move || { std::hint::black_box(i * 2); })).unwrap();
//! }
//! let answer = pool.submit_wait_with(|| 6 * 7).unwrap();
//! assert_eq!(answer, 42);
//! pool.stop_wait().unwrap(); // Runs what is queued, then joins the threads.
//! assert_eq!(pool.stats().completed, 1001);
//! ```
//!
//! # Waking idle workers
//!
//! A worker that finds no job backs off (spins, then yields), announces
//! itself in the pool's bitmask of sleepers, issues a `SeqCst` fence,
//! checks the queue once more and then parks. A submit publishes its job,
//! issues a `SeqCst` fence, reads the bitmask, claims one sleeper's bit
//! with an atomic read-modify-write and unparks that one thread. Either the
//! worker's re-check sees the job, or the submit sees the worker's bit;
//! park tokens are sticky, so an unpark that lands before `park` is not
//! lost. A pool with no work therefore uses no CPU once its workers have
//! parked, and a submit wakes at most one thread, only if one is parked.
//! Stop, resume and detach change the pool's state and then unpark every
//! worker. The loom models in `loom-tests/thread_pool.rs` check these
//! hand-offs, and a `--cfg taskring_mutant="park"` build, which skips the
//! worker's re-check, must fail them.
//!
//! # Back-pressure
//!
//! [`submit`](ThreadPool::submit) blocks while the queue is full: it backs
//! off, then waits on a condition variable until a worker frees a slot.
//! The same fence pairing as above (the worker's pop and fence, then a
//! look at the count of waiting submitters; the submitter's registration
//! and fence, then one more try) means a freed slot is never missed.
//! [`stop`](ThreadPool::stop) wakes every blocked submitter with
//! [`SubmitError::Stopped`].
//!
//! # Inside a job
//!
//! A job may use its own pool, with these rules, so that no worker ever
//! waits for itself:
//!
//! - `try_submit` and `stop` work as usual.
//! - `submit` and `submit_timeout` never block: a full queue returns
//!   [`SubmitError::Full`] at once.
//! - `submit_wait` and `submit_wait_with` return [`WaitError::FromOwnJob`].
//! - `stop_wait` returns [`StopError::FromOwnJob`]: the pool is closed, its
//!   workers finish the queue and then exit; a later `stop_wait` or `Drop`
//!   from outside joins them.
//! - Dropping the pool (say, the job held the last `Arc` of it) detaches:
//!   the pool is closed, the workers finish the queue and exit on their
//!   own, and nobody joins them.
//!
//! # Static pools
//!
//! A server can keep one [`Pool`] in a `static` and serve it with threads
//! from [`Pool::spawn_workers`]; see [`thread_config`].

use alloc::{boxed::Box, string::String, vec::Vec};
use core::{any::Any, fmt, time::Duration};
use std::{io, time::Instant};

use crate::{
    loom::sync::{Arc, Builder as ThreadBuilder, JoinHandle, Mutex},
    Config, Job, OverloadEvent, Pool, Stats, StopError, SubmitError,
};

mod shared;
mod statics;
mod wait;

pub use self::{
    shared::PanicPolicy,
    statics::{thread_config, wake_worker, Workers},
    wait::{FnJob, WaitError},
};
use self::{
    shared::{Envelope, Settings, Shared},
    wait::{Done, Ended, Notify},
};

/// A fixed-capacity pool of `W` OS threads running jobs of type `J` from a
/// queue of `N`.
///
/// Built on [`Pool`], so the queue is a bounded ring with no allocation per
/// job (a [`submit_wait`](Self::submit_wait) allocates one small signal).
/// See the [module docs](self) for the wake-up protocol and the rules for
/// calls made from inside a job. Queue waits and lag in
/// [`stats`](Self::stats) are in nanoseconds.
///
/// Dropping the pool is [`stop_wait`](Self::stop_wait): queued jobs run,
/// and every thread has been joined when `drop` returns.
///
/// `W` may be 0: the pool then starts no thread and runs its queue only in
/// `stop_wait`, on the caller (a blocking submit into its full queue waits
/// until `stop`).
pub struct ThreadPool<J: Job + 'static, const N: usize, const W: usize> {
    shared: Arc<Shared<J, N, W>>,
    /// Taken and joined by the first `stop_wait`; the lock is held while
    /// joining, so a concurrent `stop_wait` returns only after the join.
    handles: Mutex<Vec<JoinHandle<()>>>,
}

// === impl ThreadPool ===

impl<J: Job + 'static, const N: usize, const W: usize> ThreadPool<J, N, W> {
    /// Starts a pool with the default settings: threads named
    /// `taskring-worker-{i}`, panics isolated and counted.
    ///
    /// # Panics
    ///
    /// If a thread cannot be started; use [`builder`](Self::builder) and
    /// [`Builder::build`] to get the error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool: taskring::thread_pool::ThreadPool<fn(), 16, 2> =
    ///     taskring::thread_pool::ThreadPool::new();
    /// pool.submit(|| {}).unwrap();
    /// ```
    pub fn new() -> Self {
        Self::builder()
            .build()
            .expect("taskring: could not start a worker thread")
    }

    /// A [`Builder`] for a pool with custom settings.
    pub fn builder() -> Builder<J, N, W> {
        Builder::new()
    }

    /// Queues `job`, waiting while the queue is full.
    ///
    /// Waits by backing off briefly and then parking until a worker frees
    /// a slot. From inside a job of this pool it never waits (see the
    /// [module docs](self)).
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
    /// use taskring::{thread_pool::ThreadPool, SubmitError};
    ///
    /// let pool: ThreadPool<fn(), 1, 1> = ThreadPool::new();
    /// for _ in 0..10 {
    ///     pool.submit(|| {}).unwrap(); // One slot: each waits for the last.
    /// }
    /// let _ = pool.stop();
    /// assert!(matches!(pool.submit(|| {}), Err(SubmitError::Stopped(_))));
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
    /// use taskring::{thread_pool::ThreadPool, SubmitError};
    ///
    /// // No worker threads: nothing runs, so the queue stays full.
    /// let pool: ThreadPool<fn(), 1, 0> = ThreadPool::new();
    /// pool.submit(|| {}).unwrap();
    /// let late = pool.submit_timeout(|| {}, Duration::from_millis(10));
    /// assert!(matches!(late, Err(SubmitError::Full(_))));
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
    /// use taskring::thread_pool::{ThreadPool, WaitError};
    ///
    /// let pool: ThreadPool<fn(), 8, 2> = ThreadPool::new();
    /// assert_eq!(pool.submit_wait(|| {}), Ok(()));
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// assert!(matches!(pool.submit_wait(|| panic!("boom")), Err(WaitError::Panicked)));
    /// pool.stop_wait().unwrap();
    /// assert_eq!(pool.stats().panicked, 1);
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
    /// The job wraps `f` and a pointer to the result: with `J = Task<WORDS>`
    /// the closure must fit in `WORDS - 1` words (checked at compile time);
    /// `Box<dyn FnOnce() + Send>` takes any closure.
    ///
    /// # Errors
    ///
    /// As for [`submit_wait`](Self::submit_wait), without the job.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::thread_pool::ThreadPool;
    ///
    /// let pool: ThreadPool<Box<dyn FnOnce() + Send>, 8, 2> = ThreadPool::new();
    /// let words = vec!["a", "bb", "ccc"];
    /// let total = pool.submit_wait_with(move || words.iter().map(|w| w.len()).sum::<usize>());
    /// assert_eq!(total, Ok(6));
    /// ```
    pub fn submit_wait_with<R, F>(&self, f: F) -> Result<R, WaitError<()>>
    where
        J: FnJob,
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let slot: Arc<Mutex<Option<R>>> = Arc::new(Mutex::new(None));
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
    /// or `Drop` does. Idempotent; safe inside a job.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::thread_pool::ThreadPool;
    ///
    /// let pool: ThreadPool<fn(), 8, 0> = ThreadPool::new(); // No workers.
    /// pool.submit(|| {}).unwrap();
    /// assert_eq!(pool.stop().len(), 1);
    /// ```
    pub fn stop(&self) -> Vec<J> {
        let mut jobs = Vec::new();
        self.shared
            .pool
            .stop_with(|envelope| jobs.push(envelope.job));
        self.shared.wake_all();
        self.shared.room.notify_all();
        jobs
    }

    /// Stops accepting jobs, runs every queued job, waits for the running
    /// ones, then joins every worker thread. A pause is lifted first.
    ///
    /// The caller helps run the queue. Every concurrent caller returns
    /// after the threads have been joined.
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
    /// use taskring::{thread_pool::ThreadPool, Task};
    ///
    /// let pool: ThreadPool<Task, 8, 2> = ThreadPool::new();
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..20 {
    ///     let done = done.clone();
    ///     pool.submit(Task::new(move || {
    ///         done.fetch_add(1, Ordering::Relaxed);
    ///     }))
    ///     .unwrap();
    /// }
    /// pool.stop_wait().unwrap();
    /// assert_eq!(done.load(Ordering::Relaxed), 20);
    /// ```
    pub fn stop_wait(&self) -> Result<(), StopError> {
        let shared = &*self.shared;
        if shared.pool.in_own_job() {
            shared.pool.close();
            self.resume();
            shared.room.notify_all();
            return Err(StopError::FromOwnJob);
        }
        // Wake the workers first, so that they help drain a paused queue.
        shared.pool.close();
        self.resume();
        shared.room.notify_all();
        let result = shared.pool.stop_wait_with(|envelope| shared.exec(envelope));
        shared.wake_all();
        let mut handles = self
            .handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for handle in handles.drain(..) {
            // Cannot be `Err`: job panics are caught inside the thread.
            let _ = handle.join();
        }
        result
    }

    /// Pauses the pool: workers start no new job until
    /// [`resume`](Self::resume); submits still queue (and block once the
    /// queue is full).
    pub fn pause(&self) {
        self.shared.pool.pause();
    }

    /// Lifts a [`pause`](Self::pause) and wakes the workers.
    pub fn resume(&self) {
        self.shared.pool.resume();
        self.shared.wake_all();
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.shared.pool.is_paused()
    }

    /// True once [`stop`](Self::stop) or [`stop_wait`](Self::stop_wait)
    /// has been called.
    pub fn is_stopped(&self) -> bool {
        self.shared.pool.is_stopped()
    }

    /// True between an overload and the next recovery (see
    /// [`Builder::on_overload`]).
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

    /// The number of worker threads, `W`.
    pub const fn workers(&self) -> usize {
        W
    }

    /// A snapshot of the pool's counters; `max_wait` and `lag` are in
    /// nanoseconds. See [`Stats`].
    pub fn stats(&self) -> Stats {
        self.shared.pool.stats()
    }

    /// Closes the pool from inside one of its jobs and lets the workers
    /// finish the queue and exit on their own.
    fn detach(&self) {
        self.shared.pool.close();
        self.resume();
        self.shared.room.notify_all();
        // The handles are dropped with `self`: the threads are detached.
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

impl<J: Job + 'static, const N: usize, const W: usize> Default for ThreadPool<J, N, W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<J: Job + 'static, const N: usize, const W: usize> Drop for ThreadPool<J, N, W> {
    /// [`stop_wait`](ThreadPool::stop_wait): runs the queue and joins every
    /// thread. From inside one of its own jobs, detaches instead (see the
    /// [module docs](self)).
    fn drop(&mut self) {
        if self.shared.pool.in_own_job() {
            self.detach();
        } else {
            let _ = self.stop_wait();
        }
    }
}

impl<J: Job + 'static, const N: usize, const W: usize> fmt::Debug for ThreadPool<J, N, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("capacity", &N)
            .field("workers", &W)
            .field("stopped", &self.is_stopped())
            .field("paused", &self.is_paused())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Settings for a [`ThreadPool`], from [`ThreadPool::builder`].
///
/// # Examples
///
/// ```
/// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
/// use taskring::{thread_pool::{PanicPolicy, ThreadPool}, Task};
///
/// let panics = Arc::new(AtomicUsize::new(0));
/// let seen = panics.clone();
/// let pool = ThreadPool::<Task, 64, 2>::builder()
///     .name_prefix("session-")
///     .stack_size(256 * 1024)
///     .panic_policy(PanicPolicy::Isolate)
///     .on_panic(move |_payload| {
///         seen.fetch_add(1, Ordering::Relaxed);
///     })
///     .on_overload(48, 16, |event| eprintln!("{event:?}"))
///     .build()
///     .unwrap();
/// # std::panic::set_hook(Box::new(|_| {}));
/// pool.submit(Task::new(|| panic!("boom"))).unwrap();
/// pool.stop_wait().unwrap();
/// assert_eq!(panics.load(Ordering::Relaxed), 1);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<J, const N: usize, const W: usize> {
    settings: Settings,
    stack_size: Option<usize>,
    watermarks: Option<(usize, usize)>,
    _jobs: core::marker::PhantomData<fn(J)>,
}

impl<J: Job + 'static, const N: usize, const W: usize> Builder<J, N, W> {
    fn new() -> Self {
        Self {
            settings: Settings {
                policy: PanicPolicy::Isolate,
                on_panic: None,
                on_overload: None,
                on_thread_start: None,
                on_thread_stop: None,
                name_prefix: String::from("taskring-worker-"),
            },
            stack_size: None,
            watermarks: None,
            _jobs: core::marker::PhantomData,
        }
    }

    /// Names the threads `{prefix}{i}` (default `taskring-worker-`).
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.name_prefix = prefix.into();
        self
    }

    /// The stack size of each worker thread, in bytes (default: std's).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// What a job's panic does; see [`PanicPolicy`].
    pub fn panic_policy(mut self, policy: PanicPolicy) -> Self {
        self.settings.policy = policy;
        self
    }

    /// Calls `handler` with the payload of each panicking job, on the
    /// worker thread. A panic inside `handler` is caught and ignored.
    pub fn on_panic(
        mut self,
        handler: impl Fn(Box<dyn Any + Send>) + Send + Sync + 'static,
    ) -> Self {
        self.settings.on_panic = Some(Box::new(handler));
        self
    }

    /// Reports overload: `handler` gets [`OverloadEvent::Overloaded`] when
    /// the queue depth reaches `high`, then [`OverloadEvent::Recovered`]
    /// once it falls to `low` or below, from whichever submitter or worker
    /// noticed. A panic inside `handler` is caught and ignored.
    ///
    /// # Panics
    ///
    /// If `low >= high`.
    pub fn on_overload(
        mut self,
        high: usize,
        low: usize,
        handler: impl Fn(OverloadEvent) + Send + Sync + 'static,
    ) -> Self {
        assert!(
            low < high,
            "taskring: the low watermark must be below the high watermark"
        );
        self.watermarks = Some((high, low));
        self.settings.on_overload = Some(Box::new(handler));
        self
    }

    /// Calls `hook(i)` on worker thread `i` when it starts.
    pub fn on_thread_start(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.settings.on_thread_start = Some(Box::new(hook));
        self
    }

    /// Calls `hook(i)` on worker thread `i` just before it exits.
    pub fn on_thread_stop(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.settings.on_thread_stop = Some(Box::new(hook));
        self
    }

    /// Starts the pool's `W` threads.
    ///
    /// # Errors
    ///
    /// The error from [`std::thread::Builder::spawn`]; the threads already
    /// started are stopped and joined first.
    pub fn build(self) -> io::Result<ThreadPool<J, N, W>> {
        let config = match self.watermarks {
            Some((high, low)) => Config::new().watermarks(high, low),
            None => Config::new(),
        };
        let prefix = self.settings.name_prefix.clone();
        let shared = Arc::new(Shared::new(Pool::with_config(config), self.settings));
        let pool = ThreadPool {
            shared,
            handles: Mutex::new(Vec::with_capacity(W)),
        };
        for index in 0..W {
            let mut builder = ThreadBuilder::new().name(alloc::format!("{prefix}{index}"));
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            let shared = pool.shared.clone();
            let spawned =
                builder.spawn(move || shared.run_worker(index, crate::loom::sync::current()));
            match spawned {
                Ok(handle) => pool
                    .handles
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(handle),
                // Dropping `pool` stops and joins what was started.
                Err(error) => return Err(error),
            }
        }
        Ok(pool)
    }
}

impl<J, const N: usize, const W: usize> fmt::Debug for Builder<J, N, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name_prefix", &self.settings.name_prefix)
            .field("stack_size", &self.stack_size)
            .field("policy", &self.settings.policy)
            .field("watermarks", &self.watermarks)
            .finish_non_exhaustive()
    }
}
