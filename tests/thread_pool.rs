//! The std thread pool: blocking submit, submit-and-wait, stop and
//! shutdown, calls from inside a job, overload alerts, static pools.
//! Every test joins its workers (`stop_wait` or `Drop`) before returning.
#![cfg(all(feature = "std", not(loom)))]
// Hosted tests: std paths read better here than core/alloc ones.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc, Arc, Barrier, Mutex,
    },
    thread,
    time::Duration,
};

use taskring::{
    thread_pool::{thread_config, ThreadPool, WaitError},
    Job, OverloadEvent, Pool, StopError, SubmitError, Task,
};

/// Liveness limit for waits on other threads: reached only if the pool is
/// broken (a lost wake-up), so the test fails instead of hanging.
const HANG: Duration = Duration::from_secs(60);

type BoxJob = Box<dyn FnOnce() + Send>;

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn bump(count: &Arc<AtomicUsize>) -> Task {
    let count = count.clone();
    Task::new(move || {
        count.fetch_add(1, Ordering::Relaxed);
    })
}

/// A job that blocks until `gate` has been passed by the test as well.
fn blocker(gate: &Arc<Barrier>) -> Task {
    let gate = gate.clone();
    Task::new(move || {
        gate.wait();
    })
}

/// A pool whose live worker threads are counted in `live`.
fn counted<J: Job + 'static, const N: usize, const W: usize>(
    live: &Arc<AtomicUsize>,
) -> ThreadPool<J, N, W> {
    let (up, down) = (live.clone(), live.clone());
    ThreadPool::builder()
        .on_thread_start(move |_| {
            up.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(move |_| {
            down.fetch_sub(1, Ordering::SeqCst);
        })
        .build()
        .unwrap()
}

/// Holds the one worker of `pool` inside a job until the returned barrier
/// is passed. Unlike `pause`, this leaves no doubt: a worker that was
/// already taking a job when `pause` came may still start that one job.
fn hold_worker<const N: usize>(pool: &ThreadPool<Task, N, 1>) -> Arc<Barrier> {
    let gate = Arc::new(Barrier::new(2));
    let (started, busy) = mpsc::channel();
    let g = gate.clone();
    pool.submit(Task::new(move || {
        started.send(()).unwrap();
        g.wait();
    }))
    .unwrap();
    busy.recv_timeout(HANG).unwrap();
    gate
}

// === construction ===

#[test]
fn new_spawns_w_named_threads() {
    let names = Arc::new(Mutex::new(Vec::new()));
    let n = names.clone();
    let pool: ThreadPool<Task, 4, 3> = ThreadPool::builder()
        .on_thread_start(move |_| {
            n.lock()
                .unwrap()
                .push(thread::current().name().unwrap().to_owned());
        })
        .build()
        .unwrap();
    pool.stop_wait().unwrap();
    let mut names = names.lock().unwrap().clone();
    names.sort();
    assert_eq!(
        names,
        [
            "taskring-worker-0",
            "taskring-worker-1",
            "taskring-worker-2"
        ]
    );
}

#[test]
fn builder_sets_prefix_and_stack_size() {
    const BIG: usize = if cfg!(miri) { 1 << 10 } else { 1 << 20 };
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let pool: ThreadPool<BoxJob, 4, 1> = ThreadPool::builder()
        .name_prefix("tp-test-")
        .stack_size(4 << 20)
        .build()
        .unwrap();
    pool.submit_wait(Box::new(move || {
        // Uses more stack than a tiny default would allow.
        let big = [1u8; BIG];
        *s.lock().unwrap() = Some((
            thread::current().name().unwrap().to_owned(),
            std::hint::black_box(&big)
                .iter()
                .map(|&b| usize::from(b))
                .sum::<usize>(),
        ));
    }))
    .unwrap();
    drop(pool);
    assert_eq!(
        seen.lock().unwrap().clone(),
        Some(("tp-test-0".to_owned(), BIG))
    );
}

// === blocking submit ===

#[test]
fn submit_blocks_while_full_and_proceeds_when_a_slot_frees() {
    let gate = Arc::new(Barrier::new(2));
    let count = counter();
    let pool: Arc<ThreadPool<Task, 1, 1>> = Arc::new(ThreadPool::new());
    pool.submit(blocker(&gate)).unwrap(); // Taken by the worker, which blocks.
                                          // The worker holds `blocker`; fill the one slot.
    while pool.try_submit(bump(&count)).is_err() {
        thread::yield_now();
    }
    assert!(matches!(
        pool.try_submit(bump(&count)),
        Err(SubmitError::Full(_))
    ));
    let done = Arc::new(AtomicBool::new(false));
    let submitter = {
        let (pool, count, done) = (pool.clone(), count.clone(), done.clone());
        thread::spawn(move || {
            pool.submit(bump(&count)).unwrap();
            done.store(true, Ordering::SeqCst);
        })
    };
    // The submitter cannot finish while the worker is held and the slot is
    // taken. (A short look, not a timing assertion: it must still be
    // blocked, however long we wait.)
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 50 }));
    assert!(
        !done.load(Ordering::SeqCst),
        "submit returned on a full queue"
    );
    gate.wait(); // Release the worker: it takes the queued job, freeing the slot.
    submitter.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
    pool.stop_wait().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 2);
    assert_eq!(pool.stats().completed, 3);
}

