//! Models of the thread pool's wake-ups: a submit must reach a worker that
//! is going to park, and a freed slot must reach a submitter that is going
//! to wait. A lost wake-up leaves a thread parked forever, which loom
//! reports as a deadlock.
//!
//! Every model waits for its jobs through `submit_wait` (or checks a
//! blocked `submit`) before it calls `stop_wait`, because `stop_wait` runs
//! queued jobs on the caller and would hide a worker that never woke.
//! With `--cfg taskring_mutant="park"` the worker skips its re-check after
//! announcing itself idle, and the wake-up models must fail.

use taskring::{thread_pool::ThreadPool, SubmitError};

use crate::{mark, model, Arc, Mark, Side};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};

/// Runs `role` on a spawned thread or on main, per `side`, and returns
/// its result once it finished.
fn run_as<T: Send + 'static>(side: Side, role: impl FnOnce() -> T + Send + 'static) -> T {
    match side {
        Side::FirstSpawned => crate::thread::spawn(role).join().unwrap(),
        Side::SecondSpawned => role(),
    }
}

// === submit → parked worker ===

/// Yields `times` times. A worker backs off with one `yield_now` per step
/// before it parks (twice under loom), and loom switches away from a
/// yielding thread without spending a preemption; a submitter that yields
/// as often lets the worker reach its last empty look and announcement
/// right as the job arrives within the preemption bound.
fn yields(times: usize) {
    for _ in 0..times {
        crate::thread::yield_now();
    }
}

