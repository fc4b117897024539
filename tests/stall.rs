#![cfg(not(loom))]
//! Stall and re-entrancy injection through the test-only hooks.
//!
//! A hook parks one designated thread between claiming a slot and
//! publishing (or freeing) it, as a preempted producer or consumer would
//! be; other threads then check that operations needing that slot answer
//! `Busy` in a bounded number of steps and never a false `Full` or `Empty`.
//! Another hook calls back into the same ring from inside an operation, as
//! an interrupt handler that preempted it would.
//!
//! The hook is global to the process, so every test here holds [`LOCK`]
//! through a [`HookGuard`], which also removes the hook when the test ends,
//! even by panic.
//!
//! The hooks exist only with the hidden `__test_hooks` feature, which this
//! file's `[[test]]` entry in `Cargo.toml` requires: without it (as in a
//! plain `cargo test` of the published crate) the file is not built.

use core::{
    cell::{Cell, RefCell},
    sync::atomic::{AtomicUsize, Ordering},
};
use std::{
    sync::{Condvar, Mutex, MutexGuard},
    thread,
};

use taskring::{
    ring::{
        hooks::{self, Event, Hook},
        MAX_CLAIM_ATTEMPTS,
    },
    PopError, PushError, Ring,
};

// === hook plumbing ===

/// Serializes the tests of this file: the hook is process-wide.
static LOCK: Mutex<()> = Mutex::new(());

/// Address of the ring the hooks act on; events of other rings are ignored.
static TARGET: AtomicUsize = AtomicUsize::new(0);

/// Holds [`LOCK`] and installs a hook; removes the hook on drop.
struct HookGuard {
    _lock: MutexGuard<'static, ()>,
}

impl HookGuard {
    fn install<T, const N: usize>(hook: Hook, target: &Ring<T, N>) -> Self {
        // A test that panicked while holding the lock poisons it; the state
        // it protects is reset below, so the poison carries no meaning.
        let lock = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        TARGET.store(address(target), Ordering::SeqCst);
        GATE.reset();
        hooks::set(Some(hook));
        Self { _lock: lock }
    }
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        hooks::set(None);
        TARGET.store(0, Ordering::SeqCst);
        // Never leave a stalled thread behind, even when the test failed.
        GATE.release();
    }
}

fn address<T, const N: usize>(ring: &Ring<T, N>) -> usize {
    ring as *const Ring<T, N> as usize
}

thread_local! {
    /// `Attempt` events on the target ring seen by this thread.
    static ATTEMPTS: Cell<usize> = const { Cell::new(0) };
    /// The event at which this thread stalls (once), if any.
    static STALL_AT: Cell<Option<Event>> = const { Cell::new(None) };
}

/// Where a stalled thread waits until the test releases it.
struct Gate {
    /// (a thread is stalled, released).
    state: Mutex<(bool, bool)>,
    changed: Condvar,
}

static GATE: Gate = Gate {
    state: Mutex::new((false, false)),
    changed: Condvar::new(),
};

impl Gate {
    fn lock(&self) -> MutexGuard<'_, (bool, bool)> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reset(&self) {
        *self.lock() = (false, false);
    }

    /// Called by the stalled thread: announces the stall, waits for release.
    fn stall_here(&self) {
        let mut state = self.lock();
        state.0 = true;
        self.changed.notify_all();
        while !state.1 {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        state.0 = false;
    }

    /// Called by the test: waits until a thread is stalled.
    fn wait_for_stall(&self) {
        let mut state = self.lock();
        while !state.0 {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn release(&self) {
        let mut state = self.lock();
        state.1 = true;
        self.changed.notify_all();
    }
}

/// Releases the gate when dropped, so that a failing assertion inside a
/// thread scope does not leave the scope waiting for a stalled thread.
struct ReleaseOnDrop;

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        GATE.release();
    }
}

/// The stall hook: counts attempts, and parks the designated thread at its
/// designated event.
fn stall_hook(event: Event, ring: usize) {
    if ring != TARGET.load(Ordering::SeqCst) {
        return;
    }
    if event == Event::Attempt {
        ATTEMPTS.with(|attempts| attempts.set(attempts.get() + 1));
    } else if STALL_AT.with(Cell::get) == Some(event) {
        STALL_AT.with(|stall| stall.set(None));
        GATE.stall_here();
    }
}

