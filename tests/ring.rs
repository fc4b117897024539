#![cfg(not(loom))]
//! Single-threaded tests of `Ring`: capacity edges, full and empty, FIFO
//! order, wrap-around of positions and of the internal counters, drop
//! accounting, unusual item types and auto traits.
//!
//! Multi-threaded stress lives in `ring_threads.rs`, stall and re-entrancy
//! injection in `stall.rs`, and the model-based test in `oracle.rs`.
//!
//! Rings near the counter wrap need the hidden `__test_hooks` feature
//! (`cargo test --features std,__test_hooks`). Without it, the tests that
//! are about the wrap are ignored, and the others skip their near-wrap part.

extern crate alloc;

use alloc::sync::Arc;
use core::{
    cell::Cell,
    mem,
    panic::AssertUnwindSafe,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
};
use std::panic;

use taskring::{PopError, PushError, Ring};

// === helpers ===

/// True with the hidden `__test_hooks` feature.
const HOOKS: bool = cfg!(feature = "__test_hooks");

/// Why a test that needs a ring near the counter wrap is ignored.
const NEEDS_HOOKS: &str = "needs the hidden __test_hooks feature for rings near the counter wrap";

/// A ring whose counters wrap around to zero after `laps` laps
/// (`Ring::__near_counter_wrap`).
#[cfg(feature = "__test_hooks")]
fn near_wrap<T, const N: usize>(laps: usize) -> Option<Ring<T, N>> {
    Some(Ring::__near_counter_wrap(laps))
}

/// `None`: rings near the counter wrap need the `__test_hooks` feature.
#[cfg(not(feature = "__test_hooks"))]
fn near_wrap<T, const N: usize>(_laps: usize) -> Option<Ring<T, N>> {
    None
}

/// [`near_wrap`] for a test that is ignored without the feature.
#[track_caller]
fn near_wrap_ring<T, const N: usize>(laps: usize) -> Ring<T, N> {
    near_wrap(laps).expect(NEEDS_HOOKS)
}

/// Pushes `value`, failing the test unless the push succeeds.
#[track_caller]
fn push_ok<T, const N: usize>(ring: &Ring<T, N>, value: T) {
    match ring.try_push(value) {
        Ok(()) => {}
        Err(PushError::Full(_)) => panic!("unexpected Full"),
        Err(PushError::Busy(_)) => panic!("a quiescent ring returned Busy on push"),
    }
}

/// Pops a value, failing the test unless the pop succeeds.
#[track_caller]
fn pop_ok<T, const N: usize>(ring: &Ring<T, N>) -> T {
    match ring.try_pop() {
        Ok(value) => value,
        Err(PopError::Empty) => panic!("unexpected Empty"),
        Err(PopError::Busy) => panic!("a quiescent ring returned Busy on pop"),
    }
}

/// Checks `len`, `is_empty` and `is_full` against the expected length.
#[track_caller]
fn assert_len<T, const N: usize>(ring: &Ring<T, N>, expected: usize) {
    assert_eq!(ring.len(), expected, "len (N = {N})");
    assert_eq!(ring.is_empty(), expected == 0, "is_empty (N = {N})");
    assert_eq!(ring.is_full(), expected == N, "is_full (N = {N})");
}

/// Fills the ring with `first..first + N`, checks that the next push is
/// `Full` with the same value, drains it in order and checks `Empty`.
fn fill_and_drain<const N: usize>(ring: &Ring<usize, N>, first: usize) {
    // Miri is slow: there, large rings check the length at a sample of fill
    // levels (always including the ends).
    let sampled = |i: usize| !cfg!(miri) || N <= 8 || i.is_multiple_of(31) || i + 1 >= N;
    assert_len(ring, 0);
    for i in 0..N {
        push_ok(ring, first + i);
        if sampled(i) {
            assert_len(ring, i + 1);
        }
    }
    assert_eq!(
        ring.try_push(usize::MAX - 7),
        Err(PushError::Full(usize::MAX - 7))
    );
    // A second attempt on a full ring is still `Full`, and changes nothing.
    assert_eq!(ring.try_push(42), Err(PushError::Full(42)));
    assert_len(ring, N);
    for i in 0..N {
        assert_eq!(pop_ok(ring), first + i);
        if sampled(i) {
            assert_len(ring, N - i - 1);
        }
    }
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
    assert_len(ring, 0);
}

