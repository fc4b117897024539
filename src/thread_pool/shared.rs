//! The state a [`ThreadPool`](super::ThreadPool) shares with its worker
//! threads: the [`Pool`], the workers' thread handles, the room where
//! blocked submitters wait, and the per-job wrapper that isolates panics.

use alloc::{boxed::Box, string::String, vec::Vec};
use core::{any::Any, fmt, panic::AssertUnwindSafe, time::Duration};
use std::{panic::catch_unwind, time::Instant};

use super::wait::Notify;
use crate::{
    loom::{
        fence,
        sync::{park, Condvar, Mutex, MutexGuard, Thread},
        AtomicUsize, Backoff, Ordering, PoolClock,
    },
    pool::Outcome,
    Idle, Job, OverloadEvent, Pool, SubmitError,
};

/// What the ring holds: the job and, for `submit_wait`, the signal to
/// raise once it has run.
pub(crate) struct Envelope<J> {
    pub(crate) job: J,
    pub(crate) done: Option<Notify>,
}

/// A panic handler: receives each panicking job's payload.
pub(crate) type PanicHandler = Box<dyn Fn(Box<dyn Any + Send>) + Send + Sync>;
/// An overload callback: receives each overload transition.
pub(crate) type OverloadHandler = Box<dyn Fn(OverloadEvent) + Send + Sync>;
/// A thread start or stop hook: receives the worker index.
pub(crate) type ThreadHook = Box<dyn Fn(usize) + Send + Sync>;

/// What a job's panic does to the pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PanicPolicy {
    /// Catch the panic, count it in [`Stats::panicked`](crate::Stats),
    /// hand the payload to the panic handler (if any) and keep the worker
    /// running. The default.
    #[default]
    Isolate,
    /// Hand the payload to the panic handler (if any), then abort the
    /// process, as `rayon::spawn` does without a handler.
    Abort,
}

/// Settings fixed when the pool is built.
pub(crate) struct Settings {
    pub(crate) policy: PanicPolicy,
    pub(crate) on_panic: Option<PanicHandler>,
    pub(crate) on_overload: Option<OverloadHandler>,
    pub(crate) on_thread_start: Option<ThreadHook>,
    pub(crate) on_thread_stop: Option<ThreadHook>,
    pub(crate) name_prefix: String,
}

/// Everything the pool's handle and its worker threads share.
pub(crate) struct Shared<J, const N: usize, const W: usize> {
    pub(crate) pool: Pool<Envelope<J>, N, W, PoolClock>,
    /// Worker `i`'s thread, registered by the thread itself before it
    /// first announces itself idle, so a submit that claims its sleeper
    /// bit always finds it here (see [`Shared::wake`]).
    threads: Mutex<Vec<Option<Thread>>>,
    pub(crate) room: Room,
    /// Last overload state reported to `on_overload`.
    overload_seen: AtomicUsize,
    pub(crate) settings: Settings,
}

// === impl Shared ===

impl<J: Job, const N: usize, const W: usize> Shared<J, N, W> {
    pub(crate) fn new(pool: Pool<Envelope<J>, N, W, PoolClock>, settings: Settings) -> Self {
        Self {
            pool,
            threads: Mutex::new((0..W).map(|_| None).collect()),
            room: Room::new(),
            overload_seen: AtomicUsize::new(0),
            settings,
        }
    }

    fn threads(&self) -> MutexGuard<'_, Vec<Option<Thread>>> {
        self.threads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the calling thread as worker `index`.
    pub(crate) fn register(&self, index: usize, thread: Thread) {
        self.threads()[index] = Some(thread);
    }

    /// Unparks the worker of every bit in `mask` (as returned by
    /// [`Pool::submit`] or [`Pool::take_sleepers`]).
    ///
    /// The worker registered its thread under the lock before it set its
    /// sleeper bit, and the caller read that bit before taking the lock,
    /// so the lock is taken after the registration and finds the thread.
    pub(crate) fn wake(&self, mut mask: usize) {
        if mask == 0 {
            return;
        }
        let threads = self.threads();
        while mask != 0 {
            if let Some(Some(thread)) = threads.get(mask.trailing_zeros() as usize) {
                thread.unpark();
            }
            mask &= mask - 1;
        }
    }

