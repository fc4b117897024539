//! Models of the pool's lifecycle and wake-ups: submit against stop and
//! stop_wait, pause and resume against a worker and stop_wait, two
//! `run_pending` callers against a submitter, the submit → idle-worker
//! handshake in both orientations, a job that submits a job, dropping a
//! pool with jobs queued, and a capacity-3 pool lapping its ring inside the
//! race.
//!
//! The invariant checked everywhere: every submitted job ends as exactly one
//! of run, handed back by `stop`, or returned to its submitter, and nothing
//! is left queued once the pool has stopped. A worker that is never woken
//! stays blocked on its token forever, which loom reports as a deadlock.

use taskring::{Config, Env, Idle, Job, Pool, Spin, SubmitError};

use crate::{both_sides, mark, model, model_at, Arc, Item, Mark, Side};

#[cfg(loom)]
use loom::sync::{
    atomic::{AtomicUsize, Ordering},
    Condvar, Mutex,
};
#[cfg(not(loom))]
use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Condvar, Mutex,
};

/// Submits each id with at most `attempts` tries (retrying only `Busy`);
/// returns the bitmask of ids given back to the submitter.
fn submit_all<const N: usize, const W: usize, E: Env>(
    pool: &Pool<Mark, N, W, E>,
    ids: &[u32],
    ran: &Arc<AtomicUsize>,
    attempts: usize,
) -> usize {
    submit_counting(pool, ids, ran, attempts).0
}

/// [`submit_all`], also returning how many refusals `try_submit` returned
/// (a `Busy` that is retried included).
fn submit_counting<const N: usize, const W: usize, E: Env>(
    pool: &Pool<Mark, N, W, E>,
    ids: &[u32],
    ran: &Arc<AtomicUsize>,
    attempts: usize,
) -> (usize, usize) {
    let mut returned = 0;
    let mut refusals = 0;
    for &id in ids {
        let mut job = mark(id, ran);
        for attempt in 0..attempts {
            let result = pool.try_submit(job);
            refusals += usize::from(result.is_err());
            match result {
                Ok(()) => break,
                Err(SubmitError::Busy(back)) if attempt + 1 < attempts => job = back,
                Err(error) => {
                    let back = error.into_inner();
                    assert_eq!(back.item.id(), id, "a failed submit gave back another job");
                    returned |= 1 << id;
                    break;
                }
            }
        }
    }
    (returned, refusals)
}

/// Bitmask of the ids handed back by `stop`.
fn stop_mask<const N: usize, const W: usize, E: Env>(pool: &Pool<Mark, N, W, E>) -> usize {
    pool.stop()
        .into_iter()
        .fold(0, |mask, job| mask | 1 << job.item.id())
}

/// Checks that the three outcome masks partition `all` exactly.
fn assert_exactly_once(all: usize, ran: usize, handed_back: usize, returned: usize) {
    assert_eq!(ran & handed_back, 0, "a job ran and was handed back");
    assert_eq!(ran & returned, 0, "a job ran and was returned");
    assert_eq!(
        handed_back & returned,
        0,
        "a job was handed back and returned"
    );
    assert_eq!(
        ran | handed_back | returned,
        all,
        "a job was lost: ran {ran:b}, handed back {handed_back:b}, returned {returned:b}"
    );
}

// === The models' environment: wake-up tokens ===

/// An [`Env`] that wakes workers the way the thread pool's does: an idle
/// worker waits on a condition variable for a token, a wake-up adds one
/// token (capped at the number of workers) and notifies one waiter, and a
/// token sent before its worker waits is kept. `wake` wakes *some* idle
/// worker, not a chosen one, which is all the pool's contract promises.
struct Tokens {
    tokens: Mutex<usize>,
    cond: Condvar,
    workers: usize,
}

impl Tokens {
    fn new(workers: usize) -> Self {
        Self {
            tokens: Mutex::new(0),
            cond: Condvar::new(),
            workers,
        }
    }

    /// Waits for a token and takes it.
    fn take(&self) {
        let mut tokens = self.tokens.lock().unwrap();
        while *tokens == 0 {
            tokens = self.cond.wait(tokens).unwrap();
        }
        *tokens -= 1;
    }
}

