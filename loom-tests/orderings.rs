//! Models aimed at single orderings that the other models do not pin.
//!
//! Loom treats a `SeqCst` access as `AcqRel`, except that a `SeqCst` load
//! never reads a `SeqCst` store older than the latest `SeqCst` store to
//! the same atomic. Under loom, the crate's `load_sc` and `load_latest`
//! are read-modify-writes, which always read the latest value; so the
//! `SeqCst` of the stores they pair with cannot matter in a model. The one
//! plain `SeqCst` load in the crate is the `head` load of `push_depth`
//! (the depth a submit reports, which feeds the high-water mark), and it
//! pairs with the pops' `SeqCst` claim CAS on `head`: the model here fails
//! when either is weakened. The other `SeqCst` pairings are checked by the
//! RC11 litmus tests of `scripts/mutate/` (docs/mutation.md).
//!
//! Loom's rule only holds between `SeqCst` stores, and an atomic's initial
//! value counts as a `Release` store; so every atomic the model reads with
//! `SeqCst` gets its value before the race from a `SeqCst` store.
//!
//! The `len` models pin the `Acquire` loads of `Ring::len`'s snapshot
//! (`tail`, `head`, `tail` again): a thread that pushes and pops alone
//! bounds what the ring can hold at any moment, and a concurrent `len`
//! must stay within those bounds.

use taskring::{Config, Env, Job, Pool, Ring};

use crate::{both_sides, model, thread, Arc, Side};

#[cfg(loom)]
use loom::sync::{
    atomic::{
        AtomicUsize,
        Ordering::{Relaxed, SeqCst},
    },
    Condvar, Mutex,
};
#[cfg(not(loom))]
use std::sync::{
    atomic::{
        AtomicUsize,
        Ordering::{Relaxed, SeqCst},
    },
    Condvar, Mutex,
};

/// Runs `mutator` and `observer` on two threads, `side` choosing which one
/// is spawned, and returns the observer's result.
fn race<T: Send + 'static>(
    side: Side,
    mutator: impl FnOnce() + Send + 'static,
    observer: impl FnOnce() -> T + Send + 'static,
) -> T {
    match side {
        Side::FirstSpawned => {
            let handle = thread::spawn(mutator);
            let seen = observer();
            handle.join().unwrap();
            seen
        }
        Side::SecondSpawned => {
            let handle = thread::spawn(observer);
            mutator();
            handle.join().unwrap()
        }
    }
}

/// One thread pushes and pops twice on an empty ring of two, so it never
/// holds more than one item; a concurrent `len` must never say 2. It would
/// with a `head` older than the `tail` read before it: the first `tail`
/// load's `Acquire` (and, when a retry starts from it, the reread's)
/// makes the pop that preceded the push it sees visible.
fn len_never_exceeds_what_was_held(side: Side) {
    model(move || {
        let ring = Arc::new(Ring::<u32, 2>::new());
        let r = ring.clone();
        let len = race(
            side,
            move || {
                for value in 0..2 {
                    r.try_push(value).unwrap();
                    r.try_pop().unwrap();
                }
            },
            move || ring.len(),
        );
        assert!(
            len <= 1,
            "len() said {len}; the ring never held more than 1 item"
        );
    });
}

both_sides! {
    len_never_exceeds_what_was_held_mutator_spawned,
    len_never_exceeds_what_was_held_observer_spawned => |side| {
        len_never_exceeds_what_was_held(side);
    }
}

/// A ring of two holds one item; one thread pushes one and pops one,
/// twice, so the ring always holds at least one; a concurrent `len` must
/// never say 0. It would with a `tail` reread older than the `head` read
/// before it: the `head` load's `Acquire` makes the push that preceded the
/// pop it sees visible.
fn len_never_zero_while_an_item_is_held(side: Side) {
    model(move || {
        let ring = Arc::new(Ring::<u32, 2>::new());
        ring.try_push(0).unwrap();
        let r = ring.clone();
        let len = race(
            side,
            move || {
                for value in 1..3 {
                    r.try_push(value).unwrap();
                    r.try_pop().unwrap();
                }
            },
            move || ring.len(),
        );
        assert!(len >= 1, "len() said 0; the ring always held an item");
    });
}

both_sides! {
    len_never_zero_while_an_item_is_held_mutator_spawned,
    len_never_zero_while_an_item_is_held_observer_spawned => |side| {
        len_never_zero_while_an_item_is_held(side);
    }
}

/// A job that does nothing.
fn nothing() {}

