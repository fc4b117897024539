//! Awaiting work on the no_std `Pool`: `wait_pending` and `run_async`
//! woken by `try_submit` (from another thread here, standing in for an
//! interrupt handler), by `resume` and by `stop`; a dropped wait leaves
//! the pool's count of sleepers as it found it; a drain task keeps up with
//! a submitting thread. No runtime: wakers that count, and a small
//! thread-parking `block_on`.
#![cfg(all(not(loom), feature = "async-drain"))]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::{
    future::Future,
    pin::{pin, Pin},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll, Wake, Waker},
    thread,
    time::{Duration, Instant},
};

use taskring::{Config, Hooks, Pool, SubmitError};

const HANG: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 30 });

struct Flag {
    woken: AtomicUsize,
    thread: thread::Thread,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

fn flag() -> (Arc<Flag>, Waker) {
    let flag = Arc::new(Flag {
        woken: AtomicUsize::new(0),
        thread: thread::current(),
    });
    (flag.clone(), Waker::from(flag))
}

fn woken(flag: &Flag) -> usize {
    flag.woken.load(Ordering::SeqCst)
}

fn poll_once<F: Future>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

/// Drives `future` on this thread, parking between polls; fails the test
/// after [`HANG`] without a wake-up.
fn block_on<F: Future>(future: F) -> F::Output {
    let (flag, waker) = flag();
    let mut future = pin!(future);
    loop {
        let seen = woken(&flag);
        if let Poll::Ready(value) = poll_once(future.as_mut(), &waker) {
            return value;
        }
        // The limit is on one wait for a wake-up, not on the whole run,
        // which may be long on a slow or loaded machine.
        let start = Instant::now();
        while woken(&flag) == seen {
            assert!(start.elapsed() < HANG, "a wake-up was lost");
            thread::park_timeout(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_queued_job_makes_the_wait_ready_at_once() {
    let pool: Pool<fn(), 4, 0> = Pool::new();
    pool.try_submit(|| {}).unwrap();
    let (flag, waker) = flag();
    assert!(poll_once(pin!(pool.wait_pending()), &waker).is_ready());
    assert_eq!(woken(&flag), 0);
    assert_eq!(pool.run_pending(usize::MAX), 1);
}

#[test]
fn try_submit_wakes_the_waiting_drainer() {
    static POOL: Pool<fn(), 4, 0> = Pool::new();
    let (flag, waker) = flag();
    let mut wait = pin!(POOL.wait_pending());
    assert!(poll_once(wait.as_mut(), &waker).is_pending());
    assert!(poll_once(wait.as_mut(), &waker).is_pending());
    assert_eq!(woken(&flag), 0);
    // From another context: an interrupt handler on a board.
    thread::spawn(|| POOL.try_submit(|| {}).unwrap())
        .join()
        .unwrap();
    assert_eq!(woken(&flag), 1, "the submit did not wake the drainer");
    assert!(poll_once(wait.as_mut(), &waker).is_ready());
    // A second submit finds nobody waiting: no wake-up.
    POOL.try_submit(|| {}).unwrap();
    assert_eq!(woken(&flag), 1);
    assert_eq!(POOL.run_pending(usize::MAX), 2);
}

#[test]
fn a_paused_pool_keeps_the_drainer_waiting_until_resume() {
    let pool: Pool<fn(), 4, 0> = Pool::new();
    pool.pause();
    pool.try_submit(|| {}).unwrap();
    let (flag, waker) = flag();
    let mut wait = pin!(pool.wait_pending());
    assert!(poll_once(wait.as_mut(), &waker).is_pending());
    pool.resume();
    assert_eq!(woken(&flag), 1, "resume did not wake the drainer");
    assert!(poll_once(wait.as_mut(), &waker).is_ready());
}

#[test]
fn stop_wakes_the_drainer_and_run_async_then_returns_zero() {
    let pool: Pool<fn(), 4, 0> = Pool::new();
    let (flag, waker) = flag();
    let mut run = pin!(pool.run_async(8));
    assert!(poll_once(run.as_mut(), &waker).is_pending());
    assert!(pool.stop().is_empty());
    assert_eq!(woken(&flag), 1, "stop did not wake the drainer");
    assert_eq!(poll_once(run.as_mut(), &waker), Poll::Ready(0));
    assert_eq!(block_on(pool.run_async(8)), 0);
    assert_eq!(block_on(pool.run_async(0)), 0);
}

#[test]
fn run_async_runs_up_to_max_jobs() {
    let pool: Pool<fn(), 8, 0> = Pool::new();
    for _ in 0..5 {
        pool.try_submit(|| {}).unwrap();
    }
    assert_eq!(block_on(pool.run_async(3)), 3);
    assert_eq!(block_on(pool.run_async(3)), 2);
    assert_eq!(pool.stats().completed, 5);
}

static WAKES: AtomicUsize = AtomicUsize::new(0);

fn count_wake() {
    WAKES.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_dropped_wait_leaves_the_count_of_sleepers() {
    // The environment's wake-up is called once per sleeper a submit
    // claims: after the waiting future is dropped there is none.
    let pool: Pool<fn(), 4, 0, Hooks> =
        Pool::with_env(Config::new(), Hooks::new().wake(count_wake));
    let (flag, waker) = flag();
    {
        let mut wait = pin!(pool.wait_pending());
        assert!(poll_once(wait.as_mut(), &waker).is_pending());
    }
    pool.try_submit(|| {}).unwrap();
    assert_eq!(
        WAKES.load(Ordering::SeqCst),
        0,
        "a dropped wait was still counted"
    );
    assert_eq!(woken(&flag), 0);
    // A live one is claimed, and both the hook and the waker fire.
    assert_eq!(pool.run_pending(1), 1);
    let mut wait = pin!(pool.wait_pending());
    assert!(poll_once(wait.as_mut(), &waker).is_pending());
    pool.try_submit(|| {}).unwrap();
    assert_eq!(WAKES.load(Ordering::SeqCst), 1);
    assert_eq!(woken(&flag), 1);
}

static DONE: AtomicUsize = AtomicUsize::new(0);

fn done() {
    DONE.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn a_drain_task_keeps_up_with_a_submitting_thread() {
    static POOL: Pool<fn(), 8, 0> = Pool::new();
    let jobs = if cfg!(miri) { 200 } else { 50_000 };
    let submitter = thread::spawn(move || {
        let mut full = 0usize;
        for _ in 0..jobs {
            let mut job: fn() = done;
            loop {
                match POOL.try_submit(job) {
                    Ok(()) => break,
                    Err(SubmitError::Full(back) | SubmitError::Busy(back)) => {
                        full += 1;
                        job = back;
                        thread::yield_now();
                    }
                    Err(SubmitError::Stopped(_)) => panic!("stopped early"),
                }
            }
        }
        // Runs what is left, then every drainer sees the pool drained.
        POOL.stop_wait().unwrap();
        full
    });
    let ran = block_on(async {
        let mut ran = 0;
        loop {
            match POOL.run_async(4).await {
                0 => break ran,
                n => ran += n,
            }
        }
    });
    submitter.join().unwrap();
    assert_eq!(DONE.load(Ordering::Relaxed), jobs);
    assert_eq!(POOL.stats().completed, jobs);
    assert!(ran > 0 && ran <= jobs);
}
