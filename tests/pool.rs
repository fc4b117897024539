//! Semantics of the no_std `Pool`: submit, run, stop, stop_wait, pause,
//! stats, overload and lag.
#![cfg(not(loom))]

use std::{
    mem::size_of,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    thread,
};

use taskring::{
    Clock, Config, ConfigError, Job, OverloadEvent, Pool, Ring, Spin, SubmitError, Task,
    WorkerError,
};

/// A job that records its id in a shared log when it runs.
struct Logged {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
}

impl Job for Logged {
    fn run(self) {
        self.log.lock().unwrap().push(self.id);
    }
}

fn logged(id: usize, log: &Arc<Mutex<Vec<usize>>>) -> Logged {
    Logged {
        id,
        log: log.clone(),
    }
}

fn ids(jobs: impl IntoIterator<Item = Logged>) -> Vec<usize> {
    jobs.into_iter().map(|job| job.id).collect()
}

#[test]
fn run_pending_runs_in_fifo_order() {
    let pool: Pool<Logged, 8, 0> = Pool::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    for id in 0..8 {
        pool.try_submit(logged(id, &log)).unwrap();
    }
    assert_eq!(pool.run_pending(3), 3);
    assert_eq!(pool.run_pending(usize::MAX), 5);
    assert_eq!(*log.lock().unwrap(), (0..8).collect::<Vec<_>>());
    assert_eq!(pool.run_pending(usize::MAX), 0);
}

#[test]
fn one_worker_starts_jobs_in_fifo_order() {
    let pool: Pool<Logged, 64, 1> = Pool::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let jobs = if cfg!(miri) { 20 } else { 1000 };
    thread::scope(|s| {
        s.spawn(|| pool.run_worker(0, &mut Spin).unwrap());
        for id in 0..jobs {
            let mut job = logged(id, &log);
            loop {
                match pool.try_submit(job) {
                    Ok(()) => break,
                    Err(e) => job = e.into_inner(),
                }
                thread::yield_now();
            }
        }
        // Let the one worker run everything: `stop_wait` would help run the
        // queue on this thread, a second runner racing with the worker.
        while pool.stats().completed < jobs {
            thread::yield_now();
        }
        pool.stop_wait().unwrap();
    });
    assert_eq!(*log.lock().unwrap(), (0..jobs).collect::<Vec<_>>());
}

#[test]
fn stop_wait_runs_everything_queued_without_workers() {
    let pool: Pool<Logged, 16, 2> = Pool::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    for id in 0..10 {
        pool.try_submit(logged(id, &log)).unwrap();
    }
    pool.stop_wait().unwrap();
    assert_eq!(log.lock().unwrap().len(), 10);
    let stats = pool.stats();
    assert_eq!(
        (stats.submitted, stats.completed, stats.queued),
        (10, 10, 0)
    );
    // Workers started after the stop return at once.
    assert_eq!(pool.run_worker(1, &mut Spin), Ok(0));
}

#[test]
fn stop_hands_back_exactly_the_jobs_that_did_not_start() {
    let pool: Pool<Logged, 8, 0> = Pool::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    for id in 0..6 {
        pool.try_submit(logged(id, &log)).unwrap();
    }
    assert_eq!(pool.run_pending(2), 2);
    let back = pool.stop();
    assert_eq!(ids(back), vec![2, 3, 4, 5]);
    assert_eq!(*log.lock().unwrap(), vec![0, 1]);
    // Idempotent.
    assert!(pool.stop().is_empty());
    let stats = pool.stats();
    assert_eq!(stats.handed_back, 4);
    assert_eq!(
        stats.submitted,
        stats.completed + stats.handed_back + stats.queued
    );
    assert_eq!(pool.run_pending(usize::MAX), 0);
}

#[test]
fn submit_after_stop_returns_the_same_job() {
    let pool: Pool<Box<u64>, 4, 0> = Pool::new();
    assert!(!pool.is_stopped());
    let _ = pool.stop();
    assert!(pool.is_stopped());
    let job = Box::new(7u64);
    let address = &*job as *const u64;
    let err = pool.try_submit(job).unwrap_err();
    assert!(err.is_stopped(), "{err:?}");
    assert_eq!(err.to_string(), "pool is stopped");
    let back = err.into_inner();
    assert_eq!(&*back as *const u64, address);
    assert_eq!(pool.stats().after_stop, 1);
    assert_eq!(pool.stats().rejected, 1);
}