/// Drop counter shared by the items of one test, so that tests running in
/// parallel do not interfere.
#[derive(Debug, Default)]
struct Drops {
    count: AtomicUsize,
}

impl Drops {
    fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn get(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// An item that counts its drops and panics if it is dropped twice.
///
/// Its second drop is detected through a per-item flag kept outside the
/// item (in `seen`), so the check does not read freed memory.
#[derive(Debug)]
struct Tracked {
    id: usize,
    drops: Arc<Drops>,
    seen: Arc<[AtomicBool]>,
    /// Panics in `Drop` (once) when set.
    panic_on_drop: bool,
}

/// A family of `Tracked` items sharing one counter and one double-drop
/// table.
struct Tracker {
    drops: Arc<Drops>,
    seen: Arc<[AtomicBool]>,
}

impl Tracker {
    fn new(max_items: usize) -> Self {
        Self {
            drops: Drops::new(),
            seen: (0..max_items).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn item(&self, id: usize) -> Tracked {
        Tracked {
            id,
            drops: Arc::clone(&self.drops),
            seen: Arc::clone(&self.seen),
            panic_on_drop: false,
        }
    }

    fn dropped(&self) -> usize {
        self.drops.get()
    }

    fn is_dropped(&self, id: usize) -> bool {
        self.seen[id].load(Ordering::SeqCst)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let twice = self.seen[self.id].swap(true, Ordering::SeqCst);
        assert!(!twice, "item {} dropped twice", self.id);
        self.drops.count.fetch_add(1, Ordering::SeqCst);
        if self.panic_on_drop {
            panic!("item {} panics in Drop on purpose", self.id);
        }
    }
}

/// Advances an empty ring by `steps` positions with push/pop pairs.
fn advance<const N: usize>(
    ring: &Ring<Tracked, N>,
    tracker: &Tracker,
    ids: &mut usize,
    steps: usize,
) {
    for _ in 0..steps {
        push_ok(ring, tracker.item(*ids));
        let item = pop_ok(ring);
        assert_eq!(item.id, *ids);
        *ids += 1;
    }
}

// === capacity edges ===

// Under Miri every call retags the whole ring, so an operation costs O(N)
// and large rings run fewer rounds; `N = 1000` runs natively only (255, 256
// and 257 cover the same arithmetic under Miri).
macro_rules! edges_for {
    ($($(#[$attr:meta])* $name:ident: $n:expr,)*) => {$(
        #[test]
        $(#[$attr])*
        fn $name() {
            let ring: Ring<usize, $n> = Ring::new();
            assert_eq!(ring.capacity(), $n);
            // Three rounds, so that the second and third start where the
            // previous one left the counters.
            let rounds = if !cfg!(miri) { 3 } else if $n <= 64 { 2 } else { 1 };
            for round in 0..rounds {
                fill_and_drain(&ring, round * 10_000);
            }
            // The same from near the counter wrap.
            if let Some(ring) = near_wrap::<usize, $n>(1) {
                for round in 0..rounds {
                    fill_and_drain(&ring, round * 10_000);
                }
            }
        }
    )*};
}

edges_for! {
    full_and_empty_edges_n1: 1,
    full_and_empty_edges_n2: 2,
    full_and_empty_edges_n3: 3,
    full_and_empty_edges_n7: 7,
    full_and_empty_edges_n64: 64,
    #[cfg_attr(miri, ignore = "20 s under Miri; n64 and n257 cover the same code")]
    full_and_empty_edges_n255: 255,
    #[cfg_attr(miri, ignore = "20 s under Miri; n64 and n257 cover the same code")]
    full_and_empty_edges_n256: 256,
    full_and_empty_edges_n257: 257,
    #[cfg_attr(miri, ignore)]
    full_and_empty_edges_n1000: 1000,
}

#[test]
fn new_ring_is_empty_and_pop_is_empty() {
    let ring: Ring<u8, 4> = Ring::new();
    assert_len(&ring, 0);
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
    let ring: Ring<u8, 4> = Ring::default();
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
}

#[test]
fn partial_fill_then_full_at_every_offset() {
    // Start from every offset within a lap, so the full ring's first slot is
    // at every index, including the last one.
    fn run<const N: usize>() {
        for offset in 0..2 * N + 1 {
            let ring: Ring<usize, N> = Ring::new();
            for i in 0..offset {
                push_ok(&ring, i);
                assert_eq!(pop_ok(&ring), i);
            }
            fill_and_drain(&ring, offset);
        }
    }
    run::<1>();
    run::<2>();
    run::<3>();
    run::<5>();
    run::<8>();
    run::<9>();
}

#[test]
fn push_on_full_returns_the_same_box() {
    let ring: Ring<Box<u64>, 2> = Ring::new();
    push_ok(&ring, Box::new(1));
    push_ok(&ring, Box::new(2));
    let rejected = Box::new(3);
    let address: *const u64 = &*rejected;
    let back = match ring.try_push(rejected) {
        Err(PushError::Full(back)) => back,
        other => panic!("expected Full, got {other:?}"),
    };
    assert!(
        core::ptr::eq(&*back, address),
        "Full must hand back the same allocation"
    );
    assert_eq!(*back, 3);
    assert_eq!(ring.try_push(back).unwrap_err().into_inner().as_ref(), &3);
    assert_eq!(*pop_ok(&ring), 1);
    assert_eq!(*pop_ok(&ring), 2);
}

#[test]
fn push_on_full_neither_drops_nor_clones() {
    let tracker = Tracker::new(4);
    let ring: Ring<Tracked, 1> = Ring::new();
    push_ok(&ring, tracker.item(0));
    let err = ring.try_push(tracker.item(1)).unwrap_err();
    assert!(err.is_full() && !err.is_busy());
    assert_eq!(tracker.dropped(), 0, "a rejected push dropped something");
    let back = err.into_inner();
    assert_eq!(back.id, 1);
    assert_eq!(
        Arc::strong_count(&tracker.drops),
        3,
        "exactly two items exist"
    );
    drop(back);
    assert_eq!(tracker.dropped(), 1);
    drop(ring);
    assert_eq!(tracker.dropped(), 2);
    assert!(tracker.is_dropped(0) && tracker.is_dropped(1));
}

// === wrap-around ===

#[test]
fn fill_and_drain_for_many_laps() {
    fn run<const N: usize>(laps: usize) {
        let ring: Ring<usize, N> = Ring::new();
        for lap in 0..laps {
            fill_and_drain(&ring, lap * N);
        }
    }
    run::<1>(8);
    run::<2>(6);
    run::<3>(5);
    run::<7>(4);
    run::<64>(3);
    if !cfg!(miri) {
        run::<257>(3);
    }
}

#[test]
fn alternating_push_pop_across_laps() {
    fn run<const N: usize>(ops: usize) {
        let ring: Ring<usize, N> = Ring::new();
        // Keep a steady backlog of `N / 2` items so head and tail sit in
        // different laps part of the time.
        let backlog = N / 2;
        for i in 0..backlog {
            push_ok(&ring, i);
        }
        for i in 0..ops {
            push_ok(&ring, backlog + i);
            assert_eq!(pop_ok(&ring), i);
            assert_len(&ring, backlog);
        }
        for i in 0..backlog {
            assert_eq!(pop_ok(&ring), ops + i);
        }
        assert_eq!(ring.try_pop(), Err(PopError::Empty));
    }
    let ops = if cfg!(miri) { 60 } else { 3000 };
    run::<1>(ops);
    run::<2>(ops);
    run::<3>(ops);
    run::<7>(ops);
    run::<256>(if cfg!(miri) { 60 } else { ops });
    run::<257>(if cfg!(miri) { 60 } else { ops });
}

/// Runs fill/drain rounds and single steps from `__near_counter_wrap(laps)`
/// for several laps past the counter wrap.
fn counter_wrap<const N: usize>(laps: usize) {
    let ring: Ring<usize, N> = near_wrap_ring(laps);
    let mut next_in = 0;
    let mut next_out = 0;
    // Enough positions to cross the wrap and go three more laps (one under
    // Miri).
    let total_laps = laps + if cfg!(miri) { 1 } else { 3 };
    // Mix full rounds (which check Full exactly at every lap) with odd-sized
    // partial rounds (which put head and tail on every index).
    for round in 0..2 * total_laps {
        let fill = if round % 2 == 0 {
            N
        } else {
            (round * 7 + 1) % N + 1
        };
        for _ in 0..fill {
            push_ok(&ring, next_in);
            next_in += 1;
        }
        assert_len(&ring, fill);
        if fill == N {
            assert_eq!(ring.try_push(usize::MAX), Err(PushError::Full(usize::MAX)));
        }
        for _ in 0..fill {
            assert_eq!(pop_ok(&ring), next_out);
            next_out += 1;
        }
        assert_eq!(ring.try_pop(), Err(PopError::Empty));
        assert_len(&ring, 0);
    }
    // One step at a time across another wrap-sized stretch: every step must
    // leave an empty ring that reports `Empty` (never spinning or `Busy`).
    for _ in 0..N * 2 + 3 {
        push_ok(&ring, next_in);
        assert_len(&ring, 1);
        assert_eq!(pop_ok(&ring), next_in);
        assert_eq!(ring.try_pop(), Err(PopError::Empty));
        next_in += 1;
    }
    assert!(
        next_in >= laps * N + 3 * N,
        "the test did not reach the wrap"
    );
}

#[test]
#[cfg_attr(
    not(feature = "__test_hooks"),
    ignore = "needs the hidden __test_hooks feature"
)]
fn counter_wrap_small_capacities() {
    for laps in 1..=3 {
        counter_wrap::<1>(laps);
        counter_wrap::<2>(laps);
        counter_wrap::<3>(laps);
        counter_wrap::<4>(laps);
        counter_wrap::<5>(laps);
        counter_wrap::<6>(laps);
        counter_wrap::<7>(laps);
        counter_wrap::<8>(laps);
    }
}

#[test]
#[cfg_attr(
    not(feature = "__test_hooks"),
    ignore = "needs the hidden __test_hooks feature"
)]
#[cfg_attr(
    miri,
    ignore = "minutes under Miri; the small capacities cover the same unsafe code"
)]
fn counter_wrap_large_capacities() {
    for laps in 1..=2 {
        counter_wrap::<63>(laps);
        counter_wrap::<64>(laps);
        counter_wrap::<255>(laps);
        counter_wrap::<256>(laps);
        counter_wrap::<257>(laps);
    }
}