impl Env for Tokens {
    type Stamp = ();
    fn now(&self) {}
    fn ticks(&self, (): ()) -> u64 {
        0
    }
    fn wake(&self) {
        let mut tokens = self.tokens.lock().unwrap();
        *tokens = (*tokens + 1).min(self.workers);
        drop(tokens);
        self.cond.notify_one();
    }
    fn wake_all(&self) {
        *self.tokens.lock().unwrap() = self.workers;
        self.cond.notify_all();
    }
}

/// The idle strategy of the models' blocking workers: wait for a token.
/// Only a wake-up from the pool brings such a worker back.
struct TakeToken<'a>(&'a Tokens);

impl Idle for TakeToken<'_> {
    fn idle(&mut self, _worker: usize) {
        self.0.take();
    }
}

/// Runs worker `index` of `pool`, blocking on tokens when idle; returns
/// how many jobs it ran.
fn run_blocking_worker<J: Job, const N: usize, const W: usize>(
    pool: &Pool<J, N, W, Tokens>,
    index: usize,
) -> usize {
    pool.run_worker(index, &mut TakeToken(pool.env())).unwrap()
}

/// Spawns worker `index` of `pool`, blocking on tokens when idle.
fn spawn_blocking_worker<J: Job + 'static, const N: usize, const W: usize>(
    pool: &Arc<Pool<J, N, W, Tokens>>,
    index: usize,
) -> crate::thread::JoinHandle<usize> {
    let p = pool.clone();
    crate::thread::spawn(move || run_blocking_worker(&p, index))
}

// === submit ∥ stop ===

fn submit_vs_stop<const N: usize>(side: Side) {
    model(move || {
        let pool: Arc<Pool<Mark, N, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let ids = [0, 1];
        let ((returned, refusals), handed_back) = match side {
            Side::FirstSpawned => {
                let (p, r) = (pool.clone(), ran.clone());
                let submitter = crate::thread::spawn(move || submit_counting(&p, &ids, &r, 2));
                let handed_back = stop_mask(&pool);
                (submitter.join().unwrap(), handed_back)
            }
            Side::SecondSpawned => {
                let p = pool.clone();
                let stopper = crate::thread::spawn(move || stop_mask(&p));
                let submitted = submit_counting(&pool, &ids, &ran, 2);
                (submitted, stopper.join().unwrap())
            }
        };
        // Nothing may be left behind once stop and the submits are done.
        assert_eq!(pool.queued(), 0, "a job was stranded in a stopped pool");
        assert!(pool.stop().is_empty());
        assert_eq!(pool.run_pending(usize::MAX), 0);
        assert_exactly_once(0b11, ran.load(Ordering::Relaxed), handed_back, returned);
        let stats = pool.stats();
        assert_eq!(stats.submitted, stats.handed_back);
        // Each refusal handed back to the caller is counted once.
        assert_eq!(stats.rejected, refusals);
    });
}

both_sides! {
    submit_vs_stop_n1_submitter_spawned, submit_vs_stop_n1_stopper_spawned => |side| {
        submit_vs_stop::<1>(side);
    }

    submit_vs_stop_n2_submitter_spawned, submit_vs_stop_n2_stopper_spawned => |side| {
        submit_vs_stop::<2>(side);
    }
}

// === submit ∥ run_pending ∥ stop_wait ===

/// A submitter and a `run_pending` caller race with `stop_wait` on main.
/// When `stop_wait` returns, every job the submitter got accepted has run,
/// including one that the `run_pending` thread may still have been running.
fn submit_vs_stop_wait<const N: usize>(with_runner: bool) {
    model(move || {
        let pool: Arc<Pool<Mark, N, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let (p, r) = (pool.clone(), ran.clone());
        let submitter = crate::thread::spawn(move || submit_all(&p, &[0, 1], &r, 2));
        let runner = with_runner.then(|| {
            let p = pool.clone();
            crate::thread::spawn(move || p.run_pending(1))
        });
        pool.stop_wait().unwrap();
        let ran_at_return = ran.load(Ordering::Acquire);
        let returned = submitter.join().unwrap();
        if let Some(runner) = runner {
            runner.join().unwrap();
        }
        // Accepted jobs all ran before `stop_wait` returned.
        assert_exactly_once(0b11, ran_at_return, 0, returned);
        assert_eq!(pool.queued(), 0);
        assert_eq!(pool.run_pending(usize::MAX), 0);
    });
}

