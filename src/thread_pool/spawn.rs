//! Awaiting a job's result: [`ThreadPool::spawn`] and its [`JoinHandle`],
//! a future (and a blocking [`join`](JoinHandle::join)) that yields the
//! closure's value, its panic, or the news that it never ran.
//!
//! The handle and the job share one result slot, allocated once per
//! spawn; the job holds one pointer to it, so a closure that fits a
//! [`Task`](crate::Task) beside that pointer is not boxed. The slot is a
//! state under a mutex: the job stores its result and takes the waker (or
//! the thread) to wake, the handle takes the result or stores its waker.
//! The job's side of the slot reports "not run" when it is dropped
//! unrun (handed back by `stop` and dropped, or refused), so every handle
//! resolves.

use alloc::boxed::Box;
use core::{
    any::Any,
    fmt,
    future::Future,
    mem,
    panic::AssertUnwindSafe,
    pin::Pin,
    task::{Context, Poll, Waker},
};
use std::panic::{catch_unwind, resume_unwind};

use super::{FnJob, ThreadPool};
use crate::{
    loom::sync::{current, park, Arc, Mutex, MutexGuard, Thread},
    Job, SubmitError,
};

/// The payload the pool's panic handler receives for a panicking job
/// started by [`ThreadPool::spawn`] whose handle is still alive: the real
/// payload went to the handle ([`JoinError::into_panic`]). A job whose
/// handle was dropped hands its own payload to the panic handler.
pub const PANIC_SENT_TO_HANDLE: &str = "taskring: the panic payload went to the job's JoinHandle";

/// Where a spawned job's result goes.
struct Slot<R> {
    stage: Mutex<Stage<R>>,
}

enum Stage<R> {
    /// The job has not ended; who to wake when it does.
    Running {
        waker: Option<Waker>,
        thread: Option<Thread>,
    },
    /// The job ended; the handle has not taken the result.
    Finished(Result<R, JoinError>),
    /// The handle took the result.
    Taken,
    /// The handle was dropped: nobody wants the result.
    Detached,
}

impl<R> Slot<R> {
    fn lock(&self) -> MutexGuard<'_, Stage<R>> {
        self.stage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stores the result and wakes the handle. Gives the result back if
    /// the handle was dropped, for the caller to drop (or, for a panic, to
    /// hand to the pool) outside the lock.
    fn complete(&self, result: Result<R, JoinError>) -> Option<Result<R, JoinError>> {
        let mut stage = self.lock();
        match mem::replace(&mut *stage, Stage::Taken) {
            Stage::Running { waker, thread } => {
                *stage = Stage::Finished(result);
                drop(stage);
                if let Some(waker) = waker {
                    waker.wake();
                }
                if let Some(thread) = thread {
                    thread.unpark();
                }
                None
            }
            other => {
                // Detached: the job completes at most once, so this is the
                // only other state it can find.
                *stage = other;
                Some(result)
            }
        }
    }
}

/// The job's side of a [`Slot`]: reports "not run" if it is dropped before
/// the job ran.
struct Completer<R>(Option<Arc<Slot<R>>>);

impl<R> Completer<R> {
    fn complete(mut self, result: Result<R, JoinError>) -> Option<Result<R, JoinError>> {
        self.0.take().and_then(|slot| slot.complete(result))
    }
}

impl<R> Drop for Completer<R> {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            drop(slot.complete(Err(JoinError(Repr::NotRun))));
        }
    }
}

/// A handle on a job started by [`ThreadPool::spawn`]: a future of its
/// result, or [`join`](Self::join) to block for it.
///
/// Resolves to `Ok(value)`, or to a [`JoinError`]: the job panicked (the
/// error carries the payload), or it never ran (handed back by `stop`, or
/// refused because the pool was stopped). Dropping the handle detaches the
/// job: it still runs, and its result is dropped.
///
/// # Examples
///
/// ```
/// use taskring::ThreadPool;
///
/// let pool: ThreadPool = ThreadPool::new(2)?;
/// let handle = pool.spawn(|| 6 * 7);
/// assert_eq!(handle.join()?, 42); // Or `handle.await` in async code.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping a JoinHandle detaches the job and drops its result"]
pub struct JoinHandle<R> {
    slot: Arc<Slot<R>>,
}