#[test]
fn stop_wakes_blocked_submitters_with_stopped() {
    // The one worker is held inside a job and the queue is full, so the
    // submitters below must block until `stop`.
    let pool: Arc<ThreadPool<Task, 2, 1>> = Arc::new(ThreadPool::new());
    let gate = Arc::new(Barrier::new(2));
    let (started, worker_busy) = mpsc::channel();
    let g = gate.clone();
    pool.submit(Task::new(move || {
        started.send(()).unwrap();
        g.wait();
    }))
    .unwrap();
    worker_busy.recv_timeout(HANG).unwrap();
    let count = counter();
    pool.submit(bump(&count)).unwrap();
    pool.submit(bump(&count)).unwrap();
    let (tx, rx) = mpsc::channel();
    let submitters: Vec<_> = (0..3)
        .map(|_| {
            let (pool, count, tx) = (pool.clone(), count.clone(), tx.clone());
            thread::spawn(move || {
                let result = pool.submit(bump(&count));
                tx.send(matches!(result, Err(SubmitError::Stopped(_))))
                    .unwrap();
            })
        })
        .collect();
    // None can finish before the stop.
    assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
    let back = pool.stop();
    assert_eq!(back.len(), 2);
    for _ in 0..3 {
        assert!(
            rx.recv_timeout(HANG).unwrap(),
            "a blocked submit was not Stopped"
        );
    }
    for submitter in submitters {
        submitter.join().unwrap();
    }
    gate.wait();
    pool.stop_wait().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 0);
    let stats = pool.stats();
    assert_eq!((stats.handed_back, stats.after_stop), (2, 3));
}

#[test]
fn submit_timeout_returns_full_after_the_timeout() {
    let pool: ThreadPool<Task, 1, 1> = ThreadPool::new();
    let gate = hold_worker(&pool);
    let count = counter();
    pool.submit(bump(&count)).unwrap();
    let start = std::time::Instant::now();
    let result = pool.submit_timeout(bump(&count), Duration::from_millis(30));
    assert!(matches!(result, Err(SubmitError::Full(_))));
    assert!(start.elapsed() >= Duration::from_millis(30));
    // With room, it queues.
    gate.wait();
    pool.submit_timeout(bump(&count), HANG).unwrap();
    pool.stop_wait().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 2);
}

#[test]
fn oversubscribed_blocking_submitters_complete() {
    // S17: 8 blocking submitters and 8 workers on a tiny queue.
    const PER: usize = if cfg!(miri) { 5 } else { 2_000 };
    let pool: Arc<ThreadPool<Task, 2, 8>> = Arc::new(ThreadPool::new());
    let count = counter();
    let submitters: Vec<_> = (0..8)
        .map(|_| {
            let (pool, count) = (pool.clone(), count.clone());
            thread::spawn(move || {
                for _ in 0..PER {
                    pool.submit(bump(&count)).unwrap();
                }
            })
        })
        .collect();
    for submitter in submitters {
        submitter.join().unwrap();
    }
    pool.stop_wait().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 8 * PER);
}