#[test]
fn submit_vs_stop_wait_n1() {
    submit_vs_stop_wait::<1>(false);
}

#[test]
fn submit_vs_stop_wait_n2() {
    submit_vs_stop_wait::<2>(false);
}

#[test]
fn submit_and_run_pending_vs_stop_wait_n1() {
    submit_vs_stop_wait::<1>(true);
}

#[test]
fn submit_and_run_pending_vs_stop_wait_n2() {
    submit_vs_stop_wait::<2>(true);
}

// === two run_pending ∥ try_submit ===

/// `Side::FirstSpawned`: both runners spawned, the submitter on main.
/// `Side::SecondSpawned`: the submitter and one runner spawned, the other
/// runner on main. Three threads either way.
fn two_runners_vs_submit<const N: usize>(side: Side, runs: usize) {
    model(move || {
        let pool: Arc<Pool<Mark, N, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let run_some =
            move |pool: &Pool<Mark, N, 0>| (0..runs).map(|_| pool.run_pending(1)).sum::<usize>();
        let spawn_runner = |pool: &Arc<Pool<Mark, N, 0>>| {
            let p = pool.clone();
            crate::thread::spawn(move || run_some(&p))
        };
        let (returned, by_runners) = match side {
            Side::FirstSpawned => {
                let (a, b) = (spawn_runner(&pool), spawn_runner(&pool));
                let returned = submit_all(&pool, &[0, 1], &ran, 2);
                (returned, a.join().unwrap() + b.join().unwrap())
            }
            Side::SecondSpawned => {
                let (p, r) = (pool.clone(), ran.clone());
                let submitter = crate::thread::spawn(move || submit_all(&p, &[0, 1], &r, 2));
                let a = spawn_runner(&pool);
                let by_main = run_some(&pool);
                (submitter.join().unwrap(), a.join().unwrap() + by_main)
            }
        };
        let by_main = pool.run_pending(usize::MAX);
        let ran = ran.load(Ordering::Relaxed);
        assert_eq!(ran.count_ones() as usize, by_runners + by_main);
        assert_exactly_once(0b11, ran, 0, returned);
        let stats = pool.stats();
        assert_eq!(stats.completed, by_runners + by_main);
        assert_eq!(stats.submitted, stats.completed);
    });
}

/// Each runner tries once: with N = 1 and two tries each, loom takes about
/// a minute.
#[test]
fn two_run_pending_vs_submit_n1_runners_spawned() {
    two_runners_vs_submit::<1>(Side::FirstSpawned, 1);
}

#[test]
fn two_run_pending_vs_submit_n1_submitter_spawned() {
    two_runners_vs_submit::<1>(Side::SecondSpawned, 2);
}

both_sides! {
    two_run_pending_vs_submit_n2_runners_spawned,
    two_run_pending_vs_submit_n2_submitter_spawned => |side| {
        two_runners_vs_submit::<2>(side, 2);
    }
}

// === pause / resume ∥ worker ===

/// While paused, at most the one job that the worker was already taking
/// when `pause` was called may start; after `resume`, everything runs.
///
/// `Side::FirstSpawned`: the worker runs before `pause`, so it may be in the
/// middle of taking a job. `Side::SecondSpawned`: the worker starts after
/// `pause` returned, so no job may start until `resume`.
fn pause_vs_worker(side: Side) {
    model(move || {
        let pool: Arc<Pool<Mark, 2, 1>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let spawn_worker = |pool: &Arc<Pool<Mark, 2, 1>>| {
            let p = pool.clone();
            crate::thread::spawn(move || p.run_worker(0, &mut Spin).unwrap())
        };
        let (worker, allowed) = match side {
            Side::FirstSpawned => {
                let worker = spawn_worker(&pool);
                pool.pause();
                (worker, 1)
            }
            Side::SecondSpawned => {
                pool.pause();
                (spawn_worker(&pool), 0)
            }
        };
        assert_eq!(submit_all(&pool, &[0, 1], &ran, 2), 0);
        crate::thread::yield_now();
        let while_paused = ran.load(Ordering::Relaxed).count_ones();
        assert!(
            while_paused <= allowed,
            "{while_paused} jobs started while paused"
        );
        pool.resume();
        pool.stop_wait().unwrap();
        assert_eq!(ran.load(Ordering::Relaxed), 0b11);
        worker.join().unwrap();
    });
}

