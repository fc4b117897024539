//! Loom models of taskring's concurrent algorithms.
//!
//! Run them under the model checker with
//!
//! ```sh
//! CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg loom -C debug-assertions" \
//!   LOOM_MAX_PREEMPTIONS=2 LOOM_MAX_BRANCHES=10000 \
//!   cargo test --release --test loom -- --test-threads=2
//! ```
//!
//! Without `--cfg loom` the same models run once each on real threads, so a
//! plain `cargo test` keeps them compiling and exercises one interleaving.
//!
//! This file is a hub: it wires the model modules and holds the helpers they
//! share. The models follow these rules, which keep them small enough to
//! explore exhaustively and make their failures mean something:
//!
//! * Every thread makes a bounded number of attempts ([`push_upto`],
//!   [`pop_upto`]); no model loops until an operation succeeds. A thread
//!   that waits does so by blocking (a lock, a condition variable, a park),
//!   so a lost wake-up is a deadlock that loom reports. A thread that
//!   spins (yields in a loop, as the pool's `Spin` idle and its `Busy`
//!   retries do) is the only spinner in its model: after a yield loom may
//!   switch to any thread without spending a preemption, so two spinners
//!   can starve the thread they wait for until the branch limit.
//! * After `join`, the main thread drains what is left and checks that every
//!   item pushed was popped exactly once, by value ([`Ledger`]).
//! * Items are [`Item`]s, which loom tracks for leaks.
//! * At most four threads including main; capacities 1 and 2, and 3 (a lap
//!   that does not end at a power of two) in one pool model.
//! * Each scenario runs in both orientations ([`Side`], written once with
//!   [`both_sides!`]), plus a variant whose
//!   observer yields between attempts ([`Pause::Yield`]).
//! * A model too big for the suite's preemption bound is bounded lower
//!   ([`model_bounded`]) and says why, rather than being skipped.

// Each model module uses only some of the helpers.
#![allow(dead_code)]
// The models are hosted test code: the lints that keep the library
// `no_std`-clean do not apply.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod orderings;
mod pool;
mod ring;
// The thread pool exists only with `std`; the other models also run in
// `--no-default-features` builds.
#[cfg(feature = "std")]
mod asynch;
#[cfg(feature = "std")]
mod thread_pool;

#[cfg(loom)]
pub(crate) use loom::{sync::Arc, thread};
#[cfg(not(loom))]
pub(crate) use std::{sync::Arc, thread};

use taskring::{PopError, PushError, Ring};

// === Orientations ===

