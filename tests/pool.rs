//! Semantics of the no_std `Pool`: submit, run, stop, stop_wait, pause,
//! stats, overload and lag, and its environment (clock, wake-up, events).
#![cfg(not(loom))]

use std::{
    mem::size_of,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    thread,
    time::Duration,
};

use taskring::{
    Bare, Config, ConfigError, Env, Hooks, Job, Pool, PoolEvent, Ring, Spin, SubmitError, Task,
    WorkerError,
};

/// How long a test waits for a call that must return before it declares a
/// hang. Generous: a loaded two-core machine (or Miri) is slow.
const WATCHDOG: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 30 });

/// Runs `f` on its own thread and returns its result, or fails the test if
/// it has not returned within [`WATCHDOG`]: a regression that hangs fails
/// instead of blocking the test binary. (The stuck thread is left behind.)
fn within_watchdog<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let value = f();
        let _ = done.send(value);
    });
    match result.recv_timeout(WATCHDOG) {
        Ok(value) => value,
        Err(error) => panic!("{what} did not return within {WATCHDOG:?}: {error}"),
    }
}

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

static EVENTS: Mutex<Vec<PoolEvent>> = Mutex::new(Vec::new());

fn record(event: PoolEvent) {
    EVENTS.lock().unwrap().push(event);
}

