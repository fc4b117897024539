//! Pool contenders and the pool scenarios P1–P6.
//!
//! Every pool runs the same closures, made by the functions below: [`task`]
//! (bumps a counter; 16 bytes, so a boxed task really allocates),
//! [`spin_task`] (about 1 µs of CPU, then the bump) and [`boxed_task`]
//! (48 bytes of captures: too big for taskring's inline `Task`). The
//! submitter waits for the counter with the queues' wait policy ([`Wait`]),
//! except in P5, where it sleeps so that its own polling costs no CPU.

use std::{
    hint::black_box,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Barrier, OnceLock,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use crate::{cpu, queues::Wait};

/// A worker pool that runs `FnOnce` tasks.
pub trait PoolContender: Sized + Sync {
    /// The contender's name in the report.
    const NAME: &'static str;
    /// Starts a pool of `workers` threads; they exist before any timed
    /// region.
    fn start(workers: usize) -> Self;
    /// Queues `task` (waiting for room where the pool is bounded).
    fn submit<F: FnOnce() + Send + 'static>(&self, task: F);
    /// The pool's own counters, for a note under the table (taskring only).
    fn counters(&self) -> Option<String> {
        None
    }
    /// Runs what is queued and joins the threads.
    fn shutdown(self);
}

/// taskring's std `ThreadPool` (`Task` jobs, capacity 1024) through
/// `execute`: the closure is stored inline in the `Task` when it fits and
/// boxed otherwise.
pub struct Taskring(pub taskring::ThreadPool);

impl PoolContender for Taskring {
    const NAME: &'static str = "taskring ThreadPool";
    fn start(workers: usize) -> Self {
        Self(taskring::ThreadPool::new(workers).expect("taskring pool"))
    }
    #[inline]
    fn submit<F: FnOnce() + Send + 'static>(&self, task: F) {
        if self.0.execute(task).is_err() {
            panic!("taskring pool refused a task");
        }
    }
    fn counters(&self) -> Option<String> {
        Some(format!("{:?}", self.0.stats()))
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

/// Burns CPU for `iterations` turns of a loop the optimizer cannot remove.
#[inline(never)]
pub fn spin(iterations: usize) {
    for i in 0..iterations {
        black_box(i);
    }
}

/// Loop turns of [`spin`] that take about `target` on one thread of this
/// machine (the fastest of several tries, so a busy machine does not
/// shrink the task).
pub fn calibrate(target: Duration) -> usize {
    const PROBE: usize = 200_000;
    spin(PROBE);
    let best = (0..9)
        .map(|_| {
            let began = Instant::now();
            spin(PROBE);
            began.elapsed()
        })
        .min()
        .unwrap_or(Duration::from_micros(1));
    ((PROBE as f64 * target.as_secs_f64() / best.as_secs_f64().max(1e-9)) as usize).max(1)
}

/// The P4 task: [`spin`]s for `iterations`, then bumps [`DONE`]. 16 bytes.
#[inline]
pub fn spin_task(iterations: usize) -> impl FnOnce() + Send + 'static {
    let done: &'static AtomicUsize = &DONE;
    move || {
        spin(iterations);
        done.fetch_add(1, Ordering::Release);
    }
}

/// The P6 task: captures a `String` and three `usize`s (6 words, 48 bytes:
/// more than a `Task`'s 3 words, so taskring boxes it too). The string is
/// empty and owns no heap, so the only allocation is the pool's.
#[inline]
pub fn boxed_task(index: usize) -> impl FnOnce() + Send + 'static {
    let done: &'static AtomicUsize = &DONE;
    let (label, a, b) = (String::new(), index, index ^ 1);
    move || {
        black_box((&label, a, b));
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

/// P1, P4, P6: submits `tasks` tasks made by `make` and waits until all
/// have run; ns per task, end to end.
pub fn drain<P: PoolContender, F: FnOnce() + Send + 'static>(
    pool: &P,
    tasks: usize,
    make: impl Fn(usize) -> F,
) -> f64 {
    let base = DONE.load(Ordering::Acquire);
    let began = Instant::now();
    for i in 0..tasks {
        pool.submit(make(i));
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

/// P5: `submitters` threads submit `jobs` [`task`]s between them; the
/// timing thread blocks (joins, then sleeps between checks of the counter).
/// Returns (wall ns per job, process CPU ns per job: user + sys, every
/// thread). The submitters are started, and wait at a barrier, before the
/// clocks are read.
pub fn crowd<P: PoolContender>(pool: &P, submitters: usize, jobs: usize) -> (f64, f64) {
    let each = jobs / submitters;
    let base = DONE.load(Ordering::Acquire);
    let start = Barrier::new(submitters + 1);
    let (wall, cpu) = thread::scope(|scope| {
        for _ in 0..submitters {
            scope.spawn(|| {
                start.wait();
                for i in 0..each {
                    pool.submit(task(i));
                }
            });
        }
        // Let every submitter reach the barrier before the clocks start.
        thread::sleep(Duration::from_millis(2));
        let (began, cpu_began) = (Instant::now(), cpu::process_time());
        start.wait();
        (began, cpu_began)
    });
    while DONE.load(Ordering::Acquire) < base + each * submitters {
        thread::sleep(Duration::from_micros(50));
    }
    let per = (each * submitters) as f64;
    (
        wall.elapsed().as_nanos() as f64 / per,
        (cpu::process_time() - cpu).as_nanos() as f64 / per,
    )
}
