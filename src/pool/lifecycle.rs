//! Stopping, pausing and watching a [`Pool`]: `stop`, `stop_wait`,
//! `pause`, `resume` and `stats`.

use crate::{
    error::{PopError, StopError},
    loom::{AtomicUsize, Backoff, Ordering},
};

use super::{
    job::{Clock, Job},
    run_job,
    stats::Stats,
    Outcome, Pool, Step, PAUSED, STOPPED,
};

// === impl Pool: lifecycle ===

impl<J, const N: usize, const W: usize, C: Clock> Pool<J, N, W, C> {
    /// Stops the pool and hands back every queued job that did not start.
    ///
    /// From now on every submit fails with [`SubmitError::Stopped`](crate::SubmitError::Stopped), and
    /// workers and `run_pending` start no new job; jobs already running
    /// finish. Idempotent: a second call returns no jobs. Safe to call from
    /// inside a job.
    ///
    /// Thread context only: if another context is in the middle of a
    /// submit (between claiming and publishing its slot, a few
    /// instructions), `stop` waits for it to finish, so it must not be
    /// called from an interrupt handler that may have preempted a submit
    /// to this pool.
    ///
    /// The jobs come back in a `heapless::Vec` on the stack; use
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
        // The `stop_close` mutant leaves the ring open, so a submit racing
        // with `stop` can strand its job: the pool loom models must catch it.
        #[cfg(not(taskring_mutant = "stop_close"))]
        self.close();
        // SeqCst: read by workers after their idle fence (`has_work`).
        self.state.fetch_or(STOPPED, Ordering::SeqCst);
        let woken = self.take_sleepers();
        self.wake(woken);
        let backoff = Backoff::new();
        loop {
            match self.ring.try_pop() {
                Ok(entry) => {
                    // Release: pairs with the `Acquire` loads in `stop_wait`.
                    self.submits.handed_back.fetch_add(1, Ordering::Release);
                    f(entry.job);
                }
                Err(PopError::Empty) => return,
                // A submit or a pop is in flight on the front slot: it
                // finishes in a few steps.
                Err(PopError::Busy) => backoff.snooze(),
            }
        }
    }

    /// Closes the ring: submits fail with `Stopped` from now on.
    pub(crate) fn close(&self) {
        self.ring.close();
    }

    /// True if the calling thread is running a job of this pool (detected
    /// with the `std` feature only).
    #[cfg(feature = "std")]
    pub(crate) fn in_own_job(&self) -> bool {
        own_job::is_running(self as *const Self as usize)
    }

    /// True if the pool was built with a [`Config::wake`] hook.
    #[cfg(feature = "std")]
    pub(crate) fn has_wake_hook(&self) -> bool {
        self.config.wake.is_some()
    }

    /// Stops accepting jobs, runs every queued job, and returns once all
    /// jobs have finished, including those running on workers.
    ///
    /// The caller helps run the queued jobs, so this also works with no
    /// worker at all. A pause is lifted first. Workers return from
    /// [`run_worker`](Self::run_worker) afterwards.
    ///
    /// Thread context only, as for [`stop`](Self::stop).
    ///
    /// # Errors
    ///
    /// [`StopError::FromOwnJob`] when called from inside a job of this
    /// pool (detected with the `std` feature), which would wait for itself
    /// forever. The pool is then closed to new jobs, and the caller should
    /// return from its job.
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
        self.stop_wait_with(run_job)
    }

    /// [`stop_wait`](Self::stop_wait) with a custom way to run each job.
    pub(crate) fn stop_wait_with(
        &self,
        mut exec: impl FnMut(J) -> Outcome,
    ) -> Result<(), StopError> {
        self.close();
        if own_job::is_running(self as *const Self as usize) {
            return Err(StopError::FromOwnJob);
        }
        // SeqCst: read by workers after their idle fence (`has_work`).
        self.state.fetch_and(!PAUSED, Ordering::SeqCst);
        let woken = self.take_sleepers();
        self.wake(woken);
        let backoff = Backoff::new();
        loop {
            match self.run_one(&self.others, &mut exec) {
                Step::Ran(_) => {
                    backoff.reset();
                    continue;
                }
                Step::Busy => {
                    backoff.snooze();
                    continue;
                }
                // Closed and empty, or stopped by `stop`: every job has
                // left the queue. Wait for those still running.
                Step::Idle | Step::Paused | Step::Stopped => {}
            }
            if self.all_finished() {
                break;
            }
            backoff.snooze();
        }
        self.state.fetch_or(STOPPED, Ordering::SeqCst);
        let woken = self.take_sleepers();
        self.wake(woken);
        Ok(())
    }

    /// True when every accepted job has finished or was handed back.
    fn all_finished(&self) -> bool {
        // Acquire: pairs with the `Release` bumps of finished jobs, so
        // their effects (and their submits' counts) are visible. The
        // finished counts are read before `submitted`, so every job counted
        // here is counted there too.
        let mut finished = self.submits.handed_back.load(Ordering::Acquire);
        for counters in self.workers.iter().chain(core::iter::once(&self.others)) {
            finished = finished
                .wrapping_add(counters.completed.load(Ordering::Acquire))
                .wrapping_add(counters.panicked.load(Ordering::Acquire));
        }
        finished == self.submits.submitted.load(Ordering::Acquire)
    }

    /// Pauses the pool: workers and `run_pending` start no new job until
    /// [`resume`](Self::resume). Submits still queue. Jobs running now
    /// finish, and a context that was already taking a job when `pause`
    /// was called may still start that one job.
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
        self.state.fetch_or(PAUSED, Ordering::SeqCst);
    }

    /// Lifts a [`pause`](Self::pause) and wakes sleeping workers.
    pub fn resume(&self) {
        // SeqCst: read by workers after their idle fence (`has_work`).
        self.state.fetch_and(!PAUSED, Ordering::SeqCst);
        let woken = self.take_sleepers();
        self.wake(woken);
    }

    /// True once [`stop`](Self::stop) or [`stop_wait`](Self::stop_wait)
    /// has been called: submits fail with `Stopped`.
    pub fn is_stopped(&self) -> bool {
        self.ring.is_closed()
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.state.load(Ordering::Relaxed) & PAUSED != 0
    }

    /// True between an `Overloaded` and the next `Recovered` event.
    pub fn is_overloaded(&self) -> bool {
        self.submits.overloaded.load(Ordering::Relaxed) != 0
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
    pub fn stats(&self) -> Stats {
        let s = &*self.submits;
        let load = |counter: &AtomicUsize| counter.load(Ordering::Relaxed);
        let mut stats = Stats {
            queued: self.ring.len(),
            high_water: load(&s.high_water),
            submitted: load(&s.submitted),
            handed_back: load(&s.handed_back),
            full: load(&s.full),
            busy: load(&s.busy),
            after_stop: load(&s.after_stop),
            overloaded: load(&s.overloaded) != 0,
            overload_events: load(&s.overload_events),
            ..Stats::default()
        };
        stats.rejected = stats
            .full
            .wrapping_add(stats.busy)
            .wrapping_add(stats.after_stop);
        let mut max_wait = 0;
        for counters in self.workers.iter().chain(core::iter::once(&self.others)) {
            stats.completed = stats.completed.wrapping_add(load(&counters.completed));
            stats.panicked = stats.panicked.wrapping_add(load(&counters.panicked));
            stats.running = stats.running.wrapping_add(load(&counters.running));
            max_wait = max_wait.max(load(&counters.max_wait));
        }
        stats.max_wait = max_wait as u64;
        if C::ENABLED && stats.queued > 0 {
            let now = C::ticks(C::now()) as usize;
            stats.lag = now.wrapping_sub(load(&s.front)) as u64;
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
    pub(in crate::pool) fn running<R>(pool: usize, f: impl FnOnce() -> R) -> R {
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
    pub(in crate::pool) fn is_running(pool: usize) -> bool {
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
