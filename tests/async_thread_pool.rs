//! The thread pool's async front end: `submit_async` / `execute_async`
//! waiting for room without blocking (wake-ups, batches, cancel safety,
//! stop, calls from a job), and `spawn` / `try_spawn` / `spawn_async` with
//! their `JoinHandle` (values, panics, jobs that never ran, detaching).
//! No runtime: the tests poll by hand with wakers that count, or drive
//! futures with a small thread-parking `block_on`.
#![cfg(all(feature = "std", not(loom)))]
// Hosted tests: std paths read better here than core/alloc ones.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::{
    future::Future,
    panic,
    pin::{pin, Pin},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Barrier, Mutex,
    },
    task::{Context, Poll, Wake, Waker},
    thread,
    time::{Duration, Instant},
};

use taskring::{
    thread_pool::{JoinError, ThreadPool, PANIC_SENT_TO_HANDLE},
    Job, SubmitError, Task,
};

/// Liveness limit: reached only if a wake-up was lost.
const HANG: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 30 });

/// A waker that counts its wake-ups and unparks the thread that made it.
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

/// Drives `future` on this thread, parking between polls; fails the test
/// after [`HANG`] without a wake-up that made progress.
fn block_on<F: Future>(future: F) -> F::Output {
    let (flag, waker) = flag();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let start = Instant::now();
    loop {
        let seen = woken(&flag);
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        while woken(&flag) == seen {
            assert!(start.elapsed() < HANG, "a wake-up was lost");
            thread::park_timeout(Duration::from_millis(50));
        }
    }
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// Waits until `done()`, failing the test after [`HANG`].
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < HANG, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A job that records whether it ran or was dropped unrun, once.
struct Tracked {
    id: usize,
    log: Arc<Mutex<Vec<(usize, bool)>>>,
    ran: bool,
}

impl Tracked {
    fn new(id: usize, log: &Arc<Mutex<Vec<(usize, bool)>>>) -> Self {
        Self {
            id,
            log: log.clone(),
            ran: false,
        }
    }
}

impl Job for Tracked {
    fn run(mut self) {
        self.ran = true;
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.lock().unwrap().push((self.id, self.ran));
    }
}

// === submit_async ===

#[test]
fn submit_async_with_room_is_ready_at_the_first_poll() {
    let pool: ThreadPool<fn(), 4> = ThreadPool::new(1).unwrap();
    let (flag, waker) = flag();
    let mut submit = pool.submit_async(|| {});
    assert!(matches!(
        poll_once(&mut submit, &waker),
        Poll::Ready(Ok(()))
    ));
    assert_eq!(woken(&flag), 0);
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().completed, 1);
}

#[test]
fn a_freed_slot_wakes_a_task_waiting_for_room() {
    let pool: ThreadPool<fn(), 1> = ThreadPool::new(1).unwrap();
    pool.pause();
    pool.try_submit(|| {}).unwrap();
    let (flag, waker) = flag();
    let mut submit = pool.submit_async(|| {});
    assert!(poll_once(&mut submit, &waker).is_pending());
    assert!(
        poll_once(&mut submit, &waker).is_pending(),
        "re-polled while full"
    );
    assert_eq!(woken(&flag), 0, "woken while the queue was full");
    // The worker takes the queued job: its pop frees the one slot.
    pool.resume();
    wait_until("the worker freed the slot", || woken(&flag) > 0);
    assert!(matches!(
        poll_once(&mut submit, &waker),
        Poll::Ready(Ok(()))
    ));
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().completed, 2);
    // A refusal is counted only when it is returned: none here.
    assert_eq!(pool.stats().rejected, 0);
}