    /// Unparks every worker. Called after a state change (stop, resume,
    /// close) made through a [`Pool`] method, whose own wake-up goes to the
    /// pool's (empty) wake hook: the sleeper bits it took are lost, so
    /// every thread gets a park token instead. A worker that was not
    /// parked only makes one extra pass through its loop.
    pub(crate) fn wake_all(&self) {
        let _ = self.pool.take_sleepers();
        for thread in self.threads().iter().flatten() {
            thread.unpark();
        }
    }

    /// One submit attempt: queues `envelope` and wakes the worker the
    /// submit claimed.
    pub(crate) fn try_submit(&self, envelope: Envelope<J>) -> Result<(), SubmitError<Envelope<J>>> {
        let wake = self.pool.submit(envelope)?;
        self.wake(wake);
        self.check_overload();
        Ok(())
    }

    /// Submits `envelope`, waiting while the queue is full: first backing
    /// off (spin, then yield), then parking in the [`Room`] until a worker
    /// frees a slot, `stop` is called, or `deadline` passes.
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
            match self.try_submit(envelope) {
                Ok(()) => return Ok(()),
                Err(SubmitError::Busy(back)) => {
                    // Another context is mid-operation on our slot: it
                    // finishes in a few steps.
                    envelope = back;
                    backoff.spin();
                    continue;
                }
                Err(SubmitError::Full(back)) => envelope = back,
                Err(stopped @ SubmitError::Stopped(_)) => return Err(stopped),
            }
            if self.pool.in_own_job() || deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(SubmitError::Full(envelope));
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            envelope = match self.room.wait(|| self.try_submit(envelope), deadline) {
                Ok(()) => return Ok(()),
                Err(SubmitError::Full(back) | SubmitError::Busy(back)) => back,
                Err(stopped @ SubmitError::Stopped(_)) => return Err(stopped),
            };
        }
    }

    /// Runs one job on a worker (or the `stop_wait` caller), right after
    /// it left the queue: tells blocked submitters that a slot is free,
    /// runs the job with its panic caught, and reports to its waiter.
    pub(crate) fn exec(&self, envelope: Envelope<J>) -> Outcome {
        self.room.slot_freed(|| self.pool.queued() <= N / 2);
        self.check_overload();
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

    /// Calls the overload handler if the pool's overload state changed
    /// since the last report.
    pub(crate) fn check_overload(&self) {
        let Some(handler) = &self.settings.on_overload else {
            return;
        };
        let now = usize::from(self.pool.is_overloaded());
        if self.overload_seen.load(Ordering::Relaxed) == now {
            return;
        }
        // One caller wins each transition, so events alternate.
        if self.overload_seen.swap(now, Ordering::Relaxed) != now {
            let depth = self.pool.queued();
            let event = if now == 1 {
                OverloadEvent::Overloaded { depth }
            } else {
                OverloadEvent::Recovered { depth }
            };
            let _ = catch_unwind(AssertUnwindSafe(|| handler(event)));
        }
    }

    /// The body of worker thread `index`.
    pub(crate) fn run_worker(&self, index: usize, thread: Thread) {
        self.register(index, thread);
        if let Some(hook) = &self.settings.on_thread_start {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(index)));
        }
        // Cannot fail: each index is run by the one thread spawned for it.
        let result = self
            .pool
            .worker_loop(index, &mut ParkIdle(self), |envelope| self.exec(envelope));
        debug_assert!(result.is_ok(), "this is a bug in taskring");
        if let Some(hook) = &self.settings.on_thread_stop {
            let _ = catch_unwind(AssertUnwindSafe(|| hook(index)));
        }
    }
}

