//! Deterministic counts: heap allocations per submitted task and memory
//! footprint. Meaningful only in a binary whose global allocator is
//! [`Counting`](crate::alloc_count::Counting).

use std::{fmt::Write as _, mem::size_of, sync::atomic::Ordering, thread};

use crate::{
    alloc_count::{allocations, heap_of, my_allocations},
    pools::{self, ChannelPool, PoolContender, Rayon, ThreadpoolCrate, DONE},
};

/// Tasks per measurement.
const TASKS: usize = 10_000;

/// Allocations per task over `TASKS` tasks, after a warm-up.
#[derive(Debug, Clone, Copy)]
pub struct PerTask {
    /// Made by the submitting thread inside the submit calls (and, for the
    /// thread-less `Pool`, inside `run_pending`).
    pub submitter: f64,
    /// Made by every thread of the process from the first submit until the
    /// last task has run (includes anything unrelated that ran meanwhile).
    pub process: f64,
}

/// Measures [`PerTask`] for one pool.
fn per_task(mut submit: impl FnMut(usize), mut settle: impl FnMut(usize)) -> PerTask {
    for i in 0..1_000 {
        submit(i);
    }
    settle(1_000);
    let (before, mine) = (allocations(), my_allocations());
    for i in 0..TASKS {
        submit(i);
    }
    let submitter = my_allocations() - mine;
    settle(TASKS);
    PerTask {
        submitter: submitter as f64 / TASKS as f64,
        process: (allocations() - before) as f64 / TASKS as f64,
    }
}

/// Waits for `count` more tasks than `base` to finish.
fn settle_from(base: &mut usize) -> impl FnMut(usize) + '_ {
    move |count| {
        *base += count;
        pools::wait_done(*base);
    }
}

/// `(contender and call, allocations per task)`; taskring's rows first.
pub fn allocations_per_task() -> Vec<(&'static str, PerTask)> {
    let mut rows = Vec::new();
    let mut base = DONE.load(Ordering::Acquire);

    // taskring `Pool` without threads: `try_submit`, drained by `run_pending`.
    let pool: Box<taskring::Pool<taskring::Task, 1024, 0>> = Box::new(taskring::Pool::new());
    let per = per_task(
        |i| {
            if pool
                .try_submit(taskring::Task::new(pools::task(i)))
                .is_err()
            {
                panic!("Pool::try_submit failed");
            }
            if pool.queued() == pool.capacity() {
                pool.run_pending(usize::MAX);
            }
        },
        |_| {
            pool.run_pending(usize::MAX);
        },
    );
    base = DONE.load(Ordering::Acquire).max(base);
    rows.push(("taskring Pool::try_submit (Task)", per));

    let ours = pools::Taskring::start(2);
    let per = per_task(
        |i| {
            if ours.0.submit(taskring::Task::new(pools::task(i))).is_err() {
                panic!("pool stopped");
            }
        },
        settle_from(&mut base),
    );
    rows.push(("taskring ThreadPool::submit (Task)", per));
    let per = per_task(
        |i| {
            let mut job = taskring::Task::new(pools::task(i));
            loop {
                match ours.0.try_submit(job) {
                    Ok(()) => break,
                    Err(error) if !error.is_stopped() => {
                        job = error.into_inner();
                        thread::yield_now();
                    }
                    Err(_) => panic!("pool stopped"),
                }
            }
        },
        settle_from(&mut base),
    );
    rows.push(("taskring ThreadPool::try_submit (Task)", per));
    let per = per_task(|i| ours.submit(pools::task(i)), settle_from(&mut base));
    rows.push((
        "taskring ThreadPool::execute (16-byte closure, inline)",
        per,
    ));
    let per = per_task(
        |i| ours.submit(pools::boxed_task(i)),
        settle_from(&mut base),
    );
    rows.push(("taskring ThreadPool::execute (48-byte closure, boxed)", per));
    ours.shutdown();

    let tp = ThreadpoolCrate::start(2);
    rows.push((
        "threadpool execute",
        per_task(|i| tp.submit(pools::task(i)), settle_from(&mut base)),
    ));
    tp.shutdown();
    let ry = Rayon::start(2);
    rows.push((
        "rayon spawn",
        per_task(|i| ry.submit(pools::task(i)), settle_from(&mut base)),
    ));
    ry.shutdown();
    let ch = ChannelPool::start(2);
    rows.push((
        "channel pool send(Box)",
        per_task(|i| ch.submit(pools::task(i)), settle_from(&mut base)),
    ));
    ch.shutdown();
    rows
}

/// Allocation calls for `ops` push+pop pairs on a taskring `Ring`.
pub fn ring_allocations(ops: usize) -> usize {
    let ring: taskring::Ring<usize, 64> = taskring::Ring::new();
    let before = allocations();
    for i in 0..ops {
        let _ = ring.try_push(i);
        let _ = ring.try_pop();
    }
    allocations() - before
}

