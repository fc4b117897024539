//! A fixed-capacity MPMC ring whose `try_*` operations never wait on
//! another context.
//!
//! # Algorithm
//!
//! The ring is Dmitry Vyukov's [bounded MPMC queue], the algorithm behind
//! crossbeam's `ArrayQueue`, changed in one place: where Vyukov's queue
//! waits for another context to finish with a slot, this ring returns
//! [`PushError::Busy`] / [`PopError::Busy`] at once.
//!
//! ## Positions and stamps
//!
//! `head` (next position to pop) and `tail` (next position to push) are
//! *positions*: one `usize` holding a lap count in its high bits and a slot
//! index in its low bits. The top bit of `tail` is the *closed* mark, which
//! the [pool](crate::Pool) sets when it stops so that no push can claim a
//! slot afterwards; positions themselves wrap around below it.
//!
//! ```text
//!   tail:   [ closed |        lap        |  index  ]
//!   head:   [   0    |        lap        |  index  ]
//!             1 bit    usize::BITS - 1 - log2(ONE_LAP)   log2(ONE_LAP) bits
//!   ONE_LAP = N.next_power_of_two()
//! ```
//!
//! Stepping a position increments the index, or, at index `N - 1`, clears it
//! and adds `ONE_LAP` to the lap; when `N` is a power of two that is one
//! addition. No division is needed for any `N`, which matters on cores
//! without a hardware divider. `head == tail` means empty and
//! `head + ONE_LAP == tail` means full.
//!
//! Each slot carries a one-byte *stamp*, which tells what the slot is ready
//! for. It needs no index (each slot has its own) and only the low bits of
//! the lap: `2 * lap`, plus one while the slot holds a value, modulo 256.
//! (When a position has fewer than seven lap bits, capacities near
//! [`MAX_CAPACITY`], the stamp keeps them all, at the top of the byte, so
//! that it wraps around with the positions.)
//!
//! | stamp of the slot of position `p` (lap `L`) | meaning |
//! |---|---|
//! | `2L` | free: ready for the push at position `p` |
//! | `2L + 1` | holds the value pushed at `p`: ready for the pop at `p` |
//! | `2L + 2` | popped: free for the push at the next lap |
//!
//! A push or pop reads its counter, then the stamp of its slot, which is
//! then always one of three consecutive stamps (see the orderings below):
//! ready for it, or one or two steps behind. Those never collide modulo
//! 256, so one byte tells them apart exactly.
//!
//! ## Push at position `t = tail`
//!
//! 1. Load `tail` (`Acquire`). If it carries the closed mark, the ring is
//!    closed: give up. Load the slot's stamp `s`.
//! 2. `s == 2L`, the fast path: the slot is free. Claim position `t` by
//!    moving `tail` from `t` to the next position with a compare-and-swap.
//!    On success, write the value and *publish* it by storing `2L + 1`
//!    into the stamp (`Release`). On failure, another push claimed `t`
//!    first: retry.
//! 3. `s` one or two steps behind: the slot still belongs to the previous
//!    lap. Either its value is unpopped (the ring may be full), or a
//!    previous-lap push or pop on it is in flight. Read the latest `head` (a
//!    `SeqCst` fence, then a load): if `head + ONE_LAP == t` the ring held
//!    `N` items, so return `Full`. Otherwise, if `tail` has not moved,
//!    another context is mid-operation on this slot: return `Busy`. If it
//!    has moved, retry.
//! 4. Any other `s`: our `tail` was stale; another push already used `t`.
//!    Retry.
//!
//! Pop at position `h = head` is the mirror image: it claims when the stamp
//! is `2L + 1`, reads the value, frees the slot by storing `2L + 2`
//! (`Release`), and, when the slot is not yet published for this lap,
//! reports `Empty` only if `tail == h`. The CAS backend runs both as one
//! loop (`claim`) that takes the end of the ring as an argument, which on
//! bare-metal targets is one function in flash for both.
//!
//! ## Memory orderings
//!
//! | operation | ordering | pairs with |
//! |---|---|---|
//! | push or pop: load of its own counter (`tail` or `head`) | `Acquire` | the claim CAS on that counter of every earlier operation at that end (all writes to a counter are read-modify-writes, so their release sequences reach the value read). Among them is the operation a lap earlier on the same slot, which read the slot's stamp before its claim, so the stamp load that follows reads that stamp or a later one: one of the three consecutive stamps above, never an older one that a one-byte stamp would confuse with them |
//! | push or pop: load of the stamp | `Relaxed`, then an `Acquire` fence once the claim succeeded | the `Release` stamp store that made the slot ready: a pop's free (the old value was moved out before the push overwrites it) or a push's publish (the value is written before the pop reads it). On Arm the fence sits next to the claim's own trailing barrier |
//! | push: publish stamp `2L + 1` | `Release` | the `Acquire` fence after the claim of the pop of that value |
//! | pop: free stamp `2L + 2` | `Release` | the `Acquire` fence after the claim of the push a lap later |
//! | claim CAS on `head` | `SeqCst` (success) | the `SeqCst` fence of a push's full check: a push that looks after this claim sees the new `head` (no false `Full`). As a release: the `Acquire` loads of `head` (above, and `len`) |
//! | claim CAS on `tail` | `SeqCst` (success) | the `SeqCst` fence of a pop's empty check (no false `Empty`); as a release, the `Acquire` loads of `tail`, and `close`'s `Acquire` through the release sequence of RMWs on `tail`: what a pusher did before its push is visible after a later close (the pool counts submits this way) |
//! | failed claim CAS; reread of the own counter before answering `Busy` | `Relaxed` | nothing: the next attempt reads the counter again with `Acquire`, and an unchanged counter only means that no operation at this end claimed meanwhile |
//! | full / empty check: `SeqCst` fence, then a load of the other counter (under loom: `fetch_add(0)`) | `SeqCst` fence, `Relaxed` load | the other side's `SeqCst` claim CAS: a claim before the fence in the single `SeqCst` order is seen by the load. Unlike an RMW, the load leaves the other side's cache line shared, so pollers do not steal it. Loom does not model the fence form, so the loom build reads with an RMW, which always sees the latest value. On x86-64 a `SeqCst` CAS costs the same as a `Relaxed` one |
//! | close: `fetch_or` of the closed mark into `tail` | `Acquire` | the claim CAS's `Release`; every claim is ordered before or after it in `tail`'s modification order |
//! | `len`: loads of `tail`, `head`, `tail` again, retried (at most 8 times) until `tail` did not move | `Acquire` | each `tail` load: the claim CAS on `tail` (its `Release` half), so the `head` read next is at least `tail - N` (that push saw its slot freed by a pop a lap earlier, whose `head` claim came first). The `head` load: the claim CAS on `head` (its `Release` half), so the `tail` reread is at least `head` (that pop saw the publish of a push whose `tail` claim came first). Equal `tail` loads thus bracket a `head` with `0 <= tail - head <= N` |
//! | `push_depth` (crate-internal): load of `head` after the push published | `SeqCst` | the `SeqCst` claim CASes on `head` and `tail`: in their single total order the push's own claim comes first, and the load reads the last `head` claim before it, so the depth never exceeds the items (pushes in flight included) the ring held at that point |
//! | `has_room` (crate-internal): load of `tail`, then the full check's fence and load of `head` | `Relaxed` load; `SeqCst` fence, `Relaxed` load | the `tail` load pairs with nothing: read first, a stale `tail` only makes the ring look less full. The fence pairs with every pop's `SeqCst` claim CAS on `head`, as in a push's full check |
//! | `is_closed`: load of `tail` | `Relaxed` | nothing: the closed mark is set once and never cleared |
//!
//! Two standalone fences remain. The `Acquire` fence after a successful
//! claim orders the stamp load before the value is touched; the failed
//! attempts, which touch no value, skip it. The `SeqCst` fence of the full
//! and empty checks (`load_latest`, above) orders no data: it only makes a
//! `Full` or `Empty` answer truthful. Loom does not model that fence form,
//! so under loom `load_latest` is a read-modify-write instead, which loom
//! checks exactly. The critical-section backend has no fence of its own;
//! its critical section orders everything.
//!
//! # Progress guarantee
//!
//! `try_push` and `try_pop` never wait for another context. Each call runs
//! at most [`MAX_CLAIM_ATTEMPTS`] iterations of its loop (16; each failed
//! iteration means another context claimed a position or changed the slot
//! first), then gives up with `Busy`. So a call finishes in a bounded number
//! of steps whatever other threads or interrupt handlers do. (The claim is a
//! weak compare-and-swap. On load-linked / store-conditional cores, Arm and
//! RISC-V, its store can fail although no other context touched the
//! counter, when an interrupt lands between the two instructions; such a
//! spurious failure is retried without counting, exactly as a strong
//! compare-and-swap retries inside itself.)
//!
//! * **A producer preempted between claim and publish** (or a consumer
//!   between claim and free) leaves its one slot in flight. Operations that
//!   need that slot return `Busy`; they do not spin (crossbeam's
//!   `ArrayQueue` spins here, which never ends on one core when the spinner
//!   is an interrupt handler that preempted the owner, crossbeam#363), and
//!   they do not report a false `Full` or `Empty` (heapless's `mpmc` does,
//!   heapless#583). Operations on other slots proceed until the ring wraps
//!   around to the stalled slot.
//! * **`Full`** means `N` positions were claimed by pushes and not yet by
//!   pops when the call looked: the ring really held `N` items, counting
//!   pushes in flight. **`Empty`** means every claimed push was also claimed
//!   by a pop.
//! * **`Busy`** is never returned by a ring on which no other operation is in
//!   flight.
//!
//! The ring is therefore *not* lock-free in the strict sense: a stalled
//! context blocks the progress of its slot (never the caller). It is
//! interrupt-safe and bounded-time.
//!
//! ## ABA horizon
//!
//! A context stalled between loading a counter and its compare-and-swap for
//! exactly `2^(usize::BITS - 1) / ONE_LAP` laps could succeed wrongly. On
//! 64-bit targets that is beyond reach; on 32-bit targets with `N = 16` it
//! is `2^27` laps (`2^31` operations) during one stall. The one-byte stamps
//! add no horizon of their own: a stamp is read right after its counter,
//! and a claim succeeds only if the counter did not move in between.
//!
//! # Backends
//!
//! The algorithm above needs compare-and-swap. Which backend a build uses
//! depends only on the target; the public API is the same.
//!
//! | target | backend | progress of `try_push` / `try_pop` |
//! |---|---|---|
//! | has pointer-sized CAS (`cfg(target_has_atomic = "ptr")`): x86-64, AArch64, Cortex-M3/M4/M7, RV32 with `A` | CAS, as described above | never waits for another context; at most [`MAX_CLAIM_ATTEMPTS`] iterations; a stalled context blocks only its own slot (`Busy`) |
//! | loads and stores only: Cortex-M0/M0+ (`thumbv6m-none-eabi`), RV32 without `A` (`riscv32imc-unknown-none-elf`) | critical section, needs the `critical-section` feature | **not lock-free**: each call is **one** `critical_section::with` around a bounded, loop-free body (a few loads, compares and stores, plus one move of `T`); interrupt-safe and bounded-time |
//!
//! The critical-section backend keeps the same stamps, `head` and `tail`,
//! and reads and writes them with plain loads and stores inside its one
//! critical section (never one section per access). Because an operation
//! is never in flight when another one looks, it never returns `Busy`, and
//! a push from an interrupt handler that preempted `main` between two ring
//! calls sees the ring exactly as `main` left it. The cost is that the
//! interrupts (or, on a multi-core part, the other core's critical
//! sections) wait for the length of one operation. The library never
//! chooses a critical-section implementation: the application links one,
//! for example `cortex-m`'s `critical-section-single-core`. Without the
//! `critical-section` feature on such a target, the build stops with an
//! error that names the fix.
//!
//! Host tests cover that backend too: `--cfg taskring_force_cs` selects it
//! on any target, together with `--features critical-section` and the
//! `critical-section/std` implementation from the dev-dependencies.
//!
//! # Memory layout
//!
//! | build | `head`, `tail` | stamps and values | `Ring<u32, 16>` |
//! |---|---|---|---|
//! | hosted targets (any `target_os` but `none`), and bare-metal targets with the `cache-padded` feature | each on a cache line of its own (`crossbeam_utils::CachePadded`: 32 to 128 bytes, by architecture) | each stamp next to its value, so a push or pop touches one line for both | 4 + 16 × 8 bytes plus padding: 384 on x86-64, 192 on a 32-bit Arm part |
//! | bare-metal targets (`target_os = "none"`) | packed | one array of one-byte stamps, one array of values, no padding between them | 2 × 4 + 16 + 16 × 4 = **88** bytes |
//!
//! Padding pays only where cores share data through caches: it keeps the
//! cores that move `head` from stealing the line of those that move `tail`.
//! A microcontroller with one core, or with several cores and no data
//! cache, gains nothing from it, so bare-metal builds are packed unless the
//! `cache-padded` feature asks for the hosted layout (multi-core parts with
//! data caches, such as a Cortex-A or an SMP RISC-V cluster run bare-metal).
//! The algorithm and the public API are the same in both layouts.
//! `--cfg taskring_compact` selects the packed layout on any target, so the
//! host tests and the loom models cover it.
//!
//! [bounded MPMC queue]: https://www.1024cores.net/home/lock-free-algorithms/queues/bounded-mpmc-queue