#[test]
#[cfg_attr(
    not(feature = "__test_hooks"),
    ignore = "needs the hidden __test_hooks feature"
)]
fn full_exactly_at_the_counter_wrap() {
    // The ring is full with its tail exactly at position 0 after the wrap
    // (heapless#144: push on full spun once the position wrapped to 0).
    fn run<const N: usize>() {
        let ring: Ring<usize, N> = near_wrap_ring(1);
        // Head at the last position of the last lap before the wrap, ...
        for i in 0..N - 1 {
            push_ok(&ring, i);
            assert_eq!(pop_ok(&ring), i);
        }
        // ... tail crosses the wrap while filling.
        for i in 0..N {
            push_ok(&ring, i);
        }
        assert_len(&ring, N);
        assert_eq!(ring.try_push(99), Err(PushError::Full(99)));
        for i in 0..N {
            assert_eq!(pop_ok(&ring), i);
        }
        assert_eq!(ring.try_pop(), Err(PopError::Empty));
        // And full with the head exactly at the wrap.
        for i in 0..N {
            push_ok(&ring, i);
        }
        assert_eq!(ring.try_push(99), Err(PushError::Full(99)));
        for i in 0..N {
            assert_eq!(pop_ok(&ring), i);
        }
        assert_eq!(ring.try_pop(), Err(PopError::Empty));
    }
    run::<1>();
    run::<2>();
    run::<3>();
    run::<7>();
    run::<8>();
    if !cfg!(miri) {
        run::<255>();
    }
}

