//! Submitting from async code: [`ThreadPool::submit_async`] and
//! [`ThreadPool::execute_async`] wait for room in the queue without
//! blocking the executor's thread. Runtime-agnostic: the future only uses
//! the `Waker` it is polled with.

use core::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use super::{
    shared::{Envelope, Shared},
    unwrap_error, FnJob, ThreadPool,
};
use crate::{loom::Backoff, Job, SubmitError};

/// How many times one poll retries a submit that found room but lost the
/// slot to another submitter, or found the front slot busy, before it
/// yields to the executor.
const RETRIES: usize = 4;

/// The future of [`ThreadPool::submit_async`] and
/// [`ThreadPool::execute_async`]: resolves once the job is queued, or
/// with the refusal.
///
/// **Cancel safety.** The job lives in this future until the one submit
/// that queues it. Dropped before it resolved, the future has not queued
/// its job, and drops it; resolved with `Ok(())`, it has queued it. Never
/// both, never neither.
#[must_use = "futures do nothing unless polled; dropping this one drops its job"]
pub struct SubmitAsync<'a, J: Job + 'static, const N: usize> {
    shared: &'a Shared<J, N>,
    /// `None` once resolved.
    envelope: Option<Envelope<J>>,
    /// The registration in the pool's room, while waiting for room.
    key: Option<u64>,
}

// The job is never pinned: it is moved into the queue by value.
impl<J: Job + 'static, const N: usize> Unpin for SubmitAsync<'_, J, N> {}

impl<J: Job + 'static, const N: usize> ThreadPool<J, N> {
    /// Queues `job`, waiting without blocking while the queue is full: the
    /// async twin of [`submit`](Self::submit), with the same errors.
    ///
    /// While the queue is full the task registers its waker with the pool
    /// and returns `Pending`; a worker that frees a slot wakes it (as many
    /// waiting tasks as there are free slots, once the queue is at most
    /// half full), and `stop` wakes every one with `Stopped`. Any executor
    /// works; the pool depends on none. See [`SubmitAsync`] for cancel
    /// safety: a future dropped while waiting drops its job unqueued.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Stopped`] once the pool is stopped, also when the
    /// stop comes while this waits. [`SubmitError::Full`] only from inside
    /// a job of this pool, which never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
    /// #     let mut f = core::pin::pin!(f);
    /// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    /// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } std::thread::yield_now(); }
    /// # }
    /// use taskring::ThreadPool;
    ///
    /// let pool: ThreadPool<fn(), 2> = ThreadPool::new(1)?;
    /// block_on(async {
    ///     for _ in 0..10 {
    ///         pool.submit_async(|| {}).await?; // Waits for room, never blocks.
    ///     }
    ///     Ok::<(), taskring::SubmitError<fn()>>(())
    /// })?;
    /// pool.stop_wait()?;
    /// assert_eq!(pool.stats().completed, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_async(&self, job: J) -> SubmitAsync<'_, J, N> {
        SubmitAsync {
            shared: &self.shared,
            envelope: Some(Envelope { job, done: None }),
            key: None,
        }
    }

    /// Runs the closure `f` on the pool, waiting without blocking while
    /// the queue is full: [`execute`](Self::execute) for async code, as
    /// [`submit_async`](Self::submit_async) is for `submit`.
    ///
    /// # Errors
    ///
    /// As for [`submit_async`](Self::submit_async), with the wrapped job
    /// inside.
    pub fn execute_async<F>(&self, f: F) -> SubmitAsync<'_, J, N>
    where
        J: FnJob,
        F: FnOnce() + Send + 'static,
    {
        self.submit_async(J::from_fn(f))
    }
}

impl<J: Job + 'static, const N: usize> SubmitAsync<'_, J, N> {
    /// Ends the registration and resolves with `result`.
    fn finish(
        &mut self,
        result: Result<(), SubmitError<Envelope<J>>>,
    ) -> Poll<Result<(), SubmitError<J>>> {
        // A wake-up that took our registration was used: we queued, or
        // the pool is stopped for every waiter alike.
        self.shared.room.unregister(&mut self.key);
        Poll::Ready(result.map_err(|error| unwrap_error(self.shared.refuse(error))))
    }
}

impl<J: Job + 'static, const N: usize> Future for SubmitAsync<'_, J, N> {
    type Output = Result<(), SubmitError<J>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = this.shared;
        let Some(mut envelope) = this.envelope.take() else {
            panic!("`SubmitAsync` polled after it resolved");
        };
        let mut registered = false;
        for _ in 0..RETRIES {
            envelope = match shared.pool.submit(envelope) {
                Ok(()) => return this.finish(Ok(())),
                Err(stopped @ SubmitError::Stopped(_)) => return this.finish(Err(stopped)),
                Err(SubmitError::Busy(back)) => {
                    // Another context is mid-operation on our slot: it
                    // finishes in a few steps.
                    envelope = back;
                    continue;
                }
                Err(SubmitError::Full(back)) => back,
            };
            if shared.pool.in_own_job() {
                // Waiting for a worker from inside a job could wait forever.
                return this.finish(Err(SubmitError::Full(envelope)));
            }
            if !registered {
                // Register, fence, then look for room once more (see
                // `Room`): a slot freed after the look wakes us.
                shared.room.register(&mut this.key, cx.waker());
                registered = true;
            }
            // The `waker_recheck` mutant skips the look, so a slot freed
            // between the full submit and the registration is never seen:
            // the task waits with room in the queue, and the loom models
            // must catch it.
            #[cfg(not(taskring_mutant = "waker_recheck"))]
            let look = shared.has_room();
            #[cfg(taskring_mutant = "waker_recheck")]
            let look = false;
            if !look {
                this.envelope = Some(envelope);
                return Poll::Pending;
            }
        }
        // Room or a busy slot every time, but another submitter won each
        // race: yield to the executor and come back at once (after a spin
        // hint, which under loom lets the other threads run).
        this.envelope = Some(envelope);
        Backoff::new().snooze();
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<J: Job + 'static, const N: usize> Drop for SubmitAsync<'_, J, N> {
    fn drop(&mut self) {
        if self.shared.room.unregister(&mut self.key) && self.envelope.is_some() {
            // Woken for a free slot and dropped before using it: the next
            // waiter gets the wake-up. The job is dropped with `self`.
            self.shared.room.pass_on(self.shared.has_room());
        }
    }
}

impl<J: Job + 'static, const N: usize> fmt::Debug for SubmitAsync<'_, J, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmitAsync")
            .field("resolved", &self.envelope.is_none())
            .field("registered", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