use core::fmt;

#[allow(unused_imports)] // For the pool, which pads its own counters alike.
pub(crate) use self::layout::CachePadded;
use self::layout::Storage;
use crate::{
    error::{PopError, PushError},
    loom::{loom_const_fn, AtomicU8, AtomicUsize, Ordering},
    slot::Value,
};

/// Reports a step to the test hooks; nothing without `__test_hooks`.
macro_rules! hook {
    ($ring:expr, $event:ident) => {
        #[cfg(feature = "__test_hooks")]
        super::hooks::fire(super::hooks::Event::$event, $ring as *const Self as usize);
    };
}

// The backend: the push and pop behind `try_push` and `try_pop`, the
// crate-internal `push`, `push_depth`, `has_room` and `close`, and the
// counter snapshot for `len`.
#[cfg_attr(any(not(target_has_atomic = "ptr"), taskring_force_cs), path = "cs.rs")]
#[cfg_attr(
    all(target_has_atomic = "ptr", not(taskring_force_cs)),
    path = "atomic.rs"
)]
mod backend;
#[cfg(feature = "__test_hooks")]
pub mod hooks;

// Where the stamps, values and counters live: next to each other and padded
// to cache lines on hosted targets, packed on bare-metal ones (see the
// module docs, "Memory layout").
#[cfg_attr(
    any(
        taskring_compact,
        all(target_os = "none", not(feature = "cache-padded"))
    ),
    path = "compact.rs"
)]
#[cfg_attr(
    not(any(
        taskring_compact,
        all(target_os = "none", not(feature = "cache-padded"))
    )),
    path = "hosted.rs"
)]
mod layout;

