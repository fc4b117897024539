//! Panic isolation in the std thread pool: one panicking job, every worker
//! panicking at once, captures whose `Drop` panics, the panic handler and
//! the abort policy. Every test joins its workers before returning.
#![cfg(all(feature = "std", not(loom)))]
// Hosted tests: std paths read better here than core/alloc ones.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::{
    any::Any,
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc, Barrier, Mutex, Once,
    },
    time::Duration,
};

use taskring::{
    thread_pool::{PanicPolicy, ThreadPool, WaitError},
    Task,
};

const HANG: Duration = Duration::from_secs(60);

/// Keeps the expected panics out of the test output (once per process).
fn quiet_panics() {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let expected = info
                .payload()
                .downcast_ref::<&str>()
                .is_some_and(|text| text.starts_with("expected:"));
            if !expected {
                default(info);
            }
        }));
    });
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn bump(count: &Arc<AtomicUsize>) -> Task {
    let count = count.clone();
    Task::new(move || {
        count.fetch_add(1, Ordering::Relaxed);
    })
}

fn boom() -> Task {
    Task::new(|| panic!("expected: boom"))
}

#[test]
fn panicking_job_does_not_kill_the_pool() {
    // T2 / S24: after K panics, every worker is alive and the count is K.
    quiet_panics();
    const K: usize = 5;
    let pool: ThreadPool<Task, 8> = ThreadPool::new(2).unwrap();
    let count = counter();
    for _ in 0..K {
        pool.submit(boom()).unwrap();
        pool.submit(bump(&count)).unwrap();
    }
    // Both workers still take jobs: two jobs that each wait for the other.
    let gate = Arc::new(Barrier::new(2));
    let (tx, rx) = mpsc::channel();
    for _ in 0..2 {
        let (gate, tx) = (gate.clone(), tx.clone());
        pool.submit(Task::new(move || {
            gate.wait();
            tx.send(()).unwrap();
        }))
        .unwrap();
    }
    for _ in 0..2 {
        rx.recv_timeout(HANG).expect("a worker died");
    }
    pool.stop_wait().unwrap();
    let stats = pool.stats();
    assert_eq!(stats.panicked, K);
    assert_eq!(stats.completed, K + 2);
    assert_eq!(count.load(Ordering::Relaxed), K);
}

#[test]
fn submit_wait_after_a_panicking_job_reports_it_promptly() {
    // T1: the waiter learns of the panic; nothing hangs.
    quiet_panics();
    let pool: ThreadPool<Task, 4> = ThreadPool::new(1).unwrap();
    assert!(matches!(pool.submit_wait(boom()), Err(WaitError::Panicked)));
    let count = counter();
    pool.submit_wait(bump(&count)).unwrap();
    assert_eq!(
        pool.submit_wait_with(|| -> u8 { panic!("expected: value") }),
        Err(WaitError::Panicked)
    );
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().panicked, 2);
}

#[test]
fn every_worker_panics_at_once() {
    // S25: all W workers panic together; the queue still drains.
    quiet_panics();
    const W: usize = 4;
    let pool: ThreadPool<Task, 16> = ThreadPool::new(W).unwrap();
    let gate = Arc::new(Barrier::new(W));
    for _ in 0..W {
        let gate = gate.clone();
        pool.submit(Task::new(move || {
            gate.wait(); // All W are running now.
            panic!("expected: together");
        }))
        .unwrap();
    }
    let count = counter();
    for _ in 0..10 {
        pool.submit(bump(&count)).unwrap();
    }
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().panicked, W);
    assert_eq!(count.load(Ordering::Relaxed), 10);
}

/// A capture whose `Drop` panics.
struct PanicOnDrop(Arc<AtomicUsize>);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
        panic!("expected: drop");
    }
}

#[test]
fn captures_that_panic_on_drop_are_counted_not_fatal() {
    // S26 / D3: the closure runs, then its captures drop inside the job.
    quiet_panics();
    let pool: ThreadPool<Task, 8> = ThreadPool::new(2).unwrap();
    let drops = counter();
    let ran = counter();
    for _ in 0..3 {
        let guard = PanicOnDrop(drops.clone());
        let ran = ran.clone();
        pool.submit(Task::new(move || {
            ran.fetch_add(1, Ordering::Relaxed);
            let _keep = &guard;
        }))
        .unwrap();
    }
    let count = counter();
    pool.submit(bump(&count)).unwrap();
    pool.stop_wait().unwrap();
    assert_eq!(ran.load(Ordering::Relaxed), 3);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        3,
        "each capture dropped once"
    );
    assert_eq!(pool.stats().panicked, 3);
    assert_eq!(count.load(Ordering::Relaxed), 1);
}