#[test]
fn watermark_hysteresis_fires_once_per_crossing() {
    let pool: Pool<fn(), 8, 0, Hooks> = Pool::with_env(
        Config::new().watermarks(6, 2),
        Hooks::new().on_event(record),
    );
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
            PoolEvent::Overloaded { depth: 6 },
            PoolEvent::Recovered { depth: 2 },
            PoolEvent::Overloaded { depth: 6 },
            PoolEvent::Recovered { depth: 2 },
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

/// A test environment: a clock the test sets by hand, and counters of the
/// wake-ups and events the pool sends it.
#[derive(Debug, Default)]
struct FakeEnv {
    now: AtomicU64,
    wakes: AtomicUsize,
    wake_alls: AtomicUsize,
    events: Mutex<Vec<PoolEvent>>,
}

impl FakeEnv {
    fn at(now: u64) -> Self {
        Self {
            now: AtomicU64::new(now),
            ..Self::default()
        }
    }

    fn set(&self, now: u64) {
        self.now.store(now, Ordering::Relaxed);
    }
}

impl Env for FakeEnv {
    type Stamp = u64;
    fn now(&self) -> u64 {
        self.now.load(Ordering::Relaxed)
    }
    fn ticks(&self, stamp: u64) -> u64 {
        stamp
    }
    fn wake(&self) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_all(&self) {
        self.wake_alls.fetch_add(1, Ordering::SeqCst);
    }
    fn on_event(&self, event: PoolEvent) {
        self.events.lock().unwrap().push(event);
    }
}

#[test]
fn lag_and_max_wait_follow_the_clock() {
    let pool: Pool<fn(), 8, 0, FakeEnv> = Pool::with_env(Config::new(), FakeEnv::at(1000));
    let clock = pool.env();
    assert_eq!(pool.stats().lag, 0);
    pool.try_submit(|| {}).unwrap(); // At 1000.
    clock.set(1010);
    pool.try_submit(|| {}).unwrap(); // At 1010.
    clock.set(1050);
    assert_eq!(pool.stats().lag, 50);
    assert_eq!(pool.stats().max_wait, 0, "nothing has left the queue");
    pool.run_pending(1); // Waited 50.
                         // Lag is an upper bound measured from the job that started last (from
                         // 1000), since the next job's stamp is inside the queue.
    assert_eq!(pool.stats().lag, 50);
    assert_eq!(pool.stats().max_wait, 50);
    clock.set(1100);
    pool.run_pending(1); // Waited 90.
    assert_eq!(pool.stats().max_wait, 90);
    assert_eq!(pool.stats().lag, 0, "an empty queue has no lag");
    // A submit into the empty queue restarts the lag from its own stamp.
    clock.set(2000);
    pool.try_submit(|| {}).unwrap();
    clock.set(2007);
    assert_eq!(pool.stats().lag, 7);
    // A shorter wait leaves the maximum alone.
    pool.run_pending(1);
    assert_eq!(pool.stats().max_wait, 90);
    // No worker ever announced itself idle: no wake-up was sent.
    assert_eq!(clock.wakes.load(Ordering::SeqCst), 0);
}

#[test]
fn max_wait_is_the_longest_over_every_runner() {
    let pool: Pool<fn(), 8, 1, FakeEnv> = Pool::with_env(Config::new(), FakeEnv::at(0));
    pool.try_submit(|| {}).unwrap(); // At 0.
    pool.try_submit(|| {}).unwrap(); // At 0.
    pool.env().set(40);
    assert_eq!(pool.run_pending(1), 1); // Waited 40, on the shared entry.
    assert_eq!(pool.stats().max_wait, 40);
    pool.env().set(70);
    thread::scope(|s| {
        s.spawn(|| pool.run_worker(0, &mut Spin).unwrap());
        // The worker takes the second job: it waited 70.
        while pool.stats().completed < 2 {
            thread::yield_now();
        }
        pool.stop_wait().unwrap();
    });
    assert_eq!(pool.stats().max_wait, 70);
}

#[test]
fn events_go_to_the_env() {
    let pool: Pool<fn(), 8, 0, FakeEnv> =
        Pool::with_env(Config::new().watermarks(3, 1), FakeEnv::at(0));
    for _ in 0..4 {
        pool.try_submit(|| {}).unwrap();
    }
    assert_eq!(pool.run_pending(3), 3);
    assert_eq!(
        *pool.env().events.lock().unwrap(),
        vec![
            PoolEvent::Overloaded { depth: 3 },
            PoolEvent::Recovered { depth: 1 },
        ]
    );
}

#[test]
fn a_default_env_builds_a_default_pool() {
    let pool: Pool<fn(), 4, 0, FakeEnv> = Pool::default();
    pool.try_submit(|| {}).unwrap();
    assert_eq!(pool.env().now(), 0);
    assert_eq!(pool.run_pending(1), 1);
    let bare: Pool<fn(), 4, 0> = Pool::default();
    assert_eq!(*bare.env(), Bare);
}

#[test]
fn no_clock_costs_no_slot_space() {
    // The per-slot size is the difference between two capacities (large
    // enough that rounding the ring to its cache-line alignment hides
    // nothing).
    fn slot<J, E: Env>() -> usize {
        (size_of::<Pool<J, 256, 1, E>>() - size_of::<Pool<J, 128, 1, E>>()) / 128
    }
    let ring_slot = (size_of::<Ring<Task, 256>>() - size_of::<Ring<Task, 128>>()) / 128;
    assert_eq!(slot::<Task, Bare>(), ring_slot);
    assert_eq!(slot::<Task, Hooks>(), ring_slot);
    // A slot is the job plus a one-byte stamp: rounded up to the job's
    // alignment when the stamp sits next to the job, not when the stamps
    // have an array of their own (the compact bare-metal layout).
    let stamped = size_of::<Task>() + 1..=size_of::<Task>() + align_of::<Task>();
    assert!(stamped.contains(&ring_slot), "{ring_slot} bytes per slot");
    assert_eq!(slot::<u8, Bare>(), 2);
    // With a clock each slot carries its stamp.
    assert_eq!(slot::<Task, FakeEnv>(), ring_slot + size_of::<u64>());
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
    let task: Task<6> = Task::from_closure(move || assert_eq!(big.iter().sum::<u64>(), 42));
    assert!(!task.is_boxed());
    task.run();
    // Too big for the default three words: boxed (with `alloc`).
    #[cfg(feature = "alloc")]
    {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let task = Task::new(move || {
            assert_eq!(big.iter().sum::<u64>(), 42);
            r.store(true, Ordering::Relaxed);
        });
        assert!(task.is_boxed());
        task.run();
        assert!(ran.load(Ordering::Relaxed));
    }
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

// === stop_wait against pause ===

static PAUSING_POOL: Pool<fn(), 8, 0> = Pool::new();
static PAUSING_RAN: AtomicUsize = AtomicUsize::new(0);

fn pause_pausing_pool() {
    PAUSING_POOL.pause();
    PAUSING_RAN.fetch_add(1, Ordering::Relaxed);
}

fn count_pausing_pool() {
    PAUSING_RAN.fetch_add(1, Ordering::Relaxed);
}

/// A job that pauses its pool while `stop_wait` drains it: once stopping,
/// a pause has no effect, so the two jobs behind it still run and
/// `stop_wait` returns.
#[test]
fn stop_wait_returns_when_a_job_pauses_during_the_drain() {
    PAUSING_POOL.try_submit(pause_pausing_pool).unwrap();
    PAUSING_POOL.try_submit(count_pausing_pool).unwrap();
    PAUSING_POOL.try_submit(count_pausing_pool).unwrap();
    within_watchdog("stop_wait after a job paused the pool", || {
        PAUSING_POOL.stop_wait()
    })
    .unwrap();
    assert_eq!(PAUSING_RAN.load(Ordering::Relaxed), 3);
    assert!(
        !PAUSING_POOL.is_paused(),
        "a stopping pool reports no pause"
    );
    let stats = PAUSING_POOL.stats();
    assert_eq!((stats.completed, stats.queued, stats.running), (3, 0, 0));
    assert_eq!(stats.submitted, 3);
}

static LATE_PAUSE_POOL: Pool<fn(), 8, 0> = Pool::new();
static LATE_PAUSE_RAN: AtomicUsize = AtomicUsize::new(0);
static LATE_PAUSE_STARTED: AtomicBool = AtomicBool::new(false);
static LATE_PAUSE_DONE: AtomicBool = AtomicBool::new(false);

/// Holds the drain until another thread has paused the pool.
fn wait_for_the_late_pause() {
    LATE_PAUSE_STARTED.store(true, Ordering::SeqCst);
    while !LATE_PAUSE_DONE.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    LATE_PAUSE_RAN.fetch_add(1, Ordering::Relaxed);
}

fn count_late_pause() {
    LATE_PAUSE_RAN.fetch_add(1, Ordering::Relaxed);
}

/// `pause` from another thread while `stop_wait` is in the middle of its
/// drain: the rest of the queue still runs and `stop_wait` returns.
#[test]
fn stop_wait_returns_when_another_thread_pauses_during_the_drain() {
    LATE_PAUSE_POOL.try_submit(wait_for_the_late_pause).unwrap();
    LATE_PAUSE_POOL.try_submit(count_late_pause).unwrap();
    LATE_PAUSE_POOL.try_submit(count_late_pause).unwrap();
    let pauser = thread::spawn(|| {
        while !LATE_PAUSE_STARTED.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        // `stop_wait` has closed the pool and is running the first job.
        assert!(LATE_PAUSE_POOL.is_stopped());
        LATE_PAUSE_POOL.pause();
        assert!(!LATE_PAUSE_POOL.is_paused());
        LATE_PAUSE_DONE.store(true, Ordering::SeqCst);
    });
    within_watchdog("stop_wait paused from another thread", || {
        LATE_PAUSE_POOL.stop_wait()
    })
    .unwrap();
    pauser.join().unwrap();
    assert_eq!(LATE_PAUSE_RAN.load(Ordering::Relaxed), 3);
    assert_eq!(LATE_PAUSE_POOL.stats().completed, 3);
    assert_eq!(LATE_PAUSE_POOL.queued(), 0);
    // A pause after the stop changes nothing either.
    LATE_PAUSE_POOL.pause();
    assert!(!LATE_PAUSE_POOL.is_paused());
    assert_eq!(LATE_PAUSE_POOL.run_pending(usize::MAX), 0);
}

static WORKER_PAUSE_POOL: Pool<fn(), 8, 1> = Pool::new();
static WORKER_PAUSE_RAN: AtomicUsize = AtomicUsize::new(0);

fn pause_worker_pool() {
    WORKER_PAUSE_POOL.pause();
    WORKER_PAUSE_RAN.fetch_add(1, Ordering::Relaxed);
}

fn count_worker_pool() {
    WORKER_PAUSE_RAN.fetch_add(1, Ordering::Relaxed);
}

/// With a worker: a job pauses the pool, then `stop_wait` must still drain
/// it, and the worker, held by the pause until then, must return too.
#[test]
fn stop_wait_and_a_worker_drain_a_pool_paused_by_its_job() {
    let worker = thread::spawn(|| WORKER_PAUSE_POOL.run_worker(0, &mut Spin));
    WORKER_PAUSE_POOL.try_submit(pause_worker_pool).unwrap();
    // Let the worker run the pausing job, so that it sits paused.
    while !WORKER_PAUSE_POOL.is_paused() {
        thread::yield_now();
    }
    WORKER_PAUSE_POOL.try_submit(count_worker_pool).unwrap();
    WORKER_PAUSE_POOL.try_submit(count_worker_pool).unwrap();
    within_watchdog("stop_wait on a pool paused by its job", || {
        WORKER_PAUSE_POOL.stop_wait()
    })
    .unwrap();
    let by_worker = within_watchdog("the worker after stop_wait", move || worker.join())
        .unwrap()
        .unwrap();
    assert!(by_worker >= 1, "the worker ran the pausing job");
    assert_eq!(WORKER_PAUSE_RAN.load(Ordering::Relaxed), 3);
    assert_eq!(WORKER_PAUSE_POOL.stats().completed, 3);
}

/// `stop` on a paused pool hands back every queued job and runs none,
/// even with a worker polling the pool meanwhile (it started after the
/// pause, so it may start nothing until `resume`).
#[test]
fn stop_of_a_paused_pool_runs_nothing() {
    // When `stop` closed the ring before setting STOPPED, a worker looking
    // in between ignored the pause: a release build on two cores ran the
    // job within the first few hundred rounds (a debug build rarely hit
    // the window). A few thousand rounds take well under a second.
    let rounds = if cfg!(miri) { 5 } else { 3000 };
    for round in 0..rounds {
        let pool: Pool<fn(), 4, 1> = Pool::new();
        pool.pause();
        pool.try_submit(|| {}).unwrap();
        let polling = AtomicBool::new(false);
        let (handed_back, ran) = thread::scope(|s| {
            let worker = s.spawn(|| {
                polling.store(true, Ordering::SeqCst);
                pool.run_worker(0, &mut Spin).unwrap()
            });
            while !polling.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            let handed_back = pool.stop().len();
            (handed_back, worker.join().unwrap())
        });
        assert_eq!(
            (handed_back, ran),
            (1, 0),
            "round {round}: a paused pool ran a job during stop"
        );
    }
}

// === Stats: honest counts ===

static HONEST_OVERLOADS: AtomicUsize = AtomicUsize::new(0);

fn count_overloads(event: PoolEvent) {
    if matches!(event, PoolEvent::Overloaded { .. }) {
        HONEST_OVERLOADS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Eight threads each alternate one submit and one run, so the queue never
/// really holds more than eight jobs. The depth a submit reports may count
/// the other threads' pushes in flight, but no more: the high-water mark
/// stays at most 16, far below the high watermark, and no overload fires.
#[test]
fn high_water_is_honest_under_contention() {
    const THREADS: usize = 8;
    let rounds = if cfg!(miri) { 30 } else { 20_000 };
    let pool: Pool<fn(), 256, 0, Hooks> = Pool::with_env(
        Config::new().watermarks(64, 32),
        Hooks::new().on_event(count_overloads),
    );
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..rounds {
                    let mut job: fn() = || {};
                    loop {
                        match pool.try_submit(job) {
                            Ok(()) => break,
                            Err(SubmitError::Busy(back)) => job = back,
                            Err(other) => panic!("submit into a roomy pool: {other:?}"),
                        }
                        thread::yield_now();
                    }
                    // This thread's job, or another one, is queued until
                    // this thread has run one: the retry ends.
                    while pool.run_pending(1) == 0 {
                        thread::yield_now();
                    }
                }
            });
        }
    });
    let stats = pool.stats();
    assert!(stats.high_water >= 1);
    assert!(
        stats.high_water <= 2 * THREADS,
        "high water {} with at most {THREADS} jobs queued and {THREADS} pushes in flight",
        stats.high_water
    );
    assert_eq!(
        HONEST_OVERLOADS.load(Ordering::Relaxed),
        0,
        "a false overload"
    );
    assert_eq!(stats.overload_events, 0);
    assert!(!pool.is_overloaded());
    assert_eq!((stats.full, stats.after_stop), (0, 0));
    assert_eq!(stats.rejected, stats.busy);
    assert_eq!(stats.completed, THREADS * rounds);
    assert_eq!((stats.submitted, stats.queued), (stats.completed, 0));
}