// === drop accounting ===

#[test]
fn popped_items_are_dropped_once_by_the_caller() {
    let tracker = Tracker::new(8);
    let ring: Ring<Tracked, 4> = Ring::new();
    for id in 0..4 {
        push_ok(&ring, tracker.item(id));
    }
    for id in 0..4 {
        let item = pop_ok(&ring);
        assert_eq!(item.id, id);
        assert_eq!(tracker.dropped(), id, "the ring dropped a popped item");
        drop(item);
        assert_eq!(tracker.dropped(), id + 1);
    }
    drop(ring);
    assert_eq!(
        tracker.dropped(),
        4,
        "dropping an empty ring dropped something"
    );
}

/// Drops a ring holding `fill` items whose first item sits `start`
/// positions after the ring's initial counters, for every `start` and
/// `fill`.
fn drop_at_every_position<const N: usize>(near_wrap: bool) {
    for start in 0..3 * N + 1 {
        for fill in 0..=N {
            let tracker = Tracker::new(start + fill);
            let ring: Ring<Tracked, N> = if near_wrap {
                // The counters wrap after one lap, so `start` and the items
                // lie before, across and after the wrap.
                near_wrap_ring(1)
            } else {
                Ring::new()
            };
            let mut ids = 0;
            advance(&ring, &tracker, &mut ids, start);
            assert_eq!(tracker.dropped(), start);
            for _ in 0..fill {
                push_ok(&ring, tracker.item(ids));
                ids += 1;
            }
            assert_len(&ring, fill);
            drop(ring);
            assert_eq!(
                tracker.dropped(),
                start + fill,
                "N = {N}, start = {start}, fill = {fill}, near_wrap = {near_wrap}"
            );
            assert!((0..ids).all(|id| tracker.is_dropped(id)));
        }
    }
}