#[test]
fn full_pool_returns_the_job_and_counts_it() {
    let pool: Pool<fn(), 2, 0> = Pool::new();
    pool.try_submit(|| {}).unwrap();
    pool.try_submit(|| {}).unwrap();
    let err = pool.try_submit(|| {}).unwrap_err();
    assert!(err.is_full());
    let stats = pool.stats();
    assert_eq!((stats.full, stats.rejected, stats.submitted), (1, 1, 2));
    assert_eq!(stats.high_water, 2);
}

#[test]
fn pause_holds_execution_and_resume_releases_it() {
    let pool: Pool<Logged, 8, 1> = Pool::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    pool.pause();
    assert!(pool.is_paused());
    for id in 0..4 {
        pool.try_submit(logged(id, &log)).unwrap();
    }
    assert_eq!(pool.run_pending(usize::MAX), 0);
    thread::scope(|s| {
        s.spawn(|| pool.run_worker(0, &mut Spin).unwrap());
        // The worker is running but paused: nothing starts.
        for _ in 0..20 {
            thread::yield_now();
        }
        assert!(log.lock().unwrap().is_empty());
        assert_eq!(pool.queued(), 4);
        pool.resume();
        assert!(!pool.is_paused());
        // The one worker runs them all; `stop_wait` would help on this
        // thread and race with it.
        while pool.stats().completed < 4 {
            thread::yield_now();
        }
        pool.stop_wait().unwrap();
    });
    assert_eq!(*log.lock().unwrap(), vec![0, 1, 2, 3]);
}

#[test]
fn stop_while_paused_hands_back_everything() {
    let pool: Pool<Logged, 8, 0> = Pool::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    pool.pause();
    for id in 0..3 {
        pool.try_submit(logged(id, &log)).unwrap();
    }
    assert_eq!(ids(pool.stop()), vec![0, 1, 2]);
    assert!(log.lock().unwrap().is_empty());
}

#[test]
fn stop_wait_lifts_a_pause() {
    let pool: Pool<Logged, 8, 0> = Pool::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    pool.pause();
    pool.try_submit(logged(0, &log)).unwrap();
    pool.stop_wait().unwrap();
    assert_eq!(*log.lock().unwrap(), vec![0]);
}

static SELF_POOL: Pool<Task, 2, 0> = Pool::new();
static SELF_RESULTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[test]
fn job_submitting_to_its_own_full_pool_gets_full() {
    SELF_POOL
        .try_submit(Task::new(|| {
            // The ring holds the second job: one more fits, then it is full.
            let first = SELF_POOL.try_submit(Task::new(|| {}));
            let second = SELF_POOL.try_submit(Task::new(|| {}));
            let mut results = SELF_RESULTS.lock().unwrap();
            results.push(format!("{:?}", first.map_err(|e| e.is_full())));
            results.push(format!("{:?}", second.map_err(|e| e.is_full())));
        }))
        .unwrap();
    SELF_POOL.try_submit(Task::new(|| {})).unwrap();
    assert_eq!(SELF_POOL.run_pending(1), 1);
    assert_eq!(*SELF_RESULTS.lock().unwrap(), vec!["Ok(())", "Err(true)"]);
    assert_eq!(SELF_POOL.run_pending(usize::MAX), 2);
}

static STOPPING_POOL: Pool<Task, 4, 0> = Pool::new();
static HANDED_BACK_FROM_JOB: AtomicUsize = AtomicUsize::new(0);

#[test]
fn job_calling_stop_on_its_own_pool_does_not_deadlock() {
    STOPPING_POOL
        .try_submit(Task::new(|| {
            let back = STOPPING_POOL.stop();
            HANDED_BACK_FROM_JOB.store(back.len(), Ordering::Relaxed);
        }))
        .unwrap();
    STOPPING_POOL.try_submit(Task::new(|| {})).unwrap();
    STOPPING_POOL.try_submit(Task::new(|| {})).unwrap();
    assert_eq!(STOPPING_POOL.run_pending(usize::MAX), 1);
    assert_eq!(HANDED_BACK_FROM_JOB.load(Ordering::Relaxed), 2);
    assert!(STOPPING_POOL.is_stopped());
}

