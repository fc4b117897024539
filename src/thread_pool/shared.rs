//! What a [`ThreadPool`](super::ThreadPool)'s handle and its threads share:
//! the [`Pool`], the thread environment that parks and wakes workers, the
//! room where blocked submitters wait, and the job runner that catches
//! panics.

use alloc::{boxed::Box, collections::VecDeque, vec::Vec};
use core::{any::Any, fmt, panic::AssertUnwindSafe, task::Waker, time::Duration};
use std::{panic::catch_unwind, time::Instant};

use crate::ring::CachePadded;

use super::{
    builder::{EventHandler, PanicPolicy, Settings},
    wait::Notify,
};
use crate::{
    loom::{
        load_sc,
        sync::{Condvar, Mutex, MutexGuard},
        AtomicUsize, Backoff, Ordering, THREAD_POOL_CLOCK,
    },
    pool::{stats::RunCounters, Outcome},
    Config, Env, Idle, Job, Pool, PoolEvent, SubmitError,
};

/// What the ring holds: the job and, for `submit_wait`, the signal to
/// raise once it has run.
pub(crate) struct Envelope<J> {
    pub(crate) job: J,
    pub(crate) done: Option<Notify>,
}

/// The thread pool's [`Env`]: a clock, parking and waking threads, and the
/// user's event handler.
///
/// Idle workers wait on one condition variable for *tokens*. A wake-up
/// adds a token and notifies one waiter; a waiter takes a token and
/// returns. A token that arrives before its worker waits is kept, so no
/// wake-up is lost between a worker's re-check and its wait. Tokens are
/// capped at the number of workers: a stale one costs a worker one more
/// pass through its loop.
pub(crate) struct ThreadEnv {
    tokens: Mutex<usize>,
    cond: Condvar,
    workers: usize,
    /// Whether jobs are stamped with the time (lag metrics).
    clock: bool,
    epoch: Instant,
    on_event: Option<EventHandler>,
}

impl ThreadEnv {
    pub(crate) fn new(workers: usize, clock: bool, on_event: Option<EventHandler>) -> Self {
        Self {
            tokens: Mutex::new(0),
            cond: Condvar::new(),
            workers,
            clock: clock && THREAD_POOL_CLOCK,
            epoch: Instant::now(),
            on_event,
        }
    }

    fn tokens(&self) -> MutexGuard<'_, usize> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a token.
    fn park(&self) {
        let mut tokens = self.tokens();
        while *tokens == 0 {
            tokens = self
                .cond
                .wait(tokens)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *tokens -= 1;
    }
}

impl Env for ThreadEnv {
    /// Nanoseconds since the pool started; 0 when lag metrics are off.
    type Stamp = u64;

    #[inline]
    fn now(&self) -> u64 {
        if self.clock {
            u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
        } else {
            0
        }
    }

    #[inline]
    fn ticks(&self, stamp: u64) -> u64 {
        stamp
    }

    #[inline]
    fn has_clock(&self) -> bool {
        self.clock
    }

    fn wake(&self) {
        let mut tokens = self.tokens();
        *tokens = (*tokens + 1).min(self.workers);
        drop(tokens);
        self.cond.notify_one();
    }

    fn wake_all(&self) {
        *self.tokens() = self.workers;
        self.cond.notify_all();
    }

    fn on_event(&self, event: PoolEvent) {
        if let Some(handler) = &self.on_event {
            // A panicking handler must not take a submitter or worker down.
            let _ = catch_unwind(AssertUnwindSafe(|| handler(event)));
        }
    }
}

impl fmt::Debug for ThreadEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadEnv")
            .field("workers", &self.workers)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// The idle strategy of the pool's threads: wait for a token.
struct ParkIdle<'a>(&'a ThreadEnv);

impl Idle for ParkIdle<'_> {
    fn idle(&mut self, _worker: usize) {
        self.0.park();
    }
}

/// Everything the pool's handle and its worker threads share.
pub(crate) struct Shared<J, const N: usize> {
    /// The queue and its state. The pool's own `W` is 0: the threads'
    /// counters are in `counters`, one per thread.
    pub(crate) pool: Pool<Envelope<J>, N, 0, ThreadEnv>,
    pub(crate) counters: Box<[CachePadded<RunCounters>]>,
    pub(crate) room: Room,
    pub(crate) settings: Settings,
}

// === impl Shared ===

impl<J: Job, const N: usize> Shared<J, N> {
    pub(crate) fn new(config: Config, env: ThreadEnv, settings: Settings) -> Self {
        let workers = env.workers;
        Self {
            pool: Pool::with_env(config, env),
            counters: (0..workers)
                .map(|_| CachePadded::new(RunCounters::new()))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
            room: Room::new(),
            settings,
        }
    }