// === submit and wait ===

#[test]
fn submit_wait_returns_after_the_job_ran() {
    let pool: ThreadPool<Task, 4, 2> = ThreadPool::new();
    let count = counter();
    for i in 1..=10 {
        pool.submit_wait(bump(&count)).unwrap();
        assert_eq!(count.load(Ordering::Relaxed), i);
    }
}

#[test]
fn submit_wait_with_returns_the_value() {
    let pool: ThreadPool<Task<4>, 4, 2> = ThreadPool::new();
    let (a, b) = (6u64, 7u64);
    assert_eq!(pool.submit_wait_with(move || a * b), Ok(42));
    let boxed: ThreadPool<BoxJob, 4, 2> = ThreadPool::new();
    let text = String::from("taskring");
    assert_eq!(boxed.submit_wait_with(move || text.len()), Ok(8));
}

#[test]
fn submit_wait_on_a_stopped_pool_gives_the_job_back() {
    let pool: ThreadPool<Task, 4, 1> = ThreadPool::new();
    drop(pool.stop());
    let count = counter();
    let error = pool.submit_wait(bump(&count)).unwrap_err();
    assert!(matches!(error, WaitError::Stopped(_)));
    error.into_job().unwrap().run();
    assert_eq!(count.load(Ordering::Relaxed), 1);
    assert_eq!(pool.submit_wait_with(|| 1), Err(WaitError::Stopped(())));
}

#[test]
fn submit_wait_for_a_job_handed_back_by_stop_is_not_run() {
    let pool: Arc<ThreadPool<Task, 4, 1>> = Arc::new(ThreadPool::new());
    let gate = hold_worker(&pool);
    let count = counter();
    let waiter = {
        let (pool, count) = (pool.clone(), count.clone());
        thread::spawn(move || pool.submit_wait(bump(&count)))
    };
    while pool.queued() == 0 {
        thread::yield_now();
    }
    let back = pool.stop();
    assert_eq!(back.len(), 1);
    assert!(matches!(waiter.join().unwrap(), Err(WaitError::NotRun)));
    drop(back);
    gate.wait();
    pool.stop_wait().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 0);
}

// === stop and shutdown ===

#[test]
fn stop_hands_back_queued_jobs_and_stop_wait_runs_them() {
    let pool: ThreadPool<Task, 8, 2> = ThreadPool::new();
    let count = counter();
    pool.pause();
    for _ in 0..5 {
        pool.submit(bump(&count)).unwrap();
    }
    let back = pool.stop();
    assert!(pool.stop().is_empty(), "stop is idempotent");
    pool.stop_wait().unwrap();
    // A worker already taking a job when `pause` came may have run one.
    let ran = count.load(Ordering::Relaxed);
    assert!(ran <= 2, "{ran} jobs ran in a paused pool");
    assert_eq!(back.len() + ran, 5);
    let before = ran;

    let pool: ThreadPool<Task, 8, 2> = ThreadPool::new();
    pool.pause();
    for _ in 0..5 {
        pool.submit(bump(&count)).unwrap();
    }
    pool.stop_wait().unwrap(); // Lifts the pause and drains.
    assert_eq!(count.load(Ordering::Relaxed) - before, 5);
    assert!(pool.is_stopped());
}

#[test]
fn drop_with_jobs_queued_and_running_joins_every_thread() {
    let live = counter();
    let count = counter();
    let gate = Arc::new(Barrier::new(3));
    {
        let pool = counted::<Task, 16, 2>(&live);
        pool.submit(blocker(&gate)).unwrap();
        pool.submit(blocker(&gate)).unwrap();
        for _ in 0..10 {
            pool.submit(bump(&count)).unwrap();
        }
        // Both workers are inside `blocker`; release them once `drop` runs.
        let gate = gate.clone();
        let releaser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            gate.wait();
        });
        drop(pool);
        releaser.join().unwrap();
    }
    assert_eq!(live.load(Ordering::SeqCst), 0, "a worker outlived drop");
    assert_eq!(
        count.load(Ordering::Relaxed),
        10,
        "drop did not run the queue"
    );
}