/// Each refusal `try_submit` hands back is counted exactly once, in its own
/// counter and in `rejected`; accepted jobs never are.
#[test]
fn each_refusal_is_counted_once() {
    let pool: Pool<fn(), 2, 0> = Pool::new();
    pool.try_submit(|| {}).unwrap();
    pool.try_submit(|| {}).unwrap();
    for refused in 1..=5 {
        assert!(pool.try_submit(|| {}).unwrap_err().is_full());
        let stats = pool.stats();
        assert_eq!((stats.full, stats.rejected), (refused, refused));
        assert_eq!((stats.busy, stats.after_stop), (0, 0));
        assert_eq!(stats.submitted, 2, "a refusal is not a submission");
    }
    // A freed slot takes the next job without touching the counts.
    assert_eq!(pool.run_pending(1), 1);
    pool.try_submit(|| {}).unwrap();
    assert_eq!(pool.stats().rejected, 5);
    assert_eq!(pool.stop().len(), 2);
    for refused in 1..=3 {
        assert!(pool.try_submit(|| {}).unwrap_err().is_stopped());
        let stats = pool.stats();
        assert_eq!(stats.after_stop, refused);
        assert_eq!(stats.rejected, 5 + refused);
    }
    let stats = pool.stats();
    assert_eq!(stats.full, 5);
    assert_eq!(
        (stats.submitted, stats.completed, stats.handed_back),
        (3, 1, 2)
    );
}

