#![cfg(not(loom))]
//! Multi-threaded tests of `Ring`: FIFO order, conservation under MPMC
//! contention, the heapless#583 reproducer, a crossbeam-style
//! linearizability check, bounded and consistent `len`, and a `static` ring.
//!
//! Retry loops yield to the OS: the test machines have few cores, and a
//! `Busy` outcome means another thread must run before a retry can succeed.

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::{sync::Barrier, thread};

use taskring::{PopError, PushError, Ring};

/// Backs off between retries: a spin hint, then a yield.
fn relax(attempt: usize) {
    if attempt < 4 {
        core::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

/// Pushes `value`, retrying on `Full` and `Busy`. Returns how many times
/// each outcome was seen.
fn push_retrying<T, const N: usize>(ring: &Ring<T, N>, mut value: T) -> (usize, usize) {
    let (mut full, mut busy) = (0, 0);
    loop {
        match ring.try_push(value) {
            Ok(()) => return (full, busy),
            Err(PushError::Full(back)) => {
                full += 1;
                value = back;
            }
            Err(PushError::Busy(back)) => {
                busy += 1;
                value = back;
            }
        }
        relax(full + busy);
    }
}

/// Pops a value, retrying on `Empty` and `Busy`.
fn pop_retrying<T, const N: usize>(ring: &Ring<T, N>) -> T {
    let mut attempt = 0;
    loop {
        match ring.try_pop() {
            Ok(value) => return value,
            Err(PopError::Empty | PopError::Busy) => attempt += 1,
        }
        relax(attempt);
    }
}

/// A thread-safe bitmap that records which items were seen.
struct Seen {
    words: Vec<AtomicUsize>,
}

impl Seen {
    fn new(bits: usize) -> Self {
        Self {
            words: (0..bits.div_ceil(usize::BITS as usize))
                .map(|_| AtomicUsize::new(0))
                .collect(),
        }
    }

    /// Marks `bit`; panics if it was already marked.
    fn mark(&self, bit: usize) {
        let word = bit / usize::BITS as usize;
        let mask = 1 << (bit % usize::BITS as usize);
        let old = self.words[word].fetch_or(mask, Ordering::Relaxed);
        assert_eq!(old & mask, 0, "item {bit} was popped twice");
    }

    fn count(&self) -> usize {
        self.words
            .iter()
            .map(|word| word.load(Ordering::Relaxed).count_ones() as usize)
            .sum()
    }
}

// === FIFO ===

#[test]
fn fifo_one_producer_one_consumer() {
    fn run<const N: usize>(items: usize) {
        let ring: Ring<usize, N> = Ring::new();
        thread::scope(|scope| {
            scope.spawn(|| {
                for i in 0..items {
                    push_retrying(&ring, i);
                }
            });
            scope.spawn(|| {
                for i in 0..items {
                    assert_eq!(pop_retrying(&ring), i, "FIFO order broken (N = {N})");
                }
            });
        });
        assert_eq!(ring.try_pop(), Err(PopError::Empty));
        assert!(ring.is_empty());
    }
    // Tiny capacities force a hand-off per item, which costs a context
    // switch on a machine with few cores, so they run fewer items.
    let items = if cfg!(miri) { 200 } else { 10_000 };
    run::<1>(items);
    run::<3>(items);
    run::<64>(items * 10);
}

// === conservation ===

/// `producers` threads each push `per_producer` unique items while
/// `consumers` threads pop until all are in; every item must be popped
/// exactly once.
fn mpmc_conservation<const N: usize>(producers: usize, consumers: usize, per_producer: usize) {
    let ring: Ring<Box<usize>, N> = Ring::new();
    let total = producers * per_producer;
    let seen = Seen::new(total);
    let popped = AtomicUsize::new(0);
    thread::scope(|scope| {
        for p in 0..producers {
            let ring = &ring;
            scope.spawn(move || {
                for i in 0..per_producer {
                    // Boxed, so a double pop is also a double free that
                    // Miri and sanitizers see.
                    push_retrying(ring, Box::new(p * per_producer + i));
                }
            });
        }
        for _ in 0..consumers {
            scope.spawn(|| {
                let mut attempt = 0;
                while popped.load(Ordering::Relaxed) < total {
                    match ring.try_pop() {
                        Ok(item) => {
                            seen.mark(*item);
                            popped.fetch_add(1, Ordering::Relaxed);
                            attempt = 0;
                        }
                        Err(PopError::Empty | PopError::Busy) => {
                            attempt += 1;
                            relax(attempt);
                        }
                    }
                }
            });
        }
    });
    assert_eq!(popped.load(Ordering::Relaxed), total);
    assert_eq!(seen.count(), total, "some items were never popped");
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
    assert_eq!(ring.len(), 0);
}

#[test]
fn mpmc_conservation_4x4() {
    let per_producer = if cfg!(miri) {
        100
    } else if cfg!(debug_assertions) {
        50_000
    } else {
        250_000
    };
    mpmc_conservation::<64>(4, 4, per_producer);
}

#[test]
fn mpmc_conservation_small_capacities() {
    let per_producer = if cfg!(miri) { 50 } else { 5_000 };
    mpmc_conservation::<1>(4, 4, per_producer);
    mpmc_conservation::<2>(4, 4, per_producer);
    mpmc_conservation::<3>(4, 4, per_producer);
}

// === never a false Full or Empty ===

/// Each of `THREADS` threads repeatedly pops an item and pushes it back on
/// a ring of capacity `THREADS` that starts full (heapless#583).
///
/// While a thread pops, it holds no item, so at most `THREADS - 1` items
/// are out of the ring: at least one is in it, and `Empty` would be false.
/// While it pushes, it holds one item, so at most `THREADS - 1` are in the
/// ring, and `Full` would be false. `Busy` is allowed (a peer is mid-op on
/// the slot) and counted.
fn pop_then_push_never_full<const THREADS: usize>(rounds: usize) -> usize {
    let ring: Ring<usize, THREADS> = Ring::new();
    for i in 0..THREADS {
        ring.try_push(i).unwrap();
    }
    let busy = AtomicUsize::new(0);
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                start.wait();
                let mut my_busy = 0;
                for _ in 0..rounds {
                    let mut attempt = 0;
                    let item = loop {
                        match ring.try_pop() {
                            Ok(item) => break item,
                            Err(PopError::Empty) => panic!("pop saw a false Empty"),
                            Err(PopError::Busy) => {
                                my_busy += 1;
                                attempt += 1;
                                relax(attempt);
                            }
                        }
                    };
                    let mut item = item;
                    let mut attempt = 0;
                    loop {
                        match ring.try_push(item) {
                            Ok(()) => break,
                            Err(PushError::Full(_)) => panic!("push saw a false Full"),
                            Err(PushError::Busy(back)) => {
                                item = back;
                                my_busy += 1;
                                attempt += 1;
                                relax(attempt);
                            }
                        }
                    }
                }
                busy.fetch_add(my_busy, Ordering::Relaxed);
            });
        }
    });
    // All items are back: exactly a full ring holding 0..THREADS.
    assert!(ring.is_full());
    let mut items: Vec<usize> = (0..THREADS).map(|_| ring.try_pop().unwrap()).collect();
    items.sort_unstable();
    assert_eq!(items, (0..THREADS).collect::<Vec<_>>());
    busy.load(Ordering::Relaxed)
}