impl<R> JoinHandle<R> {
    /// Blocks the calling thread until the job has ended; returns its
    /// value, or why there is none.
    ///
    /// Do not call it from inside a job of the same pool for a job queued
    /// behind it: with every worker waiting so, nothing would run it.
    ///
    /// # Errors
    ///
    /// A [`JoinError`] if the job panicked or never ran.
    pub fn join(self) -> Result<R, JoinError> {
        loop {
            let mut stage = self.slot.lock();
            match &mut *stage {
                Stage::Finished(_) => return take(&mut stage),
                Stage::Running { thread, .. } => {
                    if thread.is_none() {
                        *thread = Some(current());
                    }
                    drop(stage);
                    // Spurious returns and stale tokens cost one more look.
                    park();
                }
                Stage::Taken | Stage::Detached => unreachable!("this is a bug in taskring"),
            }
        }
    }

    /// True once the job has ended (its result is waiting in the handle).
    pub fn is_finished(&self) -> bool {
        matches!(*self.slot.lock(), Stage::Finished(_))
    }
}

/// Takes the result out of a finished stage.
fn take<R>(stage: &mut Stage<R>) -> Result<R, JoinError> {
    match mem::replace(stage, Stage::Taken) {
        Stage::Finished(result) => result,
        _ => unreachable!("this is a bug in taskring"),
    }
}

impl<R> Future for JoinHandle<R> {
    type Output = Result<R, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut stage = self.slot.lock();
        match &mut *stage {
            Stage::Finished(_) => Poll::Ready(take(&mut stage)),
            Stage::Running { waker, .. } => {
                match waker {
                    Some(stored) if stored.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Stage::Taken | Stage::Detached => panic!("`JoinHandle` polled after it resolved"),
        }
    }
}

impl<R> Drop for JoinHandle<R> {
    fn drop(&mut self) {
        let mut stage = self.slot.lock();
        let old = mem::replace(&mut *stage, Stage::Detached);
        drop(stage);
        // A result not taken (user code: its `Drop`) is dropped unlocked.
        drop(old);
    }
}

impl<R> fmt::Debug for JoinHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

/// Why a [`JoinHandle`] has no value: the job panicked, or never ran.
pub struct JoinError(Repr);

enum Repr {
    /// Behind a lock only so that `JoinError` is `Sync`; never contended.
    Panicked(std::sync::Mutex<Box<dyn Any + Send>>),
    NotRun,
}

impl JoinError {
    fn panicked(payload: Box<dyn Any + Send>) -> Self {
        Self(Repr::Panicked(std::sync::Mutex::new(payload)))
    }

    /// True if the job ran and panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.0, Repr::Panicked(_))
    }

    /// True if the job never ran: [`ThreadPool::stop`] handed it back, or
    /// the pool was stopped before it could be queued. There is no result.
    pub fn is_not_run(&self) -> bool {
        matches!(self.0, Repr::NotRun)
    }

    /// The panic payload, if the job panicked; the error itself otherwise.
    ///
    /// # Errors
    ///
    /// `self` when the job never ran.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send>, Self> {
        match self.0 {
            Repr::Panicked(payload) => Ok(payload
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)),
            Repr::NotRun => Err(self),
        }
    }

    /// The panic payload, to resume the panic with
    /// [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// If the job did not panic (see [`is_panic`](Self::is_panic)).
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.try_into_panic()
            .unwrap_or_else(|_| panic!("`JoinError::into_panic` on a job that did not panic"))
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Panicked(_) => f.write_str("JoinError::Panicked(..)"),
            Repr::NotRun => f.write_str("JoinError::NotRun"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Repr::Panicked(_) => "the job panicked",
            Repr::NotRun => "the job never ran: handed back by stop, or the pool was stopped",
        })
    }
}

