//! Worker threads for a `static` [`Pool`]: [`Pool::spawn_workers`] and the
//! process-wide wake-up table behind [`wake_worker`].
//!
//! A `static` pool's wake hook is a plain `fn(usize)` with no context, so
//! it cannot name the pool's threads. Instead every worker started by
//! `spawn_workers` registers its thread in one process-wide table, and
//! [`wake_worker`]`(i)` unparks worker `i` of **every** registered pool.
//! A worker of another pool that is unparked this way finds no work, and
//! goes back to sleep after one pass through its loop (which costs a few
//! microseconds). The worker that was meant always gets its unpark: it
//! registered before it could announce itself idle, and the table's lock
//! orders the registration before the unpark.

use alloc::{format, vec::Vec};
use core::{fmt, panic::AssertUnwindSafe};
use std::{io, panic::catch_unwind};

use super::shared::finish_if_drained;
use crate::{
    loom::{
        sync::{current, park, Builder, JoinHandle, Thread},
        GlobalMutex,
    },
    pool::Outcome,
    Clock, Config, Idle, Job, Pool,
};

/// One registered worker thread and its index in its pool.
struct Entry {
    index: usize,
    thread: Thread,
}

/// Every worker thread started by [`Pool::spawn_workers`] and still running.
static REGISTRY: GlobalMutex<Vec<Entry>> = GlobalMutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The wake hook for `static` pools whose workers run on threads from
/// [`Pool::spawn_workers`]: unparks worker `index` of every such pool.
///
/// Use it through [`thread_config`], or pass it to [`Config::wake`].
pub fn wake_worker(index: usize) {
    for entry in registry().iter().filter(|entry| entry.index == index) {
        entry.thread.unpark();
    }
}

/// A [`Config`] whose wake hook is [`wake_worker`]: what a `static` pool
/// served by [`Pool::spawn_workers`] needs. Chain other settings onto it.
///
/// # Examples
///
/// ```
/// use taskring::{thread_pool::thread_config, Pool, Task};
///
/// static POOL: Pool<Task, 64, 2> = Pool::with_config(thread_config().watermarks(48, 16));
/// # let _ = &POOL;
/// ```
pub const fn thread_config() -> Config {
    Config::new().wake(wake_worker)
}

/// The worker threads of a `static` pool, returned by
/// [`Pool::spawn_workers`].
///
/// Dropping it detaches the threads; they still exit once the pool stops.
#[must_use = "dropping `Workers` detaches the threads; call `join` after stopping the pool"]
pub struct Workers {
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Waits for every worker thread to exit, which they do once the pool
    /// is stopped ([`Pool::stop`] or [`Pool::stop_wait`]).
    pub fn join(self) {
        for handle in self.handles {
            // Cannot be `Err`: job panics are caught inside the thread.
            let _ = handle.join();
        }
    }

    /// How many threads were started.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// True if no thread was started (`W == 0`).
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }
}

impl fmt::Debug for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.handles.len())
            .finish()
    }
}

/// Parks a `static` pool's worker.
struct StaticPark<'a, J, const N: usize, const W: usize, C: Clock>(&'a Pool<J, N, W, C>);

impl<J, const N: usize, const W: usize, C: Clock> Idle for StaticPark<'_, J, N, W, C> {
    fn idle(&mut self, _worker: usize) {
        // `stop_with` inside wakes the other workers through the hook.
        if !finish_if_drained(self.0) {
            park();
        }
    }
}

// === impl Pool (std threads) ===

impl<J, const N: usize, const W: usize, C> Pool<J, N, W, C>
where
    J: Job + 'static,
    C: Clock + 'static,
{
    /// Starts `W` worker threads named `taskring-worker-{i}` that run this
    /// pool's jobs until it stops, parking while there is no work.
    ///
    /// The pool must have been built with [`thread_config`] (or any
    /// [`Config`] whose wake hook is [`wake_worker`]), so that submits can
    /// wake the parked threads. A panicking job is caught and counted in
    /// [`Stats::panicked`](crate::Stats); its worker keeps running.
    ///
    /// For blocking submits, `submit_wait`, panic handlers and `Drop` that
    /// joins, use a [`ThreadPool`](super::ThreadPool) instead.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if the pool has no wake hook; the
    /// error from [`std::thread::Builder::spawn`] if a thread could not be
    /// started (the threads already started keep running: stop the pool to
    /// end them).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use taskring::{thread_pool::thread_config, Pool, Task};
    ///
    /// static POOL: Pool<Task, 64, 2> = Pool::with_config(thread_config());
    /// static DONE: AtomicUsize = AtomicUsize::new(0);
    ///
    /// let workers = POOL.spawn_workers().unwrap();
    /// for _ in 0..10 {
    ///     POOL.try_submit(Task::new(|| {
    ///         DONE.fetch_add(1, Ordering::Relaxed);
    ///     }))
    ///     .unwrap();
    /// }
    /// POOL.stop_wait().unwrap();
    /// workers.join();
    /// assert_eq!(DONE.load(Ordering::Relaxed), 10);
    /// ```
    pub fn spawn_workers(&'static self) -> io::Result<Workers> {
        if !self.has_wake_hook() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "taskring: spawn_workers needs a pool built with thread_config() \
                 (its wake hook unparks the threads)",
            ));
        }
        let mut handles = Vec::with_capacity(W);
        for index in 0..W {
            let handle = Builder::new()
                .name(format!("taskring-worker-{index}"))
                .spawn(move || self.serve(index))?;
            handles.push(handle);
        }
        Ok(Workers { handles })
    }

    /// The body of a `static` pool's worker thread.
    fn serve(&'static self, index: usize) {
        registry().push(Entry {
            index,
            thread: current(),
        });
        /// Leaves the table when the thread ends.
        struct Deregister;
        impl Drop for Deregister {
            fn drop(&mut self) {
                let me = current().id();
                registry().retain(|entry| entry.thread.id() != me);
            }
        }
        let _deregister = Deregister;
        // `AlreadyRunning` if the caller started workers twice: this
        // thread has nothing to do then.
        let _ = self.worker_loop(index, &mut StaticPark(self), |job| {
            match catch_unwind(AssertUnwindSafe(move || job.run())) {
                Ok(()) => Outcome::Completed,
                Err(payload) => {
                    // A payload whose `Drop` panics is leaked.
                    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                        core::mem::forget(again);
                    }
                    Outcome::Panicked
                }
            }
        });
    }
}