both_sides! {
    pause_resume_vs_running_worker, pause_resume_vs_worker_started_while_paused => |side| {
        pause_vs_worker(side);
    }
}

// === stop of a paused pool ∥ worker ===

/// A worker that starts after `pause` returned may start no job until
/// `resume`; `stop` hands back every job that did not start. So stopping a
/// paused pool hands back everything queued, and nothing runs (the
/// thread pool's `stop` documents exactly this with an example).
#[test]
fn stop_of_a_paused_pool_hands_back_every_job() {
    // With one preemption of the stopper this found `stop` closing the ring
    // before setting STOPPED: a worker that looked in between ignored the
    // pause (the ring was closed) and ran the queued job.
    model(|| {
        let pool: Arc<Pool<Mark, 2, 1>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        pool.pause();
        assert_eq!(submit_all(&pool, &[0], &ran, 1), 0);
        let p = pool.clone();
        let worker = crate::thread::spawn(move || p.run_worker(0, &mut Spin).unwrap());
        let handed_back = stop_mask(&pool);
        assert_eq!(worker.join().unwrap(), 0, "a job started in a paused pool");
        assert_eq!(handed_back, 0b1);
        assert_eq!(ran.load(Ordering::Relaxed), 0);
    });
}

// === pause ∥ stop_wait ∥ worker ===

/// Two queued jobs, a worker that blocks when idle, a `pause` and a
/// `stop_wait` racing. Once the stop has begun a pause has no effect, so
/// `stop_wait` returns (a hang is a loom deadlock or branch-limit failure)
/// with both jobs run exactly once, and the worker returns too.
///
/// `Side::FirstSpawned`: the pauser is spawned, `stop_wait` on main.
/// `Side::SecondSpawned`: `stop_wait` is spawned, the pauser on main.
fn pause_vs_stop_wait(side: Side) {
    model(move || {
        let pool: Arc<Pool<Mark, 2, 1, Tokens>> =
            Arc::new(Pool::with_env(Config::new(), Tokens::new(1)));
        let ran = Arc::new(AtomicUsize::new(0));
        assert_eq!(submit_all(&pool, &[0, 1], &ran, 1), 0);
        let worker = spawn_blocking_worker(&pool, 0);
        let p = pool.clone();
        match side {
            Side::FirstSpawned => {
                let pauser = crate::thread::spawn(move || p.pause());
                pool.stop_wait().unwrap();
                pauser.join().unwrap();
            }
            Side::SecondSpawned => {
                let stopper = crate::thread::spawn(move || p.stop_wait().unwrap());
                pool.pause();
                stopper.join().unwrap();
            }
        }
        // Both ran before `stop_wait` returned (the stopper joined).
        assert_eq!(ran.load(Ordering::Relaxed), 0b11);
        let by_worker = worker.join().unwrap();
        assert!(by_worker <= 2);
        assert!(!pool.is_paused(), "a stopping pool reports a pause");
        let stats = pool.stats();
        assert_eq!((stats.completed, stats.queued, stats.running), (2, 0, 0));
        assert_eq!(pool.run_pending(usize::MAX), 0);
    });
}

both_sides! {
    pause_vs_stop_wait_vs_worker_pauser_spawned,
    pause_vs_stop_wait_vs_worker_stop_wait_spawned => |side| {
        pause_vs_stop_wait(side);
    }
}

// === submit → wake an idle worker ===

/// The pool of the wake-up models: room for two workers, woken by tokens.
type WakePool = Pool<Work, 2, 2, Tokens>;

/// Jobs for the wake-up models. `Stop` stops the pool from inside a job,
/// which lets the blocked workers' loops end, so that the main thread can
/// join them without a `stop_wait` or `wake_all` of its own (which would
/// wake a worker whose wake-up was lost).
enum Work {
    Mark(Mark),
    /// Submits the boxed job into the pool when it runs.
    Then(Arc<WakePool>, Box<Work>),
    /// Stops the pool; nothing is queued behind it.
    Stop(Arc<WakePool>),
}