#[cfg(feature = "std")]
static WAITING_POOL: Pool<Task, 4, 0> = Pool::new();
#[cfg(feature = "std")]
static FROM_OWN_JOB: Mutex<Option<Result<(), taskring::StopError>>> = Mutex::new(None);

#[cfg(feature = "std")]
#[test]
fn stop_wait_from_its_own_job_is_an_error_not_a_deadlock() {
    WAITING_POOL
        .try_submit(Task::new(|| {
            *FROM_OWN_JOB.lock().unwrap() = Some(WAITING_POOL.stop_wait());
        }))
        .unwrap();
    WAITING_POOL.try_submit(Task::new(|| {})).unwrap();
    assert_eq!(WAITING_POOL.run_pending(1), 1);
    assert_eq!(
        *FROM_OWN_JOB.lock().unwrap(),
        Some(Err(taskring::StopError::FromOwnJob))
    );
    // The pool is closed, and the queued job still runs.
    assert!(WAITING_POOL.is_stopped());
    WAITING_POOL.stop_wait().unwrap();
    assert_eq!(WAITING_POOL.stats().completed, 2);
}

#[test]
fn worker_index_errors() {
    let pool: Pool<fn(), 4, 2> = Pool::new();
    assert_eq!(
        pool.run_worker(2, &mut Spin),
        Err(WorkerError::NoSuchWorker {
            index: 2,
            workers: 2
        })
    );
    let started = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            pool.try_submit(|| {}).unwrap();
            pool.run_worker(0, &mut || {
                started.store(true, Ordering::Release);
                thread::yield_now();
            })
        });
        while !started.load(Ordering::Acquire) {
            thread::yield_now();
        }
        assert_eq!(
            pool.run_worker(0, &mut Spin),
            Err(WorkerError::AlreadyRunning { index: 0 })
        );
        pool.stop_wait().unwrap();
    });
    assert_eq!(pool.stats().completed, 1);
    assert!(WorkerError::AlreadyRunning { index: 0 }
        .to_string()
        .contains("already running"));
}

#[test]
fn stats_high_water_covers_every_observed_depth() {
    let pool: Pool<fn(), 32, 0> = Pool::new();
    let mut seen = 0;
    for round in 0..5 {
        for _ in 0..(3 + round) {
            pool.try_submit(|| {}).unwrap();
            seen = seen.max(pool.queued());
        }
        pool.run_pending(2);
        assert!(pool.stats().high_water >= seen);
    }
    assert_eq!(pool.stats().high_water, seen);
    let stats = pool.stats();
    assert_eq!(stats.submitted, stats.completed + stats.queued);
}

static EVENTS: Mutex<Vec<OverloadEvent>> = Mutex::new(Vec::new());

fn record(event: OverloadEvent) {
    EVENTS.lock().unwrap().push(event);
}

#[test]
fn watermark_hysteresis_fires_once_per_crossing() {
    let pool: Pool<fn(), 8, 0> =
        Pool::with_config(Config::new().watermarks(6, 2).on_overload(record));
    for _round in 0..2 {
        for _ in 0..8 {
            pool.try_submit(|| {}).unwrap();
        }
        assert!(pool.is_overloaded());
        // Bouncing around the high mark does not fire again.
        pool.run_pending(3);
        pool.try_submit(|| {}).unwrap();
        pool.try_submit(|| {}).unwrap();
        assert!(pool.stats().overloaded);
        // Falling to the low mark recovers, once.
        pool.run_pending(usize::MAX);
        assert!(!pool.is_overloaded());
    }
    assert_eq!(
        *EVENTS.lock().unwrap(),
        vec![
            OverloadEvent::Overloaded { depth: 6 },
            OverloadEvent::Recovered { depth: 2 },
            OverloadEvent::Overloaded { depth: 6 },
            OverloadEvent::Recovered { depth: 2 },
        ]
    );
    assert_eq!(pool.stats().overload_events, 2);
}

