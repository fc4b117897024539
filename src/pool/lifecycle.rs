//! Stopping, pausing and watching a [`Pool`]: `stop`, `stop_wait`,
//! `pause`, `resume` and `stats`.

use crate::ring::CachePadded;

use crate::{
    error::{PopError, StopError},
    loom::{fence, AtomicUsize, Backoff, Ordering},
};

use super::{
    env::Env,
    job::Job,
    run_job,
    stats::{RunCounters, Stats},
    Pool, Step, CLOSING, PAUSED, STOPPED,
};

// === impl Pool: lifecycle ===

impl<J, const N: usize, const W: usize, E: Env> Pool<J, N, W, E> {
    /// Stops the pool and hands back every queued job that did not start.
    ///
    /// From now on every submit fails with
    /// [`SubmitError::Stopped`](crate::SubmitError::Stopped), and workers
    /// and `run_pending` start no new job; jobs already running finish.
    /// Idempotent: a second call returns no jobs. Safe to call from inside
    /// a job and from an [`Env::on_event`] handler.
    ///
    /// Thread context only: if another context is in the middle of a
    /// submit (between claiming and publishing its slot, a few
    /// instructions), `stop` waits for it to finish, so it must not be
    /// called from an interrupt handler that may have preempted a submit
    /// to this pool.
    ///
    /// The jobs come back in a [`heapless::Vec`] on the stack; use
    /// [`stop_with`](Self::stop_with) for a large `N`.
    ///
    /// # Examples
    ///
    /// ```
    /// static POOL: taskring::Pool<fn(), 8, 0> = taskring::Pool::new();
    /// POOL.try_submit(|| {}).unwrap();
    /// let back = POOL.stop();
    /// assert_eq!(back.len(), 1);
    /// assert!(POOL.try_submit(|| {}).unwrap_err().is_stopped());
    /// assert!(POOL.stop().is_empty());
    /// ```
    #[must_use = "the jobs handed back have not run; dropping them loses them"]
    pub fn stop(&self) -> heapless::Vec<J, N> {
        let mut jobs = heapless::Vec::new();
        self.stop_with(|job| {
            // Cannot fail: the ring holds at most `N` jobs, and this call
            // takes each at most once.
            if jobs.push(job).is_err() {
                debug_assert!(false, "this is a bug in taskring");
            }
        });
        jobs
    }

    /// Like [`stop`](Self::stop), but passes each un-run job to `f` instead
    /// of collecting them.
    ///
    /// # Examples
    ///
    /// ```
    /// static POOL: taskring::Pool<fn(), 8, 0> = taskring::Pool::new();
    /// POOL.try_submit(|| {}).unwrap();
    /// let mut back = 0;
    /// POOL.stop_with(|_job| back += 1);
    /// assert_eq!(back, 1);
    /// ```
    pub fn stop_with(&self, mut f: impl FnMut(J)) {
        // STOPPED before the close: a worker that sees CLOSING (and so
        // ignores a pause) in `state` sees STOPPED in the same load, and
        // takes no job that `stop` is about to hand back. SeqCst: read by workers after
        // their idle fence (`has_work`).
        self.state.fetch_or(STOPPED, Ordering::SeqCst);
        // The `stop_close` mutant leaves the ring open, so a submit racing
        // with `stop` can strand its job: the pool loom models must catch it.
        #[cfg(not(taskring_mutant = "stop_close"))]
        self.close();
        self.wake_all();
        let backoff = Backoff::new();
        loop {
            match self.ring.try_pop() {
                Ok(entry) => {
                    self.submits.handed_back.fetch_add(1, Ordering::Relaxed);
                    f(entry.job);
                }
                Err(PopError::Empty) => return,
                // A submit or a pop is in flight on the front slot: it
                // finishes in a few steps.
                Err(PopError::Busy) => backoff.snooze(),
            }
        }
    }

    /// Closes the ring: submits fail with `Stopped` from now on, and a
    /// pause has no effect any more.
    pub(crate) fn close(&self) {
        // SeqCst: read by workers after their idle fence (`has_work`).
        self.state.fetch_or(CLOSING, Ordering::SeqCst);
        self.ring.close();
    }

    /// True if the calling thread is running a job of this pool (detected
    /// with the `std` feature only).
    #[cfg(feature = "std")]
    pub(crate) fn in_own_job(&self) -> bool {
        own_job::is_running(self as *const Self as usize)
    }

