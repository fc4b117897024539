//! `ThreadPool::wait_idle` and `stop_timeout`: earlier jobs have finished
//! when `wait_idle` returns, while later submits keep arriving; and
//! `stop_timeout` hands back exactly the jobs that did not start.
#![cfg(feature = "std")]

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Barrier,
    },
    thread,
    time::Duration,
};

use taskring::{StopError, ThreadPool};

/// Rounds of: submit a batch of jobs of uneven length, call `wait_idle`
/// while another thread keeps submitting, then check every job of the
/// batch has finished.
#[test]
fn wait_idle_returns_after_every_earlier_job_and_not_before() {
    let rounds = if cfg!(miri) { 2 } else { 40 };
    let pool: Arc<ThreadPool> = Arc::new(ThreadPool::new(4).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // A racing submitter: its jobs are submitted after (or during) each
    // call, so `wait_idle` need not wait for them, and must return anyway.
    let racer = {
        let (pool, stop) = (pool.clone(), stop.clone());
        thread::spawn(move || {
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) {
                pool.execute(|| thread::sleep(Duration::from_micros(50)))
                    .unwrap();
                sent += 1;
            }
            sent
        })
    };
    for round in 0..rounds {
        let batch = 32;
        let finished = Arc::new(AtomicUsize::new(0));
        for i in 0..batch {
            let finished = finished.clone();
            pool.execute(move || {
                // Uneven: some jobs are still running when the queue is
                // already drained up to the call's position.
                if (i + round) % 7 == 0 {
                    thread::sleep(Duration::from_millis(3));
                }
                finished.fetch_add(1, Ordering::Release);
            })
            .unwrap();
        }
        pool.wait_idle().unwrap();
        assert_eq!(
            finished.load(Ordering::Acquire),
            batch,
            "round {round}: wait_idle returned before every earlier job finished"
        );
    }
    stop.store(true, Ordering::Relaxed);
    assert!(racer.join().unwrap() > 0);
}

#[test]
fn wait_idle_from_inside_a_job_is_an_error() {
    let pool: Arc<ThreadPool> = Arc::new(ThreadPool::new(1).unwrap());
    let inner = pool.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    pool.execute(move || tx.send(inner.wait_idle()).unwrap())
        .unwrap();
    let result = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(result, Err(StopError::FromOwnJob));
}

#[test]
fn wait_idle_timeout_reports_a_running_job() {
    let pool: ThreadPool = ThreadPool::new(1).unwrap();
    let gate = Arc::new(Barrier::new(2));
    let held = gate.clone();
    pool.execute(move || {
        held.wait();
    })
    .unwrap();
    assert_eq!(
        pool.wait_idle_timeout(Duration::from_millis(20)),
        Err(StopError::TimedOut)
    );
    gate.wait();
    pool.wait_idle().unwrap();
}

/// One worker held in a job; the rest queued. At the deadline, every
/// queued job comes back, none runs, and the held job finishes.
#[test]
fn stop_timeout_hands_back_exactly_the_jobs_that_did_not_start() {
    let pool: ThreadPool<taskring::Task, 64> = ThreadPool::new(1).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    {
        let (ran, started, release) = (ran.clone(), started.clone(), release.clone());
        pool.execute(move || {
            started.wait();
            while !release.load(Ordering::Acquire) {
                thread::sleep(Duration::from_millis(1));
            }
            ran.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    started.wait();
    for _ in 0..10 {
        let ran = ran.clone();
        pool.execute(move || {
            ran.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    let releaser = {
        let release = release.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            release.store(true, Ordering::Release);
        })
    };
    let stopped = pool.stop_timeout(Duration::from_millis(20)).unwrap();
    releaser.join().unwrap();
    assert!(stopped.timed_out);
    assert_eq!(stopped.handed_back.len(), 10);
    assert_eq!(ran.load(Ordering::Relaxed), 1, "only the held job ran");
    let stats = pool.stats();
    assert_eq!((stats.completed, stats.handed_back), (1, 10));
    // The handed-back jobs are the caller's: run them here.
    for job in stopped.handed_back {
        job.run();
    }
    assert_eq!(ran.load(Ordering::Relaxed), 11);
}

#[test]
fn stop_timeout_that_drains_in_time_hands_back_nothing() {
    let pool: ThreadPool = ThreadPool::new(2).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let ran = ran.clone();
        pool.execute(move || {
            ran.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    let stopped = pool.stop_timeout(Duration::from_secs(30)).unwrap();
    assert!(!stopped.timed_out);
    assert!(stopped.handed_back.is_empty());
    assert_eq!(ran.load(Ordering::Relaxed), 100);
    assert!(pool.execute(|| {}).unwrap_err().is_stopped());
}
