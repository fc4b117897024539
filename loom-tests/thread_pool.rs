//! Models of the thread pool's wake-ups: a submit must reach a worker that
//! is going to park, and a freed slot must reach a submitter that is going
//! to wait. A lost wake-up leaves a thread parked forever, which loom
//! reports as a deadlock.
//!
//! The pool's threads are loom threads here (`ThreadPool::new` spawns them
//! through the crate's loom facade), parking on the pool's own environment:
//! a token count under a mutex and a condition variable.
//!
//! Every model waits for its jobs (through `submit_wait`, or a latch the
//! jobs count down in the two-worker models), or checks a blocked
//! `submit`, before it calls `stop` or `stop_wait`, because those wake
//! every worker and would hide a worker whose wake-up was lost. With
//! `--cfg taskring_mutant="park"` the worker skips its re-check after
//! announcing itself idle, and the one-worker models with a yielding
//! submitter fail (they are not in the mutation gate, which runs the
//! `pool` models; see `scripts/test.sh`).
//!
//! The `wait_idle` models check the other direction: a `wait_idle` that
//! overlaps a submit returns only once the job submitted before it ran.

use taskring::{thread_pool::ThreadPool, Job, SubmitError};

use crate::{mark, model, model_bounded, Arc, Mark, Side};

#[cfg(loom)]
use loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Condvar, Mutex,
};
#[cfg(not(loom))]
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Condvar, Mutex,
};

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
        let pool: Arc<ThreadPool<Mark, N>> = Arc::new(ThreadPool::new(1).unwrap());
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

/// Counts finished jobs under a lock; a waiter blocks on a condition
/// variable until enough have finished.
///
/// The two-worker models wait with this rather than `submit_wait`, whose
/// waiter is unparked by the worker that ran the job: loom's `unpark`
/// makes a thread runnable even while it is blocked on a mutex (the
/// environment's token lock, inside the submit that is still waking the
/// other worker), then fails with "expected to be able to acquire lock".
/// Real threads are not affected; loom's model of it is.
#[derive(Default)]
struct Latch {
    done: Mutex<u32>,
    cond: Condvar,
}

impl Latch {
    fn count(&self) {
        *self.done.lock().unwrap() += 1;
        self.cond.notify_all();
    }

    fn wait_for(&self, jobs: u32) {
        let mut done = self.done.lock().unwrap();
        while *done < jobs {
            done = self.cond.wait(done).unwrap();
        }
    }
}

/// A job that marks its id and then counts itself done on a latch.
struct Signal {
    mark: Mark,
    latch: Arc<Latch>,
}

impl Job for Signal {
    fn run(self) {
        self.mark.run();
        self.latch.count();
    }
}