#[test]
fn a_freed_slot_wakes_as_many_tasks_as_there_is_room() {
    // Four slots, full and paused; three tasks wait. Once the worker has
    // taken the four jobs, each pop at half full or below wakes up to the
    // free slots' worth of tasks.
    let gate = Arc::new(Barrier::new(2));
    let pool: ThreadPool<Task, 4> = ThreadPool::new(1).unwrap();
    pool.pause();
    let g = gate.clone();
    pool.try_submit(Task::new(move || {
        g.wait();
    }))
    .unwrap();
    for _ in 0..3 {
        pool.try_submit(Task::new(|| {})).unwrap();
    }
    let waiters: Vec<_> = (0..3).map(|_| flag()).collect();
    let mut submits: Vec<_> = (0..3).map(|_| pool.execute_async(|| {})).collect();
    for (submit, (_, waker)) in submits.iter_mut().zip(&waiters) {
        assert!(poll_once(submit, waker).is_pending());
    }
    pool.resume();
    // The first job blocks the worker: 3 queued, above half: nobody woken.
    thread::sleep(Duration::from_millis(20));
    assert!(waiters.iter().all(|(flag, _)| woken(flag) == 0));
    gate.wait();
    wait_until("every waiting task was woken", || {
        waiters.iter().all(|(flag, _)| woken(flag) > 0)
    });
    for (submit, (_, waker)) in submits.iter_mut().zip(&waiters) {
        assert!(matches!(poll_once(submit, waker), Poll::Ready(Ok(()))));
    }
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().completed, 7);
}

#[test]
fn stop_wakes_a_waiting_task_with_its_job() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let pool: ThreadPool<Tracked, 1> = ThreadPool::new(1).unwrap();
    pool.pause();
    pool.try_submit(Tracked::new(0, &log)).unwrap();
    let (flag, waker) = flag();
    let mut submit = pool.submit_async(Tracked::new(1, &log));
    assert!(poll_once(&mut submit, &waker).is_pending());
    let handed_back = pool.stop();
    assert_eq!(handed_back.len(), 1);
    assert!(woken(&flag) > 0, "stop did not wake the waiting task");
    match poll_once(&mut submit, &waker) {
        Poll::Ready(Err(SubmitError::Stopped(job))) => assert_eq!(job.id, 1),
        other => panic!("expected Stopped, got {:?}", other.map(|r| r.is_ok())),
    }
    assert_eq!(pool.stats().after_stop, 1);
}

#[test]
fn a_dropped_waiting_future_drops_its_job_unqueued() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let pool: ThreadPool<Tracked, 1> = ThreadPool::new(1).unwrap();
    pool.pause();
    pool.try_submit(Tracked::new(0, &log)).unwrap();
    let (_, waker) = flag();
    let mut submit = pool.submit_async(Tracked::new(1, &log));
    assert!(poll_once(&mut submit, &waker).is_pending());
    drop(submit);
    assert_eq!(
        *log.lock().unwrap(),
        [(1, false)],
        "the job was not dropped"
    );
    pool.resume();
    pool.stop_wait().unwrap();
    let stats = pool.stats();
    assert_eq!((stats.submitted, stats.completed), (1, 1));
    assert_eq!(*log.lock().unwrap(), [(1, false), (0, true)]);
}

#[test]
fn a_task_dropped_after_its_wake_up_passes_it_on() {
    let pool: ThreadPool<fn(), 1> = ThreadPool::new(1).unwrap();
    pool.pause();
    pool.try_submit(|| {}).unwrap();
    let (first_flag, first_waker) = flag();
    let (second_flag, second_waker) = flag();
    let mut first = pool.submit_async(|| {});
    let mut second = pool.submit_async(|| {});
    assert!(poll_once(&mut first, &first_waker).is_pending());
    assert!(poll_once(&mut second, &second_waker).is_pending());
    pool.resume();
    // One free slot: the oldest waiter is woken, the other is not.
    wait_until("the first task was woken", || woken(&first_flag) > 0);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(woken(&second_flag), 0, "one slot woke two tasks");
    drop(first);
    assert!(woken(&second_flag) > 0, "the unused wake-up was lost");
    assert!(matches!(
        poll_once(&mut second, &second_waker),
        Poll::Ready(Ok(()))
    ));
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().completed, 2);
}

#[test]
fn from_inside_a_job_a_full_queue_answers_full_at_once() {
    let pool: Arc<ThreadPool<Task, 1>> = Arc::new(ThreadPool::new(1).unwrap());
    let answer = Arc::new(Mutex::new(None));
    let (p, a) = (pool.clone(), answer.clone());
    pool.submit(Task::from_closure(move || {
        // This job has left the queue: fill it, then ask for one more slot.
        p.try_execute(|| {}).unwrap();
        let (_, waker) = flag();
        let mut submit = p.execute_async(|| {});
        let full = matches!(
            poll_once(&mut submit, &waker),
            Poll::Ready(Err(SubmitError::Full(_)))
        );
        *a.lock().unwrap() = Some(full);
    }))
    .unwrap();
    wait_until("the job answered", || answer.lock().unwrap().is_some());
    assert_eq!(*answer.lock().unwrap(), Some(true));
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().full, 1);
}