impl Job for Work {
    fn run(self) {
        match self {
            Work::Mark(job) => job.run(),
            Work::Then(pool, next) => {
                assert!(pool.try_submit(*next).is_ok(), "a job's submit failed");
            }
            Work::Stop(pool) => assert!(pool.stop().is_empty(), "a job was queued behind Stop"),
        }
    }
}

fn wake_pool(workers: usize) -> Arc<WakePool> {
    Arc::new(Pool::with_env(Config::new(), Tokens::new(workers)))
}

/// Workers are spawned and may be anywhere between their last look at the
/// queue and their wait for a token when main submits. With two workers,
/// main submits two jobs, and each submit that finds a sleeper must claim
/// and wake one; if a wake-up is lost, a job sits queued, `Stop` never
/// runs, and `join` deadlocks.
///
/// Main first yields `delay` times. A worker backs off with one yield per
/// step before it announces itself (two under loom), and loom switches
/// away from a yielding thread without spending a preemption, so a
/// yielding submitter reaches the window between a worker's last look and
/// its announcement with fewer preemptions.
fn submit_wakes_workers(workers: usize, delay: usize, preemptions: usize) {
    model_at(preemptions, move || {
        let pool = wake_pool(workers);
        let handles: Vec<_> = (0..workers)
            .map(|index| spawn_blocking_worker(&pool, index))
            .collect();
        for _ in 0..delay {
            crate::thread::yield_now();
        }
        let ran = Arc::new(AtomicUsize::new(0));
        if workers > 1 {
            assert!(pool.try_submit(Work::Mark(mark(0, &ran))).is_ok());
        }
        assert!(pool.try_submit(Work::Stop(pool.clone())).is_ok());
        let by_workers: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        // FIFO: `Mark` left the queue before `Stop`, so it was not handed
        // back, and it ran.
        assert_eq!(by_workers, workers);
        assert_eq!(
            ran.load(Ordering::Relaxed),
            if workers > 1 { 0b1 } else { 0 }
        );
        assert_eq!(pool.queued(), 0);
    });
}

#[test]
fn submit_wakes_an_idle_worker() {
    submit_wakes_workers(1, 0, 2);
}

#[test]
fn submit_wakes_an_idle_worker_yielding_submitter() {
    submit_wakes_workers(1, 2, 2);
}

#[test]
fn submit_wakes_idle_workers_two_of_two() {
    submit_wakes_workers(2, 0, 1);
}

/// The other orientation: the worker runs on main and blocks there, and a
/// spawned thread submits the job that must wake it.
#[test]
fn submit_wakes_an_idle_worker_on_main() {
    // Three preemptions: a wake lost by skipping the re-check (the `park`
    // mutant) needs the submit to land between the worker's last look at
    // the queue and its announcement, after two backoff yields. At two it
    // goes unseen.
    model_at(3, || {
        let pool = wake_pool(1);
        let p = pool.clone();
        let submitter = crate::thread::spawn(move || p.try_submit(Work::Stop(p.clone())).is_ok());
        let ran = run_blocking_worker(&pool, 0);
        assert!(submitter.join().unwrap());
        assert_eq!(ran, 1);
        assert_eq!(pool.queued(), 0);
    });
}

// === resume → wake a parked worker ===

/// A paused pool, a worker that blocks when idle, and a thread that submits
/// `Stop` and then resumes. A submit into a paused pool may claim the
/// sleeping worker, which then finds the pause and sleeps again; `resume`
/// must wake it once more, or `Stop` never runs and `join` deadlocks.
///
/// `Side::FirstSpawned`: the worker is spawned, main submits and resumes.
/// `Side::SecondSpawned`: the worker runs on main.
fn resume_wakes_worker(side: Side) {
    model(move || {
        let pool = wake_pool(1);
        pool.pause();
        let submit_then_resume = |pool: Arc<WakePool>| {
            assert!(pool.try_submit(Work::Stop(pool.clone())).is_ok());
            pool.resume();
        };
        let by_worker = match side {
            Side::FirstSpawned => {
                let worker = spawn_blocking_worker(&pool, 0);
                submit_then_resume(pool.clone());
                worker.join().unwrap()
            }
            Side::SecondSpawned => {
                let p = pool.clone();
                let resumer = crate::thread::spawn(move || submit_then_resume(p));
                let ran = run_blocking_worker(&pool, 0);
                resumer.join().unwrap();
                ran
            }
        };
        assert_eq!(by_worker, 1);
        assert!(pool.is_stopped());
        assert_eq!(pool.queued(), 0);
    });
}