impl core::error::Error for JoinError {}

/// A job that runs `f` into a fresh slot, and the handle on that slot.
fn pair<J, R, F>(f: F) -> (JoinHandle<R>, J)
where
    J: FnJob,
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let slot = Arc::new(Slot {
        stage: Mutex::new(Stage::Running {
            waker: None,
            thread: None,
        }),
    });
    let completer = Completer(Some(slot.clone()));
    let job = J::from_fn(move || match catch_unwind(AssertUnwindSafe(f)) {
        // Detached: the value is dropped here, on the worker.
        Ok(value) => drop(completer.complete(Ok(value))),
        Err(payload) => match completer.complete(Err(JoinError::panicked(payload))) {
            // The handle has the payload; the pool still counts the panic
            // and applies its policy.
            None => resume_unwind(Box::new(PANIC_SENT_TO_HANDLE)),
            // Nobody holds the handle: the pool's panic handler gets it.
            Some(Err(JoinError(Repr::Panicked(payload)))) => resume_unwind(
                payload
                    .into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ),
            Some(_) => unreachable!("this is a bug in taskring"),
        },
    });
    (JoinHandle { slot }, job)
}

impl<J: Job + 'static, const N: usize> ThreadPool<J, N> {
    /// Runs the closure `f` on the pool and returns a [`JoinHandle`] on its
    /// result: await it, or [`join`](JoinHandle::join) it.
    ///
    /// Queues like [`execute`](Self::execute): it blocks while the queue is
    /// full. Async code that must never block checks
    /// [`is_overloaded`](Self::is_overloaded) first, uses
    /// [`try_spawn`](Self::try_spawn) to shed load, or
    /// [`spawn_async`](Self::spawn_async) to wait for room without
    /// blocking. If the pool is stopped (or, from inside a job of this
    /// pool, the queue is full) the handle resolves at once to a
    /// [`JoinError`] that says the job never ran, and `f` is dropped.
    ///
    /// One allocation per call, for the result slot; none more for a
    /// closure that fits a [`Task`](crate::Task) beside one pointer.
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
    /// let pool: ThreadPool = ThreadPool::new(2)?;
    /// let words = vec!["a", "bb", "ccc"];
    /// let total = block_on(pool.spawn(move || words.iter().map(|w| w.len()).sum::<usize>()));
    /// assert_eq!(total?, 6);
    ///
    /// # std::panic::set_hook(Box::new(|_| {}));
    /// let error = pool.spawn(|| panic!("boom")).join().unwrap_err();
    /// assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "boom");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn<R, F>(&self, f: F) -> JoinHandle<R>
    where
        J: FnJob,
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (handle, job) = pair::<J, R, F>(f);
        // A refused job is dropped here: its handle then says it never ran.
        drop(self.submit(job));
        handle
    }

    /// Like [`spawn`](Self::spawn), but never waits: a full queue gives
    /// the job back at once, for a server to shed load.
    ///
    /// # Errors
    ///
    /// As for [`try_submit`](Self::try_submit), with the wrapped job
    /// inside. Submitting that job later runs `f`, but its result is
    /// dropped; dropping it drops `f`.
    pub fn try_spawn<R, F>(&self, f: F) -> Result<JoinHandle<R>, SubmitError<J>>
    where
        J: FnJob,
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (handle, job) = pair::<J, R, F>(f);
        self.try_submit(job).map(|()| handle)
    }

    /// Like [`spawn`](Self::spawn), but waits for room without blocking,
    /// as [`submit_async`](Self::submit_async) does; resolves to the
    /// handle once the job is queued. Dropped before that, it drops `f`.
    ///
    /// # Errors
    ///
    /// As for [`submit_async`](Self::submit_async), with the wrapped job
    /// inside.
    pub async fn spawn_async<R, F>(&self, f: F) -> Result<JoinHandle<R>, SubmitError<J>>
    where
        J: FnJob,
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (handle, job) = pair::<J, R, F>(f);
        self.submit_async(job).await?;
        Ok(handle)
    }
}