    /// One submit attempt, counting a refusal.
    pub(crate) fn try_submit(&self, envelope: Envelope<J>) -> Result<(), SubmitError<Envelope<J>>> {
        self.pool.try_submit(envelope)
    }

    /// Submits `envelope`, waiting while the queue is full: first backing
    /// off (spin, then yield), then parking in the [`Room`] until a worker
    /// frees a slot, `stop` is called, or `deadline` passes. Only the
    /// refusal it returns is counted.
    ///
    /// # Errors
    ///
    /// `Stopped` once the pool is stopped; `Full` when `deadline` passed,
    /// or at once from inside a job of this pool (where waiting for a
    /// worker could wait forever).
    pub(crate) fn submit_blocking(
        &self,
        mut envelope: Envelope<J>,
        deadline: Option<Instant>,
    ) -> Result<(), SubmitError<Envelope<J>>> {
        let backoff = Backoff::new();
        loop {
            let busy;
            (envelope, busy) = match self.pool.submit(envelope) {
                Ok(()) => return Ok(()),
                Err(SubmitError::Full(back)) => (back, false),
                Err(SubmitError::Busy(back)) => (back, true),
                Err(stopped @ SubmitError::Stopped(_)) => return Err(self.refuse(stopped)),
            };
            if self.pool.in_own_job() || deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(self.refuse(SubmitError::Full(envelope)));
            }
            // Busy: another context is mid-operation on our slot, which the
            // room counts as free, so waiting there would return at once:
            // back off instead, which yields once the spins are used up, so
            // that a preempted thread gets to finish. Full: a few spins and
            // yields, then wait in the room for a freed slot.
            if busy || !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            self.room.wait(|| self.has_room(), deadline);
        }
    }

    /// Counts a refusal that goes back to the caller.
    pub(crate) fn refuse(&self, error: SubmitError<Envelope<J>>) -> SubmitError<Envelope<J>> {
        self.pool.count_rejection(&error);
        error
    }

    /// True if a submit may succeed now: the queue has room, or the pool
    /// is stopped (the submit then fails at once).
    pub(crate) fn has_room(&self) -> bool {
        self.pool.has_room() || self.pool.is_stopped()
    }

    /// Runs one job on a worker, right after it left the queue: tells
    /// blocked submitters that a slot is free, runs the job with its panic
    /// caught, and reports to its waiter. The one place a job's panic is
    /// caught.
    pub(crate) fn run_catching(&self, envelope: Envelope<J>) -> Outcome {
        self.room.slot_freed(|| {
            let queued = self.pool.queued();
            (queued <= N / 2).then(|| N - queued)
        });
        let Envelope { job, done } = envelope;
        // The job's captures are dropped inside `run`, so a panicking
        // `Drop` of a capture is caught here too.
        let result = catch_unwind(AssertUnwindSafe(move || job.run()));
        let panicked = result.is_err();
        if let Err(payload) = result {
            self.panicked(payload);
        }
        if let Some(done) = done {
            done.finish(panicked);
        }
        if panicked {
            Outcome::Panicked
        } else {
            Outcome::Completed
        }
    }

    /// Applies the panic policy to one job's panic payload.
    fn panicked(&self, payload: Box<dyn Any + Send>) {
        let handled = catch_unwind(AssertUnwindSafe(|| match &self.settings.on_panic {
            Some(handler) => handler(payload),
            None => drop(payload),
        }));
        // A handler that panics, or a payload whose `Drop` panics: drop
        // that second payload too, and leak a third rather than loop.
        if let Err(again) = handled {
            if let Err(third) = catch_unwind(AssertUnwindSafe(move || drop(again))) {
                core::mem::forget(third);
            }
        }
        if self.settings.policy == PanicPolicy::Abort {
            std::eprintln!("taskring: a job panicked and the panic policy is Abort");
            std::process::abort();
        }
    }

    /// The body of worker thread `index`.
    pub(crate) fn run_worker(&self, index: usize) {
        if let Some(hook) = &self.settings.on_thread_start {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(index)));
        }
        self.pool.worker_loop(
            index,
            &self.counters[index],
            &mut ParkIdle(self.pool.env()),
            |envelope| self.run_catching(envelope),
        );
        if let Some(hook) = &self.settings.on_thread_stop {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(index)));
        }
    }

    /// Closes the pool and wakes every worker and blocked submitter: the
    /// workers drain the queue and exit.
    pub(crate) fn close(&self) {
        self.pool.close();
        self.pool.wake_all();
        self.room.notify_all();
    }

    /// Waits until the queue is empty, or until `deadline`. Returns false
    /// on timeout.
    pub(crate) fn wait_drained(&self, deadline: Option<Instant>) -> bool {
        self.wait_for(deadline, || self.pool.queued() == 0)
    }

    /// Waits until no worker holds a job, or until `deadline`. Returns false
    /// on timeout.
    pub(crate) fn wait_quiescent(&self, deadline: Option<Instant>) -> bool {
        self.wait_for(deadline, || self.pool.is_quiescent(&self.counters))
    }

    /// Waits until every job submitted before the call has finished or
    /// was handed back, or until `deadline`. Returns false on timeout.
    ///
    /// First until the queue has been drained up to the call's position;
    /// then, for every worker that was active at that point, until it has
    /// finished a job or gone idle. So it may also wait for one job per
    /// worker that was submitted after the call, but never returns while
    /// an earlier job runs.
    pub(crate) fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        let mark = self.pool.push_mark();
        if !self.wait_for(deadline, || self.pool.popped_to(mark)) {
            return false;
        }
        let before: Vec<(bool, usize)> = self.pool.activity(&self.counters).collect();
        self.wait_for(deadline, || {
            self.pool.activity(&self.counters).zip(&before).all(
                |((active, finished), &(was_active, had_finished))| {
                    !was_active || !active || finished != had_finished
                },
            )
        })
    }

    /// Waits until `done()`, or until `deadline`: backs off, then sleeps
    /// in short steps. Returns false on timeout.
    fn wait_for(&self, deadline: Option<Instant>, done: impl Fn() -> bool) -> bool {
        let backoff = Backoff::new();
        while !done() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            if backoff.is_completed() {
                std::thread::sleep(Duration::from_micros(50));
            } else {
                backoff.snooze();
            }
        }
        true
    }
}

