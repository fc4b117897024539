//! Models of the pool's lifecycle: submit against stop and stop_wait,
//! pause/resume against a worker, two `run_pending` callers against a
//! submitter, and the submit → wake-idle-worker handshake.
//!
//! The invariant checked everywhere: every submitted job ends as exactly one
//! of run, handed back by `stop`, or returned to its submitter, and nothing
//! is left queued once the pool has stopped.

use taskring::{Config, Job, Pool, Spin, SubmitError};

use crate::{mark, model, model_at, Arc, Mark, Side};

#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicUsize, Ordering};

/// Submits each id with at most `attempts` tries (retrying only `Busy`);
/// returns the bitmask of ids given back to the submitter.
fn submit_all<const N: usize, const W: usize>(
    pool: &Pool<Mark, N, W>,
    ids: &[u32],
    ran: &Arc<AtomicUsize>,
    attempts: usize,
) -> usize {
    let mut returned = 0;
    for &id in ids {
        let mut job = mark(id, ran);
        for attempt in 0..attempts {
            match pool.try_submit(job) {
                Ok(()) => break,
                Err(SubmitError::Busy(back)) if attempt + 1 < attempts => job = back,
                Err(error) => {
                    let back = error.into_inner();
                    assert_eq!(back.item.id(), id, "a failed submit gave back another job");
                    returned |= 1 << id;
                    break;
                }
            }
        }
    }
    returned
}

/// Bitmask of the ids handed back by `stop`.
fn stop_mask<const N: usize, const W: usize>(pool: &Pool<Mark, N, W>) -> usize {
    pool.stop()
        .into_iter()
        .fold(0, |mask, job| mask | 1 << job.item.id())
}

/// Checks that the three outcome masks partition `all` exactly.
fn assert_exactly_once(all: usize, ran: usize, handed_back: usize, returned: usize) {
    assert_eq!(ran & handed_back, 0, "a job ran and was handed back");
    assert_eq!(ran & returned, 0, "a job ran and was returned");
    assert_eq!(
        handed_back & returned,
        0,
        "a job was handed back and returned"
    );
    assert_eq!(
        ran | handed_back | returned,
        all,
        "a job was lost: ran {ran:b}, handed back {handed_back:b}, returned {returned:b}"
    );
}

// === submit ∥ stop ===

fn submit_vs_stop<const N: usize>(side: Side) {
    model(move || {
        let pool: Arc<Pool<Mark, N, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let ids = [0, 1];
        let (returned, handed_back) = match side {
            Side::FirstSpawned => {
                let (p, r) = (pool.clone(), ran.clone());
                let submitter = crate::thread::spawn(move || submit_all(&p, &ids, &r, 2));
                let handed_back = stop_mask(&pool);
                (submitter.join().unwrap(), handed_back)
            }
            Side::SecondSpawned => {
                let p = pool.clone();
                let stopper = crate::thread::spawn(move || stop_mask(&p));
                let returned = submit_all(&pool, &ids, &ran, 2);
                (returned, stopper.join().unwrap())
            }
        };
        // Nothing may be left behind once stop and the submits are done.
        assert_eq!(pool.queued(), 0, "a job was stranded in a stopped pool");
        assert!(pool.stop().is_empty());
        assert_eq!(pool.run_pending(usize::MAX), 0);
        assert_exactly_once(0b11, ran.load(Ordering::Relaxed), handed_back, returned);
        let stats = pool.stats();
        assert_eq!(stats.submitted, stats.handed_back);
    });
}

#[test]
fn submit_vs_stop_n1_submitter_spawned() {
    submit_vs_stop::<1>(Side::FirstSpawned);
}

#[test]
fn submit_vs_stop_n1_stopper_spawned() {
    submit_vs_stop::<1>(Side::SecondSpawned);
}

#[test]
fn submit_vs_stop_n2_submitter_spawned() {
    submit_vs_stop::<2>(Side::FirstSpawned);
}

#[test]
fn submit_vs_stop_n2_stopper_spawned() {
    submit_vs_stop::<2>(Side::SecondSpawned);
}

// === submit ∥ run_pending ∥ stop_wait ===

/// A submitter and a `run_pending` caller race with `stop_wait` on main.
/// When `stop_wait` returns, every job the submitter got accepted has run,
/// including one that the `run_pending` thread may still have been running.
fn submit_vs_stop_wait<const N: usize>(with_runner: bool) {
    model(move || {
        let pool: Arc<Pool<Mark, N, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let (p, r) = (pool.clone(), ran.clone());
        let submitter = crate::thread::spawn(move || submit_all(&p, &[0, 1], &r, 2));
        let runner = with_runner.then(|| {
            let p = pool.clone();
            crate::thread::spawn(move || p.run_pending(1))
        });
        pool.stop_wait().unwrap();
        let ran_at_return = ran.load(Ordering::Acquire);
        let returned = submitter.join().unwrap();
        if let Some(runner) = runner {
            runner.join().unwrap();
        }
        // Accepted jobs all ran before `stop_wait` returned.
        assert_exactly_once(0b11, ran_at_return, 0, returned);
        assert_eq!(pool.queued(), 0);
        assert_eq!(pool.run_pending(usize::MAX), 0);
    });
}

