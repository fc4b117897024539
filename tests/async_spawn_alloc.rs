//! `ThreadPool::spawn` allocates once per call, for the result slot, and
//! nothing more for a closure that fits a `Task` beside the slot's
//! pointer: counted with a global allocator around spawn-and-join loops,
//! on the calling thread only (where `spawn` allocates), so that the test
//! harness's and the worker's own allocations do not count.
#![cfg(all(feature = "std", not(loom)))]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    hint::black_box,
    sync::atomic::{AtomicUsize, Ordering},
};

use taskring::ThreadPool;

/// Counts every allocation in the process.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the thread whose allocations count.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations per spawn-and-join of the closure made by `make`.
fn per_spawn<R: Send + 'static, F: FnOnce() -> R + Send + 'static>(
    pool: &ThreadPool,
    make: impl Fn() -> F,
) -> f64 {
    const ROUNDS: usize = if cfg!(miri) { 20 } else { 1_000 };
    // Warm-up: thread handles and the like are created once.
    for _ in 0..10 {
        black_box(pool.spawn(make()).join().ok());
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|on| on.set(true));
    for _ in 0..ROUNDS {
        black_box(pool.spawn(make()).join().ok());
    }
    COUNTING.with(|on| on.set(false));
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / ROUNDS as f64
}

#[test]
fn spawn_allocates_the_result_slot_and_nothing_else() {
    let pool: ThreadPool = ThreadPool::new(1).unwrap();
    // An empty job.
    assert_eq!(per_spawn(&pool, || || ()), 1.0);
    // Two words of captures still fit inline beside the slot's pointer.
    let pair = [3usize, 4];
    assert_eq!(per_spawn(&pool, || move || pair[0] + pair[1]), 1.0);
    // Three words do not: the closure is boxed, one allocation more.
    let three = [1usize, 2, 3];
    assert_eq!(
        per_spawn(&pool, || move || three.iter().sum::<usize>()),
        2.0
    );
    pool.stop_wait().unwrap();
}