// === Waking idle workers through the environment ===

/// An idle strategy with sticky wake-up tokens: it returns once the pool's
/// environment has sent a wake-up it has not consumed yet, even one sent
/// before it was called. `sent` reads the number of wake-ups sent so far.
struct TokenIdle<'a> {
    sent: &'a (dyn Fn() -> usize + Sync),
    consumed: usize,
    idled: &'a AtomicUsize,
}

impl taskring::Idle for TokenIdle<'_> {
    fn idle(&mut self, _worker: usize) {
        self.idled.fetch_add(1, Ordering::SeqCst);
        loop {
            let sent = (self.sent)();
            if sent != self.consumed {
                self.consumed = sent;
                return;
            }
            thread::yield_now();
        }
    }
}

/// A submit into a pool whose only worker waits in its idle strategy
/// claims that worker and calls `Env::wake` once; `stop` calls
/// `Env::wake_all`, and the worker returns.
#[test]
fn a_submit_wakes_an_idle_worker_through_the_env() {
    let pool: Arc<Pool<fn(), 8, 1, FakeEnv>> =
        Arc::new(Pool::with_env(Config::new(), FakeEnv::at(0)));
    let p = pool.clone();
    within_watchdog("the wake-up round trip", move || {
        let pool = p;
        let env = pool.env();
        let idled = AtomicUsize::new(0);
        let sent = || env.wakes.load(Ordering::SeqCst) + env.wake_alls.load(Ordering::SeqCst);
        thread::scope(|s| {
            let worker = s.spawn(|| {
                let mut idle = TokenIdle {
                    sent: &sent,
                    consumed: 0,
                    idled: &idled,
                };
                pool.run_worker(0, &mut idle).unwrap()
            });
            // The worker announced itself and waits for a token.
            while idled.load(Ordering::SeqCst) == 0 {
                thread::yield_now();
            }
            pool.try_submit(|| {}).unwrap();
            assert_eq!(env.wakes.load(Ordering::SeqCst), 1, "one sleeper, one wake");
            while pool.stats().completed < 1 {
                thread::yield_now();
            }
            // Idle again; `stop` wakes every sleeper and the worker returns.
            while idled.load(Ordering::SeqCst) < 2 {
                thread::yield_now();
            }
            assert!(pool.stop().is_empty());
            assert!(env.wake_alls.load(Ordering::SeqCst) >= 1);
            assert_eq!(worker.join().unwrap(), 1);
        });
    });
    assert_eq!(pool.env().wakes.load(Ordering::SeqCst), 1);
}