/// Runs one ring operation and checks that it took between 1 and
/// `MAX_CLAIM_ATTEMPTS` loop iterations.
#[track_caller]
fn bounded<R>(op: impl FnOnce() -> R) -> R {
    ATTEMPTS.with(|attempts| attempts.set(0));
    let result = op();
    let attempts = ATTEMPTS.with(Cell::get);
    assert!(
        (1..=MAX_CLAIM_ATTEMPTS).contains(&attempts),
        "one call took {attempts} attempts (bound {MAX_CLAIM_ATTEMPTS})"
    );
    result
}

// === the hooks themselves ===

thread_local! {
    static EVENTS: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
}

fn recording_hook(event: Event, ring: usize) {
    if ring == TARGET.load(Ordering::SeqCst) {
        EVENTS.with(|events| events.borrow_mut().push(event));
    }
}

fn take_events() -> Vec<Event> {
    EVENTS.with(|events| events.take())
}

#[test]
fn hooks_fire_at_each_step() {
    let ring: Ring<u8, 1> = Ring::new();
    let other: Ring<u8, 1> = Ring::new();
    let _guard = HookGuard::install(recording_hook, &ring);
    take_events();
    ring.try_push(1).unwrap();
    assert_eq!(take_events(), [Event::Attempt, Event::PushClaimed]);
    assert_eq!(ring.try_push(2), Err(PushError::Full(2)));
    assert_eq!(take_events(), [Event::Attempt]);
    // Events of another ring carry its own address.
    other.try_push(3).unwrap();
    assert_eq!(take_events(), []);
    assert_eq!(ring.try_pop(), Ok(1));
    assert_eq!(take_events(), [Event::Attempt, Event::PopClaimed]);
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
    assert_eq!(take_events(), [Event::Attempt]);
}

// === len's bounded rereads ===

#[test]
fn len_reads_once_when_nothing_moves() {
    let ring: Ring<u8, 4> = Ring::new();
    ring.try_push(1).unwrap();
    ring.try_push(2).unwrap();
    let _guard = HookGuard::install(recording_hook, &ring);
    take_events();
    assert_eq!(ring.len(), 2);
    // The critical-section backend reads both counters in one section
    // and fires no `LenRead`.
    let once: &[Event] = if cfg!(taskring_force_cs) {
        &[]
    } else {
        &[Event::LenRead]
    };
    assert_eq!(
        take_events(),
        once,
        "a quiet len took other than one attempt"
    );
}

/// The ring whose tail [`moving_tail_hook`] moves inside every `len`
/// attempt, and how many attempts it saw.
static MOVING: Ring<u8, 4> = Ring::new();
static LEN_READS: AtomicUsize = AtomicUsize::new(0);

/// Pushes and pops one value between `len`'s `head` read and its reread of
/// `tail`, as an interrupt handler could: `tail` never reads the same twice.
fn moving_tail_hook(event: Event, ring: usize) {
    if event != Event::LenRead || ring != address(&MOVING) {
        return;
    }
    let reads = LEN_READS.fetch_add(1, Ordering::SeqCst) + 1;
    assert!(
        reads <= 64,
        "len did not bound its rereads of a moving tail"
    );
    MOVING.try_push(0).unwrap();
    assert_eq!(MOVING.try_pop(), Ok(1));
    MOVING.try_push(1).unwrap();
    assert_eq!(MOVING.try_pop(), Ok(0));
}

#[test]
fn len_bounds_its_rereads_while_the_tail_moves() {
    let _guard = HookGuard::install(moving_tail_hook, &MOVING);
    while MOVING.try_pop().is_ok() {}
    MOVING.try_push(1).unwrap();
    LEN_READS.store(0, Ordering::SeqCst);
    let len = MOVING.len();
    let reads = LEN_READS.load(Ordering::SeqCst);
    // The depth is 1 at every instant; the pair `len` settles for may be
    // off by the moves in between, but never outside `0..=N`.
    assert!(len <= 4, "len {len} is over the capacity");
    // The compare-and-swap backend gives up after the 8 attempts that
    // `Ring::len`'s docs state; the critical-section backend never retries.
    let bound = if cfg!(taskring_force_cs) { 0 } else { 8 };
    assert_eq!(reads, bound, "len took {reads} attempts");
}

// === stalled producer ===