/// Two workers and `notifiers` submitting threads (main and, for two, a
/// spawned one), each yielding `delay` times (as often as a worker backs
/// off before it sleeps) and then submitting one job while both workers
/// may be on their way to sleep. Each submit that finds an announced
/// sleeper claims it and adds one token to the environment, and some
/// waiting worker takes it. Main then waits until every accepted job ran
/// on the workers (no `stop` yet): if a wake-up is lost, main and a worker
/// block forever and loom reports the deadlock.
///
/// These are the largest thread-pool models: three or four threads that
/// each lock, wait and notify. Measured on two cores, one notifier takes
/// about 15 s at one preemption and did not finish in four minutes at two;
/// two notifiers did not finish in four minutes at one preemption, so they
/// run with none: loom still explores every order of the threads' steps
/// between the points where they yield or block. Neither reaches the
/// `park` mutant's lost wake-up, which needs a preemption between a
/// worker's last look and its announcement on top of these; the
/// one-worker models here and in `pool.rs` catch it.
fn two_workers(notifiers: u32, delay: usize, preemptions: usize) {
    model_bounded(preemptions, move || {
        let pool: Arc<ThreadPool<Signal, 2>> = Arc::new(ThreadPool::new(2).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        let latch = Arc::new(Latch::default());
        // Submits job `id`; returns whether it was accepted.
        let submit = {
            let (pool, ran, latch) = (pool.clone(), ran.clone(), latch.clone());
            move |id: u32| {
                yields(delay);
                let mut job = Signal {
                    mark: mark(id, &ran),
                    latch: latch.clone(),
                };
                // `Busy` (the other notifier claimed first, or loom let a
                // relaxed guess at the tail stay stale) is retried after a
                // yield, a bounded number of times, then given up; nothing
                // else may refuse a job in a roomy, running pool.
                for attempt in 0..3 {
                    match pool.try_submit(job) {
                        Ok(()) => return true,
                        Err(SubmitError::Busy(back)) if attempt < 2 => job = back,
                        Err(SubmitError::Busy(_)) => return false,
                        Err(other) => panic!("a submit into a roomy pool gave {other:?}"),
                    }
                    crate::thread::yield_now();
                }
                unreachable!()
            }
        };
        let notifier = (notifiers > 1).then(|| {
            let submit = submit.clone();
            crate::thread::spawn(move || submit(1))
        });
        let mut accepted = u32::from(submit(0));
        if let Some(notifier) = notifier {
            accepted += u32::from(notifier.join().unwrap());
        }
        // Every accepted job runs on a worker, woken for it if need be.
        latch.wait_for(accepted);
        let ran = ran.load(Ordering::Relaxed);
        assert_eq!(ran.count_ones(), accepted);
        // `stop` first keeps the shutdown short: nothing left to drain.
        assert!(pool.stop().is_empty());
        pool.stop_wait().unwrap();
        assert_eq!(pool.stats().completed, accepted as usize);
    });
}

#[test]
fn two_workers_one_notifier() {
    two_workers(1, 2, 1);
}

#[test]
fn two_workers_two_notifiers() {
    two_workers(2, 2, 0);
}

// === freed slot → blocked submitter ===

/// One slot, one worker: the second `submit` finds the queue full (unless
/// the worker already took the first job), waits, and must be woken by
/// the worker's pop; then the worker must be woken for the second job.
///
/// With the worker preempted between claiming the slot and freeing it, the
/// blocked submit's push returns `Busy`; it must back off with yields (not
/// wait in the room, which counts the slot as free), or it spins until the
/// worker runs again and loom reports its branch limit.
fn freed_slot_wakes_submitter(side: Side) {
    model(move || {
        let pool: Arc<ThreadPool<Mark, 1>> = Arc::new(ThreadPool::new(1).unwrap());
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
/// which must wake it with `Stopped`. Every job ends exactly once: run,
/// handed back by `stop`, or returned to the submitter.
///
/// Only job 0 may run: the worker starts before `pause` and may be taking
/// it when the pause comes; job 1 never runs, the pool being paused until
/// `stop` (`pool::stop_of_a_paused_pool_hands_back_every_job` checks that
/// part alone).
///
/// With the submitter on main, loom also reaches the spin described at
/// [`freed_slot_wakes_submitter`] (the worker preempted while it pops job
/// 0) and stops at its branch limit, so that orientation is ignored until
/// `submit_blocking` yields or blocks there.
fn stop_wakes_submitter(side: Side) {
    model(move || {
        let pool: Arc<ThreadPool<Mark, 1>> = Arc::new(ThreadPool::new(1).unwrap());
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

// === wait_idle ∥ submit ∥ worker ===

/// One worker; job 0 is submitted before `wait_idle`, job 1 by another
/// thread (after `delay` yields) while it waits. When `wait_idle`
/// returns, job 0 has run: the waiter looks at the marks right away,
/// before anything else could run it. Job 1 may or may not have run by
/// then (`wait_idle` may wait for one later job per worker, never for
/// more), and must not keep it waiting: a `wait_idle` that waited for a
/// later job that never comes would spin until loom's branch limit.
///
/// Three threads: main, the pool's worker and one spawned role. The
/// `--cfg taskring_mutant="idle_mark"` build takes a mark one position
/// short, and `wait_idle` returns while job 0 is still queued.
///
/// Bounded at no preemption: `wait_idle` polls (it yields twice per
/// phase, then sleeps between looks without yielding), so once a
/// preemption has put the worker aside mid-job, loom runs the poller
/// alone until its branch limit. Loom still explores every order of the
/// threads' steps between the points where they yield or block (the
/// worker's backoff and park, the waiter's yields, the submitter's
/// `delay`), and every value each load may read.
fn wait_idle_vs_submit(side: Side, delay: usize) {
    model_bounded(0, move || {
        let pool: Arc<ThreadPool<Mark, 2>> = Arc::new(ThreadPool::new(1).unwrap());
        let ran = Arc::new(AtomicUsize::new(0));
        assert!(pool.submit(mark(0, &ran)).is_ok());
        let wait = {
            let (p, r) = (pool.clone(), ran.clone());
            move || {
                p.wait_idle().unwrap();
                r.load(Ordering::Relaxed)
            }
        };
        let submit = {
            let (p, r) = (pool.clone(), ran.clone());
            move || {
                yields(delay);
                p.submit(mark(1, &r)).is_ok()
            }
        };
        let (seen, late) = match side {
            Side::FirstSpawned => {
                let waiter = crate::thread::spawn(wait);
                let late = submit();
                (waiter.join().unwrap(), late)
            }
            Side::SecondSpawned => {
                let submitter = crate::thread::spawn(submit);
                let seen = wait();
                (seen, submitter.join().unwrap())
            }
        };
        assert_eq!(
            seen & 0b1,
            0b1,
            "wait_idle returned before the job submitted before it ran"
        );
        assert!(late, "a submit into a roomy, running pool failed");
        // Job 1 runs too, on the worker, before `stop_wait` returns.
        pool.stop_wait().unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 0b11);
        assert_eq!(pool.stats().completed, 2);
    });
}

crate::both_sides! {
    wait_idle_sees_earlier_job_waiter_spawned, wait_idle_sees_earlier_job_waiter_on_main => |side| {
        wait_idle_vs_submit(side, 0);
    }

    wait_idle_sees_earlier_job_yielding_submitter_waiter_spawned,
    wait_idle_sees_earlier_job_yielding_submitter_waiter_on_main => |side| {
        wait_idle_vs_submit(side, 3);
    }
}