#[test]
fn many_tasks_on_many_threads_queue_every_job_through_a_tiny_queue() {
    const THREADS: usize = if cfg!(miri) { 2 } else { 6 };
    const JOBS: usize = if cfg!(miri) { 20 } else { 300 };
    let pool: Arc<ThreadPool<Task, 2>> = Arc::new(ThreadPool::new(2).unwrap());
    let done = Arc::new(AtomicUsize::new(0));
    let submitters: Vec<_> = (0..THREADS)
        .map(|_| {
            let (pool, done) = (pool.clone(), done.clone());
            thread::spawn(move || {
                block_on(async {
                    for _ in 0..JOBS {
                        let done = done.clone();
                        pool.execute_async(move || {
                            done.fetch_add(1, Ordering::Relaxed);
                        })
                        .await
                        .unwrap();
                    }
                });
            })
        })
        .collect();
    for submitter in submitters {
        submitter.join().unwrap();
    }
    pool.stop_wait().unwrap();
    assert_eq!(done.load(Ordering::Relaxed), THREADS * JOBS);
    assert_eq!(pool.stats().rejected, 0);
}

/// Cancel safety under a race: futures polled once or twice and then
/// dropped, or driven to the end, while workers free slots. Every job ends
/// as exactly one of: ran (its future said `Ok`), or dropped unrun (its
/// future was dropped before resolving).
#[test]
fn cancelled_futures_never_queue_and_resolved_ones_always_do() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let pool: ThreadPool<Tracked, 2> = ThreadPool::new(2).unwrap();
    let (_, waker) = flag();
    let mut accepted = Vec::new();
    let mut cancelled = Vec::new();
    let ids = if cfg!(miri) { 60 } else { 2_000 };
    for id in 0..ids {
        // Pauses now and then, so that the queue surely fills and some
        // futures are dropped while they wait.
        match id % 50 {
            0 => pool.pause(),
            25 => pool.resume(),
            _ => {}
        }
        let mut submit = pool.submit_async(Tracked::new(id, &log));
        let polls = 1 + id % 3;
        let mut resolved = false;
        for _ in 0..polls {
            match poll_once(&mut submit, &waker) {
                Poll::Ready(result) => {
                    assert!(result.is_ok());
                    resolved = true;
                    break;
                }
                Poll::Pending => thread::yield_now(),
            }
        }
        if resolved {
            accepted.push(id);
        } else {
            drop(submit);
            cancelled.push(id);
        }
    }
    pool.stop_wait().unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), ids, "a job was lost or ended twice");
    for &(id, ran) in log.iter() {
        assert_eq!(ran, accepted.contains(&id), "job {id}: ran={ran}");
    }
    assert_eq!(pool.stats().completed, accepted.len());
    assert!(
        !cancelled.is_empty(),
        "the queue never filled: the test proves nothing"
    );
}

// === spawn and JoinHandle ===

#[test]
fn spawn_returns_the_value_by_await_and_by_join() {
    let pool: ThreadPool = ThreadPool::new(2).unwrap();
    assert_eq!(block_on(pool.spawn(|| 6 * 7)).unwrap(), 42);
    assert_eq!(
        pool.spawn(|| String::from("joined")).join().unwrap(),
        "joined"
    );
    let handle = pool.spawn(|| 1);
    wait_until("the job finished", || handle.is_finished());
    assert_eq!(handle.join().unwrap(), 1);
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().completed, 3);
}

#[test]
fn a_pending_handle_is_woken_when_the_job_ends() {
    let gate = Arc::new(Barrier::new(2));
    let pool: ThreadPool = ThreadPool::new(1).unwrap();
    let g = gate.clone();
    let mut handle = pool.spawn(move || {
        g.wait();
        7
    });
    let (flag, waker) = flag();
    assert!(poll_once(&mut handle, &waker).is_pending());
    assert_eq!(woken(&flag), 0);
    gate.wait();
    wait_until("the handle was woken", || woken(&flag) > 0);
    assert!(matches!(poll_once(&mut handle, &waker), Poll::Ready(Ok(7))));
}