/// Where blocked submitters wait for a free slot: threads in
/// [`submit`](super::ThreadPool::submit) on a condition variable, tasks in
/// [`submit_async`](super::ThreadPool::submit_async) as wakers in a queue.
///
/// A submitter takes `lock`, registers (a thread adds itself to
/// `threads`, a task puts its waker in `tasks`) and adds one to `waiting`
/// (`SeqCst`), issues a `SeqCst` fence and looks for room once more; then a
/// thread waits on `cond`, which releases `lock`, and a task returns
/// `Pending`. A worker frees a slot (its pop, a `SeqCst` CAS on the ring's
/// head) and reads `waiting` with a `SeqCst` load. In the single `SeqCst`
/// order either the submitter's look comes after the pop and sees the
/// room, or the worker's load comes after the registration and sees the
/// waiter; it then takes `lock` (so a waiting thread is already inside
/// `wait`), takes out as many task wakers as there are free slots, notifies
/// one thread, and wakes the tasks once it let go of the lock. A worker
/// that finds nobody waiting pays that one load per job.
///
/// A task's waker leaves the queue when it is woken; the task's next poll
/// sees that and registers again if the queue is still full. A task
/// dropped after its wake-up, before it used it, passes the wake-up on.
/// No user code runs while `lock` is held: submitters only look for room
/// (they push after they let go), and wakers are woken outside it. `stop`
/// notifies every thread and wakes every task after closing the queue.
pub(crate) struct Room {
    waiting: AtomicUsize,
    lock: Mutex<Waiters>,
    cond: Condvar,
}

/// The waiters registered in a [`Room`], under its lock.
#[derive(Default)]
struct Waiters {
    /// Threads waiting on the condition variable.
    threads: usize,
    /// Tasks waiting for room, oldest first, each under its key.
    tasks: VecDeque<(u64, Waker)>,
    /// The next task's key.
    next_key: u64,
}

impl Waiters {
    fn position(&self, key: u64) -> Option<usize> {
        self.tasks.iter().position(|&(k, _)| k == key)
    }
}

