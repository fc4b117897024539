//! Pool contenders and the pool scenarios P1–P3.
//!
//! Every task is the same closure: it captures a `&'static` counter and an
//! index (16 bytes, so a boxed task really allocates) and bumps the
//! counter. The submitter waits for the counter with the queues' wait
//! policy ([`Wait`]).

use std::{
    hint::black_box,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        OnceLock,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use crate::queues::Wait;

/// A worker pool that runs `FnOnce` tasks.
pub trait PoolContender: Sized {
    /// The contender's name in the report.
    const NAME: &'static str;
    /// Starts a pool; its threads exist before any timed region.
    fn start(workers: usize) -> Self;
    /// Queues `task` (waiting for room where the pool is bounded).
    fn submit<F: FnOnce() + Send + 'static>(&self, task: F);
    /// Runs what is queued and joins the threads.
    fn shutdown(self);
}

/// taskring's std `ThreadPool` of inline `Task`s, capacity 1024, `W` workers.
pub struct Taskring<const W: usize>(pub taskring::ThreadPool<taskring::Task, 1024, W>);

impl<const W: usize> PoolContender for Taskring<W> {
    const NAME: &'static str = "taskring ThreadPool";
    fn start(workers: usize) -> Self {
        assert_eq!(workers, W, "worker count is a type parameter");
        Self(taskring::ThreadPool::new())
    }
    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, task: F) {
        if self.0.submit(taskring::Task::new(task)).is_err() {
            panic!("taskring pool refused a task");
        }
    }
    fn shutdown(self) {
        self.0.stop_wait().expect("stop_wait");
    }
}

/// The `threadpool` crate (`execute`).
pub struct ThreadpoolCrate(threadpool::ThreadPool);

impl PoolContender for ThreadpoolCrate {
    const NAME: &'static str = "threadpool";
    fn start(workers: usize) -> Self {
        Self(threadpool::ThreadPool::new(workers))
    }
    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, task: F) {
        self.0.execute(task);
    }
    fn shutdown(self) {
        self.0.join();
    }
}

/// rayon's `ThreadPool::spawn`.
pub struct Rayon(rayon::ThreadPool);

impl PoolContender for Rayon {
    const NAME: &'static str = "rayon spawn";
    fn start(workers: usize) -> Self {
        Self(
            rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
                .build()
                .expect("rayon pool"),
        )
    }
    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, task: F) {
        self.0.spawn(task);
    }
    fn shutdown(self) {
        drop(self.0);
    }
}

/// A boxed job.
type BoxedJob = Box<dyn FnOnce() + Send>;

/// A crossbeam-channel `bounded(1024)` of boxed jobs with blocking workers.
pub struct ChannelPool {
    sender: crossbeam_channel::Sender<BoxedJob>,
    threads: Vec<JoinHandle<()>>,
}

impl PoolContender for ChannelPool {
    const NAME: &'static str = "channel pool";
    fn start(workers: usize) -> Self {
        let (sender, receiver) = crossbeam_channel::bounded::<BoxedJob>(1024);
        let threads = (0..workers)
            .map(|_| {
                let receiver = receiver.clone();
                thread::spawn(move || {
                    for job in receiver {
                        job();
                    }
                })
            })
            .collect();
        Self { sender, threads }
    }
    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, task: F) {
        if self.sender.send(Box::new(task)).is_err() {
            panic!("channel pool closed");
        }
    }
    fn shutdown(self) {
        drop(self.sender);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Tasks finished so far.
pub static DONE: AtomicUsize = AtomicUsize::new(0);
/// Nanoseconds after [`epoch`] at which the first task of a P3 burst
/// started (0: none yet).
static FIRST: AtomicU64 = AtomicU64::new(0);

/// The clock origin for [`FIRST`].
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// The benchmark task: bumps [`DONE`].
#[inline]
pub fn task(index: usize) -> impl FnOnce() + Send + 'static {
    let done: &'static AtomicUsize = &DONE;
    move || {
        black_box(index);
        done.fetch_add(1, Ordering::Release);
    }
}

/// The P3 task: also records when the first task of a burst started.
#[inline]
fn burst_task(index: usize) -> impl FnOnce() + Send + 'static {
    let done: &'static AtomicUsize = &DONE;
    move || {
        if FIRST.load(Ordering::Relaxed) == 0 {
            let now = epoch().elapsed().as_nanos() as u64;
            let _ = FIRST.compare_exchange(0, now.max(1), Ordering::Relaxed, Ordering::Relaxed);
        }
        black_box(index);
        done.fetch_add(1, Ordering::Release);
    }
}

/// Waits until [`DONE`] reaches `target`.
pub fn wait_done(target: usize) {
    let mut wait = Wait::default();
    while DONE.load(Ordering::Acquire) < target {
        wait.failed();
    }
}

/// P1: submits `tasks` tasks and waits for all; ns per task end to end.
pub fn p1<P: PoolContender>(pool: &P, tasks: usize) -> f64 {
    let base = DONE.load(Ordering::Acquire);
    let began = Instant::now();
    for i in 0..tasks {
        pool.submit(task(i));
    }
    wait_done(base + tasks);
    began.elapsed().as_nanos() as f64 / tasks as f64
}

/// P2: `batches` × (time 64 submits, then wait until they have run).
/// Returns ns per submit: (median over batches, 99th percentile).
pub fn p2<P: PoolContender>(pool: &P, batches: usize) -> (f64, f64) {
    const BATCH: usize = 64;
    let mut samples = Vec::with_capacity(batches);
    for _ in 0..batches {
        let base = DONE.load(Ordering::Acquire);
        let began = Instant::now();
        for i in 0..BATCH {
            pool.submit(task(i));
        }
        samples.push(began.elapsed().as_nanos() as f64 / BATCH as f64);
        wait_done(base + BATCH);
    }
    (
        crate::stats::quantile(&samples, 0.5),
        crate::stats::quantile(&samples, 0.99),
    )
}

/// P3: lets the workers go idle (and park) for `idle`, then submits
/// `tasks` at once. Returns (ns per task to drain, ns to the first start).
pub fn p3<P: PoolContender>(pool: &P, tasks: usize, idle: Duration) -> (f64, f64) {
    let base = DONE.load(Ordering::Acquire);
    thread::sleep(idle);
    FIRST.store(0, Ordering::Relaxed);
    let began = Instant::now();
    let began_ns = began.duration_since(epoch()).as_nanos() as f64;
    for i in 0..tasks {
        pool.submit(burst_task(i));
    }
    wait_done(base + tasks);
    let took = began.elapsed().as_nanos() as f64;
    let first = FIRST.load(Ordering::Relaxed) as f64 - began_ns;
    (took / tasks as f64, first.max(0.0))
}