/// A producer stalls after claiming position `before`; then the main thread
/// (and in `stalled_producer_with_contention`, helper threads) works around
/// it.
fn stalled_producer<const N: usize>(near_wrap: bool, before: usize) {
    let ring: Ring<usize, N> = if near_wrap {
        Ring::__near_counter_wrap(1)
    } else {
        Ring::new()
    };
    // Move the counters so the stall happens at an interesting position,
    // possibly right at the counter wrap.
    for i in 0..before {
        ring.try_push(i).unwrap();
        assert_eq!(ring.try_pop(), Ok(i));
    }
    // One item in front of the stalled one, when there is room.
    let in_front = usize::from(N > 1);
    for i in 0..in_front {
        ring.try_push(1000 + i).unwrap();
    }
    let _guard = HookGuard::install(stall_hook, &ring);
    thread::scope(|scope| {
        let staller = scope.spawn(|| {
            STALL_AT.with(|stall| stall.set(Some(Event::PushClaimed)));
            ring.try_push(7777)
        });
        let _release = ReleaseOnDrop;
        GATE.wait_for_stall();

        // Pops of the items in front of the stalled slot succeed.
        for i in 0..in_front {
            assert_eq!(bounded(|| ring.try_pop()), Ok(1000 + i));
        }
        // A pop that needs the stalled slot is `Busy`, never `Empty`: the
        // stalled push has claimed its position.
        for _ in 0..3 {
            assert_eq!(bounded(|| ring.try_pop()), Err(PopError::Busy));
        }
        assert_eq!(ring.len(), 1, "the push in flight counts as held");
        // Pushes on the other slots succeed ...
        for i in 0..N - 1 {
            assert_eq!(bounded(|| ring.try_push(2000 + i)), Ok(()));
        }
        // ... until the tail wraps around to the stalled slot. The head
        // cannot pass the stalled slot, so the ring now counts `N` claimed
        // pushes (the stalled one included) and no pops: by the ring's
        // contract that is `Full`, not `Busy`.
        assert_eq!(ring.len(), N);
        assert!(ring.is_full());
        for _ in 0..3 {
            assert_eq!(bounded(|| ring.try_push(9999)), Err(PushError::Full(9999)));
            assert_eq!(bounded(|| ring.try_pop()), Err(PopError::Busy));
        }
        assert!(!staller.is_finished(), "the producer did not stay stalled");

        GATE.release();
        assert_eq!(staller.join().unwrap(), Ok(()));
    });
    // Conservation: the stalled item first, then the others in order.
    assert_eq!(ring.try_pop(), Ok(7777));
    for i in 0..N - 1 {
        assert_eq!(ring.try_pop(), Ok(2000 + i));
    }
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
    assert!(ring.is_empty());
}

#[test]
#[cfg_attr(
    taskring_force_cs,
    ignore = "a stalled operation holds the critical section, which blocks every other context by design"
)]
fn stalled_producer_blocks_only_its_slot() {
    for near_wrap in [false, true] {
        for before in [0, 1, 2, 5] {
            stalled_producer::<1>(near_wrap, before);
            stalled_producer::<2>(near_wrap, before);
            stalled_producer::<3>(near_wrap, before);
            stalled_producer::<4>(near_wrap, before);
        }
    }
}

// === stalled consumer ===

