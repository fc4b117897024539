//! Idle CPU guard: after a burst, a parked pool's workers use less than
//! 20 % of one core over one second, also while paused with jobs queued.
//! It catches workers that spin instead of parking; it is not a speed
//! test. Linux only (reads `/proc`).
//!
//! Each test measures only its own pool's threads (found by their name
//! prefix under `/proc/self/task`), so other tests in the process cannot
//! disturb it.
#![cfg(all(feature = "std", not(loom), target_os = "linux"))]
// Hosted tests: std paths read better here than core/alloc ones.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::{
    fs,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

use taskring::{thread_pool::ThreadPool, Task};

/// Clock ticks (user + system) used so far by the threads whose name
/// starts with `prefix`, and how many such threads there are.
fn worker_ticks(prefix: &str) -> (u64, usize) {
    let mut ticks = 0;
    let mut threads = 0;
    for task in fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = task.path();
        let Ok(comm) = fs::read_to_string(path.join("comm")) else {
            continue; // The thread exited meanwhile.
        };
        if !comm.starts_with(prefix) {
            continue;
        }
        let Ok(stat) = fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // Fields after the `(comm)`, which may contain spaces: state is
        // field 3, utime field 14 and stime field 15 (1-based).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let utime: u64 = fields[11].parse().unwrap();
        let stime: u64 = fields[12].parse().unwrap();
        ticks += utime + stime;
        threads += 1;
    }
    (ticks, threads)
}

/// `sysconf(_SC_CLK_TCK)` is 100 on every Linux target Rust supports.
const TICKS_PER_SECOND: u64 = 100;

/// Measures the CPU used by the threads named `prefix*` over one second
/// and fails if they used 20 % of a core or more.
fn assert_idle(prefix: &str, workers: usize, what: &str) {
    let (before, threads) = worker_ticks(prefix);
    assert_eq!(
        threads, workers,
        "expected to find the {workers} worker threads"
    );
    thread::sleep(Duration::from_secs(1));
    let (after, _) = worker_ticks(prefix);
    let used = after - before;
    eprintln!(
        "{what}: {used} ticks of 1/{TICKS_PER_SECOND} s in 1 s, all {workers} workers together"
    );
    assert!(
        used * 5 < TICKS_PER_SECOND,
        "{what}: workers used {used}/{TICKS_PER_SECOND} of a core (limit 20 %)"
    );
}

#[test]
#[cfg_attr(miri, ignore)] // Reads /proc and measures real time.
fn parked_pool_uses_almost_no_cpu() {
    const PREFIX: &str = "tp-idle-";
    let pool: ThreadPool<Task, 64> = ThreadPool::builder()
        .workers(4)
        .name_prefix(PREFIX)
        .build()
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..10_000 {
        let count = count.clone();
        pool.execute(move || {
            count.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    while count.load(Ordering::Relaxed) < 10_000 {
        thread::sleep(Duration::from_millis(1));
    }
    // Let the workers finish their brief spin and park.
    thread::sleep(Duration::from_millis(100));
    assert_idle(PREFIX, 4, "idle pool");
    pool.stop_wait().unwrap();
}

#[test]
#[cfg_attr(miri, ignore)] // Reads /proc and measures real time.
fn paused_pool_with_queued_jobs_uses_almost_no_cpu() {
    // Queued jobs that may not start must not keep the workers spinning.
    const PREFIX: &str = "tp-paused-";
    let pool: ThreadPool<Task, 64> = ThreadPool::builder()
        .workers(4)
        .name_prefix(PREFIX)
        .build()
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    pool.pause_wait().unwrap();
    for _ in 0..50 {
        let count = count.clone();
        pool.execute(move || {
            count.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    thread::sleep(Duration::from_millis(100));
    assert_idle(PREFIX, 4, "paused pool");
    assert_eq!(count.load(Ordering::Relaxed), 0, "a job ran while paused");
    pool.resume();
    pool.stop_wait().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 50);
}