#[test]
fn ring_drop_drops_every_item_once() {
    for near_wrap in [false, HOOKS] {
        drop_at_every_position::<1>(near_wrap);
        drop_at_every_position::<2>(near_wrap);
        drop_at_every_position::<3>(near_wrap);
        drop_at_every_position::<4>(near_wrap);
        if !cfg!(miri) {
            drop_at_every_position::<7>(near_wrap);
            drop_at_every_position::<16>(near_wrap);
        }
    }
}

#[test]
fn panicking_item_drop_inside_ring_drop() {
    // One item's `Drop` panics while the ring drops its items: every item is
    // dropped at most once (the double-drop detector would panic again and
    // abort) and all the others are still dropped.
    const N: usize = 5;
    // Unwinding is slow under Miri: there, a few start positions (before,
    // at and across the counter wrap) and the first and last item panic.
    let starts: Vec<usize> = if cfg!(miri) {
        vec![0, N + 2]
    } else {
        (0..2 * N).collect()
    };
    let panickers: Vec<usize> = if cfg!(miri) {
        vec![0, N - 1]
    } else {
        (0..N).collect()
    };
    for near_wrap in [false, HOOKS] {
        for &start in &starts {
            for &panicking in &panickers {
                let tracker = Tracker::new(start + N);
                let ring: Ring<Tracked, N> = if near_wrap {
                    near_wrap_ring(1)
                } else {
                    Ring::new()
                };
                let mut ids = 0;
                advance(&ring, &tracker, &mut ids, start);
                for i in 0..N {
                    let mut item = tracker.item(ids);
                    item.panic_on_drop = i == panicking;
                    push_ok(&ring, item);
                    ids += 1;
                }
                let result = panic::catch_unwind(AssertUnwindSafe(move || drop(ring)));
                assert!(result.is_err(), "the panic in Drop was lost");
                assert_eq!(
                    tracker.dropped(),
                    start + N,
                    "start = {start}, panicking = {panicking}"
                );
                assert!((0..ids).all(|id| tracker.is_dropped(id)));
            }
        }
    }
}