fn stalled_consumer<const N: usize>(near_wrap: bool, before: usize) {
    let ring: Ring<usize, N> = if near_wrap {
        Ring::__near_counter_wrap(1)
    } else {
        Ring::new()
    };
    for i in 0..before {
        ring.try_push(i).unwrap();
        assert_eq!(ring.try_pop(), Ok(i));
    }
    // The stalled pop takes item 100; one more item sits behind it.
    let behind = usize::from(N > 1);
    ring.try_push(100).unwrap();
    for i in 0..behind {
        ring.try_push(101 + i).unwrap();
    }
    let _guard = HookGuard::install(stall_hook, &ring);
    thread::scope(|scope| {
        let staller = scope.spawn(|| {
            STALL_AT.with(|stall| stall.set(Some(Event::PopClaimed)));
            ring.try_pop()
        });
        let _release = ReleaseOnDrop;
        GATE.wait_for_stall();

        // The ring holds `behind` items; pushes fill the other free slots.
        for i in 0..N - 1 - behind {
            assert_eq!(bounded(|| ring.try_push(200 + i)), Ok(()));
        }
        // The tail has wrapped around to the stalled slot while the ring
        // holds `N - 1` items (the stalled pop counts as done): `Busy`,
        // never a false `Full`.
        assert_eq!(ring.len(), N - 1);
        assert!(!ring.is_full());
        for _ in 0..3 {
            assert_eq!(bounded(|| ring.try_push(9999)), Err(PushError::Busy(9999)));
        }
        // Pops of the other slots succeed, in order.
        for i in 0..behind {
            assert_eq!(bounded(|| ring.try_pop()), Ok(101 + i));
        }
        for i in 0..N - 1 - behind {
            assert_eq!(bounded(|| ring.try_pop()), Ok(200 + i));
        }
        // Every claimed push is claimed by a pop now: truly `Empty`.
        assert_eq!(bounded(|| ring.try_pop()), Err(PopError::Empty));
        assert!(ring.is_empty());
        // And the push that needs the stalled slot is still `Busy`.
        assert_eq!(bounded(|| ring.try_push(9999)), Err(PushError::Busy(9999)));
        assert!(!staller.is_finished(), "the consumer did not stay stalled");

        GATE.release();
        assert_eq!(staller.join().unwrap(), Ok(100));
    });
    // After the release the slot is usable again: a full round trip.
    for i in 0..N {
        ring.try_push(300 + i).unwrap();
    }
    assert_eq!(ring.try_push(9999), Err(PushError::Full(9999)));
    for i in 0..N {
        assert_eq!(ring.try_pop(), Ok(300 + i));
    }
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
}

#[test]
#[cfg_attr(
    taskring_force_cs,
    ignore = "a stalled operation holds the critical section, which blocks every other context by design"
)]
fn stalled_consumer_blocks_only_its_slot() {
    for near_wrap in [false, true] {
        for before in [0, 1, 2, 5] {
            stalled_consumer::<1>(near_wrap, before);
            stalled_consumer::<2>(near_wrap, before);
            stalled_consumer::<3>(near_wrap, before);
            stalled_consumer::<4>(near_wrap, before);
        }
    }
}

// === stalls under contention ===

/// Helper threads push unique items and pop while one thread is stalled at
/// `stall_at`. Each call must take at most `MAX_CLAIM_ATTEMPTS` iterations.
/// While a push is stalled, the head cannot pass it, so no pop may report
/// `Empty`. While a pop is stalled, the tail cannot pass its slot, so the
/// ring holds at most `N - 1` items and no push may report `Full`. Every
/// item is popped exactly once in the end.
fn stall_with_contention<const N: usize>(stall_at: Event, calls: usize) {
    const HELPERS: usize = 3;
    let ring: Ring<usize, N> = Ring::__near_counter_wrap(2);
    // A stalled pop needs an item to claim.
    let mut pushed: Vec<usize> = Vec::new();
    if stall_at == Event::PopClaimed {
        ring.try_push(0).unwrap();
        pushed.push(0);
    }
    let _guard = HookGuard::install(stall_hook, &ring);
    let mut popped: Vec<usize> = Vec::new();
    thread::scope(|scope| {
        let staller = scope.spawn(|| {
            STALL_AT.with(|stall| stall.set(Some(stall_at)));
            match stall_at {
                Event::PushClaimed => {
                    ring.try_push(1).unwrap();
                    (vec![1], vec![])
                }
                _ => (vec![], vec![ring.try_pop().unwrap()]),
            }
        });
        let _release = ReleaseOnDrop;
        GATE.wait_for_stall();
        let helpers: Vec<_> = (0..HELPERS)
            .map(|h| {
                let ring = &ring;
                scope.spawn(move || {
                    let (mut mine_pushed, mut mine_popped) = (Vec::new(), Vec::new());
                    for i in 0..calls {
                        if (i + h) % 2 == 0 {
                            let value = 10 + h * calls + i;
                            match bounded(|| ring.try_push(value)) {
                                Ok(()) => mine_pushed.push(value),
                                Err(PushError::Full(_)) => assert_eq!(
                                    stall_at,
                                    Event::PushClaimed,
                                    "false Full while a pop is stalled"
                                ),
                                Err(PushError::Busy(_)) => {}
                            }
                        } else {
                            match bounded(|| ring.try_pop()) {
                                Ok(value) => mine_popped.push(value),
                                Err(PopError::Empty) => assert_eq!(
                                    stall_at,
                                    Event::PopClaimed,
                                    "false Empty while a push is stalled"
                                ),
                                Err(PopError::Busy) => {}
                            }
                        }
                        if i % 8 == 0 {
                            thread::yield_now();
                        }
                    }
                    (mine_pushed, mine_popped)
                })
            })
            .collect();
        for helper in helpers {
            let (mine_pushed, mine_popped) = helper.join().unwrap();
            pushed.extend(mine_pushed);
            popped.extend(mine_popped);
        }
        assert!(
            !staller.is_finished(),
            "the stalled thread did not stay stalled"
        );
        GATE.release();
        let (staller_pushed, staller_popped) = staller.join().unwrap();
        pushed.extend(staller_pushed);
        popped.extend(staller_popped);
    });
    // Quiescent: drain, never `Busy`.
    loop {
        match ring.try_pop() {
            Ok(value) => popped.push(value),
            Err(PopError::Empty) => break,
            Err(PopError::Busy) => panic!("a quiescent ring returned Busy"),
        }
    }
    pushed.sort_unstable();
    popped.sort_unstable();
    assert_eq!(pushed, popped, "items lost or duplicated");
}