#[test]
fn pop_then_push_never_full_2_threads() {
    let rounds = if cfg!(miri) { 50 } else { 50_000 };
    let busy = pop_then_push_never_full::<2>(rounds);
    println!("Busy outcomes with 2 threads: {busy}");
}

#[test]
fn pop_then_push_never_full_4_threads() {
    let rounds = if cfg!(miri) { 25 } else { 25_000 };
    let busy = pop_then_push_never_full::<4>(rounds);
    println!("Busy outcomes with 4 threads: {busy}");
}

#[test]
fn pop_then_push_never_full_8_threads() {
    let rounds = if cfg!(miri) { 10 } else { 10_000 };
    let busy = pop_then_push_never_full::<8>(rounds);
    println!("Busy outcomes with 8 threads: {busy}");
}

/// Crossbeam-style linearizability check: `THREADS` threads on a ring of
/// capacity `THREADS`, each pushing then popping. A pushing thread has no
/// item of its own in the ring, so at most `THREADS - 1` are in it: never
/// `Full`. A popping thread's own push is in it: never `Empty`.
fn linearizable<const THREADS: usize>(rounds: usize) {
    let ring: Ring<usize, THREADS> = Ring::new();
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        for t in 0..THREADS {
            let ring = &ring;
            let start = &start;
            scope.spawn(move || {
                start.wait();
                for i in 0..rounds {
                    let mut value = t * rounds + i;
                    let mut attempt = 0;
                    loop {
                        match ring.try_push(value) {
                            Ok(()) => break,
                            Err(PushError::Full(_)) => panic!("push saw a false Full"),
                            Err(PushError::Busy(back)) => {
                                value = back;
                                attempt += 1;
                                relax(attempt);
                            }
                        }
                    }
                    let mut attempt = 0;
                    loop {
                        match ring.try_pop() {
                            Ok(_) => break,
                            Err(PopError::Empty) => panic!("pop saw a false Empty"),
                            Err(PopError::Busy) => {
                                attempt += 1;
                                relax(attempt);
                            }
                        }
                    }
                }
            });
        }
    });
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
}

#[test]
fn linearizable_push_then_pop() {
    let rounds = if cfg!(miri) { 30 } else { 20_000 };
    linearizable::<1>(rounds);
    linearizable::<2>(rounds);
    linearizable::<4>(rounds);
}

// === len ===

