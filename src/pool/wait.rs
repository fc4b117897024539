//! Awaiting work: [`Pool::wait_pending`] and [`Pool::run_async`], for a
//! drainer that is an async task (an embassy task woken by an interrupt
//! handler's `try_submit`, say) rather than a thread or an idle loop.
//!
//! The waiting task takes part in the pool's one wake-up protocol (see the
//! [module docs](super#waking-idle-workers)) as one more idle worker: it
//! stores its waker in the pool's drainer slot, adds one to the count of
//! sleepers, issues a `SeqCst` fence and looks at the queue once more
//! before it returns `Pending`. A submit that sees the count claims one
//! sleeper and wakes both the environment and the stored waker, so a job
//! queued at any point of that sequence either is seen by the look or
//! wakes the task. No allocation, no lock: the slot is an `AtomicWaker`.

use core::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use super::{env::Env, job::Job, run_job, Pool, Step};
use crate::loom::{fence, Backoff, Ordering};

/// The future of [`Pool::wait_pending`]: ready once the pool has work for
/// a drainer (a job queued and the pool not paused) or is stopping.
///
/// Dropping it leaves the pool as it was: a job it was woken for stays
/// queued for the next drainer.
#[must_use = "futures do nothing unless polled"]
pub struct WaitPending<'a, J, const N: usize, const W: usize, E: Env> {
    pool: &'a Pool<J, N, W, E>,
    /// Whether this future added itself to the pool's sleepers and has not
    /// left the count yet.
    counted: bool,
}

impl<J, const N: usize, const W: usize, E: Env> Pool<J, N, W, E> {
    /// Waits until the pool has work for a drainer: a job is queued and the
    /// pool is not paused, or the pool is stopping (its queue then only
    /// drains). Then run the jobs with [`run_pending`](Self::run_pending).
    ///
    /// Woken by [`try_submit`](Self::try_submit) from any context,
    /// interrupt handlers included, and by `resume`, `stop` and
    /// `stop_wait`. Needs no allocator and no runtime: the waker sits in a
    /// slot of the pool.
    ///
    /// The pool has **one** such slot: await it from one task at a time.
    /// A second task waiting at the same time replaces the first one's
    /// waker, and the first may then miss its wake-up. Give each task its
    /// own pool, or let one task drain.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
    /// #     let mut f = core::pin::pin!(f);
    /// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    /// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// static POOL: taskring::Pool<fn(), 8, 0> = taskring::Pool::new();
    ///
    /// POOL.try_submit(|| {}).unwrap(); // From an interrupt handler, say.
    /// block_on(async {
    ///     POOL.wait_pending().await;
    ///     assert_eq!(POOL.run_pending(usize::MAX), 1);
    /// });
    /// ```
    pub fn wait_pending(&self) -> WaitPending<'_, J, N, W, E> {
        WaitPending {
            pool: self,
            counted: false,
        }
    }

    /// Waits for work (see [`wait_pending`](Self::wait_pending)), then runs
    /// up to `max` queued jobs on the calling task and returns how many
    /// ran.
    ///
    /// Returns 0 only when no job will ever come: the pool is stopped, or
    /// stopping and drained (or `max` is 0). A drain task is one loop,
    /// `while pool.run_async(8).await > 0 {}`.
    ///
    /// ```
    /// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
    /// #     let mut f = core::pin::pin!(f);
    /// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    /// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
    /// # }
    /// static POOL: taskring::Pool<fn(), 8, 0> = taskring::Pool::new();
    ///
    /// for _ in 0..3 {
    ///     POOL.try_submit(|| {}).unwrap();
    /// }
    /// assert_eq!(block_on(POOL.run_async(2)), 2);
    /// assert_eq!(block_on(POOL.run_async(2)), 1);
    /// let _ = POOL.stop();
    /// assert_eq!(block_on(POOL.run_async(2)), 0);
    /// ```
    ///
    /// Like [`run_pending`](Self::run_pending), a job's panic propagates
    /// out of the future after being counted.
    pub async fn run_async(&self, max: usize) -> usize
    where
        J: Job,
    {
        if max == 0 {
            return 0;
        }
        loop {
            let (ran, last) = self.run_some(max);
            if ran > 0 {
                return ran;
            }
            match last {
                Step::Stopped | Step::Drained => return 0,
                Step::Idle | Step::Paused => self.wait_pending().await,
                // Another context is mid-operation on the front slot: it
                // finishes in a few steps, and no wake-up is promised for
                // it. Let the executor run something else meanwhile.
                Step::Busy | Step::Ran(_) => YieldNow(false).await,
            }
        }
    }

    /// [`run_pending`](Self::run_pending), also returning the step that
    /// ended it.
    fn run_some(&self, max: usize) -> (usize, Step)
    where
        J: Job,
    {
        let _active = self.enter_active(&self.callers);
        self.mark_own(|| {
            let mut ran = 0;
            loop {
                match self.run_one(&self.callers, run_job) {
                    Step::Ran(_) if ran + 1 < max => ran += 1,
                    step @ Step::Ran(_) => return (ran + 1, step),
                    step => return (ran, step),
                }
            }
        })
    }
}

impl<J, const N: usize, const W: usize, E: Env> WaitPending<'_, J, N, W, E> {
    /// Leaves the count of sleepers, if this future is on it.
    fn leave(&mut self) {
        if core::mem::take(&mut self.counted) {
            self.pool.leave_sleepers();
        }
    }
}

impl<J, const N: usize, const W: usize, E: Env> Future for WaitPending<'_, J, N, W, E> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let pool = this.pool;
        // A new wait cycle, as in the worker loop: leave the count first
        // (taking a claim if a submit left one), then announce again
        // below. Staying counted across polls would leave the count at 0
        // after a claim whose job another context took, and the next
        // submit would not wake us.
        this.leave();
        if pool.has_work() {
            return Poll::Ready(());
        }
        // Register, announce, fence, re-check: the order of the worker
        // loop, with the waker stored before the announcement so that a
        // submit that sees the announcement finds the waker.
        pool.drainer.register(cx.waker());
        pool.sleepers.fetch_add(1, Ordering::Relaxed);
        this.counted = true;
        // SeqCst fence: pairs with the `SeqCst` load of `sleepers` in
        // `submit` and the fence in `wake_all`, as a worker's idle fence
        // does: either the look below sees the job (or the state change),
        // or the submit sees us counted and wakes the stored waker.
        fence(Ordering::SeqCst);
        // The `waker_recheck` mutant skips the look, so a job queued just
        // before the announcement is never seen: the task sleeps with a job
        // queued, which the loom models must catch.
        #[cfg(not(taskring_mutant = "waker_recheck"))]
        if pool.has_work() {
            this.leave();
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<J, const N: usize, const W: usize, E: Env> Drop for WaitPending<'_, J, N, W, E> {
    fn drop(&mut self) {
        self.leave();
    }
}

impl<J, const N: usize, const W: usize, E: Env> fmt::Debug for WaitPending<'_, J, N, W, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitPending")
            .field("counted", &self.counted)
            .finish_non_exhaustive()
    }
}

/// Returns `Pending` once, after a spin hint and a wake-up of its own
/// task: the executor runs other tasks, then polls it again.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        // One backoff step: a spin hint (a yield to loom's scheduler under
        // loom, so that the models see the other context progress).
        Backoff::new().snooze();
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