/// Writes a scenario's two orientations as two tests: for each entry
/// `first_name, second_name => |side| { body }`, a test `first_name` that
/// runs `body` with `side` = [`Side::FirstSpawned`] and a test
/// `second_name` with [`Side::SecondSpawned`]. Attributes and doc comments
/// before an entry apply to both tests. Each scenario is written once;
/// the names stay apart so that a filter (a mutant's, a failing run's)
/// can pick one orientation.
macro_rules! both_sides {
    ($(
        $(#[$meta:meta])*
        $first:ident, $second:ident => |$side:ident| $body:block
    )*) => {$(
        $(#[$meta])*
        #[test]
        fn $first() {
            let $side = $crate::Side::FirstSpawned;
            $body
        }

        $(#[$meta])*
        #[test]
        fn $second() {
            let $side = $crate::Side::SecondSpawned;
            $body
        }
    )*};
}
pub(crate) use both_sides;

// === Model runners ===

/// Runs `body` under loom with the preemption bound from
/// `LOOM_MAX_PREEMPTIONS` (and the other `LOOM_*` variables), or once on
/// real threads without `--cfg loom`.
pub(crate) fn model<F>(body: F)
where
    F: Fn() + Send + Sync + 'static,
{
    #[cfg(loom)]
    loom::model(body);
    #[cfg(not(loom))]
    body();
}

/// Like [`model`], but never explores more than `max_preemptions`
/// preemptions, even if `LOOM_MAX_PREEMPTIONS` allows more (or is unset).
///
/// For models that are too slow at the suite's bound; say why at the call.
pub(crate) fn model_bounded<F>(max_preemptions: usize, body: F)
where
    F: Fn() + Send + Sync + 'static,
{
    #[cfg(loom)]
    {
        // `Builder::new` reads the `LOOM_*` environment variables.
        let mut builder = loom::model::Builder::new();
        let bound = builder
            .preemption_bound
            .map_or(max_preemptions, |env| env.min(max_preemptions));
        builder.preemption_bound = Some(bound);
        builder.check(body);
    }
    #[cfg(not(loom))]
    {
        let _ = max_preemptions;
        body();
    }
}

/// Like [`model`], but always explores up to exactly `preemptions`
/// preemptions, whatever `LOOM_MAX_PREEMPTIONS` says.
///
/// For small models whose bug needs a deeper bound than the suite's; say
/// why at the call.
pub(crate) fn model_at<F>(preemptions: usize, body: F)
where
    F: Fn() + Send + Sync + 'static,
{
    #[cfg(loom)]
    {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(preemptions);
        builder.check(body);
    }
    #[cfg(not(loom))]
    {
        let _ = preemptions;
        body();
    }
}

/// Which thread plays a scenario's first role.
///
/// Loom explores a spawned thread whose first atomic operation is a load
/// less thoroughly than the main thread (tokio-rs/loom#392), so every
/// scenario runs twice: once with its first role (usually the producer) on
/// spawned threads and its second role on main, and once the other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The first role runs on spawned threads, the second on main.
    FirstSpawned,
    /// The second role runs on spawned threads, the first on main.
    SecondSpawned,
}

// === Tracked items ===

/// A value stored in the models' rings: a unique id, tracked for leaks by
/// loom (`loom::alloc::Track`) and a plain value otherwise.
#[derive(Debug)]
pub(crate) struct Item(Inner);

#[cfg(loom)]
type Inner = loom::alloc::Track<u32>;
#[cfg(not(loom))]
type Inner = u32;

impl Item {
    /// A new item with the given id.
    pub(crate) fn new(id: u32) -> Self {
        #[cfg(loom)]
        return Self(loom::alloc::Track::new(id));
        #[cfg(not(loom))]
        return Self(id);
    }

    /// The item's id.
    pub(crate) fn id(&self) -> u32 {
        #[cfg(loom)]
        return *self.0.get_ref();
        #[cfg(not(loom))]
        return self.0;
    }
}

// === Jobs ===

#[cfg(not(loom))]
use core::sync::atomic::AtomicUsize;
#[cfg(loom)]
use loom::sync::atomic::AtomicUsize;

/// A pool job that sets bit `id` of a shared mask when it runs (and fails
/// if it runs twice); the item inside is tracked for leaks.
pub(crate) struct Mark {
    pub(crate) item: Item,
    ran: Arc<AtomicUsize>,
}

impl taskring::Job for Mark {
    fn run(self) {
        let bit = 1 << self.item.id();
        let before = self
            .ran
            .fetch_or(bit, core::sync::atomic::Ordering::Relaxed);
        assert_eq!(before & bit, 0, "job {} ran twice", self.item.id());
    }
}

/// A [`Mark`] job for id `id`.
pub(crate) fn mark(id: u32, ran: &Arc<AtomicUsize>) -> Mark {
    Mark {
        item: Item::new(id),
        ran: ran.clone(),
    }
}

// === Bounded-attempt harness ===

/// What a thread does between two attempts of the same operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pause {
    /// Retries at once.
    None,
    /// Calls `yield_now` first, which lets loom run the other threads.
    Yield,
}

impl Pause {
    fn wait(self) {
        if self == Pause::Yield {
            thread::yield_now();
        }
    }
}

/// Tries to push the item `id` at most `attempts` times, retrying after
/// any error. Returns the last error; checks that every error gives back
/// the very item that was passed in.
pub(crate) fn push_upto<const N: usize>(
    ring: &Ring<Item, N>,
    id: u32,
    attempts: usize,
    pause: Pause,
) -> Result<(), PushError<()>> {
    let mut item = Item::new(id);
    let mut last = PushError::Busy(());
    for attempt in 0..attempts {
        if attempt > 0 {
            pause.wait();
        }
        match ring.try_push(item) {
            Ok(()) => return Ok(()),
            Err(error) => {
                last = if error.is_full() {
                    PushError::Full(())
                } else {
                    PushError::Busy(())
                };
                item = error.into_inner();
                assert_eq!(item.id(), id, "a failed push gave back another item");
            }
        }
    }
    Err(last)
}

/// Tries to pop at most `attempts` times, retrying after any error.
/// Returns the popped item's id or the last error.
pub(crate) fn pop_upto<const N: usize>(
    ring: &Ring<Item, N>,
    attempts: usize,
    pause: Pause,
) -> Result<u32, PopError> {
    let mut last = PopError::Busy;
    for attempt in 0..attempts {
        if attempt > 0 {
            pause.wait();
        }
        match ring.try_pop() {
            Ok(item) => return Ok(item.id()),
            Err(error) => last = error,
        }
    }
    Err(last)
}

// === Conservation ===

/// What one thread of a model did, for the main thread to check after
/// `join`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Ledger {
    /// Ids whose push succeeded, in the order they were pushed.
    pub(crate) pushed: Vec<u32>,
    /// Ids popped, in the order they were popped.
    pub(crate) popped: Vec<u32>,
    /// For each push attempt series that ended in `Full`: how many of this
    /// thread's own pushes had succeeded before it.
    pub(crate) full_at: Vec<usize>,
    /// For each pop attempt series that ended in `Empty`: how many of this
    /// thread's own pops had succeeded before it.
    pub(crate) empty_at: Vec<usize>,
    /// How many attempt series (push or pop) ended in `Busy`.
    pub(crate) busy: usize,
}