/// One footprint row: inline bytes and heap bytes.
fn row(out: &mut String, what: String, inline: usize, heap: usize) {
    let _ = writeln!(out, "| {what} | {inline} | {heap} | {} |", inline + heap);
}

/// The footprint table for one element type `T`.
#[allow(deprecated)]
fn footprint_of<T: Default + Clone + Send + 'static>(out: &mut String, t: &str) {
    macro_rules! for_n {
        ($n:literal) => {{
            let n = $n;
            row(
                out,
                format!("taskring `Ring<{t}, {n}>`"),
                size_of::<taskring::Ring<T, $n>>(),
                heap_of(taskring::Ring::<T, $n>::new).0,
            );
            row(
                out,
                format!("heapless `mpmc::Queue<{t}, {n}>` (mpmc_large)"),
                size_of::<heapless::mpmc::Queue<T, $n>>(),
                0,
            );
            row(
                out,
                format!("crossbeam `ArrayQueue<{t}>` ({n})"),
                size_of::<crossbeam_queue::ArrayQueue<T>>(),
                heap_of(|| crossbeam_queue::ArrayQueue::<T>::new(n)).0,
            );
            row(
                out,
                format!("concurrent-queue `bounded::<{t}>({n})`"),
                size_of::<concurrent_queue::ConcurrentQueue<T>>(),
                heap_of(|| concurrent_queue::ConcurrentQueue::<T>::bounded(n)).0,
            );
            row(
                out,
                format!("thingbuf `ThingBuf<{t}>` ({n})"),
                size_of::<thingbuf::ThingBuf<T>>(),
                heap_of(|| thingbuf::ThingBuf::<T>::new(n)).0,
            );
            row(
                out,
                format!("thingbuf `StaticThingBuf<{t}, {n}>`"),
                size_of::<thingbuf::StaticThingBuf<T, $n>>(),
                0,
            );
            row(
                out,
                format!("crossbeam-channel `bounded::<{t}>({n})` (sender + receiver)"),
                2 * size_of::<crossbeam_channel::Sender<T>>(),
                heap_of(|| crossbeam_channel::bounded::<T>(n)).0,
            );
            row(
                out,
                format!("std `sync_channel::<{t}>({n})` (sender + receiver)"),
                size_of::<std::sync::mpsc::SyncSender<T>>()
                    + size_of::<std::sync::mpsc::Receiver<T>>(),
                heap_of(|| std::sync::mpsc::sync_channel::<T>(n)).0,
            );
            row(
                out,
                format!("`Mutex<VecDeque<{t}>>` ({n})"),
                size_of::<std::sync::Mutex<std::collections::VecDeque<T>>>(),
                heap_of(|| {
                    std::sync::Mutex::new(std::collections::VecDeque::<T>::with_capacity(n))
                })
                .0,
            );
        }};
    }
    for_n!(8);
    for_n!(64);
    for_n!(1024);
}

/// The footprint table (Markdown): queues for each `T` and `N`, then pools.
pub fn footprint() -> String {
    let mut out = String::from(
        "| type | inline bytes (`size_of`) | heap bytes | total |\n|---|---|---|---|\n",
    );
    footprint_of::<u8>(&mut out, "u8");
    footprint_of::<usize>(&mut out, "usize");
    footprint_of::<[usize; 2]>(&mut out, "[usize; 2]");
    macro_rules! pool {
        ($n:literal) => {{
            type P = taskring::Pool<taskring::Task, $n, 2>;
            row(
                &mut out,
                format!("taskring `Pool<Task, {}, 2>`", $n),
                size_of::<P>(),
                0,
            );
        }};
    }
    pool!(8);
    pool!(64);
    pool!(1024);
    let (heap, _) = heap_of(|| taskring::ThreadPool::<taskring::Task, 1024>::new(2));
    row(
        &mut out,
        "taskring `ThreadPool<Task, 1024>::new(2)` (heap: shared state and 2 threads' bookkeeping)"
            .into(),
        size_of::<taskring::ThreadPool<taskring::Task, 1024>>(),
        heap,
    );
    let (heap, _) = heap_of(|| threadpool::ThreadPool::new(2));
    row(
        &mut out,
        "threadpool `ThreadPool::new(2)` (unbounded; each task adds a `Box`)".into(),
        size_of::<threadpool::ThreadPool>(),
        heap,
    );
    let (heap, _) = heap_of(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("rayon")
    });
    row(
        &mut out,
        "rayon `ThreadPool` (2 threads; each task adds a `HeapJob`)".into(),
        size_of::<rayon::ThreadPool>(),
        heap,
    );
    let _ = writeln!(
        out,
        "\n`size_of::<Task>()` = {} B; `size_of::<Box<dyn FnOnce() + Send>>()` = {} B.",
        size_of::<taskring::Task>(),
        size_of::<Box<dyn FnOnce() + Send>>()
    );
    out
}