#[test]
fn bad_watermarks_are_an_error() {
    assert_eq!(
        Config::new().try_watermarks(4, 4).unwrap_err(),
        ConfigError::Watermarks { high: 4, low: 4 }
    );
    assert!(Config::new().try_watermarks(5, 4).is_ok());
}

static NOW: AtomicU64 = AtomicU64::new(1000);

struct FakeClock;
impl Clock for FakeClock {
    type Stamp = u64;
    fn now() -> u64 {
        NOW.load(Ordering::Relaxed)
    }
    fn ticks(stamp: u64) -> u64 {
        stamp
    }
}

#[test]
fn lag_and_max_wait_follow_the_clock() {
    let pool: Pool<fn(), 8, 0, FakeClock> = Pool::new();
    assert_eq!(pool.stats().lag, 0);
    pool.try_submit(|| {}).unwrap(); // At 1000.
    NOW.store(1010, Ordering::Relaxed);
    pool.try_submit(|| {}).unwrap(); // At 1010.
    NOW.store(1050, Ordering::Relaxed);
    assert_eq!(pool.stats().lag, 50);
    pool.run_pending(1); // Waited 50.
                         // Lag is an upper bound measured from the job that started last (from
                         // 1000), since the next job's stamp is inside the queue.
    assert_eq!(pool.stats().lag, 50);
    assert_eq!(pool.stats().max_wait, 50);
    NOW.store(1100, Ordering::Relaxed);
    pool.run_pending(1); // Waited 90.
    assert_eq!(pool.stats().max_wait, 90);
    assert_eq!(pool.stats().lag, 0, "an empty queue has no lag");
}

#[test]
fn no_clock_costs_no_slot_space() {
    // The per-slot size is the difference between two capacities.
    fn slot<J, C: Clock>() -> usize {
        (size_of::<Pool<J, 32, 1, C>>() - size_of::<Pool<J, 16, 1, C>>()) / 16
    }
    let ring_slot = (size_of::<Ring<Task, 32>>() - size_of::<Ring<Task, 16>>()) / 16;
    assert_eq!(slot::<Task, taskring::NoClock>(), ring_slot);
    assert_eq!(ring_slot, size_of::<Task>() + size_of::<usize>());
    assert_eq!(slot::<u8, taskring::NoClock>(), 2 * size_of::<usize>());
    // With a clock each slot carries its stamp.
    assert_eq!(slot::<Task, FakeClock>(), ring_slot + size_of::<u64>());
}

#[test]
fn task_is_four_words_and_fits_an_arc_and_two_integers() {
    assert_eq!(size_of::<Task>(), 4 * size_of::<usize>());
    let hits = Arc::new(AtomicUsize::new(0));
    let (a, b) = (usize::MAX / 2, 3usize);
    let h = hits.clone();
    let task: Task = Task::new(move || {
        h.fetch_add(a % 10 + b, Ordering::Relaxed);
    });
    assert_eq!(task.captures_size(), 3 * size_of::<usize>());
    assert!(format!("{task:?}").contains("captures_size"));
    let handle = thread::spawn(move || task.run());
    handle.join().unwrap();
    assert_eq!(hits.load(Ordering::Relaxed), (usize::MAX / 2) % 10 + 3);
    assert_eq!(
        Arc::strong_count(&hits),
        1,
        "captures dropped after the run"
    );
}

#[test]
fn unrun_tasks_drop_their_captures_exactly_once() {
    let witness = Arc::new(());
    {
        let pool: Pool<Task, 4, 0> = Pool::new();
        for _ in 0..3 {
            let w = witness.clone();
            pool.try_submit(Task::new(move || drop(w))).unwrap();
        }
        assert_eq!(Arc::strong_count(&witness), 4);
        let back = pool.stop();
        assert_eq!(Arc::strong_count(&witness), 4);
        drop(back);
        assert_eq!(Arc::strong_count(&witness), 1);
        let w = witness.clone();
        let task: Task = Task::new(move || drop(w));
        drop(task);
        assert_eq!(Arc::strong_count(&witness), 1);
        // Dropping a pool drops what is still queued.
        let w = witness.clone();
        let pool: Pool<Task, 4, 0> = Pool::new();
        pool.try_submit(Task::new(move || drop(w))).unwrap();
        assert_eq!(Arc::strong_count(&witness), 2);
    }
    assert_eq!(Arc::strong_count(&witness), 1);
}