    /// Stops accepting jobs, runs every queued job, and returns once all
    /// jobs have finished, including those running on workers and in
    /// `run_pending`.
    ///
    /// The caller helps run the queued jobs, so this also works with no
    /// worker at all; while it helps, up to `W + 1` jobs run at once.
    /// Once it has begun, [`pause`](Self::pause) has no effect, so it
    /// always returns. Workers return from [`run_worker`](Self::run_worker)
    /// once the queue is drained.
    ///
    /// Thread context only, as for [`stop`](Self::stop).
    ///
    /// # Errors
    ///
    /// [`StopError::FromOwnJob`] when called from inside a job of this
    /// pool (detected with the `std` feature), which would wait for itself
    /// forever. The pool is then closed to new jobs, its workers drain the
    /// queue, and the caller should return from its job.
    ///
    /// # Examples
    ///
    /// ```
    /// static POOL: taskring::Pool<fn(), 8, 0> = taskring::Pool::new();
    /// POOL.try_submit(|| {}).unwrap();
    /// POOL.stop_wait().unwrap();
    /// assert_eq!(POOL.stats().completed, 1);
    /// assert!(POOL.try_submit(|| {}).unwrap_err().is_stopped());
    /// ```
    pub fn stop_wait(&self) -> Result<(), StopError>
    where
        J: Job,
    {
        self.close();
        if own_job::is_running(self as *const Self as usize) {
            self.wake_all();
            return Err(StopError::FromOwnJob);
        }
        // Parked workers drain the queue too: a pause no longer holds them.
        self.wake_all();
        {
            let _active = self.enter_active(&self.callers);
            let backoff = Backoff::new();
            self.mark_own(|| loop {
                match self.run_one(&self.callers, run_job) {
                    Step::Ran(_) => backoff.reset(),
                    Step::Busy => backoff.snooze(),
                    // Closed and empty, or emptied by `stop`.
                    Step::Drained | Step::Stopped => break,
                    // Not reached with a closed ring; look again.
                    Step::Idle | Step::Paused => backoff.snooze(),
                }
            });
        }
        self.wait_quiescent(&[]);
        self.state.fetch_or(STOPPED, Ordering::SeqCst);
        self.wake_all();
        Ok(())
    }

    /// Waits until no context is active: every job taken from the queue
    /// has finished. `extra` are the counters of contexts the pool does not
    /// own (the thread pool's threads).
    pub(crate) fn wait_quiescent(&self, extra: &[CachePadded<RunCounters>]) {
        let backoff = Backoff::new();
        while !self.is_quiescent(extra) {
            backoff.snooze();
        }
    }

    /// True if no context is active (see [`Active`]).
    pub(crate) fn is_quiescent(&self, extra: &[CachePadded<RunCounters>]) -> bool {
        // SeqCst fence: pairs with the fence in `Active::enter`. A context
        // that became active before it is seen below; one that becomes
        // active after it sees the state change our caller made (pause, or
        // the closed ring) before it takes a job. Also an acquire fence for
        // the `Relaxed` reads of the ring our caller made.
        fence(Ordering::SeqCst);
        self.all_counters(extra)
            .all(|counters| counters.active.load(Ordering::Acquire) == 0)
    }

    /// A mark for [`popped_to`](Self::popped_to): the position of the next
    /// submit.
    #[cfg(feature = "std")]
    pub(crate) fn push_mark(&self) -> usize {
        self.ring.push_mark()
    }

    /// True once every job submitted before `mark` was taken from the
    /// queue (to run, or handed back by `stop`).
    ///
    /// `ThreadPool::wait_idle` waits for this first. The `idle_mark`
    /// mutant looks one position short of `mark`, so that `wait_idle`
    /// may return while the last job submitted before it is still queued:
    /// the loom models of `wait_idle` in `loom-tests/thread_pool.rs` must
    /// catch it.
    #[cfg(feature = "std")]
    pub(crate) fn popped_to(&self, mark: usize) -> bool {
        #[cfg(taskring_mutant = "idle_mark")]
        let mark = mark.wrapping_sub(1);
        self.ring.popped_to(mark)
    }

