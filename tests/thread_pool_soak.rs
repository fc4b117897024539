//! Conservation soak for the std thread pool: 8 blocking submitters, 4
//! workers and a small queue on a 2-core machine; every job runs exactly
//! once (a bitmap of job ids), also with 64 workers on a 16-slot queue and
//! with a `stop` racing the submitters (then every job ends exactly once:
//! run, handed back or returned). Set `TASKRING_SOAK_JOBS` for a longer run
//! of the first.
#![cfg(all(feature = "std", not(loom)))]
// Hosted tests: std paths read better here than core/alloc ones.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

use taskring::{thread_pool::ThreadPool, Task};

const SUBMITTERS: usize = 8;

/// Jobs per run: a million in release, fewer in debug and under Miri, or
/// `TASKRING_SOAK_JOBS`.
fn jobs() -> usize {
    if let Some(jobs) = std::env::var("TASKRING_SOAK_JOBS")
        .ok()
        .and_then(|value| value.parse().ok())
    {
        return jobs;
    }
    if cfg!(miri) {
        200
    } else if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    }
}

/// One bit per job id.
struct Bitmap(Vec<AtomicU64>);

impl Bitmap {
    fn new(bits: usize) -> Self {
        Self((0..bits.div_ceil(64)).map(|_| AtomicU64::new(0)).collect())
    }

    /// Sets bit `id`; panics if it was already set (a job ran twice).
    fn set(&self, id: usize) {
        let bit = 1 << (id % 64);
        let before = self.0[id / 64].fetch_or(bit, Ordering::Relaxed);
        assert_eq!(before & bit, 0, "job {id} ran twice");
    }

    fn is_set(&self, id: usize) -> bool {
        self.0[id / 64].load(Ordering::Relaxed) & (1 << (id % 64)) != 0
    }

    fn count(&self) -> usize {
        self.0
            .iter()
            .map(|word| word.load(Ordering::Relaxed).count_ones() as usize)
            .sum()
    }
}

fn soak<const N: usize>(workers: usize, jobs: usize) {
    let pool: Arc<ThreadPool<Task, N>> = Arc::new(ThreadPool::new(workers).unwrap());
    let seen = Arc::new(Bitmap::new(jobs));
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let (pool, seen) = (pool.clone(), seen.clone());
            thread::spawn(move || {
                for id in (s..jobs).step_by(SUBMITTERS) {
                    let seen = seen.clone();
                    pool.submit(Task::new(move || seen.set(id)))
                        .unwrap_or_else(|_| panic!("submit {id} refused"));
                }
            })
        })
        .collect();
    for submitter in submitters {
        submitter.join().unwrap();
    }
    pool.stop_wait().unwrap();
    let stats = pool.stats();
    assert_eq!(seen.count(), jobs, "a job was lost");
    assert_eq!(stats.completed, jobs);
    assert_eq!(stats.submitted, jobs);
    assert_eq!((stats.panicked, stats.handed_back, stats.queued), (0, 0, 0));
    assert!(stats.high_water <= N);
    assert_eq!(stats.rejected, 0, "every blocking submit succeeded");
}

#[test]
#[cfg_attr(miri, ignore)] // Sized for real threads; `soak_small` runs under Miri.
fn every_job_runs_exactly_once_8_submitters_4_workers() {
    soak::<8>(4, jobs());
}

#[test]
fn soak_small() {
    // N = 1 and N = 2: the tightest back-pressure.
    let jobs = if cfg!(miri) { 50 } else { 20_000 };
    soak::<1>(2, jobs);
    soak::<2>(4, jobs);
}

#[test]
#[cfg_attr(miri, ignore)] // 64 threads.
fn soak_more_workers_than_cores() {
    // Workers chosen at run time: far more than the 2 cores, on a queue
    // smaller than the worker count.
    let jobs = if cfg!(debug_assertions) {
        20_000
    } else {
        200_000
    };
    soak::<16>(64, jobs);
}

/// One round of `a_stop_racing_blocking_submitters_loses_nothing`: 8
/// blocking submitters and 4 workers on an 8-slot queue; `stop` comes after
/// `delay`. Every job that was offered ends exactly once: run by a worker,
/// handed back by `stop` or returned to its submitter (both run here).
fn stop_race_round(delay: Duration, per: usize) {
    const N: usize = 8;
    let jobs = SUBMITTERS * per;
    let pool: Arc<ThreadPool<Task, N>> = Arc::new(ThreadPool::new(4).unwrap());
    let seen = Arc::new(Bitmap::new(jobs));
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let (pool, seen) = (pool.clone(), seen.clone());
            thread::spawn(move || {
                let mut offered = Vec::new();
                for id in (s..jobs).step_by(SUBMITTERS) {
                    offered.push(id);
                    let seen = seen.clone();
                    if let Err(error) = pool.submit(Task::new(move || seen.set(id))) {
                        assert!(error.is_stopped(), "submit {id}: {error}");
                        error.into_inner().run();
                        break;
                    }
                }
                offered
            })
        })
        .collect();
    thread::sleep(delay);
    let back = pool.stop();
    let handed_back = back.len();
    for job in back {
        job.run();
    }
    let offered: Vec<usize> = submitters
        .into_iter()
        .flat_map(|submitter| submitter.join().unwrap())
        .collect();
    pool.stop_wait().unwrap();
    let stats = pool.stats();
    assert_eq!(stats.panicked, 0, "a job ran twice (its bit was set)");
    assert_eq!(seen.count(), offered.len(), "a job was lost");
    for id in offered {
        assert!(seen.is_set(id), "job {id} was lost");
    }
    assert_eq!(stats.handed_back, handed_back);
    assert_eq!(
        stats.completed + stats.handed_back + stats.after_stop,
        seen.count()
    );
}

#[test]
#[cfg_attr(miri, ignore)] // Timed rounds of real threads.
fn a_stop_racing_blocking_submitters_loses_nothing() {
    for round in 0..20 {
        stop_race_round(Duration::from_micros(200 * round), 2_000);
    }
}