/// How many loop iterations one `try_push` or `try_pop` may take before it
/// gives up with `Busy`. Each extra iteration means another context claimed
/// a position or changed the slot first. (Shrunk to 2 under `--cfg loom`.)
pub const MAX_CLAIM_ATTEMPTS: usize = crate::loom::MAX_CLAIM_ATTEMPTS;

/// Largest supported capacity: positions need a closed mark and at least
/// three lap bits above the index bits, so that signed stamp differences
/// never wrap.
pub const MAX_CAPACITY: usize = usize::MAX >> 4;

/// The index of `tail` in `Ring::counters`.
const TAIL: usize = 0;
/// The index of `head` in `Ring::counters`.
const HEAD: usize = 1;

/// The closed mark in `tail`.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// The bits of a position (all but the closed mark).
const POSITION_MASK: usize = !CLOSED;

/// Why an internal push failed: the public `PushError` plus the closed
/// state that only the pool uses.
#[derive(Debug)]
pub(crate) enum Rejected<T> {
    Full(T),
    Busy(T),
    Closed(T),
}

impl<T> Rejected<T> {
    /// The public error for a [`Ring::try_push`] caller.
    pub(crate) fn into_push_error(self) -> PushError<T> {
        match self {
            Rejected::Full(value) => PushError::Full(value),
            // A `Ring` in the public API is never closed; only a pool closes
            // its own ring. Report the closed ring truthfully as busy rather
            // than panic.
            Rejected::Busy(value) | Rejected::Closed(value) => PushError::Busy(value),
        }
    }
}