#[test]
fn concurrent_stop_wait_callers_all_return_after_the_join() {
    let live = counter();
    let pool = Arc::new(counted::<Task, 8, 2>(&live));
    let count = counter();
    for _ in 0..8 {
        pool.submit(bump(&count)).unwrap();
    }
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let (pool, live) = (pool.clone(), live.clone());
            thread::spawn(move || {
                pool.stop_wait().unwrap();
                assert_eq!(live.load(Ordering::SeqCst), 0);
            })
        })
        .collect();
    for caller in callers {
        caller.join().unwrap();
    }
    assert_eq!(count.load(Ordering::Relaxed), 8);
}

#[test]
fn stop_from_inside_a_job() {
    let pool: Arc<ThreadPool<BoxJob, 8, 2>> = Arc::new(ThreadPool::new());
    let count = counter();
    let (tx, rx) = mpsc::channel();
    let p = pool.clone();
    pool.pause();
    pool.submit(Box::new(move || {
        tx.send(p.stop().len()).unwrap();
    }))
    .unwrap();
    let mut returned = 0;
    for _ in 0..3 {
        let count = count.clone();
        let job: BoxJob = Box::new(move || {
            count.fetch_add(1, Ordering::Relaxed);
        });
        // A worker that was already taking a job when `pause` came may
        // have run the stopping job: later submits are then refused.
        match pool.submit(job) {
            Ok(()) => {}
            Err(SubmitError::Stopped(_)) => returned += 1,
            Err(other) => panic!("submit: {other:?}"),
        }
    }
    pool.resume();
    let handed_back = rx.recv_timeout(HANG).unwrap();
    pool.stop_wait().unwrap();
    // FIFO: the stopping job ran first, so every other job was handed back
    // or refused, except those another worker had already started.
    assert_eq!(handed_back + returned + count.load(Ordering::Relaxed), 3);
}

#[test]
fn stop_wait_from_inside_a_job_is_an_error_not_a_deadlock() {
    let live = counter();
    let pool = Arc::new(counted::<Task, 8, 2>(&live));
    let (tx, rx) = mpsc::channel();
    let p = pool.clone();
    let count = counter();
    pool.submit(Task::new(move || {
        tx.send(p.stop_wait()).unwrap();
    }))
    .unwrap();
    assert_eq!(rx.recv_timeout(HANG).unwrap(), Err(StopError::FromOwnJob));
    // Closed: no new jobs.
    assert!(matches!(
        pool.submit(bump(&count)),
        Err(SubmitError::Stopped(_))
    ));
    pool.stop_wait().unwrap();
    assert_eq!(live.load(Ordering::SeqCst), 0);
}

#[test]
fn own_job_never_blocks_on_its_full_pool() {
    // S27 / P5: a job submitting into its own full pool gets `Full`.
    let pool: Arc<ThreadPool<BoxJob, 1, 1>> = Arc::new(ThreadPool::new());
    let (tx, rx) = mpsc::channel();
    let p = pool.clone();
    pool.submit(Box::new(move || {
        // Fill the one slot, then try more with every submit flavour.
        let filled = p.try_submit(Box::new(|| {})).is_ok();
        let blocking = p.submit(Box::new(|| {}));
        let timed = p.submit_timeout(Box::new(|| {}), HANG);
        let waited = p.submit_wait(Box::new(|| {}));
        tx.send((
            filled,
            matches!(blocking, Err(SubmitError::Full(_))),
            matches!(timed, Err(SubmitError::Full(_))),
            matches!(waited, Err(WaitError::FromOwnJob(_))),
        ))
        .unwrap();
    }))
    .unwrap();
    assert_eq!(rx.recv_timeout(HANG).unwrap(), (true, true, true, true));
    pool.stop_wait().unwrap();
}