#[test]
#[cfg_attr(
    taskring_force_cs,
    ignore = "a stalled operation holds the critical section, which blocks every other context by design"
)]
fn stalled_producer_with_contention() {
    let calls = if cfg!(miri) { 20 } else { 2_000 };
    stall_with_contention::<1>(Event::PushClaimed, calls);
    stall_with_contention::<2>(Event::PushClaimed, calls);
    stall_with_contention::<5>(Event::PushClaimed, calls);
}

#[test]
#[cfg_attr(
    taskring_force_cs,
    ignore = "a stalled operation holds the critical section, which blocks every other context by design"
)]
fn stalled_consumer_with_contention() {
    let calls = if cfg!(miri) { 20 } else { 2_000 };
    stall_with_contention::<1>(Event::PopClaimed, calls);
    stall_with_contention::<2>(Event::PopClaimed, calls);
    stall_with_contention::<5>(Event::PopClaimed, calls);
}

// === re-entrancy: a simulated interrupt handler ===

/// What the simulated interrupt handler did, in order.
#[derive(Debug, PartialEq)]
enum Nested {
    Push(Result<(), PushError<u32>>),
    Pop(Result<u32, PopError>),
}

/// A simulated interrupt handler and the event it runs at.
type Handler = (Event, fn());

thread_local! {
    /// The handler to run at `PushClaimed` / `PopClaimed`, if any.
    static ISR: Cell<Option<Handler>> = const { Cell::new(None) };
    /// Set while the handler runs, so its own operations do not re-enter it.
    static IN_ISR: Cell<bool> = const { Cell::new(false) };
    static NESTED: RefCell<Vec<Nested>> = const { RefCell::new(Vec::new()) };
}

fn isr_hook(event: Event, ring: usize) {
    if ring != TARGET.load(Ordering::SeqCst) {
        return;
    }
    if event == Event::Attempt {
        ATTEMPTS.with(|attempts| attempts.set(attempts.get() + 1));
        return;
    }
    if IN_ISR.with(Cell::get) {
        return;
    }
    if let Some((at, handler)) = ISR.with(Cell::get) {
        if at == event {
            IN_ISR.with(|flag| flag.set(true));
            handler();
            IN_ISR.with(|flag| flag.set(false));
        }
    }
}

/// Runs `outer` with `handler` armed at `at`, and returns what the handler
/// recorded.
fn with_isr<R>(at: Event, handler: fn(), outer: impl FnOnce() -> R) -> (R, Vec<Nested>) {
    NESTED.with(|nested| nested.borrow_mut().clear());
    ISR.with(|isr| isr.set(Some((at, handler))));
    let result = outer();
    ISR.with(|isr| isr.set(None));
    (result, NESTED.with(|nested| nested.take()))
}

fn record(entry: Nested) {
    NESTED.with(|nested| nested.borrow_mut().push(entry));
}

// Each scenario uses its own `static` ring, so the handler (a plain `fn`)
// can reach it.
static ISR_RING_1: Ring<u32, 1> = Ring::new();
static ISR_RING_2: Ring<u32, 2> = Ring::new();
static ISR_RING_3: Ring<u32, 3> = Ring::new();
static ISR_RING_4: Ring<u32, 4> = Ring::new();