/// A fixed-capacity multi-producer multi-consumer ring buffer.
///
/// `N` is the capacity: any `N` with `1 <= N <=` [`MAX_CAPACITY`]; other
/// values fail to compile. The ring needs no allocator and can live in a
/// `static`. See the [module docs](self) for the algorithm and its progress
/// guarantee.
///
/// # Examples
///
/// ```
/// use taskring::{PopError, Ring};
///
/// static RING: Ring<u32, 4> = Ring::new();
///
/// // Producers (threads, or interrupt handlers) push ...
/// RING.try_push(1).unwrap();
/// RING.try_push(2).unwrap();
/// // ... and consumers pop, in FIFO order.
/// assert_eq!(RING.try_pop(), Ok(1));
/// assert_eq!(RING.try_pop(), Ok(2));
/// assert_eq!(RING.try_pop(), Err(PopError::Empty));
/// ```
///
/// A capacity of zero is rejected at compile time:
///
/// ```compile_fail
/// let ring: taskring::Ring<u32, 0> = taskring::Ring::new();
/// ```
///
/// A ring of a non-`Send` type is neither `Send` nor `Sync`:
///
/// ```compile_fail
/// fn assert_sync<T: Sync>(_: &T) {}
/// let ring: taskring::Ring<std::rc::Rc<u8>, 2> = taskring::Ring::new();
/// assert_sync(&ring);
/// ```
pub struct Ring<T, const N: usize> {
    /// `[tail, head]`: the next position to push (plus the closed mark),
    /// and the next position to pop. One array, so that code shared by both
    /// ends can pick its end by index.
    counters: [CachePadded<AtomicUsize>; 2],
    /// One stamp and room for one value per slot.
    slots: Storage<T, N>,
}

// === impl Ring ===

impl<T, const N: usize> Ring<T, N> {
    /// Distance between the same index in consecutive laps. Evaluating it
    /// checks `N`.
    const ONE_LAP: usize = {
        assert!(
            N >= 1,
            "taskring: the capacity N of a Ring must be at least 1"
        );
        assert!(
            N <= MAX_CAPACITY,
            "taskring: the capacity N of a Ring must be at most usize::MAX >> 4 (taskring::ring::MAX_CAPACITY)"
        );
        N.next_power_of_two()
    };

    /// Mask of the index bits of a position.
    const INDEX_MASK: usize = Self::ONE_LAP - 1;

