//! Idle CPU guard: after a burst, a parked pool's workers use less than
//! 20 % of one core over one second. It catches workers that spin instead
//! of parking; it is not a speed test. Linux only (reads `/proc`).
//!
//! Measures only the pool's own threads (found by their name prefix under
//! `/proc/self/task`), so other tests in the process cannot disturb it.
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

const PREFIX: &str = "tp-idle-";

/// Clock ticks (user + system) used so far by the threads named
/// `PREFIX*`, and how many such threads there are.
fn worker_ticks() -> (u64, usize) {
    let mut ticks = 0;
    let mut threads = 0;
    for task in fs::read_dir("/proc/self/task").unwrap().flatten() {
        let path = task.path();
        let Ok(comm) = fs::read_to_string(path.join("comm")) else {
            continue; // The thread exited meanwhile.
        };
        if !comm.starts_with(PREFIX) {
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

#[test]
#[cfg_attr(miri, ignore)] // Reads /proc and measures real time.
fn parked_pool_uses_almost_no_cpu() {
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
    let (before, threads) = worker_ticks();
    assert_eq!(threads, 4, "expected to find the 4 worker threads");
    thread::sleep(Duration::from_secs(1));
    let (after, _) = worker_ticks();
    pool.stop_wait().unwrap();
    let used = after - before;
    eprintln!("idle CPU: {used} ticks of 1/{TICKS_PER_SECOND} s in 1 s, all 4 workers together");
    assert!(
        used * 5 < TICKS_PER_SECOND,
        "parked workers used {used}/{TICKS_PER_SECOND} of a core (limit 20 %)"
    );
}