both_sides! {
    resume_wakes_a_parked_worker, resume_wakes_a_parked_worker_on_main => |side| {
        resume_wakes_worker(side);
    }
}

// === a job that submits a job ===

/// A job that submits `Stop` when it runs. One side submits it and runs one
/// job with `run_pending`; the worker blocks when idle. Whoever runs the
/// first job submits `Stop` from inside it: from the `run_pending` caller,
/// that submit must wake the idle worker; from the worker, it queues behind
/// the running job. Each job runs exactly once, and the worker returns.
///
/// `Side::FirstSpawned`: the worker is spawned, main submits and helps.
/// `Side::SecondSpawned`: the worker runs on main.
fn job_submits_a_job(side: Side) {
    model(move || {
        let pool = wake_pool(1);
        let submit_and_help = |pool: Arc<WakePool>| {
            let first = Work::Then(pool.clone(), Box::new(Work::Stop(pool.clone())));
            assert!(pool.try_submit(first).is_ok());
            pool.run_pending(1)
        };
        let (by_worker, by_helper) = match side {
            Side::FirstSpawned => {
                let worker = spawn_blocking_worker(&pool, 0);
                let by_helper = submit_and_help(pool.clone());
                (worker.join().unwrap(), by_helper)
            }
            Side::SecondSpawned => {
                let p = pool.clone();
                let helper = crate::thread::spawn(move || submit_and_help(p));
                let by_worker = run_blocking_worker(&pool, 0);
                (by_worker, helper.join().unwrap())
            }
        };
        assert_eq!(by_worker + by_helper, 2, "a job was lost or ran twice");
        assert!(by_worker >= 1);
        let stats = pool.stats();
        assert_eq!((stats.completed, stats.queued), (2, 0));
        assert_eq!(stats.submitted, 2);
    });
}

both_sides! {
    job_submits_a_job_worker_spawned, job_submits_a_job_worker_on_main => |side| {
        job_submits_a_job(side);
    }
}

// === dropping a pool with jobs queued ===

/// A job that records, by bit, that it ran and that it was dropped, and
/// fails if it is dropped twice. Its item is tracked by loom, so a job the
/// pool never drops is reported as a leak.
struct Counted {
    id: u32,
    ran: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
    _item: Item,
}

impl Job for Counted {
    fn run(self) {
        let before = self.ran.fetch_or(1 << self.id, Ordering::Relaxed);
        assert_eq!(before & 1 << self.id, 0, "job {} ran twice", self.id);
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let before = self.dropped.fetch_or(1 << self.id, Ordering::Relaxed);
        assert_eq!(before & 1 << self.id, 0, "job {} dropped twice", self.id);
    }
}

/// A submitter and a `run_pending` caller each hold the pool, and whoever
/// lets go last drops it with the jobs still queued. Every job is dropped
/// exactly once (after running, or with the pool), and none leaks.
///
/// `Side::FirstSpawned`: the submitter is spawned. `Side::SecondSpawned`:
/// the runner is spawned.
fn drop_with_jobs_queued(side: Side) {
    model(move || {
        let pool: Arc<Pool<Counted, 2, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let submit = {
            let (pool, ran, dropped) = (pool.clone(), ran.clone(), dropped.clone());
            move || {
                for id in 0..2 {
                    let job = Counted {
                        id,
                        ran: ran.clone(),
                        dropped: dropped.clone(),
                        _item: Item::new(id),
                    };
                    // Busy (the runner is on the slot) drops the job here.
                    let _ = pool.try_submit(job);
                }
                drop(pool);
            }
        };
        let run = {
            let pool = pool.clone();
            move || {
                let ran = pool.run_pending(1);
                drop(pool);
                ran
            }
        };
        drop(pool);
        match side {
            Side::FirstSpawned => {
                let submitter = crate::thread::spawn(submit);
                run();
                submitter.join().unwrap();
            }
            Side::SecondSpawned => {
                let runner = crate::thread::spawn(run);
                submit();
                runner.join().unwrap();
            }
        }
        // Both handles are gone: the pool was dropped, with what it held.
        let (ran, dropped) = (ran.load(Ordering::Relaxed), dropped.load(Ordering::Relaxed));
        assert_eq!(dropped, 0b11, "a job was never dropped");
        assert_eq!(ran & !dropped, 0);
    });
}