/// A queue of two that has lapped once and holds one job. A `run_pending`
/// takes it, then reads `flag`; a submit after storing `flag` must report
/// a depth of 1 (its own job), not 2, if the runner read 0: in the single
/// `SeqCst` order the pop's claim then precedes the submit's look at
/// `head`. The high-water mark, 1 before the race, tells the depth.
fn depth_after_a_pop(side: Side) {
    model(move || {
        let pool: Arc<Pool<fn(), 2, 0>> = Arc::new(Pool::new());
        // `head` and `tail` last written by SeqCst claims, not by `new`.
        pool.try_submit(nothing).unwrap();
        assert_eq!(pool.run_pending(1), 1);
        pool.try_submit(nothing).unwrap();
        assert_eq!(pool.stats().high_water, 1);
        let flag = Arc::new(AtomicUsize::new(1));
        flag.store(0, SeqCst);

        let run = {
            let (pool, flag) = (pool.clone(), flag.clone());
            move || {
                let ran = pool.run_pending(1);
                (ran, flag.load(SeqCst))
            }
        };
        let submit = {
            let (pool, flag) = (pool.clone(), flag.clone());
            move || {
                flag.store(1, SeqCst);
                pool.try_submit(nothing).is_ok()
            }
        };
        let ((ran, seen), submitted) = match side {
            Side::FirstSpawned => {
                let runner = thread::spawn(run);
                let submitted = submit();
                (runner.join().unwrap(), submitted)
            }
            Side::SecondSpawned => {
                let submitter = thread::spawn(submit);
                let ran = run();
                (ran, submitter.join().unwrap())
            }
        };
        // Busy is possible (the runner mid-pop on the submit's slot); a
        // submit that got in reported a depth.
        let high_water = pool.stats().high_water;
        assert!(
            !(submitted && ran == 1 && seen == 0 && high_water == 2),
            "a submit's depth counted a job whose pop preceded it in the SeqCst order"
        );
        assert!(high_water <= 2);
    });
}

both_sides! {
    depth_after_a_pop_runner_spawned, depth_after_a_pop_submitter_spawned => |side| {
        depth_after_a_pop(side);
    }
}

// === stop_wait: a job's effects are visible once it returns ===

/// A job that stores 1, `Relaxed`: only a happens-before edge from the job
/// to whoever reads the value makes it see 1.
struct Store(Arc<AtomicUsize>);

impl Job for Store {
    fn run(self) {
        self.0.store(1, Relaxed);
    }
}

/// An environment whose wake-up is a token under a lock (sticky), and the
/// idle strategy that waits for it.
struct Token {
    set: Mutex<bool>,
    cond: Condvar,
}

impl Token {
    fn new() -> Self {
        Self {
            set: Mutex::new(false),
            cond: Condvar::new(),
        }
    }

    fn take(&self) {
        let mut set = self.set.lock().unwrap();
        while !*set {
            set = self.cond.wait(set).unwrap();
        }
        *set = false;
    }
}

impl Env for Token {
    type Stamp = ();
    fn now(&self) {}
    fn ticks(&self, (): ()) -> u64 {
        0
    }
    fn wake(&self) {
        *self.set.lock().unwrap() = true;
        self.cond.notify_all();
    }
}

/// A job is queued; a worker (`run_worker`, its own counters) or a
/// `run_pending` caller (the shared counters) may take it while main calls
/// `stop_wait`, which helps drain and then waits until no context is
/// active. Once `stop_wait` returns, the job's store must be visible:
/// the context's `Release` update of its `active` count, read by
/// `is_quiescent`'s `Acquire` load, carries it.
fn stop_wait_sees_the_jobs_effects(by_worker: bool) {
    model(move || {
        let pool: Arc<Pool<Store, 2, 1, Token>> =
            Arc::new(Pool::with_env(Config::new(), Token::new()));
        let data = Arc::new(AtomicUsize::new(0));
        assert!(pool.try_submit(Store(data.clone())).is_ok());
        let p = pool.clone();
        let other = thread::spawn(move || {
            if by_worker {
                let env = p.env();
                p.run_worker(0, &mut || env.take()).unwrap();
            } else {
                p.run_pending(1);
            }
        });
        pool.stop_wait().unwrap();
        assert_eq!(
            data.load(Relaxed),
            1,
            "stop_wait returned before the job's effects were visible"
        );
        other.join().unwrap();
    });
}

#[test]
fn stop_wait_sees_the_jobs_effects_worker() {
    stop_wait_sees_the_jobs_effects(true);
}

#[test]
fn stop_wait_sees_the_jobs_effects_run_pending() {
    stop_wait_sees_the_jobs_effects(false);
}

// === stats: a job counted as completed has its effects visible ===

/// A `run_pending` caller runs a queued job while main takes a
/// `stats()` snapshot: if the snapshot counts the job as completed, its
/// store must be visible to main (the `Release` update of the completed
/// count, read by `stats`' `Acquire` loads).
#[test]
fn stats_counts_a_job_completed_after_its_effects() {
    model(|| {
        let pool: Arc<Pool<Store, 2, 0>> = Arc::new(Pool::new());
        let data = Arc::new(AtomicUsize::new(0));
        assert!(pool.try_submit(Store(data.clone())).is_ok());
        let p = pool.clone();
        let runner = thread::spawn(move || p.run_pending(1));
        let stats = pool.stats();
        if stats.completed == 1 {
            assert_eq!(
                data.load(Relaxed),
                1,
                "stats counted a job as completed before its effects were visible"
            );
        }
        runner.join().unwrap();
    });
}
