//! Models of the async front end: a drainer task registering its waker
//! against a submit (the task must never sleep with a job queued), a task
//! waiting for room against a worker freeing a slot, and a `JoinHandle`
//! completing against being polled or dropped. Each runs in both
//! orientations ([`Side`]).
//!
//! Tasks are driven by `loom::future::block_on`, whose waker is a loom
//! notification: a wake-up that is lost leaves the task's thread blocked
//! forever, which loom reports as a deadlock. Results and values are
//! tracked [`Item`]s and loom `Arc`s, so a result slot or a value that is
//! leaked or dropped twice fails the model too.
//!
//! With `--cfg taskring_mutant="waker_recheck"` the drainer and the
//! waiting submitter skip their look after registering the waker, and the
//! `asynch::` models aimed at them must fail (a deadlock).

use taskring::{
    thread_pool::{JoinError, ThreadPool},
    Pool, Task,
};

use crate::{both_sides, mark, model, model_bounded, Arc, Item, Mark, Side};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};

/// Drives `future` to completion on the calling thread.
fn block_on<F: core::future::Future>(future: F) -> F::Output {
    #[cfg(loom)]
    return loom::future::block_on(future);
    #[cfg(not(loom))]
    {
        // One real interleaving: poll, and yield between polls.
        let mut future = core::pin::pin!(future);
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        loop {
            if let core::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                return value;
            }
            std::thread::yield_now();
        }
    }
}

/// Runs `first` on a spawned thread and `second` on main, or the other
/// way round, per `side`; returns both results.
fn race<A, B>(
    side: Side,
    first: impl FnOnce() -> A + Send + 'static,
    second: impl FnOnce() -> B + Send + 'static,
) -> (A, B)
where
    A: Send + 'static,
    B: Send + 'static,
{
    match side {
        Side::FirstSpawned => {
            let spawned = crate::thread::spawn(first);
            let b = second();
            (spawned.join().unwrap(), b)
        }
        Side::SecondSpawned => {
            let spawned = crate::thread::spawn(second);
            let a = first();
            (a, spawned.join().unwrap())
        }
    }
}

// === drainer registers its waker ∥ submit ===

/// A pool with no worker and a drainer task: `run_async` finds the queue
/// empty, registers its waker and sleeps, while another thread submits
/// one job. The task must run it: if the submit lands between the task's
/// empty look and its announcement, only the look after registering sees
/// the job, and without it (the `waker_recheck` mutant) the task sleeps
/// forever with the job queued.
fn drainer_vs_submit<const N: usize>(side: Side) {
    model(move || {
        let pool: Arc<Pool<Mark, N, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let (p, r) = (pool.clone(), ran.clone());
        let submit = move || p.try_submit(mark(0, &r)).is_ok();
        let p = pool.clone();
        let drain = move || block_on(p.run_async(1));
        let (submitted, drained) = race(side, submit, drain);
        assert!(submitted, "a submit to an open pool with room failed");
        assert_eq!(drained, 1, "the drainer returned without the job");
        assert_eq!(ran.load(Ordering::Relaxed), 0b1);
        assert_eq!(pool.queued(), 0);
        assert_eq!(pool.stats().completed, 1);
    });
}

both_sides! {
    drainer_registers_vs_submit_submitter_spawned,
    drainer_registers_vs_submit_drainer_spawned => |side| {
        drainer_vs_submit::<1>(side);
    }
}

#[test]
fn drainer_registers_vs_submit_n2_submitter_spawned() {
    drainer_vs_submit::<2>(Side::FirstSpawned);
}

/// A paused pool with a job queued: the drainer waits for `resume`, which
/// races with its registration; `resume` must wake it.
fn drainer_vs_resume(side: Side) {
    model(move || {
        let pool: Arc<Pool<Mark, 1, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        pool.pause();
        assert!(pool.try_submit(mark(0, &ran)).is_ok());
        let p = pool.clone();
        let resume = move || p.resume();
        let p = pool.clone();
        let drain = move || block_on(p.run_async(1));
        let ((), drained) = race(side, resume, drain);
        assert_eq!(drained, 1);
        assert_eq!(ran.load(Ordering::Relaxed), 0b1);
    });
}