/// Drains a static ring so a failed earlier test cannot leak items into
/// the next scenario.
fn drain<const N: usize>(ring: &Ring<u32, N>) {
    while ring.try_pop().is_ok() {}
    assert!(ring.is_empty());
}

#[test]
fn isr_pop_during_push_on_empty_ring_is_busy() {
    // The outer push claimed position `t` (tail is now past it) but has not
    // published: the nested pop sees the slot unpublished with `tail != head`
    // and an unchanged head, so `Busy`, not `Empty`.
    let ring = &ISR_RING_4;
    let _guard = HookGuard::install(isr_hook, ring);
    drain(ring);
    let (outer, nested) = with_isr(
        Event::PushClaimed,
        || record(Nested::Pop(bounded(|| ISR_RING_4.try_pop()))),
        || ring.try_push(1),
    );
    assert_eq!(outer, Ok(()));
    assert_eq!(nested, [Nested::Pop(Err(PopError::Busy))]);
    assert_eq!(ring.try_pop(), Ok(1));
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
}

#[test]
fn isr_push_during_push_on_capacity_one_is_full() {
    // N = 1: the outer push claimed the only slot, so the tail is one lap
    // ahead of the head. The nested push sees the slot in the previous lap
    // and `head + ONE_LAP == tail`: `Full`, since a push in flight counts as
    // held. The nested pop sees the slot unpublished with `tail != head`:
    // `Busy`.
    let ring = &ISR_RING_1;
    let _guard = HookGuard::install(isr_hook, ring);
    drain(ring);
    let (outer, nested) = with_isr(
        Event::PushClaimed,
        || {
            record(Nested::Push(bounded(|| ISR_RING_1.try_push(2))));
            record(Nested::Pop(bounded(|| ISR_RING_1.try_pop())));
        },
        || ring.try_push(1),
    );
    assert_eq!(outer, Ok(()));
    assert_eq!(
        nested,
        [
            Nested::Push(Err(PushError::Full(2))),
            Nested::Pop(Err(PopError::Busy))
        ]
    );
    assert_eq!(ring.try_pop(), Ok(1));
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
}

#[test]
fn isr_push_during_pop_on_capacity_one_is_busy() {
    // N = 1, one item: the outer pop claimed it (head moved one lap on) but
    // has not freed the slot. The nested push sees the slot in the previous
    // lap, `head + ONE_LAP != tail` and an unchanged tail: `Busy`, not
    // `Full`. The nested pop sees `tail == head`: `Empty`, since a pop in
    // flight counts as done.
    let ring = &ISR_RING_1;
    let _guard = HookGuard::install(isr_hook, ring);
    drain(ring);
    ring.try_push(1).unwrap();
    let (outer, nested) = with_isr(
        Event::PopClaimed,
        || {
            record(Nested::Push(bounded(|| ISR_RING_1.try_push(2))));
            record(Nested::Pop(bounded(|| ISR_RING_1.try_pop())));
        },
        || ring.try_pop(),
    );
    assert_eq!(outer, Ok(1));
    assert_eq!(
        nested,
        [
            Nested::Push(Err(PushError::Busy(2))),
            Nested::Pop(Err(PopError::Empty))
        ]
    );
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
    ring.try_push(3).unwrap();
    assert_eq!(ring.try_pop(), Ok(3));
}

#[test]
fn isr_push_during_push_takes_the_next_slot() {
    // N = 2: the nested push claims the next position and publishes before
    // the outer push does. Order follows the claims: outer first.
    let ring = &ISR_RING_2;
    let _guard = HookGuard::install(isr_hook, ring);
    drain(ring);
    let (outer, nested) = with_isr(
        Event::PushClaimed,
        || {
            record(Nested::Push(bounded(|| ISR_RING_2.try_push(2))));
            // Both positions are claimed now.
            record(Nested::Push(bounded(|| ISR_RING_2.try_push(3))));
            // The head slot is the outer push's, still unpublished.
            record(Nested::Pop(bounded(|| ISR_RING_2.try_pop())));
        },
        || ring.try_push(1),
    );
    assert_eq!(outer, Ok(()));
    assert_eq!(
        nested,
        [
            Nested::Push(Ok(())),
            Nested::Push(Err(PushError::Full(3))),
            Nested::Pop(Err(PopError::Busy)),
        ]
    );
    assert_eq!(ring.try_pop(), Ok(1));
    assert_eq!(ring.try_pop(), Ok(2));
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
}