#[test]
fn a_panicking_job_gives_its_payload_to_the_handle_and_is_counted() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let pool: ThreadPool = ThreadPool::builder()
        .workers(1)
        .on_panic(move |payload| {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .unwrap_or_default();
            s.lock().unwrap().push(text);
        })
        .build()
        .unwrap();
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let error: JoinError = pool.spawn(|| -> u8 { panic!("boom") }).join().unwrap_err();
    // Detached: the handle is gone, so the pool's handler gets the payload.
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    drop(pool.spawn(move || {
        d.store(true, Ordering::SeqCst);
        panic!("detached")
    }));
    pool.stop_wait().unwrap();
    panic::set_hook(hook);
    assert!(error.is_panic() && !error.is_not_run());
    assert_eq!(*error.into_panic().downcast::<&str>().unwrap(), "boom");
    assert!(done.load(Ordering::SeqCst));
    assert_eq!(pool.stats().panicked, 2);
    assert_eq!(
        *seen.lock().unwrap(),
        [PANIC_SENT_TO_HANDLE.to_string(), "detached".to_string()]
    );
}

#[test]
fn a_job_handed_back_by_stop_resolves_its_handle_as_not_run() {
    let pool: ThreadPool = ThreadPool::new(1).unwrap();
    pool.pause();
    let mut handle = pool.spawn(|| 1);
    let (flag, waker) = flag();
    assert!(poll_once(&mut handle, &waker).is_pending());
    let back = pool.stop();
    assert_eq!(back.len(), 1);
    assert_eq!(woken(&flag), 0, "resolved while the job was still held");
    drop(back);
    assert!(woken(&flag) > 0);
    match poll_once(&mut handle, &waker) {
        Poll::Ready(Err(error)) => assert!(error.is_not_run() && !error.is_panic()),
        _ => panic!("expected a not-run error"),
    }
    // After the stop: refused at once, not run.
    let late = pool.spawn(|| 2).join().unwrap_err();
    assert!(late.is_not_run());
    assert!(late.try_into_panic().is_err());
}

#[test]
fn a_dropped_handle_detaches_the_job_which_still_runs() {
    struct Value(Arc<AtomicUsize>);
    impl Drop for Value {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let pool: ThreadPool = ThreadPool::new(1).unwrap();
    pool.pause();
    let d = dropped.clone();
    drop(pool.spawn(move || Value(d)));
    pool.resume();
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().completed, 1);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the result was not dropped"
    );
}

#[test]
fn try_spawn_sheds_load_and_spawn_async_waits_for_room() {
    let pool: ThreadPool<Task, 1> = ThreadPool::new(1).unwrap();
    pool.pause();
    let first = pool.try_spawn(|| 1).unwrap();
    let refused = pool.try_spawn(|| 2);
    assert!(matches!(refused, Err(SubmitError::Full(_))));
    let (flag, waker) = flag();
    let mut later = Box::pin(pool.spawn_async(|| 3));
    assert!(later
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    pool.resume();
    assert_eq!(first.join().unwrap(), 1);
    wait_until("the waiting spawn was woken", || woken(&flag) > 0);
    let handle = match later.as_mut().poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(Ok(handle)) => handle,
        _ => panic!("spawn_async did not resolve once there was room"),
    };
    assert_eq!(block_on(handle).unwrap(), 3);
    pool.stop_wait().unwrap();
    assert_eq!(pool.stats().full, 1);
}

#[test]
fn handles_resolve_across_many_threads_and_tasks() {
    let pool: Arc<ThreadPool<Task, 8>> = Arc::new(ThreadPool::new(3).unwrap());
    let (count, each) = if cfg!(miri) { (2, 20) } else { (4, 500) };
    let threads: Vec<_> = (0..count)
        .map(|t| {
            let pool = pool.clone();
            thread::spawn(move || {
                block_on(async {
                    let mut sum = 0;
                    for i in 0..each {
                        sum += pool
                            .spawn_async(move || t * 1000 + i)
                            .await
                            .unwrap()
                            .await
                            .unwrap();
                    }
                    sum
                })
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let expected: u64 = (0..count)
        .map(|t| (0..each).map(|i| t * 1000 + i).sum::<u64>())
        .sum();
    assert_eq!(total, expected);
}