static HOOK_WAKES: AtomicUsize = AtomicUsize::new(0);

fn hook_wake() {
    HOOK_WAKES.fetch_add(1, Ordering::SeqCst);
}

/// The same round trip through `Hooks`: its wake hook is called for the
/// submit, and once more (`wake_all` defaults to one `wake`) for `resume`.
#[test]
fn hooks_wake_an_idle_worker() {
    static POOL: Pool<fn(), 8, 1, Hooks> =
        Pool::with_env(Config::new(), Hooks::new().wake(hook_wake));
    within_watchdog("the Hooks wake-up round trip", || {
        let idled = AtomicUsize::new(0);
        let sent = || HOOK_WAKES.load(Ordering::SeqCst);
        thread::scope(|s| {
            let worker = s.spawn(|| {
                let mut idle = TokenIdle {
                    sent: &sent,
                    consumed: 0,
                    idled: &idled,
                };
                POOL.run_worker(0, &mut idle).unwrap()
            });
            while idled.load(Ordering::SeqCst) == 0 {
                thread::yield_now();
            }
            POOL.try_submit(|| {}).unwrap();
            assert_eq!(HOOK_WAKES.load(Ordering::SeqCst), 1);
            while POOL.stats().completed < 1 {
                thread::yield_now();
            }
            // Paused and idle: `resume` must wake the worker for the job
            // queued meanwhile.
            POOL.pause();
            while idled.load(Ordering::SeqCst) < 2 {
                thread::yield_now();
            }
            POOL.try_submit(|| {}).unwrap();
            POOL.resume();
            while POOL.stats().completed < 2 {
                thread::yield_now();
            }
            assert!(HOOK_WAKES.load(Ordering::SeqCst) >= 2);
            while idled.load(Ordering::SeqCst) < 3 {
                thread::yield_now();
            }
            assert!(POOL.stop().is_empty());
            assert_eq!(worker.join().unwrap(), 2);
        });
    });
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

/// A pool that drained its backlog recovers from a lag alert with the last
/// job it takes, even if that job itself waited long: no job waits any more.
#[test]
fn a_drained_pool_recovers_from_lagging() {
    static NOW: AtomicU64 = AtomicU64::new(0);
    static EVENTS: Mutex<Vec<PoolEvent>> = Mutex::new(Vec::new());
    struct Clock;
    impl Env for Clock {
        type Stamp = u64;
        fn now(&self) -> u64 {
            NOW.load(Ordering::Relaxed)
        }
        fn ticks(&self, stamp: u64) -> u64 {
            stamp
        }
        fn on_event(&self, event: PoolEvent) {
            EVENTS.lock().unwrap().push(event);
        }
    }
    let pool: Pool<fn(), 8, 0, Clock> = Pool::with_env(Config::new().lag_alert(100, 10), Clock);
    pool.try_submit(|| {}).unwrap();
    pool.try_submit(|| {}).unwrap();
    NOW.store(500, Ordering::Relaxed);
    assert_eq!(pool.run_pending(usize::MAX), 2);
    assert_eq!(
        *EVENTS.lock().unwrap(),
        vec![
            PoolEvent::Lagging { lag: 500 },
            PoolEvent::LagRecovered { lag: 0 }
        ]
    );
    assert!(!pool.stats().lagging);
}

/// Parked workers as the thread pool parks them: a wake-up is a token that
/// any one parked worker takes. Counts the workers parked now, so a test
/// can wait until they all are.
#[derive(Default)]
struct ParkingLot {
    /// (tokens, parked)
    state: Mutex<(usize, usize)>,
    changed: std::sync::Condvar,
}

impl ParkingLot {
    fn park(&self) {
        let mut state = self.state.lock().unwrap();
        state.1 += 1;
        self.changed.notify_all();
        while state.0 == 0 {
            state = self.changed.wait(state).unwrap();
        }
        state.0 -= 1;
        state.1 -= 1;
    }

    fn wait_until_parked(&self, workers: usize) {
        let state = self.state.lock().unwrap();
        let (_state, timeout) = self
            .changed
            .wait_timeout_while(state, WATCHDOG, |state| state.1 < workers)
            .unwrap();
        assert!(!timeout.timed_out(), "the workers never went idle");
    }
}

struct LotEnv(Arc<ParkingLot>);

impl Env for LotEnv {
    type Stamp = ();
    fn now(&self) {}
    fn ticks(&self, (): ()) -> u64 {
        0
    }
    fn wake(&self) {
        self.0.state.lock().unwrap().0 += 1;
        self.0.changed.notify_all();
    }
    fn wake_all(&self) {
        self.0.state.lock().unwrap().0 += 2;
        self.0.changed.notify_all();
    }
}

struct LotIdle(Arc<ParkingLot>);

impl taskring::Idle for LotIdle {
    fn idle(&mut self, _worker: usize) {
        self.0.park();
    }
}

/// The jobs of the test below: the first holds its worker until the
/// second has run (or 10 s passed) and reports which.
enum Gated {
    First {
        started: mpsc::Sender<()>,
        second_ran: mpsc::Receiver<()>,
        result: mpsc::Sender<bool>,
    },
    Second(mpsc::Sender<()>),
}

impl Job for Gated {
    fn run(self) {
        match self {
            Gated::First {
                started,
                second_ran,
                result,
            } => {
                started.send(()).unwrap();
                let ran = second_ran.recv_timeout(Duration::from_secs(10)).is_ok();
                result.send(ran).unwrap();
            }
            // The receiver is gone once the first job gave up.
            Gated::Second(ran) => {
                let _ = ran.send(());
            }
        }
    }
}

#[test]
fn a_woken_worker_does_not_take_another_sleeper_off_the_count() {
    // Both workers park. The first submit claims one sleeper and wakes one
    // worker, which takes the first job and holds it until the second job
    // has run. The second submit must find the other worker still counted
    // and wake it. (A woken worker that also took itself off the count
    // would take the other one's place there: the second submit would see
    // no sleeper, and the second job would wait with a worker parked.)
    let lot = Arc::new(ParkingLot::default());
    let pool: Arc<Pool<Gated, 4, 2, LotEnv>> =
        Arc::new(Pool::with_env(Config::new(), LotEnv(lot.clone())));
    let workers: Vec<_> = (0..2)
        .map(|index| {
            let (pool, lot) = (pool.clone(), lot.clone());
            thread::spawn(move || pool.run_worker(index, &mut LotIdle(lot)))
        })
        .collect();
    lot.wait_until_parked(2);
    let (second_ran, second_ran_rx) = mpsc::channel();
    let (started, started_rx) = mpsc::channel();
    let (result, result_rx) = mpsc::channel();
    let first = Gated::First {
        started,
        second_ran: second_ran_rx,
        result,
    };
    assert!(pool.try_submit(first).is_ok());
    started_rx
        .recv_timeout(WATCHDOG)
        .expect("the first job never started");
    assert!(pool.try_submit(Gated::Second(second_ran)).is_ok());
    let second_job_ran = result_rx.recv_timeout(WATCHDOG).unwrap();
    assert!(second_job_ran, "the second job waited while a worker slept");
    let _ = pool.stop();
    for worker in workers {
        worker.join().unwrap().unwrap();
    }
    assert_eq!(pool.stats().completed, 2);
}