#[test]
fn panicking_drop_of_a_popped_item_leaves_the_ring_intact() {
    let tracker = Tracker::new(4);
    let ring: Ring<Tracked, 3> = Ring::new();
    let mut first = tracker.item(0);
    first.panic_on_drop = true;
    push_ok(&ring, first);
    push_ok(&ring, tracker.item(1));
    let result = panic::catch_unwind(AssertUnwindSafe(|| drop(pop_ok(&ring))));
    assert!(result.is_err());
    assert_eq!(tracker.dropped(), 1);
    assert_len(&ring, 1);
    push_ok(&ring, tracker.item(2));
    assert_eq!(pop_ok(&ring).id, 1);
    assert_eq!(pop_ok(&ring).id, 2);
    assert!(matches!(ring.try_pop(), Err(PopError::Empty)));
    assert_eq!(tracker.dropped(), 3);
}

// === item types ===

thread_local! {
    /// Drops of `ZstDrop` on this test's thread: a ZST cannot carry a
    /// shared counter, and each test runs on its own thread.
    static ZST_DROPS: Cell<usize> = const { Cell::new(0) };
}

#[derive(Debug, PartialEq)]
struct ZstDrop;

impl Drop for ZstDrop {
    fn drop(&mut self) {
        ZST_DROPS.with(|drops| drops.set(drops.get() + 1));
    }
}

fn zst_drops() -> usize {
    ZST_DROPS.with(Cell::get)
}

#[test]
fn zero_sized_items_without_drop() {
    fn run<const N: usize>() {
        let ring: Ring<(), N> = Ring::new();
        for _lap in 0..3 {
            for i in 0..N {
                assert_eq!(ring.try_push(()), Ok(()));
                assert_len(&ring, i + 1);
            }
            assert_eq!(ring.try_push(()), Err(PushError::Full(())));
            for _ in 0..N {
                assert_eq!(ring.try_pop(), Ok(()));
            }
            assert_eq!(ring.try_pop(), Err(PopError::Empty));
        }
        if let Some(ring) = near_wrap::<(), N>(1) {
            for _ in 0..3 * N {
                assert_eq!(ring.try_push(()), Ok(()));
                assert_eq!(ring.try_pop(), Ok(()));
                assert_eq!(ring.try_pop(), Err(PopError::Empty));
            }
        }
    }
    run::<1>();
    run::<2>();
    run::<3>();
    // Every call retags the whole ring under Miri, so large rings are slow.
    if !cfg!(miri) {
        run::<1000>();
    }
}

#[test]
fn zero_sized_items_with_drop() {
    const N: usize = 3;
    assert_eq!(mem::size_of::<ZstDrop>(), 0);
    let base = zst_drops();
    // Across the counter wrap where the hooks allow; the drop accounting is
    // checked either way.
    let ring: Ring<ZstDrop, N> = near_wrap(1).unwrap_or_default();
    for _ in 0..2 * N {
        push_ok(&ring, ZstDrop);
        drop(pop_ok(&ring));
    }
    assert_eq!(zst_drops() - base, 2 * N);
    for _ in 0..N {
        push_ok(&ring, ZstDrop);
    }
    let rejected = ring.try_push(ZstDrop).unwrap_err();
    assert!(rejected.is_full());
    assert_eq!(
        zst_drops() - base,
        2 * N,
        "a rejected push dropped its value"
    );
    drop(rejected);
    assert_eq!(zst_drops() - base, 2 * N + 1);
    drop(pop_ok(&ring));
    assert_eq!(zst_drops() - base, 2 * N + 2);
    drop(ring);
    assert_eq!(
        zst_drops() - base,
        3 * N + 1,
        "ring drop must drop the 2 remaining items"
    );
}

#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(align(128))]
struct OverAligned(u64);

