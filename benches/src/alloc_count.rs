//! A global allocator that counts heap allocations and live bytes.
//!
//! A binary opts in with `#[global_allocator] static A: Counting = Counting;`.
//! The timing binary does not, so that the peers' allocations are not
//! slowed by the counters.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::atomic::{AtomicUsize, Ordering},
};

/// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`) so far, all threads.
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated and not yet freed, all threads.
static LIVE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Allocation calls made by the current thread. Const-initialised and
    /// without `Drop`, so using it never allocates.
    static MINE: Cell<usize> = const { Cell::new(0) };
}

/// Counts one allocation call of `size` bytes.
#[inline]
fn count(size: usize) {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    LIVE.fetch_add(size, Ordering::Relaxed);
    let _ = MINE.try_with(|mine| mine.set(mine.get() + 1));
}

/// Wraps the system allocator and counts every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

// SAFETY: Every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees hold; the counters are plain atomics
// and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: The caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: The caller's contract for `alloc_zeroed` is passed on
        // unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` and `layout` come from a matching `alloc` of this
        // allocator, which forwarded to `System`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: The caller's contract for `realloc` is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocation calls so far (meaningful only under [`Counting`]).
pub fn allocations() -> usize {
    ALLOCS.load(Ordering::Relaxed)
}

/// Allocation calls made so far by the calling thread (under [`Counting`]).
pub fn my_allocations() -> usize {
    MINE.try_with(Cell::get).unwrap_or(0)
}

/// Live heap bytes now (meaningful only under [`Counting`]).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Heap bytes that `make`'s value keeps alive, and its allocation calls.
pub fn heap_of<T>(make: impl FnOnce() -> T) -> (usize, usize) {
    let (live, allocs) = (live_bytes(), allocations());
    // `black_box` keeps the optimizer from eliding an unused allocation.
    let value = std::hint::black_box(make());
    let held = live_bytes().saturating_sub(live);
    let calls = allocations() - allocs;
    drop(value);
    (held, calls)
}