/// Ends a closed pool whose queue is empty: nothing can be queued any
/// more, so its workers may exit. Returns true if it stopped the pool.
///
/// This is how workers leave after `stop_wait` was refused inside a job
/// ([`StopError::FromOwnJob`](crate::StopError)) or after a pool was
/// dropped from inside its own job (a detach): those close the pool but
/// cannot wait for it.
pub(crate) fn finish_if_drained<J, const N: usize, const W: usize, C: crate::Clock>(
    pool: &Pool<J, N, W, C>,
) -> bool {
    if pool.is_stopped() && !pool.is_paused() && pool.queued() == 0 {
        // Nothing to hand back: closed and empty. Anything else would be a
        // bug, and dropping it is the only option here.
        pool.stop_with(|job| {
            debug_assert!(false, "this is a bug in taskring");
            drop(job);
        });
        return true;
    }
    false
}

/// The idle strategy of the pool's workers: park until unparked.
struct ParkIdle<'a, J, const N: usize, const W: usize>(&'a Shared<J, N, W>);

impl<J: Job, const N: usize, const W: usize> Idle for ParkIdle<'_, J, N, W> {
    fn idle(&mut self, _worker: usize) {
        if finish_if_drained(&self.0.pool) {
            // Our `stop_with` woke nobody (no wake hook): wake them here.
            self.0.wake_all();
            return;
        }
        // Park tokens are sticky: an unpark that came after our sleeper bit
        // was set, but before this call, makes `park` return at once.
        park();
    }
}

/// Where blocked submitters wait for a free slot.
///
/// A submitter registers in `waiting`, issues a `SeqCst` fence and tries
/// once more while holding `lock`, then waits on `cond`, which releases
/// `lock`. A worker frees a slot (its pop), issues a `SeqCst` fence and
/// reads `waiting`. The two fences are ordered one way or the other, so
/// either the submitter's retry sees the free slot, or the worker sees the
/// waiter, takes `lock` (so the waiter is already inside `wait`) and
/// notifies it. `stop` notifies every waiter under `lock` after closing
/// the queue, so a waiter either sees the closed queue or is woken.
pub(crate) struct Room {
    waiting: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Room {
    fn new() -> Self {
        Self {
            waiting: AtomicUsize::new(0),
            lock: Mutex::new(()),
            cond: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Called by a worker right after each pop. Wakes one waiting
    /// submitter once `roomy()` (the queue is at most half full), so that a
    /// woken submitter queues a batch of jobs per wake-up instead of one.
    /// A queue above half full is still being drained by the workers, and
    /// a later pop wakes the submitter; the last pop of a queue always
    /// finds it roomy.
    #[inline]
    pub(crate) fn slot_freed(&self, roomy: impl FnOnce() -> bool) {
        // SeqCst fence: pairs with the fence in `wait` after a submitter
        // registers. Either its retry sees the slot our pop freed, or this
        // load sees it waiting.
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) != 0 && roomy() {
            drop(self.lock());
            self.cond.notify_one();
        }
    }

    /// Wakes every waiting submitter (after `stop` closed the queue).
    pub(crate) fn notify_all(&self) {
        drop(self.lock());
        self.cond.notify_all();
    }

    /// Registers, retries once with `attempt`, and if the queue is still
    /// full waits for a notification (or until `deadline`); returns the
    /// retry's result, or `Full` after the wait.
    fn wait<J>(
        &self,
        attempt: impl FnOnce() -> Result<(), SubmitError<J>>,
        deadline: Option<Instant>,
    ) -> Result<(), SubmitError<J>> {
        let guard = self.lock();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        // SeqCst fence: pairs with the fence in `slot_freed`.
        fence(Ordering::SeqCst);
        let result = attempt();
        let mut timed_out = false;
        if matches!(result, Err(SubmitError::Full(_))) {
            let guard = match deadline {
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
            drop(guard);
        } else {
            drop(guard);
        }
        let still_waiting = self.waiting.fetch_sub(1, Ordering::Relaxed) - 1;
        // A notification meant for a free slot may have woken us just as
        // we timed out; pass it on so that another waiter gets the slot.
        if timed_out && still_waiting != 0 {
            drop(self.lock());
            self.cond.notify_one();
        }
        result
    }
}

impl<J, const N: usize, const W: usize> fmt::Debug for Shared<J, N, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}