impl Room {
    fn new() -> Self {
        Self {
            waiting: AtomicUsize::new(0),
            lock: Mutex::new(Waiters::default()),
            cond: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Called by a worker right after each pop. Once `roomy()` says the
    /// queue is at most half full (with how many slots are free), wakes one
    /// waiting thread and up to that many waiting tasks, so that each
    /// wake-up lets a submitter queue a batch of jobs instead of one. A
    /// queue above half full is still being drained by the workers, and a
    /// later pop wakes the submitters; the last pop of a queue always
    /// finds it roomy.
    #[inline]
    pub(crate) fn slot_freed(&self, roomy: impl FnOnce() -> Option<usize>) {
        // SeqCst load: see the type's docs.
        if load_sc(&self.waiting) != 0 {
            if let Some(free) = roomy() {
                self.wake(free, false);
            }
        }
    }

    /// Wakes every waiting thread and task (after `stop` closed the queue).
    pub(crate) fn notify_all(&self) {
        self.wake(usize::MAX, true);
    }

    /// Takes up to `tasks` task wakers out of the queue, notifies one
    /// waiting thread (every one with `all`), and wakes the tasks after
    /// letting go of the lock.
    #[cold]
    fn wake(&self, tasks: usize, all: bool) {
        /// Wakers woken per round, so that no allocation is needed.
        const ROUND: usize = 8;
        let mut left = tasks;
        loop {
            let mut wakers: [Option<Waker>; ROUND] = Default::default();
            let mut guard = self.lock();
            let threads = guard.threads != 0;
            let mut taken = 0;
            while taken < ROUND && taken < left {
                let Some((_, waker)) = guard.tasks.pop_front() else {
                    break;
                };
                wakers[taken] = Some(waker);
                taken += 1;
            }
            let more = taken == ROUND && !guard.tasks.is_empty();
            drop(guard);
            // The tasks taken out are no longer registered.
            self.waiting.fetch_sub(taken, Ordering::Relaxed);
            if threads && left == tasks {
                if all {
                    self.cond.notify_all();
                } else {
                    self.cond.notify_one();
                }
            }
            for waker in wakers.into_iter().flatten() {
                waker.wake();
            }
            left = left.saturating_sub(taken);
            if !more || left == 0 {
                return;
            }
        }
    }

    /// Registers, looks for room once more with `has_room`, and if there
    /// is none waits for a notification (or until `deadline`).
    fn wait(&self, has_room: impl FnOnce() -> bool, deadline: Option<Instant>) {
        let mut guard = self.lock();
        guard.threads += 1;
        // SeqCst: see the type's docs.
        self.waiting.fetch_add(1, Ordering::SeqCst);
        crate::loom::fence(Ordering::SeqCst);
        let mut timed_out = false;
        if !has_room() {
            guard = match deadline {
                None => self
                    .cond
                    .wait(guard)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let (guard, timeout) = self
                        .cond
                        .wait_timeout(guard, left.max(Duration::from_nanos(1)))
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    timed_out = timeout.timed_out();
                    guard
                }
            };
        }
        guard.threads -= 1;
        drop(guard);
        let still_waiting = self.waiting.fetch_sub(1, Ordering::Relaxed) - 1;
        // A notification meant for a free slot may have woken us just as
        // we timed out; pass it on so that another waiter gets the slot.
        if timed_out && still_waiting != 0 {
            self.wake(1, false);
        }
    }

    /// Registers the task with `waker` under `*key` (a new key if it has
    /// none, or if its registration was taken by a wake-up), then issues
    /// the fence after which the caller looks for room once more.
    pub(crate) fn register(&self, key: &mut Option<u64>, waker: &Waker) {
        let mut guard = self.lock();
        match key.and_then(|k| guard.position(k)) {
            Some(at) => {
                let stored = &mut guard.tasks[at].1;
                if !stored.will_wake(waker) {
                    stored.clone_from(waker);
                }
            }
            None => {
                let k = guard.next_key;
                guard.next_key = k.wrapping_add(1);
                guard.tasks.push_back((k, waker.clone()));
                *key = Some(k);
                // SeqCst: see the type's docs.
                self.waiting.fetch_add(1, Ordering::SeqCst);
            }
        }
        drop(guard);
        // SeqCst fence: see the type's docs.
        crate::loom::fence(Ordering::SeqCst);
    }

    /// Ends the registration under `key`, if any. Returns true if a
    /// wake-up had already taken it (the task was woken and has not looked
    /// since).
    pub(crate) fn unregister(&self, key: &mut Option<u64>) -> bool {
        let Some(k) = key.take() else {
            return false;
        };
        let mut guard = self.lock();
        match guard.position(k) {
            Some(at) => {
                let entry = guard.tasks.remove(at);
                drop(guard);
                self.waiting.fetch_sub(1, Ordering::Relaxed);
                drop(entry);
                false
            }
            None => true,
        }
    }

    /// Passes on a wake-up that a dropped task did not use, if there is
    /// room for the next waiter.
    pub(crate) fn pass_on(&self, roomy: bool) {
        if roomy && load_sc(&self.waiting) != 0 {
            self.wake(1, false);
        }
    }
}

impl fmt::Debug for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Room")
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<J, const N: usize> fmt::Debug for Shared<J, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}