both_sides! {
    drainer_registers_vs_resume_resumer_spawned,
    drainer_registers_vs_resume_drainer_spawned => |side| {
        drainer_vs_resume(side);
    }
}

// === submit_async waiting for room ∥ a worker freeing a slot ===

/// One slot, one worker thread: the task queues job 0, then job 1, which
/// finds the queue full unless the worker already took job 0; it
/// registers its waker and waits, and the worker's pop must wake it. The
/// task finishes before anyone calls `stop_wait` (which would wake it
/// anyway), so a lost wake-up is a deadlock.
fn submit_async_vs_worker(side: Side) {
    model(move || {
        let pool: Arc<ThreadPool<Mark, 1>> = Arc::new(ThreadPool::new(1).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        let (p, r) = (pool.clone(), ran.clone());
        let submitter = move || {
            block_on(async {
                p.submit_async(mark(0, &r)).await.is_ok()
                    && p.submit_async(mark(1, &r)).await.is_ok()
            })
        };
        let ok = match side {
            Side::FirstSpawned => crate::thread::spawn(submitter).join().unwrap(),
            Side::SecondSpawned => submitter(),
        };
        assert!(ok, "submit_async failed on a running pool");
        pool.stop_wait().unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 0b11);
        let stats = pool.stats();
        assert_eq!((stats.completed, stats.rejected), (2, 0));
    });
}

both_sides! {
    submit_async_waits_for_a_freed_slot_submitter_spawned,
    submit_async_waits_for_a_freed_slot_submitter_on_main => |side| {
        submit_async_vs_worker(side);
    }
}