    /// For each context: whether it is active, and how many jobs it
    /// finished. A context that was active here and is later either
    /// inactive or has finished more jobs has finished the job it held
    /// here, if any.
    #[cfg(feature = "std")]
    pub(crate) fn activity<'a>(
        &'a self,
        extra: &'a [CachePadded<RunCounters>],
    ) -> impl Iterator<Item = (bool, usize)> + 'a {
        // SeqCst fence: pairs with the fence in `Active::enter`, as in
        // `is_quiescent`: a context that took a job before our caller's
        // look at the ring is seen active.
        fence(Ordering::SeqCst);
        self.all_counters(extra).map(RunCounters::activity)
    }

    /// Every context's counters: the workers', the shared entry, `extra`.
    fn all_counters<'a>(
        &'a self,
        extra: &'a [CachePadded<RunCounters>],
    ) -> impl Iterator<Item = &'a RunCounters> {
        self.workers
            .iter()
            .map(|worker| &worker.run)
            .chain(core::iter::once(&*self.callers))
            .chain(extra.iter().map(|counters| &**counters))
    }

    /// Pauses the pool: workers and `run_pending` start no new job until
    /// [`resume`](Self::resume). Submits still queue. Jobs running now
    /// finish, and a context that was already taking a job when `pause`
    /// was called may still start that one job.
    ///
    /// Has no effect once the pool is stopping (after `stop` or
    /// `stop_wait` began): a stopping pool drains its queue.
    ///
    /// # Examples
    ///
    /// ```
    /// static POOL: taskring::Pool<fn(), 8, 0> = taskring::Pool::new();
    /// POOL.pause();
    /// POOL.try_submit(|| {}).unwrap();
    /// assert_eq!(POOL.run_pending(usize::MAX), 0);
    /// POOL.resume();
    /// assert_eq!(POOL.run_pending(usize::MAX), 1);
    /// ```
    pub fn pause(&self) {
        // SeqCst: pairs with the fence in `Active::enter` (see
        // `is_quiescent`).
        self.state.fetch_or(PAUSED, Ordering::SeqCst);
    }

    /// Lifts a [`pause`](Self::pause) and wakes idle workers.
    pub fn resume(&self) {
        // SeqCst: read by workers after their idle fence (`has_work`).
        self.state.fetch_and(!PAUSED, Ordering::SeqCst);
        self.wake_all();
    }

    /// True once [`stop`](Self::stop) or [`stop_wait`](Self::stop_wait)
    /// has been called: submits fail with `Stopped`.
    pub fn is_stopped(&self) -> bool {
        self.ring.is_closed()
    }

    /// True while paused (and not stopping).
    pub fn is_paused(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (PAUSED | CLOSING | STOPPED) == PAUSED
    }

    /// True between an `Overloaded` and the next `Recovered` event.
    pub fn is_overloaded(&self) -> bool {
        self.submits.overload.is_raised()
    }

    /// A snapshot of the counters; see [`Stats`].
    ///
    /// # Examples
    ///
    /// ```
    /// static POOL: taskring::Pool<fn(), 8, 0> = taskring::Pool::new();
    /// POOL.try_submit(|| {}).unwrap();
    /// POOL.try_submit(|| {}).unwrap();
    /// POOL.run_pending(1);
    /// let stats = POOL.stats();
    /// assert_eq!((stats.submitted, stats.completed, stats.queued), (2, 1, 1));
    /// assert_eq!(stats.high_water, 2);
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats_with(&[])
    }

    /// [`stats`](Self::stats), adding the counters in `extra`.
    pub(crate) fn stats_with(&self, extra: &[CachePadded<RunCounters>]) -> Stats {
        let s = &*self.submits;
        // Acquire: pairs with the `Release` updates of the counters, so
        // that a job counted as finished has its effects visible.
        let load = |counter: &AtomicUsize| counter.load(Ordering::Acquire);
        let mut stats = Stats {
            queued: self.ring.len(),
            high_water: load(&s.high_water),
            handed_back: load(&s.handed_back),
            full: load(&s.full),
            busy: load(&s.busy),
            after_stop: load(&s.after_stop),
            overloaded: s.overload.is_raised(),
            overload_events: s.overload.events(),
            lagging: s.lag.is_raised(),
            lag_events: s.lag.events(),
            ..Stats::default()
        };
        stats.rejected = stats
            .full
            .wrapping_add(stats.busy)
            .wrapping_add(stats.after_stop);
        let mut max_wait = 0;
        for counters in self.all_counters(extra) {
            stats.completed = stats.completed.wrapping_add(load(&counters.completed));
            stats.panicked = stats.panicked.wrapping_add(load(&counters.panicked));
            stats.running = stats.running.wrapping_add(load(&counters.running));
            max_wait = max_wait.max(counters.max_wait.load());
        }
        stats.submitted = stats
            .completed
            .wrapping_add(stats.panicked)
            .wrapping_add(stats.handed_back)
            .wrapping_add(stats.running)
            .wrapping_add(stats.queued);
        stats.max_wait = max_wait;
        if self.env.has_clock() && stats.queued > 0 {
            let now = self.env.ticks(self.env.now());
            // Saturating: a context may have stored a front stamped after
            // our clock read.
            stats.lag = now.saturating_sub(s.front.load());
        }
        stats
    }
}

/// Which pool's job the current thread is running, to turn a `stop_wait`
/// from inside a job into an error instead of a deadlock. Needs
/// thread-locals, so only with `std`.
pub(super) mod own_job {
    #[cfg(feature = "std")]
    crate::loom::thread_local! {
        // Not `const`: loom's `thread_local!`, used under `--cfg loom`,
        // does not take a const initializer.
        #[allow(clippy::missing_const_for_thread_local)]
        static CURRENT: core::cell::Cell<usize> = core::cell::Cell::new(0);
    }

    /// Runs `f` marked as a job of the pool at address `pool`.
    #[inline]
    pub(crate) fn running<R>(pool: usize, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "std")]
        {
            /// Restores the outer mark, also on unwind.
            struct Restore(usize);
            impl Drop for Restore {
                fn drop(&mut self) {
                    CURRENT.with(|current| current.set(self.0));
                }
            }
            let _restore = Restore(CURRENT.with(|current| current.replace(pool)));
            f()
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = pool;
            f()
        }
    }

    /// True if the current thread is inside a job of the pool at `pool`.
    pub(crate) fn is_running(pool: usize) -> bool {
        #[cfg(feature = "std")]
        {
            CURRENT.with(|current| current.get() == pool)
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = pool;
            false
        }
    }
}