#[test]
fn submit_vs_stop_wait_n1() {
    submit_vs_stop_wait::<1>(false);
}

#[test]
fn submit_vs_stop_wait_n2() {
    submit_vs_stop_wait::<2>(false);
}

#[test]
fn submit_and_run_pending_vs_stop_wait_n1() {
    submit_vs_stop_wait::<1>(true);
}

#[test]
fn submit_and_run_pending_vs_stop_wait_n2() {
    submit_vs_stop_wait::<2>(true);
}

// === two run_pending ∥ try_submit ===

/// `Side::FirstSpawned`: both runners spawned, the submitter on main.
/// `Side::SecondSpawned`: the submitter and one runner spawned, the other
/// runner on main. Three threads either way.
fn two_runners_vs_submit<const N: usize>(side: Side, runs: usize) {
    model(move || {
        let pool: Arc<Pool<Mark, N, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let run_some =
            move |pool: &Pool<Mark, N, 0>| (0..runs).map(|_| pool.run_pending(1)).sum::<usize>();
        let spawn_runner = |pool: &Arc<Pool<Mark, N, 0>>| {
            let p = pool.clone();
            crate::thread::spawn(move || run_some(&p))
        };
        let (returned, by_runners) = match side {
            Side::FirstSpawned => {
                let (a, b) = (spawn_runner(&pool), spawn_runner(&pool));
                let returned = submit_all(&pool, &[0, 1], &ran, 2);
                (returned, a.join().unwrap() + b.join().unwrap())
            }
            Side::SecondSpawned => {
                let (p, r) = (pool.clone(), ran.clone());
                let submitter = crate::thread::spawn(move || submit_all(&p, &[0, 1], &r, 2));
                let a = spawn_runner(&pool);
                let by_main = run_some(&pool);
                (submitter.join().unwrap(), a.join().unwrap() + by_main)
            }
        };
        let by_main = pool.run_pending(usize::MAX);
        let ran = ran.load(Ordering::Relaxed);
        assert_eq!(ran.count_ones() as usize, by_runners + by_main);
        assert_exactly_once(0b11, ran, 0, returned);
        let stats = pool.stats();
        assert_eq!(stats.completed, by_runners + by_main);
        assert_eq!(stats.submitted, stats.completed);
    });
}

/// Each runner tries once: with N = 1 and two tries each, loom takes about
/// a minute.
#[test]
fn two_run_pending_vs_submit_n1_runners_spawned() {
    two_runners_vs_submit::<1>(Side::FirstSpawned, 1);
}

#[test]
fn two_run_pending_vs_submit_n1_submitter_spawned() {
    two_runners_vs_submit::<1>(Side::SecondSpawned, 2);
}

#[test]
fn two_run_pending_vs_submit_n2_runners_spawned() {
    two_runners_vs_submit::<2>(Side::FirstSpawned, 2);
}

#[test]
fn two_run_pending_vs_submit_n2_submitter_spawned() {
    two_runners_vs_submit::<2>(Side::SecondSpawned, 2);
}

// === pause / resume ∥ worker ===

/// While paused, at most the one job that the worker was already taking
/// when `pause` was called may start; after `resume`, everything runs.
///
/// `Side::FirstSpawned`: the worker runs before `pause`, so it may be in the
/// middle of taking a job. `Side::SecondSpawned`: the worker starts after
/// `pause` returned, so no job may start until `resume`.
fn pause_vs_worker(side: Side) {
    model(move || {
        let pool: Arc<Pool<Mark, 2, 1>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let spawn_worker = |pool: &Arc<Pool<Mark, 2, 1>>| {
            let p = pool.clone();
            crate::thread::spawn(move || p.run_worker(0, &mut Spin).unwrap())
        };
        let (worker, allowed) = match side {
            Side::FirstSpawned => {
                let worker = spawn_worker(&pool);
                pool.pause();
                (worker, 1)
            }
            Side::SecondSpawned => {
                pool.pause();
                (spawn_worker(&pool), 0)
            }
        };
        assert_eq!(submit_all(&pool, &[0, 1], &ran, 2), 0);
        crate::thread::yield_now();
        let while_paused = ran.load(Ordering::Relaxed).count_ones();
        assert!(
            while_paused <= allowed,
            "{while_paused} jobs started while paused"
        );
        pool.resume();
        pool.stop_wait().unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 0b11);
        worker.join().unwrap();
    });
}