/// A paused pool with a full queue: a task waits for room while another
/// thread stops the pool. Every job ends exactly once: handed back by
/// `stop`, returned to the task, or run (job 0 by a worker that was taking
/// it as the pause came; job 1 if it got in and a worker took it once the
/// stop had closed the queue, where a pause no longer holds jobs back).
/// The task must be woken by `stop`.
///
/// Bounded at one preemption: with the pool's worker, the stopper and the
/// task each locking and notifying, two preemptions take about a minute
/// per orientation, too long for the suite. The blocking twin of this race
/// (`thread_pool::stop_wakes_blocked_submitter_*`) runs at the suite's
/// bound, and loom still switches threads whenever one blocks or yields.
fn submit_async_vs_stop(side: Side) {
    model_bounded(1, move || {
        let pool: Arc<ThreadPool<Mark, 1>> = Arc::new(ThreadPool::new(1).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        pool.pause();
        assert!(pool.try_submit(mark(0, &ran)).is_ok());
        let (p, r) = (pool.clone(), ran.clone());
        let submit = move || match block_on(p.submit_async(mark(1, &r))) {
            Ok(()) => 0,
            Err(error) => 1 << error.into_inner().item.id(),
        };
        let p = pool.clone();
        let stop = move || {
            p.stop()
                .into_iter()
                .fold(0, |mask, job| mask | 1 << job.item.id())
        };
        let (returned, handed_back) = race(side, submit, stop);
        pool.stop_wait().unwrap();
        let ran = ran.load(Ordering::Relaxed);
        assert_eq!(ran & handed_back, 0, "a job ran and was handed back");
        assert_eq!(ran & returned, 0, "a job ran and was returned");
        assert_eq!(handed_back & returned, 0, "handed back and returned");
        assert_eq!(ran | handed_back | returned, 0b11, "a job was lost");
    });
}

both_sides! {
    submit_async_vs_stop_stopper_on_main, submit_async_vs_stop_submitter_on_main => |side| {
        submit_async_vs_stop(side);
    }
}

// === JoinHandle completing ∥ polled or dropped ===

/// The value a spawned job returns: a tracked item, so that loom reports
/// it if it is leaked or dropped twice.
fn value(id: u32) -> Item {
    Item::new(id)
}

/// One worker runs a spawned job while the handle is awaited on another
/// thread: the result must arrive, once.
fn handle_polled(side: Side) {
    model(move || {
        let pool: Arc<ThreadPool<Task, 1>> = Arc::new(ThreadPool::new(1).unwrap());
        let handle = pool.spawn(|| value(7));
        let await_it = move || block_on(handle).map(|item| item.id());
        let got = match side {
            Side::FirstSpawned => crate::thread::spawn(await_it).join().unwrap(),
            Side::SecondSpawned => await_it(),
        };
        assert_eq!(got.unwrap(), 7);
        assert!(pool.stop().is_empty());
    });
}

both_sides! {
    join_handle_completes_vs_poll_awaited_spawned,
    join_handle_completes_vs_poll_awaited_on_main => |side| {
        handle_polled(side);
    }
}

/// The handle is dropped while the worker completes the job: the value is
/// dropped exactly once (by whichever side comes second), nothing leaks,
/// and the job still ran.
fn handle_dropped(side: Side) {
    model(move || {
        let pool: Arc<ThreadPool<Task, 1>> = Arc::new(ThreadPool::new(1).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let handle = pool.spawn(move || {
            r.fetch_add(1, Ordering::Relaxed);
            value(3)
        });
        match side {
            Side::FirstSpawned => crate::thread::spawn(move || drop(handle)).join().unwrap(),
            Side::SecondSpawned => drop(handle),
        }
        // Runs the job if the worker has not yet, and joins the worker.
        pool.stop_wait().unwrap();
        let stats = pool.stats();
        assert_eq!(ran.load(Ordering::Relaxed), 1, "{stats:?}");
        assert_eq!(stats.completed, 1);
    });
}

both_sides! {
    join_handle_completes_vs_drop_dropped_spawned,
    join_handle_completes_vs_drop_dropped_on_main => |side| {
        handle_dropped(side);
    }
}

/// A job handed back by `stop` while its handle is awaited: the handle
/// resolves to "not run" once the handed-back job is dropped, or to the
/// value if the worker took the job first.
fn handle_vs_stop(side: Side) {
    model(move || {
        let pool: Arc<ThreadPool<Task, 1>> = Arc::new(ThreadPool::new(1).unwrap());
        let handle = pool.spawn(|| value(5));
        let await_it = move || block_on(handle).map(|item| item.id());
        let p = pool.clone();
        let stop = move || p.stop().len();
        let (got, handed_back): (Result<u32, JoinError>, usize) = race(side, await_it, stop);
        match got {
            Ok(id) => assert_eq!((id, handed_back), (5, 0)),
            Err(error) => {
                assert!(error.is_not_run());
                assert_eq!(handed_back, 1);
            }
        }
    });
}

both_sides! {
    join_handle_not_run_vs_poll_awaited_spawned,
    join_handle_not_run_vs_poll_awaited_on_main => |side| {
        handle_vs_stop(side);
    }
}

// === stop_wait ∥ a worker's last look ===

/// A job queued just before `stop_wait`: the worker may have found the
/// queue empty just before the push and see the close just after it. It
/// must still run the job (it looked at the close mark after its empty
/// pop and took the queue for drained, before the fix).
#[test]
fn stop_wait_runs_a_job_queued_just_before() {
    model(|| {
        let pool: Arc<ThreadPool<Mark, 1>> = Arc::new(ThreadPool::new(1).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        assert!(pool.try_submit(mark(0, &ran)).is_ok());
        pool.stop_wait().unwrap();
        let stats = pool.stats();
        assert_eq!(ran.load(Ordering::Relaxed), 0b1, "{stats:?}");
        assert_eq!((stats.completed, stats.queued), (1, 0));
    });
}