#[test]
fn isr_ops_during_pop_use_the_other_slots() {
    // N = 3 holding [1, 2]: the outer pop claims 1. The nested pop takes 2;
    // a further nested pop finds every claimed push claimed by a pop:
    // `Empty`. Nested pushes take the free slot, then need the outer pop's
    // slot, which is not yet freed while the ring holds one item: `Busy`.
    let ring = &ISR_RING_3;
    let _guard = HookGuard::install(isr_hook, ring);
    drain(ring);
    ring.try_push(1).unwrap();
    ring.try_push(2).unwrap();
    let (outer, nested) = with_isr(
        Event::PopClaimed,
        || {
            record(Nested::Pop(bounded(|| ISR_RING_3.try_pop())));
            record(Nested::Pop(bounded(|| ISR_RING_3.try_pop())));
            record(Nested::Push(bounded(|| ISR_RING_3.try_push(3))));
            record(Nested::Push(bounded(|| ISR_RING_3.try_push(4))));
        },
        || ring.try_pop(),
    );
    assert_eq!(outer, Ok(1));
    assert_eq!(
        nested,
        [
            Nested::Pop(Ok(2)),
            Nested::Pop(Err(PopError::Empty)),
            Nested::Push(Ok(())),
            Nested::Push(Err(PushError::Busy(4))),
        ]
    );
    // Once the outer pop freed its slot, the push that was `Busy` fits.
    assert_eq!(ring.try_push(4), Ok(()));
    assert_eq!(ring.try_pop(), Ok(3));
    assert_eq!(ring.try_pop(), Ok(4));
    assert_eq!(ring.try_pop(), Err(PopError::Empty));
}

#[test]
fn isr_on_every_push_and_pop_over_many_laps() {
    // The handler runs inside every outer operation for several laps, with
    // a bounded outcome each time, and the items balance in the end.
    fn handler_on_push() {
        record(Nested::Pop(bounded(|| ISR_RING_3.try_pop())));
    }
    fn handler_on_pop() {
        record(Nested::Push(bounded(|| ISR_RING_3.try_push(500))));
    }
    let ring = &ISR_RING_3;
    let _guard = HookGuard::install(isr_hook, ring);
    drain(ring);
    let mut live = 0usize;
    for i in 0..30 {
        let (outer, nested) = with_isr(Event::PushClaimed, handler_on_push, || ring.try_push(i));
        // A full ring answers `Full` before claiming, so the handler does
        // not run. Otherwise the nested pop takes the oldest item, or is
        // `Busy` when the head is at the outer push's own unpublished slot.
        match (&outer, &nested[..]) {
            (Err(PushError::Full(_)), []) => assert_eq!(live, 3),
            (Ok(()), [Nested::Pop(Ok(_))]) => {
                // One item out, one in: `live` is unchanged.
                assert!(live > 0);
            }
            (Ok(()), [Nested::Pop(Err(PopError::Busy))]) => {
                assert_eq!(live, 0);
                live += 1;
            }
            other => panic!("unexpected outcome {other:?} with {live} live"),
        }
        // Every third round, push twice more so the ring also runs full.
        if i % 3 == 0 {
            for _ in 0..2 {
                if ring.try_push(100 + i).is_ok() {
                    live += 1;
                }
            }
        }
        if i % 2 == 1 {
            let (outer, nested) = with_isr(Event::PopClaimed, handler_on_pop, || ring.try_pop());
            // The outer pop claimed the head slot; the nested push needs that
            // same slot only when the ring was full: then `Busy`, never
            // `Full`.
            match (&outer, &nested[..]) {
                (Err(PopError::Empty), []) => assert_eq!(live, 0),
                (Ok(_), [Nested::Push(Err(PushError::Busy(500)))]) => {
                    assert_eq!(live, 3);
                    live -= 1;
                }
                (Ok(_), [Nested::Push(Ok(()))]) => assert!(live > 0 && live < 3),
                other => panic!("unexpected outcome {other:?} with {live} live"),
            }
        }
        assert_eq!(ring.len(), live, "round {i}");
    }
    let mut left = 0;
    while ring.try_pop().is_ok() {
        left += 1;
    }
    assert_eq!(left, live);
}