/// One worker, one `submit_wait`: the worker may be anywhere between its
/// last empty look and `park` when the job arrives.
fn submit_wakes_worker<const N: usize>(side: Side, delay: usize) {
    model(move || {
        let pool: Arc<ThreadPool<Mark, N, 1>> = Arc::new(ThreadPool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let (p, r) = (pool.clone(), ran.clone());
        let waited = run_as(side, move || {
            yields(delay);
            p.submit_wait(mark(0, &r)).is_ok()
        });
        assert!(waited, "submit_wait failed");
        // The worker ran it: `stop_wait` has not been called yet.
        assert_eq!(ran.load(Ordering::Relaxed), 0b1);
        pool.stop_wait().unwrap();
        assert_eq!(pool.stats().completed, 1);
    });
}

#[test]
fn submit_wakes_parked_worker_n1_submitter_on_main() {
    submit_wakes_worker::<1>(Side::SecondSpawned, 0);
}

#[test]
fn submit_wakes_parked_worker_n1_submitter_spawned() {
    submit_wakes_worker::<1>(Side::FirstSpawned, 0);
}

#[test]
fn submit_wakes_parked_worker_n2_submitter_on_main() {
    submit_wakes_worker::<2>(Side::SecondSpawned, 0);
}

#[test]
fn submit_wakes_parked_worker_n2_submitter_spawned() {
    submit_wakes_worker::<2>(Side::FirstSpawned, 0);
}

#[test]
fn submit_wakes_parked_worker_n1_yielding_submitter_on_main() {
    submit_wakes_worker::<1>(Side::SecondSpawned, 2);
}

#[test]
fn submit_wakes_parked_worker_n2_yielding_submitter_spawned() {
    submit_wakes_worker::<2>(Side::FirstSpawned, 2);
}

/// Two workers, one `submit_wait`: the submit must claim and wake one of
/// the sleepers (or find one awake), whichever of the two it is.
fn submit_wakes_one_of_two_workers<const N: usize>() {
    model(move || {
        let pool: ThreadPool<Mark, N, 2> = ThreadPool::new();
        let ran = Arc::new(AtomicUsize::new(0));
        yields(2);
        assert!(pool.submit_wait(mark(0, &ran)).is_ok());
        assert_eq!(ran.load(Ordering::Relaxed), 0b1);
        // `stop` first keeps the shutdown short: nothing left to drain.
        assert!(pool.stop().is_empty());
        drop(pool); // Joins both workers.
    });
}

// Three threads that each lock, park and unpark: even P = 1 takes over
// five minutes on two shared cores, too long for Tier 0. Run them with
// `-- --ignored thread_pool::submit_wakes_one_of_two` (Tier 1). With the
// submitter yielding as often as a worker backs off, a lost wake-up needs
// one preemption, so P = 1 still reaches it. Tier 0 covers the two-worker
// handshake of the underlying `Pool` in `pool::submit_wakes_one_of_two_idle_workers`.

#[test]
#[ignore = "Tier 1: minutes under loom"]
fn submit_wakes_one_of_two_parked_workers_n1() {
    crate::model_bounded(1, submit_wakes_one_of_two_workers::<1>);
}

#[test]
#[ignore = "Tier 1: minutes under loom"]
fn submit_wakes_one_of_two_parked_workers_n2() {
    crate::model_bounded(1, submit_wakes_one_of_two_workers::<2>);
}

// === freed slot → blocked submitter ===

/// One slot, one worker: the second `submit` finds the queue full (unless
/// the worker already took the first job), waits, and must be woken by
/// the worker's pop; then the worker must be woken for the second job.
fn freed_slot_wakes_submitter(side: Side) {
    model(move || {
        let pool: Arc<ThreadPool<Mark, 1, 1>> = Arc::new(ThreadPool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let (p, r) = (pool.clone(), ran.clone());
        let ok = run_as(side, move || {
            p.submit(mark(0, &r)).is_ok() && p.submit_wait(mark(1, &r)).is_ok()
        });
        assert!(ok, "a blocking submit failed on a running pool");
        // Both ran on the worker: FIFO and one worker, so job 0 first.
        assert_eq!(ran.load(Ordering::Relaxed), 0b11);
        pool.stop_wait().unwrap();
    });
}

#[test]
fn freed_slot_wakes_blocked_submitter_on_main() {
    freed_slot_wakes_submitter(Side::SecondSpawned);
}

#[test]
fn freed_slot_wakes_blocked_submitter_spawned() {
    freed_slot_wakes_submitter(Side::FirstSpawned);
}

// === stop → blocked submitter ===

/// A paused pool with a full queue: a second submit blocks until `stop`,
/// which must wake it with `Stopped`. Every job ends exactly once: run
/// (only job 0, by a worker that was already taking it when `pause` came),
/// handed back by `stop`, or returned to the submitter.
fn stop_wakes_submitter(side: Side) {
    model(move || {
        let pool: Arc<ThreadPool<Mark, 1, 1>> = Arc::new(ThreadPool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        pool.pause();
        assert!(pool.try_submit(mark(0, &ran)).is_ok());
        let submit = {
            let (p, r) = (pool.clone(), ran.clone());
            move || match p.submit(mark(1, &r)) {
                Err(SubmitError::Stopped(job)) => 1 << job.item.id(),
                Ok(()) => 0,
                Err(other) => panic!("blocking submit gave {other:?}"),
            }
        };
        let stop = {
            let p = pool.clone();
            move || {
                p.stop()
                    .into_iter()
                    .fold(0, |mask, job| mask | 1 << job.item.id())
            }
        };
        let (returned, handed_back) = match side {
            Side::FirstSpawned => {
                let submitter = crate::thread::spawn(submit);
                let handed_back = stop();
                (submitter.join().unwrap(), handed_back)
            }
            Side::SecondSpawned => {
                let stopper = crate::thread::spawn(stop);
                let returned = submit();
                (returned, stopper.join().unwrap())
            }
        };
        pool.stop_wait().unwrap();
        let ran = ran.load(Ordering::Relaxed);
        assert_eq!(ran & !0b1, 0, "a job started while paused");
        assert_eq!(ran & handed_back, 0, "a job ran and was handed back");
        assert_eq!(ran & returned, 0, "a job ran and was returned");
        assert_eq!(
            handed_back & returned,
            0,
            "a job was handed back and returned"
        );
        assert_eq!(ran | handed_back | returned, 0b11, "a job was lost");
    });
}

#[test]
fn stop_wakes_blocked_submitter_spawned() {
    stop_wakes_submitter(Side::FirstSpawned);
}

#[test]
fn stop_wakes_blocked_submitter_on_main() {
    stop_wakes_submitter(Side::SecondSpawned);
}