    /// `log2(ONE_LAP)`: where the lap count starts in a position.
    const LAP_SHIFT: u32 = Self::ONE_LAP.trailing_zeros();

    /// How many low bits of the lap count a stamp keeps: 7, or all of them
    /// when a position has fewer (capacities near [`MAX_CAPACITY`]).
    const STAMP_LAP_BITS: u32 = {
        let lap_bits = usize::BITS - 1 - Self::LAP_SHIFT;
        if lap_bits < 7 {
            lap_bits
        } else {
            7
        }
    };

    /// The difference between the "free" and "holds a value" stamps of one
    /// position, and between "holds a value" and "free for the next lap".
    const STAMP_STEP: u8 = 1 << (7 - Self::STAMP_LAP_BITS);

    /// The stamp of a slot that is free for the push at `position`: the low
    /// [`STAMP_LAP_BITS`](Self::STAMP_LAP_BITS) bits of its lap, then a
    /// zero "holds a value" bit, at the top of the byte. The closed mark
    /// falls off the top.
    #[inline(always)]
    const fn free_stamp(position: usize) -> u8 {
        ((position >> Self::LAP_SHIFT) << (8 - Self::STAMP_LAP_BITS)) as u8
    }

    loom_const_fn! {
        /// Creates an empty ring.
        ///
        /// This is a `const fn`, so the ring can be a `static`. (Under
        /// `--cfg loom` it is a plain `fn`, because loom's atomics are not
        /// const; build rings inside each loom model instead.)
        ///
        /// # Examples
        ///
        /// ```
        /// static RING: taskring::Ring<u8, 3> = taskring::Ring::new();
        /// assert!(RING.is_empty());
        /// assert_eq!(RING.capacity(), 3);
        /// ```
        pub fn new() -> Self {
            Self::starting_at(0)
        }
    }

    loom_const_fn! {
        /// An empty ring whose counters start at `start`, a multiple of
        /// `ONE_LAP`.
        fn starting_at(start: usize) -> Self {
            let one_lap = Self::ONE_LAP;
            debug_assert!(start & (one_lap - 1) == 0, "this is a bug in taskring");
            Self {
                counters: [
                    CachePadded::new(AtomicUsize::new(start)),
                    CachePadded::new(AtomicUsize::new(start)),
                ],
                // Every position of the first lap has the same stamp.
                slots: Storage::new(Self::free_stamp(start)),
            }
        }
    }

    /// Creates an empty ring whose internal counters wrap around to zero
    /// after `laps` full laps, so tests reach counter overflow in a few
    /// operations. Test-only; not part of the public API.
    #[cfg(feature = "__test_hooks")]
    #[doc(hidden)]
    pub fn __near_counter_wrap(laps: usize) -> Self {
        Self::starting_at(0usize.wrapping_sub(laps.wrapping_mul(Self::ONE_LAP)) & POSITION_MASK)
    }

    /// The capacity, `N`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring: taskring::Ring<u8, 1000> = taskring::Ring::new();
    /// assert_eq!(ring.capacity(), 1000);
    /// ```
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Pushes `value` at the tail, or gives it back.
    ///
    /// Never waits for another context, so it may be called from an
    /// interrupt handler, including one that preempted another operation on
    /// this ring. On targets without compare-and-swap the push is one short
    /// critical section (see [backends](crate::ring#backends)).
    ///
    /// # Errors
    ///
    /// * [`PushError::Full`] if the ring held `N` items (pushes in flight
    ///   included).
    /// * [`PushError::Busy`] if another context is mid-operation on the slot
    ///   this push needs, or the push lost the claim race
    ///   [`MAX_CLAIM_ATTEMPTS`] times. The critical-section backend never
    ///   returns it: no other operation can be in flight while the push
    ///   holds the critical section.
    ///
    /// Either way the error holds `value` itself, neither cloned nor dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{PushError, Ring};
    ///
    /// static RING: Ring<u32, 1> = Ring::new();
    /// assert_eq!(RING.try_push(1), Ok(()));
    /// assert_eq!(RING.try_push(2), Err(PushError::Full(2)));
    /// ```
    #[inline]
    pub fn try_push(&self, value: T) -> Result<(), PushError<T>> {
        self.push(value).map_err(Rejected::into_push_error)
    }