impl Ledger {
    /// Pushes `id` with [`push_upto`] and records the outcome.
    pub(crate) fn push<const N: usize>(
        &mut self,
        ring: &Ring<Item, N>,
        id: u32,
        attempts: usize,
        pause: Pause,
    ) -> Result<(), PushError<()>> {
        let result = push_upto(ring, id, attempts, pause);
        match result {
            Ok(()) => self.pushed.push(id),
            Err(PushError::Full(())) => self.full_at.push(self.pushed.len()),
            Err(PushError::Busy(())) => self.busy += 1,
        }
        result
    }

    /// Pops with [`pop_upto`] and records the outcome.
    pub(crate) fn pop<const N: usize>(
        &mut self,
        ring: &Ring<Item, N>,
        attempts: usize,
        pause: Pause,
    ) -> Result<u32, PopError> {
        let result = pop_upto(ring, attempts, pause);
        match result {
            Ok(id) => self.popped.push(id),
            Err(PopError::Empty) => self.empty_at.push(self.popped.len()),
            Err(PopError::Busy) => self.busy += 1,
        }
        result
    }
}

/// Drains a ring on which no operation is in flight and returns the ids in
/// FIFO order. With nothing in flight, `Busy` is a bug; so is finding more
/// than `N` items.
pub(crate) fn drain_quiescent<const N: usize>(ring: &Ring<Item, N>) -> Vec<u32> {
    let len = ring.len();
    let mut ids = Vec::new();
    loop {
        match ring.try_pop() {
            Ok(item) => ids.push(item.id()),
            Err(PopError::Empty) => break,
            Err(PopError::Busy) => panic!("Busy from a quiescent ring"),
        }
        assert!(ids.len() <= N, "drained more than N items");
    }
    assert_eq!(ids.len(), len, "len() of a quiescent ring was wrong");
    assert!(ring.is_empty());
    ids
}

/// Checks the exact full and empty edges of a ring with nothing in flight
/// and no items: `N` pushes succeed, the next is `Full`, `N` pops return the
/// items in order, the next is `Empty`. Leaves the ring empty. Uses ids from
/// `first_id` on.
pub(crate) fn assert_quiescent_edges<const N: usize>(ring: &Ring<Item, N>, first_id: u32) {
    assert_eq!(ring.try_pop().map(|item| item.id()), Err(PopError::Empty));
    let ids: Vec<u32> = (first_id..).take(N).collect();
    for (held, &id) in ids.iter().enumerate() {
        assert_eq!(ring.len(), held);
        assert!(
            ring.try_push(Item::new(id)).is_ok(),
            "a push into a quiescent ring holding {held} < N items failed"
        );
    }
    assert!(ring.is_full());
    let extra = first_id + N as u32;
    match ring.try_push(Item::new(extra)) {
        Err(PushError::Full(item)) => assert_eq!(item.id(), extra),
        other => panic!("push into a quiescent full ring: {other:?}, not Full"),
    }
    assert_eq!(drain_quiescent(ring), ids);
    assert_eq!(ring.try_pop().map(|item| item.id()), Err(PopError::Empty));
}

/// Checks conservation after all threads of a model have joined: every id
/// pushed (by `ledgers` or `prefilled` before the race) was popped by a
/// ledger or is in `drained`, exactly once, and nothing else was popped.
pub(crate) fn assert_conserved(prefilled: &[u32], ledgers: &[&Ledger], drained: &[u32]) {
    let mut pushed: Vec<u32> = prefilled.to_vec();
    let mut popped: Vec<u32> = drained.to_vec();
    for ledger in ledgers {
        pushed.extend_from_slice(&ledger.pushed);
        popped.extend_from_slice(&ledger.popped);
    }
    pushed.sort_unstable();
    popped.sort_unstable();
    assert!(
        pushed.windows(2).all(|pair| pair[0] != pair[1]),
        "an id was pushed twice: {pushed:?}"
    );
    assert_eq!(
        pushed, popped,
        "pushed and popped items differ (lost or duplicated)"
    );
}

/// Checks that `sequence` (one consumer's pops, or a consumer's pops
/// followed by the final drain) keeps each producer's order: the ids of
/// each ledger in `producers` appear in `sequence` in the order pushed.
pub(crate) fn assert_fifo_per_producer(producers: &[&[u32]], sequence: &[u32]) {
    for pushed in producers {
        let seen: Vec<u32> = sequence
            .iter()
            .copied()
            .filter(|id| pushed.contains(id))
            .collect();
        let expected: Vec<u32> = pushed
            .iter()
            .copied()
            .filter(|id| sequence.contains(id))
            .collect();
        assert_eq!(seen, expected, "a producer's items came out of order");
    }
}