both_sides! {
    drop_pool_with_jobs_queued_submitter_spawned,
    drop_pool_with_jobs_queued_runner_spawned => |side| {
        drop_with_jobs_queued(side);
    }
}

// === capacity 3: laps inside the race ===

/// A job that checks FIFO order: with one `run_pending` caller and, after
/// it joined, main draining the rest, jobs must run in increasing id order.
struct InOrder {
    item: Item,
    ran: Arc<AtomicUsize>,
    /// One more than the id of the job that ran last (0: none yet).
    next: Arc<AtomicUsize>,
}

impl Job for InOrder {
    fn run(self) {
        let id = self.item.id() as usize;
        let before = self.next.swap(id + 1, Ordering::Relaxed);
        assert!(before <= id, "job {id} ran after job {}", before - 1);
        let mask = self.ran.fetch_or(1 << id, Ordering::Relaxed);
        assert_eq!(mask & 1 << id, 0, "job {id} ran twice");
    }
}

/// Capacity 3 (a lap ends at index 2, and the next lap starts at position
/// `ONE_LAP` = 4, not at 3): a submitter pushes `ITEMS` = 7 jobs, two laps
/// and one more, while a runner takes them, so the ring's positions wrap
/// into a new lap twice inside the race. Each submit retries (after a yield) up to three
/// times; a job it gives up on is returned. Every job ends exactly once
/// and the runs keep FIFO order.
///
/// `Side::FirstSpawned`: the submitter is spawned. `Side::SecondSpawned`:
/// the runner is spawned.
fn laps_n3(side: Side) {
    const ITEMS: u32 = 7;
    model(move || {
        let pool: Arc<Pool<InOrder, 3, 0>> = Arc::new(Pool::new());
        let ran = Arc::new(AtomicUsize::new(0));
        let next = Arc::new(AtomicUsize::new(0));
        let submit = {
            let (pool, ran, next) = (pool.clone(), ran.clone(), next.clone());
            move || {
                let mut returned = 0;
                for id in 0..ITEMS {
                    let mut job = InOrder {
                        item: Item::new(id),
                        ran: ran.clone(),
                        next: next.clone(),
                    };
                    for attempt in 0..3 {
                        if attempt > 0 {
                            crate::thread::yield_now();
                        }
                        match pool.try_submit(job) {
                            Ok(()) => break,
                            Err(SubmitError::Stopped(_)) => panic!("nobody stops this pool"),
                            Err(error) if attempt == 2 => {
                                let back = error.into_inner();
                                assert_eq!(back.item.id(), id);
                                returned |= 1 << id;
                                break;
                            }
                            Err(error) => job = error.into_inner(),
                        }
                    }
                }
                returned
            }
        };
        let run = {
            let pool = pool.clone();
            move || {
                (0..ITEMS)
                    .map(|_| {
                        let ran = pool.run_pending(1);
                        crate::thread::yield_now();
                        ran
                    })
                    .sum::<usize>()
            }
        };
        let (returned, by_runner) = match side {
            Side::FirstSpawned => {
                let submitter = crate::thread::spawn(submit);
                let by_runner = run();
                (submitter.join().unwrap(), by_runner)
            }
            Side::SecondSpawned => {
                let runner = crate::thread::spawn(run);
                let returned = submit();
                (returned, runner.join().unwrap())
            }
        };
        let drained = pool.run_pending(usize::MAX);
        let ran = ran.load(Ordering::Relaxed);
        assert_exactly_once((1 << ITEMS) - 1, ran, 0, returned);
        assert_eq!(ran.count_ones() as usize, by_runner + drained);
        let stats = pool.stats();
        assert_eq!(stats.completed, by_runner + drained);
        assert_eq!((stats.submitted, stats.queued), (stats.completed, 0));
        assert!(stats.high_water <= 3);
    });
}

both_sides! {
    laps_n3_submitter_spawned, laps_n3_runner_spawned => |side| {
        laps_n3(side);
    }
}