#[test]
fn zero_sized_and_larger_tasks() {
    let task: Task = Task::new(|| {});
    assert_eq!(task.captures_size(), 0);
    task.run();
    let big = [7u64; 6];
    let task: Task<6> = Task::new(move || assert_eq!(big.iter().sum::<u64>(), 42));
    task.run();
}

#[cfg(feature = "std")]
#[test]
fn panicking_job_is_counted_and_the_pool_goes_on() {
    let pool: Pool<Task, 4, 0> = Pool::new();
    pool.try_submit(Task::new(|| panic!("boom"))).unwrap();
    pool.try_submit(Task::new(|| {})).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.run_pending(1)));
    assert!(result.is_err());
    let stats = pool.stats();
    assert_eq!((stats.panicked, stats.running), (1, 0));
    assert_eq!(pool.run_pending(usize::MAX), 1);
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().completed, 1);
}

#[test]
fn errors_display_and_debug_without_the_job() {
    struct Opaque;
    let err: SubmitError<Opaque> = SubmitError::Busy(Opaque);
    assert_eq!(format!("{err:?}"), "Busy(..)");
    assert!(err.is_busy());
    assert!(err.to_string().contains("busy"));
}

/// Every job is exactly one of: run, handed back by `stop`, or returned to
/// its submitter, while workers run and `stop` races with the submitters.
#[test]
fn conservation_under_a_racing_stop() {
    const SUBMITTERS: usize = 3;
    let per_submitter = if cfg!(miri) { 40 } else { 20_000 };
    let total = SUBMITTERS * per_submitter;
    let ran: Arc<Vec<AtomicUsize>> = Arc::new((0..total).map(|_| AtomicUsize::new(0)).collect());

    struct Mark(usize, Arc<Vec<AtomicUsize>>);
    impl Job for Mark {
        fn run(self) {
            self.1[self.0].fetch_add(1, Ordering::Relaxed);
        }
    }

    let pool: Pool<Mark, 8, 2> = Pool::new();
    let rejected: Vec<usize> = thread::scope(|s| {
        for w in 0..2 {
            let pool = &pool;
            s.spawn(move || pool.run_worker(w, &mut Spin).unwrap());
        }
        let submitters: Vec<_> = (0..SUBMITTERS)
            .map(|k| {
                let (pool, ran) = (&pool, ran.clone());
                s.spawn(move || {
                    let mut rejected = Vec::new();
                    for i in 0..per_submitter {
                        let id = k * per_submitter + i;
                        let mut job = Mark(id, ran.clone());
                        loop {
                            match pool.try_submit(job) {
                                Ok(()) => break,
                                Err(SubmitError::Stopped(back)) => {
                                    rejected.push(back.0);
                                    break;
                                }
                                Err(e) => job = e.into_inner(),
                            }
                            thread::yield_now();
                        }
                    }
                    rejected
                })
            })
            .collect();
        // Let some work happen, then stop in the middle of it.
        while pool.stats().completed < total / 3 {
            thread::yield_now();
        }
        let back = pool.stop();
        let mut rejected: Vec<usize> = back.into_iter().map(|job| job.0).collect();
        for handle in submitters {
            rejected.extend(handle.join().unwrap());
        }
        rejected
    });
    let mut outcome = vec![0usize; total];
    for (id, count) in ran.iter().enumerate() {
        outcome[id] += count.load(Ordering::Relaxed);
    }
    for id in rejected {
        outcome[id] += 1;
    }
    for (id, n) in outcome.iter().enumerate() {
        assert_eq!(*n, 1, "job {id} ended {n} times");
    }
    let stats = pool.stats();
    assert_eq!(stats.submitted, stats.completed + stats.handed_back);
    assert_eq!(stats.queued, 0);
}