#[test]
// Detached threads outlive the test's view of them by a few instructions.
#[cfg_attr(miri, ignore)]
fn dropping_the_pool_from_its_own_job_detaches() {
    // The last `Arc` of the pool is dropped inside a job, after that job
    // submitted more work: the pool closes, its workers drain and exit.
    let live = counter();
    let count = counter();
    let pool = Arc::new(counted::<BoxJob, 4, 2>(&live));
    let (main_dropped, wait_for_main) = mpsc::channel::<()>();
    let (job_done, wait_for_job) = mpsc::channel::<()>();
    let p = pool.clone();
    let c = count.clone();
    pool.submit(Box::new(move || {
        for _ in 0..20 {
            let c = c.clone();
            let _ = p.submit(Box::new(move || {
                c.fetch_add(1, Ordering::Relaxed);
            }));
        }
        wait_for_main.recv().unwrap();
        drop(p); // The last reference: `Drop` runs here, inside the job.
        drop(job_done);
    }))
    .unwrap();
    drop(pool); // Not the last reference: returns at once.
    main_dropped.send(()).unwrap();
    assert!(wait_for_job.recv_timeout(HANG).is_err()); // Disconnected.
    let deadline = std::time::Instant::now() + HANG;
    while live.load(Ordering::SeqCst) != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "detached workers never exited"
        );
        thread::sleep(Duration::from_millis(1));
    }
    // Every accepted job ran before the workers left; the others got
    // `Full` inside the job (never blocking).
    let ran = count.load(Ordering::Relaxed);
    assert!((4..=20).contains(&ran), "{ran} jobs ran");
}

// === overload ===

#[test]
fn overload_closure_sees_both_transitions() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = events.clone();
    let pool: ThreadPool<Task, 8, 1> = ThreadPool::builder()
        .on_overload(4, 1, move |event| e.lock().unwrap().push(event))
        .build()
        .unwrap();
    pool.pause();
    let count = counter();
    for _ in 0..6 {
        pool.submit(bump(&count)).unwrap();
    }
    assert!(pool.is_overloaded());
    pool.resume();
    pool.stop_wait().unwrap();
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(matches!(
        events[0],
        OverloadEvent::Overloaded { depth: 4.. }
    ));
    assert!(matches!(
        events[1],
        OverloadEvent::Recovered { depth: 0..=1 }
    ));
}

#[test]
fn stats_report_queue_wait_and_lag_in_nanoseconds() {
    let pool: ThreadPool<Task, 8, 1> = ThreadPool::new();
    let gate = hold_worker(&pool);
    let count = counter();
    pool.submit(bump(&count)).unwrap();
    thread::sleep(Duration::from_millis(2));
    assert!(pool.stats().lag >= 2_000_000);
    gate.wait();
    pool.stop_wait().unwrap();
    assert!(pool.stats().max_wait >= 2_000_000);
    assert_eq!(pool.stats().lag, 0);
}

// === static pools ===

static STATIC_POOL: Pool<Task, 8, 2> = Pool::with_config(thread_config());
static STATIC_DONE: AtomicUsize = AtomicUsize::new(0);

#[test]
fn static_pool_workers_park_and_wake() {
    let workers = STATIC_POOL.spawn_workers().unwrap();
    assert_eq!(workers.len(), 2);
    for round in 1..=20 {
        let mut job = Task::new(|| {
            STATIC_DONE.fetch_add(1, Ordering::Relaxed);
        });
        // `Busy` is a spurious CAS failure (Miri injects them): retry.
        while let Err(SubmitError::Busy(back)) = STATIC_POOL.try_submit(job) {
            job = back;
        }
        // Wait for the parked workers to be woken and run it: no
        // `run_pending` here, so only a wake-up gets it done.
        let deadline = std::time::Instant::now() + HANG;
        while STATIC_DONE.load(Ordering::Relaxed) < round {
            assert!(std::time::Instant::now() < deadline, "lost wake-up");
            thread::sleep(Duration::from_micros(200));
        }
    }
    STATIC_POOL.stop_wait().unwrap();
    workers.join();
    assert_eq!(STATIC_DONE.load(Ordering::Relaxed), 20);
}

#[test]
fn spawn_workers_needs_the_wake_hook() {
    static NO_HOOK: Pool<Task, 4, 1> = Pool::new();
    let error = NO_HOOK.spawn_workers().unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