#[test]
fn panic_handler_receives_each_payload() {
    quiet_panics();
    let payloads = Arc::new(Mutex::new(Vec::new()));
    let p = payloads.clone();
    let pool: ThreadPool<Task, 8> = ThreadPool::builder()
        .workers(2)
        .on_panic(move |payload: Box<dyn Any + Send>| {
            let text = payload.downcast_ref::<&str>().copied().unwrap_or("?");
            p.lock().unwrap().push(text.to_owned());
        })
        .build()
        .unwrap();
    pool.submit(boom()).unwrap();
    pool.submit(Task::new(|| panic!("expected: second")))
        .unwrap();
    pool.stop_wait().unwrap();
    let mut seen = payloads.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["expected: boom", "expected: second"]);
}

#[test]
fn a_panicking_handler_is_contained() {
    quiet_panics();
    let pool: ThreadPool<Task, 8> = ThreadPool::builder()
        .workers(1)
        .on_panic(|_| panic!("expected: handler"))
        .build()
        .unwrap();
    pool.submit(boom()).unwrap();
    let count = counter();
    pool.submit_wait(bump(&count)).unwrap();
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().panicked, 1);
}

#[test]
fn a_panicking_event_handler_is_contained() {
    // The handler runs on the submitter or the worker that raised the
    // event; its panic must take down neither.
    quiet_panics();
    let calls = counter();
    let c = calls.clone();
    let pool: ThreadPool<Task, 4> = ThreadPool::builder()
        .workers(1)
        .watermarks(2, 0)
        .on_event(move |_| {
            c.fetch_add(1, Ordering::Relaxed);
            panic!("expected: event handler");
        })
        .build()
        .unwrap();
    let count = counter();
    for _ in 0..20 {
        pool.submit(bump(&count)).unwrap();
    }
    pool.stop_wait().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 20);
    assert_eq!(
        pool.stats().panicked,
        0,
        "a handler panic is not a job panic"
    );
    assert!(calls.load(Ordering::Relaxed) >= 1, "no event was raised");
}

#[test]
fn a_panicking_closure_from_execute_is_isolated() {
    quiet_panics();
    let pool: ThreadPool = ThreadPool::new(2).unwrap();
    let count = counter();
    for i in 0..10 {
        let c = count.clone();
        pool.execute(move || {
            if i % 2 == 0 {
                panic!("expected: execute");
            }
            c.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    }
    pool.stop_wait().unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 5);
    assert_eq!(pool.stats().panicked, 5);
    assert_eq!(pool.stats().completed, 5);
}

#[test]
fn dropping_a_pool_while_unwinding_does_not_abort() {
    // T3 / S22: the pool's `Drop` runs during a panic's unwinding.
    quiet_panics();
    let count = counter();
    let c = count.clone();
    let result = std::panic::catch_unwind(move || {
        let pool: ThreadPool<Task, 8> = ThreadPool::new(2).unwrap();
        for _ in 0..5 {
            pool.submit(bump(&c)).unwrap();
        }
        panic!("expected: unwinding");
    });
    assert!(result.is_err());
    assert_eq!(count.load(Ordering::Relaxed), 5);
}

/// The child half of `abort_policy_aborts_the_process`.
#[test]
#[ignore = "run by abort_policy_aborts_the_process in a child process"]
fn abort_policy_child() {
    quiet_panics();
    let pool: ThreadPool<Task, 4> = ThreadPool::builder()
        .workers(1)
        .panic_policy(PanicPolicy::Abort)
        .build()
        .unwrap();
    let _ = pool.submit_wait(boom());
    // Unreachable if the policy works: the process aborted.
    std::process::exit(0);
}

#[test]
#[cfg_attr(miri, ignore)] // Miri cannot spawn processes.
fn abort_policy_aborts_the_process() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "abort_policy_child", "--ignored", "--nocapture"])
        .output()
        .unwrap();
    assert!(!output.status.success(), "the child exited normally");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("panic policy is Abort"),
        "unexpected child output: {stderr}"
    );
}