#[test]
fn pause_resume_vs_running_worker() {
    pause_vs_worker(Side::FirstSpawned);
}

#[test]
fn pause_resume_vs_worker_started_while_paused() {
    pause_vs_worker(Side::SecondSpawned);
}

// === submit → wake an idle worker ===

/// Worker threads to unpark, by index, for `Config::wake`.
mod wakers {
    #[cfg(loom)]
    loom::lazy_static! {
        static ref THREADS: loom::sync::Mutex<Vec<loom::thread::Thread>> =
            loom::sync::Mutex::new(Vec::new());
    }
    #[cfg(not(loom))]
    static THREADS: std::sync::Mutex<Vec<std::thread::Thread>> = std::sync::Mutex::new(Vec::new());

    /// On real threads the registry is one process-wide static, so the
    /// wake-up models take turns. (Under loom it is fresh in every
    /// execution.)
    #[cfg(not(loom))]
    pub(super) fn serial() -> std::sync::MutexGuard<'static, ()> {
        static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn set(threads: Vec<crate::thread::Thread>) {
        *THREADS.lock().unwrap() = threads;
    }

    pub(super) fn wake(worker: usize) {
        if let Some(thread) = THREADS.lock().unwrap().get(worker) {
            thread.unpark();
        }
    }
}

/// Idles by parking: only the pool's wake hook brings the worker back.
struct Park;

impl taskring::Idle for Park {
    fn idle(&mut self, _worker: usize) {
        crate::thread::park();
    }
}

/// Jobs for the wake-up models: `Stop` stops the pool from inside a job,
/// which lets the parked workers' loops end.
enum WakeJob {
    Count(Arc<AtomicUsize>),
    Stop(Arc<Pool<WakeJob, 2, 2>>),
}

impl Job for WakeJob {
    fn run(self) {
        match self {
            WakeJob::Count(count) => {
                count.fetch_add(1, Ordering::Relaxed);
            }
            WakeJob::Stop(pool) => drop(pool.stop()),
        }
    }
}

/// One submit must reach a worker that may be going to sleep; if the wake
/// is lost, the worker parks forever and `join` deadlocks, which loom
/// reports.
fn wake_handshake(workers: usize) {
    #[cfg(not(loom))]
    let _serial = wakers::serial();
    let preemptions = if workers > 1 { 1 } else { 3 };
    model_at(preemptions, move || {
        let pool: Arc<Pool<WakeJob, 2, 2>> =
            Arc::new(Pool::with_config(Config::new().wake(wakers::wake)));
        let handles: Vec<_> = (0..workers)
            .map(|index| {
                let p = pool.clone();
                crate::thread::spawn(move || p.run_worker(index, &mut Park).unwrap())
            })
            .collect();
        wakers::set(handles.iter().map(|h| h.thread().clone()).collect());
        let count = Arc::new(AtomicUsize::new(0));
        if workers > 1 {
            assert!(pool.try_submit(WakeJob::Count(count.clone())).is_ok());
        }
        assert!(pool.try_submit(WakeJob::Stop(pool.clone())).is_ok());
        let ran: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        // The stop job ran; the count job ran or was handed back by it.
        assert!(ran >= 1);
        assert_eq!(ran, 1 + count.load(Ordering::Relaxed));
        assert_eq!(pool.queued(), 0);
        wakers::set(Vec::new());
    });
}

/// The other orientation: the worker runs on main and parks there, and a
/// spawned thread submits the job that must wake it.
fn wake_handshake_worker_on_main() {
    #[cfg(not(loom))]
    let _serial = wakers::serial();
    // Three preemptions: a wake lost by skipping the re-check (the `park`
    // mutant) needs the submit to land between the worker's last look at
    // the queue and its announcement, after two backoff yields. At two it
    // goes unseen; at three the model takes 0.1 s.
    model_at(3, || {
        let pool: Arc<Pool<WakeJob, 2, 2>> =
            Arc::new(Pool::with_config(Config::new().wake(wakers::wake)));
        wakers::set(vec![crate::thread::current()]);
        let p = pool.clone();
        let submitter =
            crate::thread::spawn(move || p.try_submit(WakeJob::Stop(p.clone())).is_ok());
        let ran = pool.run_worker(0, &mut Park).unwrap();
        assert!(submitter.join().unwrap());
        assert_eq!(ran, 1);
        assert_eq!(pool.queued(), 0);
        wakers::set(Vec::new());
    });
}

#[test]
fn submit_wakes_an_idle_worker() {
    wake_handshake(1);
}

#[test]
fn submit_wakes_an_idle_worker_on_main() {
    wake_handshake_worker_on_main();
}

#[test]
fn submit_wakes_one_of_two_idle_workers() {
    wake_handshake(2);
}