#[test]
fn over_aligned_items() {
    assert!(mem::align_of::<Ring<OverAligned, 3>>() >= 128);
    let ring: Ring<OverAligned, 3> = Ring::new();
    for lap in 0..3u64 {
        for i in 0..3 {
            push_ok(&ring, OverAligned(lap * 10 + i));
        }
        for i in 0..3 {
            let value = pop_ok(&ring);
            assert_eq!(value, OverAligned(lap * 10 + i));
            assert_eq!(core::ptr::addr_of!(value).align_offset(128), 0);
        }
    }
    // On the heap too, where the allocator must honour the alignment.
    let boxed: Box<Ring<OverAligned, 2>> = Box::default();
    assert_eq!(
        (&*boxed as *const Ring<OverAligned, 2>).align_offset(128),
        0
    );
    push_ok(&boxed, OverAligned(7));
    assert_eq!(pop_ok(&boxed), OverAligned(7));
}

#[test]
fn items_larger_than_a_cache_line() {
    type Big = [u64; 40];
    fn big(seed: u64) -> Big {
        core::array::from_fn(|i| seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64)
    }
    let ring: Ring<Big, 3> = Ring::new();
    for round in 0..4u64 {
        for i in 0..3 {
            push_ok(&ring, big(round * 3 + i));
        }
        assert!(ring.try_push(big(999)).unwrap_err().into_inner() == big(999));
        for i in 0..3 {
            assert!(pop_ok(&ring) == big(round * 3 + i), "a large item was torn");
        }
    }
}

#[test]
fn arc_items_return_to_one_strong_reference() {
    let shared = Arc::new(5u32);
    {
        let ring: Ring<Arc<u32>, 4> = Ring::new();
        for _ in 0..3 {
            for _ in 0..4 {
                push_ok(&ring, Arc::clone(&shared));
            }
            assert_eq!(Arc::strong_count(&shared), 5);
            let back = ring.try_push(Arc::clone(&shared)).unwrap_err().into_inner();
            assert_eq!(Arc::strong_count(&shared), 6);
            drop(back);
            for _ in 0..4 {
                assert_eq!(*pop_ok(&ring), 5);
            }
            assert_eq!(Arc::strong_count(&shared), 1);
        }
        // Leave some inside: the ring's drop releases them.
        push_ok(&ring, Arc::clone(&shared));
        push_ok(&ring, Arc::clone(&shared));
        assert_eq!(Arc::strong_count(&shared), 3);
    }
    assert_eq!(Arc::strong_count(&shared), 1);
}

// === auto traits and formatting ===

fn assert_send_sync<T: Send + Sync>() {}

fn assert_send<T: Send>() {}

#[test]
fn ring_of_send_items_is_send_and_sync() {
    assert_send_sync::<Ring<u8, 1>>();
    assert_send_sync::<Ring<Box<u64>, 4>>();
    assert_send_sync::<Ring<Arc<u8>, 4>>();
    // `Cell<u8>` is `Send` but not `Sync`: the ring hands each item to one
    // context at a time, so it is still `Sync`.
    assert_send_sync::<Ring<Cell<u8>, 4>>();
    assert_send_sync::<Ring<std::sync::mpsc::Sender<u8>, 2>>();
    assert_send::<PushError<Cell<u8>>>();
    assert_send_sync::<PopError>();

    // And the `!Sync` item really crosses threads through a shared ring.
    let ring: Ring<Cell<u8>, 2> = Ring::new();
    std::thread::scope(|scope| {
        scope.spawn(|| push_ok(&ring, Cell::new(9)));
    });
    assert_eq!(pop_ok(&ring).get(), 9);
}

#[test]
fn errors_and_debug_are_informative() {
    let ring: Ring<u8, 2> = Ring::new();
    push_ok(&ring, 1);
    let debug = format!("{ring:?}");
    assert!(
        debug.contains("capacity: 2") && debug.contains("len: 1"),
        "{debug}"
    );
    push_ok(&ring, 2);
    let full = ring.try_push(3).unwrap_err();
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(full.to_string(), "ring is full");
    assert!(PushError::Busy(0u8).is_busy());
    assert!(PopError::Empty.is_empty() && !PopError::Empty.is_busy());
    assert!(PopError::Busy.is_busy());
}