    /// Pops the value at the head.
    ///
    /// Never waits for another context, so it may be called from an
    /// interrupt handler, including one that preempted another operation on
    /// this ring. On targets without compare-and-swap the pop is one short
    /// critical section (see [backends](crate::ring#backends)).
    ///
    /// # Errors
    ///
    /// * [`PopError::Empty`] if the ring held no items.
    /// * [`PopError::Busy`] if another context is mid-operation on the slot
    ///   this pop needs (typically a push that claimed it and has not yet
    ///   published), or the pop lost the claim race [`MAX_CLAIM_ATTEMPTS`]
    ///   times. The critical-section backend never returns it: no other
    ///   operation can be in flight while the pop holds the critical
    ///   section.
    ///
    /// # Examples
    ///
    /// ```
    /// use taskring::{PopError, Ring};
    ///
    /// static RING: Ring<u32, 2> = Ring::new();
    /// assert_eq!(RING.try_pop(), Err(PopError::Empty));
    /// RING.try_push(5).unwrap();
    /// assert_eq!(RING.try_pop(), Ok(5));
    /// ```
    #[inline]
    pub fn try_pop(&self) -> Result<T, PopError> {
        self.pop()
    }

    /// The number of items in the ring.
    ///
    /// Never more than `N`. Pushes and pops in flight count as done. Exact
    /// when no operation is in flight; while other contexts push and pop,
    /// it is a snapshot that may be stale by the time it returns.
    ///
    /// The snapshot is consistent: `head` and `tail` are read as a pair
    /// that coexisted. `len` reads `tail`, then `head`, then `tail` again,
    /// and accepts the pair when `tail` did not move in between; otherwise
    /// it retries, at most 8 attempts in all, so it stays
    /// bounded-time (interrupt handlers may call it). If `tail` moved on
    /// every attempt, it returns the distance between the last `head` and
    /// `tail` it read, clamped to `N`: then the two need not have
    /// coexisted, and the result may exceed the true length by the pushes
    /// that completed during the call (never beyond `N`). On the
    /// critical-section backend both counters are read in one critical
    /// section, so the pair is always consistent.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring: taskring::Ring<u8, 2> = taskring::Ring::new();
    /// ring.try_push(7).unwrap();
    /// assert_eq!(ring.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let (head, tail) = self.counters();
        Self::items_between(head, tail)
    }

    /// The number of items from position `head` up to position `tail`
    /// (the closed mark ignored), clamped to `0..=N`: 0 if `head` is ahead
    /// of `tail`, `N` if `tail` is `N` or more ahead. Exact for any pair
    /// with `0 <= tail - head <= N`.
    #[inline]
    fn items_between(head: usize, tail: usize) -> usize {
        let tail = tail & POSITION_MASK;
        let head_index = head & Self::INDEX_MASK;
        let tail_index = tail & Self::INDEX_MASK;
        let head_lap = head & !Self::INDEX_MASK;
        let tail_lap = tail & !Self::INDEX_MASK;
        if tail_lap == head_lap {
            // Same lap: 0 if `head` is ahead.
            tail_index.saturating_sub(head_index)
        } else if tail_lap == head_lap.wrapping_add(Self::ONE_LAP) & POSITION_MASK {
            // `tail` one lap ahead. Both indices are below `N`, so this
            // cannot underflow and is at least 1.
            (N - head_index + tail_index).min(N)
        } else if Self::lap_ahead(tail_lap, head_lap) {
            N
        } else {
            0
        }
    }

    /// True when lap base `a` is ahead of lap base `b`, as a signed
    /// difference of positions (correct across wrap-around).
    #[inline]
    const fn lap_ahead(a: usize, b: usize) -> bool {
        // Shifting out the closed-mark bit makes the subtraction modulo
        // 2^(BITS - 1); the sign bit is then the position difference's.
        ((a.wrapping_sub(b) << 1) as isize) > 0
    }

    /// True when [`len`](Self::len) is zero; the same caveats apply.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring: taskring::Ring<u8, 2> = taskring::Ring::new();
    /// assert!(ring.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when [`len`](Self::len) is `N`; the same caveats apply.
    ///
    /// # Examples
    ///
    /// ```
    /// let ring: taskring::Ring<u8, 1> = taskring::Ring::new();
    /// ring.try_push(1).unwrap();
    /// assert!(ring.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == N
    }

    /// `head`: the next position to pop.
    #[inline(always)]
    fn head(&self) -> &AtomicUsize {
        &self.counters[HEAD]
    }

    /// `tail`: the next position to push, plus the closed mark.
    #[inline(always)]
    fn tail(&self) -> &AtomicUsize {
        &self.counters[TAIL]
    }

    /// The position after `position`.
    #[inline(always)]
    const fn next(position: usize) -> usize {
        if N == Self::ONE_LAP {
            // A power of two: the lap starts right after index `N - 1`.
            position.wrapping_add(1) & POSITION_MASK
        } else if (position & Self::INDEX_MASK) + 1 < N {
            // Index `N - 1` is the last one, so this stays in the same lap.
            position.wrapping_add(1)
        } else {
            (position & !Self::INDEX_MASK).wrapping_add(Self::ONE_LAP) & POSITION_MASK
        }
    }

    /// True once [`close`](Self::close) has run.
    pub(crate) fn is_closed(&self) -> bool {
        // Relaxed: the mark is set once and never cleared.
        self.tail().load(Ordering::Relaxed) & CLOSED != 0
    }

    /// The position the next push will claim, without the closed mark:
    /// every push that claimed a slot before this call has an earlier
    /// position. A mark for [`popped_to`](Self::popped_to).
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // Only the thread pool (`std`) asks.
    pub(crate) fn push_mark(&self) -> usize {
        self.counters().1 & POSITION_MASK
    }

    /// True once pops have claimed every position before `mark` (from
    /// [`push_mark`](Self::push_mark)). The `head` read is `Acquire` (see
    /// `counters`): what a popper did before its claim is visible.
    #[cfg_attr(not(feature = "std"), allow(dead_code))] // Only the thread pool (`std`) asks.
    pub(crate) fn popped_to(&self, mark: usize) -> bool {
        let (head, _) = self.counters();
        // Signed distance of positions, modulo 2^(BITS - 1).
        ((head.wrapping_sub(mark) << 1) as isize) >= 0
    }

    /// The stamp and the value of the slot that `position` maps to.
    #[inline(always)]
    fn slot(&self, position: usize) -> (&AtomicU8, &Value<T>) {
        let index = position & Self::INDEX_MASK;
        debug_assert!(index < N, "this is a bug in taskring");
        // SAFETY: Every position the ring creates has an index below `N`:
        // they start at index 0 and `next` wraps to index 0 after `N - 1`.
        // Positions only come from `head` and `tail`, which hold nothing
        // else.
        unsafe { self.slots.get(index) }
    }
}

