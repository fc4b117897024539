//! The async scenarios A1 and A2: taskring's async front end against the
//! obvious alternatives, paired in one process like the rest of the suite.
//!
//! * **A1**: one tokio task awaits `n` empty jobs one after the other:
//!   `ThreadPool::spawn(..).await` (2 workers) against
//!   `tokio::task::spawn_blocking(..).await` on the same runtime. ns per
//!   job, end to end (queue, wake a worker, run, wake the task).
//! * **A2**: `n` submits into a paused pool with room, `submit_async`
//!   polled once against `try_submit`: ns per submit. The queue is drained
//!   between batches, outside the timed region.

use std::{
    future::Future,
    hint::black_box,
    pin::Pin,
    task::{Context, Poll, Waker},
    time::Instant,
};

use taskring::{SubmitError, ThreadPool};

/// A contender's measurement: (ns per op, NaN).
pub type Measure<'a> = Box<dyn FnMut() -> (f64, f64) + 'a>;

/// The name of A1's taskring contender.
pub const A1_TASKRING: &str = "taskring spawn.await";
/// The name of A1's tokio contender.
pub const A1_TOKIO: &str = "tokio spawn_blocking.await";
/// The name of A2's `submit_async` contender.
pub const A2_ASYNC: &str = "taskring submit_async";
/// The name of A2's `try_submit` contender.
pub const A2_TRY: &str = "taskring try_submit";

/// A1's contenders, sharing one multi-thread tokio runtime (2 workers)
/// and one 2-worker `ThreadPool`; each measurement awaits `jobs` jobs from
/// one spawned task.
pub fn a1_contenders(jobs: usize) -> Vec<(&'static str, Measure<'static>)> {
    let runtime = std::sync::Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("a tokio runtime"),
    );
    let pool: std::sync::Arc<ThreadPool> =
        std::sync::Arc::new(ThreadPool::new(2).expect("taskring pool"));
    let (rt, p) = (runtime.clone(), pool.clone());
    let ours: Measure<'static> = Box::new(move || {
        let p = p.clone();
        let took = rt.block_on(rt.spawn(async move {
            let began = Instant::now();
            for _ in 0..jobs {
                p.spawn(|| black_box(())).await.expect("the job ran");
            }
            began.elapsed()
        }));
        (
            took.expect("the task").as_nanos() as f64 / jobs as f64,
            f64::NAN,
        )
    });
    let rt = runtime;
    let theirs: Measure<'static> = Box::new(move || {
        let took = rt.block_on(rt.spawn(async move {
            let began = Instant::now();
            for _ in 0..jobs {
                tokio::task::spawn_blocking(|| black_box(()))
                    .await
                    .expect("the job ran");
            }
            began.elapsed()
        }));
        (
            took.expect("the task").as_nanos() as f64 / jobs as f64,
            f64::NAN,
        )
    });
    vec![(A1_TASKRING, ours), (A1_TOKIO, theirs)]
}

/// Submits per batch: well below the queue's 1024, so every submit finds
/// room.
const BATCH: usize = 512;

fn nothing() {}

/// Times `ops` submits made by `submit` into a paused 1-worker pool, in
/// batches drained between timings.
fn timed_submits(
    pool: &ThreadPool<fn(), 1024>,
    ops: usize,
    mut submit: impl FnMut(&ThreadPool<fn(), 1024>),
) -> f64 {
    let mut nanos = 0u128;
    let mut done = 0;
    while done < ops {
        let batch = BATCH.min(ops - done);
        pool.pause();
        let began = Instant::now();
        for _ in 0..batch {
            submit(pool);
        }
        nanos += began.elapsed().as_nanos();
        pool.resume();
        pool.wait_idle().expect("wait_idle from outside the pool");
        done += batch;
    }
    nanos as f64 / ops as f64
}

/// A2's contenders: `submit_async` polled once (with a no-op waker: the
/// queue has room, so it resolves at the first poll) and `try_submit`,
/// each into its own paused pool with room.
pub fn a2_contenders(ops: usize) -> Vec<(&'static str, Measure<'static>)> {
    let ours_pool: ThreadPool<fn(), 1024> = ThreadPool::new(1).expect("taskring pool");
    let theirs_pool: ThreadPool<fn(), 1024> = ThreadPool::new(1).expect("taskring pool");
    let ours: Measure<'static> = Box::new(move || {
        let value = timed_submits(&ours_pool, ops, |pool| {
            let mut cx = Context::from_waker(Waker::noop());
            let mut submit = pool.submit_async(nothing);
            match Pin::new(&mut submit).poll(&mut cx) {
                Poll::Ready(Ok(())) => {}
                _ => panic!("submit_async did not queue at once into a queue with room"),
            }
        });
        (value, f64::NAN)
    });
    let theirs: Measure<'static> = Box::new(move || {
        let value = timed_submits(&theirs_pool, ops, |pool| {
            if let Err(SubmitError::Full(_) | SubmitError::Busy(_) | SubmitError::Stopped(_)) =
                pool.try_submit(nothing)
            {
                panic!("try_submit refused a job with room");
            }
        });
        (value, f64::NAN)
    });
    vec![(A2_ASYNC, ours), (A2_TRY, theirs)]
}