/// Two producers and two consumers churn while an observer checks that
/// `len() <= N` and that `is_full`/`is_empty` agree with `len` bounds.
fn len_is_bounded<const N: usize>(ops: usize) {
    let ring: Ring<u32, N> = Ring::new();
    let done = AtomicBool::new(false);
    let observations = AtomicUsize::new(0);
    thread::scope(|scope| {
        let observer = scope.spawn(|| {
            let mut seen_max = 0;
            // Observe at least a few times even if the workers finish
            // before this thread first runs.
            let mut rounds = 0;
            while !done.load(Ordering::Relaxed) || rounds < 100 {
                let len = ring.len();
                assert!(len <= N, "len() = {len} exceeds the capacity {N}");
                seen_max = seen_max.max(len);
                // Never panics, whatever the interleaving.
                let _ = (ring.is_full(), ring.is_empty());
                rounds += 1;
                thread::yield_now();
            }
            observations.store(rounds, Ordering::Relaxed);
            seen_max
        });
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let ring = &ring;
                scope.spawn(move || {
                    for i in 0..ops {
                        if w % 2 == 0 {
                            let _ = ring.try_push(i as u32);
                        } else {
                            let _ = ring.try_pop();
                        }
                        let len = ring.len();
                        assert!(len <= N, "len() = {len} exceeds the capacity {N}");
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        let seen_max = observer.join().unwrap();
        assert!(seen_max <= N);
    });
    assert!(observations.load(Ordering::Relaxed) >= 100);
    // Quiescent again: `len` is exact.
    let mut left = 0;
    while ring.try_pop().is_ok() {
        left += 1;
    }
    assert!(left <= N);
    assert_eq!(ring.len(), 0);
    assert!(ring.is_empty());
}

#[test]
fn len_is_bounded_under_contention() {
    let ops = if cfg!(miri) { 100 } else { 50_000 };
    len_is_bounded::<1>(ops);
    len_is_bounded::<3>(ops);
    len_is_bounded::<8>(ops);
}

/// One token circulates through a ring: it starts in the ring, and each of
/// four threads loops popping until it gets the token, then pushes it back.
/// So the ring never holds more than one item, and an observer thread checks
/// that `len()` never says otherwise.
///
/// A `len` that loads `head` and then `tail` once each can pair an old
/// `head` with a much newer `tail` when the observer is preempted between
/// the two loads, and reports up to `N - 1`.
#[test]
fn len_never_exceeds_the_items_in_flight() {
    const N: usize = 64;
    const THREADS: usize = 4;
    let passes = if cfg!(miri) { 30 } else { 200_000 };
    let ring: Ring<u32, N> = Ring::new();
    ring.try_push(0).unwrap();
    let done = AtomicBool::new(false);
    thread::scope(|scope| {
        let observer = scope.spawn(|| {
            let mut observations = 0usize;
            // Observe at least a few times even if the token passes end
            // before this thread first runs.
            while !done.load(Ordering::Relaxed) || observations < 100 {
                let len = ring.len();
                assert!(
                    len <= 1,
                    "len() = {len}, but the ring never holds more than 1 item"
                );
                observations += 1;
                if observations.is_multiple_of(64) {
                    thread::yield_now();
                }
            }
            observations
        });
        let holders: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..passes {
                        let token = pop_retrying(&ring);
                        let mut token = token.wrapping_add(1);
                        loop {
                            match ring.try_push(token) {
                                Ok(()) => break,
                                Err(PushError::Full(_)) => {
                                    panic!("push saw Full with the only token in hand")
                                }
                                // A pop in flight on this slot a lap ago.
                                Err(PushError::Busy(back)) => {
                                    token = back;
                                    thread::yield_now();
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for holder in holders {
            holder.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        let observations = observer.join().unwrap();
        assert!(observations >= 100);
        println!("len() observations: {observations}");
    });
    assert_eq!(ring.len(), 1);
    assert_eq!(ring.try_pop(), Ok((THREADS * passes) as u32));
    assert!(ring.is_empty());
}

// === static ring ===

static STATIC_RING: Ring<u64, 16> = Ring::new();

#[test]
fn static_ring_from_several_threads() {
    let per_thread: u64 = if cfg!(miri) { 50 } else { 20_000 };
    let threads = 4u64;
    let sum = Arc::new(AtomicUsize::new(0));
    let count = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let sum = Arc::clone(&sum);
            let count = Arc::clone(&count);
            thread::spawn(move || {
                for i in 0..per_thread {
                    push_retrying(&STATIC_RING, t * per_thread + i);
                    // Pop something (maybe another thread's item) so every
                    // thread is both producer and consumer.
                    let value = pop_retrying(&STATIC_RING);
                    sum.fetch_add(value as usize, Ordering::Relaxed);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let n = threads * per_thread;
    assert_eq!(count.load(Ordering::Relaxed) as u64, n);
    assert_eq!(sum.load(Ordering::Relaxed) as u64, n * (n - 1) / 2);
    assert_eq!(STATIC_RING.try_pop(), Err(PopError::Empty));
    assert!(STATIC_RING.is_empty());
}