impl<T, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> fmt::Debug for Ring<T, N> {
    /// Prints the capacity and a length snapshot, never the racy contents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &N)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T, const N: usize> Drop for Ring<T, N> {
    fn drop(&mut self) {
        if !core::mem::needs_drop::<T>() {
            return;
        }
        /// Keeps dropping the remaining items if dropping one panics.
        struct DrainOnUnwind<'a, T, const N: usize>(&'a Ring<T, N>);
        impl<T, const N: usize> Drop for DrainOnUnwind<'_, T, N> {
            fn drop(&mut self) {
                while let Ok(value) = self.0.try_pop() {
                    drop(value);
                }
            }
        }
        // With `&mut self` nothing is in flight, so `try_pop` only stops at
        // `Empty`. Each pop frees its slot before the value is dropped, so a
        // panicking `Drop` cannot cause a double drop.
        let guard = DrainOnUnwind(self);
        while let Ok(value) = guard.0.try_pop() {
            drop(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Rejected, Ring, POSITION_MASK};

    /// A ring whose counters wrap around to zero after `laps` laps.
    fn near_wrap<const N: usize>(laps: usize) -> Ring<u32, N> {
        Ring::starting_at(
            0usize.wrapping_sub(laps.wrapping_mul(Ring::<u32, N>::ONE_LAP)) & POSITION_MASK,
        )
    }

    /// Pushes with `push_depth` and pops in an uneven pattern for `laps`
    /// laps, checking after each push that the depth is `len`, and that
    /// `has_room` agrees with `is_full`.
    fn depth_is_len<const N: usize>(ring: &Ring<u32, N>, laps: usize) {
        let mut value = 0u32;
        let mut len = 0;
        // Enough operations to go around `laps` times; pushes 3, pops 2,
        // so the fill level climbs to full, then drains fully, repeatedly.
        let mut filling = true;
        for step in 0..laps * N * 3 {
            if filling {
                match ring.push_depth(value) {
                    Ok(depth) => {
                        len += 1;
                        assert_eq!(depth, len, "depth after a push (N = {N}, step {step})");
                        assert_eq!(depth, ring.len(), "depth vs len (N = {N}, step {step})");
                    }
                    Err(Rejected::Full(back)) => {
                        assert_eq!(back, value);
                        assert_eq!(len, N, "Full below capacity (N = {N})");
                        filling = false;
                    }
                    Err(other) => panic!("unexpected {other:?} (N = {N})"),
                }
                value += 1;
            } else if ring.try_pop().is_ok() {
                len -= 1;
                // Refill from a middle level, not only from empty.
                if (len == N / 2 && step % 2 == 0) || len == 0 {
                    filling = true;
                }
            } else {
                assert_eq!(len, 0);
                filling = true;
            }
            assert_eq!(ring.len(), len);
            assert_eq!(ring.has_room(), len < N, "has_room at len {len} (N = {N})");
        }
    }

    fn depth_cases<const N: usize>() {
        let laps = if cfg!(miri) { 2 } else { 4 };
        depth_is_len(&Ring::<u32, N>::new(), laps);
        // Across the wrap-around of the counters.
        depth_is_len(&near_wrap::<N>(1), laps);
        depth_is_len(&near_wrap::<N>(2), laps);
    }

    #[test]
    fn push_depth_is_len_single_threaded() {
        depth_cases::<1>();
        depth_cases::<2>();
        depth_cases::<3>();
        depth_cases::<4>();
        depth_cases::<7>();
        depth_cases::<8>();
        depth_cases::<9>();
        // The large capacities add nothing the interpreter needs to see
        // (the unsafe code is the same per slot) and take minutes there.
        if !cfg!(miri) {
            depth_cases::<64>();
            depth_cases::<100>();
        }
    }

    #[test]
    fn push_depth_counts_from_an_offset_head() {
        // Start mid-lap: pop a few first so `head` is not at index 0.
        let ring = near_wrap::<5>(1);
        for v in 0..4 {
            assert_eq!(ring.push_depth(v).unwrap(), v as usize + 1);
        }
        for _ in 0..3 {
            ring.try_pop().unwrap();
        }
        // One left; pushes wrap around the slot array and the counters.
        for expected in 2..=5 {
            assert_eq!(ring.push_depth(0).unwrap(), expected);
        }
        assert!(matches!(ring.push_depth(9), Err(Rejected::Full(9))));
        assert!(!ring.has_room());
    }

    #[test]
    fn has_room_is_false_once_closed() {
        let ring: Ring<u32, 3> = Ring::new();
        assert!(ring.has_room());
        ring.push_depth(1).unwrap();
        ring.close();
        assert!(!ring.has_room());
        assert!(matches!(ring.push_depth(2), Err(Rejected::Closed(2))));
        // Closing changes no count.
        assert_eq!(ring.len(), 1);
        assert_eq!(ring.try_pop(), Ok(1));
        assert!(!ring.has_room());
    }

    /// `TOKENS` tokens circulate through a ring of 64 slots among 4
    /// threads, each popping one and pushing it back with `push_depth`: the
    /// ring never holds more than `TOKENS` items, pushes in flight
    /// included, so no depth may exceed it.
    fn depth_never_exceeds_tokens<const TOKENS: usize>() {
        use std::thread;
        let passes = if cfg!(miri) { 20 } else { 20_000 };
        let ring: Ring<u32, 64> = Ring::new();
        for token in 0..TOKENS {
            ring.try_push(token as u32).unwrap();
        }
        thread::scope(|scope| {
            let threads = [(); 4].map(|()| {
                scope.spawn(|| {
                    for _ in 0..passes {
                        let mut token = loop {
                            match ring.try_pop() {
                                Ok(token) => break token,
                                Err(_) => thread::yield_now(),
                            }
                        };
                        loop {
                            match ring.push_depth(token) {
                                Ok(depth) => {
                                    assert!(
                                        (1..=TOKENS).contains(&depth),
                                        "depth {depth} with {TOKENS} token(s)"
                                    );
                                    break;
                                }
                                Err(Rejected::Busy(back)) => {
                                    token = back;
                                    thread::yield_now();
                                }
                                Err(other) => panic!("unexpected {other:?}"),
                            }
                        }
                    }
                })
            });
            for thread in threads {
                thread.join().unwrap();
            }
        });
        assert_eq!(ring.len(), TOKENS);
    }

    #[test]
    fn push_depth_never_exceeds_the_items_in_flight() {
        depth_never_exceeds_tokens::<1>();
        depth_never_exceeds_tokens::<3>();
    }

    #[test]
    fn items_between_clamps() {
        type R = Ring<u8, 5>;
        let lap = R::ONE_LAP;
        let at = |laps: usize, index: usize| (laps * lap + index) & POSITION_MASK;
        // Exact in range, within a lap and across one.
        assert_eq!(R::items_between(at(3, 1), at(3, 1)), 0);
        assert_eq!(R::items_between(at(3, 1), at(3, 4)), 3);
        assert_eq!(R::items_between(at(3, 4), at(4, 0)), 1);
        assert_eq!(R::items_between(at(3, 2), at(4, 2)), 5);
        // More than N apart: N. `head` ahead: 0.
        assert_eq!(R::items_between(at(3, 1), at(4, 3)), 5);
        assert_eq!(R::items_between(at(3, 1), at(9, 0)), 5);
        assert_eq!(R::items_between(at(3, 3), at(3, 1)), 0);
        assert_eq!(R::items_between(at(4, 0), at(3, 4)), 0);
        assert_eq!(R::items_between(at(9, 0), at(3, 1)), 0);
        // Across the wrap-around of positions.
        let last_lap = POSITION_MASK / lap;
        assert_eq!(R::items_between(at(last_lap, 3), at(0, 1)), 3);
        assert_eq!(R::items_between(at(0, 1), at(last_lap, 3)), 0);
        // The closed mark on `tail` is ignored.
        assert_eq!(R::items_between(at(3, 1), at(3, 4) | !POSITION_MASK), 3);
    }
}
